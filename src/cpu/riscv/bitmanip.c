/*
 * bitmanip.c — the register-to-register instructions of Zba (address
 * generation), Zbb (basic bit manipulation), Zbc (carry-less multiply), Zbs
 * (single-bit) and Zicond (conditional zero): pure functions of the
 * instruction bits and two register values, shared by the interpreter and the
 * translator (which calls them from translated code).
 */
#include "bitmanip.h"

#include "decode.h"
#include "isa.h"

static uint64_t sext32(uint64_t v)
{
	return (uint64_t)(int64_t)(int32_t)v;
}

static uint64_t rol64(uint64_t a, unsigned n)
{
	n &= 63;
	return n ? (a << n) | (a >> (64 - n)) : a;
}

static uint32_t rol32(uint32_t a, unsigned n)
{
	n &= 31;
	return n ? (a << n) | (a >> (32 - n)) : a;
}

/* Carry-less products: the low half, the high half, and bits 126:63 (clmulr). */
uint64_t rv_clmul(uint64_t a, uint64_t b)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < 64; i++)
		if ((b >> i) & 1) r ^= a << i;
	return r;
}

uint64_t rv_clmulh(uint64_t a, uint64_t b)
{
	uint64_t r = 0;
	for (unsigned i = 1; i < 64; i++)
		if ((b >> i) & 1) r ^= a >> (64 - i);
	return r;
}

uint64_t rv_clmulr(uint64_t a, uint64_t b)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < 64; i++)
		if ((b >> i) & 1) r ^= a >> (63 - i);
	return r;
}

uint64_t rv_orc_b(uint64_t a)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < 64; i += 8)
		if ((a >> i) & 0xff) r |= 0xffULL << i;
	return r;
}

/* OP (0x33): funct7 and funct3 select. */
static bool op_reg(uint64_t ext, uint32_t insn, uint64_t a, uint64_t b, uint64_t *out)
{
	unsigned sel = F7(insn) << 3 | F3(insn);
	switch (sel) {
	case 0x10 << 3 | 2: /* sh1add */
	case 0x10 << 3 | 4: /* sh2add */
	case 0x10 << 3 | 6: /* sh3add */
		if (!RV_HAS(ext, ZBA)) return false;
		*out = (a << (F3(insn) >> 1)) + b;
		return true;
	case 0x20 << 3 | 7: /* andn */
	case 0x20 << 3 | 6: /* orn */
	case 0x20 << 3 | 4: /* xnor */
	case 0x05 << 3 | 4: /* min */
	case 0x05 << 3 | 5: /* minu */
	case 0x05 << 3 | 6: /* max */
	case 0x05 << 3 | 7: /* maxu */
	case 0x30 << 3 | 1: /* rol */
	case 0x30 << 3 | 5: /* ror */
		if (!RV_HAS(ext, ZBB)) return false;
		switch (sel) {
		case 0x20 << 3 | 7: *out = a & ~b; break;
		case 0x20 << 3 | 6: *out = a | ~b; break;
		case 0x20 << 3 | 4: *out = ~(a ^ b); break;
		case 0x05 << 3 | 4: *out = (int64_t)a < (int64_t)b ? a : b; break;
		case 0x05 << 3 | 5: *out = a < b ? a : b; break;
		case 0x05 << 3 | 6: *out = (int64_t)a > (int64_t)b ? a : b; break;
		case 0x05 << 3 | 7: *out = a > b ? a : b; break;
		case 0x30 << 3 | 1: *out = rol64(a, (unsigned)b); break;
		default: *out = rol64(a, 64 - ((unsigned)b & 63)); break;
		}
		return true;
	case 0x05 << 3 | 1: /* clmul */
	case 0x05 << 3 | 2: /* clmulr */
	case 0x05 << 3 | 3: /* clmulh */
		if (!RV_HAS(ext, ZBC)) return false;
		*out = F3(insn) == 1 ? rv_clmul(a, b) : F3(insn) == 2 ? rv_clmulr(a, b) : rv_clmulh(a, b);
		return true;
	case 0x24 << 3 | 1: /* bclr */
	case 0x24 << 3 | 5: /* bext */
	case 0x14 << 3 | 1: /* bset */
	case 0x34 << 3 | 1: /* binv */
		if (!RV_HAS(ext, ZBS)) return false;
		b = 1ULL << (b & 63);
		*out = sel == (0x24 << 3 | 1)   ? a & ~b
		       : sel == (0x24 << 3 | 5) ? (a & b) != 0
		       : sel == (0x14 << 3 | 1) ? a | b
		                                : a ^ b;
		return true;
	case 0x07 << 3 | 5: /* czero.eqz */
	case 0x07 << 3 | 7: /* czero.nez */
		if (!RV_HAS(ext, ZICOND)) return false;
		*out = (F3(insn) == 5) == (b == 0) ? 0 : a;
		return true;
	default: return false;
	}
}

/* OP-IMM (0x13), funct3 1 and 5 beyond slli, srli and srai. */
static bool op_imm(uint64_t ext, uint32_t insn, uint64_t a, uint64_t *out)
{
	unsigned imm12 = insn >> 20, hi6 = insn >> 26, shamt = imm12 & 63;
	if (F3(insn) == 1) {
		switch (imm12) {
		case 0x600: /* clz */
		case 0x601: /* ctz */
		case 0x602: /* cpop */
		case 0x604: /* sext.b */
		case 0x605: /* sext.h */
			if (!RV_HAS(ext, ZBB)) return false;
			*out = imm12 == 0x600   ? (a ? (uint64_t)__builtin_clzll(a) : 64)
			       : imm12 == 0x601 ? (a ? (uint64_t)__builtin_ctzll(a) : 64)
			       : imm12 == 0x602 ? (uint64_t)__builtin_popcountll(a)
			       : imm12 == 0x604 ? (uint64_t)(int64_t)(int8_t)a
			                        : (uint64_t)(int64_t)(int16_t)a;
			return true;
		default: break;
		}
		if (!RV_HAS(ext, ZBS)) return false;
		uint64_t bit = 1ULL << shamt;
		switch (hi6) {
		case 0x12: *out = a & ~bit; return true; /* bclri */
		case 0x0a: *out = a | bit; return true;  /* bseti */
		case 0x1a: *out = a ^ bit; return true;  /* binvi */
		default: return false;
		}
	}
	if (F3(insn) != 5) return false;
	if (imm12 == 0x287 || imm12 == 0x6b8 || hi6 == 0x18) { /* orc.b, rev8, rori */
		if (!RV_HAS(ext, ZBB)) return false;
		*out = imm12 == 0x287   ? rv_orc_b(a)
		       : imm12 == 0x6b8 ? __builtin_bswap64(a)
		                        : rol64(a, 64 - shamt);
		return true;
	}
	if (hi6 == 0x12 && RV_HAS(ext, ZBS)) { /* bexti */
		*out = (a >> shamt) & 1;
		return true;
	}
	return false;
}

/* OP-32 (0x3b). */
static bool op_reg32(uint64_t ext, uint32_t insn, uint64_t a, uint64_t b, uint64_t *out)
{
	unsigned f7 = F7(insn), f3 = F3(insn);
	if (f7 == 0x04 && f3 == 0 && RV_HAS(ext, ZBA)) { /* add.uw (zext.w with rs2 = x0) */
		*out = (uint32_t)a + b;
		return true;
	}
	if (f7 == 0x10 && (f3 == 2 || f3 == 4 || f3 == 6) && RV_HAS(ext, ZBA)) { /* shNadd.uw */
		*out = ((uint64_t)(uint32_t)a << (f3 >> 1)) + b;
		return true;
	}
	if (f7 == 0x30 && (f3 == 1 || f3 == 5) && RV_HAS(ext, ZBB)) { /* rolw, rorw */
		*out = sext32(rol32((uint32_t)a, f3 == 1 ? (unsigned)b : 32 - ((unsigned)b & 31)));
		return true;
	}
	if (f7 == 0x04 && f3 == 4 && RS2(insn) == 0 && RV_HAS(ext, ZBB)) { /* zext.h */
		*out = (uint16_t)a;
		return true;
	}
	return false;
}

/* OP-IMM-32 (0x1b), funct3 1 and 5 beyond slliw, srliw and sraiw. */
static bool op_imm32(uint64_t ext, uint32_t insn, uint64_t a, uint64_t *out)
{
	unsigned f7 = F7(insn), f3 = F3(insn), rs2 = RS2(insn);
	if (f3 == 1 && (insn >> 26) == 0x02 && RV_HAS(ext, ZBA)) { /* slli.uw */
		*out = (uint64_t)(uint32_t)a << ((insn >> 20) & 63);
		return true;
	}
	if (!RV_HAS(ext, ZBB) || f7 != 0x30) return false;
	if (f3 == 5) { /* roriw */
		*out = sext32(rol32((uint32_t)a, 32 - rs2));
		return true;
	}
	uint32_t w = (uint32_t)a;
	switch (f3 == 1 ? rs2 : 99) {
	case 0: *out = w ? (uint64_t)__builtin_clz(w) : 32; return true; /* clzw */
	case 1: *out = w ? (uint64_t)__builtin_ctz(w) : 32; return true; /* ctzw */
	case 2: *out = (uint64_t)__builtin_popcount(w); return true;     /* cpopw */
	default: return false;
	}
}

bool rv_bitmanip(uint64_t ext, uint32_t insn, uint64_t a, uint64_t b, uint64_t *out)
{
	switch (insn & 0x7f) {
	case 0x33: return op_reg(ext, insn, a, b, out);
	case 0x13: return op_imm(ext, insn, a, out);
	case 0x3b: return op_reg32(ext, insn, a, b, out);
	case 0x1b: return op_imm32(ext, insn, a, out);
	default: return false;
	}
}
