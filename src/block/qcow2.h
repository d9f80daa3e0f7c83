/*
 * qcow2.h — qcow2 operations beyond guest I/O, for the disk tools: create,
 * header facts, changing the backing file, consistency check and repair.
 */
#ifndef CLOISON_QCOW2_H
#define CLOISON_QCOW2_H

#include "block.h"
#include "qcow2_format.h"

struct qcow2_create_opts {
	uint64_t size;           /* bytes; 0 with a backing file: the backing file's size */
	unsigned cluster_bits;   /* 0: 16 (64 KiB) */
	unsigned version;        /* 0: 3 */
	unsigned refcount_order; /* 0 means the default, 4 (16-bit refcounts) */
	const char *backing;     /* name stored in the image (relative to its directory), or NULL */
	const char *backing_format;
};

/* Creates a new image (refusing to overwrite an existing file). */
int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *errmsg, size_t errlen);

/* The header of an open qcow2 backend. */
const struct qcow2_header *qcow2_header_of(struct block_backend *b);

/* Points the image at another backing file (NULL: none); only the header changes. */
int qcow2_set_backing(struct block_backend *b, const char *name, const char *format);

#define QCOW2_REPAIR_LEAKS 1u
#define QCOW2_REPAIR_ERRORS 2u

struct qcow2_check_result {
	uint64_t corruptions, leaks;                 /* found */
	uint64_t corruptions_fixed, leaks_fixed;     /* repaired */
	uint64_t check_errors;                       /* metadata the checker could not read or place */
	uint64_t allocated_clusters, total_clusters; /* guest clusters mapped / the disk's clusters */
	uint64_t image_end_offset;
};

/*
 * Walks every table and compares the refcounts the image records with the
 * references it holds. Repairs what `repair` allows, then checks again and
 * reports the state after repair in `after` (may be NULL). The backend must
 * be opened with QCOW2_OPEN_FOR_CHECK (and writable to repair).
 * `log` receives one line per finding (may be NULL).
 */
int qcow2_check(struct block_backend *b, unsigned repair, struct qcow2_check_result *r,
                struct qcow2_check_result *after, void (*log)(void *ctx, const char *line), void *ctx);

#endif
