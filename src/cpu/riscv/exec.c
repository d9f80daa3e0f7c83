/*
 * exec.c — the interpreter: fetch, decode and execute RV64IMAC + Zicsr +
 * Zifencei and the system instructions; F/D computation goes to fpu.c.
 *
 * Hot path design: instructions are fetched through a cached host pointer for
 * the current code page, compressed ones are expanded by table lookup, and
 * loads/stores hit a per-privilege software TLB inline. Exceptions unwind with
 * longjmp to the run loop, so the fast path carries no error checks. Interrupts
 * are polled between blocks of instructions, not per instruction: any
 * instruction that may change interrupt state ends the block early.
 *
 * This file must never touch devices: everything outside the hart goes
 * through the bus in mmu.c.
 */
#include "bitmanip.h"
#include "decode.h"
#include "internal.h"
#include "isa.h"
#include "jit.h"
#include "ops.h"
#include "util/populate.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#define sext32 rv_sext32

/* Result of executing one instruction that leaves the fast loop. */
enum block_exit { EXIT_NONE, EXIT_IRQ_CHECK, EXIT_WFI };

static enum block_exit exec_system(struct rv_hart *h, uint32_t insn, uint64_t pc, unsigned len);
static void exec_amo(struct rv_hart *h, uint32_t insn);

static _Noreturn void illegal(struct rv_hart *h, uint32_t insn)
{
	rv_raise(h, RV_EXC_ILLEGAL, insn);
}

/* The bit-manipulation and conditional-zero instructions of the integer opcodes (bitmanip.c). */
static void exec_bitmanip(struct rv_hart *h, uint32_t insn, uint32_t raw)
{
	uint64_t v;
	if (!rv_bitmanip(h->ext, insn, h->x[RS1(insn)], h->x[RS2(insn)], &v)) illegal(h, raw);
	h->x[RD(insn)] = v;
}

/* FP loads and stores: halves with Zfhmin (or Zfh), singles and doubles. */
static bool fp_width_ok(const struct rv_hart *h, unsigned f3)
{
	return f3 == 2 || f3 == 3 || (f3 == 1 && (RV_HAS(h->ext, ZFHMIN) || RV_HAS(h->ext, ZFH)));
}

/* Whether the cache-block instructions an envcfg field enables may run at the current privilege: M
 * always, S when menvcfg enables them, U when senvcfg does too. */
static bool cbo_enabled(const struct rv_hart *h, uint64_t field)
{
	if (h->priv < RV_PRIV_M && !(h->menvcfg & field)) return false;
	if (h->priv < RV_PRIV_S && !(h->senvcfg & field)) return false;
	return true;
}

/* Zicbom and Zicboz. Memory is coherent with every device here, so cbo.clean, cbo.flush and
 * cbo.inval have nothing to write back: they only check access; cbo.zero zeroes the block. */
static void exec_cbo(struct rv_hart *h, uint32_t insn, uint32_t raw)
{
	uint64_t va = h->x[RS1(insn)];
	if (RD(insn) != 0) illegal(h, raw);
	switch (insn >> 20) {
	case 0: /* cbo.inval (as a flush or an invalidate: the same here) */
	case 1: /* cbo.clean */
	case 2: /* cbo.flush */
		if (!RV_HAS(h->ext, ZICBOM) || !cbo_enabled(h, (insn >> 20) ? ENVCFG_CBCFE : ENVCFG_CBIE))
			illegal(h, raw);
		rv_cbo_check(h, va);
		break;
	case 4: { /* cbo.zero */
		if (!RV_HAS(h->ext, ZICBOZ) || !cbo_enabled(h, ENVCFG_CBZE)) illegal(h, raw);
		uint8_t *p = rv_amo_ptr(h, va, 1);
		memset(p - (va & (RV_CACHE_BLOCK - 1)), 0, RV_CACHE_BLOCK);
		break;
	}
	default: illegal(h, raw);
	}
}

/*
 * Executes one instruction (`insn`, expanded from `raw` if compressed) at
 * pc: the generic path. Every instruction is here; the fast loop below does
 * the frequent ones itself. Sets h->pc to the next instruction.
 */
static enum block_exit exec_one(struct rv_hart *h, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len)
{
	uint64_t *x = h->x;
	uint64_t next = pc + len;
	unsigned rd = RD(insn);

	if (unlikely(!insn)) illegal(h, raw);
	switch (insn & 0x7f) {
	case 0x37: /* lui */ x[rd] = (uint64_t)imm_u(insn); break;
	case 0x17: /* auipc */ x[rd] = pc + (uint64_t)imm_u(insn); break;
	case 0x6f: /* jal */
		x[rd] = next;
		next = pc + (uint64_t)imm_j(insn);
		break;
	case 0x67: { /* jalr */
		if (unlikely(F3(insn))) illegal(h, raw);
		uint64_t t = (x[RS1(insn)] + (uint64_t)imm_i(insn)) & ~1ULL;
		x[rd] = next;
		next = t;
		break;
	}
	case 0x63: { /* branches */
		uint64_t a = x[RS1(insn)], b = x[RS2(insn)];
		bool taken;
		switch (F3(insn)) {
		case 0: taken = a == b; break;
		case 1: taken = a != b; break;
		case 4: taken = (int64_t)a < (int64_t)b; break;
		case 5: taken = (int64_t)a >= (int64_t)b; break;
		case 6: taken = a < b; break;
		case 7: taken = a >= b; break;
		default: illegal(h, raw);
		}
		if (taken) next = pc + (uint64_t)imm_b(insn);
		break;
	}
	case 0x03: { /* loads */
		uint64_t a = x[RS1(insn)] + (uint64_t)imm_i(insn), v;
		switch (F3(insn)) {
		case 0: v = rv_load_s8(h, a); break;
		case 1: v = rv_load_s16(h, a); break;
		case 2: v = rv_load_s32(h, a); break;
		case 3: v = rv_load_u64(h, a); break;
		case 4: v = rv_load_u8(h, a); break;
		case 5: v = rv_load_u16(h, a); break;
		case 6: v = rv_load_u32(h, a); break;
		default: illegal(h, raw);
		}
		x[rd] = v;
		break;
	}
	case 0x23: { /* stores */
		unsigned f3 = F3(insn);
		if (unlikely(f3 > 3)) illegal(h, raw);
		rv_store(h, x[RS1(insn)] + (uint64_t)imm_s(insn), 1u << f3, x[RS2(insn)]);
		break;
	}
	case 0x13: { /* op-imm */
		uint64_t a = x[RS1(insn)];
		int64_t imm = imm_i(insn);
		switch (F3(insn)) {
		case 0: x[rd] = a + (uint64_t)imm; break;
		case 1:
			if (insn >> 26)
				exec_bitmanip(h, insn, raw);
			else
				x[rd] = a << (imm & 63);
			break;
		case 2: x[rd] = (int64_t)a < imm; break;
		case 3: x[rd] = a < (uint64_t)imm; break;
		case 4: x[rd] = a ^ (uint64_t)imm; break;
		case 5:
			if ((insn >> 26) == 0)
				x[rd] = a >> (imm & 63);
			else if ((insn >> 26) == 0x10)
				x[rd] = (uint64_t)((int64_t)a >> (imm & 63));
			else
				exec_bitmanip(h, insn, raw);
			break;
		case 6: x[rd] = a | (uint64_t)imm; break;
		default: x[rd] = a & (uint64_t)imm; break;
		}
		break;
	}
	case 0x1b: { /* op-imm-32 */
		uint64_t a = x[RS1(insn)];
		unsigned sh = RS2(insn);
		switch (F3(insn)) {
		case 0: x[rd] = sext32(a + (uint64_t)imm_i(insn)); break;
		case 1:
			if (F7(insn))
				exec_bitmanip(h, insn, raw);
			else
				x[rd] = sext32((uint32_t)a << sh);
			break;
		case 5:
			if (F7(insn) == 0)
				x[rd] = sext32((uint32_t)a >> sh);
			else if (F7(insn) == 0x20)
				x[rd] = sext32((uint32_t)((int32_t)a >> sh));
			else
				exec_bitmanip(h, insn, raw);
			break;
		default: illegal(h, raw);
		}
		break;
	}
	case 0x33: { /* op */
		uint64_t a = x[RS1(insn)], b = x[RS2(insn)];
		switch (F7(insn) << 3 | F3(insn)) {
		case 0x000: x[rd] = a + b; break;
		case 0x100: x[rd] = a - b; break;
		case 0x001: x[rd] = a << (b & 63); break;
		case 0x002: x[rd] = (int64_t)a < (int64_t)b; break;
		case 0x003: x[rd] = a < b; break;
		case 0x004: x[rd] = a ^ b; break;
		case 0x005: x[rd] = a >> (b & 63); break;
		case 0x105: x[rd] = (uint64_t)((int64_t)a >> (b & 63)); break;
		case 0x006: x[rd] = a | b; break;
		case 0x007: x[rd] = a & b; break;
		case 0x008: x[rd] = a * b; break;
		case 0x009: x[rd] = (uint64_t)(((__int128)(int64_t)a * (int64_t)b) >> 64); break;
		case 0x00a: x[rd] = (uint64_t)(((__int128)(int64_t)a * (unsigned __int128)b) >> 64); break;
		case 0x00b: x[rd] = (uint64_t)(((unsigned __int128)a * b) >> 64); break;
		case 0x00c: x[rd] = rv_div((int64_t)a, (int64_t)b); break;
		case 0x00d: x[rd] = rv_divu(a, b); break;
		case 0x00e: x[rd] = rv_rem((int64_t)a, (int64_t)b); break;
		case 0x00f: x[rd] = rv_remu(a, b); break;
		default: exec_bitmanip(h, insn, raw);
		}
		break;
	}
	case 0x3b: { /* op-32 */
		uint64_t a = x[RS1(insn)], b = x[RS2(insn)];
		switch (F7(insn) << 3 | F3(insn)) {
		case 0x000: x[rd] = sext32(a + b); break;
		case 0x100: x[rd] = sext32(a - b); break;
		case 0x001: x[rd] = sext32((uint32_t)a << (b & 31)); break;
		case 0x005: x[rd] = sext32((uint32_t)a >> (b & 31)); break;
		case 0x105: x[rd] = sext32((uint32_t)((int32_t)a >> (b & 31))); break;
		case 0x008: x[rd] = sext32((uint32_t)a * (uint32_t)b); break;
		case 0x00c: x[rd] = rv_divw((int32_t)a, (int32_t)b); break;
		case 0x00d: x[rd] = (uint32_t)b ? sext32((uint32_t)a / (uint32_t)b) : ~0ULL; break;
		case 0x00e: x[rd] = rv_remw((int32_t)a, (int32_t)b); break;
		case 0x00f: x[rd] = (uint32_t)b ? sext32((uint32_t)a % (uint32_t)b) : sext32(a); break;
		default: exec_bitmanip(h, insn, raw);
		}
		break;
	}
	case 0x0f: /* fence, fence.i, cache-block operations */
		if (F3(insn) == 2) {
			exec_cbo(h, insn, raw);
			break;
		}
		if (F3(insn) > 1) illegal(h, raw);
		/* x86 keeps every order RISC-V fences ask for except a store followed by a load: a fence
		 * ordering earlier writes (W, O) before later reads (R, I) needs a full host barrier.
		 * Decoded slots are checked against memory at each execution; a translated block checks
		 * its code once per fence.i epoch (as an instruction cache that fence.i flushes). */
		if (F3(insn) == 0 && ((insn >> 24) & 0x5) && ((insn >> 20) & 0xa))
			atomic_thread_fence(memory_order_seq_cst);
		if (F3(insn) == 1) rv_jit_new_epoch(h);
		break;
	case 0x2f: exec_amo(h, insn); break;
	case 0x07: { /* flh / flw / fld (NaN-boxed); vector loads */
		unsigned f3 = F3(insn);
		if (f3 == 0 || f3 >= 5) {
			rv_exec_vector_mem(h, insn);
			break;
		}
		if (unlikely(rv_fs_off(h) || !fp_width_ok(h, f3))) illegal(h, raw);
		uint64_t a = x[RS1(insn)] + (uint64_t)imm_i(insn);
		h->f[rd] = f3 == 1   ? (rv_load_u16(h, a) | 0xffffffffffff0000ULL)
		           : f3 == 2 ? (rv_load_u32(h, a) | 0xffffffff00000000ULL)
		                     : rv_load_u64(h, a);
		rv_fs_dirty(h);
		break;
	}
	case 0x27: { /* fsh / fsw / fsd; vector stores */
		unsigned f3 = F3(insn);
		if (f3 == 0 || f3 >= 5) {
			rv_exec_vector_mem(h, insn);
			break;
		}
		if (unlikely(rv_fs_off(h) || !fp_width_ok(h, f3))) illegal(h, raw);
		rv_store(h, x[RS1(insn)] + (uint64_t)imm_s(insn), 1u << f3, h->f[RS2(insn)]);
		break;
	}
	case 0x43:
	case 0x47:
	case 0x4b:
	case 0x4f:
	case 0x53:
		if (unlikely(rv_fs_off(h))) illegal(h, raw);
		rv_exec_fp(h, insn);
		/* Dirty even when only an integer register or nothing changed (compares, fmv.x, fcvt to
		 * integers), as the specification allows: translated code relies on it (the FS check
		 * of a path is made once, and its failure runs the instruction here). */
		rv_fs_dirty(h);
		break;
	case 0x57: rv_exec_vector(h, insn); break;
	case 0x73: return exec_system(h, insn, pc, len);
	default: illegal(h, raw);
	}
	h->pc = next;
	return EXIT_NONE;
}

/* CSRs whose writes change nothing else: no interrupt enable, privilege or translation (the FP
 * status, the trap scratch/pc/cause/value registers a trap handler saves and restores). */
static bool csr_write_is_plain(unsigned csr)
{
	return (csr >= 0x001 && csr <= 0x003) || (csr >= 0x140 && csr <= 0x143) ||
	       (csr >= 0x340 && csr <= 0x343);
}

/* CSRs whose writes change only which interrupts may be taken (enables, pending bits, the
 * supervisor timer compare) and the data TLB set, which rv_tlb_select() keeps current: after one,
 * a run goes on unless an interrupt became ready (the kernel toggles sstatus.SIE around every
 * critical section). At V=1 sstatus means vsstatus: such writes still end the run. */
static bool csr_write_moves_irqs(unsigned csr)
{
	switch (csr) {
	case 0x100: /* sstatus */
	case 0x104: /* sie */
	case 0x144: /* sip */
	case 0x14d: /* stimecmp */
	case 0x300: /* mstatus */
	case 0x304: /* mie */
	case 0x344: /* mip */ return true;
	default: return false;
	}
}

bool rv_jit_generic_ok(uint32_t insn)
{
	switch (insn & 0x7f) {
	case 0x2f: /* AMOs, LR/SC */
	case 0x07: /* FP loads, stores and computation; vector instructions */
	case 0x27:
	case 0x57:
	case 0x43:
	case 0x47:
	case 0x4b:
	case 0x4f:
	case 0x53:
	case 0x13: /* the bit-manipulation forms of the integer opcodes (their base forms are fast ops) */
	case 0x1b:
	case 0x33:
	case 0x3b: return true;
	case 0x0f: return F3(insn) != 1; /* fence, cbo.* (not fence.i: it starts a new code epoch) */
	case 0x73: {                     /* CSR reads, writes of the FP status, Zimop */
		unsigned f3 = F3(insn), csr = insn >> 20;
		if (f3 == 4) return true;
		if (f3 == 0) return false;
		bool writes = (f3 & 3) == 1 || RS1(insn) != 0;
		return !writes || csr_write_is_plain(csr) || csr_write_moves_irqs(csr);
	}
	default: return false;
	}
}

uint64_t rv_jit_exec_generic(struct rv_hart *h, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len)
{
	rv_fp_sync_flags(h);
	enum block_exit ex = exec_one(h, insn, raw, pc, len);
	h->x[0] = 0;
	if (likely(ex == EXIT_NONE && h->pc == pc + len)) return 0;
	h->jit_exit = (int)ex;
	return 1;
}

/*
 * The read-modify-write AMOs on host memory, atomically across harts. One
 * definition per width; `old` receives the previous value (sign-extended).
 * Returns false for an unknown funct5.
 */
#define DEFINE_AMO(name, utype, stype)                                                                       \
	static bool name(void *p, unsigned f5, utype s, uint64_t *old)                                       \
	{                                                                                                    \
		utype *q = p, o, n;                                                                          \
		switch (f5) {                                                                                \
		case 0x01: o = __atomic_exchange_n(q, s, __ATOMIC_SEQ_CST); break;                           \
		case 0x00: o = __atomic_fetch_add(q, s, __ATOMIC_SEQ_CST); break;                            \
		case 0x04: o = __atomic_fetch_xor(q, s, __ATOMIC_SEQ_CST); break;                            \
		case 0x0c: o = __atomic_fetch_and(q, s, __ATOMIC_SEQ_CST); break;                            \
		case 0x08: o = __atomic_fetch_or(q, s, __ATOMIC_SEQ_CST); break;                             \
		case 0x10:                                                                                   \
		case 0x14:                                                                                   \
		case 0x18:                                                                                   \
		case 0x1c:                                                                                   \
			o = __atomic_load_n(q, __ATOMIC_SEQ_CST);                                            \
			do {                                                                                 \
				if (f5 == 0x10)                                                              \
					n = (stype)o < (stype)s ? o : s;                                     \
				else if (f5 == 0x14)                                                         \
					n = (stype)o > (stype)s ? o : s;                                     \
				else if (f5 == 0x18)                                                         \
					n = o < s ? o : s;                                                   \
				else                                                                         \
					n = o > s ? o : s;                                                   \
			} while (!__atomic_compare_exchange_n(q, &o, n, false, __ATOMIC_SEQ_CST,             \
			                                      __ATOMIC_SEQ_CST));                            \
			break;                                                                               \
		default: return false;                                                                       \
		}                                                                                            \
		*old = (uint64_t)(int64_t)(stype)o;                                                          \
		return true;                                                                                 \
	}
DEFINE_AMO(amo32, uint32_t, int32_t)
DEFINE_AMO(amo64, uint64_t, int64_t)

static void exec_amo(struct rv_hart *h, uint32_t insn)
{
	unsigned f3 = F3(insn), f5 = insn >> 27, rd = RD(insn);
	uint64_t a = h->x[RS1(insn)], src = h->x[RS2(insn)];
	if (f3 != 2 && f3 != 3) illegal(h, insn);
	unsigned size = f3 == 2 ? 4 : 8;

	if (f5 == 0x02) { /* lr */
		if (RS2(insn)) illegal(h, insn);
		if (a & (size - 1)) rv_raise(h, RV_EXC_LOAD_MISALIGNED, a);
		uint64_t v = size == 4 ? rv_load_s32(h, a) : rv_load_u64(h, a);
		h->resv_valid = true;
		h->resv_addr = a;
		h->resv_val = v;
		h->x[rd] = v;
		return;
	}
	if (a & (size - 1)) rv_raise(h, RV_EXC_STORE_MISALIGNED, a);
	void *p = rv_amo_ptr(h, a, size);

	if (f5 == 0x03) { /* sc: succeeds if the reserved value is still there */
		bool ok = false;
		if (h->resv_valid && h->resv_addr == a) {
			if (size == 4) {
				uint32_t expect = (uint32_t)h->resv_val;
				ok = __atomic_compare_exchange_n((uint32_t *)p, &expect, (uint32_t)src, false,
				                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			} else {
				uint64_t expect = h->resv_val;
				ok = __atomic_compare_exchange_n((uint64_t *)p, &expect, src, false,
				                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			}
		}
		h->resv_valid = false;
		h->x[rd] = !ok;
		return;
	}

	bool ok = size == 4 ? amo32(p, f5, (uint32_t)src, &h->x[rd]) : amo64(p, f5, src, &h->x[rd]);
	if (!ok) illegal(h, insn);
}

/* Zicsr instructions. Returns EXIT_IRQ_CHECK when the write may change more than plain state
 * and interrupt enables, or made an interrupt ready. */
static enum block_exit exec_csr(struct rv_hart *h, uint32_t insn, uint64_t next)
{
	unsigned f3 = F3(insn), csr = insn >> 20, rs1 = RS1(insn), rd = RD(insn);
	uint64_t src = (f3 & 4) ? rs1 : h->x[rs1];
	bool do_read = !((f3 & 3) == 1 && rd == 0);
	bool do_write = (f3 & 3) == 1 || rs1 != 0;
	uint64_t old = 0;
	unsigned fault;

	if (do_write && (csr >> 10) == 3) illegal(h, insn);
	if (do_read || (f3 & 3) != 1) {
		if ((fault = rv_csr_read(h, csr, &old))) rv_raise(h, fault, insn);
	}
	if (do_write) {
		uint64_t base = rv_csr_rmw_base(h, csr, old);
		uint64_t val = src;
		if ((f3 & 3) == 2)
			val = base | src;
		else if ((f3 & 3) == 3)
			val = base & ~src;
		if ((fault = rv_csr_write(h, csr, val))) rv_raise(h, fault, insn);
	}
	if (!do_read && (fault = rv_csr_read(h, csr, &old))) rv_raise(h, fault, insn); /* existence check */
	h->x[rd] = old;
	h->pc = next;
	if (!do_write || csr_write_is_plain(csr)) return EXIT_NONE;
	if (csr_write_moves_irqs(csr) && !h->virt && !rv_interrupt_ready(h)) return EXIT_NONE;
	return EXIT_IRQ_CHECK;
}

/* An instruction V=1 forbids but HS-mode could run: a virtual-instruction exception (H). */
static _Noreturn void virtual_insn(struct rv_hart *h, uint32_t insn)
{
	rv_raise(h, RV_EXC_VIRTUAL_INSN, insn);
}

/* Raises the exception of a supervisor instruction run in U or VU mode. */
static _Noreturn void user_mode_fault(struct rv_hart *h, uint32_t insn)
{
	if (h->virt) virtual_insn(h, insn);
	illegal(h, insn);
}

/* sret: from HS (or M) back to the mode sstatus.SPP and hstatus.SPV name; from VS, through
 * vsstatus and vsepc, staying in V=1. */
static void exec_sret(struct rv_hart *h, uint32_t insn)
{
	if (h->priv == RV_PRIV_U) user_mode_fault(h, insn);
	if (h->virt) {
		if (h->hstatus & HSTATUS_VTSR) virtual_insn(h, insn);
		uint64_t s = h->vsstatus;
		unsigned spp = (s & MSTATUS_SPP) ? RV_PRIV_S : RV_PRIV_U;
		s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
		h->vsstatus = (s | MSTATUS_SPIE) & ~MSTATUS_SPP;
		h->pc = h->vsepc;
		rv_set_mode(h, spp, true);
		return;
	}
	if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TSR)) illegal(h, insn);
	uint64_t s = h->mstatus;
	unsigned spp = (s & MSTATUS_SPP) ? RV_PRIV_S : RV_PRIV_U;
	s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
	s |= MSTATUS_SPIE;
	s &= ~MSTATUS_SPP;
	s &= ~MSTATUS_MPRV; /* returning below M */
	h->mstatus = s;
	bool spv = (h->hstatus & HSTATUS_SPV) != 0; /* hstatus is zero without H */
	h->hstatus &= ~HSTATUS_SPV;
	h->pc = h->sepc;
	rv_set_mode(h, spp, spv);
}

/* mret: back to the mode mstatus.MPP and MPV name. */
static void exec_mret(struct rv_hart *h, uint32_t insn)
{
	if (h->priv != RV_PRIV_M) user_mode_fault(h, insn);
	uint64_t s = h->mstatus;
	unsigned mpp = (unsigned)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
	bool mpv = mpp != RV_PRIV_M && (s & MSTATUS_MPV);
	s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
	s |= MSTATUS_MPIE;
	s &= ~(MSTATUS_MPP | MSTATUS_MPV);
	if (mpp != RV_PRIV_M) s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->pc = h->mepc;
	rv_set_mode(h, mpp, mpv);
}

/* sfence.vma, sinval.vma (rs1: an address, or all; rs2: an ASID, or all), and with `hyp`
 * hfence.vvma, hfence.gvma, hinval.vvma, hinval.gvma. The TLB holds one address space (satp's
 * ASID and root) besides global mappings: one ASID's flush, outside V=1, keeps the global ones;
 * the others flush a page (every set), or everything. */
static void exec_fence_vma(struct rv_hart *h, uint32_t insn, bool hyp)
{
	if (hyp) {
		bool gvma = (F7(insn) & 0x20) != 0;
		if (!RV_HAS(h->ext, H)) illegal(h, insn);
		if (h->virt) virtual_insn(h, insn);
		if (h->priv == RV_PRIV_U || (gvma && h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)))
			illegal(h, insn);
		rv_tlb_flush_all(h); /* the address is a guest's: its pages may be mapped anywhere */
		return;
	}
	if (h->priv == RV_PRIV_U) user_mode_fault(h, insn);
	if (h->virt && (h->hstatus & HSTATUS_VTVM)) virtual_insn(h, insn);
	if (!h->virt && h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)) illegal(h, insn);
	if (RS1(insn))
		rv_tlb_flush_page(h, h->x[RS1(insn)]);
	else if (RS2(insn) && !h->virt)
		rv_tlb_flush_local(h);
	else
		rv_tlb_flush_all(h);
}

static enum block_exit exec_system(struct rv_hart *h, uint32_t insn, uint64_t pc, unsigned len)
{
	if (F3(insn) != 0 && F3(insn) != 4) return exec_csr(h, insn, pc + len);
	if (F3(insn) == 4) {
		if (rv_hyp_exec_load_store(h, insn)) {
			h->pc = pc + len;
			return EXIT_NONE;
		}
		/* Zimop: mop.r.n and mop.rr.n write zero until an extension gives them a meaning. */
		bool mop = (insn & 0xb3c0707f) == 0x81c04073 || (insn & 0xb200707f) == 0x82004073;
		if (!mop || !RV_HAS(h->ext, ZIMOP)) illegal(h, insn);
		h->x[RD(insn)] = 0;
		h->pc = pc + len;
		return EXIT_NONE;
	}
	if (RD(insn) != 0) illegal(h, insn);

	unsigned f7 = F7(insn);
	bool svinval = RV_HAS(h->ext, SVINVAL);
	if (f7 == 0x09 || f7 == 0x11 || f7 == 0x31 || (svinval && (f7 == 0x0b || f7 == 0x13 || f7 == 0x33))) {
		exec_fence_vma(h, insn, (f7 & 0x10) != 0); /* [sh]fence.vma, hfence.gvma, [sh]inval.* */
		h->pc = pc + len;
		return EXIT_NONE;
	}
	if (RS1(insn) != 0) illegal(h, insn);
	if (f7 == 0x0c && RS2(insn) <= 1 && svinval) { /* sfence.w.inval, sfence.inval.ir */
		if (h->priv == RV_PRIV_U) user_mode_fault(h, insn);
		h->pc = pc + len; /* ordering only: sinval.vma already took effect */
		return EXIT_NONE;
	}
	switch (insn >> 20) {
	case 0x000: /* ecall */
		rv_raise(h, h->virt && h->priv == RV_PRIV_S ? RV_EXC_ECALL_VS : RV_EXC_ECALL_U + h->priv, 0);
	case 0x001: /* ebreak */ rv_raise(h, RV_EXC_BREAKPOINT, pc);
	case 0x102: /* sret */ exec_sret(h, insn); return EXIT_IRQ_CHECK;
	case 0x302: /* mret */ exec_mret(h, insn); return EXIT_IRQ_CHECK;
	case 0x00d: /* wrs.nto */
	case 0x01d: /* wrs.sto */
		/* Zawrs: the wait may end early for any reason; here it ends at once, so the bounded-time
		 * trap of mstatus.TW never fires. */
		if (!RV_HAS(h->ext, ZAWRS)) illegal(h, insn);
		h->pc = pc + len;
		return EXIT_NONE;
	case 0x105: /* wfi */
		if (h->priv < RV_PRIV_M && (h->mstatus & MSTATUS_TW)) illegal(h, insn);
		if (h->virt && (h->priv == RV_PRIV_U || (h->hstatus & HSTATUS_VTW))) virtual_insn(h, insn);
		if (h->priv == RV_PRIV_U) illegal(h, insn);
		h->pc = pc + len;
		return EXIT_WFI;
	default: illegal(h, insn);
	}
}

/* ---- decoded-instruction cache and the fast loop ------------------------------
 *
 * Each halfword of guest RAM has a slot holding its decoded instruction
 * (struct rv_op), per hart, found by physical address: sequential execution
 * is `op += len / 2`, no lookup. A slot remembers the instruction bits it was
 * decoded from and is checked against memory before each execution, so code
 * written by anyone (this hart, another hart, a device) is never run stale,
 * without invalidation protocols. Two zero sentinel slots end each page.
 * Hot instructions have their own handler, reached by computed goto (one
 * indirect jump per handler, which the host predicts per site); the rest go
 * through exec_one(). Writes to x0 go to x[32], so no handler tests rd.
 */

#define OPS_BACKED_UNIT 4096 /* bytes of slots a bit of rv_hart.ops_backed stands for (back_ops) */

/* The size of that bitmap. */
static size_t ops_backed_bytes(const struct rv_hart *h)
{
	return (size_t)(h->ops_bytes / OPS_BACKED_UNIT / 64 + 1) * sizeof(uint64_t);
}

bool rv_hart_alloc_cache(struct rv_hart *h)
{
	uint64_t pages = (h->bus.ram_size + RV_PAGE_SIZE - 1) / RV_PAGE_SIZE;
	h->ops_bytes = pages * OPS_PER_PAGE * sizeof(struct rv_op);
	void *p = mmap(NULL, h->ops_bytes, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		h->ops = NULL;
		return false;
	}
	h->ops = p;
	/* Mapped like the slots (the hart too is mapped memory, which leak checkers do not scan). */
	void *b = mmap(NULL, ops_backed_bytes(h), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) {
		rv_hart_free_cache(h);
		return false;
	}
	h->ops_backed = b;
	return true;
}

void rv_hart_free_cache(struct rv_hart *h)
{
	if (h->ops_backed) munmap(h->ops_backed, ops_backed_bytes(h));
	h->ops_backed = NULL;
	if (h->ops) munmap(h->ops, h->ops_bytes);
	h->ops = NULL;
}

/*
 * Runs exactly `budget` instructions (or until one leaves the loop) through
 * the generic path: single stepping for tests and exact instruction counts.
 */
static enum block_exit run_exact(struct rv_hart *h, int64_t budget)
{
	const int64_t start = budget;
	enum block_exit ex = EXIT_NONE;
	while (budget > 0 && ex == EXIT_NONE) {
		unsigned len;
		uint64_t pc = h->pc;
		h->budget_left = (uint64_t)budget;
		if (unlikely(h->trig_exec)) rv_trigger_check_exec(h, pc);
		uint32_t raw = rv_fetch(h, pc, &len);
		ex = exec_one(h, len == 2 ? rv_expand_compressed((uint16_t)raw, h->ext) : raw, raw, pc, len);
		h->x[0] = 0;
		budget--;
	}
	h->instret += (uint64_t)(start - budget);
	return ex;
}

/* The 4 KiB of slots holding op, the first time the interpreter starts there or decodes there:
 * populated in one call rather than a page fault (about 10 us where cloison runs virtualized)
 * when it reads the slot and another when it decodes into it. */
static inline void back_ops(struct rv_hart *h, const struct rv_op *op)
{
	const uint64_t at = (uint64_t)((const char *)op - (const char *)h->ops) / OPS_BACKED_UNIT;
	uint64_t *word = &h->ops_backed[at / 64], bit = 1ULL << (at % 64);
	if (likely(*word & bit)) return;
	mem_populate((void *)op, sizeof(*op));
	*word |= bit;
}

/*
 * Runs about `budget` instructions from h->pc (it may overshoot by up to a
 * page of straight-line code; the count retired stays exact). Returns why it stopped early,
 * or EXIT_NONE when the budget ran out. Before anything that can raise, the
 * state exceptions need (pc, budget left) is stored in the hart.
 */
static enum block_exit run_block(struct rv_hart *h, int64_t budget)
{
	/* kind + K_COUNT: the 4-byte form of the same instruction. */
	static const void *const labels[2 * K_COUNT] = {[K_DECODE] = &&l_decode,
	                                                [K_GENERIC] = &&l_generic,
	                                                [K_SLOW] = &&l_slow,
	                                                [K_DECODE + K_COUNT] = &&l_decode,
	                                                [K_GENERIC + K_COUNT] = &&l_generic,
	                                                [K_SLOW + K_COUNT] = &&l_slow,
#define X(NAME, name) [K_##NAME] = &&l_##name##_2, [K_##NAME + K_COUNT] = &&l_##name##_4,
	                                                RV_FAST_OPS(X)
#undef X
	};
	uint64_t *const x = h->x;
	uint64_t pc = h->pc;
	const int64_t start = budget;
	struct rv_op *page_ops, *op;
	uint8_t *page_host;
	uintptr_t addend; /* host address of the current code page minus its guest address */
	enum block_exit ex;
	uint32_t w;
	const bool jit_on = h->jit != NULL;

#define OP_LEN() (2u + ((op->mask >> 30) & 2u))
#define SYNC() (h->pc = pc, h->budget_left = budget + 1)
/* Straight-line code cannot loop, so the budget is tested only where control
 * transfers (CHECKED_DISPATCH); it may overshoot by at most one page of code. */
#define DISPATCH()                                                                                           \
	do {                                                                                                 \
		budget--;                                                                                    \
		memcpy(&w, (const void *)(uintptr_t)(pc + addend), 4);                                       \
		if (unlikely((w & op->mask) != op->raw)) goto l_decode;                                      \
		goto *labels[op->kind];                                                                      \
	} while (0)
#define CHECKED_DISPATCH()                                                                                   \
	do {                                                                                                 \
		if (unlikely(budget <= 0)) goto out;                                                         \
		if (jit_on) goto l_jit;                                                                      \
		DISPATCH();                                                                                  \
	} while (0)
#define NEXT()                                                                                               \
	do {                                                                                                 \
		pc += LEN;                                                                                   \
		op += LEN / 2;                                                                               \
		DISPATCH();                                                                                  \
	} while (0)
#define JUMP(target)                                                                                         \
	do {                                                                                                 \
		uint64_t t_ = (target);                                                                      \
		if (likely(((t_ ^ pc) & RV_PAGE_MASK) == 0)) {                                               \
			op = page_ops + ((t_ & (RV_PAGE_SIZE - 1)) >> 1);                                    \
			pc = t_;                                                                             \
			CHECKED_DISPATCH();                                                                  \
		}                                                                                            \
		pc = t_;                                                                                     \
		goto new_page;                                                                               \
	} while (0)
#define BRANCH(cond)                                                                                         \
	do {                                                                                                 \
		if (cond) JUMP(pc + (uint64_t)(int64_t)op->imm);                                             \
		NEXT();                                                                                      \
	} while (0)
#define ALU(expr)                                                                                            \
	do {                                                                                                 \
		x[op->rd] = (expr);                                                                          \
		NEXT();                                                                                      \
	} while (0)
#define A (x[op->rs1])
#define B (x[op->rs2])
#define IMM ((uint64_t)(int64_t)op->imm)
#define LOAD(fn)                                                                                             \
	do {                                                                                                 \
		SYNC();                                                                                      \
		x[op->rd] = fn(h, A + IMM);                                                                  \
		NEXT();                                                                                      \
	} while (0)
#define STORE(size)                                                                                          \
	do {                                                                                                 \
		SYNC();                                                                                      \
		rv_store(h, A + IMM, size, B);                                                               \
		NEXT();                                                                                      \
	} while (0)
/* Each handler exists for both instruction lengths, so NEXT() adds constants. */
#define HANDLER(name, body)                                                                                  \
	l_##name##_2:                                                                                        \
	{                                                                                                    \
		enum { LEN = 2 };                                                                            \
		body                                                                                         \
	}                                                                                                    \
	l_##name##_4:                                                                                        \
	{                                                                                                    \
		enum { LEN = 4 };                                                                            \
		body                                                                                         \
	}

/* Points page_host, page_ops and op at pc's code page (translating it: may raise). */
#define ENTER_PAGE()                                                                                         \
	do {                                                                                                 \
		h->pc = pc;                                                                                  \
		h->budget_left = (uint64_t)budget;                                                           \
		addend = rv_fetch_addend(h, pc);                                                             \
		page_host = (uint8_t *)(uintptr_t)((pc & RV_PAGE_MASK) + addend);                            \
		page_ops = h->ops + (uint64_t)((page_host - h->bus.ram) >> RV_PAGE_SHIFT) * OPS_PER_PAGE;    \
		op = page_ops + ((pc & (RV_PAGE_SIZE - 1)) >> 1);                                            \
		back_ops(h, op);                                                                             \
	} while (0)

new_page:
	ENTER_PAGE();
	CHECKED_DISPATCH();

/* At a jump target: run its translated block, or count towards translating it. */
l_jit : {
	uint32_t id = op->jit;
	if (likely(id >= RV_JIT_FIRST_BLOCK)) {
		if (id == RV_JIT_NEVER) DISPATCH();
		void *code = rv_jit_lookup(h, &op->jit, op, pc);
		if (unlikely(!code)) {
			h->stats.stale_blocks++;
			op->jit = 0; /* dropped, or translated for another virtual address */
			DISPATCH();
		}
		/* The block that just returned to here may jump here directly from now on. */
		if (h->jit_patch_site && h->jit_patch_pc == pc && rv_jit_chain(h->jit_patch_site, code))
			h->stats.chains++;
		if (unlikely((++h->stats.block_runs & 4095) == 0)) rv_jit_settle_hints(h);
		rv_jcache_fill(h, pc, (uint8_t *)code + RV_JIT_ENTRY_OFFSET);
		h->jit_patch_site = NULL;
		h->pc = pc;
		h->budget_left = (uint64_t)budget;
		uint64_t next = ((rv_jit_fn)code)(h);
		if (unlikely(h->fp_pending)) {
			rv_fp_take_host_flags(h);
			h->fp_pending = false;
		}
		h->jit_retired = 0;
		budget = (int64_t)h->budget_left + 2 * (int64_t)h->jit_pair_skips;
		h->jit_pair_skips = 0;
		/* An instruction it left to exec_one() ends the run. */
		if (unlikely(h->jit_exit != EXIT_NONE)) {
			ex = (enum block_exit)h->jit_exit;
			h->jit_exit = EXIT_NONE;
			h->pc = next;
			h->instret += start - budget;
			return ex;
		}
		if (unlikely(next & 1)) { /* a block's guest code changed: interpret it, re-decoding */
			h->stats.stale_blocks++;
			rv_jcache_forget(h, next & ~1ULL);
			h->jit_patch_site = NULL;
			pc = next & ~1ULL;
			goto bail_page;
		}
		h->jit_patch_pc = next;
		JUMP(next);
	}
	if (++op->jit < RV_JIT_HOT) DISPATCH();
	op->jit = rv_jit_compile(h, op, page_host + (pc & (RV_PAGE_SIZE - 1)), pc);
	DISPATCH();
}

bail_page: /* like new_page, but the slot runs interpreted and forgets its block */
	ENTER_PAGE();
	op->jit = 0;
	DISPATCH();

l_decode:
	if (op >= page_ops + 2 * (RV_PAGE_SIZE / 4)) { /* ran into the sentinels: next page */
		budget++;
		goto new_page;
	}
	back_ops(h, op);
	rv_decode_op(op, w, (unsigned)(pc & (RV_PAGE_SIZE - 1)), h->ext);
	budget++;
	DISPATCH();

l_generic:
	SYNC();
	ex = exec_one(h, (uint32_t)op->imm, op->raw, pc, OP_LEN());
	goto after_slow_path;
l_slow : {
	SYNC();
	unsigned len;
	uint32_t raw = rv_fetch(h, pc, &len);
	ex = exec_one(h, len == 2 ? rv_expand_compressed((uint16_t)raw, h->ext) : raw, raw, pc, len);
}
after_slow_path:
	x[0] = 0;
	pc = h->pc;
	if (ex != EXIT_NONE) {
		h->instret += start - budget;
		return ex;
	}
	goto new_page; /* privilege, satp or the TLB may have changed */

	HANDLER(lui, ALU(IMM);)
	HANDLER(auipc, ALU(pc + IMM);)
	HANDLER(jal, {
		x[op->rd] = pc + LEN;
		JUMP(pc + IMM);
	})
	HANDLER(jalr, {
		uint64_t t_j = (A + IMM) & ~1ULL;
		x[op->rd] = pc + LEN;
		JUMP(t_j);
	})
	HANDLER(beq, BRANCH(A == B);)
	HANDLER(bne, BRANCH(A != B);)
	HANDLER(blt, BRANCH((int64_t)A < (int64_t)B);)
	HANDLER(bge, BRANCH((int64_t)A >= (int64_t)B);)
	HANDLER(bltu, BRANCH(A < B);)
	HANDLER(bgeu, BRANCH(A >= B);)
	HANDLER(lb, LOAD(rv_load_s8);)
	HANDLER(lh, LOAD(rv_load_s16);)
	HANDLER(lw, LOAD(rv_load_s32);)
	HANDLER(ld, LOAD(rv_load_u64);)
	HANDLER(lbu, LOAD(rv_load_u8);)
	HANDLER(lhu, LOAD(rv_load_u16);)
	HANDLER(lwu, LOAD(rv_load_u32);)
	HANDLER(sb, STORE(1);)
	HANDLER(sh, STORE(2);)
	HANDLER(sw, STORE(4);)
	HANDLER(sd, STORE(8);)
	HANDLER(addi, ALU(A + IMM);)
	HANDLER(slti, ALU((int64_t)A < (int64_t)IMM);)
	HANDLER(sltiu, ALU(A < IMM);)
	HANDLER(xori, ALU(A ^ IMM);)
	HANDLER(ori, ALU(A | IMM);)
	HANDLER(andi, ALU(A & IMM);)
	HANDLER(slli, ALU(A << (IMM & 63));)
	HANDLER(srli, ALU(A >> (IMM & 63));)
	HANDLER(srai, ALU((uint64_t)((int64_t)A >> (IMM & 63)));)
	HANDLER(addiw, ALU(sext32(A + IMM));)
	HANDLER(slliw, ALU(sext32((uint32_t)A << (IMM & 31)));)
	HANDLER(srliw, ALU(sext32((uint32_t)A >> (IMM & 31)));)
	HANDLER(sraiw, ALU(sext32((uint32_t)((int32_t)A >> (IMM & 31))));)
	HANDLER(add, ALU(A + B);)
	HANDLER(sub, ALU(A - B);)
	HANDLER(sll, ALU(A << (B & 63));)
	HANDLER(slt, ALU((int64_t)A < (int64_t)B);)
	HANDLER(sltu, ALU(A < B);)
	HANDLER(xor, ALU(A ^ B);)
	HANDLER(srl, ALU(A >> (B & 63));)
	HANDLER(sra, ALU((uint64_t)((int64_t)A >> (B & 63)));)
	HANDLER(or, ALU(A | B);)
	HANDLER(and, ALU(A & B);)
	HANDLER(mul, ALU(A * B);)
	HANDLER(mulh, ALU((uint64_t)(((__int128)(int64_t)A * (int64_t)B) >> 64));)
	HANDLER(mulhsu, ALU((uint64_t)(((__int128)(int64_t)A * (unsigned __int128)B) >> 64));)
	HANDLER(mulhu, ALU((uint64_t)(((unsigned __int128)A * B) >> 64));)
	HANDLER(div, ALU(rv_div((int64_t)A, (int64_t)B));)
	HANDLER(divu, ALU(rv_divu(A, B));)
	HANDLER(rem, ALU(rv_rem((int64_t)A, (int64_t)B));)
	HANDLER(remu, ALU(rv_remu(A, B));)
	HANDLER(addw, ALU(sext32(A + B));)
	HANDLER(subw, ALU(sext32(A - B));)
	HANDLER(sllw, ALU(sext32((uint32_t)A << (B & 31)));)
	HANDLER(srlw, ALU(sext32((uint32_t)A >> (B & 31)));)
	HANDLER(sraw, ALU(sext32((uint32_t)((int32_t)A >> (B & 31))));)
	HANDLER(mulw, ALU(sext32((uint32_t)A * (uint32_t)B));)
	HANDLER(divw, ALU(rv_divw((int32_t)A, (int32_t)B));)
	HANDLER(divuw, ALU((uint32_t)B ? sext32((uint32_t)A / (uint32_t)B) : ~0ULL);)
	HANDLER(remw, ALU(rv_remw((int32_t)A, (int32_t)B));)
	HANDLER(remuw, ALU((uint32_t)B ? sext32((uint32_t)A % (uint32_t)B) : sext32(A));)
	HANDLER(zb, ALU(rv_zb_compute(rv_zb_op(op->imm), A, rv_zb_operand2(op->imm, B)));)

out:
	h->pc = pc;
	h->instret += start - budget;
	return EXIT_NONE;
#undef HANDLER
#undef ENTER_PAGE
#undef CHECKED_DISPATCH
#undef OP_LEN
#undef SYNC
#undef DISPATCH
#undef NEXT
#undef JUMP
#undef BRANCH
#undef ALU
#undef A
#undef B
#undef IMM
#undef LOAD
#undef STORE
}

/* Sleeps until an interrupt is pending (enabled in mie) or another thread kicks. */
static void wait_for_interrupt(struct rv_hart *h)
{
	pthread_mutex_lock(&h->wait_lock);
	while (!atomic_load(&h->kick) && !atomic_load(&h->stop) && !rv_pending_interrupts(h)) {
		/* Next timer deadline, in platform ticks (10 MHz). */
		uint64_t now = h->bus.read_time(h->bus.opaque);
		uint64_t deadline = UINT64_MAX;
		if (h->mie & (1ULL << RV_IRQ_MTI)) deadline = atomic_load(&h->mtimecmp);
		if ((h->menvcfg & MENVCFG_STCE) && (h->mie & (1ULL << RV_IRQ_STI)) && h->stimecmp < deadline)
			deadline = h->stimecmp;
		if ((h->menvcfg & h->henvcfg & MENVCFG_STCE) && (h->mie & (1ULL << RV_IRQ_VSTI)) &&
		    h->vstimecmp - h->htimedelta < deadline) /* the guest's time runs htimedelta ahead */
			deadline = h->vstimecmp - h->htimedelta;
		uint64_t wait_ticks = deadline > now ? deadline - now : 0;
		if (wait_ticks > 10000000) wait_ticks = 10000000; /* re-check at least every second */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + wait_ticks * 100;
		ts.tv_sec += (time_t)(ns / 1000000000ULL);
		ts.tv_nsec = (long)(ns % 1000000000ULL);
		h->wfi_count++;
		pthread_cond_timedwait(&h->wait_cond, &h->wait_lock, &ts);
	}
	pthread_mutex_unlock(&h->wait_lock);
}

/* Instructions per run between interrupt checks (about 30 us of guest time). 16384 rather than 4096:
 * boot -8 %, fork+exec -7 %, shell -5 % on one hart (3 alternating runs), no loss on two; 65536
 * rather than 16384: gzip 0.966x, xz 0.977x, 7zip 0.982x on one hart (8 rounds), boot 0.976x,
 * xz 0.965x, fork+exec 0.970x on two harts running two copies (5 rounds). */
#define BLOCK_INSNS 65536

/* How run_some runs: as the run loop does (translated code, sleeping in WFI), stepping exactly
 * (the interpreter, never past the count), or as the run loop without sleeping (a caller that owns
 * time and wants the translator). */
enum run_mode { RUN_LOOP, RUN_EXACT, RUN_NO_SLEEP };

/* One step of the run loop: take a pending interrupt, run a block, maybe sleep.
 * Returns the instructions retired. */
static uint64_t run_some(struct rv_hart *h, uint64_t max_insns, enum run_mode mode)
{
	const bool exact = mode == RUN_EXACT;
	uint64_t start = h->instret;
	h->block_start = h->budget_left = max_insns;
	if (setjmp(h->trap_jmp)) {
		/* An exception was taken (h->pc is its handler); count what retired before it. */
		h->instret += rv_run_retired(h);
		h->jit_retired = 0;
		h->jit_pair_skips = 0;
		h->x[0] = 0;
		h->budget_left = h->block_start = 0;
		return h->instret - start;
	}
	atomic_store(&h->kick, 0);
	rv_fp_drop_foreign_flags(h);         /* C code since the last run (a throttle's arithmetic) */
	if (h->hpm_active) rv_hpm_settle(h); /* a counter that overflowed interrupts now */
	rv_take_interrupt(h);
	/* Hinted loads end their trials here too (every 16M instructions or so), not only after 4096
	 * blocks entered from the dispatcher: a loop that stays in translated code would count its runs
	 * for as long as it ran (a gzip whose cross-page jumps stopped returning to C took 1.25x). */
	if (h->jit_hints && (++h->jit_hints->runs & 1023) == 0) rv_jit_settle_hints(h);
	/* Stepping must be exact (the fast loop may overshoot its budget); triggers on fetches are
	 * checked at each instruction there. */
	enum block_exit ex =
	    exact || h->trig_exec ? run_exact(h, (int64_t)max_insns) : run_block(h, (int64_t)max_insns);
	h->budget_left = h->block_start = 0;
	if (ex == EXIT_WFI && mode == RUN_LOOP && !rv_pending_interrupts(h)) wait_for_interrupt(h);
	return h->instret - start;
}

/* Runs run_some until `insns` instructions retired: exactly that many when stepping, else at least. */
static uint64_t run_counted(struct rv_hart *h, uint64_t insns, enum run_mode mode)
{
	uint64_t done = 0;
	while (done < insns && !atomic_load(&h->stop)) {
		uint64_t chunk = mode == RUN_EXACT && insns - done < BLOCK_INSNS ? insns - done : BLOCK_INSNS;
		uint64_t n = run_some(h, chunk, mode);
		done += n ? n : 1; /* a trap without retirement still makes progress */
	}
	return done;
}

uint64_t rv_hart_step(struct rv_hart *h, uint64_t max_insns)
{
	return run_counted(h, max_insns, RUN_EXACT);
}

uint64_t rv_hart_run_for(struct rv_hart *h, uint64_t min_insns)
{
	return run_counted(h, min_insns, RUN_NO_SLEEP);
}

void rv_hart_run(struct rv_hart *h)
{
	while (!atomic_load(&h->stop)) {
		if (atomic_load(&h->paused)) {
			pthread_mutex_lock(&h->wait_lock);
			while (atomic_load(&h->paused) && !atomic_load(&h->stop))
				pthread_cond_wait(&h->wait_cond, &h->wait_lock);
			pthread_mutex_unlock(&h->wait_lock);
			continue;
		}
		if (!lease_valid(h->lease)) { /* fenced: not one more instruction until renewed */
			lease_wait(h->lease, &h->stop);
			continue;
		}
		run_some(h, BLOCK_INSNS, RUN_LOOP);
		if (rv_throttle_active(&h->throttle))
			rv_throttle_wait(&h->throttle, h->instret, &h->stop, &h->paused);
	}
}
