/*
 * mmio.c — see mmio.h. Register layout from the virtio 1.x specification,
 * section "Virtio Over MMIO" (version 2 register map).
 */
#include "mmio.h"

#include "util/log.h"

#include <string.h>

enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_LEN_LOW = 0x0b0, /* shared memory regions (SHMSel at 0x0ac): none here */
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC 0x74726976  /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4e4f4c43 /* "CLON" */
#define INT_USED_BUFFER 1
#define INT_CONFIG_CHANGE 2

static uint64_t offered_features(const struct virtio_mmio *t)
{
	return (t->ops->features & ~t->withheld_features) | (1ULL << VIRTIO_F_VERSION_1) |
	       (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX);
}

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_ops *ops, void *dev,
                      const struct guest_ram *ram, virtio_irq_fn set_irq, void *irq_opaque, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->dev = dev;
	t->ram = *ram;
	t->set_irq = set_irq;
	t->irq_opaque = irq_opaque;
	t->name = name;
}

static void update_irq(struct virtio_mmio *t)
{
	t->set_irq(t->irq_opaque, t->interrupt_status != 0);
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
	if (t->ops->reset) t->ops->reset(t);
	t->status = 0;
	t->driver_features = 0;
	t->device_features_sel = t->driver_features_sel = 0;
	t->queue_sel = 0;
	t->interrupt_status = 0;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) virtq_reset(&t->queues[i]);
	update_irq(t);
}

void virtio_device_broken(struct virtio_mmio *t, const char *why)
{
	t->broken_count++;
	if (!(t->status & VIRTIO_STATUS_NEEDS_RESET))
		log_warn("%s: guest error, device needs reset: %s", t->name, why);
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		t->interrupt_status |= INT_CONFIG_CHANGE;
		update_irq(t);
	}
}

void virtio_config_changed(struct virtio_mmio *t)
{
	t->config_generation++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		t->interrupt_status |= INT_CONFIG_CHANGE;
		update_irq(t);
	}
}

void virtio_notify_used(struct virtio_mmio *t, unsigned q)
{
	if (virtq_should_interrupt(&t->queues[q], &t->ram)) {
		t->interrupt_status |= INT_USED_BUFFER;
		update_irq(t);
	}
}

static struct virtq *selected(struct virtio_mmio *t)
{
	return t->queue_sel < t->ops->num_queues ? &t->queues[t->queue_sel] : NULL;
}

/* Queue registers may change only between FEATURES_OK and DRIVER_OK, on a queue not yet ready. */
static bool queue_setup_allowed(struct virtio_mmio *t, struct virtq *q)
{
	bool ok = q && !q->ready && (t->status & VIRTIO_STATUS_FEATURES_OK) &&
	          !(t->status & VIRTIO_STATUS_DRIVER_OK);
	if (!ok) virtio_device_broken(t, "queue configured outside the setup window");
	return ok;
}

static void set_half(uint64_t *reg, bool high, uint32_t v)
{
	*reg = high ? (*reg & 0xffffffffULL) | (uint64_t)v << 32 : (*reg & ~0xffffffffULL) | v;
}

bool virtio_mmio_read(struct virtio_mmio *t, uint64_t off, unsigned size, uint64_t *val)
{
	*val = 0;
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;
		if (c + size <= t->ops->config_size && t->ops->config_read)
			*val = t->ops->config_read(t, (uint32_t)c, size);
		return true;
	}
	if (size != 4 || (off & 3)) return true; /* registers are 32-bit: others read as zero */
	struct virtq *q = selected(t);
	switch (off) {
	case REG_MAGIC: *val = VIRTIO_MMIO_MAGIC; break;
	case REG_VERSION: *val = 2; break;
	case REG_DEVICE_ID: *val = t->ops->device_id; break;
	case REG_VENDOR_ID: *val = VIRTIO_MMIO_VENDOR; break;
	case REG_DEVICE_FEATURES:
		*val = t->device_features_sel < 2
		           ? (uint32_t)(offered_features(t) >> (32 * t->device_features_sel))
		           : 0;
		break;
	case REG_QUEUE_NUM_MAX: *val = q ? t->ops->queue_max : 0; break;
	case REG_QUEUE_READY: *val = q ? q->ready : 0; break;
	case REG_INTERRUPT_STATUS: *val = t->interrupt_status; break;
	case REG_STATUS: *val = t->status; break;
	case REG_CONFIG_GENERATION: *val = t->config_generation; break;
	case REG_QUEUE_NUM: *val = q ? q->size : 0; break;
	case REG_QUEUE_DESC_LOW: *val = q ? (uint32_t)q->desc_gpa : 0; break;
	case REG_QUEUE_DESC_HIGH: *val = q ? (uint32_t)(q->desc_gpa >> 32) : 0; break;
	case REG_QUEUE_DRIVER_LOW: *val = q ? (uint32_t)q->avail_gpa : 0; break;
	case REG_QUEUE_DRIVER_HIGH: *val = q ? (uint32_t)(q->avail_gpa >> 32) : 0; break;
	case REG_QUEUE_DEVICE_LOW: *val = q ? (uint32_t)q->used_gpa : 0; break;
	case REG_QUEUE_DEVICE_HIGH: *val = q ? (uint32_t)(q->used_gpa >> 32) : 0; break;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH: *val = 0xffffffff; break; /* all ones: no such region (a GPU driver asks) */
	default: break;
	}
	return true;
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		virtio_mmio_reset(t);
		return;
	}
	uint32_t old = t->status;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* Accept only features we offered, and only modern drivers. */
		uint64_t f = t->driver_features;
		if ((f & ~offered_features(t)) || !(f & (1ULL << VIRTIO_F_VERSION_1)))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		else
			for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
				t->queues[i].event_idx = (f >> VIRTIO_F_RING_EVENT_IDX) & 1;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_device_broken(t, "DRIVER_OK without FEATURES_OK");
		return;
	}
	t->status = (v & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET);
	/* A driver may make buffers available, and notify, before DRIVER_OK (Linux primes the balloon's
	 * stats queue that way); the device may use them only from now on: look at every ready queue. */
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(t->status & VIRTIO_STATUS_NEEDS_RESET)) {
		lease_wait(t->lease, NULL);
		for (unsigned i = 0; i < t->ops->num_queues && !(t->status & VIRTIO_STATUS_NEEDS_RESET); i++)
			if (t->queues[i].ready) t->ops->notify(t, i);
	}
}

bool virtio_mmio_write(struct virtio_mmio *t, uint64_t off, unsigned size, uint64_t val)
{
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;
		if (c + size <= t->ops->config_size && t->ops->config_write)
			t->ops->config_write(t, (uint32_t)c, size, val);
		return true;
	}
	if (size != 4 || (off & 3)) return true; /* ignored */
	uint32_t v = (uint32_t)val;
	struct virtq *q = selected(t);
	switch (off) {
	case REG_DEVICE_FEATURES_SEL: t->device_features_sel = v; break;
	case REG_DRIVER_FEATURES_SEL: t->driver_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		if (t->status & VIRTIO_STATUS_FEATURES_OK) {
			virtio_device_broken(t, "features changed after FEATURES_OK");
		} else if (t->driver_features_sel < 2) {
			set_half(&t->driver_features, t->driver_features_sel == 1, v);
		}
		break;
	case REG_QUEUE_SEL: t->queue_sel = v; break;
	case REG_QUEUE_NUM:
		if (queue_setup_allowed(t, q)) {
			if (v == 0 || v > t->ops->queue_max || (v & (v - 1)))
				virtio_device_broken(t, "invalid queue size");
			else
				q->size = (uint16_t)v;
		}
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (queue_setup_allowed(t, q)) set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (queue_setup_allowed(t, q)) set_half(&q->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (queue_setup_allowed(t, q)) set_half(&q->used_gpa, off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	case REG_QUEUE_READY:
		if (!q) {
			virtio_device_broken(t, "QueueReady on a queue that does not exist");
		} else if (v & 1) {
			if (!queue_setup_allowed(t, q)) break;
			if (!virtq_rings_valid(q, &t->ram))
				virtio_device_broken(t, "queue rings outside guest RAM or misaligned");
			else
				q->ready = true;
		} else {
			q->ready = false;
		}
		break;
	case REG_QUEUE_NOTIFY:
		if (v >= t->ops->num_queues || !t->queues[v].ready) {
			virtio_device_broken(t, "notify of a queue that is not ready");
		} else if ((t->status & VIRTIO_STATUS_DRIVER_OK) &&
		           !(t->status & VIRTIO_STATUS_NEEDS_RESET)) {
			lease_wait(t->lease, NULL);
			t->ops->notify(t, v);
		}
		break;
	case REG_INTERRUPT_ACK:
		t->interrupt_status &= ~v;
		update_irq(t);
		break;
	case REG_STATUS: write_status(t, v); break;
	default: break; /* read-only registers ignore writes */
	}
	return true;
}

void virtio_mmio_save(const struct virtio_mmio *t, struct state_writer *w)
{
	state_put_u32(w, t->ops->device_id);
	state_put_u32(w, t->ops->num_queues);
	state_put_u32(w, t->status);
	state_put_u32(w, t->device_features_sel);
	state_put_u32(w, t->driver_features_sel);
	state_put_u64(w, t->driver_features);
	state_put_u32(w, t->queue_sel);
	state_put_u32(w, t->interrupt_status);
	state_put_u32(w, t->config_generation);
	for (unsigned i = 0; i < t->ops->num_queues; i++) {
		const struct virtq *q = &t->queues[i];
		state_put_u16(w, q->size);
		state_put_bool(w, q->ready);
		state_put_bool(w, q->event_idx);
		state_put_u64(w, q->desc_gpa);
		state_put_u64(w, q->avail_gpa);
		state_put_u64(w, q->used_gpa);
		state_put_u16(w, q->last_avail);
		state_put_u16(w, q->used_idx);
		state_put_u16(w, q->signalled_used);
		state_put_bool(w, q->signalled_valid);
	}
	if (t->ops->save) t->ops->save(t, w);
}

void virtio_mmio_load(struct virtio_mmio *t, struct state_reader *r, uint32_t version)
{
	uint32_t id = state_get_u32(r), nq = state_get_u32(r);
	if (!r->failed && (id != t->ops->device_id || nq != t->ops->num_queues)) {
		state_fail(r,
		           "%s: the saved device (id %u, %u queues) is not the one configured here (id %u, "
		           "%u queues)",
		           t->name, id, nq, t->ops->device_id, t->ops->num_queues);
		return;
	}
	uint32_t status = state_get_u32(r);
	uint32_t dsel = state_get_u32(r), drsel = state_get_u32(r);
	uint64_t features = state_get_u64(r);
	uint32_t qsel = state_get_u32(r), isr = state_get_u32(r), gen = state_get_u32(r);
	if (r->failed) return;
	if (features & ~offered_features(t)) {
		state_fail(r, "%s: saved driver features 0x%llx were not offered", t->name,
		           (unsigned long long)features);
		return;
	}
	if (isr & ~3u || status & ~0xffu) {
		state_fail(r, "%s: invalid status 0x%x or interrupt status 0x%x", t->name, status, isr);
		return;
	}
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES] = {0};
	for (unsigned i = 0; i < nq; i++) {
		struct virtq *q = &queues[i];
		q->size = state_get_u16(r);
		q->ready = state_get_bool(r);
		q->event_idx = state_get_bool(r);
		q->desc_gpa = state_get_u64(r);
		q->avail_gpa = state_get_u64(r);
		q->used_gpa = state_get_u64(r);
		q->last_avail = state_get_u16(r);
		q->used_idx = state_get_u16(r);
		q->signalled_used = state_get_u16(r);
		q->signalled_valid = state_get_bool(r);
		if (r->failed) return;
		if (q->size > t->ops->queue_max || (q->size & (q->size - 1))) {
			state_fail(r, "%s: queue %u has invalid size %u", t->name, i, q->size);
			return;
		}
		if (q->ready && (q->size == 0 || !virtq_rings_valid(q, &t->ram))) {
			state_fail(r, "%s: queue %u rings lie outside guest RAM", t->name, i);
			return;
		}
	}
	t->status = status;
	t->device_features_sel = dsel;
	t->driver_features_sel = drsel;
	t->driver_features = features;
	t->queue_sel = qsel;
	t->interrupt_status = isr;
	t->config_generation = gen;
	memcpy(t->queues, queues, sizeof(queues));
	if (version >= 2 && t->ops->load) t->ops->load(t, r);
	if (t->set_irq) update_irq(t);
}

void virtio_mmio_set_frozen(struct virtio_mmio *t, bool frozen)
{
	bool was = t->frozen;
	t->frozen = frozen;
	if (was && !frozen && t->ops->resume && (t->status & VIRTIO_STATUS_DRIVER_OK)) t->ops->resume(t);
}
