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
#include "internal.h"

#include <errno.h>
#include <time.h>

#define RD(i) (((i) >> 7) & 31)
#define RS1(i) (((i) >> 15) & 31)
#define RS2(i) (((i) >> 20) & 31)
#define F3(i) (((i) >> 12) & 7)
#define F7(i) ((i) >> 25)

static inline int64_t imm_i(uint32_t i) { return (int64_t)(int32_t)i >> 20; }
static inline int64_t imm_s(uint32_t i)
{
	return ((int64_t)(int32_t)(i & 0xfe000000) >> 20) | ((i >> 7) & 31);
}
static inline int64_t imm_b(uint32_t i)
{
	return ((int64_t)(int32_t)(i & 0x80000000) >> 19) | ((i & 0x80) << 4) | ((i >> 20) & 0x7e0) |
	       ((i >> 7) & 0x1e);
}
static inline int64_t imm_u(uint32_t i) { return (int64_t)(int32_t)(i & 0xfffff000); }
static inline int64_t imm_j(uint32_t i)
{
	return ((int64_t)(int32_t)(i & 0x80000000) >> 11) | (i & 0xff000) | ((i >> 9) & 0x800) |
	       ((i >> 20) & 0x7fe);
}
static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)v; }

/* M extension helpers with the spec's results for division by zero and overflow. */
static inline uint64_t rv_div(int64_t a, int64_t b)
{
	if (b == 0) return ~0ULL;
	if (a == INT64_MIN && b == -1) return (uint64_t)a;
	return (uint64_t)(a / b);
}
static inline uint64_t rv_divu(uint64_t a, uint64_t b) { return b ? a / b : ~0ULL; }
static inline uint64_t rv_rem(int64_t a, int64_t b)
{
	if (b == 0) return (uint64_t)a;
	if (a == INT64_MIN && b == -1) return 0;
	return (uint64_t)(a % b);
}
static inline uint64_t rv_remu(uint64_t a, uint64_t b) { return b ? a % b : a; }
static inline uint64_t rv_divw(int32_t a, int32_t b)
{
	if (b == 0) return ~0ULL;
	if (a == INT32_MIN && b == -1) return sext32((uint32_t)a);
	return sext32((uint32_t)(a / b));
}
static inline uint64_t rv_remw(int32_t a, int32_t b)
{
	if (b == 0) return sext32((uint32_t)a);
	if (a == INT32_MIN && b == -1) return 0;
	return sext32((uint32_t)(a % b));
}

/* Result of executing one instruction that leaves the fast loop. */
enum block_exit { EXIT_NONE, EXIT_IRQ_CHECK, EXIT_WFI };

static enum block_exit exec_system(struct rv_hart *h, uint32_t insn, uint64_t pc, unsigned len);
static void exec_amo(struct rv_hart *h, uint32_t insn);

static _Noreturn void illegal(struct rv_hart *h, uint32_t insn)
{
	rv_raise(h, RV_EXC_ILLEGAL, insn);
}

/*
 * Runs up to `budget` instructions. Returns why it stopped early, or EXIT_NONE
 * when the budget ran out. h->pc always holds the current instruction's
 * address, so an exception raised anywhere below sees the right epc.
 */
static enum block_exit run_block(struct rv_hart *h, uint64_t budget)
{
	uint64_t *x = h->x;
	uint64_t pc = h->pc;

	while (budget--) {
		unsigned len;
		h->pc = pc;
		uint32_t raw = rv_fetch(h, pc, &len);
		uint32_t insn = raw;
		if (len == 2) {
			insn = rv_expand_compressed((uint16_t)raw);
			if (unlikely(!insn)) illegal(h, raw);
		}
		uint64_t next = pc + len;
		unsigned rd = RD(insn);

		switch (insn & 0x7f) {
		case 0x37: /* lui */
			x[rd] = (uint64_t)imm_u(insn);
			break;
		case 0x17: /* auipc */
			x[rd] = pc + (uint64_t)imm_u(insn);
			break;
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
				if (unlikely(insn >> 26)) illegal(h, raw);
				x[rd] = a << (imm & 63);
				break;
			case 2: x[rd] = (int64_t)a < imm; break;
			case 3: x[rd] = a < (uint64_t)imm; break;
			case 4: x[rd] = a ^ (uint64_t)imm; break;
			case 5:
				if ((insn >> 26) == 0) x[rd] = a >> (imm & 63);
				else if ((insn >> 26) == 0x10) x[rd] = (uint64_t)((int64_t)a >> (imm & 63));
				else illegal(h, raw);
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
				if (unlikely(F7(insn))) illegal(h, raw);
				x[rd] = sext32((uint32_t)a << sh);
				break;
			case 5:
				if (F7(insn) == 0) x[rd] = sext32((uint32_t)a >> sh);
				else if (F7(insn) == 0x20) x[rd] = sext32((uint32_t)((int32_t)a >> sh));
				else illegal(h, raw);
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
			case 0x00a:
				x[rd] = (uint64_t)(((__int128)(int64_t)a * (unsigned __int128)b) >> 64);
				break;
			case 0x00b: x[rd] = (uint64_t)(((unsigned __int128)a * b) >> 64); break;
			case 0x00c: x[rd] = rv_div((int64_t)a, (int64_t)b); break;
			case 0x00d: x[rd] = rv_divu(a, b); break;
			case 0x00e: x[rd] = rv_rem((int64_t)a, (int64_t)b); break;
			case 0x00f: x[rd] = rv_remu(a, b); break;
			default: illegal(h, raw);
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
			case 0x00d:
				x[rd] = (uint32_t)b ? sext32((uint32_t)a / (uint32_t)b) : ~0ULL;
				break;
			case 0x00e: x[rd] = rv_remw((int32_t)a, (int32_t)b); break;
			case 0x00f:
				x[rd] = (uint32_t)b ? sext32((uint32_t)a % (uint32_t)b) : sext32(a);
				break;
			default: illegal(h, raw);
			}
			break;
		}
		case 0x0f: /* fence, fence.i: memory is coherent and no code is cached */
			if (F3(insn) > 1) illegal(h, raw);
			break;
		case 0x2f:
			exec_amo(h, insn);
			break;
		case 0x07: { /* flw / fld */
			unsigned f3 = F3(insn);
			if (unlikely(rv_fs_off(h) || (f3 != 2 && f3 != 3))) illegal(h, raw);
			uint64_t a = x[RS1(insn)] + (uint64_t)imm_i(insn);
			h->f[rd] = f3 == 2 ? (rv_load_u32(h, a) | 0xffffffff00000000ULL) : rv_load_u64(h, a);
			rv_fs_dirty(h);
			break;
		}
		case 0x27: { /* fsw / fsd */
			unsigned f3 = F3(insn);
			if (unlikely(rv_fs_off(h) || (f3 != 2 && f3 != 3))) illegal(h, raw);
			rv_store(h, x[RS1(insn)] + (uint64_t)imm_s(insn), 1u << f3, h->f[RS2(insn)]);
			break;
		}
		case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
			if (unlikely(rv_fs_off(h))) illegal(h, raw);
			h->pc = pc;
			rv_exec_fp(h, insn);
			break;
		case 0x73: {
			x[0] = 0;
			h->instret++;
			enum block_exit ex = exec_system(h, insn, pc, len);
			if (ex != EXIT_NONE) {
				x[0] = 0;
				return ex;
			}
			pc = h->pc;
			continue;
		}
		default:
			illegal(h, raw);
		}
		x[0] = 0;
		pc = next;
		h->instret++;
	}
	h->pc = pc;
	return EXIT_NONE;
}

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

	uint64_t old;
	if (size == 4) {
		uint32_t *q = p, s = (uint32_t)src, o;
		switch (f5) {
		case 0x01: o = __atomic_exchange_n(q, s, __ATOMIC_SEQ_CST); break;
		case 0x00: o = __atomic_fetch_add(q, s, __ATOMIC_SEQ_CST); break;
		case 0x04: o = __atomic_fetch_xor(q, s, __ATOMIC_SEQ_CST); break;
		case 0x0c: o = __atomic_fetch_and(q, s, __ATOMIC_SEQ_CST); break;
		case 0x08: o = __atomic_fetch_or(q, s, __ATOMIC_SEQ_CST); break;
		case 0x10: case 0x14: case 0x18: case 0x1c: {
			o = __atomic_load_n(q, __ATOMIC_SEQ_CST);
			uint32_t n;
			do {
				if (f5 == 0x10) n = (int32_t)o < (int32_t)s ? o : s;
				else if (f5 == 0x14) n = (int32_t)o > (int32_t)s ? o : s;
				else if (f5 == 0x18) n = o < s ? o : s;
				else n = o > s ? o : s;
			} while (!__atomic_compare_exchange_n(q, &o, n, false, __ATOMIC_SEQ_CST,
							      __ATOMIC_SEQ_CST));
			break;
		}
		default: illegal(h, insn);
		}
		old = sext32(o);
	} else {
		uint64_t *q = p, s = src, o;
		switch (f5) {
		case 0x01: o = __atomic_exchange_n(q, s, __ATOMIC_SEQ_CST); break;
		case 0x00: o = __atomic_fetch_add(q, s, __ATOMIC_SEQ_CST); break;
		case 0x04: o = __atomic_fetch_xor(q, s, __ATOMIC_SEQ_CST); break;
		case 0x0c: o = __atomic_fetch_and(q, s, __ATOMIC_SEQ_CST); break;
		case 0x08: o = __atomic_fetch_or(q, s, __ATOMIC_SEQ_CST); break;
		case 0x10: case 0x14: case 0x18: case 0x1c: {
			o = __atomic_load_n(q, __ATOMIC_SEQ_CST);
			uint64_t n;
			do {
				if (f5 == 0x10) n = (int64_t)o < (int64_t)s ? o : s;
				else if (f5 == 0x14) n = (int64_t)o > (int64_t)s ? o : s;
				else if (f5 == 0x18) n = o < s ? o : s;
				else n = o > s ? o : s;
			} while (!__atomic_compare_exchange_n(q, &o, n, false, __ATOMIC_SEQ_CST,
							      __ATOMIC_SEQ_CST));
			break;
		}
		default: illegal(h, insn);
		}
		old = o;
	}
	h->x[rd] = old;
}

/* Zicsr instructions. Returns EXIT_IRQ_CHECK when the write may unmask an interrupt. */
static enum block_exit exec_csr(struct rv_hart *h, uint32_t insn, uint64_t next)
{
	unsigned f3 = F3(insn), csr = insn >> 20, rs1 = RS1(insn), rd = RD(insn);
	uint64_t src = (f3 & 4) ? rs1 : h->x[rs1];
	bool do_read = !((f3 & 3) == 1 && rd == 0);
	bool do_write = (f3 & 3) == 1 || rs1 != 0;
	uint64_t old = 0;

	if (do_write && (csr >> 10) == 3) illegal(h, insn);
	if (do_read || (f3 & 3) != 1) {
		if (!rv_csr_read(h, csr, &old)) illegal(h, insn);
	}
	if (do_write) {
		uint64_t val = src;
		if ((f3 & 3) == 2) val = old | src;
		else if ((f3 & 3) == 3) val = old & ~src;
		if (!rv_csr_write(h, csr, val)) illegal(h, insn);
	}
	if (!do_read && !rv_csr_read(h, csr, &old)) illegal(h, insn); /* existence check */
	h->x[rd] = old;
	h->pc = next;
	return do_write ? EXIT_IRQ_CHECK : EXIT_NONE;
}

static enum block_exit exec_system(struct rv_hart *h, uint32_t insn, uint64_t pc, unsigned len)
{
	if (F3(insn) != 0 && F3(insn) != 4) return exec_csr(h, insn, pc + len);
	if (F3(insn) == 4) illegal(h, insn);
	if (RD(insn) != 0) illegal(h, insn);

	unsigned f7 = F7(insn);
	if (f7 == 0x09) { /* sfence.vma */
		if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)))
			illegal(h, insn);
		if (RS1(insn)) rv_tlb_flush_page(h, h->x[RS1(insn)]);
		else rv_tlb_flush_all(h);
		h->pc = pc + len;
		return EXIT_NONE;
	}
	if (RS1(insn) != 0) illegal(h, insn);
	switch (insn >> 20) {
	case 0x000: /* ecall */
		h->instret--;
		rv_raise(h, RV_EXC_ECALL_U + h->priv, 0);
	case 0x001: /* ebreak */
		h->instret--;
		rv_raise(h, RV_EXC_BREAKPOINT, pc);
	case 0x102: { /* sret */
		if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TSR)))
			illegal(h, insn);
		uint64_t s = h->mstatus;
		unsigned spp = (s & MSTATUS_SPP) ? RV_PRIV_S : RV_PRIV_U;
		s = (s & ~MSTATUS_SIE) | ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
		s |= MSTATUS_SPIE;
		s &= ~MSTATUS_SPP;
		s &= ~MSTATUS_MPRV; /* returning below M */
		h->mstatus = s;
		h->pc = h->sepc;
		rv_set_priv(h, spp);
		return EXIT_IRQ_CHECK;
	}
	case 0x302: { /* mret */
		if (h->priv != RV_PRIV_M) illegal(h, insn);
		uint64_t s = h->mstatus;
		unsigned mpp = (unsigned)((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
		s = (s & ~MSTATUS_MIE) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
		s |= MSTATUS_MPIE;
		s &= ~MSTATUS_MPP;
		if (mpp != RV_PRIV_M) s &= ~MSTATUS_MPRV;
		h->mstatus = s;
		h->pc = h->mepc;
		rv_set_priv(h, mpp);
		return EXIT_IRQ_CHECK;
	}
	case 0x105: /* wfi */
		if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TW)))
			illegal(h, insn);
		h->pc = pc + len;
		return EXIT_WFI;
	default:
		illegal(h, insn);
	}
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

#define BLOCK_INSNS 4096

/* One step of the run loop: take a pending interrupt, run a block, maybe sleep. */
static uint64_t run_some(struct rv_hart *h, uint64_t max_insns, bool may_sleep)
{
	uint64_t start = h->instret;
	if (setjmp(h->trap_jmp)) {
		/* An exception was taken; h->pc is the handler. */
		return h->instret - start;
	}
	atomic_store(&h->kick, 0);
	rv_take_interrupt(h);
	enum block_exit ex = run_block(h, max_insns);
	if (ex == EXIT_WFI && may_sleep && !rv_pending_interrupts(h)) wait_for_interrupt(h);
	return h->instret - start;
}

uint64_t rv_hart_step(struct rv_hart *h, uint64_t max_insns)
{
	uint64_t done = 0;
	while (done < max_insns && !atomic_load(&h->stop)) {
		uint64_t n = run_some(h, max_insns - done < BLOCK_INSNS ? max_insns - done : BLOCK_INSNS, false);
		done += n ? n : 1; /* a trap without retirement still makes progress */
	}
	return done;
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
		run_some(h, BLOCK_INSNS, true);
	}
}
