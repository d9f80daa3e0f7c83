/*
 * 9p.c — see 9p.h. One queue; each chain is a request (the driver's
 * readable buffers) and room for its reply (the writable ones). A request
 * larger than the negotiated message size or a reply that does not fit is
 * answered with an error, never cut.
 */
#include "9p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_ID_9P 9
#define F_MOUNT_TAG 0

static struct virtq_chain chain; /* large: not on a vCPU stack; callers hold the I/O lock */

bool virtio_9p_tag_valid(const char *tag)
{
	size_t n = strlen(tag);
	if (!n || n > VIRTIO_9P_TAG_MAX) return false;
	for (size_t i = 0; i < n; i++)
		if (!((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
		      (tag[i] >= '0' && tag[i] <= '9') || tag[i] == '_' || tag[i] == '-' || tag[i] == '.'))
			return false;
	return true;
}

static void p9_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_9p *d = t->dev;
	struct virtq *q = &t->queues[qi];
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	while (!t->frozen && (res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		size_t len = virtq_chain_gather(&chain, d->req, P9_MAX_MSIZE);
		size_t cap = chain.in_bytes < P9_MAX_MSIZE ? (size_t)chain.in_bytes : P9_MAX_MSIZE;
		size_t n = p9_handle(&d->server, d->req, len, d->reply, cap);
		if (n)
			virtq_chain_scatter(&t->ram, &chain, d->reply, n);
		else
			d->bad_requests++; /* no header, or no room for any reply: the driver gets nothing */
		virtq_push(q, &t->ram, chain.head, (uint32_t)n);
		pushed = true;
	}
	if (!t->frozen && res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, qi);
}

static uint64_t p9_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	struct virtio_9p *d = t->dev;
	uint8_t cfg[2 + VIRTIO_9P_TAG_MAX] = {0};
	uint16_t n = (uint16_t)strlen(d->tag);
	memcpy(cfg, &n, 2);
	memcpy(cfg + 2, d->tag, n);
	uint64_t v = 0;
	if (off + size <= sizeof(cfg)) memcpy(&v, cfg + off, size);
	return v;
}

/* A driver reset (or a restore: host descriptors do not survive one) forgets every fid. */
static void p9_reset(struct virtio_mmio *t)
{
	struct virtio_9p *d = t->dev;
	p9_server_reset(&d->server);
}

static void p9_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_9p *d = t->dev;
	state_put_str(w, d->tag);
}

static void p9_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_9p *d = t->dev;
	char tag[VIRTIO_9P_TAG_MAX + 1];
	state_get_str(r, tag, sizeof(tag));
	if (!r->failed && strcmp(tag, d->tag))
		state_fail(r, "virtio-9p: the saved share is tagged '%s', this one '%s'", tag, d->tag);
	p9_server_reset(&d->server); /* the guest's fids are gone: it remounts */
}

static const struct virtio_device_ops p9_ops = {
    .device_id = VIRTIO_ID_9P,
    .features = 1ull << F_MOUNT_TAG,
    .num_queues = 1,
    .queue_max = 128,
    .notify = p9_notify,
    .config_size = 2 + VIRTIO_9P_TAG_MAX,
    .config_read = p9_config_read,
    .reset = p9_reset,
    .save = p9_save,
    .load = p9_load,
};

struct virtio_9p *virtio_9p_create(const char *dir, const char *tag, bool readonly,
                                   const struct guest_ram *ram, char *err, size_t errlen)
{
	if (!virtio_9p_tag_valid(tag)) {
		snprintf(err, errlen, "invalid share tag '%s': 1 to %d letters, digits, '_', '-' or '.'", tag,
		         VIRTIO_9P_TAG_MAX);
		return NULL;
	}
	struct virtio_9p *d = calloc(1, sizeof(*d));
	if (d) {
		d->req = malloc(P9_MAX_MSIZE);
		d->reply = malloc(P9_MAX_MSIZE);
	}
	if (!d || !d->req || !d->reply) {
		if (d) free(d->req), free(d->reply);
		free(d);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!p9_server_open(&d->server, dir, readonly, err, errlen)) {
		free(d->req), free(d->reply), free(d);
		return NULL;
	}
	snprintf(d->tag, sizeof(d->tag), "%s", tag);
	virtio_mmio_init(&d->transport, &p9_ops, d, ram, NULL, NULL, "virtio-9p");
	return d;
}

void virtio_9p_destroy(struct virtio_9p *d)
{
	if (!d) return;
	p9_server_close(&d->server);
	free(d->req);
	free(d->reply);
	free(d);
}
