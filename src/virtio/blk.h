/*
 * blk.h — virtio block device over a block backend, with its own I/O thread.
 */
#ifndef CLOISON_VIRTIO_BLK_H
#define CLOISON_VIRTIO_BLK_H

#include "block/block.h"
#include "mmio.h"
#include "util/token_bucket.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct blk_req;

struct virtio_blk_stats {
	uint64_t read_ops, write_ops, flush_ops, discard_ops, read_bytes, write_bytes;
	uint64_t throttled_ns; /* time requests waited for the limits */
};

struct virtio_blk {
	struct virtio_mmio transport;
	struct virtio_device_ops ops;
	struct block_backend *backend;
	char serial[20];
	unsigned num_queues;      /* request queues offered (VIRTIO_BLK_F_MQ when > 1) */
	pthread_mutex_t *io_lock; /* the board's: guards the transport and queues */
	uint64_t generation;      /* bumped on reset; guarded by io_lock */
	struct virtq_chain chain; /* scratch for the notifying vCPU (under io_lock) */

	pthread_t thread;
	pthread_mutex_t lock; /* guards the pending list and `stopping` */
	pthread_cond_t cond;
	struct blk_req *pending, *pending_tail;
	unsigned inflight; /* requests queued or executing; guarded by `lock` */
	pthread_cond_t drained;
	bool stopping;

	struct token_bucket bps, iops;  /* limits (rate 0: none); used by the I/O thread only */
	uint64_t limit_bps, limit_iops; /* the limits asked for; guarded by `lock` */
	bool limits_pending;            /* the I/O thread has yet to refill its buckets; guarded by `lock` */

	struct virtio_blk_stats stats;
	/* Blocks of VIRTIO_BLK_DIRTY_BLOCK bytes the guest changed since the last take (all, at first):
	 * what a replica of the disk needs next. Set by the I/O thread. */
	_Atomic uint64_t *dirty;
	size_t dirty_blocks;
};

#define VIRTIO_BLK_DIRTY_BLOCK (64u * 1024)

#define VIRTIO_BLK_MAX_QUEUES 8

/* Takes ownership of `backend`; offers `num_queues` request queues (1 to VIRTIO_BLK_MAX_QUEUES).
 * Returns NULL with errmsg set. */
struct virtio_blk *virtio_blk_create(struct block_backend *backend, const struct guest_ram *ram,
                                     pthread_mutex_t *io_lock, const char *serial, unsigned num_queues,
                                     char *errmsg, size_t errlen);
/* Limits the guest's reads and writes to `bytes_per_s` and `ops_per_s` (0: unlimited). Any thread, any
 * time: the I/O thread applies them from its next request. */
void virtio_blk_set_limits(struct virtio_blk *d, uint64_t bytes_per_s, uint64_t ops_per_s);
/* Waits until every request the guest queued has completed into its queue, then flushes the backend to
 * the host's disk (before a snapshot). Returns false if the flush failed. */
bool virtio_blk_drain(struct virtio_blk *d);
/* Finishes queued requests, stops the I/O thread, closes the backend. */
void virtio_blk_destroy(struct virtio_blk *d);
/* The disk's changed blocks since the last call (all of them at the first), as a bitmap of
 * dirty_blocks bits the caller frees; the device's map starts empty again. Call with the device
 * drained (the machine paused): no write is in flight. NULL when out of memory. */
uint64_t *virtio_blk_take_dirty(struct virtio_blk *d, size_t *nblocks);

#endif
