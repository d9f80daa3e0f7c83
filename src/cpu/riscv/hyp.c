/*
 * hyp.c — the hypervisor extension (H 1.0) beyond trap entry and translation:
 * its CSRs (hstatus, hedeleg, hideleg, hvip, hip, hie, hgeip, hgeie,
 * hcounteren, htimedelta, htval, htinst, henvcfg, hgatp; the VS CSRs that
 * stand in for the supervisor ones while V=1; mtval2, mtinst) with their
 * writable bits, the VS-level timer, and the virtual-machine loads and stores
 * (HLV, HLVX, HSV).
 *
 * GEILEN is 0 (no guest external interrupt lines: hgeip and hgeie read zero,
 * VGEIN is zero). VMIDLEN is 14, but translations are not tagged with the
 * VMID: writing hgatp or vsatp flushes them. Trap entry is in trap.c, the
 * two-stage walk in mmu.c, privilege checks and the redirection of
 * supervisor CSRs to VS CSRs in csr.c.
 */
#include "internal.h"
#include "isa.h"

enum {
	CSR_VSSTATUS = 0x200,
	CSR_VSIE = 0x204,
	CSR_VSTVEC = 0x205,
	CSR_VSSCRATCH = 0x240,
	CSR_VSEPC = 0x241,
	CSR_VSCAUSE = 0x242,
	CSR_VSTVAL = 0x243,
	CSR_VSIP = 0x244,
	CSR_VSTIMECMP = 0x24d,
	CSR_VSATP = 0x280,
	CSR_MTINST = 0x34a,
	CSR_MTVAL2 = 0x34b,
	CSR_HSTATUS = 0x600,
	CSR_HEDELEG = 0x602,
	CSR_HIDELEG = 0x603,
	CSR_HIE = 0x604,
	CSR_HTIMEDELTA = 0x605,
	CSR_HCOUNTEREN = 0x606,
	CSR_HGEIE = 0x607,
	CSR_HENVCFG = 0x60a,
	CSR_HTVAL = 0x643,
	CSR_HIP = 0x644,
	CSR_HVIP = 0x645,
	CSR_HTINST = 0x64a,
	CSR_HGATP = 0x680,
	CSR_HGEIP = 0xe12,
};

/* Exceptions VS-mode may take itself: all but the ecalls from HS/VS/M, the guest-page faults
 * and the virtual-instruction exception. */
#define HEDELEG_WRITABLE 0xb1ffULL
#define HSTATUS_WRITABLE                                                                                     \
	(HSTATUS_GVA | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_HU | HSTATUS_VTVM | HSTATUS_VTW | HSTATUS_VTSR)
#define VSSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
#define HGATP_VMID_BITS 14
#define HGATP_PPN_MASK ((1ULL << 44) - 4) /* the root table is 16 KiB: PPN[1:0] read zero */

void rv_hyp_reset(struct rv_hart *h)
{
	h->virt = false;
	h->hstatus = 2ULL << 32; /* VSXL = 64 */
	h->hedeleg = h->hideleg = h->hvip = h->hcounteren = h->henvcfg = h->hgatp = 0;
	h->htimedelta = h->htval = h->htinst = 0;
	h->vsstatus = 2ULL << 32; /* UXL = 64 */
	h->vstvec = h->vsscratch = h->vsepc = h->vscause = h->vstval = h->vsatp = 0;
	h->vstimecmp = UINT64_MAX;
	h->mtval2 = h->mtinst = 0;
	h->trap_tval2 = h->trap_tinst = 0;
	h->trap_gva = false;
}

bool rv_hyp_vstimer_pending(const struct rv_hart *h, uint64_t now)
{
	return (h->menvcfg & MENVCFG_STCE) && (h->henvcfg & MENVCFG_STCE) &&
	       now + h->htimedelta >= h->vstimecmp;
}

static uint64_t vsstatus_read(const struct rv_hart *h)
{
	uint64_t s = h->vsstatus;
	if ((s & MSTATUS_FS) == MSTATUS_FS || (s & MSTATUS_VS) == MSTATUS_VS) return s | MSTATUS_SD;
	return s & ~MSTATUS_SD;
}

static void vsstatus_write(struct rv_hart *h, uint64_t val)
{
	uint64_t mask = VSSTATUS_WRITABLE | (RV_HAS(h->ext, V) ? MSTATUS_VS : 0);
	uint64_t old = h->vsstatus;
	h->vsstatus = (old & ~mask) | (val & mask);
	if ((old ^ h->vsstatus) & MSTATUS_MXR) rv_tlb_flush_all(h); /* VS-stage permissions change */
	if ((old ^ h->vsstatus) & MSTATUS_SUM) rv_tlb_select(h);
}

/* vsatp (and satp while V=1): an unsupported mode leaves it as it was. */
static void vsatp_write(struct rv_hart *h, uint64_t val)
{
	unsigned mode = (unsigned)(val >> 60);
	if (mode != 0 && mode != 8 && mode != 9) return;
	uint64_t nv = (uint64_t)mode << 60 | (val & ((1ULL << 44) - 1)); /* no ASID bits */
	if (nv != h->vsatp) {
		h->vsatp = nv;
		rv_tlb_flush_all(h);
	}
}

/* hgatp: Bare, Sv39x4 or Sv48x4; any other mode reads back as Bare (WARL). */
static void hgatp_write(struct rv_hart *h, uint64_t val)
{
	unsigned mode = (unsigned)(val >> 60);
	uint64_t nv = 0;
	if (mode == 8 || mode == 9)
		nv = (uint64_t)mode << 60 | (val & (((1ULL << HGATP_VMID_BITS) - 1) << 44)) |
		     (val & HGATP_PPN_MASK);
	if (nv != h->hgatp) {
		h->hgatp = nv;
		rv_tlb_flush_all(h);
	}
}

static uint64_t henvcfg_legal(const struct rv_hart *h, uint64_t val)
{
	uint64_t mask = ENVCFG_FIOM;
	if (RV_HAS(h->ext, ZICBOM)) mask |= ENVCFG_CBIE | ENVCFG_CBCFE;
	if (RV_HAS(h->ext, ZICBOZ)) mask |= ENVCFG_CBZE;
	/* What M-mode withholds, HS-mode cannot give its guests. */
	mask |= h->menvcfg & (MENVCFG_PBMTE | MENVCFG_ADUE | MENVCFG_STCE);
	val &= mask;
	if ((val & ENVCFG_CBIE) == (2ULL << 4)) val &= ~ENVCFG_CBIE;
	return val;
}

/* The VS-level interrupt bits hideleg hands to VS-mode, as vsip/vsie show them (one bit lower). */
static uint64_t vs_view(const struct rv_hart *h, uint64_t bits)
{
	return (bits & h->hideleg & RV_VS_IRQS) >> 1;
}

bool rv_hyp_csr_read(struct rv_hart *h, unsigned csr, uint64_t *val)
{
	switch (csr) {
	case CSR_HSTATUS: *val = h->hstatus; return true;
	case CSR_HEDELEG: *val = h->hedeleg; return true;
	case CSR_HIDELEG: *val = h->hideleg; return true;
	case CSR_HIE: *val = h->mie & RV_VS_IRQS; return true;
	case CSR_HTIMEDELTA: *val = h->htimedelta; return true;
	case CSR_HCOUNTEREN: *val = h->hcounteren; return true;
	case CSR_HGEIE:
	case CSR_HGEIP: *val = 0; return true;
	case CSR_HENVCFG: *val = h->henvcfg; return true;
	case CSR_HTVAL: *val = h->htval; return true;
	case CSR_HIP: *val = rv_read_mip(h) & RV_VS_IRQS; return true;
	case CSR_HVIP: *val = h->hvip; return true;
	case CSR_HTINST: *val = h->htinst; return true;
	case CSR_HGATP:
		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)) return false;
		*val = h->hgatp;
		return true;
	case CSR_VSSTATUS: *val = vsstatus_read(h); return true;
	case CSR_VSIE: *val = vs_view(h, h->mie); return true;
	case CSR_VSTVEC: *val = h->vstvec; return true;
	case CSR_VSSCRATCH: *val = h->vsscratch; return true;
	case CSR_VSEPC: *val = h->vsepc; return true;
	case CSR_VSCAUSE: *val = h->vscause; return true;
	case CSR_VSTVAL: *val = h->vstval; return true;
	case CSR_VSIP: *val = vs_view(h, rv_read_mip(h)); return true;
	case CSR_VSTIMECMP:
		if (!RV_HAS(h->ext, SSTC)) return false;
		*val = h->vstimecmp;
		return true;
	case CSR_VSATP: *val = h->vsatp; return true;
	case CSR_MTINST: *val = h->mtinst; return true;
	case CSR_MTVAL2: *val = h->mtval2; return true;
	default: return false;
	}
}

bool rv_hyp_csr_write(struct rv_hart *h, unsigned csr, uint64_t val)
{
	switch (csr) {
	case CSR_HSTATUS:
		h->hstatus = (h->hstatus & ~HSTATUS_WRITABLE) | (val & HSTATUS_WRITABLE);
		return true;
	case CSR_HEDELEG: h->hedeleg = val & HEDELEG_WRITABLE; return true;
	case CSR_HIDELEG: h->hideleg = val & RV_VS_IRQS; return true;
	case CSR_HIE: h->mie = (h->mie & ~RV_VS_IRQS) | (val & RV_VS_IRQS); return true;
	case CSR_HTIMEDELTA: h->htimedelta = val; return true;
	case CSR_HCOUNTEREN: h->hcounteren = val & 0xffffffffULL; return true;
	case CSR_HGEIE: return true; /* GEILEN = 0 */
	case CSR_HENVCFG: {
		uint64_t old = h->henvcfg;
		h->henvcfg = henvcfg_legal(h, val);
		if ((old ^ h->henvcfg) & (MENVCFG_PBMTE | MENVCFG_ADUE)) rv_tlb_flush_all(h);
		return true;
	}
	case CSR_HTVAL: h->htval = val; return true;
	case CSR_HIP: /* only VSSIP is writable: hvip's */
		h->hvip = (h->hvip & ~(1ULL << RV_IRQ_VSSI)) | (val & (1ULL << RV_IRQ_VSSI));
		return true;
	case CSR_HVIP: h->hvip = val & RV_VS_IRQS; return true;
	case CSR_HTINST: h->htinst = val; return true;
	case CSR_HGATP:
		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)) return false;
		hgatp_write(h, val);
		return true;
	case CSR_VSSTATUS: vsstatus_write(h, val); return true;
	case CSR_VSIE: {
		uint64_t mask = h->hideleg & RV_VS_IRQS;
		h->mie = (h->mie & ~mask) | ((val << 1) & mask);
		return true;
	}
	case CSR_VSTVEC: h->vstvec = (val & 3) >= 2 ? (val & ~3ULL) : val; return true;
	case CSR_VSSCRATCH: h->vsscratch = val; return true;
	case CSR_VSEPC: h->vsepc = val & ~1ULL; return true;
	case CSR_VSCAUSE: h->vscause = val; return true;
	case CSR_VSTVAL: h->vstval = val; return true;
	case CSR_VSIP: {
		uint64_t mask = h->hideleg & (1ULL << RV_IRQ_VSSI); /* only SSIP: hvip.VSSIP */
		h->hvip = (h->hvip & ~mask) | ((val << 1) & mask);
		return true;
	}
	case CSR_VSTIMECMP:
		if (!RV_HAS(h->ext, SSTC)) return false;
		h->vstimecmp = val;
		return true;
	case CSR_VSATP: vsatp_write(h, val); return true;
	case CSR_MTINST: h->mtinst = val; return true;
	case CSR_MTVAL2: h->mtval2 = val; return true;
	default: return false;
	}
}

/* HLV.{B,BU,H,HU,W,WU,D}, HLVX.{HU,WU}, HSV.{B,H,W,D}: explicit accesses as though V=1 at
 * privilege hstatus.SPVP, whatever mode runs them (HS, M, or U with hstatus.HU). */
bool rv_hyp_exec_load_store(struct rv_hart *h, uint32_t insn)
{
	unsigned f7 = insn >> 25, rs2 = (insn >> 20) & 31, rd = (insn >> 7) & 31;
	if (f7 < 0x30 || f7 > 0x37) return false;
	unsigned size = 1u << ((f7 >> 1) & 3);
	bool store = f7 & 1;
	bool hlvx = !store && rs2 == 3 && size >= 2 && size <= 4;
	bool is_unsigned = !store && (rs2 == 1 || hlvx);
	if (store ? rd != 0 : (rs2 > 1 && !hlvx) || (size == 8 && rs2 != 0)) return false;
	if (!RV_HAS(h->ext, H)) return false;
	if (h->virt) rv_raise(h, RV_EXC_VIRTUAL_INSN, insn);
	if (h->priv == RV_PRIV_U && !(h->hstatus & HSTATUS_HU)) rv_raise(h, RV_EXC_ILLEGAL, insn);
	uint64_t va = h->x[(insn >> 15) & 31];
	unsigned priv = (h->hstatus & HSTATUS_SPVP) ? RV_PRIV_S : RV_PRIV_U;
	if (store) {
		uint64_t v = h->x[rs2];
		/* Each page translated before anything is written: a fault leaves memory as it was. */
		uint64_t pa = rv_translate_guest(h, va, RV_ACCESS_WRITE, priv, false);
		if ((va & (RV_PAGE_SIZE - 1)) > RV_PAGE_SIZE - size) {
			uint64_t last = va + size - 1;
			uint64_t pa2 = rv_translate_guest(h, last, RV_ACCESS_WRITE, priv, false);
			for (unsigned i = 0; i < size; i++) {
				uint64_t a = va + i;
				rv_store_phys(h, a, ((a ^ va) & RV_PAGE_MASK) ? pa2 - (last - a) : pa + i, 1,
				              v >> (8 * i));
			}
		} else {
			rv_store_phys(h, va, pa, size, v);
		}
		return true;
	}
	uint64_t v = 0;
	if ((va & (RV_PAGE_SIZE - 1)) > RV_PAGE_SIZE - size) { /* across a page: byte by byte */
		for (unsigned i = 0; i < size; i++)
			v |= rv_load_phys(h, va + i,
			                  rv_translate_guest(h, va + i, RV_ACCESS_READ, priv, hlvx), 1)
			     << (8 * i);
	} else {
		v = rv_load_phys(h, va, rv_translate_guest(h, va, RV_ACCESS_READ, priv, hlvx), size);
	}
	if (!is_unsigned && size < 8) {
		unsigned sh = 64 - 8 * size;
		v = (uint64_t)((int64_t)(v << sh) >> sh);
	}
	h->x[rd] = v;
	return true;
}
