/*
 * fuzz_virtio_gpu.c — libFuzzer harness for the virtio GPU's command parser
 * (virtio/gpu.c). The input is a sequence of commands, each a 16-bit length
 * and its bytes, run against a device over 1 MiB of guest RAM the input also
 * fills; after each, what the screen shows is read back. Whatever the guest
 * sends, host memory stays within the device's bound and nothing crashes.
 */
#include "virtio/gpu.h"

#include <stdlib.h>
#include <string.h>

#define RAM_SIZE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	if (!mem) mem = malloc(RAM_SIZE);
	memset(mem, 0x5a, RAM_SIZE);
	memcpy(mem, data, size < RAM_SIZE ? size : RAM_SIZE);
	struct guest_ram ram = {.host = mem, .base = 0x80000000ull, .size = RAM_SIZE};
	static struct virtio_gpu g;
	char err[64];
	if (!virtio_gpu_init(&g, &ram, 640, 480, err, sizeof(err))) abort();
	uint8_t resp[512];
	for (size_t off = 0; off + 2 <= size;) {
		size_t len = data[off] | (size_t)data[off + 1] << 8;
		off += 2;
		if (len > size - off) len = size - off;
		size_t n = virtio_gpu_command(&g, data + off, len, resp, sizeof(resp));
		if (n > sizeof(resp)) abort();
		off += len;
		uint32_t w, h;
		uint8_t *rgb = virtio_gpu_read_screen(&g, &w, &h);
		if (rgb && (w > GPU_MAX_DIMENSION || h > GPU_MAX_DIMENSION)) abort();
		free(rgb);
		if (g.host_bytes > GPU_MAX_HOST_BYTES) abort();
	}
	virtio_gpu_destroy(&g);
	if (g.host_bytes) abort();
	return 0;
}
