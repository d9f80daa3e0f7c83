/*
 * ext.c — extensions QEMU 7.2 cannot check for us (Zicond, Zfa, Zcb, Zimop,
 * Zicboz), in hot loops: translated after a few iterations, so the same
 * results must come from both engines. Each instruction is written with .insn
 * (binutils 2.40 knows none of them) and checked against C.
 */
#include "engine.h"

static uint64_t czero_eqz(uint64_t a, uint64_t b)
{
	uint64_t r;
	__asm__ volatile(".insn r 0x33, 5, 0x07, %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
	return r;
}

static uint64_t czero_nez(uint64_t a, uint64_t b)
{
	uint64_t r;
	__asm__ volatile(".insn r 0x33, 7, 0x07, %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
	return r;
}

/* c.mul s0, s1 (Zcb) */
static uint64_t c_mul(uint64_t a, uint64_t b)
{
	register uint64_t s0 __asm__("s0") = a;
	register uint64_t s1 __asm__("s1") = b;
	__asm__ volatile(".2byte 0x9c45" : "+r"(s0) : "r"(s1));
	return s0;
}

/* c.zext.h s0, then c.sext.b s0 (Zcb with Zbb) */
static uint64_t c_zext_h_sext_b(uint64_t a)
{
	register uint64_t s0 __asm__("s0") = a;
	__asm__ volatile(".2byte 0x9c69\n .2byte 0x9c65" : "+r"(s0));
	return s0;
}

/* mop.r.0 (Zimop): writes zero */
static uint64_t mop_r(uint64_t a)
{
	uint64_t r = a;
	__asm__ volatile(".insn i 0x73, 4, %0, %1, -2020" : "+r"(r) : "r"(a));
	return r;
}

/* fround.d in rm 2 (down) and 4 (to nearest, ties away), fminm.d, fleq.d, fli.d 0.3125 (Zfa) */
static double fround_dn(double a)
{
	double r;
	__asm__ volatile(".insn r 0x53, 2, 0x21, %0, %1, f4" : "=f"(r) : "f"(a));
	return r;
}

static double fround_mm(double a)
{
	double r;
	__asm__ volatile(".insn r 0x53, 4, 0x21, %0, %1, f4" : "=f"(r) : "f"(a));
	return r;
}

static double fminm(double a, double b)
{
	double r;
	__asm__ volatile(".insn r 0x53, 2, 0x15, %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));
	return r;
}

static uint64_t fleq(double a, double b)
{
	uint64_t r;
	__asm__ volatile(".insn r 0x53, 4, 0x51, %0, %1, %2" : "=r"(r) : "f"(a), "f"(b));
	return r;
}

static double fli_0_3125(void)
{
	double r;
	__asm__ volatile(".insn r 0x53, 0, 0x79, %0, f9, f1" : "=f"(r));
	return r;
}

static uint64_t block[16] __attribute__((aligned(64)));

int main(uint64_t hartid)
{
	if (hartid != 0)
		for (;;) {
		}
	/* menvcfg.CBZE is for lower modes: M-mode may always zero a block. */
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (unsigned i = 0; i < 500; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t a = x, b = i % 3 ? x >> (i & 63) : 0;
		EXPECT(czero_eqz(a, b) == (b ? a : 0), "czero.eqz", i);
		EXPECT(czero_nez(a, b) == (b ? 0 : a), "czero.nez", i);
		EXPECT(c_mul(a, b) == a * b, "c.mul", i);
		EXPECT(c_zext_h_sext_b(a) == (uint64_t)(int64_t)(int8_t)(uint16_t)a, "c.zext.h, c.sext.b", i);
		EXPECT(mop_r(a) == 0, "mop.r.0", i);
		double d = (double)(int64_t)(a >> 40) / 7.0 - 1000.0, e = (double)i / 2.0 - 100.0;
		double dn = (double)(int64_t)d;
		if (dn > d) dn -= 1; /* floor */
		EXPECT(fround_dn(d) == dn, "fround.d rdn", i);
		double ties = e < 0 ? -(double)(int64_t)(-e + 0.5) : (double)(int64_t)(e + 0.5);
		EXPECT(fround_mm(e) == ties, "fround.d rmm", i);
		EXPECT(fminm(d, e) == (d < e ? d : e), "fminm.d", i);
		EXPECT(fleq(d, e) == (d <= e), "fleq.d", i);
		EXPECT(fli_0_3125() == 0.3125, "fli.d", i);
		for (unsigned k = 0; k < 16; k++) block[k] = a + k;
		uint64_t *p = &block[8];
		__asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"((uintptr_t)p + (i & 63))
		                 : "memory"); /* cbo.zero */
		for (unsigned k = 0; k < 16; k++)
			EXPECT(block[k] == (k >= 8 ? 0 : a + k), "cbo.zero zeroes its 64-byte block only", k);
	}
	put("PASS ext\n");
	plat_exit(0);
}
