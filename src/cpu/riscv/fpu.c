/*
 * fpu.c — F and D computational instructions (and H: fpu_half.h).
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
#include "decode.h"
#include "internal.h"
#include "isa.h"

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
	unsigned rm = F3(insn);
	if (rm == RM_DYN) rm = h->frm;
	if (rm > RM_RMM) fp_illegal(h, insn);
	return rm;
}

static void host_round(unsigned rm)
{
	static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD, FE_TONEAREST};
	fesetround(modes[rm]);
}

#if defined(__x86_64__)
/* Straight through SSE's control and status register: glibc's feclearexcept and fetestexcept also
 * save and restore the x87 unit's environment, which this code never uses, at several times the
 * cost (a tenth of a Python workload's time went there). Rounding control is MXCSR bits 13-14,
 * the exception flags bits 0-5 (invalid, denormal, divide by zero, overflow, underflow, inexact). */
#include <xmmintrin.h>

static void begin_op(unsigned rm)
{
	static const unsigned rounding[] = {0, 0x6000, 0x2000, 0x4000, 0}; /* RNE, RTZ, RDN, RUP, RMM->RNE */
	_mm_setcsr((_mm_getcsr() & ~0x603fu) | rounding[rm]);
}

static uint32_t fflags_of_mxcsr(unsigned csr)
{
	uint32_t f = 0;
	if (csr & 0x20) f |= FFLAG_NX;
	if (csr & 0x10) f |= FFLAG_UF;
	if (csr & 0x08) f |= FFLAG_OF;
	if (csr & 0x04) f |= FFLAG_DZ;
	if (csr & 0x01) f |= FFLAG_NV;
	return f;
}

static void end_op(struct rv_hart *h, unsigned rm)
{
	unsigned csr = _mm_getcsr();
	if (rm != RM_RNE) _mm_setcsr(csr & ~0x6000u);
	h->fflags |= fflags_of_mxcsr(csr);
}

/* The flags stay in MXCSR (writing it costs more than reading): taking them again changes nothing. */
void rv_fp_take_host_flags(struct rv_hart *h)
{
	h->fflags |= fflags_of_mxcsr(_mm_getcsr());
}

void rv_fp_drop_foreign_flags(const struct rv_hart *h)
{
	unsigned csr = _mm_getcsr();
	if (fflags_of_mxcsr(csr) & ~h->fflags) _mm_setcsr(csr & ~0x3fu);
}

void rv_fp_clear_host_flags(void)
{
	unsigned csr = _mm_getcsr();
	if (csr & 0x3f) _mm_setcsr(csr & ~0x3fu);
}

unsigned rv_fp_host_save(void)
{
	return _mm_getcsr();
}

void rv_fp_host_restore(unsigned saved)
{
	if (_mm_getcsr() != saved) _mm_setcsr(saved);
}

#else
static void begin_op(unsigned rm)
{
	feclearexcept(FE_ALL_EXCEPT);
	if (rm != RM_RNE) host_round(rm);
}

void rv_fp_take_host_flags(struct rv_hart *h)
{
	(void)h; /* translated FP exists only on x86-64 */
}

void rv_fp_drop_foreign_flags(const struct rv_hart *h)
{
	(void)h;
}

void rv_fp_clear_host_flags(void)
{
}

unsigned rv_fp_host_save(void)
{
	return 0;
}

void rv_fp_host_restore(unsigned saved)
{
	(void)saved;
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
#endif

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

static void put_d_bits(struct rv_hart *h, unsigned r, uint64_t b)
{
	h->f[r] = b;
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

/* feq (quiet: NV only for signalling NaNs), flt and fle (NV for any NaN); with Zfa, fltq and fleq
 * (quiet like feq). */
static uint64_t compare(struct rv_hart *h, uint32_t insn, double a, double b, bool any_snan)
{
	switch (F3(insn)) {
	case 2:
		if (any_snan) h->fflags |= FFLAG_NV;
		return a == b;
	case 1:
	case 0:
		if (isnan(a) || isnan(b)) h->fflags |= FFLAG_NV;
		return F3(insn) == 1 ? a < b : a <= b;
	case 5:
	case 4:
		if (!RV_HAS(h->ext, ZFA)) fp_illegal(h, insn);
		if (any_snan) h->fflags |= FFLAG_NV;
		return F3(insn) == 5 ? a < b : a <= b;
	default: fp_illegal(h, insn);
	}
}

/* ---- Zfa ---- */

/* fli: the constant of entry `idx`, `min_normal` being the format's smallest normal (entry 1). */
static double fli_value(unsigned idx, double min_normal)
{
	static const double table[32] = {-1.0, 0,      0x1p-16, 0x1p-15, 0x1p-8, 0x1p-7, 0.0625,   0.125,
	                                 0.25, 0.3125, 0.375,   0.4375,  0.5,    0.625,  0.75,     0.875,
	                                 1.0,  1.25,   1.5,     1.75,    2.0,    2.5,    3,        4,
	                                 8,    16,     128,     256,     0x1p15, 0x1p16, INFINITY, NAN};
	return idx == 1 ? min_normal : table[idx & 31];
}

/* fround, froundnx: an integral value in rm; zeros and infinities unchanged, NaN canonical (NV
 * when signalling); NX only for froundnx. Exact for each format: its integral values are its own. */
static double fround(struct rv_hart *h, double v, unsigned rm, bool snan, bool exact)
{
	if (isnan(v)) {
		if (snan) h->fflags |= FFLAG_NV;
		return NAN;
	}
	if (isinf(v) || v == 0) return v;
	double r = round_integral(v, rm);
	if (exact && r != v) h->fflags |= FFLAG_NX;
	return r;
}

/* fcvtmod.w.d: toward zero, then bits 31:0 of the unbounded integer, sign-extended; infinities and
 * NaN give 0. Flags as fcvt.w.d raises them. */
static uint64_t fcvtmod_w(struct rv_hart *h, double v)
{
	(void)fp_to_int(h, v, RM_RTZ, false, false);
	if (!isfinite(v)) return 0;
	uint64_t b = bits_d(v), mant = (b & ((1ULL << 52) - 1)) | 1ULL << 52;
	int e = (int)((b >> 52) & 0x7ff) - 1075; /* |v| = mant * 2^e (subnormals truncate to 0 anyway) */
	uint32_t low = e >= 32 ? 0 : e >= 0 ? (uint32_t)(mant << e) : e > -64 ? (uint32_t)(mant >> -e) : 0;
	if (((b >> 52) & 0x7ff) == 0) low = 0;
	if (b >> 63) low = 0u - low;
	return (uint64_t)(int64_t)(int32_t)low;
}

#define FP_T float
#define FP_BITS uint32_t
#define FP_NAME(x) x##_s
#define FP_GET get_s
#define FP_PUT put_s
#define FP_PUT_BITS put_s_bits
#define FP_BITS_OF bits_s
#define FP_IS_SNAN is_snan_s
#define FP_SIGN 0x80000000u
#define FP_CANON_NAN CANON_NAN_S
#define FP_SQRT sqrtf
#define FP_FMA fmaf
#define FP_FMV_X(h, r) ((uint64_t)(int64_t)(int32_t)(uint32_t)(h)->f[r])
#define FP_MIN_NORMAL 0x1p-126
#define FP_IS_D 0
#define FP_OTHER_T double
#define FP_OTHER_FMT 1
#define FP_GET_OTHER get_d
#define FP_IS_SNAN_OTHER is_snan_d
#include "fpu_template.h"

#define FP_T double
#define FP_BITS uint64_t
#define FP_NAME(x) x##_d
#define FP_GET get_d
#define FP_PUT put_d
#define FP_PUT_BITS put_d_bits
#define FP_BITS_OF bits_d
#define FP_IS_SNAN is_snan_d
#define FP_SIGN (1ULL << 63)
#define FP_CANON_NAN CANON_NAN_D
#define FP_SQRT sqrt
#define FP_FMA fma
#define FP_FMV_X(h, r) ((h)->f[r])
#define FP_MIN_NORMAL 0x1p-1022
#define FP_IS_D 1
#define FP_OTHER_T float
#define FP_OTHER_FMT 0
#define FP_GET_OTHER get_s
#define FP_IS_SNAN_OTHER is_snan_s
#include "fpu_template.h"

#include "fpu_half.h"
#include "vector_elem.h"
#include "fpu_vector.h"

static void exec_fp(struct rv_hart *h, uint32_t insn);

void rv_exec_fp(struct rv_hart *h, uint32_t insn)
{
	exec_fp(h, insn);
	/* Its flags are in fflags; what the C library's arithmetic raised (trunc, conversions) must not
	 * reach them with translated code's (internal.h). */
	rv_fp_clear_host_flags();
}

static void exec_fp(struct rv_hart *h, uint32_t insn)
{
	unsigned fmt = (insn >> 25) & 3, f7 = insn >> 25;
	bool zfhmin = RV_HAS(h->ext, ZFHMIN) || RV_HAS(h->ext, ZFH);
	if ((insn & 0x7f) != 0x53) { /* the fused multiply-adds */
		unsigned op = insn & 0x7f;
		if (fmt == 3 || (fmt == 2 && !RV_HAS(h->ext, ZFH))) fp_illegal(h, insn);
		unsigned rm = effective_rm(h, insn);
		bool neg_prod = op == 0x4b || op == 0x4f, neg_add = op == 0x47 || op == 0x4f;
		(fmt == 2 ? exec_fused_h : fmt ? exec_fused_d : exec_fused_s)(h, insn, rm, neg_prod, neg_add);
		return;
	}
	if (fmt == 2) {
		if (!zfhmin) fp_illegal(h, insn);
		exec_h(h, insn);
	} else if ((f7 == 0x20 || f7 == 0x21) && RS2(insn) == 2) { /* fcvt.s.h, fcvt.d.h */
		if (!zfhmin) fp_illegal(h, insn);
		exec_cvt_h(h, insn, f7 & 1, 2);
	} else {
		(fmt & 1 ? exec_d : exec_s)(h, insn);
	}
}
