/*
 * instret.c — minstret stays exact through translated code: a hot loop whose
 * branches skip ahead inside the block (forward jumps give back the budget
 * they skip), jump over an instruction with `j`, and go back to the loop head
 * (a jump back charges what it repeats). The count is known in advance:
 * 8 instructions per pass, 2 more when the counter is odd. A second loop
 * branches back to code before its head that jumps back into it (a tail the
 * translator takes into the loop's block): 5 instructions per pass, 4 more
 * (a load and a store among them) when the counter is odd. A third loop is
 * longer than a block's usual main path: the block goes on to its jump back.
 * A fourth has forward branches one right after another. A fifth joins two
 * forward branches and the path falling through, and reads minstret there. A
 * sixth is entered by a jump past its first instruction and reads minstret
 * where it is entered. A seventh, shaped like xz's tree walk, leaves early by
 * a branch forward to where its branch back falls through when it is done,
 * and an arm after it jumps back into its middle. An eighth leaves an inner
 * loop by a branch back to the head of the loop around it.
 */
#include "engine.h"

/* Instructions retired from the first csrr up to (not including) the second, for a loop of n passes. */
static uint64_t counted(uint64_t n)
{
	uint64_t before, after, a = 0, b = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "1: addi %3, %3, 1\n"
	                 "andi t2, %2, 1\n"
	                 "beqz t2, 2f\n"
	                 "addi %4, %4, 1\n"
	                 "addi %4, %4, 2\n"
	                 "2: andi t2, %2, 2\n"
	                 "bnez t2, 3f\n"
	                 "j 4f\n"
	                 "3: addi %4, %4, 3\n"
	                 "4: addi %2, %2, -1\n"
	                 "bnez %2, 1b\n"
	                 "csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(a), "+r"(b)
	                 :
	                 : "t2");
	return after - before;
}

/* As counted, for the loop with a tail; *sum: what the tail added up (3 per odd pass). */
static uint64_t counted_tail(uint64_t n, uint64_t *sum)
{
	uint64_t before, after, a = 0;
	*sum = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "j 1f\n"
	                 "5: ld t2, 0(%4)\n"
	                 "addi t2, t2, 3\n"
	                 "sd t2, 0(%4)\n"
	                 "j 6f\n"
	                 "1: addi %3, %3, 1\n"
	                 "andi t2, %2, 1\n"
	                 "bnez t2, 5b\n"
	                 "6: addi %2, %2, -1\n"
	                 "bnez %2, 1b\n"
	                 "csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(a)
	                 : "r"(sum)
	                 : "t2", "memory");
	return after - before;
}

/* As counted, for a loop longer than a block's usual main path (its jump back lies past it): 75
 * instructions per pass, 8 more when the counter is odd; *sum: what they added up. */
static uint64_t counted_long(uint64_t n, uint64_t *sum)
{
	uint64_t before, after, a = 0, b = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "1: addi %3, %3, 1\n"
	                 "andi t2, %2, 1\n"
	                 "beqz t2, 2f\n"
	                 ".rept 8\n addi %4, %4, 1\n .endr\n"
	                 "2: .rept 70\n addi %4, %4, 2\n .endr\n"
	                 "addi %2, %2, -1\n"
	                 "bnez %2, 1b\n"
	                 "csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(a), "+r"(b)
	                 :
	                 : "t2");
	*sum = b;
	return after - before;
}

/* As counted, for a loop whose forward branches come one right after another (the lea charging
 * back one's skipped instructions and the next's giving some merge): 7 instructions per pass when
 * the counter is even or 3 mod 4, 10 when it is 1 mod 4; *sum: 8 per even pass, 9 per other. */
static uint64_t counted_branches(uint64_t n, uint64_t *sum)
{
	uint64_t before, after, a = 0, b = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "1: addi %3, %3, 1\n"
	                 "andi t2, %2, 1\n"
	                 "andi t3, %2, 2\n"
	                 "beqz t2, 5f\n" /* skips 4 */
	                 "bnez t3, 6f\n" /* skips 4: with the one before, no lea */
	                 "beqz t3, 7f\n" /* skips 1 */
	                 "addi %4, %4, 100\n"
	                 "7: addi %4, %4, 1\n"
	                 "5: addi %4, %4, 8\n"
	                 "6: addi %2, %2, -1\n"
	                 "bnez %2, 1b\n"
	                 "csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(a), "+r"(b)
	                 :
	                 : "t2", "t3");
	*sum = b;
	return after - before;
}

/* As counted, for a loop with a join that two forward branches and the path falling through reach
 * (one branch's edge costs nothing, the other's and the fall-through's charge the difference) and
 * that reads minstret itself: 6 instructions per pass when the counter is even, 8 when it is 3 mod 4,
 * 9 when 1 mod 4; *mid: what the read at the join found on the last pass, less the first read. */
static uint64_t counted_join(uint64_t n, uint64_t *mid)
{
	uint64_t before, after, b = 0, at = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "1: andi t2, %2, 1\n"
	                 "andi t3, %2, 2\n"
	                 "beqz t2, 3f\n" /* skips 3 */
	                 "addi %3, %3, 1\n"
	                 "bnez t3, 3f\n" /* skips 1 */
	                 "addi %3, %3, 2\n"
	                 "3: csrr %4, minstret\n"
	                 "addi %2, %2, -1\n"
	                 "bnez %2, 1b\n"
	                 "csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(b), "+r"(at)
	                 :
	                 : "t2", "t3");
	*mid = at - before;
	return after - before;
}

/* As counted, for a loop entered past its first instruction (a `j` over it, as gcc rotates loops;
 * the path falling into the entry point, not the jump, passes for free) that reads minstret there:
 * 5 instructions per pass, the first's 3 after the 2 entering; *mid: what the read found on the
 * last pass, less the first read; *sum: n - 1. */
static uint64_t counted_entered(uint64_t n, uint64_t *mid, uint64_t *sum)
{
	uint64_t before, after, b = 0, at = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "li t3, 0\n"
	                 "j 2f\n"
	                 "1: bgeu t3, %2, 3f\n"
	                 "addi %3, %3, 1\n"
	                 "2: addi t3, t3, 1\n"
	                 "csrr %4, minstret\n"
	                 "bltu t3, %2, 1b\n"
	                 "3: csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(b), "+r"(at)
	                 :
	                 : "t3");
	*mid = at - before;
	*sum = b;
	return after - before;
}

/* The tree walk's shape: a loop whose first instruction leaves for its end once t3 reaches n, and
 * whose branch back falls through to that same end once t3 reaches m; when t3 turns odd an arm
 * after the loop runs and jumps back into its middle. 6 instructions per pass, 2 more in the arm;
 * *arm: the arm's runs. */
static uint64_t counted_walk(uint64_t n, uint64_t m, uint64_t *arm)
{
	uint64_t before, after, b;
	__asm__ volatile("csrr %0, minstret\n"
	                 "li t3, 0\n"
	                 "li %2, 0\n"
	                 "1: bgeu t3, %3, 4f\n"
	                 "addi t3, t3, 1\n"
	                 "andi t5, t3, 1\n"
	                 "bnez t5, 3f\n"
	                 "2: nop\n"
	                 "bltu t3, %4, 1b\n"
	                 "4: csrr %1, minstret\n"
	                 "j 5f\n"
	                 "3: addi %2, %2, 1\n"
	                 "j 2b\n"
	                 "5:\n"
	                 : "=&r"(before), "=&r"(after), "=&r"(b)
	                 : "r"(n), "r"(m)
	                 : "t3", "t5");
	*arm = b;
	return after - before;
}

/* Instructions per pass of counted_join's loop, for the counter's value m. */
static uint64_t join_pass(uint64_t m)
{
	return m % 2 == 0 ? 6 : m % 4 == 3 ? 8 : 9;
}

/* An eighth: an inner loop whose way out is a branch back to the head of the loop around it (as a
 * search goes back to its next candidate on a mismatch, the branch taken out of line). The outer
 * loop runs n - 1 passes, the inner o & 7 (at least 1) for pass o; *sum counts inner passes not
 * leaving. */
static uint64_t counted_nested(uint64_t n, uint64_t *sum)
{
	uint64_t before, after, o = n, j, m, a = 0;
	__asm__ volatile("csrr %0, minstret\n"
	                 "1: addi %2, %2, -1\n"
	                 "beqz %2, 3f\n"
	                 "andi %4, %2, 7\n"
	                 "li %3, 0\n"
	                 "2: addi %3, %3, 1\n"
	                 "bge %3, %4, 1b\n"
	                 "addi %5, %5, 1\n"
	                 "j 2b\n"
	                 "3: csrr %1, minstret\n"
	                 : "=&r"(before), "=&r"(after), "+r"(o), "=&r"(j), "=&r"(m), "+r"(a));
	*sum = a;
	return after - before;
}
static uint64_t nested_count(uint64_t n, uint64_t *inner)
{
	uint64_t count = 1 + 2; /* the first csrr, the last pass's addi and beqz */
	*inner = 0;
	for (uint64_t o = n - 1; o >= 1; o--) {
		const uint64_t trips = (o & 7) ? (o & 7) : 1;
		count += 4 + 4 * (trips - 1) + 2;
		*inner += trips - 1;
	}
	return count;
}

int main(uint64_t hartid)
{
	if (hartid != 0)
		for (;;) {
		}
	static const uint64_t passes[] = {1, 7, 1000, 37, 100000, 5};
	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
			uint64_t n = passes[i], odd = (n + 1) / 2;
			EXPECT(counted(n) == 1 + 8 * n + 2 * odd, "minstret across the loop", counted(n));
			uint64_t sum;
			const uint64_t tail = counted_tail(n, &sum);
			EXPECT(tail == 2 + 5 * n + 4 * odd, "minstret across the loop with a tail", tail);
			EXPECT(sum == 3 * odd, "what the tail added up", sum);
			const uint64_t long_loop = counted_long(n, &sum);
			EXPECT(long_loop == 1 + 75 * n + 8 * odd, "minstret across the long loop", long_loop);
			EXPECT(sum == 140 * n + 8 * odd, "what the long loop added up", sum);
			const uint64_t one_mod_4 = (n + 3) / 4, branches = counted_branches(n, &sum);
			EXPECT(branches == 1 + 7 * n + 3 * one_mod_4, "minstret across the branches",
			       branches);
			EXPECT(sum == 8 * (n / 2) + 9 * one_mod_4, "what the branches added up", sum);
			uint64_t joined = 1, mid;
			for (uint64_t m = n; m > 1; m--) joined += join_pass(m);
			const uint64_t join = counted_join(n, &mid);
			EXPECT(mid == joined + join_pass(1) - 3, "minstret read at the join", mid);
			EXPECT(join == joined + join_pass(1), "minstret across the join", join);
			const uint64_t entered = counted_entered(n, &mid, &sum);
			EXPECT(entered == 1 + 5 * n, "minstret across the loop entered past its start",
			       entered);
			EXPECT(mid == 5 * n - 1, "minstret read where the loop is entered", mid);
			EXPECT(sum == n - 1, "what the loop entered past its start added up", sum);
			/* Done by its branch back (m = n), then by its first instruction (m past n). */
			const uint64_t walked = counted_walk(n, n, &sum);
			EXPECT(walked == 3 + 6 * n + 2 * odd,
			       "minstret across the walk done by its branch back", walked);
			EXPECT(sum == odd, "the walk's arm runs", sum);
			const uint64_t left = counted_walk(n, n + 3, &sum);
			EXPECT(left == 4 + 6 * n + 2 * odd, "minstret across the walk left early", left);
			EXPECT(sum == odd, "the early-left walk's arm runs", sum);
			uint64_t inner;
			const uint64_t nested = counted_nested(n, &sum),
			               want_nested = nested_count(n, &inner);
			EXPECT(nested == want_nested, "minstret across the nested loops", nested);
			EXPECT(sum == inner, "the inner loop's passes", sum);
		}
	put("PASS instret\n");
	plat_exit(0);
}
