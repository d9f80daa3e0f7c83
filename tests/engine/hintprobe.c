/*
 * hintprobe.c — translated U-mode loads whose address comes from a load, which
 * take a page hint (jit_x86_mem.c, "probe sites"). Under Sv39, with a U alias
 * of RAM for the code, eight 4 KiB pages mapped to frames in another order: a
 * loop follows a chain of offsets stored in them (each load's address is the
 * last load's value). The chain stays in a page for a while, then moves on;
 * twice it is read by an 8-byte load across the end of a page, whose next page
 * is not the next frame (a hint of either page must not serve it). Then the
 * pages are mapped again in another order (sfence.vma: hints into the old
 * mapping must miss) and the chain, written anew, is followed again; last, a
 * chain that changes page at every step, through a copy of the loop (its load
 * judged on that chain alone: hints mostly wrong, given up). Each
 * sum must be the one C computes walking the chain through the same mapping.
 * run.sh checks with --stats that loads took hints and that some gave them up.
 */
#include <stdbool.h>

#include "engine.h"

#define PAGES 8
#define SMALL 0xc0000000UL /* the eight pages */
#define PTE_LEAF_U 0xd7    /* V R W U A D */
#define STEPS 200000
#define CHAIN_MAX 400

static uint8_t frames[PAGES][4096] __attribute__((aligned(4096)));
static unsigned frame_of[PAGES]; /* the frame VA page i maps to */
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096))),
    leaf[512] __attribute__((aligned(4096)));
static uint64_t chain[CHAIN_MAX];

/* u_chase(base, first, steps, mask): follows x = [base + x] & mask from `first`, returns the sum
 * of what it loaded (position-independent: it runs at its U alias; ends with ecall). */
__asm__(".text\n"
        ".macro chase_loop name\n"
        ".globl \\name\n"
        "\\name:\n"
        " li t0, 0\n"
        "1: add t2, a0, a1\n"
        " ld a1, 0(t2)\n"
        " and a1, a1, a3\n"
        " add t0, t0, a1\n"
        " addi a2, a2, -1\n"
        " bnez a2, 1b\n"
        " mv a0, t0\n"
        " ecall\n"
        ".endm\n"
        "chase_loop u_chase\n"
        "chase_loop u_jump\n"); /* the same loop: a load of its own, on trial from the start */
void u_chase(void);
void u_jump(void);

/* The byte at offset `off` of the pages, as U-mode sees it, from M-mode (physical addresses). */
static uint8_t *va_byte(uint64_t off)
{
	return &frames[frame_of[off >> 12 & (PAGES - 1)]][off & 4095];
}

static void va_put64(uint64_t off, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++) *va_byte(off + i) = (uint8_t)(v >> 8 * i);
}

static uint64_t va_get64(uint64_t off)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++) v |= (uint64_t)*va_byte(off + i) << 8 * i;
	return v;
}

/* Maps VA page i to frame (i * step + shift) % PAGES (step odd: a permutation) and fills every
 * frame with a pattern no chain offset has. */
static void map_pages(unsigned step, unsigned shift)
{
	for (unsigned i = 0; i < PAGES; i++) {
		frame_of[i] = (i * step + shift) % PAGES;
		leaf[i] = (uint64_t)(uintptr_t)frames[frame_of[i]] >> 12 << 10 | PTE_LEAF_U;
	}
	for (unsigned f = 0; f < PAGES; f++)
		for (unsigned i = 0; i < 4096; i++) frames[f][i] = (uint8_t)(0xa5 ^ i ^ f * 16);
	__asm__ volatile("sfence.vma" ::: "memory");
}

/* Writes chain[0..n) as a cycle: the value at each offset is the next offset. */
static void write_chain(unsigned n)
{
	for (unsigned i = 0; i < n; i++) va_put64(chain[i], chain[(i + 1) % n]);
}

/* A chain that stays `per_page` steps in a page (8-byte aligned offsets 16 + 96 k), visiting pages
 * in the order 0, 3, 6, 1, 4, 7, 2, 5; with `crossing`, it also reads the 8 bytes from the last
 * byte of page 0 on, right after page 0 (the hint's page is the access's first), and those from
 * the last byte of page 3 on, right after page 4 (the hint's page is the access's last). Either
 * way a hint taken for the whole access gets the value's low bits from the wrong frame. */
static unsigned make_chain(unsigned per_page, bool crossing)
{
	unsigned n = 0;
	for (unsigned p = 0; p < PAGES; p++) {
		const unsigned page = p * 3 % PAGES;
		for (unsigned k = 0; k < per_page; k++) chain[n++] = page * 4096 + 16 + 96 * ((k * 7) % 41);
		if (crossing && page == 0) chain[n++] = 4095;
		if (crossing && page == 4) chain[n++] = 3 * 4096 + 4095;
	}
	return n;
}

/* The sum u_chase computes, walking the chain from M-mode. */
static uint64_t model_chase(uint64_t first, unsigned steps)
{
	uint64_t x = first, sum = 0;
	for (unsigned i = 0; i < steps; i++) {
		x = va_get64(x) & (PAGES * 4096 - 1);
		sum += x;
	}
	return sum;
}

static uint64_t chase(void (*loop)(void), unsigned steps)
{
	return run_user(user_addr(loop), SMALL, chain[0], steps, PAGES * 4096 - 1);
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	map_user_tables(root, mid, leaf);

	map_pages(3, 1); /* page i+1 is never the frame after page i's */
	unsigned n = make_chain(40, true);
	write_chain(n);
	uint64_t got = chase(u_chase, STEPS);
	EXPECT(got == model_chase(chain[0], STEPS), "sum along a chain with page crossings", got);

	map_pages(5, 2); /* the same addresses, other frames */
	n = make_chain(30, true);
	write_chain(n);
	got = chase(u_chase, STEPS);
	EXPECT(got == model_chase(chain[0], STEPS), "sum along the chain mapped again", got);

	n = make_chain(1, false); /* a page a step */
	write_chain(n);
	got = chase(u_jump, STEPS);
	EXPECT(got == model_chase(chain[0], STEPS), "sum along a chain changing page at every step", got);
	put("PASS hintprobe\n");
	plat_exit(0);
}
