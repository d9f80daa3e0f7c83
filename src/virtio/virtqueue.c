/*
 * virtqueue.c — see virtqueue.h. Layouts from the virtio 1.x specification
 * (split virtqueues): descriptor table, available ring, used ring.
 */
#include "virtqueue.h"

#include <string.h>

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	if (gpa < ram->base) return NULL;
	uint64_t off = gpa - ram->base;
	if (off > ram->size || len > ram->size - off) return NULL;
	return ram->host + off;
}

static uint64_t avail_bytes(const struct virtq *q)
{
	return 4 + 2ULL * q->size + 2;
}
static uint64_t used_bytes(const struct virtq *q)
{
	return 4 + 8ULL * q->size + 2;
}

bool virtq_rings_valid(const struct virtq *q, const struct guest_ram *ram)
{
	if (q->size == 0 || q->size > VIRTQ_MAX_SIZE || (q->size & (q->size - 1))) return false;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3)) return false;
	return guest_ram_ptr(ram, q->desc_gpa, 16ULL * q->size) &&
	       guest_ram_ptr(ram, q->avail_gpa, avail_bytes(q)) &&
	       guest_ram_ptr(ram, q->used_gpa, used_bytes(q));
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static uint16_t load16(const void *p)
{
	uint16_t v;
	__atomic_load((const uint16_t *)p, &v, __ATOMIC_ACQUIRE);
	return v;
}

static void store16(void *p, uint16_t v)
{
	__atomic_store((uint16_t *)p, &v, __ATOMIC_RELEASE);
}

uint16_t virtq_avail_idx(const struct virtq *q, const struct guest_ram *ram)
{
	const uint8_t *avail = q->ready ? guest_ram_ptr(ram, q->avail_gpa, 4) : NULL;
	return avail ? load16(avail + 2) : 0;
}

enum virtq_pop_result virtq_pop(struct virtq *q, const struct guest_ram *ram, struct virtq_chain *c,
                                const char **why)
{
	uint8_t *avail = guest_ram_ptr(ram, q->avail_gpa, avail_bytes(q));
	const struct virtq_desc *table = guest_ram_ptr(ram, q->desc_gpa, 16ULL * q->size);
	if (!q->ready || !avail || !table) {
		*why = "queue used while not ready or outside guest RAM";
		return VIRTQ_BROKEN;
	}
	uint16_t avail_idx = load16(avail + 2);
	if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
		*why = "driver advanced the available index by more than the queue size";
		return VIRTQ_BROKEN;
	}
	if (avail_idx == q->last_avail) return VIRTQ_EMPTY;
	uint16_t head = load16(avail + 4 + 2 * (q->last_avail % q->size));
	if (head >= q->size) {
		*why = "available ring names a descriptor beyond the queue";
		return VIRTQ_BROKEN;
	}

	c->head = head;
	c->nsegs = 0;
	c->out_bytes = c->in_bytes = 0;
	unsigned limit = q->size, walked = 0, idx = head;
	bool indirect = false;
	for (;;) {
		if (walked++ >= limit) {
			*why = "descriptor chain loops or is longer than its table";
			return VIRTQ_BROKEN;
		}
		struct virtq_desc d;
		memcpy(&d, &table[idx], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect) {
				*why = "indirect descriptor inside an indirect table";
				return VIRTQ_BROKEN;
			}
			if ((d.flags & VIRTQ_DESC_F_NEXT) || d.len == 0 || d.len % sizeof(d) ||
			    d.len / sizeof(d) > VIRTQ_MAX_SEGS) {
				*why = "malformed indirect descriptor";
				return VIRTQ_BROKEN;
			}
			table = guest_ram_ptr(ram, d.addr, d.len);
			if (!table) {
				*why = "indirect table outside guest RAM";
				return VIRTQ_BROKEN;
			}
			indirect = true;
			limit = d.len / sizeof(d);
			walked = 0;
			idx = 0;
			continue;
		}
		void *buf = guest_ram_ptr(ram, d.addr, d.len);
		if (!buf) {
			*why = "buffer outside or straddling the end of guest RAM";
			return VIRTQ_BROKEN;
		}
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			c->in_bytes += d.len;
		} else {
			if (c->in_bytes) {
				*why = "device-readable buffer after a device-writable one";
				return VIRTQ_BROKEN;
			}
			c->out_bytes += d.len;
		}
		if (c->nsegs == VIRTQ_MAX_SEGS) {
			*why = "descriptor chain too long";
			return VIRTQ_BROKEN;
		}
		c->segs[c->nsegs++] = (struct virtq_seg){buf, d.len, (d.flags & VIRTQ_DESC_F_WRITE) != 0};
		if (!(d.flags & VIRTQ_DESC_F_NEXT)) break;
		idx = d.next;
		if (idx >= limit) {
			*why = "descriptor chain points beyond its table";
			return VIRTQ_BROKEN;
		}
	}
	q->last_avail++;
	if (q->event_idx) { /* ask to be notified when the driver makes the next one available */
		uint8_t *used = guest_ram_ptr(ram, q->used_gpa, used_bytes(q));
		store16(used + 4 + 8ULL * q->size, q->last_avail);
	}
	return VIRTQ_GOT;
}

void virtq_unpop(struct virtq *q, const struct guest_ram *ram, uint16_t n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
	if (q->event_idx) { /* the next notification must come for the first chain given back */
		uint8_t *used = guest_ram_ptr(ram, q->used_gpa, used_bytes(q));
		if (used) store16(used + 4 + 8ULL * q->size, q->last_avail);
	}
}

void virtq_push(struct virtq *q, const struct guest_ram *ram, uint16_t head, uint32_t written)
{
	uint8_t *used = guest_ram_ptr(ram, q->used_gpa, used_bytes(q));
	if (!used) return; /* checked at QueueReady; RAM does not move */
	uint8_t *elem = used + 4 + 8 * (q->used_idx % q->size);
	uint32_t id = head;
	memcpy(elem, &id, 4);
	memcpy(elem + 4, &written, 4);
	q->used_idx++;
	store16(used + 2, q->used_idx); /* release: the element is visible first */
	guest_ram_dirty(ram, used, used_bytes(q));
}

bool virtq_should_interrupt(struct virtq *q, const struct guest_ram *ram)
{
	uint8_t *avail = guest_ram_ptr(ram, q->avail_gpa, avail_bytes(q));
	if (!avail) return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* our used->idx store before reading the driver's wishes */
	if (!q->event_idx) return !(load16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t used_event = load16(avail + 4 + 2 * q->size);
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool need = !q->signalled_valid || (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
	q->signalled_used = now;
	q->signalled_valid = true;
	return need;
}

size_t virtq_chain_gather(const struct virtq_chain *c, void *buf, size_t cap)
{
	size_t got = 0;
	for (unsigned i = 0; i < c->nsegs && got < cap; i++) {
		if (c->segs[i].device_writes) continue;
		size_t n = c->segs[i].len < cap - got ? c->segs[i].len : cap - got;
		memcpy((uint8_t *)buf + got, c->segs[i].host, n);
		got += n;
	}
	return got;
}

size_t virtq_chain_scatter(const struct guest_ram *ram, const struct virtq_chain *c, const void *buf,
                           size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < c->nsegs && done < len; i++) {
		if (!c->segs[i].device_writes) continue;
		size_t n = c->segs[i].len < len - done ? c->segs[i].len : len - done;
		memcpy(c->segs[i].host, (const uint8_t *)buf + done, n);
		guest_ram_dirty(ram, c->segs[i].host, n);
		done += n;
	}
	return done;
}
