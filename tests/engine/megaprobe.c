/*
 * megaprobe.c — translated U-mode loads and stores whose TLB probe turns to
 * the 2 MiB table and back (jit_x86_mem.c, "probe sites"). Under Sv39, with a
 * U alias of RAM for the code: a loop reads and then writes words at random
 * through a megapage (its misses find 2 MiB entries: the probes turn to that
 * table); the megapage is then moved to other memory (sfence.vma: the same
 * loop must see the new frame); then the same loop runs over 4 KiB pages
 * mapped in swapped pairs (its probes miss the 2 MiB table every time and
 * turn back). Between, loads of each size through the megapage at and off
 * the registers they name (pinned or local), and pairs of doublewords sharing a probe, the
 * last pair across the megapage's end into the 4 KiB pages. Loaded sums must be those C computes without
 * loading; stored words must be those the same stores leave in a copy written from M-mode. Last,
 * loads and stores through the 4 KiB pages 20 bytes past and 8 bytes before a base register, some
 * of them on another page than the base. run.sh checks with --stats that probes turned and that
 * probes took their slot off the base.
 */
#include "engine.h"

#define MEGA (2UL << 20)
#define WINDOW 0xc0000000UL   /* a megapage, then 4 KiB pages past it */
#define SMALL (WINDOW + MEGA) /* eight 4 KiB pages, in swapped pairs */
#define PTE_LEAF_U 0xd7       /* V R W U A D */
#define PTE_LEAF_UX 0xdf      /* ... and X */
#define ITERATIONS 40000

static uint32_t big[2][MEGA / 4] __attribute__((aligned(2 << 20)));
static uint32_t small[8][1024] __attribute__((aligned(4096)));
static uint32_t shadow[MEGA / 4];
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096))),
    leaf[512] __attribute__((aligned(4096)));

static uint32_t word(uint64_t i, uint32_t salt)
{
	return (uint32_t)(i * 0x9e3779b1u) ^ (uint32_t)(i >> 5) ^ salt;
}

static uint64_t next(uint64_t s)
{
	return s * 1103515245u + 12345;
}

/* The loops' seed (a1) steps as next() does, through t5 and t6; a2 counts the passes down. Each
 * pass starts at label 1 with its first offset, (seed >> 11) & mask, in t1. */
#define SEED_START " li t5, 1103515245\n li t6, 12345\n1: srli t1, a1, 11\n and t1, t1, a3\n"
#define SEED_NEXT " mul a1, a1, t5\n add a1, a1, t6\n addi a2, a2, -1\n bnez a2, 1b\n"

/* The U-mode loops (position-independent: they run at their U alias); each ends with ecall.
 * u_sum(base, seed, n, mask) returns the sum of the words at base + ((seed >> 11) & mask);
 * u_scatter(base, seed, n, mask) stores the low half of each seed there. */
__asm__(".text\n"
        ".globl u_sum\n"
        "u_sum:\n"
        " li t0, 0\n" SEED_START " add t2, a0, t1\n"
        " lwu t3, 0(t2)\n"
        " add t0, t0, t3\n" SEED_NEXT " mv a0, t0\n"
        " ecall\n"
        ".globl u_scatter\n"
        "u_scatter:\n" SEED_START " add t2, a0, t1\n"
        " sw a1, 0(t2)\n" SEED_NEXT " ecall\n"
        /* u_mix(base, seed, n, mask): at three offsets (8-aligned) a byte at a pinned register (a5),
         * a half at a displacement from another (a4) and a word at a local one (t2), each its own
         * probe: turned, they find their 2 MiB slot in each way there is (jit_x86_mem.c, aim_slot) */
        ".globl u_mix\n"
        "u_mix:\n"
        " li t0, 0\n" SEED_START " add a5, a0, t1\n"
        " lbu t3, 0(a5)\n"
        " add t0, t0, t3\n"
        " srli t1, a1, 17\n"
        " and t1, t1, a3\n"
        " add a4, a0, t1\n"
        " lhu t3, 6(a4)\n"
        " add t0, t0, t3\n"
        " srli t1, a1, 23\n"
        " and t1, t1, a3\n"
        " add t2, a0, t1\n"
        " lwu t3, 4(t2)\n"
        " xor t0, t0, t3\n" SEED_NEXT " mv a0, t0\n"
        " ecall\n"
        /* u_pair(base, seed, n, mask): the sum of the doublewords at each offset and 8 bytes on
         * (one probe for both), the last pass at base + 2 MiB - 8: across the megapage's end */
        ".globl u_pair\n"
        "u_pair:\n"
        " li t0, 0\n" SEED_START " add t2, a0, t1\n"
        " li t4, 1\n"
        " bne a2, t4, 3f\n"
        " li t2, 0x1ffff8\n"
        " add t2, a0, t2\n"
        "3: ld t3, 0(t2)\n"
        " ld t4, 8(t2)\n"
        " add t0, t0, t3\n"
        " add t0, t0, t4\n" SEED_NEXT " mv a0, t0\n"
        " ecall\n"
        /* u_edge(base, seed, n, mask): the word 20 bytes past one offset and the one 8 bytes before
         * another (each through its own base register: each probed alone, its slot from the base:
         * jit_x86_mem.c, emit_base_slot_lookup); some passes' words lie on another page than their
         * base (their misses move the slot off it); u_edge_store stores there (the seed, the count) */
        ".globl u_edge\n"
        "u_edge:\n"
        " li t0, 0\n" SEED_START " add t2, a0, t1\n"
        " lwu t3, 20(t2)\n"
        " add t0, t0, t3\n"
        " srli t1, a1, 17\n"
        " and t1, t1, a3\n"
        " add t4, a0, t1\n"
        " lwu t3, -8(t4)\n"
        " xor t0, t0, t3\n" SEED_NEXT " mv a0, t0\n"
        " ecall\n"
        ".globl u_edge_store\n"
        "u_edge_store:\n" SEED_START " add t2, a0, t1\n"
        " sw a1, 20(t2)\n"
        " srli t1, a1, 17\n"
        " and t1, t1, a3\n"
        " add t4, a0, t1\n"
        " sw a2, -8(t4)\n" SEED_NEXT " ecall\n");
void u_sum(void);
void u_scatter(void);
void u_mix(void);
void u_pair(void);
void u_edge(void);
void u_edge_store(void);

/* The word u_sum reads at offset `off` from WINDOW (megapage over frame f) or from SMALL. */
static uint32_t mega_word(unsigned frame, uint64_t off)
{
	return word(off / 4, frame + 1);
}
static uint32_t small_word(uint64_t off)
{
	uint64_t page = (off >> 12) ^ 1, w = (off & 4095) / 4;
	return word(page * 1024 + w, 7);
}

static uint64_t model_sum(uint64_t seed, uint64_t mask, int frame)
{
	uint64_t sum = 0;
	for (unsigned n = ITERATIONS; n; n--) {
		uint64_t off = (seed >> 11) & mask;
		sum += frame >= 0 ? mega_word((unsigned)frame, off) : small_word(off);
		seed = next(seed);
	}
	return sum;
}

/* The byte, half and doubleword at offset `off` of the megapage over frame f (little-endian). */
static uint64_t mega_bytes(unsigned frame, uint64_t off, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i--;)
		v = v << 8 | (mega_word(frame, (off + i) & ~3UL) >> 8 * ((off + i) & 3) & 0xff);
	return v;
}

/* What u_mix and u_pair return over the megapage (frame f). */
static uint64_t model_mix(uint64_t seed, uint64_t mask, unsigned frame)
{
	uint64_t sum = 0;
	for (unsigned n = ITERATIONS; n; n--, seed = next(seed)) {
		sum += mega_bytes(frame, (seed >> 11) & mask, 1);
		sum += mega_bytes(frame, ((seed >> 17) & mask) + 6, 2);
		sum ^= mega_bytes(frame, ((seed >> 23) & mask) + 4, 4);
	}
	return sum;
}
static uint64_t model_pair(uint64_t seed, uint64_t mask, unsigned frame)
{
	uint64_t sum = 0;
	for (unsigned n = ITERATIONS; n > 1; n--, seed = next(seed)) {
		uint64_t off = (seed >> 11) & mask;
		sum += mega_bytes(frame, off, 8) + mega_bytes(frame, off + 8, 8);
	}
	return sum + mega_bytes(frame, MEGA - 8, 8) + (small_word(0) | (uint64_t)small_word(4) << 32);
}

/* What u_edge returns over the 4 KiB pages, its bases at SMALL + 8 + its offsets. */
static uint64_t model_edge(uint64_t seed, uint64_t mask)
{
	uint64_t sum = 0;
	for (unsigned n = ITERATIONS; n; n--, seed = next(seed)) {
		sum += small_word(((seed >> 11) & mask) + 8 + 20);
		sum ^= small_word(((seed >> 17) & mask) + 8 - 8);
	}
	return sum;
}

static void map_mega(unsigned frame)
{
	mid[0] = (uint64_t)(uintptr_t)big[frame] >> 12 << 10 | PTE_LEAF_U;
	__asm__ volatile("sfence.vma" ::: "memory");
}

static uint64_t checksum(const uint32_t *w, uint64_t n)
{
	uint64_t s = 0;
	for (uint64_t i = 0; i < n; i++) s = s * 31 + w[i];
	return s;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	for (unsigned f = 0; f < 2; f++)
		for (uint64_t i = 0; i < MEGA / 4; i++) big[f][i] = word(i, f + 1);
	for (uint64_t p = 0; p < 8; p++)
		for (uint64_t i = 0; i < 1024; i++) small[p][i] = word(p * 1024 + i, 7);
	root[1] = 0x80000000UL >> 12 << 10 | PTE_LEAF_UX;
	root[3] = (uint64_t)(uintptr_t)mid >> 12 << 10 | 1;
	mid[1] = (uint64_t)(uintptr_t)leaf >> 12 << 10 | 1;
	for (unsigned i = 0; i < 8; i++) leaf[i] = (uint64_t)(uintptr_t)small[i ^ 1] >> 12 << 10 | PTE_LEAF_U;
	__asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" ::"r"(~0ULL >> 10), "r"(0x1fULL));
	__asm__ volatile("csrw satp, %0" ::"r"(8ULL << 60 | (uint64_t)(uintptr_t)root >> 12));
	map_mega(0);

	const uint64_t mega_mask = MEGA - 4, small_mask = 8 * 4096 - 4;
	uint64_t got = run_user(user_addr(u_sum), WINDOW, 1, ITERATIONS, mega_mask);
	EXPECT(got == model_sum(1, mega_mask, 0), "sum through the megapage", got);
	map_mega(1); /* the same addresses, another frame */
	got = run_user(user_addr(u_sum), WINDOW, 2, ITERATIONS, mega_mask);
	EXPECT(got == model_sum(2, mega_mask, 1), "sum through the moved megapage", got);
	map_mega(1); /* (sfence.vma: the 4 KiB entries go, each new loop's probes miss and turn) */
	got = run_user(user_addr(u_mix), WINDOW, 6, ITERATIONS, MEGA - 8);
	EXPECT(got == model_mix(6, MEGA - 8, 1), "bytes, halves and words through the megapage", got);
	map_mega(1);
	got = run_user(user_addr(u_pair), WINDOW, 7, ITERATIONS, MEGA - 16);
	EXPECT(got == model_pair(7, MEGA - 16, 1), "doubleword pairs, the last across the megapage's end",
	       got);
	got = run_user(user_addr(u_sum), SMALL, 3, ITERATIONS, small_mask);
	EXPECT(got == model_sum(3, small_mask, -1), "sum through 4 KiB pages", got);

	/* Stores: into frame 1 through the megapage, the same into a copy of it from M-mode. */
	for (uint64_t i = 0; i < MEGA / 4; i++) shadow[i] = big[1][i];
	run_user(user_addr(u_scatter), WINDOW, 4, ITERATIONS, mega_mask);
	for (uint64_t s = 4, n = ITERATIONS; n; n--, s = next(s))
		shadow[((s >> 11) & mega_mask) / 4] = (uint32_t)s;
	uint64_t want = checksum(shadow, MEGA / 4);
	got = checksum(big[1], MEGA / 4);
	EXPECT(got == want, "words stored through the megapage", got);
	/* ... and through the 4 KiB pages (pairs swapped). */
	for (uint64_t i = 0; i < 8 * 1024; i++) shadow[i] = small[(i >> 10) ^ 1][i & 1023];
	run_user(user_addr(u_scatter), SMALL, 5, ITERATIONS, small_mask);
	for (uint64_t s = 5, n = ITERATIONS; n; n--, s = next(s))
		shadow[((s >> 11) & small_mask) / 4] = (uint32_t)s;
	want = checksum(shadow, 8 * 1024);
	uint64_t seen = 0;
	for (uint64_t i = 0; i < 8 * 1024; i++) seen = seen * 31 + small[(i >> 10) ^ 1][i & 1023];
	EXPECT(seen == want, "words stored through 4 KiB pages", seen);

	/* Accesses off a base on another page (4 KiB pages, pairs swapped: a wrong frame shows). */
	for (uint64_t p = 0; p < 8; p++)
		for (uint64_t i = 0; i < 1024; i++) small[p][i] = word(p * 1024 + i, 7);
	const uint64_t edge_mask = 4 * 4096 - 4;
	got = run_user(user_addr(u_edge), SMALL + 8, 8, ITERATIONS, edge_mask);
	EXPECT(got == model_edge(8, edge_mask), "words off a base on another page", got);
	for (uint64_t i = 0; i < 8 * 1024; i++) shadow[i] = small[(i >> 10) ^ 1][i & 1023];
	run_user(user_addr(u_edge_store), SMALL + 8, 9, ITERATIONS, edge_mask);
	for (uint64_t s = 9, n = ITERATIONS; n; n--, s = next(s)) {
		shadow[(((s >> 11) & edge_mask) + 8 + 20) / 4] = (uint32_t)s;
		shadow[(((s >> 17) & edge_mask) + 8 - 8) / 4] = (uint32_t)n;
	}
	want = checksum(shadow, 8 * 1024);
	seen = 0;
	for (uint64_t i = 0; i < 8 * 1024; i++) seen = seen * 31 + small[(i >> 10) ^ 1][i & 1023];
	EXPECT(seen == want, "words stored off a base on another page", seen);
	put("PASS megaprobe\n");
	plat_exit(0);
}
