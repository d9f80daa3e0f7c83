/*
 * hart_fixture.h — one hart on a plain RAM bus for the unit tests that run
 * real instructions (test_cpu.c, test_isa.c): instruction encoders, running
 * one instruction, entering a privilege level, and Sv39 page tables reached
 * from M-mode through MPRV.
 */
#ifndef CLOISON_HART_FIXTURE_H
#define CLOISON_HART_FIXTURE_H

#include "check.h"
#include "cpu/riscv/hart.h"

#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (4ULL << 20)
#define CODE 0x80000000ULL
#define MTVEC 0x80001000ULL
#define STVEC 0x80002000ULL

static uint8_t *ram;
static struct rv_hart hart;
static uint64_t fake_time;

static inline bool no_mmio_read(void *o, uint64_t a, unsigned s, uint64_t *v)
{
	(void)o;
	(void)a;
	(void)s;
	*v = 0;
	return false;
}
static inline bool no_mmio_write(void *o, uint64_t a, unsigned s, uint64_t v)
{
	(void)o;
	(void)a;
	(void)s;
	(void)v;
	return false;
}
static inline uint64_t read_time(void *o)
{
	(void)o;
	return fake_time;
}

/* ---- encoders ---- */
static inline uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_i(int imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_s(int imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 31) << 7 | op;
}
#define DIV(rd, a, b) enc_r(1, b, a, 4, rd, 0x33)
#define DIVU(rd, a, b) enc_r(1, b, a, 5, rd, 0x33)
#define REM(rd, a, b) enc_r(1, b, a, 6, rd, 0x33)
#define REMU(rd, a, b) enc_r(1, b, a, 7, rd, 0x33)
#define DIVW(rd, a, b) enc_r(1, b, a, 4, rd, 0x3b)
#define REMW(rd, a, b) enc_r(1, b, a, 6, rd, 0x3b)
#define MULH(rd, a, b) enc_r(1, b, a, 1, rd, 0x33)
#define LD(rd, rs1, imm) enc_i(imm, rs1, 3, rd, 0x03)
#define SD(rs2, rs1, imm) enc_s(imm, rs2, rs1, 3, 0x23)
#define CSRRW(rd, csr, rs1) enc_i(csr, rs1, 1, rd, 0x73)
#define CSRRS(rd, csr, rs1) enc_i(csr, rs1, 2, rd, 0x73)
#define AMOADD_D(rd, rs1, rs2) enc_r(0, rs2, rs1, 3, rd, 0x2f)
#define ECALL 0x00000073u
#define MRET 0x30200073u
#define SFENCE_VMA(rs1, rs2) (0x12000073u | (rs1) << 15 | (rs2) << 20)
#define SRET 0x10200073u
#define WFI 0x10500073u

static inline void put32(uint64_t pa, uint32_t v)
{
	memcpy(ram + (pa - RAM_BASE), &v, 4);
}

static inline void reset(void)
{
	memset(ram, 0, RAM_SIZE);
	fake_time = 0;
	struct rv_bus bus = {.ram = ram,
	                     .ram_base = RAM_BASE,
	                     .ram_size = RAM_SIZE,
	                     .mmio_read = no_mmio_read,
	                     .mmio_write = no_mmio_write,
	                     .read_time = read_time};
	if (hart.ops) rv_hart_destroy(&hart);
	CHECK(rv_hart_init(&hart, 0, &bus));
	hart.mtvec = MTVEC;
	hart.stvec = STVEC;
	put32(MTVEC, 0x00000013u); /* nop: a step that takes an interrupt runs one handler instruction */
	put32(STVEC, 0x00000013u);
}

static inline void put64(uint64_t pa, uint64_t v)
{
	memcpy(ram + (pa - RAM_BASE), &v, 8);
}
static inline uint64_t get64(uint64_t pa)
{
	uint64_t v;
	memcpy(&v, ram + (pa - RAM_BASE), 8);
	return v;
}

/* Runs one instruction placed at the current pc. */
static inline void exec1(uint32_t insn)
{
	put32(hart.pc, insn);
	rv_hart_step(&hart, 1);
}

/* Enters privilege `priv` at `pc` through mret, from M-mode. */
static inline void enter(unsigned priv, uint64_t pc)
{
	hart.mstatus = (hart.mstatus & ~(3ULL << 11)) | (uint64_t)priv << 11;
	hart.mepc = pc;
	hart.pc = CODE + 0x800;
	exec1(MRET);
}

/* ---- paging ---- */
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_U 16
#define PTE_A 64
#define PTE_D 128
#define ROOT (RAM_BASE + 0x100000)
#define L1 (RAM_BASE + 0x101000)
#define L0 (RAM_BASE + 0x102000)
#define DATA (RAM_BASE + 0x200000)

static inline uint64_t pte(uint64_t pa, unsigned flags)
{
	return (pa >> 12) << 10 | flags;
}

/* Sv39: VA 0x40000000 -> L1 -> L0 -> DATA. */
static inline void map_sv39(unsigned leaf_flags)
{
	put64(ROOT + 1 * 8, pte(L1, PTE_V));
	put64(L1 + 0 * 8, pte(L0, PTE_V));
	put64(L0 + 0 * 8, pte(DATA, leaf_flags));
	put64(DATA, 0x1122334455667788ULL);
	hart.satp = 8ULL << 60 | (ROOT >> 12);
}

/* Loads through S-mode translation from M-mode via MPRV. Returns mcause or -1. */
static inline int64_t mprv_access(uint32_t insn, uint64_t va, unsigned mpp)
{
	hart.pc = CODE;
	hart.x[1] = (hart.mstatus & ~(3ULL << 11)) | (uint64_t)mpp << 11 | (1ULL << 17);
	exec1(CSRRW(0, 0x300, 1)); /* through the CSR path, so the TLB set follows */
	hart.x[6] = va;
	hart.mcause = 0xdead;
	exec1(insn);
	return hart.pc == MTVEC ? (int64_t)hart.mcause : -1;
}

static void setup(void)
{
	rv_init_tables();
	ram = aligned_alloc(4096, RAM_SIZE + 4096); /* the hart may read a few bytes past the end */
}

#endif
