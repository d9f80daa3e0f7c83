/*
 * raw.c — raw disk images: the guest's byte n is the file's byte n. Files
 * may be sparse (dynamic) or preallocated (static); discard punches holes.
 */
#define _GNU_SOURCE /* fallocate flags */
#include "block.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int raw_io(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off, bool write)
{
	/* preadv/pwritev may stop short: advance through the vector until done. */
	struct iovec local[64];
	const struct iovec *v = iov;
	struct iovec *copy = NULL;
	if (iovcnt > 64) {
		copy = malloc(sizeof(*copy) * (size_t)iovcnt);
		if (!copy) return -ENOMEM;
	}
	struct iovec *w = copy ? copy : local;
	memcpy(w, v, sizeof(*w) * (size_t)iovcnt);
	int i = 0, rc = 0;
	while (i < iovcnt) {
		if (w[i].iov_len == 0) {
			i++;
			continue;
		}
		int n = iovcnt - i > 1024 ? 1024 : iovcnt - i;
		ssize_t r =
		    write ? pwritev(b->fd, &w[i], n, (off_t)off) : preadv(b->fd, &w[i], n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR) continue;
			rc = -errno;
			break;
		}
		if (r == 0) { /* reading past the end of a file that shrank under us */
			rc = -EIO;
			break;
		}
		off += (uint64_t)r;
		while (r > 0 && i < iovcnt) {
			if ((size_t)r >= w[i].iov_len) {
				r -= (ssize_t)w[i].iov_len;
				i++;
			} else {
				w[i].iov_base = (uint8_t *)w[i].iov_base + r;
				w[i].iov_len -= (size_t)r;
				r = 0;
			}
		}
	}
	free(copy);
	return rc;
}

static int raw_preadv(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return raw_io(b, iov, iovcnt, off, false);
}

static int raw_pwritev(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return raw_io(b, iov, iovcnt, off, true);
}

static int raw_flush(struct block_backend *b)
{
	return fdatasync(b->fd) ? -errno : 0;
}

static int raw_discard(struct block_backend *b, uint64_t off, uint64_t len)
{
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return errno == EOPNOTSUPP ? 0 : -errno; /* discard is advisory */
}

static int raw_write_zeroes(struct block_backend *b, uint64_t off, uint64_t len)
{
	if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	static const uint8_t zeros[65536];
	while (len) {
		size_t n = len > sizeof(zeros) ? sizeof(zeros) : (size_t)len;
		struct iovec v = {(void *)zeros, n};
		int rc = raw_io(b, &v, 1, off, true);
		if (rc) return rc;
		off += n;
		len -= n;
	}
	return 0;
}

static int raw_block_status(struct block_backend *b, uint64_t off, uint64_t len, uint64_t *pnum)
{
	/* Holes read as zeros: SEEK_DATA/SEEK_HOLE tell where they are. */
	off_t data = lseek(b->fd, (off_t)off, SEEK_DATA);
	if (data < 0 && errno == ENXIO) { /* nothing but hole up to the end */
		*pnum = len;
		return BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO;
	}
	if (data < 0) { /* no hole support: all data */
		*pnum = len;
		return BLOCK_STATUS_ALLOCATED;
	}
	if ((uint64_t)data > off) {
		uint64_t n = (uint64_t)data - off;
		*pnum = n < len ? n : len;
		return BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO;
	}
	off_t hole = lseek(b->fd, (off_t)off, SEEK_HOLE);
	uint64_t n = hole > (off_t)off ? (uint64_t)hole - off : len;
	*pnum = n < len ? n : len;
	return BLOCK_STATUS_ALLOCATED;
}

static int raw_resize(struct block_backend *b, uint64_t new_size)
{
	if (ftruncate(b->fd, (off_t)new_size)) return -errno;
	b->size = new_size;
	return 0;
}

static void raw_close(struct block_backend *b)
{
	close(b->fd);
	free(b);
}

static const struct block_driver raw_driver = {
    .name = "raw",
    .preadv = raw_preadv,
    .pwritev = raw_pwritev,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .block_status = raw_block_status,
    .resize = raw_resize,
    .close = raw_close,
};

struct block_backend *raw_open_fd(int fd, const char *path, bool readonly, char *errmsg, size_t errlen)
{
	struct stat st;
	uint64_t size = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) == 0) {
		/* a host block device */
	} else {
		snprintf(errmsg, errlen, "disk '%s' is neither a regular file nor a block device", path);
		close(fd);
		return NULL;
	}
	if (size < 512 || size % 512) {
		snprintf(errmsg, errlen,
		         "disk '%s' is %llu bytes: a disk must be a non-zero multiple of 512 bytes", path,
		         (unsigned long long)size);
		close(fd);
		return NULL;
	}
	struct block_backend *b = calloc(1, sizeof(*b));
	if (!b) {
		close(fd);
		snprintf(errmsg, errlen, "out of memory");
		return NULL;
	}
	b->drv = &raw_driver;
	b->size = size;
	b->readonly = readonly;
	b->fd = fd;
	snprintf(b->path, sizeof(b->path), "%s", path);
	return b;
}
