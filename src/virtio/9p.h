/*
 * 9p.h — virtio 9P transport (virtio-9p): a shared folder the guest mounts
 * by its tag (`mount -t 9p -o trans=virtio TAG /mnt`), served by fs/p9.c.
 * Requests are served in order when the driver notifies, under the board's
 * I/O lock.
 */
#ifndef CLOISON_VIRTIO_9P_H
#define CLOISON_VIRTIO_9P_H

#include "mmio.h"
#include "fs/p9.h"

#define VIRTIO_9P_TAG_MAX 31

struct virtio_9p {
	struct virtio_mmio transport;
	struct p9_server server;
	char tag[VIRTIO_9P_TAG_MAX + 1];
	uint8_t *req, *reply; /* P9_MAX_MSIZE each */
	uint64_t bad_requests;
};

/* Shares host directory `dir` under `tag`. NULL with err set (no such directory, a bad tag). */
struct virtio_9p *virtio_9p_create(const char *dir, const char *tag, bool readonly,
                                   const struct guest_ram *ram, char *err, size_t errlen);
void virtio_9p_destroy(struct virtio_9p *d);
/* Whether a tag is one the device can carry: 1 to 31 of [A-Za-z0-9_.-]. */
bool virtio_9p_tag_valid(const char *tag);

#endif
