/*
 * jit_x86_regs.c — where translated code keeps guest registers: pinned host
 * registers across chained blocks, local ones per block, borrowed ones, and
 * their trips to and from the hart around calls and exits.
 */
#include "jit_x86.h"

/*
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
static const int pinned_host[JIT_NPINNED] = {R15, R12, R13, R14, R11, R8, R9, BUDGET};
static const uint8_t pinned_guest[JIT_NPINNED_X] = {2, 10, 11, 14, 15, 12, 13};
/* The hart field a pinned host register holds. */
static uint32_t pinned_field(unsigned i)
{
	return i < JIT_NPINNED_X ? xoff(pinned_guest[i]) : (uint32_t)offsetof(struct rv_hart, budget_left);
}
#define JIT_NLOCAL 4
#define JIT_BORROW_USES 6 /* weighted uses for a pinned register's host register to go to another */
static const int local_host[JIT_NLOCAL] = {R10, RDI, RDX, RSI};
/* Host registers a call clobbers. */
static bool host_volatile(int reg)
{
	return (reg >= R8 && reg <= R11) || reg == RDI || reg == RSI || reg == RDX;
}
void pinned_load_volatile(struct emit *e, bool only_volatile)
{
	for (unsigned i = 0; i < JIT_NPINNED; i++)
		if (!only_volatile || host_volatile(pinned_host[i]))
			op_rm_hart_abs(e, 0x8b, pinned_host[i], pinned_field(i), true);
	if (only_volatile) return;
	/* The budget register's form (jit_x86_emit.h) */
	EB(e, "\x48\xc1\xe3"); /* shl rbx, BUDGET_SHIFT */
	e8(e, BUDGET_SHIFT);
	EB(e, "\x48\x81\xc3"); /* add rbx, BUDGET_LOW - (1 << BUDGET_SHIFT) */
	e32(e, (uint32_t)((int32_t)BUDGET_LOW - (1 << BUDGET_SHIFT)));
}
void pinned_store_volatile(struct emit *e, bool only_volatile)
{
	for (unsigned i = 0; i < JIT_NPINNED; i++)
		if (!only_volatile || host_volatile(pinned_host[i]))
			op_rm_hart(e, 0x89, pinned_host[i], pinned_field(i), true);
	if (only_volatile) return;
	/* The budget from its register's form, in the hart */
	const uint32_t budget = pinned_field(JIT_NPINNED - 1);
	EB(e, "\x48\xc1"); /* sar qword [budget], BUDGET_SHIFT */
	modrm_hart(e, 7, budget);
	e8(e, BUDGET_SHIFT);
	add_field_imm8(e, budget, 1);
}
void pinned_load(struct emit *e)
{
	pinned_load_volatile(e, false);
}
void pinned_store(struct emit *e)
{
	pinned_store_volatile(e, false);
}
/* The host register holding x[r]: its own, or for one kept in the hart and stored there just
 * before, the one it was stored from; -1 if none. */
static int held_in(const struct block_ctx *c, unsigned r)
{
	if (c->host[r] >= 0) return c->host[r];
	return c->stored_at == c->e.p && c->stored_x == r && !c->out_of_line ? c->stored_from : -1;
}
/* reg <- x[r] (x0: the zero idiom, no load) */
void get_x(struct block_ctx *c, int reg, unsigned r)
{
	if (r == 0) {
		op_rr(&c->e, 0x33, reg, reg, false); /* xor reg32, reg32 */
		return;
	}
	int from = held_in(c, r);
	if (from == reg) return;
	if (from >= 0)
		op_rr(&c->e, 0x8b, reg, from, true);
	else
		op_rm_hart(&c->e, 0x8b, reg, xoff(r), true);
}
/* reg <- x[r]'s low half, zero-extended */
void get_x32(struct block_ctx *c, int reg, unsigned r)
{
	int from = r ? held_in(c, r) : -1;
	if (!r)
		op_rr(&c->e, 0x33, reg, reg, false); /* xor reg32, reg32 */
	else if (from >= 0)
		op_rr(&c->e, 0x8b, reg, from, false); /* mov reg32, from32 */
	else
		op_rm_hart(&c->e, 0x8b, reg, xoff(r), false);
}
/* Notes a write to x[r] made in its host register. */
void written(struct block_ctx *c, unsigned r)
{
	if (r >= 32) return;
	c->dirty |= c->local & (1u << r);
	c->upper_zero &= ~(1u << r);
}
/* After put_x(c, rd, reg) of a 32-bit operation's result: zeros above it, when rd's host register
 * holds it (block_ctx.upper_zero). */
void written_upper_zero(struct block_ctx *c, unsigned rd, int reg)
{
	if (rd && rd < 32 && c->host[rd] == reg) c->upper_zero |= 1u << rd;
}
/* x[r] <- reg (writes to x0 arrive here as r = 32 and vanish) */
void set_x(struct block_ctx *c, unsigned r, int reg)
{
	if (r == 0 || r == 32) return;
	if (c->host[r] >= 0) {
		op_rr(&c->e, 0x8b, c->host[r], reg, true);
	} else {
		op_rm_hart(&c->e, 0x89, reg, xoff(r), true);
		c->stored_at = c->e.p, c->stored_x = r, c->stored_from = reg;
	}
	written(c, r);
}
/* The local registers in `mask` to the hart. */
void store_local(struct block_ctx *c, uint32_t mask)
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
unsigned rsi_claim(struct block_ctx *c)
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
void rsi_restore(struct block_ctx *c, unsigned r)
{
	if (!r) return;
	c->host[r] = RSI;
	op_rm_hart(&c->e, 0x8b, RSI, xoff(r), true);
}
/* The local registers in `mask` from the hart. */
void load_local(struct block_ctx *c, uint32_t mask)
{
	for (unsigned r = 1; r < 32; r++)
		if (mask & (1u << r)) op_rm_hart(&c->e, 0x8b, c->host[r], xoff(r), true);
}
/* At the block's start: the guest registers of the pinned host registers it borrows go to the hart,
 * where they stay while the block runs (allocate). */
void borrow_pinned(struct block_ctx *c)
{
	for (unsigned i = 0; i < JIT_NPINNED_X; i++)
		if (c->borrowed & (1u << i)) op_rm_hart(&c->e, 0x89, pinned_host[i], pinned_field(i), true);
}
/* Before a way out or code that stores the pinned registers (a helper's): the borrowed ones hold
 * their own guest registers again. Their local ones must be in the hart already (store_local). */
void unborrow_pinned(struct block_ctx *c)
{
	for (unsigned i = 0; i < JIT_NPINNED_X; i++)
		if (c->borrowed & (1u << i)) op_rm_hart(&c->e, 0x8b, pinned_host[i], pinned_field(i), true);
}
/* reg <op>= x[r], for the "op reg, r/m" opcodes (add 03, sub 2b, and 23, or 0b, xor 33, cmp 3b, imul 0faf) */
void alu_x(struct block_ctx *c, unsigned opc, int reg, unsigned r, bool w64)
{
	int from = held_in(c, r);
	if (from >= 0)
		op_rr(&c->e, opc, reg, from, w64);
	else
		op_rm_hart(&c->e, opc, reg, xoff(r), w64);
}
/* The flags of x[rs1] - x[rs2], for a jcc next: one kept in the hart is compared there (no load
 * first) when the other is in a host register or zero. */
void cmp_x(struct block_ctx *c, unsigned rs1, unsigned rs2)
{
	const int a = rs1 ? held_in(c, rs1) : -1, b = rs2 ? held_in(c, rs2) : -1;
	if (rs1 && a < 0 && rs2 == 0) { /* cmp qword [x[rs1]], 0 */
		EB(&c->e, "\x48\x83");
		modrm_hart(&c->e, 7, xoff(rs1));
		e8(&c->e, 0);
		return;
	}
	if (rs1 && a < 0 && b >= 0) { /* cmp [x[rs1]], b */
		op_rm_hart(&c->e, 0x39, b, xoff(rs1), true);
		return;
	}
	const int r = a >= 0 ? a : RAX;
	get_x(c, r, rs1);
	if (rs2 == 0)
		op_rr(&c->e, 0x85, r, r, true); /* test r, r: the flags of cmp r, 0 */
	else
		alu_x(c, 0x3b, r, rs2, true);
}
/*
 * Where to compute a result for x[rd]: straight in rd's host register when it
 * is cached (unless the instruction still reads `src2` after writing there),
 * else rax. put_x() then completes the write.
 */
int dst_reg(struct block_ctx *c, unsigned rd, unsigned src2)
{
	return rd < 32 && c->host[rd] >= 0 && rd != src2 ? c->host[rd] : RAX;
}
void put_x(struct block_ctx *c, unsigned rd, int reg)
{
	if (reg == RAX)
		set_x(c, rd, RAX);
	else
		written(c, rd); /* it is there already */
}

/* Before a helper that may raise: the instruction's pc and the budget charged ahead of it (so that
 * what ran is counted), and the registers (the local ones written before the instruction: `dirty`). */
void sync_pc(struct block_ctx *c, uint64_t pc, int k)
{
	struct emit *e = &c->e;
	if ((uint64_t)(int64_t)(int32_t)pc == pc) { /* mov qword [hart + pc], simm32 */
		EB(e, "\x48\xc7");
		modrm_hart(e, 0, (uint32_t)offsetof(struct rv_hart, pc));
		e32(e, (uint32_t)pc);
	} else {
		mov_imm64(e, RAX, pc);
		op_rm_hart(e, 0x89, RAX, (uint32_t)offsetof(struct rv_hart, pc), true);
	}
	store_field_imm32(e, offsetof(struct rv_hart, jit_retired), -owed_at(c, k)); /* what ran */
}
/* On the way out of translated code or into a helper: the local registers in `dirty` to the hart,
 * the borrowed pinned registers their own guest registers again. */
void write_back(struct block_ctx *c, uint32_t dirty)
{
	store_local(c, dirty);
	unborrow_pinned(c);
}
void sync_for_helper(struct block_ctx *c, uint64_t pc, int k, uint32_t dirty)
{
	sync_pc(c, pc, k);
	write_back(c, dirty);
	pinned_store(&c->e);
}
/* After a call: the local registers it clobbered, from the hart (which has them), the pinned ones
 * first (a borrowed one holds a local register). */
void reload_local(struct block_ctx *c)
{
	pinned_load_volatile(&c->e, true);
	for (unsigned r = 1; r < 32; r++)
		if (c->local & (1u << r)) op_rm_hart_abs(&c->e, 0x8b, c->host[r], xoff(r), true);
}

/* Before a call that cannot raise: the written local registers to the hart (the call clobbers their
 * host registers), rdi <- x[rs1], rsi <- x[rs2]. */
void call_args(struct block_ctx *c, unsigned rs1, int rs2)
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

/*
 * Host registers for the block's guest registers: the pinned ones, then the
 * local registers to those used most (three times at least) among the others,
 * a use counting four times more for each jump back (c->target) over it: the
 * innermost, hottest loop first.
 * Returns the local registers read before they are written (loaded at the
 * start); *written gets those the block writes.
 */
uint32_t allocate(struct block_ctx *c, const struct rv_op *ops, unsigned n, uint32_t *written)
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
