/*
 * csr.c — control and status registers: which exist, who may access them,
 * which bits are writable (WARL masks), and the side effects of writes
 * (TLB set selection, flushes on satp). With the hypervisor extension, the
 * supervisor CSRs that have VS counterparts stand for them while V=1, and an
 * access V=1 forbids but HS-mode could make raises a virtual-instruction
 * exception instead of an illegal-instruction one (hyp.c holds the H CSRs).
 *
 * Privilege and read-only checks common to all CSRs are done here; the
 * caller raises the exception a nonzero return names.
 */
#include "internal.h"
#include "isa.h"

#define MSTATUS_WRITABLE                                                                                     \
	(MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS |  \
	 MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_VISIBLE                                                                                      \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS | MSTATUS_XS |     \
	 MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define SSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)

#define MIP_SSIP (1ULL << RV_IRQ_SSI)
#define MIP_STIP (1ULL << RV_IRQ_STI)
#define MIP_SEIP (1ULL << RV_IRQ_SEI)
#define MIE_WRITABLE 0xaaaULL
#define MIDELEG_WRITABLE (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define MEDELEG_WRITABLE 0xb3ffULL
#define MEDELEG_WRITABLE_H 0xf00400ULL /* ecall from VS, guest-page faults, virtual instruction */
#define ILLEGAL RV_EXC_ILLEGAL
#define VIRTUAL RV_EXC_VIRTUAL_INSN

enum {
	CSR_FFLAGS = 0x001,
	CSR_FRM = 0x002,
	CSR_FCSR = 0x003,
	CSR_CYCLE = 0xc00,
	CSR_TIME = 0xc01,
	CSR_INSTRET = 0xc02,
	CSR_HPMCOUNTER3 = 0xc03,
	CSR_HPMCOUNTER31 = 0xc1f,
	CSR_SSTATUS = 0x100,
	CSR_SIE = 0x104,
	CSR_STVEC = 0x105,
	CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a,
	CSR_SSCRATCH = 0x140,
	CSR_SEPC = 0x141,
	CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143,
	CSR_SIP = 0x144,
	CSR_STIMECMP = 0x14d,
	CSR_SATP = 0x180,
	CSR_VSTIMECMP = 0x24d,
	CSR_MSTATUS = 0x300,
	CSR_MISA = 0x301,
	CSR_MEDELEG = 0x302,
	CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304,
	CSR_MTVEC = 0x305,
	CSR_MCOUNTEREN = 0x306,
	CSR_MENVCFG = 0x30a,
	CSR_MCOUNTINHIBIT = 0x320,
	CSR_MHPMEVENT3 = 0x323,
	CSR_MHPMEVENT31 = 0x33f,
	CSR_MSCRATCH = 0x340,
	CSR_MEPC = 0x341,
	CSR_MCAUSE = 0x342,
	CSR_MTVAL = 0x343,
	CSR_MIP = 0x344,
	CSR_PMPCFG0 = 0x3a0,
	CSR_TSELECT = 0x7a0,
	CSR_TINFO = 0x7a4,
	CSR_PMPCFG15 = 0x3af,
	CSR_PMPADDR0 = 0x3b0,
	CSR_PMPADDR63 = 0x3ef,
	CSR_MCYCLE = 0xb00,
	CSR_MINSTRET = 0xb02,
	CSR_MHPMCOUNTER3 = 0xb03,
	CSR_MHPMCOUNTER31 = 0xb1f,
	CSR_SCOUNTOVF = 0xda0,
	CSR_MVENDORID = 0xf11,
	CSR_MARCHID = 0xf12,
	CSR_MIMPID = 0xf13,
	CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
};

static uint64_t sstatus_sd(uint64_t s)
{
	if ((s & MSTATUS_FS) == MSTATUS_FS || (s & MSTATUS_VS) == MSTATUS_VS)
		s |= MSTATUS_SD;
	else
		s &= ~MSTATUS_SD;
	return s;
}

/* vstart, vxsat, vxrm, vcsr, vl, vtype, vlenb (vector.c checks V and mstatus.VS). */
static bool is_vector_csr(unsigned csr)
{
	return (csr >= 0x008 && csr <= 0x00a) || csr == 0x00f || (csr >= 0xc20 && csr <= 0xc22);
}

/* Unprivileged counters: enabled by mcounteren (for S and U), scounteren (for U) and, while V=1,
 * hcounteren (what mcounteren allows but hcounteren or scounteren does not is virtual). */
static unsigned counter_fault(const struct rv_hart *h, unsigned idx)
{
	if (h->priv < RV_PRIV_M && !((h->mcounteren >> idx) & 1)) return ILLEGAL;
	bool s_allows = h->priv >= RV_PRIV_S || ((h->scounteren >> idx) & 1);
	if (h->virt) return ((h->hcounteren >> idx) & 1) && s_allows ? 0 : VIRTUAL;
	return s_allows ? 0 : ILLEGAL;
}

/* Sscofpmf's local counter-overflow interrupt bit, where it exists. */
static uint64_t lcofi(const struct rv_hart *h)
{
	return RV_HAS(h->ext, SSCOFPMF) ? 1ULL << RV_IRQ_LCOFI : 0;
}

static uint64_t mie_writable(const struct rv_hart *h)
{
	return MIE_WRITABLE | lcofi(h) | (RV_HAS(h->ext, H) ? RV_VS_IRQS : 0);
}

/* The interrupts HS-level sip and sie show: delegated ones, not the VS-level ones (hip, hie). */
static uint64_t s_irqs(const struct rv_hart *h)
{
	return h->mideleg & ~RV_VS_IRQS;
}

/* Sstc: stimecmp exists when the hart offers it, below M when menvcfg.STCE and mcounteren.TM allow. */
static bool stimecmp_allowed(const struct rv_hart *h)
{
	if (!RV_HAS(h->ext, SSTC)) return false;
	return h->priv == RV_PRIV_M || ((h->menvcfg & MENVCFG_STCE) && (h->mcounteren & 2));
}

/* The legal value of menvcfg or senvcfg for a write of `val`: fields of extensions the hart does not
 * offer read zero, and the reserved CBIE encoding 2 becomes 0 (off). */
static uint64_t envcfg_legal(const struct rv_hart *h, uint64_t val, bool machine)
{
	uint64_t mask = ENVCFG_FIOM;
	if (RV_HAS(h->ext, ZICBOM)) mask |= ENVCFG_CBIE | ENVCFG_CBCFE;
	if (RV_HAS(h->ext, ZICBOZ)) mask |= ENVCFG_CBZE;
	if (machine && RV_HAS(h->ext, SVPBMT)) mask |= MENVCFG_PBMTE;
	if (machine && RV_HAS(h->ext, SVADU)) mask |= MENVCFG_ADUE;
	if (machine && RV_HAS(h->ext, SSTC)) mask |= MENVCFG_STCE;
	val &= mask;
	if ((val & ENVCFG_CBIE) == (2ULL << 4)) val &= ~ENVCFG_CBIE;
	return val;
}

/* Reads a CSR the current mode may access (checked by rv_csr_read). */
static bool read_csr(struct rv_hart *h, unsigned csr, uint64_t *val)
{
	switch (csr) {
	case CSR_FFLAGS:
		if (rv_fs_off(h)) return false;
		*val = h->fflags;
		return true;
	case CSR_FRM:
		if (rv_fs_off(h)) return false;
		*val = h->frm;
		return true;
	case CSR_FCSR:
		if (rv_fs_off(h)) return false;
		*val = h->frm << 5 | h->fflags;
		return true;
	case CSR_CYCLE:
	case CSR_INSTRET: *val = rv_hart_instret(h); return true;
	case CSR_TIME: *val = h->bus.read_time(h->bus.opaque) + (h->virt ? h->htimedelta : 0); return true;
	case CSR_SSTATUS: *val = sstatus_sd(h->mstatus) & SSTATUS_VISIBLE; return true;
	case CSR_SIE: *val = h->mie & s_irqs(h); return true;
	case CSR_STVEC: *val = h->stvec; return true;
	case CSR_SCOUNTEREN: *val = h->scounteren; return true;
	case CSR_SENVCFG: *val = h->senvcfg; return true;
	case CSR_SSCRATCH: *val = h->sscratch; return true;
	case CSR_SEPC: *val = h->sepc; return true;
	case CSR_SCAUSE: *val = h->scause; return true;
	case CSR_STVAL: *val = h->stval; return true;
	case CSR_SIP: *val = rv_read_mip(h) & s_irqs(h); return true;
	case CSR_STIMECMP:
		if (!stimecmp_allowed(h)) return false;
		*val = h->stimecmp;
		return true;
	case CSR_SATP:
		if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)) return false;
		*val = h->satp;
		return true;
	case CSR_MSTATUS: *val = sstatus_sd(h->mstatus); return true;
	case CSR_MISA: *val = h->misa; return true;
	case CSR_MEDELEG: *val = h->medeleg; return true;
	case CSR_MIDELEG: *val = h->mideleg; return true;
	case CSR_MIE: *val = h->mie; return true;
	case CSR_MTVEC: *val = h->mtvec; return true;
	case CSR_MCOUNTEREN: *val = h->mcounteren; return true;
	case CSR_MENVCFG: *val = h->menvcfg; return true;
	case CSR_MCOUNTINHIBIT: *val = h->mcountinhibit; return true;
	case CSR_MSCRATCH: *val = h->mscratch; return true;
	case CSR_MEPC: *val = h->mepc; return true;
	case CSR_MCAUSE: *val = h->mcause; return true;
	case CSR_MTVAL: *val = h->mtval; return true;
	case CSR_MIP: *val = rv_read_mip(h); return true;
	case CSR_MCYCLE:
	case CSR_MINSTRET: *val = rv_hart_instret(h); return true;
	case CSR_MVENDORID:
	case CSR_MARCHID:
	case CSR_MIMPID:
	case CSR_MCONFIGPTR: *val = 0; return true;
	case CSR_MHARTID: *val = h->hartid; return true;
	default: break;
	}
	if (csr >= CSR_TSELECT && csr <= CSR_TINFO && RV_HAS(h->ext, SDTRIG))
		return rv_trigger_csr_read(h, csr, val);
	if (is_vector_csr(csr)) return rv_vector_csr_read(h, csr, val);
	bool zihpm = RV_HAS(h->ext, ZIHPM);
	if (csr >= CSR_HPMCOUNTER3 && csr <= CSR_HPMCOUNTER31) {
		*val = 0;
		return !zihpm || rv_hpm_read(h, csr, val);
	}
	if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
		*val = 0; /* without Zihpm: read-only zero */
		return !zihpm || rv_hpm_read(h, csr, val);
	}
	if (csr == CSR_SCOUNTOVF) return rv_hpm_read(h, csr, val);
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		if (csr & 1) return false; /* RV64 has only the even pmpcfg registers */
		unsigned n = (csr - CSR_PMPCFG0) / 2;
		*val = n < 2 ? h->pmpcfg[n] : 0;
		return true;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		unsigned n = csr - CSR_PMPADDR0;
		*val = n < 16 ? h->pmpaddr[n] : 0;
		return true;
	}
	return RV_HAS(h->ext, H) && rv_hyp_csr_read(h, csr, val);
}

static void write_mstatus(struct rv_hart *h, uint64_t val, uint64_t mask)
{
	uint64_t old = h->mstatus;
	uint64_t s = (old & ~mask) | (val & mask);
	if (((s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2) s = (s & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
	s = (s & ~(MSTATUS_UXL | MSTATUS_SXL)) | (2ULL << 32) | (2ULL << 34);
	h->mstatus = sstatus_sd(s);
	if ((old ^ s) & MSTATUS_MXR) rv_tlb_flush_all(h);
	if ((old ^ s) & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_MPV | MSTATUS_SUM)) rv_tlb_select(h);
}

static uint64_t mstatus_writable(const struct rv_hart *h)
{
	return MSTATUS_WRITABLE | (RV_HAS(h->ext, V) ? MSTATUS_VS : 0) |
	       (RV_HAS(h->ext, H) ? MSTATUS_MPV | MSTATUS_GVA : 0);
}

static bool write_satp(struct rv_hart *h, uint64_t val)
{
	if (h->priv == RV_PRIV_S && (h->mstatus & MSTATUS_TVM)) return false;
	unsigned mode = (unsigned)(val >> 60);
	if (mode != 0 && mode != 8 && mode != 9) return true; /* unsupported mode: no effect */
	/* 16 ASID bits (ASIDLEN = 16), PPN 44 bits. Another mode flushes everything; another ASID or
	 * root table only the mappings that are not global (the TLB holds one address space's). */
	uint64_t nv = val & (0xfULL << 60 | 0xffffULL << 44 | ((1ULL << 44) - 1));
	if (nv != h->satp) {
		bool same_mode = (nv >> 60) == (h->satp >> 60);
		h->satp = nv;
		if (same_mode)
			rv_tlb_flush_local(h);
		else
			rv_tlb_flush_all(h);
	}
	return true;
}

static void write_pmpcfg(struct rv_hart *h, unsigned n, uint64_t val)
{
	uint64_t old = h->pmpcfg[n], nv = 0;
	for (unsigned i = 0; i < 8; i++) {
		uint8_t ob = (uint8_t)(old >> (8 * i)), b = (uint8_t)(val >> (8 * i));
		if (ob & 0x80) b = ob; /* locked */
		b &= 0x9f;
		if ((b & 3) == 2) b &= ~2; /* R=0,W=1 is reserved */
		nv |= (uint64_t)b << (8 * i);
	}
	h->pmpcfg[n] = nv;
}

/* Writes a CSR the current mode may access (checked by rv_csr_write). */
static bool write_csr(struct rv_hart *h, unsigned csr, uint64_t val)
{
	switch (csr) {
	case CSR_FFLAGS:
		if (rv_fs_off(h)) return false;
		h->fflags = val & 31;
		rv_fp_clear_host_flags(); /* translated FP's, already taken: not to come back */
		rv_fs_dirty(h);
		return true;
	case CSR_FRM:
		if (rv_fs_off(h)) return false;
		h->frm = val & 7;
		rv_fs_dirty(h);
		return true;
	case CSR_FCSR:
		if (rv_fs_off(h)) return false;
		h->fflags = val & 31;
		h->frm = (val >> 5) & 7;
		rv_fp_clear_host_flags();
		rv_fs_dirty(h);
		return true;
	case CSR_SSTATUS:
		write_mstatus(h, val, SSTATUS_WRITABLE | (RV_HAS(h->ext, V) ? MSTATUS_VS : 0));
		return true;
	case CSR_SIE: h->mie = (h->mie & ~s_irqs(h)) | (val & s_irqs(h) & mie_writable(h)); return true;
	case CSR_STVEC: h->stvec = (val & 3) >= 2 ? (val & ~3ULL) : val; return true;
	case CSR_SCOUNTEREN: h->scounteren = val & 0xffffffffULL; return true;
	case CSR_SENVCFG: h->senvcfg = envcfg_legal(h, val, false); return true;
	case CSR_SSCRATCH: h->sscratch = val; return true;
	case CSR_SEPC: h->sepc = val & ~1ULL; return true;
	case CSR_SCAUSE: h->scause = val; return true;
	case CSR_STVAL: h->stval = val; return true;
	case CSR_SIP: {
		uint64_t mask = h->mideleg & (MIP_SSIP | lcofi(h));
		h->mip_sw = (h->mip_sw & ~mask) | (val & mask);
	}
		return true;
	case CSR_STIMECMP:
		if (!stimecmp_allowed(h)) return false;
		h->stimecmp = val;
		return true;
	case CSR_SATP: return write_satp(h, val);
	case CSR_MSTATUS: write_mstatus(h, val, mstatus_writable(h)); return true;
	case CSR_MISA: return true; /* fixed */
	case CSR_MEDELEG:
		h->medeleg = val & (MEDELEG_WRITABLE | (RV_HAS(h->ext, H) ? MEDELEG_WRITABLE_H : 0));
		return true;
	case CSR_MIDELEG: /* with H, the VS-level interrupts are delegated: read-only ones */
		h->mideleg = (val & (MIDELEG_WRITABLE | lcofi(h))) | (RV_HAS(h->ext, H) ? RV_VS_IRQS : 0);
		return true;
	case CSR_MIE: h->mie = val & mie_writable(h); return true;
	case CSR_MTVEC: h->mtvec = (val & 3) >= 2 ? (val & ~3ULL) : val; return true;
	case CSR_MCOUNTEREN: h->mcounteren = val & 0xffffffffULL; return true;
	case CSR_MENVCFG: {
		uint64_t old = h->menvcfg;
		h->menvcfg = envcfg_legal(h, val, true);
		if ((old ^ h->menvcfg) & (MENVCFG_PBMTE | MENVCFG_ADUE))
			rv_tlb_flush_all(h); /* PTEs read anew */
		return true;
	}
	case CSR_MCOUNTINHIBIT:
		rv_hpm_settle(h);
		h->mcountinhibit = val & 0xfffffffdULL;
		rv_hpm_inhibit_changed(h);
		return true;
	case CSR_MSCRATCH: h->mscratch = val; return true;
	case CSR_MEPC: h->mepc = val & ~1ULL; return true;
	case CSR_MCAUSE: h->mcause = val; return true;
	case CSR_MTVAL: h->mtval = val; return true;
	case CSR_MIP: {
		uint64_t mask = MIP_SSIP | MIP_SEIP | lcofi(h) | ((h->menvcfg & MENVCFG_STCE) ? 0 : MIP_STIP);
		h->mip_sw = (h->mip_sw & ~mask) | (val & mask);
		if (RV_HAS(h->ext, H)) /* VSSIP is hvip's */
			h->hvip = (h->hvip & ~(1ULL << RV_IRQ_VSSI)) | (val & (1ULL << RV_IRQ_VSSI));
		return true;
	}
	case CSR_MCYCLE:
	case CSR_MINSTRET:
		rv_hpm_settle(h);
		h->instret = val - rv_run_retired(h);
		rv_hpm_rebase(h);
		return true;
	default: break;
	}
	if (csr >= CSR_TSELECT && csr <= CSR_TINFO && RV_HAS(h->ext, SDTRIG))
		return rv_trigger_csr_write(h, csr, val);
	if (is_vector_csr(csr)) return rv_vector_csr_write(h, csr, val);
	if ((csr >= CSR_MHPMCOUNTER3 && csr <= CSR_MHPMCOUNTER31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31))
		return !RV_HAS(h->ext, ZIHPM) || rv_hpm_write(h, csr, val); /* without Zihpm: zero (WARL) */
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		if (csr & 1) return false;
		unsigned n = (csr - CSR_PMPCFG0) / 2;
		if (n < 2) write_pmpcfg(h, n, val);
		return true;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		unsigned n = csr - CSR_PMPADDR0;
		if (n < 16) {
			uint8_t cfg = (uint8_t)(h->pmpcfg[n / 8] >> (8 * (n % 8)));
			if (!(cfg & 0x80)) h->pmpaddr[n] = val & ((1ULL << 54) - 1);
		}
		return true;
	}
	return RV_HAS(h->ext, H) && rv_hyp_csr_write(h, csr, val); /* or read-only or nonexistent */
}

/* The VS CSR a supervisor CSR stands for while V=1, or 0 (senvcfg and scounteren have none). */
static unsigned vs_counterpart(unsigned csr)
{
	switch (csr) {
	case CSR_SSTATUS:
	case CSR_SIE:
	case CSR_STVEC:
	case CSR_SSCRATCH:
	case CSR_SEPC:
	case CSR_SCAUSE:
	case CSR_STVAL:
	case CSR_SIP:
	case CSR_STIMECMP:
	case CSR_SATP: return csr + 0x100; /* vsstatus is 0x200, ..., vsatp 0x280 */
	default: return 0;
	}
}

/* Whether HS-mode, with mstatus.TVM clear, could read csr: when V=1 forbids an access, this decides
 * between a virtual-instruction and an illegal-instruction exception. */
static bool hs_qualified(struct rv_hart *h, unsigned csr)
{
	unsigned priv = h->priv;
	bool virt = h->virt;
	uint64_t mstatus = h->mstatus, v;
	h->priv = RV_PRIV_S;
	h->virt = false;
	h->mstatus &= ~MSTATUS_TVM;
	bool ok = rv_csr_read(h, csr, &v) == 0;
	h->priv = priv;
	h->virt = virt;
	h->mstatus = mstatus;
	return ok;
}

/*
 * Whether the current mode may access csr: 0, or the exception. Sets *target to the CSR the access
 * reaches (the VS counterpart of a supervisor CSR while V=1).
 */
static unsigned access_check(struct rv_hart *h, unsigned csr, unsigned *target)
{
	unsigned level = (csr >> 8) & 3, fault = 0;
	*target = csr;
	if (csr >= CSR_CYCLE && csr <= CSR_HPMCOUNTER31) return counter_fault(h, csr & 31);
	if (h->priv == RV_PRIV_M) return 0;
	if (!h->virt) {
		if (level == 2) return h->priv == RV_PRIV_S && RV_HAS(h->ext, H) ? 0 : ILLEGAL;
		return level > h->priv ? ILLEGAL : 0;
	}
	if (level == 3) return ILLEGAL;
	if (level == 2 || (level == 1 && h->priv == RV_PRIV_U))
		fault = VIRTUAL;
	else if (csr == CSR_SATP && (h->hstatus & HSTATUS_VTVM))
		fault = VIRTUAL;
	else if (csr == CSR_STIMECMP && stimecmp_allowed(h) &&
	         (!(h->henvcfg & MENVCFG_STCE) || !(h->hcounteren & 2)))
		fault = VIRTUAL;
	if (fault) return hs_qualified(h, csr) ? VIRTUAL : ILLEGAL;
	if (level == 1 && vs_counterpart(csr)) *target = vs_counterpart(csr);
	return 0;
}

unsigned rv_csr_read(struct rv_hart *h, unsigned csr, uint64_t *val)
{
	unsigned target, fault = access_check(h, csr, &target);
	if (fault) return fault;
	if (target == CSR_VSTIMECMP && !stimecmp_allowed(h)) return ILLEGAL;
	return read_csr(h, target, val) ? 0 : ILLEGAL;
}

unsigned rv_csr_write(struct rv_hart *h, unsigned csr, uint64_t val)
{
	unsigned target, fault = access_check(h, csr, &target);
	if (fault) return fault;
	if (target == CSR_VSTIMECMP && !stimecmp_allowed(h)) return ILLEGAL;
	return write_csr(h, target, val) ? 0 : ILLEGAL;
}

uint64_t rv_csr_rmw_base(struct rv_hart *h, unsigned csr, uint64_t read)
{
	if (csr == CSR_MIP) return h->mip_sw | (h->hvip & (1ULL << RV_IRQ_VSSI));
	if (csr == CSR_SIP && !h->virt) return h->mip_sw;
	return read;
}
