/*
 * jit_loops.c — a block's loops (jit_loops.h): dominators by the iterative
 * data-flow method over bit sets (the block's instructions mostly run
 * forward, so a few rounds in order settle them), then each edge back grows
 * its loop's body backwards from its source; and which loads' addresses come
 * from loads, by the sets of loads each register's value comes from.
 */
#include "cpu/riscv/jit_loops.h"

#include <string.h>

static unsigned set_size(const struct jit_op_set *s)
{
	return (unsigned)(__builtin_popcountll(s->w[0]) + __builtin_popcountll(s->w[1]));
}

static bool sets_equal(const struct jit_op_set *a, const struct jit_op_set *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1];
}

/* body gets what reaches p without passing the loop's head h (in body already). */
static void grow_body(struct jit_op_set *body, unsigned h, unsigned p, unsigned n, const uint8_t (*succ)[2],
                      const uint8_t *nsucc, const struct jit_op_set *reached)
{
	jit_set_add(body, p);
	for (bool grew = true; grew;) {
		grew = false;
		for (unsigned q = 0; q < n; q++) {
			if (jit_set_has(body, q) || !jit_set_has(reached, q)) continue;
			for (unsigned k = 0; k < nsucc[q]; k++)
				if (succ[q][k] != h && jit_set_has(body, succ[q][k])) {
					jit_set_add(body, q);
					grew = true;
					break;
				}
		}
	}
}

void jit_find_loops(struct jit_loops *loops, unsigned n, const uint8_t (*succ)[2], const uint8_t *nsucc)
{
	struct jit_op_set dom[JIT_LOOPS_MAX_OPS], reached = {{1, 0}};
	memset(dom, 0xff, sizeof(dom[0]) * n);
	dom[0] = (struct jit_op_set){{1, 0}};
	for (bool changed = true; changed;) {
		changed = false;
		for (unsigned i = 0; i < n; i++) {
			if (!jit_set_has(&reached, i)) continue;
			for (unsigned k = 0; k < nsucc[i]; k++) {
				const unsigned t = succ[i][k];
				struct jit_op_set d = {
				    {dom[t].w[0] & dom[i].w[0], dom[t].w[1] & dom[i].w[1]}};
				jit_set_add(&d, t);
				if (!jit_set_has(&reached, t)) {
					jit_set_add(&reached, t);
					changed = true;
				}
				if (t == 0 || sets_equal(&d, &dom[t])) continue;
				dom[t] = d;
				changed = true;
			}
		}
	}
	loops->n = 0;
	for (unsigned p = 0; p < n; p++)
		for (unsigned k = 0; k < nsucc[p]; k++) {
			const unsigned h = succ[p][k];
			if (!jit_set_has(&reached, p) || !jit_set_has(&dom[p], h))
				continue; /* not an edge back */
			unsigned l = 0;
			while (l < loops->n && loops->head[l] != h) l++;
			if (l == loops->n) {
				if (loops->n == JIT_LOOPS_MAX) continue;
				loops->head[l] = (uint8_t)h;
				loops->body[l] = (struct jit_op_set){{0, 0}};
				jit_set_add(&loops->body[l], h);
				loops->n++;
			}
			if (!jit_set_has(&loops->body[l], p))
				grow_body(&loops->body[l], h, p, n, succ, nsucc, &reached);
		}
	for (unsigned i = 0; i < n; i++) {
		int best = -1;
		for (unsigned l = 0; l < loops->n; l++)
			if (jit_set_has(&loops->body[l], i) &&
			    (best < 0 || set_size(&loops->body[l]) < set_size(&loops->body[best])))
				best = (int)l;
		loops->innermost[i] = (int8_t)best;
	}
}

void jit_chained_loads(const struct jit_loops *loops, unsigned n, const uint8_t (*succ)[2],
                       const uint8_t *nsucc, const struct jit_op_regs *regs, bool *chained)
{
	struct jit_op_set carried[JIT_LOOPS_MAX][32], from[32]; /* each register: the loads it comes from */
	memset(carried, 0, sizeof(carried));
	unsigned first[JIT_LOOPS_MAX];
	for (unsigned l = 0; l < loops->n; l++) {
		const struct jit_op_set *b = &loops->body[l];
		first[l] =
		    b->w[0] ? (unsigned)__builtin_ctzll(b->w[0]) : 64 + (unsigned)__builtin_ctzll(b->w[1]);
	}
	for (unsigned pass = 0; pass < 2; pass++) {
		memset(from, 0, sizeof(from));
		for (unsigned i = 0; i < n; i++) {
			for (unsigned l = 0; l < loops->n && pass; l++)
				if (first[l] == i)
					for (unsigned r = 0; r < 32; r++)
						jit_set_join(&from[r], &carried[l][r]);
			const struct jit_op_regs *o = &regs[i];
			const struct jit_op_set none = {{0, 0}}, *addr = o->addr ? &from[o->addr] : &none;
			const int in = loops->innermost[i];
			chained[i] = o->load &&
			             (in >= 0 ? jit_sets_meet(addr, &loops->body[in]) : !jit_set_empty(addr));
			struct jit_op_set got = {{0, 0}};
			if (o->load) jit_set_add(&got, i);
			for (uint32_t r = o->reads; r; r &= r - 1)
				jit_set_join(&got, &from[__builtin_ctz(r)]);
			for (uint32_t w = o->writes; w; w &= w - 1) from[__builtin_ctz(w)] = got;
			/* What a pass takes round: along its loop's edges back in the block's order. */
			for (unsigned k = 0; k < nsucc[i]; k++)
				for (unsigned l = 0; l < loops->n; l++)
					if (succ[i][k] <= i && jit_set_has(&loops->body[l], succ[i][k]) &&
					    jit_set_has(&loops->body[l], i))
						for (unsigned r = 0; r < 32; r++)
							jit_set_join(&carried[l][r], &from[r]);
		}
	}
}
