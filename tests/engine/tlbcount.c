/*
 * tlbcount.c — a known number of data accesses from hart 0 (the other hart
 * sleeps), for run.sh to compare the TLB lookups `cloison run --stats` counts
 * under both engines: translated code must count each access once, as the
 * interpreter does, whether it hits inline, runs as part of an access run or
 * misses into the helper (a misaligned word across a page boundary).
 */
#include "engine.h"

#define WORDS 8192 /* 64 KiB: 16 pages */
#define PASSES 20000

static volatile uint64_t table[WORDS];
static volatile uint8_t bytes[2 * 4096] __attribute__((aligned(4096)));

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	uint64_t sum = 0;
	for (unsigned i = 0; i < PASSES; i++) {
		volatile uint64_t *pair = &table[(i * 2654435761u) % WORDS & ~1u];
		sum += pair[0] + pair[1];     /* two loads off one base: an access run when translated */
		table[(i * 7) % WORDS] = sum; /* one store */
		if (i % 64 == 0) {            /* a word across the page boundary: two accesses */
			volatile uint32_t *across = (volatile uint32_t *)(bytes + 4096 - 2);
			*across = (uint32_t)sum;
			sum += *across;
		}
	}
	EXPECT(sum != 1, "sum", sum); /* uses the result */
	put("PASS tlbcount\n");
	return 0;
}
