/*
 * qcow2_check.c — consistency check and repair of a qcow2 image: counts
 * every reference the tables hold (header, L1/L2 tables, data and
 * compressed clusters, refcount structures, snapshots) and compares the
 * counts with the refcounts the image records. A refcount below its count
 * is corruption (a cluster could be handed out twice); above is a leak.
 */
#include "qcow2.h"
#include "qcow2_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct checker {
	struct qcow2 *q;
	uint32_t *counts;
	uint64_t nclusters;
	struct qcow2_check_result *r;
	void (*log)(void *ctx, const char *line);
	void *ctx;
	uint8_t *table; /* one cluster */
};

static void note(struct checker *c, const char *fmt, ...)
{
	if (!c->log) return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->log(c->ctx, line);
}

/* Counts one reference to every cluster in [off, off+len). */
static void ref_range(struct checker *c, uint64_t off, uint64_t len, const char *what)
{
	if (len == 0) return;
	uint64_t first = off >> c->q->cluster_bits, last = (off + len - 1) >> c->q->cluster_bits;
	for (uint64_t i = first; i <= last; i++) {
		if (i >= c->nclusters) {
			note(c, "ERROR %s at 0x%llx lies past the end of the image", what,
			     (unsigned long long)(i << c->q->cluster_bits));
			c->r->check_errors++;
			return;
		}
		if (c->counts[i] < UINT32_MAX) c->counts[i]++;
	}
}

static bool aligned(struct checker *c, uint64_t off, const char *what)
{
	if (off & (c->q->cluster_size - 1)) {
		note(c, "ERROR %s offset 0x%llx is not cluster-aligned", what, (unsigned long long)off);
		c->r->corruptions++;
		return false;
	}
	return true;
}

/* References of one L1 table (the active one or a snapshot's) and everything below it. */
static int walk_l1(struct checker *c, uint64_t l1_off, uint32_t l1_size, bool active)
{
	struct qcow2 *q = c->q;
	ref_range(c, l1_off, (uint64_t)l1_size * 8, "L1 table");
	uint8_t *l1 = malloc((size_t)l1_size * 8 + 1);
	if (!l1) return -ENOMEM;
	if (l1_size && qcow2_file_read(q, l1, (size_t)l1_size * 8, l1_off)) {
		note(c, "ERROR cannot read L1 table at 0x%llx", (unsigned long long)l1_off);
		c->r->check_errors++;
		free(l1);
		return 0;
	}
	for (uint32_t i = 0; i < l1_size; i++) {
		uint64_t l2off = qcow2_be64(l1 + 8 * i) & QCOW2_OFFSET_MASK;
		if (!l2off || !aligned(c, l2off, "L2 table")) continue;
		ref_range(c, l2off, q->cluster_size, "L2 table");
		if (l2off + q->cluster_size > q->phys_size ||
		    qcow2_file_read(q, c->table, q->cluster_size, l2off)) {
			c->r->check_errors++;
			continue;
		}
		for (uint64_t j = 0; j < (1ULL << q->l2_bits); j++) {
			uint64_t e = qcow2_be64(c->table + 8 * j);
			uint64_t guest = (((uint64_t)i << q->l2_bits) + j) << q->cluster_bits;
			if (e & QCOW2_OFLAG_COMPRESSED) {
				uint64_t start, len;
				qcow2_compressed_range(q, e, &start, &len);
				ref_range(c, start, len, "compressed cluster");
				if (active && guest < q->h.size) c->r->allocated_clusters++;
				continue;
			}
			uint64_t data = e & QCOW2_OFFSET_MASK;
			if (active && guest < q->h.size && (data || ((e & 1) && q->h.version >= 3)))
				c->r->allocated_clusters++;
			if (!data || !aligned(c, data, "data cluster")) continue;
			ref_range(c, data, q->cluster_size, "data cluster");
		}
	}
	free(l1);
	return 0;
}

static int walk_snapshots(struct checker *c)
{
	struct qcow2 *q = c->q;
	uint64_t off = q->h.snapshots_offset, start = off;
	for (uint32_t s = 0; s < q->h.nb_snapshots; s++) {
		uint8_t fixed[40];
		if (qcow2_file_read(q, fixed, sizeof(fixed), off)) {
			note(c, "ERROR cannot read snapshot %u", s);
			c->r->check_errors++;
			return 0;
		}
		uint64_t l1_off = qcow2_be64(fixed);
		uint32_t l1_size = qcow2_be32(fixed + 8);
		uint16_t id_len = qcow2_be16(fixed + 12), name_len = qcow2_be16(fixed + 14);
		uint32_t extra = qcow2_be32(fixed + 36);
		if ((uint64_t)l1_size * 8 > QCOW2_MAX_L1_BYTES || !aligned(c, l1_off, "snapshot L1 table")) {
			c->r->corruptions++;
			return 0;
		}
		walk_l1(c, l1_off, l1_size, false);
		off += 40 + extra + id_len + name_len;
		off = (off + 7) & ~7ULL;
	}
	ref_range(c, start, off - start, "snapshot table");
	return 0;
}

static int count_references(struct checker *c)
{
	struct qcow2 *q = c->q;
	memset(c->counts, 0, c->nclusters * sizeof(*c->counts));
	ref_range(c, 0, q->cluster_size, "header");
	int rc = walk_l1(c, q->h.l1_table_offset, q->l1_size, true);
	if (rc) return rc;
	if (q->h.nb_snapshots && (rc = walk_snapshots(c))) return rc;
	ref_range(c, q->h.refcount_table_offset, (uint64_t)q->h.refcount_table_clusters << q->cluster_bits,
	          "refcount table");
	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t off = q->reftable[i];
		if (off && aligned(c, off, "refcount block"))
			ref_range(c, off, q->cluster_size, "refcount block");
	}
	return 0;
}

/* Compares recorded refcounts with the counts; repairs when allowed. */
static int compare(struct checker *c, unsigned repair)
{
	struct qcow2 *q = c->q;
	uint64_t covered = q->reftable_entries << q->rb_bits;
	uint64_t n = c->nclusters > covered ? c->nclusters : covered;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t have, want = i < c->nclusters ? c->counts[i] : 0;
		if (i >= c->nclusters && (i >> q->rb_bits) < q->reftable_entries &&
		    !q->reftable[i >> q->rb_bits]) {
			i = (((i >> q->rb_bits) + 1) << q->rb_bits) - 1; /* no block: all zero */
			continue;
		}
		int rc = qcow2_get_refcount(q, i, &have);
		if (rc) {
			c->r->check_errors++;
			continue;
		}
		if (have == want) continue;
		bool leak = have > want;
		note(c, "%s cluster %llu refcount=%llu reference=%llu", leak ? "Leaked" : "ERROR",
		     (unsigned long long)i, (unsigned long long)have, (unsigned long long)want);
		if (leak)
			c->r->leaks++;
		else
			c->r->corruptions++;
		if ((leak && (repair & QCOW2_REPAIR_LEAKS)) || (!leak && (repair & QCOW2_REPAIR_ERRORS))) {
			if (want > q->refcount_max) continue;
			rc = qcow2_set_refcount(q, i, want);
			if (rc) return rc;
			if (leak)
				c->r->leaks_fixed++;
			else
				c->r->corruptions_fixed++;
		}
	}
	return 0;
}

/* The COPIED flag must be set exactly when the refcount is 1 (active tables only). */
static int check_copied(struct checker *c, unsigned repair)
{
	struct qcow2 *q = c->q;
	bool fix = repair & QCOW2_REPAIR_ERRORS;
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l1e = q->l1[i], l2off = l1e & QCOW2_OFFSET_MASK, ref;
		if (!l2off || (l2off & (q->cluster_size - 1)) || l2off + q->cluster_size > q->phys_size)
			continue;
		if (qcow2_get_refcount(q, l2off >> q->cluster_bits, &ref)) continue;
		if ((ref == 1) != !!(l1e & QCOW2_OFLAG_COPIED)) {
			note(c, "ERROR OFLAG_COPIED L2 cluster: l1_index=%u refcount=%llu", i,
			     (unsigned long long)ref);
			c->r->corruptions++;
			if (fix) {
				q->l1[i] = ref == 1 ? l1e | QCOW2_OFLAG_COPIED : l1e & ~QCOW2_OFLAG_COPIED;
				uint8_t be[8];
				qcow2_put_be64(be, q->l1[i]);
				if (qcow2_file_write(q, be, 8, q->h.l1_table_offset + 8ULL * i) == 0)
					c->r->corruptions_fixed++;
			}
		}
		if (qcow2_file_read(q, c->table, q->cluster_size, l2off)) continue;
		bool dirty = false;
		for (uint64_t j = 0; j < (1ULL << q->l2_bits); j++) {
			uint64_t e = qcow2_be64(c->table + 8 * j), data = e & QCOW2_OFFSET_MASK;
			if ((e & QCOW2_OFLAG_COMPRESSED) || !data || (data & (q->cluster_size - 1))) continue;
			if (qcow2_get_refcount(q, data >> q->cluster_bits, &ref)) continue;
			if ((ref == 1) != !!(e & QCOW2_OFLAG_COPIED)) {
				note(c, "ERROR OFLAG_COPIED data cluster: l2_entry=%llx refcount=%llu",
				     (unsigned long long)e, (unsigned long long)ref);
				c->r->corruptions++;
				if (fix) {
					qcow2_put_be64(c->table + 8 * j, ref == 1 ? e | QCOW2_OFLAG_COPIED
					                                          : e & ~QCOW2_OFLAG_COPIED);
					dirty = true;
					c->r->corruptions_fixed++;
				}
			}
		}
		if (dirty && qcow2_file_write(q, c->table, q->cluster_size, l2off)) return -EIO;
	}
	return 0;
}

static int check_once(struct checker *c, unsigned repair)
{
	struct qcow2 *q = c->q;
	uint64_t end = q->phys_size > q->file_end ? q->phys_size : q->file_end;
	c->nclusters = (end + q->cluster_size - 1) >> q->cluster_bits;
	free(c->counts);
	c->counts = calloc(c->nclusters ? c->nclusters : 1, sizeof(*c->counts));
	if (!c->counts) return -ENOMEM;
	uint64_t cs = q->cluster_size;
	c->r->total_clusters = (q->h.size + cs - 1) / cs;
	int rc = count_references(c);
	if (rc == 0) rc = compare(c, repair);
	if (rc == 0 && q->h.nb_snapshots == 0) rc = check_copied(c, repair);
	if (rc == 0 && repair) rc = qcow2_writeback(q, true);
	c->r->image_end_offset = q->phys_size;
	return rc;
}

int qcow2_check(struct block_backend *b, unsigned repair, struct qcow2_check_result *r,
                struct qcow2_check_result *after, void (*log)(void *ctx, const char *line), void *ctx)
{
	if (!qcow2_is_backend(b)) return -EINVAL;
	struct qcow2 *q = qcow2_of(b);
	if (b->readonly) repair = 0;
	memset(r, 0, sizeof(*r));
	struct checker c = {.q = q, .r = r, .log = log, .ctx = ctx, .table = malloc(q->cluster_size)};
	if (!c.table) return -ENOMEM;
	pthread_mutex_lock(&q->lock);
	bool saved_append = q->append_only;
	q->append_only = true; /* refcounts are suspect: new blocks go past everything */
	int rc = check_once(&c, repair);
	if (rc == 0 && repair &&
	    (r->corruptions_fixed || r->leaks_fixed ||
	     (q->h.incompatible_features & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)))) {
		if (r->corruptions == r->corruptions_fixed)
			q->h.incompatible_features &= ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT);
		rc = qcow2_write_header(q);
		if (rc == 0 && fdatasync(b->fd)) rc = -errno;
	}
	if (rc == 0 && after) {
		memset(after, 0, sizeof(*after));
		c.r = after;
		c.log = NULL;
		rc = check_once(&c, 0);
	}
	q->append_only = saved_append;
	if (!repair) q->corrupt = false; /* a read-only check leaves nothing to protect */
	pthread_mutex_unlock(&q->lock);
	free(c.counts);
	free(c.table);
	return rc;
}
