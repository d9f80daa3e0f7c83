/*
 * fpu.c — F and D computational instructions.
 *
 * Arithmetic runs on the host's IEEE 754 unit (x86-64 SSE) with the guest's
 * rounding mode installed and the host exception flags mapped to fflags;
 * what RISC-V defines differently from the host is done here explicitly:
 * canonical NaNs, NaN-boxing of singles, fmin/fmax, saturating conversions
 * to integers, compare flags and fclass. Round-to-nearest-max-magnitude
 * (RMM) has no host mode: conversions to integer honour it exactly,
 * arithmetic uses round-to-nearest-even for it.
 *
 * Built with -frounding-math so the compiler keeps operations where the
 * rounding mode is set.
 */
#include "internal.h"

#include <fenv.h>
#include <math.h>

#define FFLAG_NX 1
#define FFLAG_UF 2
#define FFLAG_OF 4
#define FFLAG_DZ 8
#define FFLAG_NV 16

#define CANON_NAN_S 0x7fc00000u
#define CANON_NAN_D 0x7ff8000000000000ULL
#define NAN_BOX 0xffffffff00000000ULL

enum { RM_RNE, RM_RTZ, RM_RDN, RM_RUP, RM_RMM, RM_DYN = 7 };

static _Noreturn void fp_illegal(struct rv_hart *h, uint32_t insn)
{
	rv_raise(h, RV_EXC_ILLEGAL, insn);
}

/* Effective rounding mode of an instruction, or raises illegal. */
static unsigned effective_rm(struct rv_hart *h, uint32_t insn)
{
	unsigned rm = (insn >> 12) & 7;
	if (rm == RM_DYN) rm = h->frm;
	if (rm > RM_RMM) fp_illegal(h, insn);
	return rm;
}

static void host_round(unsigned rm)
{
	static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD, FE_TONEAREST};
	fesetround(modes[rm]);
}

static void begin_op(unsigned rm)
{
	feclearexcept(FE_ALL_EXCEPT);
	if (rm != RM_RNE) host_round(rm);
}

static void end_op(struct rv_hart *h, unsigned rm)
{
	int e = fetestexcept(FE_ALL_EXCEPT);
	if (rm != RM_RNE) fesetround(FE_TONEAREST);
	uint32_t f = 0;
	if (e & FE_INEXACT) f |= FFLAG_NX;
	if (e & FE_UNDERFLOW) f |= FFLAG_UF;
	if (e & FE_OVERFLOW) f |= FFLAG_OF;
	if (e & FE_DIVBYZERO) f |= FFLAG_DZ;
	if (e & FE_INVALID) f |= FFLAG_NV;
	h->fflags |= f;
}

static float get_s(const struct rv_hart *h, unsigned r)
{
	uint64_t v = h->f[r];
	uint32_t bits = (v >> 32) == 0xffffffffu ? (uint32_t)v : CANON_NAN_S;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static double get_d(const struct rv_hart *h, unsigned r)
{
	double d;
	memcpy(&d, &h->f[r], 8);
	return d;
}

static uint32_t bits_s(float f)
{
	uint32_t b;
	memcpy(&b, &f, 4);
	return b;
}

static uint64_t bits_d(double d)
{
	uint64_t b;
	memcpy(&b, &d, 8);
	return b;
}

static void put_s(struct rv_hart *h, unsigned r, float f)
{
	uint32_t b = isnan(f) ? CANON_NAN_S : bits_s(f);
	h->f[r] = NAN_BOX | b;
	rv_fs_dirty(h);
}

static void put_s_bits(struct rv_hart *h, unsigned r, uint32_t b)
{
	h->f[r] = NAN_BOX | b;
	rv_fs_dirty(h);
}

static void put_d(struct rv_hart *h, unsigned r, double d)
{
	h->f[r] = isnan(d) ? CANON_NAN_D : bits_d(d);
	rv_fs_dirty(h);
}

static bool is_snan_s(float f)
{
	uint32_t b = bits_s(f);
	return isnan(f) && !(b & 0x00400000u);
}

static bool is_snan_d(double d)
{
	uint64_t b = bits_d(d);
	return isnan(d) && !(b & 0x0008000000000000ULL);
}

/* Rounds to an integral value per rm, exactly (RMM included). */
static double round_integral(double v, unsigned rm)
{
	switch (rm) {
	case RM_RTZ: return trunc(v);
	case RM_RDN: return floor(v);
	case RM_RUP: return ceil(v);
	case RM_RMM: return round(v);
	default: {
		double r = nearbyint(v); /* host is in round-to-nearest-even here */
		return r;
	}
	}
}

/* Conversion to a signed or unsigned integer of 32 or 64 bits, saturating. */
static uint64_t fp_to_int(struct rv_hart *h, double v, unsigned rm, bool is_unsigned, bool is_64)
{
	if (isnan(v)) {
		h->fflags |= FFLAG_NV;
		if (is_unsigned) return is_64 ? UINT64_MAX : (uint64_t)(int64_t)(int32_t)UINT32_MAX;
		return is_64 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
	}
	double r = round_integral(v, rm);
	double lo, hi_excl;
	if (is_unsigned) {
		lo = 0.0;
		hi_excl = is_64 ? 18446744073709551616.0 : 4294967296.0;
	} else {
		lo = is_64 ? -9223372036854775808.0 : -2147483648.0;
		hi_excl = is_64 ? 9223372036854775808.0 : 2147483648.0;
	}
	if (r < lo || r >= hi_excl) {
		h->fflags |= FFLAG_NV;
		bool neg = r < lo;
		if (is_unsigned) {
			if (neg) return 0;
			return is_64 ? UINT64_MAX : (uint64_t)(int64_t)(int32_t)UINT32_MAX;
		}
		if (is_64) return neg ? (uint64_t)INT64_MIN : (uint64_t)INT64_MAX;
		return neg ? (uint64_t)(int64_t)INT32_MIN : (uint64_t)INT32_MAX;
	}
	if (r != v) h->fflags |= FFLAG_NX;
	if (is_unsigned) {
		uint64_t u = (uint64_t)r;
		return is_64 ? u : (uint64_t)(int64_t)(int32_t)(uint32_t)u;
	}
	int64_t s = (int64_t)r;
	return is_64 ? (uint64_t)s : (uint64_t)(int64_t)(int32_t)s;
}

static unsigned fclass_bits(bool neg, bool inf, bool nan, bool snan, bool zero, bool subnormal)
{
	if (nan) return snan ? 1u << 8 : 1u << 9;
	if (inf) return neg ? 1u << 0 : 1u << 7;
	if (zero) return neg ? 1u << 3 : 1u << 4;
	if (subnormal) return neg ? 1u << 2 : 1u << 5;
	return neg ? 1u << 1 : 1u << 6;
}

/* fmin/fmax per the RISC-V spec (IEEE 754-2019 minimumNumber/maximumNumber). */
static double min_max(struct rv_hart *h, double a, double b, bool is_max, bool any_snan, bool *both_nan)
{
	if (any_snan) h->fflags |= FFLAG_NV;
	*both_nan = false;
	if (isnan(a) && isnan(b)) {
		*both_nan = true;
		return a;
	}
	if (isnan(a)) return b;
	if (isnan(b)) return a;
	if (a == 0.0 && b == 0.0) {
		bool an = signbit(a), bn = signbit(b);
		if (is_max) return (an && bn) ? a : (an ? b : a);
		return (an || bn) ? (an ? a : b) : a;
	}
	if (is_max) return a > b ? a : b;
	return a < b ? a : b;
}

/* feq (quiet: NV only for signalling NaNs), flt and fle (NV for any NaN). */
static uint64_t compare(struct rv_hart *h, uint32_t insn, double a, double b, bool any_snan)
{
	switch ((insn >> 12) & 7) {
	case 2:
		if (any_snan) h->fflags |= FFLAG_NV;
		return a == b;
	case 1:
	case 0:
		if (isnan(a) || isnan(b)) h->fflags |= FFLAG_NV;
		return ((insn >> 12) & 7) == 1 ? a < b : a <= b;
	default: fp_illegal(h, insn);
	}
}

static void exec_single(struct rv_hart *h, uint32_t insn)
{
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned f3 = (insn >> 12) & 7, f7 = insn >> 25;
	float a = get_s(h, rs1), b = get_s(h, rs2);
	unsigned rm;

	switch (f7) {
	case 0x00:
	case 0x04:
	case 0x08:
	case 0x0c: {
		rm = effective_rm(h, insn);
		begin_op(rm);
		volatile float r;
		if (f7 == 0x00)
			r = a + b;
		else if (f7 == 0x04)
			r = a - b;
		else if (f7 == 0x08)
			r = a * b;
		else
			r = a / b;
		end_op(h, rm);
		put_s(h, rd, r);
		return;
	}
	case 0x2c:
		if (rs2) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		begin_op(rm);
		volatile float r = sqrtf(a);
		end_op(h, rm);
		put_s(h, rd, r);
		return;
	case 0x10: {
		uint32_t x = bits_s(a), y = bits_s(b), s;
		if (f3 == 0)
			s = y & 0x80000000u;
		else if (f3 == 1)
			s = ~y & 0x80000000u;
		else if (f3 == 2)
			s = (x ^ y) & 0x80000000u;
		else
			fp_illegal(h, insn);
		put_s_bits(h, rd, (x & 0x7fffffffu) | s);
		return;
	}
	case 0x14: {
		if (f3 > 1) fp_illegal(h, insn);
		bool both_nan;
		double r = min_max(h, a, b, f3 == 1, is_snan_s(a) || is_snan_s(b), &both_nan);
		if (both_nan)
			put_s_bits(h, rd, CANON_NAN_S);
		else if (r == 0.0)
			put_s_bits(h, rd, signbit(r) ? 0x80000000u : 0);
		else
			put_s(h, rd, (float)r);
		return;
	}
	case 0x20: /* fcvt.s.d */
		if (rs2 != 1) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		{
			double d = get_d(h, rs1);
			if (is_snan_d(d)) h->fflags |= FFLAG_NV;
			begin_op(rm);
			volatile float r = (float)d;
			end_op(h, rm);
			put_s(h, rd, r);
		}
		return;
	case 0x50: /* promotion to double is exact; signalling NaNs are found before it */
		h->x[rd] = compare(h, insn, a, b, is_snan_s(a) || is_snan_s(b));
		return;
	case 0x60:
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		h->x[rd] = fp_to_int(h, a, rm, rs2 & 1, rs2 >> 1);
		return;
	case 0x68: {
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		uint64_t v = h->x[rs1];
		begin_op(rm);
		volatile float r;
		switch (rs2) {
		case 0: r = (float)(int32_t)v; break;
		case 1: r = (float)(uint32_t)v; break;
		case 2: r = (float)(int64_t)v; break;
		default: r = (float)v; break;
		}
		end_op(h, rm);
		put_s(h, rd, r);
		return;
	}
	case 0x70:
		if (rs2) fp_illegal(h, insn);
		if (f3 == 0) { /* fmv.x.w: raw bits, sign-extended, no unboxing check */
			h->x[rd] = (uint64_t)(int64_t)(int32_t)(uint32_t)h->f[rs1];
		} else if (f3 == 1) {
			uint32_t x = bits_s(a);
			int c = fpclassify(a);
			h->x[rd] = fclass_bits(x >> 31, c == FP_INFINITE, c == FP_NAN, is_snan_s(a),
			                       c == FP_ZERO, c == FP_SUBNORMAL);
		} else {
			fp_illegal(h, insn);
		}
		return;
	case 0x78:
		if (rs2 || f3) fp_illegal(h, insn);
		put_s_bits(h, rd, (uint32_t)h->x[rs1]);
		return;
	default: fp_illegal(h, insn);
	}
}

static void exec_double(struct rv_hart *h, uint32_t insn)
{
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned f3 = (insn >> 12) & 7, f7 = insn >> 25;
	double a = get_d(h, rs1), b = get_d(h, rs2);
	unsigned rm;

	switch (f7) {
	case 0x01:
	case 0x05:
	case 0x09:
	case 0x0d: {
		rm = effective_rm(h, insn);
		begin_op(rm);
		volatile double r;
		if (f7 == 0x01)
			r = a + b;
		else if (f7 == 0x05)
			r = a - b;
		else if (f7 == 0x09)
			r = a * b;
		else
			r = a / b;
		end_op(h, rm);
		put_d(h, rd, r);
		return;
	}
	case 0x2d:
		if (rs2) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		begin_op(rm);
		volatile double r = sqrt(a);
		end_op(h, rm);
		put_d(h, rd, r);
		return;
	case 0x11: {
		uint64_t x = bits_d(a), y = bits_d(b), s, sign = 1ULL << 63;
		if (f3 == 0)
			s = y & sign;
		else if (f3 == 1)
			s = ~y & sign;
		else if (f3 == 2)
			s = (x ^ y) & sign;
		else
			fp_illegal(h, insn);
		h->f[rd] = (x & ~sign) | s;
		rv_fs_dirty(h);
		return;
	}
	case 0x15: {
		if (f3 > 1) fp_illegal(h, insn);
		bool both_nan;
		double r = min_max(h, a, b, f3 == 1, is_snan_d(a) || is_snan_d(b), &both_nan);
		if (both_nan)
			h->f[rd] = CANON_NAN_D;
		else
			h->f[rd] = bits_d(r);
		rv_fs_dirty(h);
		return;
	}
	case 0x21: { /* fcvt.d.s: exact */
		if (rs2 != 0) fp_illegal(h, insn);
		effective_rm(h, insn);
		float s = get_s(h, rs1);
		if (is_snan_s(s)) h->fflags |= FFLAG_NV;
		put_d(h, rd, (double)s);
		return;
	}
	case 0x51: h->x[rd] = compare(h, insn, a, b, is_snan_d(a) || is_snan_d(b)); return;
	case 0x61:
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		h->x[rd] = fp_to_int(h, a, rm, rs2 & 1, rs2 >> 1);
		return;
	case 0x69: {
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		uint64_t v = h->x[rs1];
		begin_op(rm);
		volatile double r;
		switch (rs2) {
		case 0: r = (double)(int32_t)v; break;
		case 1: r = (double)(uint32_t)v; break;
		case 2: r = (double)(int64_t)v; break;
		default: r = (double)v; break;
		}
		end_op(h, rm);
		put_d(h, rd, r);
		return;
	}
	case 0x71:
		if (rs2) fp_illegal(h, insn);
		if (f3 == 0) {
			h->x[rd] = h->f[rs1];
		} else if (f3 == 1) {
			int c = fpclassify(a);
			h->x[rd] = fclass_bits(signbit(a) != 0, c == FP_INFINITE, c == FP_NAN, is_snan_d(a),
			                       c == FP_ZERO, c == FP_SUBNORMAL);
		} else {
			fp_illegal(h, insn);
		}
		return;
	case 0x79:
		if (rs2 || f3) fp_illegal(h, insn);
		h->f[rd] = h->x[rs1];
		rv_fs_dirty(h);
		return;
	default: fp_illegal(h, insn);
	}
}

/* fmadd/fmsub/fnmsub/fnmadd: one rounding, via the C library's fma. */
static void exec_fused(struct rv_hart *h, uint32_t insn)
{
	unsigned op = insn & 0x7f, fmt = (insn >> 25) & 3;
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31, rs3 = insn >> 27;
	bool neg_prod = op == 0x4b || op == 0x4f, neg_add = op == 0x47 || op == 0x4f;
	if (fmt > 1) fp_illegal(h, insn);
	unsigned rm = effective_rm(h, insn);

	if (fmt == 0) {
		float a = get_s(h, rs1), b = get_s(h, rs2), c = get_s(h, rs3);
		bool inf_zero = (isinf(a) && b == 0.0f) || (a == 0.0f && isinf(b));
		if (neg_prod) a = -a;
		if (neg_add) c = -c;
		begin_op(rm);
		volatile float r = fmaf(a, b, c);
		end_op(h, rm);
		if (inf_zero) h->fflags |= FFLAG_NV;
		put_s(h, rd, r);
	} else {
		double a = get_d(h, rs1), b = get_d(h, rs2), c = get_d(h, rs3);
		bool inf_zero = (isinf(a) && b == 0.0) || (a == 0.0 && isinf(b));
		if (neg_prod) a = -a;
		if (neg_add) c = -c;
		begin_op(rm);
		volatile double r = fma(a, b, c);
		end_op(h, rm);
		if (inf_zero) h->fflags |= FFLAG_NV;
		put_d(h, rd, r);
	}
}

void rv_exec_fp(struct rv_hart *h, uint32_t insn)
{
	if ((insn & 0x7f) != 0x53) {
		exec_fused(h, insn);
		return;
	}
	if ((insn >> 25) & 1)
		exec_double(h, insn);
	else
		exec_single(h, insn);
}
