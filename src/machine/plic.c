/*
 * plic.c — RISC-V Platform-Level Interrupt Controller (SiFive layout).
 *
 * Two contexts per hart: 2h is hart h's M-mode external interrupt (MEIP),
 * 2h+1 its S-mode one (SEIP). Sources are level-triggered: a claimed source
 * is not pending again until completed, and then only if its line is still
 * high.
 */
#include "devices.h"
#include "board.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define PLIC_PRIORITY 0x000000
#define PLIC_PENDING 0x001000
#define PLIC_ENABLE 0x002000
#define PLIC_ENABLE_STRIDE 0x80
#define PLIC_CONTEXT 0x200000
#define PLIC_CONTEXT_STRIDE 0x1000
#define PLIC_WORDS (PLIC_NUM_SOURCES / 32)
#define PLIC_MAX_CONTEXTS (2 * MACHINE_MAX_HARTS)

struct plic {
	struct machine *m;
	unsigned ncontexts;
	uint32_t priority[PLIC_NUM_SOURCES];
	uint32_t level[PLIC_WORDS];
	uint32_t pending[PLIC_WORDS];
	uint32_t claimed[PLIC_WORDS];
	uint32_t enable[PLIC_MAX_CONTEXTS][PLIC_WORDS];
	uint32_t threshold[PLIC_MAX_CONTEXTS];
};

static bool test_bit(const uint32_t *w, unsigned i)
{
	return (w[i / 32] >> (i % 32)) & 1;
}
static void set_bit(uint32_t *w, unsigned i, bool v)
{
	if (v)
		w[i / 32] |= 1u << (i % 32);
	else
		w[i / 32] &= ~(1u << (i % 32));
}

/* Best pending, enabled source above the context's threshold; 0 if none. */
static unsigned best_source(const struct plic *p, unsigned ctx)
{
	unsigned best = 0, best_prio = 0;
	for (unsigned w = 0; w < PLIC_WORDS; w++) {
		uint32_t bits = p->pending[w] & p->enable[ctx][w];
		while (bits) {
			unsigned i = w * 32 + (unsigned)__builtin_ctz(bits);
			bits &= bits - 1;
			uint32_t prio = p->priority[i];
			if (prio > p->threshold[ctx] && prio > best_prio) {
				best = i;
				best_prio = prio;
			}
		}
	}
	return best;
}

static void update_outputs(struct plic *p)
{
	for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
		struct machine *m = p->m;
		m->accel->set_irq(m->cpus[ctx / 2], (ctx & 1) ? RV_IRQ_SEI : RV_IRQ_MEI,
		                  best_source(p, ctx) != 0);
	}
}

void plic_set_source(struct plic *p, unsigned source, bool level)
{
	if (source == 0 || source >= PLIC_NUM_SOURCES) return;
	set_bit(p->level, source, level);
	if (level && !test_bit(p->claimed, source)) set_bit(p->pending, source, true);
	if (!level) set_bit(p->pending, source, false);
	update_outputs(p);
}

static bool plic_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct plic *p = dev;
	*val = 0;
	if (size != 4 || (off & 3)) return false;
	if (off < PLIC_PENDING) {
		unsigned i = (unsigned)(off / 4);
		if (i < PLIC_NUM_SOURCES) *val = p->priority[i];
	} else if (off < PLIC_ENABLE) {
		unsigned w = (unsigned)((off - PLIC_PENDING) / 4);
		if (w < PLIC_WORDS) *val = p->pending[w];
	} else if (off < PLIC_CONTEXT) {
		unsigned ctx = (unsigned)((off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE);
		unsigned w = (unsigned)((off - PLIC_ENABLE) % PLIC_ENABLE_STRIDE / 4);
		if (ctx < p->ncontexts && w < PLIC_WORDS) *val = p->enable[ctx][w];
	} else {
		unsigned ctx = (unsigned)((off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE);
		unsigned reg = (unsigned)((off - PLIC_CONTEXT) % PLIC_CONTEXT_STRIDE);
		if (ctx >= p->ncontexts) return true;
		if (reg == 0) {
			*val = p->threshold[ctx];
		} else if (reg == 4) { /* claim */
			unsigned s = best_source(p, ctx);
			if (s) {
				set_bit(p->pending, s, false);
				set_bit(p->claimed, s, true);
				update_outputs(p);
			}
			*val = s;
		}
	}
	return true;
}

static bool plic_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct plic *p = dev;
	if (size != 4 || (off & 3)) return false;
	uint32_t v = (uint32_t)val;
	if (off < PLIC_PENDING) {
		unsigned i = (unsigned)(off / 4);
		if (i > 0 && i < PLIC_NUM_SOURCES) p->priority[i] = v & 7;
	} else if (off < PLIC_ENABLE) {
		return true; /* pending bits are read-only */
	} else if (off < PLIC_CONTEXT) {
		unsigned ctx = (unsigned)((off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE);
		unsigned w = (unsigned)((off - PLIC_ENABLE) % PLIC_ENABLE_STRIDE / 4);
		if (ctx < p->ncontexts && w < PLIC_WORDS) p->enable[ctx][w] = w == 0 ? v & ~1u : v;
	} else {
		unsigned ctx = (unsigned)((off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE);
		unsigned reg = (unsigned)((off - PLIC_CONTEXT) % PLIC_CONTEXT_STRIDE);
		if (ctx >= p->ncontexts) return true;
		if (reg == 0) {
			p->threshold[ctx] = v & 7;
		} else if (reg == 4) { /* complete */
			if (v > 0 && v < PLIC_NUM_SOURCES && test_bit(p->claimed, v)) {
				set_bit(p->claimed, v, false);
				if (test_bit(p->level, v)) set_bit(p->pending, v, true);
			}
		}
	}
	update_outputs(p);
	return true;
}

struct plic *plic_create(struct machine *m)
{
	struct plic *p = calloc(1, sizeof(*p));
	if (!p) return NULL;
	p->m = m;
	p->ncontexts = 2 * m->nharts;
	if (!machine_add_region(m, VIRT_PLIC_BASE, VIRT_PLIC_SIZE, plic_read, plic_write, p)) {
		free(p);
		return NULL;
	}
	return p;
}

void plic_destroy(struct plic *p)
{
	free(p);
}

void plic_save(const struct plic *p, struct state_writer *w)
{
	state_put_u32(w, p->ncontexts);
	state_put_bytes(w, p->priority, sizeof(p->priority));
	state_put_bytes(w, p->level, sizeof(p->level));
	state_put_bytes(w, p->pending, sizeof(p->pending));
	state_put_bytes(w, p->claimed, sizeof(p->claimed));
	for (unsigned c = 0; c < p->ncontexts; c++) state_put_bytes(w, p->enable[c], sizeof(p->enable[c]));
	state_put_bytes(w, p->threshold, sizeof(uint32_t) * p->ncontexts);
}

void plic_load(struct plic *p, struct state_reader *r)
{
	uint32_t n = state_get_u32(r);
	if (!r->failed && n != p->ncontexts) {
		state_fail(r, "plic: %u contexts saved, this board has %u", n, p->ncontexts);
		return;
	}
	struct plic t = *p;
	state_get_bytes(r, t.priority, sizeof(t.priority));
	state_get_bytes(r, t.level, sizeof(t.level));
	state_get_bytes(r, t.pending, sizeof(t.pending));
	state_get_bytes(r, t.claimed, sizeof(t.claimed));
	for (unsigned c = 0; c < t.ncontexts; c++) state_get_bytes(r, t.enable[c], sizeof(t.enable[c]));
	state_get_bytes(r, t.threshold, sizeof(uint32_t) * t.ncontexts);
	if (r->failed) return;
	for (unsigned i = 0; i < PLIC_NUM_SOURCES; i++)
		if (t.priority[i] > 7) {
			state_fail(r, "plic: source %u has priority %u (at most 7)", i, t.priority[i]);
			return;
		}
	for (unsigned c = 0; c < t.ncontexts; c++)
		if (t.threshold[c] > 7) {
			state_fail(r, "plic: context %u has threshold %u (at most 7)", c, t.threshold[c]);
			return;
		}
	if ((t.level[0] | t.pending[0] | t.claimed[0]) & 1) {
		state_fail(r, "plic: source 0 is reserved");
		return;
	}
	*p = t;
	update_outputs(p);
}

BOARD_SINGLE_DEVICE(plic, plic, "plic", plic_create(m), "interrupt controller (PLIC)");
