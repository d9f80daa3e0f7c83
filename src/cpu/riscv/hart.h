/*
 * hart.h — one RISC-V hart (RV64IMAFDC and the extensions of isa.h; M/S/U).
 *
 * A hart owns its architectural state (registers, CSRs, privilege and, with
 * the hypervisor extension, the virtualization mode V), its
 * software TLB and its interrupt lines. It reaches the outside world only
 * through `struct rv_bus`: guest RAM as a host pointer (the fast path) and
 * MMIO callbacks (the slow path). It never knows which devices exist.
 *
 * Threading: each hart runs on its own host thread. Other threads touch a
 * hart only through the atomic interrupt lines (`rv_hart_set_irq`), the
 * timer compare (`rv_hart_set_mtimecmp`) and `rv_hart_kick`.
 */
#ifndef CLOISON_RV_HART_H
#define CLOISON_RV_HART_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/riscv/throttle.h"
#include "util/lease.h"
#include "util/dirty_log.h"
#include "util/state.h"

enum rv_priv { RV_PRIV_U = 0, RV_PRIV_S = 1, RV_PRIV_M = 3 };

/* Interrupt bit numbers in mip/mie. */
enum {
	RV_IRQ_SSI = 1,
	RV_IRQ_VSSI = 2, /* H: virtual supervisor (VS-level) interrupts */
	RV_IRQ_MSI = 3,
	RV_IRQ_STI = 5,
	RV_IRQ_VSTI = 6,
	RV_IRQ_MTI = 7,
	RV_IRQ_SEI = 9,
	RV_IRQ_VSEI = 10,
	RV_IRQ_MEI = 11,
	RV_IRQ_SGEI = 12,  /* H: supervisor guest external interrupt */
	RV_IRQ_LCOFI = 13, /* Sscofpmf: a counter overflowed */
};

/* Exception causes. */
enum {
	RV_EXC_INSN_MISALIGNED = 0,
	RV_EXC_INSN_ACCESS = 1,
	RV_EXC_ILLEGAL = 2,
	RV_EXC_BREAKPOINT = 3,
	RV_EXC_LOAD_MISALIGNED = 4,
	RV_EXC_LOAD_ACCESS = 5,
	RV_EXC_STORE_MISALIGNED = 6,
	RV_EXC_STORE_ACCESS = 7,
	RV_EXC_ECALL_U = 8,
	RV_EXC_ECALL_S = 9,
	RV_EXC_ECALL_VS = 10,
	RV_EXC_ECALL_M = 11,
	RV_EXC_INSN_PAGE = 12,
	RV_EXC_LOAD_PAGE = 13,
	RV_EXC_STORE_PAGE = 15,
	RV_EXC_INSN_GUEST_PAGE = 20, /* H: faults of the G-stage translation */
	RV_EXC_LOAD_GUEST_PAGE = 21,
	RV_EXC_VIRTUAL_INSN = 22, /* H: an instruction HS-mode may run but V=1 may not */
	RV_EXC_STORE_GUEST_PAGE = 23,
};

/* What the board offers a hart. MMIO callbacks return false on a bus error. */
struct rv_bus {
	uint8_t *ram;
	uint64_t ram_base;
	uint64_t ram_size;
	bool (*mmio_read)(void *opaque, uint64_t addr, unsigned size, uint64_t *val);
	bool (*mmio_write)(void *opaque, uint64_t addr, unsigned size, uint64_t val);
	uint64_t (*read_time)(void *opaque); /* the platform timer (mtime) */
	struct dirty_log *dirty;             /* pages written (live migration), or NULL */
	void *opaque;
};

/* Software TLB: host address = guest virtual address + addend. Large (programs with big working sets
 * walk page tables otherwise), yet cheap to flush: a set logs the slots it filled since its last
 * flush and clears only those, unless the log overflowed. A table keeps its tags apart from its
 * addends, each an array of 8-byte words, so that translated code finds both from the slot number
 * alone (one bit-field extract of the address, scaled by 8 in the addressing mode: no mask). */
#define RV_TLB_SIZE 65536
#define RV_TLB_FILL_LOG 256
struct rv_tlb_table {
	uint64_t vpage[RV_TLB_SIZE]; /* guest virtual page address, or RV_TLB_INVALID */
	uintptr_t addend[RV_TLB_SIZE];
};
#define RV_TLB_INVALID (~(uint64_t)0)

/* The slots of a table filled since its last flush, so a flush clears only those; past
 * RV_TLB_FILL_LOG fills it has lost count (n > RV_TLB_FILL_LOG) and the flush clears everything. */
struct rv_fill_log {
	uint32_t n;
	uint16_t slot[RV_TLB_FILL_LOG];
};

/* TLB sets: permissions depend on privilege and mstatus.SUM, so each mode
 * has its own set and toggling SUM (Linux does it per uaccess) costs nothing.
 * VU and VS (V=1) have their own: they translate in two stages (hgatp under vsatp). */
enum {
	RV_TLB_SET_U,
	RV_TLB_SET_S,
	RV_TLB_SET_S_SUM,
	RV_TLB_SET_M,
	RV_TLB_SET_VU,
	RV_TLB_SET_VS,
	RV_TLB_SET_VS_SUM,
	RV_TLB_NSETS
};
/* 2 MiB entries, for data in pages of 2 MiB or more (a megapage, or 2 MiB of a gigapage) under one
 * translation stage: filled with the 4 KiB entry, looked up when a 4 KiB one misses, before a walk
 * (a program striding over a large buffer the guest backs with huge pages then walks once per
 * 2 MiB, not per 4 KiB page the direct-mapped 4 KiB table lost to a conflict). */
#define RV_TLB_MEGA_SIZE 2048 /* the slot: an address's bits 21-31 (one shift of its low half) */
struct rv_tlb_mega_table {
	uint64_t vpage[RV_TLB_MEGA_SIZE];
	uintptr_t addend[RV_TLB_MEGA_SIZE];
};
#define RV_MEGA_SHIFT 21
_Static_assert((uint64_t)RV_TLB_MEGA_SIZE << RV_MEGA_SHIFT == (uint64_t)1 << 32,
               "a 2 MiB slot is bits 21-31");
struct rv_tlb_set {
	struct rv_tlb_table read, write, exec;
	struct rv_fill_log log;       /* every fill */
	struct rv_fill_log local_log; /* fills of one address space's mappings (not global, under satp) */
	struct rv_tlb_mega_table mega_read, mega_write;     /* vpage: the 2 MiB's first address */
	struct rv_fill_log mega_log, mega_local_log;        /* as log and local_log, for the 2 MiB entries */
	uint8_t pad[4096 - 2 * sizeof(struct rv_fill_log)]; /* sets and fields past them keep their
	                                                     * offsets modulo 4 KiB (see rv_hart) */
};

/* Indirect-jump cache: guest pc -> entry of its translated block (past the prologue), one table
 * per privilege and virtualization mode (rv_jcache_table), filled by the dispatcher and read by
 * translated `jalr`. Keyed by virtual address, so it is flushed with the TLB (a mapping changes
 * only with sfence.vma, satp, vsatp, hgatp or an hfence). */
#define RV_JCACHE_SIZE 8192
#define RV_JCACHE_TABLES 6 /* U, S, (unused), M, VU, VS */
struct rv_jcache {
	struct rv_jcache_entry {
		uint64_t pc; /* RV_TLB_INVALID when empty */
		void *code;
	} e[RV_JCACHE_SIZE];
	struct rv_fill_log log;
	uint64_t regions; /* bit (pc >> 21) % 64 of every pc filled since the table was last cleared */
};

/* Data accesses looked up in the TLB (counted only while rv_hart.count_tlb is on: --stats), and
 * those that walked the page table (always counted). Kept apart from the counters translated code
 * touches all the time, not to move them. */
struct rv_tlb_counts {
	uint64_t lookups;
	uint64_t data_misses;
	uint64_t mega_hits;      /* 4 KiB misses served by a 2 MiB entry (no walk) */
	uint64_t probe_turns;    /* translated probes turned to the 2 MiB table or back (jit_x86_mem.c) */
	uint64_t hints;          /* translated loads given a page hint (jit_x86_mem.c) */
	uint64_t hints_dropped;  /* ... that gave it up */
	uint64_t probes_unbased; /* translated probes whose slot came from the base, moved off it */
};

/* Translated U-mode loads given a page hint (jit_x86_mem.c, "probe sites"): a slot each, handed
 * out in turn (a reused slot first settles its last load); cleared with the code. Apart from the
 * hart, below 2 GiB: translated code addresses the slots absolutely. */
#define RV_JIT_HINTS 4096
#define RV_JIT_TRIALS 256
struct rv_jit_hints {
	struct rv_jit_hint {
		const uint64_t *entry; /* the 4 KiB entry the load last used (its tag: rv_tlb_table) */
		uint64_t runs;         /* its runs while on trial, */
		uint32_t misses;       /* ... and its wrong hints */
		void *record;          /* its probe record (jit_x86_mem.c) */
	} slot[RV_JIT_HINTS];
	uint64_t no_entry; /* where a new hint points: a tag that never matches */
	uint32_t next;     /* the slot handed out next (modulo RV_JIT_HINTS) */
	unsigned ntrial;
	uint16_t trial[RV_JIT_TRIALS]; /* the slots of hinted loads still counting their runs */
	uint32_t runs;                 /* runs of the run loop (rv_jit_settle_hints every 1024) */
};

/* What the engine did (counters only grow; read racily by --stats). */
struct rv_engine_stats {
	uint64_t tlb_misses;  /* page-table walks: instruction fetches and data accesses */
	uint64_t tlb_flushes; /* whole-TLB flushes (satp, sfence.vma without an address, ...) */
	uint64_t blocks;      /* blocks translated */
	uint64_t block_runs;  /* entries into translated code from the dispatcher */
	uint64_t chains;      /* direct jumps patched between blocks */
	uint64_t code_bytes;  /* host code the blocks took (out-of-line paths and checks included) */
	uint64_t
	    stale_blocks; /* blocks found changed (guest code rewritten) or translated for another address */
	uint64_t code_flushes; /* full flushes of the code cache */
};

struct rv_hart {
	/* Architectural state. */
	uint64_t x[33]; /* x[32] is a write sink: decoded ops that target x0 write there */
	uint64_t f[32];
	uint64_t pc;
	unsigned priv;
	bool virt;       /* V: running a guest (VS or VU mode), H only */
	bool fp_pending; /* translated FP ran since its host flags were last taken (rv_fp_sync_flags) */
	uint32_t fflags, frm;

	uint64_t mstatus, misa, medeleg, mideleg, mie, mtvec, mcounteren;
	uint64_t mscratch, mepc, mcause, mtval, menvcfg, mcountinhibit;
	uint64_t stvec, scounteren, sscratch, sepc, scause, stval, satp, senvcfg;
	uint64_t stimecmp;
	uint64_t mip_sw; /* software-writable mip bits (SSIP, STIP w/o Sstc, SEIP) */
	uint64_t pmpcfg[2];
	uint64_t pmpaddr[16];
	uint64_t hartid;
	uint64_t instret; /* instructions retired (also mcycle) */
	uint64_t ext;     /* the extensions it offers (isa.h): fixed while it runs */

	/* Lines driven by other threads: MSIP (CLINT), MEIP/SEIP (PLIC). */
	_Atomic uint64_t irq_lines;
	_Atomic uint64_t mtimecmp;

	/* LR/SC reservation. */
	uint64_t resv_addr;
	uint64_t resv_val;
	bool resv_valid;
	bool count_tlb; /* count data TLB lookups (tlb_counts): costs a little */
	/* Translated compare pairs whose first compare differed since translated code last returned to
	 * C: each charged two instructions it did not run (its second load and branch). Counted here,
	 * not given back to the budget register, whose loop tests would then wait on the loaded bytes;
	 * rv_run_retired() and the return to C take them off. In the padding before tlb_cur. */
	uint32_t jit_pair_skips;

	/* What translated code and the run loop touch all the time, in the first 4 KiB with the
	 * registers: a field at the same offset modulo 4 KiB as a register (past the TLB) made the
	 * host CPU see false dependencies between their stores and loads (shell workload 1.6x slower).
	 * The layout below is measured, not arbitrary: moving jit_exit..budget_left by 4-24 bytes
	 * (a bool and two counters added among them) made xz 1.2-1.3x slower, while moving the TLB
	 * alone by 24 bytes changed nothing. Re-run bench/cpu.sh's xz when changing it. */
	struct rv_tlb_set *tlb_cur;   /* set for the current priv/SUM */
	struct rv_jcache *jcache_cur; /* table for the current priv/V */
	int32_t jit_retired;          /* at a helper call: less the budget charged ahead of it (owed) */
	int jit_exit;                 /* why translated code ended after an instruction it left to exec.c */
	void *jit_patch_site;         /* the last static block exit taken, to chain to its target */
	uint64_t jit_patch_pc;        /* ... and that target */
	uint64_t block_start;         /* budget the current block started with */
	struct rv_engine_stats stats;
	uint64_t jit_ras_floor; /* translated code: its return-address stack's limit (jit_x86_exit.c) */
	uint64_t budget_left;   /* budget left at the last sync point (exceptions, CSR reads) */
	uint64_t jit_probe_addend[16]; /* translated code: a shared probe's page addend (jit_probe.h) */

	/* Memory access acceleration. */
	struct rv_tlb_set tlb[RV_TLB_NSETS];
	uint64_t fetch_vpage; /* cached translation of the current code page */
	uintptr_t fetch_addend;
	bool s_code_local; /* S-mode ran code from a non-global page since satp's last change */
	/* Entries filled from pages larger than 4 KiB (superpages, NAPOT), which an sfence.vma of any
	 * of their addresses drops whole: a bit per 2 MiB region and per gigapage's 1 GiB (hashed:
	 * mmu.c's mega_region, giga_region), set when a fill comes from one, cleared when all are
	 * flushed. */
	uint64_t tlb_mega_regions[64];
	uint64_t tlb_giga_regions;
	uint8_t walk_leaf_shift; /* log2 of the size of the page the last walk ended at (12: 4 KiB) */
	struct rv_tlb_counts tlb_counts;
	void *jit_site; /* a translated access's probe record, from its miss path to its helper */

	struct rv_bus bus;
	jmp_buf trap_jmp; /* exceptions unwind to the run loop */

	/* Run control. */
	_Atomic int kick;          /* leave the inner loop soon: an IRQ or a stop */
	_Atomic int stop;          /* leave rv_hart_run */
	const struct lease *lease; /* NULL, or the run lease it obeys between blocks (util/lease.h) */
	_Atomic int paused;
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	uint64_t wfi_count;
	struct rv_throttle throttle; /* speed limits (throttle.h) */

	/* Decoded-instruction cache (exec.c): one slot per halfword of guest RAM,
	 * plus two sentinel slots per page; reserved lazily (MAP_NORESERVE). */
	struct rv_op *ops;
	uint64_t ops_bytes;
	uint64_t *ops_backed; /* a bit per 4 KiB of ops: populated (exec.c) */
	struct rv_jit *jit;   /* translated code (jit.h), NULL when the JIT is off */
	struct rv_jcache jcache[RV_JCACHE_TABLES];

	/* Cold architectural state, kept after the hot fields: the programmable counters (Zihpm,
	 * Sscofpmf, hpm.c), counting instructions retired up to hpm_last; */
#define RV_NHPM 29
	uint64_t hpm_counter[RV_NHPM], hpm_event[RV_NHPM], hpm_last;
	uint32_t hpm_active; /* counters counting a countable event */
	                     /* debug triggers (Sdtrig, trigger.c); */
#define RV_NTRIGGERS 2
	uint64_t tselect, tdata1[RV_NTRIGGERS], tdata2[RV_NTRIGGERS];
	bool trig_exec, trig_data; /* some trigger watches fetches / loads or stores */

	/* Hypervisor extension (H, hyp.c): HS-level CSRs and the VS CSRs that stand in for the
	 * supervisor ones while V=1; mtval2/mtinst; and what the next trap entry reports besides
	 * its cause and value (set by the two-stage translation, consumed by rv_enter_trap). */
	uint64_t hstatus, hedeleg, hideleg, hvip, hcounteren, henvcfg, hgatp, htimedelta, htval, htinst;
	uint64_t vsstatus, vstvec, vsscratch, vsepc, vscause, vstval, vsatp, vstimecmp;
	uint64_t mtval2, mtinst;
	uint64_t trap_tval2, trap_tinst; /* guest physical address >> 2, trap instruction */
	bool trap_gva;                   /* the value is a guest virtual address (HLV/HSV, MPRV with MPV) */

	/* Vector state (V, vector.c): VLEN = 8 * vlenb bits, up to 1024. */
#define RV_VLENB_MAX 128
	uint64_t vl, vtype, vstart;
	uint32_t vxrm, vxsat, vlenb;
	uint8_t vreg[32 * RV_VLENB_MAX];

	/* TLB sets cleared since rv_hart_init: a set is cleared when first selected (mmu.c's
	 * tlb_set_ready), so the sets a guest never uses (H's, often M's) are never touched. */
	bool tlb_ready[RV_TLB_NSETS];

	struct rv_jit_hints *jit_hints; /* page hints of translated loads (jit_x86_mem.c), or NULL */
};

/* Lifecycle. */
/* Memory for a hart, zeroed: below 2 GiB where the host allows (translated code addresses the
 * hart's fields absolutely, jit_x86_64.c). NULL without memory; rv_hart_release() frees it. */
struct rv_hart *rv_hart_alloc(void);
void rv_hart_release(struct rv_hart *h);
/* The bus RAM must be followed by 4 KiB of readable padding. Returns false if
 * the host refuses memory for the decoded-instruction cache. */
bool rv_hart_init(struct rv_hart *h, uint64_t hartid, const struct rv_bus *bus);
/* Sets the extensions the hart offers (a set of isa.h; rv_hart_init offers rv_ext_defaults()).
 * Before it first runs. */
void rv_hart_set_extensions(struct rv_hart *h, uint64_t ext);
/* Whether this host has the translator (x86-64 hosts). */
bool rv_hart_jit_available(void);
/* Turns the translator on. Returns false if it cannot (no memory, or none on this host). */
bool rv_hart_enable_jit(struct rv_hart *h);
void rv_hart_reset(struct rv_hart *h, uint64_t pc);
void rv_hart_destroy(struct rv_hart *h);
/* Instructions retired so far, exact even in the middle of a block. */
uint64_t rv_hart_instret(const struct rv_hart *h);

/* Snapshots: the architectural state into/out of a section the caller opened (version
 * RV_HART_STATE_VERSION; older ones load, with what they lack reset). Loading range-checks
 * every field and leaves the hart untouched on failure (r->err says why); it flushes all caches.
 * The hart must not be running. */
#define RV_HART_STATE_VERSION 3
void rv_hart_save(struct rv_hart *h, struct state_writer *w);
void rv_hart_load(struct rv_hart *h, struct state_reader *r);
/* Drops every cached translation (after another thread changed RAM or page tables wholesale). */
void rv_hart_flush_tlb(struct rv_hart *h);

/* Run until `stop` is set. Returns the number of instructions retired. */
void rv_hart_run(struct rv_hart *h);
/* Run at most `max_insns` instructions (tests, bare-metal stepping), interpreted. */
uint64_t rv_hart_step(struct rv_hart *h, uint64_t max_insns);
/* Run at least `min_insns` instructions as rv_hart_run does (translated code where the translator is
 * on; blocks of up to 16384 instructions), but never waiting in WFI (tests that compare engines).
 * Returns the instructions retired. */
uint64_t rv_hart_run_for(struct rv_hart *h, uint64_t min_insns);

/* Cross-thread signalling. */
void rv_hart_set_irq(struct rv_hart *h, unsigned irq, bool level);
void rv_hart_set_mtimecmp(struct rv_hart *h, uint64_t value);
void rv_hart_kick(struct rv_hart *h);

/* Translation for tools and tests: virtual -> physical without side effects on
 * A/D bits. Returns false on a fault. */
bool rv_hart_debug_translate(struct rv_hart *h, uint64_t vaddr, uint64_t *paddr);

/* Builds the table that expands compressed instructions; call once. */
void rv_init_tables(void);
/* Expands a 16-bit instruction to its 32-bit equivalent, with the extensions in `ext` (isa.h: Zcb,
 * Zcmop); 0 if illegal. */
uint32_t rv_expand_compressed(uint16_t insn, uint64_t ext);

#endif
