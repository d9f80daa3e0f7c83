/*
 * bitmanip.h — Zba, Zbb, Zbc, Zbs and Zicond (bitmanip.c): one entry point
 * for the interpreter and the translator, and the helpers worth testing alone.
 */
#ifndef CLOISON_RV_BITMANIP_H
#define CLOISON_RV_BITMANIP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Computes the result of `insn`, an OP, OP-IMM, OP-32 or OP-IMM-32 instruction of those extensions,
 * from rs1's value `a` and rs2's value `b` (ignored by the immediate forms). False when insn is not
 * one of them, or its extension is not in `ext` (a set of isa.h): the caller raises illegal
 * instruction. The base instructions of those opcodes are not handled here.
 */
bool rv_bitmanip(uint64_t ext, uint32_t insn, uint64_t a, uint64_t b, uint64_t *out);

uint64_t rv_clmul(uint64_t a, uint64_t b);
uint64_t rv_clmulh(uint64_t a, uint64_t b);
uint64_t rv_clmulr(uint64_t a, uint64_t b);
uint64_t rv_orc_b(uint64_t a);

#endif
