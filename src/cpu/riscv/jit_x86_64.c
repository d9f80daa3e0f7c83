/*
 * jit_x86_64.c — translates hot runs of decoded RISC-V instructions into
 * x86-64 code (docs/board.md, "Translator").
 *
 * A block starts at a jump target the interpreter found hot and covers the
 * instructions that follow it in its page, up to JIT_MAX_OPS, the page end or
 * an instruction left to the interpreter, and past a jump only while a jump
 * or branch in the block leads further. Generated code:
 *   - compares its instructions with guest memory once per fence.i epoch and
 *     returns its pc | 1 if any changed, so code rewritten before a fence.i
 *     never runs;
 *   - keeps sp and a0-a5 pinned in host registers, and the run budget in rbx,
 *     while translated code runs, and gives five more host registers, and
 *     those of the pinned registers it never names, to the other guest
 *     registers each block uses most (stored back at its exits);
 *     the hart is addressed absolutely (it lies below 2 GiB: rv_hart_alloc),
 *     so no host register holds its address;
 *   - sign-extends a W instruction's result only where something may read its
 *     upper half before the register is written again (upper_read);
 *   - jumps and branches to an instruction of the block stay in it (loops go
 *     round with their registers in place); taken branches elsewhere leave by
 *     side exits;
 *   - inlines the software-TLB hit path of loads and stores (FP ones too), once
 *     for a run of accesses through one base register; misses call the
 *     interpreter's C code out of line through one thunk per access kind,
 *     after storing the instruction's pc and index so an exception (longjmp)
 *     reports the right epc and count;
 *   - computes F/D arithmetic, fused multiply-adds, compares and the common
 *     conversions and moves on SSE in round-to-nearest-even (emit_fp_arith),
 *     other rounding modes, NaN results and the rest in the interpreter;
 *   - runs AMOs (but min/max), LR/SC, fences and cbo.zero inline on a TLB hit
 *     (emit_misc);
 *   - runs vsetvli / vsetivli, unmasked unit-stride vector loads and stores
 *     (Linux's user-memory copy) and vmv.v.i of 0 or -1 inline, a load or
 *     store as one copy of its bytes when they lie in one page the TLB maps
 *     (emit_vector);
 *   - runs the other FP instructions, CSR reads, interrupt-enable CSR writes
 *     and the other cache-block operations through rv_jit_exec_generic();
 *   - leaves by patched direct jumps within its page, the indirect-jump cache
 *     elsewhere, or returns the next guest pc to the dispatcher.
 * Blocks are found by the physical slot of their first instruction and hold
 * absolute guest pcs, so a block runs only at the virtual pc it was
 * translated for. The interpreter's semantics (exec.c) are the reference; the
 * differential and engine tests run through both.
 */
#include "bitmanip.h"
#include "decode.h"
#include "internal.h"
#include "isa.h"
#include "jit.h"
#include "jit_probe.h"
#include "util/log.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define JIT_CODE_BYTES (64u << 20) /* per hart; CLOISON_JIT_CACHE_MB sets another size (tests) */
#define JIT_MAX_OPS 64
#define JIT_MAX_BLOCK_BYTES (JIT_MAX_OPS * 512 + 1024)

struct jit_block {
	const struct rv_op *head;
	uint64_t pc; /* the guest pc it was translated for (code bakes in absolute pcs) | user_mode() */
	void *code;
};

/* Code translated in U-mode (V=0) probes the U TLB set at its fixed place in the hart, without
 * loading tlb_cur: it runs only in that mode, which translated code never leaves (traps, sret and
 * ecall go back to the run loop, MPRV acts in M-mode only). */
static bool user_mode(const struct rv_hart *h)
{
	return h->priv == RV_PRIV_U && !h->virt;
}

/* Blocks by (slot, guest pc), for code one physical page holds at several virtual addresses (a
 * shared library in several processes): a slot remembers one block, this finds the others. */
#define JIT_PLACES (1u << 16)

struct rv_jit {
	uint8_t *buf;            /* starts with the common exit and the thunks (exit_bytes) */
	size_t code_bytes;       /* its size */
	uint8_t *thunk[K_COUNT]; /* a load's or store's TLB miss: its helper with the registers in the hart */
	size_t used, exit_bytes;
	size_t populated; /* bytes from buf already backed by memory (MADV_POPULATE_WRITE) */
	struct jit_block *blocks;
	uint32_t nblocks, cap;
	uint32_t by_place[JIT_PLACES]; /* block id, or 0 */
};

static uint32_t place_hash(const struct rv_op *head, uint64_t pc)
{
	return (uint32_t)((((uintptr_t)head >> 2) ^ ((pc * 0x9e3779b97f4a7c15ULL) >> 40)) & (JIT_PLACES - 1));
}

/* ---- helpers called from generated code ---- */
/* Translated FP's pending flags are taken before the C a miss runs (internal.h). */
#define LOAD_HELPER(name, fn)                                                                                \
	static uint64_t name(struct rv_hart *h, uint64_t a)                                                  \
	{                                                                                                    \
		rv_fp_sync_flags(h);                                                                         \
		return fn(h, a);                                                                             \
	}
LOAD_HELPER(h_lb, rv_load_s8)
LOAD_HELPER(h_lh, rv_load_s16)
LOAD_HELPER(h_lw, rv_load_s32)
LOAD_HELPER(h_ld, rv_load_u64)
LOAD_HELPER(h_lbu, rv_load_u8)
LOAD_HELPER(h_lhu, rv_load_u16)
LOAD_HELPER(h_lwu, rv_load_u32)
static void store_helper(struct rv_hart *h, uint64_t a, unsigned size, uint64_t v)
{
	rv_fp_sync_flags(h);
	rv_store(h, a, size, v);
}
static void h_sb(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 1, v);
}
static void h_sh(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 2, v);
}
static void h_sw(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 4, v);
}
static void h_sd(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 8, v);
}
static uint64_t h_mulhsu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (unsigned __int128)b) >> 64);
}
static uint64_t h_div(uint64_t a, uint64_t b)
{
	return rv_div((int64_t)a, (int64_t)b);
}
static uint64_t h_divu(uint64_t a, uint64_t b)
{
	return rv_divu(a, b);
}
static uint64_t h_rem(uint64_t a, uint64_t b)
{
	return rv_rem((int64_t)a, (int64_t)b);
}
static uint64_t h_remu(uint64_t a, uint64_t b)
{
	return rv_remu(a, b);
}
static uint64_t h_divw(uint64_t a, uint64_t b)
{
	return rv_divw((int32_t)a, (int32_t)b);
}
static uint64_t h_divuw(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? rv_sext32((uint32_t)a / (uint32_t)b) : ~0ULL;
}
static uint64_t h_remw(uint64_t a, uint64_t b)
{
	return rv_remw((int32_t)a, (int32_t)b);
}
static uint64_t h_remuw(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? rv_sext32((uint32_t)a % (uint32_t)b) : rv_sext32(a);
}
static uint64_t h_zb(uint64_t a, uint64_t b, uint64_t zb_op)
{
	return rv_zb_compute((enum rv_zb_op)zb_op, a, b);
}

/* ---- x86-64 emitter ---- */
struct emit {
	uint8_t *p;
	const uint8_t *exit; /* the code cache's common exit */
	uint32_t hart;       /* the hart's address: below 2 GiB (rv_hart_alloc), an absolute disp32 */
};
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
	BUDGET = RBX /* h->budget_left while translated code runs (a pinned register) */
};

static void e8(struct emit *e, uint8_t b)
{
	*e->p++ = b;
}
static void emit_bytes(struct emit *e, const char *b, size_t n)
{
	memcpy(e->p, b, n);
	e->p += n;
}
/* Emits a string literal of instruction bytes. */
#define EB(e, s) emit_bytes(e, s, sizeof(s) - 1)
static void e32(struct emit *e, uint32_t v)
{
	memcpy(e->p, &v, 4);
	e->p += 4;
}
static void e64(struct emit *e, uint64_t v)
{
	memcpy(e->p, &v, 8);
	e->p += 8;
}
static uint32_t xoff(unsigned r)
{
	return (uint32_t)(8 * r);
}
static uint32_t foff(unsigned r)
{
	return (uint32_t)(offsetof(struct rv_hart, f) + 8 * r);
}
/* A REX prefix when one is needed: W (64-bit operand), R (modrm.reg >= 8), B (modrm.rm >= 8). */
static void rex(struct emit *e, bool w64, int reg, int rm)
{
	uint8_t r = (uint8_t)(0x40 | (w64 ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0));
	if (r != 0x40) e8(e, r);
}
/* An opcode of one byte, or two when it starts with 0x0f (passed as 0x0fXX). */
static void opcode(struct emit *e, unsigned opc)
{
	if (opc > 0xff) e8(e, 0x0f);
	e8(e, (uint8_t)opc);
}
/* opc reg, rm (register to register) */
static void op_rr(struct emit *e, unsigned opc, int reg, int rm, bool w64)
{
	rex(e, w64, reg, rm);
	opcode(e, opc);
	e8(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}
/* The ModRM, SIB and disp32 of the hart field at `off` ([disp32], no base register), with `reg`
 * (a register or an opcode's /digit) in ModRM.reg. */
static void modrm_hart(struct emit *e, int reg, uint32_t off)
{
	e8(e, (uint8_t)((reg & 7) << 3 | 4));
	e8(e, 0x25);
	e32(e, e->hart + off);
}
/* opc reg, [hart + off] (or the store direction, by opcode) */
static void op_rm_hart(struct emit *e, unsigned opc, int reg, uint32_t off, bool w64)
{
	rex(e, w64, reg, 0);
	opcode(e, opc);
	modrm_hart(e, reg, off);
}
/* lea dst, [base + disp] (64-bit) */
static void lea_disp(struct emit *e, int dst, int base, int32_t disp)
{
	rex(e, true, dst, base);
	e8(e, 0x8d);
	e8(e, (uint8_t)(0x80 | (dst & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP) e8(e, 0x24); /* rsp and r12 as a base need a SIB byte */
	e32(e, (uint32_t)disp);
}
/* Group-1 ALU with an immediate: rm <op>= imm32 (sign-extended); n is the /digit. */
static void alu_imm(struct emit *e, int rm, unsigned n, int32_t imm, bool w64)
{
	rex(e, w64, 0, rm);
	e8(e, 0x81);
	e8(e, (uint8_t)(0xc0 | n << 3 | (rm & 7)));
	e32(e, (uint32_t)imm);
}
static void shift_imm(struct emit *e, int rm, unsigned n, unsigned sh, bool w64)
{
	rex(e, w64, 0, rm);
	e8(e, 0xc1);
	e8(e, (uint8_t)(0xc0 | n << 3 | (rm & 7)));
	e8(e, (uint8_t)sh);
}
static void shift_cl(struct emit *e, int rm, unsigned n, bool w64)
{
	rex(e, w64, 0, rm);
	e8(e, 0xd3);
	e8(e, (uint8_t)(0xc0 | n << 3 | (rm & 7)));
}
static void mov_imm64(struct emit *e, int reg, uint64_t v)
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
static void setcc_rax(struct emit *e, uint8_t cc)
{
	e8(e, 0x0f);
	e8(e, (uint8_t)(0x90 | cc));
	e8(e, 0xc0);           /* setcc al */
	EB(e, "\x0f\xb6\xc0"); /* movzx eax, al */
}
static void call_abs(struct emit *e, const void *fn)
{
	mov_imm64(e, RAX, (uint64_t)(uintptr_t)fn);
	EB(e, "\xff\xd0");
}
/* mov dword [hart + off], imm32 */
static void store_field_imm32(struct emit *e, size_t off, int32_t imm)
{
	e8(e, 0xc7);
	modrm_hart(e, 0, (uint32_t)off);
	e32(e, (uint32_t)imm);
}
/* BUDGET += imm (flags as for the sum) */
static void budget_add(struct emit *e, int8_t imm)
{
	EB(e, "\x48\x83\xc3"); /* add rbx, imm8 */
	e8(e, (uint8_t)imm);
}
/* add qword [hart + off], imm8 */
static void add_field_imm8(struct emit *e, size_t off, int8_t imm)
{
	EB(e, "\x48\x83");
	modrm_hart(e, 0, (uint32_t)off);
	e8(e, (uint8_t)imm);
}

/*
 * Frame of translated code. Every block has the same one, so chained jumps go
 * from block to block without touching the stack: the callee-saved registers
 * the pinned guest registers use, and 8 bytes so helper calls see an aligned
 * stack. Entered from C, a block then loads the pinned registers; every return
 * to C goes through the code cache's common exit, which stores them back.
 */
static const char prologue_bytes[] = "\x53"              /* push rbx */
                                     "\x55"              /* push rbp */
                                     "\x41\x54"          /* push r12 */
                                     "\x41\x55"          /* push r13 */
                                     "\x41\x56"          /* push r14 */
                                     "\x41\x57"          /* push r15 */
                                     "\x48\x83\xec\x08"; /* sub rsp, 8 */
static void pinned_load(struct emit *e);
static void pinned_store(struct emit *e);
static void emit_prologue(struct emit *e)
{
	emit_bytes(e, prologue_bytes, sizeof(prologue_bytes) - 1);
	pinned_load(e);
}
/* The code cache's first bytes: the way back to C (rax = the next guest pc). */
static void emit_common_exit(struct emit *e)
{
	pinned_store(e);
	EB(e, "\x48\x83\xc4\x08"                               /* add rsp, 8 */
	      "\x41\x5f\x41\x5e\x41\x5d\x41\x5c\x5d\x5b\xc3"); /* pop r15 .. rbx; ret */
}
static void epilogue(struct emit *e)
{
	e8(e, 0xe9); /* jmp common_exit */
	e32(e, (uint32_t)(int32_t)(e->exit - (e->p + 4)));
}
static void return_pc(struct emit *e, uint64_t pc)
{
	mov_imm64(e, RAX, pc);
	epilogue(e);
}

/* ---- guest registers in host registers ----
 * Pinned: the guest registers nearly every block uses (sp, a0-a5) and the run
 * budget (h->budget_left, charged at every block entry and loop pass) live in
 * host registers for as long as translated code runs, across
 * chained blocks: loaded when C enters a block, stored back when translated
 * code returns to C and before any helper that may raise or read the hart's
 * registers (an exception must find the state in the hart).
 * Local: each block gives the call-clobbered host registers below to the
 * other guest registers it uses most. They are loaded at the block's start
 * (those read before written), and a written one is stored back at each
 * exit and before each call (out of line for exits and TLB misses, so the
 * main path stores nothing); after a call they are reloaded from the hart.
 * Borrowed: a block that never names a pinned guest register keeps it in the
 * hart while it runs (stored at entry, reloaded at each exit and before each
 * helper) and lends its host register to one more local register. */
#define JIT_NPINNED 8
#define JIT_NPINNED_X 7 /* the guest registers among them; the last holds the run budget */
static const int pinned_host[JIT_NPINNED] = {RBP, R12, R13, R14, R15, R8, R9, BUDGET};
static const uint8_t pinned_guest[JIT_NPINNED_X] = {2, 10, 11, 14, 15, 12, 13};
/* The hart field a pinned host register holds. */
static uint32_t pinned_field(unsigned i)
{
	return i < JIT_NPINNED_X ? xoff(pinned_guest[i]) : (uint32_t)offsetof(struct rv_hart, budget_left);
}
#define JIT_NLOCAL 5
#define JIT_BORROW_USES 6 /* weighted uses for a pinned register's host register to go to another */
static const int local_host[JIT_NLOCAL] = {R10, R11, RDI, RDX, RSI};
/* Host registers a call clobbers. */
static bool host_volatile(int reg)
{
	return (reg >= R8 && reg <= R11) || reg == RDI || reg == RSI || reg == RDX;
}
static void pinned_load_volatile(struct emit *e, bool only_volatile)
{
	for (unsigned i = 0; i < JIT_NPINNED; i++)
		if (!only_volatile || host_volatile(pinned_host[i]))
			op_rm_hart(e, 0x8b, pinned_host[i], pinned_field(i), true);
}
static void pinned_store_volatile(struct emit *e, bool only_volatile)
{
	for (unsigned i = 0; i < JIT_NPINNED; i++)
		if (!only_volatile || host_volatile(pinned_host[i]))
			op_rm_hart(e, 0x89, pinned_host[i], pinned_field(i), true);
}
static void pinned_load(struct emit *e)
{
	pinned_load_volatile(e, false);
}
static void pinned_store(struct emit *e)
{
	pinned_store_volatile(e, false);
}
/* Each load is 8 bytes (REX, opcode, ModRM, SIB, disp32). */
_Static_assert(sizeof(prologue_bytes) - 1 + 8 * JIT_NPINNED == RV_JIT_ENTRY_OFFSET,
               "jit.h must know where chained jumps enter a block");

/* A load or store's way out of line when the TLB probe misses: the helper. */
struct slow_path {
	uint8_t *fix, *done; /* the probe's jne; where the fast path goes on */
	uint64_t pc;
	int k;
	unsigned kind;
	int store_rs2;     /* a store's data register, or -1 for a load */
	int load_dst;      /* a load's destination host register, or -1: the value goes on in rax */
	unsigned addr_rs1; /* a load's or store's address: x[addr_rs1] + addr_imm */
	int32_t addr_imm;
	uint32_t dirty;       /* local registers written and not yet stored back, at the access */
	bool fp_data;         /* store_rs2 is an FP register */
	uint8_t *fix2;        /* K_GENERIC: a second jump here, or NULL */
	uint8_t *more_fix[5]; /* K_GENERIC: more jumps here (translated FP's checks) */
	unsigned nmore_fix;
	unsigned x_result; /* K_GENERIC: 1 + the integer register the main path then expects in rax, or 0 */
	bool fp_pending;   /* K_GENERIC: set rv_hart.fp_pending after it (the main path may not have) */
	uint32_t insn, raw;
	unsigned len;    /* K_GENERIC: the instruction the interpreter runs instead */
	uint8_t *resume; /* a shared probe's access (jit_probe.h): its own probe first, back here on a hit */
	int slot;        /* ... the group's addend slot to mark invalid first (its first access), or -1 */
	const struct rv_op *group; /* K_DECODE: a group's accesses (mem_group), each probed alone */
	const unsigned *glens;     /* ... their lengths */
	unsigned ngroup;
};

struct block_ctx {
	struct emit e;
	uint8_t *const *thunk; /* the code cache's load and store thunks, by kind */
	struct slow_path slow[2 * JIT_MAX_OPS + 1];
	unsigned nslow;
	bool count_tlb;              /* count TLB hits (rv_hart.count_tlb) */
	bool user;                   /* translated in U-mode: user_mode() */
	bool zicboz;                 /* the hart has cbo.zero */
	unsigned vlenb;              /* V's register length in bytes, 0 without V */
	int64_t vtype;               /* what the block's last vsetvli / vsetivli sets, or -1 (emit_vector) */
	uint64_t page;               /* the guest page of the block's code */
	unsigned n;                  /* its instructions */
	uint8_t *label[JIT_MAX_OPS]; /* where each instruction's code starts */
	int8_t target[JIT_MAX_OPS];  /* a jump's or branch's target instruction in the block, or -1 */
	bool sext[JIT_MAX_OPS]; /* a 32-bit (W) instruction's result must be sign-extended (upper_read) */
	uint32_t in_dirty[JIT_MAX_OPS]; /* local registers dirty on some jump to the instruction */
	struct fwd_jump {
		uint8_t *fix; /* a jmp's rel32 */
		int to;       /* to this instruction's label */
	} fwd[JIT_MAX_OPS];
	unsigned nfwd;
	int8_t host[33]; /* guest register -> host register holding it, or -1 */
	/* An slli by 32 and an srli of its result (gcc's zero-extension of a 32-bit value, often on a
	 * load's address chain): the srli starts again from the slli's source, so the pair costs one
	 * shift of latency, not two; the slli vanishes when the srli overwrites its result. */
	const struct rv_op *next; /* the instruction after this one when no jump leads there, or NULL */
	int zext_rs;              /* for that srli: the slli's source register, or -1 */
	bool zext_set;            /* the slli just emitted set zext_rs */
	uint64_t start;           /* the block's guest pc */
	uint32_t local;           /* guest registers in local host registers (bit per register) */
	uint32_t borrowed;        /* pinned registers lent to local ones (bit per index in pinned_host) */
	uint32_t dirty;           /* ... written since the hart last had them */
	/* Translated FP (emit_fp_arith): what this path checked since the last join or call. */
	bool fp_ok;        /* mstatus.FS dirty (after an interpreted FP instruction: also vsstatus.FS if
	                    * V=1) and fp_pending set, on every path to here */
	uint32_t fp_boxed; /* f registers known to hold NaN-boxed singles */
	struct jit_probe_plan probes; /* loads and stores sharing a TLB probe */
};

/* At a join (a jump target) or after a call that may change the FP state. */
static void fp_forget(struct block_ctx *c)
{
	c->fp_ok = false;
	c->fp_boxed = 0;
}
/* The slow path on which the interpreter runs `op` (K_GENERIC); its jumps and `done` come later. */
static struct slow_path interp_slow_path(const struct block_ctx *c, const struct rv_op *op, uint64_t pc,
                                         unsigned len, int k)
{
	return (struct slow_path){.pc = pc,
	                          .k = k,
	                          .kind = K_GENERIC,
	                          .dirty = c->dirty,
	                          .insn = (uint32_t)op->imm,
	                          .raw = op->raw,
	                          .len = len};
}
/* mov byte [hart + fp_pending], 1: translated FP left host flags to take. */
static void set_fp_pending(struct emit *e)
{
	e8(e, 0xc6);
	modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, fp_pending));
	e8(e, 1);
}
/* f[r]'s upper word all ones: a NaN-boxed single. */
static void nan_box(struct emit *e, unsigned r)
{
	store_field_imm32(e, foff(r) + 4, -1);
}
/* f[r] was written with a single (NaN-boxed) or not. */
static void fp_written(struct block_ctx *c, unsigned r, bool single)
{
	c->fp_boxed = single ? c->fp_boxed | 1u << r : c->fp_boxed & ~(1u << r);
}

/* reg <- x[r] (x0: the zero idiom, no load) */
static void get_x(struct block_ctx *c, int reg, unsigned r)
{
	if (r == 0) {
		op_rr(&c->e, 0x33, reg, reg, false); /* xor reg32, reg32 */
		return;
	}
	if (c->host[r] == reg) return;
	if (c->host[r] >= 0)
		op_rr(&c->e, 0x8b, reg, c->host[r], true);
	else
		op_rm_hart(&c->e, 0x8b, reg, xoff(r), true);
}
/* Notes a write to x[r] made in its host register. */
static void written(struct block_ctx *c, unsigned r)
{
	if (r < 32) c->dirty |= c->local & (1u << r);
}
/* x[r] <- reg (writes to x0 arrive here as r = 32 and vanish) */
static void set_x(struct block_ctx *c, unsigned r, int reg)
{
	if (r == 0 || r == 32) return;
	if (c->host[r] >= 0)
		op_rr(&c->e, 0x8b, c->host[r], reg, true);
	else
		op_rm_hart(&c->e, 0x89, reg, xoff(r), true);
	written(c, r);
}
/* The local registers in `mask` to the hart. */
static void store_local(struct block_ctx *c, uint32_t mask)
{
	for (unsigned r = 1; r < 32; r++)
		if (mask & (1u << r)) op_rm_hart(&c->e, 0x89, c->host[r], xoff(r), true);
}
/*
 * rsi as scratch for one instruction's code: the guest register it holds (if
 * any) goes to the hart and is read from there until rsi_restore() (before
 * the instruction's result is put: it may be that register). Returns it, or 0.
 * Call before making the instruction's slow paths (they save `dirty`).
 */
static unsigned rsi_claim(struct block_ctx *c)
{
	for (unsigned r = 1; r < 32; r++)
		if (c->host[r] == RSI) {
			if (c->dirty & (1u << r)) op_rm_hart(&c->e, 0x89, RSI, xoff(r), true);
			c->dirty &= ~(1u << r);
			c->host[r] = -1;
			return r;
		}
	return 0;
}
static void rsi_restore(struct block_ctx *c, unsigned r)
{
	if (!r) return;
	c->host[r] = RSI;
	op_rm_hart(&c->e, 0x8b, RSI, xoff(r), true);
}
/* The local registers in `mask` from the hart. */
static void load_local(struct block_ctx *c, uint32_t mask)
{
	for (unsigned r = 1; r < 32; r++)
		if (mask & (1u << r)) op_rm_hart(&c->e, 0x8b, c->host[r], xoff(r), true);
}
/* At the block's start: the guest registers of the pinned host registers it borrows go to the hart,
 * where they stay while the block runs (allocate). */
static void borrow_pinned(struct block_ctx *c)
{
	for (unsigned i = 0; i < JIT_NPINNED_X; i++)
		if (c->borrowed & (1u << i)) op_rm_hart(&c->e, 0x89, pinned_host[i], pinned_field(i), true);
}
/* Before a way out or code that stores the pinned registers (a helper's): the borrowed ones hold
 * their own guest registers again. Their local ones must be in the hart already (store_local). */
static void unborrow_pinned(struct block_ctx *c)
{
	for (unsigned i = 0; i < JIT_NPINNED_X; i++)
		if (c->borrowed & (1u << i)) op_rm_hart(&c->e, 0x8b, pinned_host[i], pinned_field(i), true);
}
/* reg <op>= x[r], for the "op reg, r/m" opcodes (add 03, sub 2b, and 23, or 0b, xor 33, cmp 3b, imul 0faf) */
static void alu_x(struct block_ctx *c, unsigned opc, int reg, unsigned r, bool w64)
{
	if (c->host[r] >= 0)
		op_rr(&c->e, opc, reg, c->host[r], w64);
	else
		op_rm_hart(&c->e, opc, reg, xoff(r), w64);
}
/*
 * Where to compute a result for x[rd]: straight in rd's host register when it
 * is cached (unless the instruction still reads `src2` after writing there),
 * else rax. put_x() then completes the write.
 */
static int dst_reg(struct block_ctx *c, unsigned rd, unsigned src2)
{
	return rd < 32 && c->host[rd] >= 0 && rd != src2 ? c->host[rd] : RAX;
}
static void put_x(struct block_ctx *c, unsigned rd, int reg)
{
	if (reg == RAX)
		set_x(c, rd, RAX);
	else
		written(c, rd); /* it is there already */
}
static void movsxd(struct emit *e, int reg)
{
	op_rr(e, 0x63, reg, reg, true);
}

/* Before a helper that may raise: the instruction's pc and index in the block, and the registers
 * (the local ones written before the instruction: `dirty`). */
static void sync_pc(struct emit *e, uint64_t pc, int k)
{
	if ((uint64_t)(int64_t)(int32_t)pc == pc) { /* mov qword [hart + pc], simm32 */
		EB(e, "\x48\xc7");
		modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, pc));
		e32(e, (uint32_t)pc);
	} else {
		mov_imm64(e, RAX, pc);
		op_rm_hart(e, 0x89, RAX, (uint32_t)offsetof(struct rv_hart, pc), true);
	}
	store_field_imm32(e, offsetof(struct rv_hart, jit_retired), k);
}
static void sync_for_helper(struct block_ctx *c, uint64_t pc, int k, uint32_t dirty)
{
	sync_pc(&c->e, pc, k);
	store_local(c, dirty);
	unborrow_pinned(c);
	pinned_store(&c->e);
}
/* After a call: the local registers it clobbered, from the hart (which has them), the pinned ones
 * first (a borrowed one holds a local register). */
static void reload_local(struct block_ctx *c)
{
	pinned_load_volatile(&c->e, true);
	load_local(c, c->local);
}

/*
 * A block exit to a target known at translation time. While budget remains
 * it can jump straight into the target's block: the jmp below first falls
 * through to a return, and the dispatcher patches it once the target has a
 * block (rv_jit_chain). The return path records which jmp to patch.
 * The caller has written the registers back.
 * Only a jump to a block starting at or before this one's start checks the
 * budget: along chained jumps that skip it, block starts increase (within
 * one page), so every cycle of blocks still passes a check.
 */
static void exit_static(struct emit *e, uint64_t target, bool check_budget)
{
	uint8_t *jle = NULL;
	if (check_budget) {
		EB(e, "\x48\x85\xdb"); /* test rbx, rbx: the budget */
		EB(e, "\x0f\x8e");     /* jle ret: budget spent */
		jle = e->p;
		e32(e, 0);
	}
	e8(e, 0xe9); /* jmp rel32: falls through until chained */
	uint8_t *site = e->p;
	e32(e, 0);
	if (jle) {
		uint32_t rel = (uint32_t)(e->p - (jle + 4));
		memcpy(jle, &rel, 4);
	}
	EB(e, "\x48\x8d\x0d"); /* lea rcx, [rip + disp] (= site) */
	e32(e, (uint32_t)(int32_t)(site - (e->p + 4)));
	EB(e, "\x48\x89"); /* mov [hart + jit_patch_site], rcx */
	modrm_hart(e, RCX, (uint32_t)offsetof(struct rv_hart, jit_patch_site));
	return_pc(e, target);
}

/*
 * A block exit to the guest pc in rax: straight into its block if the
 * indirect-jump cache knows one and budget remains, else back to the dispatcher.
 */
static void exit_indirect(struct emit *e)
{
	EB(e, "\x48\x85\xdb"); /* test rbx, rbx: the budget */
	EB(e, "\x7e");         /* jle ret */
	uint8_t *spent = e->p++;
	/* rcx <- rv_jcache_index(rax) * 16 */
	EB(e, "\x89\xc1"); /* mov ecx, eax */
	EB(e, "\x81\xe1"); /* and ecx, (RV_JCACHE_SIZE - 1) << 1 */
	e32(e, (RV_JCACHE_SIZE - 1) << 1);
	EB(e, "\xc1\xe1\x03"); /* shl ecx, 3 */
	EB(e, "\x48\x03");     /* add rcx, [hart + jcache_cur] */
	modrm_hart(e, RCX, (uint32_t)offsetof(struct rv_hart, jcache_cur));
	EB(e, "\x48\x3b\x01"); /* cmp rax, [rcx] */
	EB(e, "\x75\x03");     /* jne ret */
	EB(e, "\xff\x61\x08"); /* jmp [rcx + 8] */
	*spent = (uint8_t)(e->p - (spent + 1));
	epilogue(e); /* ret: rax holds the pc */
}

/*
 * A block exit to a known guest pc. A direct jump is patched in only within
 * the block's own page: that page's mapping is the one the block runs under.
 * Elsewhere the mapping may differ by the time the jump is taken (another
 * address space), so the indirect-jump cache, flushed with the TLB, decides.
 * The local registers in `dirty` go back to the hart on the way out.
 * A target earlier in the block (its instruction t >= 0) is a loop: the pass
 * just run is charged (one update of the budget, `refund` being what the entry
 * charged for instructions after the exit) and, while budget remains for
 * another whole pass, it goes round with its registers in place.
 */
static void exit_to(struct block_ctx *c, uint64_t target, uint32_t dirty, int t, int refund)
{
	struct emit *e = &c->e;
	if (t >= 0) {
		int pass = (int)c->n - t - refund; /* instructions t..exit: at least one */
		budget_add(e, (int8_t)-pass);
		EB(e, "\x0f\x8f"); /* jg label[t]: the next pass is charged */
		e32(e, (uint32_t)(int32_t)(c->label[t] - (e->p + 4)));
		budget_add(e, (int8_t)(c->n - (unsigned)t)); /* not run */
	} else if (refund) {
		budget_add(e, (int8_t)refund);
	}
	store_local(c, dirty);
	unborrow_pinned(c);
	if ((target & RV_PAGE_MASK) == c->page) {
		exit_static(&c->e, target, target <= c->start);
	} else {
		mov_imm64(&c->e, RAX, target);
		exit_indirect(&c->e);
	}
}

/* A site is the rel32 of an exit's jmp. One that does not follow a jmp opcode lies in code dropped
 * since (a flush) and the patch would corrupt newer code: a bug of the engine, stopped here rather
 * than run. */
void rv_jit_chain(void *site, void *code)
{
	uint8_t *s = site;
	uint32_t rel = (uint32_t)((uint8_t *)code + RV_JIT_ENTRY_OFFSET - (s + 4));
	if (s[-1] != 0xe9) {
		log_error("translator: chaining an exit at %p that is not a jump (stale code)", site);
		abort();
	}
	memcpy(s, &rel, 4);
}

/* Before a call that cannot raise: the written local registers to the hart (the call clobbers their
 * host registers), rdi <- x[rs1], rsi <- x[rs2]. */
static void call_args(struct block_ctx *c, unsigned rs1, int rs2)
{
	store_local(c, c->dirty);
	unborrow_pinned(c);
	pinned_store_volatile(&c->e, true);
	c->dirty = 0;
	/* Local registers from the hart (rdi and rsi may hold them). */
	if (c->local & (1u << rs1))
		op_rm_hart(&c->e, 0x8b, RDI, xoff(rs1), true);
	else
		get_x(c, RDI, rs1);
	if (rs2 >= 0 && (c->local & (1u << rs2)))
		op_rm_hart(&c->e, 0x8b, RSI, xoff((unsigned)rs2), true);
	else if (rs2 >= 0)
		get_x(c, RSI, (unsigned)rs2);
}
static void binop_helper(struct block_ctx *c, const struct rv_op *op, const void *fn)
{
	call_args(c, op->rs1, op->rs2);
	call_abs(&c->e, fn); /* cannot raise */
	reload_local(c);
	set_x(c, op->rd, RAX);
}

/* x[rd] <- the high half of x[rs1] * x[rs2]: the one-operand imul / mul (rdx:rax), rdx kept in rsi
 * meanwhile (it may hold a guest register). */
static void emit_mul_high(struct block_ctx *c, const struct rv_op *op, bool is_signed)
{
	struct emit *e = &c->e;
	get_x(c, RAX, op->rs1);
	op_rr(e, 0x8b, RCX, RDX, true); /* mov rcx, rdx */
	unsigned digit = is_signed ? 5 : 4;
	if (c->host[op->rs2] >= 0) { /* imul / mul reg */
		rex(e, true, 0, c->host[op->rs2]);
		e8(e, 0xf7);
		e8(e, (uint8_t)(0xc0 | digit << 3 | (c->host[op->rs2] & 7)));
	} else { /* imul / mul qword [hart + x[rs2]] */
		EB(e, "\x48\xf7");
		modrm_hart(e, (int)digit, xoff(op->rs2));
	}
	op_rr(e, 0x8b, RAX, RDX, true); /* mov rax, rdx */
	op_rr(e, 0x8b, RDX, RCX, true); /* mov rdx, rcx */
	set_x(c, op->rd, RAX);
}

/* rax <- the Zb* operation of `op` (bitmanip.h): inline where x86 has a short form (lea, andn-like
 * pairs, cmov, rotates, bit scans, bt*, bswap, movsx), else through rv_zb_compute. */
static void emit_zb_rax(struct block_ctx *c, const struct rv_op *op)
{
	struct emit *e = &c->e;
	enum rv_zb_op zb = rv_zb_op(op->imm);
	unsigned imm = (unsigned)(op->imm >> 8) & 63;
	switch (zb) {
	case RV_ZB_SH1ADD:
	case RV_ZB_SH2ADD:
	case RV_ZB_SH3ADD:
	case RV_ZB_ADD_UW:
	case RV_ZB_SH1ADD_UW:
	case RV_ZB_SH2ADD_UW:
	case RV_ZB_SH3ADD_UW: {
		static const uint8_t shift[RV_ZB_COUNT] = {
		    [RV_ZB_SH1ADD] = 1,    [RV_ZB_SH2ADD] = 2,    [RV_ZB_SH3ADD] = 3,
		    [RV_ZB_SH1ADD_UW] = 1, [RV_ZB_SH2ADD_UW] = 2, [RV_ZB_SH3ADD_UW] = 3};
		get_x(c, RAX, op->rs1);
		if (zb >= RV_ZB_ADD_UW) op_rr(e, 0x8b, RAX, RAX, false); /* mov eax, eax: zero-extends */
		if (shift[zb]) shift_imm(e, RAX, 4, shift[zb], true);    /* shl */
		alu_x(c, 0x03, RAX, op->rs2, true);
		return;
	}
	case RV_ZB_SLLI_UW:
		get_x(c, RAX, op->rs1);
		op_rr(e, 0x8b, RAX, RAX, false);
		if (imm) shift_imm(e, RAX, 4, imm, true);
		return;
	case RV_ZB_ANDN:
	case RV_ZB_ORN:
	case RV_ZB_XNOR:
		get_x(c, RAX, op->rs2);
		if (zb != RV_ZB_XNOR) EB(e, "\x48\xf7\xd0"); /* not rax */
		alu_x(c, zb == RV_ZB_ANDN ? 0x23 : zb == RV_ZB_ORN ? 0x0b : 0x33, RAX, op->rs1, true);
		if (zb == RV_ZB_XNOR) EB(e, "\x48\xf7\xd0");
		return;
	case RV_ZB_MIN:
	case RV_ZB_MINU:
	case RV_ZB_MAX:
	case RV_ZB_MAXU:
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		op_rr(e, 0x3b, RAX, RCX,
		      true); /* cmp rax, rcx; then take rcx when rax is on the wrong side */
		op_rr(e,
		      zb == RV_ZB_MIN    ? 0x0f4f
		      : zb == RV_ZB_MAX  ? 0x0f4c
		      : zb == RV_ZB_MINU ? 0x0f47
		                         : 0x0f42,
		      RAX, RCX, true);
		return;
	case RV_ZB_ROL:
	case RV_ZB_ROR:
	case RV_ZB_ROLW:
	case RV_ZB_RORW: {
		bool w = zb == RV_ZB_ROLW || zb == RV_ZB_RORW;
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		shift_cl(e, RAX, zb == RV_ZB_ROL || zb == RV_ZB_ROLW ? 0 : 1,
		         !w); /* x86 masks the count too */
		if (w) movsxd(e, RAX);
		return;
	}
	case RV_ZB_RORI:
	case RV_ZB_RORIW:
		get_x(c, RAX, op->rs1);
		shift_imm(e, RAX, 1, imm, zb == RV_ZB_RORI);
		if (zb == RV_ZB_RORIW) movsxd(e, RAX);
		return;
	case RV_ZB_CLZ: /* 63 - bsr, with bsr of zero taken as -1 */
		get_x(c, RCX, op->rs1);
		op_rr(e, 0x0fbd, RAX, RCX, true);
		mov_imm64(e, RCX, ~0ULL);
		op_rr(e, 0x0f44, RAX, RCX, true); /* cmovz */
		EB(e, "\x48\xf7\xd8");            /* neg rax */
		alu_imm(e, RAX, 0, 63, true);
		return;
	case RV_ZB_CTZ:
		get_x(c, RCX, op->rs1);
		op_rr(e, 0x0fbc, RAX, RCX, true); /* bsf */
		mov_imm64(e, RCX, 64);
		op_rr(e, 0x0f44, RAX, RCX, true);
		return;
	case RV_ZB_CLZW: /* bsr of (x << 32 | 1 << 31), never zero, xor 63 */
		get_x(c, RAX, op->rs1);
		shift_imm(e, RAX, 4, 32, true);
		EB(e, "\x48\x0f\xba\xe8\x1f"); /* bts rax, 31 */
		op_rr(e, 0x0fbd, RAX, RAX, true);
		alu_imm(e, RAX, 6, 63, false);
		return;
	case RV_ZB_CTZW: /* bsf of (x | 1 << 32) */
		get_x(c, RAX, op->rs1);
		op_rr(e, 0x8b, RAX, RAX, false);
		EB(e, "\x48\x0f\xba\xe8\x20"); /* bts rax, 32 */
		op_rr(e, 0x0fbc, RAX, RAX, true);
		return;
	case RV_ZB_CPOP:
	case RV_ZB_CPOPW:
		if (!__builtin_cpu_supports("popcnt")) break;
		get_x(c, RAX, op->rs1);
		if (zb == RV_ZB_CPOPW) op_rr(e, 0x8b, RAX, RAX, false);
		e8(e, 0xf3);
		op_rr(e, 0x0fb8, RAX, RAX, true);
		return;
	case RV_ZB_SEXT_B:
	case RV_ZB_SEXT_H:
	case RV_ZB_ZEXT_H:
		get_x(c, RAX, op->rs1);
		op_rr(e,
		      zb == RV_ZB_SEXT_B   ? 0x0fbe
		      : zb == RV_ZB_SEXT_H ? 0x0fbf
		                           : 0x0fb7,
		      RAX, RAX, zb != RV_ZB_ZEXT_H);
		return;
	case RV_ZB_REV8:
		get_x(c, RAX, op->rs1);
		EB(e, "\x48\x0f\xc8"); /* bswap rax */
		return;
	case RV_ZB_ORC_B: {
		/* per byte: ((b & 0x7f) + 0x7f) | b has bit 7 set iff b != 0; then 0x80 -> 0xff */
		unsigned held = rsi_claim(c);
		get_x(c, RAX, op->rs1);
		mov_imm64(e, RCX, 0x7f7f7f7f7f7f7f7fULL);
		op_rr(e, 0x8b, RSI, RAX, true);
		op_rr(e, 0x23, RSI, RCX, true);
		op_rr(e, 0x03, RSI, RCX, true);
		op_rr(e, 0x0b, RSI, RAX, true);
		EB(e, "\x48\xf7\xd1"); /* not rcx: 0x8080... */
		op_rr(e, 0x23, RSI, RCX, true);
		shift_imm(e, RSI, 5, 7, true);
		EB(e, "\x48\x69\xc6"); /* imul rax, rsi, 255 */
		e32(e, 255);
		rsi_restore(c, held);
		return;
	}
	case RV_ZB_BCLR:
	case RV_ZB_BSET:
	case RV_ZB_BINV:
	case RV_ZB_BEXT:
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		op_rr(e,
		      zb == RV_ZB_BCLR   ? 0x0fb3
		      : zb == RV_ZB_BSET ? 0x0fab
		      : zb == RV_ZB_BINV ? 0x0fbb
		                         : 0x0fa3,
		      RCX, RAX, true); /* btr / bts / btc / bt rax, rcx (the index taken mod 64) */
		if (zb == RV_ZB_BEXT) setcc_rax(e, 0x2);
		return;
	case RV_ZB_BCLRI:
	case RV_ZB_BSETI:
	case RV_ZB_BINVI:
	case RV_ZB_BEXTI:
		get_x(c, RAX, op->rs1);
		EB(e, "\x48\x0f\xba"); /* bt* rax, imm8 */
		e8(e, (uint8_t)(0xc0 | (zb == RV_ZB_BCLRI   ? 6
		                        : zb == RV_ZB_BSETI ? 5
		                        : zb == RV_ZB_BINVI ? 7
		                                            : 4)
		                           << 3));
		e8(e, (uint8_t)imm);
		if (zb == RV_ZB_BEXTI) setcc_rax(e, 0x2);
		return;
	case RV_ZB_CZERO_EQZ:
	case RV_ZB_CZERO_NEZ:
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		op_rr(e, 0x85, RCX, RCX, true); /* test rcx, rcx */
		EB(e, "\xb9\x00\x00\x00\x00");  /* mov ecx, 0 (flags kept) */
		op_rr(e, zb == RV_ZB_CZERO_EQZ ? 0x0f44 : 0x0f45, RAX, RCX, true);
		return;
	default: break;
	}
	/* The carry-less products, and whatever the host lacks an instruction for. */
	if (op->imm & RV_ZB_IMM_FORM) {
		call_args(c, op->rs1, -1);
		mov_imm64(e, RSI, imm);
	} else {
		call_args(c, op->rs1, op->rs2);
	}
	mov_imm64(e, RDX, zb);
	call_abs(e, h_zb); /* cannot raise */
	reload_local(c);
}

/*
 * The TLB lookup of an access whose first byte is at `first_base` +
 * `first_disp` and whose last byte is at `last_base` + `last_disp` (registers
 * and displacements): rax <- its slot's offset in the table (a U-mode block
 * addresses the U set at its fixed place in the hart, others add tlb_cur),
 * rcx <- the last byte's page, compared with the entry's tag (an access
 * crossing the page misses); jne miss (returned: its rel32 to patch); on a hit
 * rax <- the entry's addend and, under --stats, `accesses` lookups are counted.
 */
static uint8_t *emit_tlb_lookup(struct block_ctx *c, int first_base, int32_t first_disp, int last_base,
                                int32_t last_disp, uint32_t table, unsigned accesses)
{
	struct emit *e = &c->e;
	if (first_disp)
		lea_disp(e, RAX, first_base, first_disp);
	else
		op_rr(e, 0x8b, RAX, first_base, true); /* mov rax, first */
	EB(e, "\x48\xc1\xe8");
	e8(e, RV_PAGE_SHIFT - 4); /* shr rax, 8 */
	e8(e, 0x25);
	e32(e, (RV_TLB_SIZE - 1) << 4); /* and eax, slot mask: rax = slot * 16 */
	if (!c->user) {
		EB(e, "\x48\x03");
		modrm_hart(e, RAX, (uint32_t)offsetof(struct rv_hart, tlb_cur)); /* add rax, tlb_cur */
	}
	if (last_disp)
		lea_disp(e, RCX, last_base, last_disp);
	else
		op_rr(e, 0x8b, RCX, last_base, true);
	EB(e, "\x48\x81\xe1");
	e32(e, (uint32_t)RV_PAGE_MASK); /* and rcx, -4096 */
	const uint32_t u = (uint32_t)offsetof(struct rv_hart, tlb[RV_TLB_SET_U]);
	if (c->user) {
		EB(e, "\x48\x3b\x88"); /* cmp rcx, [rax + hart + U set + table] */
		e32(e, e->hart + u + table);
	} else {
		EB(e, "\x48\x3b\x88"); /* cmp rcx, [rax + table] */
		e32(e, table);
	}
	EB(e, "\x0f\x85"); /* jne miss */
	uint8_t *fix = e->p;
	e32(e, 0);
	if (c->user) {
		EB(e, "\x48\x8b\x80"); /* mov rax, [rax + hart + U set + table + 8] (addend) */
		e32(e, e->hart + u + table + 8);
	} else {
		EB(e, "\x48\x8b\x80"); /* mov rax, [rax + table + 8] (addend) */
		e32(e, table + 8);
	}
	if (c->count_tlb) add_field_imm8(e, offsetof(struct rv_hart, tlb_counts.lookups), (int8_t)accesses);
	return fix;
}

/*
 * The TLB probe (read or write `table`) of the bytes x[rs1] + lo .. x[rs1] +
 * hi, in rax and rcx only: on a hit execution falls through with rax = the
 * host addend and *base = x[rs1]'s host register (an access is then at
 * [*base + rax + offset]), or *base = -1 with rax = the host address of
 * x[rs1] (an access is at [rax + offset]); on a miss (or bytes crossing a
 * page) it jumps to the returned fixup. `accesses` counts for --stats.
 */
static uint8_t *emit_tlb_probe(struct block_ctx *c, unsigned rs1, int32_t lo, int32_t hi, uint32_t table,
                               unsigned accesses, int *base)
{
	int b = rs1 ? c->host[rs1] : -1;
	*base = b;
	if (b >= 0) return emit_tlb_lookup(c, b, lo, b, hi, table, accesses);
	get_x(c, RCX, rs1);
	uint8_t *fix = emit_tlb_lookup(c, RCX, lo, RCX, hi, table, accesses);
	if (rs1) op_rm_hart(&c->e, 0x03, RAX, xoff(rs1), true); /* add rax, x[rs1] */
	return fix;
}
static uint32_t tlb_table(bool write)
{
	return write ? (uint32_t)offsetof(struct rv_tlb_set, write) : 0;
}

_Static_assert(sizeof(((struct rv_hart *)0)->jit_probe_addend) / sizeof(uint64_t) == JIT_PROBE_GROUPS,
               "a slot per shared probe");
static uint32_t probe_slot(int g)
{
	return (uint32_t)(offsetof(struct rv_hart, jit_probe_addend) + 8 * (unsigned)g);
}

/* A shared probe's part in an access's miss path: the way back after its own probe. */
struct reprobe {
	uint8_t *resume; /* NULL: the access probed for itself */
	int slot;        /* the group's slot to mark invalid (its first access), or -1 */
};

/*
 * The probe of the access at instruction index k (as in emit_op) to x[rs1] +
 * imm .. + size - 1, as emit_tlb_probe: its group's shared probe if it has
 * one (jit_probe.h). The group's first access probes all the group's bytes
 * from its base and keeps the addend in the group's slot (a miss or a span
 * across a page leaves 1 there, never an addend); the others take it from
 * the slot. Either way a miss goes to the access's own probe, out of line
 * (*rp says where it goes back to).
 */
static uint8_t *emit_access_probe(struct block_ctx *c, int k, unsigned rs1, int32_t imm, unsigned size,
                                  bool store, int *base, struct reprobe *rp)
{
	const int i = k + (int)c->n;
	const int g = i >= 0 && i < (int)c->n ? c->probes.group[i] : -1;
	rp->resume = NULL;
	rp->slot = -1;
	if (g < 0) return emit_tlb_probe(c, rs1, imm, imm + (int32_t)size - 1, tlb_table(store), 1, base);
	struct emit *e = &c->e;
	const struct jit_probe_group *pg = &c->probes.g[g];
	uint8_t *fix;
	if (c->probes.first[i]) {
		int b = c->host[pg->base];
		if (b < 0) {
			get_x(c, RCX, pg->base);
			b = RCX;
		}
		fix = emit_tlb_lookup(c, b, pg->lo, b, pg->hi, tlb_table(store), 1);
		if (pg->members > 1) {
			rp->slot = g;
			op_rm_hart(e, 0x89, RAX, probe_slot(g), true); /* mov [slot], rax */
		}
	} else {
		op_rm_hart(e, 0x8b, RAX, probe_slot(g), true); /* mov rax, [slot] */
		EB(e, "\xa8\x01");                             /* test al, 1 */
		EB(e, "\x0f\x85");                             /* jnz: its own probe */
		fix = e->p;
		e32(e, 0);
		if (c->count_tlb) add_field_imm8(e, offsetof(struct rv_hart, tlb_counts.lookups), 1);
	}
	rp->resume = e->p;
	*base = c->host[rs1];
	if (*base < 0) op_rm_hart(e, 0x03, RAX, xoff(rs1), true); /* add rax, x[rs1] */
	return fix;
}

/* opc reg, [base + rax + disp] (or the store direction, by opcode), or [rax + disp] for base -1; a byte
 * store's register needs a REX prefix to be sil/dil/bpl rather than dh/bh/ch. */
static void op_base_rax(struct emit *e, unsigned opc, int reg, int base, int32_t disp, bool w64,
                        bool byte_reg)
{
	uint8_t r = (uint8_t)(0x40 | (w64 ? 8 : 0) | ((reg & 8) ? 4 : 0) | (base >= 0 && (base & 8) ? 1 : 0));
	if (r != 0x40 || byte_reg) e8(e, r);
	opcode(e, opc);
	if (base < 0) {
		e8(e, (uint8_t)(0x80 | (reg & 7) << 3 | RAX)); /* mod 10, rm rax: disp32 */
	} else {
		e8(e, (uint8_t)(0x84 | (reg & 7) << 3)); /* mod 10, rm 100: SIB and disp32 */
		e8(e, (uint8_t)(RAX << 3 | (base & 7))); /* index rax, scale 1 */
	}
	e32(e, (uint32_t)disp);
}

/* The opcode of an integer load kind (into a 64-bit register when load_w64[kind]). */
static const unsigned load_opc[K_COUNT] = {
    [K_LB] = 0x0fbe, [K_LBU] = 0x0fb6, [K_LH] = 0x0fbf, [K_LHU] = 0x0fb7,
    [K_LW] = 0x63,   [K_LWU] = 0x8b,   [K_LD] = 0x8b};
static const bool load_w64[K_COUNT] = {[K_LB] = true, [K_LH] = true, [K_LW] = true, [K_LD] = true};

static void patch_to_here(struct emit *e, uint8_t *fix)
{
	if (!fix) return;
	uint32_t rel = (uint32_t)(e->p - (fix + 4));
	memcpy(fix, &rel, 4);
}

/* The miss path of the access just emitted (the fast path goes on from here): `store_rs2` is a store's
 * data register (an f register if fp_data), -1 for a load; the address is x[rs1] + imm. */
static void access_slow_path(struct block_ctx *c, uint8_t *fix, uint64_t pc, int k, unsigned kind,
                             int store_rs2, bool fp_data, unsigned rs1, int32_t imm, int load_dst)
{
	c->slow[c->nslow++] = (struct slow_path){.fix = fix,
	                                         .load_dst = load_dst,
	                                         .done = c->e.p,
	                                         .pc = pc,
	                                         .k = k,
	                                         .kind = kind,
	                                         .store_rs2 = store_rs2,
	                                         .dirty = c->dirty,
	                                         .fp_data = fp_data,
	                                         .addr_rs1 = rs1,
	                                         .addr_imm = imm};
}

/* The access's slow path just made (access_slow_path) starts with its own probe when it shared one. */
static void with_reprobe(struct block_ctx *c, const struct reprobe *rp)
{
	c->slow[c->nslow - 1].resume = rp->resume;
	c->slow[c->nslow - 1].slot = rp->slot;
}

static void emit_load(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k)
{
	static const unsigned sizes[] = {
	    [K_LB] = 1, [K_LH] = 2, [K_LW] = 4, [K_LD] = 8, [K_LBU] = 1, [K_LHU] = 2, [K_LWU] = 4};
	struct emit *e = &c->e;
	int base;
	struct reprobe rp;
	uint8_t *fix = emit_access_probe(c, k, op->rs1, op->imm, sizes[kind], false, &base, &rp);
	/* Straight into x[rd]'s host register if it has one, else into rax. */
	int d = op->rd && op->rd < 32 ? c->host[op->rd] : -1;
	op_base_rax(e, load_opc[kind], d >= 0 ? d : RAX, base, op->imm, load_w64[kind], false);
	access_slow_path(c, fix, pc, k, kind, -1, false, op->rs1, op->imm, d);
	with_reprobe(c, &rp);
	if (d >= 0)
		written(c, op->rd);
	else
		set_x(c, op->rd, RAX);
}

static void call_generic(struct block_ctx *c, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len, int k,
                         uint32_t dirty);

static bool is_store(unsigned kind)
{
	return kind >= K_SB && kind <= K_SD;
}
static void emit_store(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k);

static unsigned access_size(unsigned kind);

/* The miss path's start for an access with a shared probe: its own probe, back to the access on a hit. */
static void emit_reprobe(struct block_ctx *c, const struct slow_path *s)
{
	struct emit *e = &c->e;
	if (s->slot >= 0) { /* mov qword [slot], 1: the group's other accesses probe for themselves */
		EB(e, "\x48\xc7");
		modrm_hart(e, 0, probe_slot(s->slot));
		e32(e, 1);
	}
	int b = c->host[s->addr_rs1];
	if (b < 0) {
		get_x(c, RCX, s->addr_rs1);
		b = RCX;
	}
	const int32_t last = s->addr_imm + (int32_t)access_size(s->kind) - 1;
	uint8_t *miss = emit_tlb_lookup(c, b, s->addr_imm, b, last, tlb_table(is_store(s->kind)), 1);
	e8(e, 0xe9); /* jmp resume */
	e32(e, (uint32_t)(int32_t)(s->resume - (e->p + 4)));
	patch_to_here(e, miss);
}

/* The out-of-line miss path of a load or store (after the block's main path), or the interpreter's
 * way through an FP access it leaves there (K_GENERIC). */
static void emit_slow_path(struct block_ctx *c, const struct slow_path *s)
{
	struct emit *e = &c->e;
	patch_to_here(e, s->fix);
	if (s->kind == K_DECODE) { /* a group's probe missed: each access probes for itself */
		c->dirty = s->dirty;
		uint64_t pc = s->pc;
		for (unsigned j = 0; j < s->ngroup; pc += s->glens[j++]) {
			const struct rv_op *op = &s->group[j];
			unsigned kind = rv_op_kind(op);
			if (is_store(kind))
				emit_store(c, op, kind, pc, s->k + (int)j);
			else
				emit_load(c, op, kind, pc, s->k + (int)j);
		}
		e8(e, 0xe9); /* jmp done */
		e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
		return;
	}
	if (s->kind == K_GENERIC) { /* the interpreter runs the whole instruction */
		patch_to_here(e, s->fix2);
		for (unsigned i = 0; i < s->nmore_fix; i++) patch_to_here(e, s->more_fix[i]);
		call_generic(c, s->insn, s->raw, s->pc, s->len, s->k, s->dirty);
		if (s->x_result > 1) /* from the hart: a pinned register's host copy is stale */
			op_rm_hart(e, 0x8b, RAX, xoff(s->x_result - 1), true);
		if (s->fp_pending) set_fp_pending(e);
		e8(e, 0xe9); /* jmp done */
		e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
		return;
	}
	if (s->resume) emit_reprobe(c, s);
	sync_pc(e, s->pc, s->k);
	store_local(c, s->dirty); /* the hart has every local register now */
	int base = s->addr_rs1 ? c->host[s->addr_rs1] : -1;
	if (base >= 0) {
		lea_disp(e, RSI, base, s->addr_imm); /* rsi <- the address */
	} else {
		get_x(c, RSI, s->addr_rs1);
		if (s->addr_imm) lea_disp(e, RSI, RSI, s->addr_imm);
	}
	if (s->store_rs2 >= 0 && s->fp_data)
		op_rm_hart(e, 0x8b, RDX, foff((unsigned)s->store_rs2), true);
	else if (s->store_rs2 > 0 && c->host[s->store_rs2] == RSI) /* just overwritten */
		op_rm_hart(e, 0x8b, RDX, xoff((unsigned)s->store_rs2), true);
	else if (s->store_rs2 >= 0)
		get_x(c, RDX, (unsigned)s->store_rs2);
	unborrow_pinned(c);
	e8(e, 0xe8); /* call the thunk (a load's value in rax) */
	e32(e, (uint32_t)(int32_t)(c->thunk[s->kind] - (e->p + 4)));
	load_local(c, c->local);
	if (s->load_dst >= 0) op_rr(e, 0x8b, s->load_dst, RAX, true); /* mov dst, rax */
	e8(e, 0xe9);                                                  /* jmp done */
	e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
}

static void emit_store(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k)
{
	static const unsigned sizes[] = {[K_SB] = 1, [K_SH] = 2, [K_SW] = 4, [K_SD] = 8};
	struct emit *e = &c->e;
	int base;
	struct reprobe rp;
	uint8_t *fix = emit_access_probe(c, k, op->rs1, op->imm, sizes[kind], true, &base, &rp);
	int v = c->host[op->rs2]; /* the data straight from its host register */
	if (v < 0) {
		get_x(c, RCX, op->rs2);
		v = RCX;
	}
	if (kind == K_SH) e8(e, 0x66);
	op_base_rax(e, kind == K_SB ? 0x88 : 0x89, v, base, op->imm, kind == K_SD, kind == K_SB);
	access_slow_path(c, fix, pc, k, kind, op->rs2, false, op->rs1, op->imm, -1);
	with_reprobe(c, &rp);
}

static const void *const load_helpers[] = {
    [K_LB] = h_lb,   [K_LH] = h_lh,   [K_LW] = h_lw,   [K_LD] = h_ld,
    [K_LBU] = h_lbu, [K_LHU] = h_lhu, [K_LWU] = h_lwu,
};
static const void *const store_helpers[] = {[K_SB] = h_sb, [K_SH] = h_sh, [K_SW] = h_sw, [K_SD] = h_sd};

/*
 * A load's or store's way to its helper, shared by every block: called from a
 * miss path (rsi = address, rdx = a store's data) that stored the pc, the
 * instruction's index and the written local registers; stores the pinned
 * registers (the helper may raise), calls, reloads the call-clobbered ones.
 */
static uint8_t *emit_thunk(struct emit *e, const void *helper)
{
	uint8_t *start = e->p;
	pinned_store(e);
	e8(e, 0xbf); /* mov edi, hart */
	e32(e, e->hart);
	EB(e, "\x48\x83\xec\x08"); /* sub rsp, 8: the call into here unaligned the stack */
	call_abs(e, helper);
	EB(e, "\x48\x83\xc4\x08"); /* add rsp, 8 */
	pinned_load_volatile(e, true);
	e8(e, 0xc3); /* ret */
	return start;
}

/* A taken conditional branch leaves the block through a stub emitted after it. */
struct side_exit {
	uint8_t *fix;    /* the jcc's rel32 */
	uint64_t target; /* guest pc; 0: the pc exec.c left in the hart (after rv_jit_exec_generic) */
	int refund;      /* budget charged at entry for instructions the exit skips */
	uint32_t dirty;  /* local registers to store back on the way out */
	int inside;      /* the target's instruction in the block, or -1 */
};

/*
 * An instruction the translator leaves to the interpreter's generic path
 * (AMOs, FP, fences, CSR reads): called with the registers in the hart;
 * the block goes on unless it says to stop.
 */
static void call_generic(struct block_ctx *c, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len, int k,
                         uint32_t dirty)
{
	struct emit *e = &c->e;
	sync_for_helper(c, pc, k, dirty);
	e8(e, 0xbf); /* mov edi, hart */
	e32(e, e->hart);
	e8(e, 0xbe); /* mov esi, insn */
	e32(e, insn);
	e8(e, 0xba); /* mov edx, raw */
	e32(e, raw);
	mov_imm64(e, RCX, pc);
	EB(e, "\x41\xb8"); /* mov r8d, len */
	e32(e, len);
	call_abs(e, rv_jit_exec_generic);
	reload_local(c); /* those the call clobbered */
}

static void emit_generic(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k,
                         struct side_exit *side, unsigned *nside)
{
	struct emit *e = &c->e;
	uint32_t insn = (uint32_t)op->imm;
	call_generic(c, insn, op->raw, pc, len, k, c->dirty);
	c->dirty = 0;
	fp_forget(c); /* it may have changed FS, frm or an f register */
	/* It may have written x[rd]: the hart has every register now, so reload that one. */
	unsigned rd = (insn >> 7) & 31;
	if (rd && c->host[rd] >= 0 && !(c->local & (1u << rd)))
		op_rm_hart(e, 0x8b, c->host[rd], xoff(rd), true);
	EB(e, "\x48\x85\xc0"); /* test rax, rax */
	EB(e, "\x0f\x85");     /* jnz: stop here */
	struct side_exit *s = &side[(*nside)++];
	s->fix = e->p;
	e32(e, 0);
	s->target = 0;
	s->refund = -k - 1;
	s->dirty = 0;
	s->inside = -1;
}

/* The size of an integer load's or store's access, or 0 for another kind. */
static unsigned access_size(unsigned kind)
{
	switch (kind) {
	case K_LB:
	case K_LBU:
	case K_SB: return 1;
	case K_LH:
	case K_LHU:
	case K_SH: return 2;
	case K_LW:
	case K_LWU:
	case K_SW: return 4;
	case K_LD:
	case K_SD: return 8;
	default: return 0;
	}
}

/*
 * A run of loads (or of stores) through the same base register, such as a
 * function saving or restoring its registers on the stack: how many of the
 * instructions from ops[i] form one (at least 2, else 1). They follow each
 * other, no jump leads into the run after its first, a load does not replace
 * the base before the last, and all bytes fit in 4 KiB ([*lo, *hi]).
 */
static unsigned mem_group(const struct rv_op *ops, const bool *jumped_to, unsigned i, unsigned n, int32_t *lo,
                          int32_t *hi)
{
	unsigned kind = rv_op_kind(&ops[i]), size = access_size(kind);
	if (!size || !ops[i].rs1) return 1;
	bool stores = is_store(kind);
	*lo = ops[i].imm, *hi = ops[i].imm + (int32_t)size - 1;
	unsigned m = 1;
	for (unsigned j = i + 1; j < n && !jumped_to[j]; j++) {
		unsigned kj = rv_op_kind(&ops[j]), sj = access_size(kj);
		if (!sj || is_store(kj) != stores || ops[j].rs1 != ops[i].rs1) break;
		if (!stores && ops[j - 1].rd == ops[i].rs1) break; /* the one before replaced the base */
		int32_t l = ops[j].imm < *lo ? ops[j].imm : *lo;
		int32_t h = ops[j].imm + (int32_t)sj - 1 > *hi ? ops[j].imm + (int32_t)sj - 1 : *hi;
		if (h - l >= 4096) break;
		*lo = l, *hi = h;
		m++;
	}
	return m;
}

/*
 * A group from mem_group(): one TLB probe for all its bytes (the entry of the
 * lowest byte's page must also be the highest's: a group across a page
 * misses), then each access through the page's addend in rax. A miss runs
 * every access with its own probe, out of line.
 */
static void emit_mem_group(struct block_ctx *c, const struct rv_op *ops, const unsigned *lens, unsigned m,
                           int32_t lo, int32_t hi, uint64_t pc, int k)
{
	struct emit *e = &c->e;
	const bool stores = is_store(rv_op_kind(&ops[0]));
	const uint32_t dirty = c->dirty;
	int base;
	uint8_t *fix =
	    emit_tlb_probe(c, ops[0].rs1, lo, hi, tlb_table(stores), m, &base); /* a miss: each alone */
	for (unsigned j = 0; j < m; j++) {
		const struct rv_op *op = &ops[j];
		unsigned kind = rv_op_kind(op);
		if (stores) {
			int v = c->host[op->rs2];
			if (v < 0) {
				get_x(c, RCX, op->rs2);
				v = RCX;
			}
			if (kind == K_SH) e8(e, 0x66);
			op_base_rax(e, kind == K_SB ? 0x88 : 0x89, v, base, op->imm, kind == K_SD,
			            kind == K_SB);
			continue;
		}
		int d = op->rd && c->host[op->rd] >= 0 ? c->host[op->rd] : RCX;
		op_base_rax(e, load_opc[kind], d, base, op->imm, load_w64[kind], false);
		if (d == RCX)
			set_x(c, op->rd, RCX);
		else
			written(c, op->rd);
	}
	c->slow[c->nslow++] = (struct slow_path){.fix = fix,
	                                         .done = e->p,
	                                         .pc = pc,
	                                         .k = k,
	                                         .kind = K_DECODE,
	                                         .dirty = dirty,
	                                         .group = ops,
	                                         .glens = lens,
	                                         .ngroup = m};
}

/* flw, fld, fsw, fsd: the integer access kind that moves their bits, or -1 for another instruction. */
static int fp_mem_kind(uint32_t insn)
{
	unsigned f3 = F3(insn);
	if ((insn & 0x7f) == 0x07 && (f3 == 2 || f3 == 3)) return f3 == 2 ? K_LWU : K_LD;
	if ((insn & 0x7f) == 0x27 && (f3 == 2 || f3 == 3)) return f3 == 2 ? K_SW : K_SD;
	return -1;
}

/*
 * An FP load or store (glibc's setjmp saves twelve FP registers with fsd):
 * through the TLB like an integer access, the value to or from h->f. With FP
 * off (mstatus.FS) or V=1 the interpreter runs it (an illegal instruction, or
 * vsstatus.FS to check and dirty). A load NaN-boxes a single and marks FS dirty.
 */
static void emit_fp_mem(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned kind = (unsigned)fp_mem_kind(insn);
	const bool store = kind == K_SW || kind == K_SD, wide = kind == K_LD || kind == K_SD;
	const uint32_t mstatus = (uint32_t)offsetof(struct rv_hart, mstatus);
	EB(e, "\xf7"); /* test dword [hart + mstatus], FS */
	modrm_hart(e, 0, mstatus);
	e32(e, (uint32_t)MSTATUS_FS);
	EB(e, "\x0f\x84"); /* jz: the interpreter */
	uint8_t *fs_off = e->p;
	e32(e, 0);
	EB(e, "\x80"); /* cmp byte [hart + virt], 0 */
	modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, virt));
	e8(e, 0);
	EB(e, "\x0f\x85"); /* jne: the interpreter */
	uint8_t *virt = e->p;
	e32(e, 0);

	const unsigned rs1 = RS1(insn);
	const int32_t imm = (int32_t)(store ? imm_s(insn) : imm_i(insn));
	int base;
	uint8_t *fix = emit_tlb_probe(c, rs1, imm, imm + (wide ? 7 : 3), tlb_table(store), 1, &base);
	if (store) {
		op_rm_hart(e, 0x8b, RCX, foff(RS2(insn)), true);   /* rcx <- f[rs2] */
		op_base_rax(e, 0x89, RCX, base, imm, wide, false); /* the access <- rcx / ecx */
		access_slow_path(c, fix, pc, k, kind, (int)RS2(insn), true, rs1, imm, -1);
	} else {
		op_base_rax(e, 0x8b, RAX, base, imm, wide, false); /* rax / eax <- the access */
		access_slow_path(c, fix, pc, k, kind, -1, false, rs1, imm, -1);
		if (!wide) { /* NaN-boxed */
			mov_imm64(e, RCX, 0xffffffff00000000ULL);
			EB(e, "\x48\x09\xc8"); /* or rax, rcx */
		}
		op_rm_hart(e, 0x89, RAX, foff(RD(insn)), true); /* f[rd] <- rax */
		fp_written(c, RD(insn), !wide);
		EB(e, "\x66\x81"); /* or word [hart + mstatus], FS: dirty */
		modrm_hart(e, 1, mstatus);
		e8(e, (uint8_t)MSTATUS_FS);
		e8(e, (uint8_t)(MSTATUS_FS >> 8));
		EB(e, "\x80"); /* or byte [hart + mstatus + 7], SD >> 56 */
		modrm_hart(e, 1, mstatus + 7);
		e8(e, (uint8_t)(MSTATUS_SD >> 56));
	}
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.fix = fs_off;
	s.fix2 = virt;
	s.done = e->p;
	c->slow[c->nslow++] = s;
}

/*
 * F and D computation on the host's SSE unit, with fpu.c's semantics (the interpreter computes with
 * the same host instructions): add, sub, mul, div, sqrt, the fused multiply-adds (with the host's
 * FMA3), sign injection (D), compares, fcvt.d.w / fcvt.d.l, fcvt between S and D, fmv.x.d and
 * fmv.d.x. Translated only in round-to-nearest-even (rm RNE, or DYN with frm RNE at run time),
 * with FS already dirty and V=0; any other state, a single that is not NaN-boxed, or a NaN result
 * (RISC-V's canonical NaN, the invalid flag of inf * 0 + NaN) runs the instruction in the
 * interpreter instead, from its operands, which the translated attempt left untouched. The host's
 * exception flags accumulate in MXCSR and reach fflags on the way back to C (rv_fp_take_host_flags):
 * computing an instruction twice raises the same flags twice, which changes nothing.
 */
enum fp_inline {
	FPI_NONE,
	FPI_ARITH,
	FPI_SQRT,
	FPI_FUSED,
	FPI_SGNJ,
	FPI_CMP,
	FPI_FROM_INT,
	FPI_CVT,
	FPI_MV_X,
	FPI_MV_F,
	FPI_TO_INT,
	FPI_FLAGS /* frflags (csrrs rd, fflags, x0), fsflags (csrrw rd, fflags, rs1) */
};
static bool host_fma;

static enum fp_inline fp_inline_kind(uint32_t insn)
{
	unsigned opc = insn & 0x7f, fmt = (insn >> 25) & 3, f5 = insn >> 27, f3 = F3(insn), rs2 = RS2(insn);
	bool rne = f3 == 0 || f3 == 7; /* RNE, or DYN (frm checked when it runs) */
	if (opc == 0x73 && insn >> 20 == 0x001 && (f3 == 1 || (f3 == 2 && RS1(insn) == 0))) return FPI_FLAGS;
	if (fmt > 1) return FPI_NONE;
	if (opc == 0x43 || opc == 0x47 || opc == 0x4b || opc == 0x4f)
		return host_fma && rne ? FPI_FUSED : FPI_NONE;
	if (opc != 0x53) return FPI_NONE;
	switch (f5) {
	case 0x00:
	case 0x01:
	case 0x02:
	case 0x03: return rne ? FPI_ARITH : FPI_NONE;
	case 0x0b: return rne && rs2 == 0 ? FPI_SQRT : FPI_NONE;
	case 0x04: return f3 <= 2 ? FPI_SGNJ : FPI_NONE;
	case 0x14: return f3 <= 2 ? FPI_CMP : FPI_NONE;
	case 0x1a: return rne && (rs2 == 0 || rs2 == 2) ? FPI_FROM_INT : FPI_NONE;
	case 0x08: return rne && rs2 == (fmt ^ 1) ? FPI_CVT : FPI_NONE; /* fcvt.d.s, fcvt.s.d */
	case 0x18: /* fcvt.w and fcvt.l, toward zero (C's casts) or to nearest */
		return (f3 == 1 || rne) && (rs2 == 0 || rs2 == 2) ? FPI_TO_INT : FPI_NONE;
	case 0x1c: return rs2 == 0 && f3 == 0 ? FPI_MV_X : FPI_NONE;
	case 0x1e: return rs2 == 0 && f3 == 0 ? FPI_MV_F : FPI_NONE;
	default: return FPI_NONE;
	}
}

/* The integer registers a translated FP instruction reads and writes (op_regs). */
static void fp_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes)
{
	enum fp_inline k = fp_inline_kind(insn);
	*reads = k == FPI_FROM_INT || k == FPI_MV_F || k == FPI_FLAGS ? 1u << RS1(insn) : 0;
	*writes = k == FPI_CMP || k == FPI_MV_X || k == FPI_TO_INT || k == FPI_FLAGS ? 1u << RD(insn) : 0;
}

/* An SSE instruction on xmm`reg` and the hart field at `off`: [prefix] 0f opc, [hart + off]. */
static void sse_hart(struct emit *e, uint8_t prefix, uint8_t opc, unsigned reg, uint32_t off)
{
	if (prefix) e8(e, prefix);
	e8(e, 0x0f);
	e8(e, opc);
	modrm_hart(e, (int)reg, off);
}

/* A jcc rel32 to the slow path (recorded in *s). */
static void jcc_slow(struct emit *e, struct slow_path *s, uint8_t cc)
{
	e8(e, 0x0f);
	e8(e, (uint8_t)(0x80 | cc));
	uint8_t **slot = !s->fix ? &s->fix : !s->fix2 ? &s->fix2 : &s->more_fix[s->nmore_fix++];
	*slot = e->p;
	e32(e, 0);
}

/* 64 entries: MXCSR's flags (bits 0-5; the denormal one ignored) as fflags. */
static const uint8_t fflags_of_host[64] = {
#define F(x)                                                                                                 \
	(((x)&0x20 ? 1 : 0) | ((x)&0x10 ? 2 : 0) | ((x)&0x08 ? 4 : 0) | ((x)&0x04 ? 8 : 0) |                 \
	 ((x)&0x01 ? 16 : 0))
#define F4(x) F(x), F(x + 1), F(x + 2), F(x + 3)
#define F16(x) F4(x), F4(x + 4), F4(x + 8), F4(x + 12)
    F16(0), F16(16), F16(32), F16(48)
#undef F16
#undef F4
#undef F
};

/*
 * frflags and fsflags (and the swap) inline, on a path where the FS check passed (else the
 * generic way): fflags first takes what MXCSR accrued (rv_fp_take_host_flags); a write then
 * clears MXCSR's flags, as the interpreter's does. The frame's 8 spare bytes at [rsp] hold MXCSR.
 */
static bool emit_fp_flags(struct block_ctx *c, const struct rv_op *op)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned rd = RD(insn), rs1 = RS1(insn), f3 = F3(insn);
	if (!c->fp_ok) return false;
	const uint32_t fflags = (uint32_t)offsetof(struct rv_hart, fflags);
	EB(e, "\x0f\xae\x1c\x24"); /* stmxcsr [rsp] */
	EB(e, "\x8b\x04\x24");     /* mov eax, [rsp] */
	EB(e, "\x83\xe0\x3f");     /* and eax, 0x3f */
	mov_imm64(e, RCX, (uint64_t)(uintptr_t)fflags_of_host);
	EB(e, "\x0f\xb6\x04\x01");               /* movzx eax, byte [rcx + rax] */
	op_rm_hart(e, 0x0b, RAX, fflags, false); /* or eax, fflags */
	if (f3 == 2) {
		op_rm_hart(e, 0x89, RAX, fflags, false); /* fflags <- the flags taken */
	} else {
		EB(e, "\x81\x24\x24\xc0\xff\xff\xff"); /* and dword [rsp], ~0x3f */
		EB(e, "\x0f\xae\x14\x24");             /* ldmxcsr [rsp] */
		get_x(c, RCX, rs1);
		EB(e, "\x83\xe1\x1f");                   /* and ecx, 31 */
		op_rm_hart(e, 0x89, RCX, fflags, false); /* fflags <- x[rs1] & 31 */
	}
	set_x(c, rd, RAX); /* the old value (x0: nothing) */
	return true;
}

static bool emit_fp_arith(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const enum fp_inline kind = fp_inline_kind(insn);
	if (kind == FPI_NONE) return false;
	if (kind == FPI_FLAGS) return emit_fp_flags(c, op);
	const unsigned opc = insn & 0x7f, f5 = insn >> 27, f3 = F3(insn), rd = RD(insn), rs1 = RS1(insn),
	               rs2 = RS2(insn), rs3 = insn >> 27;
	const bool dbl = (insn >> 25) & 1;
	const uint8_t pfx = dbl ? 0xf2 : 0xf3; /* movsd/addsd/... or movss/addss/... */
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.fp_pending = true;

	/* Once per path: nothing translated changes FS, V or fp_pending back, and where a check fails
	 * the interpreter runs the instruction (an illegal one raises; any other leaves FS dirty, and
	 * with V=1 vsstatus.FS too) and the slow path sets fp_pending. */
	if (!c->fp_ok) {
		op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, mstatus), false);
		e8(e, 0x25); /* and eax, FS */
		e32(e, (uint32_t)MSTATUS_FS);
		e8(e, 0x3d); /* cmp eax, FS (dirty) */
		e32(e, (uint32_t)MSTATUS_FS);
		jcc_slow(e, &s, 0x5);
		EB(e, "\x80"); /* cmp byte [hart + virt], 0 */
		modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, virt));
		e8(e, 0);
		jcc_slow(e, &s, 0x5);
		set_fp_pending(e); /* host flags to take */
		c->fp_ok = true;
	}
	bool rounds = kind == FPI_ARITH || kind == FPI_SQRT || kind == FPI_FUSED || kind == FPI_FROM_INT ||
	              kind == FPI_CVT || kind == FPI_TO_INT;
	if (rounds && f3 == 7) { /* each time: where it fails, the path goes on with frm as it is */
		EB(e, "\x83");   /* cmp dword [hart + frm], RNE */
		modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, frm));
		e8(e, 0);
		jcc_slow(e, &s, 0x5);
	}
	/* The single-precision sources must be NaN-boxed. */
	bool src_single = kind == FPI_CVT ? dbl : !dbl;
	if (src_single && kind != FPI_FROM_INT && kind != FPI_MV_F && kind != FPI_MV_X) {
		bool two = kind == FPI_ARITH || kind == FPI_CMP || kind == FPI_SGNJ;
		unsigned srcs[3] = {rs1, rs2, rs3}, nsrc = kind == FPI_FUSED ? 3 : two ? 2 : 1;
		for (unsigned i = 0; i < nsrc; i++) {
			if ((i && srcs[i] == srcs[0]) || (c->fp_boxed & (1u << srcs[i]))) continue;
			EB(e, "\x83"); /* cmp dword [hart + f[src] + 4], -1 */
			modrm_hart(e, 7, foff(srcs[i]) + 4);
			e8(e, 0xff);
			jcc_slow(e, &s, 0x5);
		}
	}

	bool xmm_result = true;
	switch (kind) {
	case FPI_ARITH: {
		static const uint8_t ops[4] = {0x58, 0x5c, 0x59, 0x5e}; /* add, sub, mul, div */
		sse_hart(e, pfx, 0x10, 0, foff(rs1));
		sse_hart(e, pfx, ops[f5], 0, foff(rs2));
		break;
	}
	case FPI_SQRT: sse_hart(e, pfx, 0x51, 0, foff(rs1)); break;
	case FPI_FUSED: {
		static const uint8_t ops[4] = {0xb9, 0xbb, 0xbd,
		                               0xbf}; /* vf{m,m,nm,nm}{add,sub,add,sub}231 */
		sse_hart(e, pfx, 0x10, 0, foff(rs3));
		sse_hart(e, pfx, 0x10, 1, foff(rs1));
		e8(e, 0xc4); /* VEX: 0f38, xmm1 (vvvv), W1 for double, 66 */
		e8(e, 0xe2);
		e8(e, dbl ? 0xf1 : 0x71);
		e8(e, ops[(opc >> 2) & 3]);
		modrm_hart(e, 0, foff(rs2)); /* xmm0, [hart + f[rs2]] */
		break;
	}
	case FPI_CVT: sse_hart(e, dbl ? 0xf3 : 0xf2, 0x5a, 0, foff(rs1)); break; /* cvtss2sd / cvtsd2ss */
	case FPI_FROM_INT:
		get_x(c, RAX, rs1);
		EB(e, "\x0f\x57\xc0"); /* xorps xmm0, xmm0 (no dependency on its old value) */
		e8(e, pfx);
		if (rs2 == 2) e8(e, 0x48);
		EB(e, "\x0f\x2a\xc0"); /* cvtsi2sd / cvtsi2ss xmm0, eax / rax */
		break;
	case FPI_SGNJ:
		if (!dbl) { /* on the low words; the result NaN-boxed */
			op_rm_hart(e, 0x8b, RAX, foff(rs1), false);
			op_rm_hart(e, 0x8b, RCX, foff(rs2), false);
			if (f3 == 1) EB(e, "\xf7\xd1");    /* not ecx */
			EB(e, "\x81\xe1\x00\x00\x00\x80"); /* and ecx, 0x80000000: its sign */
			if (f3 == 2) {
				EB(e, "\x31\xc8"); /* xor eax, ecx */
			} else {
				EB(e, "\x25\xff\xff\xff\x7f\x09\xc8"); /* and eax, 0x7fffffff; or eax, ecx */
			}
			op_rm_hart(e, 0x89, RAX, foff(rd), false);
			nan_box(e, rd);
			xmm_result = false;
			break;
		}
		op_rm_hart(e, 0x8b, RAX, foff(rs1), true);
		op_rm_hart(e, 0x8b, RCX, foff(rs2), true);
		if (f3 == 1) EB(e, "\x48\xf7\xd1");        /* not rcx */
		EB(e, "\x48\xc1\xe9\x3f\x48\xc1\xe1\x3f"); /* shr rcx, 63; shl rcx, 63: its sign */
		if (f3 == 2) {
			EB(e, "\x48\x31\xc8"); /* xor rax, rcx */
		} else {
			EB(e, "\x48\xd1\xe0\x48\xd1\xe8"); /* shl rax, 1; shr rax, 1 */
			EB(e, "\x48\x09\xc8");             /* or rax, rcx */
		}
		op_rm_hart(e, 0x89, RAX, foff(rd), true);
		xmm_result = false;
		break;
	case FPI_MV_F:
		get_x(c, RAX, rs1);
		op_rm_hart(e, 0x89, RAX, foff(rd), dbl);
		if (!dbl) {
			nan_box(e, rd);
		}
		xmm_result = false;
		break;
	case FPI_TO_INT: /* cvt(t)ss2si / cvt(t)sd2si eax or rax; the host's "indefinite" (NaN, out of
	                  * range, or that very value): the interpreter's saturation */
		e8(e, pfx);
		if (rs2 == 2) e8(e, 0x48);
		e8(e, 0x0f);
		e8(e, f3 == 1 ? 0x2c : 0x2d);
		modrm_hart(e, 0, foff(rs1));
		if (rs2 == 2) {
			EB(e,
			   "\x48\x89\xc1\x48\xf7\xd9"); /* mov rcx, rax; neg rcx: overflows for INT64_MIN */
			jcc_slow(e, &s, 0x0);           /* jo */
		} else {
			EB(e, "\x3d\x00\x00\x00\x80"); /* cmp eax, INT32_MIN */
			jcc_slow(e, &s, 0x4);          /* je */
			EB(e, "\x48\x63\xc0");         /* movsxd rax, eax */
		}
		xmm_result = false;
		break;
	case FPI_CMP:
	case FPI_MV_X:
	case FPI_FLAGS:
	case FPI_NONE: xmm_result = false; break;
	}
	if (xmm_result) {
		bool res_dbl = dbl;         /* fmt is the result's format (fcvt.d.s: D) */
		if (kind != FPI_FROM_INT) { /* a NaN: the interpreter's (canonical NaN, flags) */
			if (res_dbl) e8(e, 0x66);
			EB(e, "\x0f\x2e\xc0"); /* ucomisd / ucomiss xmm0, xmm0 */
			jcc_slow(e, &s, 0xa);  /* jp */
		}
		sse_hart(e, res_dbl ? 0xf2 : 0xf3, 0x11, 0, foff(rd)); /* f[rd] <- xmm0 */
		if (!res_dbl) {
			nan_box(e, rd);
		}
	}
	if (kind == FPI_CMP) {
		uint8_t p = dbl ? 0x66 : 0;
		sse_hart(e, pfx, 0x10, 0, foff(rs1));
		sse_hart(e, pfx, 0x10, 1, foff(rs2));
		if (p) e8(e, p);
		if (f3 == 2) {
			EB(e, "\x0f\x2e\xc1"); /* ucomis xmm0, xmm1: invalid only for a signalling NaN */
			EB(e, "\x0f\x94\xc0\x0f\x9b\xc1\x20\xc8"); /* sete al; setnp cl; and al, cl */
		} else {
			EB(e, "\x0f\x2f\xc8"); /* comis xmm1, xmm0: invalid for any NaN; unordered sets CF and
			                          ZF */
			EB(e, "\x0f");
			e8(e, f3 == 1 ? 0x97 : 0x93); /* flt: seta al (b > a); fle: setae al */
			e8(e, 0xc0);
		}
		EB(e, "\x0f\xb6\xc0"); /* movzx eax, al */
	} else if (kind == FPI_MV_X && dbl) {
		op_rm_hart(e, 0x8b, RAX, foff(rs1), true);
	} else if (kind == FPI_MV_X) {
		op_rm_hart(e, 0x63, RAX, foff(rs1), true); /* movsxd rax, dword f[rs1]: fmv.x.w */
	}
	s.done = e->p;
	if (kind != FPI_CMP && kind != FPI_MV_X && kind != FPI_TO_INT) fp_written(c, rd, !dbl);
	if (kind == FPI_CMP || kind == FPI_MV_X || kind == FPI_TO_INT) {
		s.x_result = rd + 1;
		set_x(c, rd, RAX);
	}
	c->slow[c->nslow++] = s;
	return true;
}

/*
 * Fences, AMOs and LR/SC inline (the interpreter's semantics, exec.c). x86 keeps loads and stores in
 * order but lets a load pass an earlier store: only a fence ordering stores (or outputs) before
 * loads (or inputs) needs mfence; `pause` stays a pause. AMOs add, swap, and, or, xor and LR/SC on
 * a naturally aligned word or doubleword of RAM whose page the TLB holds: locked host
 * instructions (full barriers, so aq/rl hold); SC compares-and-swaps the value LR reserved.
 * Anything else (misaligned, a TLB miss, min/max) runs in the interpreter.
 */
enum misc_inline { MISC_NONE, MISC_FENCE, MISC_AMO, MISC_LR, MISC_SC, MISC_CBO_ZERO };

static enum misc_inline misc_inline_kind(uint32_t insn)
{
	unsigned opc = insn & 0x7f, f3 = F3(insn), f5 = insn >> 27;
	if (opc == 0x0f && f3 == 0 && RD(insn) == 0 && RS1(insn) == 0) return MISC_FENCE;
	if (opc == 0x0f && f3 == 2 && RD(insn) == 0 && insn >> 20 == 4) return MISC_CBO_ZERO;
	if (opc != 0x2f || (f3 != 2 && f3 != 3)) return MISC_NONE;
	switch (f5) {
	case 0x00:
	case 0x01:
	case 0x04:
	case 0x08:
	case 0x0c: return MISC_AMO;
	case 0x02: return RS2(insn) == 0 ? MISC_LR : MISC_NONE;
	case 0x03: return MISC_SC;
	default: return MISC_NONE;
	}
}

static void misc_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes)
{
	enum misc_inline k = misc_inline_kind(insn);
	if (k == MISC_NONE || k == MISC_FENCE) {
		*reads = *writes = 0;
		return;
	}
	*reads = 1u << RS1(insn) | (k == MISC_LR || k == MISC_CBO_ZERO ? 0 : 1u << RS2(insn));
	*writes = k == MISC_CBO_ZERO ? 0 : 1u << RD(insn);
}

/* [REX.W] opcode [rsi] with rcx: the locked forms below. */
static void rcx_to_rsi_mem(struct emit *e, bool wide, const char *opcode, size_t n)
{
	if (wide) e8(e, 0x48);
	emit_bytes(e, opcode, n);
	e8(e, 0x0e); /* [rsi], rcx */
}

/* cbo.zero where menvcfg (below M) and senvcfg (in U) enable it: the 64-byte block through the
 * write TLB, zeroed with four SSE stores; else, and on a miss, the interpreter's. */
static bool emit_cbo_zero(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned held = rsi_claim(c);
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	uint8_t *m_mode = NULL;
	if (!c->user) {
		EB(e, "\x83"); /* cmp dword [hart + priv], M */
		modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, priv));
		e8(e, RV_PRIV_M);
		EB(e, "\x74"); /* je: M-mode may */
		m_mode = e->p;
		e8(e, 0);
	}
	EB(e, "\xf6"); /* test byte [hart + menvcfg], CBZE */
	modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, menvcfg));
	e8(e, (uint8_t)ENVCFG_CBZE);
	jcc_slow(e, &s, 0x4); /* jz */
	if (c->user) {
		EB(e, "\xf6"); /* test byte [hart + senvcfg], CBZE */
		modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, senvcfg));
		e8(e, (uint8_t)ENVCFG_CBZE);
		jcc_slow(e, &s, 0x4);
	}
	if (m_mode) *m_mode = (uint8_t)(e->p - (m_mode + 1));
	get_x(c, RSI, RS1(insn));
	EB(e, "\x48\x83\xe6\xc0"); /* and rsi, -64: the block */
	s.fix2 = emit_tlb_lookup(c, RSI, 0, RSI, RV_CACHE_BLOCK - 1, tlb_table(true), 1);
	EB(e, "\x0f\x57\xc0"); /* xorps xmm0, xmm0 */
	for (unsigned off = 0; off < RV_CACHE_BLOCK; off += 16) {
		EB(e, "\x0f\x11\x44\x06"); /* movups [rsi + rax + off], xmm0 */
		e8(e, (uint8_t)off);
	}
	s.done = e->p;
	rsi_restore(c, held);
	c->slow[c->nslow++] = s;
	return true;
}

static bool emit_misc(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const enum misc_inline kind = misc_inline_kind(insn);
	if (kind == MISC_NONE) return false;
	if (kind == MISC_FENCE) {
		unsigned pred = (insn >> 24) & 15, succ = (insn >> 20) & 15, fm = insn >> 28;
		if (insn == 0x0100000fu)
			EB(e, "\xf3\x90"); /* pause */
		else if (fm != 8 && (pred & 5) && (succ & 10))
			EB(e, "\x0f\xae\xf0"); /* mfence: stores (W, O) before loads (R, I) */
		return true;
	}
	if (kind == MISC_CBO_ZERO) return c->zicboz && emit_cbo_zero(c, op, pc, len, k);
	const unsigned f5 = insn >> 27, rd = RD(insn), rs1 = RS1(insn), rs2 = RS2(insn);
	const bool wide = F3(insn) == 3;
	const unsigned size = wide ? 8 : 4;
	const unsigned held = rsi_claim(c);
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.x_result = rd + 1;
	get_x(c, RSI, rs1);
	EB(e, "\x40\xf6\xc6"); /* test sil, size - 1: misaligned goes to the interpreter */
	e8(e, (uint8_t)(size - 1));
	jcc_slow(e, &s, 0x5);
	const uint32_t table = tlb_table(kind != MISC_LR);
	s.fix2 = emit_tlb_lookup(c, RSI, 0, RSI, (int32_t)size - 1, table, 1); /* rax <- addend */
	const uint32_t valid = (uint32_t)offsetof(struct rv_hart, resv_valid),
	               addr = (uint32_t)offsetof(struct rv_hart, resv_addr),
	               val = (uint32_t)offsetof(struct rv_hart, resv_val);
	switch (kind) {
	case MISC_LR:
		EB(e, "\x48");
		e8(e, wide ? 0x8b : 0x63); /* mov rax, [rsi + rax] / movsxd */
		EB(e, "\x04\x06");
		EB(e, "\xc6"); /* mov byte [hart + resv_valid], 1 */
		modrm_hart(e, 0, valid);
		e8(e, 1);
		op_rm_hart(e, 0x89, RSI, addr, true);
		op_rm_hart(e, 0x89, RAX, val, true);
		break;
	case MISC_SC: {
		EB(e, "\x48\x8d\x0c\x06"); /* lea rcx, [rsi + rax]: the host address */
		EB(e, "\x80");             /* cmp byte [hart + resv_valid], 0 */
		modrm_hart(e, 7, valid);
		e8(e, 0);
		EB(e, "\x74"); /* je fail */
		uint8_t *no_resv = e->p;
		e8(e, 0);
		op_rm_hart(e, 0x3b, RSI, addr, true); /* cmp rsi, resv_addr */
		EB(e, "\x75");                        /* jne fail */
		uint8_t *other = e->p;
		e8(e, 0);
		op_rr(e, 0x8b, RSI, RCX, true);      /* mov rsi, rcx */
		op_rm_hart(e, 0x8b, RAX, val, wide); /* rax / eax <- the reserved value */
		get_x(c, RCX, rs2);
		EB(e, "\xf0");                          /* lock */
		rcx_to_rsi_mem(e, wide, "\x0f\xb1", 2); /* cmpxchg [rsi], rcx / ecx */
		EB(e, "\x0f\x95\xc0\x0f\xb6\xc0");      /* setne al; movzx eax, al: 0 if stored */
		EB(e, "\xeb\x05");                      /* jmp over the failure */
		*no_resv = (uint8_t)(e->p - (no_resv + 1));
		*other = (uint8_t)(e->p - (other + 1));
		EB(e, "\xb8\x01\x00\x00\x00"); /* fail: mov eax, 1 */
		EB(e, "\xc6");                 /* mov byte [hart + resv_valid], 0 */
		modrm_hart(e, 0, valid);
		e8(e, 0);
		break;
	}
	default: {                         /* MISC_AMO */
		EB(e, "\x48\x8d\x34\x06"); /* lea rsi, [rsi + rax] */
		if (f5 == 0x00 || f5 == 0x01) {
			get_x(c, RCX, rs2);
			if (f5 == 0x00) {
				EB(e, "\xf0");
				rcx_to_rsi_mem(e, wide, "\x0f\xc1", 2); /* lock xadd [rsi], rcx */
			} else {
				rcx_to_rsi_mem(e, wide, "\x87", 1); /* xchg [rsi], rcx (locked) */
			}
			op_rr(e, wide ? 0x8b : 0x63, RAX, RCX,
			      true); /* rax <- the old value (sign-extended) */
		} else {
			static const uint8_t alu[] = {
			    [0x04] = 0x33, [0x08] = 0x0b, [0x0c] = 0x23}; /* xor, or, and */
			if (wide) e8(e, 0x48);
			EB(e, "\x8b\x06"); /* mov rax / eax, [rsi] */
			uint8_t *loop = e->p;
			op_rr(e, 0x8b, RCX, RAX, wide); /* mov rcx, rax */
			alu_x(c, alu[f5], RCX, rs2, wide);
			EB(e, "\xf0");
			rcx_to_rsi_mem(e, wide, "\x0f\xb1",
			               2); /* lock cmpxchg [rsi], rcx: rax <- [rsi] if not */
			EB(e, "\x75");     /* jne loop */
			e8(e, (uint8_t)(loop - (e->p + 1)));
			if (!wide) EB(e, "\x48\x63\xc0"); /* movsxd rax, eax */
		}
		break;
	}
	}
	s.done = e->p;
	rsi_restore(c, held);
	set_x(c, rd, RAX);
	c->slow[c->nslow++] = s;
	return true;
}

/*
 * The V instructions Linux copies user memory with (vsetvli; vle8ff.v; vse8.v): vsetvli and vsetivli
 * with a vtype the hart supports, and unit-stride loads (fault-only-first too) and stores without a
 * mask or fields, for the vtype the block's last vsetvli sets. They run here while vector state is
 * dirty (mstatus.VS) and V=0, a load or store while vtype is that one, vstart is 0 and its bytes lie
 * in one page the TLB maps (it then cannot fault: a fault-only-first load is a plain one); in any
 * other case the interpreter runs the instruction (vector.c), which decides the same.
 */
enum vec_inline { VEC_NONE, VEC_SET, VEC_MEM, VEC_SPLAT };

static enum vec_inline vec_inline_kind(uint32_t insn)
{
	const unsigned opc = insn & 0x7f, f3 = F3(insn);
	if (opc == 0x57 && f3 == 7) { /* vsetvli (bit 31 clear), vsetivli (bits 31-30 set) */
		if (!(insn >> 31)) return RS1(insn) || RD(insn) ? VEC_SET : VEC_NONE; /* not "keep vl" */
		return (insn >> 30) == 3 ? VEC_SET : VEC_NONE;
	}
	if (opc == 0x57 && f3 == 3 && (insn >> 25) == (0x17 << 1 | 1) && RS2(insn) == 0)
		return RS1(insn) == 0 || RS1(insn) == 31 ? VEC_SPLAT : VEC_NONE; /* vmv.v.i vd, 0 / -1 */
	if ((opc != 0x07 && opc != 0x27) || (f3 != 0 && f3 < 5)) return VEC_NONE;
	const unsigned nf = insn >> 29, mew = (insn >> 28) & 1, mop = (insn >> 26) & 3, vm = (insn >> 25) & 1,
	               lumop = RS2(insn);
	bool ff = opc == 0x07 && lumop == 16;
	return nf == 0 && !mew && mop == 0 && vm && (lumop == 0 || ff) ? VEC_MEM : VEC_NONE;
}

static void vec_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes)
{
	const bool vset = (insn & 0x7f) == 0x57 && F3(insn) == 7, vsetivli = vset && (insn >> 30) == 3;
	*reads = vsetivli || ((insn & 0x7f) == 0x57 && !vset) ? 0 : 1u << RS1(insn);
	*writes = vset ? 1u << RD(insn) : 0;
}

/* jne to the interpreter unless mstatus.VS is dirty and V=0. */
static void vec_state_check(struct block_ctx *c, struct slow_path *s)
{
	struct emit *e = &c->e;
	op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, mstatus), false); /* mov eax, mstatus */
	e8(e, 0x25);                                                                  /* and eax, VS */
	e32(e, (uint32_t)MSTATUS_VS);
	e8(e, 0x3d); /* cmp eax, VS: dirty */
	e32(e, (uint32_t)MSTATUS_VS);
	jcc_slow(e, s, 0x5);
	if (c->user) return; /* translated U-mode code runs with V=0 */
	EB(e, "\x80");       /* cmp byte [hart + virt], 0 */
	modrm_hart(e, 7, (uint32_t)offsetof(struct rv_hart, virt));
	e8(e, 0);
	jcc_slow(e, s, 0x5);
}

/* cmp qword [hart + off], imm32 */
static void cmp_field_imm32(struct emit *e, size_t off, int32_t imm)
{
	EB(e, "\x48\x81");
	modrm_hart(e, 7, (uint32_t)off);
	e32(e, (uint32_t)imm);
}
/* jne to the interpreter unless vec_state_check passes, vtype is the one the block's last vsetvli
 * set (c->vtype) and vstart is 0. */
static void vec_config_check(struct block_ctx *c, struct slow_path *s)
{
	vec_state_check(c, s);
	cmp_field_imm32(&c->e, offsetof(struct rv_hart, vtype), (int32_t)c->vtype);
	jcc_slow(&c->e, s, 0x5);
	cmp_field_imm32(&c->e, offsetof(struct rv_hart, vstart), 0);
	jcc_slow(&c->e, s, 0x5);
}
/* mov qword [hart + off], imm32 (sign-extended) */
static void store_field_imm64(struct emit *e, size_t off, int32_t imm)
{
	EB(e, "\x48\xc7");
	modrm_hart(e, 0, (uint32_t)off);
	e32(e, (uint32_t)imm);
}

static bool emit_vsetvl(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const bool vsetivli = (insn >> 30) == 3;
	const uint64_t vtype = (insn >> 20) & (vsetivli ? 0x3ff : 0x7ff);
	unsigned sew, lmul8;
	if (!rv_vtype_decode(vtype, &sew, &lmul8)) return false; /* vill: the interpreter's */
	const uint32_t vlmax = c->vlenb * lmul8 / 8 / sew, rd = RD(insn), rs1 = RS1(insn);
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	s.x_result = rd + 1;
	vec_state_check(c, &s);
	if (vsetivli || !rs1) {
		e8(e, 0xb8); /* mov eax, vl */
		e32(e, vsetivli && rs1 < vlmax ? rs1 : vlmax);
	} else {
		get_x(c, RAX, rs1); /* the AVL */
		e8(e, 0xb9);        /* mov ecx, vlmax */
		e32(e, vlmax);
		EB(e, "\x48\x39\xc8\x48\x0f\x47\xc1"); /* cmp rax, rcx; cmova rax, rcx */
	}
	op_rm_hart(e, 0x89, RAX, (uint32_t)offsetof(struct rv_hart, vl), true);
	store_field_imm64(e, offsetof(struct rv_hart, vtype), (int32_t)vtype);
	store_field_imm64(e, offsetof(struct rv_hart, vstart), 0);
	s.done = e->p;
	set_x(c, rd, RAX);
	c->slow[c->nslow++] = s;
	c->vtype = (int64_t)vtype;
	return true;
}

/* Whether the register group at vd of elements of `eew` bytes (0: SEW) fits the block's vtype
 * (c->vtype: its EMUL valid, vd aligned to it; otherwise the interpreter raises), with *shift the
 * log2 of the element size. */
static bool vec_group_ok(const struct block_ctx *c, unsigned vd, unsigned eew, unsigned *shift)
{
	unsigned sew, lmul8;
	if (c->vtype < 0 || !rv_vtype_decode((uint64_t)c->vtype, &sew, &lmul8)) return false;
	if (!eew) eew = sew;
	const unsigned emul8 = lmul8 * eew / sew, regs = emul8 < 8 ? 1 : emul8 / 8;
	*shift = (unsigned)__builtin_ctz(eew);
	return emul8 >= 1 && emul8 <= 64 && vd % regs == 0 && vd + regs <= 32;
}
/* rcx <- vl << shift: the bytes of vl elements */
static void vl_bytes_to_rcx(struct emit *e, unsigned shift)
{
	op_rm_hart(e, 0x8b, RCX, (uint32_t)offsetof(struct rv_hart, vl), true);
	if (shift) shift_imm(e, RCX, 4, shift, true);
}

static bool emit_vec_mem(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned width = F3(insn), vd = RD(insn);
	unsigned eew_shift;
	if (!vec_group_ok(c, vd, width == 0 ? 1 : 1u << (width - 4), &eew_shift)) return false;
	const bool store = (insn & 0x7f) == 0x27;
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	vec_config_check(c, &s);
	EB(e, "\x57\x56"); /* push rdi; push rsi: rep movsb's (they may hold guest registers) */
	get_x(c, RSI, RS1(insn));
	vl_bytes_to_rcx(e, eew_shift);
	EB(e, "\x48\x8d\x4c\x0e\xff"); /* lea rcx, [rsi + rcx - 1]: the last byte */
	uint8_t *miss = emit_tlb_lookup(c, RSI, 0, RCX, 0, tlb_table(store), 1);
	const uint32_t regs_at = e->hart + (uint32_t)offsetof(struct rv_hart, vreg) + vd * c->vlenb;
	if (store) {
		EB(e, "\x48\x8d\x3c\x06"); /* lea rdi, [rsi + rax] */
		e8(e, 0xbe);               /* mov esi, the registers */
	} else {
		EB(e, "\x48\x01\xc6"); /* add rsi, rax */
		e8(e, 0xbf);           /* mov edi, the registers */
	}
	e32(e, regs_at);
	vl_bytes_to_rcx(e, eew_shift);
	EB(e, "\xf3\xa4\x5e\x5f"); /* rep movsb; pop rsi; pop rdi */
	EB(e, "\xeb\x07");         /* jmp done (over the 7 bytes below) */
	patch_to_here(e, miss);
	EB(e, "\x5e\x5f"); /* pop rsi; pop rdi */
	e8(e, 0xe9);       /* jmp the interpreter */
	uint8_t **slot = &s.more_fix[s.nmore_fix++];
	*slot = e->p;
	e32(e, 0);
	s.done = e->p;
	c->slow[c->nslow++] = s;
	return true;
}

/* vmv.v.i vd, 0 or -1 (Linux fills the vector registers with ones when a syscall discards them):
 * vl elements of SEW bits, one rep stosb of their bytes, under vec_mem's conditions but the page. */
static bool emit_vec_splat(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	struct emit *e = &c->e;
	const uint32_t insn = (uint32_t)op->imm;
	const unsigned vd = RD(insn);
	unsigned sew_shift;
	if (!vec_group_ok(c, vd, 0, &sew_shift)) return false;
	struct slow_path s = interp_slow_path(c, op, pc, len, k);
	vec_config_check(c, &s);
	EB(e, "\x57"); /* push rdi: rep stosb's */
	e8(e, 0xbf);   /* mov edi, the registers */
	e32(e, e->hart + (uint32_t)offsetof(struct rv_hart, vreg) + vd * c->vlenb);
	vl_bytes_to_rcx(e, sew_shift);
	e8(e, 0xb8); /* mov eax, the byte */
	e32(e, RS1(insn) ? 0xff : 0);
	EB(e, "\xf3\xaa\x5f"); /* rep stosb; pop rdi */
	s.done = e->p;
	c->slow[c->nslow++] = s;
	return true;
}

static bool emit_vector(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k)
{
	if (!c->vlenb) return false;
	switch (vec_inline_kind((uint32_t)op->imm)) {
	case VEC_SET: return emit_vsetvl(c, op, pc, len, k);
	case VEC_MEM: return emit_vec_mem(c, op, pc, len, k);
	case VEC_SPLAT: return emit_vec_splat(c, op, pc, len, k);
	default: return false;
	}
}

/* Emits one instruction. Returns false if it ends the block (it emitted the exit). */
static bool emit_op(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, unsigned len,
                    int k, struct side_exit *side, unsigned *nside)
{
	struct emit *e = &c->e;
	int32_t imm = op->imm;
	switch ((enum op_kind)kind) { /* every kind of RV_FAST_OPS has its case: -Wswitch checks */
	case K_LUI:
	case K_AUIPC: {
		int d = dst_reg(c, op->rd, 0);
		mov_imm64(e, d, (kind == K_AUIPC ? pc : 0) + (uint64_t)(int64_t)imm);
		put_x(c, op->rd, d);
		return true;
	}
	case K_ADDI:
	case K_XORI:
	case K_ORI:
	case K_ANDI: {
		static const unsigned digit[] = {[K_ADDI] = 0, [K_XORI] = 6, [K_ORI] = 1, [K_ANDI] = 4};
		int d = dst_reg(c, op->rd, 0);
		if (op->rs1 == 0 && kind != K_ANDI) { /* li */
			mov_imm64(e, d, (uint64_t)(int64_t)imm);
			put_x(c, op->rd, d);
			return true;
		}
		if (kind == K_ADDI && d == RAX && c->host[op->rs1] >= 0) { /* rd in the hart, rs1 not */
			if (!imm) {
				set_x(c, op->rd, c->host[op->rs1]); /* mv: stored straight from there */
				return true;
			}
			lea_disp(e, RAX, c->host[op->rs1], imm);
		} else {
			get_x(c, d, op->rs1);
			if (imm || kind == K_ANDI) alu_imm(e, d, digit[kind], imm, true);
		}
		put_x(c, op->rd, d);
		return true;
	}
	case K_SLTI:
	case K_SLTIU:
		get_x(c, RAX, op->rs1);
		alu_imm(e, RAX, 7, imm, true);
		setcc_rax(e, kind == K_SLTI ? 0xc : 0x2);
		set_x(c, op->rd, RAX);
		return true;
	case K_SLLI:
		if (imm == 32 && op->rd && c->next && rv_op_kind(c->next) == K_SRLI &&
		    c->next->rs1 == op->rd && (c->next->rd == op->rd || op->rs1 != op->rd)) {
			c->zext_rs = op->rs1;
			c->zext_set = true;
			if (c->next->rd == op->rd) return true; /* the srli overwrites it */
		}
		/* fall through */
	case K_SRLI:
	case K_SRAI:
	case K_SLLIW:
	case K_SRLIW:
	case K_SRAIW: {
		if (kind == K_SRLI && c->zext_rs >= 0) { /* (x << 32) >> n from x's low half */
			int d = dst_reg(c, op->rd, 0);
			unsigned sh = (unsigned)imm & 63, rs = (unsigned)c->zext_rs;
			if (c->host[rs] >= 0)
				op_rr(e, 0x8b, d, c->host[rs], false); /* mov d32, x[rs] (zero-extends) */
			else
				op_rm_hart(e, 0x8b, d, xoff(rs), false);
			if (sh < 32) shift_imm(e, d, 4, 32 - sh, true);
			if (sh > 32) shift_imm(e, d, 5, sh - 32, true);
			put_x(c, op->rd, d);
			return true;
		}
		bool w = kind == K_SLLIW || kind == K_SRLIW || kind == K_SRAIW;
		unsigned n = (kind == K_SLLI || kind == K_SLLIW)   ? 4
		             : (kind == K_SRLI || kind == K_SRLIW) ? 5
		                                                   : 7;
		int d = dst_reg(c, op->rd, 0);
		get_x(c, d, op->rs1);
		shift_imm(e, d, n, (unsigned)imm & (w ? 31 : 63), !w);
		if (w && c->sext[k + (int)c->n]) movsxd(e, d);
		put_x(c, op->rd, d);
		return true;
	}
	case K_ADDIW: {
		int d = dst_reg(c, op->rd, 0);
		get_x(c, d, op->rs1);
		if (imm) alu_imm(e, d, 0, imm, false);
		if (c->sext[k + (int)c->n]) movsxd(e, d);
		put_x(c, op->rd, d);
		return true;
	}
	case K_ADD:
	case K_SUB:
	case K_AND:
	case K_OR:
	case K_XOR:
	case K_ADDW:
	case K_SUBW: {
		bool w = kind == K_ADDW || kind == K_SUBW;
		unsigned opc = (kind == K_ADD || kind == K_ADDW)   ? 0x03
		               : (kind == K_SUB || kind == K_SUBW) ? 0x2b
		               : kind == K_AND                     ? 0x23
		               : kind == K_OR                      ? 0x0b
		                                                   : 0x33;
		if (op->rs1 == 0 && (kind == K_ADD || kind == K_OR || kind == K_XOR)) { /* mv */
			int d = dst_reg(c, op->rd, 0);
			if (d == RAX && c->host[op->rs2] >= 0) {
				set_x(c, op->rd,
				      c->host[op->rs2]); /* to the hart straight from its host register */
				return true;
			}
			get_x(c, d, op->rs2);
			put_x(c, op->rd, d);
			return true;
		}
		int d = dst_reg(c, op->rd, op->rs2);
		get_x(c, d, op->rs1);
		alu_x(c, opc, d, op->rs2, !w);
		if (w && c->sext[k + (int)c->n]) movsxd(e, d);
		put_x(c, op->rd, d);
		return true;
	}
	case K_SLT:
	case K_SLTU:
		get_x(c, RAX, op->rs1);
		alu_x(c, 0x3b, RAX, op->rs2, true);
		setcc_rax(e, kind == K_SLT ? 0xc : 0x2);
		set_x(c, op->rd, RAX);
		return true;
	case K_SLL:
	case K_SRL:
	case K_SRA:
	case K_SLLW:
	case K_SRLW:
	case K_SRAW: {
		bool w = kind == K_SLLW || kind == K_SRLW || kind == K_SRAW;
		unsigned n = (kind == K_SLL || kind == K_SLLW)   ? 4
		             : (kind == K_SRL || kind == K_SRLW) ? 5
		                                                 : 7;
		get_x(c, RAX, op->rs1);
		get_x(c, RCX, op->rs2);
		shift_cl(e, RAX, n, !w); /* x86 masks the count like RISC-V: 63 (64-bit), 31 (32-bit) */
		if (w && c->sext[k + (int)c->n]) movsxd(e, RAX);
		set_x(c, op->rd, RAX);
		return true;
	}
	case K_MUL:
	case K_MULW: {
		int d = dst_reg(c, op->rd, op->rs2);
		get_x(c, d, op->rs1);
		alu_x(c, 0x0faf, d, op->rs2, kind == K_MUL); /* imul d, x[rs2] */
		if (kind == K_MULW && c->sext[k + (int)c->n]) movsxd(e, d);
		put_x(c, op->rd, d);
		return true;
	}
	case K_ZB:
		emit_zb_rax(c, op);
		set_x(c, op->rd, RAX);
		return true;
	case K_MULH:
	case K_MULHU: emit_mul_high(c, op, kind == K_MULH); return true;
	case K_MULHSU: binop_helper(c, op, h_mulhsu); return true;
	case K_DIV: binop_helper(c, op, h_div); return true;
	case K_DIVU: binop_helper(c, op, h_divu); return true;
	case K_REM: binop_helper(c, op, h_rem); return true;
	case K_REMU: binop_helper(c, op, h_remu); return true;
	case K_DIVW: binop_helper(c, op, h_divw); return true;
	case K_DIVUW: binop_helper(c, op, h_divuw); return true;
	case K_REMW: binop_helper(c, op, h_remw); return true;
	case K_REMUW: binop_helper(c, op, h_remuw); return true;
	case K_LB:
	case K_LH:
	case K_LW:
	case K_LD:
	case K_LBU:
	case K_LHU:
	case K_LWU: emit_load(c, op, kind, pc, k); return true;
	case K_SB:
	case K_SH:
	case K_SW:
	case K_SD: emit_store(c, op, kind, pc, k); return true;
	case K_JAL: {
		int i = k + (int)c->n, t = c->target[i];
		if (op->rd % 32) { /* x0 arrives as 32 */
			mov_imm64(e, RAX, pc + len);
			set_x(c, op->rd, RAX);
		}
		if (t > i) { /* forward in the block */
			c->in_dirty[t] |= c->dirty;
			if (t - i > 1) budget_add(e, (int8_t)(t - i - 1));
			e8(e, 0xe9);
			c->fwd[c->nfwd++] = (struct fwd_jump){e->p, t};
			e32(e, 0);
			return false;
		}
		exit_to(c, pc + (uint64_t)(int64_t)imm, c->dirty, t, -k - 1);
		return false;
	}
	case K_JALR:
		get_x(c, RAX, op->rs1);
		alu_imm(e, RAX, 0, imm, true);
		EB(e, "\x48\x83\xe0\xfe"); /* and rax, -2 */
		if (op->rd % 32) {
			mov_imm64(e, RCX, pc + len);
			set_x(c, op->rd, RCX);
		}
		if (-k - 1) budget_add(e, (int8_t)(-k - 1));
		store_local(c, c->dirty);
		unborrow_pinned(c);
		exit_indirect(e);
		return false;
	case K_BEQ:
	case K_BNE:
	case K_BLT:
	case K_BGE:
	case K_BLTU:
	case K_BGEU: {
		static const uint8_t cc[] = {[K_BEQ] = 0x4, [K_BNE] = 0x5,  [K_BLT] = 0xc,
		                             [K_BGE] = 0xd, [K_BLTU] = 0x2, [K_BGEU] = 0x3};
		int a = c->host[op->rs1] >= 0 ? c->host[op->rs1]
		                              : RAX; /* cmp x[rs1], x[rs2]: fused with the jcc */
		get_x(c, a, op->rs1);
		if (op->rs2 == 0)
			op_rr(e, 0x85, a, a,
			      true); /* test a, a: the flags of cmp a, 0 (beqz, bnez, bltz, bgez) */
		else
			alu_x(c, 0x3b, a, op->rs2, true);
		e8(e, 0x0f);
		e8(e, (uint8_t)(0x80 | cc[kind])); /* jcc taken: a side exit; the block goes on not taken */
		struct side_exit *s = &side[(*nside)++];
		s->fix = e->p;
		e32(e, 0);
		s->target = pc + (uint64_t)(int64_t)imm;
		s->refund = -k - 1; /* k is the index minus the block's length: -k - 1 instructions follow */
		s->dirty = c->dirty;
		s->inside = c->target[k + (int)c->n];
		if (s->inside > k + (int)c->n) c->in_dirty[s->inside] |= c->dirty; /* a forward jump */
		return true;
	}
	case K_GENERIC:
		if (fp_mem_kind((uint32_t)imm) >= 0)
			emit_fp_mem(c, op, pc, len, k);
		else if (!emit_fp_arith(c, op, pc, len, k) && !emit_misc(c, op, pc, len, k) &&
		         !emit_vector(c, op, pc, len, k))
			emit_generic(c, op, pc, len, k, side, nside);
		return true;
	case K_DECODE:
	case K_SLOW:
	case K_COUNT: break; /* not reached: the caller only passes translatable kinds */
	}
	return true;
}

static bool translatable(unsigned kind)
{
	return kind >= K_LUI && kind < K_COUNT;
}

/* Conditional branches do not end a block: taken, they leave it by a side exit. */
static bool ends_block(unsigned kind)
{
	return kind == K_JAL || kind == K_JALR;
}

bool rv_jit_available(void)
{
	return true;
}

bool rv_jit_init(struct rv_hart *h)
{
	/* Translated code addresses the hart with absolute 32-bit displacements. */
	if ((uintptr_t)h + sizeof(*h) > INT32_MAX) return false;
	__builtin_cpu_init();
	host_fma = __builtin_cpu_supports("fma");
	struct rv_jit *j = calloc(1, sizeof(*j));
	if (!j) return false;
	const char *env = getenv("CLOISON_JIT_CACHE_MB");
	const int mb = env ? atoi(env) : 0;
	j->code_bytes = mb >= 1 && mb <= 1024 ? (size_t)mb << 20 : JIT_CODE_BYTES;
	j->buf = mmap(NULL, j->code_bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->buf == MAP_FAILED) {
		free(j);
		return false;
	}
	struct emit e = {.p = j->buf, .exit = j->buf, .hart = (uint32_t)(uintptr_t)h};
	emit_common_exit(&e);
	for (unsigned kind = 0; kind < K_COUNT; kind++) {
		const void *helper =
		    kind < sizeof(load_helpers) / sizeof(load_helpers[0]) && load_helpers[kind]
		        ? load_helpers[kind]
		    : kind < sizeof(store_helpers) / sizeof(store_helpers[0]) ? store_helpers[kind]
		                                                              : NULL;
		if (helper) j->thunk[kind] = emit_thunk(&e, helper);
	}
	j->exit_bytes = j->used = (size_t)(e.p - j->buf + 15) & ~(size_t)15;
	h->jit = j;
	return true;
}

void rv_jit_free(struct rv_hart *h)
{
	struct rv_jit *j = h->jit;
	if (!j) return;
	munmap(j->buf, j->code_bytes);
	free(j->blocks);
	free(j);
	h->jit = NULL;
}

/* Drops every block (the code buffer is full); slots find out lazily, jumps cached by address now.
 * The exit the dispatcher may still chain (the last block's, while it interprets on towards that
 * exit's target) lay in the dropped code: forgotten, or its patch would land in new code. */
static void jit_reset(struct rv_hart *h, struct rv_jit *j)
{
	rv_jcache_flush(h);
	h->jit_patch_site = NULL;
	j->used = j->exit_bytes;
	j->nblocks = 0;
	memset(j->by_place, 0, sizeof(j->by_place));
}

/*
 * With CLOISON_PERF_MAP set, each block is named in /tmp/perf-PID.map (the
 * format Linux perf reads for JIT code): `perf report` then shows the guest pc
 * of the blocks where time goes. A full code cache reuses addresses, so a
 * profile is clearest when it ends before the first flush (--stats counts).
 * Set to a directory (an absolute path), it also writes each block's code
 * there as guest_<pc>.bin, for `objdump -D -b binary -mi386:x86-64`.
 */
static FILE *perf_map;
static const char *perf_code_dir; /* CLOISON_PERF_MAP when it names a directory, or NULL */
static void perf_map_open(void)
{
	const char *env = getenv("CLOISON_PERF_MAP");
	if (!env) return;
	if (env[0] == '/') perf_code_dir = env;
	char name[64];
	snprintf(name, sizeof(name), "/tmp/perf-%d.map", (int)getpid());
	perf_map = fopen(name, "w");
}
static void perf_map_note(const uint8_t *code, size_t size, uint64_t pc)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, perf_map_open);
	if (!perf_map) return;
	fprintf(perf_map, "%" PRIxPTR " %zx guest_%" PRIx64 "\n", (uintptr_t)code, size, pc); /* FILE locks */
	fflush(perf_map);
	if (!perf_code_dir) return;
	char name[4096];
	snprintf(name, sizeof(name), "%s/guest_%" PRIx64 ".bin", perf_code_dir,
	         pc); /* the code itself, for objdump */
	FILE *f = fopen(name, "w");
	if (!f) return;
	fwrite(code, 1, size, f);
	fclose(f);
}

/* The guest registers an instruction reads and writes (bit per register; x0 never). */
static void op_regs(const struct rv_op *op, unsigned kind, uint32_t *reads, uint32_t *writes)
{
	uint32_t r1 = 1u << (op->rs1 & 31), r2 = 1u << (op->rs2 & 31), w = op->rd < 32 ? 1u << op->rd : 0;
	switch ((enum op_kind)kind) {
	case K_LUI:
	case K_AUIPC:
	case K_JAL: *reads = 0, *writes = w; break;
	case K_BEQ:
	case K_BNE:
	case K_BLT:
	case K_BGE:
	case K_BLTU:
	case K_BGEU:
	case K_SB:
	case K_SH:
	case K_SW:
	case K_SD: *reads = r1 | r2, *writes = 0; break;
	case K_JALR:
	case K_LB:
	case K_LH:
	case K_LW:
	case K_LD:
	case K_LBU:
	case K_LHU:
	case K_LWU:
	case K_ADDI:
	case K_SLTI:
	case K_SLTIU:
	case K_XORI:
	case K_ORI:
	case K_ANDI:
	case K_SLLI:
	case K_SRLI:
	case K_SRAI:
	case K_ADDIW:
	case K_SLLIW:
	case K_SRLIW:
	case K_SRAIW: *reads = r1, *writes = w; break;
	case K_ZB: *reads = r1 | (op->imm & RV_ZB_IMM_FORM ? 0 : r2), *writes = w; break;
	case K_GENERIC: /* works on the hart, except FP loads and stores (their address) and translated FP */
		if (fp_mem_kind((uint32_t)op->imm) >= 0)
			*reads = 1u << RS1((uint32_t)op->imm), *writes = 0;
		else if (misc_inline_kind((uint32_t)op->imm) != MISC_NONE)
			misc_inline_regs((uint32_t)op->imm, reads, writes);
		else if (vec_inline_kind((uint32_t)op->imm) != VEC_NONE)
			vec_inline_regs((uint32_t)op->imm, reads, writes);
		else
			fp_inline_regs((uint32_t)op->imm, reads, writes);
		break;
	case K_DECODE:
	case K_SLOW:
	case K_COUNT: *reads = *writes = 0; break;
	default: *reads = r1 | r2, *writes = w; break; /* register-register */
	}
	*reads &= ~1u;
	*writes &= ~1u;
}

_Static_assert(JIT_PROBE_MAX_OPS >= JIT_MAX_OPS, "a probe plan covers a block");

/* Which accesses of the block share a TLB probe (jit_probe.h); runs (mem_group) probe on their own. */
static void plan_probes(struct block_ctx *c, const struct rv_op *ops, unsigned n, const bool *jumped_to)
{
	uint8_t size[JIT_MAX_OPS];
	bool store[JIT_MAX_OPS], skip[JIT_MAX_OPS] = {false};
	uint32_t writes[JIT_MAX_OPS], reads;
	for (unsigned i = 0; i < n; i++) {
		unsigned kind = rv_op_kind(&ops[i]);
		op_regs(&ops[i], kind, &reads, &writes[i]);
		size[i] = (uint8_t)access_size(kind);
		store[i] = is_store(kind);
	}
	for (unsigned i = 0; i < n; i++) {
		int32_t lo, hi;
		unsigned m = mem_group(ops, jumped_to, i, n, &lo, &hi);
		for (unsigned j = 0; m > 1 && j < m; j++) skip[i + j] = true;
		i += m - 1;
	}
	jit_plan_probes(&c->probes, ops, n, size, store, writes, jumped_to, skip);
}

/*
 * Which W instructions' results need their sign extension: those whose upper
 * 32 bits something may read before the register is written again. Going
 * back from the block's end (where every register is read), an instruction
 * whose result's low half depends only on its operands' low halves (W
 * instructions, add, sub, logic, left shifts, mul) passes the demand for the
 * upper bits of its result on to its operands, and W instructions stop it;
 * anything else that reads or may leave, call or fault asks for every
 * register whole. sext[i] says whether the result of instruction i is read whole.
 */
static void upper_read(const struct rv_op *ops, unsigned n, bool *sext)
{
	uint32_t demand = ~0u; /* registers whose upper halves a later instruction may read */
	for (int i = (int)n - 1; i >= 0; i--) {
		const struct rv_op *op = &ops[i];
		const uint32_t rd = op->rd < 32 ? 1u << op->rd : 0, r1 = 1u << (op->rs1 & 31),
		               r2 = 1u << (op->rs2 & 31);
		const bool hi = (demand & rd) != 0;
		sext[i] = hi;
		switch ((enum op_kind)rv_op_kind(op)) {
		case K_LUI:
		case K_AUIPC: demand &= ~rd; break;
		case K_ADDIW:
		case K_SLLIW:
		case K_SRLIW:
		case K_SRAIW:
		case K_ADDW:
		case K_SUBW:
		case K_SLLW:
		case K_SRLW:
		case K_SRAW:
		case K_MULW: demand &= ~rd; break; /* they read their operands' low halves */
		case K_ADDI:
		case K_XORI:
		case K_ORI:
		case K_ANDI: demand = (demand & ~rd) | (hi ? r1 : 0); break;
		case K_SLLI: demand = (demand & ~rd) | (hi && (op->imm & 63) < 32 ? r1 : 0); break;
		case K_SLL: demand = (demand & ~rd) | (hi ? r1 : 0); break; /* the count: 6 low bits */
		case K_ADD:
		case K_SUB:
		case K_AND:
		case K_OR:
		case K_XOR:
		case K_MUL: demand = (demand & ~rd) | (hi ? r1 | r2 : 0); break;
		case K_SRLI:
		case K_SRAI:
		case K_SLTI:
		case K_SLTIU: demand = (demand & ~rd) | r1; break;
		case K_SRL:
		case K_SRA: demand = (demand & ~rd) | r1; break;
		case K_SLT:
		case K_SLTU: demand = (demand & ~rd) | r1 | r2; break;
		default: /* reads whole, or leaves, calls or faults: the hart must be exact there */
			sext[i] = true;
			demand = ~0u;
			break;
		}
	}
}

/*
 * Host registers for the block's guest registers: the pinned ones, then the
 * local registers to those used most (three times at least) among the others,
 * a use counting four times more for each jump back (c->target) over it: the
 * innermost, hottest loop first.
 * Returns the local registers read before they are written (loaded at the
 * start); *written gets those the block writes.
 */
static uint32_t allocate(struct block_ctx *c, const struct rv_op *ops, unsigned n, uint32_t *written)
{
	unsigned weight[JIT_MAX_OPS];
	for (unsigned i = 0; i < n; i++) weight[i] = 1;
	for (unsigned i = 0; i < n; i++)
		for (int t = c->target[i]; t >= 0 && t <= (int)i; t++) weight[t] += 4; /* i jumps back to t */
	memset(c->host, -1, sizeof(c->host));
	uint32_t pinned = 0;
	for (unsigned i = 0; i < JIT_NPINNED_X; i++) {
		c->host[pinned_guest[i]] = (int8_t)pinned_host[i];
		pinned |= 1u << pinned_guest[i];
	}
	unsigned uses[32] = {0};
	uint32_t live_in = 0, seen_write = 0, all_writes = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t rd, wr;
		op_regs(&ops[i], rv_op_kind(&ops[i]), &rd, &wr);
		live_in |= rd & ~seen_write;
		seen_write |= wr;
		all_writes |= wr;
		for (unsigned r = 1; r < 32; r++) uses[r] += (((rd >> r) & 1) + ((wr >> r) & 1)) * weight[i];
	}
	c->local = 0;
	for (unsigned k = 0; k < JIT_NLOCAL; k++) {
		unsigned best = 0;
		for (unsigned r = 1; r < 32; r++)
			if (!((pinned | c->local) & (1u << r)) && uses[r] > uses[best]) best = r;
		if (uses[best] < 3) break;
		c->host[best] = (int8_t)local_host[k];
		c->local |= 1u << best;
	}
	/* Then the pinned registers whose guest registers the block never names, to the next ones
	 * used often enough to pay for a store at entry and a load at each exit. */
	c->borrowed = 0;
	for (unsigned i = 0; i < JIT_NPINNED_X; i++) {
		if (uses[pinned_guest[i]]) continue;
		unsigned best = 0;
		for (unsigned r = 1; r < 32; r++)
			if (!((pinned | c->local) & (1u << r)) && uses[r] > uses[best]) best = r;
		if (uses[best] < JIT_BORROW_USES) break;
		c->host[pinned_guest[i]] = -1;
		c->host[best] = (int8_t)pinned_host[i];
		c->local |= 1u << best;
		c->borrowed |= 1u << i;
	}
	*written = all_writes & c->local;
	return live_in & c->local;
}

uint32_t rv_jit_compile(struct rv_hart *h, const struct rv_op *head, const uint8_t *host, uint64_t pc)
{
	struct rv_jit *j = h->jit;
	if (!j) return RV_JIT_NEVER;
	if (j->used + JIT_MAX_BLOCK_BYTES > j->code_bytes) {
		jit_reset(h, j);
		h->stats.code_flushes++;
	}
	/* Memory for the code ahead, a MiB at a time: one call instead of a page fault per page
	 * (expensive where cloison itself runs virtualized). */
	if (j->used + JIT_MAX_BLOCK_BYTES > j->populated) {
		size_t chunk = (size_t)1 << 20;
		if (j->populated + chunk > j->code_bytes) chunk = j->code_bytes - j->populated;
		(void)madvise(j->buf + j->populated, chunk, MADV_POPULATE_WRITE);
		j->populated += chunk;
	}
	if (j->nblocks == j->cap) {
		uint32_t cap = j->cap ? j->cap * 2 : 4096;
		struct jit_block *nb = realloc(j->blocks, cap * sizeof(*nb));
		if (!nb) return RV_JIT_NEVER;
		j->blocks = nb;
		j->cap = cap;
	}

	/* Decode the run first: validation code and register allocation need every instruction. */
	struct rv_op ops[JIT_MAX_OPS];
	unsigned lens[JIT_MAX_OPS], offs[JIT_MAX_OPS], n = 0;
	unsigned off = (unsigned)(pc & (RV_PAGE_SIZE - 1));
	while (n < JIT_MAX_OPS && off < RV_PAGE_SIZE) {
		uint32_t w = 0; /* the page's last halfword alone if that is all there is */
		memcpy(&w, host + (off - (pc & (RV_PAGE_SIZE - 1))), RV_PAGE_SIZE - off < 4 ? 2 : 4);
		struct rv_op op;
		rv_decode_op(&op, w, off, h->ext);
		unsigned kind = rv_op_kind(&op);
		if (!translatable(kind) && !(kind == K_GENERIC && rv_jit_generic_ok((uint32_t)op.imm))) break;
		if (off + rv_op_len(&op) > RV_PAGE_SIZE) break;
		ops[n] = op;
		offs[n] = off;
		lens[n] = rv_op_len(&op);
		off += lens[n];
		n++;
	}
	if (n == 0) return RV_JIT_NEVER;

	struct block_ctx ctx = {.e = {.p = j->buf + j->used, .exit = j->buf, .hart = (uint32_t)(uintptr_t)h},
	                        .thunk = j->thunk,
	                        .count_tlb = h->count_tlb,
	                        .user = user_mode(h),
	                        .zicboz = RV_HAS(h->ext, ZICBOZ),
	                        .vlenb = RV_HAS(h->ext, V) ? h->vlenb : 0,
	                        .vtype = -1,
	                        .page = pc & RV_PAGE_MASK},
	                 *c = &ctx;
	/* Jumps and branches to an instruction of the block stay in it. */
	bool inner_jumps = false, back_to[JIT_MAX_OPS] = {false};
	for (unsigned i = 0; i < n; i++) {
		c->target[i] = -1;
		unsigned kind = rv_op_kind(&ops[i]);
		if (kind != K_JAL && !(kind >= K_BEQ && kind <= K_BGEU)) continue;
		uint64_t to = c->page + offs[i] + (uint64_t)(int64_t)ops[i].imm;
		for (unsigned t = 0; t < n && (to & RV_PAGE_MASK) == c->page; t++)
			if (offs[t] == (to & (RV_PAGE_SIZE - 1))) {
				c->target[i] = (int8_t)t;
				inner_jumps = true;
				if (t <= i) back_to[t] = true;
			}
	}
	/* The block goes on past a jump only while a jump in it leads further. */
	for (int i = 0, furthest = 0; i < (int)n; i++) {
		if (c->target[i] > furthest) furthest = c->target[i];
		if (ends_block(rv_op_kind(&ops[i])) && furthest <= i) {
			n = (unsigned)i + 1;
			break;
		}
	}

	struct emit *e = &c->e;
	/* The fence.i epoch in which the block last found its guest code unchanged. */
	uint8_t *checked = e->p;
	e64(e, h->jit_epoch);
	uint8_t *code = e->p;
	emit_prologue(e);
	op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, jit_epoch), true);
	EB(e, "\x48\x3b\x05"); /* cmp rax, [rip + checked] */
	e32(e, (uint32_t)(int32_t)(checked - (e->p + 4)));
	EB(e, "\x0f\x85"); /* jne check */
	uint8_t *check_fix = e->p;
	e32(e, 0);
	uint8_t *body = e->p;
	/* Charge the budget for the whole block (side exits give back what they skip). */
	EB(e, "\x48\x83\xeb"); /* sub rbx, n: the budget */
	e8(e, (uint8_t)n);
	/* With jumps inside the block, a register's host register must hold its value on every path:
	 * all are loaded. After a jump back, what the last pass wrote may be only in host registers. */
	uint32_t written_anywhere, live_in = allocate(c, ops, n, &written_anywhere);
	borrow_pinned(c);
	load_local(c, inner_jumps ? c->local : live_in);
	for (unsigned i = 0; i < n; i++) c->in_dirty[i] = back_to[i] ? written_anywhere : 0;
	c->start = pc;
	c->n = n;
	upper_read(ops, n, c->sext);
	c->dirty = 0;

	struct side_exit side[JIT_MAX_OPS];
	unsigned nside = 0;
	bool open = true, jumped_to[JIT_MAX_OPS] = {false};
	for (unsigned i = 0; i < n; i++)
		if (c->target[i] >= 0) jumped_to[c->target[i]] = true;
	plan_probes(c, ops, n, jumped_to);
	uint64_t ipc = pc;
	c->zext_rs = -1;
	for (unsigned i = 0; i < n; i++) {
		c->label[i] = e->p;
		if (!open) c->dirty = 0; /* after a jump: reached only by jumps */
		c->dirty |= c->in_dirty[i];
		if (jumped_to[i]) {
			c->zext_rs = -1;
			fp_forget(c);
		}
		c->next = i + 1 < n && !jumped_to[i + 1] ? &ops[i + 1] : NULL;
		c->zext_set = false;
		int32_t lo, hi;
		unsigned m = mem_group(ops, jumped_to, i, n, &lo, &hi);
		if (m > 1) {
			emit_mem_group(c, &ops[i], &lens[i], m, lo, hi, ipc, (int)i - (int)n);
			for (unsigned g = 1; g < m; g++) {
				ipc += lens[i];
				c->label[++i] = e->p; /* not a jump target (mem_group) */
			}
			c->zext_rs = -1;
			ipc += lens[i];
			open = true;
			continue;
		}
		open = emit_op(c, &ops[i], rv_op_kind(&ops[i]), ipc, lens[i], (int)i - (int)n, side, &nside);
		if (!c->zext_set) c->zext_rs = -1;
		ipc += lens[i];
	}
	if (open) exit_to(c, ipc, c->dirty, -1, 0);
	for (unsigned i = 0; i < c->nfwd; i++) {
		uint32_t rel = (uint32_t)(c->label[c->fwd[i].to] - (c->fwd[i].fix + 4));
		memcpy(c->fwd[i].fix, &rel, 4);
	}
	for (unsigned i = 0; i < c->nslow; i++) emit_slow_path(c, &c->slow[i]);
	for (unsigned i = 0; i < nside; i++) {
		patch_to_here(e, side[i].fix);
		int from = (int)n - 1 - side[i].refund, to = side[i].inside;
		if (to > from) { /* forward in the block: give back what it skips and go on there */
			if (to - from > 1) budget_add(e, (int8_t)(to - from - 1));
			e8(e, 0xe9);
			e32(e, (uint32_t)(int32_t)(c->label[to] - (e->p + 4)));
			continue;
		}
		if (side[i].target) {
			exit_to(c, side[i].target, side[i].dirty, to, side[i].refund);
		} else {
			if (side[i].refund) budget_add(e, (int8_t)side[i].refund);
			unborrow_pinned(c);
			op_rm_hart(e, 0x8b, RAX, (uint32_t)offsetof(struct rv_hart, pc), true);
			epilogue(e);
		}
	}
	/* First entry after a fence.i: compare every instruction with guest memory. */
	patch_to_here(e, check_fix);
	mov_imm64(e, RSI, (uint64_t)(uintptr_t)host - (pc & (RV_PAGE_SIZE - 1)));
	uint8_t *bail_fix[JIT_MAX_OPS];
	for (unsigned i = 0; i < n; i++) {
		if (lens[i] == 4) {
			EB(e, "\x81\xbe");
			e32(e, offs[i]);
			e32(e, ops[i].raw);
		} else {
			EB(e, "\x66\x81\xbe");
			e32(e, offs[i]);
			uint16_t r16 = (uint16_t)ops[i].raw;
			memcpy(e->p, &r16, 2);
			e->p += 2;
		}
		EB(e, "\x0f\x85"); /* jne bail */
		bail_fix[i] = e->p;
		e32(e, 0);
	}
	EB(e, "\x48\x89\x05"); /* mov [rip + checked], rax */
	e32(e, (uint32_t)(int32_t)(checked - (e->p + 4)));
	e8(e, 0xe9); /* jmp body */
	e32(e, (uint32_t)(int32_t)(body - (e->p + 4)));
	uint8_t *bail = e->p; /* the code changed: hand back this block's pc, marked, uncharged */
	return_pc(e, pc | 1);
	for (unsigned i = 0; i < n; i++) {
		uint32_t rel = (uint32_t)(bail - (bail_fix[i] + 4));
		memcpy(bail_fix[i], &rel, 4);
	}
	j->used = (size_t)(e->p - j->buf + 15) & ~(size_t)15;

	struct jit_block *b = &j->blocks[j->nblocks];
	b->head = head;
	b->pc = pc | c->user;
	b->code = code;
	h->stats.blocks++;
	perf_map_note(code, (size_t)(e->p - code), pc);
	uint32_t id = RV_JIT_FIRST_BLOCK + j->nblocks++;
	j->by_place[place_hash(head, pc)] = id;
	return id;
}

static bool block_is(const struct rv_jit *j, uint32_t id, const struct rv_op *head, uint64_t pc)
{
	uint32_t i = id - RV_JIT_FIRST_BLOCK;
	return id >= RV_JIT_FIRST_BLOCK && i < j->nblocks && j->blocks[i].head == head &&
	       j->blocks[i].pc == pc;
}

void *rv_jit_lookup(struct rv_hart *h, uint32_t *id, const struct rv_op *head, uint64_t pc)
{
	struct rv_jit *j = h->jit;
	if (!j) return NULL;
	const uint64_t key = pc | user_mode(h); /* as jit_block.pc holds it */
	if (!block_is(j, *id, head, key)) {
		uint32_t other = j->by_place[place_hash(head, pc)];
		if (!block_is(j, other, head, key)) return NULL;
		*id = other;
	}
	return j->blocks[*id - RV_JIT_FIRST_BLOCK].code;
}
