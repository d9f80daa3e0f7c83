/*
 * jit_x86_64.c — translates hot runs of decoded RISC-V instructions into
 * x86-64 code (docs/board.md, "Translator").
 *
 * A block starts at a jump target the interpreter found hot and covers the
 * instructions that follow it in its page, up to JIT_MAIN_OPS (JIT_LOOP_OPS
 * when a jump back into those lies further on: a loop's body), the page end
 * (in U-mode, with an instruction that runs onto the next page: see
 * straddler_upper) or an instruction left to the interpreter, and past a jump
 * only while a jump or branch in the block leads further; then, after that
 * main path, the tails its branches lead to (a few instructions jumping back
 * into it: the other arm of an if in a loop; in U-mode also on the next page,
 * whose mapping the code entering such a tail compares with the fetch TLB's
 * first: next_page_code). Generated code:
 *   - compares its instructions with guest memory at its first entry after a
 *     fence.i and returns its pc | 1 if any changed, so code rewritten before
 *     a fence.i never runs (its entry then jumps to that check, else it is a
 *     nop: rv_jit_new_epoch);
 *   - keeps sp and a0-a5 pinned in host registers, the run budget in rbx
 *     (with the U-mode TLB slot's bextr control in its low bits:
 *     jit_x86_emit.h) and the hart's address in rbp while translated code
 *     runs, and gives
 *     four more host registers, and those of the pinned registers it never
 *     names, to the other guest registers each block uses most (stored back
 *     at its exits); the others are read from the hart, through rbp so that
 *     a value stored there forwards at once (jit_x86_emit.h);
 *   - sign-extends a W instruction's result only where something may read its
 *     upper half before the register is written again (upper_read);
 *   - makes gcc's rotate by a constant (two shifts and an or) one host rotate
 *     (plan_rotate);
 *   - jumps and branches to an instruction of the block stay in it (loops go
 *     round with their registers in place); taken branches elsewhere leave by
 *     side exits;
 *   - inlines the software-TLB hit path of loads and stores (FP ones too), once
 *     for a run of accesses through one base register; misses call the
 *     interpreter's C code out of line through one thunk per access kind,
 *     after storing the instruction's pc and index so an exception (longjmp)
 *     reports the right epc and count;
 *   - computes F/D arithmetic, fused multiply-adds, compares and the common
 *     conversions and moves on SSE in round-to-nearest-even (emit_fp_arith),
 *     other rounding modes, NaN results and the rest in the interpreter;
 *   - runs AMOs (but min/max), LR/SC, fences and cbo.zero inline on a TLB hit
 *     (emit_misc);
 *   - runs vsetvli / vsetivli, unmasked unit-stride vector loads and stores
 *     (Linux's user-memory copy) and vmv.v.i of 0 or -1 inline, a load or
 *     store as one copy of its bytes when they lie in one page the TLB maps
 *     (emit_vector);
 *   - runs the other FP instructions, CSR reads, interrupt-enable CSR writes
 *     and the other cache-block operations through rv_jit_exec_generic();
 *   - leaves by patched direct jumps within its page, the indirect-jump cache
 *     elsewhere, or returns the next guest pc to the dispatcher; a return
 *     goes back to its call's block by a host ret while the host stack holds
 *     the call's entry (return-address prediction, jit_x86_exit.c).
 * Blocks are found by the physical slot of their first instruction and hold
 * absolute guest pcs, so a block runs only at the virtual pc it was
 * translated for. The interpreter's semantics (exec.c) are the reference; the
 * differential and engine tests run through both.
 *
 * This file forms blocks, translates integer arithmetic and branches, and
 * keeps the code cache; the other parts (jit_x86.h): jit_x86_regs.c (guest
 * registers in host registers), jit_x86_exit.c (frame, exits, chaining),
 * jit_x86_mem.c (TLB probes, loads, stores, out-of-line paths),
 * jit_x86_fp.c, jit_x86_misc.c (AMOs, LR/SC, fences), jit_x86_vector.c, and
 * jit_x86_emit.h (the instruction encoder).
 */
#include "bitmanip.h"
#include "jit_x86.h"
#include "util/log.h"
#include "util/populate.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define JIT_CODE_BYTES (64u << 20) /* per hart; CLOISON_JIT_CACHE_MB sets another size (tests) */
#define JIT_MAX_BLOCK_BYTES (JIT_MAX_OPS * 512 + 1024)
#define ROT_W 0x80 /* in block_ctx.rot_ror: a 32-bit rotate */

struct jit_block {
	const struct rv_op *head;
	uint64_t pc; /* the guest pc it was translated for (code bakes in absolute pcs) | user_mode() */
	uint8_t *code;
	int32_t check_rel; /* the rel32 of its entry's jmp to its code check (rv_jit_new_epoch) */
	bool listed;       /* in rv_jit.checked */
};

/* Code translated in U-mode (V=0) probes the U TLB set at its fixed place in the hart, without
 * loading tlb_cur: it runs only in that mode, which translated code never leaves (traps, sret and
 * ecall go back to the run loop, MPRV acts in M-mode only). */
static bool user_mode(const struct rv_hart *h)
{
	return h->priv == RV_PRIV_U && !h->virt;
}

/* Blocks by (slot, guest pc), for code one physical page holds at several virtual addresses (a
 * shared library in several processes): a slot remembers one block, this finds the others. */
#define JIT_PLACES (1u << 16)

struct rv_jit {
	uint8_t *buf;            /* starts with the common exit and the thunks (exit_bytes) */
	size_t code_bytes;       /* its size */
	uint8_t *thunk[K_COUNT]; /* a load's or store's TLB miss: its helper with the registers in the hart */
	uint8_t *mega_slot[16];  /* a turned probe's 2 MiB slot, by source register */
	size_t used, exit_bytes;
	size_t populated; /* bytes from buf already backed by memory (MADV_POPULATE_WRITE) */
	struct jit_block *blocks;
	uint32_t nblocks, cap;
	/* The blocks that found their code unchanged since the last fence.i (room for cap): the first
	 * narmed have their entry armed, the others are armed on the next entry from C (jit_arm). */
	uint32_t *checked;
	uint32_t nchecked, narmed;
	uint32_t by_place[JIT_PLACES]; /* block id, or 0 */
};

static uint32_t place_hash(const struct rv_op *head, uint64_t pc)
{
	return (uint32_t)((((uintptr_t)head >> 2) ^ ((pc * 0x9e3779b97f4a7c15ULL) >> 40)) & (JIT_PLACES - 1));
}

static uint64_t h_mulhsu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (unsigned __int128)b) >> 64);
}
static uint64_t h_div(uint64_t a, uint64_t b)
{
	return rv_div((int64_t)a, (int64_t)b);
}
static uint64_t h_divu(uint64_t a, uint64_t b)
{
	return rv_divu(a, b);
}
static uint64_t h_rem(uint64_t a, uint64_t b)
{
	return rv_rem((int64_t)a, (int64_t)b);
}
static uint64_t h_remu(uint64_t a, uint64_t b)
{
	return rv_remu(a, b);
}
static uint64_t h_divw(uint64_t a, uint64_t b)
{
	return rv_divw((int32_t)a, (int32_t)b);
}
static uint64_t h_divuw(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? rv_sext32((uint32_t)a / (uint32_t)b) : ~0ULL;
}
static uint64_t h_remw(uint64_t a, uint64_t b)
{
	return rv_remw((int32_t)a, (int32_t)b);
}
static uint64_t h_remuw(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? rv_sext32((uint32_t)a % (uint32_t)b) : rv_sext32(a);
}
static uint64_t h_zb(uint64_t a, uint64_t b, uint64_t zb_op)
{
	return rv_zb_compute((enum rv_zb_op)zb_op, a, b);
}

static void binop_helper(struct block_ctx *c, const struct rv_op *op, const void *fn)
{
	call_args(c, op->rs1, op->rs2);
	call_abs(&c->e, fn); /* cannot raise */
	reload_local(c);
	set_x(c, op->rd, RAX);
}

/* x[rd] <- the high half of x[rs1] * x[rs2]: the one-operand imul / mul (rdx:rax), rdx kept in rsi
 * meanwhile (it may hold a guest register). */
static void emit_mul_high(struct block_ctx *c, const struct rv_op *op, bool is_signed)
{
	struct emit *e = &c->e;
	get_x(c, RAX, op->rs1);
	op_rr(e, 0x8b, RCX, RDX, true); /* mov rcx, rdx */
	unsigned digit = is_signed ? 5 : 4;
	if (c->host[op->rs2] >= 0) { /* imul / mul reg */
		rex(e, true, 0, c->host[op->rs2]);
		e8(e, 0xf7);
		e8(e, (uint8_t)(0xc0 | digit << 3 | (c->host[op->rs2] & 7)));
	} else { /* imul / mul qword [hart + x[rs2]] */
		EB(e, "\x48\xf7");
		modrm_hart(e, (int)digit, xoff(op->rs2));
	}
	op_rr(e, 0x8b, RAX, RDX, true); /* mov rax, rdx */
	op_rr(e, 0x8b, RDX, RCX, true); /* mov rdx, rcx */
	set_x(c, op->rd, RAX);
}

/* rax <- the Zb* operation of `op` (bitmanip.h): inline where x86 has a short form (lea, andn-like
 * pairs, cmov, rotates, bit scans, bt*, bswap, movsx), else through rv_zb_compute. */
static void emit_zb_rax(struct block_ctx *c, const struct rv_op *op)
{
	struct emit *e = &c->e;
	enum rv_zb_op zb = rv_zb_op(op->imm);
	unsigned imm = (unsigned)(op->imm >> 8) & 63;
	switch (zb) {
	case RV_ZB_SH1ADD:
	case RV_ZB_SH2ADD:
	case RV_ZB_SH3ADD:
	case RV_ZB_ADD_UW:
	case RV_ZB_SH1ADD_UW:
	case RV_ZB_SH2ADD_UW:
	case RV_ZB_SH3ADD_UW: {
		static const uint8_t shift[RV_ZB_COUNT] = {
		    [RV_ZB_SH1ADD] = 1,    [RV_ZB_SH2ADD] = 2,    [RV_ZB_SH3ADD] = 3,
		    [RV_ZB_SH1ADD_UW] = 1, [RV_ZB_SH2ADD_UW] = 2, [RV_ZB_SH3ADD_UW] = 3};
		get_x(c, RAX, op->rs1);
		if (zb >= RV_ZB_ADD_UW) op_rr(e, 0x8b, RAX, RAX, false); /* mov eax, eax: zero-extends */
		if (shift[zb]) shift_imm(e, RAX, 4, shift[zb], true);    /* shl */
		alu_x(c, 0x03, RAX, op->rs2, true);
		return;
	}
	case RV_ZB_SLLI_UW:
		get_x(c, RAX, op->rs1);
		op_rr(e, 0x8b, RAX, RAX, false);
		if (imm) shift_imm(e, RAX, 4, imm, true);
		return;
	case RV_ZB_ANDN:
	case RV_ZB_ORN:
	case RV_ZB_XNOR:
		get_x(c, RAX, op->rs2);
		if (zb != RV_ZB_XNOR) EB(e, "\x48\xf7\xd0"); /* not rax */
		alu_x(c, zb == RV_ZB_ANDN ? 0x23 : zb == RV_ZB_ORN ? 0x0b : 0x33, RAX, op->rs1, true);
		if (zb == RV_ZB_XNOR) EB(e, "\x48\xf7\xd0");
		return;
	case RV_ZB_MIN:
	case RV_ZB_MINU:
	case RV_ZB_MAX:
	case RV_ZB_MAXU:
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		op_rr(e, 0x3b, RAX, RCX,
		      true); /* cmp rax, rcx; then take rcx when rax is on the wrong side */
		op_rr(e,
		      zb == RV_ZB_MIN    ? 0x0f4f
		      : zb == RV_ZB_MAX  ? 0x0f4c
		      : zb == RV_ZB_MINU ? 0x0f47
		                         : 0x0f42,
		      RAX, RCX, true);
		return;
	case RV_ZB_ROL:
	case RV_ZB_ROR:
	case RV_ZB_ROLW:
	case RV_ZB_RORW: {
		bool w = zb == RV_ZB_ROLW || zb == RV_ZB_RORW;
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		shift_cl(e, RAX, zb == RV_ZB_ROL || zb == RV_ZB_ROLW ? 0 : 1,
		         !w); /* x86 masks the count too */
		if (w) movsxd(e, RAX);
		return;
	}
	case RV_ZB_RORI:
	case RV_ZB_RORIW:
		get_x(c, RAX, op->rs1);
		shift_imm(e, RAX, 1, imm, zb == RV_ZB_RORI);
		if (zb == RV_ZB_RORIW) movsxd(e, RAX);
		return;
	case RV_ZB_CLZ: /* 63 - bsr, with bsr of zero taken as -1 */
		get_x(c, RCX, op->rs1);
		op_rr(e, 0x0fbd, RAX, RCX, true);
		mov_imm64(e, RCX, ~0ULL);
		op_rr(e, 0x0f44, RAX, RCX, true); /* cmovz */
		EB(e, "\x48\xf7\xd8");            /* neg rax */
		alu_imm(e, RAX, 0, 63, true);
		return;
	case RV_ZB_CTZ:
		get_x(c, RCX, op->rs1);
		op_rr(e, 0x0fbc, RAX, RCX, true); /* bsf */
		mov_imm64(e, RCX, 64);
		op_rr(e, 0x0f44, RAX, RCX, true);
		return;
	case RV_ZB_CLZW: /* bsr of (x << 32 | 1 << 31), never zero, xor 63 */
		get_x(c, RAX, op->rs1);
		shift_imm(e, RAX, 4, 32, true);
		EB(e, "\x48\x0f\xba\xe8\x1f"); /* bts rax, 31 */
		op_rr(e, 0x0fbd, RAX, RAX, true);
		alu_imm(e, RAX, 6, 63, false);
		return;
	case RV_ZB_CTZW: /* bsf of (x | 1 << 32) */
		get_x(c, RAX, op->rs1);
		op_rr(e, 0x8b, RAX, RAX, false);
		EB(e, "\x48\x0f\xba\xe8\x20"); /* bts rax, 32 */
		op_rr(e, 0x0fbc, RAX, RAX, true);
		return;
	case RV_ZB_CPOP:
	case RV_ZB_CPOPW:
		if (!__builtin_cpu_supports("popcnt")) break;
		get_x(c, RAX, op->rs1);
		if (zb == RV_ZB_CPOPW) op_rr(e, 0x8b, RAX, RAX, false);
		e8(e, 0xf3);
		op_rr(e, 0x0fb8, RAX, RAX, true);
		return;
	case RV_ZB_SEXT_B:
	case RV_ZB_SEXT_H:
	case RV_ZB_ZEXT_H:
		get_x(c, RAX, op->rs1);
		op_rr(e,
		      zb == RV_ZB_SEXT_B   ? 0x0fbe
		      : zb == RV_ZB_SEXT_H ? 0x0fbf
		                           : 0x0fb7,
		      RAX, RAX, zb != RV_ZB_ZEXT_H);
		return;
	case RV_ZB_REV8:
		get_x(c, RAX, op->rs1);
		EB(e, "\x48\x0f\xc8"); /* bswap rax */
		return;
	case RV_ZB_ORC_B: {
		/* per byte: ((b & 0x7f) + 0x7f) | b has bit 7 set iff b != 0; then 0x80 -> 0xff */
		unsigned held = rsi_claim(c);
		get_x(c, RAX, op->rs1);
		mov_imm64(e, RCX, 0x7f7f7f7f7f7f7f7fULL);
		op_rr(e, 0x8b, RSI, RAX, true);
		op_rr(e, 0x23, RSI, RCX, true);
		op_rr(e, 0x03, RSI, RCX, true);
		op_rr(e, 0x0b, RSI, RAX, true);
		EB(e, "\x48\xf7\xd1"); /* not rcx: 0x8080... */
		op_rr(e, 0x23, RSI, RCX, true);
		shift_imm(e, RSI, 5, 7, true);
		EB(e, "\x48\x69\xc6"); /* imul rax, rsi, 255 */
		e32(e, 255);
		rsi_restore(c, held);
		return;
	}
	case RV_ZB_BCLR:
	case RV_ZB_BSET:
	case RV_ZB_BINV:
	case RV_ZB_BEXT:
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		op_rr(e,
		      zb == RV_ZB_BCLR   ? 0x0fb3
		      : zb == RV_ZB_BSET ? 0x0fab
		      : zb == RV_ZB_BINV ? 0x0fbb
		                         : 0x0fa3,
		      RCX, RAX, true); /* btr / bts / btc / bt rax, rcx (the index taken mod 64) */
		if (zb == RV_ZB_BEXT) setcc_rax(e, 0x2);
		return;
	case RV_ZB_BCLRI:
	case RV_ZB_BSETI:
	case RV_ZB_BINVI:
	case RV_ZB_BEXTI:
		get_x(c, RAX, op->rs1);
		EB(e, "\x48\x0f\xba"); /* bt* rax, imm8 */
		e8(e, (uint8_t)(0xc0 | (zb == RV_ZB_BCLRI   ? 6
		                        : zb == RV_ZB_BSETI ? 5
		                        : zb == RV_ZB_BINVI ? 7
		                                            : 4)
		                           << 3));
		e8(e, (uint8_t)imm);
		if (zb == RV_ZB_BEXTI) setcc_rax(e, 0x2);
		return;
	case RV_ZB_CZERO_EQZ:
	case RV_ZB_CZERO_NEZ:
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		op_rr(e, 0x85, RCX, RCX, true); /* test rcx, rcx */
		EB(e, "\xb9\x00\x00\x00\x00");  /* mov ecx, 0 (flags kept) */
		op_rr(e, zb == RV_ZB_CZERO_EQZ ? 0x0f44 : 0x0f45, RAX, RCX, true);
		return;
	default: break;
	}
	/* The carry-less products, and whatever the host lacks an instruction for. */
	if (op->imm & RV_ZB_IMM_FORM) {
		call_args(c, op->rs1, -1);
		mov_imm64(e, RSI, imm);
	} else {
		call_args(c, op->rs1, op->rs2);
	}
	mov_imm64(e, RDX, zb);
	call_abs(e, h_zb); /* cannot raise */
	reload_local(c);
}

/*
 * A shift of x[rs] by sh (1-3) into x[rd], the next instruction being an add of x[rd] and another
 * register (block_ctx.scaled_rs): true when the add overwrites x[rd] and the shift need not be
 * emitted, false when it must be (the add still reads x[rs], which the shift keeps: rd != rs).
 */
static bool scaled_by_add(struct block_ctx *c, unsigned rd, unsigned rs, unsigned sh)
{
	const struct rv_op *a = c->next;
	if (!rd || !a || rv_op_kind(a) != K_ADD || !a->rs1 || !a->rs2 || (a->rs1 == rd) == (a->rs2 == rd))
		return false;
	const bool vanishes = a->rd == rd;
	if (!vanishes && rs == rd) return false;
	c->scaled_rs = (int)rs;
	c->scaled_rd = rd;
	c->scaled_sh = sh;
	c->scaled_set = true;
	return vanishes;
}

/* The add after such a shift: x[rd] <- other + (x[scaled_rs] << scaled_sh), one lea. */
static void emit_scaled_add(struct block_ctx *c, const struct rv_op *op)
{
	const unsigned other = op->rs1 == c->scaled_rd ? op->rs2 : op->rs1, rs = (unsigned)c->scaled_rs;
	int index = rs ? c->host[rs] : -1, base = c->host[other];
	if (index < 0) {
		get_x(c, RAX, rs);
		index = RAX;
	}
	if (base < 0) {
		get_x(c, RCX, other);
		base = RCX;
	}
	const int d = dst_reg(c, op->rd, 0);
	lea_index(&c->e, d, base, index, c->scaled_sh, true);
	put_x(c, op->rd, d);
}

/* Whether the next instruction compares x[rd] with zero, which the flags of an add into it answer
 * (c->zero_at): an lea, which sets none, would want a test. */
static bool zero_tested(const struct block_ctx *c, unsigned rd)
{
	const struct rv_op *b = c->next;
	if (!b) return false;
	const unsigned kind = rv_op_kind(b);
	return kind >= K_BEQ && kind <= K_BGE && b->rs1 == rd && b->rs2 == 0;
}

static bool leaves_inner_loop(const struct block_ctx *c, int i, int t);

/* Emits one instruction. Returns false if it ends the block (it emitted the exit). */
static bool emit_op(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, unsigned len,
                    int k, struct side_exit *side, unsigned *nside)
{
	struct emit *e = &c->e;
	int32_t imm = op->imm;
	switch ((enum op_kind)kind) { /* every kind of RV_FAST_OPS has its case: -Wswitch checks */
	case K_LUI:
	case K_AUIPC: {
		int d = dst_reg(c, op->rd, 0);
		mov_imm64(e, d, (kind == K_AUIPC ? pc : 0) + (uint64_t)(int64_t)imm);
		put_x(c, op->rd, d);
		return true;
	}
	case K_ADDI:
	case K_XORI:
	case K_ORI:
	case K_ANDI: {
		static const unsigned digit[] = {[K_ADDI] = 0, [K_XORI] = 6, [K_ORI] = 1, [K_ANDI] = 4};
		int d = dst_reg(c, op->rd, 0);
		if (op->rs1 == 0 && kind != K_ANDI) { /* li */
			mov_imm64(e, d, (uint64_t)(int64_t)imm);
			put_x(c, op->rd, d);
			return true;
		}
		const int s = c->host[op->rs1];
		if (kind == K_ADDI && s >= 0 && s != d && (imm || d == RAX)) { /* rd <- rs1 + imm, no move */
			if (!imm) { /* mv into the hart: stored straight from rs1's host register */
				set_x(c, op->rd, s);
				return true;
			}
			lea_imm(e, d, s, imm, true);
		} else {
			get_x(c, d, op->rs1);
			if (imm || kind == K_ANDI) alu_imm(e, d, digit[kind], imm, true);
		}
		put_x(c, op->rd, d);
		return true;
	}
	case K_SLTI:
	case K_SLTIU:
		get_x(c, RAX, op->rs1);
		alu_imm(e, RAX, 7, imm, true);
		setcc_rax(e, kind == K_SLTI ? 0xc : 0x2);
		set_x(c, op->rd, RAX);
		return true;
	case K_SLLI:
		if (c->rot_gone[k + (int)c->n]) return true; /* half of a rotate (plan_rotate) */
		if (imm >= 1 && imm <= 3 && scaled_by_add(c, op->rd, op->rs1, (unsigned)imm))
			return true;                          /* the add overwrites the result */
		if (c->zext_gone[k + (int)c->n]) return true; /* its srli overwrites it (plan_zext) */
		                                              /* fall through */
	case K_SRLI:
	case K_SRAI:
	case K_SLLIW:
	case K_SRLIW:
	case K_SRAIW: {
		if (c->rot_gone[k + (int)c->n]) return true;
		if (kind == K_SRLI && c->zext_rs[k + (int)c->n] >= 0) { /* (x << 32) >> n from x's low half */
			int d = dst_reg(c, op->rd, 0);
			unsigned sh = (unsigned)imm & 63, rs = (unsigned)c->zext_rs[k + (int)c->n];
			if (d != c->host[rs] || !(c->upper_zero & 1u << rs)) get_x32(c, d, rs);
			if (sh >= 29 && sh < 32 && c->next && c->next->rd == op->rd &&
			    scaled_by_add(c, op->rd, op->rd, 32 - sh)) {
				put_x(c, op->rd, d); /* unscaled: the add, which overwrites it, scales it */
				return true;
			}
			if (sh < 32) shift_imm(e, d, 4, 32 - sh, true);
			if (sh > 32) shift_imm(e, d, 5, sh - 32, true);
			put_x(c, op->rd, d);
			return true;
		}
		bool w = kind == K_SLLIW || kind == K_SRLIW || kind == K_SRAIW;
		unsigned n = (kind == K_SLLI || kind == K_SLLIW)   ? 4
		             : (kind == K_SRLI || kind == K_SRLIW) ? 5
		                                                   : 7;
		/* an srliw by 1-31 zero-extends, as its result's bit 31 is clear: no sign to extend */
		const bool sext = w && c->sext[k + (int)c->n] && !(kind == K_SRLIW && (imm & 31));
		int d = dst_reg(c, op->rd, 0);
		get_x(c, d, op->rs1);
		shift_imm(e, d, n, (unsigned)imm & (w ? 31 : 63), !w);
		if (sext) movsxd(e, d);
		put_x(c, op->rd, d);
		if (w && !sext && (imm & 31)) written_upper_zero(c, op->rd, d);
		return true;
	}
	case K_ADDIW: {
		int d = dst_reg(c, op->rd, 0);
		if (!imm && op->rs1 && c->host[op->rs1] >= 0 && c->sext[k + (int)c->n]) {
			op_rr(e, 0x63, d, c->host[op->rs1], true); /* sext.w: movsxd d, x[rs1]32 */
			put_x(c, op->rd, d);
			return true;
		}
		if (imm && op->rs1 && c->host[op->rs1] >= 0 && c->host[op->rs1] != d &&
		    !zero_tested(c, op->rd)) {
			lea_imm(e, d, c->host[op->rs1], imm, false); /* rd <- rs1 + imm, no move first */
			if (c->sext[k + (int)c->n]) movsxd(e, d);
			put_x(c, op->rd, d);
			if (!c->sext[k + (int)c->n]) written_upper_zero(c, op->rd, d);
			return true;
		}
		get_x(c, d, op->rs1);
		if (imm) alu_imm(e, d, 0, imm, false);
		if (c->sext[k + (int)c->n]) movsxd(e, d);
		put_x(c, op->rd, d);
		if (imm && !c->sext[k + (int)c->n]) written_upper_zero(c, op->rd, d);
		if (imm) c->zero_at = e->p, c->zero_x = op->rd;
		return true;
	}
	case K_ADD:
	case K_SUB:
	case K_AND:
	case K_OR:
	case K_XOR:
	case K_ADDW:
	case K_SUBW: {
		/* 32 bits wide where the upper half goes unread (zeros there: upper_zero) */
		const bool w = kind == K_ADDW || kind == K_SUBW, upper = c->sext[k + (int)c->n],
		           wide = !w && upper;
		unsigned opc = (kind == K_ADD || kind == K_ADDW)   ? 0x03
		               : (kind == K_SUB || kind == K_SUBW) ? 0x2b
		               : kind == K_AND                     ? 0x23
		               : kind == K_OR                      ? 0x0b
		                                                   : 0x33;
		if (c->rot_src[k + (int)c->n] >= 0) { /* x[rd] <- x rotated (plan_rotate) */
			const unsigned count = c->rot_ror[k + (int)c->n];
			const bool rw = count & ROT_W;
			int d = dst_reg(c, op->rd, 0);
			get_x(c, d, (unsigned)c->rot_src[k + (int)c->n]);
			shift_imm(e, d, 1, count & 63, !rw); /* ror */
			if (rw && upper) movsxd(e, d);
			put_x(c, op->rd, d);
			if (rw && !upper) written_upper_zero(c, op->rd, d);
			return true;
		}
		if (op->rs1 == 0 && (kind == K_ADD || kind == K_OR || kind == K_XOR)) { /* mv */
			int d = dst_reg(c, op->rd, 0);
			if (d == RAX && c->host[op->rs2] >= 0) {
				set_x(c, op->rd,
				      c->host[op->rs2]); /* to the hart straight from its host register */
				return true;
			}
			get_x(c, d, op->rs2);
			put_x(c, op->rd, d);
			return true;
		}
		if (kind == K_ADD && c->scaled_rs >= 0) {
			emit_scaled_add(c, op);
			return true;
		}
		if ((kind == K_ADD || kind == K_ADDW) && op->rs2 && op->rd != op->rs1 && op->rd != op->rs2 &&
		    c->host[op->rs1] >= 0 && c->host[op->rs2] >= 0 && !zero_tested(c, op->rd)) {
			int d = dst_reg(c, op->rd, 0), a = c->host[op->rs1], b = c->host[op->rs2];
			if ((a & 7) == RBP) /* rbp or r13 as the index: as a base it would want a disp8 */
				a = b, b = c->host[op->rs1];
			lea_index(e, d, a, b, 0, wide); /* rd <- rs1 + rs2, no move first */
			if (w && upper) movsxd(e, d);
			put_x(c, op->rd, d);
			if (!upper) written_upper_zero(c, op->rd, d);
			return true;
		}
		/* Into its second source, held in a host register: a commutative operation takes its
		 * sources the other way round, a sub negates it and adds (no move there and back). */
		int d;
		unsigned other = op->rs2;
		if (op->rd == op->rs2 && op->rs1 && op->rs1 != op->rs2 && c->host[op->rd] >= 0) {
			d = c->host[op->rd];
			other = op->rs1;
			if (opc == 0x2b) {
				op_rr(e, 0xf7, 3, d, true); /* neg d */
				opc = 0x03;
			}
		} else {
			d = dst_reg(c, op->rd, op->rs2);
			get_x(c, d, op->rs1);
		}
		alu_x(c, opc, d, other, wide);
		if (w && upper) movsxd(e, d);
		put_x(c, op->rd, d);
		if (!upper) written_upper_zero(c, op->rd, d);
		if (w || wide) c->zero_at = e->p, c->zero_x = op->rd; /* its flags are the register's */
		return true;
	}
	case K_SLT:
	case K_SLTU:
		get_x(c, RAX, op->rs1);
		alu_x(c, 0x3b, RAX, op->rs2, true);
		setcc_rax(e, kind == K_SLT ? 0xc : 0x2);
		set_x(c, op->rd, RAX);
		return true;
	case K_SLL:
	case K_SRL:
	case K_SRA:
	case K_SLLW:
	case K_SRLW:
	case K_SRAW: {
		bool w = kind == K_SLLW || kind == K_SRLW || kind == K_SRAW;
		unsigned n = (kind == K_SLL || kind == K_SLLW)   ? 4
		             : (kind == K_SRL || kind == K_SRLW) ? 5
		                                                 : 7;
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		shift_cl(e, RAX, n, !w); /* x86 masks the count like RISC-V: 63 (64-bit), 31 (32-bit) */
		if (w && c->sext[k + (int)c->n]) movsxd(e, RAX);
		set_x(c, op->rd, RAX);
		return true;
	}
	case K_MUL:
	case K_MULW: {
		const bool swap = op->rd == op->rs2 && c->host[op->rd] >= 0; /* into rs2's host register */
		const unsigned a = swap ? op->rs2 : op->rs1, b = swap ? op->rs1 : op->rs2;
		int d = dst_reg(c, op->rd, b);
		get_x(c, d, a);
		const bool upper = c->sext[k + (int)c->n];
		alu_x(c, 0x0faf, d, b, kind == K_MUL && upper); /* imul d, x[b] (32 bits: upper_zero) */
		if (kind == K_MULW && upper) movsxd(e, d);
		put_x(c, op->rd, d);
		if (!upper) written_upper_zero(c, op->rd, d);
		return true;
	}
	case K_ZB:
		emit_zb_rax(c, op);
		set_x(c, op->rd, RAX);
		return true;
	case K_MULH:
	case K_MULHU: emit_mul_high(c, op, kind == K_MULH); return true;
	case K_MULHSU: binop_helper(c, op, h_mulhsu); return true;
	case K_DIV: binop_helper(c, op, h_div); return true;
	case K_DIVU: binop_helper(c, op, h_divu); return true;
	case K_REM: binop_helper(c, op, h_rem); return true;
	case K_REMU: binop_helper(c, op, h_remu); return true;
	case K_DIVW: binop_helper(c, op, h_divw); return true;
	case K_DIVUW: binop_helper(c, op, h_divuw); return true;
	case K_REMW: binop_helper(c, op, h_remw); return true;
	case K_REMUW: binop_helper(c, op, h_remuw); return true;
	case K_LB:
	case K_LH:
	case K_LW:
	case K_LD:
	case K_LBU:
	case K_LHU:
	case K_LWU: emit_load(c, op, kind, pc, k); return true;
	case K_SB:
	case K_SH:
	case K_SW:
	case K_SD: emit_store(c, op, kind, pc, k); return true;
	case K_JAL: {
		int i = k + (int)c->n, t = c->target[i];
		if (op->rd % 32) { /* x0 arrives as 32 */
			mov_imm64(e, RAX, pc + len);
			set_x(c, op->rd, RAX);
		}
		if (t > i) { /* forward in the block */
			c->in_dirty[t] |= c->dirty;
			if (c->owed[i] - 1 != c->owed[t]) budget_add(e, c->owed[i] - 1 - c->owed[t]);
			e8(e, 0xe9);
			c->fwd[c->nfwd++] = (struct fwd_jump){e->p, t};
			e32(e, 0);
			return false;
		}
		if (t < 0 && is_link(op->rd))
			exit_call(c, pc + (uint64_t)(int64_t)imm, pc + len, c->dirty, owed_after(c, k));
		else
			exit_to(c, pc + (uint64_t)(int64_t)imm, c->dirty, t, owed_after(c, k));
		return false;
	}
	case K_JALR:
		get_x(c, RAX, op->rs1);
		if (imm) alu_imm(e, RAX, 0, imm, true);
		EB(e, "\x48\x83\xe0\xfe"); /* and rax, -2 */
		if (op->rd % 32) {
			mov_imm64(e, RCX, pc + len);
			set_x(c, op->rd, RCX);
		}
		if (owed_after(c, k)) budget_add(e, owed_after(c, k));
		write_back(c, c->dirty);
		if (is_link(op->rd % 32))
			exit_indirect_call(c, pc + len);
		else if (op->rd % 32 == 0 && is_link(op->rs1))
			exit_return(e);
		else
			exit_indirect(e);
		return false;
	case K_BEQ:
	case K_BNE:
	case K_BLT:
	case K_BGE:
	case K_BLTU:
	case K_BGEU: {
		static const uint8_t cc[] = {[K_BEQ] = 0x4, [K_BNE] = 0x5,  [K_BLT] = 0xc,
		                             [K_BGE] = 0xd, [K_BLTU] = 0x2, [K_BGEU] = 0x3};
		/* The condition with the operands swapped: x[rs2] - x[rs1]'s flags. */
		static const uint8_t swapped[16] = {
		    [0x4] = 0x4, [0x5] = 0x5, [0xc] = 0xf, [0xd] = 0xe, [0x2] = 0x7, [0x3] = 0x6};
		uint8_t cond = cc[kind];
		const int i = k + (int)c->n, t = c->target[i];
		/* Forward in the block: straight there. Where the target owes another amount than the
		 * branch brings (plan_budget), the difference is given back before the branch and charged
		 * again when it is not taken (lea keeps the flags). */
		const int skip = t > i ? c->owed[i] - 1 - c->owed[t] : 0;
		const bool same = c->flags_at == e->p && c->flags_rs1 == op->rs1 && c->flags_rs2 == op->rs2,
		           rev = c->flags_at == e->p && c->flags_rs1 == op->rs2 && c->flags_rs2 == op->rs1,
		           zero = c->zero_at == e->p && op->rs1 == c->zero_x && op->rs1 != 0 &&
		                  op->rs2 == 0 && kind <= K_BGE;
		if (skip && c->lea_at == e->p) { /* merged with the lea before */
			e->p -= BUDGET_LEA_LEN;
			if (c->lea_imm + skip) budget_lea(e, c->lea_imm + skip);
		} else if (skip) {
			budget_lea(e, skip);
		}
		if (zero) { /* ZF and SF are x[rs1]'s: beqz, bnez, bltz (js), bgez (jns) */
			if (kind == K_BLT || kind == K_BGE) cond = kind == K_BLT ? 0x8 : 0x9;
			c->flags_rs1 = c->flags_rs2 = 64; /* no compare to take up again */
		} else if (same) {
			/* the flags hold cmp x[rs1], x[rs2] */
		} else if (rev) {
			cond = swapped[cond];
		} else {
			cmp_x(c, op->rs1, op->rs2); /* fused with the jcc */
			c->flags_rs1 = op->rs1;
			c->flags_rs2 = op->rs2;
		}
		if (t > i) {
			e8(e, 0x0f);
			e8(e, (uint8_t)(0x80 | cond)); /* jcc label[t] */
			c->fwd[c->nfwd++] = (struct fwd_jump){e->p, t};
			e32(e, 0);
			c->in_dirty[t] |= c->dirty;
			if (skip) {
				budget_lea(e, -skip);
				c->lea_at = e->p, c->lea_imm = -skip;
			}
			c->flags_at = e->p;
			return true;
		}
		struct side_exit *s = &side[(*nside)++];
		s->back_out = t >= 0 && leaves_inner_loop(c, i, t);
		if (s->back_out) { /* to an outer loop's head, seldom: out of line, this path straight on */
			e8(e, 0x0f);
			e8(e, (uint8_t)(0x80 | cond)); /* jcc: round the outer loop in the stub */
			s->fix = e->p;
			e32(e, 0);
		} else if (t >= 0) { /* a loop's branch back: round again without leaving the line */
			e8(e, 0x0f);
			e8(e, (uint8_t)(0x80 | (cond ^ 1))); /* j(not cc) on */
			uint8_t *on = e->p;
			e32(e, 0);
			loop_back(c, t, owed_after(c, k));
			e8(e, 0xe9); /* jmp: the budget is spent, a side exit */
			s->fix = e->p;
			e32(e, 0);
			patch_to_here(e, on);
		} else {
			e8(e, 0x0f);
			e8(e,
			   (uint8_t)(0x80 | cond)); /* jcc taken: a side exit; the block goes on not taken */
			s->fix = e->p;
			e32(e, 0);
		}
		s->target = pc + (uint64_t)(int64_t)imm;
		s->refund = owed_after(c, k); /* k is the index minus the block's length */
		s->dirty = c->dirty;
		s->inside = t;
		c->flags_at = e->p;
		return true;
	}
	case K_GENERIC:
		if (fp_mem_kind((uint32_t)imm) >= 0)
			emit_fp_mem(c, op, pc, len, k);
		else if (!emit_fp_arith(c, op, pc, len, k) && !emit_misc(c, op, pc, len, k) &&
		         !emit_vector(c, op, pc, len, k))
			emit_generic(c, op, pc, len, k, side, nside);
		return true;
	case K_DECODE:
	case K_SLOW:
	case K_COUNT: break; /* not reached: the caller only passes translatable kinds */
	}
	return true;
}

/*
 * The next page's code for a U-mode block's tails there (take_tail): its host address while the U
 * set's fetch TLB maps it (the interpreter has fetched from it), and that mapping's addend, or
 * NULL. Translated code compares the mapping with the fetch TLB's each time it enters such a tail
 * (emit_next_page_check): after an sfence.vma or a satp write the page may be another, or not
 * executable; the code check at a block's first entry after a fence.i reads it through the host
 * address noted here, which the same addend keeps right.
 */
static const uint8_t *next_page_code(const struct rv_hart *h, uint64_t next_page, uintptr_t *addend)
{
	if (!user_mode(h) || !h->tlb_ready[RV_TLB_SET_U]) return NULL;
	const struct rv_tlb_table *t = &h->tlb[RV_TLB_SET_U].exec;
	const unsigned i = (unsigned)(next_page >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1);
	if (t->vpage[i] != next_page) return NULL;
	*addend = t->addend[i];
	return (const uint8_t *)(uintptr_t)(next_page + t->addend[i]);
}
/* Translated code's half of that: cmp of the fetch TLB's entry for next_page with it (rcx holds
 * next_page after); returns the entry's addend field, an offset from the hart. */
static uint32_t emit_next_page_cmp(struct emit *e, uint64_t next_page)
{
	const uint32_t table = (uint32_t)(offsetof(struct rv_hart, tlb[RV_TLB_SET_U]) +
	                                  offsetof(struct rv_tlb_set, exec)),
	               slot = 8 * ((uint32_t)(next_page >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1));
	mov_imm64(e, RCX, next_page);
	op_rm_hart(e, 0x3b, RCX, table + (uint32_t)offsetof(struct rv_tlb_table, vpage) + slot, true);
	return table + (uint32_t)offsetof(struct rv_tlb_table, addend) + slot;
}

/*
 * A 4-byte instruction in a page's last halfword runs onto the next page. A U-mode block may end
 * with it while the U set's fetch TLB maps that page (the interpreter has just fetched the
 * instruction through it): translated code looks the page up there again each time (its mapping
 * may have changed) and compares the upper half; on a miss or another half it hands the
 * instruction to the interpreter (its pc | 1, as for changed code), which fetches it exactly,
 * faults included (and refills the entry). Another half there (the next page mapped elsewhere, or
 * rewritten) sends it there every time: rare, and still exact. Before, every pass through such an
 * instruction went back to C (gzip's deflate loop: 294,000 times in a run of the benchmark).
 */
static bool straddler_upper(const struct rv_hart *h, uint64_t next_page, uint16_t *upper)
{
	uintptr_t addend;
	const uint8_t *code = next_page_code(h, next_page, &addend);
	if (code) memcpy(upper, code, 2);
	return code != NULL;
}
static void emit_straddle_check(struct block_ctx *c, uint32_t raw, uint64_t next_page)
{
	struct emit *e = &c->e;
	const uint32_t addend = emit_next_page_cmp(e, next_page);
	EB(e, "\x0f\x85"); /* jne: not mapped for execution there (now) */
	c->straddle_fix[0] = e->p;
	e32(e, 0);
	op_rm_hart(e, 0x8b, RAX, addend, true);
	EB(e, "\x66\x81\x3c\x08"); /* cmp word [rax + rcx], upper */
	const uint16_t upper = (uint16_t)(raw >> 16);
	memcpy(e->p, &upper, 2);
	e->p += 2;
	EB(e, "\x0f\x85"); /* jne: another instruction there */
	c->straddle_fix[1] = e->p;
	e32(e, 0);
	c->straddle_dirty = c->dirty;
}
/* Out of line: the straddling instruction at pc (not run, nor the tails: `refund`) to the interpreter. */
static void emit_straddle_bail(struct block_ctx *c, uint64_t pc, int refund)
{
	struct emit *e = &c->e;
	patch_to_here(e, c->straddle_fix[0]);
	patch_to_here(e, c->straddle_fix[1]);
	budget_add(e, refund);
	write_back(c, c->straddle_dirty);
	return_pc(e, pc | 1);
}

/* At the start of tail instruction i on the next page: unless the fetch TLB still maps that page
 * as at translation, a side exit to the instruction (the dispatcher finds its code afresh). */
static void emit_next_page_check(struct block_ctx *c, uintptr_t addend, uint64_t pc, unsigned i,
                                 struct side_exit *side, unsigned *nside)
{
	struct emit *e = &c->e;
	const uint32_t entry_addend = emit_next_page_cmp(e, c->page + RV_PAGE_SIZE);
	for (unsigned k = 0; k < 2; k++) {
		if (k) {
			mov_imm64(e, RCX, addend);
			op_rm_hart(e, 0x3b, RCX, entry_addend, true);
		}
		EB(e, "\x0f\x85"); /* jne: mapped otherwise, or not (now) */
		struct side_exit *s = &side[(*nside)++];
		*s = (struct side_exit){
		    .fix = e->p, .target = pc, .refund = c->owed[i], .dirty = c->dirty, .inside = -1};
		e32(e, 0);
	}
}

static bool translatable(unsigned kind)
{
	return kind >= K_LUI && kind < K_COUNT;
}

/* c->target[] for the block's n instructions (their jumps' and branches' targets in the block, or -1),
 * back_to[] for the instructions a jump goes back to; whether there are jumps inside it at all. */
static bool find_targets(struct block_ctx *c, const struct rv_op *ops, const unsigned *offs, unsigned n,
                         bool *back_to)
{
	bool inner_jumps = false;
	for (unsigned i = 0; i < n; i++) {
		back_to[i] = false;
		c->target[i] = -1;
	}
	/* The instructions by offset (below two pages: a uint16_t), open-addressed: the whole block
	 * is formed again for every one translated, so no scan of it per jump. */
	enum { SLOTS = 256 }; /* over twice JIT_MAX_OPS */
	_Static_assert(2 * JIT_MAX_OPS < SLOTS, "the probing below needs a free slot");
	uint16_t slot_off[SLOTS];
	int8_t slot_at[SLOTS];
	memset(slot_at, -1, sizeof(slot_at));
	for (unsigned i = 0; i < n; i++) {
		if (offs[i] >= 2 * RV_PAGE_SIZE) continue; /* no jump leads there (below) */
		unsigned h = (offs[i] >> 1) % SLOTS;
		while (slot_at[h] >= 0) h = (h + 1) % SLOTS;
		slot_off[h] = (uint16_t)offs[i];
		slot_at[h] = (int8_t)i;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned kind = rv_op_kind(&ops[i]);
		if (kind != K_JAL && !(kind >= K_BEQ && kind <= K_BGEU)) continue;
		const uint64_t to = offs[i] + (uint64_t)(int64_t)ops[i].imm; /* from the page's start */
		if (to >= 2 * RV_PAGE_SIZE) continue;
		for (unsigned h = (unsigned)(to >> 1) % SLOTS; slot_at[h] >= 0; h = (h + 1) % SLOTS)
			if (slot_off[h] == to) {
				const int t = slot_at[h];
				c->target[i] = (int8_t)t;
				inner_jumps = true;
				if (t <= (int)i) back_to[t] = true;
				break;
			}
	}
	return inner_jumps;
}

/* Whether the block's first n instructions hold one at page offset off. */
static bool decoded(const unsigned *offs, unsigned n, unsigned off)
{
	for (unsigned i = 0; i < n; i++)
		if (offs[i] == off) return true;
	return false;
}

/*
 * A tail: a branch of the block's main path (its first n_main instructions) that leaves it for a
 * few instructions of the page, or in U-mode of the next page (no jump or branch among them)
 * ending in a jump (j) back into the main path, such as the other arm of an if in a loop: they are
 * taken into the block after its other n instructions, so that the loop stays in the block with
 * its registers in place. page[0] is the host address of the page's code, page[1] the next one's
 * (NULL: none). Offsets run on from the page's start into the next. Returns the block's new length
 * (n if no tail).
 */
#define JIT_TAIL_MAX 20
static unsigned take_tail(const struct rv_hart *h, const uint8_t *const page[2], struct rv_op *ops,
                          unsigned *lens, unsigned *offs, unsigned n, unsigned off, unsigned n_main)
{
	const unsigned which = off / RV_PAGE_SIZE, end = (which + 1) * RV_PAGE_SIZE;
	if (which > 1 || !page[which]) return n;
	for (unsigned m = n; m < n + JIT_TAIL_MAX && m < JIT_MAX_OPS && off < end; m++) {
		if (decoded(offs, m, off)) return n;
		uint32_t w = 0;
		memcpy(&w, page[which] + (off - which * RV_PAGE_SIZE), end - off < 4 ? 2 : 4);
		struct rv_op op;
		rv_decode_op(&op, w, off - which * RV_PAGE_SIZE, h->ext);
		const unsigned kind = rv_op_kind(&op);
		if (!translatable(kind) || kind == K_GENERIC || kind == K_JALR ||
		    (kind >= K_BEQ && kind <= K_BGEU) || off + rv_op_len(&op) > end)
			return n;
		ops[m] = op;
		offs[m] = off;
		lens[m] = rv_op_len(&op);
		off += lens[m];
		if (kind == K_JAL) {
			const int64_t to = (int64_t)offs[m] + op.imm;
			return op.rd % 32 == 0 && to >= 0 && to < (int64_t)RV_PAGE_SIZE &&
			               decoded(offs, n_main, (unsigned)to)
			           ? m + 1
			           : n;
		}
	}
	return n;
}

/* Conditional branches do not end a block: taken, they leave it by a side exit. */
static bool ends_block(unsigned kind)
{
	return kind == K_JAL || kind == K_JALR;
}

bool rv_jit_available(void)
{
	return true;
}

bool rv_jit_init(struct rv_hart *h)
{
	/* Translated code addresses the hart's TLB tables with absolute 32-bit displacements. */
	if ((uintptr_t)h + sizeof(*h) > INT32_MAX) return false;
	__builtin_cpu_init();
	jit_fp_init();
	jit_mem_init();
	if (!prologue_fits((uint32_t)(uintptr_t)h)) {
		log_error("translator: a block's prologue is not RV_JIT_ENTRY_OFFSET bytes long");
		return false;
	}
	struct rv_jit *j = calloc(1, sizeof(*j));
	if (!j) return false;
	const char *env = getenv("CLOISON_JIT_CACHE_MB");
	const int mb = env ? atoi(env) : 0;
	j->code_bytes = mb >= 1 && mb <= 1024 ? (size_t)mb << 20 : JIT_CODE_BYTES;
	j->buf = mmap(NULL, j->code_bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->buf == MAP_FAILED) {
		free(j);
		return false;
	}
	h->jit_hints = NULL; /* without memory below 2 GiB, no page hints */
#ifdef MAP_32BIT
	void *hints = mmap(NULL, sizeof(*h->jit_hints), PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (hints != MAP_FAILED && (uintptr_t)hints + sizeof(*h->jit_hints) <= INT32_MAX)
		h->jit_hints = hints;
	else if (hints != MAP_FAILED)
		munmap(hints, sizeof(*h->jit_hints));
#endif
	struct emit e = {.p = j->buf, .exit = j->buf, .hart = (uint32_t)(uintptr_t)h};
	emit_common_exit(&e);
	emit_thunks(&e, j->thunk);
	emit_mega_slots(&e, j->mega_slot);
	j->exit_bytes = j->used = (size_t)(e.p - j->buf + 15) & ~(size_t)15;
	h->jit = j;
	return true;
}

void rv_jit_free(struct rv_hart *h)
{
	struct rv_jit *j = h->jit;
	if (!j) return;
	munmap(j->buf, j->code_bytes);
	if (h->jit_hints) munmap(h->jit_hints, sizeof(*h->jit_hints));
	h->jit_hints = NULL;
	free(j->blocks);
	free(j->checked);
	free(j);
	h->jit = NULL;
}

/* Drops every block (the code buffer is full); slots find out lazily, jumps cached by address now.
 * The exit the dispatcher may still chain (the last block's, while it interprets on towards that
 * exit's target) lay in the dropped code: forgotten, or its patch would land in new code. */
static void jit_reset(struct rv_hart *h, struct rv_jit *j)
{
	rv_jcache_flush(h);
	h->jit_patch_site = NULL;
	if (h->jit_hints) memset(h->jit_hints, 0, sizeof(*h->jit_hints)); /* their records go with the code */
	j->used = j->exit_bytes;
	j->nblocks = j->nchecked = j->narmed = 0;
	memset(j->by_place, 0, sizeof(j->by_place));
}

/*
 * A block's entry (RV_JIT_ENTRY_OFFSET) is a jmp to the code that compares its instructions with
 * guest memory; once they match, a nop (armed) until the next fence.i turns every armed block's
 * back (rv_jit_new_epoch): blocks entered while no fence.i comes pay nothing for the check. The
 * check only lists its block (jit_checked); the nop is written from C before translated code next
 * runs (jit_arm), never into code the host CPU may be running (which costs it a pipeline flush:
 * boot, with its 40000 fence.i's, took 1.06x). Only the hart's thread runs or patches its cache.
 */
static const uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};

/* From a block's check: its code is unchanged. */
static void jit_checked(struct rv_hart *h, uint32_t index)
{
	struct rv_jit *j = h->jit;
	struct jit_block *b = &j->blocks[index];
	if (b->listed) return;              /* entered again before the next return to C */
	if (j->nchecked >= j->cap) abort(); /* a block is listed once between fence.i's: an engine bug */
	b->listed = true;
	j->checked[j->nchecked++] = index;
}

static void jit_arm(struct rv_jit *j)
{
	for (; j->narmed < j->nchecked; j->narmed++)
		memcpy(j->blocks[j->checked[j->narmed]].code + RV_JIT_ENTRY_OFFSET, nop5, sizeof(nop5));
}

void rv_jit_new_epoch(struct rv_hart *h)
{
	struct rv_jit *j = h->jit;
	if (!j) return;
	for (uint32_t i = 0; i < j->nchecked; i++) {
		struct jit_block *b = &j->blocks[j->checked[i]];
		if (i < j->narmed) {
			b->code[RV_JIT_ENTRY_OFFSET] = 0xe9;
			memcpy(b->code + RV_JIT_ENTRY_OFFSET + 1, &b->check_rel, 4);
		}
		b->listed = false;
	}
	j->nchecked = j->narmed = 0;
}

/*
 * With CLOISON_PERF_MAP set, each block is named in /tmp/perf-PID.map (the
 * format Linux perf reads for JIT code): `perf report` then shows the guest pc
 * of the blocks where time goes. A full code cache reuses addresses, so a
 * profile is clearest when it ends before the first flush (--stats counts).
 * Set to a directory (an absolute path), it also writes each block's code
 * there as guest_<pc>.bin, for `objdump -D -b binary -mi386:x86-64`.
 */
static FILE *perf_map;
static const char *perf_code_dir; /* CLOISON_PERF_MAP when it names a directory, or NULL */
static void perf_map_open(void)
{
	const char *env = getenv("CLOISON_PERF_MAP");
	if (!env) return;
	if (env[0] == '/') perf_code_dir = env;
	char name[64];
	snprintf(name, sizeof(name), "/tmp/perf-%d.map", (int)getpid());
	perf_map = fopen(name, "w");
}
static void perf_map_note(const uint8_t *code, size_t size, uint64_t pc)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, perf_map_open);
	if (!perf_map) return;
	fprintf(perf_map, "%" PRIxPTR " %zx guest_%" PRIx64 "\n", (uintptr_t)code, size, pc); /* FILE locks */
	fflush(perf_map);
	if (!perf_code_dir) return;
	char name[4096];
	snprintf(name, sizeof(name), "%s/guest_%" PRIx64 ".bin", perf_code_dir,
	         pc); /* the code itself, for objdump */
	FILE *f = fopen(name, "w");
	if (!f) return;
	fwrite(code, 1, size, f);
	fclose(f);
}

/* The guest registers an instruction reads and writes (bit per register; x0 never). */
void op_regs(const struct rv_op *op, unsigned kind, uint32_t *reads, uint32_t *writes)
{
	uint32_t r1 = 1u << (op->rs1 & 31), r2 = 1u << (op->rs2 & 31), w = op->rd < 32 ? 1u << op->rd : 0;
	switch ((enum op_kind)kind) {
	case K_LUI:
	case K_AUIPC:
	case K_JAL: *reads = 0, *writes = w; break;
	case K_BEQ:
	case K_BNE:
	case K_BLT:
	case K_BGE:
	case K_BLTU:
	case K_BGEU:
	case K_SB:
	case K_SH:
	case K_SW:
	case K_SD: *reads = r1 | r2, *writes = 0; break;
	case K_JALR:
	case K_LB:
	case K_LH:
	case K_LW:
	case K_LD:
	case K_LBU:
	case K_LHU:
	case K_LWU:
	case K_ADDI:
	case K_SLTI:
	case K_SLTIU:
	case K_XORI:
	case K_ORI:
	case K_ANDI:
	case K_SLLI:
	case K_SRLI:
	case K_SRAI:
	case K_ADDIW:
	case K_SLLIW:
	case K_SRLIW:
	case K_SRAIW: *reads = r1, *writes = w; break;
	case K_ZB: *reads = r1 | (op->imm & RV_ZB_IMM_FORM ? 0 : r2), *writes = w; break;
	case K_GENERIC: /* works on the hart, except FP loads and stores (their address) and translated FP */
		if (fp_mem_kind((uint32_t)op->imm) >= 0)
			*reads = 1u << RS1((uint32_t)op->imm), *writes = 0;
		else if (!misc_inline_regs((uint32_t)op->imm, reads, writes) &&
		         !vec_inline_regs((uint32_t)op->imm, reads, writes))
			fp_inline_regs((uint32_t)op->imm, reads, writes);
		break;
	case K_DECODE:
	case K_SLOW:
	case K_COUNT: *reads = *writes = 0; break;
	default: *reads = r1 | r2, *writes = w; break; /* register-register */
	}
	*reads &= ~1u;
	*writes &= ~1u;
}

_Static_assert(JIT_PROBE_MAX_OPS >= JIT_MAX_OPS, "a probe plan covers a block");

/* The block's control flow (block_ctx.succ) and its loops. */
static void find_loops(struct block_ctx *c, const struct rv_op *ops, unsigned n, unsigned n_main)
{
	for (unsigned i = 0; i < n; i++) {
		const unsigned kind = rv_op_kind(&ops[i]);
		uint8_t m = 0;
		if (kind != K_JAL && kind != K_JALR && i + 1 < n && i + 1 != n_main)
			c->succ[i][m++] = (uint8_t)(i + 1);
		if (kind != K_JALR && c->target[i] >= 0 && (m == 0 || c->target[i] != c->succ[i][0]))
			c->succ[i][m++] = (uint8_t)c->target[i];
		c->nsucc[i] = m;
	}
	jit_find_loops(&c->loops, n, (const uint8_t(*)[2])c->succ, c->nsucc);
}

/* How many of the block's loops hold the edge u -> v (both its ends). */
static unsigned edge_depth(const struct block_ctx *c, unsigned u, unsigned v)
{
	unsigned d = 0;
	for (unsigned l = 0; l < c->loops.n; l++)
		d += jit_set_has(&c->loops.body[l], u) && jit_set_has(&c->loops.body[l], v);
	return d;
}

/* Whether a branch back from i to t leaves a loop that the path falling through stays in (a
 * search loop's way back to the loop around it on a mismatch): taken seldom, so it is the branch
 * to jump, and the path on to pay no taken jump. */
static bool leaves_inner_loop(const struct block_ctx *c, int i, int t)
{
	return i + 1 < (int)c->n &&
	       edge_depth(c, (unsigned)i, (unsigned)i + 1) > edge_depth(c, (unsigned)i, (unsigned)t);
}

/* Whether the path falling into t lies in more loops than the branch or jump `from` to t, as at a
 * loop entered past its first instructions (the jump in comes from outside): that path, taken more
 * often, is the one to pay nothing. Not where a loop's way out falls into what a branch that
 * leaves it early also reaches (a range of jumps back would say otherwise). */
static bool falls_through_in_loop(const struct block_ctx *c, const struct rv_op *ops, unsigned t, int from)
{
	const unsigned before = rv_op_kind(&ops[t - 1]);
	if (before == K_JAL || before == K_JALR) return false;
	return edge_depth(c, t - 1, t) > edge_depth(c, (unsigned)from, t);
}

/*
 * The budget (rbx) is charged ahead: a block's entry charges its n instructions, and as instruction i
 * starts c->owed[i] of that has not run yet, so that an exit there gives owed[i] back and a helper
 * reports what ran (sync_pc). Along a path owed falls by one an instruction. A branch or jump forward
 * to t arrives owing what it owed after itself: t owes what the nearest conditional branch to it
 * (else the nearest jump) brings, so that edge costs nothing; the path falling into t pays the
 * difference with one lea (on that path only), other branches to t with one before the branch and
 * one after it where it is not taken. A loop's pass charges what its branch back owes less than the
 * loop's first instruction (loop_back).
 */
static void plan_budget(struct block_ctx *c, const struct rv_op *ops, unsigned n)
{
	c->owed[0] = (int8_t)n;
	for (unsigned t = 1; t < n; t++) {
		int from = -1;
		for (int i = (int)t - 1; i >= 0 && from < 0; i--)
			if (c->target[i] == (int)t && rv_op_kind(&ops[i]) != K_JAL) from = i;
		for (int i = (int)t - 1; i >= 0 && from < 0; i--)
			if (c->target[i] == (int)t) from = i;
		if (from >= 0 && falls_through_in_loop(c, ops, t, from)) from = -1;
		c->owed[t] = (int8_t)(c->owed[from >= 0 ? from : (int)t - 1] - 1);
	}
}

/* Which accesses of the block share a TLB probe (jit_probe.h); runs (mem_group) probe on their own.
 * What is known stops at `reset` (jumps back, a straddler's check). */
static void plan_probes(struct block_ctx *c, const struct rv_op *ops, unsigned n, const bool *jumped_to,
                        const bool *reset)
{
	uint8_t size[JIT_MAX_OPS];
	bool store[JIT_MAX_OPS], skip[JIT_MAX_OPS] = {false};
	uint32_t writes[JIT_MAX_OPS], reads;
	for (unsigned i = 0; i < n; i++) {
		unsigned kind = rv_op_kind(&ops[i]);
		op_regs(&ops[i], kind, &reads, &writes[i]);
		size[i] = (uint8_t)access_size(kind);
		store[i] = is_store(kind);
	}
	for (unsigned i = 0; i < n; i++) {
		int32_t lo, hi;
		unsigned m = mem_group(ops, jumped_to, i, n, &lo, &hi);
		for (unsigned j = 0; m > 1 && j < m; j++) skip[i + j] = true;
		i += m - 1;
	}
	jit_plan_probes(&c->probes, ops, n, size, store, writes, c->target, reset, skip);
}

/* Instructions that only compute registers: no memory, no jump, no call, nothing that may raise. */
static bool register_only(unsigned kind)
{
	return kind == K_LUI || kind == K_AUIPC || (kind >= K_ADDI && kind <= K_AND) || kind == K_MUL ||
	       (kind >= K_ADDW && kind <= K_SRAW) || kind == K_MULW;
}

/* Whether instruction code of this kind leaves block_ctx.upper_zero right: its writes to guest
 * registers go through written(), and any call in it puts host registers back as they were. */
static bool keeps_upper_zero(unsigned kind)
{
	return register_only(kind) || (kind >= K_BEQ && kind <= K_SD);
}

/*
 * The zero-extensions to translate as one (block_ctx.zext_rs): an slli rd, rs, 32 and, at most
 * ZEXT_REACH instructions on, an srli by 29-63 of rd, with only register operations between that
 * neither read rd nor write rd or rs, and no jump leading in (gcc interleaves two such pairs). The
 * slli vanishes when its srli overwrites rd (no exit or trap can see rd in between); else it stays
 * and rs must differ from rd.
 */
#define ZEXT_REACH 6
static void plan_zext(struct block_ctx *c, const struct rv_op *ops, unsigned n, unsigned n_main,
                      const bool *jumped_to)
{
	memset(c->zext_rs, -1, sizeof(c->zext_rs));
	memset(c->zext_gone, 0, sizeof(c->zext_gone));
	for (unsigned i = 0; i < n; i++) {
		const struct rv_op *s = &ops[i];
		if (rv_op_kind(s) != K_SLLI || s->imm != 32 || s->rd % 32 == 0) continue;
		const unsigned rd = s->rd, rs = s->rs1, end = i < n_main ? n_main : n;
		for (unsigned j = i + 1; j < end && j <= i + ZEXT_REACH && !jumped_to[j]; j++) {
			const struct rv_op *o = &ops[j];
			const unsigned kind = rv_op_kind(o);
			if (kind == K_SRLI && o->rs1 == rd && (o->imm & 63) >= 29 &&
			    (o->rd == rd || rs != rd)) {
				c->zext_rs[j] = (int8_t)rs;
				c->zext_gone[i] = o->rd == rd;
				break;
			}
			uint32_t reads, writes;
			op_regs(o, kind, &reads, &writes);
			if (!register_only(kind) || (reads & 1u << rd) || (writes & (1u << rd | 1u << rs)))
				break;
		}
	}
}

/*
 * The rotates to translate as one (block_ctx.rot_src): an or of a left and a right shift of one
 * register x by complementary constants (slliw by n and srliw by 32 - n, or slli by n and srli by
 * 64 - n), each shift at most ROT_REACH instructions before the or with only register operations
 * between (no jump leading in) that neither read the shift's result nor write x, and each result
 * written again, by the or or a register operation after it, before anything reads it, leaves,
 * calls or may fault: no one sees the shifts, which vanish, and the or is a rotate of x.
 */
#define ROT_REACH 8
static bool rotate_halves(const struct rv_op *l, const struct rv_op *r)
{
	const unsigned kl = rv_op_kind(l), kr = rv_op_kind(r), n = (unsigned)l->imm, m = (unsigned)r->imm;
	if (l->rs1 != r->rs1 || !l->rs1 || l->rd == l->rs1 || r->rd == r->rs1 || l->rd == r->rd) return false;
	if (kl == K_SLLIW && kr == K_SRLIW) return (n & 31) && n < 32 && m == 32 - n;
	return kl == K_SLLI && kr == K_SRLI && (n & 63) && n < 64 && m == 64 - n;
}
static bool dead_after(const struct rv_op *ops, unsigned from, unsigned end, unsigned reg)
{
	for (unsigned m = from; m < end && m < from + 2 * ROT_REACH; m++) {
		const unsigned kind = rv_op_kind(&ops[m]);
		uint32_t reads, writes;
		op_regs(&ops[m], kind, &reads, &writes);
		if (!register_only(kind) || (reads & 1u << reg)) return false;
		if (writes & 1u << reg) return true;
	}
	return false;
}
/* Whether an instruction of `kind` is an integer load. */
static bool is_int_load(unsigned kind)
{
	return access_size(kind) && !is_store(kind);
}

/*
 * The compare pairs of a U-mode block's main path (block_ctx.pair): ops[i..i+3] a load of x, a bne
 * of x and r1, a load of y through the same base (not x) in the same probe group, a bne of y and r2,
 * both branches to one pc; none of the four after i jumped to, x and y in host registers, r1 neither
 * x nor y, r2 not y, neither x0.
 */
static void plan_pairs(struct block_ctx *c, const struct rv_op *ops, unsigned n_main, const bool *jumped_to,
                       const unsigned *offs)
{
	memset(c->pair, 0, sizeof(c->pair));
	if (!c->user) return;
	for (unsigned i = 0; i + 3 < n_main; i++) {
		const struct rv_op *l1 = &ops[i], *b1 = &ops[i + 1], *l2 = &ops[i + 2], *b2 = &ops[i + 3];
		if (!is_int_load(rv_op_kind(l1)) || rv_op_kind(b1) != K_BNE || !is_int_load(rv_op_kind(l2)) ||
		    rv_op_kind(b2) != K_BNE || jumped_to[i + 1] || jumped_to[i + 2] || jumped_to[i + 3])
			continue;
		if ((int64_t)offs[i + 1] + b1->imm != (int64_t)offs[i + 3] + b2->imm)
			continue; /* one target */
		const unsigned x = l1->rd, y = l2->rd, b = l1->rs1;
		if (x == 0 || x >= 32 || y == 0 || y >= 32 || x == y || x == b || l2->rs1 != b || b == 0)
			continue;
		if ((b1->rs1 == x) == (b1->rs2 == x) || (b2->rs1 == y) == (b2->rs2 == y)) continue;
		const unsigned r1 = b1->rs1 == x ? b1->rs2 : b1->rs1, r2 = b2->rs1 == y ? b2->rs2 : b2->rs1;
		if (r1 == 0 || r1 == y || r2 == 0 || c->host[x] < 0 || c->host[y] < 0) continue;
		const int g = c->probes.group[i];
		if (g < 0 || c->probes.group[i + 2] != g || c->probes.first[i + 2]) continue;
		c->pair[i] = true;
		i += 3;
	}
}

static void plan_rotate(struct block_ctx *c, const struct rv_op *ops, unsigned n, unsigned n_main,
                        const bool *jumped_to)
{
	memset(c->rot_src, -1, sizeof(c->rot_src));
	memset(c->rot_gone, 0, sizeof(c->rot_gone));
	for (unsigned i = 1; i < n; i++) {
		const struct rv_op *o = &ops[i];
		if (rv_op_kind(o) != K_OR || !o->rs1 || !o->rs2 || o->rs1 == o->rs2 || !o->rd) continue;
		const unsigned start = i < n_main ? 0 : n_main, end = i < n_main ? n_main : n;
		int def1 = -1, def2 = -1; /* the writers of rs1 and rs2 */
		uint32_t written = 0;     /* registers written between them and the or */
		for (int j = (int)i - 1; j >= (int)start && j + ROT_REACH >= (int)i && !jumped_to[j + 1];
		     j--) {
			const unsigned kind = rv_op_kind(&ops[j]);
			uint32_t reads, writes;
			op_regs(&ops[j], kind, &reads, &writes);
			if (!register_only(kind)) break;
			if (def1 < 0 && (writes & 1u << o->rs1))
				def1 = j;
			else if (def2 < 0 && (writes & 1u << o->rs2))
				def2 = j;
			else if (reads & ((def1 < 0 ? 1u << o->rs1 : 0) | (def2 < 0 ? 1u << o->rs2 : 0)))
				break; /* a shift's result read before the or */
			if (def1 >= 0 && def2 >= 0) break;
			written |= writes;
		}
		if (def1 < 0 || def2 < 0) continue;
		const struct rv_op *l = &ops[def1], *r = &ops[def2];
		if (!rotate_halves(l, r)) {
			const struct rv_op *t = l;
			l = r, r = t;
			if (!rotate_halves(l, r)) continue;
		}
		const unsigned x = l->rs1;
		if (written & 1u << x) continue; /* x changed between a shift and the or */
		if ((l->rd != o->rd && !dead_after(ops, i + 1, end, l->rd)) ||
		    (r->rd != o->rd && !dead_after(ops, i + 1, end, r->rd)))
			continue;
		const bool w = rv_op_kind(l) == K_SLLIW;
		c->rot_src[i] = (int8_t)x;
		c->rot_ror[i] = (uint8_t)((unsigned)r->imm | (w ? ROT_W : 0));
		c->rot_gone[def1] = c->rot_gone[def2] = true;
	}
}

/*
 * Which W instructions' results need their sign extension: those whose upper
 * 32 bits something may read before the register is written again. Going
 * back from the block's end (where every register is read), an instruction
 * whose result's low half depends only on its operands' low halves (W
 * instructions, add, sub, logic, left shifts, mul) passes the demand for the
 * upper bits of its result on to its operands, and W instructions stop it;
 * anything else that reads or may leave, call or fault asks for every
 * register whole. sext[i] says whether the result of instruction i is read whole.
 */
static void upper_read(const struct rv_op *ops, unsigned n, bool *sext)
{
	uint32_t demand = ~0u; /* registers whose upper halves a later instruction may read */
	for (int i = (int)n - 1; i >= 0; i--) {
		const struct rv_op *op = &ops[i];
		const uint32_t rd = op->rd < 32 ? 1u << op->rd : 0, r1 = 1u << (op->rs1 & 31),
		               r2 = 1u << (op->rs2 & 31);
		const bool hi = (demand & rd) != 0;
		sext[i] = hi;
		switch ((enum op_kind)rv_op_kind(op)) {
		case K_LUI:
		case K_AUIPC: demand &= ~rd; break;
		case K_ADDIW:
		case K_SLLIW:
		case K_SRLIW:
		case K_SRAIW:
		case K_ADDW:
		case K_SUBW:
		case K_SLLW:
		case K_SRLW:
		case K_SRAW:
		case K_MULW: demand &= ~rd; break; /* they read their operands' low halves */
		case K_ADDI:
		case K_XORI:
		case K_ORI:
		case K_ANDI: demand = (demand & ~rd) | (hi ? r1 : 0); break;
		case K_SLLI: demand = (demand & ~rd) | (hi && (op->imm & 63) < 32 ? r1 : 0); break;
		case K_SLL: demand = (demand & ~rd) | (hi ? r1 : 0); break; /* the count: 6 low bits */
		case K_ADD:
		case K_SUB:
		case K_AND:
		case K_OR:
		case K_XOR:
		case K_MUL: demand = (demand & ~rd) | (hi ? r1 | r2 : 0); break;
		case K_SRLI:
		case K_SRAI:
		case K_SLTI:
		case K_SLTIU: demand = (demand & ~rd) | r1; break;
		case K_SRL:
		case K_SRA: demand = (demand & ~rd) | r1; break;
		case K_SLT:
		case K_SLTU: demand = (demand & ~rd) | r1 | r2; break;
		default: /* reads whole, or leaves, calls or faults: the hart must be exact there */
			sext[i] = true;
			demand = ~0u;
			break;
		}
	}
}

/*
 * What the code just emitted left in host registers and flags (a register just stored from, a
 * branch's or an operation's flags, a budget lea to merge with) holds on the main path only: a
 * slow path coming back right here (a load pair's miss, which probes each load alone through rcx
 * and rax) arrives with other values there, so the next instruction must not count on them. (Not
 * scaled_rs: a shift left to the add after it is owed, not a choice.)
 */
static void forget_at_rejoin(struct block_ctx *c)
{
	if (!c->nslow || c->slow[c->nslow - 1].done != c->e.p) return;
	c->stored_at = c->flags_at = c->lea_at = c->zero_at = NULL;
}

uint32_t rv_jit_compile(struct rv_hart *h, const struct rv_op *head, const uint8_t *host, uint64_t pc)
{
	struct rv_jit *j = h->jit;
	if (!j) return RV_JIT_NEVER;
	if (j->used + JIT_MAX_BLOCK_BYTES > j->code_bytes) {
		jit_reset(h, j);
		h->stats.code_flushes++;
	}
	/* Memory for the code ahead, a MiB at a time: one call instead of a page fault per page
	 * (expensive where cloison itself runs virtualized). */
	if (j->used + JIT_MAX_BLOCK_BYTES > j->populated) {
		size_t chunk = (size_t)1 << 20;
		if (j->populated + chunk > j->code_bytes) chunk = j->code_bytes - j->populated;
		mem_populate(j->buf + j->populated, chunk);
		j->populated += chunk;
	}
	if (j->nblocks == j->cap) {
		uint32_t cap = j->cap ? j->cap * 2 : 4096;
		struct jit_block *nb = realloc(j->blocks, cap * sizeof(*nb));
		if (!nb) return RV_JIT_NEVER;
		j->blocks = nb;
		uint32_t *nc = realloc(j->checked, cap * sizeof(*nc));
		if (!nc) return RV_JIT_NEVER;
		j->checked = nc;
		j->cap = cap;
	}

	/* Decode the run first: validation code and register allocation need every instruction. */
	struct rv_op ops[JIT_MAX_OPS];
	unsigned lens[JIT_MAX_OPS], offs[JIT_MAX_OPS], n = 0;
	unsigned off = (unsigned)(pc & (RV_PAGE_SIZE - 1));
	bool straddles = false; /* the last instruction runs onto the next page (U-mode: see below) */
	int64_t reach = 0;      /* the furthest offset a branch or jump decoded so far leads to */
	while (n < JIT_LOOP_OPS && off < RV_PAGE_SIZE) {
		uint32_t w = 0; /* the page's last halfword alone if that is all there is */
		memcpy(&w, host + (off - (pc & (RV_PAGE_SIZE - 1))), RV_PAGE_SIZE - off < 4 ? 2 : 4);
		if (off == RV_PAGE_SIZE - 2 && (w & 3) == 3) {
			uint16_t upper;
			if (!straddler_upper(h, (pc & RV_PAGE_MASK) + RV_PAGE_SIZE, &upper)) break;
			w |= (uint32_t)upper << 16;
			straddles = true;
		}
		struct rv_op op;
		rv_decode_op(&op, w, straddles ? 0 : off, h->ext);
		unsigned kind = rv_op_kind(&op);
		if (!translatable(kind) && !(kind == K_GENERIC && rv_jit_generic_ok((uint32_t)op.imm))) {
			straddles = false;
			break;
		}
		ops[n] = op;
		offs[n] = off;
		lens[n] = rv_op_len(&op);
		off += lens[n];
		n++;
		/* The block ends at a jal or jalr that nothing decoded before leads past (below): no
		 * need to decode further. */
		if (kind == K_JAL || (kind >= K_BEQ && kind <= K_BGEU))
			if ((int64_t)offs[n - 1] + op.imm > reach) reach = (int64_t)offs[n - 1] + op.imm;
		if (ends_block(kind) && reach <= (int64_t)offs[n - 1]) break;
	}
	if (n == 0) return RV_JIT_NEVER;

	struct block_ctx ctx, *c = &ctx; /* its slow paths (77 KiB) not zeroed: see block_ctx.slow */
	memset(c, 0, offsetof(struct block_ctx, slow));
	c->e = (struct emit){.p = j->buf + j->used, .exit = j->buf, .hart = (uint32_t)(uintptr_t)h};
	c->thunk = j->thunk;
	c->mega_slot = j->mega_slot;
	c->count_tlb = h->count_tlb;
	c->user = user_mode(h);
	c->zicboz = RV_HAS(h->ext, ZICBOZ);
	c->vlenb = RV_HAS(h->ext, V) ? h->vlenb : 0;
	c->vtype = -1;
	c->page = pc & RV_PAGE_MASK;
	/* Jumps and branches to an instruction of the block stay in it. */
	bool back_to[JIT_MAX_OPS];
	find_targets(c, ops, offs, n, back_to);
	/* The block goes on past a jump only while a jump in it leads further. */
	for (int i = 0, furthest = 0; i < (int)n; i++) {
		if (c->target[i] > furthest && (c->target[i] < JIT_MAIN_OPS || i >= JIT_MAIN_OPS))
			furthest = c->target[i];
		if (ends_block(rv_op_kind(&ops[i])) && furthest <= i) {
			straddles = straddles && i == (int)n - 1;
			n = (unsigned)i + 1;
			break;
		}
	}
	/* Past JIT_MAIN_OPS only up to the last jump back to before that point (a loop's body). */
	if (n > JIT_MAIN_OPS) {
		unsigned end = JIT_MAIN_OPS;
		for (unsigned i = JIT_MAIN_OPS; i < n; i++)
			if (c->target[i] >= 0 && c->target[i] < JIT_MAIN_OPS) end = i + 1;
		if (end < n) straddles = false;
		n = end;
		find_targets(c, ops, offs, n, back_to);
	}
	/* Then the tails its branches lead to, after its main path. */
	const unsigned n_main = n;
	uintptr_t next_addend = 0;
	const uint8_t *pages[2] = {host - (pc & (RV_PAGE_SIZE - 1)),
	                           next_page_code(h, c->page + RV_PAGE_SIZE, &next_addend)};
	bool next_page_at[JIT_MAX_OPS] = {false};
	for (unsigned i = 0; i < n_main; i++) {
		const unsigned kind = rv_op_kind(&ops[i]);
		const int64_t to = (int64_t)offs[i] + ops[i].imm;
		if (kind >= K_BEQ && kind <= K_BGEU && c->target[i] < 0 && to >= 0 &&
		    to < (int64_t)(2 * RV_PAGE_SIZE))
			n = take_tail(h, pages, ops, lens, offs, n, (unsigned)to, n_main);
	}
	for (unsigned i = n_main; i < n; i++) /* a tail on the next page: its mapping checked first */
		if (offs[i] >= RV_PAGE_SIZE &&
		    (i == n_main || offs[i - 1] < RV_PAGE_SIZE || offs[i - 1] + lens[i - 1] != offs[i]))
			next_page_at[i] = true;
	const bool inner_jumps = find_targets(c, ops, offs, n, back_to);

	struct emit *e = &c->e;
	uint8_t *code = e->p;
	emit_prologue(e);
	e8(e, 0xe9); /* jmp check, a nop while armed (jit_arm) */
	uint8_t *check_fix = e->p;
	e32(e, 0);
	uint8_t *body = e->p;
	/* Charge the budget for the whole block (side exits give back what they skip). */
	budget_add(e, -(int)n);
	/* With jumps inside the block, a register's host register must hold its value on every path:
	 * all are loaded. After a jump back, what the last pass wrote may be only in host registers. */
	uint32_t written_anywhere, live_in = allocate(c, ops, n, &written_anywhere);
	borrow_pinned(c);
	load_local(c, inner_jumps ? c->local : live_in);
	for (unsigned i = 0; i < n; i++) c->in_dirty[i] = back_to[i] ? written_anywhere : 0;
	c->start = pc;
	c->n = n;
	upper_read(ops, n_main, c->sext); /* the main path's end leaves: the tails do not follow it */
	upper_read(ops + n_main, n - n_main, c->sext + n_main);
	c->dirty = 0;

	struct side_exit side[2 * JIT_MAX_OPS]; /* a branch's or generic instruction's, two per tail check */
	unsigned nside = 0;
	bool open = true, jumped_to[JIT_MAX_OPS] = {false};
	for (unsigned i = 0; i < n; i++)
		if (c->target[i] >= 0) jumped_to[c->target[i]] = true;
	bool reset[JIT_MAX_OPS]; /* where the probe plan forgets: jumps back, a straddler's check */
	memcpy(reset, back_to, n * sizeof(reset[0]));
	if (straddles) jumped_to[n_main - 1] = reset[n_main - 1] = true; /* no group or pair runs into it */
	plan_probes(c, ops, n, jumped_to, reset);
	find_loops(c, ops, n, n_main);
	if (c->user) plan_hints(c, ops, n);
	plan_zext(c, ops, n, n_main, jumped_to);
	plan_rotate(c, ops, n, n_main, jumped_to);
	plan_pairs(c, ops, n_main, jumped_to, offs);
	c->scaled_rs = -1;
	c->stored_at = c->flags_at = c->lea_at = c->zero_at = NULL;
	plan_budget(c, ops, n);
	c->upper_zero = 0;
	for (unsigned i = 0; i < n; i++) {
		if (open && i &&
		    c->owed[i] != c->owed[i - 1] - 1) { /* falling into a label that owes otherwise */
			int give = c->owed[i - 1] - 1 - c->owed[i];
			/* The branch before's charge back, on this path too. */
			if (c->lea_at == e->p) {
				e->p -= BUDGET_LEA_LEN;
				give += c->lea_imm;
			}
			if (give) budget_lea(e, give);
		}
		c->label[i] = e->p;
		if (!open) c->dirty = 0; /* after a jump: reached only by jumps */
		c->dirty |= c->in_dirty[i];
		if (jumped_to[i]) {
			c->scaled_rs = -1;
			fp_forget(c);
		}
		if (jumped_to[i] || !open) c->stored_at = c->flags_at = c->lea_at = c->zero_at = NULL;
		if (jumped_to[i] || !open || !keeps_upper_zero(rv_op_kind(&ops[i]))) c->upper_zero = 0;
		c->next = i + 1 < n && !jumped_to[i + 1] ? &ops[i + 1] : NULL;
		if (straddles && i == n_main - 1) emit_straddle_check(c, ops[i].raw, c->page + RV_PAGE_SIZE);
		if (next_page_at[i]) emit_next_page_check(c, next_addend, c->page + offs[i], i, side, &nside);
		c->scaled_set = false;
		int32_t lo, hi;
		unsigned m = mem_group(ops, jumped_to, i, n, &lo, &hi);
		if (m > 1) {
			emit_mem_group(c, &ops[i], &lens[i], m, lo, hi, c->page + offs[i], (int)i - (int)n);
			for (unsigned g = 1; g < m; g++)
				c->label[++i] = e->p; /* not a jump target (mem_group) */
			c->scaled_rs = -1;
			open = true;
		} else {
			open = emit_op(c, &ops[i], rv_op_kind(&ops[i]), c->page + offs[i], lens[i],
			               (int)i - (int)n, side, &nside);
			if (!c->scaled_set) c->scaled_rs = -1;
			if (c->pair[i]) { /* the pair's branches as one, I4's bne next with its flags */
				forget_at_rejoin(c);
				emit_compare_pair(c, &ops[i], c->page + offs[i + 1], (int)i - (int)n, side,
				                  &nside);
				c->label[i + 1] = c->label[i + 2] = e->p; /* not jump targets (plan_pairs) */
				c->scaled_rs = -1;
				i += 2;
			}
		}
		forget_at_rejoin(c);
		if (i == n_main - 1 && open) { /* the main path's end: the tails are not run */
			exit_to(c, c->page + offs[i] + lens[i], c->dirty, -1, c->owed[i] - 1);
			open = false;
		}
	}
	for (unsigned i = 0; i < c->nfwd; i++) {
		uint32_t rel = (uint32_t)(c->label[c->fwd[i].to] - (c->fwd[i].fix + 4));
		memcpy(c->fwd[i].fix, &rel, 4);
	}
	c->out_of_line = true;
	for (unsigned i = 0; i < c->nslow; i++) emit_slow_path(c, &c->slow[i]);
	for (unsigned i = 0; i < nside; i++) {
		patch_to_here(e, side[i].fix);
		if (side[i].inside >= 0) { /* a loop's branch back, the budget spent */
			if (side[i].back_out) loop_back(c, side[i].inside, side[i].refund);
			exit_spent(c, side[i].target, side[i].dirty, side[i].inside);
			continue;
		}
		if (side[i].target) {
			exit_to(c, side[i].target, side[i].dirty, -1, side[i].refund);
		} else {
			if (side[i].refund) budget_add(e, side[i].refund);
			unborrow_pinned(c);
			op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, pc), true);
			epilogue(e);
		}
	}
	if (straddles) emit_straddle_bail(c, c->page + offs[n_main - 1], c->owed[n_main - 1]);
	/* First entry after a fence.i: compare every instruction with guest memory (a straddling
	 * one's lower half: its upper half is compared as it runs). */
	patch_to_here(e, check_fix);
	mov_imm64(e, RSI, (uint64_t)(uintptr_t)pages[0]);
	/* rdi: the next page's code as of translation, less a page (its tails' offsets run on) */
	if (pages[1]) mov_imm64(e, RDI, (uint64_t)(uintptr_t)pages[1] - RV_PAGE_SIZE);
	uint8_t *bail_fix[JIT_MAX_OPS];
	for (unsigned i = 0; i < n; i++) {
		const uint8_t base = offs[i] >= RV_PAGE_SIZE ? 0xbf : 0xbe; /* [rdi + off] or [rsi + off] */
		if (lens[i] == 4 && offs[i] != RV_PAGE_SIZE - 2) {
			e8(e, 0x81);
			e8(e, base);
			e32(e, offs[i]);
			e32(e, ops[i].raw);
		} else {
			EB(e, "\x66\x81");
			e8(e, base);
			e32(e, offs[i]);
			uint16_t r16 = (uint16_t)ops[i].raw;
			memcpy(e->p, &r16, 2);
			e->p += 2;
		}
		EB(e, "\x0f\x85"); /* jne bail */
		bail_fix[i] = e->p;
		e32(e, 0);
	}
	/* Unchanged: the entry skips the check until the next fence.i. */
	pinned_store_volatile(e, true);
	e8(e, 0xbf); /* mov edi, hart */
	e32(e, e->hart);
	e8(e, 0xbe); /* mov esi, the block's index */
	e32(e, j->nblocks);
	call_abs(e, jit_checked);
	pinned_load_volatile(e, true);
	e8(e, 0xe9); /* jmp body */
	e32(e, (uint32_t)(int32_t)(body - (e->p + 4)));
	uint8_t *bail = e->p; /* the code changed: hand back this block's pc, marked, uncharged */
	return_pc(e, pc | 1);
	for (unsigned i = 0; i < n; i++) {
		uint32_t rel = (uint32_t)(bail - (bail_fix[i] + 4));
		memcpy(bail_fix[i], &rel, 4);
	}
	j->used = (size_t)(e->p - j->buf + 15) & ~(size_t)15;

	struct jit_block *b = &j->blocks[j->nblocks];
	b->head = head;
	b->pc = pc | c->user;
	b->code = code;
	memcpy(&b->check_rel, check_fix, 4);
	b->listed = false;
	jit_checked(h, j->nblocks); /* translated from the code as it is */
	h->stats.blocks++;
	h->stats.code_bytes += (uint64_t)(e->p - code);
	perf_map_note(code, (size_t)(e->p - code), pc);
	uint32_t id = RV_JIT_FIRST_BLOCK + j->nblocks++;
	j->by_place[place_hash(head, pc)] = id;
	return id;
}

static bool block_is(const struct rv_jit *j, uint32_t id, const struct rv_op *head, uint64_t pc)
{
	uint32_t i = id - RV_JIT_FIRST_BLOCK;
	return id >= RV_JIT_FIRST_BLOCK && i < j->nblocks && j->blocks[i].head == head &&
	       j->blocks[i].pc == pc;
}

void *rv_jit_lookup(struct rv_hart *h, uint32_t *id, const struct rv_op *head, uint64_t pc)
{
	struct rv_jit *j = h->jit;
	if (!j) return NULL;
	if (j->narmed < j->nchecked) jit_arm(j);
	const uint64_t key = pc | user_mode(h); /* as jit_block.pc holds it */
	if (!block_is(j, *id, head, key)) {
		uint32_t other = j->by_place[place_hash(head, pc)];
		if (!block_is(j, other, head, key)) return NULL;
		*id = other;
	}
	return j->blocks[*id - RV_JIT_FIRST_BLOCK].code;
}
