/*
 * straddle.c — a U-mode loop whose `addi` starts in the last halfword of one
 * code page and ends on the next. The translator may end a block with it,
 * comparing the upper half it finds through the fetch TLB each time (its
 * immediate lives there); the interpreter fetches it across the pages. Under
 * Sv39, pages A and B hold the loop; B is then mapped to another frame whose
 * upper half says `addi a0, a0, 5` (sfence.vma: no fence.i, A is unchanged),
 * and then B's first frame is rewritten in place to say +3 (fence.i). Each
 * run's sum must be the one the instruction then in memory gives.
 */
#include "codepages.h"

#define ITERATIONS 20000

/* The loop, copied so that its `addi a0, a0, step` starts at A + 0xffe: it adds a0 (then a0 +=
 * step) to a1 a2 times and returns a1. The same with step 5 and step 3 for the other frames. */
__asm__(".text\n"
        ".option push\n"
        ".option norvc\n"
        ".globl loop1, loop1_end, loop5, loop5_end, loop3, loop3_end\n"
        ".macro straddle_loop step\n"
        "loop\\step:\n"
        "1: addi a2, a2, -1\n"
        " add a1, a1, a0\n"
        " addi x0, x0, 0\n"
        " .2byte 0x0001\n"                      /* c.nop */
        " .4byte 0x00050513 | (\\step << 20)\n" /* addi a0, a0, step (4 bytes, not compressed) */
        " bnez a2, 1b\n"
        " mv a0, a1\n"
        " ecall\n"
        "loop\\step\\()_end:\n"
        ".endm\n"
        "straddle_loop 1\n"
        "straddle_loop 5\n"
        "straddle_loop 3\n"
        ".option pop\n");
extern const uint8_t loop1[], loop1_end[], loop5[], loop5_end[], loop3[], loop3_end[];
#define HEAD 16 /* the loop's bytes up to the straddling instruction's upper half (page A's) */

/* Page B's part of a loop into frame f. */
static void put_tail(unsigned f, const uint8_t *loop, const uint8_t *end)
{
	copy(page_b[f], loop + HEAD, (uint64_t)(end - loop) - HEAD);
}

static uint64_t model(uint64_t x, uint64_t step, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--, x += step) sum += x;
	return sum;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	/* The loops differ only in the straddling instruction's upper half. */
	for (unsigned i = 0; i < HEAD; i++)
		EXPECT(loop1[i] == loop5[i] && loop1[i] == loop3[i], "loop bytes", i);
	copy(page_a + 4096 - HEAD, loop1, HEAD);
	put_tail(0, loop1, loop1_end);
	put_tail(1, loop5, loop5_end);
	map_code_pages();
	const uint64_t entry = CODE + 4096 - HEAD;

	for (unsigned run = 0; run < 3; run++) { /* hot: translated by the later runs */
		uint64_t got = run_user(entry, 7 + run, 0, ITERATIONS, 0);
		EXPECT(got == model(7 + run, 1, ITERATIONS), "sum with step 1", got);
	}
	map_b(1); /* another frame for B: the upper half says 5 */
	for (unsigned run = 0; run < 2; run++) {
		uint64_t got = run_user(entry, 11 + run, 0, ITERATIONS, 0);
		EXPECT(got == model(11 + run, 5, ITERATIONS), "sum with step 5 (B remapped)", got);
	}
	map_b(0);
	uint64_t got = run_user(entry, 2, 0, ITERATIONS, 0);
	EXPECT(got == model(2, 1, ITERATIONS), "sum with step 1 again", got);
	put_tail(0, loop3, loop3_end); /* B's first frame rewritten: 3 */
	fence_i();
	got = run_user(entry, 5, 0, ITERATIONS, 0);
	EXPECT(got == model(5, 3, ITERATIONS), "sum with step 3 (B rewritten)", got);
	put("PASS straddle\n");
	plat_exit(0);
}
