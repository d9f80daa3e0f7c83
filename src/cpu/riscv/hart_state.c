/*
 * hart_state.c — a hart's architectural state in and out of a snapshot
 * section: registers, CSRs, privilege, counters, interrupt lines and the
 * timer compares. Caches (TLBs, decoded instructions, translated code) are
 * not state: loading flushes them.
 */
#include "internal.h"

#define HART_STATE_CSRS 25

static uint64_t *csr_slots(struct rv_hart *h, unsigned i)
{
	uint64_t *slots[HART_STATE_CSRS] = {
	    &h->mstatus,  &h->misa,       &h->medeleg,       &h->mideleg, &h->mie,
	    &h->mtvec,    &h->mcounteren, &h->mscratch,      &h->mepc,    &h->mcause,
	    &h->mtval,    &h->menvcfg,    &h->mcountinhibit, &h->stvec,   &h->scounteren,
	    &h->sscratch, &h->sepc,       &h->scause,        &h->stval,   &h->satp,
	    &h->senvcfg,  &h->stimecmp,   &h->mip_sw,        &h->instret, &h->hartid,
	};
	return slots[i];
}

void rv_hart_save(struct rv_hart *h, struct state_writer *w)
{
	for (unsigned i = 0; i < 32; i++) state_put_u64(w, h->x[i]);
	for (unsigned i = 0; i < 32; i++) state_put_u64(w, h->f[i]);
	state_put_u64(w, h->pc);
	state_put_u32(w, h->priv);
	state_put_u32(w, h->fflags);
	state_put_u32(w, h->frm);
	for (unsigned i = 0; i < HART_STATE_CSRS; i++) state_put_u64(w, *csr_slots(h, i));
	for (unsigned i = 0; i < 2; i++) state_put_u64(w, h->pmpcfg[i]);
	for (unsigned i = 0; i < 16; i++) state_put_u64(w, h->pmpaddr[i]);
	state_put_u64(w, atomic_load(&h->irq_lines));
	state_put_u64(w, atomic_load(&h->mtimecmp));
}

void rv_hart_load(struct rv_hart *h, struct state_reader *r)
{
	uint64_t x[32], f[32], csr[HART_STATE_CSRS], pmpcfg[2], pmpaddr[16];
	for (unsigned i = 0; i < 32; i++) x[i] = state_get_u64(r);
	for (unsigned i = 0; i < 32; i++) f[i] = state_get_u64(r);
	uint64_t pc = state_get_u64(r);
	uint32_t priv = state_get_u32(r), fflags = state_get_u32(r), frm = state_get_u32(r);
	for (unsigned i = 0; i < HART_STATE_CSRS; i++) csr[i] = state_get_u64(r);
	for (unsigned i = 0; i < 2; i++) pmpcfg[i] = state_get_u64(r);
	for (unsigned i = 0; i < 16; i++) pmpaddr[i] = state_get_u64(r);
	uint64_t irq_lines = state_get_u64(r), mtimecmp = state_get_u64(r);
	if (r->failed) return;
	const uint64_t satp = csr[19], hartid = csr[24], misa = csr[1];
	const uint64_t line_mask = (1ULL << RV_IRQ_MSI) | (1ULL << RV_IRQ_MEI) | (1ULL << RV_IRQ_SEI);
	if (priv != RV_PRIV_U && priv != RV_PRIV_S && priv != RV_PRIV_M)
		state_fail(r, "hart: privilege level %u does not exist", priv);
	else if (fflags > 0x1f || frm > 7)
		state_fail(r, "hart: floating-point flags 0x%x or rounding mode %u out of range", fflags,
		           frm);
	else if (hartid != h->hartid)
		state_fail(r, "hart: the section is hart %llu's, loaded into hart %llu",
		           (unsigned long long)hartid, (unsigned long long)h->hartid);
	else if (misa != h->misa)
		state_fail(r, "hart: saved ISA 0x%llx differs from this emulator's 0x%llx",
		           (unsigned long long)misa, (unsigned long long)h->misa);
	else if ((satp >> 60) != 0 && (satp >> 60) != 8 && (satp >> 60) != 9)
		state_fail(r, "hart: satp mode %llu is not supported", (unsigned long long)(satp >> 60));
	else if (pc & 1)
		state_fail(r, "hart: pc 0x%llx is misaligned", (unsigned long long)pc);
	else if (irq_lines & ~line_mask)
		state_fail(r, "hart: interrupt lines 0x%llx hold bits no device drives",
		           (unsigned long long)irq_lines);
	if (r->failed) return;
	memcpy(h->x, x, sizeof(x));
	h->x[0] = 0;
	memcpy(h->f, f, sizeof(f));
	h->pc = pc;
	h->priv = priv;
	h->fflags = fflags;
	h->frm = frm;
	for (unsigned i = 0; i < HART_STATE_CSRS; i++) *csr_slots(h, i) = csr[i];
	memcpy(h->pmpcfg, pmpcfg, sizeof(pmpcfg));
	memcpy(h->pmpaddr, pmpaddr, sizeof(pmpaddr));
	atomic_store(&h->irq_lines, irq_lines);
	atomic_store(&h->mtimecmp, mtimecmp);
	h->resv_valid = false;
	h->fetch_vpage = RV_TLB_INVALID;
	h->block_start = h->budget_left = 0;
	h->jit_epoch++;
	rv_tlb_flush_all(h);
	rv_tlb_select(h);
}

void rv_hart_flush_tlb(struct rv_hart *h)
{
	h->fetch_vpage = RV_TLB_INVALID;
	h->jit_epoch++; /* RAM may hold other code now */
	rv_tlb_flush_all(h);
	rv_tlb_select(h);
}
