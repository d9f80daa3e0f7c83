/*
 * qcow2_create.c — new qcow2 images (QEMU's default layout: header,
 * refcount table, first refcount block, L1 table) and header edits.
 */
#define _GNU_SOURCE
#include "qcow2.h"
#include "qcow2_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *errmsg, size_t errlen)
{
	struct qcow2_header h = {0};
	h.version = o->version ? o->version : 3;
	h.cluster_bits = o->cluster_bits ? o->cluster_bits : 16;
	h.refcount_order = o->version == 2 ? 4 : (o->refcount_order ? o->refcount_order : 4);
	h.size = (o->size + 511) & ~511ULL;
	if (h.version != 2 && h.version != 3) {
		snprintf(errmsg, errlen, "qcow2 version must be 2 or 3");
		return -EINVAL;
	}
	if (h.cluster_bits < QCOW2_MIN_CLUSTER_BITS || h.cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
		snprintf(errmsg, errlen, "cluster size must be a power of two from 512 B to 2 MiB");
		return -EINVAL;
	}
	if (h.refcount_order > 6) {
		snprintf(errmsg, errlen, "refcount bits must be a power of two up to 64");
		return -EINVAL;
	}
	if (h.size > QCOW2_MAX_SIZE) {
		snprintf(errmsg, errlen, "size is too large for qcow2");
		return -EINVAL;
	}
	if (o->backing) {
		if (strlen(o->backing) > QCOW2_MAX_BACKING_NAME || !o->backing_format ||
		    strlen(o->backing_format) >= sizeof(h.backing_format)) {
			snprintf(errmsg, errlen, "backing file name too long or its format missing");
			return -EINVAL;
		}
		snprintf(h.backing_file, sizeof(h.backing_file), "%s", o->backing);
		snprintf(h.backing_format, sizeof(h.backing_format), "%s", o->backing_format);
	}
	uint64_t cs = 1ULL << h.cluster_bits;
	uint64_t l1_entries = qcow2_l1_entries_for(h.size, h.cluster_bits);
	if (l1_entries * 8 > QCOW2_MAX_L1_BYTES) {
		snprintf(errmsg, errlen, "size is too large for %llu-byte clusters", (unsigned long long)cs);
		return -EINVAL;
	}
	uint64_t l1_clusters = (l1_entries * 8 + cs - 1) / cs;
	h.l1_size = (uint32_t)l1_entries;
	h.refcount_table_offset = cs;
	h.refcount_table_clusters = 1;
	h.l1_table_offset = l1_entries ? 3 * cs : 0;
	uint64_t used = 3 + l1_clusters; /* header, refcount table, refcount block, L1 */
	uint64_t per_block = (cs * 8) >> h.refcount_order;

	uint8_t *buf = calloc(1, cs);
	if (!buf) return -ENOMEM;
	int n = qcow2_header_build(&h, buf, cs);
	if (n < 0) {
		free(buf);
		snprintf(errmsg, errlen, "the header does not fit in one %llu-byte cluster",
		         (unsigned long long)cs);
		return -EINVAL;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		free(buf);
		snprintf(errmsg, errlen, "cannot create '%s': %s", path, strerror(e));
		return -e;
	}
	int rc = write_all(fd, buf, cs, 0);
	/* refcount table: one entry, the block at cluster 2 */
	memset(buf, 0, cs);
	qcow2_put_be64(buf, 2 * cs);
	if (rc == 0) rc = write_all(fd, buf, cs, cs);
	/* refcount block: 1 for every cluster used so far that it covers */
	memset(buf, 0, cs);
	for (uint64_t i = 0; i < used && i < per_block; i++) {
		switch (h.refcount_order) {
		case 0: buf[i / 8] |= (uint8_t)(1u << (i % 8)); break;
		case 1: buf[i / 4] |= (uint8_t)(1u << (2 * (i % 4))); break;
		case 2: buf[i / 2] |= (uint8_t)(1u << (4 * (i % 2))); break;
		case 3: buf[i] = 1; break;
		case 4: qcow2_put_be16(buf + 2 * i, 1); break;
		case 5: qcow2_put_be32(buf + 4 * i, 1); break;
		default: qcow2_put_be64(buf + 8 * i, 1); break;
		}
	}
	if (rc == 0) rc = write_all(fd, buf, cs, 2 * cs);
	if (rc == 0 && ftruncate(fd, (off_t)(used * cs))) rc = -errno; /* the L1 table: zeros */
	free(buf);
	if (rc == 0 && fsync(fd)) rc = -errno;
	close(fd);
	if (rc == 0 && used > per_block) {
		/* Tiny clusters: the first block cannot count the whole L1 table; the allocator adds blocks.
		 */
		struct block_backend *b = block_open(path, "qcow2", BLOCK_OPEN_NO_BACKING, errmsg, errlen);
		if (!b) {
			unlink(path);
			return -EIO;
		}
		struct qcow2 *q = qcow2_of(b);
		q->append_only = true;
		for (uint64_t i = per_block; i < used && rc == 0; i++) rc = qcow2_set_refcount(q, i, 1);
		if (rc == 0) rc = qcow2_writeback(q, true);
		block_close(b);
	}
	if (rc) {
		snprintf(errmsg, errlen, "cannot write '%s': %s", path, strerror(-rc));
		unlink(path);
	}
	return rc;
}

const struct qcow2_header *qcow2_header_of(struct block_backend *b)
{
	return qcow2_is_backend(b) ? &qcow2_of(b)->h : NULL;
}

int qcow2_set_backing(struct block_backend *b, const char *name, const char *format)
{
	if (!qcow2_is_backend(b)) return -EINVAL;
	struct qcow2 *q = qcow2_of(b);
	if (b->readonly) return -EROFS;
	if (name && (strlen(name) > QCOW2_MAX_BACKING_NAME || !format ||
	             strlen(format) >= sizeof(q->h.backing_format)))
		return -EINVAL;
	struct qcow2_header saved = q->h;
	snprintf(q->h.backing_file, sizeof(q->h.backing_file), "%s", name ? name : "");
	snprintf(q->h.backing_format, sizeof(q->h.backing_format), "%s", name ? format : "");
	int rc = qcow2_writeback(q, true);
	if (rc == 0) rc = qcow2_write_header(q);
	if (rc == 0 && fdatasync(b->fd)) rc = -errno;
	if (rc) q->h = saved;
	return rc;
}
