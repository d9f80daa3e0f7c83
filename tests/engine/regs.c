/*
 * regs.c — a hot loop that names many guest registers but none of sp and
 * a0-a5 (the translator's pinned ones), so its block lends their host
 * registers to the others, and leaves through every kind of way out: a
 * helper call (div, mulhsu), an instruction the interpreter runs (a CSR
 * read), a load across a page boundary (the TLB miss path), a side exit and
 * the loop's end. sp and a0-a5 must come out as they went in, and the sum as
 * the same C computes.
 */
#include "engine.h"

#define PASSES 600
#define ROUNDS 1000

static uint8_t bytes[2 * 4096] __attribute__((aligned(4096)));

/* The loop in C. */
static uint64_t model(uint64_t ms, uint64_t seed)
{
	uint64_t s0 = seed;
	int32_t word = (int32_t)((uint32_t)bytes[4094] | (uint32_t)bytes[4095] << 8 |
	                         (uint32_t)bytes[4096] << 16 | (uint32_t)bytes[4097] << 24);
	for (uint64_t t0 = ROUNDS; t0 != 0; t0--) {
		uint64_t s1 = (uint64_t)((int64_t)t0 / 3);
		s0 += s1 + ms + (uint64_t)(int64_t)word;
		uint64_t s6 = s0 ^ t0, s7 = s6 + s1, s8 = s7 - ms, s9 = s8 | (uint64_t)(int64_t)word;
		uint64_t s10 = s9 & s0, s11 = s10 + s6;
		uint64_t t2 = s11 + s7, t3 = t2 + s8, t4 = t3 + s9, t5 = t4 + s10, t6 = t5 + s11;
		uint64_t hi = (uint64_t)(((__int128)(int64_t)t6 * (unsigned __int128)s7) >> 64); /* mulhsu */
		s0 += t6 ^ hi;
		if (s0 & 1) s0 += 7; /* a side exit when translated */
	}
	return s0;
}

/* What regs_loop reads and writes: the CSR value, the load's address, the seed, the sum; then where it
 * keeps s0-s11. */
struct regs_io {
	uint64_t ms, p, seed, sum, saved[12];
};
struct regs_io regs_io;

/* The loop, on its own (no compiler code after it names sp or a0-a5): reads and writes regs_io,
 * keeps s0-s11, names neither sp nor a0-a5. */
__asm__(".text\n"
        ".globl regs_loop\n"
        "regs_loop:\n"
        " la t6, regs_io\n"
        " sd s0, 32(t6)\n sd s1, 40(t6)\n sd s2, 48(t6)\n sd s3, 56(t6)\n"
        " sd s4, 64(t6)\n sd s5, 72(t6)\n sd s6, 80(t6)\n sd s7, 88(t6)\n"
        " sd s8, 96(t6)\n sd s9, 104(t6)\n sd s10, 112(t6)\n sd s11, 120(t6)\n"
        " ld t1, 0(t6)\n"
        " csrw mscratch, t1\n"
        " ld s5, 8(t6)\n"
        " ld s0, 16(t6)\n"
        " li t0, 1000\n" /* ROUNDS */
        " li s2, 3\n"
        "1: div s1, t0, s2\n"
        " csrr t1, mscratch\n"
        " lw s4, 0(s5)\n"
        " add s0, s0, s1\n"
        " add s0, s0, t1\n"
        " add s0, s0, s4\n"
        " xor s6, s0, t0\n"
        " add s7, s6, s1\n"
        " sub s8, s7, t1\n"
        " or s9, s8, s4\n"
        " and s10, s9, s0\n"
        " add s11, s10, s6\n"
        " add t2, s11, s7\n"
        " add t3, t2, s8\n"
        " add t4, t3, s9\n"
        " add t5, t4, s10\n"
        " add t6, t5, s11\n"
        " mulhsu s3, t6, s7\n"
        " xor s3, s3, t6\n"
        " add s0, s0, s3\n"
        " andi s3, s0, 1\n"
        " beqz s3, 2f\n"
        " addi s0, s0, 7\n"
        "2: addi t0, t0, -1\n"
        " bnez t0, 1b\n"
        " la t6, regs_io\n"
        " sd s0, 24(t6)\n"
        " ld s0, 32(t6)\n ld s1, 40(t6)\n ld s2, 48(t6)\n ld s3, 56(t6)\n"
        " ld s4, 64(t6)\n ld s5, 72(t6)\n ld s6, 80(t6)\n ld s7, 88(t6)\n"
        " ld s8, 96(t6)\n ld s9, 104(t6)\n ld s10, 112(t6)\n ld s11, 120(t6)\n"
        " ret\n");

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	for (unsigned k = 0; k < sizeof(bytes); k++) bytes[k] = (uint8_t)(k * 7 + 3);
	uint64_t sp_before, sp_after;
	__asm__ volatile("mv %0, sp" : "=r"(sp_before));
	for (unsigned pass = 0; pass < PASSES; pass++) {
		regs_io.ms = 0x1234567 + pass;
		regs_io.p = (uint64_t)(uintptr_t)(bytes + 4094);
		regs_io.seed = pass * 0x9e3779b97f4a7c15ULL;
		register uint64_t a0 __asm__("a0") = 0xa0a0a0a0a0a0a0a0ULL + pass;
		register uint64_t a1 __asm__("a1") = 0xa1a1a1a1a1a1a1a1ULL;
		register uint64_t a2 __asm__("a2") = 0xa2a2a2a2a2a2a2a2ULL;
		register uint64_t a3 __asm__("a3") = 0xa3a3a3a3a3a3a3a3ULL;
		register uint64_t a4 __asm__("a4") = 0xa4a4a4a4a4a4a4a4ULL;
		register uint64_t a5 __asm__("a5") = 0xa5a5a5a5a5a5a5a5ULL + pass;
		__asm__ volatile("call regs_loop"
		                 : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5)
		                 :
		                 : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "memory");
		__asm__ volatile("mv %0, sp" : "=r"(sp_after));
		EXPECT(a0 == 0xa0a0a0a0a0a0a0a0ULL + pass, "a0 kept", a0);
		EXPECT(a1 == 0xa1a1a1a1a1a1a1a1ULL, "a1 kept", a1);
		EXPECT(a2 == 0xa2a2a2a2a2a2a2a2ULL, "a2 kept", a2);
		EXPECT(a3 == 0xa3a3a3a3a3a3a3a3ULL, "a3 kept", a3);
		EXPECT(a4 == 0xa4a4a4a4a4a4a4a4ULL, "a4 kept", a4);
		EXPECT(a5 == 0xa5a5a5a5a5a5a5a5ULL + pass, "a5 kept", a5);
		EXPECT(sp_after == sp_before, "sp kept", sp_after);
		if (pass % 100 == 0)
			EXPECT(regs_io.sum == model(regs_io.ms, regs_io.seed), "the loop's sum", pass);
	}
	put("PASS regs\n");
	plat_exit(0);
}
