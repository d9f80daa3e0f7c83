/*
 * jit_x86_mem.c — translated integer loads and stores: the inline software-TLB
 * probe (alone, shared by a group of accesses, or once for a run through one
 * base register; turned to the 2 MiB table where that serves it), and the
 * out-of-line paths a miss, MMIO, a page crossing or an interpreted
 * instruction takes.
 */
#include "jit_x86.h"

#include <assert.h>
#include <stdlib.h>

/* ---- probe sites ----
 *
 * A translated U-mode load or store that probes the TLB alone keeps a record after its miss path's
 * code (struct probe_site), which the miss path hands to its helper (rv_hart.jit_site); the helper
 * may rewrite the access's probe, in place and only while it runs no translated code: the hart
 * patches only code it alone runs. Either way a miss takes the same helper, so what an access does
 * is unchanged.
 *
 * Page size. The probe looks up the 4 KiB table, whose entries for a large array accessed at
 * random miss the host's caches: one more cache miss before every such access. Pages the guest
 * maps 2 MiB at a time also have an entry in the set's 2 MiB table (mega_read, mega_write: 2048
 * of them, which stay cached), filled and flushed with the 4 KiB ones. When enough misses of an
 * access found their address in a 2 MiB entry, its probe's shift, masks and table offsets are
 * rewritten to look up the 2 MiB table instead (same length: its masks and table offsets, and its
 * bextr, whose control the budget register holds for the 4 KiB table only, becomes a shift, or a
 * call of the code cache's thunk that finds the 2 MiB slot from the same register: aim_slot), and back
 * when enough accesses then find 4 KiB pages; an access that keeps changing its mind stays with
 * 4 KiB.
 * Only U-mode blocks' probes turn (docs/board.md: with the kernel's too, openssl ran slower).
 *
 * Slot from the base. A probe whose access lies on one side of its base register (a non-zero
 * offset) finds its slot from the base itself, no lea before the bextr: a cycle less on a chain
 * of dependent loads (bench/probe_latency.sh). Its access misses wherever the base lies on another
 * page than its bytes; after a few such misses, or when it turns to the 2 MiB table from r8-r15
 * (a call there), a lea from the access's near end goes where nops held its place.
 *
 * Page hint. A load whose address comes from a load (plan_hints: a chain of dependent loads, where
 * the probe's latency adds to every link) checks instead the 4 KiB entry its last access used
 * (rv_hart.jit_hints, a slot per hinted load): that entry's address does not depend on the load's,
 * so it loads while the address is computed. The hinted probe replaces the probe in place (it is
 * shorter; the probe's bytes are kept in the record). A wrong hint (a mispredicted branch) probes
 * the table out of line and remembers the entry. While on trial, the hinted probe counts its runs;
 * every PROBE_HINT_WINDOW-th wrong hint goes to the helper, which gives the hint up (the probe's
 * bytes back, for good) past one wrong hint in PROBE_HINT_RATIO runs; after PROBE_HINT_TRIAL runs
 * rv_jit_settle_hints (between blocks) does the same or settles the hint: the count becomes a nop
 * (a count in memory at every run made a loop's passes wait for each other: gzip ran no faster).
 */
struct probe_site {
	int32_t at[5];      /* the probe's shift and slot mask (0 where it has bextr_at's), page mask, cmp
	                     * and mov displacements, from here */
	int32_t bextr_at;   /* a bextr by the budget register (or the call that replaces it), from here */
	int32_t mega_slot;  /* ... the 2 MiB slot thunk for its source register, from here */
	uint8_t src;        /* ... that register */
	int32_t hint_at;    /* a hinted load: its probe's start in the main path, from here; else 0 */
	uint32_t table;     /* the probe's 4 KiB table (offset in a set) */
	uint16_t evidence;  /* misses since the last change that spoke for the other table */
	uint8_t turns_back; /* times it went back to 4 KiB */
	uint8_t runs_at;    /* a hinted load: its run count's offset from hint_at */
	uint16_t slot;      /* ... its rv_hart.jit_hints slot */
	int32_t lea_at;     /* a slot from the base: the nops where a lea from the near end may go, or 0 */
	int16_t near, far;  /* ... the ends (offsets from the base) */
	uint8_t lea_base;   /* ... the base's host register */
	uint8_t crossed;    /* ... misses whose base lay on another page than the access */
	uint8_t probe_len;  /* ... the length of the probe it replaced, */
	uint8_t probe[];    /* ... and its bytes */
};
#define PROBE_SITE_TO_MEGA 16  /* misses in 2 MiB pages before a probe turns to their table */
#define PROBE_SITE_TO_PAGES 64 /* accesses elsewhere before it turns back */
#define PROBE_SITE_TURNS 3     /* turns back after which it stays */
#define PROBE_SITE_CROSSED 4   /* misses across the base's page before a slot from the base goes */
#define PROBE_HINT_WINDOW 64   /* wrong hints between weighings (a power of 2) */
#define PROBE_HINT_MIN 4096    /* wrong hints before the first weighing (256: see docs/board.md) */
#define PROBE_HINT_RATIO 8     /* a wrong hint in fewer runs than this: no hint */
#define PROBE_HINT_RUNS 1024   /* runs without which a trial ends without a hint */
#define PROBE_HINT_TRIAL 65536 /* runs a hinted load counts before it is settled */
/* A hinted load's run count (add qword [hart + its slot's runs], 1: a disp32), and the nop as long. */
#define HINT_COUNT_LEN 8
static const uint8_t count_nop[HINT_COUNT_LEN] = {0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0};

/* How a probe finds its slot in the 4 KiB or the 2 MiB table: the address's bits from `shift`, as
 * many as the table has slots (a U-mode bextr's control, BUDGET_LOW, says both for 4 KiB). */
static unsigned slot_shift(bool mega)
{
	return mega ? RV_MEGA_SHIFT : RV_PAGE_SHIFT;
}
static uint32_t slot_mask(bool mega)
{
	return mega ? RV_TLB_MEGA_SIZE - 1 : RV_TLB_SIZE - 1;
}
static uint32_t page_mask(bool mega)
{
	return mega ? (uint32_t) ~((1u << RV_MEGA_SHIFT) - 1) : (uint32_t)RV_PAGE_MASK;
}
/* A table's tags and addends (offsets in a set): 4 KiB table `table`, or its 2 MiB counterpart. */
static uint32_t tag_table(uint32_t table, bool mega)
{
	if (!mega) return table;
	return table == tlb_table(true) ? (uint32_t)offsetof(struct rv_tlb_set, mega_write)
	                                : (uint32_t)offsetof(struct rv_tlb_set, mega_read);
}
static uint32_t addend_table(uint32_t table, bool mega)
{
	return tag_table(table, mega) + (uint32_t)(mega ? offsetof(struct rv_tlb_mega_table, addend)
	                                                : offsetof(struct rv_tlb_table, addend));
}

static void add_disp32(uint8_t *at, int64_t delta)
{
	int32_t d;
	memcpy(&d, at, 4);
	d = (int32_t)(d + delta);
	memcpy(at, &d, 4);
}

/* bextr eax, src32, ebx (VEX.LZ.0F38.W0 F7 /r, vvvv = ebx: the budget register's low bits) at p */
static void put_bextr(uint8_t *p, int src)
{
	const uint8_t b[5] = {0xc4, src >= 8 ? 0xc2 : 0xe2, 0x60, 0xf7, (uint8_t)(0xc0 | (src & 7))};
	memcpy(p, b, sizeof(b));
}

/*
 * A turned probe's 2 MiB slot in place of its bextr (5 bytes), in eax (the slot is the address's bits
 * 21-31: RV_TLB_MEGA_SIZE):
 *   from rax (a displacement's lea before it)  shr eax, 21; nop
 *   from rcx, rdx, rsi or rdi                  mov eax, src32; shr eax, 21
 *   from r8-r15 with `mov rcx, src` next, the bextr, that mov and the page mask's and (15 bytes)
 *   become                                     mov rcx, src; and rcx, mask; mov eax, ecx; shr eax, 21
 *   from r8-r15 otherwise                      call the thunk for src (emit_mega_slots)
 * The slot may come from either end of the bytes accessed and the page from the other: a hit
 * means the slot of the one holds the page of the other, the same page (adjacent pages' slots
 * differ).
 */
static const uint8_t shr_slot[3] = {0xc1, 0xe8, RV_MEGA_SHIFT}; /* shr eax, 21 */

/* Whether the probe's bextr from r8-r15 has `mov rcx, src` and the page mask's and right after it. */
static bool bextr_then_mov(const struct probe_site *s)
{
	const uint8_t *at = (const uint8_t *)s + s->bextr_at + 5,
	              mov[3] = {0x49, 0x8b, (uint8_t)(0xc8 | (s->src & 7))};
	return s->src >= 8 && s->at[2] == s->bextr_at + 5 + 3 + 3 && !memcmp(at, mov, 3);
}

/* Where the probe's page mask (an and's imm32) lies now, from the site. */
static int32_t page_mask_at(const struct probe_site *s)
{
	const uint8_t *at = (const uint8_t *)s + s->bextr_at;
	return s->bextr_at && at[0] == 0x49 ? s->bextr_at + 3 + 3 : s->at[2]; /* moved up: mega, inline */
}

static void aim_slot(struct probe_site *s, bool mega)
{
	uint8_t *at = (uint8_t *)s + s->bextr_at;
	const bool moved = at[0] == 0x49; /* mov rcx, src first: mega, inline */
	if (!mega) {
		if (moved) memmove(at + 5, at, 3 + 7); /* mov rcx, src; and rcx, mask after the bextr */
		put_bextr(at, s->src);
	} else if (s->src == RAX) {
		memcpy(at, shr_slot, 3);
		at[3] = 0x66, at[4] = 0x90; /* nop */
	} else if (s->src < 8) {
		at[0] = 0x8b, at[1] = (uint8_t)(0xc0 | s->src); /* mov eax, src32 */
		memcpy(at + 2, shr_slot, 3);
	} else if (bextr_then_mov(s)) {
		memmove(at, at + 5, 3 + 7);   /* mov rcx, src; and rcx, mask */
		at[10] = 0x8b, at[11] = 0xc1; /* mov eax, ecx */
		memcpy(at + 12, shr_slot, 3);
	} else if (!moved) {
		const int32_t rel = s->mega_slot - (s->bextr_at + 5);
		at[0] = 0xe8;
		memcpy(at + 1, &rel, 4);
	}
}

/* A probe with its slot from the base (emit_base_slot_lookup) takes it from the access's near end,
 * as every other probe does: lea rax, [base + near] where the nops were; the bextr, or what stands
 * for it, from rax (aim_slot). */
static void probe_site_unbase(struct rv_hart *h, struct probe_site *s)
{
	struct emit e = {.p = (uint8_t *)s + s->lea_at};
	lea_disp(&e, RAX, s->lea_base, s->near);
	s->src = RAX;
	s->lea_at = 0;
	h->tlb_counts.probes_unbased++;
}

static void probe_site_aim(struct rv_hart *h, struct probe_site *s, bool mega)
{
	uint8_t *base = (uint8_t *)s;
	/* From r8-r15 the 2 MiB slot would take a call (aim_slot); from rax it is a shift in place. */
	if (mega && s->lea_at && s->src >= 8) probe_site_unbase(h, s);
	if (s->bextr_at) { /* the bextr, or what finds the 2 MiB slot */
		aim_slot(s, mega);
	} else { /* a shift and a mask */
		base[s->at[0]] = (uint8_t)slot_shift(mega);
		const uint32_t m = slot_mask(mega);
		memcpy(base + s->at[1], &m, 4);
	}
	const uint32_t pm = page_mask(mega);
	memcpy(base + page_mask_at(s), &pm, 4);
	add_disp32(base + s->at[3], (int64_t)tag_table(s->table, mega) - tag_table(s->table, !mega));
	add_disp32(base + s->at[4], (int64_t)addend_table(s->table, mega) - addend_table(s->table, !mega));
	s->evidence = 0;
}

/* Whether the probe looks up the 2 MiB table (no bextr where it was, or its shift, says). */
static bool probe_site_mega(const struct probe_site *s)
{
	if (s->bextr_at) return ((const uint8_t *)s)[s->bextr_at] != 0xc4;
	return ((const uint8_t *)s)[s->at[0]] == RV_MEGA_SHIFT;
}

/* Whether a load's probe is (still) the hinted one: mov rax, [its slot's entry]. */
static bool probe_hinted(const struct probe_site *s)
{
	const uint8_t *p = (const uint8_t *)s + s->hint_at;
	return s->hint_at && p[0] == 0x48 && p[1] == 0x8b && p[2] == 0x85; /* mov rax, [rbp + disp32] */
}

/* Whether a hinted load still counts its runs (not a nop yet). */
static bool probe_counting(const struct probe_site *s)
{
	return memcmp((const uint8_t *)s + s->hint_at + s->runs_at, count_nop, HINT_COUNT_LEN) != 0;
}

/* Whether a hinted load on trial guessed wrong too often. */
static bool hint_bad(const struct rv_jit_hint *d)
{
	return (uint64_t)d->misses * PROBE_HINT_RATIO > d->runs;
}

/* Whether a trial that ends now shows the hint good: often right, over enough runs (a load that
 * ran little, say in a block made among many others, has shown nothing: it may become hot later). */
static bool hint_proved(const struct rv_jit_hint *d)
{
	return d->runs >= PROBE_HINT_RUNS && !hint_bad(d);
}

/* A hinted load goes back to its probe, for good. */
static void probe_unhint(struct rv_hart *h, struct probe_site *s)
{
	memcpy((uint8_t *)s + s->hint_at, s->probe, s->probe_len);
	h->tlb_counts.hints_dropped++;
	h->jit_hints->slot[s->slot].runs = PROBE_HINT_TRIAL; /* its trial is over (settle_hints) */
}

/* A hinted load at the end of its trial: gives its hint up or stops counting. */
static void probe_settle(struct rv_hart *h, struct probe_site *s)
{
	if (!s || !probe_hinted(s) || !probe_counting(s)) return; /* given up or settled */
	if (!hint_proved(&h->jit_hints->slot[s->slot]))
		probe_unhint(h, s);
	else
		memcpy((uint8_t *)s + s->hint_at + s->runs_at, count_nop, HINT_COUNT_LEN);
}

/*
 * Whether a probe with its slot from the base (emit_base_slot_lookup) missed because the base lay on
 * another page than the access (va: its first byte); after PROBE_SITE_CROSSED such misses the slot
 * comes from the access's near end instead (probe_site_unbase).
 */
static bool probe_site_crossed(struct rv_hart *h, struct probe_site *s, uint64_t va, bool mega)
{
	if (!s->lea_at) return false;
	const int32_t lo = s->near < s->far ? s->near : s->far;
	const uint64_t base = va - (uint64_t)(int64_t)lo, far = base + (uint64_t)(int64_t)s->far;
	if (!((base ^ far) >> (mega ? RV_MEGA_SHIFT : RV_PAGE_SHIFT))) return false;
	if (++s->crossed < PROBE_SITE_CROSSED) return true;
	probe_site_unbase(h, s);
	aim_slot(s, mega);
	return true;
}

/* After a miss of the access with record `site` to va (done); for a hinted load, a wrong hint. */
static void probe_site_note(struct rv_hart *h, void *site, uint64_t va, bool write)
{
	struct probe_site *s = site;
	if (probe_hinted(s)) {
		const struct rv_jit_hint *d = &h->jit_hints->slot[s->slot];
		if (d->misses >= PROBE_HINT_MIN && probe_counting(s) && hint_bad(d)) probe_unhint(h, s);
		return;
	}
	bool in_mega = rv_tlb_mega_maps(h, va, write), mega = probe_site_mega(s);
	if (probe_site_crossed(h, s, va, mega)) return;
	if (mega) { /* every access elsewhere comes here: count them all */
		if (in_mega || ++s->evidence < PROBE_SITE_TO_PAGES) return;
		s->turns_back++;
	} else { /* only misses come here: a run of them in 2 MiB pages */
		if (!in_mega) {
			if (s->evidence)
				s->evidence = 0; /* the record lies in the code cache: no needless store */
			return;
		}
		if (s->turns_back >= PROBE_SITE_TURNS || ++s->evidence < PROBE_SITE_TO_MEGA) return;
	}
	probe_site_aim(h, s, !mega);
	h->tlb_counts.probe_turns++;
}

/* ---- helpers called from generated code ---- */
/* Translated FP's pending flags are taken before the C a miss runs (internal.h). */
#define LOAD_HELPER(name, fn)                                                                                \
	static uint64_t name(struct rv_hart *h, uint64_t a)                                                  \
	{                                                                                                    \
		rv_fp_sync_flags(h);                                                                         \
		void *site = h->jit_site;                                                                    \
		h->jit_site = NULL;                                                                          \
		uint64_t v = fn(h, a);                                                                       \
		if (site) probe_site_note(h, site, a, false);                                                \
		return v;                                                                                    \
	}
LOAD_HELPER(h_lb, rv_load_s8)
LOAD_HELPER(h_lh, rv_load_s16)
LOAD_HELPER(h_lw, rv_load_s32)
LOAD_HELPER(h_ld, rv_load_u64)
LOAD_HELPER(h_lbu, rv_load_u8)
LOAD_HELPER(h_lhu, rv_load_u16)
LOAD_HELPER(h_lwu, rv_load_u32)
static void store_helper(struct rv_hart *h, uint64_t a, unsigned size, uint64_t v)
{
	rv_fp_sync_flags(h);
	void *site = h->jit_site;
	h->jit_site = NULL;
	rv_store(h, a, size, v);
	if (site) probe_site_note(h, site, a, true);
}
static void h_sb(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 1, v);
}
static void h_sh(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 2, v);
}
static void h_sw(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 4, v);
}
static void h_sd(struct rv_hart *h, uint64_t a, uint64_t v)
{
	store_helper(h, a, 8, v);
}
/* The slow path on which the interpreter runs `op` (K_GENERIC); its jumps and `done` come later. */
struct slow_path interp_slow_path(const struct block_ctx *c, const struct rv_op *op, uint64_t pc,
                                  unsigned len, int k)
{
	return (struct slow_path){.pc = pc,
	                          .k = k,
	                          .kind = K_GENERIC,
	                          .dirty = c->dirty,
	                          .insn = (uint32_t)op->imm,
	                          .raw = op->raw,
	                          .len = len};
}
/* opc reg, [rax * 8 + disp] (a U-mode block: rax the slot) or [rax + disp] (rax the slot's offset plus
 * tlb_cur), reg rax or rcx; returns where disp lies. */
static uint8_t *op_slot(struct emit *e, bool user, uint8_t opc, int reg, uint32_t disp)
{
	e8(e, 0x48); /* REX.W */
	e8(e, opc);
	if (user) {
		e8(e, (uint8_t)(0x04 | reg << 3)); /* mod 00, rm 100: SIB and disp32 */
		e8(e, 0xc5);                       /* scale 8, index rax, no base */
	} else {
		e8(e, (uint8_t)(0x80 | reg << 3)); /* mod 10, rm rax: disp32 */
	}
	uint8_t *at = e->p;
	e32(e, disp);
	return at;
}

static bool use_bextr; /* the host has BMI1, and CLOISON_JIT_NO_BMI does not say otherwise (tests) */
_Static_assert(RV_PAGE_SHIFT == 12 && RV_TLB_SIZE == 1 << 16 && BUDGET_LOW == (12 | 16 << 8),
               "the budget register's low bits: the 4 KiB table's bextr control");

void jit_mem_init(void)
{
	use_bextr = __builtin_cpu_supports("bmi") && !getenv("CLOISON_JIT_NO_BMI");
}

/*
 * The TLB lookup of an access whose first byte is at `first_base` +
 * `first_disp` and whose last byte is at `last_base` + `last_disp` (registers
 * and displacements): rax <- its slot (the first byte's page number's low
 * bits: in U-mode one bextr, whose control the budget register's low bits
 * hold, else or on a host without BMI1 a shift and a mask), rcx <- the last
 * byte's page, compared with the slot's tag (an access
 * crossing the page misses); jne miss (returned: its rel32 to patch); on a hit
 * rax <- the slot's addend and, under --stats, `accesses` lookups are counted.
 * A U-mode block addresses the U set's tables at their fixed place in the hart
 * (rax scaled by 8: one cycle from the address to the entry's loads where it
 * is in a register), others add tlb_cur. The two ends may come either way
 * round: a hit means the slot of the one holds the page of the other, the same
 * page (adjacent pages' slots differ).
 */
uint8_t *emit_tlb_lookup(struct block_ctx *c, int first_base, int32_t first_disp, int last_base,
                         int32_t last_disp, uint32_t table, unsigned accesses)
{
	struct emit *e = &c->e;
	struct probe_patch *pp = &c->lookup;
	pp->table = table;
	pp->lea_at = NULL;
	int src = first_base;
	if (first_disp) {
		lea_disp(e, RAX, first_base, first_disp);
		src = RAX;
	}
	pp->bextr = NULL;
	if (use_bextr && c->user) {
		pp->shr = pp->slot = NULL;
		pp->bextr = e->p;
		pp->src = src;
		put_bextr(e->p, src);
		e->p += 5;
	} else {
		/* A U-mode block's slot number, or another's offset (slot * 8) to add to tlb_cur. */
		const unsigned scale = c->user ? 0 : 3;
		if (src != RAX) op_rr(e, 0x8b, RAX, src, false); /* mov eax, src32 */
		EB(e, "\xc1\xe8");                               /* shr eax, shift */
		pp->shr = e->p;
		e8(e, (uint8_t)(slot_shift(false) - scale));
		e8(e, 0x25); /* and eax, slot mask */
		pp->slot = e->p;
		e32(e, slot_mask(false) << scale);
	}
	if (!c->user) {
		EB(e, "\x48\x03");
		modrm_hart(e, RAX, (uint32_t)offsetof(struct rv_hart, tlb_cur)); /* add rax, tlb_cur */
	}
	if (last_disp)
		lea_disp(e, RCX, last_base, last_disp);
	else if (last_base != RCX)
		op_rr(e, 0x8b, RCX, last_base, true);
	EB(e, "\x48\x81\xe1");
	pp->page_mask = e->p;
	e32(e, page_mask(false)); /* and rcx, -4096 */
	const uint32_t u = c->user ? e->hart + (uint32_t)offsetof(struct rv_hart, tlb[RV_TLB_SET_U]) : 0;
	pp->cmp = op_slot(e, c->user, 0x3b, RCX, u + tag_table(table, false)); /* cmp rcx, tag */
	EB(e, "\x0f\x85");                                                     /* jne miss */
	uint8_t *fix = e->p;
	e32(e, 0);
	pp->mov = op_slot(e, c->user, 0x8b, RAX, u + addend_table(table, false)); /* mov rax, addend */
	if (c->count_tlb) add_field_imm8(e, offsetof(struct rv_hart, tlb_counts.lookups), (int8_t)accesses);
	return fix;
}

static const char *const nops[10] = {"",
                                     "\x90",
                                     "\x66\x90",
                                     "\x0f\x1f\x00",
                                     "\x0f\x1f\x40\x00",
                                     "\x0f\x1f\x44\x00\x00",
                                     "\x66\x0f\x1f\x44\x00\x00",
                                     "\x0f\x1f\x80\x00\x00\x00\x00",
                                     "\x0f\x1f\x84\x00\x00\x00\x00\x00",
                                     "\x66\x0f\x1f\x84\x00\x00\x00\x00\x00"};
static void pad_with_nops(struct emit *e, const uint8_t *end)
{
	while (e->p < end) {
		unsigned n = (unsigned)(end - e->p) < 9 ? (unsigned)(end - e->p) : 9;
		emit_bytes(e, nops[n], n);
	}
}

/*
 * The lookup of a lone U-mode access to [b + lo, b + hi], all on one side of the base register b
 * (lo > 0 or hi < 0), as emit_tlb_lookup but with its slot from the base itself: no lea before the
 * bextr, a cycle less from the base to the addend on a chain of dependent loads. The tag is
 * compared with the far end's page, so a hit means that the base and all the bytes lie on one page
 * (hi < 4 KiB from it). An access whose base lies on another page misses (its helper counts that
 * and turns the probe to the usual form: probe_site_crossed), so nops as long as that lea come
 * first.
 */
static uint8_t *emit_base_slot_lookup(struct block_ctx *c, int b, int32_t lo, int32_t hi, uint32_t table)
{
	struct emit *e = &c->e;
	const int32_t near = lo > 0 ? lo : hi, far = lo > 0 ? hi : lo;
	uint8_t scratch[16], *const lea_at = e->p;
	struct emit le = {.p = scratch};
	lea_disp(&le, RAX, b, near);
	pad_with_nops(e, e->p + (le.p - scratch));
	uint8_t *fix = emit_tlb_lookup(c, b, 0, b, far, table, 1);
	c->lookup.lea_at = lea_at;
	c->lookup.base = b;
	c->lookup.near = near;
	c->lookup.far = far;
	return fix;
}

/*
 * The TLB probe (read or write `table`) of the bytes x[rs1] + lo .. x[rs1] +
 * hi, in rax and rcx only: on a hit execution falls through with rax = the
 * host addend and *base = x[rs1]'s host register (an access is then at
 * [*base + rax + offset]), or *base = -1 with rax = the host address of
 * x[rs1] (an access is at [rax + offset]); on a miss (or bytes crossing a
 * page) it jumps to the returned fixup. `accesses` counts for --stats.
 * from_base: the slot from x[rs1] itself (emit_base_slot_lookup; a lone
 * access with a site record only).
 */
static uint8_t *tlb_probe(struct block_ctx *c, unsigned rs1, int32_t lo, int32_t hi, uint32_t table,
                          unsigned accesses, int *base, bool from_base)
{
	int b = rs1 ? c->host[rs1] : -1;
	*base = b;
	if (b < 0) {
		get_x(c, RCX, rs1);
		b = RCX;
	}
	uint8_t *fix = from_base ? emit_base_slot_lookup(c, b, lo, hi, table)
	                         : emit_tlb_lookup(c, b, lo, b, hi, table, accesses);
	if (*base < 0 && rs1) op_rm_hart(&c->e, 0x03, RAX, xoff(rs1), true); /* add rax, x[rs1] */
	return fix;
}
uint8_t *emit_tlb_probe(struct block_ctx *c, unsigned rs1, int32_t lo, int32_t hi, uint32_t table,
                        unsigned accesses, int *base)
{
	return tlb_probe(c, rs1, lo, hi, table, accesses, base, false);
}
uint32_t tlb_table(bool write)
{
	return write ? (uint32_t)offsetof(struct rv_tlb_set, write) : 0;
}

_Static_assert(sizeof(((struct rv_hart *)0)->jit_probe_addend) / sizeof(uint64_t) == JIT_PROBE_GROUPS,
               "a slot per shared probe");
static uint32_t probe_slot(int g)
{
	return (uint32_t)(offsetof(struct rv_hart, jit_probe_addend) + 8 * (unsigned)g);
}

/* A shared probe's member: rax <- group g's addend from its slot; jnz (its rel32 returned, to patch)
 * where a miss marked the slot. */
static uint8_t *emit_slot_addend(struct block_ctx *c, int g)
{
	struct emit *e = &c->e;
	op_rm_hart(e, 0x8b, RAX, probe_slot(g), true); /* mov rax, [slot] */
	EB(e, "\xa8\x01");                             /* test al, 1 */
	EB(e, "\x0f\x85");                             /* jnz */
	uint8_t *fix = e->p;
	e32(e, 0);
	if (c->count_tlb) add_field_imm8(e, offsetof(struct rv_hart, tlb_counts.lookups), 1);
	return fix;
}

/* A shared probe's part in an access's miss path: the way back after its own probe. */
struct reprobe {
	uint8_t *resume; /* NULL: the access probed for itself */
	int slot;        /* the group's slot to mark invalid (its first access), or -1 */
};

/*
 * The probe of the access at instruction index k (as in emit_op) to x[rs1] +
 * imm .. + size - 1, as emit_tlb_probe: its group's shared probe if it has
 * one (jit_probe.h). The group's first access probes all the group's bytes
 * from its base and keeps the addend in the group's slot (a miss or a span
 * across a page leaves 1 there, never an addend); the others take it from
 * the slot. Either way a miss goes to the access's own probe, out of line
 * (*rp says where it goes back to).
 */
static uint8_t *emit_access_probe(struct block_ctx *c, int k, unsigned rs1, int32_t imm, unsigned size,
                                  bool store, int *base, struct reprobe *rp)
{
	const int i = k + (int)c->n;
	const int g = i >= 0 && i < (int)c->n ? c->probes.group[i] : -1;
	rp->resume = NULL;
	rp->slot = -1;
	const int32_t last = imm + (int32_t)size - 1;
	if (g < 0) /* alone: its slot from the base where its bytes lie on one side of it */
		return tlb_probe(c, rs1, imm, last, tlb_table(store), 1, base,
		                 c->user && use_bextr && rs1 && (imm > 0 || last < 0));
	struct emit *e = &c->e;
	const struct jit_probe_group *pg = &c->probes.g[g];
	uint8_t *fix;
	if (c->probes.first[i]) {
		int b = c->host[pg->base];
		if (b < 0) {
			get_x(c, RCX, pg->base);
			b = RCX;
		}
		/* The slot from the end at the base itself where one is (no lea before the bextr: a cycle
		 * less from the address to the addend, as in gzip's `match[best_len - 1]` group), the
		 * page from the other. */
		if (pg->hi == 0 && pg->lo != 0)
			fix = emit_tlb_lookup(c, b, pg->hi, b, pg->lo, tlb_table(store), 1);
		else
			fix = emit_tlb_lookup(c, b, pg->lo, b, pg->hi, tlb_table(store), 1);
		if (pg->members > 1) {
			rp->slot = g;
			op_rm_hart(e, 0x89, RAX, probe_slot(g), true); /* mov [slot], rax */
		}
	} else {
		fix = emit_slot_addend(c, g);
	}
	rp->resume = e->p;
	*base = c->host[rs1];
	if (*base < 0) op_rm_hart(e, 0x03, RAX, xoff(rs1), true); /* add rax, x[rs1] */
	return fix;
}

/* opc reg, [base + rax + disp] (or the store direction, by opcode), or [rax + disp] for base -1; a byte
 * store's register needs a REX prefix to be sil/dil/bpl rather than dh/bh/ch. */
void op_base_rax(struct emit *e, unsigned opc, int reg, int base, int32_t disp, bool w64, bool byte_reg)
{
	uint8_t r = (uint8_t)(0x40 | (w64 ? 8 : 0) | ((reg & 8) ? 4 : 0) | (base >= 0 && (base & 8) ? 1 : 0));
	if (r != 0x40 || byte_reg) e8(e, r);
	opcode(e, opc);
	if (base < 0) {
		e8(e, (uint8_t)(0x80 | (reg & 7) << 3 | RAX)); /* mod 10, rm rax: disp32 */
	} else {
		e8(e, (uint8_t)(0x84 | (reg & 7) << 3)); /* mod 10, rm 100: SIB and disp32 */
		e8(e, (uint8_t)(RAX << 3 | (base & 7))); /* index rax, scale 1 */
	}
	e32(e, (uint32_t)disp);
}

/* The opcode of an integer load kind (into a 64-bit register when load_w64[kind]). */
static const unsigned load_opc[K_COUNT] = {
    [K_LB] = 0x0fbe, [K_LBU] = 0x0fb6, [K_LH] = 0x0fbf, [K_LHU] = 0x0fb7,
    [K_LW] = 0x63,   [K_LWU] = 0x8b,   [K_LD] = 0x8b};
static const bool load_w64[K_COUNT] = {[K_LB] = true, [K_LH] = true, [K_LW] = true, [K_LD] = true};

void patch_to_here(struct emit *e, uint8_t *fix)
{
	if (!fix) return;
	uint32_t rel = (uint32_t)(e->p - (fix + 4));
	memcpy(fix, &rel, 4);
}

/* The miss path of the access just emitted (the fast path goes on from here): `store_rs2` is a store's
 * data register (an f register if fp_data), -1 for a load; the address is x[rs1] + imm. */
void access_slow_path(struct block_ctx *c, uint8_t *fix, uint64_t pc, int k, unsigned kind, int store_rs2,
                      bool fp_data, unsigned rs1, int32_t imm, int load_dst)
{
	c->slow[c->nslow++] = (struct slow_path){.fix = fix,
	                                         .load_dst = load_dst,
	                                         .done = c->e.p,
	                                         .pc = pc,
	                                         .k = k,
	                                         .kind = kind,
	                                         .store_rs2 = store_rs2,
	                                         .dirty = c->dirty,
	                                         .fp_data = fp_data,
	                                         .addr_rs1 = rs1,
	                                         .addr_imm = imm};
}

/* The access's slow path just made (access_slow_path) starts with its own probe when it shared one. */
static void with_reprobe(struct block_ctx *c, const struct reprobe *rp)
{
	c->slow[c->nslow - 1].resume = rp->resume;
	c->slow[c->nslow - 1].slot = rp->slot;
}

/* ... and a probe site (the record its helper may re-aim the probe by) when the access probed alone
 * in a U-mode block. */
static void with_site(struct block_ctx *c, const struct reprobe *rp)
{
	if (!rp->resume && c->user) c->slow[c->nslow - 1].site = c->lookup;
}

/* A field of a hinted load's slot, as an offset from the hart (modrm_hart adds it back). */
static uint32_t hint_field(const struct emit *e, const struct slow_path *s, size_t field)
{
	const struct rv_hart *h = (const struct rv_hart *)(uintptr_t)e->hart;
	return (uint32_t)((uintptr_t)&h->jit_hints->slot[s->hint_slot] + field - e->hart);
}

/* A slot for a hinted load (the next in turn): its last load settled, on trial in its place. */
static unsigned hint_slot(struct rv_hart *h)
{
	struct rv_jit_hints *H = h->jit_hints;
	const unsigned slot = H->next++ % RV_JIT_HINTS;
	struct rv_jit_hint *d = &H->slot[slot];
	bool on_trial = false;
	if (d->record) {
		probe_settle(h, d->record);
		for (unsigned i = 0; i < H->ntrial; i++) on_trial |= H->trial[i] == slot;
	}
	if (!on_trial && H->ntrial == RV_JIT_TRIALS) { /* the oldest trial ends with what it has seen */
		probe_settle(h, H->slot[H->trial[0]].record);
		memmove(H->trial, H->trial + 1, (RV_JIT_TRIALS - 1) * sizeof(H->trial[0]));
		H->ntrial--;
	}
	if (!on_trial) H->trial[H->ntrial++] = (uint16_t)slot;
	H->no_entry = RV_TLB_INVALID;
	*d = (struct rv_jit_hint){.entry = &H->no_entry}; /* its record comes with its miss path */
	return slot;
}

/*
 * The hinted probe of the load at x[base] + imm of `kind` with hint slot `slot`: the entry the
 * last access used, its tag checked against the address's page (a misaligned address never
 * matches), its addend; a run counted (until the hint proves good). *wrong: the offset of its jne
 * rel32 (a wrong hint); *runs: that of its run count. The same length whatever the slot.
 */
static void emit_hinted_probe(struct block_ctx *c, struct emit *e, unsigned slot, int base, int32_t imm,
                              unsigned kind, unsigned *wrong, unsigned *runs)
{
	const struct slow_path s = {.hint_slot = (int)slot};
	uint8_t *start = e->p;
	EB(e, "\x48\x8b"); /* mov rax, [hart + the slot's entry] (a disp32: probe_hinted knows it) */
	modrm_hart_as(e, RAX, hint_field(e, &s, offsetof(struct rv_jit_hint, entry)), true);
	if (imm)
		lea_disp(e, RCX, base, imm);
	else
		op_rr(e, 0x8b, RCX, base, true);
	EB(e, "\x48\x81\xe1");
	e32(e, (uint32_t)RV_PAGE_MASK | (access_size(kind) - 1)); /* and rcx, page and alignment */
	EB(e, "\x48\x3b\x08");                                    /* cmp rcx, [rax] (the entry's tag) */
	EB(e, "\x0f\x85");                                        /* jne: a wrong hint */
	*wrong = (unsigned)(e->p - start);
	e32(e, 0);
	EB(e, "\x48\x8b\x80"); /* mov rax, [rax + addends - tags] (its addend) */
	e32(e, (uint32_t)offsetof(struct rv_tlb_table, addend));
	*runs = (unsigned)(e->p - start);
	EB(e, "\x48\x83"); /* add qword [hart + the slot's runs], 1 */
	modrm_hart_as(e, 0, hint_field(e, &s, offsetof(struct rv_jit_hint, runs)), true);
	e8(e, 1);
	assert(e->p - start == *runs + HINT_COUNT_LEN);
	if (c->count_tlb) add_field_imm8(e, offsetof(struct rv_hart, tlb_counts.lookups), 1);
}

/* Whether the load at instruction index k (as in emit_op) gets a page hint: its address comes from
 * a load (plan_hints), it probes alone (no shared probe: rp), in a U-mode block, through a host
 * register. */
static bool hinted(const struct block_ctx *c, int k, const struct reprobe *rp, int base)
{
	const int i = k + (int)c->n; /* k counts from -n (jit_x86_64.c) */
	const struct rv_hart *h = (const struct rv_hart *)(uintptr_t)c->e.hart;
	return i >= 0 && i < (int)c->n && c->chained[i] && !c->out_of_line && c->user && !rp->resume &&
	       base >= 0 && h->jit_hints && (c->lookup.slot || c->lookup.bextr);
}

/* A probe that may be hinted, from `probe` on: padded to the hinted probe's length. */
static void pad_for_hint(struct block_ctx *c, const uint8_t *probe, int base, int32_t imm, unsigned kind)
{
	uint8_t scratch[JIT_HINT_MAX + 16];
	struct emit he = {.p = scratch, .exit = c->e.exit, .hart = c->e.hart};
	unsigned wrong, runs;
	emit_hinted_probe(c, &he, 0, base, imm, kind, &wrong, &runs);
	pad_with_nops(&c->e, probe + (he.p - scratch));
}

/*
 * A load with a site whose address comes from a load (hinted): its probe, at [probe, end) in the
 * main path, is kept in *s and replaced by the hinted one (emit_hinted_probe; the probe was padded
 * to its length). A wrong hint goes out of line (emit_wrong_hint).
 */
static void hint_load(struct block_ctx *c, struct slow_path *s, uint8_t *probe, uint8_t *end, int base)
{
	const unsigned len = (unsigned)(end - probe);
	struct rv_hart *h = (struct rv_hart *)(uintptr_t)c->e.hart;
	if (len > JIT_HINT_MAX) return;
	const unsigned slot = hint_slot(h);
	s->hint_slot = (int)slot;
	memcpy(s->probe, probe, len);
	s->probe_len = len;
	s->probe_fix = (unsigned)(s->fix - probe);
	struct emit pe = {.p = probe, .exit = c->e.exit, .hart = c->e.hart};
	unsigned wrong;
	emit_hinted_probe(c, &pe, slot, base, s->addr_imm, s->kind, &wrong, &s->hint_runs);
	pad_with_nops(&pe, end);
	s->hint_at = probe;
	s->hint_wrong = probe + wrong;
	h->tlb_counts.hints++;
	s->fix = NULL; /* the probe's miss jump is in s->probe now */
}

/*
 * A compare pair (block_ctx.pair) after its first load: the second value from the group's slot into
 * rcx (a slot a miss marked leaves at the first bne: the interpreter or another block goes on
 * there), rax <- x ^ r1 (zero: the first compare agrees), y <- the second value where it agrees
 * (cmovz), rcx <- (value ^ r2) | rax, whose flags the second bne takes (emit_op emits it next as
 * if it had compared). Where the first compare differs the path runs two instructions fewer than
 * the budget charged: hart.jit_pair_skips counts it (neg and adc), not the budget register, so
 * that the loop's budget test does not wait on the loaded bytes.
 */
void emit_compare_pair(struct block_ctx *c, const struct rv_op *ops, uint64_t pc2, int k,
                       struct side_exit *side, unsigned *nside)
{
	struct emit *e = &c->e;
	const struct rv_op *b1 = &ops[1], *l2 = &ops[2], *b2 = &ops[3];
	const unsigned kind2 = rv_op_kind(l2), x = ops[0].rd, y = l2->rd;
	const unsigned r1 = b1->rs1 == x ? b1->rs2 : b1->rs1, r2 = b2->rs1 == y ? b2->rs2 : b2->rs1;
	const int g = c->probes.group[k + 2 + (int)c->n];
	/* Where the first load probed for the group (x is in a host register: plan_pairs), its miss
	 * leaves the block at the first bne itself (its helper loads x), so on the way here rax still
	 * holds the probe's addend (base in memory: the base's host address): no slot to read back and
	 * test. Where an earlier access probed for the group, a marked slot leaves there. */
	struct slow_path *s1 = c->nslow ? &c->slow[c->nslow - 1] : NULL;
	const bool direct =
	    s1 && s1->k == k && s1->resume && s1->slot == g && !s1->hint_at && s1->done == e->p;
	struct side_exit *out = &side[(*nside)++];
	*out = (struct side_exit){.fix = direct ? NULL : emit_slot_addend(c, g),
	                          .target = pc2,
	                          .refund = owed_after(c, k),
	                          .dirty = c->dirty,
	                          .inside = -1};
	const int base = c->host[l2->rs1];
	if (direct) {
		s1->exit = out;
		if (c->count_tlb) add_field_imm8(e, offsetof(struct rv_hart, tlb_counts.lookups), 1);
	} else if (base < 0) {
		op_rm_hart(e, 0x03, RAX, xoff(l2->rs1), true); /* add rax, x[rs1] */
	}
	op_base_rax(e, load_opc[kind2], RCX, base, l2->imm, load_w64[kind2], false);
	get_x(c, RAX, x);
	alu_x(c, 0x33, RAX, r1, true);           /* xor rax, x[r1] */
	op_rr(e, 0x0f44, c->host[y], RCX, true); /* cmovz y, rcx */
	alu_x(c, 0x33, RCX, r2, true);           /* xor rcx, x[r2] */
	/* --stats: the second load was counted above, yet it ran only if x == r1. */
	if (c->count_tlb) {
		EB(e, "\x48\x83\xf8\x01"); /* cmp rax, 1: carry when rax == 0 */
		EB(e, "\x48\x83");
		modrm_hart(e, 2, (uint32_t)offsetof(struct rv_hart, tlb_counts.lookups));
		e8(e, 0xff); /* adc qword [lookups], -1 */
	}
	EB(e, "\x48\xf7\xd8"); /* neg rax: carry when rax != 0 */
	e8(e, 0x83);
	modrm_hart(e, 2, (uint32_t)offsetof(struct rv_hart, jit_pair_skips));
	e8(e, 0);                       /* adc dword [jit_pair_skips], 0: two instructions not run */
	op_rr(e, 0x0b, RCX, RAX, true); /* or rcx, rax: the flags of the second bne */
	written(c, y);
	c->flags_at = e->p, c->flags_rs1 = b2->rs1, c->flags_rs2 = b2->rs2;
}

void emit_load(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k)
{
	static const unsigned sizes[] = {
	    [K_LB] = 1, [K_LH] = 2, [K_LW] = 4, [K_LD] = 8, [K_LBU] = 1, [K_LHU] = 2, [K_LWU] = 4};
	struct emit *e = &c->e;
	int base;
	struct reprobe rp;
	uint8_t *probe = e->p;
	uint8_t *fix = emit_access_probe(c, k, op->rs1, op->imm, sizes[kind], false, &base, &rp);
	const bool hint = hinted(c, k, &rp, base);
	if (hint) pad_for_hint(c, probe, base, op->imm, kind);
	uint8_t *end = e->p;
	/* Straight into x[rd]'s host register if it has one, else into rax. */
	int d = op->rd && op->rd < 32 ? c->host[op->rd] : -1;
	op_base_rax(e, load_opc[kind], d >= 0 ? d : RAX, base, op->imm, load_w64[kind], false);
	access_slow_path(c, fix, pc, k, kind, -1, false, op->rs1, op->imm, d);
	with_reprobe(c, &rp);
	with_site(c, &rp);
	if (hint) hint_load(c, &c->slow[c->nslow - 1], probe, end, base);
	if (d >= 0)
		written(c, op->rd);
	else
		set_x(c, op->rd, RAX);
}

bool is_store(unsigned kind)
{
	return kind >= K_SB && kind <= K_SD;
}

/* mov qword [slot], 1 (a group's first access missed): the group's other accesses probe for
 * themselves. Nothing for slot -1. */
static void mark_slot(struct emit *e, int slot)
{
	if (slot < 0) return;
	EB(e, "\x48\xc7");
	modrm_hart(e, 0, probe_slot(slot));
	e32(e, 1);
}

/* The miss path's start for an access with a shared probe: its own probe, back to the access on a hit. */
static void emit_reprobe(struct block_ctx *c, const struct slow_path *s)
{
	struct emit *e = &c->e;
	mark_slot(e, s->slot);
	int b = c->host[s->addr_rs1];
	if (b < 0) {
		get_x(c, RCX, s->addr_rs1);
		b = RCX;
	}
	const int32_t last = s->addr_imm + (int32_t)access_size(s->kind) - 1;
	uint8_t *miss = emit_tlb_lookup(c, b, s->addr_imm, b, last, tlb_table(is_store(s->kind)), 1);
	e8(e, 0xe9); /* jmp resume */
	e32(e, (uint32_t)(int32_t)(s->resume - (e->p + 4)));
	patch_to_here(e, miss);
}

/* An access's site record, here (after a jump: never executed), for the lea at `lea` (its rel32). */
static void emit_probe_site(struct block_ctx *c, const struct slow_path *s, uint8_t *lea)
{
	struct emit *e = &c->e;
	while ((uintptr_t)e->p & 3) e8(e, 0xcc); /* int3 */
	const struct probe_patch *pp = &s->site;
	struct probe_site rec = {.table = pp->table};
	uint8_t *const at[5] = {pp->shr, pp->slot, pp->page_mask, pp->cmp, pp->mov};
	for (unsigned i = 0; i < 5; i++) rec.at[i] = at[i] ? (int32_t)(at[i] - e->p) : 0;
	if (pp->lea_at) {
		rec.lea_at = (int32_t)(pp->lea_at - e->p);
		rec.near = (int16_t)pp->near;
		rec.far = (int16_t)pp->far;
		rec.lea_base = (uint8_t)pp->base;
	}
	if (pp->bextr) {
		rec.bextr_at = (int32_t)(pp->bextr - e->p);
		rec.mega_slot = (int32_t)(c->mega_slot[pp->src] - e->p);
		rec.src = (uint8_t)pp->src;
	}
	if (s->hint_at) {
		struct rv_hart *h = (struct rv_hart *)(uintptr_t)e->hart;
		h->jit_hints->slot[s->hint_slot].record = e->p;
		rec.hint_at = (int32_t)(s->hint_at - e->p);
		rec.runs_at = (uint8_t)s->hint_runs;
		rec.slot = (uint16_t)s->hint_slot;
		rec.probe_len = (uint8_t)s->probe_len;
	}
	uint32_t rel = (uint32_t)(e->p - (lea + 4));
	memcpy(lea, &rel, 4);
	memcpy(e->p, &rec, offsetof(struct probe_site, probe));
	e->p += offsetof(struct probe_site, probe);
	if (s->hint_at) emit_bytes(e, (const char *)s->probe, s->probe_len);
}

/*
 * A hinted load's wrong hint (see "probe sites"): counts it, probes the table (every
 * PROBE_HINT_WINDOW-th wrong hint, and a miss, go to the helper's path: jumps to patch in
 * to_helper[]), remembers the entry, loads and goes on after the main path's load.
 */
static void emit_wrong_hint(struct block_ctx *c, const struct slow_path *s, uint8_t **to_helper)
{
	struct emit *e = &c->e;
	const int base = c->host[s->addr_rs1], dst = s->load_dst >= 0 ? s->load_dst : RAX;
	const int32_t first = s->addr_imm, last = first + (int32_t)access_size(s->kind) - 1;
	patch_to_here(e, s->hint_wrong);
	const uint32_t misses = hint_field(e, s, offsetof(struct rv_jit_hint, misses));
	EB(e, "\x83");
	modrm_hart(e, 0, misses);
	e8(e, 1); /* add dword [misses], 1 */
	e8(e, 0xf6);
	modrm_hart(e, 0, misses);
	e8(e, PROBE_HINT_WINDOW - 1); /* test byte [misses], window - 1 */
	EB(e, "\x0f\x84");            /* jz: the helper weighs the hint */
	to_helper[0] = e->p;
	e32(e, 0);
	to_helper[1] = emit_tlb_lookup(c, base, first, base, last, tlb_table(false), 1);
	lea_disp(e, RCX, base, first); /* rcx <- the entry's tag's address: its slot again */
	EB(e, "\xc1\xe9");
	e8(e, (uint8_t)slot_shift(false)); /* shr ecx, 12 */
	EB(e, "\x81\xe1");
	e32(e, slot_mask(false));  /* and ecx, slot mask */
	EB(e, "\x48\x8d\x0c\xcd"); /* lea rcx, [rcx * 8 + U set's read tags] */
	e32(e, e->hart + (uint32_t)offsetof(struct rv_hart, tlb[RV_TLB_SET_U]) + tlb_table(false));
	op_rm_hart(e, 0x89, RCX, hint_field(e, s, offsetof(struct rv_jit_hint, entry)), true);
	op_base_rax(e, load_opc[s->kind], dst, base, first, load_w64[s->kind], false);
	e8(e, 0xe9); /* jmp done */
	e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
}

/* A jcc rel32 to the slow path (recorded in *s). */
void jcc_slow(struct emit *e, struct slow_path *s, uint8_t cc)
{
	e8(e, 0x0f);
	e8(e, (uint8_t)(0x80 | cc));
	uint8_t **slot = !s->fix ? &s->fix : !s->fix2 ? &s->fix2 : &s->more_fix[s->nmore_fix++];
	*slot = e->p;
	e32(e, 0);
}

/* The out-of-line miss path of a load or store (after the block's main path), or the interpreter's
 * way through an FP access it leaves there (K_GENERIC). */
void emit_slow_path(struct block_ctx *c, const struct slow_path *s)
{
	struct emit *e = &c->e;
	uint8_t *to_helper[2] = {NULL, NULL};
	if (s->hint_at) { /* the kept probe's miss jump, as it will be back in place, comes here too */
		emit_wrong_hint(c, s, to_helper);
		struct slow_path *w = (struct slow_path *)s;
		uint32_t rel = (uint32_t)(e->p - (s->hint_at + s->probe_fix + 4));
		memcpy(w->probe + s->probe_fix, &rel, 4);
	}
	patch_to_here(e, s->fix);
	patch_to_here(e, to_helper[0]);
	patch_to_here(e, to_helper[1]);
	if (s->kind == K_DECODE) { /* a group's probe missed: each access probes for itself */
		c->dirty = s->dirty;
		uint64_t pc = s->pc;
		for (unsigned j = 0; j < s->ngroup; pc += s->glens[j++]) {
			const struct rv_op *op = &s->group[j];
			unsigned kind = rv_op_kind(op);
			if (is_store(kind))
				emit_store(c, op, kind, pc, s->k + (int)j);
			else
				emit_load(c, op, kind, pc, s->k + (int)j);
		}
		e8(e, 0xe9); /* jmp done */
		e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
		return;
	}
	if (s->kind == K_GENERIC) { /* the interpreter runs the whole instruction */
		patch_to_here(e, s->fix2);
		for (unsigned i = 0; i < s->nmore_fix; i++) patch_to_here(e, s->more_fix[i]);
		call_generic(c, s->insn, s->raw, s->pc, s->len, s->k, s->dirty);
		if (s->x_result > 1) /* from the hart: a pinned register's host copy is stale */
			op_rm_hart(e, 0x8b, RAX, xoff(s->x_result - 1), true);
		if (s->fp_pending) set_fp_pending(e);
		e8(e, 0xe9); /* jmp done */
		e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
		return;
	}
	if (s->exit) /* a pair's first load: its own probe would prove its page alone */
		mark_slot(e, s->slot);
	else if (s->resume)
		emit_reprobe(c, s);
	uint8_t *site_lea = NULL;
	if (s->site.slot || s->site.bextr) {
		EB(e, "\x48\x8d\x05"); /* lea rax, [rip + the site's record] */
		site_lea = e->p;
		e32(e, 0);
		op_rm_hart(e, 0x89, RAX, (uint32_t)offsetof(struct rv_hart, jit_site), true);
	}
	sync_pc(c, s->pc, s->k);
	store_local(c, s->dirty); /* the hart has every local register now */
	int base = s->addr_rs1 ? c->host[s->addr_rs1] : -1;
	if (base >= 0) {
		lea_disp(e, RSI, base, s->addr_imm); /* rsi <- the address */
	} else {
		get_x(c, RSI, s->addr_rs1);
		if (s->addr_imm) lea_disp(e, RSI, RSI, s->addr_imm);
	}
	if (s->store_rs2 >= 0 && s->fp_data)
		op_rm_hart(e, 0x8b, RDX, foff((unsigned)s->store_rs2), true);
	else if (s->store_rs2 > 0 && c->host[s->store_rs2] == RSI) /* just overwritten */
		op_rm_hart(e, 0x8b, RDX, xoff((unsigned)s->store_rs2), true);
	else if (s->store_rs2 >= 0)
		get_x(c, RDX, (unsigned)s->store_rs2);
	unborrow_pinned(c);
	e8(e, 0xe8); /* call the thunk (a load's value in rax) */
	e32(e, (uint32_t)(int32_t)(c->thunk[s->kind] - (e->p + 4)));
	load_local(c, c->local);
	if (s->load_dst >= 0) op_rr(e, 0x8b, s->load_dst, RAX, true); /* mov dst, rax */
	e8(e, 0xe9);                                                  /* jmp done (or the pair's exit) */
	if (s->exit) s->exit->fix = e->p; /* patched with the side exits, which come after every slow path */
	e32(e, (uint32_t)(int32_t)(s->done - (e->p + 4)));
	if (site_lea) emit_probe_site(c, s, site_lea);
}

void emit_store(struct block_ctx *c, const struct rv_op *op, unsigned kind, uint64_t pc, int k)
{
	static const unsigned sizes[] = {[K_SB] = 1, [K_SH] = 2, [K_SW] = 4, [K_SD] = 8};
	struct emit *e = &c->e;
	int base;
	struct reprobe rp;
	uint8_t *fix = emit_access_probe(c, k, op->rs1, op->imm, sizes[kind], true, &base, &rp);
	int v = c->host[op->rs2]; /* the data straight from its host register */
	if (v < 0) {
		get_x(c, RCX, op->rs2);
		v = RCX;
	}
	if (kind == K_SH) e8(e, 0x66);
	op_base_rax(e, kind == K_SB ? 0x88 : 0x89, v, base, op->imm, kind == K_SD, kind == K_SB);
	access_slow_path(c, fix, pc, k, kind, op->rs2, false, op->rs1, op->imm, -1);
	with_reprobe(c, &rp);
	with_site(c, &rp);
}

static const void *const load_helpers[] = {
    [K_LB] = h_lb,   [K_LH] = h_lh,   [K_LW] = h_lw,   [K_LD] = h_ld,
    [K_LBU] = h_lbu, [K_LHU] = h_lhu, [K_LWU] = h_lwu,
};
static const void *const store_helpers[] = {[K_SB] = h_sb, [K_SH] = h_sh, [K_SW] = h_sw, [K_SD] = h_sd};

/*
 * A load's or store's way to its helper, shared by every block: called from a
 * miss path (rsi = address, rdx = a store's data) that stored the pc, the
 * instruction's index and the written local registers; stores the pinned
 * registers (the helper may raise), calls, reloads the call-clobbered ones.
 */
static uint8_t *emit_thunk(struct emit *e, const void *helper)
{
	uint8_t *start = e->p;
	pinned_store(e);
	e8(e, 0xbf); /* mov edi, hart */
	e32(e, e->hart);
	EB(e, "\x48\x83\xec\x08"); /* sub rsp, 8: the call into here unaligned the stack */
	call_abs(e, helper);
	EB(e, "\x48\x83\xc4\x08"); /* add rsp, 8 */
	pinned_load_volatile(e, true);
	e8(e, 0xc3); /* ret */
	return start;
}

/* The code cache's thunks: thunk[kind] for each load and store kind with a helper. */
void emit_thunks(struct emit *e, uint8_t **thunk)
{
	for (unsigned kind = 0; kind < K_COUNT; kind++) {
		const void *helper =
		    kind < sizeof(load_helpers) / sizeof(load_helpers[0]) && load_helpers[kind]
		        ? load_helpers[kind]
		    : kind < sizeof(store_helpers) / sizeof(store_helpers[0]) ? store_helpers[kind]
		                                                              : NULL;
		if (helper) thunk[kind] = emit_thunk(e, helper);
	}
}

/* eax <- the 2 MiB slot of the address in register r (a turned probe calls it in place of its bextr:
 * the budget register holds the 4 KiB table's control only). */
void emit_mega_slots(struct emit *e, uint8_t **mega_slot)
{
	for (int r = 0; r < 16; r++) {
		if (r == RSP) continue;
		mega_slot[r] = e->p;
		if (r != RAX) op_rr(e, 0x8b, RAX, r, false); /* mov eax, r32 */
		memcpy(e->p, shr_slot, sizeof(shr_slot));    /* shr eax, 21: the slot */
		e->p += sizeof(shr_slot);
		e8(e, 0xc3); /* ret */
	}
}

/* The size of an integer load's or store's access, or 0 for another kind. */
unsigned access_size(unsigned kind)
{
	switch (kind) {
	case K_LB:
	case K_LBU:
	case K_SB: return 1;
	case K_LH:
	case K_LHU:
	case K_SH: return 2;
	case K_LW:
	case K_LWU:
	case K_SW: return 4;
	case K_LD:
	case K_SD: return 8;
	default: return 0;
	}
}

/*
 * A run of loads (or of stores) through the same base register, such as a
 * function saving or restoring its registers on the stack: how many of the
 * instructions from ops[i] form one (at least 2, else 1). They follow each
 * other, no jump leads into the run after its first, a load does not replace
 * the base before the last, and all bytes fit in 4 KiB ([*lo, *hi]).
 */
unsigned mem_group(const struct rv_op *ops, const bool *jumped_to, unsigned i, unsigned n, int32_t *lo,
                   int32_t *hi)
{
	unsigned kind = rv_op_kind(&ops[i]), size = access_size(kind);
	if (!size || !ops[i].rs1) return 1;
	bool stores = is_store(kind);
	*lo = ops[i].imm, *hi = ops[i].imm + (int32_t)size - 1;
	unsigned m = 1;
	for (unsigned j = i + 1; j < n && !jumped_to[j]; j++) {
		unsigned kj = rv_op_kind(&ops[j]), sj = access_size(kj);
		if (!sj || is_store(kj) != stores || ops[j].rs1 != ops[i].rs1) break;
		if (!stores && ops[j - 1].rd == ops[i].rs1) break; /* the one before replaced the base */
		int32_t l = ops[j].imm < *lo ? ops[j].imm : *lo;
		int32_t h = ops[j].imm + (int32_t)sj - 1 > *hi ? ops[j].imm + (int32_t)sj - 1 : *hi;
		if (h - l >= 4096) break;
		*lo = l, *hi = h;
		m++;
	}
	return m;
}

/*
 * A group from mem_group(): one TLB probe for all its bytes (the entry of the
 * lowest byte's page must also be the highest's: a group across a page
 * misses), then each access through the page's addend in rax. A miss runs
 * every access with its own probe, out of line.
 */
void emit_mem_group(struct block_ctx *c, const struct rv_op *ops, const unsigned *lens, unsigned m,
                    int32_t lo, int32_t hi, uint64_t pc, int k)
{
	struct emit *e = &c->e;
	const bool stores = is_store(rv_op_kind(&ops[0]));
	const uint32_t dirty = c->dirty;
	int base;
	uint8_t *fix =
	    emit_tlb_probe(c, ops[0].rs1, lo, hi, tlb_table(stores), m, &base); /* a miss: each alone */
	for (unsigned j = 0; j < m; j++) {
		const struct rv_op *op = &ops[j];
		unsigned kind = rv_op_kind(op);
		if (stores) {
			int v = c->host[op->rs2];
			if (v < 0) {
				get_x(c, RCX, op->rs2);
				v = RCX;
			}
			if (kind == K_SH) e8(e, 0x66);
			op_base_rax(e, kind == K_SB ? 0x88 : 0x89, v, base, op->imm, kind == K_SD,
			            kind == K_SB);
			continue;
		}
		int d = op->rd && c->host[op->rd] >= 0 ? c->host[op->rd] : RCX;
		op_base_rax(e, load_opc[kind], d, base, op->imm, load_w64[kind], false);
		if (d == RCX)
			set_x(c, op->rd, RCX);
		else
			written(c, op->rd);
	}
	c->slow[c->nslow++] = (struct slow_path){.fix = fix,
	                                         .done = e->p,
	                                         .pc = pc,
	                                         .k = k,
	                                         .kind = K_DECODE,
	                                         .dirty = dirty,
	                                         .group = ops,
	                                         .glens = lens,
	                                         .ngroup = m};
}

/* Which loads take a page hint (c->chained): those whose address comes from a load
 * (jit_chained_loads); a hint on a load that waits on no load of its own loop would only add its
 * wrong guesses. */
void plan_hints(struct block_ctx *c, const struct rv_op *ops, unsigned n)
{
	struct jit_op_regs regs[JIT_MAX_OPS];
	for (unsigned i = 0; i < n; i++) {
		const unsigned kind = rv_op_kind(&ops[i]);
		op_regs(&ops[i], kind, &regs[i].reads, &regs[i].writes);
		regs[i].load = access_size(kind) && !is_store(kind);
		regs[i].addr = (uint8_t)(ops[i].rs1 & 31);
	}
	jit_chained_loads(&c->loops, n, (const uint8_t(*)[2])c->succ, c->nsucc, regs, c->chained);
}

void rv_jit_settle_hints(struct rv_hart *h)
{
	struct rv_jit_hints *H = h->jit_hints;
	if (!H) return;
	unsigned n = 0;
	for (unsigned i = 0; i < H->ntrial; i++) {
		const struct rv_jit_hint *d = &H->slot[H->trial[i]];
		struct probe_site *s = d->record;
		if (s && d->runs < PROBE_HINT_TRIAL) /* a hint given up ends its trial (probe_unhint) */
			H->trial[n++] = H->trial[i]; /* still on trial */
		else
			probe_settle(h, s);
	}
	H->ntrial = n;
}
