/*
 * scaled.c — shifts by 1-3 (and gcc's zero-extension scaled by 4 or 8: slli
 * 32, srli 30 or 29) whose result the next instruction, an add, takes: the
 * translator makes the add one lea from the shift's source and drops the
 * shift when the add overwrites its result. The loop covers the shift's
 * result overwritten by the add or kept (and read after), the shift in place
 * (source and result one register), the add's operands in either order, the
 * shift's source as the add's other operand, a branch target at the add (the
 * pair must not be fused there), and enough registers that some stay in the
 * hart; a value with its upper half set checks the zero-extension. The sum
 * must be the one C computes.
 */
#include "engine.h"

#define ITERATIONS 20000

/* scaled_loop(x, y, n): returns the sum (see the model below). */
uint64_t scaled_loop(uint64_t x, uint64_t y, uint64_t n);
__asm__(".text\n"
        ".globl scaled_loop\n"
        "scaled_loop:\n" SAVE_S_REGS " li t0, 0\n"
        "1: slli t1, a0, 1\n"
        " add t1, t1, a1\n" /* overwritten: (x << 1) + y */
        " add t0, t0, t1\n"
        " mv a4, a0\n"
        " slli a4, a4, 2\n"
        " add a4, a1, a4\n" /* in place, operands swapped: y + (x << 2) */
        " xor t0, t0, a4\n"
        " slli t3, a0, 3\n"
        " add t4, t3, a1\n" /* kept: t3 = x << 3 read below */
        " add t0, t0, t4\n"
        " sub t0, t0, t3\n"
        " slli t5, a0, 32\n"
        " srli t5, t5, 30\n"
        " add t5, t5, a1\n" /* (zext32(x) << 2) + y */
        " add t0, t0, t5\n"
        " slli t6, a0, 32\n"
        " srli t6, t6, 29\n"
        " add t6, a1, t6\n" /* y + (zext32(x) << 3) */
        " xor t0, t0, t6\n"
        " slli s2, a0, 2\n"
        " add s2, s2, a0\n" /* the source as the other operand: 5x */
        " add t0, t0, s2\n"
        " slli s3, a0, 1\n"
        " andi s4, a0, 1\n"
        " beqz s4, 2f\n"
        " addi s3, s3, 7\n"
        "2: add s3, s3, a1\n" /* jumped to: (x << 1) + (x & 1 ? 7 : 0) + y */
        " add t0, t0, s3\n"
        /* Registers enough that some live in the hart, each through a pair. */
        " slli s5, a0, 3\n"
        " add s5, s5, t0\n"
        " slli s6, s5, 1\n"
        " add s6, s6, s2\n"
        " slli s7, s6, 2\n"
        " add s7, s3, s7\n"
        " slli s8, s7, 3\n"
        " add s8, s8, t4\n"
        " slli s9, s8, 1\n"
        " add s9, s9, t5\n"
        " slli s10, s9, 2\n"
        " add s10, s10, t6\n"
        " slli s11, s10, 3\n"
        " add s11, s11, s4\n"
        " slli s0, s11, 1\n"
        " add s0, s0, a4\n"
        " slli s1, s0, 2\n"
        " add s1, s1, s5\n"
        " slli a5, s1, 3\n"
        " add a5, a5, s6\n"
        " slli a6, a5, 1\n"
        " add a6, a6, s7\n"
        " slli a7, a6, 2\n"
        " add a7, a7, s8\n"
        " xor t0, t0, s9\n"
        " add t0, t0, s10\n"
        " xor t0, t0, s11\n"
        " add t0, t0, s0\n"
        " xor t0, t0, s1\n"
        " add t0, t0, a5\n"
        " xor t0, t0, a6\n"
        " add t0, t0, a7\n" LOOP_STEP_A0 " addi a2, a2, -1\n"
        " bnez a2, 1b\n"
        " mv a0, t0\n" RESTORE_S_REGS " ret\n");

/* The loop in C. */
static uint64_t model(uint64_t x, uint64_t y, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--) {
		const uint64_t z = (uint32_t)x;
		uint64_t t1 = (x << 1) + y, a4 = y + (x << 2), t3 = x << 3, t4 = t3 + y;
		uint64_t t5 = (z << 2) + y, t6 = y + (z << 3), s2 = 5 * x, s4 = x & 1;
		uint64_t s3 = (x << 1) + (s4 ? 7 : 0) + y;
		sum += t1;
		sum ^= a4;
		sum = sum + t4 - t3;
		sum += t5;
		sum ^= t6;
		sum += s2;
		sum += s3;
		uint64_t s5 = (x << 3) + sum, s6 = (s5 << 1) + s2, s7 = s3 + (s6 << 2), s8 = (s7 << 3) + t4;
		uint64_t s9 = (s8 << 1) + t5, s10 = (s9 << 2) + t6, s11 = (s10 << 3) + s4,
		         s0 = (s11 << 1) + a4;
		uint64_t s1 = (s0 << 2) + s5, a5 = (s1 << 3) + s6, a6 = (a5 << 1) + s7, a7 = (a6 << 2) + s8;
		sum ^= s9;
		sum += s10;
		sum ^= s11;
		sum += s0;
		sum ^= s1;
		sum += a5;
		sum ^= a6;
		sum += a7;
		x = loop_step(x);
	}
	return sum;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	const uint64_t x = LOOP_SEED, y = 0xfedcba9876543210u;
	const uint64_t got = scaled_loop(x, y, ITERATIONS), want = model(x, y, ITERATIONS);
	EXPECT(got == want, "the sum of the scaled adds", got);
	put("PASS scaled\n");
	plat_exit(0);
}
