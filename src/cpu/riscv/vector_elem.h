/*
 * vector_elem.h — what the vector instructions share (vector.c, and fpu.c's
 * vector section): elements of register groups, masks, group checks, the
 * current configuration, and the destination written through a copy.
 */
#ifndef CLOISON_RV_VECTOR_ELEM_H
#define CLOISON_RV_VECTOR_ELEM_H

#include "internal.h"

static inline uint64_t vget(const struct rv_hart *h, unsigned reg, unsigned eew, uint64_t i)
{
	const uint8_t *p = h->vreg + (size_t)reg * h->vlenb + i * eew;
	switch (eew) {
	case 1: return *p;
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

static inline void vset(struct rv_hart *h, unsigned reg, unsigned eew, uint64_t i, uint64_t v)
{
	memcpy(h->vreg + (size_t)reg * h->vlenb + i * eew, &v, eew); /* little-endian host */
}

static inline bool mask_bit(const struct rv_hart *h, unsigned reg, uint64_t i)
{
	return (h->vreg[(size_t)reg * h->vlenb + i / 8] >> (i % 8)) & 1;
}

static inline int64_t sext(uint64_t v, unsigned eew)
{
	unsigned sh = 64 - 8 * eew;
	return (int64_t)(v << sh) >> sh;
}

static inline uint64_t trunc_to(uint64_t v, unsigned eew)
{
	return eew == 8 ? v : v & ((1ULL << (8 * eew)) - 1);
}

/* Whether a group of emul8/8 registers (at least one) at `reg` is aligned and inside the file. */
static inline bool group_ok(unsigned reg, unsigned emul8)
{
	unsigned n = emul8 < 8 ? 1 : emul8 / 8;
	return emul8 <= 64 && reg % n == 0 && reg + n <= 32;
}

static inline unsigned group_len(unsigned emul8)
{
	return emul8 < 8 ? 1 : emul8 / 8;
}

/* Whether groups [a, a+na) and [b, b+nb) share a register. */
static inline bool overlap(unsigned a, unsigned na, unsigned b, unsigned nb)
{
	return a < b + nb && b < a + na;
}

/* The current configuration (vector.c's config() checks it). */
struct vcfg {
	unsigned sew, lmul8; /* SEW in bytes, LMUL in eighths */
	uint64_t vl, vlmax;
};

static inline bool active(const struct rv_hart *h, bool vm, uint64_t i)
{
	return vm || mask_bit(h, 0, i);
}

/* The destination group, written through a copy so sources that overlap it read their old values
 * (and undisturbed elements stay as they were). */
struct vdst {
	unsigned reg, n;
	uint8_t buf[8 * RV_VLENB_MAX];
};

static inline void dst_begin(const struct rv_hart *h, struct vdst *d, unsigned reg, unsigned n)
{
	d->reg = reg;
	d->n = n;
	memcpy(d->buf, h->vreg + (size_t)reg * h->vlenb, (size_t)n * h->vlenb);
}

static inline void dst_set(struct vdst *d, unsigned eew, uint64_t i, uint64_t v)
{
	memcpy(d->buf + i * eew, &v, eew);
}

static inline void dst_mask(struct vdst *d, uint64_t i, bool b)
{
	d->buf[i / 8] = (uint8_t)((d->buf[i / 8] & ~(1u << (i % 8))) | (unsigned)b << (i % 8));
}

static inline void dst_end(struct rv_hart *h, const struct vdst *d)
{
	memcpy(h->vreg + (size_t)d->reg * h->vlenb, d->buf, (size_t)d->n * h->vlenb);
}

/* An OP-V instruction's fields. */
struct vargs {
	struct vcfg c;
	unsigned f6, vd, vs1, vs2, f3;
	bool vm, vx; /* vm: unmasked; vx: the second operand is a scalar */
};

/* Illegal instruction unless `ok` (a reserved encoding, a misaligned group...). */
static inline void need(struct rv_hart *h, uint32_t insn, bool ok)
{
	if (!ok) rv_raise(h, RV_EXC_ILLEGAL, insn);
}

#endif
