/*
 * rvc.c — the C extension: expands each 16-bit instruction into the 32-bit
 * instruction with the same effect, once, into a 64K-entry table. The
 * interpreter then executes one instruction set; only the length differs.
 * A zero entry means "illegal" (the all-zero halfword is illegal by spec).
 * Zcb and Zcmop live in encodings the base extension reserves: those are
 * expanded on demand, for the harts that offer them.
 */
#include "hart.h"
#include "isa.h"

#include <stdint.h>

static uint32_t expand_table[65536];

static uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static uint32_t enc_i(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t enc_s(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 11, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | bits(u, 4, 0) << 7 | op;
}

static uint32_t enc_b(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 12, 12) << 31 | bits(u, 10, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
	       bits(u, 4, 1) << 8 | bits(u, 11, 11) << 7 | 0x63;
}

static uint32_t enc_j(int32_t imm, unsigned rd)
{
	uint32_t u = (uint32_t)imm;
	return bits(u, 20, 20) << 31 | bits(u, 10, 1) << 21 | bits(u, 11, 11) << 20 | bits(u, 19, 12) << 12 |
	       rd << 7 | 0x6f;
}

static uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static int32_t sext(uint32_t v, unsigned nbits)
{
	return (int32_t)(v << (32 - nbits)) >> (32 - nbits);
}

static uint32_t expand_q0(uint32_t c)
{
	unsigned rdp = bits(c, 4, 2) + 8, rs1p = bits(c, 9, 7) + 8;
	uint32_t uimm_d = bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6; /* ld/sd/fld/fsd */
	uint32_t uimm_w = bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6;

	switch (bits(c, 15, 13)) {
	case 0: { /* c.addi4spn */
		uint32_t nz =
		    bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 3;
		return nz ? enc_i((int32_t)nz, 2, 0, rdp, 0x13) : 0;
	}
	case 1: return enc_i((int32_t)uimm_d, rs1p, 3, rdp, 0x07); /* c.fld */
	case 2: return enc_i((int32_t)uimm_w, rs1p, 2, rdp, 0x03); /* c.lw */
	case 3: return enc_i((int32_t)uimm_d, rs1p, 3, rdp, 0x03); /* c.ld */
	case 5: return enc_s((int32_t)uimm_d, rdp, rs1p, 3, 0x27); /* c.fsd */
	case 6: return enc_s((int32_t)uimm_w, rdp, rs1p, 2, 0x23); /* c.sw */
	case 7: return enc_s((int32_t)uimm_d, rdp, rs1p, 3, 0x23); /* c.sd */
	default: return 0;
	}
}

static uint32_t expand_q1(uint32_t c)
{
	unsigned rd = bits(c, 11, 7), rdp = bits(c, 9, 7) + 8, rs2p = bits(c, 4, 2) + 8;
	int32_t imm6 = sext(bits(c, 12, 12) << 5 | bits(c, 6, 2), 6);

	switch (bits(c, 15, 13)) {
	case 0: return enc_i(imm6, rd, 0, rd, 0x13);          /* c.addi / c.nop */
	case 1: return rd ? enc_i(imm6, rd, 0, rd, 0x1b) : 0; /* c.addiw */
	case 2: return enc_i(imm6, 0, 0, rd, 0x13);           /* c.li */
	case 3:
		if (rd == 2) { /* c.addi16sp */
			int32_t nz = sext(bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
			                      bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5,
			                  10);
			return nz ? enc_i(nz, 2, 0, 2, 0x13) : 0;
		} else { /* c.lui */
			int32_t nz = sext(bits(c, 12, 12) << 17 | bits(c, 6, 2) << 12, 18);
			return nz ? ((uint32_t)nz & 0xfffff000) | rd << 7 | 0x37 : 0;
		}
	case 4: {
		unsigned shamt = bits(c, 12, 12) << 5 | bits(c, 6, 2);
		switch (bits(c, 11, 10)) {
		case 0: return enc_i((int32_t)shamt, rdp, 5, rdp, 0x13);           /* c.srli */
		case 1: return enc_i((int32_t)(shamt | 0x400), rdp, 5, rdp, 0x13); /* c.srai */
		case 2: return enc_i(imm6, rdp, 7, rdp, 0x13);                     /* c.andi */
		default: {
			static const unsigned f3[4] = {0, 4, 6, 7}; /* sub xor or and */
			unsigned op2 = bits(c, 6, 5);
			if (!bits(c, 12, 12))
				return enc_r(op2 == 0 ? 0x20 : 0, rs2p, rdp, f3[op2], rdp, 0x33);
			if (op2 == 0) return enc_r(0x20, rs2p, rdp, 0, rdp, 0x3b); /* c.subw */
			if (op2 == 1) return enc_r(0, rs2p, rdp, 0, rdp, 0x3b);    /* c.addw */
			return 0;
		}
		}
	}
	case 5: { /* c.j */
		int32_t off = sext(bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
		                       bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
		                       bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5,
		                   12);
		return enc_j(off, 0);
	}
	default: { /* c.beqz / c.bnez */
		int32_t off = sext(bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
		                       bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5,
		                   9);
		return enc_b(off, 0, rdp, bits(c, 15, 13) == 6 ? 0 : 1);
	}
	}
}

static uint32_t expand_q2(uint32_t c)
{
	unsigned rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
	uint32_t lsp_d = bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6;
	uint32_t lsp_w = bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6;
	uint32_t ssp_d = bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
	uint32_t ssp_w = bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6;

	switch (bits(c, 15, 13)) {
	case 0: { /* c.slli */
		unsigned shamt = bits(c, 12, 12) << 5 | rs2;
		return enc_i((int32_t)shamt, rd, 1, rd, 0x13);
	}
	case 1: return enc_i((int32_t)lsp_d, 2, 3, rd, 0x07);          /* c.fldsp */
	case 2: return rd ? enc_i((int32_t)lsp_w, 2, 2, rd, 0x03) : 0; /* c.lwsp */
	case 3: return rd ? enc_i((int32_t)lsp_d, 2, 3, rd, 0x03) : 0; /* c.ldsp */
	case 4:
		if (!bits(c, 12, 12)) {
			if (rs2 == 0) return rd ? enc_i(0, rd, 0, 0, 0x67) : 0; /* c.jr */
			return enc_r(0, rs2, 0, 0, rd, 0x33);                   /* c.mv */
		}
		if (rs2 == 0) {
			if (rd == 0) return 0x00100073;  /* c.ebreak */
			return enc_i(0, rd, 0, 1, 0x67); /* c.jalr */
		}
		return enc_r(0, rs2, rd, 0, rd, 0x33);          /* c.add */
	case 5: return enc_s((int32_t)ssp_d, rs2, 2, 3, 0x27);  /* c.fsdsp */
	case 6: return enc_s((int32_t)ssp_w, rs2, 2, 2, 0x23);  /* c.swsp */
	default: return enc_s((int32_t)ssp_d, rs2, 2, 3, 0x23); /* c.sdsp */
	}
}

static uint32_t expand(uint32_t c)
{
	switch (c & 3) {
	case 0: return expand_q0(c);
	case 1: return expand_q1(c);
	case 2: return expand_q2(c);
	default: return 0;
	}
}

/* Zcb and Zcmop: encodings reserved by the C extension itself, so the table leaves them zero. The
 * expansions needing Zbb or Zba (c.zext.h, c.sext.b, ...) are checked when they run. */
static uint32_t expand_reserved(uint32_t c, uint64_t ext)
{
	unsigned r1p = bits(c, 9, 7) + 8, r2p = bits(c, 4, 2) + 8;
	if ((c & 3) == 0 && bits(c, 15, 13) == 4 && RV_HAS(ext, ZCB)) {
		uint32_t u = bits(c, 5, 5) << 1, b6 = bits(c, 6, 6);
		switch (bits(c, 12, 10)) {
		case 0: return enc_i((int32_t)(u | b6), r1p, 4, r2p, 0x03);   /* c.lbu */
		case 1: return enc_i((int32_t)u, r1p, b6 ? 1 : 5, r2p, 0x03); /* c.lh, c.lhu */
		case 2: return enc_s((int32_t)(u | b6), r2p, r1p, 0, 0x23);   /* c.sb */
		case 3: return b6 ? 0 : enc_s((int32_t)u, r2p, r1p, 1, 0x23); /* c.sh */
		default: return 0;
		}
	}
	if ((c & 3) == 1 && bits(c, 15, 10) == 0x27 && RV_HAS(ext, ZCB)) {
		if (bits(c, 6, 5) == 2) return enc_r(1, r2p, r1p, 0, r1p, 0x33); /* c.mul */
		if (bits(c, 6, 5) != 3) return 0;
		switch (bits(c, 4, 2)) {
		case 0: return enc_i(0xff, r1p, 7, r1p, 0x13);    /* c.zext.b: andi */
		case 1: return enc_i(0x604, r1p, 1, r1p, 0x13);   /* c.sext.b */
		case 2: return enc_r(0x04, 0, r1p, 4, r1p, 0x3b); /* c.zext.h */
		case 3: return enc_i(0x605, r1p, 1, r1p, 0x13);   /* c.sext.h */
		case 4: return enc_r(0x04, 0, r1p, 0, r1p, 0x3b); /* c.zext.w: add.uw rd, rd, x0 */
		case 5: return enc_i(-1, r1p, 4, r1p, 0x13);      /* c.not: xori rd, rd, -1 */
		default: return 0;
		}
	}
	/* c.mop.n: c.lui x1, x3 ... x15 with a zero immediate; writes nothing. */
	if ((c & 0xf8ff) == 0x6081 && RV_HAS(ext, ZCMOP)) return 0x00000013; /* nop */
	return 0;
}

void rv_init_tables(void)
{
	for (uint32_t c = 0; c < 65536; c++) expand_table[c] = expand(c);
}

uint32_t rv_expand_compressed(uint16_t insn, uint64_t ext)
{
	uint32_t full = expand_table[insn];
	return full ? full : expand_reserved(insn, ext);
}
