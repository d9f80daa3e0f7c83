/*
 * lease.h — a run lease: a deadline on the host's monotonic clock, shared
 * through a small file between the daemon that renews it and the VM processes
 * that obey it. A VM started with a lease executes no guest instruction and
 * issues no device I/O once the deadline has passed, until it is renewed:
 * a host whose daemon cannot renew (cut off, frozen, killed) stops its HA
 * guests by itself, on time, which is what lets other hosts take them over.
 */
#ifndef CLOISON_UTIL_LEASE_H
#define CLOISON_UTIL_LEASE_H

#include "util/clock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lease {
	_Atomic uint64_t *until; /* the mapped deadline (monotonic ns); 0: expired */
};

/* Maps FILE (created, 0600, with an expired deadline if missing). False with err set. */
bool lease_open(struct lease *l, const char *path, char *err, size_t errlen);
void lease_close(struct lease *l);

/* Whether the lease allows running now (always, for NULL or an unopened lease). */
static inline bool lease_valid(const struct lease *l)
{
	return !l || !l->until || monotonic_ns() < atomic_load_explicit(l->until, memory_order_acquire);
}
/* Sleeps in short naps while the lease is expired; returns at once when it is valid, or when *stop
 * (may be NULL) becomes nonzero. */
void lease_wait(const struct lease *l, const _Atomic int *stop);
/* The renewer's side: sets the deadline. */
void lease_set(struct lease *l, uint64_t until_ns);

#endif
