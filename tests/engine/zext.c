/*
 * zext.c — gcc's zero-extension (slli 32, then srli 29-32) with other
 * instructions between the two shifts: the translator computes the srli from
 * the slli's source (plan_zext) and drops the slli where the srli overwrites
 * its result. Covers two interleaved pairs, an srli into another register,
 * the slli's source written in between, its result read in between (both:
 * not merged), a load in between (not merged: it may trap) and an srli that
 * is a jump target; the slli's source from an and, or or andi right before
 * it (whose upper half is read later, overwritten by the srli, zero, or
 * not); an and, addw or mul into a host register whose result only the pair
 * reads (computed 32 bits wide, so the srli needs no zero-extension) and
 * such a pair that a jump from elsewhere reaches. Values have their upper
 * halves set. The sum must be the one C computes.
 */
#include "engine.h"

#define ITERATIONS 20000

/* zext_loop(x, buf, n): returns the sum (see the model below); buf holds 8 words. */
uint64_t zext_loop(uint64_t x, const uint64_t *buf, uint64_t n);
__asm__(".text\n"
        ".globl zext_loop\n"
        "zext_loop:\n" SAVE_S_REGS " li t0, 0\n"
        "1: srli t5, a0, 3\n"
        " xor a4, a0, t5\n"
        /* two pairs interleaved, the second scaled by 4 */
        " slli a4, a4, 32\n"
        " slli t3, t5, 32\n"
        " srli a4, a4, 32\n"
        " srli t3, t3, 30\n"
        " add t0, t0, a4\n"
        " xor t0, t0, t3\n"
        /* into another register, register operations between */
        " slli s2, a0, 32\n"
        " addi t1, t5, 7\n"
        " xor t2, t1, a0\n"
        " srli s3, s2, 31\n"
        " add t0, t0, s3\n"
        " add t0, t0, s2\n"
        " add t0, t0, t2\n"
        /* the source written in between: not merged */
        " slli s4, t5, 32\n"
        " addi t5, t5, 1\n"
        " srli s4, s4, 32\n"
        " add t0, t0, s4\n"
        " xor t0, t0, t5\n"
        /* the result read in between: not merged */
        " slli s5, a0, 32\n"
        " xor t0, t0, s5\n"
        " srli s5, s5, 29\n"
        " add t0, t0, s5\n"
        /* a load in between: not merged */
        " slli s6, t5, 32\n"
        " andi t1, a0, 56\n"
        " add t1, t1, a1\n"
        " ld t2, 0(t1)\n"
        " srli s6, s6, 32\n"
        " add t0, t0, s6\n"
        " add t0, t0, t2\n"
        /* the srli a jump target: not merged */
        " slli s7, a0, 32\n"
        " andi t1, a0, 64\n"
        " beqz t1, 2f\n"
        " slli s7, t5, 32\n"
        "2: srli s7, s7, 32\n"
        " xor t0, t0, s7\n"
        /* the source from an and whose upper half is read later */
        " and s8, a0, t5\n"
        " slli s9, s8, 32\n"
        " srli s10, s9, 31\n"
        " add t0, t0, s10\n"
        " add t0, t0, s8\n"
        " add t0, t0, s9\n"
        /* the source from an or that the srli overwrites */
        " or s8, a0, t5\n"
        " slli s9, s8, 32\n"
        " srli s8, s9, 30\n"
        " add t0, t0, s8\n"
        " xor t0, t0, s9\n"
        /* the source from an andi with a non-negative immediate (its upper half zero) */
        " andi s8, a0, 0x7ff\n"
        " slli s9, s8, 32\n"
        " srli s8, s9, 31\n"
        " add t0, t0, s8\n"
        " add t0, t0, s9\n"
        /* ... and from one with a negative immediate: its upper half is a0's */
        " andi s8, a0, -16\n"
        " slli s9, s8, 32\n"
        " srli s8, s9, 32\n"
        " add t0, t0, s8\n"
        " xor t0, t0, s9\n"
        /* into a host register: an and the srli overwrites (32 bits wide, zeros above: no
         * zero-extension left), as in gzip's hash chain */
        " and a5, a0, t5\n"
        " slli a4, a5, 32\n"
        " srli a5, a4, 31\n"
        " add t0, t0, a5\n"
        " xor t0, t0, a4\n"
        /* ... an addw, a mul */
        " addw a5, a0, t5\n"
        " slli a5, a5, 32\n"
        " srli a5, a5, 32\n"
        " add t0, t0, a5\n"
        " mul a5, a0, t5\n"
        " slli a4, a5, 32\n"
        " srli a5, a4, 32\n"
        " add t0, t0, a5\n"
        " xor t0, t0, a4\n"
        /* ... a jump to the slli from where a5 has its upper half: zero-extended there */
        " andi t1, a0, 128\n"
        " mv a5, a0\n"
        " bnez t1, 3f\n"
        " addw a5, a0, t5\n"
        "3: slli a4, a5, 32\n"
        " srli a5, a4, 32\n"
        " add t0, t0, a5\n"
        " xor t0, t0, a4\n" LOOP_STEP_A0 " addi a2, a2, -1\n"
        " bnez a2, 1b\n"
        " mv a0, t0\n" RESTORE_S_REGS " ret\n");

/* The loop in C. */
static uint64_t model(uint64_t x, const uint64_t *buf, uint64_t n)
{
	uint64_t sum = 0;
	for (; n; n--) {
		uint64_t t5 = x >> 3;
		sum += (uint32_t)(x ^ t5);
		sum ^= (uint64_t)(uint32_t)t5 << 2;
		sum += (uint64_t)(uint32_t)x << 1;
		sum += x << 32;
		sum += (t5 + 7) ^ x;
		sum += (uint32_t)t5;
		t5++;
		sum ^= t5;
		sum ^= x << 32;
		sum += (uint64_t)(uint32_t)x << 3;
		sum += (uint32_t)t5;
		sum += buf[(x & 56) / 8];
		sum ^= (uint32_t)(x & 64 ? t5 : x);
		uint64_t s8 = x & t5;
		sum += (uint64_t)(uint32_t)s8 << 1;
		sum += s8;
		sum += s8 << 32;
		s8 = x | t5;
		sum += (uint64_t)(uint32_t)s8 << 2;
		sum ^= s8 << 32;
		s8 = x & 0x7ff;
		sum += s8 << 1;
		sum += s8 << 32;
		s8 = x & ~(uint64_t)15;
		sum += (uint32_t)s8;
		sum ^= s8 << 32;
		sum += (uint64_t)(uint32_t)(x & t5) << 1;
		sum ^= (x & t5) << 32;
		sum += (uint32_t)(x + t5);
		sum += (uint32_t)(x * t5);
		sum ^= (x * t5) << 32;
		const uint64_t a5 = x & 128 ? x : x + t5;
		sum += (uint32_t)a5;
		sum ^= a5 << 32;
		x = loop_step(x);
	}
	return sum;
}

int main(unsigned long hartid)
{
	check_loop(hartid, zext_loop, model, ITERATIONS, "the sum through zero-extensions", "PASS zext\n");
}
