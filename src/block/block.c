/*
 * block.c — opening disk images: choosing the format (explicit, or by the
 * user's file name), locking, and the helpers every driver and tool shares.
 */
#define _GNU_SOURCE
#include "block.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Known formats by their magic; NULL when the bytes say nothing. */
static const char *format_from_magic(const uint8_t *m, size_t n)
{
	if (n >= 4 && !memcmp(m, "QFI\xfb", 4)) return "qcow2";
	if (n >= 4 && !memcmp(m, "KDMV", 4)) return "vmdk";
	if (n >= 8 && !memcmp(m, "conectix", 8)) return "vhd";
	if (n >= 8 && !memcmp(m, "vhdxfile", 8)) return "vhdx";
	if (n >= 4 && !memcmp(m, "QFI\0", 4)) return "qed";
	if (n >= 68 && !memcmp(m + 64, "\x7f\x10\xda\xbe", 4)) return "vdi";
	return NULL;
}

static const char *read_magic(int fd)
{
	uint8_t m[72] = {0};
	ssize_t n = pread(fd, m, sizeof(m), 0);
	return n > 0 ? format_from_magic(m, (size_t)n) : NULL;
}

const char *block_probe_format(const char *path, char *errmsg, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errmsg, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	const char *f = read_magic(fd);
	close(fd);
	return f ? f : "raw";
}

struct block_backend *block_open(const char *path, const char *format, unsigned flags, char *errmsg,
                                 size_t errlen)
{
	bool readonly = flags & BLOCK_OPEN_READONLY;
	bool format_given = format != NULL;
	if (!format) format = ends_with(path, ".qcow2") ? "qcow2" : NULL;
	if (format && strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0) {
		snprintf(errmsg, errlen,
		         "disk '%s': format '%s' is not supported (supported: raw, qcow2; "
		         "`cloison disk convert` imports other formats through qemu-img)",
		         path, format);
		return NULL;
	}
	int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errmsg, errlen, "cannot open disk '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (!(flags & BLOCK_OPEN_NO_LOCK) && flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
		snprintf(errmsg, errlen, "disk '%s' is in use by another process (%s lock held)", path,
		         readonly ? "a write" : "a");
		close(fd);
		return NULL;
	}
	const char *magic = read_magic(fd);
	if (!format) {
		if (magic) {
			snprintf(
			    errmsg, errlen,
			    "disk '%s' looks like a %s image: say format=%s (or format=raw to use its bytes)",
			    path, magic, magic);
			close(fd);
			return NULL;
		}
		format = "raw";
	}
	if (!strcmp(format, "raw")) return raw_open_fd(fd, path, readonly, errmsg, errlen);
	return qcow2_open_fd(fd, path, flags, format_given || ends_with(path, ".qcow2"), errmsg, errlen);
}

bool block_set_locked(struct block_backend *b, bool locked)
{
	if (!locked) return flock(b->fd, LOCK_UN) == 0;
	return flock(b->fd, (b->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0;
}

void block_close(struct block_backend *b)
{
	if (!b) return;
	struct block_backend *backing = b->backing;
	b->drv->close(b);
	block_close(backing);
}

int block_pread(struct block_backend *b, void *buf, size_t len, uint64_t off)
{
	struct iovec v = {buf, len};
	return b->drv->preadv(b, &v, 1, off);
}

int block_pwrite(struct block_backend *b, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = {(void *)buf, len};
	return b->drv->pwritev(b, &v, 1, off);
}

int block_status_chain(struct block_backend *b, uint64_t off, uint64_t len, uint64_t *pnum)
{
	for (;;) {
		int st = b->drv->block_status(b, off, len, pnum);
		if (st < 0 || (st & BLOCK_STATUS_ALLOCATED)) return st;
		len = *pnum;
		struct block_backend *next = b->backing;
		if (!next) return BLOCK_STATUS_ZERO;
		if (off >= next->size) return BLOCK_STATUS_ZERO;
		if (len > next->size - off) len = next->size - off;
		b = next;
	}
}

uint64_t block_host_allocated(const struct block_backend *b)
{
	struct stat st;
	return fstat(b->fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

int block_write_zero_bytes(struct block_backend *b, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[65536];
	struct iovec v[16];
	while (len) {
		int n = 0;
		uint64_t chunk = 0;
		while (n < 16 && chunk < len) {
			uint64_t take = len - chunk < sizeof(zeros) ? len - chunk : sizeof(zeros);
			v[n++] = (struct iovec){(void *)zeros, take};
			chunk += take;
		}
		int rc = b->drv->pwritev(b, v, n, off);
		if (rc) return rc;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

int iov_slice(const struct iovec *iov, int iovcnt, uint64_t skip, uint64_t len, struct iovec *out, int outmax)
{
	int n = 0;
	for (int i = 0; i < iovcnt && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - skip;
		if (take > len) take = len;
		if (n == outmax) return -1;
		out[n++] = (struct iovec){(uint8_t *)iov[i].iov_base + skip, take};
		len -= take;
		skip = 0;
	}
	return n;
}

void iov_memset(const struct iovec *iov, int iovcnt, int c)
{
	for (int i = 0; i < iovcnt; i++) memset(iov[i].iov_base, c, iov[i].iov_len);
}

void iov_to_buf(const struct iovec *iov, int iovcnt, void *buf)
{
	uint8_t *p = buf;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
}
