/*
 * jit_x86_vector.c — translated vsetvli/vsetivli, unit-stride vector loads and
 * stores within one page, and vmv.v.i of 0 or -1.
 */
#include "jit_x86.h"

/*
 * The V instructions Linux copies user memory with (vsetvli; vle8ff.v; vse8.v): vsetvli and vsetivli
 * with a vtype the hart supports, and unit-stride loads (fault-only-first too) and stores without a
 * mask or fields, for the vtype the block's last vsetvli sets. They run here while vector state is
 * dirty (mstatus.VS) and V=0, a load or store while vtype is that one, vstart is 0 and its bytes lie
 * in one page the TLB maps (it then cannot fault: a fault-only-first load is a plain one); in any
 * other case the interpreter runs the instruction (vector.c), which decides the same.
 */
enum vec_inline { VEC_NONE, VEC_SET, VEC_MEM, VEC_SPLAT };

static enum vec_inline vec_inline_kind(uint32_t insn)
{
	const unsigned opc = insn & 0x7f, f3 = F3(insn);
	if (opc == 0x57 && f3 == 7) { /* vsetvli (bit 31 clear), vsetivli (bits 31-30 set) */
		if (!(insn >> 31)) return RS1(insn) || RD(insn) ? VEC_SET : VEC_NONE; /* not "keep vl" */
		return (insn >> 30) == 3 ? VEC_SET : VEC_NONE;
	}
	if (opc == 0x57 && f3 == 3 && (insn >> 25) == (0x17 << 1 | 1) && RS2(insn) == 0)
		return RS1(insn) == 0 || RS1(insn) == 31 ? VEC_SPLAT : VEC_NONE; /* vmv.v.i vd, 0 / -1 */
	if ((opc != 0x07 && opc != 0x27) || (f3 != 0 && f3 < 5)) return VEC_NONE;
	const unsigned nf = insn >> 29, mew = (insn >> 28) & 1, mop = (insn >> 26) & 3, vm = (insn >> 25) & 1,
	               lumop = RS2(insn);
	bool ff = opc == 0x07 && lumop == 16;
	return nf == 0 && !mew && mop == 0 && vm && (lumop == 0 || ff) ? VEC_MEM : VEC_NONE;
}

bool vec_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes)
{
	if (vec_inline_kind(insn) == VEC_NONE) return false;
	const bool vset = (insn & 0x7f) == 0x57 && F3(insn) == 7, vsetivli = vset && (insn >> 30) == 3;
	*reads = vsetivli || ((insn & 0x7f) == 0x57 && !vset) ? 0 : 1u << RS1(insn);
	*writes = vset ? 1u << RD(insn) : 0;
	return true;
}

/* jne to the interpreter unless mstatus.VS is dirty and V=0. */
static void vec_state_check(struct block_ctx *c, struct slow_path *s)
{
	struct emit *e = &c->e;
	op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, mstatus), false); /* mov eax, mstatus */
	e8(e, 0x25);                                                                  /* and eax, VS */
	e32(e, (uint32_t)MSTATUS_VS);
	e8(e, 0x3d); /* cmp eax, VS: dirty */
	e32(e, (uint32_t)MSTATUS_VS);
	jcc_slow(e, s, 0x5);
	if (c->user) return; /* translated U-mode code runs with V=0 */
	EB(e, "\x80");       /* cmp byte [hart + virt], 0 */
	modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, virt));
	e8(e, 0);
	jcc_slow(e, s, 0x5);
}

/* cmp qword [hart + off], imm32 */
static void cmp_field_imm32(struct emit *e, size_t off, int32_t imm)
{
	EB(e, "\x48\x81");
	modrm_hart(e, 7, (uint32_t)off);
	e32(e, (uint32_t)imm);
}
/* jne to the interpreter unless vec_state_check passes, vtype is the one the block's last vsetvli
 * set (c->vtype) and vstart is 0. */
static void vec_config_check(struct block_ctx *c, struct slow_path *s)
{
	vec_state_check(c, s);
	cmp_field_imm32(&c->e, offsetof(struct rv_hart, vtype), (int32_t)c->vtype);
	jcc_slow(&c->e, s, 0x5);
	cmp_field_imm32(&c->e, offsetof(struct rv_hart, vstart), 0);
	jcc_slow(&c->e, s, 0x5);
}
/* mov qword [hart + off], imm32 (sign-extended) */
static void store_field_imm64(struct emit *e, size_t off, int32_t imm)
{
	EB(e, "\x48\xc7");
	modrm_hart(e, 0, (uint32_t)off);
	e32(e, (uint32_t)imm);
}

static bool emit_vsetvl(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const bool vsetivli = (insn >> 30) == 3;
	const uint64_t vtype = (insn >> 20) & (vsetivli ? 0x3ff : 0x7ff);
	unsigned sew, lmul8;
	if (!rv_vtype_decode(vtype, &sew, &lmul8)) return false; /* vill: the interpreter's */
	const uint32_t vlmax = c->vlenb * lmul8 / 8 / sew, rd = RD(insn), rs1 = RS1(insn);
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.x_result = rd + 1;
	vec_state_check(c, &s);
	if (vsetivli || !rs1) {
		e8(e, 0xb8); /* mov eax, vl */
		e32(e, vsetivli && rs1 < vlmax ? rs1 : vlmax);
	} else {
		get_x(c, RAX, rs1); /* the AVL */
		e8(e, 0xb9);        /* mov ecx, vlmax */
		e32(e, vlmax);
		EB(e, "\x48\x39\xc8\x48\x0f\x47\xc1"); /* cmp rax, rcx; cmova rax, rcx */
	}
	op_rm_hart(e, 0x89, RAX, (uint32_t)offsetof(struct rv_hart, vl), true);
	store_field_imm64(e, offsetof(struct rv_hart, vtype), (int32_t)vtype);
	store_field_imm64(e, offsetof(struct rv_hart, vstart), 0);
	s.done = e->p;
	set_x(c, rd, RAX);
	c->slow[c->nslow++] = s;
	c->vtype = (int64_t)vtype;
	return true;
}

/* Whether the register group at vd of elements of `eew` bytes (0: SEW) fits the block's vtype
 * (c->vtype: its EMUL valid, vd aligned to it; otherwise the interpreter raises), with *shift the
 * log2 of the element size. */
static bool vec_group_ok(const struct block_ctx *c, unsigned vd, unsigned eew, unsigned *shift)
{
	unsigned sew, lmul8;
	if (c->vtype < 0 || !rv_vtype_decode((uint64_t)c->vtype, &sew, &lmul8)) return false;
	if (!eew) eew = sew;
	const unsigned emul8 = lmul8 * eew / sew, regs = emul8 < 8 ? 1 : emul8 / 8;
	*shift = (unsigned)__builtin_ctz(eew);
	return emul8 >= 1 && emul8 <= 64 && vd % regs == 0 && vd + regs <= 32;
}
/* rcx <- vl << shift: the bytes of vl elements */
static void vl_bytes_to_rcx(struct emit *e, unsigned shift)
{
	op_rm_hart(e, 0x8b, RCX, (uint32_t)offsetof(struct rv_hart, vl), true);
	if (shift) shift_imm(e, RCX, 4, shift, true);
}

static bool emit_vec_mem(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned width = F3(insn), vd = RD(insn);
	unsigned eew_shift;
	if (!vec_group_ok(c, vd, width == 0 ? 1 : 1u << (width - 4), &eew_shift)) return false;
	const bool store = (insn & 0x7f) == 0x27;
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	vec_config_check(c, &s);
	EB(e, "\x57\x56"); /* push rdi; push rsi: rep movsb's (they may hold guest registers) */
	get_x(c, RSI, RS1(insn));
	vl_bytes_to_rcx(e, eew_shift);
	EB(e, "\x48\x8d\x4c\x0e\xff"); /* lea rcx, [rsi + rcx - 1]: the last byte */
	uint8_t *miss = emit_tlb_lookup(c, RSI, 0, RCX, 0, tlb_table(store), 1);
	const uint32_t regs_at = e->hart + (uint32_t)offsetof(struct rv_hart, vreg) + vd * c->vlenb;
	if (store) {
		EB(e, "\x48\x8d\x3c\x06"); /* lea rdi, [rsi + rax] */
		e8(e, 0xbe);               /* mov esi, the registers */
	} else {
		EB(e, "\x48\x01\xc6"); /* add rsi, rax */
		e8(e, 0xbf);           /* mov edi, the registers */
	}
	e32(e, regs_at);
	vl_bytes_to_rcx(e, eew_shift);
	EB(e, "\xf3\xa4\x5e\x5f"); /* rep movsb; pop rsi; pop rdi */
	EB(e, "\xeb\x07");         /* jmp done (over the 7 bytes below) */
	patch_to_here(e, miss);
	EB(e, "\x5e\x5f"); /* pop rsi; pop rdi */
	e8(e, 0xe9);       /* jmp the interpreter */
	uint8_t **slot = &s.more_fix[s.nmore_fix++];
	*slot = e->p;
	e32(e, 0);
	s.done = e->p;
	c->slow[c->nslow++] = s;
	return true;
}

/* vmv.v.i vd, 0 or -1 (Linux fills the vector registers with ones when a syscall discards them):
 * vl elements of SEW bits, one rep stosb of their bytes, under vec_mem's conditions but the page. */
static bool emit_vec_splat(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned vd = RD(insn);
	unsigned sew_shift;
	if (!vec_group_ok(c, vd, 0, &sew_shift)) return false;
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	vec_config_check(c, &s);
	EB(e, "\x57"); /* push rdi: rep stosb's */
	e8(e, 0xbf);   /* mov edi, the registers */
	e32(e, e->hart + (uint32_t)offsetof(struct rv_hart, vreg) + vd * c->vlenb);
	vl_bytes_to_rcx(e, sew_shift);
	e8(e, 0xb8); /* mov eax, the byte */
	e32(e, RS1(insn) ? 0xff : 0);
	EB(e, "\xf3\xaa\x5f"); /* rep stosb; pop rdi */
	s.done = e->p;
	c->slow[c->nslow++] = s;
	return true;
}

bool emit_vector(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	if (!c->vlenb) return false;
	switch (vec_inline_kind((uint32_t)op->imm)) {
	case VEC_SET: return emit_vsetvl(c, op, pc, len, k);
	case VEC_MEM: return emit_vec_mem(c, op, pc, len, k);
	case VEC_SPLAT: return emit_vec_splat(c, op, pc, len, k);
	default: return false;
	}
}
