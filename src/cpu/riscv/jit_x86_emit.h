/*
 * jit_x86_emit.h — the x86-64 instruction encoder the translator writes its
 * code with: REX/ModRM forms for register, hart-field and base+displacement
 * operands, immediates and a few fixed sequences. Translated code keeps the
 * hart's address (plus HART_BIAS) in rbp: its fields are displacements from
 * it, the guest registers' a disp8. The hart also lies below 2 GiB
 * (rv_hart_alloc), so a table indexed by a register can be an absolute disp32.
 */
#ifndef CLOISON_RV_JIT_X86_EMIT_H
#define CLOISON_RV_JIT_X86_EMIT_H

#include "hart.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- x86-64 emitter ---- */
struct emit {
	uint8_t *p;
	const uint8_t *exit; /* the code cache's common exit */
	uint32_t hart;       /* the hart's address: below 2 GiB (rv_hart_alloc), an absolute disp32 */
};
/*
 * The hart's fields through a base register, not as absolute addresses: the host CPU forwards a
 * store to a load of the same address at once when both name it by a base register and
 * displacement, and only after several cycles when it is an absolute [disp32] (measured on this
 * host, docs/board.md), which every guest register kept in the hart paid on its way through a
 * block and from block to block. HART_BASE = hart + HART_BIAS, so that x[0..31] are a disp8.
 */
#define HART_BIAS 0x80
enum {
	RAX = 0,
	RCX = 1,
	RDX = 2,
	RBX = 3,
	RSP = 4,
	RBP = 5,
	RSI = 6,
	RDI = 7,
	R8 = 8,
	R9 = 9,
	R10 = 10,
	R11 = 11,
	R12 = 12,
	R13 = 13,
	R14 = 14,
	R15 = 15,
	BUDGET = RBX,   /* h->budget_left while translated code runs (a pinned register) */
	HART_BASE = RBP /* the hart + HART_BIAS (callee-saved, and no REX.B to name it) */
};

static inline void e8(struct emit *e, uint8_t b)
{
	*e->p++ = b;
}
static inline void emit_bytes(struct emit *e, const char *b, size_t n)
{
	memcpy(e->p, b, n);
	e->p += n;
}
/* Emits a string literal of instruction bytes. */
#define EB(e, s) emit_bytes(e, s, sizeof(s) - 1)
static inline void e32(struct emit *e, uint32_t v)
{
	memcpy(e->p, &v, 4);
	e->p += 4;
}
static inline void e64(struct emit *e, uint64_t v)
{
	memcpy(e->p, &v, 8);
	e->p += 8;
}
static inline uint32_t xoff(unsigned r)
{
	return (uint32_t)(8 * r);
}
static inline uint32_t foff(unsigned r)
{
	return (uint32_t)(offsetof(struct rv_hart, f) + 8 * r);
}
/* A REX prefix when one is needed: W (64-bit operand), R (modrm.reg >= 8), B (modrm.rm >= 8). */
static inline void rex(struct emit *e, bool w64, int reg, int rm)
{
	uint8_t r = (uint8_t)(0x40 | (w64 ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0));
	if (r != 0x40) e8(e, r);
}
/* An opcode of one byte, or two when it starts with 0x0f (passed as 0x0fXX). */
static inline void opcode(struct emit *e, unsigned opc)
{
	if (opc > 0xff) e8(e, 0x0f);
	e8(e, (uint8_t)opc);
}
/* opc reg, rm (register to register) */
static inline void op_rr(struct emit *e, unsigned opc, int reg, int rm, bool w64)
{
	rex(e, w64, reg, rm);
	opcode(e, opc);
	e8(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}
/* The ModRM and displacement of the hart field at `off` ([HART_BASE + off - HART_BIAS]; an offset
 * that wrapped below zero reaches memory below the hart), with `reg` (a register or an opcode's
 * /digit) in ModRM.reg: a disp8 where it fits, unless a fixed length wants a disp32. */
static inline void modrm_hart_as(struct emit *e, int reg, uint32_t off, bool disp32)
{
	const int32_t disp = (int32_t)off - HART_BIAS;
	if (!disp32 && disp == (int8_t)disp) {
		e8(e, (uint8_t)(0x40 | (reg & 7) << 3 | HART_BASE));
		e8(e, (uint8_t)disp);
	} else {
		e8(e, (uint8_t)(0x80 | (reg & 7) << 3 | HART_BASE));
		e32(e, (uint32_t)disp);
	}
}
static inline void modrm_hart(struct emit *e, int reg, uint32_t off)
{
	modrm_hart_as(e, reg, off, false);
}
/* opc reg, [hart + off] as an absolute [disp32]: a load of what C code may just have stored there
 * (after a call, at an entry from C). Through rbp the host CPU would take the value from the last
 * store translated code made there through rbp, as it predicts, and flush its pipeline when the
 * C code stored since (by another base register). */
static inline void op_rm_hart_abs(struct emit *e, unsigned opc, int reg, uint32_t off, bool w64)
{
	rex(e, w64, reg, 0);
	opcode(e, opc);
	e8(e, (uint8_t)((reg & 7) << 3 | 4));
	e8(e, 0x25);
	e32(e, e->hart + off);
}
/* opc reg, [hart + off] (or the store direction, by opcode) */
static inline void op_rm_hart(struct emit *e, unsigned opc, int reg, uint32_t off, bool w64)
{
	rex(e, w64, reg, 0);
	opcode(e, opc);
	modrm_hart(e, reg, off);
}
/* lea dst, [base + disp] (64-bit, or 32-bit: the low half zero-extended), the displacement a disp8
 * where `short_ok` and it fits, else a disp32 */
static inline void lea_base(struct emit *e, int dst, int base, int32_t disp, bool w64, bool short_ok)
{
	const bool disp8 = short_ok && disp == (int8_t)disp;
	rex(e, w64, dst, base);
	e8(e, 0x8d);
	e8(e, (uint8_t)((disp8 ? 0x40 : 0x80) | (dst & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP) e8(e, 0x24); /* rsp and r12 as a base need a SIB byte */
	if (disp8)
		e8(e, (uint8_t)disp);
	else
		e32(e, (uint32_t)disp);
}
/* lea dst, [base + disp32] (64-bit): a fixed length, as the TLB probes' code wants */
static inline void lea_disp(struct emit *e, int dst, int base, int32_t disp)
{
	lea_base(e, dst, base, disp, true, false);
}
/* lea dst, [base + imm], as short as it gets */
static inline void lea_imm(struct emit *e, int dst, int base, int32_t imm, bool w64)
{
	lea_base(e, dst, base, imm, w64, true);
}
/* lea dst, [base + index << sh] (sh 0-3; index not rsp), 64-bit or 32-bit */
static inline void lea_index(struct emit *e, int dst, int base, int index, unsigned sh, bool w64)
{
	e8(e, (uint8_t)(0x40 | (w64 ? 8 : 0) | ((dst & 8) ? 4 : 0) | ((index & 8) ? 2 : 0) |
	                ((base & 8) ? 1 : 0)));
	e8(e, 0x8d);
	const bool disp8 = (base & 7) == RBP; /* rbp and r13 as a base need a displacement */
	e8(e, (uint8_t)((disp8 ? 0x44 : 0x04) | (dst & 7) << 3));
	e8(e, (uint8_t)(sh << 6 | (index & 7) << 3 | (base & 7)));
	if (disp8) e8(e, 0);
}
/* Group-1 ALU with an immediate: rm <op>= imm32 (sign-extended); n is the /digit. */
static inline void alu_imm(struct emit *e, int rm, unsigned n, int32_t imm, bool w64)
{
	rex(e, w64, 0, rm);
	e8(e, 0x81);
	e8(e, (uint8_t)(0xc0 | n << 3 | (rm & 7)));
	e32(e, (uint32_t)imm);
}
static inline void shift_imm(struct emit *e, int rm, unsigned n, unsigned sh, bool w64)
{
	rex(e, w64, 0, rm);
	e8(e, 0xc1);
	e8(e, (uint8_t)(0xc0 | n << 3 | (rm & 7)));
	e8(e, (uint8_t)sh);
}
static inline void shift_cl(struct emit *e, int rm, unsigned n, bool w64)
{
	rex(e, w64, 0, rm);
	e8(e, 0xd3);
	e8(e, (uint8_t)(0xc0 | n << 3 | (rm & 7)));
}
static inline void mov_imm64(struct emit *e, int reg, uint64_t v)
{
	if ((uint64_t)(int64_t)(int32_t)v == v) { /* mov r64, simm32 */
		rex(e, true, 0, reg);
		e8(e, 0xc7);
		e8(e, (uint8_t)(0xc0 | (reg & 7)));
		e32(e, (uint32_t)v);
		return;
	}
	rex(e, true, 0, reg);
	e8(e, (uint8_t)(0xb8 + (reg & 7)));
	e64(e, v);
}
static inline void setcc_rax(struct emit *e, uint8_t cc)
{
	e8(e, 0x0f);
	e8(e, (uint8_t)(0x90 | cc));
	e8(e, 0xc0);           /* setcc al */
	EB(e, "\x0f\xb6\xc0"); /* movzx eax, al */
}
static inline void call_abs(struct emit *e, const void *fn)
{
	mov_imm64(e, RAX, (uint64_t)(uintptr_t)fn);
	EB(e, "\xff\xd0");
}
/* mov dword [hart + off], imm32 */
static inline void store_field_imm32(struct emit *e, size_t off, int32_t imm)
{
	e8(e, 0xc7);
	modrm_hart(e, 0, (uint32_t)off);
	e32(e, (uint32_t)imm);
}
/*
 * The budget register holds (budget - 1) << BUDGET_SHIFT | BUDGET_LOW: its sign and its sum with a
 * multiple of 1 << BUDGET_SHIFT are the budget's (> 0 exactly when budget > 0), and its low 16 bits
 * are the control with which one bextr finds a U-mode TLB slot (bits 12-27 of an address; bextr
 * reads no more of it), so that no probe loads that constant first.
 */
#define BUDGET_SHIFT 16
#define BUDGET_LOW (12u | 16u << 8)
/* BUDGET += imm instructions (flags as for the sum) */
static inline void budget_add(struct emit *e, int imm)
{
	EB(e, "\x48\x81\xc3"); /* add rbx, imm32 */
	e32(e, (uint32_t)(imm * (1 << BUDGET_SHIFT)));
}
/* lea rbx, [rbx + imm instructions]: the budget's add, flags kept (BUDGET_LEA_LEN bytes) */
#define BUDGET_LEA_LEN 7
static inline void budget_lea(struct emit *e, int imm)
{
	EB(e, "\x48\x8d\x9b");
	e32(e, (uint32_t)(imm * (1 << BUDGET_SHIFT)));
}
/* add qword [hart + off], imm8 */
static inline void add_field_imm8(struct emit *e, size_t off, int8_t imm)
{
	EB(e, "\x48\x83");
	modrm_hart(e, 0, (uint32_t)off);
	e8(e, (uint8_t)imm);
}

static inline void movsxd(struct emit *e, int reg)
{
	op_rr(e, 0x63, reg, reg, true);
}

#endif
