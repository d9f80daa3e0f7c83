/*
 * qcow2.c — the qcow2 image driver: guest reads and writes through the L1
 * and L2 tables, cluster allocation with refcounts, copy-on-write from a
 * backing file, zero clusters, discard, compressed (zlib) reads.
 *
 * Metadata (L2 tables, refcount blocks) lives in write-back caches. They
 * reach the file in an order that keeps the image consistent whenever the
 * process dies: refcount increments first, then (after fdatasync) the
 * tables that point at the new clusters, then the L1 entries; refcount
 * decrements of freed clusters only after the tables that stopped using
 * them are durable. A crash can leak clusters, never make two users share
 * one. A guest flush writes everything back and ends with fdatasync.
 */
#define _GNU_SOURCE
#include "qcow2_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/log.h"

#define MAX_BACKING_DEPTH 16
#define MAX_ALLOC_DEPTH 8
#define QIOV_MAX 260 /* virtio-blk's 254 data segments, plus slack */

static __thread unsigned backing_depth;

/* ---- file access ---- */

static int fd_io_full(int fd, const struct iovec *iov, int iovcnt, uint64_t off, bool write, bool eof_zero)
{
	struct iovec local[QIOV_MAX];
	if (iovcnt > QIOV_MAX) return -EINVAL;
	memcpy(local, iov, sizeof(*iov) * (size_t)iovcnt);
	int i = 0;
	while (i < iovcnt) {
		if (local[i].iov_len == 0) {
			i++;
			continue;
		}
		ssize_t r = write ? pwritev(fd, &local[i], iovcnt - i, (off_t)off)
		                  : preadv(fd, &local[i], iovcnt - i, (off_t)off);
		if (r < 0) {
			if (errno == EINTR) continue;
			return -errno;
		}
		if (r == 0) {
			if (write || !eof_zero) return -EIO;
			iov_memset(&local[i], iovcnt - i, 0); /* past the end of the file: zeros */
			return 0;
		}
		off += (uint64_t)r;
		while (r > 0 && i < iovcnt) {
			if ((size_t)r >= local[i].iov_len) {
				r -= (ssize_t)local[i].iov_len;
				i++;
			} else {
				local[i].iov_base = (uint8_t *)local[i].iov_base + r;
				local[i].iov_len -= (size_t)r;
				r = 0;
			}
		}
	}
	return 0;
}

int qcow2_file_read(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
	struct iovec v = {buf, len};
	return fd_io_full(q->b.fd, &v, 1, off, false, false);
}

int qcow2_file_write(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = {(void *)buf, len};
	int rc = fd_io_full(q->b.fd, &v, 1, off, true, false);
	if (rc == 0) {
		q->need_sync = true;
		if (off + len > q->phys_size) q->phys_size = off + len;
	}
	return rc;
}

static int sync_file(struct qcow2 *q)
{
	if (!q->need_sync) return 0;
	if (fdatasync(q->b.fd)) return -errno;
	q->need_sync = false;
	return 0;
}

static int corrupt(struct qcow2 *q, const char *what, uint64_t value)
{
	if (!q->corrupt)
		log_error("qcow2 '%s': %s (0x%llx): image metadata is inconsistent; no further writes "
		          "(run `cloison disk check`)",
		          q->b.path, what, (unsigned long long)value);
	q->corrupt = true;
	return -EIO;
}

/* A table or data offset read from the image: cluster-aligned, inside what may exist. */
static bool offset_ok(const struct qcow2 *q, uint64_t off)
{
	return off && (off & (q->cluster_size - 1)) == 0 && off < q->file_end;
}

/* ---- metadata caches ---- */

static int cache_init(struct qcow2_cache *c, unsigned n, uint64_t cluster_size, const char *what)
{
	c->e = calloc(n, sizeof(*c->e));
	if (!c->e) return -ENOMEM;
	c->n = n;
	c->what = what;
	for (unsigned i = 0; i < n; i++) {
		c->e[i].data = malloc(cluster_size);
		if (!c->e[i].data) return -ENOMEM;
	}
	return 0;
}

static void cache_free(struct qcow2_cache *c)
{
	for (unsigned i = 0; c->e && i < c->n; i++) free(c->e[i].data);
	free(c->e);
	c->e = NULL;
}

static int write_cache_dirty(struct qcow2 *q, struct qcow2_cache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];
		if (!e->dirty) continue;
		int rc = qcow2_file_write(q, e->data, q->cluster_size, e->offset);
		if (rc) return rc;
		e->dirty = false;
	}
	return 0;
}

static bool cache_has_dirty(const struct qcow2_cache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].dirty) return true;
	return false;
}

static int write_tables(struct qcow2 *q);

/*
 * The cached cluster at `offset`: loaded from the file, or zero-filled when
 * `fresh` (a newly allocated table). The pointer is valid until the next
 * cache call.
 */
static int cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t offset, bool fresh,
                     struct qcow2_cache_entry **out)
{
	struct qcow2_cache_entry *victim = NULL;
	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];
		if (e->offset == offset) {
			e->lru = ++c->tick;
			if (fresh) memset(e->data, 0, q->cluster_size);
			*out = e;
			return 0;
		}
		if (!victim || e->lru < victim->lru) victim = e;
	}
	if (victim->dirty) {
		int rc = write_tables(q); /* keeps the write order; rare with our cache sizes */
		if (rc) return rc;
	}
	victim->offset = 0;
	if (fresh) {
		memset(victim->data, 0, q->cluster_size);
	} else {
		int rc = qcow2_file_read(q, victim->data, q->cluster_size, offset);
		if (rc) return rc;
	}
	victim->offset = offset;
	victim->lru = ++c->tick;
	*out = victim;
	return 0;
}

static void cache_drop(struct qcow2_cache *c, uint64_t offset)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].offset == offset) c->e[i] = (struct qcow2_cache_entry){.data = c->e[i].data};
}

/* ---- refcounts ---- */

static uint64_t rb_get(const struct qcow2 *q, const uint8_t *blk, uint64_t i)
{
	switch (q->h.refcount_order) {
	case 0: return (blk[i / 8] >> (i % 8)) & 1;
	case 1: return (blk[i / 4] >> (2 * (i % 4))) & 3;
	case 2: return (blk[i / 2] >> (4 * (i % 2))) & 15;
	case 3: return blk[i];
	case 4: return qcow2_be16(blk + 2 * i);
	case 5: return qcow2_be32(blk + 4 * i);
	default: return qcow2_be64(blk + 8 * i);
	}
}

static void rb_set(const struct qcow2 *q, uint8_t *blk, uint64_t i, uint64_t v)
{
	unsigned sh;
	switch (q->h.refcount_order) {
	case 0:
		sh = i % 8;
		blk[i / 8] = (uint8_t)((blk[i / 8] & ~(1u << sh)) | (v << sh));
		break;
	case 1:
		sh = 2 * (i % 4);
		blk[i / 4] = (uint8_t)((blk[i / 4] & ~(3u << sh)) | (v << sh));
		break;
	case 2:
		sh = 4 * (i % 2);
		blk[i / 2] = (uint8_t)((blk[i / 2] & ~(15u << sh)) | (v << sh));
		break;
	case 3: blk[i] = (uint8_t)v; break;
	case 4: qcow2_put_be16(blk + 2 * i, (uint16_t)v); break;
	case 5: qcow2_put_be32(blk + 4 * i, (uint32_t)v); break;
	default: qcow2_put_be64(blk + 8 * i, v); break;
	}
}

int qcow2_get_refcount(struct qcow2 *q, uint64_t idx, uint64_t *refcount)
{
	uint64_t ri = idx >> q->rb_bits;
	*refcount = 0;
	if (ri >= q->reftable_entries || q->reftable[ri] == 0) return 0;
	uint64_t boff = q->reftable[ri];
	if (!offset_ok(q, boff)) return corrupt(q, "refcount block offset out of range", boff);
	struct qcow2_cache_entry *e;
	int rc = cache_get(q, &q->rbc, boff, false, &e);
	if (rc) return rc;
	*refcount = rb_get(q, e->data, idx & ((1ULL << q->rb_bits) - 1));
	return 0;
}

static int write_reftable_entry(struct qcow2 *q, uint64_t ri)
{
	uint8_t be[8];
	qcow2_put_be64(be, q->reftable[ri]);
	return qcow2_file_write(q, be, 8, q->h.refcount_table_offset + ri * 8);
}

/* Replaces the refcount table by one with at least `need` entries, placed at the end of the file. */
static int grow_reftable(struct qcow2 *q, uint64_t need)
{
	uint64_t entries = q->reftable_entries * 2;
	if (entries < need + 16) entries = need + 16;
	uint64_t per_cluster = q->cluster_size / 8;
	uint64_t clusters = (entries + per_cluster - 1) / per_cluster;
	entries = clusters * per_cluster;
	if ((clusters << q->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES) return -EFBIG;
	uint64_t *t = calloc(entries, 8);
	uint8_t *disk = calloc(entries, 8);
	if (!t || !disk) {
		free(t);
		free(disk);
		return -ENOMEM;
	}
	memcpy(t, q->reftable, q->reftable_entries * 8);
	for (uint64_t i = 0; i < entries; i++) qcow2_put_be64(disk + 8 * i, t[i]);
	uint64_t new_off = q->file_end;
	q->file_end += clusters << q->cluster_bits;
	int rc = qcow2_file_write(q, disk, entries * 8, new_off);
	free(disk);
	if (rc) {
		free(t);
		return rc;
	}
	uint64_t old_off = q->h.refcount_table_offset, old_clusters = q->h.refcount_table_clusters;
	uint64_t *old = q->reftable;
	q->reftable = t;
	q->reftable_entries = entries;
	q->h.refcount_table_offset = new_off;
	q->h.refcount_table_clusters = (uint32_t)clusters;
	/* The new table's own clusters (may allocate refcount blocks; their entries land in it). */
	for (uint64_t i = 0; i < clusters && rc == 0; i++)
		rc = qcow2_set_refcount(q, (new_off >> q->cluster_bits) + i, 1);
	/* Refcounts durable, then the header switches tables (L2 tables stay cached: they may point at
	 * clusters only the new table counts). */
	if (rc == 0) rc = write_cache_dirty(q, &q->rbc);
	if (rc == 0) rc = sync_file(q);
	if (rc == 0) rc = qcow2_write_header(q);
	if (rc == 0) rc = sync_file(q);
	free(old);
	if (rc) return rc;
	for (uint64_t i = 0; i < old_clusters && rc == 0; i++)
		rc = qcow2_set_refcount(q, (old_off >> q->cluster_bits) + i, 0);
	return rc;
}

/* Creates the refcount block for table index ri, at the end of the file. */
static int alloc_refblock(struct qcow2 *q, uint64_t ri)
{
	uint64_t off = q->file_end;
	q->file_end += q->cluster_size;
	struct qcow2_cache_entry *e;
	int rc = cache_get(q, &q->rbc, off, true, &e);
	if (rc) return rc;
	uint64_t self = off >> q->cluster_bits;
	bool covers_itself = (self >> q->rb_bits) == ri;
	if (covers_itself) rb_set(q, e->data, self & ((1ULL << q->rb_bits) - 1), 1);
	/* The block must be on disk before the table points at it. */
	rc = qcow2_file_write(q, e->data, q->cluster_size, off);
	if (rc == 0) rc = sync_file(q);
	if (rc) {
		cache_drop(&q->rbc, off);
		return rc;
	}
	e->dirty = false;
	q->reftable[ri] = off;
	rc = write_reftable_entry(q, ri);
	if (rc == 0 && !covers_itself) rc = qcow2_set_refcount(q, self, 1);
	return rc;
}

int qcow2_set_refcount(struct qcow2 *q, uint64_t idx, uint64_t value)
{
	if (value > q->refcount_max) return corrupt(q, "refcount overflow at cluster", idx);
	uint64_t ri = idx >> q->rb_bits;
	int rc = 0;
	if (++q->alloc_depth > MAX_ALLOC_DEPTH) {
		rc = corrupt(q, "refcount structures recurse at cluster", idx);
		goto out;
	}
	if (ri >= q->reftable_entries) {
		if (value == 0) goto out;
		if ((rc = grow_reftable(q, ri + 1))) goto out;
	}
	if (q->reftable[ri] == 0) {
		if (value == 0) goto out;
		if ((rc = alloc_refblock(q, ri))) goto out;
	}
	uint64_t boff = q->reftable[ri];
	if (!offset_ok(q, boff)) {
		rc = corrupt(q, "refcount block offset out of range", boff);
		goto out;
	}
	struct qcow2_cache_entry *e;
	if ((rc = cache_get(q, &q->rbc, boff, false, &e))) goto out;
	rb_set(q, e->data, idx & ((1ULL << q->rb_bits) - 1), value);
	e->dirty = true;
	if (value == 0 && idx < q->free_hint) q->free_hint = idx;
out:
	q->alloc_depth--;
	return rc;
}

/* Allocates n contiguous clusters with refcount 1; returns the host offset or -errno. */
static int64_t alloc_clusters(struct qcow2 *q, uint64_t n)
{
	uint64_t end_idx = q->file_end >> q->cluster_bits, start = end_idx;
	if (!q->append_only) {
		uint64_t run = 0;
		for (uint64_t i = q->free_hint; i < end_idx; i++) {
			uint64_t rc;
			int err = qcow2_get_refcount(q, i, &rc);
			if (err) return err;
			run = rc ? 0 : run + 1;
			if (rc && run == 0 && i == q->free_hint) q->free_hint = i + 1;
			if (run == n) {
				start = i + 1 - n;
				break;
			}
		}
		if (start == end_idx && run) start = end_idx - run; /* a free tail joins the new space */
	}
	uint64_t off = start << q->cluster_bits, end = off + (n << q->cluster_bits);
	if (end > QCOW2_MAX_SIZE) return -EFBIG;
	if (end > q->file_end) q->file_end = end;
	for (uint64_t i = 0; i < n; i++) {
		int rc = qcow2_set_refcount(q, start + i, 1);
		if (rc) return rc;
	}
	if (n == 1 && start == q->free_hint) q->free_hint = start + 1;
	return (int64_t)off;
}

static int queue_free(struct qcow2 *q, uint64_t offset, uint64_t len)
{
	if (q->npending == q->cap_pending) {
		size_t cap = q->cap_pending ? q->cap_pending * 2 : 64;
		void *p = realloc(q->pending_free, cap * sizeof(*q->pending_free));
		if (!p) return -ENOMEM;
		q->pending_free = p;
		q->cap_pending = cap;
	}
	q->pending_free[q->npending++] = (struct qcow2_free_range){offset, len};
	return 0;
}

/* Drops the refcounts of queued ranges; called once the tables no longer pointing at them are durable. */
static int release_pending(struct qcow2 *q)
{
	int rc = 0;
	for (size_t i = 0; i < q->npending && rc == 0; i++) {
		struct qcow2_free_range *r = &q->pending_free[i];
		uint64_t first = r->offset >> q->cluster_bits,
		         last = (r->offset + r->len - 1) >> q->cluster_bits;
		for (uint64_t c = first; c <= last && rc == 0; c++) {
			uint64_t ref;
			rc = qcow2_get_refcount(q, c, &ref);
			if (rc) break;
			if (ref == 0) {
				rc = corrupt(q, "freeing a cluster with refcount 0", c << q->cluster_bits);
				break;
			}
			rc = qcow2_set_refcount(q, c, ref - 1);
			if (rc == 0 && ref == 1)
				fallocate(q->b.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				          (off_t)(c << q->cluster_bits), (off_t)q->cluster_size);
		}
	}
	q->npending = 0;
	return rc;
}

static int write_l1(struct qcow2 *q)
{
	if (q->l1_dirty_lo >= q->l1_dirty_hi) return 0;
	uint32_t lo = q->l1_dirty_lo, n = q->l1_dirty_hi - lo;
	uint8_t *buf = malloc((size_t)n * 8);
	if (!buf) return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) qcow2_put_be64(buf + 8 * i, q->l1[lo + i]);
	int rc = qcow2_file_write(q, buf, (size_t)n * 8, q->h.l1_table_offset + (uint64_t)lo * 8);
	free(buf);
	if (rc == 0) q->l1_dirty_lo = q->l1_dirty_hi = 0;
	return rc;
}

static void l1_set(struct qcow2 *q, uint32_t i, uint64_t v)
{
	q->l1[i] = v;
	if (q->l1_dirty_lo >= q->l1_dirty_hi) {
		q->l1_dirty_lo = i;
		q->l1_dirty_hi = i + 1;
	} else {
		if (i < q->l1_dirty_lo) q->l1_dirty_lo = i;
		if (i + 1 > q->l1_dirty_hi) q->l1_dirty_hi = i + 1;
	}
}

/* 1. refcount increments; 2. (once durable) the L2 tables using the new clusters; 3. the L1 entries. */
static int write_tables(struct qcow2 *q)
{
	int rc;
	if ((rc = write_cache_dirty(q, &q->rbc))) return rc;
	if (q->phys_size < q->file_end && !q->b.readonly) {
		/* Clusters allocated at the end but not fully written: make the file cover them. */
		if (ftruncate(q->b.fd, (off_t)q->file_end)) return -errno;
		q->phys_size = q->file_end;
		q->need_sync = true;
	}
	if (cache_has_dirty(&q->l2c)) {
		if ((rc = sync_file(q))) return rc;
		if ((rc = write_cache_dirty(q, &q->l2c))) return rc;
	}
	if (q->l1_dirty_lo < q->l1_dirty_hi) {
		if ((rc = sync_file(q))) return rc;
		if ((rc = write_l1(q))) return rc;
	}
	return 0;
}

int qcow2_writeback(struct qcow2 *q, bool sync)
{
	int rc = write_tables(q);
	if (rc) return rc;
	if (q->npending) {
		/* 4. only now may freed clusters lose their references. */
		if ((rc = sync_file(q))) return rc;
		if ((rc = release_pending(q))) return rc;
		if ((rc = write_cache_dirty(q, &q->rbc))) return rc;
	}
	return sync ? sync_file(q) : 0;
}

int qcow2_write_header(struct qcow2 *q)
{
	uint8_t *buf = calloc(1, q->cluster_size);
	if (!buf) return -ENOMEM;
	int n = qcow2_header_build(&q->h, buf, q->cluster_size);
	int rc =
	    n < 0 ? n : qcow2_file_write(q, buf, q->cluster_size, 0); /* the whole cluster is the header's */
	free(buf);
	return rc;
}

/* ---- mapping ---- */

void qcow2_compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *start, uint64_t *len)
{
	unsigned shift = 62 - (q->cluster_bits - 8);
	uint64_t nsect = ((entry >> shift) & ((1ULL << (q->cluster_bits - 8)) - 1)) + 1;
	uint64_t off = entry & ((1ULL << shift) - 1);
	*start = off;
	*len = nsect * 512 - (off & 511);
}

static int l2_table(struct qcow2 *q, uint64_t off, struct qcow2_cache_entry **e, uint64_t *index)
{
	uint64_t l1i = off >> (q->cluster_bits + q->l2_bits);
	*e = NULL;
	*index = (off >> q->cluster_bits) & ((1ULL << q->l2_bits) - 1);
	if (l1i >= q->l1_size) return corrupt(q, "guest offset beyond the L1 table", off);
	uint64_t l2off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	if (!l2off) return 0;
	if (!offset_ok(q, l2off)) return corrupt(q, "L2 table offset out of range", l2off);
	return cache_get(q, &q->l2c, l2off, false, e);
}

int qcow2_l2_entry(struct qcow2 *q, uint64_t off, uint64_t *entry)
{
	struct qcow2_cache_entry *e;
	uint64_t i;
	int rc = l2_table(q, off, &e, &i);
	*entry = rc == 0 && e ? qcow2_be64(e->data + 8 * i) : 0;
	return rc;
}

enum cluster_kind { CL_UNALLOCATED, CL_ZERO, CL_NORMAL, CL_COMPRESSED };

static enum cluster_kind kind_of(const struct qcow2 *q, uint64_t entry)
{
	if (entry & QCOW2_OFLAG_COMPRESSED) return CL_COMPRESSED;
	if ((entry & QCOW2_OFLAG_ZERO) && q->h.version >= 3) return CL_ZERO;
	return (entry & QCOW2_OFFSET_MASK) ? CL_NORMAL : CL_UNALLOCATED;
}

static int check_normal(struct qcow2 *q, uint64_t entry)
{
	uint64_t host = entry & QCOW2_OFFSET_MASK;
	if (!offset_ok(q, host)) return corrupt(q, "data cluster offset out of range", host);
	return 0;
}

/* L2 table for writing at `off`, created or un-shared as needed. */
static int l2_table_for_write(struct qcow2 *q, uint64_t off, struct qcow2_cache_entry **out, uint64_t *index)
{
	uint64_t l1i = off >> (q->cluster_bits + q->l2_bits);
	*index = (off >> q->cluster_bits) & ((1ULL << q->l2_bits) - 1);
	if (l1i >= q->l1_size) return corrupt(q, "guest offset beyond the L1 table", off);
	uint64_t l1e = q->l1[l1i], l2off = l1e & QCOW2_OFFSET_MASK;
	int rc;
	if (l2off && !(l1e & QCOW2_OFLAG_COPIED)) {
		uint64_t ref;
		if (!offset_ok(q, l2off)) return corrupt(q, "L2 table offset out of range", l2off);
		if ((rc = qcow2_get_refcount(q, l2off >> q->cluster_bits, &ref))) return rc;
		if (ref == 1) {
			l1_set(q, (uint32_t)l1i, l2off | QCOW2_OFLAG_COPIED);
		} else { /* shared with a snapshot: copy it */
			int64_t n = alloc_clusters(q, 1);
			if (n < 0) return (int)n;
			struct qcow2_cache_entry *src;
			if ((rc = cache_get(q, &q->l2c, l2off, false, &src))) return rc;
			memcpy(q->cow_buf, src->data, q->cluster_size);
			struct qcow2_cache_entry *dst;
			if ((rc = cache_get(q, &q->l2c, (uint64_t)n, true, &dst))) return rc;
			memcpy(dst->data, q->cow_buf, q->cluster_size);
			dst->dirty = true;
			l1_set(q, (uint32_t)l1i, (uint64_t)n | QCOW2_OFLAG_COPIED);
			if ((rc = queue_free(q, l2off, q->cluster_size))) return rc;
		}
	} else if (!l2off) {
		int64_t n = alloc_clusters(q, 1);
		if (n < 0) return (int)n;
		struct qcow2_cache_entry *e;
		if ((rc = cache_get(q, &q->l2c, (uint64_t)n, true, &e))) return rc;
		e->dirty = true;
		l1_set(q, (uint32_t)l1i, (uint64_t)n | QCOW2_OFLAG_COPIED);
	}
	l2off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	if (!offset_ok(q, l2off)) return corrupt(q, "L2 table offset out of range", l2off);
	return cache_get(q, &q->l2c, l2off, false, out);
}

static int set_l2_entry(struct qcow2 *q, uint64_t off, uint64_t entry)
{
	struct qcow2_cache_entry *e;
	uint64_t i;
	int rc = l2_table_for_write(q, off, &e, &i);
	if (rc) return rc;
	qcow2_put_be64(e->data + 8 * i, entry);
	e->dirty = true;
	return 0;
}

/* Frees what an L2 entry pointed at (after the next write-back). */
static int release_entry(struct qcow2 *q, uint64_t entry)
{
	switch (kind_of(q, entry)) {
	case CL_COMPRESSED: {
		uint64_t start, len;
		qcow2_compressed_range(q, entry, &start, &len);
		return queue_free(q, start, len);
	}
	case CL_NORMAL:
	case CL_ZERO:
		if (entry & QCOW2_OFFSET_MASK)
			return queue_free(q, entry & QCOW2_OFFSET_MASK, q->cluster_size);
		return 0;
	default: return 0;
	}
}

/* ---- reads ---- */

static int read_compressed(struct qcow2 *q, uint64_t entry)
{
	if (q->dbuf_entry == entry) return 0;
	uint64_t start, len;
	qcow2_compressed_range(q, entry, &start, &len);
	if (start >= q->phys_size || len > 2 * q->cluster_size)
		return corrupt(q, "compressed cluster lies past the end of the file", start);
	int rc = fd_io_full(q->b.fd, &(struct iovec){q->zbuf, len}, 1, start, false, true);
	if (rc) return rc;
	z_stream zs = {0};
	if (inflateInit2(&zs, -15) != Z_OK) return -ENOMEM;
	zs.next_in = q->zbuf;
	zs.avail_in = (uInt)len;
	zs.next_out = q->dbuf;
	zs.avail_out = (uInt)q->cluster_size;
	int zr = inflate(&zs, Z_FINISH);
	bool ok = (zr == Z_STREAM_END || zr == Z_BUF_ERROR || zr == Z_OK) && zs.avail_out == 0;
	inflateEnd(&zs);
	if (!ok) return corrupt(q, "compressed cluster does not decompress", start);
	q->dbuf_entry = entry;
	return 0;
}

/* Reads guest bytes [off, off+len) inside one guest cluster whose entry is `entry`. */
static int read_in_cluster(struct qcow2 *q, uint64_t entry, const struct iovec *iov, int iovcnt, uint64_t off,
                           uint64_t len)
{
	struct iovec part[QIOV_MAX];
	int n = iov_slice(iov, iovcnt, 0, len, part, QIOV_MAX);
	if (n < 0) return -EINVAL;
	switch (kind_of(q, entry)) {
	case CL_ZERO: iov_memset(part, n, 0); return 0;
	case CL_COMPRESSED: {
		int rc = read_compressed(q, entry);
		if (rc) return rc;
		uint8_t *src = q->dbuf + (off & (q->cluster_size - 1));
		for (int i = 0; i < n; i++) {
			memcpy(part[i].iov_base, src, part[i].iov_len);
			src += part[i].iov_len;
		}
		return 0;
	}
	case CL_NORMAL: {
		int rc = check_normal(q, entry);
		if (rc) return rc;
		return fd_io_full(q->b.fd, part, n,
		                  (entry & QCOW2_OFFSET_MASK) + (off & (q->cluster_size - 1)), false, true);
	}
	default: {
		struct block_backend *bk = q->b.backing;
		uint64_t from_backing = 0;
		if (bk && off < bk->size) from_backing = bk->size - off < len ? bk->size - off : len;
		if (from_backing) {
			struct iovec bpart[QIOV_MAX];
			int bn = iov_slice(part, n, 0, from_backing, bpart, QIOV_MAX);
			int rc = bk->drv->preadv(bk, bpart, bn, off);
			if (rc) return rc;
		}
		if (from_backing < len) {
			struct iovec zpart[QIOV_MAX];
			int zn = iov_slice(part, n, from_backing, len - from_backing, zpart, QIOV_MAX);
			iov_memset(zpart, zn, 0);
		}
		return 0;
	}
	}
}

static int qcow2_preadv(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct qcow2 *q = qcow2_of(b);
	uint64_t total = 0;
	if (iovcnt > QIOV_MAX) return -EINVAL;
	for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
	pthread_mutex_lock(&q->lock);
	int rc = 0;
	uint64_t done = 0;
	while (done < total && rc == 0) {
		uint64_t pos = off + done, in = pos & (q->cluster_size - 1);
		uint64_t len = q->cluster_size - in;
		if (len > total - done) len = total - done;
		uint64_t entry;
		if ((rc = qcow2_l2_entry(q, pos, &entry))) break;
		/* Contiguous data clusters become one host read. */
		if (kind_of(q, entry) == CL_NORMAL) {
			uint64_t host = entry & QCOW2_OFFSET_MASK;
			while (done + len < total) {
				uint64_t next;
				if (qcow2_l2_entry(q, pos + len, &next) || kind_of(q, next) != CL_NORMAL ||
				    (next & QCOW2_OFFSET_MASK) != host + in + len ||
				    !offset_ok(q, host + in + len))
					break;
				uint64_t more = q->cluster_size < total - done - len ? q->cluster_size
				                                                     : total - done - len;
				len += more;
			}
		}
		struct iovec part[QIOV_MAX];
		int n = iov_slice(iov, iovcnt, done, len, part, QIOV_MAX);
		if (n < 0) {
			rc = -EINVAL;
			break;
		}
		if (kind_of(q, entry) == CL_NORMAL) {
			if ((rc = check_normal(q, entry))) break;
			rc = fd_io_full(q->b.fd, part, n, (entry & QCOW2_OFFSET_MASK) + in, false, true);
		} else {
			rc = read_in_cluster(q, entry, part, n, pos, len);
		}
		done += len;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* ---- writes ---- */

/* Writes guest bytes [off, off+len) (inside one cluster) from iov. */
static int write_in_cluster(struct qcow2 *q, const struct iovec *iov, int iovcnt, uint64_t off, uint64_t len)
{
	uint64_t in = off & (q->cluster_size - 1), cluster_off = off - in;
	uint64_t entry;
	int rc = qcow2_l2_entry(q, off, &entry);
	if (rc) return rc;
	enum cluster_kind k = kind_of(q, entry);
	if (k == CL_NORMAL && (entry & QCOW2_OFLAG_COPIED)) {
		if ((rc = check_normal(q, entry))) return rc;
		uint64_t host = (entry & QCOW2_OFFSET_MASK) + in;
		rc = fd_io_full(q->b.fd, iov, iovcnt, host, true, false);
		if (rc == 0) {
			q->need_sync = true;
			if (host + len > q->phys_size) q->phys_size = host + len;
		}
		return rc;
	}
	if (k == CL_NORMAL) { /* no COPIED flag: in place only if nobody else uses it */
		if ((rc = check_normal(q, entry))) return rc;
		uint64_t ref;
		if ((rc = qcow2_get_refcount(q, (entry & QCOW2_OFFSET_MASK) >> q->cluster_bits, &ref)))
			return rc;
		if (ref == 1) {
			if ((rc = set_l2_entry(q, cluster_off, entry | QCOW2_OFLAG_COPIED))) return rc;
			return write_in_cluster(q, iov, iovcnt, off, len);
		}
	}
	/* A new cluster: the parts of it this write does not cover keep what the guest saw there. */
	int64_t host = alloc_clusters(q, 1);
	if (host < 0) return (int)host;
	bool fresh = (uint64_t)host >= q->phys_size; /* past the end of the file: reads as zeros */
	bool rest_is_zero =
	    k == CL_ZERO || (k == CL_UNALLOCATED && (!q->b.backing || cluster_off >= q->b.backing->size));
	if (len == q->cluster_size || (fresh && rest_is_zero)) {
		rc = fd_io_full(q->b.fd, iov, iovcnt, (uint64_t)host + in, true, false);
	} else {
		if (rest_is_zero) {
			memset(q->cow_buf, 0, q->cluster_size);
		} else {
			struct iovec whole = {q->cow_buf, q->cluster_size};
			if ((rc = read_in_cluster(q, entry, &whole, 1, cluster_off, q->cluster_size)))
				return rc;
		}
		iov_to_buf(iov, iovcnt, q->cow_buf + in);
		rc = fd_io_full(q->b.fd, &(struct iovec){q->cow_buf, q->cluster_size}, 1, (uint64_t)host,
		                true, false);
	}
	if (rc) return rc;
	q->need_sync = true;
	uint64_t end = (uint64_t)host +
	               (len == q->cluster_size || !(fresh && rest_is_zero) ? q->cluster_size : in + len);
	if (end > q->phys_size) q->phys_size = end;
	if ((rc = set_l2_entry(q, cluster_off, (uint64_t)host | QCOW2_OFLAG_COPIED))) return rc;
	return release_entry(q, entry);
}

static int qcow2_pwritev(struct block_backend *b, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct qcow2 *q = qcow2_of(b);
	if (b->readonly) return -EROFS;
	if (iovcnt > QIOV_MAX) return -EINVAL;
	uint64_t total = 0;
	for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
	pthread_mutex_lock(&q->lock);
	int rc = q->corrupt ? -EIO : 0;
	for (uint64_t done = 0; done < total && rc == 0;) {
		uint64_t pos = off + done, in = pos & (q->cluster_size - 1);
		uint64_t len = q->cluster_size - in;
		if (len > total - done) len = total - done;
		struct iovec part[QIOV_MAX];
		int n = iov_slice(iov, iovcnt, done, len, part, QIOV_MAX);
		rc = n < 0 ? -EINVAL : write_in_cluster(q, part, n, pos, len);
		done += len;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Whole clusters of [off, off+len) become zero (`zero`) or are dropped (discard). */
static int clear_clusters(struct qcow2 *q, uint64_t off, uint64_t len, bool zero)
{
	int rc = 0;
	for (uint64_t pos = off; pos < off + len && rc == 0; pos += q->cluster_size) {
		uint64_t entry;
		if ((rc = qcow2_l2_entry(q, pos, &entry))) break;
		enum cluster_kind k = kind_of(q, entry);
		bool backing_shows = q->b.backing && pos < q->b.backing->size;
		uint64_t next;
		if (q->h.version >= 3)
			next = (zero || backing_shows) ? QCOW2_OFLAG_ZERO : 0;
		else if (backing_shows) /* v2 cannot say "zero": keep the data, write zeros if asked */
			next = UINT64_MAX;
		else
			next = 0;
		if (next == UINT64_MAX) {
			if (zero) { /* we hold the lock: write the zero cluster directly */
				uint8_t *z = calloc(1, q->cluster_size);
				rc = z ? write_in_cluster(q, &(struct iovec){z, q->cluster_size}, 1, pos,
				                          q->cluster_size)
				       : -ENOMEM;
				free(z);
			}
			continue;
		}
		if (k == CL_UNALLOCATED && (next == 0 || !backing_shows)) continue; /* already reads right */
		if (k == CL_ZERO && !(entry & QCOW2_OFFSET_MASK)) continue;
		if ((rc = set_l2_entry(q, pos, next))) break;
		rc = release_entry(q, entry);
	}
	return rc;
}

static int zero_or_discard(struct block_backend *b, uint64_t off, uint64_t len, bool zero)
{
	struct qcow2 *q = qcow2_of(b);
	if (b->readonly) return -EROFS;
	uint64_t cs = q->cluster_size, end = off + len;
	uint64_t first = (off + cs - 1) & ~(cs - 1);
	/* The last cluster counts as whole when the range reaches the end of the disk. */
	uint64_t last = end == b->size ? (end + cs - 1) & ~(cs - 1) : end & ~(cs - 1);
	if (first >= last) /* no whole cluster: plain zero bytes (a discard may do nothing) */
		return zero ? block_write_zero_bytes(b, off, len) : 0;
	int rc = 0;
	if (zero && off < first) rc = block_write_zero_bytes(b, off, first - off);
	if (zero && rc == 0 && last < end) rc = block_write_zero_bytes(b, last, end - last);
	if (rc) return rc;
	pthread_mutex_lock(&q->lock);
	rc = q->corrupt ? -EIO : clear_clusters(q, first, last - first, zero);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static int qcow2_discard(struct block_backend *b, uint64_t off, uint64_t len)
{
	return zero_or_discard(b, off, len, false);
}

static int qcow2_write_zeroes(struct block_backend *b, uint64_t off, uint64_t len)
{
	return zero_or_discard(b, off, len, true);
}

static int qcow2_flush(struct block_backend *b)
{
	struct qcow2 *q = qcow2_of(b);
	if (b->readonly) return 0;
	pthread_mutex_lock(&q->lock);
	int rc = qcow2_writeback(q, true);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static int qcow2_block_status(struct block_backend *b, uint64_t off, uint64_t len, uint64_t *pnum)
{
	struct qcow2 *q = qcow2_of(b);
	pthread_mutex_lock(&q->lock);
	uint64_t entry;
	int rc = qcow2_l2_entry(q, off, &entry);
	int st = 0;
	if (rc == 0) {
		enum cluster_kind k = kind_of(q, entry);
		st = k == CL_UNALLOCATED ? 0
		     : k == CL_ZERO      ? BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO
		                         : BLOCK_STATUS_ALLOCATED;
		uint64_t n = q->cluster_size - (off & (q->cluster_size - 1));
		while (n < len) {
			uint64_t next;
			if (qcow2_l2_entry(q, off + n, &next)) break;
			enum cluster_kind nk = kind_of(q, next);
			int nst = nk == CL_UNALLOCATED ? 0
			          : nk == CL_ZERO      ? BLOCK_STATUS_ALLOCATED | BLOCK_STATUS_ZERO
			                               : BLOCK_STATUS_ALLOCATED;
			if (nst != st) break;
			n += q->cluster_size;
		}
		*pnum = n < len ? n : len;
	}
	pthread_mutex_unlock(&q->lock);
	return rc ? rc : st;
}

static int qcow2_resize(struct block_backend *b, uint64_t new_size)
{
	struct qcow2 *q = qcow2_of(b);
	if (new_size < b->size) return -ENOTSUP;
	if (new_size % 512 || new_size > QCOW2_MAX_SIZE) return -EINVAL;
	pthread_mutex_lock(&q->lock);
	int rc = 0;
	uint64_t need = qcow2_l1_entries_for(new_size, q->cluster_bits);
	if (need * 8 > QCOW2_MAX_L1_BYTES) rc = -EFBIG;
	if (rc == 0 && need > q->l1_size) {
		/* A bigger L1 table at the end of the file, then the header points at it. */
		uint64_t bytes = (need * 8 + q->cluster_size - 1) & ~(q->cluster_size - 1);
		uint64_t *l1 = calloc(bytes / 8, 8);
		uint8_t *disk = calloc(1, bytes);
		if (!l1 || !disk) rc = -ENOMEM;
		int64_t off = rc ? 0 : alloc_clusters(q, bytes >> q->cluster_bits);
		if (off < 0) rc = (int)off;
		if (rc == 0)
			rc = qcow2_writeback(q, false); /* entries in the old table reach the disk first */
		if (rc == 0) {
			memcpy(l1, q->l1, (size_t)q->l1_size * 8);
			for (uint64_t i = 0; i < need; i++) qcow2_put_be64(disk + 8 * i, l1[i]);
			rc = qcow2_file_write(q, disk, bytes, (uint64_t)off);
		}
		if (rc == 0) rc = qcow2_writeback(q, true);
		uint64_t old_off = q->h.l1_table_offset,
		         old_bytes =
		             ((uint64_t)q->l1_size * 8 + q->cluster_size - 1) & ~(q->cluster_size - 1);
		if (rc == 0) {
			free(q->l1);
			q->l1 = l1;
			l1 = NULL;
			q->l1_size = (uint32_t)need;
			q->h.l1_size = (uint32_t)need;
			q->h.l1_table_offset = (uint64_t)off;
			q->h.size = new_size;
			rc = qcow2_write_header(q);
			if (rc == 0) rc = sync_file(q);
			if (rc == 0 && old_off && old_bytes) rc = queue_free(q, old_off, old_bytes);
		}
		free(l1);
		free(disk);
	}
	if (rc == 0) {
		q->h.size = new_size;
		rc = qcow2_write_header(q);
		if (rc == 0) rc = qcow2_writeback(q, true);
		if (rc == 0) b->size = new_size;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static void qcow2_close(struct block_backend *b)
{
	struct qcow2 *q = qcow2_of(b);
	if (!b->readonly && !q->corrupt) {
		int rc = qcow2_writeback(q, true);
		if (rc) log_error("qcow2 '%s': writing metadata back failed: %s", b->path, strerror(-rc));
	}
	cache_free(&q->l2c);
	cache_free(&q->rbc);
	free(q->l1);
	free(q->reftable);
	free(q->pending_free);
	free(q->cow_buf);
	free(q->zbuf);
	free(q->dbuf);
	pthread_mutex_destroy(&q->lock);
	close(b->fd);
	free(q);
}

static const struct block_driver qcow2_driver = {
    .name = "qcow2",
    .preadv = qcow2_preadv,
    .pwritev = qcow2_pwritev,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .write_zeroes = qcow2_write_zeroes,
    .block_status = qcow2_block_status,
    .resize = qcow2_resize,
    .close = qcow2_close,
};

bool qcow2_is_backend(const struct block_backend *b)
{
	return b && b->drv == &qcow2_driver;
}

/* ---- open ---- */

static int load_table(struct qcow2 *q, uint64_t off, uint64_t entries, uint64_t **out)
{
	uint64_t *t = calloc(entries ? entries : 1, 8);
	uint8_t *raw = malloc(entries ? entries * 8 : 1);
	int rc = (!t || !raw) ? -ENOMEM : entries ? qcow2_file_read(q, raw, entries * 8, off) : 0;
	for (uint64_t i = 0; rc == 0 && i < entries; i++) t[i] = qcow2_be64(raw + 8 * i);
	free(raw);
	if (rc) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static void resolve_backing(const char *image, const char *name, char *out, size_t outlen)
{
	if (name[0] == '/') {
		snprintf(out, outlen, "%s", name);
		return;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", image);
	snprintf(out, outlen, "%s/%s", dirname(dir), name);
}

#define OPEN_FAIL(...)                                                                                       \
	do {                                                                                                 \
		snprintf(errmsg, errlen, __VA_ARGS__);                                                       \
		goto fail;                                                                                   \
	} while (0)

struct block_backend *qcow2_open_fd(int fd, const char *path, unsigned flags, bool format_given, char *errmsg,
                                    size_t errlen)
{
	bool readonly = flags & BLOCK_OPEN_READONLY;
	struct qcow2 *q = calloc(1, sizeof(*q));
	uint8_t *hdr = NULL;
	struct stat st;
	if (!q) {
		close(fd);
		snprintf(errmsg, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	q->b.fd = fd;
	q->b.readonly = readonly;
	q->b.drv = &qcow2_driver;
	snprintf(q->b.path, sizeof(q->b.path), "%s", path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) OPEN_FAIL("qcow2 image '%s' is not a regular file", path);
	uint64_t file_size = (uint64_t)st.st_size;
	size_t hlen = file_size < (2u << 20) ? (size_t)file_size : (2u << 20);
	hdr = malloc(hlen ? hlen : 1);
	if (!hdr) OPEN_FAIL("out of memory");
	if (qcow2_file_read(q, hdr, hlen, 0)) OPEN_FAIL("cannot read '%s'", path);
	char why[256];
	if (qcow2_header_parse(hdr, hlen, file_size, &q->h, why, sizeof(why)))
		OPEN_FAIL("disk '%s': %s", path, why);
	free(hdr);
	hdr = NULL;
	struct qcow2_header *h = &q->h;
	bool for_check = flags & QCOW2_OPEN_FOR_CHECK;
	if (!readonly && !for_check) {
		if (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT)
			OPEN_FAIL("disk '%s' is marked corrupt: repair it with `cloison disk check -r all` "
			          "or open it readonly=on",
			          path);
		if (h->incompatible_features & QCOW2_INCOMPAT_DIRTY)
			OPEN_FAIL("disk '%s' was not closed cleanly (lazy refcounts): repair it with "
			          "`cloison disk check -r all`",
			          path);
		if (h->nb_snapshots)
			OPEN_FAIL("disk '%s' holds %u internal snapshots: cloison opens such images only "
			          "readonly=on",
			          path, h->nb_snapshots);
	}
	q->cluster_bits = h->cluster_bits;
	q->cluster_size = 1ULL << h->cluster_bits;
	q->l2_bits = h->cluster_bits - 3;
	q->rb_bits = h->cluster_bits + 3 - h->refcount_order;
	q->refcount_max = h->refcount_order == 6 ? UINT64_MAX : (1ULL << (1u << h->refcount_order)) - 1;
	q->b.size = h->size;
	q->phys_size = file_size;
	q->file_end = (file_size + q->cluster_size - 1) & ~(q->cluster_size - 1);
	q->free_hint = 0;
	q->l1_size = h->l1_size;
	q->reftable_entries = ((uint64_t)h->refcount_table_clusters << h->cluster_bits) / 8;
	if (load_table(q, h->l1_table_offset, q->l1_size, &q->l1) ||
	    load_table(q, h->refcount_table_offset, q->reftable_entries, &q->reftable))
		OPEN_FAIL("disk '%s': cannot read its tables", path);
	/* Consistency on open: every table pointer must be a plausible cluster of this file. */
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t e = q->l1[i], off = e & QCOW2_OFFSET_MASK;
		if ((e & QCOW2_L1_RESERVED) || (off && !offset_ok(q, off)))
			OPEN_FAIL("disk '%s': L1 entry %u (0x%llx) is invalid; the image is corrupt", path, i,
			          (unsigned long long)e);
	}
	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t off = q->reftable[i];
		if (off && !offset_ok(q, off))
			OPEN_FAIL(
			    "disk '%s': refcount table entry %llu (0x%llx) is invalid; the image is corrupt",
			    path, (unsigned long long)i, (unsigned long long)off);
	}
	unsigned l2_slots = (unsigned)((32u << 20) >> q->cluster_bits);
	if (l2_slots > 256) l2_slots = 256;
	if (l2_slots < 4) l2_slots = 4;
	unsigned rb_slots = (unsigned)((4u << 20) >> q->cluster_bits);
	if (rb_slots > 64) rb_slots = 64;
	if (rb_slots < 4) rb_slots = 4;
	q->cow_buf = malloc(q->cluster_size);
	q->zbuf = malloc(2 * q->cluster_size);
	q->dbuf = malloc(q->cluster_size);
	if (!q->cow_buf || !q->zbuf || !q->dbuf || cache_init(&q->l2c, l2_slots, q->cluster_size, "L2") ||
	    cache_init(&q->rbc, rb_slots, q->cluster_size, "refcount"))
		OPEN_FAIL("out of memory");
	if (h->backing_file[0] && !(flags & BLOCK_OPEN_NO_BACKING)) {
		if (!format_given)
			OPEN_FAIL("disk '%s' names a backing file '%s': give its format (format=qcow2) to "
			          "allow opening it",
			          path, h->backing_file);
		if (!h->backing_format[0])
			OPEN_FAIL("disk '%s' names a backing file '%s' without its format; record it with "
			          "`cloison disk rebase -u -b %s -F raw|qcow2 %s`",
			          path, h->backing_file, h->backing_file, path);
		if (strcmp(h->backing_format, "raw") && strcmp(h->backing_format, "qcow2"))
			OPEN_FAIL("disk '%s': backing format '%s' is not supported", path, h->backing_format);
		if (backing_depth >= MAX_BACKING_DEPTH)
			OPEN_FAIL("disk '%s': backing chain longer than %d (a loop?)", path,
			          MAX_BACKING_DEPTH);
		char bpath[4096];
		resolve_backing(path, h->backing_file, bpath, sizeof(bpath));
		backing_depth++;
		q->b.backing =
		    block_open(bpath, h->backing_format, BLOCK_OPEN_READONLY | (flags & BLOCK_OPEN_NO_LOCK),
		               why, sizeof(why));
		backing_depth--;
		if (!q->b.backing) OPEN_FAIL("disk '%s': backing file: %s", path, why);
	}
	if (!readonly && h->autoclear_features) {
		/* We do not maintain what the autoclear bits describe (bitmaps): the spec says clear them. */
		h->autoclear_features = 0;
		if (qcow2_write_header(q) || sync_file(q))
			OPEN_FAIL("disk '%s': cannot update the header", path);
	}
	return &q->b;
fail:
	free(hdr);
	if (q->b.backing) block_close(q->b.backing);
	q->b.backing = NULL;
	q->b.readonly = true; /* nothing to write back */
	q->corrupt = true;
	qcow2_close(&q->b);
	return NULL;
}
