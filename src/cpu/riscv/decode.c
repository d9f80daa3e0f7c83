/*
 * decode.c — decoding: which fast-path kind (ops.h) an instruction is, and
 * a pre-decoded slot (registers, immediate, length) filled from its bits.
 * Compressed instructions are expanded first (rvc.c); everything without a
 * fast path is K_GENERIC and keeps its expanded bits for the generic path.
 */
#include "bitmanip.h"
#include "decode.h"
#include "internal.h"
#include "ops.h"

static unsigned kind_of(uint32_t i)
{
	unsigned f3 = F3(i), f7 = F7(i);
	switch (i & 0x7f) {
	case 0x37: return K_LUI;
	case 0x17: return K_AUIPC;
	case 0x6f: return K_JAL;
	case 0x67: return f3 == 0 ? K_JALR : K_GENERIC;
	case 0x63: {
		static const unsigned k[8] = {K_BEQ, K_BNE, K_GENERIC, K_GENERIC,
		                              K_BLT, K_BGE, K_BLTU,    K_BGEU};
		return k[f3];
	}
	case 0x03: {
		static const unsigned k[8] = {K_LB, K_LH, K_LW, K_LD, K_LBU, K_LHU, K_LWU, K_GENERIC};
		return k[f3];
	}
	case 0x23: {
		static const unsigned k[8] = {K_SB,      K_SH,      K_SW,      K_SD,
		                              K_GENERIC, K_GENERIC, K_GENERIC, K_GENERIC};
		return k[f3];
	}
	case 0x13:
		switch (f3) {
		case 0: return K_ADDI;
		case 1: return (i >> 26) == 0 ? K_SLLI : K_GENERIC;
		case 2: return K_SLTI;
		case 3: return K_SLTIU;
		case 4: return K_XORI;
		case 5: return (i >> 26) == 0 ? K_SRLI : (i >> 26) == 0x10 ? K_SRAI : K_GENERIC;
		case 6: return K_ORI;
		default: return K_ANDI;
		}
	case 0x1b:
		switch (f3) {
		case 0: return K_ADDIW;
		case 1: return f7 == 0 ? K_SLLIW : K_GENERIC;
		case 5: return f7 == 0 ? K_SRLIW : f7 == 0x20 ? K_SRAIW : K_GENERIC;
		default: return K_GENERIC;
		}
	case 0x33:
		if (f7 == 0) {
			static const unsigned k[8] = {K_ADD, K_SLL, K_SLT, K_SLTU, K_XOR, K_SRL, K_OR, K_AND};
			return k[f3];
		}
		if (f7 == 1) {
			static const unsigned k[8] = {K_MUL, K_MULH, K_MULHSU, K_MULHU,
			                              K_DIV, K_DIVU, K_REM,    K_REMU};
			return k[f3];
		}
		if (f7 == 0x20) return f3 == 0 ? K_SUB : f3 == 5 ? K_SRA : K_GENERIC;
		return K_GENERIC;
	case 0x3b:
		if (f7 == 0) return f3 == 0 ? K_ADDW : f3 == 1 ? K_SLLW : f3 == 5 ? K_SRLW : K_GENERIC;
		if (f7 == 0x20) return f3 == 0 ? K_SUBW : f3 == 5 ? K_SRAW : K_GENERIC;
		if (f7 == 1) {
			static const unsigned k[8] = {K_MULW, K_GENERIC, K_GENERIC, K_GENERIC,
			                              K_DIVW, K_DIVUW,   K_REMW,    K_REMUW};
			return k[f3];
		}
		return K_GENERIC;
	default: return K_GENERIC;
	}
}

void rv_decode_op(struct rv_op *op, uint32_t w, unsigned off, uint64_t ext)
{
	uint32_t insn;
	if ((w & 3) != 3) {
		op->raw = w & 0xffff;
		op->mask = 0xffff;
		insn = rv_expand_compressed((uint16_t)w, ext);
	} else if (off == RV_PAGE_SIZE - 2) {
		/* The instruction straddles two pages: always take the slow fetch. */
		op->raw = op->mask = 0;
		op->kind = K_SLOW;
		op->jit = 0;
		return;
	} else {
		op->raw = w;
		op->mask = 0xffffffff;
		insn = w;
	}
	op->jit = 0;
	unsigned kind = insn ? kind_of(insn) : K_GENERIC;
	op->kind = (uint8_t)(kind + (op->mask == 0xffffffff ? K_COUNT : 0));
	op->rd = RD(insn) ? (uint8_t)RD(insn) : 32;
	op->rs1 = (uint8_t)RS1(insn);
	op->rs2 = (uint8_t)RS2(insn);
	switch (insn & 0x7f) {
	case 0x37:
	case 0x17: op->imm = (int32_t)imm_u(insn); break;
	case 0x6f: op->imm = (int32_t)imm_j(insn); break;
	case 0x63: op->imm = (int32_t)imm_b(insn); break;
	case 0x23: op->imm = (int32_t)imm_s(insn); break;
	default: op->imm = (int32_t)imm_i(insn); break;
	}
	int32_t zb = kind == K_GENERIC ? rv_zb_decode(ext, insn) : 0;
	if (zb) {
		op->kind = (uint8_t)(K_ZB + (op->mask == 0xffffffff ? K_COUNT : 0));
		op->imm = zb;
	} else if (kind == K_GENERIC) {
		op->imm = (int32_t)insn;
	}
}
