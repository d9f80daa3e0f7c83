/*
 * block.h — disk image backends behind one interface: what virtio-blk and
 * the disk tools call, whatever the format on the host.
 *
 * All offsets and lengths are in bytes; every call returns 0 or -errno.
 * Callers check ranges against `size` before calling. One backend is used
 * by one thread at a time (the disk's I/O thread, or a tool).
 */
#ifndef CLOISON_BLOCK_H
#define CLOISON_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct block_backend;

/* block_status() flags for a range */
#define BLOCK_STATUS_ALLOCATED 1u /* this layer decides the content (else: the backing file does) */
#define BLOCK_STATUS_ZERO 2u      /* the content reads as zeros */

struct block_driver {
	const char *name;
	int (*preadv)(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off);
	int (*pwritev)(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off);
	int (*flush)(struct block_backend *b); /* returns once written data is durable */
	int (*discard)(struct block_backend *b, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct block_backend *b, uint64_t off, uint64_t len);
	/* Status of [off, off+len): returns flags >= 0 (or -errno) and sets *pnum to how many bytes
	 * from off share them (at least 1 byte, at most len). */
	int (*block_status)(struct block_backend *b, uint64_t off, uint64_t len, uint64_t *pnum);
	int (*resize)(struct block_backend *b, uint64_t new_size);
	void (*close)(struct block_backend *b); /* writes back cached metadata; frees the backend */
};

struct block_backend {
	const struct block_driver *drv;
	uint64_t size;
	bool readonly;
	bool ignore_flush; /* cache=unsafe: guest flushes are not passed down */
	int fd;
	char path[4096];
	struct block_backend *backing; /* qcow2 backing file, or NULL */
};

/* block_open() flags */
#define BLOCK_OPEN_READONLY 1u
#define BLOCK_OPEN_NO_BACKING 2u /* never open a backing file the image names: it reads as zeros */
#define BLOCK_OPEN_NO_LOCK 4u    /* do not take the image lock (tests only) */

/*
 * Opens an image. `format` is "raw", "qcow2" or NULL. Without a format a
 * file named *.qcow2 opens as qcow2 and any other file as raw, except that
 * a raw file whose first bytes look like another format is refused rather
 * than guessed: a guest can write any header into a raw disk, so probing
 * is only safe on what the user named. A backing file named inside an image
 * is opened (read-only, with the format the image records for it) only when
 * the user gave the image's format: `format=qcow2` or the .qcow2 name.
 * Writers hold an exclusive lock on the file, readers a shared one.
 * Returns NULL with errmsg set.
 */
struct block_backend *block_open(const char *path, const char *format, unsigned flags, char *errmsg,
                                 size_t errlen);
void block_close(struct block_backend *b);

/* Reads or writes one flat buffer. */
int block_pread(struct block_backend *b, void *buf, size_t len, uint64_t off);
int block_pwrite(struct block_backend *b, const void *buf, size_t len, uint64_t off);

/* Status through the whole chain: flags of the first layer that decides, with ZERO set if nothing
 * does (the range reads as zeros). */
int block_status_chain(struct block_backend *b, uint64_t off, uint64_t len, uint64_t *pnum);

/* Bytes the file occupies on the host (allocated blocks). */
uint64_t block_host_allocated(const struct block_backend *b);

/* Format from the name and first bytes, for tools working on the user's own files: "qcow2",
 * "raw", or another known format name ("vmdk", "vdi", "vhd", "vhdx", "qed"). */
const char *block_probe_format(const char *path, char *errmsg, size_t errlen);

/* Writes zeros to [off, off+len) through pwritev (helper for drivers). */
int block_write_zero_bytes(struct block_backend *b, uint64_t off, uint64_t len);

/* Drivers' open functions, used by block_open. They take ownership of fd. */
/* Hands the image's lock over (live migration: the destination opens it once the source flushed) or takes
 * it back. Returns false if another process took it meanwhile. */
bool block_set_locked(struct block_backend *b, bool locked);
struct block_backend *raw_open_fd(int fd, const char *path, bool readonly, char *errmsg, size_t errlen);
struct block_backend *qcow2_open_fd(int fd, const char *path, unsigned flags, bool format_given, char *errmsg,
                                    size_t errlen);
bool qcow2_is_backend(const struct block_backend *b);

/* Copies at most n iovec entries covering bytes [skip, skip+len) of iov into out; returns the count,
 * or -1 if out is too small. */
int iov_slice(const struct iovec *iov, int iovcnt, uint64_t skip, uint64_t len, struct iovec *out,
              int outmax);
void iov_memset(const struct iovec *iov, int iovcnt, int c);
void iov_to_buf(const struct iovec *iov, int iovcnt, void *buf);

#endif
