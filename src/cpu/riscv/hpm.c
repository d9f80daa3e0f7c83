/*
 * hpm.c — the programmable performance counters (Zihpm: mhpmcounter3-31,
 * mhpmevent3-31) and their overflow (Sscofpmf: the OF and mode-inhibit bits of
 * mhpmevent, the local counter-overflow interrupt LCOFI, scountovf).
 *
 * What is countable here: event 1, cycles, and event 2, instructions retired
 * (a hart retires one instruction per cycle); other events count nothing.
 * Counting is settled lazily: the instructions retired since the last
 * settlement go to each counting counter whose mode filter allows the
 * privilege they ran at, whenever the privilege changes, software touches a
 * counter, or a block of instructions ends (so an overflow interrupt is at
 * most one block late).
 */
#include "internal.h"
#include "isa.h"

#define EV_OF (1ULL << 63)
#define EV_MINH (1ULL << 62)
#define EV_SINH (1ULL << 61)
#define EV_UINH (1ULL << 60)
#define EV_SELECT ((1ULL << 56) - 1)
enum { EVENT_CYCLES = 1, EVENT_INSTRET = 2 };

/* Which counters count at all: a countable event, not stopped by mcountinhibit. */
static void update_active(struct rv_hart *h)
{
	uint32_t active = 0;
	for (unsigned i = 0; i < RV_NHPM; i++) {
		uint64_t sel = h->hpm_event[i] & EV_SELECT;
		if ((sel == EVENT_CYCLES || sel == EVENT_INSTRET) && !((h->mcountinhibit >> (i + 3)) & 1))
			active |= 1u << i;
	}
	h->hpm_active = active;
}

void rv_hpm_settle(struct rv_hart *h)
{
	uint64_t now = rv_hart_instret(h), delta = now - h->hpm_last;
	h->hpm_last = now;
	if (!h->hpm_active || !delta) return;
	uint64_t inhibit = h->priv == RV_PRIV_M ? EV_MINH : h->priv == RV_PRIV_S ? EV_SINH : EV_UINH;
	bool filters = RV_HAS(h->ext, SSCOFPMF);
	for (uint32_t a = h->hpm_active; a; a &= a - 1) {
		unsigned i = (unsigned)__builtin_ctz(a);
		if (filters && (h->hpm_event[i] & inhibit)) continue;
		uint64_t old = h->hpm_counter[i];
		h->hpm_counter[i] = old + delta;
		if (h->hpm_counter[i] < old && filters && !(h->hpm_event[i] & EV_OF)) {
			h->hpm_event[i] |= EV_OF; /* overflowed: interrupt once, until software clears OF */
			h->mip_sw |= 1ULL << RV_IRQ_LCOFI;
		}
	}
}

void rv_hpm_rebase(struct rv_hart *h)
{
	h->hpm_last = rv_hart_instret(h);
}

void rv_hpm_reset(struct rv_hart *h)
{
	memset(h->hpm_counter, 0, sizeof(h->hpm_counter));
	memset(h->hpm_event, 0, sizeof(h->hpm_event));
	h->hpm_active = 0;
	h->hpm_last = 0;
}

bool rv_hpm_read(struct rv_hart *h, unsigned csr, uint64_t *val)
{
	rv_hpm_settle(h);
	if (csr == 0xda0) { /* scountovf: the OF bits, as far as mcounteren shows them below M */
		if (!RV_HAS(h->ext, SSCOFPMF) || h->priv < RV_PRIV_S) return false;
		uint64_t v = 0;
		for (unsigned i = 0; i < RV_NHPM; i++)
			if (h->hpm_event[i] & EV_OF) v |= 1ULL << (i + 3);
		*val = h->priv == RV_PRIV_M ? v : v & h->mcounteren;
		return true;
	}
	unsigned i = (csr & 31) - 3;
	if (i >= RV_NHPM) return false;
	*val = (csr & 0xfe0) == 0x320 ? h->hpm_event[i] : h->hpm_counter[i];
	return true;
}

bool rv_hpm_write(struct rv_hart *h, unsigned csr, uint64_t val)
{
	unsigned i = (csr & 31) - 3;
	if (i >= RV_NHPM) return false;
	rv_hpm_settle(h);
	if ((csr & 0xfe0) == 0x320) {
		uint64_t mask =
		    EV_SELECT | (RV_HAS(h->ext, SSCOFPMF) ? EV_OF | EV_MINH | EV_SINH | EV_UINH : 0);
		h->hpm_event[i] = val & mask;
	} else {
		h->hpm_counter[i] = val;
	}
	update_active(h);
	h->hpm_last = rv_hart_instret(h) + 1; /* the writing instruction does not count itself */
	return true;
}

bool rv_hpm_events_valid(const uint64_t event[RV_NHPM])
{
	for (unsigned i = 0; i < RV_NHPM; i++)
		if (event[i] & ~(EV_SELECT | EV_OF | EV_MINH | EV_SINH | EV_UINH)) return false;
	return true;
}

void rv_hpm_inhibit_changed(struct rv_hart *h)
{
	update_active(h);
}
