/*
 * console.h — virtio console device (hvc0 in a Linux guest): one port, no
 * multiport. What the guest writes goes to the host's console output; host
 * keyboard input is handed in by the machine when this device is the
 * console's input target.
 */
#ifndef CLOISON_VIRTIO_CONSOLE_H
#define CLOISON_VIRTIO_CONSOLE_H

#include "virtio/mmio.h"

typedef void (*virtio_console_out_fn)(void *opaque, const uint8_t *buf, size_t len);

struct virtio_console {
	struct virtio_mmio transport;
	virtio_console_out_fn out;
	void *out_opaque;
	uint64_t bytes_out, bytes_in;
};

void virtio_console_init(struct virtio_console *c, const struct guest_ram *ram, virtio_console_out_fn out,
                         void *out_opaque);
/* Delivers host input into the guest's receive buffers; returns the bytes taken (0 when the driver
 * has posted no buffer yet). The caller holds the board's I/O lock. */
size_t virtio_console_receive(struct virtio_console *c, const uint8_t *buf, size_t len);

#endif
