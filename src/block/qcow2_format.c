/*
 * qcow2_format.c — parsing and building the qcow2 header cluster. The
 * parser trusts nothing: every field is range-checked before anyone uses
 * it to size an allocation or seek into the file.
 */
#include "qcow2_format.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FAIL(code, ...)                                                                                      \
	do {                                                                                                 \
		snprintf(errmsg, errlen, __VA_ARGS__);                                                       \
		return (code);                                                                               \
	} while (0)

uint64_t qcow2_l1_entries_for(uint64_t size, unsigned cluster_bits)
{
	unsigned l2_bits = cluster_bits - 3;
	uint64_t per_l1 = 1ULL << (cluster_bits + l2_bits);
	return (size + per_l1 - 1) / per_l1;
}

static int parse_extensions(const uint8_t *buf, size_t len, size_t off, size_t end, struct qcow2_header *h,
                            char *errmsg, size_t errlen)
{
	while (off + 8 <= end) {
		uint32_t type = qcow2_be32(buf + off), elen = qcow2_be32(buf + off + 4);
		off += 8;
		if (type == QCOW2_EXT_END) return 0;
		if (elen > end - off) FAIL(-EINVAL, "header extension 0x%08x runs past the header", type);
		const uint8_t *data = buf + off;
		switch (type) {
		case QCOW2_EXT_BACKING_FORMAT:
			if (elen == 0 || elen >= sizeof(h->backing_format))
				FAIL(-EINVAL, "backing format name of %u bytes", elen);
			memcpy(h->backing_format, data, elen);
			h->backing_format[elen] = 0;
			if (strlen(h->backing_format) != elen)
				FAIL(-EINVAL, "backing format name holds a NUL byte");
			break;
		case QCOW2_EXT_BITMAPS: h->has_bitmaps_ext = true; break;
		case QCOW2_EXT_CRYPTO: FAIL(-ENOTSUP, "encrypted images are not supported");
		case QCOW2_EXT_DATA_FILE:
			FAIL(-ENOTSUP, "images with an external data file are not supported");
		default: break; /* feature names and unknown extensions: ignored, as the spec allows */
		}
		off += (elen + 7u) & ~7u;
	}
	(void)len;
	return 0;
}

int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qcow2_header *h,
                       char *errmsg, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (len < QCOW2_V2_HEADER_LEN || qcow2_be32(buf) != QCOW2_MAGIC)
		FAIL(-EINVAL, "not a qcow2 image (no QFI\\xfb magic)");
	h->version = qcow2_be32(buf + 4);
	h->backing_file_offset = qcow2_be64(buf + 8);
	h->backing_file_size = qcow2_be32(buf + 16);
	h->cluster_bits = qcow2_be32(buf + 20);
	h->size = qcow2_be64(buf + 24);
	h->crypt_method = qcow2_be32(buf + 32);
	h->l1_size = qcow2_be32(buf + 36);
	h->l1_table_offset = qcow2_be64(buf + 40);
	h->refcount_table_offset = qcow2_be64(buf + 48);
	h->refcount_table_clusters = qcow2_be32(buf + 56);
	h->nb_snapshots = qcow2_be32(buf + 60);
	h->snapshots_offset = qcow2_be64(buf + 64);
	if (h->version != 2 && h->version != 3)
		FAIL(-ENOTSUP, "qcow2 version %u is not supported", h->version);
	if (h->version == 2) {
		h->refcount_order = 4;
		h->header_length = QCOW2_V2_HEADER_LEN;
	} else {
		if (len < QCOW2_V3_HEADER_LEN) FAIL(-EINVAL, "truncated version 3 header");
		h->incompatible_features = qcow2_be64(buf + 72);
		h->compatible_features = qcow2_be64(buf + 80);
		h->autoclear_features = qcow2_be64(buf + 88);
		h->refcount_order = qcow2_be32(buf + 96);
		h->header_length = qcow2_be32(buf + 100);
		if (h->header_length < QCOW2_V3_HEADER_LEN || h->header_length % 8 != 0 ||
		    h->header_length > len)
			FAIL(-EINVAL, "bad header length %u", h->header_length);
		if (h->header_length > 104) h->compression_type = buf[104];
	}
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		FAIL(-EINVAL, "cluster size 2^%u is out of range (512 B to 2 MiB)", h->cluster_bits);
	uint64_t cs = 1ULL << h->cluster_bits;
	if (h->header_length > cs || h->header_length > len)
		FAIL(-EINVAL, "header does not fit in its cluster");
	if (h->crypt_method) FAIL(-ENOTSUP, "encrypted images are not supported");
	uint64_t unknown = h->incompatible_features & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT);
	if (unknown & QCOW2_INCOMPAT_DATA_FILE)
		FAIL(-ENOTSUP, "images with an external data file are not supported");
	if (unknown & QCOW2_INCOMPAT_COMPRESSION) FAIL(-ENOTSUP, "only zlib compression is supported");
	if (unknown & QCOW2_INCOMPAT_EXTL2) FAIL(-ENOTSUP, "extended L2 entries are not supported");
	if (unknown) FAIL(-ENOTSUP, "unknown incompatible features 0x%llx", (unsigned long long)unknown);
	if (h->refcount_order > 6) FAIL(-EINVAL, "refcount order %u is out of range", h->refcount_order);
	if (h->size > QCOW2_MAX_SIZE || h->size % 512)
		FAIL(-EINVAL, "virtual size %llu is not a multiple of 512 below 2^56",
		     (unsigned long long)h->size);
	if (qcow2_l1_entries_for(h->size, h->cluster_bits) > h->l1_size)
		FAIL(-EINVAL, "L1 table of %u entries cannot map %llu bytes", h->l1_size,
		     (unsigned long long)h->size);
	if ((uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		FAIL(-EINVAL, "L1 table of %u entries is too large", h->l1_size);
	if (h->l1_table_offset % cs || (h->l1_size && h->l1_table_offset == 0))
		FAIL(-EINVAL, "L1 table offset 0x%llx is not cluster-aligned",
		     (unsigned long long)h->l1_table_offset);
	if (h->l1_size &&
	    (h->l1_table_offset > file_size || (uint64_t)h->l1_size * 8 > file_size - h->l1_table_offset))
		FAIL(-EINVAL, "L1 table lies past the end of the file");
	if (h->refcount_table_offset % cs || h->refcount_table_offset == 0)
		FAIL(-EINVAL, "refcount table offset 0x%llx is not cluster-aligned or zero",
		     (unsigned long long)h->refcount_table_offset);
	if (h->refcount_table_clusters == 0 ||
	    ((uint64_t)h->refcount_table_clusters << h->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES)
		FAIL(-EINVAL, "refcount table of %u clusters is out of range", h->refcount_table_clusters);
	if (h->refcount_table_offset > file_size ||
	    ((uint64_t)h->refcount_table_clusters << h->cluster_bits) > file_size - h->refcount_table_offset)
		FAIL(-EINVAL, "refcount table lies past the end of the file");
	if (h->nb_snapshots &&
	    (h->snapshots_offset % cs || h->snapshots_offset == 0 || h->snapshots_offset >= file_size))
		FAIL(-EINVAL, "snapshot table offset 0x%llx is invalid",
		     (unsigned long long)h->snapshots_offset);
	if (h->backing_file_offset) {
		if (h->backing_file_size == 0 || h->backing_file_size > QCOW2_MAX_BACKING_NAME)
			FAIL(-EINVAL, "backing file name of %u bytes", h->backing_file_size);
		if (h->backing_file_offset >= cs || h->backing_file_size > cs - h->backing_file_offset ||
		    h->backing_file_offset + h->backing_file_size > len)
			FAIL(-EINVAL, "backing file name lies outside the header cluster");
		memcpy(h->backing_file, buf + h->backing_file_offset, h->backing_file_size);
		h->backing_file[h->backing_file_size] = 0;
		if (strlen(h->backing_file) != h->backing_file_size)
			FAIL(-EINVAL, "backing file name holds a NUL byte");
	}
	size_t ext_end =
	    (size_t)(h->backing_file_offset && h->backing_file_offset < len ? h->backing_file_offset
	                                                                    : (cs < len ? cs : len));
	return parse_extensions(buf, len, h->header_length, ext_end, h, errmsg, errlen);
}

static size_t put_ext(uint8_t *p, uint32_t type, const void *data, uint32_t len)
{
	qcow2_put_be32(p, type);
	qcow2_put_be32(p + 4, len);
	memcpy(p + 8, data, len);
	return 8 + ((len + 7u) & ~7u);
}

int qcow2_header_build(struct qcow2_header *h, uint8_t *buf, size_t cap)
{
	size_t name_len = strlen(h->backing_file), fmt_len = strlen(h->backing_format);
	size_t hdr_len = h->version == 2 ? QCOW2_V2_HEADER_LEN : 112;
	size_t need = hdr_len + (name_len && fmt_len ? 8 + ((fmt_len + 7) & ~7u) : 0) + 8 + name_len;
	if (need > cap || name_len > QCOW2_MAX_BACKING_NAME) return -ENOSPC;
	memset(buf, 0, need);
	h->header_length = (uint32_t)hdr_len;
	size_t off = hdr_len;
	if (name_len && fmt_len)
		off += put_ext(buf + off, QCOW2_EXT_BACKING_FORMAT, h->backing_format, (uint32_t)fmt_len);
	off += 8; /* end marker: type 0, length 0 */
	h->backing_file_offset = name_len ? off : 0;
	h->backing_file_size = (uint32_t)name_len;
	memcpy(buf + off, h->backing_file, name_len);
	qcow2_put_be32(buf, QCOW2_MAGIC);
	qcow2_put_be32(buf + 4, h->version);
	qcow2_put_be64(buf + 8, h->backing_file_offset);
	qcow2_put_be32(buf + 16, h->backing_file_size);
	qcow2_put_be32(buf + 20, h->cluster_bits);
	qcow2_put_be64(buf + 24, h->size);
	qcow2_put_be32(buf + 32, h->crypt_method);
	qcow2_put_be32(buf + 36, h->l1_size);
	qcow2_put_be64(buf + 40, h->l1_table_offset);
	qcow2_put_be64(buf + 48, h->refcount_table_offset);
	qcow2_put_be32(buf + 56, h->refcount_table_clusters);
	qcow2_put_be32(buf + 60, h->nb_snapshots);
	qcow2_put_be64(buf + 64, h->snapshots_offset);
	if (h->version == 3) {
		qcow2_put_be64(buf + 72, h->incompatible_features);
		qcow2_put_be64(buf + 80, h->compatible_features);
		qcow2_put_be64(buf + 88, h->autoclear_features);
		qcow2_put_be32(buf + 96, h->refcount_order);
		qcow2_put_be32(buf + 100, h->header_length);
		buf[104] = h->compression_type;
	}
	return (int)(off + name_len);
}
