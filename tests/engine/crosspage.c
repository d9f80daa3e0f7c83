/*
 * crosspage.c — a U-mode loop at the end of code page A whose branch leads to
 * an arm at the start of page B, which jumps back into the loop: the
 * translator may take the arm into the loop's block (a tail on the next page),
 * checking at each entry into it that the fetch TLB still maps B as when it
 * translated it. Under Sv39, B is mapped to a frame whose arm adds 1 more;
 * then to another frame whose arm adds 5 (sfence.vma only: A and its code are
 * unchanged); then back, and the first frame is rewritten in place to add 3
 * (fence.i). Each run's sum must be the one the code then mapped gives, and
 * every run must retire as many instructions (minstret).
 */
#include "codepages.h"

#define ITERATIONS 20000
#define HEAD 32 /* the loop's bytes at the end of page A */

/* Page A's last HEAD bytes, then page B's arm: a2 passes; each adds a0 to a1, and the odd ones
 * (a2 odd after its decrement) also the step, in the arm; returns a1. */
__asm__(".text\n"
        ".option push\n"
        ".option norvc\n"
        ".option norelax\n"
        ".globl cross1, cross5, cross3\n"
        ".macro cross_loop step\n"
        ".balign 8\n"
        "cross\\step:\n"
        "1: addi a2, a2, -1\n"
        " andi t0, a2, 1\n"
        " bnez t0, 3f\n" /* to page B */
        " add a1, a1, a0\n"
        "2: bnez a2, 1b\n"
        " mv a0, a1\n"
        " ecall\n"
        " nop\n"
        "3: add a1, a1, a0\n" /* page B's first bytes */
        " addi a1, a1, \\step\n"
        " j 2b\n"
        ".endm\n"
        "cross_loop 1\n"
        "cross_loop 5\n"
        "cross_loop 3\n"
        ".option pop\n");
extern const uint8_t cross1[], cross5[], cross3[];
#define ARM 12 /* the arm's bytes */

/* A run's sum, and in *retired the instructions it retired (the same for every run: the loop's
 * passes do not depend on what the arm adds, translated or not, left early or not). */
static uint64_t run(uint64_t x, uint64_t *retired)
{
	uint64_t before, after;
	__asm__ volatile("csrr %0, minstret" : "=r"(before));
	const uint64_t got = run_user(CODE + 4096 - HEAD, x, 0, ITERATIONS, 0);
	__asm__ volatile("csrr %0, minstret" : "=r"(after));
	*retired = after - before;
	return got;
}

static uint64_t model(uint64_t x, uint64_t step, uint64_t n)
{
	uint64_t sum = 0;
	for (uint64_t left = n; left;) {
		left--;
		sum += x;
		if (left & 1) sum += step;
	}
	return sum;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	/* The loops differ only in the arm's step. */
	for (unsigned i = 0; i < HEAD + 4; i++)
		EXPECT(cross1[i] == cross5[i] && cross1[i] == cross3[i], "loop bytes", i);
	copy(page_a + 4096 - HEAD, cross1, HEAD);
	copy(page_b[0], cross1 + HEAD, ARM);
	copy(page_b[1], cross5 + HEAD, ARM);
	map_code_pages();
	uint64_t first = 0, retired;
	for (unsigned r = 0; r < 3; r++) { /* hot: translated by the later runs */
		uint64_t got = run(7 + r, &retired);
		EXPECT(got == model(7 + r, 1, ITERATIONS), "sum with step 1", got);
		if (r == 0) first = retired;
		EXPECT(retired == first, "instructions retired by a run", retired);
	}
	map_b(1); /* another frame for B: its arm adds 5 */
	for (unsigned r = 0; r < 2; r++) {
		uint64_t got = run(11 + r, &retired);
		EXPECT(got == model(11 + r, 5, ITERATIONS), "sum with step 5 (B remapped)", got);
		EXPECT(retired == first, "instructions retired by a run (B remapped)", retired);
	}
	map_b(0);
	uint64_t got = run(2, &retired);
	EXPECT(got == model(2, 1, ITERATIONS), "sum with step 1 again", got);
	EXPECT(retired == first, "instructions retired by a run (B back)", retired);
	copy(page_b[0], cross3 + HEAD, ARM); /* B's first frame rewritten: 3 */
	fence_i();
	got = run(5, &retired);
	EXPECT(got == model(5, 3, ITERATIONS), "sum with step 3 (B rewritten)", got);
	EXPECT(retired == first, "instructions retired by a run (B rewritten)", retired);
	put("PASS crosspage\n");
	plat_exit(0);
}
