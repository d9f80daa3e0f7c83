/*
 * fuzz_virtqueue.c — libFuzzer harness for the split-virtqueue parser: the
 * input is a queue configuration followed by the contents of guest RAM
 * (rings, descriptors, indirect tables, all guest-controlled). Every chain
 * popped has each of its segments read or written in full, so a buffer the
 * parser let out of guest RAM trips AddressSanitizer (RAM is an exact-size
 * heap allocation).
 */
#include "virtio/virtqueue.h"

#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint16_t qsize, event_idx;
		uint32_t desc, avail, used;
	} hdr;
	if (size < sizeof(hdr) + 1) return 0;
	memcpy(&hdr, data, sizeof(hdr));
	size_t ram_size = size - sizeof(hdr);
	uint8_t *host = malloc(ram_size);
	memcpy(host, data + sizeof(hdr), ram_size);
	struct guest_ram ram = {.host = host, .base = RAM_BASE, .size = ram_size};

	struct virtq q;
	virtq_reset(&q);
	q.size = (uint16_t)(1u << (hdr.qsize % 11)); /* 1 .. 1024 */
	q.event_idx = hdr.event_idx & 1;
	q.desc_gpa = RAM_BASE + hdr.desc % (ram_size + 64); /* sometimes just past the end */
	q.avail_gpa = RAM_BASE + hdr.avail % (ram_size + 64);
	q.used_gpa = RAM_BASE + hdr.used % (ram_size + 64);
	if (!virtq_rings_valid(&q, &ram)) goto out;
	q.ready = true;

	static struct virtq_chain chain;
	const char *why;
	for (unsigned round = 0; round < 2u * q.size + 2; round++) {
		enum virtq_pop_result r = virtq_pop(&q, &ram, &chain, &why);
		if (r != VIRTQ_GOT) {
			if (r == VIRTQ_BROKEN && (!why || !*why)) abort(); /* errors must say why */
			break;
		}
		uint32_t written = 0;
		volatile uint8_t sink = 0;
		for (unsigned i = 0; i < chain.nsegs; i++) {
			uint8_t *p = chain.segs[i].host;
			if (chain.segs[i].device_writes) {
				memset(p, 0xa5, chain.segs[i].len);
				written += chain.segs[i].len;
			} else {
				for (uint32_t k = 0; k < chain.segs[i].len; k++) sink ^= p[k];
			}
		}
		(void)sink;
		virtq_push(&q, &ram, chain.head, written);
		virtq_should_interrupt(&q, &ram);
	}
out:
	free(host);
	return 0;
}
