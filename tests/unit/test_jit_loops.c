/*
 * test_jit_loops.c — a translated block's loops (jit_loops.h), found from its
 * control flow: xz's binary-tree walk in miniature (a loop whose arm, placed
 * after it, jumps back into its middle, and an inner loop entered past its
 * first instruction), a loop nested in another, a self-loop and code no edge
 * reaches; and which loads' addresses come from loads, in a loop entered past
 * its start and at it.
 */
#include "check.h"
#include "cpu/riscv/jit_loops.h"

struct cfg {
	uint8_t succ[JIT_LOOPS_MAX_OPS][2], nsucc[JIT_LOOPS_MAX_OPS];
	unsigned n;
};

/* Instruction i's successors: up to two, -1 for none. */
static void edges(struct cfg *g, unsigned i, int a, int b)
{
	g->nsucc[i] = 0;
	if (a >= 0) g->succ[i][g->nsucc[i]++] = (uint8_t)a;
	if (b >= 0) g->succ[i][g->nsucc[i]++] = (uint8_t)b;
	if (i >= g->n) g->n = i + 1;
}

/* Whether loop l's body is exactly the instructions listed (ending with -1). */
static bool body_is(const struct jit_loops *L, unsigned l, const int *list)
{
	struct jit_op_set want = {{0, 0}};
	for (; *list >= 0; list++) jit_set_add(&want, (unsigned)*list);
	return want.w[0] == L->body[l].w[0] && want.w[1] == L->body[l].w[1];
}

/* Finds g's loops, which must be two with these heads; *outer and *inner get their indexes. */
static void find_two(const struct cfg *g, struct jit_loops *L, unsigned outer_head, unsigned inner_head,
                     unsigned *outer, unsigned *inner)
{
	jit_find_loops(L, g->n, (const uint8_t(*)[2])g->succ, g->nsucc);
	CHECK_EQ(L->n, 2);
	*outer = L->head[0] == outer_head ? 0 : 1;
	*inner = 1 - *outer;
	CHECK_EQ(L->head[*outer], outer_head);
	CHECK_EQ(L->head[*inner], inner_head);
}

/* The tree walk: 0 the loop's head, 1 a branch to the arm at 5, 3 the branch back to 0, 4 the way
 * out; the arm jumps (5) into an inner loop past its first instruction (6), loops (8 back to 6) and
 * jumps back into the walk's middle (9 to 2). Neither 9 -> 2 nor 8 -> 6 is an edge back: their
 * targets do not dominate their sources. The inner loop's head is 7, where the jump in lands. */
static void test_walk_with_arm(void)
{
	struct cfg g = {0};
	edges(&g, 0, 1, -1);
	edges(&g, 1, 2, 5);
	edges(&g, 2, 3, -1);
	edges(&g, 3, 4, 0);
	edges(&g, 4, -1, -1);
	edges(&g, 5, 7, -1);
	edges(&g, 6, 7, -1);
	edges(&g, 7, 8, -1);
	edges(&g, 8, 9, 6);
	edges(&g, 9, 2, -1);
	struct jit_loops L;
	unsigned outer, inner;
	find_two(&g, &L, 0, 7, &outer, &inner);
	CHECK(body_is(&L, outer, (const int[]){0, 1, 2, 3, 5, 6, 7, 8, 9, -1}));
	CHECK(body_is(&L, inner, (const int[]){6, 7, 8, -1}));
	for (unsigned i = 6; i <= 8; i++) CHECK_EQ(L.innermost[i], inner);
	for (unsigned i = 0; i <= 9; i++)
		if (i < 4 || i == 5 || i == 9) CHECK_EQ(L.innermost[i], outer);
	CHECK_EQ(L.innermost[4], -1);
}

/* A loop (1..5) around another (2..3) with two edges back to its head (3 -> 1 taken early, 5 -> 1),
 * entered from 0; 6 the way out. */
static void test_nested(void)
{
	struct cfg g = {0};
	edges(&g, 0, 1, -1);
	edges(&g, 1, 2, -1);
	edges(&g, 2, 3, -1);
	edges(&g, 3, 4, 2);
	edges(&g, 4, 5, 1);
	edges(&g, 5, 6, 1);
	edges(&g, 6, -1, -1);
	struct jit_loops L;
	unsigned outer, inner;
	find_two(&g, &L, 1, 2, &outer, &inner);
	CHECK(body_is(&L, outer, (const int[]){1, 2, 3, 4, 5, -1}));
	CHECK(body_is(&L, inner, (const int[]){2, 3, -1}));
	CHECK_EQ(L.innermost[0], -1);
	CHECK_EQ(L.innermost[2], inner);
	CHECK_EQ(L.innermost[4], outer);
	CHECK_EQ(L.innermost[6], -1);
}

/* An instruction branching to itself is a loop of one; one that no edge reaches (after a jump
 * away) is in no loop, even branching to itself. */
static void test_self_and_unreached(void)
{
	struct cfg g = {0};
	edges(&g, 0, 1, -1);
	edges(&g, 1, 2, 1);
	edges(&g, 2, -1, -1);
	edges(&g, 3, 3, -1);
	struct jit_loops L;
	jit_find_loops(&L, g.n, (const uint8_t(*)[2])g.succ, g.nsucc);
	CHECK_EQ(L.n, 1);
	CHECK_EQ(L.head[0], 1);
	CHECK(body_is(&L, 0, (const int[]){1, -1}));
	CHECK_EQ(L.innermost[1], 0);
	CHECK_EQ(L.innermost[3], -1);
}

/*
 * gzip's hash-chain walk as a block translates it, a loop entered past its start: 0 jumps in to
 * 4; 1 masks x5 (x5 &= x6), 2 scales it (x7 = x8 + x5), 3 loads x5 from [x7] (the chain's next
 * link), 4 loads x9 from [x10] (a window byte, the address from no load), 5 branches back to 1
 * or leaves. The loop's head is 4, where the jump lands, yet the load at 3 takes its address from
 * the load at 3 a pass before (through 5 -> 1 -> 2): chained; the one at 4 is not. And the same
 * loop entered at its start (0 falls into 1, 5 back to 1).
 */
static void test_chained_loads(void)
{
	for (unsigned entered_past = 0; entered_past < 2; entered_past++) {
		struct cfg g = {0};
		edges(&g, 0, entered_past ? 4 : 1, -1);
		edges(&g, 1, 2, -1);
		edges(&g, 2, 3, -1);
		edges(&g, 3, 4, -1);
		edges(&g, 4, 5, -1);
		edges(&g, 5, 1, -1);
		g.n = 7; /* 6: past the loop, a load from what 3 loaded */
		struct jit_loops L;
		jit_find_loops(&L, g.n, (const uint8_t(*)[2])g.succ, g.nsucc);
		CHECK_EQ(L.n, 1);
		CHECK_EQ(L.head[0], entered_past ? 4 : 1);
		const struct jit_op_regs regs[7] = {
		    {0, 0, false, 0},
		    {1u << 5 | 1u << 6, 1u << 5, false, 0},
		    {1u << 8 | 1u << 5, 1u << 7, false, 0},
		    {1u << 7, 1u << 5, true, 7},
		    {1u << 10, 1u << 9, true, 10},
		    {1u << 9, 0, false, 0},
		    {1u << 5, 1u << 11, true, 5},
		};
		bool chained[7];
		jit_chained_loads(&L, g.n, (const uint8_t(*)[2])g.succ, g.nsucc, regs, chained);
		CHECK(chained[3]);
		CHECK(!chained[4]);
		CHECK(!chained[1]);
		CHECK(chained[6]);
	}
}

TEST_MAIN(test_walk_with_arm, test_nested, test_self_and_unreached, test_chained_loads)
