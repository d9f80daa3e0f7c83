/*
 * block.h — disk image backends behind one interface: what virtio-blk (and
 * later the disk tools) call, whatever the format on the host.
 *
 * All offsets and lengths are in bytes; every call returns 0 or -errno.
 * Callers check ranges against `size` before calling.
 */
#ifndef CLOISON_BLOCK_H
#define CLOISON_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct block_backend;

struct block_driver {
	const char *name;
	int (*preadv)(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off);
	int (*pwritev)(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off);
	int (*flush)(struct block_backend *b); /* returns once written data is durable */
	int (*discard)(struct block_backend *b, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct block_backend *b, uint64_t off, uint64_t len);
	void (*close)(struct block_backend *b);
};

struct block_backend {
	const struct block_driver *drv;
	uint64_t size;
	bool readonly;
	int fd;
	char path[256];
};

/*
 * Opens an image. `format` is "raw" or NULL; without a format a file that
 * looks like another format is refused rather than guessed (probing is only
 * safe on images the user made, and a guest can write any header into a raw
 * disk). Returns NULL with errmsg set.
 */
struct block_backend *block_open(const char *path, const char *format, bool readonly, char *errmsg,
                                 size_t errlen);
void block_close(struct block_backend *b);

#endif
