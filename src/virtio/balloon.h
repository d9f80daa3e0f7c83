/*
 * balloon.h — virtio memory balloon (virtio-balloon): the host asks the guest
 * to give back memory (a target in 4 KiB pages), the guest hands pages over
 * on the inflate queue and takes them back on the deflate queue; pages it
 * hands over, and the free pages it reports (free page reporting), are
 * dropped from the host process (MADV_DONTNEED), so its RSS falls. The guest's
 * memory statistics arrive on the stats queue.
 */
#ifndef CLOISON_VIRTIO_BALLOON_H
#define CLOISON_VIRTIO_BALLOON_H

#include "mmio.h"

/* The guest's statistics (virtio spec, VIRTIO_BALLOON_S_*), in bytes or counts; UINT64_MAX when the
 * guest did not report the tag. */
enum balloon_stat {
	BALLOON_SWAP_IN,
	BALLOON_SWAP_OUT,
	BALLOON_MAJOR_FAULTS,
	BALLOON_MINOR_FAULTS,
	BALLOON_MEMFREE,
	BALLOON_MEMTOTAL,
	BALLOON_AVAILABLE,
	BALLOON_CACHES,
	BALLOON_NSTATS
};

struct virtio_balloon {
	struct virtio_mmio transport;
	uint32_t target_pages; /* what the host asks for (config num_pages) */
	uint32_t actual_pages; /* what the driver says it holds (config actual) */
	uint64_t inflated_pages, deflated_pages, reported_bytes, discarded_bytes, bad_pfns;
	uint64_t stats[BALLOON_NSTATS];
	uint64_t stats_updates; /* how many times the guest refreshed them */
	bool stats_held;        /* the driver's stats buffer is with us (head below) */
	uint16_t stats_head;
};

/* free_page_reporting: offer VIRTIO_BALLOON_F_PAGE_REPORTING (the guest hands its free memory back on
 * its own, without a target). */
void virtio_balloon_init(struct virtio_balloon *b, const struct guest_ram *ram, virtio_irq_fn set_irq,
                         void *irq_opaque, bool free_page_reporting);
/* Asks the guest to hold `bytes` (rounded down to pages, at most guest RAM) in the balloon; 0 gives
 * everything back. Caller holds the board's I/O lock. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes);
/* Hands the stats buffer back so the guest refreshes it (the answer arrives later, on the queue).
 * Caller holds the board's I/O lock. */
void virtio_balloon_request_stats(struct virtio_balloon *b);
/* The name of a statistic, for reports ("memfree"). */
const char *virtio_balloon_stat_name(enum balloon_stat s);

#endif
