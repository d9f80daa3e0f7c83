/*
 * console.c — see console.h. Queue 0 (receiveq) carries host input into
 * buffers the driver posts; queue 1 (transmitq) carries guest output. Both
 * are served under the board's I/O lock, on the vCPU that notifies or the
 * thread that delivers input.
 */
#include "console.h"

#include <string.h>

#define VIRTIO_ID_CONSOLE 3
#define RECEIVEQ 0
#define TRANSMITQ 1
#define CONSOLE_MAX_PER_CHAIN (64u << 10) /* bounds the output one chain can produce */

static struct virtq_chain chain; /* large: not on a vCPU stack; all callers hold the I/O lock */

static void transmit(struct virtio_console *c, struct virtio_mmio *t)
{
	struct virtq *q = &t->queues[TRANSMITQ];
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	while ((res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		uint32_t sent = 0;
		for (unsigned i = 0; i < chain.nsegs && sent < CONSOLE_MAX_PER_CHAIN; i++) {
			if (chain.segs[i].device_writes) continue; /* output buffers are read-only to us */
			uint32_t n = chain.segs[i].len;
			if (n > CONSOLE_MAX_PER_CHAIN - sent) n = CONSOLE_MAX_PER_CHAIN - sent;
			if (c->out) c->out(c->out_opaque, chain.segs[i].host, n);
			sent += n;
		}
		c->bytes_out += sent;
		virtq_push(q, &t->ram, chain.head, 0);
		pushed = true;
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, TRANSMITQ);
}

static void console_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_console *c = t->dev;
	if (qi == TRANSMITQ) transmit(c, t);
	/* receiveq: new buffers; the machine retries pending input on its next poll */
}

size_t virtio_console_receive(struct virtio_console *c, const uint8_t *buf, size_t len)
{
	struct virtio_mmio *t = &c->transport;
	if (!(t->status & 4 /* DRIVER_OK */) || t->frozen) return 0;
	struct virtq *q = &t->queues[RECEIVEQ];
	size_t taken = 0;
	const char *why;
	enum virtq_pop_result res = VIRTQ_EMPTY;
	bool pushed = false;
	while (taken < len && (res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		uint32_t written = 0;
		for (unsigned i = 0; i < chain.nsegs && taken < len; i++) {
			if (!chain.segs[i].device_writes) continue;
			uint32_t n = chain.segs[i].len;
			if (n > len - taken) n = (uint32_t)(len - taken);
			memcpy(chain.segs[i].host, buf + taken, n);
			guest_ram_dirty(&t->ram, chain.segs[i].host, n);
			taken += n;
			written += n;
		}
		virtq_push(q, &t->ram, chain.head, written);
		pushed = true;
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, RECEIVEQ);
	c->bytes_in += taken;
	return taken;
}

static uint64_t console_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	(void)t;
	/* cols, rows, max_nr_ports, emerg_wr: no feature offers them; reads are zero. */
	(void)off;
	(void)size;
	return 0;
}

static void console_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_console *c = t->dev;
	state_put_u64(w, c->bytes_out);
	state_put_u64(w, c->bytes_in);
}

static void console_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_console *c = t->dev;
	c->bytes_out = state_get_u64(r);
	c->bytes_in = state_get_u64(r);
}

static const struct virtio_device_ops console_ops = {
    .device_id = VIRTIO_ID_CONSOLE,
    .num_queues = 2,
    .queue_max = 128,
    .notify = console_notify,
    .config_size = 12,
    .config_read = console_config_read,
    .save = console_save,
    .load = console_load,
};

void virtio_console_init(struct virtio_console *c, const struct guest_ram *ram, virtio_console_out_fn out,
                         void *out_opaque)
{
	virtio_mmio_init(&c->transport, &console_ops, c, ram, NULL, NULL, "virtio-console");
	c->out = out;
	c->out_opaque = out_opaque;
	c->bytes_out = c->bytes_in = 0;
}
