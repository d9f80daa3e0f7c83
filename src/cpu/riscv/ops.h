/*
 * ops.h — the decoded form of an instruction, shared by the interpreter
 * (exec.c) and the translator (jit_*.c), and the arithmetic both must agree on.
 */
#ifndef CLOISON_RV_OPS_H
#define CLOISON_RV_OPS_H

#include <stdint.h>

struct rv_op {
	uint32_t raw, mask; /* the instruction bits this slot was decoded from */
	int32_t imm;        /* immediate; for K_GENERIC the expanded instruction */
	uint8_t kind, rd, rs1, rs2;
	uint32_t jit; /* hotness count, then the translated block (jit.h) */
};
_Static_assert(sizeof(struct rv_op) == 20, "rv_op must stay compact");

#define OPS_PER_PAGE 2050 /* 2048 halfwords + 2 sentinels */

enum op_kind {
	K_DECODE = 0, /* empty slot: decode, then run */
	K_GENERIC,
	K_SLOW,
	K_LUI,
	K_AUIPC,
	K_JAL,
	K_JALR,
	K_BEQ,
	K_BNE,
	K_BLT,
	K_BGE,
	K_BLTU,
	K_BGEU,
	K_LB,
	K_LH,
	K_LW,
	K_LD,
	K_LBU,
	K_LHU,
	K_LWU,
	K_SB,
	K_SH,
	K_SW,
	K_SD,
	K_ADDI,
	K_SLTI,
	K_SLTIU,
	K_XORI,
	K_ORI,
	K_ANDI,
	K_SLLI,
	K_SRLI,
	K_SRAI,
	K_ADDIW,
	K_SLLIW,
	K_SRLIW,
	K_SRAIW,
	K_ADD,
	K_SUB,
	K_SLL,
	K_SLT,
	K_SLTU,
	K_XOR,
	K_SRL,
	K_SRA,
	K_OR,
	K_AND,
	K_MUL,
	K_MULH,
	K_MULHSU,
	K_MULHU,
	K_DIV,
	K_DIVU,
	K_REM,
	K_REMU,
	K_ADDW,
	K_SUBW,
	K_SLLW,
	K_SRLW,
	K_SRAW,
	K_MULW,
	K_DIVW,
	K_DIVUW,
	K_REMW,
	K_REMUW,
	K_COUNT
};
_Static_assert(2 * K_COUNT <= 256, "kinds of both lengths must fit rv_op.kind");

/* A slot's kind without its length, and its length in bytes. */
static inline unsigned rv_op_kind(const struct rv_op *op)
{
	return op->kind % K_COUNT;
}
static inline unsigned rv_op_len(const struct rv_op *op)
{
	return op->kind >= K_COUNT ? 4 : 2;
}

/* Fills a slot from the instruction bits `w` found at page offset `off`. */
void rv_decode_op(struct rv_op *op, uint32_t w, unsigned off);

static inline uint64_t rv_sext32(uint64_t v)
{
	return (uint64_t)(int64_t)(int32_t)v;
}

/* M extension helpers with the spec's results for division by zero and overflow. */
static inline uint64_t rv_div(int64_t a, int64_t b)
{
	if (b == 0) return ~0ULL;
	if (a == INT64_MIN && b == -1) return (uint64_t)a;
	return (uint64_t)(a / b);
}
static inline uint64_t rv_divu(uint64_t a, uint64_t b)
{
	return b ? a / b : ~0ULL;
}
static inline uint64_t rv_rem(int64_t a, int64_t b)
{
	if (b == 0) return (uint64_t)a;
	if (a == INT64_MIN && b == -1) return 0;
	return (uint64_t)(a % b);
}
static inline uint64_t rv_remu(uint64_t a, uint64_t b)
{
	return b ? a % b : a;
}
static inline uint64_t rv_divw(int32_t a, int32_t b)
{
	if (b == 0) return ~0ULL;
	if (a == INT32_MIN && b == -1) return rv_sext32((uint32_t)a);
	return rv_sext32((uint32_t)(a / b));
}
static inline uint64_t rv_remw(int32_t a, int32_t b)
{
	if (b == 0) return rv_sext32((uint32_t)a);
	if (a == INT32_MIN && b == -1) return 0;
	return rv_sext32((uint32_t)(a % b));
}

#endif
