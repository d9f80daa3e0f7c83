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

/*
 * The instructions with a fast path, each X(NAME, name): its kind K_NAME, its interpreter handler
 * l_name_2 / l_name_4 (exec.c) and its case in the translator (jit_x86_64.c). One list: adding an
 * instruction here makes the compiler ask for the other two.
 */
#define RV_FAST_OPS(X)                                                                                       \
	X(LUI, lui)                                                                                          \
	X(AUIPC, auipc)                                                                                      \
	X(JAL, jal)                                                                                          \
	X(JALR, jalr)                                                                                        \
	X(BEQ, beq)                                                                                          \
	X(BNE, bne)                                                                                          \
	X(BLT, blt)                                                                                          \
	X(BGE, bge)                                                                                          \
	X(BLTU, bltu)                                                                                        \
	X(BGEU, bgeu)                                                                                        \
	X(LB, lb)                                                                                            \
	X(LH, lh)                                                                                            \
	X(LW, lw)                                                                                            \
	X(LD, ld)                                                                                            \
	X(LBU, lbu)                                                                                          \
	X(LHU, lhu)                                                                                          \
	X(LWU, lwu)                                                                                          \
	X(SB, sb)                                                                                            \
	X(SH, sh)                                                                                            \
	X(SW, sw)                                                                                            \
	X(SD, sd)                                                                                            \
	X(ADDI, addi)                                                                                        \
	X(SLTI, slti)                                                                                        \
	X(SLTIU, sltiu)                                                                                      \
	X(XORI, xori)                                                                                        \
	X(ORI, ori)                                                                                          \
	X(ANDI, andi)                                                                                        \
	X(SLLI, slli)                                                                                        \
	X(SRLI, srli)                                                                                        \
	X(SRAI, srai)                                                                                        \
	X(ADDIW, addiw)                                                                                      \
	X(SLLIW, slliw)                                                                                      \
	X(SRLIW, srliw)                                                                                      \
	X(SRAIW, sraiw)                                                                                      \
	X(ADD, add)                                                                                          \
	X(SUB, sub)                                                                                          \
	X(SLL, sll)                                                                                          \
	X(SLT, slt)                                                                                          \
	X(SLTU, sltu)                                                                                        \
	X(XOR, xor)                                                                                          \
	X(SRL, srl)                                                                                          \
	X(SRA, sra)                                                                                          \
	X(OR, or)                                                                                            \
	X(AND, and)                                                                                          \
	X(MUL, mul)                                                                                          \
	X(MULH, mulh)                                                                                        \
	X(MULHSU, mulhsu)                                                                                    \
	X(MULHU, mulhu)                                                                                      \
	X(DIV, div)                                                                                          \
	X(DIVU, divu)                                                                                        \
	X(REM, rem)                                                                                          \
	X(REMU, remu)                                                                                        \
	X(ADDW, addw)                                                                                        \
	X(SUBW, subw)                                                                                        \
	X(SLLW, sllw)                                                                                        \
	X(SRLW, srlw)                                                                                        \
	X(SRAW, sraw)                                                                                        \
	X(MULW, mulw)                                                                                        \
	X(DIVW, divw)                                                                                        \
	X(DIVUW, divuw)                                                                                      \
	X(REMW, remw)                                                                                        \
	X(REMUW, remuw)                                                                                      \
	X(ZB, zb) /* a Zba/Zbb/Zbc/Zbs/Zicond operation: imm holds its decoded form (bitmanip.h) */

enum op_kind {
	K_DECODE = 0, /* empty slot: decode, then run */
	K_GENERIC,    /* everything else: the generic path (exec_one) */
	K_SLOW,       /* an instruction that straddles two pages: fetched the slow way */
#define X(NAME, name) K_##NAME,
	RV_FAST_OPS(X)
#undef X
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

/* Fills a slot from the instruction bits `w` found at page offset `off`, on a hart offering the
 * extensions `ext` (isa.h). */
void rv_decode_op(struct rv_op *op, uint32_t w, unsigned off, uint64_t ext);

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
