/*
 * forward.c — a register kept in the hart, written by one instruction and read
 * by the next: the translator takes the host register it was stored from
 * instead of loading it back, unless a jump leads to the reader (another path
 * arrives with something else in that host register). The loop uses enough
 * registers that most stay in the hart, and covers: the reader as a branch
 * target with the writer skipped or not, the reader right after a load (the
 * value stored from the load's register), a reader with both operands the
 * stored register, a zero-extension (slli 32, srli 32) of it, and a reader
 * that compares, and a reader right after a pair of loads through one base
 * whose bytes cross a page (their shared probe always misses: each load then
 * probes alone, out of line, and the host register the second was stored
 * from holds something else when the path comes back); other registers are
 * used enough to take the host registers. The sum must be the one C computes.
 */
#include "engine.h"

#define ITERATIONS 20000

/* forward_loop(x, buf, n, mid): returns the sum (see the model below); buf holds 8 words, mid is
 * 1024 bytes before a page boundary with words on both sides. */
uint64_t forward_loop(uint64_t x, const uint64_t *buf, uint64_t n, const uint64_t *mid);
__asm__(".text\n"
        ".globl forward_loop\n"
        "forward_loop:\n" SAVE_S_REGS " li t0, 0\n"
        " li s6, 11\n"
        " li s7, 13\n"
        "1: andi s4, a0, 1\n"
        " addi s8, a0, 99\n" /* s8 holds x + 99 on the jumping path */
        " beqz s4, 2f\n"
        " addi s6, s6, 1\n"
        "2: add t0, t0, s6\n" /* jumped to: s6 from the hart */
        " addi s7, s7, 5\n"
        " xor t0, t0, s7\n" /* forwarded */
        " andi s5, a0, 56\n"
        " add s5, s5, a1\n"
        " ld s9, 0(s5)\n"
        " add t0, t0, s9\n" /* after a load */
        " ld t4, 1016(a3)\n"
        " ld t5, 1024(a3)\n" /* the pair's bytes cross a page */
        " add t0, t0, t5\n"  /* after the pair */
        " xor t0, t0, t4\n"
        " addi s10, s9, 3\n"
        " mul s10, s10, s10\n" /* both operands */
        " add t0, t0, s10\n"
        " subw t3, a0, s6\n"
        " slli t2, t3, 32\n"
        " srli t2, t2, 32\n" /* zero-extended from the register just stored */
        " add t0, t0, t2\n"
        " srli s11, a0, 7\n"
        " bltu s11, s8, 3f\n" /* a compare reads it */
        " addi t0, t0, 17\n"
        "3: xor s0, s11, s8\n"
        " add s1, s0, s7\n"
        " add s2, s1, s6\n"
        " add s3, s2, s9\n"
        " xor t0, t0, s3\n"
        " add t0, t0, s2\n"
        " xor t0, t0, s1\n"
        ".rept 2\n" /* registers used enough to take the host ones */
        " add s4, s4, s5\n"
        " xor s5, s5, s10\n"
        " add s10, s10, s4\n"
        " add s0, s0, s10\n"
        " xor s1, s1, s0\n"
        " add s2, s2, s1\n"
        " xor s3, s3, s2\n"
        " add t1, s3, s4\n"
        " add t0, t0, t1\n"
        " xor t0, t0, s5\n"
        ".endr\n" LOOP_STEP_A0 " addi a2, a2, -1\n"
        " bnez a2, 1b\n"
        " mv a0, t0\n" RESTORE_S_REGS " ret\n");

/* The loop in C. */
static uint64_t model(uint64_t x, const uint64_t *buf, uint64_t n, const uint64_t *mid)
{
	uint64_t sum = 0, s6 = 11, s7 = 13;
	for (; n; n--) {
		const uint64_t s8 = x + 99;
		if (x & 1) s6++;
		sum += s6;
		s7 += 5;
		sum ^= s7;
		const uint64_t s9 = buf[(x & 56) / 8];
		sum += s9;
		sum += mid[128];
		sum ^= mid[127];
		const uint64_t s10 = (s9 + 3) * (s9 + 3);
		sum += s10;
		sum += (uint32_t)(x - s6);
		const uint64_t s11 = x >> 7;
		if (!(s11 < s8)) sum += 17;
		const uint64_t s1 = (s11 ^ s8) + s7, s2 = s1 + s6, s3 = s2 + s9;
		sum ^= s3;
		sum += s2;
		sum ^= s1;
		uint64_t f0 = s11 ^ s8, f1 = s1, f2 = s2, f3 = s3, f4 = x & 1, f5 = (uintptr_t)buf + (x & 56),
		         f10 = s10;
		for (int twice = 0; twice < 2; twice++) { /* registers used enough to take the host ones */
			f4 += f5, f5 ^= f10, f10 += f4, f0 += f10, f1 ^= f0, f2 += f1, f3 ^= f2;
			sum += f3 + f4;
			sum ^= f5;
		}
		x = loop_step(x);
	}
	return sum;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	static const uint64_t buf[8] = LOOP_WORDS;
	static uint64_t pages[1024] __attribute__((aligned(4096)));
	const uint64_t *mid = &pages[512 - 128]; /* 1024 bytes before the second page */
	for (unsigned i = 0; i < 1024; i++) pages[i] = buf[i % 8] * (i + 1);
	const uint64_t x = LOOP_SEED;
	const uint64_t got = forward_loop(x, buf, ITERATIONS, mid), want = model(x, buf, ITERATIONS, mid);
	EXPECT(got == want, "the sum through registers kept in the hart", got);
	put("PASS forward\n");
	plat_exit(0);
}
