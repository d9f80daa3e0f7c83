/*
 * fuzz_virtio_balloon.c — libFuzzer harness for virtio-balloon's guest-facing
 * side: the input is a small header (features, queue size, a host target)
 * followed by guest RAM holding the four queues' rings, descriptors, page
 * number arrays and statistics (all guest-controlled). Every queue is
 * notified, the statistics are requested and notified again, and the device
 * is reset. RAM is an exact-size allocation so any access outside it trips
 * AddressSanitizer; pages the device discards lie inside it by construction.
 */
#include "virtio/balloon.h"

#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ULL

static void no_irq(void *o, bool level)
{
	(void)o, (void)level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint32_t features;
		uint16_t qsize;
		uint32_t target_pages;
	} hdr;
	if (size < sizeof(hdr) + 0x4000) return 0;
	memcpy(&hdr, data, sizeof(hdr));
	size_t ram_size = size - sizeof(hdr);
	uint8_t *host = malloc(ram_size);
	memcpy(host, data + sizeof(hdr), ram_size);
	struct guest_ram ram = {.host = host, .base = RAM_BASE, .size = ram_size};
	static struct virtio_balloon b;
	virtio_balloon_init(&b, &ram, no_irq, NULL, hdr.qsize & 0x100);
	struct virtio_mmio *t = &b.transport;
	/* Layout: queue q's rings at 0x1000 * q (desc), + 0x800 (avail), + 0xc00 (used). */
	virtio_mmio_write(t, 0x070, 4, 1 | 2);
	virtio_mmio_write(t, 0x024, 4, 1), virtio_mmio_write(t, 0x020, 4, 1);
	virtio_mmio_write(t, 0x024, 4, 0), virtio_mmio_write(t, 0x020, 4, hdr.features);
	virtio_mmio_write(t, 0x070, 4, 1 | 2 | 8);
	for (unsigned q = 0; q < 4; q++) {
		uint64_t base = RAM_BASE + 0x1000ULL * q;
		virtio_mmio_write(t, 0x030, 4, q);
		virtio_mmio_write(t, 0x038, 4, 1u << (hdr.qsize % 8)); /* 1 .. 128 descriptors */
		virtio_mmio_write(t, 0x080, 4, (uint32_t)base), virtio_mmio_write(t, 0x084, 4, 0);
		virtio_mmio_write(t, 0x090, 4, (uint32_t)(base + 0x800)), virtio_mmio_write(t, 0x094, 4, 0);
		virtio_mmio_write(t, 0x0a0, 4, (uint32_t)(base + 0xc00)), virtio_mmio_write(t, 0x0a4, 4, 0);
		virtio_mmio_write(t, 0x044, 4, 1);
	}
	virtio_mmio_write(t, 0x070, 4, 1 | 2 | 8 | 4); /* DRIVER_OK looks at every queue */
	virtio_balloon_set_target(&b, (uint64_t)hdr.target_pages * 4096);
	for (unsigned q = 0; q < 5; q++) virtio_mmio_write(t, 0x050, 4, q);
	virtio_balloon_request_stats(&b);
	virtio_mmio_write(t, 0x050, 4, 2);
	uint64_t v;
	for (uint64_t off = 0x100; off < 0x110; off += 4) virtio_mmio_read(t, off, 4, &v);
	virtio_mmio_write(t, 0x104, 4, hdr.target_pages);
	if (b.target_pages > ram_size / 4096) abort(); /* the device's promise */
	virtio_mmio_write(t, 0x070, 4, 0);
	free(host);
	return 0;
}
