/*
 * trap.c — exception and interrupt entry, delegation to HS-mode and (with the
 * hypervisor extension) on to VS-mode, interrupt priority and the change of
 * privilege and virtualization mode (which also selects the TLB set).
 */
#include "internal.h"
#include "isa.h"

void rv_set_mode(struct rv_hart *h, unsigned priv, bool virt)
{
	if (h->hpm_active) rv_hpm_settle(h); /* the instructions so far ran at the old privilege */
	h->priv = priv;
	h->virt = virt;
	rv_tlb_select(h);
}

/* mip as software sees it: software bits, lines from other threads, timers, the VS-level lines. */
uint64_t rv_read_mip(struct rv_hart *h)
{
	uint64_t mip = h->mip_sw | atomic_load_explicit(&h->irq_lines, memory_order_relaxed);
	uint64_t now = h->bus.read_time(h->bus.opaque);
	if (now >= atomic_load_explicit(&h->mtimecmp, memory_order_relaxed)) mip |= 1ULL << RV_IRQ_MTI;
	if (h->menvcfg & MENVCFG_STCE) {
		mip &= ~(1ULL << RV_IRQ_STI);
		if (now >= h->stimecmp) mip |= 1ULL << RV_IRQ_STI;
	}
	if (h->hvip | h->henvcfg) {
		mip |= h->hvip & RV_VS_IRQS;
		if (rv_hyp_vstimer_pending(h, now)) mip |= 1ULL << RV_IRQ_VSTI;
	}
	return mip;
}

/* Interrupts pending and enabled in mie, regardless of global enables (WFI wake-up). */
uint64_t rv_pending_interrupts(struct rv_hart *h)
{
	if (!h->mie) return 0;
	return rv_read_mip(h) & h->mie;
}

/* Causes whose trap value is an address (or, for a breakpoint, a pc): a guest virtual one when
 * the trap comes from V=1. */
static bool cause_has_address(uint64_t cause)
{
	return cause < 32 && ((0xb0b0fbULL >> cause) & 1); /* 0, 1, 3-7, 12, 13, 15, 20, 21, 23 */
}

/* A supervisor-level status word (sstatus or vsstatus) on trap entry from privilege `from`: SPIE takes
 * SIE, SPP the privilege, SIE clears. */
static uint64_t s_status_on_trap(uint64_t s, unsigned from)
{
	s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
	s = (s & ~MSTATUS_SPP) | (from == RV_PRIV_S ? MSTATUS_SPP : 0);
	return s & ~MSTATUS_SIE;
}

/* Where a trap enters through `tvec`: its base, or for an interrupt in vectored mode base + 4*cause. */
static uint64_t trap_vector(uint64_t tvec, uint64_t cause, bool interrupt)
{
	uint64_t base = tvec & ~3ULL;
	return (interrupt && (tvec & 1)) ? base + 4 * cause : base;
}

/* A trap into VS-mode: V stays 1, vsstatus, vsepc, vscause and vstval take it; the VS-level
 * interrupts arrive as their supervisor-level codes. */
static void enter_vs(struct rv_hart *h, uint64_t cause, uint64_t tval, bool interrupt, uint64_t epc)
{
	if (interrupt && (cause == RV_IRQ_VSSI || cause == RV_IRQ_VSTI || cause == RV_IRQ_VSEI)) cause--;
	h->vscause = cause | ((uint64_t)interrupt << 63);
	h->vsepc = epc;
	h->vstval = tval;
	h->vsstatus = s_status_on_trap(h->vsstatus, h->priv);
	h->pc = trap_vector(h->vstvec, cause, interrupt);
	rv_set_mode(h, RV_PRIV_S, true);
}

void rv_enter_trap(struct rv_hart *h, uint64_t cause, uint64_t tval, bool interrupt)
{
	uint64_t deleg = interrupt ? h->mideleg : h->medeleg;
	uint64_t epc = h->pc;
	const bool virt = h->virt;
	const bool gva = !interrupt && (h->trap_gva || (virt && cause_has_address(cause)));
	const uint64_t tval2 = interrupt ? 0 : h->trap_tval2, tinst = interrupt ? 0 : h->trap_tinst;
	h->trap_gva = false;
	h->trap_tval2 = h->trap_tinst = 0;
	h->resv_valid = false;

	if (h->priv <= RV_PRIV_S && ((deleg >> cause) & 1)) {
		if (virt && (((interrupt ? h->hideleg : h->hedeleg) >> cause) & 1)) {
			enter_vs(h, cause, tval, interrupt, epc);
			return;
		}
		if (RV_HAS(h->ext, H)) {
			uint64_t hs = h->hstatus & ~(HSTATUS_SPV | HSTATUS_GVA);
			if (virt)
				hs = (hs & ~HSTATUS_SPVP) | HSTATUS_SPV |
				     (h->priv == RV_PRIV_S ? HSTATUS_SPVP : 0);
			h->hstatus = hs | (gva ? HSTATUS_GVA : 0);
			h->htval = tval2;
			h->htinst = tinst;
		}
		h->scause = cause | ((uint64_t)interrupt << 63);
		h->sepc = epc;
		h->stval = tval;
		h->mstatus = s_status_on_trap(h->mstatus, h->priv);
		h->pc = trap_vector(h->stvec, cause, interrupt);
		rv_set_mode(h, RV_PRIV_S, false);
	} else {
		uint64_t s = h->mstatus;
		h->mcause = cause | ((uint64_t)interrupt << 63);
		h->mepc = epc;
		h->mtval = tval;
		s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
		s = (s & ~MSTATUS_MPP) | ((uint64_t)h->priv << MSTATUS_MPP_SHIFT);
		s &= ~MSTATUS_MIE;
		if (RV_HAS(h->ext, H)) {
			s = (s & ~(MSTATUS_MPV | MSTATUS_GVA)) | (virt ? MSTATUS_MPV : 0) |
			    (gva ? MSTATUS_GVA : 0);
			h->mtval2 = tval2;
			h->mtinst = tinst;
		}
		h->mstatus = s;
		h->pc = trap_vector(h->mtvec, cause, interrupt);
		rv_set_mode(h, RV_PRIV_M, false);
	}
}

_Noreturn void rv_raise(struct rv_hart *h, uint64_t cause, uint64_t tval)
{
	rv_enter_trap(h, cause, tval, false);
	longjmp(h->trap_jmp, 1);
}

/* The highest-priority interrupt of `set`, or -1. */
static int highest(uint64_t set)
{
	static const int order[] = {RV_IRQ_MEI,  RV_IRQ_MSI,  RV_IRQ_MTI,  RV_IRQ_SEI,
	                            RV_IRQ_SSI,  RV_IRQ_STI,  RV_IRQ_SGEI, RV_IRQ_VSEI,
	                            RV_IRQ_VSSI, RV_IRQ_VSTI, RV_IRQ_LCOFI};
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (set & (1ULL << order[i])) return order[i];
	return -1;
}

/* Highest-priority interrupt that may be taken now, or -1: M-level ones first, then those
 * delegated to HS, then those delegated on to VS (taken only while V=1). */
static int select_interrupt(struct rv_hart *h)
{
	uint64_t pending = rv_pending_interrupts(h);
	if (!pending) return -1;

	bool m_on = h->priv < RV_PRIV_M || (h->mstatus & MSTATUS_MIE);
	bool hs_on = h->virt || h->priv < RV_PRIV_S || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_SIE));
	bool vs_on = h->virt && (h->priv < RV_PRIV_S || (h->vsstatus & MSTATUS_SIE));
	uint64_t m_pending = m_on ? pending & ~h->mideleg : 0;
	if (m_pending) return highest(m_pending);
	uint64_t hs_pending = hs_on ? pending & h->mideleg & ~h->hideleg : 0;
	if (hs_pending) return highest(hs_pending);
	uint64_t vs_pending = vs_on ? pending & h->mideleg & h->hideleg : 0;
	return highest(vs_pending);
}

/* Whether an interrupt would be taken now (rv_take_interrupt would enter a trap). */
bool rv_interrupt_ready(struct rv_hart *h)
{
	return select_interrupt(h) >= 0;
}

bool rv_take_interrupt(struct rv_hart *h)
{
	int irq = select_interrupt(h);
	if (irq < 0) return false;
	rv_enter_trap(h, (uint64_t)irq, 0, true);
	return true;
}
