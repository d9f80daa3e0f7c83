/*
 * jit_x86_exit.c — how translated code is entered and left: the frame every
 * block shares, exits to known and computed guest pcs (chained jumps, the
 * indirect-jump cache, loops within a block), and calls to the interpreter
 * for instructions the translator leaves to it.
 */
#include "jit_x86.h"
#include "util/log.h"

#include <stdlib.h>

/*
 * Frame of translated code. Every block has the same one, so chained jumps go
 * from block to block without touching the stack: the callee-saved registers
 * the pinned guest registers use, 8 bytes so helper calls see an aligned
 * stack, and the bottom of the return-address stack (below). Entered from C,
 * a block then loads the pinned registers; every return to C goes through the
 * code cache's common exit, which stores them back.
 */
static const char prologue_bytes[] = "\x53"              /* push rbx */
                                     "\x55"              /* push rbp */
                                     "\x41\x54"          /* push r12 */
                                     "\x41\x55"          /* push r13 */
                                     "\x41\x56"          /* push r14 */
                                     "\x41\x57"          /* push r15 */
                                     "\x48\x83\xec\x08"  /* sub rsp, 8 */
                                     "\x6a\x01\x6a\x01"; /* push 1; push 1: the bottom entry */
#define RAS_FLOOR ((uint32_t)offsetof(struct rv_hart, jit_ras_floor))
void emit_prologue(struct emit *e)
{
	emit_bytes(e, prologue_bytes, sizeof(prologue_bytes) - 1);
	e8(e, (uint8_t)(0xb8 + HART_BASE)); /* mov ebp, hart + HART_BIAS (below 2 GiB: zero-extended) */
	e32(e, e->hart + HART_BIAS);
	lea_disp(e, RAX, RSP, -JIT_RAS_BYTES);
	op_rm_hart(e, 0x89, RAX, RAS_FLOOR, true); /* mov [hart + jit_ras_floor], rax */
	pinned_load(e);
}
/* rsp <- the return-address stack's bottom entry: every entry above it dropped. */
static void ras_drop(struct emit *e)
{
	op_rm_hart(e, 0x8b, RSP, RAS_FLOOR, true); /* mov rsp, [hart + jit_ras_floor] */
	alu_imm(e, RSP, 0, JIT_RAS_BYTES, true);   /* add rsp, JIT_RAS_BYTES */
}
/* The code cache's first bytes: the way back to C (rax = the next guest pc). */
void emit_common_exit(struct emit *e)
{
	pinned_store(e);
	ras_drop(e);
	EB(e, "\x48\x83\xc4\x18"                               /* add rsp, 24: the bottom entry, 8 */
	      "\x41\x5f\x41\x5e\x41\x5d\x41\x5c\x5d\x5b\xc3"); /* pop r15 .. rbx; ret */
}
void epilogue(struct emit *e)
{
	e8(e, 0xe9); /* jmp common_exit */
	e32(e, (uint32_t)(int32_t)(e->exit - (e->p + 4)));
}
void return_pc(struct emit *e, uint64_t pc)
{
	mov_imm64(e, RAX, pc);
	epilogue(e);
}

/* Whether jit.h knows where chained jumps enter a block: the prologue's length (rv_jit_init checks). */
bool prologue_fits(uint32_t hart)
{
	uint8_t scratch[RV_JIT_ENTRY_OFFSET + 64];
	struct emit e = {.p = scratch, .hart = hart};
	emit_prologue(&e);
	return e.p - scratch == RV_JIT_ENTRY_OFFSET;
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
void exit_indirect(struct emit *e)
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

/* A loop's pass charged and, while budget remains, round again (jit_x86.h). */
void loop_back(struct block_ctx *c, int t, int refund)
{
	struct emit *e = &c->e;
	int pass = c->owed[t] - refund; /* what a pass runs, less what it charged on the way */
	budget_add(e, -pass);
	EB(e, "\x0f\x8f"); /* jg label[t]: the next pass is charged */
	e32(e, (uint32_t)(int32_t)(c->label[t] - (e->p + 4)));
}

/* To a known guest pc, the registers in the hart already. */
static void go_to(struct block_ctx *c, uint64_t target)
{
	if ((target & RV_PAGE_MASK) == c->page) {
		exit_static(&c->e, target, target <= c->start);
	} else {
		mov_imm64(&c->e, RAX, target);
		exit_indirect(&c->e);
	}
}

static void leave(struct block_ctx *c, uint64_t target, uint32_t dirty)
{
	write_back(c, dirty);
	go_to(c, target);
}

void exit_spent(struct block_ctx *c, uint64_t target, uint32_t dirty, int t)
{
	budget_add(&c->e, c->owed[t]); /* not run */
	leave(c, target, dirty);
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
void exit_to(struct block_ctx *c, uint64_t target, uint32_t dirty, int t, int refund)
{
	if (t >= 0) {
		loop_back(c, t, refund);
		exit_spent(c, target, dirty, t);
		return;
	}
	if (refund) budget_add(&c->e, refund);
	leave(c, target, dirty);
}

/*
 * Return-address prediction. A call leaving its block (jal or jalr linking x1 or x5, the link
 * registers of the calling convention) pushes on the host stack the guest return address and, by a
 * host call, the address of code that goes on from there; a return (jalr x0 through x1 or x5) to
 * the guest address on top pops that entry by a host ret, which the host CPU predicts from its own
 * return stack. A return elsewhere (longjmp, a thread switch) takes the indirect-jump cache and
 * leaves the entry. The stack holds at most JIT_RAS_BYTES of entries (a call deeper drops them
 * all) and is dropped whenever translated code returns to C, as every instruction that may change
 * how code is mapped does (satp writes, sfence.vma: rv_jit_generic_ok leaves them to the
 * interpreter): a host return only goes to code translated under the mappings still in force.
 * The bottom entry, the frame's, holds 1, which no target equals.
 */
bool is_link(unsigned r)
{
	return r == 1 || r == 5;
}

/* A call's push, with the guest registers where a block exit leaves them; `scratch` (not rax when
 * rax holds the target) takes the guest address. Emits the code that goes on at the return address
 * and ends where the host call lands: the exit to the callee comes next. */
static void ras_push(struct block_ctx *c, uint64_t ret_pc, int scratch)
{
	struct emit *e = &c->e;
	op_rm_hart(e, 0x3b, RSP, RAS_FLOOR, true); /* cmp rsp, [hart + jit_ras_floor] */
	EB(e, "\x77");                             /* ja: room for one more */
	uint8_t *room = e->p++;
	ras_drop(e);
	*room = (uint8_t)(e->p - (room + 1));
	mov_imm64(e, scratch, ret_pc);
	if (scratch & 8) e8(e, 0x41);
	e8(e, (uint8_t)(0x50 + (scratch & 7))); /* push scratch */
	e8(e, 0xe8);                            /* call the exit to the callee, below */
	uint8_t *call = e->p;
	e32(e, 0);
	go_to(c, ret_pc); /* returned here (the guest address popped too) */
	uint32_t rel = (uint32_t)(e->p - (call + 4));
	memcpy(call, &rel, 4);
}

void exit_call(struct block_ctx *c, uint64_t target, uint64_t ret_pc, uint32_t dirty, int refund)
{
	if (refund) budget_add(&c->e, refund);
	write_back(c, dirty);
	ras_push(c, ret_pc, RAX);
	go_to(c, target);
}

void exit_indirect_call(struct block_ctx *c, uint64_t ret_pc)
{
	ras_push(c, ret_pc, RCX);
	exit_indirect(&c->e);
}

void exit_return(struct emit *e)
{
	EB(e, "\x48\x3b\x44\x24\x08"); /* cmp rax, [rsp + 8]: the guest address on top */
	EB(e, "\x75\x08");             /* jne: the cache */
	EB(e, "\x48\x85\xdb");         /* test rbx, rbx: the budget */
	EB(e, "\x7e\x03");             /* jle: the cache, whose budget check returns to C */
	EB(e, "\xc2\x08\x00");         /* ret 8: the host address, then the guest one */
	exit_indirect(e);
}

/* A site is the rel32 of an exit's jmp. One that does not follow a jmp opcode lies in code dropped
 * since (a flush) and the patch would corrupt newer code: a bug of the engine, stopped here rather
 * than run. */
bool rv_jit_chain(void *site, void *code)
{
	uint8_t *s = site;
	uint32_t rel = (uint32_t)((uint8_t *)code + RV_JIT_ENTRY_OFFSET - (s + 4)), now;
	if (s[-1] != 0xe9) {
		log_error("translator: chaining an exit at %p that is not a jump (stale code)", site);
		abort();
	}
	memcpy(&now, s, 4);
	if (now == rel) return false; /* a store to code, even of the same bytes, costs the host a refetch */
	memcpy(s, &rel, 4);
	return true;
}

/*
 * An instruction the translator leaves to the interpreter's generic path
 * (AMOs, FP, fences, CSR reads): called with the registers in the hart;
 * the block goes on unless it says to stop.
 */
void call_generic(struct block_ctx *c, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len, int k,
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

void emit_generic(struct block_ctx *c, const struct rv_op *op, uint64_t pc, unsigned len, int k,
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
		op_rm_hart_abs(e, 0x8b, c->host[rd], xoff(rd), true);
	EB(e, "\x48\x85\xc0"); /* test rax, rax */
	EB(e, "\x0f\x85");     /* jnz: stop here */
	struct side_exit *s = &side[(*nside)++];
	s->fix = e->p;
	e32(e, 0);
	s->target = 0;
	s->refund = owed_after(c, k);
	s->dirty = 0;
	s->inside = -1;
	s->back_out = false;
}
