/*
 * qcow2_format.h — the qcow2 on-disk layout (QEMU's docs/interop/qcow2.txt):
 * header fields, header extensions, table entry bits, and the parser and
 * builder of the header cluster. Everything on disk is big-endian; these
 * structures hold host-endian values.
 */
#ifndef CLOISON_QCOW2_FORMAT_H
#define CLOISON_QCOW2_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21 /* 2 MiB: QEMU's limit too */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_L1_BYTES (32u << 20)      /* QEMU's limit: 32 MiB of L1 */
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20) /* QEMU's limit: 8 MiB of refcount table */
#define QCOW2_MAX_SIZE (1ULL << 56)         /* offsets are 56 bits in the tables */

/* incompatible feature bits */
#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)
/* compatible feature bits */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)

/* header extension types */
#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* L1 and L2 entries */
#define QCOW2_OFLAG_COPIED (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO 1ULL
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL /* bits 9..55 */
#define QCOW2_L1_RESERVED 0x7f000000000001ffULL
#define QCOW2_L2_RESERVED 0x3f000000000001feULL

struct qcow2_header {
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible_features;
	uint64_t compatible_features;
	uint64_t autoclear_features;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;
	char backing_file[QCOW2_MAX_BACKING_NAME + 1];
	char backing_format[32];
	bool has_bitmaps_ext;
};

static inline uint64_t qcow2_be64(const uint8_t *p)
{
	return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
	       ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
	       ((uint64_t)p[6] << 8) | p[7];
}
static inline uint32_t qcow2_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t qcow2_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline void qcow2_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline void qcow2_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline void qcow2_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Parses and validates the header and its extensions from the first bytes
 * of the file (`len` bytes available, at least one cluster or the whole
 * file). Checks everything that can be checked without reading tables:
 * field ranges, alignment, that tables lie inside the file and the L1
 * table covers the virtual size, unknown incompatible features. Returns 0
 * or -EINVAL/-ENOTSUP with errmsg set.
 */
int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qcow2_header *h,
                       char *errmsg, size_t errlen);

/*
 * Serializes the header, a backing-format extension when there is a
 * backing file, the end marker and the backing file name into buf (one
 * cluster, zero-filled by the caller). Sets h->header_length,
 * backing_file_offset and backing_file_size. Returns the bytes used, or
 * -ENOSPC if it does not fit in `cap`.
 */
int qcow2_header_build(struct qcow2_header *h, uint8_t *buf, size_t cap);

/* Entries needed in an L1 table to map `size` bytes. */
uint64_t qcow2_l1_entries_for(uint64_t size, unsigned cluster_bits);

#endif
