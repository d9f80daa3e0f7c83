/*
 * bitmanip.c — the register-to-register instructions of Zba (address
 * generation), Zbb (basic bit manipulation), Zbc (carry-less multiply), Zbs
 * (single-bit) and Zicond (conditional zero): which instruction bits are which
 * operation (decode) and what each computes, shared by the interpreter and the
 * translator.
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

#define IMM(op, amount) ((int32_t)(RV_ZB_##op | RV_ZB_IMM_FORM | (int32_t)(amount) << 8))

/* OP (0x33): funct7 and funct3 select. */
static int32_t decode_op(uint64_t ext, uint32_t insn)
{
	switch (F7(insn) << 3 | F3(insn)) {
	case 0x10 << 3 | 2: return RV_HAS(ext, ZBA) ? RV_ZB_SH1ADD : 0;
	case 0x10 << 3 | 4: return RV_HAS(ext, ZBA) ? RV_ZB_SH2ADD : 0;
	case 0x10 << 3 | 6: return RV_HAS(ext, ZBA) ? RV_ZB_SH3ADD : 0;
	case 0x20 << 3 | 7: return RV_HAS(ext, ZBB) ? RV_ZB_ANDN : 0;
	case 0x20 << 3 | 6: return RV_HAS(ext, ZBB) ? RV_ZB_ORN : 0;
	case 0x20 << 3 | 4: return RV_HAS(ext, ZBB) ? RV_ZB_XNOR : 0;
	case 0x05 << 3 | 4: return RV_HAS(ext, ZBB) ? RV_ZB_MIN : 0;
	case 0x05 << 3 | 5: return RV_HAS(ext, ZBB) ? RV_ZB_MINU : 0;
	case 0x05 << 3 | 6: return RV_HAS(ext, ZBB) ? RV_ZB_MAX : 0;
	case 0x05 << 3 | 7: return RV_HAS(ext, ZBB) ? RV_ZB_MAXU : 0;
	case 0x30 << 3 | 1: return RV_HAS(ext, ZBB) ? RV_ZB_ROL : 0;
	case 0x30 << 3 | 5: return RV_HAS(ext, ZBB) ? RV_ZB_ROR : 0;
	case 0x05 << 3 | 1: return RV_HAS(ext, ZBC) ? RV_ZB_CLMUL : 0;
	case 0x05 << 3 | 2: return RV_HAS(ext, ZBC) ? RV_ZB_CLMULR : 0;
	case 0x05 << 3 | 3: return RV_HAS(ext, ZBC) ? RV_ZB_CLMULH : 0;
	case 0x24 << 3 | 1: return RV_HAS(ext, ZBS) ? RV_ZB_BCLR : 0;
	case 0x24 << 3 | 5: return RV_HAS(ext, ZBS) ? RV_ZB_BEXT : 0;
	case 0x14 << 3 | 1: return RV_HAS(ext, ZBS) ? RV_ZB_BSET : 0;
	case 0x34 << 3 | 1: return RV_HAS(ext, ZBS) ? RV_ZB_BINV : 0;
	case 0x07 << 3 | 5: return RV_HAS(ext, ZICOND) ? RV_ZB_CZERO_EQZ : 0;
	case 0x07 << 3 | 7: return RV_HAS(ext, ZICOND) ? RV_ZB_CZERO_NEZ : 0;
	default: return 0;
	}
}

/* OP-IMM (0x13), funct3 1 and 5 beyond slli, srli and srai. */
static int32_t decode_op_imm(uint64_t ext, uint32_t insn)
{
	unsigned imm12 = insn >> 20, hi6 = insn >> 26, shamt = imm12 & 63;
	bool zbb = RV_HAS(ext, ZBB), zbs = RV_HAS(ext, ZBS);
	if (F3(insn) == 1) {
		switch (imm12) {
		case 0x600: return zbb ? RV_ZB_CLZ : 0;
		case 0x601: return zbb ? RV_ZB_CTZ : 0;
		case 0x602: return zbb ? RV_ZB_CPOP : 0;
		case 0x604: return zbb ? RV_ZB_SEXT_B : 0;
		case 0x605: return zbb ? RV_ZB_SEXT_H : 0;
		default: break;
		}
		switch (hi6) {
		case 0x12: return zbs ? IMM(BCLRI, shamt) : 0;
		case 0x0a: return zbs ? IMM(BSETI, shamt) : 0;
		case 0x1a: return zbs ? IMM(BINVI, shamt) : 0;
		default: return 0;
		}
	}
	if (F3(insn) != 5) return 0;
	if (imm12 == 0x287) return zbb ? RV_ZB_ORC_B : 0;
	if (imm12 == 0x6b8) return zbb ? RV_ZB_REV8 : 0;
	if (hi6 == 0x18) return zbb ? IMM(RORI, shamt) : 0;
	if (hi6 == 0x12) return zbs ? IMM(BEXTI, shamt) : 0;
	return 0;
}

/* OP-32 (0x3b). */
static int32_t decode_op32(uint64_t ext, uint32_t insn)
{
	unsigned f7 = F7(insn), f3 = F3(insn);
	bool zba = RV_HAS(ext, ZBA), zbb = RV_HAS(ext, ZBB);
	if (f7 == 0x04 && f3 == 0) return zba ? RV_ZB_ADD_UW : 0; /* zext.w with rs2 = x0 */
	if (f7 == 0x10 && f3 == 2) return zba ? RV_ZB_SH1ADD_UW : 0;
	if (f7 == 0x10 && f3 == 4) return zba ? RV_ZB_SH2ADD_UW : 0;
	if (f7 == 0x10 && f3 == 6) return zba ? RV_ZB_SH3ADD_UW : 0;
	if (f7 == 0x30 && f3 == 1) return zbb ? RV_ZB_ROLW : 0;
	if (f7 == 0x30 && f3 == 5) return zbb ? RV_ZB_RORW : 0;
	if (f7 == 0x04 && f3 == 4 && RS2(insn) == 0) return zbb ? RV_ZB_ZEXT_H : 0;
	return 0;
}

/* OP-IMM-32 (0x1b), funct3 1 and 5 beyond slliw, srliw and sraiw. */
static int32_t decode_op_imm32(uint64_t ext, uint32_t insn)
{
	unsigned f7 = F7(insn), f3 = F3(insn), rs2 = RS2(insn);
	bool zbb = RV_HAS(ext, ZBB);
	if (f3 == 1 && (insn >> 26) == 0x02) return RV_HAS(ext, ZBA) ? IMM(SLLI_UW, (insn >> 20) & 63) : 0;
	if (f7 != 0x30) return 0;
	if (f3 == 5) return zbb ? IMM(RORIW, rs2) : 0;
	if (f3 != 1) return 0;
	switch (rs2) {
	case 0: return zbb ? RV_ZB_CLZW : 0;
	case 1: return zbb ? RV_ZB_CTZW : 0;
	case 2: return zbb ? RV_ZB_CPOPW : 0;
	default: return 0;
	}
}

int32_t rv_zb_decode(uint64_t ext, uint32_t insn)
{
	switch (insn & 0x7f) {
	case 0x33: return decode_op(ext, insn);
	case 0x13: return decode_op_imm(ext, insn);
	case 0x3b: return decode_op32(ext, insn);
	case 0x1b: return decode_op_imm32(ext, insn);
	default: return 0;
	}
}

uint64_t rv_zb_compute(enum rv_zb_op op, uint64_t a, uint64_t b)
{
	uint32_t w = (uint32_t)a;
	uint64_t bit = 1ULL << (b & 63);
	switch (op) {
	case RV_ZB_SH1ADD: return (a << 1) + b;
	case RV_ZB_SH2ADD: return (a << 2) + b;
	case RV_ZB_SH3ADD: return (a << 3) + b;
	case RV_ZB_ADD_UW: return (uint64_t)w + b;
	case RV_ZB_SH1ADD_UW: return ((uint64_t)w << 1) + b;
	case RV_ZB_SH2ADD_UW: return ((uint64_t)w << 2) + b;
	case RV_ZB_SH3ADD_UW: return ((uint64_t)w << 3) + b;
	case RV_ZB_SLLI_UW: return (uint64_t)w << b;
	case RV_ZB_ANDN: return a & ~b;
	case RV_ZB_ORN: return a | ~b;
	case RV_ZB_XNOR: return ~(a ^ b);
	case RV_ZB_MIN: return (int64_t)a < (int64_t)b ? a : b;
	case RV_ZB_MINU: return a < b ? a : b;
	case RV_ZB_MAX: return (int64_t)a > (int64_t)b ? a : b;
	case RV_ZB_MAXU: return a > b ? a : b;
	case RV_ZB_ROL: return rol64(a, (unsigned)b);
	case RV_ZB_ROR:
	case RV_ZB_RORI: return rol64(a, 64 - ((unsigned)b & 63));
	case RV_ZB_ROLW: return sext32(rol32(w, (unsigned)b));
	case RV_ZB_RORW:
	case RV_ZB_RORIW: return sext32(rol32(w, 32 - ((unsigned)b & 31)));
	case RV_ZB_CLZ: return a ? (uint64_t)__builtin_clzll(a) : 64;
	case RV_ZB_CTZ: return a ? (uint64_t)__builtin_ctzll(a) : 64;
	case RV_ZB_CPOP: return (uint64_t)__builtin_popcountll(a);
	case RV_ZB_CLZW: return w ? (uint64_t)__builtin_clz(w) : 32;
	case RV_ZB_CTZW: return w ? (uint64_t)__builtin_ctz(w) : 32;
	case RV_ZB_CPOPW: return (uint64_t)__builtin_popcount(w);
	case RV_ZB_SEXT_B: return (uint64_t)(int64_t)(int8_t)a;
	case RV_ZB_SEXT_H: return (uint64_t)(int64_t)(int16_t)a;
	case RV_ZB_ZEXT_H: return (uint16_t)a;
	case RV_ZB_ORC_B: return rv_orc_b(a);
	case RV_ZB_REV8: return __builtin_bswap64(a);
	case RV_ZB_CLMUL: return rv_clmul(a, b);
	case RV_ZB_CLMULH: return rv_clmulh(a, b);
	case RV_ZB_CLMULR: return rv_clmulr(a, b);
	case RV_ZB_BCLR:
	case RV_ZB_BCLRI: return a & ~bit;
	case RV_ZB_BSET:
	case RV_ZB_BSETI: return a | bit;
	case RV_ZB_BINV:
	case RV_ZB_BINVI: return a ^ bit;
	case RV_ZB_BEXT:
	case RV_ZB_BEXTI: return (a & bit) != 0;
	case RV_ZB_CZERO_EQZ: return b == 0 ? 0 : a;
	case RV_ZB_CZERO_NEZ: return b != 0 ? 0 : a;
	case RV_ZB_NONE:
	case RV_ZB_COUNT: break;
	}
	return 0;
}

bool rv_bitmanip(uint64_t ext, uint32_t insn, uint64_t a, uint64_t b, uint64_t *out)
{
	int32_t code = rv_zb_decode(ext, insn);
	if (!code) return false;
	*out = rv_zb_compute(rv_zb_op(code), a, rv_zb_operand2(code, b));
	return true;
}
