/*
 * trap.c — exception and interrupt entry, delegation to S-mode, interrupt
 * priority and the privilege switch (which also selects the TLB set).
 */
#include "internal.h"

void rv_set_priv(struct rv_hart *h, unsigned priv)
{
	if (h->hpm_active) rv_hpm_settle(h); /* the instructions so far ran at the old privilege */
	h->priv = priv;
	rv_tlb_select(h);
}

/* mip as software sees it: software bits, lines from other threads, timers. */
uint64_t rv_read_mip(struct rv_hart *h)
{
	uint64_t mip = h->mip_sw | atomic_load_explicit(&h->irq_lines, memory_order_relaxed);
	uint64_t now = h->bus.read_time(h->bus.opaque);
	if (now >= atomic_load_explicit(&h->mtimecmp, memory_order_relaxed)) mip |= 1ULL << RV_IRQ_MTI;
	if (h->menvcfg & MENVCFG_STCE) {
		mip &= ~(1ULL << RV_IRQ_STI);
		if (now >= h->stimecmp) mip |= 1ULL << RV_IRQ_STI;
	}
	return mip;
}

/* Interrupts pending and enabled in mie, regardless of global enables (WFI wake-up). */
uint64_t rv_pending_interrupts(struct rv_hart *h)
{
	if (!h->mie) return 0;
	return rv_read_mip(h) & h->mie;
}

void rv_enter_trap(struct rv_hart *h, uint64_t cause, uint64_t tval, bool interrupt)
{
	uint64_t deleg = interrupt ? h->mideleg : h->medeleg;
	uint64_t epc = h->pc;
	h->resv_valid = false;

	if (h->priv <= RV_PRIV_S && ((deleg >> cause) & 1)) {
		uint64_t s = h->mstatus;
		h->scause = cause | ((uint64_t)interrupt << 63);
		h->sepc = epc;
		h->stval = tval;
		s = (s & ~MSTATUS_SPIE) | ((s & MSTATUS_SIE) ? MSTATUS_SPIE : 0);
		s = (s & ~MSTATUS_SPP) | (h->priv == RV_PRIV_S ? MSTATUS_SPP : 0);
		s &= ~MSTATUS_SIE;
		h->mstatus = s;
		uint64_t base = h->stvec & ~3ULL;
		h->pc = (interrupt && (h->stvec & 1)) ? base + 4 * cause : base;
		rv_set_priv(h, RV_PRIV_S);
	} else {
		uint64_t s = h->mstatus;
		h->mcause = cause | ((uint64_t)interrupt << 63);
		h->mepc = epc;
		h->mtval = tval;
		s = (s & ~MSTATUS_MPIE) | ((s & MSTATUS_MIE) ? MSTATUS_MPIE : 0);
		s = (s & ~MSTATUS_MPP) | ((uint64_t)h->priv << MSTATUS_MPP_SHIFT);
		s &= ~MSTATUS_MIE;
		h->mstatus = s;
		uint64_t base = h->mtvec & ~3ULL;
		h->pc = (interrupt && (h->mtvec & 1)) ? base + 4 * cause : base;
		rv_set_priv(h, RV_PRIV_M);
	}
}

_Noreturn void rv_raise(struct rv_hart *h, uint64_t cause, uint64_t tval)
{
	rv_enter_trap(h, cause, tval, false);
	longjmp(h->trap_jmp, 1);
}

/* Highest-priority interrupt that may be taken now, or -1. */
static int select_interrupt(struct rv_hart *h)
{
	static const int order[] = {RV_IRQ_MEI, RV_IRQ_MSI, RV_IRQ_MTI,  RV_IRQ_SEI,
	                            RV_IRQ_SSI, RV_IRQ_STI, RV_IRQ_LCOFI};
	uint64_t pending = rv_pending_interrupts(h);
	if (!pending) return -1;

	bool m_on = h->priv < RV_PRIV_M || (h->mstatus & MSTATUS_MIE);
	bool s_on = h->priv < RV_PRIV_S || (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_SIE));
	uint64_t m_pending = m_on ? pending & ~h->mideleg : 0;
	uint64_t s_pending = s_on ? pending & h->mideleg : 0;
	uint64_t takeable = m_pending ? m_pending : s_pending;
	if (!takeable) return -1;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (takeable & (1ULL << order[i])) return order[i];
	return -1;
}

bool rv_take_interrupt(struct rv_hart *h)
{
	int irq = select_interrupt(h);
	if (irq < 0) return false;
	rv_enter_trap(h, (uint64_t)irq, 0, true);
	return true;
}
