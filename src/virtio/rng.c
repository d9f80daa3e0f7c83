/*
 * rng.c — see rng.h. Requests are served synchronously when the driver
 * notifies: getrandom() of at most a few KiB is cheap and never blocks once
 * the host's pool is initialized.
 */
#include "rng.h"

#include <sys/random.h>

#define VIRTIO_ID_RNG 4
#define RNG_MAX_PER_REQUEST (64u << 10) /* bounds the work one request can ask for */

static void fill(void *buf, uint32_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n <= 0) continue; /* EINTR; the pool is initialized on any running host */
		p += n;
		len -= (uint32_t)n;
	}
}

static void rng_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_rng *r = t->dev;
	struct virtq *q = &t->queues[qi];
	static struct virtq_chain chain; /* large: not on the vCPU stack; callers hold the I/O lock */
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	while ((res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		uint32_t written = 0;
		for (unsigned i = 0; i < chain.nsegs && written < RNG_MAX_PER_REQUEST; i++) {
			if (!chain.segs[i].device_writes) continue;
			uint32_t n = chain.segs[i].len;
			if (n > RNG_MAX_PER_REQUEST - written) n = RNG_MAX_PER_REQUEST - written;
			fill(chain.segs[i].host, n); /* a short fill is legal: the driver reads `written` */
			guest_ram_dirty(&t->ram, chain.segs[i].host, n);
			written += n;
		}
		r->bytes_served += written;
		virtq_push(q, &t->ram, chain.head, written);
		pushed = true;
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, qi);
}

static void rng_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_rng *r = t->dev;
	state_put_u64(w, r->bytes_served);
}

static void rng_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_rng *g = t->dev;
	g->bytes_served = state_get_u64(r);
}

static const struct virtio_device_ops rng_ops = {
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max = 64,
    .notify = rng_notify,
    .save = rng_save,
    .load = rng_load,
};

void virtio_rng_init(struct virtio_rng *r, const struct guest_ram *ram, virtio_irq_fn set_irq,
                     void *irq_opaque)
{
	virtio_mmio_init(&r->transport, &rng_ops, r, ram, set_irq, irq_opaque, "virtio-rng");
	r->bytes_served = 0;
}
