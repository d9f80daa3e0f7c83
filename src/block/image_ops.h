/*
 * image_ops.h — whole-image operations built on the block interface:
 * copy (convert), commit into a backing file, safe rebase. They report
 * progress through a callback and never print.
 */
#ifndef CLOISON_IMAGE_OPS_H
#define CLOISON_IMAGE_OPS_H

#include "block.h"

typedef void (*block_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Copies the guest-visible content of src (through its backing chain) to
 * dst, which is at least as large. Ranges that read as zeros are skipped
 * when `dst_reads_zero` (a fresh image), else written as zeros.
 */
int image_copy(struct block_backend *src, struct block_backend *dst, bool dst_reads_zero,
               block_progress_fn progress, void *ctx);

/*
 * Writes every range `top` itself maps (not its backing file's) into
 * `base`, flushes base, then unless `keep` drops those ranges from top so
 * it is empty again. `top` must be opened without its backing file.
 */
int image_commit(struct block_backend *top, struct block_backend *base, bool keep, block_progress_fn progress,
                 void *ctx);

/*
 * Safe rebase, data part: wherever `top` (opened with its current backing
 * chain) does not map a range itself and what it shows differs from what
 * `new_backing` (NULL: none) holds there, writes what it shows into top.
 * The caller then changes the header with qcow2_set_backing().
 */
int image_rebase(struct block_backend *top, struct block_backend *new_backing, block_progress_fn progress,
                 void *ctx);

#endif
