/*
 * jit_x86_fp.c — translated F and D instructions: loads and stores, and
 * arithmetic on SSE in round-to-nearest-even with exact RISC-V results
 * (NaN boxing, canonical NaNs, fflags); the rest goes to the interpreter.
 */
#include "jit_x86.h"

/* At a join (a jump target) or after a call that may change the FP state. */
void fp_forget(struct block_ctx *c)
{
	c->fp_ok = false;
	c->fp_boxed = 0;
}
/* mov byte [hart + fp_pending], 1: translated FP left host flags to take. */
void set_fp_pending(struct emit *e)
{
	e8(e, 0xc6);
	modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, fp_pending));
	e8(e, 1);
}
/* f[r]'s upper word all ones: a NaN-boxed single. */
static void nan_box(struct emit *e, unsigned r)
{
	store_field_imm32(e, foff(r) + 4, -1);
}
/* f[r] was written with a single (NaN-boxed) or not. */
static void fp_written(struct block_ctx *c, unsigned r, bool single)
{
	c->fp_boxed = single ? c->fp_boxed | 1u << r : c->fp_boxed & ~(1u << r);
}

/* flw, fld, fsw, fsd: the integer access kind that moves their bits, or -1 for another instruction. */
int fp_mem_kind(uint32_t insn)
{
	unsigned f3 = F3(insn);
	if ((insn & 0x7f) == 0x07 && (f3 == 2 || f3 == 3)) return f3 == 2 ? K_LWU : K_LD;
	if ((insn & 0x7f) == 0x27 && (f3 == 2 || f3 == 3)) return f3 == 2 ? K_SW : K_SD;
	return -1;
}

/*
 * An FP load or store (glibc's setjmp saves twelve FP registers with fsd):
 * through the TLB like an integer access, the value to or from h->f. With FP
 * off (mstatus.FS) or V=1 the interpreter runs it (an illegal instruction, or
 * vsstatus.FS to check and dirty). A load NaN-boxes a single and marks FS dirty.
 */
void emit_fp_mem(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned kind = (unsigned)fp_mem_kind(insn);
	const bool store = kind == K_SW || kind == K_SD, wide = kind == K_LD || kind == K_SD;
	const uint32_t mstatus = (uint32_t)offsetof(struct rv_hart, mstatus);
	EB(e, "\xf7"); /* test dword [hart + mstatus], FS */
	modrm_hart(e, 0, mstatus);
	e32(e, (uint32_t)MSTATUS_FS);
	EB(e, "\x0f\x84"); /* jz: the interpreter */
	uint8_t *fs_off = e->p;
	e32(e, 0);
	EB(e, "\x80"); /* cmp byte [hart + virt], 0 */
	modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, virt));
	e8(e, 0);
	EB(e, "\x0f\x85"); /* jne: the interpreter */
	uint8_t *virt = e->p;
	e32(e, 0);

	const unsigned rs1 = RS1(insn);
	const int32_t imm = (int32_t)(store ? imm_s(insn) : imm_i(insn));
	int base;
	uint8_t *fix = emit_tlb_probe(c, rs1, imm, imm + (wide ? 7 : 3), tlb_table(store), 1, &base);
	if (store) {
		op_rm_hart(e, 0x8b, RCX, foff(RS2(insn)), true);   /* rcx <- f[rs2] */
		op_base_rax(e, 0x89, RCX, base, imm, wide, false); /* the access <- rcx / ecx */
		access_slow_path(c, fix, pc, k, kind, (int)RS2(insn), true, rs1, imm, -1);
	} else {
		op_base_rax(e, 0x8b, RAX, base, imm, wide, false); /* rax / eax <- the access */
		access_slow_path(c, fix, pc, k, kind, -1, false, rs1, imm, -1);
		if (!wide) { /* NaN-boxed */
			mov_imm64(e, RCX, 0xffffffff00000000ULL);
			EB(e, "\x48\x09\xc8"); /* or rax, rcx */
		}
		op_rm_hart(e, 0x89, RAX, foff(RD(insn)), true); /* f[rd] <- rax */
		fp_written(c, RD(insn), !wide);
		EB(e, "\x66\x81"); /* or word [hart + mstatus], FS: dirty */
		modrm_hart(e, 1, mstatus);
		e8(e, (uint8_t)MSTATUS_FS);
		e8(e, (uint8_t)(MSTATUS_FS >> 8));
		EB(e, "\x80"); /* or byte [hart + mstatus + 7], SD >> 56 */
		modrm_hart(e, 1, mstatus + 7);
		e8(e, (uint8_t)(MSTATUS_SD >> 56));
	}
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.fix = fs_off;
	s.fix2 = virt;
	s.done = e->p;
	c->slow[c->nslow++] = s;
}

/*
 * F and D computation on the host's SSE unit, with fpu.c's semantics (the interpreter computes with
 * the same host instructions): add, sub, mul, div, sqrt, the fused multiply-adds (with the host's
 * FMA3), sign injection (D), compares, fcvt.d.w / fcvt.d.l, fcvt between S and D, fmv.x.d and
 * fmv.d.x. Translated only in round-to-nearest-even (rm RNE, or DYN with frm RNE at run time),
 * with FS already dirty and V=0; any other state, a single that is not NaN-boxed, or a NaN result
 * (RISC-V's canonical NaN, the invalid flag of inf * 0 + NaN) runs the instruction in the
 * interpreter instead, from its operands, which the translated attempt left untouched. The host's
 * exception flags accumulate in MXCSR and reach fflags on the way back to C (rv_fp_take_host_flags):
 * computing an instruction twice raises the same flags twice, which changes nothing.
 */
enum fp_inline {
	FPI_NONE,
	FPI_ARITH,
	FPI_SQRT,
	FPI_FUSED,
	FPI_SGNJ,
	FPI_CMP,
	FPI_FROM_INT,
	FPI_CVT,
	FPI_MV_X,
	FPI_MV_F,
	FPI_TO_INT,
	FPI_FLAGS /* frflags (csrrs rd, fflags, x0), fsflags (csrrw rd, fflags, rs1) */
};
static bool host_fma;
void jit_fp_init(void)
{
	__builtin_cpu_init();
	host_fma = __builtin_cpu_supports("fma");
}

static enum fp_inline fp_inline_kind(uint32_t insn)
{
	unsigned opc = insn & 0x7f, fmt = (insn >> 25) & 3, f5 = insn >> 27, f3 = F3(insn), rs2 = RS2(insn);
	bool rne = f3 == 0 || f3 == 7; /* RNE, or DYN (frm checked when it runs) */
	if (opc == 0x73 && insn >> 20 == 0x001 && (f3 == 1 || (f3 == 2 && RS1(insn) == 0))) return FPI_FLAGS;
	if (fmt > 1) return FPI_NONE;
	if (opc == 0x43 || opc == 0x47 || opc == 0x4b || opc == 0x4f)
		return host_fma && rne ? FPI_FUSED : FPI_NONE;
	if (opc != 0x53) return FPI_NONE;
	switch (f5) {
	case 0x00:
	case 0x01:
	case 0x02:
	case 0x03: return rne ? FPI_ARITH : FPI_NONE;
	case 0x0b: return rne && rs2 == 0 ? FPI_SQRT : FPI_NONE;
	case 0x04: return f3 <= 2 ? FPI_SGNJ : FPI_NONE;
	case 0x14: return f3 <= 2 ? FPI_CMP : FPI_NONE;
	case 0x1a: return rne && (rs2 == 0 || rs2 == 2) ? FPI_FROM_INT : FPI_NONE;
	case 0x08: return rne && rs2 == (fmt ^ 1) ? FPI_CVT : FPI_NONE; /* fcvt.d.s, fcvt.s.d */
	case 0x18: /* fcvt.w and fcvt.l, toward zero (C's casts) or to nearest */
		return (f3 == 1 || rne) && (rs2 == 0 || rs2 == 2) ? FPI_TO_INT : FPI_NONE;
	case 0x1c: return rs2 == 0 && f3 == 0 ? FPI_MV_X : FPI_NONE;
	case 0x1e: return rs2 == 0 && f3 == 0 ? FPI_MV_F : FPI_NONE;
	default: return FPI_NONE;
	}
}

/* The integer registers a translated FP instruction reads and writes (op_regs). */
void fp_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes)
{
	enum fp_inline k = fp_inline_kind(insn);
	*reads = k == FPI_FROM_INT || k == FPI_MV_F || k == FPI_FLAGS ? 1u << RS1(insn) : 0;
	*writes = k == FPI_CMP || k == FPI_MV_X || k == FPI_TO_INT || k == FPI_FLAGS ? 1u << RD(insn) : 0;
}

/* An SSE instruction on xmm`reg` and the hart field at `off`: [prefix] 0f opc, [hart + off]. */
static void sse_hart(struct emit *e, uint8_t prefix, uint8_t opc, unsigned reg, uint32_t off)
{
	if (prefix) e8(e, prefix);
	e8(e, 0x0f);
	e8(e, opc);
	modrm_hart(e, (int)reg, off);
}

/* 64 entries: MXCSR's flags (bits 0-5; the denormal one ignored) as fflags. */
static const uint8_t fflags_of_host[64] = {
#define F(x)                                                                                                 \
	(((x)&0x20 ? 1 : 0) | ((x)&0x10 ? 2 : 0) | ((x)&0x08 ? 4 : 0) | ((x)&0x04 ? 8 : 0) |                 \
	 ((x)&0x01 ? 16 : 0))
#define F4(x) F(x), F(x + 1), F(x + 2), F(x + 3)
#define F16(x) F4(x), F4(x + 4), F4(x + 8), F4(x + 12)
    F16(0), F16(16), F16(32), F16(48)
#undef F16
#undef F4
#undef F
};

/*
 * frflags and fsflags (and the swap) inline, on a path where the FS check passed (else the
 * generic way): fflags first takes what MXCSR accrued (rv_fp_take_host_flags); a write then
 * clears MXCSR's flags, as the interpreter's does. MXCSR goes to 16 bytes below the stack's top
 * (whose entry a return may take: jit_x86_exit.c), which stays aligned.
 */
static bool emit_fp_flags(struct block_ctx *c, const struct rv_op *op)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned rd = RD(insn), rs1 = RS1(insn), f3 = F3(insn);
	if (!c->fp_ok) return false;
	const uint32_t fflags = (uint32_t)offsetof(struct rv_hart, fflags);
	alu_imm(e, RSP, 5, 16, true); /* sub rsp, 16 */
	EB(e, "\x0f\xae\x1c\x24");    /* stmxcsr [rsp] */
	EB(e, "\x8b\x04\x24");        /* mov eax, [rsp] */
	EB(e, "\x83\xe0\x3f");        /* and eax, 0x3f */
	mov_imm64(e, RCX, (uint64_t)(uintptr_t)fflags_of_host);
	EB(e, "\x0f\xb6\x04\x01");               /* movzx eax, byte [rcx + rax] */
	op_rm_hart(e, 0x0b, RAX, fflags, false); /* or eax, fflags */
	if (f3 == 2) {
		op_rm_hart(e, 0x89, RAX, fflags, false); /* fflags <- the flags taken */
		alu_imm(e, RSP, 0, 16, true);            /* add rsp, 16 */
	} else {
		EB(e, "\x81\x24\x24\xc0\xff\xff\xff"); /* and dword [rsp], ~0x3f */
		EB(e, "\x0f\xae\x14\x24");             /* ldmxcsr [rsp] */
		alu_imm(e, RSP, 0, 16, true);          /* add rsp, 16 */
		get_x(c, RCX, rs1);
		EB(e, "\x83\xe1\x1f");                   /* and ecx, 31 */
		op_rm_hart(e, 0x89, RCX, fflags, false); /* fflags <- x[rs1] & 31 */
	}
	set_x(c, rd, RAX); /* the old value (x0: nothing) */
	return true;
}

bool emit_fp_arith(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const enum fp_inline kind = fp_inline_kind(insn);
	if (kind == FPI_NONE) return false;
	if (kind == FPI_FLAGS) return emit_fp_flags(c, op);
	const unsigned opc = insn & 0x7f, f5 = insn >> 27, f3 = F3(insn), rd = RD(insn), rs1 = RS1(insn),
	               rs2 = RS2(insn), rs3 = insn >> 27;
	const bool dbl = (insn >> 25) & 1;
	const uint8_t pfx = dbl ? 0xf2 : 0xf3; /* movsd/addsd/... or movss/addss/... */
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.fp_pending = true;

	/* Once per path: nothing translated changes FS, V or fp_pending back, and where a check fails
	 * the interpreter runs the instruction (an illegal one raises; any other leaves FS dirty, and
	 * with V=1 vsstatus.FS too) and the slow path sets fp_pending. */
	if (!c->fp_ok) {
		op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, mstatus), false);
		e8(e, 0x25); /* and eax, FS */
		e32(e, (uint32_t)MSTATUS_FS);
		e8(e, 0x3d); /* cmp eax, FS (dirty) */
		e32(e, (uint32_t)MSTATUS_FS);
		jcc_slow(e, &s, 0x5);
		EB(e, "\x80"); /* cmp byte [hart + virt], 0 */
		modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, virt));
		e8(e, 0);
		jcc_slow(e, &s, 0x5);
		set_fp_pending(e); /* host flags to take */
		c->fp_ok = true;
	}
	bool rounds = kind == FPI_ARITH || kind == FPI_SQRT || kind == FPI_FUSED || kind == FPI_FROM_INT ||
	              kind == FPI_CVT || kind == FPI_TO_INT;
	if (rounds && f3 == 7) { /* each time: where it fails, the path goes on with frm as it is */
		EB(e, "\x83");   /* cmp dword [hart + frm], RNE */
		modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, frm));
		e8(e, 0);
		jcc_slow(e, &s, 0x5);
	}
	/* The single-precision sources must be NaN-boxed. */
	bool src_single = kind == FPI_CVT ? dbl : !dbl;
	if (src_single && kind != FPI_FROM_INT && kind != FPI_MV_F && kind != FPI_MV_X) {
		bool two = kind == FPI_ARITH || kind == FPI_CMP || kind == FPI_SGNJ;
		unsigned srcs[3] = {rs1, rs2, rs3}, nsrc = kind == FPI_FUSED ? 3 : two ? 2 : 1;
		for (unsigned i = 0; i < nsrc; i++) {
			if ((i && srcs[i] == srcs[0]) || (c->fp_boxed & (1u << srcs[i]))) continue;
			EB(e, "\x83"); /* cmp dword [hart + f[src] + 4], -1 */
			modrm_hart(e, 7, foff(srcs[i]) + 4);
			e8(e, 0xff);
			jcc_slow(e, &s, 0x5);
		}
	}

	bool xmm_result = true;
	switch (kind) {
	case FPI_ARITH: {
		static const uint8_t ops[4] = {0x58, 0x5c, 0x59, 0x5e}; /* add, sub, mul, div */
		sse_hart(e, pfx, 0x10, 0, foff(rs1));
		sse_hart(e, pfx, ops[f5], 0, foff(rs2));
		break;
	}
	case FPI_SQRT: sse_hart(e, pfx, 0x51, 0, foff(rs1)); break;
	case FPI_FUSED: {
		static const uint8_t ops[4] = {0xb9, 0xbb, 0xbd,
		                               0xbf}; /* vf{m,m,nm,nm}{add,sub,add,sub}231 */
		sse_hart(e, pfx, 0x10, 0, foff(rs3));
		sse_hart(e, pfx, 0x10, 1, foff(rs1));
		e8(e, 0xc4); /* VEX: 0f38, xmm1 (vvvv), W1 for double, 66 */
		e8(e, 0xe2);
		e8(e, dbl ? 0xf1 : 0x71);
		e8(e, ops[(opc >> 2) & 3]);
		modrm_hart(e, 0, foff(rs2)); /* xmm0, [hart + f[rs2]] */
		break;
	}
	case FPI_CVT: sse_hart(e, dbl ? 0xf3 : 0xf2, 0x5a, 0, foff(rs1)); break; /* cvtss2sd / cvtsd2ss */
	case FPI_FROM_INT:
		get_x(c, RAX, rs1);
		EB(e, "\x0f\x57\xc0"); /* xorps xmm0, xmm0 (no dependency on its old value) */
		e8(e, pfx);
		if (rs2 == 2) e8(e, 0x48);
		EB(e, "\x0f\x2a\xc0"); /* cvtsi2sd / cvtsi2ss xmm0, eax / rax */
		break;
	case FPI_SGNJ:
		if (!dbl) { /* on the low words; the result NaN-boxed */
			op_rm_hart(e, 0x8b, RAX, foff(rs1), false);
			op_rm_hart(e, 0x8b, RCX, foff(rs2), false);
			if (f3 == 1) EB(e, "\xf7\xd1");    /* not ecx */
			EB(e, "\x81\xe1\x00\x00\x00\x80"); /* and ecx, 0x80000000: its sign */
			if (f3 == 2) {
				EB(e, "\x31\xc8"); /* xor eax, ecx */
			} else {
				EB(e, "\x25\xff\xff\xff\x7f\x09\xc8"); /* and eax, 0x7fffffff; or eax, ecx */
			}
			op_rm_hart(e, 0x89, RAX, foff(rd), false);
			nan_box(e, rd);
			xmm_result = false;
			break;
		}
		op_rm_hart(e, 0x8b, RAX, foff(rs1), true);
		op_rm_hart(e, 0x8b, RCX, foff(rs2), true);
		if (f3 == 1) EB(e, "\x48\xf7\xd1");        /* not rcx */
		EB(e, "\x48\xc1\xe9\x3f\x48\xc1\xe1\x3f"); /* shr rcx, 63; shl rcx, 63: its sign */
		if (f3 == 2) {
			EB(e, "\x48\x31\xc8"); /* xor rax, rcx */
		} else {
			EB(e, "\x48\xd1\xe0\x48\xd1\xe8"); /* shl rax, 1; shr rax, 1 */
			EB(e, "\x48\x09\xc8");             /* or rax, rcx */
		}
		op_rm_hart(e, 0x89, RAX, foff(rd), true);
		xmm_result = false;
		break;
	case FPI_MV_F:
		get_x(c, RAX, rs1);
		op_rm_hart(e, 0x89, RAX, foff(rd), dbl);
		if (!dbl) {
			nan_box(e, rd);
		}
		xmm_result = false;
		break;
	case FPI_TO_INT: /* cvt(t)ss2si / cvt(t)sd2si eax or rax; the host's "indefinite" (NaN, out of
	                  * range, or that very value): the interpreter's saturation */
		e8(e, pfx);
		if (rs2 == 2) e8(e, 0x48);
		e8(e, 0x0f);
		e8(e, f3 == 1 ? 0x2c : 0x2d);
		modrm_hart(e, 0, foff(rs1));
		if (rs2 == 2) {
			EB(e,
			   "\x48\x89\xc1\x48\xf7\xd9"); /* mov rcx, rax; neg rcx: overflows for INT64_MIN */
			jcc_slow(e, &s, 0x0);           /* jo */
		} else {
			EB(e, "\x3d\x00\x00\x00\x80"); /* cmp eax, INT32_MIN */
			jcc_slow(e, &s, 0x4);          /* je */
			EB(e, "\x48\x63\xc0");         /* movsxd rax, eax */
		}
		xmm_result = false;
		break;
	case FPI_CMP:
	case FPI_MV_X:
	case FPI_FLAGS:
	case FPI_NONE: xmm_result = false; break;
	}
	if (xmm_result) {
		bool res_dbl = dbl;         /* fmt is the result's format (fcvt.d.s: D) */
		if (kind != FPI_FROM_INT) { /* a NaN: the interpreter's (canonical NaN, flags) */
			if (res_dbl) e8(e, 0x66);
			EB(e, "\x0f\x2e\xc0"); /* ucomisd / ucomiss xmm0, xmm0 */
			jcc_slow(e, &s, 0xa);  /* jp */
		}
		sse_hart(e, res_dbl ? 0xf2 : 0xf3, 0x11, 0, foff(rd)); /* f[rd] <- xmm0 */
		if (!res_dbl) {
			nan_box(e, rd);
		}
	}
	if (kind == FPI_CMP) {
		uint8_t p = dbl ? 0x66 : 0;
		sse_hart(e, pfx, 0x10, 0, foff(rs1));
		sse_hart(e, pfx, 0x10, 1, foff(rs2));
		if (p) e8(e, p);
		if (f3 == 2) {
			EB(e, "\x0f\x2e\xc1"); /* ucomis xmm0, xmm1: invalid only for a signalling NaN */
			EB(e, "\x0f\x94\xc0\x0f\x9b\xc1\x20\xc8"); /* sete al; setnp cl; and al, cl */
		} else {
			EB(e, "\x0f\x2f\xc8"); /* comis xmm1, xmm0: invalid for any NaN; unordered sets CF and
			                          ZF */
			EB(e, "\x0f");
			e8(e, f3 == 1 ? 0x97 : 0x93); /* flt: seta al (b > a); fle: setae al */
			e8(e, 0xc0);
		}
		EB(e, "\x0f\xb6\xc0"); /* movzx eax, al */
	} else if (kind == FPI_MV_X && dbl) {
		op_rm_hart(e, 0x8b, RAX, foff(rs1), true);
	} else if (kind == FPI_MV_X) {
		op_rm_hart(e, 0x63, RAX, foff(rs1), true); /* movsxd rax, dword f[rs1]: fmv.x.w */
	}
	s.done = e->p;
	if (kind != FPI_CMP && kind != FPI_MV_X && kind != FPI_TO_INT) fp_written(c, rd, !dbl);
	if (kind == FPI_CMP || kind == FPI_MV_X || kind == FPI_TO_INT) {
		s.x_result = rd + 1;
		set_x(c, rd, RAX);
	}
	c->slow[c->nslow++] = s;
	return true;
}
