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
#include "fuzz_virtio.h"

#include <stdlib.h>
#include <string.h>

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
	fuzz_virtio_attach(t, hdr.features, 4, hdr.qsize); /* DRIVER_OK looks at every queue */
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
