/*
 * bitmanip.h — Zba, Zbb, Zbc, Zbs and Zicond (bitmanip.c): the decoded form
 * both engines share (the interpreter computes it, the translator emits host
 * code for it or calls rv_zb_compute), and the helpers worth testing alone.
 */
#ifndef CLOISON_RV_BITMANIP_H
#define CLOISON_RV_BITMANIP_H

#include <stdbool.h>
#include <stdint.h>

/* The operations, one per instruction (immediate forms have their own). */
enum rv_zb_op {
	RV_ZB_NONE,
	RV_ZB_SH1ADD,
	RV_ZB_SH2ADD,
	RV_ZB_SH3ADD,
	RV_ZB_ADD_UW,
	RV_ZB_SH1ADD_UW,
	RV_ZB_SH2ADD_UW,
	RV_ZB_SH3ADD_UW,
	RV_ZB_SLLI_UW,
	RV_ZB_ANDN,
	RV_ZB_ORN,
	RV_ZB_XNOR,
	RV_ZB_MIN,
	RV_ZB_MINU,
	RV_ZB_MAX,
	RV_ZB_MAXU,
	RV_ZB_ROL,
	RV_ZB_ROR,
	RV_ZB_RORI,
	RV_ZB_ROLW,
	RV_ZB_RORW,
	RV_ZB_RORIW,
	RV_ZB_CLZ,
	RV_ZB_CTZ,
	RV_ZB_CPOP,
	RV_ZB_CLZW,
	RV_ZB_CTZW,
	RV_ZB_CPOPW,
	RV_ZB_SEXT_B,
	RV_ZB_SEXT_H,
	RV_ZB_ZEXT_H,
	RV_ZB_ORC_B,
	RV_ZB_REV8,
	RV_ZB_CLMUL,
	RV_ZB_CLMULH,
	RV_ZB_CLMULR,
	RV_ZB_BCLR,
	RV_ZB_BSET,
	RV_ZB_BINV,
	RV_ZB_BEXT,
	RV_ZB_BCLRI,
	RV_ZB_BSETI,
	RV_ZB_BINVI,
	RV_ZB_BEXTI,
	RV_ZB_CZERO_EQZ,
	RV_ZB_CZERO_NEZ,
	RV_ZB_COUNT
};

/*
 * A decoded instruction, as rv_op.imm holds it: the operation in bits 0-6, bit 7 set for the
 * immediate forms (slli.uw, rori, roriw, b*i), whose shift amount or bit index is in bits 8-13
 * and takes the place of rs2's value.
 */
#define RV_ZB_IMM_FORM 0x80
static inline enum rv_zb_op rv_zb_op(int32_t code)
{
	return (enum rv_zb_op)(code & 0x7f);
}
static inline uint64_t rv_zb_operand2(int32_t code, uint64_t rs2_value)
{
	return (code & RV_ZB_IMM_FORM) ? (uint64_t)((code >> 8) & 63) : rs2_value;
}

/* Decodes `insn` (an OP, OP-IMM, OP-32 or OP-IMM-32 instruction) into that form, or returns 0 when
 * it is none of these extensions' or its extension is not in `ext` (a set of isa.h). */
int32_t rv_zb_decode(uint64_t ext, uint32_t insn);

/* The result of operation `op` on rs1's value and the second operand (rv_zb_operand2). */
uint64_t rv_zb_compute(enum rv_zb_op op, uint64_t a, uint64_t b);

/* Decode and compute in one: false when rv_zb_decode refuses (the caller raises illegal). */
bool rv_bitmanip(uint64_t ext, uint32_t insn, uint64_t a, uint64_t b, uint64_t *out);

uint64_t rv_clmul(uint64_t a, uint64_t b);
uint64_t rv_clmulh(uint64_t a, uint64_t b);
uint64_t rv_clmulr(uint64_t a, uint64_t b);
uint64_t rv_orc_b(uint64_t a);

#endif
