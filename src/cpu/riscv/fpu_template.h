/*
 * fpu_template.h — the F or D computational instructions of one precision,
 * written once: fpu.c includes this file twice, first for single precision
 * and then for double, after defining
 *   FP_T, FP_BITS           the host type and its bit pattern (float/uint32_t, double/uint64_t)
 *   FP_NAME(x)              the name of a function for this precision (x##_s, x##_d)
 *   FP_GET, FP_PUT, FP_PUT_BITS, FP_BITS_OF, FP_IS_SNAN   register access and classification
 *   FP_SIGN, FP_CANON_NAN   the sign bit and the canonical NaN
 *   FP_SQRT, FP_FMA         the C library's functions for the type
 *   FP_FMV_X(h, r)          what fmv.x.w / fmv.x.d puts in an integer register
 *   FP_OTHER_FMT, FP_GET_OTHER, FP_IS_SNAN_OTHER   the other precision, for fcvt between them
 *   FP_MIN_NORMAL, FP_IS_D  the smallest normal (fli), and whether this is double (fcvtmod.w.d)
 * and undefines them all at its end. Opcode function fields are those of single precision; bit 0
 * of funct7 (the format) has already chosen this precision.
 */

static void FP_NAME(exec)(struct rv_hart *h, uint32_t insn)
{
	unsigned rd = RD(insn), rs1 = RS1(insn), rs2 = RS2(insn), f3 = F3(insn), f7 = F7(insn) & ~1u;
	FP_T a = FP_GET(h, rs1), b = FP_GET(h, rs2);
	unsigned rm;

	switch (f7) {
	case 0x00:
	case 0x04:
	case 0x08:
	case 0x0c: {
		rm = effective_rm(h, insn);
		begin_op(rm);
		volatile FP_T r;
		if (f7 == 0x00)
			r = a + b;
		else if (f7 == 0x04)
			r = a - b;
		else if (f7 == 0x08)
			r = a * b;
		else
			r = a / b;
		end_op(h, rm);
		FP_PUT(h, rd, r);
		return;
	}
	case 0x2c: {
		if (rs2) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		begin_op(rm);
		volatile FP_T r = FP_SQRT(a);
		end_op(h, rm);
		FP_PUT(h, rd, r);
		return;
	}
	case 0x10: { /* fsgnj, fsgnjn, fsgnjx */
		FP_BITS x = FP_BITS_OF(a), y = FP_BITS_OF(b), s;
		if (f3 == 0)
			s = y & FP_SIGN;
		else if (f3 == 1)
			s = ~y & FP_SIGN;
		else if (f3 == 2)
			s = (x ^ y) & FP_SIGN;
		else
			fp_illegal(h, insn);
		FP_PUT_BITS(h, rd, (x & ~FP_SIGN) | s);
		return;
	}
	case 0x14: { /* fmin, fmax: exact in double, a signed zero keeps its sign; Zfa's fminm, fmaxm */
		if (f3 > 3 || (f3 > 1 && !RV_HAS(h->ext, ZFA))) fp_illegal(h, insn);
		bool both_nan;
		double r = min_max(h, a, b, f3 & 1, FP_IS_SNAN(a) || FP_IS_SNAN(b), &both_nan);
		if (f3 > 1 && (isnan(a) || isnan(b))) both_nan = true; /* fminm/fmaxm: any NaN wins */
		FP_PUT_BITS(h, rd, both_nan ? FP_CANON_NAN : FP_BITS_OF((FP_T)r));
		return;
	}
	case 0x20: { /* from the other precision (fcvt.s.d rounds; fcvt.d.s is exact) */
		if ((rs2 == 4 || rs2 == 5) && RV_HAS(h->ext, ZFA)) { /* fround, froundnx */
			rm = effective_rm(h, insn);
			FP_PUT(h, rd, (FP_T)fround(h, a, rm, FP_IS_SNAN(a), rs2 == 5));
			return;
		}
		if (rs2 != FP_OTHER_FMT) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		FP_OTHER_T o = FP_GET_OTHER(h, rs1);
		if (FP_IS_SNAN_OTHER(o)) h->fflags |= FFLAG_NV;
		begin_op(rm);
		volatile FP_T r = (FP_T)o;
		end_op(h, rm);
		FP_PUT(h, rd, r);
		return;
	}
	case 0x50: /* promotion to double is exact; signalling NaNs are found before it */
		h->x[rd] = compare(h, insn, a, b, FP_IS_SNAN(a) || FP_IS_SNAN(b));
		return;
	case 0x60:
		if (FP_IS_D && rs2 == 8 && f3 == RM_RTZ && RV_HAS(h->ext, ZFA)) { /* fcvtmod.w.d */
			h->x[rd] = fcvtmod_w(h, a);
			return;
		}
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		h->x[rd] = fp_to_int(h, a, rm, rs2 & 1, rs2 >> 1);
		return;
	case 0x68: {
		if (rs2 > 3) fp_illegal(h, insn);
		rm = effective_rm(h, insn);
		uint64_t v = h->x[rs1];
		begin_op(rm);
		volatile FP_T r;
		switch (rs2) {
		case 0: r = (FP_T)(int32_t)v; break;
		case 1: r = (FP_T)(uint32_t)v; break;
		case 2: r = (FP_T)(int64_t)v; break;
		default: r = (FP_T)v; break;
		}
		end_op(h, rm);
		FP_PUT(h, rd, r);
		return;
	}
	case 0x70:
		if (rs2) fp_illegal(h, insn);
		if (f3 == 0) { /* fmv.x.w / fmv.x.d: raw bits, no unboxing check */
			h->x[rd] = FP_FMV_X(h, rs1);
		} else if (f3 == 1) {
			int c = fpclassify(a);
			h->x[rd] = fclass_bits(signbit(a) != 0, c == FP_INFINITE, c == FP_NAN, FP_IS_SNAN(a),
			                       c == FP_ZERO, c == FP_SUBNORMAL);
		} else {
			fp_illegal(h, insn);
		}
		return;
	case 0x78: /* fmv.w.x / fmv.d.x; Zfa's fli */
		if (rs2 == 1 && f3 == 0 && RV_HAS(h->ext, ZFA)) {
			FP_PUT(h, rd, (FP_T)fli_value(rs1, FP_MIN_NORMAL));
			return;
		}
		if (rs2 || f3) fp_illegal(h, insn);
		FP_PUT_BITS(h, rd, (FP_BITS)h->x[rs1]);
		return;
	default: fp_illegal(h, insn);
	}
}

/* fmadd/fmsub/fnmsub/fnmadd: one rounding, via the C library's fma. */
static void FP_NAME(exec_fused)(struct rv_hart *h, uint32_t insn, unsigned rm, bool neg_prod, bool neg_add)
{
	FP_T a = FP_GET(h, RS1(insn)), b = FP_GET(h, RS2(insn)), c = FP_GET(h, insn >> 27);
	bool inf_zero = (isinf(a) && b == 0) || (a == 0 && isinf(b));
	if (neg_prod) a = -a;
	if (neg_add) c = -c;
	begin_op(rm);
	volatile FP_T r = FP_FMA(a, b, c);
	end_op(h, rm);
	if (inf_zero) h->fflags |= FFLAG_NV;
	FP_PUT(h, RD(insn), r);
}

#undef FP_T
#undef FP_BITS
#undef FP_NAME
#undef FP_GET
#undef FP_PUT
#undef FP_PUT_BITS
#undef FP_BITS_OF
#undef FP_IS_SNAN
#undef FP_SIGN
#undef FP_CANON_NAN
#undef FP_SQRT
#undef FP_FMA
#undef FP_FMV_X
#undef FP_OTHER_T
#undef FP_OTHER_FMT
#undef FP_GET_OTHER
#undef FP_IS_SNAN_OTHER
#undef FP_MIN_NORMAL
#undef FP_IS_D
