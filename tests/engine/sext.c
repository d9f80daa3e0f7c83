/*
 * sext.c — a 32-bit (W) instruction's result before a forward branch or jump
 * in the block: the translator sign-extends it only if something may read its
 * upper half before the register is written again, and that includes what the
 * branch's target reads, not only the way falling through. Each case writes
 * the register with a W instruction whose result is often negative, then
 * branches forward (half the time, from x's bits): on one way the register
 * is written again (a constant, or a W instruction reading its low half), on
 * the other it is read whole (an add, an xor). The sum must be the one C
 * computes.
 */
#include "engine.h"

#define ITERATIONS 20000

/* sext_loop(x, n): returns the sum (see the model below). */
uint64_t sext_loop(uint64_t x, uint64_t n);
__asm__(".text\n"
        ".globl sext_loop\n"
        "sext_loop:\n"
        " li t0, 0\n"
        "1: addw t4, a0, a0\n" /* 2x, its low half sign-extended */
        " andi t2, a0, 1\n"
        " bnez t2, 2f\n"
        " li t4, 5\n"         /* falling through: written again */
        "2: add t0, t0, t4\n" /* jumped to: read whole */
        " subw t3, a0, a1\n"
        " andi t2, a0, 2\n"
        " beqz t2, 3f\n"
        " addiw t3, t3, 7\n" /* falling through: its low half read, then written */
        " j 4f\n"
        "3: xor t0, t0, t3\n" /* jumped to: read whole */
        "4: add t0, t0, t3\n"
        " sllw t5, a0, a1\n"
        " andi t2, a0, 4\n"
        " bnez t2, 5f\n"
        " j 6f\n" /* a jump over a reader */
        "5: sub t0, t0, t5\n"
        "6: addw t5, t5, a1\n" /* written again from its low half */
        " add t0, t0, t5\n" LOOP_STEP_A0 " addi a1, a1, -1\n"
        " bnez a1, 1b\n"
        " mv a0, t0\n"
        " ret\n");

static int64_t w(uint64_t v)
{
	return (int64_t)(int32_t)(uint32_t)v;
}

/* The loop in C. */
static uint64_t model(uint64_t x, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--) {
		uint64_t t4 = (uint64_t)w(x + x);
		if (!(x & 1)) t4 = 5;
		sum += t4;
		uint64_t t3 = (uint64_t)w(x - n);
		if (!(x & 2))
			sum ^= t3;
		else
			t3 = (uint64_t)w(t3 + 7);
		sum += t3;
		uint64_t t5 = (uint64_t)w((uint32_t)x << (n & 31));
		if (x & 4) sum -= t5;
		t5 = (uint64_t)w(t5 + n);
		sum += t5;
		x = loop_step(x);
	}
	return sum;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	const uint64_t got = sext_loop(LOOP_SEED, ITERATIONS), want = model(LOOP_SEED, ITERATIONS);
	EXPECT(got == want, "the sum through W results read after forward jumps", got);
	put("PASS sext\n");
	plat_exit(0);
}
