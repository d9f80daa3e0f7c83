/*
 * image_ops.c — convert, commit and rebase as loops over block_status
 * ranges, in chunks of at most CHUNK bytes, with progress callbacks.
 */
#include "image_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (2u << 20)

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i]) return false;
	return true;
}

static void report(block_progress_fn progress, void *ctx, uint64_t done, uint64_t total)
{
	if (progress) progress(ctx, done, total);
}

int image_copy(struct block_backend *src, struct block_backend *dst, bool dst_reads_zero,
               block_progress_fn progress, void *ctx)
{
	if (dst->size < src->size) return -ENOSPC;
	uint8_t *buf = malloc(CHUNK);
	if (!buf) return -ENOMEM;
	int rc = 0;
	uint64_t off = 0, size = src->size;
	report(progress, ctx, 0, size);
	while (off < size && rc == 0) {
		uint64_t want = size - off < CHUNK ? size - off : CHUNK, n;
		int st = block_status_chain(src, off, want, &n);
		if (st < 0) {
			rc = st;
			break;
		}
		if (st & BLOCK_STATUS_ZERO) {
			if (!dst_reads_zero) rc = dst->drv->write_zeroes(dst, off, n);
		} else if ((rc = block_pread(src, buf, n, off)) == 0) {
			/* Zero blocks inside data (e.g. a raw file's unwritten blocks) stay sparse. */
			const uint64_t blk = 65536;
			for (uint64_t p = 0; p < n && rc == 0; p += blk) {
				uint64_t len = n - p < blk ? n - p : blk;
				if (all_zero(buf + p, len)) {
					if (!dst_reads_zero) rc = dst->drv->write_zeroes(dst, off + p, len);
				} else {
					rc = block_pwrite(dst, buf + p, len, off + p);
				}
			}
		}
		off += n;
		report(progress, ctx, off, size);
	}
	if (rc == 0) rc = dst->drv->flush(dst);
	free(buf);
	return rc;
}

int image_commit(struct block_backend *top, struct block_backend *base, bool keep, block_progress_fn progress,
                 void *ctx)
{
	uint8_t *buf = malloc(CHUNK);
	if (!buf) return -ENOMEM;
	int rc = 0;
	uint64_t off = 0, size = top->size < base->size ? top->size : base->size;
	report(progress, ctx, 0, size);
	while (off < size && rc == 0) {
		uint64_t want = size - off < CHUNK ? size - off : CHUNK, n;
		int st = top->drv->block_status(top, off, want, &n);
		if (st < 0) {
			rc = st;
			break;
		}
		if (st & BLOCK_STATUS_ALLOCATED) {
			if (st & BLOCK_STATUS_ZERO)
				rc = base->drv->write_zeroes(base, off, n);
			else if ((rc = block_pread(top, buf, n, off)) == 0)
				rc = block_pwrite(base, buf, n, off);
		}
		off += n;
		report(progress, ctx, off, size);
	}
	if (rc == 0) rc = base->drv->flush(base);
	/* Base holds everything durably: top's own copies are now redundant. */
	if (rc == 0 && !keep) {
		rc = top->drv->discard(top, 0, top->size);
		if (rc == 0) rc = top->drv->flush(top);
	}
	free(buf);
	return rc;
}

int image_rebase(struct block_backend *top, struct block_backend *new_backing, block_progress_fn progress,
                 void *ctx)
{
	uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK);
	int rc = (a && b) ? 0 : -ENOMEM;
	uint64_t off = 0, size = top->size;
	report(progress, ctx, 0, size);
	while (off < size && rc == 0) {
		uint64_t want = size - off < CHUNK ? size - off : CHUNK, n;
		int st = top->drv->block_status(top, off, want, &n);
		if (st < 0) {
			rc = st;
			break;
		}
		if (!(st & BLOCK_STATUS_ALLOCATED)) {
			rc = block_pread(top, a, n, off); /* what the old chain shows */
			memset(b, 0, n);
			if (rc == 0 && new_backing && off < new_backing->size) {
				uint64_t m = new_backing->size - off < n ? new_backing->size - off : n;
				rc = block_pread(new_backing, b, m, off);
			}
			const uint64_t blk = 65536;
			for (uint64_t p = 0; p < n && rc == 0; p += blk) {
				uint64_t len = n - p < blk ? n - p : blk;
				if (memcmp(a + p, b + p, len)) rc = block_pwrite(top, a + p, len, off + p);
			}
		}
		off += n;
		report(progress, ctx, off, size);
	}
	if (rc == 0) rc = top->drv->flush(top);
	free(a);
	free(b);
	return rc;
}
