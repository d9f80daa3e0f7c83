/*
 * probe_latency.c — what the translator's software-TLB probe adds to a chain
 * of dependent loads on this host (docs/board.md, "Memory"). Each loop chases
 * pointers through 128 nodes on four 4 KiB pages (all in the L1 cache), one
 * load a step, in the forms translated code uses: the bare load, the load
 * with an index register (as every translated access is: [base + addend +
 * offset]), and the whole probe (slot by bextr, tag compared, addend loaded)
 * with its slot from the access's address (a lea before the bextr) or from
 * the base register itself. A chain of four adds gives the cycle's length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGES 4
#define PER_PAGE 32 /* nodes a page, 128 bytes apart */
#define SLOTS 65536 /* the U set's 4 KiB table: the address's bits 12-27 */

uint64_t tags[SLOTS], addends[SLOTS]; /* absolute addresses below 2 GiB (-no-pie), as in the hart */
static uint8_t memory[PAGES * 4096] __attribute__((aligned(4096)));

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Four adds a step: four cycles. */
static uint64_t adds(uint64_t x, long n)
{
	__asm__ volatile("1: add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tdec %1\n\tjnz 1b"
	                 : "+r"(x), "+r"(n));
	return x;
}

static uint64_t bare(uint64_t x, long n)
{
	__asm__ volatile("1: mov 8(%0), %0\n\tdec %1\n\tjnz 1b" : "+r"(x), "+r"(n));
	return x;
}

static uint64_t indexed(uint64_t x, long n)
{
	__asm__ volatile("xor %%eax, %%eax\n1: mov 8(%0,%%rax,1), %0\n\tdec %1\n\tjnz 1b"
	                 : "+r"(x), "+r"(n)
	                 :
	                 : "rax");
	return x;
}

/* The chase through the probe: the slot found by `slot` (into eax), the tag compared with the page
 * of the node's last byte, the addend loaded, the load at [x + addend + 8]. */
#define PROBE_CHASE(slot)                                                                                    \
	__asm__ volatile("1: " slot "\n\tlea 15(%0), %%rcx\n\tand $-4096, %%rcx\n\t"                         \
	                 "cmp tags(,%%rax,8), %%rcx\n\tjne 9f\n\tmov addends(,%%rax,8), %%rax\n\t"           \
	                 "mov 8(%0,%%rax,1), %0\n\tdec %1\n\tjnz 1b\n9:"                                     \
	                 : "+r"(x), "+r"(n)                                                                  \
	                 : "r"((uint64_t)(12 | 16 << 8))                                                     \
	                 : "rax", "rcx", "cc")

/* As for an access with a displacement: the slot from base + 8 (lea, bextr). */
static uint64_t probe_lea(uint64_t x, long n)
{
	PROBE_CHASE("lea 8(%0), %%rax\n\tbextr %k2, %%eax, %%eax");
	if (n) abort(); /* a tag did not match */
	return x;
}

/* With the slot from the base register (no lea before the bextr). */
static uint64_t probe_base(uint64_t x, long n)
{
	PROBE_CHASE("bextr %k2, %k0, %%eax");
	if (n) abort();
	return x;
}

int main(void)
{
	enum { NODES = PAGES * PER_PAGE };
	int order[NODES];
	for (int i = 0; i < NODES; i++) order[i] = i;
	srand(1);
	for (int i = NODES - 1; i > 0; i--) {
		int j = rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	uint8_t *node[NODES];
	for (int i = 0; i < NODES; i++)
		node[i] = memory + order[i] / PER_PAGE * 4096 + order[i] % PER_PAGE * 128;
	for (int i = 0; i < NODES; i++) *(uint64_t *)(void *)(node[i] + 8) = (uint64_t)node[(i + 1) % NODES];
	for (int p = 0; p < PAGES; p++) { /* guest address = host address: addend 0 */
		const uint64_t page = (uint64_t)memory + (uint64_t)p * 4096;
		tags[page >> 12 & (SLOTS - 1)] = page;
		addends[page >> 12 & (SLOTS - 1)] = 0;
	}
	static const struct {
		const char *name;
		uint64_t (*fn)(uint64_t, long);
	} forms[] = {{"four adds", adds},
	             {"load [base + 8]", bare},
	             {"load [base + index + 8]", indexed},
	             {"probe, slot by lea + bextr", probe_lea},
	             {"probe, slot from the base", probe_base}};
	enum { FORMS = sizeof(forms) / sizeof(forms[0]) };
	const long n = 100000000;
	double best[FORMS];
	for (int i = 0; i < FORMS; i++) best[i] = 1e9;
	uint64_t sink = 0;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < FORMS; i++) {
			double t = now();
			sink += forms[i].fn((uint64_t)node[0], n);
			t = (now() - t) / (double)n * 1e9;
			if (t < best[i]) best[i] = t;
		}
	const double cycle = best[0] / 4;
	printf("a chain of loads, ns and cycles per step (best of 3 runs of %ld steps; sink %llu):\n", n,
	       (unsigned long long)(sink & 1));
	for (int i = 0; i < FORMS; i++)
		printf("  %-28s %.3f ns  %5.1f cycles\n", forms[i].name, best[i], best[i] / cycle);
	return 0;
}
