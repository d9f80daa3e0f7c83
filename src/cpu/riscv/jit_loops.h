/*
 * jit_loops.h — the loops of a translated block, from its control flow: an
 * edge to an instruction that dominates its source (every path from the
 * block's start to the source passes it) goes back to a loop's head, and the
 * loop's body is the head and all that reaches the source without passing
 * it; edges back to the same head make one loop. Unlike ranges between a jump
 * back and its target, this tells a loop from an arm placed after it that
 * jumps back into its middle, and finds a loop entered past its first
 * instruction (a rotated loop: its head is where the jump in lands).
 * Pure analysis over the block's edges, independent of the host.
 */
#ifndef CLOISON_RV_JIT_LOOPS_H
#define CLOISON_RV_JIT_LOOPS_H

#include <stdbool.h>
#include <stdint.h>

#define JIT_LOOPS_MAX_OPS 128 /* at least the translator's block length */
#define JIT_LOOPS_MAX 16      /* loops told apart; a block's further loops are left out */

/* A set of the block's instructions. */
struct jit_op_set {
	uint64_t w[JIT_LOOPS_MAX_OPS / 64];
};

static inline bool jit_set_has(const struct jit_op_set *s, unsigned i)
{
	return s->w[i / 64] >> (i % 64) & 1;
}
static inline void jit_set_add(struct jit_op_set *s, unsigned i)
{
	s->w[i / 64] |= 1ull << (i % 64);
}
static inline bool jit_set_empty(const struct jit_op_set *s)
{
	return !s->w[0] && !s->w[1];
}
static inline bool jit_sets_meet(const struct jit_op_set *a, const struct jit_op_set *b)
{
	return (a->w[0] & b->w[0]) || (a->w[1] & b->w[1]);
}
static inline void jit_set_join(struct jit_op_set *into, const struct jit_op_set *s)
{
	into->w[0] |= s->w[0];
	into->w[1] |= s->w[1];
}

struct jit_loops {
	unsigned n;                            /* loops found */
	uint8_t head[JIT_LOOPS_MAX];           /* each loop's head */
	struct jit_op_set body[JIT_LOOPS_MAX]; /* ... and body (the head included) */
	int8_t innermost[JIT_LOOPS_MAX_OPS];   /* the smallest loop holding an instruction, or -1 */
};

/*
 * Finds the loops of the block's n instructions, entered at instruction 0:
 * succ[i][0..nsucc[i]) are the instructions that may run right after
 * instruction i in the block (at most two; none where it leaves the block).
 */
void jit_find_loops(struct jit_loops *loops, unsigned n, const uint8_t (*succ)[2], const uint8_t *nsucc);

/* What an instruction does with registers, for jit_chained_loads: the ones it reads and writes (a
 * bit each) and, for a load, its address register. */
struct jit_op_regs {
	uint32_t reads, writes;
	bool load;
	uint8_t addr;
};

/*
 * Which loads' addresses come from a load (a chain of dependent loads, where a probe's latency
 * counts), followed through the block's registers in its order twice, so that a loop's second
 * pass sees what its first loaded: chained[i]. What a loop's passes carry round joins at its
 * first instruction in the block's order, which in a loop entered past its start (its head where
 * the jump in lands) lies before its head. Inside a loop only a load the loop itself makes counts:
 * an inner loop that scans a buffer the outer one found by a load waits on no load of its own.
 */
void jit_chained_loads(const struct jit_loops *loops, unsigned n, const uint8_t (*succ)[2],
                       const uint8_t *nsucc, const struct jit_op_regs *regs, bool *chained);

#endif
