/*
 * fpu_half.h — half precision (Zfh, and its subset Zfhmin): included once by
 * fpu.c, whose helpers it uses (rounding mode, saturating conversions to
 * integers, fmin/fmax, compares, fclass, the single and double registers).
 *
 * The host has no binary16 arithmetic, so every operation runs in double and
 * is rounded to half in software (round_half). Operands are exact in double;
 * sums and products of halves are too, quotients, square roots, fused
 * multiply-adds and conversions from wide integers are computed toward zero
 * with the lost bits folded into the last one ("round to odd"), which makes
 * the second rounding to 11 bits exact in every RISC-V mode (53 >= 11 + 2).
 * Tininess is detected after rounding, as for single and double.
 */

#define CANON_NAN_H 0x7e00u
#define NAN_BOX_H 0xffffffffffff0000ULL

static bool is_nan_h(uint16_t x)
{
	return (x & 0x7c00) == 0x7c00 && (x & 0x03ff);
}

static bool is_snan_h(uint16_t x)
{
	return is_nan_h(x) && !(x & 0x0200);
}

/* A half register's bits: a value not NaN-boxed in 64 bits reads as the canonical NaN. */
static uint16_t get_h(const struct rv_hart *h, unsigned r)
{
	uint64_t v = h->f[r];
	return (v >> 16) == 0xffffffffffffULL ? (uint16_t)v : CANON_NAN_H;
}

static void put_h_bits(struct rv_hart *h, unsigned r, uint16_t b)
{
	h->f[r] = NAN_BOX_H | b;
	rv_fs_dirty(h);
}

/* Exact: every half is a double. */
static double half_to_double(uint16_t x)
{
	unsigned e = (x >> 10) & 31, m = x & 0x3ff;
	double v;
	if (e == 31)
		v = m ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp(m, -24);
	else
		v = ldexp(m | 0x400, (int)e - 25);
	return (x & 0x8000) ? -v : v;
}

/* Whether a value of magnitude `mant` * 2^e, cut at bit `shift`, rounds its kept part up. */
static bool rounds_up(uint64_t mant, unsigned shift, uint64_t kept, bool neg, unsigned rm)
{
	uint64_t rest = shift >= 64 ? mant : mant & ((1ULL << shift) - 1);
	uint64_t halfway = shift >= 65 ? UINT64_MAX : 1ULL << (shift - 1);
	bool above = shift >= 65 ? false : rest > halfway, tie = shift < 65 && rest == halfway;
	if (!rest) return false;
	switch (rm) {
	case RM_RTZ: return false;
	case RM_RDN: return neg;
	case RM_RUP: return !neg;
	case RM_RMM: return above || tie;
	default: return above || (tie && (kept & 1));
	}
}

/*
 * Rounds a double (exact, or rounded to odd) to half per rm, adding NX, UF and OF to *flags. NaNs
 * become the canonical NaN (the caller raises NV where due).
 */
static uint16_t round_half(double v, unsigned rm, uint32_t *flags)
{
	uint64_t b = bits_d(v);
	uint16_t sign = (uint16_t)((b >> 48) & 0x8000);
	bool neg = sign != 0;
	if (isnan(v)) return CANON_NAN_H;
	if (isinf(v)) return sign | 0x7c00;
	if (v == 0) return sign;
	unsigned be = (unsigned)((b >> 52) & 0x7ff);
	uint64_t mant = (b & ((1ULL << 52) - 1)) | (be ? 1ULL << 52 : 0);
	int e = (be ? (int)be : 1) - 1075;       /* |v| = mant * 2^e */
	int lg = 63 - __builtin_clzll(mant) + e; /* floor(log2 |v|) */
	int q = lg - 10 < -24 ? -24 : lg - 10;   /* the quantum of the result: 2^q */
	unsigned shift = (unsigned)(q - e);      /* >= 1: a double has more bits than a half */
	uint64_t kept = shift >= 64 ? 0 : mant >> shift;
	bool inexact = (shift >= 64 ? mant : mant & ((1ULL << shift) - 1)) != 0;
	if (rounds_up(mant, shift, kept, neg, rm)) kept++;
	if (kept == 1u << 11) { /* carried into the next binade */
		kept >>= 1;
		q++;
	}
	if (inexact) *flags |= FFLAG_NX;
	if (q > 5) { /* above the largest exponent (15): overflow to infinity or the largest finite */
		*flags |= FFLAG_OF | FFLAG_NX;
		bool to_inf = rm == RM_RNE || rm == RM_RMM || (rm == RM_RUP && !neg) || (rm == RM_RDN && neg);
		return sign | (to_inf ? 0x7c00 : 0x7bff);
	}
	if (lg < -14 && inexact) {
		/* Tiny after rounding: the value rounded to 11 bits with an unbounded exponent is below
		 * 2^-14, which only a value just under 2^-14 rounding up escapes. */
		unsigned s2 = (unsigned)(lg - 10 - e);
		uint64_t k2 = s2 >= 64 ? 0 : mant >> s2;
		if (rounds_up(mant, s2, k2, neg, rm)) k2++;
		if (!(lg == -15 && k2 == 1u << 11)) *flags |= FFLAG_UF;
	}
	if (kept >= 1u << 10) return sign | (uint16_t)((q + 25) << 10) | (uint16_t)(kept & 0x3ff);
	return sign | (uint16_t)kept; /* subnormal (or zero): q = -24 */
}

/* The double result of `expr` computed toward zero, its lost bits folded into the last bit (round
 * to odd), with the host's invalid and divide-by-zero flags added to *flags. An exact zero is
 * computed again in the guest's mode `rm`, which decides its sign (x - x is -0 rounding down). */
#define ROUND_TO_ODD(result, expr, rm, flags)                                                                \
	do {                                                                                                 \
		feclearexcept(FE_ALL_EXCEPT);                                                                \
		fesetround(FE_TOWARDZERO);                                                                   \
		volatile double r_ = (expr);                                                                 \
		int e_ = fetestexcept(FE_ALL_EXCEPT);                                                        \
		if (r_ == 0 && !(e_ & FE_INEXACT)) {                                                         \
			host_round(rm);                                                                      \
			r_ = (expr);                                                                         \
		}                                                                                            \
		fesetround(FE_TONEAREST);                                                                    \
		double v_ = r_;                                                                              \
		if ((e_ & FE_INEXACT) && isfinite(v_)) v_ = bits_to_d(bits_d(v_) | 1);                       \
		if (e_ & FE_INVALID) *(flags) |= FFLAG_NV;                                                   \
		if (e_ & FE_DIVBYZERO) *(flags) |= FFLAG_DZ;                                                 \
		(result) = v_;                                                                               \
	} while (0)

static double bits_to_d(uint64_t b)
{
	double d;
	memcpy(&d, &b, 8);
	return d;
}

/* The result: rounded, NaN canonical, flags accumulated. */
static void put_h_rounded(struct rv_hart *h, unsigned rd, double v, unsigned rm, uint32_t flags)
{
	uint16_t r = round_half(v, rm, &flags);
	h->fflags |= flags;
	put_h_bits(h, rd, r);
}

/* Conversions between half and the other formats: fcvt.h.s, fcvt.h.d (rounding), fcvt.s.h,
 * fcvt.d.h (exact). Zfhmin has these. */
static void exec_cvt_h(struct rv_hart *h, uint32_t insn, unsigned to_fmt, unsigned from_fmt)
{
	unsigned rd = RD(insn), rs1 = RS1(insn), rm = effective_rm(h, insn);
	if (to_fmt == 2) {
		double v = from_fmt == 0 ? (double)get_s(h, rs1) : get_d(h, rs1);
		bool snan = from_fmt == 0 ? is_snan_s(get_s(h, rs1)) : is_snan_d(v);
		put_h_rounded(h, rd, v, rm, snan ? FFLAG_NV : 0);
		return;
	}
	uint16_t x = get_h(h, rs1);
	if (is_snan_h(x)) h->fflags |= FFLAG_NV;
	double v = half_to_double(x);
	if (to_fmt == 0)
		put_s(h, rd, (float)v);
	else
		put_d(h, rd, v);
}

/* The OP-FP instructions with fmt = H. */
static void exec_h(struct rv_hart *h, uint32_t insn)
{
	unsigned rd = RD(insn), rs1 = RS1(insn), rs2 = RS2(insn), f3 = F3(insn), f7 = F7(insn);
	bool zfh = RV_HAS(h->ext, ZFH);
	uint16_t xa = get_h(h, rs1), xb = get_h(h, rs2);
	volatile double a = half_to_double(xa), b = half_to_double(xb); /* read at each evaluation */
	uint32_t flags = (is_snan_h(xa) || is_snan_h(xb)) ? FFLAG_NV : 0;
	unsigned rm;

	uint32_t none = 0; /* flags of exact roundings, which raise none */
	bool zfa = zfh && RV_HAS(h->ext, ZFA);
	switch (f7) {
	case 0x22: /* fcvt.h.s, fcvt.h.d; Zfa's fround.h, froundnx.h */
		if ((rs2 == 4 || rs2 == 5) && zfa) {
			rm = effective_rm(h, insn);
			put_h_bits(h, rd,
			           round_half(fround(h, a, rm, is_snan_h(xa), rs2 == 5), RM_RNE, &none));
			return;
		}
		if (rs2 > 1) fp_illegal(h, insn);
		exec_cvt_h(h, insn, 2, rs2);
		return;
	case 0x72:
		if (rs2) fp_illegal(h, insn);
		if (f3 == 0) { /* fmv.x.h: raw bits, sign-extended */
			h->x[rd] = (uint64_t)(int64_t)(int16_t)(uint16_t)h->f[rs1];
			return;
		}
		if (f3 != 1 || !zfh) fp_illegal(h, insn);
		h->x[rd] = fclass_bits(xa >> 15, (xa & 0x7fff) == 0x7c00, is_nan_h(xa), is_snan_h(xa),
		                       (xa & 0x7fff) == 0, (xa & 0x7c00) == 0 && (xa & 0x3ff));
		return;
	case 0x7a: /* fmv.h.x; Zfa's fli.h (2^16 is not a half: that entry loads infinity) */
		if (rs2 == 1 && f3 == 0 && zfa) {
			put_h_bits(h, rd, round_half(fli_value(rs1, 0x1p-14), RM_RNE, &none));
			return;
		}
		if (rs2 || f3) fp_illegal(h, insn);
		put_h_bits(h, rd, (uint16_t)h->x[rs1]);
		return;
	default: break;
	}
	if (!zfh) fp_illegal(h, insn); /* the rest is Zfh's */
	switch (f7) {
	case 0x00 | 2: /* fadd.h, fsub.h, fmul.h: exact in double */
	case 0x04 | 2:
	case 0x08 | 2:
	case 0x0c | 2: /* fdiv.h */
		rm = effective_rm(h, insn);
		{
			double r;
			if (f7 == 0x0e)
				ROUND_TO_ODD(r, a / b, rm, &flags);
			else
				ROUND_TO_ODD(r, f7 == 0x02 ? a + b : f7 == 0x06 ? a - b : a * b, rm, &flags);
			put_h_rounded(h, rd, r, rm, flags);
		}
		return;
	case 0x2c | 2: { /* fsqrt.h */
		if (rs2) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		double r;
		flags = is_snan_h(xa) ? FFLAG_NV : 0; /* one operand */
		ROUND_TO_ODD(r, sqrt(a), rm, &flags);
		put_h_rounded(h, rd, r, rm, flags);
		return;
	}
	case 0x10 | 2: { /* fsgnj.h, fsgnjn.h, fsgnjx.h */
		uint16_t s;
		if (f3 == 0)
			s = xb & 0x8000;
		else if (f3 == 1)
			s = ~xb & 0x8000;
		else if (f3 == 2)
			s = (xa ^ xb) & 0x8000;
		else
			fp_illegal(h, insn);
		put_h_bits(h, rd, (uint16_t)((xa & 0x7fff) | s));
		return;
	}
	case 0x14 | 2: { /* fmin.h, fmax.h; Zfa's fminm.h, fmaxm.h */
		if (f3 > 3 || (f3 > 1 && !zfa)) fp_illegal(h, insn);
		bool both_nan;
		double r = min_max(h, a, b, f3 & 1, flags != 0, &both_nan);
		if (f3 > 1 && (isnan(a) || isnan(b))) both_nan = true;
		put_h_bits(h, rd, both_nan ? CANON_NAN_H : round_half(r, RM_RNE, &none)); /* exact */
		return;
	}
	case 0x50 | 2: /* feq.h, flt.h, fle.h */ h->x[rd] = compare(h, insn, a, b, flags != 0); return;
	case 0x60 | 2: /* fcvt.w.h ... fcvt.lu.h: exact in double, then as from double */
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		h->x[rd] = fp_to_int(h, a, rm, rs2 & 1, rs2 >> 1);
		return;
	case 0x68 | 2: { /* fcvt.h.w ... fcvt.h.lu */
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		volatile uint64_t v = h->x[rs1];
		double r;
		flags = 0;
		switch (rs2) {
		case 0: ROUND_TO_ODD(r, (double)(int32_t)v, rm, &flags); break;
		case 1: ROUND_TO_ODD(r, (double)(uint32_t)v, rm, &flags); break;
		case 2: ROUND_TO_ODD(r, (double)(int64_t)v, rm, &flags); break;
		default: ROUND_TO_ODD(r, (double)v, rm, &flags); break;
		}
		put_h_rounded(h, rd, r, rm, flags);
		return;
	}
	default: fp_illegal(h, insn);
	}
}

/* fmadd.h, fmsub.h, fnmsub.h, fnmadd.h: the product is exact in double, the sum rounded to odd. */
static void exec_fused_h(struct rv_hart *h, uint32_t insn, unsigned rm, bool neg_prod, bool neg_add)
{
	uint16_t xa = get_h(h, RS1(insn)), xb = get_h(h, RS2(insn)), xc = get_h(h, insn >> 27);
	volatile double a = half_to_double(xa), b = half_to_double(xb), c = half_to_double(xc);
	uint32_t flags = (is_snan_h(xa) || is_snan_h(xb) || is_snan_h(xc)) ? FFLAG_NV : 0;
	if ((isinf(a) && b == 0) || (a == 0 && isinf(b))) flags |= FFLAG_NV;
	if (neg_prod) a = -a;
	if (neg_add) c = -c;
	double r;
	ROUND_TO_ODD(r, fma(a, b, c), rm, &flags);
	put_h_rounded(h, RD(insn), r, rm, flags);
}
