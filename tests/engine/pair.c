/*
 * pair.c — compare pairs (jit_x86_64.c, plan_pairs): in U-mode, a loop that
 * loads a byte, branches on it, loads the byte before it through the same
 * base into that base register itself, and branches on that one to the same
 * place, as a match finder does (gzip's `match[best_len] != scan_end ||
 * match[best_len - 1] != scan_end1`): the translator takes both branches as
 * one. Once with both branches forward, once with both back to the loop's
 * head. The bytes lie in two pages mapped to frames in swapped order, so
 * that a pair read across their boundary (its shared probe misses) leaves
 * the block at the first branch. Checked against C: the matches counted,
 * the registers the pair writes at the end (the base register holds a byte
 * only where the first compare agreed), and minstret over the run (the
 * path where the first compare differs runs two instructions fewer), read
 * from M-mode after the run and, with the forward loop, by U-mode itself
 * right after the loop (translated code counts those skipped instructions
 * apart from its budget until it returns to C: a read inside a translated
 * stretch must take them off too).
 */
#include <stdbool.h>

#include "engine.h"

#define DATA 0xc0000000UL /* VA of the pages: 0 -> frames[1], 1 -> frames[0], 2 -> frames[1] */
#define PTE_LEAF_U 0xd7   /* V R W U A D */
#define MASK 8191u        /* the index wraps over both pages */

static uint8_t frames[2][4096] __attribute__((aligned(4096)));
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096))),
    leaf[512] __attribute__((aligned(4096)));

/*
 * u_forward(base, steps, mask, ends): for i = 1, 2, ... steps times, m = base + (i * 7 & mask):
 * when m[1] == ends & 255 and then m[0] == ends >> 8 (loaded into m's register itself), counts a
 * match and adds the byte; returns count << 48 ^ sum << 16 ^ the last m[1] << 8 ^ the register
 * that held m (a byte or an address's low bits). u_back: the same, the branches going back to the
 * loop's head, which steps first. u_counted: u_forward's loop between two reads of instret, returning
 * their difference.
 */
__asm__(".text\n"
        ".macro pair_start\n" /* counts, index and registers zero; a5, a6: the ends */
        " li t0, 0\n"         /* matches */
        " li t3, 0\n"         /* their bytes' sum */
        " li t1, 0\n"         /* i * 7 */
        " andi a5, a3, 255\n"
        " srli a6, a3, 8\n"
        " li a4, 0\n"
        " li t2, 0\n"
        ".endm\n"
        ".macro pair_result\n" /* a0 <- what both loops return, and back to M-mode */
        " slli t0, t0, 48\n"
        " slli t3, t3, 16\n"
        " slli a4, a4, 8\n"
        " andi t2, t2, 255\n"
        " xor a0, t0, t3\n"
        " xor a0, a0, a4\n"
        " xor a0, a0, t2\n"
        " ecall\n"
        ".endm\n"
        ".macro forward_loop\n"
        "1: addi t1, t1, 7\n"
        " and t4, t1, a2\n"
        " add t2, a0, t4\n"
        " lbu a4, 1(t2)\n"
        " bne a4, a5, 2f\n"
        " lbu t2, 0(t2)\n"
        " bne t2, a6, 2f\n"
        " addi t0, t0, 1\n"
        " add t3, t3, t2\n"
        "2: addi a1, a1, -1\n"
        " bnez a1, 1b\n"
        ".endm\n"
        ".globl u_forward\n"
        "u_forward:\n"
        " pair_start\n"
        " forward_loop\n"
        " pair_result\n"
        ".globl u_counted\n"
        "u_counted:\n"
        " rdinstret t5\n"
        " pair_start\n"
        " forward_loop\n"
        " rdinstret t6\n"
        " sub a0, t6, t5\n"
        " ecall\n"
        ".globl u_back\n"
        "u_back:\n"
        " pair_start\n"
        "1: addi t1, t1, 7\n"
        " addi a1, a1, -1\n"
        " bltz a1, 3f\n"
        " and t4, t1, a2\n"
        " add t2, a0, t4\n"
        " lbu a4, 1(t2)\n"
        " bne a4, a5, 1b\n"
        " lbu t2, 0(t2)\n"
        " bne t2, a6, 1b\n"
        " addi t0, t0, 1\n"
        " add t3, t3, t2\n"
        " j 1b\n"
        "3: pair_result\n");
void u_forward(void);
void u_back(void);
void u_counted(void);

static uint8_t byte_at(uint64_t off)
{
	return frames[(off >> 12 & 1) ^ 1][off & 4095];
}

/* What u_forward and u_back return, and the instructions their passes retire (*insns). */
static uint64_t model(uint64_t steps, unsigned ends, bool back, uint64_t *insns)
{
	uint64_t count = 0, sum = 0, i7 = 0, last1 = 0, reg = 0;
	*insns = 0;
	for (uint64_t s = 0; s < steps; s++) {
		i7 += 7;
		const uint64_t off = i7 & MASK;
		reg = DATA + off;
		last1 = byte_at(off + 1);
		unsigned run = back ? 7 : 5; /* to the first bne (back: the step, count and bltz first) */
		if (last1 == (ends & 255)) {
			run += 2;
			reg = byte_at(off);
			if (reg == ends >> 8) {
				count++;
				sum += reg;
				run += back ? 3 : 2;
			}
		}
		*insns += run + (back ? 0 : 2); /* forward: the count and its bnez after the join */
	}
	if (back) *insns += 3; /* the last pass's step, count and bltz */
	return count << 48 ^ sum << 16 ^ last1 << 8 ^ (reg & 255);
}

static uint64_t minstret(void)
{
	uint64_t v;
	__asm__ volatile("csrr %0, minstret" : "=r"(v));
	return v;
}

/* The instructions retired over one run of loop (the same code around it whatever the steps). */
__attribute__((noinline)) static uint64_t timed(void (*loop)(void), uint64_t steps, unsigned ends,
                                                uint64_t *got)
{
	const uint64_t t0 = minstret();
	*got = run_user(user_addr(loop), DATA, steps, MASK, ends);
	return minstret() - t0;
}

/* Runs loop for `steps` and for 1 step: the result, and the difference in instructions retired. */
static uint64_t run(void (*loop)(void), uint64_t steps, unsigned ends, uint64_t *insns)
{
	uint64_t got, one;
	const uint64_t many = timed(loop, steps, ends, &got);
	*insns = many - timed(loop, 1, ends, &one);
	return got;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	map_user_tables(root, mid, leaf);
	__asm__ volatile("csrs mcounteren, %0; csrs scounteren, %0" ::"r"(4)); /* U-mode reads instret */
	leaf[0] = (uint64_t)(uintptr_t)frames[1] >> 12 << 10 | PTE_LEAF_U;
	leaf[1] = (uint64_t)(uintptr_t)frames[0] >> 12 << 10 | PTE_LEAF_U;
	leaf[2] = leaf[0]; /* m[1] past the second page, at offset 8191 */
	__asm__ volatile("sfence.vma" ::: "memory");
	/* Bytes from a skewed distribution: about a fifth agree with the first end, a twentieth with both. */
	uint32_t x = 12345;
	for (unsigned f = 0; f < 2; f++)
		for (unsigned i = 0; i < 4096; i++) {
			x = x * 1103515245u + 12345u;
			const unsigned r = x >> 16 & 15;
			frames[f][i] = (uint8_t)(r < 4 ? 'e' : r < 7 ? ' ' : 'a' + (x >> 8 & 15));
		}
	const unsigned ends = 'e' | ' ' << 8;
	for (unsigned back = 0; back < 2; back++) {
		const uint64_t steps = 300000;
		uint64_t want_insns, got_insns, model_one;
		const uint64_t want = model(steps, ends, back, &want_insns);
		model(1, ends, back, &model_one);
		const uint64_t got = run(back ? u_back : u_forward, steps, ends, &got_insns);
		EXPECT(got == want,
		       back ? "u_back's matches and registers" : "u_forward's matches and registers", got);
		EXPECT(got_insns == want_insns - model_one,
		       back ? "u_back's instructions retired" : "u_forward's instructions retired",
		       got_insns);
	}
	/* U-mode's own count, the loop's last stretch still in translated code (run once before, so
	 * that the way out of the loop is translated and chained too). */
	uint64_t counted_want, counted_one;
	model(300000, ends, false, &counted_want);
	model(1, ends, false, &counted_one);
	run_user(user_addr(u_counted), DATA, 1000, MASK, ends);
	const uint64_t counted = run_user(user_addr(u_counted), DATA, 300000, MASK, ends) -
	                         run_user(user_addr(u_counted), DATA, 1, MASK, ends);
	EXPECT(counted == counted_want - counted_one, "u_counted's instructions retired (U-mode's rdinstret)",
	       counted);
	put("PASS pair\n");
	plat_exit(0);
}
