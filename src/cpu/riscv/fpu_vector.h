/*
 * fpu_vector.h — the floating-point vector instructions of V (OPFVV, OPFVF),
 * included once by fpu.c: the arithmetic runs on the host FPU under the
 * guest's rounding mode like the scalar instructions (and RMM rounds to
 * nearest-even there too), with fpu.c's rules for NaNs, fmin/fmax, compares,
 * classes and saturating conversions. Elements are single or double (SEW 32,
 * 64); half precision appears only where Zvfhmin allows it (vfwcvt.f.f.v from,
 * vfncvt.f.f.w to) and in the integer side of conversions.
 *
 * vector.c decodes the configuration and calls rv_exec_vector_fp.
 */

/* ---- elements ---- */

static float vf_s(uint64_t bits)
{
	float f;
	uint32_t u = (uint32_t)bits;
	memcpy(&f, &u, 4);
	return f;
}

/* NaN tests on the bits: a floating-point test of a signalling NaN would raise the host's invalid
 * flag in the middle of an operation whose flags are being collected. */
static bool vf_is_nan(uint64_t bits, unsigned sew)
{
	unsigned fbits = sew == 2 ? 10 : sew == 4 ? 23 : 52, ebits = 8 * sew - 1 - fbits;
	uint64_t e = (bits >> fbits) & ((1ULL << ebits) - 1), f = bits & ((1ULL << fbits) - 1);
	return e == (1ULL << ebits) - 1 && f != 0;
}

static bool vf_is_snan(uint64_t bits, unsigned sew)
{
	unsigned fbits = sew == 2 ? 10 : sew == 4 ? 23 : 52;
	return vf_is_nan(bits, sew) && !((bits >> (fbits - 1)) & 1);
}

/* The value of an element of SEW 2 (half), 4 or 8 as a double: exact. */
static double vf_val(uint64_t bits, unsigned sew)
{
	return sew == 4 ? (double)vf_s(bits) : sew == 8 ? bits_to_d(bits) : half_to_double((uint16_t)bits);
}

/* The bits of a result, NaNs canonical. */
static uint64_t vf_bits_s(float f)
{
	return isnan(f) ? CANON_NAN_S : bits_s(f);
}
static uint64_t vf_bits_d(double d)
{
	return isnan(d) ? CANON_NAN_D : bits_d(d);
}

/* f[rs1] as an element of SEW bits: a single must be NaN-boxed (else the canonical NaN). */
static uint64_t vf_scalar(const struct rv_hart *h, unsigned rs1, unsigned sew)
{
	return sew == 4 ? bits_s(get_s(h, rs1)) : h->f[rs1];
}

/* ---- the estimates (vfrsqrt7, vfrec7): bit-exact tables of the V specification ---- */

static const uint8_t rsqrt7_table[128] = {
    52,  51,  50,  48,  47,  46,  44,  43,  42,  41,  40,  39,  38,  36,  35,  34, 33, 32, 31, 30, 30,  29,
    28,  27,  26,  25,  24,  23,  23,  22,  21,  20,  19,  19,  18,  17,  16,  16, 15, 14, 14, 13, 12,  12,
    11,  10,  10,  9,   9,   8,   7,   7,   6,   6,   5,   4,   4,   3,   3,   2,  2,  1,  1,  0,  127, 125,
    123, 121, 119, 118, 116, 114, 113, 111, 109, 108, 106, 105, 103, 102, 100, 99, 97, 96, 95, 93, 92,  91,
    90,  88,  87,  86,  85,  84,  83,  82,  80,  79,  78,  77,  76,  75,  74,  73, 72, 71, 70, 70, 69,  68,
    67,  66,  65,  64,  63,  63,  62,  61,  60,  59,  59,  58,  57,  56,  56,  55, 54, 53};
static const uint8_t rec7_table[128] = {
    127, 125, 123, 121, 119, 117, 116, 114, 112, 110, 109, 107, 105, 104, 102, 100, 99, 97, 96, 94, 93, 91,
    90,  88,  87,  85,  84,  83,  81,  80,  79,  77,  76,  75,  74,  72,  71,  70,  69, 68, 66, 65, 64, 63,
    62,  61,  60,  59,  58,  57,  56,  55,  54,  53,  52,  51,  50,  49,  48,  47,  46, 45, 44, 43, 42, 41,
    40,  40,  39,  38,  37,  36,  35,  35,  34,  33,  32,  31,  31,  30,  29,  28,  28, 27, 26, 25, 25, 24,
    23,  23,  22,  21,  21,  20,  19,  19,  18,  17,  17,  16,  15,  15,  14,  14,  13, 12, 12, 11, 11, 10,
    9,   9,   8,   8,   7,   7,   6,   5,   5,   4,   4,   3,   3,   2,   2,   1,   1,  0};

/* Format of an element: exponent and fraction widths. */
struct vf_fmt {
	unsigned ebits, fbits;
};

static struct vf_fmt vf_fmt_of(unsigned sew)
{
	return sew == 4 ? (struct vf_fmt){8, 23} : (struct vf_fmt){11, 52};
}

/* An input's exponent and fraction, normalized: a subnormal gets exponent 0 - its leading zeros, and
 * its fraction shifted past the leading one. */
static void vf_normalize(uint64_t frac, int64_t *exp, uint64_t *nfrac, struct vf_fmt f)
{
	if (*exp == 0) {
		unsigned lz = (unsigned)__builtin_clzll(frac) - (64 - f.fbits);
		*exp = -(int64_t)lz;
		*nfrac = (frac << (lz + 1)) & ((1ULL << f.fbits) - 1);
	} else {
		*nfrac = frac;
	}
}

static uint64_t vf_rsqrt7(struct rv_hart *h, uint64_t x, unsigned sew)
{
	struct vf_fmt f = vf_fmt_of(sew);
	uint64_t sign = x >> (f.ebits + f.fbits) & 1, emax = (1ULL << f.ebits) - 1;
	int64_t exp = (int64_t)((x >> f.fbits) & emax), bias = (int64_t)(emax >> 1);
	uint64_t frac = x & ((1ULL << f.fbits) - 1), canon = sew == 4 ? CANON_NAN_S : CANON_NAN_D;
	uint64_t inf = emax << f.fbits;
	if (exp == (int64_t)emax && frac) { /* NaN */
		if (vf_is_snan(x, sew)) h->fflags |= FFLAG_NV;
		return canon;
	}
	if (exp == 0 && frac == 0) { /* +-0: +-infinity */
		h->fflags |= FFLAG_DZ;
		return sign << (f.ebits + f.fbits) | inf;
	}
	if (sign) { /* negative (not -0) */
		h->fflags |= FFLAG_NV;
		return canon;
	}
	if (exp == (int64_t)emax) return 0; /* +infinity: +0 */
	uint64_t nfrac;
	vf_normalize(frac, &exp, &nfrac, f);
	unsigned idx = (unsigned)((exp & 1) << 6 | nfrac >> (f.fbits - 6));
	int64_t out_exp = (3 * bias - 1 - exp) / 2;
	return (uint64_t)out_exp << f.fbits | (uint64_t)rsqrt7_table[idx] << (f.fbits - 7);
}

static uint64_t vf_rec7(struct rv_hart *h, uint64_t x, unsigned sew, unsigned rm)
{
	struct vf_fmt f = vf_fmt_of(sew);
	unsigned shift = f.ebits + f.fbits;
	uint64_t sign = x >> shift & 1, emax = (1ULL << f.ebits) - 1;
	int64_t exp = (int64_t)((x >> f.fbits) & emax), bias = (int64_t)(emax >> 1);
	uint64_t frac = x & ((1ULL << f.fbits) - 1), canon = sew == 4 ? CANON_NAN_S : CANON_NAN_D;
	uint64_t inf = emax << f.fbits, max_finite = inf - 1;
	if (exp == (int64_t)emax && frac) {
		if (vf_is_snan(x, sew)) h->fflags |= FFLAG_NV;
		return canon;
	}
	if (exp == (int64_t)emax) return sign << shift; /* +-infinity: +-0 */
	if (exp == 0 && frac == 0) {
		h->fflags |= FFLAG_DZ;
		return sign << shift | inf;
	}
	uint64_t nfrac;
	vf_normalize(frac, &exp, &nfrac, f);
	int64_t out_exp = 2 * bias - 1 - exp;
	if (out_exp < -1 || out_exp > 2 * bias) { /* a tiny subnormal: overflow, by the rounding mode */
		h->fflags |= FFLAG_NX | FFLAG_OF;
		bool to_inf =
		    rm == RM_RNE || rm == RM_RMM || (rm == RM_RUP && !sign) || (rm == RM_RDN && sign);
		return sign << shift | (to_inf ? inf : max_finite);
	}
	uint64_t out_frac = (uint64_t)rec7_table[nfrac >> (f.fbits - 7)] << (f.fbits - 7);
	if (out_exp <= 0) { /* subnormal result */
		out_frac = (1ULL << f.fbits | out_frac) >> (1 - out_exp);
		out_exp = 0;
	}
	return sign << shift | (uint64_t)out_exp << f.fbits | out_frac;
}

/* ---- conversions to integers of any SEW ---- */

/* v to a signed or unsigned integer of `bits` bits in rm, saturating with NV (fcvt's rules). */
static uint64_t vf_to_int(struct rv_hart *h, double v, unsigned rm, bool is_unsigned, unsigned bits)
{
	if (bits >= 32) {
		uint64_t r = fp_to_int(h, v, rm, is_unsigned, bits == 64);
		return bits == 64 ? r : (uint32_t)r;
	}
	double hi = is_unsigned ? ldexp(1, (int)bits) : ldexp(1, (int)bits - 1), lo = is_unsigned ? 0 : -hi;
	uint64_t umax = (1ULL << bits) - 1, smax = umax >> 1;
	if (isnan(v)) {
		h->fflags |= FFLAG_NV;
		return is_unsigned ? umax : smax;
	}
	double r = round_integral(v, rm);
	if (r < lo || r >= hi) {
		h->fflags |= FFLAG_NV;
		if (is_unsigned) return r < 0 ? 0 : umax;
		return r < 0 ? (smax + 1) : smax;
	}
	if (r != v) h->fflags |= FFLAG_NX;
	return (uint64_t)(int64_t)r & umax;
}

/* ---- the instructions ---- */

/* vfadd, vfsub, vfdiv, vfrdiv, vfmul, vfrsub (0x27) of x = vs2[i] and y = vs1[i] or f[rs1], in
 * the operands' own precision. */
#define VF_BINOP(f6, x, y)                                                                                   \
	((f6) == 0x00   ? (x) + (y)                                                                          \
	 : (f6) == 0x02 ? (x) - (y)                                                                          \
	 : (f6) == 0x20 ? (x) / (y)                                                                          \
	 : (f6) == 0x21 ? (y) / (x)                                                                          \
	 : (f6) == 0x24 ? (x) * (y)                                                                          \
	                : (y) - (x))

/* Single-width arithmetic on a pair of elements (and vd's for the multiply-adds). */
static uint64_t vf_arith(struct rv_hart *h, unsigned f6, unsigned sew, uint64_t a, uint64_t b, uint64_t d)
{
	bool any_snan = vf_is_snan(a, sew) || vf_is_snan(b, sew);
	if (f6 == 0x04 || f6 == 0x06) { /* vfmin, vfmax */
		bool both_nan;
		double r = min_max(h, vf_val(a, sew), vf_val(b, sew), f6 == 0x06, any_snan, &both_nan);
		if (both_nan) return sew == 4 ? CANON_NAN_S : CANON_NAN_D;
		return sew == 4 ? bits_s((float)r) : bits_d(r);
	}
	if (f6 >= 0x08 && f6 <= 0x0a) { /* vfsgnj, vfsgnjn, vfsgnjx: b's sign, a's rest */
		uint64_t sign = 1ULL << (8 * sew - 1), s = f6 == 0x08 ? b : f6 == 0x09 ? ~b : a ^ b;
		return (a & ~sign) | (s & sign);
	}
	if (f6 >= 0x28) { /* multiply-adds: vd is an operand */
		if (vf_is_snan(d, sew)) any_snan = true;
		/* vfmadd family (0x28-0x2b): vs1 * vd +- vs2; vfmacc family (0x2c-0x2f): vs1 * vs2 +- vd */
		uint64_t m1 = b, m2 = f6 < 0x2c ? d : a, add = f6 < 0x2c ? a : d;
		bool neg_prod = f6 & 1, neg_add = (f6 & 3) == 1 || (f6 & 3) == 2;
		if (sew == 4) {
			float x = vf_s(m1), y = vf_s(m2), z = vf_s(add);
			if ((isinf(x) && y == 0) || (x == 0 && isinf(y))) h->fflags |= FFLAG_NV;
			if (neg_prod) x = -x;
			if (neg_add) z = -z;
			volatile float r = fmaf(x, y, z);
			return vf_bits_s(r);
		}
		double x = bits_to_d(m1), y = bits_to_d(m2), z = bits_to_d(add);
		if ((isinf(x) && y == 0) || (x == 0 && isinf(y))) h->fflags |= FFLAG_NV;
		if (neg_prod) x = -x;
		if (neg_add) z = -z;
		volatile double r = fma(x, y, z);
		return vf_bits_d(r);
	}
	if (sew == 4) {
		volatile float r = VF_BINOP(f6, vf_s(a), vf_s(b));
		return vf_bits_s(r);
	}
	volatile double r = VF_BINOP(f6, bits_to_d(a), bits_to_d(b));
	return vf_bits_d(r);
}

/* Compares into a mask: vmfeq, vmfle, vmflt, vmfne (quiet for eq and ne), vmfgt, vmfge. */
static bool vf_compare(struct rv_hart *h, unsigned f6, unsigned sew, uint64_t a, uint64_t b)
{
	double x = vf_val(a, sew), y = vf_val(b, sew);
	bool any_nan = vf_is_nan(a, sew) || vf_is_nan(b, sew);
	bool quiet = f6 == 0x18 || f6 == 0x1c;
	if (quiet ? (vf_is_snan(a, sew) || vf_is_snan(b, sew)) : any_nan) h->fflags |= FFLAG_NV;
	switch (f6) {
	case 0x18: return x == y;
	case 0x19: return x <= y;
	case 0x1b: return x < y;
	case 0x1c: return !(x == y);
	case 0x1d: return x > y;
	default: return x >= y; /* 0x1f */
	}
}

/* VFUNARY0: the conversions. `from` is SEW's element, the result dsew's. */
static uint64_t vf_convert(struct rv_hart *h, unsigned op, unsigned sew, unsigned dsew, uint64_t a,
                           unsigned rm)
{
	unsigned kind = op & 7; /* 0 xu.f, 1 x.f, 2 f.xu, 3 f.x, 4 f.f, 5 rod.f.f, 6 rtz.xu.f, 7 rtz.x.f */
	if (kind == 6 || kind == 7) {
		rm = RM_RTZ;
		kind -= 6;
	}
	if (kind <= 1) /* float to integer */
		return vf_to_int(h, vf_val(a, sew), rm, kind == 0, 8 * dsew);
	volatile double v;
	if (kind <= 3) { /* integer to float: exact in double up to 53 bits; 64-bit ones rounded below */
		if (dsew == 8 && sew == 8) { /* 64-bit integer to double: the host rounds once */
			begin_op(rm);
			volatile double r = kind == 2 ? (double)a : (double)(int64_t)a;
			end_op(h, rm);
			return vf_bits_d(r);
		}
		if (dsew == 4) { /* to single: the host rounds once */
			begin_op(rm);
			volatile float r = kind == 2 ? (float)a : (float)sext(a, sew);
			end_op(h, rm);
			return vf_bits_s(r);
		}
		v = kind == 2 ? (double)a : (double)sext(a, sew); /* to double from 32 bits: exact */
		return vf_bits_d(v);
	}
	/* float to float */
	if (vf_is_snan(a, sew)) h->fflags |= FFLAG_NV;
	double x = vf_val(a, sew);
	if (dsew == 2) { /* to half (Zvfhmin): rounded in software */
		uint32_t fl = 0;
		uint16_t r = round_half(x, kind == 5 ? RM_RTZ : rm, &fl);
		if (kind == 5 && (fl & FFLAG_NX) && (r & 0x7c00) != 0x7c00) r |= 1; /* round to odd */
		h->fflags |= fl;
		return r;
	}
	if (dsew == 8) return vf_bits_d(x); /* widening: exact */
	begin_op(kind == 5 ? RM_RTZ : rm);
	volatile float r = (float)x;
	int e = fetestexcept(FE_INEXACT);
	end_op(h, kind == 5 ? RM_RTZ : rm);
	uint32_t rb = bits_s(r);
	if (kind == 5 && e && !isnan(r) && !isinf(r))
		rb |= 1; /* round to odd: the lost bits kept in the last */
	return isnan(r) ? CANON_NAN_S : rb;
}

static void exec_vector_fp(struct rv_hart *h, uint32_t insn, const struct vargs *v);

void rv_exec_vector_fp(struct rv_hart *h, uint32_t insn, const struct vargs *v)
{
	exec_vector_fp(h, insn, v);
	rv_fp_clear_host_flags(); /* its flags are in fflags; the C library's must not get there */
}

static void exec_vector_fp(struct rv_hart *h, uint32_t insn, const struct vargs *v)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, f6 = v->f6, w = 2 * sew;
	need(h, insn, !rv_fs_off(h));
	unsigned rm = h->frm;
	need(h, insn, rm <= RM_RMM);
	uint64_t fs = 0;
	uint32_t flags_before = h->fflags;
	struct vdst d;

	if (f6 == 0x10) { /* vfmv.f.s (VV), vfmv.s.f (VF) */
		need(h, insn, sew >= 4 && v->vm);
		if (!v->vx) {
			need(h, insn, v->vs1 == 0);
			uint64_t e = vget(h, v->vs2, sew, 0);
			h->f[v->vd] = sew == 4 ? NAN_BOX | e : e;
			rv_fs_dirty(h);
		} else {
			need(h, insn, v->vs2 == 0);
			if (h->vstart < c->vl) vset(h, v->vd, sew, 0, vf_scalar(h, v->vs1, sew));
		}
		return;
	}
	bool unary0 = f6 == 0x12, unary1 = f6 == 0x13 && !v->vx;
	unsigned op = v->vs1; /* the unary groups' selector */
	bool widen_cvt = unary0 && op >= 8 && op < 16, narrow_cvt = unary0 && op >= 16;
	bool widening = f6 >= 0x30 && f6 != 0x31 && f6 != 0x33, wide_red = f6 == 0x31 || f6 == 0x33;
	bool reduction = f6 == 0x01 || f6 == 0x03 || f6 == 0x05 || f6 == 0x07 || wide_red;
	/* Element widths: FP operands are 32 or 64 bits; Zvfhmin's half side only for f.f conversions. */
	bool zvfhmin = RV_HAS(h->ext, ZVFHMIN);
	if (widen_cvt) { /* half sources only for vfwcvt.f.f.v (Zvfhmin) */
		bool int_src = op == 10 || op == 11, ff = op == 12;
		need(h, insn,
		     sew <= 4 && c->lmul8 <= 32 &&
		         (int_src ? sew >= 2 : sew == 4 || (ff && sew == 2 && zvfhmin)));
		need(h, insn, (op & 7) != 5 && op != 13);
	} else if (narrow_cvt) { /* half results only for vfncvt.f.f.w (Zvfhmin) */
		bool int_dst = (op & 7) <= 1 || (op & 7) >= 6, ff = op == 20 || op == 21;
		need(h, insn,
		     sew <= 4 && c->lmul8 <= 32 &&
		         (int_dst ? sew >= 2 : sew == 4 || (op == 20 && sew == 2 && zvfhmin)));
		need(h, insn, op <= 23 && (int_dst || ff || sew == 4));
	} else if (widening || wide_red) {
		need(h, insn, sew == 4 && c->lmul8 <= 32);
	} else {
		need(h, insn, sew >= 4);
	}
	if (v->vx) fs = vf_scalar(h, v->vs1, sew);

	if (reduction) {
		need(h, insn, !v->vx && h->vstart == 0 && group_ok(v->vs2, c->lmul8));
		if (c->vl == 0) return;
		unsigned aw = wide_red ? w : sew;
		uint64_t acc = vget(h, v->vs1, aw, 0);
		bool any_snan = false, both_nan = false;
		begin_op(rm);
		for (uint64_t i = 0; i < c->vl; i++) {
			if (!active(h, v->vm, i)) continue;
			uint64_t e = vget(h, v->vs2, sew, i);
			if (f6 == 0x05 || f6 == 0x07) { /* vfredmin, vfredmax */
				any_snan = vf_is_snan(e, sew) || vf_is_snan(acc, sew);
				double r = min_max(h, vf_val(acc, sew), vf_val(e, sew), f6 == 0x07, any_snan,
				                   &both_nan);
				acc = both_nan   ? (sew == 4 ? CANON_NAN_S : CANON_NAN_D)
				      : sew == 4 ? bits_s((float)r)
				                 : bits_d(r);
			} else if (aw == 8) { /* the sums: ordered, in the accumulator's precision */
				volatile double r = bits_to_d(acc) + vf_val(e, sew);
				acc = vf_bits_d(r);
			} else {
				volatile float r = vf_s(acc) + vf_s(e);
				acc = vf_bits_s(r);
			}
		}
		end_op(h, rm);
		vset(h, v->vd, aw, 0, acc);
		if (h->fflags != flags_before) rv_fs_dirty(h);
		return;
	}
	if (f6 == 0x0e || f6 == 0x0f) { /* vfslide1up, vfslide1down */
		need(h, insn,
		     v->vx && group_ok(v->vd, c->lmul8) && group_ok(v->vs2, c->lmul8) && (v->vm || v->vd));
		dst_begin(h, &d, v->vd, group_len(c->lmul8));
		for (uint64_t i = h->vstart; i < c->vl; i++) {
			if (!active(h, v->vm, i)) continue;
			uint64_t r = f6 == 0x0e ? (i == 0 ? fs : vget(h, v->vs2, sew, i - 1))
			                        : (i + 1 < c->vl ? vget(h, v->vs2, sew, i + 1) : fs);
			dst_set(&d, sew, i, r);
		}
		dst_end(h, &d);
		return;
	}
	bool is_cmp = f6 >= 0x18 && f6 <= 0x1f;
	unsigned dsew = widening || widen_cvt ? w : narrow_cvt ? sew / 2 : sew;
	unsigned src_sew = narrow_cvt ? sew : sew; /* the element width read from vs2 (see below) */
	unsigned demul8 = widening || widen_cvt ? 2 * c->lmul8 : c->lmul8;
	unsigned semul8 = narrow_cvt || (f6 == 0x34 || f6 == 0x36) ? 2 * c->lmul8 : c->lmul8;
	if (narrow_cvt) { /* vs2 holds 2*SEW elements, vd SEW ones: SEW names the destination */
		dsew = sew;
		src_sew = w;
	}
	if (is_cmp) {
		need(h, insn,
		     v->vd < 32 && group_ok(v->vs2, c->lmul8) && (v->vx || group_ok(v->vs1, c->lmul8)));
		dst_begin(h, &d, v->vd, 1);
	} else {
		need(h, insn, group_ok(v->vd, demul8) && group_ok(v->vs2, semul8) && (v->vm || v->vd != 0));
		need(h, insn, v->vx || unary0 || unary1 || group_ok(v->vs1, c->lmul8));
		dst_begin(h, &d, v->vd, group_len(demul8));
	}
	if (f6 == 0x17 && v->vm) need(h, insn, v->vs2 == 0); /* vfmv.v.f */
	if (unary1) need(h, insn, op == 0 || op == 4 || op == 5 || op == 16);
	/* Host flags matter for the arithmetic; conversions, estimates and compares raise theirs in software.
	 */
	bool host_flags = !unary0 && !(unary1 && op != 0) && !is_cmp;
	if (host_flags) begin_op(rm);
	for (uint64_t i = h->vstart; i < c->vl; i++) {
		uint64_t a = vget(h, v->vs2, src_sew, i);
		if (f6 == 0x17) { /* vfmerge.vfm, vfmv.v.f: every body element */
			dst_set(&d, sew, i, v->vm || mask_bit(h, 0, i) ? fs : a);
			continue;
		}
		if (!active(h, v->vm, i)) continue;
		uint64_t b = v->vx ? fs : unary0 || unary1 ? 0 : vget(h, v->vs1, sew, i), r;
		if (is_cmp) {
			dst_mask(&d, i, vf_compare(h, f6, sew, a, b));
			continue;
		}
		if (unary0) {
			r = vf_convert(h, op, src_sew, dsew, a, rm);
		} else if (unary1) {
			if (op == 0) { /* vfsqrt */
				if (sew == 4) {
					volatile float s = sqrtf(vf_s(a));
					r = vf_bits_s(s);
				} else {
					volatile double s = sqrt(bits_to_d(a));
					r = vf_bits_d(s);
				}
			} else if (op == 4) {
				r = vf_rsqrt7(h, a, sew);
			} else if (op == 5) {
				r = vf_rec7(h, a, sew, rm);
			} else { /* vfclass */
				int k = fpclassify(vf_val(a, sew));
				r = fclass_bits((a >> (8 * sew - 1)) & 1, k == FP_INFINITE, k == FP_NAN,
				                vf_is_snan(a, sew), k == FP_ZERO,
				                sew == 4 ? fpclassify(vf_s(a)) == FP_SUBNORMAL
				                         : k == FP_SUBNORMAL);
			}
		} else if (widening) { /* 2*SEW results from singles (the .w forms: vs2 already double) */
			bool wide_a = f6 == 0x34 || f6 == 0x36;
			uint64_t aw = wide_a ? vget(h, v->vs2, w, i) : a;
			double x = wide_a ? bits_to_d(aw) : (double)vf_s(a), y = vf_s(b);
			if ((!wide_a && is_snan_s(vf_s(a))) || (wide_a && is_snan_d(x)) || is_snan_s(vf_s(b)))
				h->fflags |= FFLAG_NV;
			volatile double res;
			if (f6 >= 0x3c) { /* vfwmacc, vfwnmacc, vfwmsac, vfwnmsac */
				double acc = bits_to_d(vget(h, v->vd, w, i));
				if (is_snan_d(acc)) h->fflags |= FFLAG_NV;
				if ((isinf(x) && y == 0) || (x == 0 && isinf(y))) h->fflags |= FFLAG_NV;
				bool neg_prod = f6 & 1, neg_add = f6 == 0x3d || f6 == 0x3e;
				res = fma(neg_prod ? -y : y, x, neg_add ? -acc : acc);
			} else if (f6 == 0x38) {
				res = x * y;
			} else if (f6 == 0x30 || f6 == 0x34) {
				res = x + y;
			} else {
				res = x - y;
			}
			r = vf_bits_d(res);
		} else {
			r = vf_arith(h, f6, sew, a, b, vget(h, v->vd, sew, i));
		}
		dst_set(&d, dsew, i, r);
	}
	if (host_flags) end_op(h, rm);
	dst_end(h, &d);
	if (h->fflags != flags_before) rv_fs_dirty(h);
}
