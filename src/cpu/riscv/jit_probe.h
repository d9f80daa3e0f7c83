/*
 * jit_probe.h — which loads and stores of a translated block can share one
 * TLB probe. An access whose address is provably a register's value plus an
 * offset in a known range (a table indexed by a masked or shifted value, a
 * pointer derived from the stack pointer) joins the other accesses through
 * that register's same value while all their bytes span less than a page:
 * the translator probes the group's whole span once, at its first access,
 * and the others reuse the page's addend. Off the critical path as well: the
 * probe depends on the base only, not on the index computed from data.
 * Pure analysis over decoded instructions (ops.h), independent of the host.
 */
#ifndef CLOISON_RV_JIT_PROBE_H
#define CLOISON_RV_JIT_PROBE_H

#include "cpu/riscv/ops.h"

#include <stdbool.h>
#include <stdint.h>

#define JIT_PROBE_MAX_OPS 120 /* at least the translator's block length */
#define JIT_PROBE_GROUPS 16

struct jit_probe_group {
	uint8_t base;     /* the guest register whose value every address derives from */
	bool store;       /* stores (the write table) or loads (the read table) */
	bool derived;     /* some address adds a range (or an offset) to the base's value */
	uint8_t members;  /* its accesses */
	uint16_t version; /* the base's value: writes to it counted since the block's start */
	int32_t lo, hi;   /* its bytes: x[base] + lo .. x[base] + hi, at most a page apart */
};

struct jit_probe_plan {
	int8_t group[JIT_PROBE_MAX_OPS]; /* an instruction's group, or -1: it probes for itself */
	bool first[JIT_PROBE_MAX_OPS];   /* the group's first access: where it probes */
	struct jit_probe_group g[JIT_PROBE_GROUPS];
	unsigned ngroups;
};

/*
 * Plans the block ops[0..n): size[i] is instruction i's access size in bytes
 * for an integer load or store (0 for anything else), store[i] whether it
 * stores, writes[i] the registers it writes (bit per register), target[i]
 * the instruction its jump or branch leads to in the block (-1: none);
 * boundary[i] marks an instruction reached from further on (a jump back:
 * what is known stops there), skip[i] one the translator takes
 * another way (a run of accesses it probes on its own). Where forward jumps
 * land, what holds on every way in is kept. Only groups worth it stay: two
 * accesses or more, or one whose address adds a range to its base.
 */
void jit_plan_probes(struct jit_probe_plan *plan, const struct rv_op *ops, unsigned n, const uint8_t *size,
                     const bool *store, const uint32_t *writes, const int8_t *target, const bool *boundary,
                     const bool *skip);

#endif
