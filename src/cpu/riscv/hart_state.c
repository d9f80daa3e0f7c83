/*
 * hart_state.c — a hart's architectural state in and out of a snapshot
 * section: registers, CSRs, privilege, counters, interrupt lines and the
 * timer compares; from section version 2, the vector state, the debug
 * triggers and the performance counters (a version 1 section leaves them reset); from version 3, the
 * hypervisor extension's state (V and the H and VS CSRs). Caches (TLBs, decoded
 * instructions, translated code) are not state: loading flushes them.
 */
#include "internal.h"
#include "isa.h"
#include "jit.h"

#define HART_STATE_CSRS 25
#define HART_STATE_HYP_CSRS 20

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

/* Version 3: the hypervisor extension's registers. */
static uint64_t *hyp_slots(struct rv_hart *h, unsigned i)
{
	uint64_t *slots[HART_STATE_HYP_CSRS] = {
	    &h->hstatus,    &h->hedeleg, &h->hideleg, &h->hvip,      &h->hcounteren, &h->henvcfg,   &h->hgatp,
	    &h->htimedelta, &h->htval,   &h->htinst,  &h->vsstatus,  &h->vstvec,     &h->vsscratch, &h->vsepc,
	    &h->vscause,    &h->vstval,  &h->vsatp,   &h->vstimecmp, &h->mtval2,     &h->mtinst,
	};
	return slots[i];
}

/* Whether loaded hypervisor state is one the hart could hold; false with r->err set. */
static bool hyp_state_valid(const struct rv_hart *h, struct state_reader *r, bool virt, unsigned priv,
                            const uint64_t csr[HART_STATE_HYP_CSRS])
{
	const uint64_t hgatp = csr[6], vsatp = csr[16];
	bool any = virt;
	for (unsigned i = 0; i < HART_STATE_HYP_CSRS; i++)
		any |= csr[i] != (i == 0 || i == 10 ? 2ULL << 32 : i == 17 ? UINT64_MAX : 0);
	if (any && !RV_HAS(h->ext, H))
		state_fail(r, "hart: the section holds hypervisor state; this hart has no H extension");
	else if (virt && priv == RV_PRIV_M)
		state_fail(r, "hart: V=1 in M-mode");
	else if ((hgatp >> 60) != 0 && (hgatp >> 60) != 8 && (hgatp >> 60) != 9)
		state_fail(r, "hart: hgatp mode %llu is not supported", (unsigned long long)(hgatp >> 60));
	else if ((vsatp >> 60) != 0 && (vsatp >> 60) != 8 && (vsatp >> 60) != 9)
		state_fail(r, "hart: vsatp mode %llu is not supported", (unsigned long long)(vsatp >> 60));
	else if ((csr[2] & ~RV_VS_IRQS) || (csr[3] & ~RV_VS_IRQS))
		state_fail(r, "hart: hideleg or hvip holds bits no write sets");
	return !r->failed;
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
	/* version 2 */
	state_put_u64(w, h->vl);
	state_put_u64(w, h->vtype);
	state_put_u64(w, h->vstart);
	state_put_u32(w, h->vxrm);
	state_put_u32(w, h->vxsat);
	state_put_u32(w, h->vlenb);
	state_put_bytes(w, h->vreg, sizeof(h->vreg));
	state_put_u64(w, h->tselect);
	for (unsigned i = 0; i < RV_NTRIGGERS; i++) {
		state_put_u64(w, h->tdata1[i]);
		state_put_u64(w, h->tdata2[i]);
	}
	rv_hpm_settle(h);
	for (unsigned i = 0; i < RV_NHPM; i++) {
		state_put_u64(w, h->hpm_counter[i]);
		state_put_u64(w, h->hpm_event[i]);
	}
	/* version 3 */
	state_put_bool(w, h->virt);
	for (unsigned i = 0; i < HART_STATE_HYP_CSRS; i++) state_put_u64(w, *hyp_slots(h, i));
}

/* What section version 2 adds. */
struct hart_v2 {
	uint64_t vl, vtype, vstart;
	uint32_t vxrm, vxsat, vlenb;
	uint8_t vreg[32 * RV_VLENB_MAX];
	uint64_t tselect, tdata1[RV_NTRIGGERS], tdata2[RV_NTRIGGERS];
	uint64_t hpm_counter[RV_NHPM], hpm_event[RV_NHPM];
};

/* The vector and trigger state of a version 2 section, checked; false with r->err set. */
static bool load_v2(struct rv_hart *h, struct state_reader *r, struct hart_v2 *tmp)
{
	tmp->vl = state_get_u64(r);
	tmp->vtype = state_get_u64(r);
	tmp->vstart = state_get_u64(r);
	tmp->vxrm = state_get_u32(r);
	tmp->vxsat = state_get_u32(r);
	tmp->vlenb = state_get_u32(r);
	state_get_bytes(r, tmp->vreg, sizeof(tmp->vreg));
	tmp->tselect = state_get_u64(r);
	for (unsigned i = 0; i < RV_NTRIGGERS; i++) {
		tmp->tdata1[i] = state_get_u64(r);
		tmp->tdata2[i] = state_get_u64(r);
	}
	for (unsigned i = 0; i < RV_NHPM; i++) {
		tmp->hpm_counter[i] = state_get_u64(r);
		tmp->hpm_event[i] = state_get_u64(r);
	}
	if (r->failed) return false;
	if (tmp->vlenb != h->vlenb)
		state_fail(r, "hart: saved with VLEN %u, this emulator has %u", 8 * tmp->vlenb, 8 * h->vlenb);
	else if (!rv_vector_state_valid(tmp->vlenb, tmp->vtype, tmp->vl, tmp->vstart, tmp->vxrm, tmp->vxsat))
		state_fail(r, "hart: vector state out of range (vtype 0x%llx, vl %llu, vstart %llu)",
		           (unsigned long long)tmp->vtype, (unsigned long long)tmp->vl,
		           (unsigned long long)tmp->vstart);
	else if (!rv_trigger_state_valid(tmp->tselect, tmp->tdata1))
		state_fail(r, "hart: debug trigger state out of range");
	else if (!rv_hpm_events_valid(tmp->hpm_event))
		state_fail(r, "hart: a performance-counter event has bits no write sets");
	return !r->failed;
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
	/* Version 1 has none: the reset state (vill, triggers armed by nothing). */
	struct hart_v2 v2 = {.vlenb = h->vlenb, .vtype = 1ULL << 63};
	for (unsigned i = 0; i < RV_NTRIGGERS; i++) v2.tdata1[i] = 2ULL << 60;
	if (r->sec_version >= 2 && !load_v2(h, r, &v2)) return;
	/* Version 3 adds the hypervisor state; before it, the reset state. */
	bool virt = false;
	uint64_t hyp[HART_STATE_HYP_CSRS] = {[0] = 2ULL << 32, [10] = 2ULL << 32, [17] = UINT64_MAX};
	if (r->sec_version >= 3) {
		virt = state_get_bool(r);
		for (unsigned i = 0; i < HART_STATE_HYP_CSRS; i++) hyp[i] = state_get_u64(r);
		if (r->failed || !hyp_state_valid(h, r, virt, priv, hyp)) return;
	}
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
	/* A hart saved before V (or H) was on by default lacks it in misa: its guest was told of no V (the
	 * device tree said so), so it runs on here, with that misa. */
	else if ((misa ^ h->misa) & ~((1ULL << ('V' - 'A')) | (1ULL << ('H' - 'A'))))
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
	h->virt = virt;
	for (unsigned i = 0; i < HART_STATE_HYP_CSRS; i++) *hyp_slots(h, i) = hyp[i];
	h->fflags = fflags;
	h->frm = frm;
	for (unsigned i = 0; i < HART_STATE_CSRS; i++) *csr_slots(h, i) = csr[i];
	memcpy(h->pmpcfg, pmpcfg, sizeof(pmpcfg));
	memcpy(h->pmpaddr, pmpaddr, sizeof(pmpaddr));
	atomic_store(&h->irq_lines, irq_lines);
	atomic_store(&h->mtimecmp, mtimecmp);
	h->vl = v2.vl, h->vtype = v2.vtype, h->vstart = v2.vstart;
	h->vxrm = v2.vxrm, h->vxsat = v2.vxsat;
	memcpy(h->vreg, v2.vreg, sizeof(h->vreg));
	h->tselect = v2.tselect;
	memcpy(h->tdata1, v2.tdata1, sizeof(h->tdata1));
	memcpy(h->tdata2, v2.tdata2, sizeof(h->tdata2));
	rv_trigger_rearm(h);
	memcpy(h->hpm_counter, v2.hpm_counter, sizeof(h->hpm_counter));
	memcpy(h->hpm_event, v2.hpm_event, sizeof(h->hpm_event));
	rv_hpm_inhibit_changed(h);
	rv_hpm_rebase(h);
	h->resv_valid = false;
	h->fetch_vpage = RV_TLB_INVALID;
	h->block_start = h->budget_left = 0;
	h->jit_pair_skips = 0;
	rv_jit_new_epoch(h);
	rv_tlb_flush_all(h);
	rv_tlb_select(h);
}

void rv_hart_flush_tlb(struct rv_hart *h)
{
	h->fetch_vpage = RV_TLB_INVALID;
	rv_jit_new_epoch(h); /* RAM may hold other code now */
	rv_tlb_flush_all(h);
	rv_tlb_select(h);
}
