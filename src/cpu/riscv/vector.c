/*
 * vector.c — the V extension (1.0), element by element: the vector
 * registers and CSRs, vsetvl{i}/vsetivli, loads and stores (unit-stride,
 * strided, indexed, segments, whole registers, masks, fault-only-first) and
 * the integer, fixed-point, mask, reduction and permutation instructions.
 *
 * Tail and masked-off elements are left undisturbed, which both agnostic
 * policies allow. Every register group is checked against the register file
 * before an element is touched, so no encoding reaches outside it. A load or
 * store that faults leaves vstart at the faulting element, and the
 * instruction resumes there. The floating-point instructions are fpu.c's
 * (fpu_vector.h), where the host FPU runs under the guest's rounding mode.
 */
#include "decode.h"
#include "internal.h"
#include "isa.h"
#include "ops.h"
#include "vector_elem.h"

#define VTYPE_VILL (1ULL << 63)
#define ELEN 64

enum { CSR_VSTART = 0x008, CSR_VXSAT = 0x009, CSR_VXRM = 0x00a, CSR_VCSR = 0x00f };
enum { CSR_VL = 0xc20, CSR_VTYPE = 0xc21, CSR_VLENB = 0xc22 };

static _Noreturn void vill(struct rv_hart *h, uint32_t insn)
{
	rv_raise(h, RV_EXC_ILLEGAL, insn);
}

void rv_vector_reset(struct rv_hart *h)
{
	h->vlenb = rv_ext_vlen(h->ext) / 8;
	h->vl = h->vstart = 0;
	h->vtype = VTYPE_VILL;
	h->vxrm = h->vxsat = 0;
	memset(h->vreg, 0, sizeof(h->vreg));
}

/* With V=1, both mstatus.VS and vsstatus.VS are in effect (H). */
static bool vs_off(const struct rv_hart *h)
{
	return !RV_HAS(h->ext, V) || (h->mstatus & MSTATUS_VS) == 0 ||
	       (h->virt && (h->vsstatus & MSTATUS_VS) == 0);
}

static void vs_dirty(struct rv_hart *h)
{
	h->mstatus |= MSTATUS_VS | MSTATUS_SD;
	if (h->virt) h->vsstatus |= MSTATUS_VS | MSTATUS_SD;
}

bool rv_vector_csr_read(struct rv_hart *h, unsigned csr, uint64_t *val)
{
	if (vs_off(h)) return false;
	switch (csr) {
	case CSR_VSTART: *val = h->vstart; return true;
	case CSR_VXSAT: *val = h->vxsat; return true;
	case CSR_VXRM: *val = h->vxrm; return true;
	case CSR_VCSR: *val = h->vxrm << 1 | h->vxsat; return true;
	case CSR_VL: *val = h->vl; return true;
	case CSR_VTYPE: *val = h->vtype; return true;
	case CSR_VLENB: *val = h->vlenb; return true;
	default: return false;
	}
}

bool rv_vector_csr_write(struct rv_hart *h, unsigned csr, uint64_t val)
{
	if (vs_off(h)) return false;
	switch (csr) {
	case CSR_VSTART: h->vstart = val & (8ULL * h->vlenb - 1); break; /* enough bits for any index */
	case CSR_VXSAT: h->vxsat = val & 1; break;
	case CSR_VXRM: h->vxrm = val & 3; break;
	case CSR_VCSR:
		h->vxsat = val & 1;
		h->vxrm = (val >> 1) & 3;
		break;
	default: return false; /* vl, vtype, vlenb are read-only */
	}
	vs_dirty(h);
	return true;
}

/* ---- configuration ---- */

/* SEW in bytes and LMUL in eighths for a vtype; false if the hart does not support it. */
static bool vtype_decode(uint64_t vtype, unsigned *sew, unsigned *lmul8)
{
	unsigned vsew = (vtype >> 3) & 7, vlmul = vtype & 7;
	if ((vtype >> 8) != 0 || vsew > 3 || vlmul == 4) return false; /* reserved bits, SEW > 64 */
	*sew = 1u << vsew;
	*lmul8 = vlmul < 4 ? 8u << vlmul : 8u >> (8 - vlmul);
	/* A fractional LMUL must still hold one element of ELEN: SEW <= LMUL * ELEN. */
	return *sew * 8 * 8 <= *lmul8 * ELEN;
}

bool rv_vtype_decode(uint64_t vtype, unsigned *sew, unsigned *lmul8)
{
	return vtype_decode(vtype, sew, lmul8);
}

static uint64_t vlmax_of(const struct rv_hart *h, unsigned sew, unsigned lmul8)
{
	return (uint64_t)h->vlenb * lmul8 / 8 / sew;
}

/* vsetvli, vsetivli, vsetvl. */
static void exec_vset(struct rv_hart *h, uint32_t insn)
{
	unsigned rd = RD(insn), rs1 = RS1(insn);
	uint64_t vtype, avl;
	bool keep_vl = false;
	if (!(insn >> 31)) { /* vsetvli */
		vtype = (insn >> 20) & 0x7ff;
	} else if ((insn >> 30) == 3) { /* vsetivli */
		vtype = (insn >> 20) & 0x3ff;
	} else if ((insn >> 25) == 0x40) { /* vsetvl */
		vtype = h->x[RS2(insn)];
	} else {
		vill(h, insn);
	}
	if ((insn >> 30) == 3)
		avl = rs1;
	else if (rs1)
		avl = h->x[rs1];
	else if (rd)
		avl = UINT64_MAX;
	else
		keep_vl = true, avl = h->vl;
	unsigned sew, lmul8;
	if (!vtype_decode(vtype, &sew, &lmul8)) {
		h->vtype = VTYPE_VILL;
		h->vl = 0;
	} else {
		uint64_t vlmax = vlmax_of(h, sew, lmul8);
		if (keep_vl && avl > vlmax) { /* reserved: the ratio changed under a kept vl */
			h->vtype = VTYPE_VILL;
			h->vl = 0;
		} else {
			h->vtype = vtype;
			h->vl = avl < vlmax ? avl : vlmax;
		}
	}
	h->vstart = 0;
	h->x[rd] = h->vl;
	vs_dirty(h);
}

bool rv_vector_state_valid(uint32_t vlenb, uint64_t vtype, uint64_t vl, uint64_t vstart, uint32_t vxrm,
                           uint32_t vxsat)
{
	unsigned sew, lmul8;
	if (vxrm > 3 || vxsat > 1 || vstart >= 8ULL * vlenb) return false;
	if (vtype == VTYPE_VILL) return vl == 0;
	return vtype_decode(vtype, &sew, &lmul8) && vl <= (uint64_t)vlenb * lmul8 / 8 / sew;
}

/* ---- registers and elements ---- */

/* The current configuration, or illegal instruction when vtype is not valid or vector state off. */
static struct vcfg config(struct rv_hart *h, uint32_t insn)
{
	struct vcfg c;
	if (vs_off(h) || (h->vtype & VTYPE_VILL) || !vtype_decode(h->vtype, &c.sew, &c.lmul8)) vill(h, insn);
	c.vl = h->vl;
	c.vlmax = vlmax_of(h, c.sew, c.lmul8);
	return c;
}

/* ---- loads and stores ---- */

/* Loads or stores one element of `eew` bytes at va (raises on a fault). */
static uint64_t mem_load(struct rv_hart *h, uint64_t va, unsigned eew)
{
	switch (eew) {
	case 1: return rv_load_u8(h, va);
	case 2: return rv_load_u16(h, va);
	case 4: return rv_load_u32(h, va);
	default: return rv_load_u64(h, va);
	}
}

static void mem_store(struct rv_hart *h, uint64_t va, unsigned eew, uint64_t v)
{
	rv_store(h, va, eew, v);
}

/* Whether a load of `n` bytes at va would fault (fault-only-first probes elements after the first). */
static bool load_would_fault(struct rv_hart *h, uint64_t va, unsigned n)
{
	uint64_t pa;
	if (!rv_hart_debug_translate(h, va, &pa) || !rv_hart_debug_translate(h, va + n - 1, &pa)) return true;
	return false;
}

/* Unit-stride without a mask, one field: `evl` elements of `eew` bytes between memory at base and the
 * register group at vd, a page at a time (the kernel copies user memory this way). A fault leaves
 * vstart at the first element of the page it hit; elements across a page boundary and device memory
 * go one by one. */
static void unit_stride_fast(struct rv_hart *h, unsigned vd, uint64_t base, unsigned eew, uint64_t evl,
                             bool store)
{
	uint8_t *regs = h->vreg + (size_t)vd * h->vlenb;
	for (uint64_t i = h->vstart; i < evl;) {
		uint64_t va = base + i * eew, room = RV_PAGE_SIZE - (va & (RV_PAGE_SIZE - 1));
		uint64_t chunk = (evl - i) * eew < room ? (evl - i) * eew : room - room % eew;
		h->vstart = i;
		uint8_t *p = chunk ? rv_data_page_ptr(h, va, store) : NULL;
		if (!p) { /* one element: across the page boundary, or device memory */
			if (store)
				mem_store(h, va, eew, vget(h, vd, eew, i));
			else
				vset(h, vd, eew, i, mem_load(h, va, eew));
			i++;
			continue;
		}
		if (store)
			memcpy(p, regs + i * eew, chunk);
		else
			memcpy(regs + i * eew, p, chunk);
		i += chunk / eew;
	}
}

void rv_exec_vector_mem(struct rv_hart *h, uint32_t insn)
{
	bool store = (insn & 0x7f) == 0x27;
	unsigned width = F3(insn), nf = (insn >> 29) + 1, mop = (insn >> 26) & 3, vm = (insn >> 25) & 1;
	unsigned vd = RD(insn), lumop = RS2(insn);
	if (vs_off(h) || ((insn >> 28) & 1)) vill(h, insn); /* mew: EEW above 64 */
	unsigned eew = width == 0 ? 1 : 2u << (width - 5);
	uint64_t base = h->x[RS1(insn)];

	if (mop == 0 && lumop == 8) { /* whole registers: vl<nf>re<eew>.v, vs<nf>r.v */
		if ((nf & (nf - 1)) || vd % nf || !vm || (store && width != 0)) vill(h, insn);
		uint64_t evl = (uint64_t)nf * h->vlenb / eew;
		if (!h->trig_data) {
			unit_stride_fast(h, vd, base, eew, evl, store);
			evl = 0;
		}
		for (uint64_t i = h->vstart; i < evl; i++) {
			h->vstart = i;
			if (store)
				mem_store(h, base + i * eew, eew, vget(h, vd, eew, i));
			else
				vset(h, vd, eew, i, mem_load(h, base + i * eew, eew));
		}
		h->vstart = 0;
		if (!store) vs_dirty(h);
		return;
	}
	struct vcfg c = config(h, insn);
	if (mop == 0 && lumop == 11) { /* vlm.v, vsm.v: the mask, vl/8 bytes rounded up */
		if (width != 0 || nf != 1 || !vm) vill(h, insn);
		uint64_t evl = (c.vl + 7) / 8;
		for (uint64_t i = h->vstart; i < evl; i++) {
			h->vstart = i;
			if (store)
				mem_store(h, base + i, 1, vget(h, vd, 1, i));
			else
				vset(h, vd, 1, i, mem_load(h, base + i, 1));
		}
		h->vstart = 0;
		if (!store) vs_dirty(h);
		return;
	}
	if (mop == 0 && lumop == 0 && nf == 1 && vm && !h->trig_data) {
		unsigned emul8 = (unsigned)((uint64_t)c.lmul8 * eew / c.sew);
		if (emul8 < 1 || emul8 > 64 || !group_ok(vd, emul8)) vill(h, insn);
		unit_stride_fast(h, vd, base, eew, c.vl, store);
		h->vstart = 0;
		if (!store) vs_dirty(h);
		return;
	}
	bool indexed = mop & 1, fof = mop == 0 && lumop == 16 && !store;
	if (mop == 0 && lumop != 0 && !fof) vill(h, insn);
	/* Data: EEW and EMUL from the instruction for unit-stride and strided, SEW and LMUL for indexed
	 * (whose index register takes the instruction's EEW). */
	unsigned deew = indexed ? c.sew : eew;
	unsigned demul8 = (unsigned)((uint64_t)c.lmul8 * deew / c.sew);
	unsigned iemul8 = (unsigned)((uint64_t)c.lmul8 * eew / c.sew);
	if (demul8 < 1 || demul8 > 64 || (indexed && (iemul8 < 1 || iemul8 > 64))) vill(h, insn);
	unsigned dn = group_len(demul8);
	if (dn * nf > 8 || !group_ok(vd, demul8) || vd + dn * nf > 32) vill(h, insn);
	if (!vm && vd == 0 && !store) vill(h, insn); /* a masked load may not overwrite the mask */
	unsigned vs2 = RS2(insn);
	if (indexed) {
		if (!group_ok(vs2, iemul8)) vill(h, insn);
		if (!store && overlap(vd, dn * nf, vs2, group_len(iemul8)) && deew != eew) vill(h, insn);
	}
	int64_t stride = mop == 2 ? (int64_t)h->x[vs2] : (int64_t)(deew * nf);
	uint64_t vl = c.vl;
	for (uint64_t i = h->vstart; i < vl; i++) {
		if (!active(h, vm, i)) continue;
		uint64_t addr =
		    indexed ? base + vget(h, vs2, eew, i) : base + (uint64_t)((int64_t)i * stride);
		if (fof && i > 0 && load_would_fault(h, addr, deew * nf)) {
			h->vl = i; /* fault-only-first: the vector ends before the fault */
			break;
		}
		h->vstart = i;
		for (unsigned f = 0; f < nf; f++) {
			uint64_t a = addr + (uint64_t)f * deew;
			if (store)
				mem_store(h, a, deew, vget(h, vd + f * dn, deew, i));
			else
				vset(h, vd + f * dn, deew, i, mem_load(h, a, deew));
		}
	}
	h->vstart = 0;
	if (!store) vs_dirty(h);
}

/* ---- arithmetic ---- */

/* The rounding increment for shifting v right by d bits under vxrm (the spec's roundoff). */
static unsigned __int128 round_inc(unsigned __int128 v, unsigned d, unsigned vxrm)
{
	if (d == 0) return 0;
	unsigned __int128 one = 1;
	unsigned bit_d1 = (unsigned)(v >> (d - 1)) & 1, bit_d = d < 128 ? (unsigned)(v >> d) & 1 : 0;
	bool below = d >= 2 && (v & ((one << (d - 1)) - 1)) != 0;
	switch (vxrm) {
	case 0: return bit_d1;                       /* rnu */
	case 1: return bit_d1 && (below || bit_d);   /* rne */
	case 2: return 0;                            /* rdn */
	default: return !bit_d && (bit_d1 || below); /* rod */
	}
}

/* v >> d (arithmetic when `sign`), rounded per vxrm, on 128 bits. */
static __int128 shift_round(__int128 v, unsigned d, unsigned vxrm)
{
	return (v >> d) + (__int128)round_inc((unsigned __int128)v, d, vxrm);
}

static uint64_t umax_of(unsigned sew)
{
	return trunc_to(~0ULL, sew);
}
static int64_t smax_of(unsigned sew)
{
	return (int64_t)(umax_of(sew) >> 1);
}

/* Clamps a signed 128-bit value to SEW bits; sets vxsat when it had to. */
static uint64_t clamp_s(struct rv_hart *h, __int128 v, unsigned sew)
{
	int64_t hi = smax_of(sew), lo = -hi - 1;
	if (v > hi) v = hi, h->vxsat = 1;
	if (v < lo) v = lo, h->vxsat = 1;
	return trunc_to((uint64_t)(int64_t)v, sew);
}
static uint64_t clamp_u(struct rv_hart *h, __int128 v, unsigned sew)
{
	if (v < 0) v = 0, h->vxsat = 1;
	if (v > (__int128)umax_of(sew)) v = umax_of(sew), h->vxsat = 1;
	return (uint64_t)v;
}

/* Single-width operations of the OPI and OPM groups: vd[i] = op(a = vs2[i], b = vs1[i] / scalar). False
 * when funct6 is not one of them. `d` is vd[i] for the multiply-adds. */
static bool alu(struct rv_hart *h, bool opm, unsigned f6, unsigned sew, uint64_t a, uint64_t b, uint64_t d,
                uint64_t *out)
{
	int64_t sa = sext(a, sew), sb = sext(b, sew);
	unsigned bits = 8 * sew, sh = (unsigned)b & (bits - 1), rm = 0;
	__int128 r;
	if (!opm) {
		switch (f6) {
		case 0x00: r = (__int128)(a + b); break;
		case 0x02: r = (__int128)(a - b); break;
		case 0x03: r = (__int128)(b - a); break;
		case 0x04: r = a < b ? a : b; break;
		case 0x05: r = sa < sb ? sa : sb; break;
		case 0x06: r = a > b ? a : b; break;
		case 0x07: r = sa > sb ? sa : sb; break;
		case 0x09: r = a & b; break;
		case 0x01: /* Zvbb: vandn, vror, vrol */
		case 0x14:
		case 0x15: {
			if (!RV_HAS(h->ext, ZVBB)) return false;
			unsigned n = (unsigned)b & (bits - 1);
			if (f6 == 0x14 && n) n = bits - n; /* right by n: left by SEW - n */
			r = f6 == 0x01 ? (__int128)(a & ~b)
			    : n        ? (__int128)trunc_to(a << n | a >> (bits - n), sew)
			               : a;
			break;
		}
		case 0x0a: r = a | b; break;
		case 0x0b: r = a ^ b; break;
		case 0x25: r = (__int128)(a << sh); break;
		case 0x28: r = a >> sh; break;
		case 0x29: r = sa >> sh; break;
		case 0x20: *out = clamp_u(h, (__int128)a + b, sew); return true;           /* vsaddu */
		case 0x21: *out = clamp_s(h, (__int128)sa + sb, sew); return true;         /* vsadd */
		case 0x22: *out = clamp_u(h, (__int128)a - (__int128)b, sew); return true; /* vssubu */
		case 0x23: *out = clamp_s(h, (__int128)sa - sb, sew); return true;         /* vssub */
		case 0x27:
			*out = clamp_s(h, shift_round((__int128)sa * sb, bits - 1, h->vxrm), sew); /* vsmul */
			return true;
		case 0x2a: r = shift_round(a, sh, h->vxrm); break;  /* vssrl */
		case 0x2b: r = shift_round(sa, sh, h->vxrm); break; /* vssra */
		default: return false;
		}
	} else {
		rm = h->vxrm;
		switch (f6) {
		case 0x08: r = shift_round((__int128)a + b, 1, rm); break;                     /* vaaddu */
		case 0x09: r = shift_round((__int128)sa + sb, 1, rm); break;                   /* vaadd */
		case 0x0a: r = shift_round((__int128)a - (__int128)b, 1, rm); break;           /* vasubu */
		case 0x0b: r = shift_round((__int128)sa - sb, 1, rm); break;                   /* vasub */
		case 0x20: r = b ? a / b : umax_of(sew); break;                                /* vdivu */
		case 0x21: r = (__int128)rv_div(sa, sb); break;                                /* vdiv */
		case 0x22: r = b ? a % b : a; break;                                           /* vremu */
		case 0x23: r = (__int128)rv_rem(sa, sb); break;                                /* vrem */
		case 0x24: r = ((unsigned __int128)a * b) >> bits; break;                      /* vmulhu */
		case 0x25: r = (__int128)(a * b); break;                                       /* vmul */
		case 0x26: r = ((__int128)sa * (__int128)(unsigned __int128)b) >> bits; break; /* vmulhsu */
		case 0x27: r = ((__int128)sa * sb) >> bits; break;                             /* vmulh */
		case 0x29: r = (__int128)(b * d + a); break;                                   /* vmadd */
		case 0x2b: r = (__int128)(a - b * d); break;                                   /* vnmsub */
		case 0x2d: r = (__int128)(b * a + d); break;                                   /* vmacc */
		case 0x2f: r = (__int128)(d - b * a); break;                                   /* vnmsac */
		default: return false;
		}
	}
	*out = trunc_to((uint64_t)r, sew);
	return true;
}

/* Integer compares into a mask: funct6 0x18-0x1f. */
static bool compare(unsigned f6, unsigned sew, uint64_t a, uint64_t b)
{
	int64_t sa = sext(a, sew), sb = sext(b, sew);
	switch (f6) {
	case 0x18: return a == b;
	case 0x19: return a != b;
	case 0x1a: return a < b;
	case 0x1b: return sa < sb;
	case 0x1c: return a <= b;
	case 0x1d: return sa <= sb;
	case 0x1e: return a > b;
	default: return sa > sb;
	}
}

/* The scalar operand of a .vx / .vi form, SEW bits wide: x[rs1], or the 5-bit immediate (signed,
 * or unsigned for shifts, slides, gathers and clips). */
static uint64_t scalar(const struct rv_hart *h, uint32_t insn, unsigned sew, bool uimm)
{
	unsigned f3 = F3(insn), rs1 = RS1(insn);
	if (f3 == 3 && ((insn >> 27) == 0x0a)) return rs1 | ((insn >> 26) & 1) << 5; /* vror.vi: 6 bits */
	if (f3 == 3) return uimm ? rs1 : trunc_to((uint64_t)((int64_t)((uint64_t)rs1 << 59) >> 59), sew);
	return trunc_to(h->x[rs1], sew);
}

/* vd[i] = op(vs2[i], vs1[i] or the scalar), single width, or a compare into a mask. */
static void exec_single(struct rv_hart *h, uint32_t insn, const struct vargs *v, bool opm)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, f6 = v->f6;
	bool is_cmp = !opm && f6 >= 0x18 && f6 <= 0x1f, carry_out = !opm && (f6 == 0x11 || f6 == 0x13);
	bool uimm = !opm && (f6 == 0x25 || f6 == 0x28 || f6 == 0x29 || f6 == 0x2a || f6 == 0x2b);
	if (!opm && F3(insn) == 3 && (f6 == 0x14 || f6 == 0x15)) f6 = 0x14; /* vror.vi (either imm[5]) */
	uint64_t xs = v->vx ? scalar(h, insn, sew, uimm) : 0;
	need(h, insn, group_ok(v->vs2, c->lmul8) && (v->vx || group_ok(v->vs1, c->lmul8)));
	struct vdst d;
	if (is_cmp || carry_out) {
		need(h, insn, v->vd < 32);
		dst_begin(h, &d, v->vd, 1);
	} else {
		need(h, insn, group_ok(v->vd, c->lmul8) && (v->vm || v->vd != 0));
		dst_begin(h, &d, v->vd, group_len(c->lmul8));
	}
	if (!opm && (f6 == 0x10 || f6 == 0x12)) need(h, insn, !v->vm); /* vadc, vsbc take v0's carry */
	uint64_t probe;
	if (!is_cmp && !carry_out && !(!opm && f6 >= 0x10 && f6 <= 0x17))
		need(h, insn, alu(h, opm, f6, sew, 0, 0, 0, &probe)); /* an operation it knows, even if no
		                                                         element is active */
	if (!opm && f6 == 0x17 && v->vm) need(h, insn, v->vs2 == 0);  /* vmv.v.* */
	for (uint64_t i = h->vstart; i < c->vl; i++) {
		uint64_t a = vget(h, v->vs2, sew, i), b = v->vx ? xs : vget(h, v->vs1, sew, i);
		if (!opm && f6 == 0x17) { /* vmerge (masked), vmv.v (vs2 = v0, unmasked) */
			dst_set(&d, sew, i, v->vm || mask_bit(h, 0, i) ? b : a);
			continue;
		}
		if (!opm && (f6 >= 0x10 && f6 <= 0x13)) { /* vadc, vmadc, vsbc, vmsbc */
			unsigned carry = (!v->vm || f6 == 0x10 || f6 == 0x12) ? mask_bit(h, 0, i) : 0;
			unsigned __int128 wide =
			    f6 <= 0x11 ? (unsigned __int128)a + b + carry : (unsigned __int128)a - b - carry;
			if (f6 == 0x10 || f6 == 0x12)
				dst_set(&d, sew, i, trunc_to((uint64_t)wide, sew));
			else /* carry out of, or borrow below, SEW bits */
				dst_mask(&d, i, f6 == 0x11 ? (wide >> (8 * sew)) != 0 : (__int128)wide < 0);
			continue;
		}
		if (!active(h, v->vm, i)) continue;
		if (is_cmp) {
			dst_mask(&d, i, compare(f6, sew, a, b));
			continue;
		}
		uint64_t r;
		if (!alu(h, opm, f6, sew, a, b, vget(h, v->vd, sew, i), &r)) vill(h, insn);
		dst_set(&d, sew, i, r);
	}
	dst_end(h, &d);
}

/* Widening (2*SEW results: vw*, and the .w forms whose vs2 is 2*SEW already) and narrowing (vn*: a
 * 2*SEW vs2 to SEW results). */
static void exec_widening(struct rv_hart *h, uint32_t insn, const struct vargs *v)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, w = 2 * sew, f6 = v->f6;
	bool wide_a = f6 >= 0x34 && f6 <= 0x37, mac = f6 >= 0x3c;
	need(h, insn, sew <= 4 && c->lmul8 <= 32 && group_ok(v->vd, 2 * c->lmul8) && (v->vm || v->vd != 0));
	need(h, insn,
	     group_ok(v->vs2, wide_a ? 2 * c->lmul8 : c->lmul8) && (v->vx || group_ok(v->vs1, c->lmul8)));
	if (f6 == 0x3e) need(h, insn, v->vx); /* vwmaccus has no .vv form */
	uint64_t xs = v->vx ? scalar(h, insn, sew, false) : 0;
	struct vdst d;
	dst_begin(h, &d, v->vd, group_len(2 * c->lmul8));
	for (uint64_t i = h->vstart; i < c->vl; i++) {
		if (!active(h, v->vm, i)) continue;
		uint64_t a = vget(h, v->vs2, wide_a ? w : sew, i), b = v->vx ? xs : vget(h, v->vs1, sew, i);
		int64_t sa = sext(a, wide_a ? w : sew), sb = sext(b, sew);
		uint64_t acc = mac ? vget(h, v->vd, w, i) : 0, r;
		switch (f6) {
		case 0x30: r = a + b; break;                     /* vwaddu */
		case 0x31: r = (uint64_t)(sa + sb); break;       /* vwadd */
		case 0x32: r = a - b; break;                     /* vwsubu */
		case 0x33: r = (uint64_t)(sa - sb); break;       /* vwsub */
		case 0x34: r = a + b; break;                     /* vwaddu.w */
		case 0x35: r = (uint64_t)(sa + sb); break;       /* vwadd.w */
		case 0x36: r = a - b; break;                     /* vwsubu.w */
		case 0x37: r = (uint64_t)(sa - sb); break;       /* vwsub.w */
		case 0x38: r = a * b; break;                     /* vwmulu */
		case 0x3a: r = (uint64_t)sa * b; break;          /* vwmulsu: signed vs2, unsigned vs1 */
		case 0x3b: r = (uint64_t)(sa * sb); break;       /* vwmul */
		case 0x3c: r = acc + b * a; break;               /* vwmaccu */
		case 0x3d: r = acc + (uint64_t)(sb * sa); break; /* vwmacc */
		case 0x3e: r = acc + b * (uint64_t)sa; break;    /* vwmaccus: unsigned rs1, signed vs2 */
		case 0x3f: r = acc + (uint64_t)sb * a; break;    /* vwmaccsu: signed vs1, unsigned vs2 */
		default: vill(h, insn);
		}
		dst_set(&d, w, i, trunc_to(r, w));
	}
	dst_end(h, &d);
}

static void exec_narrowing(struct rv_hart *h, uint32_t insn, const struct vargs *v)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, w = 2 * sew, f6 = v->f6;
	need(h, insn,
	     sew <= 4 && c->lmul8 <= 32 && group_ok(v->vs2, 2 * c->lmul8) && group_ok(v->vd, c->lmul8));
	need(h, insn, (v->vx || group_ok(v->vs1, c->lmul8)) && (v->vm || v->vd != 0));
	uint64_t xs = v->vx ? scalar(h, insn, sew, true) : 0;
	struct vdst d;
	dst_begin(h, &d, v->vd, group_len(c->lmul8));
	for (uint64_t i = h->vstart; i < c->vl; i++) {
		if (!active(h, v->vm, i)) continue;
		uint64_t a = vget(h, v->vs2, w, i), b = v->vx ? xs : vget(h, v->vs1, sew, i);
		unsigned sh = (unsigned)b & (8 * w - 1);
		uint64_t r;
		switch (f6) {
		case 0x2c: r = a >> sh; break;                                             /* vnsrl */
		case 0x2d: r = (uint64_t)(sext(a, w) >> sh); break;                        /* vnsra */
		case 0x2e: r = clamp_u(h, shift_round(a, sh, h->vxrm), sew); break;        /* vnclipu */
		default: r = clamp_s(h, shift_round(sext(a, w), sh, h->vxrm), sew); break; /* vnclip */
		}
		dst_set(&d, sew, i, trunc_to(r, sew));
	}
	dst_end(h, &d);
}

/* Zvbb's vwsll: vd (2*SEW) = zero-extended vs2 shifted left by the low log2(2*SEW) bits of vs1, rs1
 * or the immediate. */
static void exec_vwsll(struct rv_hart *h, uint32_t insn, const struct vargs *v)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, w = 2 * sew;
	need(h, insn, RV_HAS(h->ext, ZVBB) && sew <= 4 && c->lmul8 <= 32 && group_ok(v->vd, 2 * c->lmul8));
	need(h, insn,
	     group_ok(v->vs2, c->lmul8) && (v->vx || group_ok(v->vs1, c->lmul8)) && (v->vm || v->vd));
	uint64_t xs = v->vx ? scalar(h, insn, sew, true) : 0;
	struct vdst d;
	dst_begin(h, &d, v->vd, group_len(2 * c->lmul8));
	for (uint64_t i = h->vstart; i < c->vl; i++) {
		if (!active(h, v->vm, i)) continue;
		uint64_t b = v->vx ? xs : vget(h, v->vs1, sew, i);
		dst_set(&d, w, i, trunc_to(vget(h, v->vs2, sew, i) << (b & (8 * w - 1)), w));
	}
	dst_end(h, &d);
}

/* Reductions: vd[0] = vs1[0] folded with the active vs2[i] (widening sums: 2*SEW). */
static void exec_reduction(struct rv_hart *h, uint32_t insn, const struct vargs *v, bool widening)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, w = widening ? 2 * sew : sew, f6 = v->f6;
	need(h, insn, h->vstart == 0 && group_ok(v->vs2, c->lmul8) && (!widening || sew <= 4));
	if (c->vl == 0) return;
	uint64_t acc = vget(h, v->vs1, w, 0);
	for (uint64_t i = 0; i < c->vl; i++) {
		if (!active(h, v->vm, i)) continue;
		uint64_t e = vget(h, v->vs2, sew, i);
		int64_t se = sext(e, sew), sacc = sext(acc, w);
		if (widening) {
			acc += f6 == 0x30 ? e : (uint64_t)se;
			continue;
		}
		switch (f6) {
		case 0x00: acc += e; break;
		case 0x01: acc &= e; break;
		case 0x02: acc |= e; break;
		case 0x03: acc ^= e; break;
		case 0x04: acc = acc < e ? acc : e; break;
		case 0x05: acc = (uint64_t)(sacc < se ? sacc : se); break;
		case 0x06: acc = acc > e ? acc : e; break;
		default: acc = (uint64_t)(sacc > se ? sacc : se); break;
		}
	}
	vset(h, v->vd, w, 0, trunc_to(acc, w));
}

/* Slides, gathers, compress and whole-register moves. */
static void exec_permute(struct rv_hart *h, uint32_t insn, const struct vargs *v, bool opm)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, f6 = v->f6, n = group_len(c->lmul8);
	struct vdst d;
	if (!opm && f6 == 0x27) { /* vmv<nr>r.v: nr = simm5 + 1 registers, whatever vtype says of groups */
		unsigned nr = RS1(insn) + 1;
		need(h, insn,
		     v->vm && (nr == 1 || nr == 2 || nr == 4 || nr == 8) && v->vd % nr == 0 &&
		         v->vs2 % nr == 0);
		uint64_t evl = (uint64_t)nr * h->vlenb / sew;
		dst_begin(h, &d, v->vd, nr);
		for (uint64_t i = h->vstart; i < evl; i++) dst_set(&d, sew, i, vget(h, v->vs2, sew, i));
		dst_end(h, &d);
		return;
	}
	need(h, insn, group_ok(v->vd, c->lmul8) && group_ok(v->vs2, c->lmul8) && (v->vm || v->vd != 0));
	dst_begin(h, &d, v->vd, n);
	if (opm && f6 == 0x17) { /* vcompress.vm: vs1 is the selecting mask */
		need(h, insn, v->vm && h->vstart == 0);
		uint64_t k = 0;
		for (uint64_t i = 0; i < c->vl; i++)
			if (mask_bit(h, v->vs1, i)) dst_set(&d, sew, k++, vget(h, v->vs2, sew, i));
		dst_end(h, &d);
		return;
	}
	bool ei16 = !opm && f6 == 0x0e && !v->vx;
	unsigned ieew = ei16 ? 2 : sew, iemul8 = (unsigned)((uint64_t)c->lmul8 * ieew / sew);
	if ((!opm && f6 == 0x0c && !v->vx) || ei16) need(h, insn, iemul8 >= 1 && group_ok(v->vs1, iemul8));
	uint64_t off = v->vx ? (F3(insn) == 3 ? RS1(insn) : h->x[RS1(insn)]) : 0;
	uint64_t xs = trunc_to(h->x[RS1(insn)], sew);
	for (uint64_t i = h->vstart; i < c->vl; i++) {
		if (!active(h, v->vm, i)) continue;
		uint64_t r;
		if (opm) { /* vslide1up, vslide1down */
			if (f6 == 0x0e)
				r = i == 0 ? xs : vget(h, v->vs2, sew, i - 1);
			else
				r = i + 1 < c->vl ? vget(h, v->vs2, sew, i + 1) : xs;
		} else if (f6 == 0x0e && v->vx) { /* vslideup: elements below the offset stay */
			if (i < off) continue;
			r = vget(h, v->vs2, sew, i - off);
		} else if (f6 == 0x0f) { /* vslidedown */
			r = off < c->vlmax && i + off < c->vlmax ? vget(h, v->vs2, sew, i + off) : 0;
		} else { /* vrgather.vv/.vx/.vi, vrgatherei16.vv */
			uint64_t idx = v->vx ? off : vget(h, v->vs1, ieew, i);
			r = idx < c->vlmax ? vget(h, v->vs2, sew, idx) : 0;
		}
		dst_set(&d, sew, i, r);
	}
	dst_end(h, &d);
}

/* The mask instructions and the unary groups of OPM. */
static void exec_mask_unary(struct rv_hart *h, uint32_t insn, const struct vargs *v)
{
	const struct vcfg *c = &v->c;
	unsigned sew = c->sew, f6 = v->f6, sel = v->vs1;
	struct vdst d;
	if (f6 >= 0x18) { /* mask logical: vmandn, vmand, vmor, vmxor, vmorn, vmnand, vmnor, vmxnor */
		need(h, insn, v->vm);
		dst_begin(h, &d, v->vd, 1);
		for (uint64_t i = h->vstart; i < c->vl; i++) {
			bool a = mask_bit(h, v->vs2, i), b = mask_bit(h, v->vs1, i), r;
			switch (f6) {
			case 0x18: r = a && !b; break;
			case 0x19: r = a && b; break;
			case 0x1a: r = a || b; break;
			case 0x1b: r = a != b; break;
			case 0x1c: r = a || !b; break;
			case 0x1d: r = !(a && b); break;
			case 0x1e: r = !(a || b); break;
			default: r = a == b; break;
			}
			dst_mask(&d, i, r);
		}
		dst_end(h, &d);
		return;
	}
	if (f6 == 0x10) { /* VWXUNARY0: vmv.x.s, vcpop.m, vfirst.m (results in x[rd]) */
		uint64_t r = 0;
		if (sel == 0x00) {
			need(h, insn, v->vm);
			r = (uint64_t)sext(vget(h, v->vs2, sew, 0), sew);
		} else if (sel == 0x10 || sel == 0x11) {
			need(h, insn, h->vstart == 0);
			r = sel == 0x11 ? ~0ULL : 0;
			for (uint64_t i = 0; i < c->vl; i++) {
				if (!active(h, v->vm, i) || !mask_bit(h, v->vs2, i)) continue;
				if (sel == 0x11) {
					r = i;
					break;
				}
				r++;
			}
		} else {
			vill(h, insn);
		}
		h->x[v->vd] = r;
		h->x[0] = 0;
		return;
	}
	if (f6 == 0x12 && sel >= 8) { /* Zvbb: vbrev8, vrev8, vbrev, vclz, vctz, vcpop.v */
		need(h, insn, RV_HAS(h->ext, ZVBB) && (sel <= 10 || (sel >= 12 && sel <= 14)));
		need(h, insn,
		     group_ok(v->vd, c->lmul8) && group_ok(v->vs2, c->lmul8) && (v->vm || v->vd != 0));
		unsigned bits = 8 * sew;
		dst_begin(h, &d, v->vd, group_len(c->lmul8));
		for (uint64_t i = h->vstart; i < c->vl; i++) {
			if (!active(h, v->vm, i)) continue;
			uint64_t e = vget(h, v->vs2, sew, i), r = 0;
			switch (sel) {
			case 8: /* bits reversed within each byte */
				for (unsigned b = 0; b < bits; b++)
					if ((e >> b) & 1) r |= 1ULL << ((b & ~7u) | (7 - (b & 7)));
				break;
			case 9: /* bytes reversed */
				for (unsigned b = 0; b < sew; b++)
					r |= ((e >> (8 * b)) & 0xff) << (8 * (sew - 1 - b));
				break;
			case 10: /* bits reversed */
				for (unsigned b = 0; b < bits; b++)
					if ((e >> b) & 1) r |= 1ULL << (bits - 1 - b);
				break;
			case 12: r = e ? (uint64_t)__builtin_clzll(e) - (64 - bits) : bits; break;
			case 13: r = e ? (uint64_t)__builtin_ctzll(e) : bits; break;
			default: r = (uint64_t)__builtin_popcountll(e); break;
			}
			dst_set(&d, sew, i, r);
		}
		dst_end(h, &d);
		return;
	}
	if (f6 == 0x12) { /* vzext / vsext .vf8, .vf4, .vf2 */
		unsigned frac = sel == 2 || sel == 3 ? 8 : sel == 4 || sel == 5 ? 4 : 2;
		need(h, insn, sel >= 2 && sel <= 7 && sew >= frac && c->lmul8 >= frac);
		need(h, insn,
		     group_ok(v->vd, c->lmul8) && group_ok(v->vs2, c->lmul8 / frac) && (v->vm || v->vd != 0));
		unsigned seew = sew / frac;
		dst_begin(h, &d, v->vd, group_len(c->lmul8));
		for (uint64_t i = h->vstart; i < c->vl; i++) {
			if (!active(h, v->vm, i)) continue;
			uint64_t e = vget(h, v->vs2, seew, i);
			dst_set(&d, sew, i, trunc_to(sel & 1 ? (uint64_t)sext(e, seew) : e, sew));
		}
		dst_end(h, &d);
		return;
	}
	if (f6 == 0x14) { /* VMUNARY0: vmsbf, vmsof, vmsif, viota, vid */
		if (sel == 1 || sel == 2 || sel == 3) {
			need(h, insn, h->vstart == 0 && v->vd != v->vs2 && (v->vm || v->vd != 0));
			dst_begin(h, &d, v->vd, 1);
			bool seen = false;
			for (uint64_t i = 0; i < c->vl; i++) {
				if (!active(h, v->vm, i)) continue;
				bool bit = mask_bit(h, v->vs2, i), r;
				if (sel == 1) /* set before first */
					r = !seen && !bit;
				else if (sel == 2) /* set only first */
					r = !seen && bit;
				else /* set including first */
					r = !seen;
				seen |= bit;
				dst_mask(&d, i, r);
			}
			dst_end(h, &d);
			return;
		}
		need(h, insn,
		     (sel == 0x10 || sel == 0x11) && group_ok(v->vd, c->lmul8) && (v->vm || v->vd != 0));
		if (sel == 0x11) need(h, insn, v->vs2 == 0);
		if (sel == 0x10) need(h, insn, h->vstart == 0);
		dst_begin(h, &d, v->vd, group_len(c->lmul8));
		uint64_t count = 0;
		for (uint64_t i = h->vstart; i < c->vl; i++) {
			if (!active(h, v->vm, i)) continue;
			dst_set(&d, sew, i, trunc_to(sel == 0x11 ? i : count, sew));
			if (sel == 0x10 && mask_bit(h, v->vs2, i)) count++;
		}
		dst_end(h, &d);
		return;
	}
	vill(h, insn);
}

/* The forms each funct6 has: .vv (1), .vx (2), .vi (4); zero for a reserved funct6. */
enum { VV = 1, VX = 2, VI = 4 };
static const uint8_t opi_forms[64] = {
    [0x00] = VV | VX | VI,
    [0x02] = VV | VX,
    [0x03] = VX | VI,
    [0x04] = VV | VX,
    [0x05] = VV | VX,
    [0x06] = VV | VX,
    [0x07] = VV | VX,
    [0x09] = VV | VX | VI,
    [0x0a] = VV | VX | VI,
    [0x0b] = VV | VX | VI,
    [0x0c] = VV | VX | VI,
    [0x0e] = VV | VX | VI,
    [0x0f] = VX | VI,
    [0x10] = VV | VX | VI,
    [0x11] = VV | VX | VI,
    [0x12] = VV | VX,
    [0x13] = VV | VX,
    [0x17] = VV | VX | VI,
    [0x18] = VV | VX | VI,
    [0x19] = VV | VX | VI,
    [0x1a] = VV | VX,
    [0x1b] = VV | VX,
    [0x1c] = VV | VX | VI,
    [0x1d] = VV | VX | VI,
    [0x1e] = VX | VI,
    [0x1f] = VX | VI,
    [0x20] = VV | VX | VI,
    [0x21] = VV | VX | VI,
    [0x22] = VV | VX,
    [0x23] = VV | VX,
    [0x25] = VV | VX | VI,
    [0x27] = VV | VX | VI,
    [0x28] = VV | VX | VI,
    [0x29] = VV | VX | VI,
    [0x2a] = VV | VX | VI,
    [0x2b] = VV | VX | VI,
    [0x2c] = VV | VX | VI,
    [0x2d] = VV | VX | VI,
    [0x2e] = VV | VX | VI,
    [0x2f] = VV | VX | VI,
    [0x30] = VV,
    [0x31] = VV,
    /* Zvbb: vandn, vror (.vi: imm[5] in funct6 bit 0), vrol, vwsll */
    [0x01] = VV | VX,
    [0x14] = VV | VX | VI,
    [0x15] = VV | VX | VI,
    [0x35] = VV | VX | VI,
};
static const uint8_t opm_forms[64] = {
    [0x00] = VV,      [0x01] = VV,      [0x02] = VV,      [0x03] = VV,      [0x04] = VV,
    [0x05] = VV,      [0x06] = VV,      [0x07] = VV,      [0x08] = VV | VX, [0x09] = VV | VX,
    [0x0a] = VV | VX, [0x0b] = VV | VX, [0x0e] = VX,      [0x0f] = VX,      [0x10] = VV | VX,
    [0x12] = VV,      [0x14] = VV,      [0x17] = VV,      [0x18] = VV,      [0x19] = VV,
    [0x1a] = VV,      [0x1b] = VV,      [0x1c] = VV,      [0x1d] = VV,      [0x1e] = VV,
    [0x1f] = VV,      [0x20] = VV | VX, [0x21] = VV | VX, [0x22] = VV | VX, [0x23] = VV | VX,
    [0x24] = VV | VX, [0x25] = VV | VX, [0x26] = VV | VX, [0x27] = VV | VX, [0x29] = VV | VX,
    [0x2b] = VV | VX, [0x2d] = VV | VX, [0x2f] = VV | VX, [0x30] = VV | VX, [0x31] = VV | VX,
    [0x32] = VV | VX, [0x33] = VV | VX, [0x34] = VV | VX, [0x35] = VV | VX, [0x36] = VV | VX,
    [0x37] = VV | VX, [0x38] = VV | VX, [0x3a] = VV | VX, [0x3b] = VV | VX, [0x3c] = VV | VX,
    [0x3d] = VV | VX, [0x3e] = VX,      [0x3f] = VV | VX,
};

static const uint8_t opf_forms[64] = {
    [0x00] = VV | VX, [0x01] = VV,      [0x02] = VV | VX, [0x03] = VV,      [0x04] = VV | VX,
    [0x05] = VV,      [0x06] = VV | VX, [0x07] = VV,      [0x08] = VV | VX, [0x09] = VV | VX,
    [0x0a] = VV | VX, [0x0e] = VX,      [0x0f] = VX,      [0x10] = VV | VX, [0x12] = VV,
    [0x13] = VV,      [0x17] = VX,      [0x18] = VV | VX, [0x19] = VV | VX, [0x1b] = VV | VX,
    [0x1c] = VV | VX, [0x1d] = VX,      [0x1f] = VX,      [0x20] = VV | VX, [0x21] = VX,
    [0x24] = VV | VX, [0x27] = VX,      [0x28] = VV | VX, [0x29] = VV | VX, [0x2a] = VV | VX,
    [0x2b] = VV | VX, [0x2c] = VV | VX, [0x2d] = VV | VX, [0x2e] = VV | VX, [0x2f] = VV | VX,
    [0x30] = VV | VX, [0x31] = VV,      [0x32] = VV | VX, [0x33] = VV,      [0x34] = VV | VX,
    [0x36] = VV | VX, [0x38] = VV | VX, [0x3c] = VV | VX, [0x3d] = VV | VX, [0x3e] = VV | VX,
    [0x3f] = VV | VX,
};

void rv_exec_vector(struct rv_hart *h, uint32_t insn)
{
	unsigned f3 = F3(insn);
	if (f3 == 7) {
		if (vs_off(h)) vill(h, insn);
		exec_vset(h, insn);
		return;
	}
	struct vargs v = {.c = config(h, insn),
	                  .f6 = insn >> 26,
	                  .vd = RD(insn),
	                  .vs1 = RS1(insn),
	                  .vs2 = RS2(insn),
	                  .f3 = f3,
	                  .vm = (insn >> 25) & 1,
	                  .vx = f3 >= 3};
	bool opm = f3 == 2 || f3 == 6, opf = f3 == 1 || f3 == 5;
	unsigned f6 = v.f6, form = f3 == 0 || f3 == 1 || f3 == 2 ? VV : f3 == 3 ? VI : VX;
	need(h, insn, ((opf ? opf_forms : opm ? opm_forms : opi_forms)[f6] & form) != 0);
	if (h->vstart >= v.c.vl && !((opm || opf) && f6 == 0x10) && !(f3 == 3 && f6 == 0x27)) {
		h->vstart = 0; /* nothing to do (vmv.x.s, vmv<nr>r.v run regardless) */
		vs_dirty(h);
		return;
	}
	if (opf) {
		rv_exec_vector_fp(h, insn, &v);
	} else if (!opm) {
		if (f6 == 0x30 || f6 == 0x31) {
			need(h, insn, !v.vx);
			exec_reduction(h, insn, &v, true);
		} else if (f6 >= 0x2c && f6 <= 0x2f) {
			exec_narrowing(h, insn, &v);
		} else if (f6 == 0x35) {
			exec_vwsll(h, insn, &v);
		} else if (f6 == 0x0c || f6 == 0x0e || f6 == 0x0f || (f6 == 0x27 && f3 == 3)) {
			exec_permute(h, insn, &v, false);
		} else {
			exec_single(h, insn, &v, false);
		}
	} else if (f6 <= 0x07) {
		need(h, insn, !v.vx);
		exec_reduction(h, insn, &v, false);
	} else if (f6 == 0x0e || f6 == 0x0f) {
		need(h, insn, v.vx);
		exec_permute(h, insn, &v, true);
	} else if (f6 == 0x10 && v.vx) { /* vmv.s.x */
		need(h, insn, v.vs2 == 0 && v.vm);
		if (h->vstart < v.c.vl) vset(h, v.vd, v.c.sew, 0, trunc_to(h->x[v.vs1], v.c.sew));
	} else if (f6 == 0x17 || (f6 >= 0x10 && f6 <= 0x1f)) {
		need(h, insn, !v.vx);
		if (f6 == 0x17)
			exec_permute(h, insn, &v, true);
		else
			exec_mask_unary(h, insn, &v);
	} else if (f6 >= 0x30) {
		exec_widening(h, insn, &v);
	} else {
		exec_single(h, insn, &v, true);
	}
	h->vstart = 0;
	vs_dirty(h);
}
