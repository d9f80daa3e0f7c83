/*
 * cacheflush.c — a chained jump from a block that a code-cache flush
 * dropped (run.sh gives this test a 1 MiB cache). A translated block A
 * leaves by its static exit to T, which is not translated yet: the
 * dispatcher remembers A's exit to chain it once T has a block. T's
 * interpreted path leads into code that translates more than the whole cache
 * (fillers, each called just enough to be translated, never run translated)
 * and so flushes it, then calls T until it is translated and runs it.
 * The remembered exit lies in dropped code by then, over which newer blocks
 * were written: chaining it must not happen (it once did, and wrote a jump
 * into some other block; the engine now also refuses to patch a site that is
 * not a jmp). Several rounds, each with fresh code and a different amount of
 * filling, so the stale site lands in new code at different places; the sum
 * of what all the code counted must be exact.
 */
#include "engine.h"

#define PAIRS 6

/*
 * A pair: T (3 instructions), A (3) right after it in the same page, then T's filling. A returns when
 * a0 is 0, else jumps back to T (a target outside A's block). T counts its returns in a6 and returns
 * when a2 is 0, else fills: it calls each of COUNT fillers 9 times (the first arrival at code decodes
 * it, the 9th translates it) and then T 9 times with a2 = 0 (A's jump was the first arrival; the 8th
 * call translates T, the 9th runs it),
 * and returns to A's caller. A filler is 31 divisions of t1 by t0 = 1 (a block of helper calls: a few
 * KiB of code) and a5 += 1. All calls are unrolled: a place returned to is reached once, so nothing
 * but the fillers and T turns hot.
 */
__asm__(".macro PAIR name, count\n"
        ".balign 64\n"
        "\\name:\n"
        "2: bnez a2, 3f\n"
        " addi a6, a6, 1\n"
        " ret\n"
        " beqz a0, 1f\n"
        " j 2b\n"
        "1: ret\n"
        "3: mv s8, ra\n"
        ".rept \\count\n"
        ".rept 9\n"
        " jal ra, 8f\n"
        ".endr\n"
        " j 9f\n"
        "8:\n"
        ".rept 31\n"
        " divu t1, t1, t0\n"
        ".endr\n"
        " addi a5, a5, 1\n"
        " ret\n"
        "9:\n"
        ".endr\n"
        " li a2, 0\n"
        ".rept 9\n"
        " jalr a4\n"
        ".endr\n"
        " mv ra, s8\n"
        " ret\n"
        ".endm\n"
        ".text\n"
        ".option push\n"
        ".option norvc\n"
        "PAIR pair0, 700\n"
        "PAIR pair1, 800\n"
        "PAIR pair2, 900\n"
        "PAIR pair3, 1000\n"
        "PAIR pair4, 1100\n"
        "PAIR pair5, 1200\n"
        ".option pop\n"
        ".section .rodata\n"
        ".balign 8\n"
        "pair_t: .dword pair0, pair1, pair2, pair3, pair4, pair5\n"
        "pair_fillers: .dword 700, 800, 900, 1000, 1100, 1200\n");
extern const uint32_t *const pair_t[PAIRS];
extern const uint64_t pair_fillers[PAIRS];
#define A_WORD 3

/* Calls A with a0 = take, a2 = 1, a4 = T, t0 = t1 = 1; adds what the fillers (a5) and T (a6) counted
 * to *fillers_done and *t_done. */
static void call_a(const uint32_t *t, uint64_t take, uint64_t *fillers_done, uint64_t *t_done)
{
	register uint64_t a0 __asm__("a0") = take;
	register uint64_t a2 __asm__("a2") = 1;
	register const uint32_t *a4 __asm__("a4") = t;
	register uint64_t a5 __asm__("a5") = 0;
	register uint64_t a6 __asm__("a6") = 0;
	register uint64_t t0 __asm__("t0") = 1;
	register uint64_t t1 __asm__("t1") = 1;
	__asm__ volatile("jalr ra, 0(%7)"
	                 : "+r"(a0), "+r"(a2), "+r"(a4), "+r"(a5), "+r"(a6), "+r"(t0), "+r"(t1)
	                 : "r"(t + A_WORD)
	                 : "ra", "s8", "memory");
	*fillers_done += a5;
	*t_done += a6;
}

int main(uint64_t hartid)
{
	if (hartid != 0)
		for (;;) {
		}
	uint64_t fillers_done = 0, t_done = 0, filled = 0;
	for (unsigned p = 0; p < PAIRS; p++) {
		for (unsigned k = 0; k < 9; k++) /* A turns hot and is translated */
			call_a(pair_t[p], 0, &fillers_done, &t_done);
		call_a(pair_t[p], 1, &fillers_done, &t_done);
		filled += pair_fillers[p];
	}
	EXPECT(fillers_done == 9 * filled, "filler calls", fillers_done);
	EXPECT(t_done == 9 * PAIRS, "returns from T", t_done);
	put("PASS cacheflush\n");
	plat_exit(0);
}
