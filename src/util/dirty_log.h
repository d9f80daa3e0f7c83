/*
 * dirty_log.h — which guest RAM pages were written since the last harvest.
 *
 * Live migration turns it on; then harts mark a page when they fill a write
 * TLB entry for it (and when the page walker sets A/D bits), and devices
 * mark what they write by DMA. While it is off, marking costs one relaxed
 * load. Harvesting swaps the bitmap out word by word (atomic), so marks that
 * race with a harvest land in the next round.
 */
#ifndef CLOISON_DIRTY_LOG_H
#define CLOISON_DIRTY_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define DIRTY_PAGE_SHIFT 12

struct dirty_log {
	_Atomic bool active;
	uint64_t npages;
	_Atomic uint64_t *bits;
	const uint8_t *base; /* host address of guest RAM's first byte */
};

/* Marks [offset, offset+len) of guest RAM (offsets from RAM's start). */
static inline void dirty_log_mark(struct dirty_log *d, uint64_t offset, uint64_t len)
{
	if (!d || !atomic_load_explicit(&d->active, memory_order_relaxed) || !len) return;
	uint64_t first = offset >> DIRTY_PAGE_SHIFT, last = (offset + len - 1) >> DIRTY_PAGE_SHIFT;
	for (uint64_t p = first; p <= last && p < d->npages; p++)
		if (!(atomic_load_explicit(&d->bits[p / 64], memory_order_relaxed) & (1ULL << (p % 64))))
			atomic_fetch_or_explicit(&d->bits[p / 64], 1ULL << (p % 64), memory_order_relaxed);
}

/* Marks host memory inside guest RAM (a pointer a device got from guest_ram_ptr). */
static inline void dirty_log_mark_host(struct dirty_log *d, const void *host, uint64_t len)
{
	if (!d || !atomic_load_explicit(&d->active, memory_order_relaxed)) return;
	dirty_log_mark(d, (uint64_t)((const uint8_t *)host - d->base), len);
}

/* Allocates the bitmap (inactive). False when out of memory. */
bool dirty_log_init(struct dirty_log *d, const uint8_t *base, uint64_t ram_size);
void dirty_log_free(struct dirty_log *d);
/* Starts logging with every page marked (the first round sends everything). */
void dirty_log_start(struct dirty_log *d);
void dirty_log_stop(struct dirty_log *d);
/* Moves the marks into `out` (npages bits, caller-allocated) and clears them; returns how many. */
uint64_t dirty_log_harvest(struct dirty_log *d, uint64_t *out);

#endif
