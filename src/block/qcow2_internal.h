/*
 * qcow2_internal.h — the open-image state shared by the qcow2 driver
 * (qcow2.c: I/O paths, metadata caches, refcounts, allocation) and the
 * consistency checker (qcow2_check.c). Not for use outside src/block/.
 */
#ifndef CLOISON_QCOW2_INTERNAL_H
#define CLOISON_QCOW2_INTERNAL_H

#include "block.h"
#include "qcow2_format.h"

#include <pthread.h>

struct qcow2_cache_entry {
	uint64_t offset; /* 0: empty slot */
	uint8_t *data;
	uint64_t lru;
	bool dirty;
};

struct qcow2_cache {
	struct qcow2_cache_entry *e;
	unsigned n;
	uint64_t tick;
	const char *what;
};

struct qcow2_free_range {
	uint64_t offset, len;
};

struct qcow2 {
	struct block_backend b; /* first: the generic part */
	struct qcow2_header h;
	uint64_t cluster_size;
	unsigned cluster_bits, l2_bits, rb_bits; /* log2 of cluster size, L2 entries, refcounts per block */
	uint64_t refcount_max;
	uint64_t *l1; /* host-endian copy of the active L1 table */
	uint32_t l1_size;
	uint32_t l1_dirty_lo, l1_dirty_hi; /* dirty entries [lo, hi) */
	uint64_t *reftable;
	uint64_t reftable_entries;
	struct qcow2_cache l2c, rbc;
	uint64_t file_end;                     /* allocations start here: past every cluster in use */
	uint64_t phys_size;                    /* bytes the host file holds (beyond: reads as zeros) */
	uint64_t free_hint;                    /* lowest cluster index that may be free */
	struct qcow2_free_range *pending_free; /* freed in L2 tables, refcounts not yet dropped */
	size_t npending, cap_pending;
	uint8_t *cow_buf;    /* one cluster */
	uint8_t *zbuf;       /* compressed bytes: two clusters */
	uint8_t *dbuf;       /* one decompressed cluster */
	uint64_t dbuf_entry; /* the compressed L2 entry dbuf holds, or 0 */
	bool need_sync;      /* data or metadata written since the last fdatasync */
	bool corrupt;        /* metadata found inconsistent: no more writes */
	bool append_only;    /* allocate only past file_end (repairs trust no refcount) */
	unsigned alloc_depth;
	pthread_mutex_t lock;
};

static inline struct qcow2 *qcow2_of(struct block_backend *b)
{
	return (struct qcow2 *)b;
}

/* block_open() flag for the checker: opens images marked dirty or corrupt. */
#define QCOW2_OPEN_FOR_CHECK 0x100u

int qcow2_get_refcount(struct qcow2 *q, uint64_t cluster_index, uint64_t *refcount);
int qcow2_set_refcount(struct qcow2 *q, uint64_t cluster_index, uint64_t refcount);
/* Writes every dirty cached table in crash-safe order; with `sync`, ends with fdatasync. */
int qcow2_writeback(struct qcow2 *q, bool sync);
/* Rewrites the header cluster from q->h (backing name included). */
int qcow2_write_header(struct qcow2 *q);
int qcow2_file_read(struct qcow2 *q, void *buf, size_t len, uint64_t off);
int qcow2_file_write(struct qcow2 *q, const void *buf, size_t len, uint64_t off);
/* The L2 entry mapping guest offset `off` (0 if no L2 table). */
int qcow2_l2_entry(struct qcow2 *q, uint64_t off, uint64_t *entry);
/* Host byte range [*start, *start + *len) a compressed L2 entry occupies. */
void qcow2_compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *start, uint64_t *len);

#endif
