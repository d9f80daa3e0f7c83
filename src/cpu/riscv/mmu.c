/*
 * mmu.c — address translation (bare, Sv39, Sv48; with the hypervisor
 * extension, two stages: VS-stage under vsatp, G-stage Sv39x4/Sv48x4 under
 * hgatp), the software TLB (4 KiB entries, and 2 MiB ones a miss looks up
 * before it walks), the
 * translator's indirect-jump cache (keyed by virtual pc, so it is flushed
 * with the TLB), and the slow paths of loads, stores, AMOs and fetches (TLB
 * misses, MMIO, accesses that cross a page, faults).
 *
 * The TLB only ever caches pages of guest RAM with the permission that was
 * checked when it was filled; MMIO is never cached, so every device access
 * goes through the bus. Page-table walks read guest RAM directly and set
 * the A and D bits with atomic compare-and-swap, as other harts may walk the
 * same tables concurrently.
 *
 * PMP registers exist (csr.c) but are not enforced: the firmware configures
 * them and all accesses are allowed, as on a board whose PMP grants all.
 */
#include "internal.h"
#include "isa.h"
#include "util/populate.h"

#define PTE_V (1ULL << 0)
#define PTE_R (1ULL << 1)
#define PTE_W (1ULL << 2)
#define PTE_X (1ULL << 3)
#define PTE_U (1ULL << 4)
#define PTE_G (1ULL << 5)
#define PTE_A (1ULL << 6)
#define PTE_D (1ULL << 7)
#define PTE_PPN_MASK 0x003ffffffffffc00ULL /* bits 53:10 */
#define PTE_RESERVED 0x1fc0000000000000ULL /* bits 60:54 */
#define PTE_PBMT (3ULL << 61)              /* Svpbmt: memory type (all memory is alike here) */
#define PTE_N (1ULL << 63)                 /* Svnapot: part of a naturally aligned 64 KiB page */

#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9

static void tlb_invalidate_slot(struct rv_tlb_set *s, unsigned i)
{
	s->read.vpage[i] = RV_TLB_INVALID;
	s->write.vpage[i] = RV_TLB_INVALID;
	s->exec.vpage[i] = RV_TLB_INVALID;
}

static void mega_invalidate_slot(struct rv_tlb_set *s, unsigned i)
{
	s->mega_read.vpage[i] = RV_TLB_INVALID;
	s->mega_write.vpage[i] = RV_TLB_INVALID;
}

/* Clears the 2 MiB entries in `log` (all of them if it overflowed) and empties it. */
static void mega_invalidate_logged(struct rv_tlb_set *s, struct rv_fill_log *log)
{
	if (log->n > RV_TLB_FILL_LOG)
		for (unsigned i = 0; i < RV_TLB_MEGA_SIZE; i++) mega_invalidate_slot(s, i);
	else
		for (unsigned i = 0; i < log->n; i++) mega_invalidate_slot(s, log->slot[i]);
	log->n = 0;
}

static void tlb_invalidate_set(struct rv_tlb_set *s)
{
	if (s->log.n > RV_TLB_FILL_LOG)
		for (unsigned i = 0; i < RV_TLB_SIZE; i++) tlb_invalidate_slot(s, i);
	else
		for (unsigned i = 0; i < s->log.n; i++) tlb_invalidate_slot(s, s->log.slot[i]);
	s->log.n = 0;
	s->local_log.n = 0;
	if (s->mega_log.n) mega_invalidate_logged(s, &s->mega_log);
	s->mega_local_log.n = 0;
}

/* Clears the slots filled with a mapping of one address space (not global) since the last clear;
 * past RV_TLB_FILL_LOG such fills, the whole set. */
static void tlb_invalidate_local(struct rv_tlb_set *s)
{
	if (s->local_log.n > RV_TLB_FILL_LOG) {
		tlb_invalidate_set(s);
		return;
	}
	for (unsigned i = 0; i < s->local_log.n; i++) tlb_invalidate_slot(s, s->local_log.slot[i]);
	s->local_log.n = 0;
	if (s->mega_local_log.n > RV_TLB_FILL_LOG)
		mega_invalidate_logged(s, &s->mega_log); /* all of them */
	else if (s->mega_local_log.n)
		mega_invalidate_logged(s, &s->mega_local_log);
	s->mega_local_log.n = 0;
}

/* Records that slot i holds an entry (the next flush clears it). */
static void log_fill(struct rv_fill_log *log, unsigned i)
{
	if (log->n < RV_TLB_FILL_LOG) log->slot[log->n] = (uint16_t)i;
	if (log->n <= RV_TLB_FILL_LOG) log->n++;
}

/* Which bit of tlb_mega_regions / tlb_giga_regions stands for va's 2 MiB / 1 GiB: hashed, as the
 * kernel's large pages and user pages sit at addresses equal in their low bits. */
static unsigned mega_region(uint64_t va)
{
	return (unsigned)(((va >> 21) * 0x9e3779b97f4a7c15ULL) >> 52);
}

static unsigned giga_region(uint64_t va)
{
	return (unsigned)(((va >> 30) * 0x9e3779b97f4a7c15ULL) >> 58);
}

static unsigned jcache_table(unsigned priv, bool virt)
{
	return virt ? 4 + (priv & 1) : priv & 3;
}

static void jcache_clear(struct rv_jcache *c)
{
	if (c->log.n > RV_TLB_FILL_LOG)
		for (unsigned i = 0; i < RV_JCACHE_SIZE; i++) c->e[i].pc = RV_TLB_INVALID;
	else
		for (unsigned i = 0; i < c->log.n; i++) c->e[c->log.slot[i]].pc = RV_TLB_INVALID;
	c->log.n = 0;
	c->regions = 0;
}

void rv_jcache_flush(struct rv_hart *h)
{
	for (unsigned i = 0; i < RV_JCACHE_TABLES; i++)
		if (h->jcache[i].log.n) jcache_clear(&h->jcache[i]);
}

static uint64_t jcache_region_bit(uint64_t pc)
{
	return 1ULL << ((pc >> 21) & 63);
}

/* Forgets the jumps into the 2 MiB around vaddr (a megapage's mapping goes with any of its addresses).
 * Most flushed pages hold data: a table that never saw a jump into their region is left alone. */
static void jcache_flush_around(struct rv_hart *h, uint64_t vaddr)
{
	for (unsigned t = 0; t < RV_JCACHE_TABLES; t++) {
		struct rv_jcache *c = &h->jcache[t];
		if (!(c->regions & jcache_region_bit(vaddr))) continue;
		if (c->log.n > RV_TLB_FILL_LOG) {
			jcache_clear(c);
			continue;
		}
		for (unsigned i = 0; i < c->log.n; i++) {
			struct rv_jcache_entry *e = &c->e[c->log.slot[i]];
			if (e->pc != RV_TLB_INVALID && ((e->pc ^ vaddr) >> 21) == 0) e->pc = RV_TLB_INVALID;
		}
	}
}

void rv_jcache_fill(struct rv_hart *h, uint64_t pc, void *entry)
{
	struct rv_jcache *c = h->jcache_cur;
	unsigned i = rv_jcache_index(pc);
	if (c->e[i].pc == pc && c->e[i].code == entry) return;
	c->e[i].pc = pc;
	c->e[i].code = entry;
	c->regions |= jcache_region_bit(pc);
	log_fill(&c->log, i);
}

void rv_jcache_forget(struct rv_hart *h, uint64_t pc)
{
	struct rv_jcache_entry *e = &h->jcache_cur->e[rv_jcache_index(pc)];
	if (e->pc == pc) e->pc = RV_TLB_INVALID;
}

void rv_tlb_flush_all(struct rv_hart *h)
{
	h->stats.tlb_flushes++;
	rv_jcache_flush(h);
	for (unsigned i = 0; i < RV_TLB_NSETS; i++)
		if (h->tlb[i].log.n || h->tlb[i].mega_log.n) tlb_invalidate_set(&h->tlb[i]);
	memset(h->tlb_mega_regions, 0, sizeof(h->tlb_mega_regions));
	h->tlb_giga_regions = 0;
	h->s_code_local = false;
	h->fetch_vpage = RV_TLB_INVALID;
}

/*
 * A new address space under satp (another ASID or root table, same mode), or sfence.vma of one
 * ASID: the mappings not marked global go, whatever their ASID (the TLB holds only the current
 * address space's); global ones (the kernel's) and those of V=1, which satp does not translate,
 * stay. Indirect jumps: U-mode's table, and S-mode's if it may hold a target on a non-global page.
 */
void rv_tlb_flush_local(struct rv_hart *h)
{
	h->stats.tlb_flushes++;
	for (unsigned i = 0; i < RV_TLB_NSETS; i++)
		if (h->tlb[i].local_log.n || h->tlb[i].mega_local_log.n) tlb_invalidate_local(&h->tlb[i]);
	struct rv_jcache *user = &h->jcache[jcache_table(RV_PRIV_U, false)];
	struct rv_jcache *super = &h->jcache[jcache_table(RV_PRIV_S, false)];
	if (user->log.n) jcache_clear(user);
	if (h->s_code_local && super->log.n) jcache_clear(super);
	h->s_code_local = false;
	h->fetch_vpage = RV_TLB_INVALID;
}

/* sfence.vma of one address: the entry of its page, and if it may lie in a page larger than 4 KiB,
 * the entries of every 4 KiB page of its 2 MiB (of everything, for a gigapage). */
void rv_tlb_flush_page(struct rv_hart *h, uint64_t vaddr)
{
	if ((h->tlb_giga_regions >> giga_region(vaddr)) & 1) {
		rv_tlb_flush_all(h);
		return;
	}
	unsigned r = mega_region(vaddr);
	bool big = (h->tlb_mega_regions[r / 64] >> (r % 64)) & 1;
	unsigned first = (unsigned)(vaddr >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1), count = 1;
	if (big) first &= ~511u, count = 512; /* slots index 4 KiB pages: the region's are adjacent */
	unsigned mega = (unsigned)(vaddr >> RV_MEGA_SHIFT) & (RV_TLB_MEGA_SIZE - 1);
	for (unsigned i = 0; i < RV_TLB_NSETS; i++) {
		if (h->tlb[i].log.n) /* a set filled since it was cleared */
			for (unsigned k = 0; k < count; k++) tlb_invalidate_slot(&h->tlb[i], first + k);
		if (h->tlb[i].mega_log.n) mega_invalidate_slot(&h->tlb[i], mega);
	}
	h->fetch_vpage = RV_TLB_INVALID;
	jcache_flush_around(h, vaddr);
}

/* The mode data accesses act in: the current one, or with mstatus.MPRV in M, MPP's (and MPV's:
 * V=1 when MPP is below M). */
static unsigned data_priv(const struct rv_hart *h)
{
	if (h->priv == RV_PRIV_M && (h->mstatus & MSTATUS_MPRV))
		return (unsigned)((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
	return h->priv;
}

static bool data_virt(const struct rv_hart *h)
{
	if (h->priv == RV_PRIV_M && (h->mstatus & MSTATUS_MPRV))
		return (h->mstatus & MSTATUS_MPV) && (h->mstatus & MSTATUS_MPP) != MSTATUS_MPP;
	return h->virt;
}

static unsigned set_for(unsigned priv, bool virt, bool sum)
{
	if (virt) return priv == RV_PRIV_U ? RV_TLB_SET_VU : sum ? RV_TLB_SET_VS_SUM : RV_TLB_SET_VS;
	switch (priv) {
	case RV_PRIV_U: return RV_TLB_SET_U;
	case RV_PRIV_S: return sum ? RV_TLB_SET_S_SUM : RV_TLB_SET_S;
	default: return RV_TLB_SET_M;
	}
}

/* SUM as the mode of an access sees it: vsstatus's at V=1. */
static bool sum_for(const struct rv_hart *h, bool virt)
{
	return ((virt ? h->vsstatus : h->mstatus) & MSTATUS_SUM) != 0;
}

/* Set i, its entries cleared if this is its first use since rv_hart_init (which leaves them as
 * they were: a fresh hart's are zero, and a zero tag is page 0's). Until then no fill went to it,
 * so flushes, which look only at logged fills, pass it by. */
static struct rv_tlb_set *tlb_set_ready(struct rv_hart *h, unsigned i)
{
	struct rv_tlb_set *s = &h->tlb[i];
	if (likely(h->tlb_ready[i])) return s;
	mem_populate(s, sizeof(*s));                    /* cleared whole just below: no fault per page */
	s->log.n = s->mega_log.n = RV_TLB_FILL_LOG + 1; /* everything */
	tlb_invalidate_set(s);
	h->tlb_ready[i] = true;
	return s;
}

/* Called whenever priv, V, MPRV, MPP, MPV or SUM may have changed. */
void rv_tlb_select(struct rv_hart *h)
{
	bool virt = data_virt(h);
	h->tlb_cur = tlb_set_ready(h, set_for(data_priv(h), virt, sum_for(h, virt)));
	h->jcache_cur = &h->jcache[jcache_table(h->priv, h->virt)];
	h->fetch_vpage = RV_TLB_INVALID;
}

static inline bool in_ram(const struct rv_hart *h, uint64_t pa, uint64_t size)
{
	return pa >= h->bus.ram_base && pa - h->bus.ram_base <= h->bus.ram_size - size;
}

static uint64_t page_fault_cause(enum rv_access acc)
{
	return acc == RV_ACCESS_EXEC    ? RV_EXC_INSN_PAGE
	       : acc == RV_ACCESS_WRITE ? RV_EXC_STORE_PAGE
	                                : RV_EXC_LOAD_PAGE;
}

static uint64_t guest_page_fault_cause(enum rv_access acc)
{
	return acc == RV_ACCESS_EXEC    ? RV_EXC_INSN_GUEST_PAGE
	       : acc == RV_ACCESS_WRITE ? RV_EXC_STORE_GUEST_PAGE
	                                : RV_EXC_LOAD_GUEST_PAGE;
}

static uint64_t access_fault_cause(enum rv_access acc)
{
	return acc == RV_ACCESS_EXEC    ? RV_EXC_INSN_ACCESS
	       : acc == RV_ACCESS_WRITE ? RV_EXC_STORE_ACCESS
	                                : RV_EXC_LOAD_ACCESS;
}

/* Why a translation failed: the cause, and for a guest-page fault the guest physical address (>> 2)
 * and the trap instruction (a pseudoinstruction when a VS-stage page-table access faulted). */
struct xlate_fault {
	uint64_t cause, tval2, tinst;
};

/* One stage of translation: the regular one (satp), VS-stage (vsatp) or G-stage (hgatp). */
struct stage {
	uint64_t atp;              /* satp, vsatp or hgatp */
	bool user;                 /* a U-level access (always, at G-stage) */
	bool sum, mxr;             /* S may touch U pages; executable pages are readable */
	bool exec_perm;            /* HLVX: execute permission stands for read */
	bool pbmte, adue;          /* Svpbmt enabled; hardware A/D updates enabled (with Svadu) */
	bool gstage;               /* hgatp's: 2 more address bits, a 16 KiB root, guest-page faults */
	bool guest_tables;         /* VS-stage: table addresses are guest physical (G-stage below) */
	const struct stage *below; /* the G-stage, for guest_tables */
};

#define PSEUDO_PTE_READ 0x3000u  /* htinst: a 64-bit read for VS-stage translation */
#define PSEUDO_PTE_WRITE 0x3020u /* ... a write (A/D update) */

static int walk_stage(struct rv_hart *h, const struct stage *st, uint64_t va, enum rv_access acc, bool update,
                      uint64_t *pa_out, bool *global, struct xlate_fault *f);

/* The host pointer of a VS-stage page-table entry at guest physical gpa, through the G-stage
 * (checked as an implicit read, or a write for an A/D update); NULL with f filled on a fault, which
 * is reported for the original access type. */
static uint64_t *guest_pte(struct rv_hart *h, const struct stage *g, uint64_t gpa, enum rv_access acc,
                           bool write, bool update, struct xlate_fault *f)
{
	uint64_t pa;
	if (walk_stage(h, g, gpa, write ? RV_ACCESS_WRITE : RV_ACCESS_READ, update, &pa, NULL, f)) {
		if (f->cause == RV_EXC_LOAD_GUEST_PAGE || f->cause == RV_EXC_STORE_GUEST_PAGE) {
			f->cause = guest_page_fault_cause(acc);
			f->tinst = write ? PSEUDO_PTE_WRITE : PSEUDO_PTE_READ;
		} else {
			f->cause = access_fault_cause(acc);
		}
		return NULL;
	}
	if (!in_ram(h, pa, 8)) {
		f->cause = access_fault_cause(acc);
		return NULL;
	}
	return (uint64_t *)(h->bus.ram + (pa - h->bus.ram_base));
}

/*
 * Walks one stage's page table. Returns 0 and the (guest) physical address, or -1 with the fault.
 * With `update` false (debugger), A/D bits are left alone. *global (if wanted) tells whether the
 * mapping is the same in every address space: bare, or a G bit on the way (a G pointer makes all
 * the mappings below it global).
 */
static int walk_stage(struct rv_hart *h, const struct stage *st, uint64_t va, enum rv_access acc, bool update,
                      uint64_t *pa_out, bool *global, struct xlate_fault *f)
{
	unsigned mode = (unsigned)(st->atp >> 60);
	f->tval2 = f->tinst = 0;
	if (mode == SATP_MODE_BARE) {
		*pa_out = va;
		if (global) *global = true;
		return 0;
	}
	uint64_t g_bits = 0;
	unsigned levels = mode == SATP_MODE_SV48 ? 4 : 3;
	unsigned va_bits = 12 + 9 * levels;
	if (st->gstage) {
		/* A guest physical address: 2 more bits, zero-extended. */
		if (va >> (va_bits + 2)) goto page_fault;
	} else {
		/* The address must be the sign extension of its low va_bits. */
		int64_t top = (int64_t)va >> (va_bits - 1);
		if (top != 0 && top != -1) goto page_fault;
	}

	/* Bits a PTE must not have, by what the hart offers and the envcfg registers enable. */
	uint64_t bad = PTE_RESERVED;
	if (!RV_HAS(h->ext, SVPBMT) || !st->pbmte) bad |= PTE_PBMT;
	if (!RV_HAS(h->ext, SVNAPOT)) bad |= PTE_N;
	uint64_t table = (st->atp & ((1ULL << 44) - 1)) << RV_PAGE_SHIFT;
	if (st->gstage) table &= ~0x3fffULL;
	for (int level = (int)levels - 1; level >= 0; level--) {
		unsigned index_bits = st->gstage && level == (int)levels - 1 ? 11 : 9;
		uint64_t vpn = (va >> (12 + 9 * level)) & ((1u << index_bits) - 1);
		uint64_t pte_addr = table + vpn * 8;
		uint64_t *pte_p;
		if (st->guest_tables) {
			pte_p = guest_pte(h, st->below, pte_addr, acc, false, update, f);
			if (!pte_p) {
				if (f->tinst) f->tval2 = pte_addr >> 2;
				return -1;
			}
		} else {
			if (!in_ram(h, pte_addr, 8)) {
				f->cause = access_fault_cause(acc);
				return -1;
			}
			pte_p = (uint64_t *)(h->bus.ram + (pte_addr - h->bus.ram_base));
		}
		uint64_t pte = __atomic_load_n(pte_p, __ATOMIC_RELAXED);
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & bad)) goto page_fault;
		g_bits |= pte;
		uint64_t ppn = (pte & PTE_PPN_MASK) >> 10;
		if (!(pte & (PTE_R | PTE_X))) { /* pointer to the next level */
			if (pte & (PTE_A | PTE_D | PTE_U | PTE_N | PTE_PBMT)) goto page_fault;
			table = ppn << RV_PAGE_SHIFT;
			continue;
		}
		/* Leaf: permission checks. */
		if (st->user && !(pte & PTE_U)) goto page_fault;
		if (!st->user && (pte & PTE_U)) {
			if (acc == RV_ACCESS_EXEC || !st->sum) goto page_fault;
		}
		switch (acc) {
		case RV_ACCESS_EXEC:
			if (!(pte & PTE_X)) goto page_fault;
			break;
		case RV_ACCESS_READ:
			if (st->exec_perm ? !(pte & PTE_X) : !(pte & PTE_R) && !(st->mxr && (pte & PTE_X)))
				goto page_fault;
			break;
		case RV_ACCESS_WRITE:
			if (!(pte & PTE_W)) goto page_fault;
			break;
		}
		if ((pte & PTE_PBMT) == PTE_PBMT) goto page_fault; /* the reserved memory type */
		/* Superpages must be aligned; a NAPOT PTE maps 64 KiB (its only size) at level 0. */
		uint64_t low_mask = (1ULL << (9 * level)) - 1;
		if (ppn & low_mask) goto page_fault;
		if (pte & PTE_N) {
			if (level != 0 || (ppn & 0xf) != 8) goto page_fault;
			ppn = (ppn & ~0xfULL) | ((va >> RV_PAGE_SHIFT) & 0xf);
		}
		/* Hardware A/D update; with Svadu and ADUE clear, software's (Svade): a fault. */
		uint64_t want = PTE_A | (acc == RV_ACCESS_WRITE ? PTE_D : 0);
		if ((pte & want) != want && RV_HAS(h->ext, SVADU) && !st->adue) goto page_fault;
		if (update && (pte & want) != want) {
			if (st->guest_tables) { /* the G-stage must allow writing the table */
				pte_p = guest_pte(h, st->below, pte_addr, acc, true, update, f);
				if (!pte_p) {
					if (f->tinst) f->tval2 = pte_addr >> 2;
					return -1;
				}
			}
			uint64_t expect = pte;
			uint64_t host_off = (uint64_t)((uint8_t *)pte_p - h->bus.ram);
			dirty_log_mark(h->bus.dirty, host_off, 8);
			if (!__atomic_compare_exchange_n(pte_p, &expect, pte | want, false, __ATOMIC_SEQ_CST,
			                                 __ATOMIC_SEQ_CST)) {
				level++; /* the PTE changed under us: walk this level again */
				continue;
			}
		}
		uint64_t page_off_mask = (1ULL << (12 + 9 * level)) - 1;
		unsigned leaf_shift = pte & PTE_N ? 16 : 12 + 9 * (unsigned)level;
		if (leaf_shift > h->walk_leaf_shift)
			h->walk_leaf_shift = (uint8_t)leaf_shift; /* either stage */
		*pa_out = ((ppn << RV_PAGE_SHIFT) & ~page_off_mask) | (va & page_off_mask);
		if (global) *global = (g_bits & PTE_G) != 0;
		return 0;
	}
page_fault:
	f->cause = st->gstage ? guest_page_fault_cause(acc) : page_fault_cause(acc);
	if (st->gstage) f->tval2 = va >> 2;
	return -1;
}

static void gstage_of(const struct rv_hart *h, struct stage *g, bool exec_perm)
{
	*g = (struct stage){.atp = h->hgatp,
	                    .user = true,
	                    .mxr = (h->mstatus & MSTATUS_MXR) != 0,
	                    .exec_perm = exec_perm,
	                    .pbmte = (h->menvcfg & MENVCFG_PBMTE) != 0,
	                    .adue = (h->menvcfg & MENVCFG_ADUE) != 0,
	                    .gstage = true};
}

/*
 * Translates va for an access at nominal privilege `priv`, in two stages when `virt`. Returns 0 and
 * the physical address, or -1 with the fault. *global (if wanted): whether satp's address space
 * does not matter to the result (bare, global, or V=1: vsatp's and hgatp's).
 */
static int walk(struct rv_hart *h, uint64_t va, enum rv_access acc, unsigned priv, bool virt, bool exec_perm,
                bool update, uint64_t *pa_out, bool *global, struct xlate_fault *f)
{
	if (global) *global = true;
	h->walk_leaf_shift = RV_PAGE_SHIFT;
	if (priv == RV_PRIV_M) {
		*pa_out = va;
		return 0;
	}
	if (!virt) {
		struct stage s = {.atp = h->satp,
		                  .user = priv == RV_PRIV_U,
		                  .sum = (h->mstatus & MSTATUS_SUM) != 0,
		                  .mxr = (h->mstatus & MSTATUS_MXR) != 0,
		                  .pbmte = (h->menvcfg & MENVCFG_PBMTE) != 0,
		                  .adue = (h->menvcfg & MENVCFG_ADUE) != 0};
		return walk_stage(h, &s, va, acc, update, pa_out, global, f);
	}
	struct stage g, vs = {.atp = h->vsatp,
	                      .user = priv == RV_PRIV_U,
	                      .sum = (h->vsstatus & MSTATUS_SUM) != 0,
	                      .mxr = ((h->vsstatus | h->mstatus) & MSTATUS_MXR) != 0,
	                      .exec_perm = exec_perm,
	                      .pbmte = (h->henvcfg & MENVCFG_PBMTE) != 0,
	                      .adue = (h->henvcfg & MENVCFG_ADUE) != 0,
	                      .guest_tables = true,
	                      .below = &g};
	gstage_of(h, &g, exec_perm);
	uint64_t gpa;
	if (walk_stage(h, &vs, va, acc, update, &gpa, NULL, f)) return -1;
	return walk_stage(h, &g, gpa, acc, update, pa_out, NULL, f);
}

/* Raises the fault of a failed translation of va (for a two-stage one, the value is a guest virtual
 * address). */
static _Noreturn void raise_fault(struct rv_hart *h, const struct xlate_fault *f, uint64_t va, bool virt)
{
	h->trap_tval2 = f->tval2;
	h->trap_tinst = f->tinst;
	h->trap_gva = virt;
	rv_raise(h, f->cause, va);
}

void rv_cbo_check(struct rv_hart *h, uint64_t va)
{
	uint64_t pa;
	struct xlate_fault f;
	unsigned priv = data_priv(h);
	bool virt = data_virt(h);
	if (walk(h, va, RV_ACCESS_READ, priv, virt, false, false, &pa, NULL, &f) &&
	    walk(h, va, RV_ACCESS_WRITE, priv, virt, false, false, &pa, NULL, &f))
		raise_fault(h, &f, va, virt); /* reported as the store it could not be either */
}

/* Translates or raises; *global: whether the mapping outlives a change of address space (walk()). */
static uint64_t translate(struct rv_hart *h, uint64_t va, enum rv_access acc, bool *global)
{
	h->stats.tlb_misses++;
	if (acc != RV_ACCESS_EXEC) { /* a data lookup that missed (hits count where they hit) */
		h->tlb_counts.data_misses++;
		if (unlikely(h->count_tlb)) h->tlb_counts.lookups++;
	}
	unsigned priv = acc == RV_ACCESS_EXEC ? h->priv : data_priv(h);
	bool virt = acc == RV_ACCESS_EXEC ? h->virt : data_virt(h);
	uint64_t pa;
	struct xlate_fault f;
	if (walk(h, va, acc, priv, virt, false, true, &pa, global, &f)) raise_fault(h, &f, va, virt);
	return pa;
}

uint64_t rv_translate_guest(struct rv_hart *h, uint64_t va, enum rv_access acc, unsigned priv, bool exec_perm)
{
	uint64_t pa;
	struct xlate_fault f;
	if (walk(h, va, acc, priv, true, exec_perm, true, &pa, NULL, &f)) raise_fault(h, &f, va, true);
	return pa;
}

bool rv_hart_debug_translate(struct rv_hart *h, uint64_t vaddr, uint64_t *paddr)
{
	struct xlate_fault f;
	return walk(h, vaddr, RV_ACCESS_READ, data_priv(h), data_virt(h), false, false, paddr, NULL, &f) == 0;
}

/* The entry for va just filled came from the page the last walk ended at: if larger than 4 KiB, an
 * sfence.vma of any of its addresses must find it (rv_tlb_flush_page). */
static void note_leaf_size(struct rv_hart *h, uint64_t va)
{
	if (likely(h->walk_leaf_shift == RV_PAGE_SHIFT)) return;
	if (h->walk_leaf_shift > 21) h->tlb_giga_regions |= 1ULL << giga_region(va);
	unsigned r = mega_region(va);
	h->tlb_mega_regions[r / 64] |= 1ULL << (r % 64);
}

static void tlb_fill(struct rv_hart *h, struct rv_tlb_table *table, uint64_t va, uint64_t pa, bool global)
{
	if (unlikely(h->trig_data)) return; /* a trigger watches data: every access comes here */
	note_leaf_size(h, va);
	unsigned i = (va >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1);
	table->vpage[i] = va & RV_PAGE_MASK;
	table->addend[i] =
	    (uintptr_t)h->bus.ram + (pa & RV_PAGE_MASK) - h->bus.ram_base - (va & RV_PAGE_MASK);
	log_fill(&h->tlb_cur->log, i);
	if (!global) log_fill(&h->tlb_cur->local_log, i);
}

/*
 * After a data fill from a walk that ended at a page of 2 MiB or more (one stage: V=1's two stages
 * may map less), the 2 MiB entry too, when all of it is RAM. Not for writes while live migration
 * logs them: a write entry marks its pages when filled, and 512 at once would resend them all.
 */
static void mega_fill(struct rv_hart *h, bool write, uint64_t va, uint64_t pa, bool global)
{
	const uint64_t size = 1ULL << RV_MEGA_SHIFT;
	if (h->walk_leaf_shift < RV_MEGA_SHIFT || data_virt(h) || h->trig_data) return;
	if (write && h->bus.dirty && atomic_load_explicit(&h->bus.dirty->active, memory_order_relaxed))
		return;
	uint64_t vbase = va & ~(size - 1), pbase = pa & ~(size - 1);
	if (!in_ram(h, pbase, size)) return;
	struct rv_tlb_set *s = h->tlb_cur;
	unsigned i = (unsigned)(va >> RV_MEGA_SHIFT) & (RV_TLB_MEGA_SIZE - 1);
	struct rv_tlb_mega_table *t = write ? &s->mega_write : &s->mega_read;
	if (t->vpage[i] == vbase) return; /* the entry the translation came from */
	t->vpage[i] = vbase;
	t->addend[i] = (uintptr_t)h->bus.ram + pbase - h->bus.ram_base - vbase;
	log_fill(&s->mega_log, i);
	if (!global) log_fill(&s->mega_local_log, i);
}

/* The slot of the current set's 2 MiB table (read or write) where va's entry would be. */
static unsigned mega_slot(uint64_t va)
{
	return (unsigned)(va >> RV_MEGA_SHIFT) & (RV_TLB_MEGA_SIZE - 1);
}
static const struct rv_tlb_mega_table *mega_table(const struct rv_hart *h, bool write)
{
	return write ? &h->tlb_cur->mega_write : &h->tlb_cur->mega_read;
}

/* A data access's physical address: from the 2 MiB entry of va if there is one (as the walk that
 * filled it found it; its G bit is not kept, so the 4 KiB entry made from it counts as local), else
 * by a walk. */
static uint64_t data_translate(struct rv_hart *h, uint64_t va, enum rv_access acc, bool *global)
{
	const struct rv_tlb_mega_table *t = mega_table(h, acc == RV_ACCESS_WRITE);
	const unsigned i = mega_slot(va);
	if (t->vpage[i] != (va & ~((1ULL << RV_MEGA_SHIFT) - 1))) return translate(h, va, acc, global);
	h->tlb_counts.mega_hits++;
	if (unlikely(h->count_tlb)) h->tlb_counts.lookups++;
	*global = false;
	h->walk_leaf_shift = RV_MEGA_SHIFT;
	return va + t->addend[i] - (uintptr_t)h->bus.ram + h->bus.ram_base;
}

bool rv_tlb_mega_maps(const struct rv_hart *h, uint64_t va, bool write)
{
	return mega_table(h, write)->vpage[mega_slot(va)] == (va & ~((1ULL << RV_MEGA_SHIFT) - 1));
}

uint64_t rv_load_phys(struct rv_hart *h, uint64_t va, uint64_t pa, unsigned size)
{
	if (in_ram(h, pa, size)) {
		uint64_t v = 0;
		memcpy(&v, h->bus.ram + (pa - h->bus.ram_base), size);
		return v;
	}
	uint64_t v;
	unsigned fp = rv_fp_host_save(); /* device code's arithmetic must not reach fflags */
	bool ok = h->bus.mmio_read(h->bus.opaque, pa, size, &v);
	rv_fp_host_restore(fp);
	if (!ok) rv_raise(h, RV_EXC_LOAD_ACCESS, va);
	return v;
}

void rv_store_phys(struct rv_hart *h, uint64_t va, uint64_t pa, unsigned size, uint64_t val)
{
	if (in_ram(h, pa, size)) {
		dirty_log_mark(h->bus.dirty, pa - h->bus.ram_base, size);
		memcpy(h->bus.ram + (pa - h->bus.ram_base), &val, size);
		return;
	}
	unsigned fp = rv_fp_host_save(); /* device code's arithmetic must not reach fflags */
	bool ok = h->bus.mmio_write(h->bus.opaque, pa, size, val);
	rv_fp_host_restore(fp);
	if (!ok) rv_raise(h, RV_EXC_STORE_ACCESS, va);
}

uint64_t rv_load_slow(struct rv_hart *h, uint64_t va, unsigned size)
{
	if (unlikely(h->trig_data)) rv_trigger_check_data(h, va, size, false);
	if ((va & (RV_PAGE_SIZE - 1)) > RV_PAGE_SIZE - size) {
		/* Crosses a page: byte by byte (each byte translated; faults report its address). */
		uint64_t v = 0;
		for (unsigned i = 0; i < size; i++) v |= rv_load_slow(h, va + i, 1) << (8 * i);
		return v;
	}
	bool global;
	uint64_t pa = data_translate(h, va, RV_ACCESS_READ, &global);
	if (in_ram(h, pa & RV_PAGE_MASK, RV_PAGE_SIZE)) {
		tlb_fill(h, &h->tlb_cur->read, va, pa, global);
		mega_fill(h, false, va, pa, global);
	} else if ((pa & (size - 1)) != 0 && !in_ram(h, pa, size))
		rv_raise(h, RV_EXC_LOAD_MISALIGNED, va); /* misaligned MMIO */
	return rv_load_phys(h, va, pa, size);
}

void rv_store_slow(struct rv_hart *h, uint64_t va, unsigned size, uint64_t val)
{
	if (unlikely(h->trig_data)) rv_trigger_check_data(h, va, size, true);
	if ((va & (RV_PAGE_SIZE - 1)) > RV_PAGE_SIZE - size) {
		/* Translate both pages first so a fault leaves memory untouched. */
		translate(h, va, RV_ACCESS_WRITE, NULL);
		translate(h, (va + size - 1), RV_ACCESS_WRITE, NULL);
		for (unsigned i = 0; i < size; i++) rv_store_slow(h, va + i, 1, val >> (8 * i));
		return;
	}
	bool global;
	uint64_t pa = data_translate(h, va, RV_ACCESS_WRITE, &global);
	if (in_ram(h, pa & RV_PAGE_MASK, RV_PAGE_SIZE)) {
		dirty_log_mark(h->bus.dirty, (pa & RV_PAGE_MASK) - h->bus.ram_base, RV_PAGE_SIZE);
		tlb_fill(h, &h->tlb_cur->write, va, pa, global);
		mega_fill(h, true, va, pa, global);
		/* A written page is readable by construction only if R; keep reads separate. */
	} else if ((pa & (size - 1)) != 0 && !in_ram(h, pa, size)) {
		rv_raise(h, RV_EXC_STORE_MISALIGNED, va);
	}
	rv_store_phys(h, va, pa, size, val);
}

void *rv_amo_ptr(struct rv_hart *h, uint64_t va, unsigned size)
{
	const struct rv_tlb_table *t = &h->tlb_cur->write;
	const unsigned i = (va >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1);
	if (t->vpage[i] == (va & RV_PAGE_MASK)) {
		if (unlikely(h->count_tlb)) h->tlb_counts.lookups++;
		return (void *)(uintptr_t)(va + t->addend[i]);
	}
	if (unlikely(h->trig_data)) {
		rv_trigger_check_data(h, va, size, false); /* an AMO reads and writes */
		rv_trigger_check_data(h, va, size, true);
	}
	bool global;
	uint64_t pa = translate(h, va, RV_ACCESS_WRITE, &global);
	if (!in_ram(h, pa, size)) rv_raise(h, RV_EXC_STORE_ACCESS, va);
	dirty_log_mark(h->bus.dirty, (pa & RV_PAGE_MASK) - h->bus.ram_base, RV_PAGE_SIZE);
	tlb_fill(h, &h->tlb_cur->write, va, pa, global);
	return h->bus.ram + (pa - h->bus.ram_base);
}

void *rv_data_page_ptr(struct rv_hart *h, uint64_t va, bool write)
{
	struct rv_tlb_set *set = h->tlb_cur;
	const struct rv_tlb_table *t = write ? &set->write : &set->read;
	const unsigned i = (va >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1);
	if (t->vpage[i] == (va & RV_PAGE_MASK)) {
		if (unlikely(h->count_tlb)) h->tlb_counts.lookups++;
		return (void *)(uintptr_t)(va + t->addend[i]);
	}
	bool global;
	uint64_t pa = translate(h, va, write ? RV_ACCESS_WRITE : RV_ACCESS_READ, &global);
	if (!in_ram(h, pa & RV_PAGE_MASK, RV_PAGE_SIZE)) return NULL;
	if (write) dirty_log_mark(h->bus.dirty, (pa & RV_PAGE_MASK) - h->bus.ram_base, RV_PAGE_SIZE);
	tlb_fill(h, write ? &set->write : &set->read, va, pa, global);
	return h->bus.ram + (pa - h->bus.ram_base);
}

/* Fetch through the exec TLB of the current privilege; fills the code-page cache. */
static uintptr_t fetch_page(struct rv_hart *h, uint64_t pc)
{
	unsigned set = set_for(h->priv, h->virt, sum_for(h, h->virt));
	unsigned i = (pc >> RV_PAGE_SHIFT) & (RV_TLB_SIZE - 1);
	struct rv_tlb_table *t = &tlb_set_ready(h, set)->exec;
	if (t->vpage[i] != (pc & RV_PAGE_MASK)) {
		bool global;
		uint64_t pa = translate(h, pc, RV_ACCESS_EXEC, &global);
		if (!in_ram(h, pa & RV_PAGE_MASK, RV_PAGE_SIZE)) rv_raise(h, RV_EXC_INSN_ACCESS, pc);
		note_leaf_size(h, pc);
		t->vpage[i] = pc & RV_PAGE_MASK;
		t->addend[i] =
		    (uintptr_t)h->bus.ram + (pa & RV_PAGE_MASK) - h->bus.ram_base - (pc & RV_PAGE_MASK);
		log_fill(&h->tlb[set].log, i);
		if (!global) {
			log_fill(&h->tlb[set].local_log, i);
			if (h->priv == RV_PRIV_S) h->s_code_local = true; /* its jumps may be cached */
		}
	}
	return t->addend[i];
}

uintptr_t rv_fetch_addend(struct rv_hart *h, uint64_t pc)
{
	return fetch_page(h, pc);
}

uint32_t rv_fetch_slow(struct rv_hart *h, uint64_t pc, unsigned *len)
{
	uintptr_t addend = fetch_page(h, pc);
	h->fetch_vpage = pc & RV_PAGE_MASK;
	h->fetch_addend = addend;
	uint16_t lo;
	memcpy(&lo, (void *)(uintptr_t)(pc + addend), 2);
	if ((lo & 3) != 3) {
		*len = 2;
		return lo;
	}
	*len = 4;
	if ((pc & (RV_PAGE_SIZE - 1)) != RV_PAGE_SIZE - 2) {
		uint32_t w;
		memcpy(&w, (void *)(uintptr_t)(pc + addend), 4);
		return w;
	}
	/* The upper half lives on the next page; a fault there reports that address. */
	uint64_t next = pc + 2;
	uintptr_t addend2;
	{
		uint64_t saved_pc = h->pc;
		addend2 = fetch_page(h, next);
		h->pc = saved_pc;
	}
	uint16_t hi;
	memcpy(&hi, (void *)(uintptr_t)(next + addend2), 2);
	h->fetch_vpage = RV_TLB_INVALID; /* the cache covers one page; don't leave it half right */
	return (uint32_t)lo | (uint32_t)hi << 16;
}
