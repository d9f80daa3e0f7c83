/*
 * prog.c — differential test program. Runs integer, M, A, F and D
 * instructions on edge-case and pseudo-random operands (rounding modes and
 * exception flags included) and prints every result. The same program runs
 * under qemu-riscv64 (the reference) and under cloison; outputs must match.
 * Built for a -march with Zba, Zbb, Zbc and Zbs, it runs theirs too (and the
 * compiler uses them throughout); with Zfh, the half-precision instructions.
 *
 * Not covered here: round-to-nearest-max-magnitude (RMM) for FP arithmetic
 * (cloison rounds those to nearest-even, see fpu.c); RMM conversions are.
 *
 * Left as written: clang-format 14 does not settle on one layout for the
 * long runs of table-generating macro calls below.
 */
/* clang-format off */
#include "platform.h"

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t u64;

/* ---- output ---------------------------------------------------------------- */
static char outbuf[4096];
static unsigned outlen;

static void flush(void)
{
	plat_write(outbuf, outlen);
	outlen = 0;
}

static void put_char(char c)
{
	if (outlen == sizeof(outbuf)) flush();
	outbuf[outlen++] = c;
}

static void put_str(const char *s)
{
	while (*s) put_char(*s++);
}

static void put_hex(u64 v)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 60; i >= 0; i -= 4) put_char(digits[(v >> i) & 15]);
}

static void line(const char *op, u64 a, u64 b, u64 r, u64 flags)
{
	put_str(op);
	put_char(' ');
	put_hex(a);
	put_char(' ');
	put_hex(b);
	put_str(" -> ");
	put_hex(r);
	put_char(' ');
	put_hex(flags);
	put_char('\n');
}

/* ---- operands -------------------------------------------------------------- */
static u64 rng = 0x9e3779b97f4a7c15ULL;
static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const u64 int_specials[] = {
    0,
    1,
    2,
    ~0ULL,
    ~1ULL,
    0x7fffffffffffffffULL,
    0x8000000000000000ULL,
    0x7fffffffULL,
    0x80000000ULL,
    0xffffffffULL,
    0xffffffff80000000ULL,
    0x100000000ULL,
    63,
    64,
    31,
    32,
    0x5555555555555555ULL,
};
#define NSPEC(a) (sizeof(a) / sizeof((a)[0]))

static u64 int_operand(unsigned i)
{
	return i < NSPEC(int_specials) ? int_specials[i] : rnd() >> (rnd() & 63);
}

static const u64 dbl_specials[] = {
    0x0000000000000000ULL, /* +0 */
    0x8000000000000000ULL, /* -0 */
    0x3ff0000000000000ULL, /* 1 */
    0xbff0000000000000ULL, /* -1 */
    0x7ff0000000000000ULL, /* +inf */
    0xfff0000000000000ULL, /* -inf */
    0x7ff8000000000000ULL, /* qNaN */
    0x7ff0000000000001ULL, /* sNaN */
    0x0000000000000001ULL, /* min subnormal */
    0x7fefffffffffffffULL, /* max */
    0x3ff8000000000000ULL, /* 1.5 */
    0x4004000000000000ULL, /* 2.5 */
    0xc004000000000000ULL, /* -2.5 */
    0x3fb999999999999aULL, /* 0.1 */
    0x43e0000000000000ULL, /* 2^63 */
    0x43f0000000000000ULL, /* 2^64 */
    0xc3e0000000000000ULL, /* -2^63 */
    0x41e0000000000000ULL, /* 2^31 */
    0xc1e0000000200000ULL, /* -2^31 - 1 */
    0x41efffffffe00000ULL, /* 2^32 - 1 */
    0x3ca0000000000000ULL, /* 2^-53 */
    0x0010000000000000ULL, /* min normal */
};

static const uint32_t flt_specials[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000,
    0x7f800001, 0x00000001, 0x7f7fffff, 0x3fc00000, 0x40200000, 0xc0200000, 0x3dcccccd,
    0x5f000000, 0x5f800000, 0xdf000000, 0x4f000000, 0xcf000001, 0x33800000, 0x00800000,
};

static u64 dbl_operand(unsigned i)
{
	if (i < NSPEC(dbl_specials)) return dbl_specials[i];
	u64 r = rnd();
	/* Keep exponents near each other often, so additions round. */
	if (r & 1) r = (r & 0x800fffffffffffffULL) | (0x3f0ULL + (rnd() & 0x1f)) << 52;
	return r;
}

static u64 flt_operand(unsigned i)
{
	uint32_t v;
	if (i < NSPEC(flt_specials))
		v = flt_specials[i];
	else {
		v = (uint32_t)rnd();
		if (v & 1) v = (v & 0x807fffffu) | (uint32_t)(0x70 + (rnd() & 0x1f)) << 23;
	}
	return 0xffffffff00000000ULL | v;
}

/* ---- integer --------------------------------------------------------------- */
#define RR(name, insn)                                                                                       \
	static u64 name(u64 a, u64 b)                                                                        \
	{                                                                                                    \
		u64 r;                                                                                       \
		__asm__ volatile(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));                             \
		return r;                                                                                    \
	}
RR(op_add, "add")
RR(op_sub, "sub") RR(op_sll, "sll") RR(op_srl, "srl") RR(op_sra, "sra") RR(op_slt, "slt") RR(op_sltu, "sltu")
    RR(op_xor, "xor") RR(op_or, "or") RR(op_and, "and") RR(op_mul, "mul") RR(op_mulh, "mulh")
        RR(op_mulhsu, "mulhsu") RR(op_mulhu, "mulhu") RR(op_div, "div") RR(op_divu, "divu") RR(op_rem, "rem")
            RR(op_remu, "remu") RR(op_addw, "addw") RR(op_subw, "subw") RR(op_sllw, "sllw")
                RR(op_srlw, "srlw") RR(op_sraw, "sraw") RR(op_mulw, "mulw") RR(op_divw, "divw")
                    RR(op_divuw, "divuw") RR(op_remw, "remw") RR(op_remuw, "remuw")

#define RI(name, insn)                                                                                       \
	static u64 name(u64 a, u64 b)                                                                        \
	{                                                                                                    \
		u64 r;                                                                                       \
		(void)b;                                                                                     \
		__asm__ volatile(insn : "=r"(r) : "r"(a));                                                   \
		return r;                                                                                    \
	}
                        RI(op_addi, "addi %0, %1, -2048") RI(op_slti, "slti %0, %1, 2047")
                            RI(op_sltiu, "sltiu %0, %1, -1") RI(op_xori, "xori %0, %1, -1")
                                RI(op_slli, "slli %0, %1, 63") RI(op_srli, "srli %0, %1, 33")
                                    RI(op_srai, "srai %0, %1, 47") RI(op_addiw, "addiw %0, %1, 2047")
                                        RI(op_slliw, "slliw %0, %1, 31") RI(op_srliw, "srliw %0, %1, 1")
                                            RI(op_sraiw, "sraiw %0, %1, 31") RI(op_lui, "lui %0, 0x80000")

                                                struct int_op {
	const char *name;
	u64 (*fn)(u64, u64);
};
static const struct int_op int_ops[] = {
    {"add", op_add},     {"sub", op_sub},     {"sll", op_sll},       {"srl", op_srl},     {"sra", op_sra},
    {"slt", op_slt},     {"sltu", op_sltu},   {"xor", op_xor},       {"or", op_or},       {"and", op_and},
    {"mul", op_mul},     {"mulh", op_mulh},   {"mulhsu", op_mulhsu}, {"mulhu", op_mulhu}, {"div", op_div},
    {"divu", op_divu},   {"rem", op_rem},     {"remu", op_remu},     {"addw", op_addw},   {"subw", op_subw},
    {"sllw", op_sllw},   {"srlw", op_srlw},   {"sraw", op_sraw},     {"mulw", op_mulw},   {"divw", op_divw},
    {"divuw", op_divuw}, {"remw", op_remw},   {"remuw", op_remuw},   {"addi", op_addi},   {"slti", op_slti},
    {"sltiu", op_sltiu}, {"xori", op_xori},   {"slli", op_slli},     {"srli", op_srli},   {"srai", op_srai},
    {"addiw", op_addiw}, {"slliw", op_slliw}, {"srliw", op_srliw},   {"sraiw", op_sraiw}, {"lui", op_lui},
};

#if defined(__riscv_zba) && defined(__riscv_zbb) && defined(__riscv_zbc) && defined(__riscv_zbs)
RR(op_sh1add, "sh1add") RR(op_sh2add, "sh2add") RR(op_sh3add, "sh3add") RR(op_adduw, "add.uw")
RR(op_sh1adduw, "sh1add.uw") RR(op_sh2adduw, "sh2add.uw") RR(op_sh3adduw, "sh3add.uw")
RR(op_andn, "andn") RR(op_orn, "orn") RR(op_xnor, "xnor") RR(op_min, "min") RR(op_minu, "minu")
RR(op_max, "max") RR(op_maxu, "maxu") RR(op_rol, "rol") RR(op_ror, "ror") RR(op_rolw, "rolw")
RR(op_rorw, "rorw") RR(op_clmul, "clmul") RR(op_clmulh, "clmulh") RR(op_clmulr, "clmulr")
RR(op_bclr, "bclr") RR(op_bset, "bset") RR(op_binv, "binv") RR(op_bext, "bext")
RI(op_slliuw, "slli.uw %0, %1, 7") RI(op_clz, "clz %0, %1") RI(op_ctz, "ctz %0, %1") RI(op_cpop, "cpop %0, %1")
RI(op_clzw, "clzw %0, %1") RI(op_ctzw, "ctzw %0, %1") RI(op_cpopw, "cpopw %0, %1")
RI(op_sextb, "sext.b %0, %1") RI(op_sexth, "sext.h %0, %1") RI(op_zexth, "zext.h %0, %1")
RI(op_orcb, "orc.b %0, %1") RI(op_rev8, "rev8 %0, %1") RI(op_rori, "rori %0, %1, 13")
RI(op_roriw, "roriw %0, %1, 31") RI(op_bclri, "bclri %0, %1, 63") RI(op_bseti, "bseti %0, %1, 31")
RI(op_binvi, "binvi %0, %1, 0") RI(op_bexti, "bexti %0, %1, 32")
static const struct int_op zb_ops[] = {
    {"sh1add", op_sh1add}, {"sh2add", op_sh2add}, {"sh3add", op_sh3add}, {"add.uw", op_adduw},
    {"sh1add.uw", op_sh1adduw}, {"sh2add.uw", op_sh2adduw}, {"sh3add.uw", op_sh3adduw},
    {"andn", op_andn}, {"orn", op_orn}, {"xnor", op_xnor}, {"min", op_min}, {"minu", op_minu},
    {"max", op_max}, {"maxu", op_maxu}, {"rol", op_rol}, {"ror", op_ror}, {"rolw", op_rolw},
    {"rorw", op_rorw}, {"clmul", op_clmul}, {"clmulh", op_clmulh}, {"clmulr", op_clmulr},
    {"bclr", op_bclr}, {"bset", op_bset}, {"binv", op_binv}, {"bext", op_bext},
    {"slli.uw", op_slliuw}, {"clz", op_clz}, {"ctz", op_ctz}, {"cpop", op_cpop}, {"clzw", op_clzw},
    {"ctzw", op_ctzw}, {"cpopw", op_cpopw}, {"sext.b", op_sextb}, {"sext.h", op_sexth},
    {"zext.h", op_zexth}, {"orc.b", op_orcb}, {"rev8", op_rev8}, {"rori", op_rori},
    {"roriw", op_roriw}, {"bclri", op_bclri}, {"bseti", op_bseti}, {"binvi", op_binvi},
    {"bexti", op_bexti},
};
#endif

static void test_integer(void)
{
	for (unsigned i = 0; i < 40; i++) {
		u64 a = int_operand(i), b = int_operand((i * 7 + 3) % 40);
		for (unsigned k = 0; k < NSPEC(int_ops); k++)
			line(int_ops[k].name, a, b, int_ops[k].fn(a, b), 0);
#ifdef __riscv_zbb
		for (unsigned k = 0; k < NSPEC(zb_ops); k++)
			line(zb_ops[k].name, a, b, zb_ops[k].fn(a, b), 0);
#endif
	}
}

/* ---- memory and atomics ----------------------------------------------------- */
static u64 mem[64];

static void test_memory(void)
{
	unsigned char *p = (unsigned char *)mem;
	for (unsigned i = 0; i < 64; i++) mem[i] = rnd();
	/* Misaligned and sign-extending loads. */
	for (unsigned off = 0; off < 16; off++) {
		u64 lb, lh, lw, ld, lbu, lhu, lwu;
		__asm__ volatile("lb %0, 0(%1)" : "=r"(lb) : "r"(p + off));
		__asm__ volatile("lh %0, 0(%1)" : "=r"(lh) : "r"(p + off));
		__asm__ volatile("lw %0, 0(%1)" : "=r"(lw) : "r"(p + off));
		__asm__ volatile("ld %0, 0(%1)" : "=r"(ld) : "r"(p + off));
		__asm__ volatile("lbu %0, 0(%1)" : "=r"(lbu) : "r"(p + off));
		__asm__ volatile("lhu %0, 0(%1)" : "=r"(lhu) : "r"(p + off));
		__asm__ volatile("lwu %0, 0(%1)" : "=r"(lwu) : "r"(p + off));
		line("lb", off, 0, lb, 0);
		line("lh", off, 0, lh, 0);
		line("lw", off, 0, lw, 0);
		line("ld", off, 0, ld, 0);
		line("lbu", off, 0, lbu, 0);
		line("lhu", off, 0, lhu, 0);
		line("lwu", off, 0, lwu, 0);
	}
	/* AMOs on words and doublewords. */
	for (unsigned i = 0; i < 12; i++) {
		u64 a = int_operand(i), b = int_operand(11 - i), old;
#define AMO(insn, width)                                                                                     \
	mem[0] = a;                                                                                          \
	__asm__ volatile(insn " %0, %2, (%1)" : "=r"(old) : "r"(&mem[0]), "r"(b) : "memory");                \
	line(insn, a, b, old, mem[0]);
		AMO("amoswap.d", 8)
		AMO("amoadd.d", 8) AMO("amoxor.d", 8) AMO("amoand.d", 8) AMO("amoor.d", 8) AMO("amomin.d", 8)
		    AMO("amomax.d", 8) AMO("amominu.d", 8) AMO("amomaxu.d", 8) AMO("amoswap.w", 4)
		        AMO("amoadd.w", 4) AMO("amoxor.w", 4) AMO("amoand.w", 4) AMO("amoor.w", 4)
		            AMO("amomin.w", 4) AMO("amomax.w", 4) AMO("amominu.w", 4) AMO("amomaxu.w", 4)
		                u64 v,
		    fail;
		mem[1] = a;
		__asm__ volatile("1: lr.d %0, (%2)\n add %0, %0, %3\n sc.d %1, %0, (%2)\n bnez %1, 1b"
		                 : "=&r"(v), "=&r"(fail)
		                 : "r"(&mem[1]), "r"(b)
		                 : "memory");
		line("lrsc.d", a, b, mem[1], fail);
		mem[1] = a;
		__asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(&mem[1]) : "memory");
		line("lr.w", a, 0, v, 0);
	}
}

/* ---- floating point ---------------------------------------------------------- */
static u64 read_fflags_clear(void)
{
	u64 f;
	__asm__ volatile("csrrw %0, fflags, zero" : "=r"(f));
	return f;
}

/* An FP operation in each static rounding mode (RMM excluded for arithmetic). */
#define FOP2(name, insn)                                                                                     \
	static u64 name(u64 a, u64 b, unsigned rm)                                                           \
	{                                                                                                    \
		u64 r;                                                                                       \
		__asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2" ::"r"(0), "r"(a), "r"(b));              \
		switch (rm) {                                                                                \
		case 0: __asm__ volatile(insn " ft2, ft0, ft1, rne\n fmv.x.d %0, ft2" : "=r"(r)); break;     \
		case 1: __asm__ volatile(insn " ft2, ft0, ft1, rtz\n fmv.x.d %0, ft2" : "=r"(r)); break;     \
		case 2: __asm__ volatile(insn " ft2, ft0, ft1, rdn\n fmv.x.d %0, ft2" : "=r"(r)); break;     \
		default: __asm__ volatile(insn " ft2, ft0, ft1, rup\n fmv.x.d %0, ft2" : "=r"(r)); break;    \
		}                                                                                            \
		return r;                                                                                    \
	}
FOP2(f_fadd_d, "fadd.d")
FOP2(f_fsub_d, "fsub.d") FOP2(f_fmul_d, "fmul.d") FOP2(f_fdiv_d, "fdiv.d") FOP2(f_fadd_s, "fadd.s")
    FOP2(f_fsub_s, "fsub.s") FOP2(f_fmul_s, "fmul.s") FOP2(f_fdiv_s, "fdiv.s")

#define FMA(name, insn)                                                                                      \
	static u64 name(u64 a, u64 b, unsigned rm)                                                           \
	{                                                                                                    \
		u64 r;                                                                                       \
		__asm__ volatile("fmv.d.x ft0, %0\n fmv.d.x ft1, %1\n fmv.d.x ft3, %0" ::"r"(a), "r"(b));    \
		switch (rm) {                                                                                \
		case 0: __asm__ volatile(insn " ft2, ft0, ft1, ft1, rne\n fmv.x.d %0, ft2"                   \
			                 : "=r"(r));                                                         \
		    break;                                                                                   \
		case 1: __asm__ volatile(insn " ft2, ft0, ft1, ft3, rtz\n fmv.x.d %0, ft2"                   \
			                 : "=r"(r));                                                         \
		    break;                                                                                   \
		case 2: __asm__ volatile(insn " ft2, ft1, ft0, ft3, rdn\n fmv.x.d %0, ft2"                   \
			                 : "=r"(r));                                                         \
		    break;                                                                                   \
		default: __asm__ volatile(insn " ft2, ft0, ft1, ft0, rup\n fmv.x.d %0, ft2"                  \
			                  : "=r"(r));                                                        \
		    break;                                                                                   \
		}                                                                                            \
		return r;                                                                                    \
	}
        FMA(f_fmadd_d, "fmadd.d") FMA(f_fmsub_d, "fmsub.d") FMA(f_fnmsub_d, "fnmsub.d") FMA(
            f_fnmadd_d, "fnmadd.d") FMA(f_fmadd_s, "fmadd.s") FMA(f_fnmadd_s, "fnmadd.s")

/* Unary ops and conversions: the mode is all five, including RMM. */
#define FUN(name, pre, insn, post)                                                                           \
	static u64 name(u64 a, u64 b, unsigned rm)                                                           \
	{                                                                                                    \
		u64 r;                                                                                       \
		(void)b;                                                                                     \
		switch (rm) {                                                                                \
		case 0: __asm__ volatile(pre "\n" insn ", rne\n" post : "=r"(r) : "r"(a)); break;            \
		case 1: __asm__ volatile(pre "\n" insn ", rtz\n" post : "=r"(r) : "r"(a)); break;            \
		case 2: __asm__ volatile(pre "\n" insn ", rdn\n" post : "=r"(r) : "r"(a)); break;            \
		case 3: __asm__ volatile(pre "\n" insn ", rup\n" post : "=r"(r) : "r"(a)); break;            \
		default: __asm__ volatile(pre "\n" insn ", rmm\n" post : "=r"(r) : "r"(a)); break;           \
		}                                                                                            \
		return r;                                                                                    \
	}
#define IN_D "fmv.d.x ft0, %1"
#define OUT_D "fmv.x.d %0, ft2"
            FUN(f_fsqrt_d, IN_D, "fsqrt.d ft2, ft0", OUT_D) FUN(f_fsqrt_s, IN_D, "fsqrt.s ft2, ft0", OUT_D)
                FUN(f_fcvt_w_d, IN_D, "fcvt.w.d %0, ft0", "") FUN(f_fcvt_wu_d, IN_D, "fcvt.wu.d %0, ft0", "")
                    FUN(f_fcvt_l_d, IN_D, "fcvt.l.d %0, ft0",
                        "") FUN(f_fcvt_lu_d, IN_D, "fcvt.lu.d %0, ft0",
                                "") FUN(f_fcvt_w_s, IN_D, "fcvt.w.s %0, ft0",
                                        "") FUN(f_fcvt_lu_s, IN_D, "fcvt.lu.s %0, ft0",
                                                "") FUN(f_fcvt_s_d, IN_D, "fcvt.s.d ft2, ft0", OUT_D)
                        FUN(f_fcvt_d_l, "", "fcvt.d.l ft2, %1",
                            OUT_D) FUN(f_fcvt_d_lu, "", "fcvt.d.lu ft2, %1",
                                       OUT_D) FUN(f_fcvt_s_l, "", "fcvt.s.l ft2, %1",
                                                  OUT_D) FUN(f_fcvt_s_wu, "", "fcvt.s.wu ft2, %1", OUT_D)

/* No rounding mode. */
#define FNR(name, insn, out)                                                                                 \
	static u64 name(u64 a, u64 b, unsigned rm)                                                           \
	{                                                                                                    \
		u64 r;                                                                                       \
		(void)rm;                                                                                    \
		__asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n" insn "\n" out                         \
		                 : "=r"(r)                                                                   \
		                 : "r"(a), "r"(b));                                                          \
		return r;                                                                                    \
	}
                            FNR(f_fmin_d, "fmin.d ft2, ft0, ft1",
                                OUT_D) FNR(f_fmax_d, "fmax.d ft2, ft0, ft1",
                                           OUT_D) FNR(f_fmin_s, "fmin.s ft2, ft0, ft1",
                                                      OUT_D) FNR(f_fmax_s, "fmax.s ft2, ft0, ft1", OUT_D)
                                FNR(f_feq_d, "feq.d %0, ft0, ft1", "") FNR(f_flt_d, "flt.d %0, ft0, ft1", "")
                                    FNR(f_fle_d, "fle.d %0, ft0, ft1", "")
                                        FNR(f_feq_s, "feq.s %0, ft0, ft1", "")
                                            FNR(f_flt_s, "flt.s %0, ft0, ft1", "")
                                                FNR(f_fclass_d, "fclass.d %0, ft0", "")
                                                    FNR(f_fclass_s, "fclass.s %0, ft0", "")
                                                        FNR(f_fsgnjn_d, "fsgnjn.d ft2, ft0, ft1", OUT_D)
                                                            FNR(f_fsgnjx_s, "fsgnjx.s ft2, ft0, ft1", OUT_D)
                                                                FNR(f_fcvt_d_s, "fcvt.d.s ft2, ft0", OUT_D)
                                                                    FNR(f_fmv_x_w, "fmv.x.w %0, ft0", "")

/* The dynamic rounding mode (frm) in each mode but RMM: translated code computes in RNE only. */
#define FDYN(name, insn)                                                                                     \
	static u64 name(u64 a, u64 b, unsigned rm)                                                           \
	{                                                                                                    \
		u64 r;                                                                                       \
		__asm__ volatile("fsrm %0" ::"r"(rm));                                                       \
		__asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n" insn "\n fmv.x.d %0, ft2"             \
		                 : "=r"(r)                                                                   \
		                 : "r"(a), "r"(b));                                                          \
		__asm__ volatile("fsrm zero");                                                               \
		return r;                                                                                    \
	}
FDYN(f_fadd_d_dyn, "fadd.d ft2, ft0, ft1") FDYN(f_fmul_s_dyn, "fmul.s ft2, ft0, ft1")
FDYN(f_fdiv_d_dyn, "fdiv.d ft2, ft0, ft1") FDYN(f_fmsub_d_dyn, "fmsub.d ft2, ft0, ft1, ft0")
FDYN(f_fnmadd_s_dyn, "fnmadd.s ft2, ft1, ft0, ft1") FDYN(f_fsqrt_s_dyn, "fsqrt.s ft2, ft0")
FDYN(f_fcvt_s_d_dyn, "fcvt.s.d ft2, ft0") FDYN(f_fcvt_d_l_dyn, "fcvt.d.l ft2, %1")
FNR(f_fcvt_d_w, "fcvt.d.w ft2, %1", OUT_D)
FNR(f_fsgnj_d, "fsgnj.d ft2, ft0, ft1", OUT_D) FNR(f_fsgnjx_d, "fsgnjx.d ft2, ft0, ft1", OUT_D)
FNR(f_fle_s, "fle.s %0, ft0, ft1", "") FNR(f_feq_s_same, "feq.s %0, ft0, ft0", "")
FNR(f_fsgnj_s, "fsgnj.s ft2, ft0, ft1", OUT_D) FNR(f_fsgnjn_s, "fsgnjn.s ft2, ft0, ft1", OUT_D)
FNR(f_fmv_w_x, "fmv.w.x ft2, %1", OUT_D) FNR(f_fmv_x_d, "fmv.x.d %0, ft0", "")
FUN(f_fcvt_l_s, IN_D, "fcvt.l.s %0, ft0", "") FUN(f_fcvt_w_d2, IN_D, "fcvt.w.d %0, ft0", "")

                                                                        struct fp_op {
	const char *name;
	u64 (*fn)(u64, u64, unsigned);
	unsigned nrm; /* rounding modes to try: 1 (none), 4 (no RMM) or 5 */
	bool single;
	bool int_src; /* operand a is an integer register value */
};
static const struct fp_op fp_ops[] = {
    {"fadd.d", f_fadd_d, 4, 0},
    {"fsub.d", f_fsub_d, 4, 0},
    {"fmul.d", f_fmul_d, 4, 0},
    {"fdiv.d", f_fdiv_d, 4, 0},
    {"fadd.s", f_fadd_s, 4, 1},
    {"fsub.s", f_fsub_s, 4, 1},
    {"fmul.s", f_fmul_s, 4, 1},
    {"fdiv.s", f_fdiv_s, 4, 1},
    {"fmadd.d", f_fmadd_d, 4, 0},
    {"fmsub.d", f_fmsub_d, 4, 0},
    {"fnmsub.d", f_fnmsub_d, 4, 0},
    {"fnmadd.d", f_fnmadd_d, 4, 0},
    {"fmadd.s", f_fmadd_s, 4, 1},
    {"fnmadd.s", f_fnmadd_s, 4, 1},
    {"fsqrt.d", f_fsqrt_d, 4, 0},
    {"fsqrt.s", f_fsqrt_s, 4, 1},
    {"fcvt.w.d", f_fcvt_w_d, 5, 0},
    {"fcvt.wu.d", f_fcvt_wu_d, 5, 0},
    {"fcvt.l.d", f_fcvt_l_d, 5, 0},
    {"fcvt.lu.d", f_fcvt_lu_d, 5, 0},
    {"fcvt.w.s", f_fcvt_w_s, 5, 1},
    {"fcvt.lu.s", f_fcvt_lu_s, 5, 1},
    {"fcvt.s.d", f_fcvt_s_d, 4, 0},
    {"fcvt.d.l", f_fcvt_d_l, 4, 0, 1},
    {"fcvt.d.lu", f_fcvt_d_lu, 4, 0, 1},
    {"fcvt.s.l", f_fcvt_s_l, 4, 0, 1},
    {"fcvt.s.wu", f_fcvt_s_wu, 4, 0, 1},
    {"fmin.d", f_fmin_d, 1, 0},
    {"fmax.d", f_fmax_d, 1, 0},
    {"fmin.s", f_fmin_s, 1, 1},
    {"fmax.s", f_fmax_s, 1, 1},
    {"feq.d", f_feq_d, 1, 0},
    {"flt.d", f_flt_d, 1, 0},
    {"fle.d", f_fle_d, 1, 0},
    {"feq.s", f_feq_s, 1, 1},
    {"flt.s", f_flt_s, 1, 1},
    {"fclass.d", f_fclass_d, 1, 0},
    {"fclass.s", f_fclass_s, 1, 1},
    {"fsgnjn.d", f_fsgnjn_d, 1, 0},
    {"fsgnjx.s", f_fsgnjx_s, 1, 1},
    {"fcvt.d.s", f_fcvt_d_s, 1, 1},
    {"fmv.x.w", f_fmv_x_w, 1, 1},
    {"fadd.d dyn", f_fadd_d_dyn, 4, 0},
    {"fmul.s dyn", f_fmul_s_dyn, 4, 1},
    {"fdiv.d dyn", f_fdiv_d_dyn, 4, 0},
    {"fmsub.d dyn", f_fmsub_d_dyn, 4, 0},
    {"fnmadd.s dyn", f_fnmadd_s_dyn, 4, 1},
    {"fsqrt.s dyn", f_fsqrt_s_dyn, 4, 1},
    {"fcvt.s.d dyn", f_fcvt_s_d_dyn, 4, 0},
    {"fcvt.d.l dyn", f_fcvt_d_l_dyn, 4, 0, 1},
    {"fcvt.d.w", f_fcvt_d_w, 1, 0, 1},
    {"fsgnj.d", f_fsgnj_d, 1, 0},
    {"fsgnjx.d", f_fsgnjx_d, 1, 0},
    {"fle.s", f_fle_s, 1, 1},
    {"feq.s same", f_feq_s_same, 1, 1},
    {"fsgnj.s", f_fsgnj_s, 1, 1},
    {"fsgnjn.s", f_fsgnjn_s, 1, 1},
    {"fmv.w.x", f_fmv_w_x, 1, 0, 1},
    {"fmv.x.d", f_fmv_x_d, 1, 0},
    {"fcvt.l.s", f_fcvt_l_s, 5, 1},
    {"fcvt.w.d big", f_fcvt_w_d2, 2, 0, 1},
};

static void test_fp(void)
{
	for (unsigned i = 0; i < 34; i++) {
		u64 ad = dbl_operand(i), bd = dbl_operand((i * 5 + 2) % 34);
		u64 as = flt_operand(i), bs = flt_operand((i * 5 + 2) % 34);
		for (unsigned k = 0; k < NSPEC(fp_ops); k++) {
			const struct fp_op *op = &fp_ops[k];
			u64 a = op->single ? as : ad, b = op->single ? bs : bd;
			if (op->int_src) a = int_operand(i);
			for (unsigned rm = 0; rm < op->nrm; rm++) {
				read_fflags_clear();
				u64 r = op->fn(a, b, rm);
				u64 flags = read_fflags_clear();
				put_char('0' + (char)rm);
				line(op->name, a, b, r, flags);
			}
		}
	}
	/* NaN-boxing: a single read from a register holding a non-boxed value is NaN. */
	u64 r;
	__asm__ volatile("li t0, 0x3f800000\n fmv.d.x ft0, t0\n fadd.s ft1, ft0, ft0\n fmv.x.d %0, ft1"
	                 : "=r"(r)
	                 :
	                 : "t0");
	line("unboxed", 0x3f800000, 0, r, read_fflags_clear());
	/* Dynamic rounding mode through frm. */
	__asm__ volatile(
	    "fsrmi 2\n li t0, 1\n fcvt.d.l ft0, t0\n li t0, 3\n fcvt.d.l ft1, t0\n fdiv.d ft2, ft0, ft1\n"
	    "fmv.x.d %0, ft2\n fsrmi 0"
	    : "=r"(r)
	    :
	    : "t0");
	line("frm.rdn", 1, 3, r, read_fflags_clear());
}

#ifdef __riscv_zfh
/* ---- half precision (built with Zfh) ------------------------------------------ */
static const uint16_t half_specials[] = {
    0x0000, 0x8000, 0x3c00, 0xbc00, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x0001, 0x03ff, 0x0400,
    0x7bff, 0x3e00, 0x4100, 0xc100, 0x2e66, 0x5640, 0x0200, 0x3555, 0x7800, 0x1400, 0xfbff,
};

static u64 half_operand(unsigned i)
{
	uint16_t v;
	if (i < NSPEC(half_specials))
		v = half_specials[i];
	else {
		v = (uint16_t)rnd();
		if (v & 1) v = (uint16_t)((v & 0x83ff) | (0x0c + (rnd() & 7)) << 10);
	}
	return 0xffffffffffff0000ULL | v;
}

FOP2(h_fadd, "fadd.h") FOP2(h_fsub, "fsub.h") FOP2(h_fmul, "fmul.h") FOP2(h_fdiv, "fdiv.h")
FMA(h_fmadd, "fmadd.h") FMA(h_fnmsub, "fnmsub.h")
FUN(h_fsqrt, IN_D, "fsqrt.h ft2, ft0", OUT_D) FUN(h_fcvt_w, IN_D, "fcvt.w.h %0, ft0", "")
FUN(h_fcvt_lu, IN_D, "fcvt.lu.h %0, ft0", "") FUN(h_fcvt_h_s, IN_D, "fcvt.h.s ft2, ft0", OUT_D)
FUN(h_fcvt_h_d, IN_D, "fcvt.h.d ft2, ft0", OUT_D) FUN(h_fcvt_h_l, "", "fcvt.h.l ft2, %1", OUT_D)
FUN(h_fcvt_h_wu, "", "fcvt.h.wu ft2, %1", OUT_D)
FNR(h_fcvt_s, "fcvt.s.h ft2, ft0", OUT_D) FNR(h_fcvt_d, "fcvt.d.h ft2, ft0", OUT_D)
FNR(h_fmin, "fmin.h ft2, ft0, ft1", OUT_D) FNR(h_fmax, "fmax.h ft2, ft0, ft1", OUT_D)
FNR(h_feq, "feq.h %0, ft0, ft1", "") FNR(h_flt, "flt.h %0, ft0, ft1", "") FNR(h_fle, "fle.h %0, ft0, ft1", "")
FNR(h_fclass, "fclass.h %0, ft0", "") FNR(h_fsgnj, "fsgnj.h ft2, ft0, ft1", OUT_D)
FNR(h_fsgnjn, "fsgnjn.h ft2, ft0, ft1", OUT_D) FNR(h_fsgnjx, "fsgnjx.h ft2, ft0, ft1", OUT_D)
FNR(h_fmv_x, "fmv.x.h %0, ft0", "") FNR(h_fmv_h_x, "fmv.h.x ft2, %1\n fmv.x.h %0, ft2", "")

struct half_op {
	const char *name;
	u64 (*fn)(u64, u64, unsigned);
	unsigned nrm;
	unsigned src; /* operand a: 0 half, 1 single, 2 double, 3 integer */
};
static const struct half_op half_ops[] = {
    {"fadd.h", h_fadd, 4, 0}, {"fsub.h", h_fsub, 4, 0}, {"fmul.h", h_fmul, 4, 0}, {"fdiv.h", h_fdiv, 4, 0},
    {"fmadd.h", h_fmadd, 4, 0}, {"fnmsub.h", h_fnmsub, 4, 0}, {"fsqrt.h", h_fsqrt, 4, 0},
    {"fcvt.w.h", h_fcvt_w, 5, 0}, {"fcvt.lu.h", h_fcvt_lu, 5, 0}, {"fcvt.h.s", h_fcvt_h_s, 5, 1},
    {"fcvt.h.d", h_fcvt_h_d, 5, 2}, {"fcvt.h.l", h_fcvt_h_l, 5, 3}, {"fcvt.h.wu", h_fcvt_h_wu, 5, 3},
    {"fcvt.s.h", h_fcvt_s, 1, 0}, {"fcvt.d.h", h_fcvt_d, 1, 0}, {"fmin.h", h_fmin, 1, 0},
    {"fmax.h", h_fmax, 1, 0}, {"feq.h", h_feq, 1, 0}, {"flt.h", h_flt, 1, 0}, {"fle.h", h_fle, 1, 0},
    {"fclass.h", h_fclass, 1, 0}, {"fsgnj.h", h_fsgnj, 1, 0}, {"fsgnjn.h", h_fsgnjn, 1, 0},
    {"fsgnjx.h", h_fsgnjx, 1, 0}, {"fmv.x.h", h_fmv_x, 1, 0}, {"fmv.h.x", h_fmv_h_x, 1, 3},
};

static void test_half(void)
{
	for (unsigned i = 0; i < 60; i++) {
		u64 b = half_operand((i * 5 + 2) % 60);
		for (unsigned k = 0; k < NSPEC(half_ops); k++) {
			const struct half_op *op = &half_ops[k];
			u64 a = op->src == 0 ? half_operand(i)
			        : op->src == 1 ? flt_operand(i)
			        : op->src == 2 ? dbl_operand(i)
			                       : int_operand(i) >> (i & 31);
			for (unsigned rm = 0; rm < op->nrm; rm++) {
				read_fflags_clear();
				u64 r = op->fn(a, b, rm);
				u64 flags = read_fflags_clear();
				put_char('0' + (char)rm);
				line(op->name, a, b, r, flags);
			}
		}
	}
	/* flh NaN-boxes, fsh stores the low half; a half read from a non-boxed register is NaN. */
	static volatile uint16_t hm[2] = {0x3c00, 0};
	u64 r;
	__asm__ volatile("flh ft0, 0(%1)\n fsh ft0, 2(%1)\n fmv.x.d %0, ft0" : "=r"(r) : "r"(hm) : "memory");
	line("flh", hm[0], hm[1], r, read_fflags_clear());
	__asm__ volatile("li t0, 0x3c00\n fmv.d.x ft0, t0\n fadd.h ft1, ft0, ft0\n fmv.x.d %0, ft1"
	                 : "=r"(r)
	                 :
	                 : "t0");
	line("unboxed.h", 0x3c00, 0, r, read_fflags_clear());
}
#endif

#ifdef __riscv_vector
/* ---- vectors (built with V) -------------------------------------------------------------------
 * Each case loads v8-v15 (vd), v16-v23 (vs2), v24-v31 (vs1) and v0 (the mask) whole, sets vtype
 * and vl with vsetvl, runs one instruction and prints the first 128 bytes of vd, vxsat and an
 * integer result. Whole-register loads and stores ignore vtype, so one template fits every SEW,
 * LMUL and vl. Only legal combinations are run (QEMU would kill the process on the others). */
static u64 vbuf_d[128], vbuf_a[128], vbuf_b[128], vbuf_m[2], vout[128]; /* 8 registers at VLEN 1024 */

#define VFN(fname, text)                                                                                     \
	static u64 fname(u64 vtype, u64 avl, u64 x)                                                          \
	{                                                                                                    \
		u64 r = 0;                                                                                   \
		__asm__ volatile("vl8re8.v v8, (%[d])\n vl8re8.v v16, (%[a])\n vl8re8.v v24, (%[b])\n"     \
		                 "vl1re8.v v0, (%[m])\n vsetvl t0, %[avl], %[vt]\n" text "\n"                 \
		                 "vs8r.v v8, (%[o])\n"                                                      \
		                 : [r] "+r"(r)                                                               \
		                 : [d] "r"(vbuf_d), [a] "r"(vbuf_a), [b] "r"(vbuf_b), [m] "r"(vbuf_m),        \
		                   [o] "r"(vout), [avl] "r"(avl), [vt] "r"(vtype), [x] "r"(x)                \
		                 : "t0", "memory");                                                          \
		return r;                                                                                    \
	}
VFN(v_add_vv, "vadd.vv v8, v16, v24, v0.t") VFN(v_add_vx, "vadd.vx v8, v16, %[x]") VFN(v_add_vi, "vadd.vi v8, v16, -7, v0.t")
VFN(v_sub_vv, "vsub.vv v8, v16, v24") VFN(v_rsub_vi, "vrsub.vi v8, v16, 5") VFN(v_minu_vv, "vminu.vv v8, v16, v24")
VFN(v_min_vx, "vmin.vx v8, v16, %[x], v0.t") VFN(v_maxu_vx, "vmaxu.vx v8, v16, %[x]") VFN(v_max_vv, "vmax.vv v8, v16, v24")
VFN(v_and_vi, "vand.vi v8, v16, 12") VFN(v_or_vv, "vor.vv v8, v16, v24, v0.t") VFN(v_xor_vx, "vxor.vx v8, v16, %[x]")
VFN(v_sll_vv, "vsll.vv v8, v16, v24") VFN(v_srl_vi, "vsrl.vi v8, v16, 3") VFN(v_sra_vx, "vsra.vx v8, v16, %[x]")
VFN(v_adc, "vadc.vvm v8, v16, v24, v0") VFN(v_madc, "vmadc.vvm v8, v16, v24, v0") VFN(v_madc_nc, "vmadc.vx v8, v16, %[x]")
VFN(v_sbc, "vsbc.vxm v8, v16, %[x], v0") VFN(v_msbc, "vmsbc.vvm v8, v16, v24, v0")
VFN(v_merge, "vmerge.vvm v8, v16, v24, v0") VFN(v_mv_vi, "vmv.v.i v8, -3") VFN(v_mv_vx, "vmv.v.x v8, %[x]")
VFN(v_mseq, "vmseq.vv v8, v16, v24") VFN(v_msne, "vmsne.vi v8, v16, 1, v0.t") VFN(v_msltu, "vmsltu.vx v8, v16, %[x]")
VFN(v_mslt, "vmslt.vv v8, v16, v24") VFN(v_msleu, "vmsleu.vi v8, v16, -1") VFN(v_msle, "vmsle.vx v8, v16, %[x]")
VFN(v_msgtu, "vmsgtu.vx v8, v16, %[x]") VFN(v_msgt, "vmsgt.vi v8, v16, 2")
VFN(v_saddu, "vsaddu.vv v8, v16, v24") VFN(v_sadd, "vsadd.vi v8, v16, -16") VFN(v_ssubu, "vssubu.vx v8, v16, %[x]")
VFN(v_ssub, "vssub.vv v8, v16, v24") VFN(v_smul, "csrwi vxrm, 0\n vsmul.vv v8, v16, v24")
VFN(v_ssrl, "csrwi vxrm, 1\n vssrl.vi v8, v16, 5") VFN(v_ssra, "csrwi vxrm, 3\n vssra.vx v8, v16, %[x]")
VFN(v_aaddu, "csrwi vxrm, 0\n vaaddu.vv v8, v16, v24") VFN(v_aadd, "csrwi vxrm, 1\n vaadd.vx v8, v16, %[x]")
VFN(v_asubu, "csrwi vxrm, 2\n vasubu.vv v8, v16, v24") VFN(v_asub, "csrwi vxrm, 3\n vasub.vv v8, v16, v24")
VFN(v_divu, "vdivu.vv v8, v16, v24") VFN(v_div, "vdiv.vx v8, v16, %[x]") VFN(v_remu, "vremu.vv v8, v16, v24, v0.t")
VFN(v_rem, "vrem.vv v8, v16, v24") VFN(v_mulhu, "vmulhu.vv v8, v16, v24") VFN(v_mul, "vmul.vx v8, v16, %[x]")
VFN(v_mulhsu, "vmulhsu.vv v8, v16, v24") VFN(v_mulh, "vmulh.vx v8, v16, %[x]")
VFN(v_madd, "vmadd.vv v8, v16, v24") VFN(v_nmsub, "vnmsub.vx v8, %[x], v16") VFN(v_macc, "vmacc.vv v8, v24, v16, v0.t")
VFN(v_nmsac, "vnmsac.vv v8, v24, v16")
VFN(v_redsum, "vredsum.vs v8, v16, v24") VFN(v_redand, "vredand.vs v8, v16, v24, v0.t") VFN(v_redor, "vredor.vs v8, v16, v24")
VFN(v_redxor, "vredxor.vs v8, v16, v24") VFN(v_redminu, "vredminu.vs v8, v16, v24") VFN(v_redmin, "vredmin.vs v8, v16, v24")
VFN(v_redmaxu, "vredmaxu.vs v8, v16, v24") VFN(v_redmax, "vredmax.vs v8, v16, v24, v0.t")
VFN(v_slideup, "vslideup.vx v8, v16, %[x]") VFN(v_slidedown, "vslidedown.vi v8, v16, 3, v0.t")
VFN(v_slide1up, "vslide1up.vx v8, v16, %[x]") VFN(v_slide1down, "vslide1down.vx v8, v16, %[x]")
VFN(v_rgather_vv, "vrgather.vv v8, v16, v24") VFN(v_rgather_vx, "vrgather.vx v8, v16, %[x]")
VFN(v_compress, "vcompress.vm v8, v16, v24")
VFN(v_mv_x_s, "vmv.x.s %[r], v16") VFN(v_mv_s_x, "vmv.s.x v8, %[x]") VFN(v_cpop, "vcpop.m %[r], v24, v0.t")
VFN(v_first, "vfirst.m %[r], v24") VFN(v_msbf, "vmsbf.m v8, v24") VFN(v_msof, "vmsof.m v8, v24, v0.t") VFN(v_msif, "vmsif.m v8, v24")
VFN(v_iota, "viota.m v8, v24") VFN(v_id, "vid.v v8, v0.t")
VFN(v_mand, "vmand.mm v8, v16, v24") VFN(v_mnand, "vmnand.mm v8, v16, v24") VFN(v_mandn, "vmandn.mm v8, v16, v24")
VFN(v_mxor, "vmxor.mm v8, v16, v24") VFN(v_mor, "vmor.mm v8, v16, v24") VFN(v_mnor, "vmnor.mm v8, v16, v24")
VFN(v_morn, "vmorn.mm v8, v16, v24") VFN(v_mxnor, "vmxnor.mm v8, v16, v24")
VFN(v_mv1r, "vmv1r.v v8, v16") VFN(v_mv8r, "vmv8r.v v8, v16")
VFN(v_vsetvli, "vsetvli %[r], %[x], e16, m2, ta, mu") VFN(v_vsetivli, "vsetivli %[r], 13, e8, mf2, tu, mu")
VFN(v_csrr_vl, "csrr %[r], vl") VFN(v_csrr_vtype, "csrr %[r], vtype") VFN(v_csrr_vlenb, "csrr %[r], vlenb")
/* Only with SEW <= 32 and LMUL <= 4: widening and narrowing. */
VFN(v_waddu, "vwaddu.vv v8, v16, v24") VFN(v_wadd, "vwadd.vx v8, v16, %[x], v0.t") VFN(v_wsubu, "vwsubu.vx v8, v16, %[x]")
VFN(v_wsub, "vwsub.vv v8, v16, v24") VFN(v_waddu_w, "vwaddu.wv v8, v16, v24") VFN(v_wsub_w, "vwsub.wx v8, v16, %[x]")
VFN(v_wmulu, "vwmulu.vv v8, v16, v24") VFN(v_wmulsu, "vwmulsu.vx v8, v16, %[x]") VFN(v_wmul, "vwmul.vv v8, v16, v24")
VFN(v_wmaccu, "vwmaccu.vv v8, v24, v16") VFN(v_wmacc, "vwmacc.vx v8, %[x], v16") VFN(v_wmaccsu, "vwmaccsu.vv v8, v24, v16")
VFN(v_wmaccus, "vwmaccus.vx v8, %[x], v16") VFN(v_wredsumu, "vwredsumu.vs v8, v16, v24") VFN(v_wredsum, "vwredsum.vs v8, v16, v24")
VFN(v_nsrl, "vnsrl.wv v8, v16, v24") VFN(v_nsra, "vnsra.wi v8, v16, 3") VFN(v_nclipu, "csrwi vxrm, 0\n vnclipu.wx v8, v16, %[x]")
VFN(v_nclip, "csrwi vxrm, 1\n vnclip.wv v8, v16, v24, v0.t")
VFN(v_zext2, "vzext.vf2 v8, v16") VFN(v_sext2, "vsext.vf2 v8, v16, v0.t") VFN(v_zext4, "vzext.vf4 v8, v16") VFN(v_sext8, "vsext.vf8 v8, v16")
VFN(v_rgatherei16, "vrgatherei16.vv v8, v16, v24")
/* Floating point: the scalar operand comes through ft0. The .rtz conversions are not here: they make
 * QEMU 7.2 abort (an assertion in decode_save_opc); test_isa covers them. */
#define F0 "fmv.d.x ft0, %[x]\n "
VFN(f_add_vv, "vfadd.vv v8, v16, v24, v0.t") VFN(f_add_vf, F0 "vfadd.vf v8, v16, ft0") VFN(f_sub_vv, "vfsub.vv v8, v16, v24")
VFN(f_rsub_vf, F0 "vfrsub.vf v8, v16, ft0") VFN(f_mul_vv, "vfmul.vv v8, v16, v24") VFN(f_div_vv, "vfdiv.vv v8, v16, v24, v0.t")
VFN(f_rdiv_vf, F0 "vfrdiv.vf v8, v16, ft0") VFN(f_min_vv, "vfmin.vv v8, v16, v24") VFN(f_max_vf, F0 "vfmax.vf v8, v16, ft0")
VFN(f_sgnj_vv, "vfsgnj.vv v8, v16, v24") VFN(f_sgnjn_vf, F0 "vfsgnjn.vf v8, v16, ft0") VFN(f_sgnjx_vv, "vfsgnjx.vv v8, v16, v24")
VFN(f_macc_vv, "vfmacc.vv v8, v24, v16") VFN(f_nmacc_vf, F0 "vfnmacc.vf v8, ft0, v16, v0.t") VFN(f_msac_vv, "vfmsac.vv v8, v24, v16")
VFN(f_nmsac_vv, "vfnmsac.vv v8, v24, v16") VFN(f_madd_vv, "vfmadd.vv v8, v24, v16") VFN(f_nmadd_vf, F0 "vfnmadd.vf v8, ft0, v16")
VFN(f_msub_vv, "vfmsub.vv v8, v24, v16") VFN(f_nmsub_vv, "vfnmsub.vv v8, v24, v16")
VFN(f_eq_vv, "vmfeq.vv v8, v16, v24") VFN(f_ne_vf, F0 "vmfne.vf v8, v16, ft0") VFN(f_lt_vv, "vmflt.vv v8, v16, v24, v0.t")
VFN(f_le_vf, F0 "vmfle.vf v8, v16, ft0") VFN(f_gt_vf, F0 "vmfgt.vf v8, v16, ft0") VFN(f_ge_vf, F0 "vmfge.vf v8, v16, ft0")
VFN(f_sqrt, "vfsqrt.v v8, v16") VFN(f_rsqrt7, "vfrsqrt7.v v8, v16") VFN(f_rec7, "vfrec7.v v8, v16, v0.t") VFN(f_class, "vfclass.v v8, v16")
VFN(f_cvt_xu_f, "vfcvt.xu.f.v v8, v16") VFN(f_cvt_x_f, "vfcvt.x.f.v v8, v16, v0.t") 
VFN(f_cvt_f_x, "vfcvt.f.x.v v8, v16") VFN(f_cvt_f_xu, "vfcvt.f.xu.v v8, v16")
VFN(f_merge, F0 "vfmerge.vfm v8, v16, ft0, v0") VFN(f_mv_vf, F0 "vfmv.v.f v8, ft0") VFN(f_mv_fs, "vfmv.f.s ft1, v16\n fmv.x.d %[r], ft1")
VFN(f_mv_sf, F0 "vfmv.s.f v8, ft0") VFN(f_slide1up, F0 "vfslide1up.vf v8, v16, ft0") VFN(f_slide1down, F0 "vfslide1down.vf v8, v16, ft0, v0.t")
VFN(f_redusum, "vfredusum.vs v8, v16, v24") VFN(f_redosum, "vfredosum.vs v8, v16, v24, v0.t") VFN(f_redmin, "vfredmin.vs v8, v16, v24")
VFN(f_redmax, "vfredmax.vs v8, v16, v24")
VFN(f_wadd_vv, "vfwadd.vv v8, v16, v24") VFN(f_wadd_vf, F0 "vfwadd.vf v8, v16, ft0, v0.t") VFN(f_wsub_wv, "vfwsub.wv v8, v16, v24")
VFN(f_wmul_vv, "vfwmul.vv v8, v16, v24") VFN(f_wmacc_vv, "vfwmacc.vv v8, v24, v16") VFN(f_wnmsac_vf, F0 "vfwnmsac.vf v8, ft0, v16")
VFN(f_wredosum, "vfwredosum.vs v8, v16, v24") VFN(f_wredusum, "vfwredusum.vs v8, v16, v24")
VFN(f_wcvt_f_f, "vfwcvt.f.f.v v8, v16") VFN(f_wcvt_x_f, "vfwcvt.x.f.v v8, v16") 
VFN(f_wcvt_f_x, "vfwcvt.f.x.v v8, v16, v0.t")
VFN(f_ncvt_f_f, "vfncvt.f.f.w v8, v16") VFN(f_ncvt_rod, "vfncvt.rod.f.f.w v8, v16") VFN(f_ncvt_x_f, "vfncvt.x.f.w v8, v16")
VFN(f_ncvt_f_xu, "vfncvt.f.xu.w v8, v16") 

struct vcase {
	const char *name;
	u64 (*fn)(u64, u64, u64);
	unsigned kind; /* 0 any SEW/LMUL, 1 widening/narrowing (SEW <= 32, LMUL <= 4), 2 vf2 (SEW >= 16), 3 vf4 (SEW >= 32, LMUL >= 1/2), 4 vf8 (SEW 64, LMUL >= 1), 5 ei16 (SEW >= 16 unless LMUL <= 4) */
};
static const struct vcase vcases[] = {
    {"vadd.vv", v_add_vv, 0}, {"vadd.vx", v_add_vx, 0}, {"vadd.vi", v_add_vi, 0}, {"vsub.vv", v_sub_vv, 0},
    {"vrsub.vi", v_rsub_vi, 0}, {"vminu.vv", v_minu_vv, 0}, {"vmin.vx", v_min_vx, 0}, {"vmaxu.vx", v_maxu_vx, 0},
    {"vmax.vv", v_max_vv, 0}, {"vand.vi", v_and_vi, 0}, {"vor.vv", v_or_vv, 0}, {"vxor.vx", v_xor_vx, 0},
    {"vsll.vv", v_sll_vv, 0}, {"vsrl.vi", v_srl_vi, 0}, {"vsra.vx", v_sra_vx, 0}, {"vadc", v_adc, 0},
    {"vmadc", v_madc, 0}, {"vmadc.nc", v_madc_nc, 0}, {"vsbc", v_sbc, 0}, {"vmsbc", v_msbc, 0},
    {"vmerge", v_merge, 0}, {"vmv.v.i", v_mv_vi, 0}, {"vmv.v.x", v_mv_vx, 0}, {"vmseq", v_mseq, 0},
    {"vmsne", v_msne, 0}, {"vmsltu", v_msltu, 0}, {"vmslt", v_mslt, 0}, {"vmsleu", v_msleu, 0},
    {"vmsle", v_msle, 0}, {"vmsgtu", v_msgtu, 0}, {"vmsgt", v_msgt, 0}, {"vsaddu", v_saddu, 0},
    {"vsadd", v_sadd, 0}, {"vssubu", v_ssubu, 0}, {"vssub", v_ssub, 0}, {"vsmul", v_smul, 0},
    {"vssrl", v_ssrl, 0}, {"vssra", v_ssra, 0}, {"vaaddu", v_aaddu, 0}, {"vaadd", v_aadd, 0},
    {"vasubu", v_asubu, 0}, {"vasub", v_asub, 0}, {"vdivu", v_divu, 0}, {"vdiv", v_div, 0},
    {"vremu", v_remu, 0}, {"vrem", v_rem, 0}, {"vmulhu", v_mulhu, 0}, {"vmul", v_mul, 0},
    {"vmulhsu", v_mulhsu, 0}, {"vmulh", v_mulh, 0}, {"vmadd", v_madd, 0}, {"vnmsub", v_nmsub, 0},
    {"vmacc", v_macc, 0}, {"vnmsac", v_nmsac, 0}, {"vredsum", v_redsum, 0}, {"vredand", v_redand, 0},
    {"vredor", v_redor, 0}, {"vredxor", v_redxor, 0}, {"vredminu", v_redminu, 0}, {"vredmin", v_redmin, 0},
    {"vredmaxu", v_redmaxu, 0}, {"vredmax", v_redmax, 0}, {"vslideup", v_slideup, 0}, {"vslidedown", v_slidedown, 0},
    {"vslide1up", v_slide1up, 0}, {"vslide1down", v_slide1down, 0}, {"vrgather.vv", v_rgather_vv, 0},
    {"vrgather.vx", v_rgather_vx, 0}, {"vcompress", v_compress, 0}, {"vmv.x.s", v_mv_x_s, 0},
    {"vmv.s.x", v_mv_s_x, 0}, {"vcpop", v_cpop, 0}, {"vfirst", v_first, 0}, {"vmsbf", v_msbf, 0},
    {"vmsof", v_msof, 0}, {"vmsif", v_msif, 0}, {"viota", v_iota, 0}, {"vid", v_id, 0},
    {"vmand", v_mand, 0}, {"vmnand", v_mnand, 0}, {"vmandn", v_mandn, 0}, {"vmxor", v_mxor, 0},
    {"vmor", v_mor, 0}, {"vmnor", v_mnor, 0}, {"vmorn", v_morn, 0}, {"vmxnor", v_mxnor, 0},
    {"vmv1r", v_mv1r, 0}, {"vmv8r", v_mv8r, 0}, {"vsetvli", v_vsetvli, 0}, {"vsetivli", v_vsetivli, 0},
    {"vl", v_csrr_vl, 0}, {"vtype", v_csrr_vtype, 0}, {"vlenb", v_csrr_vlenb, 0},
    {"vwaddu", v_waddu, 1}, {"vwadd", v_wadd, 1}, {"vwsubu", v_wsubu, 1}, {"vwsub", v_wsub, 1},
    {"vwaddu.w", v_waddu_w, 1}, {"vwsub.w", v_wsub_w, 1}, {"vwmulu", v_wmulu, 1}, {"vwmulsu", v_wmulsu, 1},
    {"vwmul", v_wmul, 1}, {"vwmaccu", v_wmaccu, 1}, {"vwmacc", v_wmacc, 1}, {"vwmaccsu", v_wmaccsu, 1},
    {"vwmaccus", v_wmaccus, 1}, {"vwredsumu", v_wredsumu, 1}, {"vwredsum", v_wredsum, 1}, {"vnsrl", v_nsrl, 1},
    {"vnsra", v_nsra, 1}, {"vnclipu", v_nclipu, 1}, {"vnclip", v_nclip, 1},
    {"vzext.vf2", v_zext2, 2}, {"vsext.vf2", v_sext2, 2}, {"vzext.vf4", v_zext4, 3}, {"vsext.vf8", v_sext8, 4},
    {"vrgatherei16", v_rgatherei16, 5},
    /* floating point: 6 SEW 32 and 64; 7 widening from SEW 32; 8 SEW 16 and 32 (integer to wider
     * float, float to narrower integer); 9 narrowing to SEW 32 */
    {"vfadd.vv", f_add_vv, 6}, {"vfadd.vf", f_add_vf, 6}, {"vfsub.vv", f_sub_vv, 6}, {"vfrsub.vf", f_rsub_vf, 6},
    {"vfmul.vv", f_mul_vv, 6}, {"vfdiv.vv", f_div_vv, 6}, {"vfrdiv.vf", f_rdiv_vf, 6}, {"vfmin.vv", f_min_vv, 6},
    {"vfmax.vf", f_max_vf, 6}, {"vfsgnj.vv", f_sgnj_vv, 6}, {"vfsgnjn.vf", f_sgnjn_vf, 6},
    {"vfsgnjx.vv", f_sgnjx_vv, 6}, {"vfmacc.vv", f_macc_vv, 6}, {"vfnmacc.vf", f_nmacc_vf, 6},
    {"vfmsac.vv", f_msac_vv, 6}, {"vfnmsac.vv", f_nmsac_vv, 6}, {"vfmadd.vv", f_madd_vv, 6},
    {"vfnmadd.vf", f_nmadd_vf, 6}, {"vfmsub.vv", f_msub_vv, 6}, {"vfnmsub.vv", f_nmsub_vv, 6},
    {"vmfeq.vv", f_eq_vv, 6}, {"vmfne.vf", f_ne_vf, 6}, {"vmflt.vv", f_lt_vv, 6}, {"vmfle.vf", f_le_vf, 6},
    {"vmfgt.vf", f_gt_vf, 6}, {"vmfge.vf", f_ge_vf, 6}, {"vfsqrt", f_sqrt, 6}, {"vfrsqrt7", f_rsqrt7, 6},
    {"vfrec7", f_rec7, 6}, {"vfclass", f_class, 6}, {"vfcvt.xu.f", f_cvt_xu_f, 6}, {"vfcvt.x.f", f_cvt_x_f, 6},
    {"vfcvt.f.x", f_cvt_f_x, 6}, {"vfcvt.f.xu", f_cvt_f_xu, 6},
    {"vfmerge", f_merge, 6}, {"vfmv.v.f", f_mv_vf, 6}, {"vfmv.f.s", f_mv_fs, 6}, {"vfmv.s.f", f_mv_sf, 6},
    {"vfslide1up", f_slide1up, 6}, {"vfslide1down", f_slide1down, 6}, {"vfredusum", f_redusum, 6},
    {"vfredosum", f_redosum, 6}, {"vfredmin", f_redmin, 6}, {"vfredmax", f_redmax, 6},
    {"vfwadd.vv", f_wadd_vv, 7}, {"vfwadd.vf", f_wadd_vf, 7}, {"vfwsub.wv", f_wsub_wv, 7}, {"vfwmul.vv", f_wmul_vv, 7},
    {"vfwmacc.vv", f_wmacc_vv, 7}, {"vfwnmsac.vf", f_wnmsac_vf, 7}, {"vfwredosum", f_wredosum, 7},
    {"vfwredusum", f_wredusum, 7}, {"vfwcvt.f.f", f_wcvt_f_f, 7}, {"vfwcvt.x.f", f_wcvt_x_f, 7},
    {"vfwcvt.f.x", f_wcvt_f_x, 8}, {"vfncvt.x.f", f_ncvt_x_f, 8},
    {"vfncvt.f.f", f_ncvt_f_f, 9}, {"vfncvt.rod.f.f", f_ncvt_rod, 9},
    {"vfncvt.f.xu", f_ncvt_f_xu, 9},
};

static u64 read_vxsat_clear(void)
{
	u64 v;
	__asm__ volatile("csrrw %0, vxsat, zero" : "=r"(v));
	return v;
}

static void test_vector(void)
{
	static const unsigned lmuls[] = {5, 6, 7, 0, 1, 2, 3}; /* vlmul: 1/8, 1/4, 1/2, 1, 2, 4, 8 */
	for (unsigned i = 0; i < 16; i++) {
		vbuf_a[i] = rnd();
		vbuf_b[i] = i % 3 == 0 ? rnd() >> (rnd() & 63) : rnd();
		vbuf_d[i] = rnd();
	}
	vbuf_b[1] = 0; /* division by zero */
	vbuf_a[2] = vbuf_b[2];
	for (unsigned k = 0; k < NSPEC(vcases); k++) {
		const struct vcase *vc = &vcases[k];
		for (unsigned vsew = 0; vsew < 4; vsew++) {
			for (unsigned li = 0; li < 7; li++) {
				unsigned vlmul = lmuls[li];
				int lmul_log = vlmul >= 5 ? (int)vlmul - 8 : (int)vlmul; /* log2 LMUL */
				if ((int)vsew - 3 > lmul_log) continue;                   /* SEW > LMUL * ELEN */
				if (vc->kind == 1 && (vsew > 2 || lmul_log > 2)) continue;
				if (vc->kind == 2 && (vsew < 1 || lmul_log - 1 < (int)vsew - 1 - 3)) continue;
				if (vc->kind == 3 && (vsew < 2 || lmul_log - 2 < (int)vsew - 2 - 3)) continue;
				if (vc->kind == 4 && (vsew < 3 || lmul_log < 0)) continue;
				if (vc->kind == 5 && (lmul_log + 1 - (int)vsew > 3 || lmul_log + 1 - (int)vsew < -3)) continue;
				if (vc->kind == 6 && vsew < 2) continue;
				if ((vc->kind == 7 || vc->kind == 9) && (vsew != 2 || lmul_log > 2)) continue;
				if (vc->kind == 8 && (vsew < 1 || vsew > 2 || lmul_log > 2)) continue;
				if (vc->fn == v_mv8r && lmul_log != 3) continue;
				if (vc->fn == v_compress || vc->fn == v_mv1r || vc->fn == v_mv8r || vc->fn == v_vsetvli || vc->fn == v_vsetivli || vc->fn == v_csrr_vl || vc->fn == v_csrr_vtype || vc->fn == v_csrr_vlenb) {
					/* fine at any configuration */
				}
				u64 vtype = (u64)vsew << 3 | vlmul | 1u << 7; /* mask undisturbed, tail undisturbed */
				bool fp = vc->kind >= 6;
				for (unsigned t = 0; t < 3; t++) {
					u64 avl = t == 0 ? 3 : t == 1 ? (rnd() & 63) : 1000;
					vbuf_m[0] = rnd();
					vbuf_m[1] = rnd();
					u64 x = t == 2 ? (u64)-5 : rnd() >> (rnd() & 63);
					if (fp) { /* FP operands with specials; the scalar NaN-boxed for singles; frm = t */
						for (unsigned i = 0; i < 16; i++) {
							unsigned k = (unsigned)(rnd() % 40);
							vbuf_a[i] = i % 2 ? dbl_operand(k) : (u64)(uint32_t)flt_operand(k) | flt_operand(k + 1) << 32;
							k = (unsigned)(rnd() % 40);
							vbuf_b[i] = i % 3 ? dbl_operand(k) : (u64)(uint32_t)flt_operand(k) | flt_operand(k + 2) << 32;
							vbuf_d[i] = (u64)(uint32_t)flt_operand(i) | dbl_operand(i) << 32;
						}
						x = vsew == 2 ? flt_operand(t * 5 + 1) : dbl_operand(t * 5 + 1);
						__asm__ volatile("csrw frm, %0" ::"r"((u64)t));
						read_fflags_clear();
					}
					read_vxsat_clear();
					u64 r = vc->fn(vtype, avl, x);
					u64 sat = read_vxsat_clear() | (fp ? read_fflags_clear() << 8 : 0);
					put_str(vc->name);
					put_char(' ');
					put_hex(vtype);
					put_char(' ');
					put_hex(avl);
					put_char(' ');
					put_hex(r);
					put_char(' ');
					put_hex(sat);
					for (unsigned w = 0; w < 16; w++) {
						put_char(w % 4 ? ' ' : '\n');
						put_hex(vout[w]);
					}
					put_char('\n');
				}
			}
		}
	}
	__asm__ volatile("csrwi frm, 0");
	/* Loads and stores: unit-stride, strided, indexed, segments, masks, fault-only-first. */
	static u64 mem[32];
	for (unsigned i = 0; i < 32; i++) mem[i] = rnd();
	u64 idx[4] = {24, 0, 8, 200};
	u64 r;
	__asm__ volatile("vsetivli t0, 8, e16, m1, tu, mu\n vle16.v v1, (%[m])\n vse16.v v1, (%[o])\n"
	                 "vlse32.v v2, (%[m]), %[st]\n vse32.v v2, (%[o2])\n"
	                 : : [m] "r"(mem), [o] "r"(vout), [o2] "r"(&vout[4]), [st] "r"(12L) : "t0", "memory");
	__asm__ volatile("vsetivli t0, 4, e64, m2, tu, mu\n vle64.v v8, (%[i])\n"
	                 "vsetivli t0, 4, e8, mf2, tu, mu\n vluxei64.v v5, (%[m]), v8\n vse8.v v5, (%[o])\n"
	                 : : [m] "r"(mem), [i] "r"(idx), [o] "r"(&vout[8]) : "t0", "memory");
	__asm__ volatile("vsetivli t0, 3, e32, m1, tu, mu\n vlseg3e32.v v12, (%[m])\n"
	                 "vsseg3e32.v v12, (%[o])\n vlm.v v0, (%[m])\n vsm.v v0, (%[o2])\n"
	                 "vsetivli t0, 2, e64, m1, tu, mu\n vsuxei64.v v12, (%[o3]), v8, v0.t\n"
	                 : : [m] "r"(mem), [o] "r"(&vout[9]), [o2] "r"(&vout[14]), [o3] "r"(&mem[8]) : "t0", "memory");
	__asm__ volatile("vsetivli t0, 16, e8, m1, tu, mu\n vle8ff.v v1, (%[m])\n csrr %[r], vl\n vse8.v v1, (%[o])"
	                 : [r] "=r"(r) : [m] "r"(&mem[30]), [o] "r"(&vout[15]) : "t0", "memory");
	for (unsigned w = 0; w < 16; w++) line("vmem", w, 0, vout[w], 0);
	for (unsigned w = 8; w < 12; w++) line("vmem.store", w, 0, mem[w], 0);
	line("vle8ff.vl", 0, 0, r, 0);
}
#endif

/* A loop mixing branches, loads and stores, summarized by a hash. */
static void test_loop(void)
{
	u64 h = 0xcbf29ce484222325ULL;
	for (unsigned i = 0; i < 20000; i++) {
		u64 v = mem[i & 63] + i;
		if (v & 1)
			h ^= v * 0x100000001b3ULL;
		else
			h = (h << 7 | h >> 57) + v / (i | 1);
		mem[(i * 13) & 63] = h;
	}
	line("loop", 0, 0, h, 0);
}

/* Many values live through a hot loop with branches inside it: the translator gives host registers
 * to guest registers per block, keeps jumps within a block and computes mulh/mulhu inline. */
static void test_pressure(void)
{
	u64 v[14];
	for (unsigned k = 0; k < 14; k++) v[k] = int_operand(k * 3 + 1) ^ (k * 0x9e3779b97f4a7c15ULL);
	u64 a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7], i = v[8], j = v[9],
	    k = v[10], l = v[11], m = v[12], n = v[13];
	for (unsigned it = 0; it < 5000; it++) {
		a += b ^ (c >> 3);
		if (a & 1)
			b = (u64)(((unsigned __int128)b * c) >> 64) + d;
		else
			c -= (u64)(((__int128)(long long)d * (long long)e) >> 64);
		d = (d << 7 | d >> 57) + e;
		if (d > f) e ^= f + it;
		f += g * 3;
		g -= h >> (it & 15);
		if ((g ^ h) & 4) h += i; else h ^= i + 1;
		i = (i >> 1) | (j << 63);
		j += k ^ it;
		k -= l;
		if (k < m) l += m; else l ^= n;
		m = m * 5 + n;
		n ^= a + b;
		mem[it & 63] += a ^ n;
	}
	line("pressure", a ^ b ^ c ^ d ^ e ^ f ^ g, h ^ i ^ j ^ k ^ l ^ m ^ n, mem[0], mem[63]);
}

/* FP loads and stores in a hot loop (the translator does them inline): NaN boxing of flw, fsw of
 * a double's low half, misaligned addresses and doubles that cross a page (its slow path). */
static void test_fp_memory(void)
{
	static unsigned char buf[8192] __attribute__((aligned(4096)));
	for (unsigned i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)(i * 37 + 11);
	u64 acc = 0, boxes = 0;
	for (unsigned it = 0; it < 3000; it++) {
		unsigned char *p = buf + 2040 + (it * 52) % 4100; /* 4092..4099 cross into the next page */
		u64 d, s;
		__asm__ volatile("fld ft0, 0(%2)\n flw ft1, 4(%2)\n fmv.x.d %0, ft0\n fmv.x.d %1, ft1\n"
		                 "fsd ft1, 8(%2)\n fsw ft0, 1(%2)"
		                 : "=&r"(d), "=&r"(s)
		                 : "r"(p)
		                 : "memory", "ft0", "ft1");
		acc = acc * 31 + d;
		boxes ^= s + it;
	}
	u64 sum = 0;
	for (unsigned i = 0; i < sizeof(buf); i++) sum = sum * 131 + buf[i];
	line("fp-memory", acc, boxes, sum, 0);
}

/* slli by 32 then srli of its result (gcc's zero-extension) in a hot loop: shifts below, at and
 * above 32, the srli overwriting the slli's result or not, the slli overwriting its source. */
static void test_zext_pairs(void)
{
	u64 acc = 0;
	for (unsigned it = 0; it < 3000; it++) {
		u64 x = int_operand(it % 40) ^ (it * 0x9e3779b97f4a7c15ULL), t, r1, r2, r3, r4, r5;
		__asm__ volatile("slli %0, %6, 32\n srli %1, %0, 32\n"
		                 "slli %2, %6, 32\n srli %2, %2, 29\n"
		                 "slli %3, %6, 32\n srli %3, %3, 35\n"
		                 "slli %4, %6, 32\n srli %4, %4, 63\n"
		                 "mv %5, %6\n slli %5, %5, 32\n srli %5, %5, 1\n"
		                 : "=&r"(t), "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4), "=&r"(r5)
		                 : "r"(x));
		acc = (acc * 31) ^ t ^ (r1 << 1) ^ (r2 << 2) ^ (r3 << 3) ^ (r4 << 4) ^ (r5 << 5);
	}
	line("zext-pairs", 0, 0, acc, 0);
}

/* Runs of stores and of loads through one base register (a function saving and restoring its
 * registers): the translator probes the TLB once for a run; runs that cross a page take each access
 * alone. Every width, sign and zero extension, x0 as data, a load replacing the base last. */
static void test_access_runs(void)
{
	static unsigned char buf[8192] __attribute__((aligned(4096)));
	u64 acc = 0;
	for (unsigned it = 0; it < 3000; it++) {
		unsigned char *p = buf + 4000 + (it * 7) % 120; /* some runs straddle 4096 */
		u64 v = int_operand(it % 40) ^ (it * 0x9e3779b97f4a7c15ULL), a, b, c, d, e, f, g, q;
		__asm__ volatile("sd %1, 0(%0)\n sd %1, 8(%0)\n sw %1, 20(%0)\n sh %1, 16(%0)\n sb %1, 18(%0)\n"
		                 "sb zero, 19(%0)\n sd zero, 24(%0)"
		                 :
		                 : "r"(p), "r"(v)
		                 : "memory");
		__asm__ volatile("ld %0, 0(%8)\n lw %1, 4(%8)\n lwu %2, 20(%8)\n lh %3, 16(%8)\n lhu %4, 18(%8)\n"
		                 "lb %5, 3(%8)\n lbu %6, 7(%8)\n mv %7, %8\n ld %7, 8(%7)"
		                 : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d), "=&r"(e), "=&r"(f), "=&r"(g), "=&r"(q)
		                 : "r"(p)
		                 : "memory");
		acc = acc * 31 + (a ^ b ^ (c << 1) ^ (d << 2) ^ (e << 3) ^ (f << 4) ^ (g << 5) ^ (q << 6));
	}
	line("access-runs", 0, 0, acc, 0);

	/* A run that a branch reaches just after a jump, then an indirect jump out of the block: the values
	 * it loaded into local host registers must reach the hart. */
	register u64 a __asm__("s4") = 0, b __asm__("s5") = 0; /* not pinned: local host registers */
	u64 sum = 0;
	for (unsigned it = 0; it < 3000; it++) {
		unsigned char *p = buf + 4000 + (it * 8) % 120; /* written above */
		__asm__ volatile("xor %[s], %[s], %[a]\n add %[s], %[s], %[b]\n add %[s], %[s], %[a]\n"
		                 "xor %[s], %[s], %[b]\n beqz %[c], 1f\n j 3f\n"
		                 "1: ld %[a], 0(%[p])\n ld %[b], 8(%[p])\n la t0, 2f\n jr t0\n 3: nop\n 2:"
		                 : [a] "+r"(a), [b] "+r"(b), [s] "+r"(sum)
		                 : [c] "r"((u64)(~it & 1)), [p] "r"(p)
		                 : "memory", "t0");
	}
	line("access-run-target", a, b, sum, 0);
}

int main(void)
{
	test_integer();
	test_memory();
	test_fp();
#ifdef __riscv_zfh
	test_half();
#endif
#ifdef __riscv_vector
	test_vector();
#endif
	test_loop();
	test_pressure();
	test_fp_memory();
	test_zext_pairs();
	test_access_runs();
	put_str("done\n");
	flush();
	return 0;
}
