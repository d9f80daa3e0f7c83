/*
 * flags.c — a branch right after a branch on the same two registers: the
 * translator reuses the first one's compare (with the condition reversed when
 * the operands come swapped, or against x0). Pairs of every condition, the
 * second taken or not, on small signed values (equal, less, greater, negative
 * as large unsigned); one pair whose second branch is also a jump target (the
 * flags then come from elsewhere). And branches on zero right after the
 * operation that wrote their register, which take its flags (flags_loop_c).
 * The sums must be the ones C computes.
 */
#include "engine.h"

#define ITERATIONS 20000

/* Each loop: s0, s1 <- two small values from x (a0), then pairs of branches, each taken branch
 * adding its own constant to t0; then t0 rotated (the order of outcomes counts), x stepped, a1
 * counted down. Two loops, so each fits one block's main path (JIT_MAIN_OPS). */
#define LOOP_HEAD                                                                                            \
	SAVE_S_REGS " li t0, 0\n"                                                                            \
	            "1: andi s0, a0, 3\n"                                                                    \
	            " addi s0, s0, -1\n" /* -1 .. 2 */                                                       \
	            " srli s1, a0, 2\n"                                                                      \
	            " andi s1, s1, 3\n"                                                                      \
	            " addi s1, s1, -1\n"
#define LOOP_TAIL                                                                                            \
	"99: srli t1, t0, 63\n"                                                                              \
	" slli t0, t0, 1\n"                                                                                  \
	" or t0, t0, t1\n" LOOP_STEP_A0 " srli t1, a0, 17\n"                                                 \
	" xor a0, a0, t1\n"                                                                                  \
	" addi a1, a1, -1\n"                                                                                 \
	" bnez a1, 1b\n"                                                                                     \
	" mv a0, t0\n" RESTORE_S_REGS " ret\n"

/* flags_loop_a(x, n), flags_loop_b(x, n): return their sums (see the models below). */
uint64_t flags_loop_a(uint64_t x, uint64_t n);
uint64_t flags_loop_b(uint64_t x, uint64_t n);
__asm__(".text\n"
        ".globl flags_loop_a\n"
        "flags_loop_a:\n" LOOP_HEAD
        /* blt, then bltu swapped (s0 >u s1) */
        " blt s0, s1, 11f\n"
        " bltu s1, s0, 12f\n"
        " addi t0, t0, 1\n"
        " j 2f\n"
        "11: addi t0, t0, 2\n"
        " j 2f\n"
        "12: addi t0, t0, 3\n"
        /* blt, then bge swapped (s0 <= s1) */
        "2: blt s0, s1, 21f\n"
        " bge s1, s0, 22f\n"
        " addi t0, t0, 5\n"
        " j 3f\n"
        "21: addi t0, t0, 7\n"
        " j 3f\n"
        "22: addi t0, t0, 11\n"
        /* bne, then blt swapped (s0 > s1), unless x & 16 jumps straight to that blt: a jump target
         * (its flags come from elsewhere) */
        "3: andi t2, a0, 16\n"
        " bnez t2, 34f\n"
        " bne s0, s1, 31f\n"
        "34: blt s1, s0, 32f\n"
        " addi t0, t0, 13\n"
        " j 4f\n"
        "31: blt s1, s0, 32f\n"
        " addi t0, t0, 17\n"
        " j 4f\n"
        "32: addi t0, t0, 19\n"
        /* bltu, then bgeu swapped (s0 <=u s1) */
        "4: bltu s0, s1, 41f\n"
        " bgeu s1, s0, 42f\n"
        " addi t0, t0, 23\n"
        " j 5f\n"
        "41: addi t0, t0, 29\n"
        " j 5f\n"
        "42: addi t0, t0, 31\n"
        /* bgeu, then bltu in the same order (always taken) */
        "5: bgeu s0, s1, 51f\n"
        " bltu s0, s1, 52f\n"
        " addi t0, t0, 37\n"
        " j 99f\n"
        "51: addi t0, t0, 41\n"
        " j 99f\n"
        "52: addi t0, t0, 43\n" LOOP_TAIL);
__asm__(".text\n"
        ".globl flags_loop_b\n"
        "flags_loop_b:\n" LOOP_HEAD
        /* bgez, then bgtz (x0 first: swapped against the test) */
        " bgez s0, 61f\n"
        " bgtz s0, 62f\n"
        " addi t0, t0, 47\n"
        " j 7f\n"
        "61: bgtz s0, 62f\n"
        " addi t0, t0, 53\n"
        " j 7f\n"
        "62: addi t0, t0, 59\n"
        /* bge, then blt in the same order */
        "7: bge s0, s1, 71f\n"
        " blt s0, s1, 72f\n"
        " addi t0, t0, 61\n"
        " j 8f\n"
        "71: addi t0, t0, 67\n"
        " j 8f\n"
        "72: addi t0, t0, 71\n"
        /* bltu, then beq swapped */
        "8: bltu s0, s1, 81f\n"
        " beq s1, s0, 82f\n"
        " addi t0, t0, 73\n"
        " j 9f\n"
        "81: addi t0, t0, 79\n"
        " j 9f\n"
        "82: addi t0, t0, 83\n"
        /* blt, then bne swapped */
        "9: blt s0, s1, 91f\n"
        " bne s1, s0, 92f\n"
        " addi t0, t0, 89\n"
        " j 99f\n"
        "91: addi t0, t0, 97\n"
        " j 99f\n"
        "92: addi t0, t0, 101\n" LOOP_TAIL);

/* flags_loop_c(x, n): a branch on zero right after the add, sub or logic operation that wrote its
 * register takes that operation's flags (W ones: of the low half, which is zero or negative when
 * the sign-extended value is); each branch not taken adds its constant to t0. The last branch is
 * also a jump target, reached with other flags (see model_c). */
uint64_t flags_loop_c(uint64_t x, uint64_t n);
__asm__(".text\n"
        ".globl flags_loop_c\n"
        "flags_loop_c:\n" LOOP_HEAD " addw t1, s0, s1\n"
        " beqz t1, 101f\n"
        " addi t0, t0, 2\n"
        "101: sub t1, s0, s1\n"
        " bltz t1, 102f\n"
        " addi t0, t0, 3\n"
        "102: addiw t1, s0, 1\n"
        " bgez t1, 103f\n"
        " addi t0, t0, 5\n"
        "103: and t1, s0, s1\n"
        " bnez t1, 104f\n"
        " addi t0, t0, 7\n"
        "104: slli t2, s0, 31\n"
        " addw t1, t2, t2\n" /* low half zero, not the whole sum */
        " bnez t1, 105f\n"
        " addi t0, t0, 11\n"
        "105: slli t2, s0, 30\n"
        " addw t1, t2, t2\n" /* negative when s0 is odd, whatever the whole sum's sign */
        " bltz t1, 106f\n"
        " addi t0, t0, 13\n"
        "106: xor t1, s0, s1\n"
        " bgez t1, 107f\n"
        " addi t0, t0, 17\n"
        "107: or t1, s0, s1\n"
        " beqz t1, 108f\n"
        " addi t0, t0, 19\n"
        "108: subw t1, s1, s0\n"
        " bltz t1, 109f\n"
        " addi t0, t0, 23\n"
        "109: andi t2, a0, 32\n"
        " bnez t2, 2f\n"
        " add t1, s0, s1\n"
        "2: beqz t1, 99f\n"
        " addi t0, t0, 29\n" LOOP_TAIL);

/* The loops in C. */
static uint64_t step(uint64_t x)
{
	x = loop_step(x);
	return x ^ x >> 17;
}
static uint64_t model_a(uint64_t x, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--, x = step(x)) {
		const int64_t a = (int64_t)(x & 3) - 1, b = (int64_t)((x >> 2) & 3) - 1;
		const uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
		sum += a < b ? 2 : ub < ua ? 3 : 1;
		sum += a < b ? 7 : b >= a ? 11 : 5;
		sum += (x & 16) || a == b ? (b < a ? 19 : 13) : (b < a ? 19 : 17);
		sum += ua < ub ? 29 : ub >= ua ? 31 : 23;
		sum += ua >= ub ? 41 : ua < ub ? 43 : 37;
		sum = sum << 1 | sum >> 63;
	}
	return sum;
}
static uint64_t model_b(uint64_t x, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--, x = step(x)) {
		const int64_t a = (int64_t)(x & 3) - 1, b = (int64_t)((x >> 2) & 3) - 1;
		const uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
		sum += a >= 0 ? (a > 0 ? 59 : 53) : (a > 0 ? 59 : 47);
		sum += a >= b ? 67 : a < b ? 71 : 61;
		sum += ua < ub ? 79 : b == a ? 83 : 73;
		sum += a < b ? 97 : b != a ? 101 : 89;
		sum = sum << 1 | sum >> 63;
	}
	return sum;
}

static uint64_t model_c(uint64_t x, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--, x = step(x)) {
		const int64_t a = (int64_t)(x & 3) - 1, b = (int64_t)((x >> 2) & 3) - 1;
		sum += (int32_t)(a + b) != 0 ? 2 : 0;
		sum += a - b >= 0 ? 3 : 0;
		sum += (int32_t)(a + 1) < 0 ? 5 : 0;
		sum += (a & b) == 0 ? 7 : 0;
		sum += 11; /* (a << 31) * 2 has a zero low half */
		sum += (a & 1) == 0 ? 13 : 0;
		sum += (a ^ b) < 0 ? 17 : 0;
		sum += (a | b) != 0 ? 19 : 0;
		const int64_t t = (int32_t)(b - a);
		sum += t >= 0 ? 23 : 0;
		sum += ((x & 32) ? t : a + b) != 0 ? 29 : 0;
		sum = sum << 1 | sum >> 63;
	}
	return sum;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	const uint64_t x = LOOP_SEED;
	uint64_t got = flags_loop_a(x, ITERATIONS);
	EXPECT(got == model_a(x, ITERATIONS), "the sum through the first loop's pairs of branches", got);
	got = flags_loop_b(x, ITERATIONS);
	EXPECT(got == model_b(x, ITERATIONS), "the sum through the second loop's pairs of branches", got);
	got = flags_loop_c(x, ITERATIONS);
	EXPECT(got == model_c(x, ITERATIONS), "the sum through the third loop's branches on zero", got);
	put("PASS flags\n");
	plat_exit(0);
}
