/*
 * jit_probe.c — the shared-probe plan of a block (jit_probe.h): a forward
 * pass that knows, for each register, either a range of small values it holds
 * (masked, shifted right, a byte loaded) or that it is another register's
 * value plus a range (an address into a table or a frame), and groups the
 * accesses through the same base value. Where forward jumps meet, it keeps
 * what holds on every way in: a register's value (a version, numbered once
 * per write, the same on each way), and the groups whose probe ran on each.
 */
#include "cpu/riscv/jit_probe.h"

#include <string.h>

#define FACT_LIMIT (1 << 20) /* ranges beyond this say nothing useful about a page */

enum fact_kind { FACT_NONE, FACT_RANGE, FACT_PTR };
struct fact {
	uint8_t kind;     /* enum fact_kind */
	uint8_t base;     /* FACT_PTR: x[base] + [lo, hi] ... */
	uint16_t version; /* ... while x[base] has this version */
	int32_t lo, hi;   /* FACT_RANGE: the value, as a signed number, in [lo, hi] */
};

struct pass {
	struct fact fact[32];
	uint16_t version[32]; /* a register's value: the write (or meeting of ways) that made it */
	uint16_t probed;      /* the groups whose first access ran on every way here */
};
_Static_assert(JIT_PROBE_GROUPS <= 16, "probed holds a bit per group");

static struct fact none(void)
{
	return (struct fact){.kind = FACT_NONE};
}
static struct fact range(int64_t lo, int64_t hi)
{
	if (lo < -FACT_LIMIT || hi > FACT_LIMIT || lo > hi) return none();
	return (struct fact){.kind = FACT_RANGE, .lo = (int32_t)lo, .hi = (int32_t)hi};
}
static struct fact ptr(const struct pass *p, unsigned base, int64_t lo, int64_t hi)
{
	if (!base || lo < -FACT_LIMIT || hi > FACT_LIMIT) return none();
	return (struct fact){.kind = FACT_PTR,
	                     .base = (uint8_t)base,
	                     .version = p->version[base],
	                     .lo = (int32_t)lo,
	                     .hi = (int32_t)hi};
}

/* What x[r] holds now (x0: the constant 0); a pointer whose base was written since says nothing. */
static struct fact fact_of(const struct pass *p, unsigned r)
{
	if (r == 0) return range(0, 0);
	struct fact f = p->fact[r];
	if (f.kind == FACT_PTR && p->version[f.base] != f.version) return none();
	return f;
}

/* x[r] + [lo, hi] as a fact: a range added to a range, to a pointer, or to a register as a new base. */
static struct fact offset(const struct pass *p, unsigned r, int64_t lo, int64_t hi)
{
	struct fact f = fact_of(p, r);
	switch (f.kind) {
	case FACT_RANGE: return range(f.lo + lo, f.hi + hi);
	case FACT_PTR: return ptr(p, f.base, f.lo + lo, f.hi + hi);
	default: return ptr(p, r, lo, hi);
	}
}

/* The fact instruction `op` establishes for its destination (computed before the write). */
static struct fact transfer(const struct pass *p, const struct rv_op *op)
{
	const struct fact a = fact_of(p, op->rs1), b = fact_of(p, op->rs2);
	const unsigned sh64 = (unsigned)op->imm & 63, sh32 = (unsigned)op->imm & 31;
	switch ((enum op_kind)rv_op_kind(op)) {
	case K_LBU: return range(0, 0xff);
	case K_LHU: return range(0, 0xffff);
	case K_ANDI:
		if (op->imm >= 0) return range(0, op->imm);
		return a.kind == FACT_RANGE && a.lo >= 0 ? a : none();
	case K_AND:
		if (a.kind == FACT_RANGE && a.lo >= 0) return range(0, a.hi);
		if (b.kind == FACT_RANGE && b.lo >= 0) return range(0, b.hi);
		return none();
	case K_SLLI:
		if (a.kind != FACT_RANGE || a.lo < 0 || sh64 > 20) return none();
		return range(0, (int64_t)a.hi << sh64);
	case K_SRLI:
		if (a.kind == FACT_RANGE && a.lo >= 0)
			return range(0, (int64_t)a.hi >> sh64); /* a shift by 32 or more: 0 */
		return sh64 >= 44 ? range(0, (INT64_C(1) << (64 - sh64)) - 1) : none();
	case K_SRLIW:
		if (a.kind == FACT_RANGE && a.lo >= 0) return range(0, a.hi >> sh32);
		return sh32 >= 12 ? range(0, (INT64_C(1) << (32 - sh32)) - 1) : none();
	case K_ADDI: return op->rs1 ? offset(p, op->rs1, op->imm, op->imm) : range(op->imm, op->imm);
	case K_ADD:
		if (b.kind == FACT_RANGE) return offset(p, op->rs1, b.lo, b.hi);
		if (a.kind == FACT_RANGE) return offset(p, op->rs2, a.lo, a.hi);
		return none();
	default: return none();
	}
}

/* Joins instruction i, an access to [base + lo, base + hi], to a group with the same base value and
 * direction whose probe ran on every way here and whose span stays under a page, or starts one; false
 * when none can take it. */
static bool join(struct jit_probe_plan *plan, struct pass *p, unsigned i, unsigned base, uint16_t version,
                 bool store, bool derived, int32_t lo, int32_t hi)
{
	for (unsigned j = 0; j < plan->ngroups; j++) {
		struct jit_probe_group *g = &plan->g[j];
		if (g->base != base || g->version != version || g->store != store || !(p->probed >> j & 1))
			continue;
		int32_t l = lo < g->lo ? lo : g->lo, h = hi > g->hi ? hi : g->hi;
		if (h - l >= 4096) continue;
		g->lo = l, g->hi = h;
		g->members++;
		g->derived |= derived;
		plan->group[i] = (int8_t)j;
		return true;
	}
	if (plan->ngroups == JIT_PROBE_GROUPS || hi - lo >= 4096) return false;
	plan->g[plan->ngroups] = (struct jit_probe_group){.base = (uint8_t)base,
	                                                  .store = store,
	                                                  .derived = derived,
	                                                  .members = 1,
	                                                  .version = version,
	                                                  .lo = lo,
	                                                  .hi = hi};
	p->probed |= (uint16_t)(1u << plan->ngroups);
	plan->group[i] = (int8_t)plan->ngroups++;
	plan->first[i] = true;
	return true;
}

/* What two facts about one register value both say: a range or offsets covering both, or nothing. */
static struct fact meet_fact(struct fact a, struct fact b)
{
	if (a.kind != b.kind || a.kind == FACT_NONE) return none();
	if (a.kind == FACT_PTR && (a.base != b.base || a.version != b.version)) return none();
	a.lo = a.lo < b.lo ? a.lo : b.lo;
	a.hi = a.hi > b.hi ? a.hi : b.hi;
	return a;
}

/* *into <- what holds on both ways, into and from: a register with another value on each gets a value
 * of its own (*next numbers them). */
static void meet(struct pass *into, const struct pass *from, uint16_t *next)
{
	for (unsigned r = 1; r < 32; r++) {
		if (into->version[r] == from->version[r]) {
			into->fact[r] = meet_fact(into->fact[r], from->fact[r]);
		} else {
			into->fact[r] = none();
			into->version[r] = ++*next;
		}
	}
	into->probed &= from->probed;
}

/* Nothing known: every register a value of its own, no probe run. */
static void forget(struct pass *p, uint16_t *next)
{
	for (unsigned r = 0; r < 32; r++) p->fact[r] = none(), p->version[r] = ++*next;
	p->probed = 0;
}

/* A CSR instruction the translator runs inside the block may change the data TLB set (sstatus.SUM,
 * mstatus.MPRV): a probe before it says nothing after it. */
static bool may_switch_tlb(const struct rv_op *op)
{
	return rv_op_kind(op) == K_GENERIC && ((uint32_t)op->imm & 0x7f) == 0x73;
}

void jit_plan_probes(struct jit_probe_plan *plan, const struct rv_op *ops, unsigned n, const uint8_t *size,
                     const bool *store, const uint32_t *writes, const int8_t *target, const bool *boundary,
                     const bool *skip)
{
	struct pass at[JIT_PROBE_MAX_OPS]; /* what holds where forward jumps land (read once jumped[]) */
	bool jumped[JIT_PROBE_MAX_OPS] = {false};
	struct pass p;
	uint16_t next = 0;
	memset(plan, 0, sizeof(*plan));
	memset(plan->group, -1, sizeof(plan->group));
	if (n > JIT_PROBE_MAX_OPS) n = JIT_PROBE_MAX_OPS;
	forget(&p, &next);
	for (unsigned i = 0; i < n; i++) {
		const struct rv_op *op = &ops[i];
		/* Reached from further on too, every value may be another; where only forward jumps land,
		 * what holds on them and on the way falling in (perhaps none: that only narrows it). */
		if (boundary[i] || may_switch_tlb(op))
			forget(&p, &next);
		else if (jumped[i])
			meet(&p, &at[i], &next);
		if (size[i] && !skip[i] && op->rs1) {
			const int32_t last = op->imm + size[i] - 1;
			struct fact f = fact_of(&p, op->rs1);
			if (f.kind == FACT_PTR)
				join(plan, &p, i, f.base, f.version, store[i], true, f.lo + op->imm,
				     f.hi + last);
			else
				join(plan, &p, i, op->rs1, p.version[op->rs1], store[i], false, op->imm,
				     last);
		}
		struct fact result = transfer(&p, op);
		for (unsigned r = 1; r < 32; r++)
			if (writes[i] & (1u << r)) {
				p.fact[r] = r == op->rd ? result : none();
				p.version[r] = ++next;
			}
		const int t = target[i];
		if (t > (int)i && t < (int)n) {
			if (jumped[t])
				meet(&at[t], &p, &next);
			else
				at[t] = p;
			jumped[t] = true;
		}
	}
	/* A group of one access only pays when the probe leaves the address's dependency chain. */
	for (unsigned i = 0; i < n; i++) {
		int g = plan->group[i];
		if (g >= 0 && plan->g[g].members == 1 && !plan->g[g].derived) {
			plan->group[i] = -1;
			plan->first[i] = false;
		}
	}
}
