/*
 * fuzz_qcow2.c — libFuzzer harness for the qcow2 driver: opens an image
 * made of fuzzer bytes and runs a short script of reads, writes, zeroes,
 * discards, flushes, a resize and the checker on it. Whatever the bytes,
 * open either refuses with a message or every call returns 0 or -errno;
 * nothing may crash, leak or touch memory out of bounds.
 *
 * Input: le16 script length, the script (8-byte ops), then the image.
 */
#define _GNU_SOURCE
#include "block/block.h"
#include "block/qcow2.h"
#include "block/qcow2_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int image_fd = -1;
static char image_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2) return 0;
	size_t script_len = (size_t)(data[0] | (data[1] << 8)) % 257;
	if (script_len > size - 2) script_len = size - 2;
	const uint8_t *script = data + 2, *img = script + script_len;
	size_t img_len = size - 2 - script_len;
	if (image_fd < 0) {
		image_fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
		if (image_fd < 0) abort();
		snprintf(image_path, sizeof(image_path), "/proc/self/fd/%d", image_fd);
	}
	if (ftruncate(image_fd, 0) || pwrite(image_fd, img, img_len, 0) != (ssize_t)img_len) abort();

	char err[512];
	struct block_backend *b =
	    block_open(image_path, "qcow2", BLOCK_OPEN_NO_BACKING | BLOCK_OPEN_NO_LOCK, err, sizeof(err));
	if (!b) return 0;
	static uint8_t buf[1 << 17];
	for (size_t i = 0; i + 8 <= script_len; i += 8) {
		const uint8_t *op = script + i;
		uint64_t sectors = b->size / 512;
		if (!sectors) break;
		uint64_t sector = ((uint64_t)op[1] | (uint64_t)op[2] << 8 | (uint64_t)op[3] << 16) % sectors;
		uint64_t count = 1 + (op[4] | (op[5] & 0x0f) << 8) % 256;
		if (count > sectors - sector) count = sectors - sector;
		uint64_t off = sector * 512, len = count * 512;
		switch (op[0] % 7) {
		case 0: block_pread(b, buf, len, off); break;
		case 1:
			memset(buf, op[6], len);
			block_pwrite(b, buf, len, off);
			break;
		case 2: b->drv->write_zeroes(b, off, len); break;
		case 3: b->drv->discard(b, off, len); break;
		case 4: b->drv->flush(b); break;
		case 5: {
			uint64_t n;
			b->drv->block_status(b, off, len, &n);
			break;
		}
		case 6: b->drv->resize(b, b->size + (uint64_t)op[7] * 65536); break;
		}
	}
	block_close(b);
	/* The checker (with repair) on whatever the script left behind. */
	b = block_open(image_path, "qcow2", BLOCK_OPEN_NO_BACKING | BLOCK_OPEN_NO_LOCK | QCOW2_OPEN_FOR_CHECK,
	               err, sizeof(err));
	if (b) {
		struct qcow2_check_result r, after;
		qcow2_check(b, QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &r, &after, NULL, NULL);
		block_close(b);
	}
	return 0;
}
