/*
 * rng.h — virtio entropy device (virtio-rng): fills the guest's buffers with
 * bytes from the host's getrandom().
 */
#ifndef CLOISON_VIRTIO_RNG_H
#define CLOISON_VIRTIO_RNG_H

#include "mmio.h"

struct virtio_rng {
	struct virtio_mmio transport;
	uint64_t bytes_served;
};

void virtio_rng_init(struct virtio_rng *r, const struct guest_ram *ram, virtio_irq_fn set_irq,
                     void *irq_opaque);

#endif
