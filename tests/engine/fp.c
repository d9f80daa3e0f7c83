/*
 * fp.c — translated floating point against the interpreter: a hot function
 * runs F and D arithmetic, fused multiply-adds, compares, conversions and sign
 * injection on edge-case operands (NaNs quiet and signalling, infinities,
 * signed zeros, subnormals, huge values, singles not NaN-boxed) under each
 * dynamic rounding mode, with fflags read, cleared and partly rewritten along
 * the way (frflags, fsflags), and folds every result and flag into a checksum. run.sh compares
 * the checksum printed under the given options with the one under --jit off.
 * It also checks that FS ends dirty when a hot path starting with a compare
 * (which the FP state check sends to the interpreter while FS is clean) goes on
 * with arithmetic.
 */
#include "engine.h"

static const uint64_t operands[] = {
    0x3ff0000000000000ULL, /* 1 */
    0xc004000000000000ULL, /* -2.5 */
    0x7ff8000000000000ULL, /* qNaN */
    0x7ff4000000000000ULL, /* sNaN */
    0x7ff0000000000000ULL, /* +inf */
    0xfff0000000000000ULL, /* -inf */
    0x8000000000000000ULL, /* -0 */
    0x0000000000000001ULL, /* smallest subnormal */
    0x7fefffffffffffffULL, /* largest finite */
    0x41e0000000000000ULL, /* 2^31 */
    0xc1e0000000200000ULL, /* just below -2^31 */
    0x3fb999999999999aULL, /* 0.1 */
    0xffffffff3f800000ULL, /* single 1, boxed */
    0xffffffff7fa00000ULL, /* single sNaN, boxed */
    0xffffffff00000001ULL, /* single subnormal, boxed */
    0x000000003f800000ULL, /* single 1, not boxed */
    0xffffffffcf000001ULL, /* single just below -2^31, boxed */
    0xffffffff7f7fffffULL, /* single largest, boxed */
};
#define N (sizeof(operands) / sizeof(operands[0]))

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL + (h >> 29);
}

/* One pass over a pair of operands: every result and the accrued flags in the checksum. */
static __attribute__((noinline)) uint64_t pass(uint64_t a, uint64_t b, uint64_t c, uint64_t h)
{
	uint64_t r[12], flags, w, l, lt, eq, old, nf = (a ^ b ^ c) & 31;
	__asm__ volatile(
	    "fmv.d.x fa0, %[a]\n fmv.d.x fa1, %[b]\n fmv.d.x fa2, %[c]\n"
	    "fadd.d fa3, fa0, fa1\n fmv.x.d %[r0], fa3\n"
	    "fmul.s fa4, fa0, fa1\n fmv.x.d %[r1], fa4\n"
	    "fmadd.d fa5, fa0, fa1, fa2\n fmv.x.d %[r2], fa5\n"
	    "fnmsub.s fa6, fa1, fa2, fa0\n fmv.x.d %[r3], fa6\n"
	    "fdiv.d fa7, fa0, fa2\n fmv.x.d %[r4], fa7\n"
	    "fsflags %[old], %[nf]\n"
	    "fsqrt.s ft4, fa1\n fmv.x.d %[r5], ft4\n"
	    "fcvt.s.d ft5, fa0\n fmv.x.d %[r6], ft5\n"
	    "fcvt.d.s ft6, fa1\n fmv.x.d %[r7], ft6\n"
	    "fsgnjn.s ft7, fa0, fa2\n fmv.x.d %[r8], ft7\n"
	    "fsgnjx.d ft8, fa1, fa0\n fmv.x.d %[r9], ft8\n"
	    "fsub.s ft9, ft5, fa1\n fmv.x.d %[r10], ft9\n"
	    "fcvt.d.l ft10, %[a]\n fmv.x.d %[r11], ft10\n"
	    "fcvt.w.d %[w], fa0, rtz\n"
	    "fcvt.l.s %[l], fa1\n"
	    "flt.d %[lt], fa0, fa2\n"
	    "feq.s %[eq], fa1, fa2\n"
	    "frflags %[flags]\n"
	    : [r0] "=&r"(r[0]), [r1] "=&r"(r[1]), [r2] "=&r"(r[2]), [r3] "=&r"(r[3]), [r4] "=&r"(r[4]),
	      [r5] "=&r"(r[5]), [r6] "=&r"(r[6]), [r7] "=&r"(r[7]), [r8] "=&r"(r[8]), [r9] "=&r"(r[9]),
	      [r10] "=&r"(r[10]), [r11] "=&r"(r[11]), [w] "=&r"(w), [l] "=&r"(l), [lt] "=&r"(lt),
	      [eq] "=&r"(eq), [flags] "=&r"(flags), [old] "=&r"(old)
	    : [a] "r"(a), [b] "r"(b), [c] "r"(c), [nf] "r"(nf)
	    : "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", "ft4", "ft5", "ft6", "ft7", "ft8",
	      "ft9", "ft10");
	for (unsigned i = 0; i < 12; i++) h = mix(h, r[i]);
	return mix(mix(mix(mix(mix(mix(h, w), l), lt), eq), flags), old);
}

/* flt.d then fadd.d, entered with mstatus.FS clean: FS must end dirty. */
static __attribute__((noinline)) uint64_t compare_then_add(uint64_t a, uint64_t b)
{
	uint64_t lt, status;
	__asm__ volatile(
	    "fmv.d.x fa0, %[a]\n fmv.d.x fa1, %[b]\n"
	    "li t0, 0x6000\n csrc mstatus, t0\n li t0, 0x4000\n csrs mstatus, t0\n" /* FS clean */
	    "flt.d %[lt], fa0, fa1\n fadd.d fa2, fa0, fa1\n"
	    "csrr %[st], mstatus"
	    : [lt] "=&r"(lt), [st] "=&r"(status)
	    : [a] "r"(a), [b] "r"(b)
	    : "t0", "fa0", "fa1", "fa2");
	return (status >> 13 & 3) << 1 | lt;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	uint64_t h = 0xcbf29ce484222325ULL;
	for (unsigned round = 0; round < 40; round++) {
		unsigned rm = round % 5 == 4 ? 0 : round % 5; /* RNE, RTZ, RDN, RUP, RNE */
		__asm__ volatile("fsrm %0" ::"r"(rm));
		for (unsigned i = 0; i < N; i++)
			for (unsigned j = 0; j < N; j++) {
				h = pass(operands[i], operands[j], operands[(i + j + round) % N], h);
				if ((i + j) % 7 == 0)
					__asm__ volatile(
					    "fsflags %0" ::"r"(i & 5)); /* some set, some clear */
			}
	}
	__asm__ volatile("fsrm zero");
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t r = compare_then_add(operands[i % N], operands[(i / N) % N]);
		EXPECT(r >> 1 == 3, "mstatus.FS dirty after flt.d, fadd.d from clean", r);
	}
	put("FPSUM ");
	put_num(h);
	put("\n");
	put("PASS fp\n");
	return 0;
}
