/*
 * dirty_log.c — allocation and harvesting of the dirty-page bitmap
 * (marking is inline in dirty_log.h).
 */
#include "dirty_log.h"

#include <stdlib.h>

bool dirty_log_init(struct dirty_log *d, const uint8_t *base, uint64_t ram_size)
{
	d->npages = (ram_size + (1u << DIRTY_PAGE_SHIFT) - 1) >> DIRTY_PAGE_SHIFT;
	d->base = base;
	atomic_store(&d->active, false);
	d->bits = calloc((d->npages + 63) / 64, sizeof(uint64_t));
	return d->bits != NULL;
}

void dirty_log_free(struct dirty_log *d)
{
	free((void *)d->bits);
	d->bits = NULL;
}

void dirty_log_start(struct dirty_log *d)
{
	for (uint64_t w = 0; w < (d->npages + 63) / 64; w++) {
		uint64_t left = d->npages - w * 64;
		atomic_store(&d->bits[w], left >= 64 ? ~0ULL : (1ULL << left) - 1);
	}
	atomic_store(&d->active, true);
}

void dirty_log_stop(struct dirty_log *d)
{
	atomic_store(&d->active, false);
}

uint64_t dirty_log_harvest(struct dirty_log *d, uint64_t *out)
{
	uint64_t n = 0;
	for (uint64_t w = 0; w < (d->npages + 63) / 64; w++) {
		out[w] = atomic_exchange(&d->bits[w], 0);
		n += (uint64_t)__builtin_popcountll(out[w]);
	}
	return n;
}
