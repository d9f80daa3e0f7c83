/*
 * decode.h — the fields of a 32-bit RISC-V instruction (registers, function
 * codes, the five immediate formats), for every part of the hart that reads
 * instruction bits: the decoder (decode.c), the interpreter's generic path
 * and the FPU.
 */
#ifndef CLOISON_RV_DECODE_H
#define CLOISON_RV_DECODE_H

#include <stdint.h>

#define RD(i) (((i) >> 7) & 31)
#define RS1(i) (((i) >> 15) & 31)
#define RS2(i) (((i) >> 20) & 31)
#define F3(i) (((i) >> 12) & 7)
#define F7(i) ((i) >> 25)

static inline int64_t imm_i(uint32_t i)
{
	return (int64_t)(int32_t)i >> 20;
}
static inline int64_t imm_s(uint32_t i)
{
	return ((int64_t)(int32_t)(i & 0xfe000000) >> 20) | ((i >> 7) & 31);
}
static inline int64_t imm_b(uint32_t i)
{
	return ((int64_t)(int32_t)(i & 0x80000000) >> 19) | ((i & 0x80) << 4) | ((i >> 20) & 0x7e0) |
	       ((i >> 7) & 0x1e);
}
static inline int64_t imm_u(uint32_t i)
{
	return (int64_t)(int32_t)(i & 0xfffff000);
}
static inline int64_t imm_j(uint32_t i)
{
	return ((int64_t)(int32_t)(i & 0x80000000) >> 11) | (i & 0xff000) | ((i >> 9) & 0x800) |
	       ((i >> 20) & 0x7fe);
}

#endif
