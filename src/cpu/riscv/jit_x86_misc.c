/*
 * jit_x86_misc.c — translated fences, AMOs, LR/SC and cbo.zero on a TLB hit.
 */
#include "jit_x86.h"

/*
 * Fences, AMOs and LR/SC inline (the interpreter's semantics, exec.c). x86 keeps loads and stores in
 * order but lets a load pass an earlier store: only a fence ordering stores (or outputs) before
 * loads (or inputs) needs mfence; `pause` stays a pause. AMOs add, swap, and, or, xor and LR/SC on
 * a naturally aligned word or doubleword of RAM whose page the TLB holds: locked host
 * instructions (full barriers, so aq/rl hold); SC compares-and-swaps the value LR reserved.
 * Anything else (misaligned, a TLB miss, min/max) runs in the interpreter.
 */
enum misc_inline { MISC_NONE, MISC_FENCE, MISC_AMO, MISC_LR, MISC_SC, MISC_CBO_ZERO };

static enum misc_inline misc_inline_kind(uint32_t insn)
{
	unsigned opc = insn & 0x7f, f3 = F3(insn), f5 = insn >> 27;
	if (opc == 0x0f && f3 == 0 && RD(insn) == 0 && RS1(insn) == 0) return MISC_FENCE;
	if (opc == 0x0f && f3 == 2 && RD(insn) == 0 && insn >> 20 == 4) return MISC_CBO_ZERO;
	if (opc != 0x2f || (f3 != 2 && f3 != 3)) return MISC_NONE;
	switch (f5) {
	case 0x00:
	case 0x01:
	case 0x04:
	case 0x08:
	case 0x0c: return MISC_AMO;
	case 0x02: return RS2(insn) == 0 ? MISC_LR : MISC_NONE;
	case 0x03: return MISC_SC;
	default: return MISC_NONE;
	}
}

bool misc_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes)
{
	enum misc_inline k = misc_inline_kind(insn);
	if (k == MISC_NONE) return false;
	if (k == MISC_FENCE) {
		*reads = *writes = 0;
		return true;
	}
	*reads = 1u << RS1(insn) | (k == MISC_LR || k == MISC_CBO_ZERO ? 0 : 1u << RS2(insn));
	*writes = k == MISC_CBO_ZERO ? 0 : 1u << RD(insn);
	return true;
}

/* [REX.W] opcode [rsi] with rcx: the locked forms below. */
static void rcx_to_rsi_mem(struct emit *e, bool wide, const char *opcode, size_t n)
{
	if (wide) e8(e, 0x48);
	emit_bytes(e, opcode, n);
	e8(e, 0x0e); /* [rsi], rcx */
}

/* cbo.zero where menvcfg (below M) and senvcfg (in U) enable it: the 64-byte block through the
 * write TLB, zeroed with four SSE stores; else, and on a miss, the interpreter's. */
static bool emit_cbo_zero(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned held = rsi_claim(c);
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	uint8_t *m_mode = NULL;
	if (!c->user) {
		EB(e, "\x83"); /* cmp dword [hart + priv], M */
		modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, priv));
		e8(e, RV_PRIV_M);
		EB(e, "\x74"); /* je: M-mode may */
		m_mode = e->p;
		e8(e, 0);
	}
	EB(e, "\xf6"); /* test byte [hart + menvcfg], CBZE */
	modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, menvcfg));
	e8(e, (uint8_t)ENVCFG_CBZE);
	jcc_slow(e, &s, 0x4); /* jz */
	if (c->user) {
		EB(e, "\xf6"); /* test byte [hart + senvcfg], CBZE */
		modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, senvcfg));
		e8(e, (uint8_t)ENVCFG_CBZE);
		jcc_slow(e, &s, 0x4);
	}
	if (m_mode) *m_mode = (uint8_t)(e->p - (m_mode + 1));
	get_x(c, RSI, RS1(insn));
	EB(e, "\x48\x83\xe6\xc0"); /* and rsi, -64: the block */
	s.fix2 = emit_tlb_lookup(c, RSI, 0, RSI, RV_CACHE_BLOCK - 1, tlb_table(true), 1);
	EB(e, "\x0f\x57\xc0"); /* xorps xmm0, xmm0 */
	for (unsigned off = 0; off < RV_CACHE_BLOCK; off += 16) {
		EB(e, "\x0f\x11\x44\x06"); /* movups [rsi + rax + off], xmm0 */
		e8(e, (uint8_t)off);
	}
	s.done = e->p;
	rsi_restore(c, held);
	c->slow[c->nslow++] = s;
	return true;
}

bool emit_misc(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const enum misc_inline kind = misc_inline_kind(insn);
	if (kind == MISC_NONE) return false;
	if (kind == MISC_FENCE) {
		unsigned pred = (insn >> 24) & 15, succ = (insn >> 20) & 15, fm = insn >> 28;
		if (insn == 0x0100000fu)
			EB(e, "\xf3\x90"); /* pause */
		else if (fm != 8 && (pred & 5) && (succ & 10))
			EB(e, "\x0f\xae\xf0"); /* mfence: stores (W, O) before loads (R, I) */
		return true;
	}
	if (kind == MISC_CBO_ZERO) return c->zicboz && emit_cbo_zero(c, op, pc, len, k);
	const unsigned f5 = insn >> 27, rd = RD(insn), rs1 = RS1(insn), rs2 = RS2(insn);
	const bool wide = F3(insn) == 3;
	const unsigned size = wide ? 8 : 4;
	const unsigned held = rsi_claim(c);
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.x_result = rd + 1;
	get_x(c, RSI, rs1);
	EB(e, "\x40\xf6\xc6"); /* test sil, size - 1: misaligned goes to the interpreter */
	e8(e, (uint8_t)(size - 1));
	jcc_slow(e, &s, 0x5);
	const uint32_t table = tlb_table(kind != MISC_LR);
	s.fix2 = emit_tlb_lookup(c, RSI, 0, RSI, (int32_t)size - 1, table, 1); /* rax <- addend */
	const uint32_t valid = (uint32_t)offsetof(struct rv_hart, resv_valid),
	               addr = (uint32_t)offsetof(struct rv_hart, resv_addr),
	               val = (uint32_t)offsetof(struct rv_hart, resv_val);
	switch (kind) {
	case MISC_LR:
		EB(e, "\x48");
		e8(e, wide ? 0x8b : 0x63); /* mov rax, [rsi + rax] / movsxd */
		EB(e, "\x04\x06");
		EB(e, "\xc6"); /* mov byte [hart + resv_valid], 1 */
		modrm_hart(e, 0, valid);
		e8(e, 1);
		op_rm_hart(e, 0x89, RSI, addr, true);
		op_rm_hart(e, 0x89, RAX, val, true);
		break;
	case MISC_SC: {
		EB(e, "\x48\x8d\x0c\x06"); /* lea rcx, [rsi + rax]: the host address */
		EB(e, "\x80");             /* cmp byte [hart + resv_valid], 0 */
		modrm_hart(e, 7, valid);
		e8(e, 0);
		EB(e, "\x74"); /* je fail */
		uint8_t *no_resv = e->p;
		e8(e, 0);
		op_rm_hart(e, 0x3b, RSI, addr, true); /* cmp rsi, resv_addr */
		EB(e, "\x75");                        /* jne fail */
		uint8_t *other = e->p;
		e8(e, 0);
		op_rr(e, 0x8b, RSI, RCX, true);      /* mov rsi, rcx */
		op_rm_hart(e, 0x8b, RAX, val, wide); /* rax / eax <- the reserved value */
		get_x(c, RCX, rs2);
		EB(e, "\xf0");                          /* lock */
		rcx_to_rsi_mem(e, wide, "\x0f\xb1", 2); /* cmpxchg [rsi], rcx / ecx */
		EB(e, "\x0f\x95\xc0\x0f\xb6\xc0");      /* setne al; movzx eax, al: 0 if stored */
		EB(e, "\xeb\x05");                      /* jmp over the failure */
		*no_resv = (uint8_t)(e->p - (no_resv + 1));
		*other = (uint8_t)(e->p - (other + 1));
		EB(e, "\xb8\x01\x00\x00\x00"); /* fail: mov eax, 1 */
		EB(e, "\xc6");                 /* mov byte [hart + resv_valid], 0 */
		modrm_hart(e, 0, valid);
		e8(e, 0);
		break;
	}
	default: {                         /* MISC_AMO */
		EB(e, "\x48\x8d\x34\x06"); /* lea rsi, [rsi + rax] */
		if (f5 == 0x00 || f5 == 0x01) {
			get_x(c, RCX, rs2);
			if (f5 == 0x00) {
				EB(e, "\xf0");
				rcx_to_rsi_mem(e, wide, "\x0f\xc1", 2); /* lock xadd [rsi], rcx */
			} else {
				rcx_to_rsi_mem(e, wide, "\x87", 1); /* xchg [rsi], rcx (locked) */
			}
			op_rr(e, wide ? 0x8b : 0x63, RAX, RCX,
			      true); /* rax <- the old value (sign-extended) */
		} else {
			static const uint8_t alu[] = {
			    [0x04] = 0x33, [0x08] = 0x0b, [0x0c] = 0x23}; /* xor, or, and */
			if (wide) e8(e, 0x48);
			EB(e, "\x8b\x06"); /* mov rax / eax, [rsi] */
			uint8_t *loop = e->p;
			op_rr(e, 0x8b, RCX, RAX, wide); /* mov rcx, rax */
			alu_x(c, alu[f5], RCX, rs2, wide);
			EB(e, "\xf0");
			rcx_to_rsi_mem(e, wide, "\x0f\xb1",
			               2); /* lock cmpxchg [rsi], rcx: rax <- [rsi] if not */
			EB(e, "\x75");     /* jne loop */
			e8(e, (uint8_t)(loop - (e->p + 1)));
			if (!wide) EB(e, "\x48\x63\xc0"); /* movsxd rax, eax */
		}
		break;
	}
	}
	s.done = e->p;
	rsi_restore(c, held);
	set_x(c, rd, RAX);
	c->slow[c->nslow++] = s;
	return true;
}
