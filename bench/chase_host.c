/* chase_host.c — bench/guest/chase.c's pointer chase run natively on the host (4 KiB pages, or
 * transparent huge pages with "thp"): the floor both emulators' chases stand on. Prints ns a step. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "chase.h"

#define STEPS 20000000

int main(int argc, char **argv)
{
	const size_t size = (size_t)CHASE_NODES * 64;
	uint8_t *pool = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *order = malloc(CHASE_NODES * sizeof(*order));
	if (pool == MAP_FAILED || !order) return 1;
	(void)madvise(pool, size, argc > 1 && !strcmp(argv[1], "thp") ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	chase_link(pool, (uint64_t)(uintptr_t)pool, order);
	struct timespec a, b;
	volatile uint64_t sink;
	uint64_t p = (uint64_t)(uintptr_t)pool;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < STEPS; i++) p = *(const uint64_t *)(uintptr_t)p;
	clock_gettime(CLOCK_MONOTONIC, &b);
	sink = p;
	(void)sink;
	printf("%.1f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / STEPS);
	return 0;
}
