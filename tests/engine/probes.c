/*
 * probes.c — loads and stores that share one TLB probe when translated
 * (jit_probe.c): table lookups through masked and shifted indexes added to
 * one base, and stores through indexes taken from the data, with a jump
 * target between accesses (where the translator's knowledge stops). Run with
 * the tables inside one page (the shared probe hits) and across a page
 * boundary (it misses every time and each access probes for itself), in
 * S-mode under Sv39 with the pages of each pair mapped in swapped order, so
 * that one page's addend used for the next one reads the wrong memory. The
 * loaded values must be those C computes without loading them; the stored
 * tables are printed as a checksum, which run.sh compares with --jit off.
 */
#include "engine.h"

#define ITERATIONS 20000
#define SALT 0x5bd1e995u

static uint32_t pages[4][1024] __attribute__((aligned(4096)));
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096))),
    leaf[512] __attribute__((aligned(4096)));
#define WINDOW 0xc0000000UL /* virtual: pages[1], pages[0], pages[3], pages[2] */

/* The table's entries, computed without memory. */
static uint32_t entry(uint32_t i)
{
	return i * 0x9e3779b1u ^ (i << 7) ^ SALT;
}

/* The loop in C, without the table. */
static uint64_t model(uint64_t seed)
{
	uint64_t sum = 0, s = seed;
	for (unsigned n = ITERATIONS; n; n--) {
		uint32_t i1 = (uint32_t)s >> 24, i2 = (uint32_t)(s & 1020) / 4,
		         i3 = (uint32_t)((s >> 6) & 1020) / 4;
		sum += entry(i1);
		sum ^= entry(i2);
		if (entry(i2) & 1) sum += 1;
		sum += (uint64_t)(int64_t)(int32_t)entry(i3);
		s = s * 1103515245u + 12345;
	}
	return sum;
}

/* probes_loop(table, seed, out, n): the loop as the translator sees it in OpenSSL's AES (srliw / andi /
 * slli, add to the table, lwu), with a branch joining before the third lookup and two stores into `out`
 * at indexes from the sum; returns the sum. */
uint64_t probes_loop(const uint32_t *table, uint64_t seed, uint32_t *out, uint64_t n);
__asm__(".text\n"
        ".globl probes_loop\n"
        "probes_loop:\n"
        " li t0, 0\n"
        "1: srliw t1, a1, 24\n"
        " slli t1, t1, 2\n"
        " add t2, a0, t1\n"
        " lwu t3, 0(t2)\n"
        " andi t4, a1, 1020\n"
        " add t5, a0, t4\n"
        " lwu t6, 0(t5)\n"
        " add t0, t0, t3\n"
        " xor t0, t0, t6\n"
        " andi t1, t6, 1\n"
        " beqz t1, 2f\n"
        " addi t0, t0, 1\n"
        "2: srli a4, a1, 6\n"
        " andi a4, a4, 1020\n"
        " add a5, a0, a4\n"
        " lw a6, 0(a5)\n"
        " add t0, t0, a6\n"
        " andi t1, t0, 1020\n"
        " add t2, a2, t1\n"
        " sw t0, 0(t2)\n"
        " srliw t4, t0, 22\n"
        " andi t4, t4, 1020\n"
        " add t5, a2, t4\n"
        " sh a1, 2(t5)\n"
        " li t1, 1103515245\n"
        " mul a1, a1, t1\n"
        " li t1, 12345\n"
        " add a1, a1, t1\n"
        " addi a3, a3, -1\n"
        " bnez a3, 1b\n"
        " mv a0, t0\n"
        " ret\n");

/* A run with the table at `table_at` bytes into pages[0..1] and the stores at `out_at` into
 * pages[2..3]; returns a checksum of what was stored. */
static uint64_t run(unsigned table_at, unsigned out_at, uint64_t seed)
{
	uint32_t *table = (uint32_t *)(WINDOW + table_at);
	uint32_t *out = (uint32_t *)(WINDOW + 2 * 4096 + out_at);
	for (uint32_t i = 0; i < 256; i++) table[i] = entry(i);
	for (uint32_t i = 0; i < 256; i++) out[i] = 0;
	uint64_t got = probes_loop(table, seed, out, ITERATIONS), want = model(seed);
	EXPECT(got == want, "the sum of the lookups", got);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < 256; i++) sum = sum * 31 + out[i];
	return sum;
}

static void s_main(void)
{
	uint64_t sum = run(1024, 2048, 1);         /* both inside one page */
	sum ^= run(4096 - 512, 4096 - 256, 7) * 3; /* both across a page boundary */
	sum ^= run(0, 4096 - 1024, 99) * 5;        /* ends exactly at a page's end */
	put("PROBESUM ");
	put_num(sum);
	put("\n");
	put("PASS probes\n");
	plat_exit(0);
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	/* At 3 GiB the four pages, each pair swapped. */
	root[3] = (uint64_t)(uintptr_t)mid >> 12 << 10 | 1;
	mid[0] = (uint64_t)(uintptr_t)leaf >> 12 << 10 | 1;
	for (unsigned i = 0; i < 4; i++) leaf[i] = (uint64_t)(uintptr_t)pages[i ^ 1] >> 12 << 10 | 0xc7;
	plat_enter_s(root, s_main);
}
