/*
 * delta.c — see delta.h.
 */
#define _GNU_SOURCE
#include "block/delta.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = "CLDELTA1", TRAILER[8] = "CLDEND01";

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i]) return false;
	return true;
}

bool delta_write(const char *path, struct block_backend *const *disks, uint64_t *const *bitmaps,
                 const size_t *nblocks, unsigned ndisks, uint32_t block_size, struct delta_stats *st,
                 char *err, size_t errlen)
{
	*st = (struct delta_stats){0};
	if (ndisks > DELTA_MAX_DISKS || !block_size || block_size > DELTA_MAX_BLOCK)
		return snprintf(err, errlen, "delta: %u disks, block size %u", ndisks, block_size), false;
	FILE *f = fopen(path, "we");
	uint8_t *buf = malloc(block_size);
	if (!f || !buf) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		if (f) fclose(f);
		free(buf);
		return false;
	}
	uint32_t head[2] = {ndisks, block_size};
	bool ok = fwrite(MAGIC, 8, 1, f) == 1 && fwrite(head, sizeof(head), 1, f) == 1;
	for (unsigned d = 0; ok && d < ndisks; d++) {
		struct block_backend *b = disks[d];
		size_t n = (b->size + block_size - 1) / block_size;
		if (bitmaps && bitmaps[d] && nblocks[d] < n) n = nblocks[d];
		uint64_t count = 0;
		for (size_t i = 0; i < n; i++)
			if (!bitmaps || !bitmaps[d] || (bitmaps[d][i / 64] >> (i % 64) & 1)) count++;
		uint64_t dh[2] = {b->size, count};
		ok = fwrite(dh, sizeof(dh), 1, f) == 1;
		for (size_t i = 0; ok && i < n; i++) {
			if (bitmaps && bitmaps[d] && !(bitmaps[d][i / 64] >> (i % 64) & 1)) continue;
			uint64_t off = (uint64_t)i * block_size;
			size_t len = b->size - off < block_size ? (size_t)(b->size - off) : block_size;
			if (block_pread(b, buf, len, off)) {
				snprintf(err, errlen, "delta: cannot read %s at %llu", b->path,
				         (unsigned long long)off);
				ok = false;
				break;
			}
			uint64_t idx = i;
			uint8_t kind = all_zero(buf, len);
			ok = fwrite(&idx, 8, 1, f) == 1 && fwrite(&kind, 1, 1, f) == 1 &&
			     (kind || fwrite(buf, len, 1, f) == 1);
			st->blocks++;
			st->zero_blocks += kind;
			st->bytes += kind ? 0 : len;
		}
	}
	ok = ok && fwrite(TRAILER, 8, 1, f) == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (!ok && !err[0]) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	if (fclose(f) && ok) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		ok = false;
	}
	free(buf);
	if (!ok) unlink(path);
	return ok;
}

/* Walks a delta; with fds, applies it. */
static bool walk(const uint8_t *p, size_t len, const int *fds, struct delta_stats *st, char *err,
                 size_t errlen)
{
	size_t at = 16;
	uint32_t ndisks, bs;
	if (len < 24 || memcmp(p, MAGIC, 8)) return snprintf(err, errlen, "not a cloison disk delta"), false;
	memcpy(&ndisks, p + 8, 4);
	memcpy(&bs, p + 12, 4);
	if (ndisks > DELTA_MAX_DISKS || !bs || bs > DELTA_MAX_BLOCK)
		return snprintf(err, errlen, "delta: %u disks, block size %u", ndisks, bs), false;
	for (uint32_t d = 0; d < ndisks; d++) {
		uint64_t size, count;
		if (len - at < 16) return snprintf(err, errlen, "delta: truncated (disk %u)", d), false;
		memcpy(&size, p + at, 8);
		memcpy(&count, p + at + 8, 8);
		at += 16;
		uint64_t nb = size / bs + (size % bs != 0);
		if (size > (1ull << 50) || count > nb)
			return snprintf(err, errlen, "delta: disk %u: bad sizes", d), false;
		if (fds && ftruncate(fds[d], (off_t)size))
			return snprintf(err, errlen, "delta: resizing the replica: %s", strerror(errno)),
			       false;
		uint64_t prev = 0;
		for (uint64_t e = 0; e < count; e++) {
			uint64_t idx;
			if (len - at < 9)
				return snprintf(err, errlen, "delta: truncated (disk %u)", d), false;
			memcpy(&idx, p + at, 8);
			uint8_t kind = p[at + 8];
			at += 9;
			if (idx >= nb || kind > 1 || (e && idx <= prev))
				return snprintf(err, errlen, "delta: disk %u: bad entry %llu", d,
				                (unsigned long long)e),
				       false;
			prev = idx;
			uint64_t off = idx * bs;
			size_t blen = size - off < bs ? (size_t)(size - off) : bs;
			if (!kind && len - at < blen)
				return snprintf(err, errlen, "delta: truncated (disk %u)", d), false;
			if (fds) {
				int rc = kind ? fallocate(fds[d], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				                          (off_t)off, (off_t)blen)
				              : (fs_pwrite_all(fds[d], p + at, blen, (off_t)off) ? 0 : -1);
				if (rc)
					return snprintf(err, errlen, "delta: writing the replica: %s",
					                strerror(errno)),
					       false;
			}
			if (st) {
				st->blocks++;
				st->zero_blocks += kind;
				st->bytes += kind ? 0 : blen;
			}
			if (!kind) at += blen;
		}
	}
	if (len - at != 8 || memcmp(p + at, TRAILER, 8))
		return snprintf(err, errlen, "delta: truncated or trailing bytes"), false;
	return true;
}

bool delta_check(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	return walk(buf, len, NULL, NULL, err, errlen);
}

bool delta_apply(const char *path, const char *dir, struct delta_stats *st, char *err, size_t errlen)
{
	*st = (struct delta_stats){0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0) close(fd);
		return false;
	}
	size_t len = (size_t)sb.st_size;
	const uint8_t *p = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (len && p == MAP_FAILED)
		return snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno)), false;
	bool ok = walk(p, len, NULL, NULL, err, errlen);
	uint32_t ndisks = 0;
	if (ok) memcpy(&ndisks, p + 8, 4);
	int fds[DELTA_MAX_DISKS];
	unsigned opened = 0;
	for (; ok && opened < ndisks; opened++) {
		char disk[4200];
		snprintf(disk, sizeof(disk), "%s/disk%u.raw", dir, opened);
		fds[opened] = open(disk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fds[opened] < 0) {
			snprintf(err, errlen, "cannot open %s: %s", disk, strerror(errno));
			ok = false;
			break;
		}
	}
	if (ok) ok = walk(p, len, fds, st, err, errlen);
	for (unsigned i = 0; i < opened; i++) {
		if (ok && fsync(fds[i])) {
			snprintf(err, errlen, "syncing the replica: %s", strerror(errno));
			ok = false;
		}
		close(fds[i]);
	}
	if (len) munmap((void *)p, len);
	return ok;
}
