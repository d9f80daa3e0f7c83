/*
 * delta.h — a disk delta: the blocks of a VM's disks that changed since the
 * last one, all taken at one instant, as a file a replica applies. Format
 * (little endian): "CLDELTA1", u32 disks, u32 block size; per disk: u64 size,
 * u64 entries, then per entry u64 block index, u8 kind (0 data, 1 zeros) and,
 * for data, the block's bytes (the last block of a disk is short when the
 * size is not a multiple); "CLDEND01". A delta is checked whole before any
 * byte of it is applied, so a truncated or malformed one changes nothing.
 */
#ifndef CLOISON_BLOCK_DELTA_H
#define CLOISON_BLOCK_DELTA_H

#include "block/block.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DELTA_MAX_DISKS 16
#define DELTA_MAX_BLOCK (1u << 20)

struct delta_stats {
	uint64_t blocks, zero_blocks, bytes;
};

/* Writes the marked blocks of each disk (bitmaps[i] has nblocks[i] bits; NULL: every block) to path
 * (synced). False with err set. */
bool delta_write(const char *path, struct block_backend *const *disks, uint64_t *const *bitmaps,
                 const size_t *nblocks, unsigned ndisks, uint32_t block_size, struct delta_stats *st,
                 char *err, size_t errlen);
/* Applies a delta to DIR/disk0.raw, DIR/disk1.raw... (created sparse, sized as the delta says) and
 * syncs them. False with err set, nothing applied, when the delta is malformed. */
bool delta_apply(const char *path, const char *dir, struct delta_stats *st, char *err, size_t errlen);
/* Checks a delta held in memory without applying it (what delta_apply checks first). */
bool delta_check(const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
