/*
 * trigger.c — debug triggers (Sdtrig): the tselect/tdata1/tdata2/tinfo
 * CSRs and the address matches that raise breakpoint exceptions.
 *
 * RV_NTRIGGERS triggers of type 2 (mcontrol) or 6 (mcontrol6), matching a
 * virtual address (equal, at least, below) on instruction fetch, load or
 * store, in the privilege modes they name, before the access; the only action
 * is a breakpoint exception (there is no debug mode). Free when unused: while
 * a trigger watches fetches, the hart single-steps through the generic path
 * (run_exact), which checks each pc; while one watches loads or stores, the
 * data TLB stays empty, so every access reaches the checks in mmu.c's slow
 * paths, in both engines. Snapshots keep them (hart_state.c).
 */
#include "internal.h"

#define TYPE_SHIFT 60
#define TYPE_MCONTROL 2ULL
#define TYPE_MCONTROL6 6ULL
#define TYPE_DISABLED 15ULL
#define CTL_LOAD (1ULL << 0)
#define CTL_STORE (1ULL << 1)
#define CTL_EXECUTE (1ULL << 2)
#define CTL_U (1ULL << 3)
#define CTL_S (1ULL << 4)
#define CTL_M (1ULL << 6)
#define CTL_MATCH_SHIFT 7
#define CTL_MATCH (15ULL << CTL_MATCH_SHIFT)
#define CTL_ACTION (15ULL << 12)
#define MCONTROL_HIT (1ULL << 20)
#define MCONTROL6_HIT0 (1ULL << 22)
#define MCONTROL6_HIT1 (1ULL << 25)
enum { MATCH_EQUAL = 0, MATCH_AT_LEAST = 2, MATCH_BELOW = 3 };

enum { CSR_TSELECT = 0x7a0, CSR_TDATA1 = 0x7a1, CSR_TDATA2 = 0x7a2, CSR_TDATA3 = 0x7a3, CSR_TINFO = 0x7a4 };

void rv_trigger_reset(struct rv_hart *h)
{
	h->tselect = 0;
	for (unsigned i = 0; i < RV_NTRIGGERS; i++) {
		h->tdata1[i] = TYPE_MCONTROL << TYPE_SHIFT; /* armed by nothing */
		h->tdata2[i] = 0;
	}
	h->trig_exec = h->trig_data = false;
}

/* The legal value of a tdata1 write: types 2 and 6 keep their mode, access, match (equal, at least,
 * below) and hit bits; everything else (actions other than a breakpoint, chains, sizes, data
 * matches, debug mode) reads as zero, and any other type disables the trigger. */
static uint64_t tdata1_legal(uint64_t v)
{
	uint64_t type = v >> TYPE_SHIFT;
	if (type != TYPE_MCONTROL && type != TYPE_MCONTROL6) return TYPE_DISABLED << TYPE_SHIFT;
	unsigned match = (unsigned)((v & CTL_MATCH) >> CTL_MATCH_SHIFT);
	if (match != MATCH_AT_LEAST && match != MATCH_BELOW) match = MATCH_EQUAL;
	uint64_t keep = CTL_LOAD | CTL_STORE | CTL_EXECUTE | CTL_U | CTL_S | CTL_M;
	keep |= type == TYPE_MCONTROL ? MCONTROL_HIT : MCONTROL6_HIT0 | MCONTROL6_HIT1;
	return type << TYPE_SHIFT | (v & keep) | (uint64_t)match << CTL_MATCH_SHIFT;
}

/* Whether trigger i is live for `what` (CTL_EXECUTE, CTL_LOAD, CTL_STORE) in the current mode. */
static bool live(const struct rv_hart *h, unsigned i, uint64_t what)
{
	uint64_t t = h->tdata1[i], type = t >> TYPE_SHIFT;
	if ((type != TYPE_MCONTROL && type != TYPE_MCONTROL6) || !(t & what)) return false;
	uint64_t mode = h->priv == RV_PRIV_M ? CTL_M : h->priv == RV_PRIV_S ? CTL_S : CTL_U;
	return (t & mode) != 0;
}

static void update_armed(struct rv_hart *h)
{
	bool exec = false, data = false;
	for (unsigned i = 0; i < RV_NTRIGGERS; i++) {
		uint64_t t = h->tdata1[i], type = t >> TYPE_SHIFT;
		if (type != TYPE_MCONTROL && type != TYPE_MCONTROL6) continue;
		exec |= (t & CTL_EXECUTE) != 0;
		data |= (t & (CTL_LOAD | CTL_STORE)) != 0;
	}
	if (data && !h->trig_data) rv_tlb_flush_all(h); /* from now on, every access takes the slow path */
	h->trig_exec = exec;
	h->trig_data = data;
}

bool rv_trigger_csr_read(const struct rv_hart *h, unsigned csr, uint64_t *val)
{
	switch (csr) {
	case CSR_TSELECT: *val = h->tselect; return true;
	case CSR_TDATA1: *val = h->tdata1[h->tselect]; return true;
	case CSR_TDATA2: *val = h->tdata2[h->tselect]; return true;
	case CSR_TDATA3: *val = 0; return true;
	case CSR_TINFO: /* Sdtrig version 1, types 2, 6 and 15 */
		*val = 1ULL << 24 | 1ULL << TYPE_MCONTROL | 1ULL << TYPE_MCONTROL6 | 1ULL << TYPE_DISABLED;
		return true;
	default: return false;
	}
}

bool rv_trigger_csr_write(struct rv_hart *h, unsigned csr, uint64_t val)
{
	switch (csr) {
	case CSR_TSELECT:
		if (val < RV_NTRIGGERS) h->tselect = val; /* WARL: other indexes leave it */
		return true;
	case CSR_TDATA1: h->tdata1[h->tselect] = tdata1_legal(val); break;
	case CSR_TDATA2: h->tdata2[h->tselect] = val; break;
	case CSR_TDATA3: return true;
	case CSR_TINFO: return true; /* read-only, but writable as a WARL field would be */
	default: return false;
	}
	update_armed(h);
	return true;
}

static bool matches(const struct rv_hart *h, unsigned i, uint64_t addr, unsigned size)
{
	uint64_t t = h->tdata1[i], want = h->tdata2[i];
	switch ((t & CTL_MATCH) >> CTL_MATCH_SHIFT) {
	case MATCH_AT_LEAST: return addr + size - 1 >= want;
	case MATCH_BELOW: return addr < want;
	default: return want >= addr && want - addr < size; /* one of the bytes accessed */
	}
}

static _Noreturn void fire(struct rv_hart *h, unsigned i, uint64_t addr)
{
	h->tdata1[i] |= (h->tdata1[i] >> TYPE_SHIFT) == TYPE_MCONTROL ? MCONTROL_HIT : MCONTROL6_HIT0;
	rv_raise(h, RV_EXC_BREAKPOINT, addr);
}

bool rv_trigger_state_valid(uint64_t tselect, const uint64_t tdata1[RV_NTRIGGERS])
{
	if (tselect >= RV_NTRIGGERS) return false;
	for (unsigned i = 0; i < RV_NTRIGGERS; i++)
		if (tdata1_legal(tdata1[i]) != tdata1[i]) return false;
	return true;
}

void rv_trigger_rearm(struct rv_hart *h)
{
	h->trig_data = false; /* so arming flushes the data TLB */
	update_armed(h);
}

void rv_trigger_check_exec(struct rv_hart *h, uint64_t pc)
{
	for (unsigned i = 0; i < RV_NTRIGGERS; i++)
		if (live(h, i, CTL_EXECUTE) && matches(h, i, pc, 1)) fire(h, i, pc);
}

void rv_trigger_check_data(struct rv_hart *h, uint64_t va, unsigned size, bool store)
{
	for (unsigned i = 0; i < RV_NTRIGGERS; i++)
		if (live(h, i, store ? CTL_STORE : CTL_LOAD) && matches(h, i, va, size)) fire(h, i, va);
}
