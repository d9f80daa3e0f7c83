/*
 * jit_x86.h — what the x86-64 translator's parts share: the block being
 * translated (struct block_ctx), its out-of-line paths and side exits, the
 * host registers guest registers live in, and each part's entry points.
 */
#ifndef CLOISON_RV_JIT_X86_H
#define CLOISON_RV_JIT_X86_H

#include "decode.h"
#include "internal.h"
#include "isa.h"
#include "jit.h"
#include "jit_loops.h"
#include "jit_probe.h"
#include "jit_x86_emit.h"

#define JIT_MAIN_OPS 64  /* a block's main path: its first instructions, in the order of the page */
#define JIT_LOOP_OPS 104 /* ... more while a jump back into those first ones lies further on */
#define JIT_MAX_OPS 120  /* ... and the tails after it (rv_jit_compile; below 128: int8_t indexes) */
#define JIT_HINT_MAX 64  /* the longest probe a load's page hint replaces */
/* Host registers pinned to guest registers while translated code runs (jit_x86_regs.c). */
#define JIT_NPINNED 8
#define JIT_NPINNED_X 7 /* the guest registers among them; the last holds the run budget */

/* Where an inline TLB lookup's table-dependent parts lie (emit_tlb_lookup), so that it can be
 * turned to the 2 MiB table and back while it runs (jit_x86_mem.c, "probe sites"). */
struct probe_patch {
	uint8_t *shr;       /* the slot's shift imm8 and ... */
	uint8_t *slot;      /* ... the mask's imm32 after it; or NULL where */
	uint8_t *bextr;     /* a U-mode bextr by the budget register's low bits (5 bytes) finds the slot */
	int src;            /* ... from this host register (neither: no lookup yet) */
	uint8_t *page_mask; /* the page mask's imm32 */
	uint8_t *cmp, *mov; /* the tag table's and the addend table's disp32s */
	uint32_t table;     /* the 4 KiB table it was emitted for */
	uint8_t *lea_at;    /* a slot from the base (emit_access_probe): the nops a lea may replace */
	int base;           /* ... that base's host register, */
	int32_t near, far;  /* ... the end the lea would add (the slot's) and the one the tag is
	                     * compared with */
};

/* A load or store's way out of line when the TLB probe misses: the helper. */
struct side_exit;
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
	struct side_exit *exit;    /* a compare pair's first load: the helper's load, then out by this exit */
	const struct rv_op *group; /* K_DECODE: a group's accesses (mem_group), each probed alone */
	const unsigned *glens;     /* ... their lengths */
	unsigned ngroup;
	struct probe_patch site; /* the access's own inline probe, which its miss path may re-aim */
	int hint_slot;           /* a hinted load: its rv_hart.jit_hints slot */
	/* A hinted load (jit_x86_mem.c): its main path's probe, replaced by the hinted one. */
	uint8_t *hint_at;              /* the probe's start, or NULL */
	uint8_t *hint_wrong;           /* the hinted probe's jne rel32 (a wrong hint) */
	unsigned hint_runs;            /* its run counter's offset from hint_at */
	unsigned probe_len, probe_fix; /* the replaced probe's length and its jne rel32's offset */
	uint8_t probe[JIT_HINT_MAX];   /* ... and its bytes */
};

struct block_ctx {
	struct emit e;
	uint8_t *const *thunk;       /* the code cache's load and store thunks, by kind */
	uint8_t *const *mega_slot;   /* its 2 MiB slot thunks, by source register (emit_mega_slots) */
	unsigned nslow;              /* slow[]'s entries (below) */
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
	 * load's address chain), next to it or a few register operations further (plan_zext): the srli
	 * starts again from the slli's source, so the pair costs one shift of latency, not two; the
	 * slli vanishes when the srli overwrites its result. */
	const struct rv_op *next;    /* the instruction after this one when no jump leads there, or NULL */
	int8_t zext_rs[JIT_MAX_OPS]; /* for such an srli: the slli's source register, else -1 */
	bool zext_gone[JIT_MAX_OPS]; /* such an slli that vanishes */
	/* A rotate by a constant as gcc writes it without Zbb (plan_rotate): shifts of x left and right
	 * whose only reader is an or, one host rotate at the or, the shifts vanishing. */
	int8_t rot_src[JIT_MAX_OPS];  /* for such an or: x, else -1 */
	uint8_t rot_ror[JIT_MAX_OPS]; /* ... the right rotate's count, | ROT_W for a 32-bit rotate */
	bool rot_gone[JIT_MAX_OPS];   /* such a shift */
	/* A compare pair (plan_pairs): a load, a bne of it to T, a load through the same base and
	 * probe group, a bne of that one to T: one branch for both, taken when either differs (a match
	 * finder's `m[len] != end || m[len - 1] != end1`: the first compare, data-dependent,
	 * mispredicts whenever its bytes agree). */
	bool pair[JIT_MAX_OPS]; /* the pair's first load */
	/* Guest registers whose host register holds zeros above its low half, left there by a 32-bit
	 * operation whose result's upper half nothing reads (upper_read): such an srli of one into
	 * itself needs no zero-extension. Cleared by any other write, at joins and at code that may
	 * change registers behind the writes' backs. */
	uint32_t upper_zero;
	/* An slli by 1-3, or gcc's zero-extension scaled by 2-8 (slli 32, srli 29-31), whose result the
	 * next instruction, an add, takes: the add is an lea from the shift's source, so it does not
	 * wait for the shift, and the shift vanishes when the add overwrites its result. */
	int scaled_rs; /* x[scaled_rd] is x[scaled_rs] << scaled_sh for that add, or -1 */
	unsigned scaled_rd, scaled_sh;
	bool scaled_set; /* the instruction just emitted set scaled_rs */
	/* A register kept in the hart that was just stored there from a host register: a read of it
	 * that comes next (no code in between, no jump to there) takes that host register instead of
	 * waiting for the store to forward. */
	const uint8_t *stored_at; /* the code just after that store, or NULL */
	unsigned stored_x;        /* the guest register stored */
	int stored_from;          /* the host register it came from */
	/* A branch right after a branch comparing the same registers (no code in between, no jump to
	 * the second): the flags still hold the compare (gcc's beq a, b then bltu a, b). */
	const uint8_t *flags_at;       /* the code just after a branch, or NULL */
	unsigned flags_rs1, flags_rs2; /* ... the flags being those of x[flags_rs1] - x[flags_rs2] */
	/* A branch comparing with zero right after an add, sub or logic operation on its register (no
	 * code in between, no jump to the branch): that operation's ZF and SF are the compare's (a W
	 * one's too: its sign-extended result is zero, or negative, when its low half is). */
	const uint8_t *zero_at; /* the code just after that operation, or NULL */
	unsigned zero_x;        /* ... the guest register it wrote */
	/* A forward branch's lea charging back the budget it gave, right before the next one's lea
	 * giving some: the two become one (or none). */
	const uint8_t *lea_at;    /* the code just after that lea, or NULL */
	int lea_imm;              /* ... what it added */
	int8_t owed[JIT_MAX_OPS]; /* budget charged for instructions not run yet, as instruction i starts
	                           * (plan_budget) */
	uint64_t start;           /* the block's guest pc */
	uint32_t local;           /* guest registers in local host registers (bit per register) */
	uint32_t borrowed;        /* pinned registers lent to local ones (bit per index in pinned_host) */
	uint32_t dirty;           /* ... written since the hart last had them */
	/* Translated FP (emit_fp_arith): what this path checked since the last join or call. */
	bool fp_ok;        /* mstatus.FS dirty (after an interpreted FP instruction: also vsstatus.FS if
	                    * V=1) and fp_pending set, on every path to here */
	uint32_t fp_boxed; /* f registers known to hold NaN-boxed singles */
	struct jit_probe_plan probes; /* loads and stores sharing a TLB probe */
	struct probe_patch lookup;    /* the last inline TLB lookup emitted */
	/* The block's control flow: what may run right after each instruction (at most two; the main
	 * path's end and jumps out of the block lead nowhere in it), and the loops it makes. */
	uint8_t succ[JIT_MAX_OPS][2], nsucc[JIT_MAX_OPS];
	struct jit_loops loops;
	bool chained[JIT_MAX_OPS]; /* a load whose address comes from a load (plan_hints) */
	bool out_of_line;          /* emitting the slow paths: no page hints there */
	uint8_t *straddle_fix[2];  /* the checks of a last instruction running onto the next page */
	uint32_t straddle_dirty;   /* ... and the local registers not yet stored back there */
	/* Last: a new block's context is zeroed only up to here (rv_jit_compile), each entry being
	 * written whole as it comes. */
	struct slow_path slow[2 * JIT_MAX_OPS + 1];
};

_Static_assert(JIT_MAX_OPS <= JIT_LOOPS_MAX_OPS, "jit_loops.h holds a block");
_Static_assert(JIT_MAX_OPS <= 127, "owed[] holds a block's length");
/* The budget charged ahead of instruction k (k counts from -n): what an exit there gives back, and
 * what is charged but not run once it has run and falls through. */
static inline int owed_at(const struct block_ctx *c, int k)
{
	return c->owed[k + (int)c->n];
}
static inline int owed_after(const struct block_ctx *c, int k)
{
	return owed_at(c, k) - 1;
}

/* A taken conditional branch leaves the block through a stub emitted after it. */
struct side_exit {
	uint8_t *fix;    /* the jcc's rel32 */
	uint64_t target; /* guest pc; 0: the pc exec.c left in the hart (after rv_jit_exec_generic) */
	int refund;      /* budget charged ahead for instructions the exit skips (owed_after) */
	uint32_t dirty;  /* local registers to store back on the way out */
	int inside;      /* a loop's branch back (loop_back), the budget spent: its target in the block;
	                  * else -1 (branches forward in the block jump there straight) */
	bool back_out;   /* ... a branch back taken out of line: the stub charges the pass and goes round */
};

/* ---- block formation and integer instructions (jit_x86_64.c) ---- */
/* The guest registers an instruction reads and writes (bit per register; x0 never). */
void op_regs(const struct rv_op *op, unsigned kind, uint32_t *reads, uint32_t *writes);

/* ---- guest registers in host registers (jit_x86_regs.c) ---- */
/* The pinned host registers from the hart (only the call-clobbered ones if asked), and back. */
void pinned_load_volatile(struct emit *e, bool only_volatile);
void pinned_store_volatile(struct emit *e, bool only_volatile);
void pinned_load(struct emit *e);
void pinned_store(struct emit *e);
/* reg <- x[r]; x[r] <- reg; a write to x[r] made in its host register. */
void get_x(struct block_ctx *c, int reg, unsigned r);
void get_x32(struct block_ctx *c, int reg, unsigned r); /* x[r]'s low half, zero-extended */
void set_x(struct block_ctx *c, unsigned r, int reg);
void written(struct block_ctx *c, unsigned r);
void written_upper_zero(struct block_ctx *c, unsigned rd, int reg);
void cmp_x(struct block_ctx *c, unsigned rs1, unsigned rs2);
/* The local registers in `mask` to the hart, and from it. */
void store_local(struct block_ctx *c, uint32_t mask);
void load_local(struct block_ctx *c, uint32_t mask);
/* rsi as one instruction's scratch: the guest register it held, restored after. */
unsigned rsi_claim(struct block_ctx *c);
void rsi_restore(struct block_ctx *c, unsigned r);
/* The pinned registers a block lends to local ones: saved at its start, back before it leaves. */
void borrow_pinned(struct block_ctx *c);
void unborrow_pinned(struct block_ctx *c);
/* On the way out or into a helper: the local registers in `dirty` to the hart, the borrowed pinned
 * ones back (store_local, unborrow_pinned). */
void write_back(struct block_ctx *c, uint32_t dirty);
/* reg <op>= x[r] for the "op reg, r/m" opcodes. */
void alu_x(struct block_ctx *c, unsigned opc, int reg, unsigned r, bool w64);
/* Where to compute x[rd] (its host register or rax), and completing the write there. */
int dst_reg(struct block_ctx *c, unsigned rd, unsigned src2);
void put_x(struct block_ctx *c, unsigned rd, int reg);
/* Around helper calls: the pc and count an exception reports, the registers to the hart and back. */
void sync_pc(struct block_ctx *c, uint64_t pc, int k);
void sync_for_helper(struct block_ctx *c, uint64_t pc, int k, uint32_t dirty);
void reload_local(struct block_ctx *c);
void call_args(struct block_ctx *c, unsigned rs1, int rs2);
/* Host registers for the block's guest registers; returns the local ones it reads before writing. */
uint32_t allocate(struct block_ctx *c, const struct rv_op *ops, unsigned n, uint32_t *written);

/* ---- entering and leaving translated code (jit_x86_exit.c) ---- */
void emit_prologue(struct emit *e);
bool prologue_fits(uint32_t hart);
void emit_common_exit(struct emit *e);
void epilogue(struct emit *e);
void return_pc(struct emit *e, uint64_t pc);
/* To the guest pc in rax, through the indirect-jump cache. */
void exit_indirect(struct emit *e);
/* Return-address prediction (jit_x86_exit.c): jal/jalr linking x1 or x5 (is_link) leaving the
 * block push, a jalr x0 through one of them pops. */
#define JIT_RAS_BYTES (32 << 10)
bool is_link(unsigned r);
void exit_call(struct block_ctx *c, uint64_t target, uint64_t ret_pc, uint32_t dirty, int refund);
void exit_indirect_call(struct block_ctx *c, uint64_t ret_pc);
void exit_return(struct emit *e);
/* To a known guest pc: a loop within the block (t >= 0), a chained jump, or the dispatcher. */
void exit_to(struct block_ctx *c, uint64_t target, uint32_t dirty, int t, int refund);
/* A pass of a loop back to instruction t charged (`refund`: what the jump owes after itself,
 * owed_after) and, while budget remains, round again; and the way out when it does not (the pass
 * charged already). */
void loop_back(struct block_ctx *c, int t, int refund);
void exit_spent(struct block_ctx *c, uint64_t target, uint32_t dirty, int t);
/* An instruction left to the interpreter (rv_jit_exec_generic), the block going on unless it stops. */
void call_generic(struct block_ctx *c, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len, int k,
                  uint32_t dirty);
void emit_generic(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k,
                  struct side_exit *side, unsigned *nside);

/* ---- loads, stores and out-of-line paths (jit_x86_mem.c) ---- */
/* Chooses how probes find their slot (with BMI1's bextr where the host has it). */
void jit_mem_init(void);
/* The code cache's TLB-miss thunks: thunk[kind] for each integer load and store kind. */
void emit_thunks(struct emit *e, uint8_t **thunk);
/* Its 2 MiB slot thunks: mega_slot[r] (r a host register but rsp) sets eax to r's 2 MiB slot. */
void emit_mega_slots(struct emit *e, uint8_t **mega_slot);
/* The inline TLB lookup and probe (rax <- the addend on a hit; returns the miss jump's rel32). */
uint8_t *emit_tlb_lookup(struct block_ctx *c, int first_base, int32_t first_disp, int last_base,
                         int32_t last_disp, uint32_t table, unsigned accesses);
uint8_t *emit_tlb_probe(struct block_ctx *c, unsigned rs1, int32_t lo, int32_t hi, uint32_t table,
                        unsigned accesses, int *base);
uint32_t tlb_table(bool write);
/* Which loads' addresses come from loads (block_ctx.chained): the ones given a page hint. */
void plan_hints(struct block_ctx *c, const struct rv_op *ops, unsigned n);
void op_base_rax(struct emit *e, unsigned opc, int reg, int base, int32_t disp, bool w64, bool byte_reg);
void emit_load(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k);
/* After a compare pair's first load (ops: its four instructions, pc2: the first bne's pc, k as in
 * emit_op): the second load and the flags of the one branch (jit_x86_mem.c). */
void emit_compare_pair(struct block_ctx *c, const struct rv_op *ops, uint64_t pc2, int k,
                       struct side_exit *side, unsigned *nside);
void emit_store(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k);
bool is_store(unsigned kind);
unsigned access_size(unsigned kind);
/* A run of accesses through one base register, probed once. */
unsigned mem_group(const struct rv_op *ops, const bool *jumped_to, unsigned i, unsigned n, int32_t *lo,
                   int32_t *hi);
void emit_mem_group(struct block_ctx *c, const struct rv_op *ops, const unsigned *lens, unsigned m,
                    int32_t lo, int32_t hi, uint64_t pc, int k);
/* Out-of-line paths, emitted after the block's main path. */
struct slow_path interp_slow_path(const struct block_ctx *c, const struct rv_op *op, uint64_t pc,
                                  unsigned len, int k);
void access_slow_path(struct block_ctx *c, uint8_t *fix, uint64_t pc, int k, unsigned kind, int store_rs2,
                      bool fp_data, unsigned rs1, int32_t imm, int load_dst);
void jcc_slow(struct emit *e, struct slow_path *s, uint8_t cc);
void emit_slow_path(struct block_ctx *c, const struct slow_path *s);
void patch_to_here(struct emit *e, uint8_t *fix);

/* ---- F and D (jit_x86_fp.c) ---- */
void jit_fp_init(void);
/* At a join or after a call that may change the FP state: nothing known of it. */
void fp_forget(struct block_ctx *c);
void set_fp_pending(struct emit *e);
/* flw, fld, fsw, fsd: the integer access kind moving their bits, or -1. */
int fp_mem_kind(uint32_t insn);
void emit_fp_mem(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k);
void fp_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes);
bool emit_fp_arith(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k);

/* ---- fences, AMOs, LR/SC, cbo.zero (jit_x86_misc.c) and vector (jit_x86_vector.c) ---- */
/* Whether the module translates `insn` inline; if so, the integer registers it reads and writes. */
bool misc_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes);
bool vec_inline_regs(uint32_t insn, uint32_t *reads, uint32_t *writes);
/* Emit the instruction inline; false: the caller leaves it to the interpreter. */
bool emit_misc(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k);
bool emit_vector(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k);

#endif
