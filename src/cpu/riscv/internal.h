/*
 * internal.h — what the files of the RISC-V core share and nobody else sees:
 * trap entry, CSR access, the MMU slow paths and the FPU executor.
 */
#ifndef CLOISON_RV_INTERNAL_H
#define CLOISON_RV_INTERNAL_H

#include "hart.h"

#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Instructions retired in the current run so far, at a sync point (an exception, a CSR access):
 * the budget spent, less what translated code charged ahead (jit_retired) or charged for a compare
 * pair's skipped half (jit_pair_skips). */
static inline uint64_t rv_run_retired(const struct rv_hart *h)
{
	return h->block_start - h->budget_left + (uint64_t)(int64_t)h->jit_retired -
	       2 * (uint64_t)h->jit_pair_skips;
}

/* mstatus bits */
#define MSTATUS_SIE (1ULL << 1)
#define MSTATUS_MIE (1ULL << 3)
#define MSTATUS_SPIE (1ULL << 5)
#define MSTATUS_UBE (1ULL << 6)
#define MSTATUS_MPIE (1ULL << 7)
#define MSTATUS_SPP (1ULL << 8)
#define MSTATUS_VS (3ULL << 9)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3ULL << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3ULL << 13)
#define MSTATUS_XS (3ULL << 15)
#define MSTATUS_MPRV (1ULL << 17)
#define MSTATUS_SUM (1ULL << 18)
#define MSTATUS_MXR (1ULL << 19)
#define MSTATUS_TVM (1ULL << 20)
#define MSTATUS_TW (1ULL << 21)
#define MSTATUS_TSR (1ULL << 22)
#define MSTATUS_UXL (3ULL << 32)
#define MSTATUS_SXL (3ULL << 34)
#define MSTATUS_GVA (1ULL << 38) /* H: mtval holds a guest virtual address */
#define MSTATUS_MPV (1ULL << 39) /* H: V before the trap into M */
#define MSTATUS_SD (1ULL << 63)

/* hstatus bits (H) */
#define HSTATUS_GVA (1ULL << 6)
#define HSTATUS_SPV (1ULL << 7)
#define HSTATUS_SPVP (1ULL << 8)
#define HSTATUS_HU (1ULL << 9)
#define HSTATUS_VTVM (1ULL << 20)
#define HSTATUS_VTW (1ULL << 21)
#define HSTATUS_VTSR (1ULL << 22)
#define HSTATUS_VSXL (3ULL << 32)

/* The VS-level interrupts (H): always delegated past M to HS, maybe on to VS by hideleg. */
#define RV_VS_IRQS ((1ULL << RV_IRQ_VSSI) | (1ULL << RV_IRQ_VSTI) | (1ULL << RV_IRQ_VSEI))

/* menvcfg / senvcfg bits (STCE and PBMTE exist in menvcfg only) */
#define ENVCFG_FIOM (1ULL << 0)
#define ENVCFG_CBIE (3ULL << 4)
#define ENVCFG_CBCFE (1ULL << 6)
#define ENVCFG_CBZE (1ULL << 7)
#define MENVCFG_ADUE (1ULL << 61)
#define MENVCFG_PBMTE (1ULL << 62)
#define MENVCFG_STCE (1ULL << 63)

#define RV_PAGE_SHIFT 12
#define RV_PAGE_SIZE 4096ULL
#define RV_PAGE_MASK (~(RV_PAGE_SIZE - 1))

enum rv_access { RV_ACCESS_READ, RV_ACCESS_WRITE, RV_ACCESS_EXEC };

/* trap.c */
_Noreturn void rv_raise(struct rv_hart *h, uint64_t cause, uint64_t tval);
void rv_enter_trap(struct rv_hart *h, uint64_t cause, uint64_t tval, bool interrupt);
uint64_t rv_pending_interrupts(struct rv_hart *h);
bool rv_take_interrupt(struct rv_hart *h);
bool rv_interrupt_ready(struct rv_hart *h);
/* Changes privilege and virtualization mode (which also selects the TLB set). */
void rv_set_mode(struct rv_hart *h, unsigned priv, bool virt);
uint64_t rv_read_mip(struct rv_hart *h);

/* csr.c. Return 0, or the exception the access raises (RV_EXC_ILLEGAL or, when V=1,
 * RV_EXC_VIRTUAL_INSN). */
unsigned rv_csr_read(struct rv_hart *h, unsigned csr, uint64_t *val);
unsigned rv_csr_write(struct rv_hart *h, unsigned csr, uint64_t val);
/* What csrrs/csrrc on `csr` modify: the value read, except for the interrupt-pending registers,
 * whose read-only lines (an external interrupt line, a timer) must not be latched. */
uint64_t rv_csr_rmw_base(struct rv_hart *h, unsigned csr, uint64_t read);

/* hyp.c: the hypervisor extension's CSRs (hstatus..hgatp, vs*, mtval2, mtinst), read and written
 * through these when the hart offers H; and its instructions. */
bool rv_hyp_csr_read(struct rv_hart *h, unsigned csr, uint64_t *val);
bool rv_hyp_csr_write(struct rv_hart *h, unsigned csr, uint64_t val);
void rv_hyp_reset(struct rv_hart *h);
/* HLV, HLVX and HSV (SYSTEM, funct3 4, funct7 0x30-0x37); false if `insn` is none of them. */
bool rv_hyp_exec_load_store(struct rv_hart *h, uint32_t insn);
/* The VS-level timer's pending line (Sstc's vstimecmp against the guest's time). */
bool rv_hyp_vstimer_pending(const struct rv_hart *h, uint64_t now);

/* mmu.c */
void rv_tlb_flush_all(struct rv_hart *h);
/* Forgets the translations of satp's address space that are not global (another ASID, another
 * root table): what a new address space or sfence.vma of one ASID needs. */
void rv_tlb_flush_local(struct rv_hart *h);
/* Translates va for an access as though V=1 at nominal privilege `priv` (HLV, HLVX, HSV): both
 * stages, no TLB; `exec_perm` makes execute permission stand for read (HLVX). Raises on a fault
 * (the trap reports a guest virtual address). Returns the physical address. */
uint64_t rv_translate_guest(struct rv_hart *h, uint64_t va, enum rv_access acc, unsigned priv,
                            bool exec_perm);
/* Loads or stores at a physical address (RAM or MMIO); va is what a fault reports. */
uint64_t rv_load_phys(struct rv_hart *h, uint64_t va, uint64_t pa, unsigned size);
void rv_store_phys(struct rv_hart *h, uint64_t va, uint64_t pa, unsigned size, uint64_t val);
void rv_tlb_flush_page(struct rv_hart *h, uint64_t vaddr);
void rv_tlb_select(struct rv_hart *h);
void rv_jcache_flush(struct rv_hart *h);
/* Makes translated jumps to `pc` (current privilege) enter `entry` directly. */
void rv_jcache_fill(struct rv_hart *h, uint64_t pc, void *entry);
/* Forgets `pc` (current privilege): its block went stale. */
void rv_jcache_forget(struct rv_hart *h, uint64_t pc);
static inline unsigned rv_jcache_index(uint64_t pc)
{
	return (unsigned)(pc >> 1) & (RV_JCACHE_SIZE - 1);
}
uint64_t rv_load_slow(struct rv_hart *h, uint64_t va, unsigned size);
void rv_store_slow(struct rv_hart *h, uint64_t va, unsigned size, uint64_t val);
/* Whether the current set's 2 MiB table (read or write) holds va's mapping. */
bool rv_tlb_mega_maps(const struct rv_hart *h, uint64_t va, bool write);
void *rv_amo_ptr(struct rv_hart *h, uint64_t va, unsigned size);
/* The host address of va for a load (or a store), valid to the end of its page: translated, faults
 * raised as a load's (a store's); NULL when the page is not RAM (device memory). */
void *rv_data_page_ptr(struct rv_hart *h, uint64_t va, bool write);
/* The access check of cbo.clean, cbo.flush and cbo.inval: raises a store fault unless a load or a
 * store to va would be allowed. */
void rv_cbo_check(struct rv_hart *h, uint64_t va);
uint32_t rv_fetch_slow(struct rv_hart *h, uint64_t pc, unsigned *len);
/* Host address minus guest virtual address for the code page of pc (raises on fault). */
uintptr_t rv_fetch_addend(struct rv_hart *h, uint64_t pc);

/* hpm.c: Zihpm and Sscofpmf. Settling adds the instructions retired since the last settlement to the
 * counters (call it before the privilege changes); rebasing forgets them (after minstret is written). */
void rv_hpm_reset(struct rv_hart *h);
void rv_hpm_settle(struct rv_hart *h);
void rv_hpm_rebase(struct rv_hart *h);
bool rv_hpm_read(struct rv_hart *h, unsigned csr, uint64_t *val);
bool rv_hpm_write(struct rv_hart *h, unsigned csr, uint64_t val);
void rv_hpm_inhibit_changed(struct rv_hart *h);
/* Snapshots: whether loaded events are values a write could have made. */
bool rv_hpm_events_valid(const uint64_t event[RV_NHPM]);

/* trigger.c: Sdtrig. The checks raise a breakpoint exception when a trigger matches. */
void rv_trigger_reset(struct rv_hart *h);
bool rv_trigger_csr_read(const struct rv_hart *h, unsigned csr, uint64_t *val);
bool rv_trigger_csr_write(struct rv_hart *h, unsigned csr, uint64_t val);
void rv_trigger_check_exec(struct rv_hart *h, uint64_t pc);
void rv_trigger_check_data(struct rv_hart *h, uint64_t va, unsigned size, bool store);
/* Snapshots: whether loaded trigger registers are ones a write could have made; arming after a load. */
bool rv_trigger_state_valid(uint64_t tselect, const uint64_t tdata1[RV_NTRIGGERS]);
void rv_trigger_rearm(struct rv_hart *h);

/* vector.c: V. */
void rv_vector_reset(struct rv_hart *h);
bool rv_vector_csr_read(struct rv_hart *h, unsigned csr, uint64_t *val);
bool rv_vector_csr_write(struct rv_hart *h, unsigned csr, uint64_t val);
/* OP-V (0x57), and the vector loads and stores of LOAD-FP and STORE-FP (widths 0, 5, 6, 7). */
void rv_exec_vector(struct rv_hart *h, uint32_t insn);
void rv_exec_vector_mem(struct rv_hart *h, uint32_t insn);
/* SEW in bytes and LMUL in eighths of a vtype the hart supports (false: it sets vill). */
bool rv_vtype_decode(uint64_t vtype, unsigned *sew, unsigned *lmul8);
/* fpu.c (fpu_vector.h): OPFVV and OPFVF, once vector.c has decoded and checked the configuration. */
struct vargs;
void rv_exec_vector_fp(struct rv_hart *h, uint32_t insn, const struct vargs *v);
/* Snapshots: whether loaded vector CSRs are ones the hart could hold (vlenb already checked). */
bool rv_vector_state_valid(uint32_t vlenb, uint64_t vtype, uint64_t vl, uint64_t vstart, uint32_t vxrm,
                           uint32_t vxsat);

/* exec.c */
bool rv_hart_alloc_cache(struct rv_hart *h);
void rv_hart_free_cache(struct rv_hart *h);

/* fpu.c: executes one F/D computational instruction (not loads/stores). */
void rv_exec_fp(struct rv_hart *h, uint32_t insn);
/* Translated FP leaves the host's exception flags in MXCSR (and sets fp_pending, once per path
 * through a block: only the run loop clears it, after the block's return): they are taken into
 * fflags on every way from translated code to C (rv_fp_sync_flags: the block's return, the
 * generic executor, TLB-miss helpers; they stay in MXCSR, taking them twice changes nothing).
 * MXCSR must hold no flag the guest did not raise: a guest write of fflags and each interpreted
 * FP instruction clear them, device code (MMIO) runs between rv_fp_host_save and
 * rv_fp_host_restore, and each run of the hart drops any fflags lacks (C code between runs). */
void rv_fp_take_host_flags(struct rv_hart *h);
void rv_fp_drop_foreign_flags(const struct rv_hart *h);
void rv_fp_clear_host_flags(void);
unsigned rv_fp_host_save(void);
void rv_fp_host_restore(unsigned saved);
static inline void rv_fp_sync_flags(struct rv_hart *h)
{
	if (__builtin_expect(h->fp_pending, 0)) rv_fp_take_host_flags(h);
}

/* Fast paths, inlined into the interpreter. */
#define RV_DEFINE_LOAD(name, type)                                                                           \
	static inline uint64_t name(struct rv_hart *h, uint64_t va)                                          \
	{                                                                                                    \
		const struct rv_tlb_table *t = &h->tlb_cur->read;                                            \
		const unsigned i = (va >> 12) & (RV_TLB_SIZE - 1);                                           \
		if (likely(t->vpage[i] == (va & RV_PAGE_MASK)) &&                                            \
		    likely((va & (RV_PAGE_SIZE - 1)) <= RV_PAGE_SIZE - sizeof(type))) {                      \
			type v;                                                                              \
			if (unlikely(h->count_tlb)) h->tlb_counts.lookups++;                                 \
			memcpy(&v, (void *)(uintptr_t)(va + t->addend[i]), sizeof(type));                    \
			return (uint64_t)v;                                                                  \
		}                                                                                            \
		return (uint64_t)(type)rv_load_slow(h, va, sizeof(type));                                    \
	}
RV_DEFINE_LOAD(rv_load_u8, uint8_t)
RV_DEFINE_LOAD(rv_load_u16, uint16_t)
RV_DEFINE_LOAD(rv_load_u32, uint32_t)
RV_DEFINE_LOAD(rv_load_u64, uint64_t)
RV_DEFINE_LOAD(rv_load_s8, int8_t)
RV_DEFINE_LOAD(rv_load_s16, int16_t)
RV_DEFINE_LOAD(rv_load_s32, int32_t)

static inline void rv_store(struct rv_hart *h, uint64_t va, unsigned size, uint64_t val)
{
	const struct rv_tlb_table *t = &h->tlb_cur->write;
	const unsigned i = (va >> 12) & (RV_TLB_SIZE - 1);
	if (likely(t->vpage[i] == (va & RV_PAGE_MASK)) &&
	    likely((va & (RV_PAGE_SIZE - 1)) <= RV_PAGE_SIZE - size)) {
		void *p = (void *)(uintptr_t)(va + t->addend[i]);
		if (unlikely(h->count_tlb)) h->tlb_counts.lookups++;
		switch (size) {
		case 1: *(uint8_t *)p = (uint8_t)val; return;
		case 2: {
			uint16_t v = (uint16_t)val;
			memcpy(p, &v, 2);
			return;
		}
		case 4: {
			uint32_t v = (uint32_t)val;
			memcpy(p, &v, 4);
			return;
		}
		default: memcpy(p, &val, 8); return;
		}
	}
	rv_store_slow(h, va, size, val);
}

static inline uint32_t rv_fetch(struct rv_hart *h, uint64_t pc, unsigned *len)
{
	if (likely((pc & RV_PAGE_MASK) == h->fetch_vpage)) {
		uint16_t lo;
		memcpy(&lo, (void *)(uintptr_t)(pc + h->fetch_addend), 2);
		if ((lo & 3) != 3) {
			*len = 2;
			return lo;
		}
		if (likely((pc & (RV_PAGE_SIZE - 1)) != RV_PAGE_SIZE - 2)) {
			uint32_t w;
			memcpy(&w, (void *)(uintptr_t)(pc + h->fetch_addend), 4);
			*len = 4;
			return w;
		}
	}
	return rv_fetch_slow(h, pc, len);
}

/* With V=1, both mstatus.FS and vsstatus.FS are in effect (H). */
static inline bool rv_fs_off(const struct rv_hart *h)
{
	return (h->mstatus & MSTATUS_FS) == 0 || (h->virt && (h->vsstatus & MSTATUS_FS) == 0);
}

static inline void rv_fs_dirty(struct rv_hart *h)
{
	h->mstatus |= MSTATUS_FS | MSTATUS_SD;
	if (h->virt) h->vsstatus |= MSTATUS_FS | MSTATUS_SD;
}

#endif
