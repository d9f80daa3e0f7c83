/*
 * rotate.c — rotates by a constant as gcc writes them without Zbb (a left
 * and a right shift of one register by complementary counts, then an or):
 * the translator makes the or one host rotate and drops the shifts where no
 * one else reads their results (plan_rotate). Covers 32- and 64-bit
 * rotates, the or's operands either way round, the right shift first,
 * other instructions between, a result read whole or only by W operations;
 * and the cases that must not merge: a shift's result read before the or or
 * after it, the source written between, a load between, counts that do not
 * add up, an or that a jump reaches, a shift's result live at a branch
 * after the or. Also srliw results read whole (their sign extension is a
 * zero-extension). Values have their upper halves set. The sum must be the
 * one C computes.
 */
#include "engine.h"

#define ITERATIONS 20000

/* rotate_loop(x, buf, n): returns the sum (see the model below); buf holds 8 words. */
uint64_t rotate_loop(uint64_t x, const uint64_t *buf, uint64_t n);
__asm__(".text\n"
        ".globl rotate_loop\n"
        "rotate_loop:\n" SAVE_S_REGS " li t0, 0\n"
        "1: srli t5, a0, 3\n"
        /* a 32-bit rotate, read whole */
        " slliw a4, a0, 7\n"
        " srliw t3, a0, 25\n"
        " or a4, a4, t3\n"
        " li t3, 0\n"
        " add t0, t0, a4\n"
        /* a 64-bit rotate into a third register, the operands the other way round, the right shift
         * first, an instruction between */
        " srli s2, t5, 13\n"
        " slli s3, t5, 51\n"
        " addi t2, a0, 5\n"
        " or s4, s2, s3\n"
        " xor s2, t2, a0\n"
        " xori s3, t2, 3\n"
        " xor t0, t0, s4\n"
        " add t0, t0, s2\n"
        " add t0, t0, s3\n"
        /* a 32-bit rotate read only by a W operation */
        " slliw s5, t5, 19\n"
        " srliw s6, t5, 13\n"
        " or s5, s6, s5\n"
        " li s6, 1\n"
        " addw s7, s5, a0\n"
        " li s5, 0\n"
        " add t0, t0, s7\n"
        " add t0, t0, s6\n"
        /* the right shift's result read after the or: not merged */
        " slli s8, a0, 9\n"
        " srli s9, a0, 55\n"
        " or s8, s8, s9\n"
        " xor t0, t0, s9\n"
        " add t0, t0, s8\n"
        /* the left shift's result read before the or: not merged */
        " slliw s8, t5, 3\n"
        " srliw s9, t5, 29\n"
        " add t0, t0, s8\n"
        " or s10, s8, s9\n"
        " li s8, 0\n"
        " li s9, 0\n"
        " xor t0, t0, s10\n"
        /* the source written between: not merged */
        " slliw s8, a0, 11\n"
        " addi a0, a0, 1\n"
        " srliw s9, a0, 21\n"
        " or s10, s8, s9\n"
        " addi a0, a0, -1\n"
        " li s8, 0\n"
        " li s9, 0\n"
        " add t0, t0, s10\n"
        /* a load between: not merged */
        " slli s8, t5, 17\n"
        " andi t1, a0, 56\n"
        " add t1, t1, a1\n"
        " ld t2, 0(t1)\n"
        " srli s9, t5, 47\n"
        " or s10, s8, s9\n"
        " li s8, 0\n"
        " li s9, 0\n"
        " add t0, t0, s10\n"
        " xor t0, t0, t2\n"
        /* counts that do not add up to a rotate: not merged */
        " slliw s8, a0, 5\n"
        " srliw s9, a0, 26\n"
        " or s10, s8, s9\n"
        " li s8, 0\n"
        " li s9, 0\n"
        " add t0, t0, s10\n"
        /* the or a jump target: not merged */
        " slliw s8, t5, 1\n"
        " srliw s9, t5, 31\n"
        " andi t1, a0, 64\n"
        " beqz t1, 2f\n"
        " slliw s8, a0, 1\n"
        " srliw s9, a0, 31\n"
        "2: or s10, s8, s9\n"
        " li s8, 0\n"
        " li s9, 0\n"
        " xor t0, t0, s10\n"
        /* a shift's result live at a branch after the or: not merged */
        " slli s8, a0, 40\n"
        " srli s9, a0, 24\n"
        " or s10, s8, s9\n"
        " andi t1, a0, 128\n"
        " bnez t1, 3f\n"
        " li s9, 0\n"
        "3: add t0, t0, s10\n"
        " add t0, t0, s9\n"
        " li s8, 0\n"
        " li s9, 0\n"
        /* srliw results read whole, and srliw by 0 (a sign extension) */
        " srliw s11, a0, 1\n"
        " add t0, t0, s11\n"
        " srliw s11, t5, 9\n"
        " xor t0, t0, s11\n"
        " srliw s11, a0, 0\n"
        " add t0, t0, s11\n" LOOP_STEP_A0 " addi a2, a2, -1\n"
        " bnez a2, 1b\n"
        " mv a0, t0\n" RESTORE_S_REGS " ret\n");

static uint64_t sext32(uint32_t v)
{
	return (uint64_t)(int64_t)(int32_t)v;
}
static uint32_t rol32(uint32_t v, unsigned n)
{
	return v << n | v >> (32 - n);
}
static uint64_t rol64(uint64_t v, unsigned n)
{
	return v << n | v >> (64 - n);
}

/* The loop in C. */
static uint64_t model(uint64_t x, const uint64_t *buf, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--) {
		const uint64_t t5 = x >> 3;
		sum += sext32(rol32((uint32_t)x, 7));
		const uint64_t t2 = x + 5;
		sum ^= rol64(t5, 51);
		sum += t2 ^ x;
		sum += t2 ^ 3;
		sum += sext32(rol32((uint32_t)t5, 19) + (uint32_t)x);
		sum += 1;
		sum ^= x >> 55;
		sum += rol64(x, 9);
		sum += sext32((uint32_t)t5 << 3);
		sum ^= sext32(rol32((uint32_t)t5, 3));
		sum += sext32((uint32_t)x << 11) | ((uint32_t)(x + 1) >> 21);
		sum += rol64(t5, 17);
		sum ^= buf[(x & 56) / 8];
		sum += sext32((uint32_t)x << 5) | ((uint32_t)x >> 26);
		sum ^= sext32(rol32((uint32_t)(x & 64 ? x : t5), 1));
		sum += rol64(x, 40);
		sum += x & 128 ? x >> 24 : 0;
		sum += (uint32_t)x >> 1;
		sum ^= (uint32_t)t5 >> 9;
		sum += sext32((uint32_t)x);
		x = loop_step(x);
	}
	return sum;
}

int main(unsigned long hartid)
{
	check_loop(hartid, rotate_loop, model, ITERATIONS, "the sum through rotates", "PASS rotate\n");
}
