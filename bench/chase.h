/*
 * chase.h — the pointer chase's nodes, shared by the guest (bench/guest/chase.c) and the host
 * (bench/chase_host.c): one node per 64-byte line of a 64 MiB pool, linked in one random cycle
 * (Sattolo's shuffle, the same on both sides), each holding the address its next node has at `va`.
 */
#ifndef CLOISON_BENCH_CHASE_H
#define CLOISON_BENCH_CHASE_H

#include <stdint.h>

#define CHASE_NODES (1u << 20) /* 64 bytes apart: 64 MiB */

/* Links the nodes of `pool` (seen at address `va`) into one cycle through all of them (a chase may
 * start at any node); `order` is scratch for CHASE_NODES indexes. */
static inline void chase_link(uint8_t *pool, uint64_t va, uint32_t *order)
{
	uint64_t x = 88172645463325252ull;
	for (unsigned i = 0; i < CHASE_NODES; i++) order[i] = i;
	for (unsigned i = CHASE_NODES - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		const unsigned j = (unsigned)(x % i);
		const uint32_t t = order[i];
		order[i] = order[j], order[j] = t;
	}
	for (unsigned i = 0; i < CHASE_NODES; i++)
		*(uint64_t *)(pool + (uint64_t)order[i] * 64) =
		    va + (uint64_t)order[(i + 1) % CHASE_NODES] * 64;
}

#endif
