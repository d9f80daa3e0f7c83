/*
 * fuzz_virtio.h — what the virtio device harnesses share: a driver's
 * handshake on the virtio-mmio transport with the given feature bits, and
 * queue q's rings at RAM_BASE + 0x1000 * q (descriptors), + 0x800 (available)
 * and + 0xc00 (used), all of the guest-controlled RAM the input supplies.
 */
#ifndef CLOISON_FUZZ_VIRTIO_H
#define CLOISON_FUZZ_VIRTIO_H

#include "virtio/mmio.h"

#define RAM_BASE 0x80000000ULL

/* Features negotiated (VERSION_1 plus features_low), nqueues queues of 1 << (qsize % 8) entries made
 * ready, then DRIVER_OK. */
static inline void fuzz_virtio_attach(struct virtio_mmio *t, uint32_t features_low, unsigned nqueues,
                                      uint16_t qsize)
{
	virtio_mmio_write(t, 0x070, 4, 1 | 2);
	virtio_mmio_write(t, 0x024, 4, 1), virtio_mmio_write(t, 0x020, 4, 1);
	virtio_mmio_write(t, 0x024, 4, 0), virtio_mmio_write(t, 0x020, 4, features_low);
	virtio_mmio_write(t, 0x070, 4, 1 | 2 | 8);
	for (unsigned q = 0; q < nqueues; q++) {
		uint64_t base = RAM_BASE + 0x1000ULL * q;
		virtio_mmio_write(t, 0x030, 4, q);
		virtio_mmio_write(t, 0x038, 4, 1u << (qsize % 8)); /* 1 .. 128 descriptors */
		virtio_mmio_write(t, 0x080, 4, (uint32_t)base), virtio_mmio_write(t, 0x084, 4, 0);
		virtio_mmio_write(t, 0x090, 4, (uint32_t)(base + 0x800)), virtio_mmio_write(t, 0x094, 4, 0);
		virtio_mmio_write(t, 0x0a0, 4, (uint32_t)(base + 0xc00)), virtio_mmio_write(t, 0x0a4, 4, 0);
		virtio_mmio_write(t, 0x044, 4, 1);
	}
	virtio_mmio_write(t, 0x070, 4, 1 | 2 | 8 | 4);
}

#endif
