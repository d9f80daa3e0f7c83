/*
 * test_jit_probe.c — the translator's shared-probe plan (jit_probe.h): which
 * loads and stores of a block share one TLB probe, from the facts a forward
 * pass proves about their addresses (table lookups through a masked index,
 * pointers derived from one base, and where that knowledge must stop).
 */
#include "check.h"
#include "cpu/riscv/jit_probe.h"

#include <string.h>

enum { T1 = 6, T4 = 29, T6 = 31, SP = 2, A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A7 = 17 };

struct block {
	struct rv_op ops[JIT_PROBE_MAX_OPS];
	uint8_t size[JIT_PROBE_MAX_OPS];
	bool store[JIT_PROBE_MAX_OPS], boundary[JIT_PROBE_MAX_OPS], skip[JIT_PROBE_MAX_OPS];
	uint32_t writes[JIT_PROBE_MAX_OPS];
	int8_t target[JIT_PROBE_MAX_OPS];
	unsigned n;
};

/* Appends a 4-byte instruction of `kind`; loads and stores get their access size. */
static unsigned add(struct block *b, unsigned kind, unsigned rd, unsigned rs1, unsigned rs2, int32_t imm)
{
	unsigned i = b->n++;
	b->ops[i] = (struct rv_op){.kind = (uint8_t)(kind + K_COUNT),
	                           .rd = (uint8_t)(rd ? rd : 32),
	                           .rs1 = (uint8_t)rs1,
	                           .rs2 = (uint8_t)rs2,
	                           .imm = imm};
	static const uint8_t sizes[K_COUNT] = {
	    [K_LB] = 1, [K_LBU] = 1, [K_LH] = 2, [K_LHU] = 2, [K_LW] = 4, [K_LWU] = 4,
	    [K_LD] = 8, [K_SB] = 1,  [K_SH] = 2, [K_SW] = 4,  [K_SD] = 8};
	b->size[i] = sizes[kind];
	b->store[i] = kind >= K_SB && kind <= K_SD;
	b->writes[i] = b->store[i] || !rd ? 0 : 1u << rd;
	b->target[i] = -1;
	return i;
}

/* Appends a branch (beq) to instruction `to` of the block. */
static unsigned branch(struct block *b, unsigned to)
{
	unsigned i = add(b, K_BEQ, 0, A1, A2, 0);
	b->target[i] = (int8_t)to;
	return i;
}

static void plan(struct block *b, struct jit_probe_plan *p)
{
	jit_plan_probes(p, b->ops, b->n, b->size, b->store, b->writes, b->target, b->boundary, b->skip);
}

/* OpenSSL's T-table AES round: four lookups through one table pointer share a probe of its 1 KiB. */
static void test_table_lookups(void)
{
	struct block b = {0};
	unsigned loads[4];
	for (unsigned j = 0; j < 4; j++) {
		add(&b, K_SLLI, A3, T1 + j % 2, 0, 2);
		add(&b, K_ANDI, A3, A3, 0, 1020);
		add(&b, K_ADD, T4, T6, A3, 0);
		loads[j] = add(&b, K_LWU, A7 + j, T4, 0, 0);
	}
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK_EQ(p.ngroups, 1);
	CHECK_EQ(p.g[0].base, T6);
	CHECK_EQ(p.g[0].lo, 0);
	CHECK_EQ(p.g[0].hi, 1023);
	CHECK_EQ(p.g[0].members, 4);
	CHECK(p.g[0].derived && !p.g[0].store);
	CHECK(p.first[loads[0]]);
	for (unsigned j = 0; j < 4; j++) CHECK_EQ(p.group[loads[j]], 0);
	for (unsigned j = 1; j < 4; j++) CHECK(!p.first[loads[j]]);
	CHECK_EQ(p.group[0], -1); /* not an access */
}

/* The table pointer moving on (t6 += 1024) starts another group: the old probe says nothing of it. */
static void test_base_written(void)
{
	struct block b = {0};
	add(&b, K_ANDI, A3, T1, 0, 1020);
	add(&b, K_ADD, T4, T6, A3, 0);
	unsigned l1 = add(&b, K_LWU, A7, T4, 0, 0);
	add(&b, K_ADDI, T6, T6, 0, 1024);
	add(&b, K_ADD, T4, T6, A3, 0);
	unsigned l2 = add(&b, K_LWU, A4, T4, 0, 0);
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK_EQ(p.ngroups, 2);
	CHECK(p.group[l1] >= 0 && p.group[l2] >= 0 && p.group[l1] != p.group[l2]);
	CHECK(p.first[l1] && p.first[l2]);
	/* Each is alone but derived (its probe no longer waits for the index): kept. */
	CHECK(p.g[p.group[l2]].derived);
	CHECK_EQ(p.g[p.group[l2]].hi, 1023);
}

/* A pointer loaded through itself: the second access is through another value. */
static void test_load_replaces_base(void)
{
	struct block b = {0};
	unsigned l1 = add(&b, K_LD, A0, A0, 0, 0);
	unsigned l2 = add(&b, K_LD, A1, A0, 0, 8);
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK_EQ(p.group[l1], -1); /* alone, and its address is the base itself: no group */
	CHECK_EQ(p.group[l2], -1);
}

/* A jump target in the block: what was known before it no longer holds after it. */
static void test_boundary(void)
{
	struct block b = {0};
	unsigned l1 = add(&b, K_LD, A1, SP, 0, 8);
	unsigned l2 = add(&b, K_LD, A2, SP, 0, 16);
	unsigned l3 = add(&b, K_LD, A3, SP, 0, 24);
	b.boundary[l2] = true;
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK_EQ(p.group[l1], -1); /* alone before the boundary */
	CHECK(p.group[l2] >= 0 && p.group[l2] == p.group[l3]);
	CHECK(p.first[l2] && !p.first[l3]);
	CHECK_EQ(p.g[p.group[l2]].lo, 16);
	CHECK_EQ(p.g[p.group[l2]].hi, 31);
}

/* Where a forward branch lands, a group probed before it on every way in still serves (the stack
 * pointer written on neither way); one probed on one way only, or whose base one way wrote, does not. */
static void test_forward_join(void)
{
	struct block b = {0};
	unsigned l1 = add(&b, K_LD, A1, SP, 0, 8);
	branch(&b, 4);
	unsigned l2 = add(&b, K_LD, A3, SP, 0, 16);
	add(&b, K_ADDI, A4, A4, 0, 1);
	unsigned l3 = add(&b, K_LD, A0, SP, 0, 24); /* 4: both ways probed sp's page */
	branch(&b, 8);
	unsigned l4 = add(&b, K_LD, A3, A0, 0, 0); /* a0's group starts on one way only */
	add(&b, K_ADDI, SP, SP, 0, 16);            /* ... which also moves sp */
	unsigned l5 = add(&b, K_LD, A4, A0, 0, 8); /* 8 */
	unsigned l6 = add(&b, K_LD, A4, SP, 0, 0);
	unsigned l7 = add(&b, K_LD, A1, SP, 0, 8);
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK(p.group[l1] >= 0 && p.first[l1]);
	CHECK_EQ(p.group[l2], p.group[l1]);
	CHECK_EQ(p.group[l3], p.group[l1]);
	CHECK(!p.first[l2] && !p.first[l3]);
	CHECK_EQ(p.g[p.group[l1]].hi, 31);
	CHECK_EQ(p.group[l4], -1); /* alone on its way */
	CHECK_EQ(p.group[l5], -1); /* a0 probed on one way in: it probes again, alone */
	CHECK(p.group[l6] >= 0 && p.group[l6] != p.group[l1] && p.first[l6]); /* sp may be another */
	CHECK_EQ(p.group[l7], p.group[l6]);

	/* The same with no jump at all: a0's two loads share. */
	b.target[5] = -1;
	plan(&b, &p);
	CHECK(p.group[l4] >= 0 && p.group[l5] == p.group[l4] && p.first[l4]);
}

/* A CSR instruction run in the block may switch the TLB set (SUM, MPRV): probes before it do not
 * serve after it. */
static void test_csr_forgets(void)
{
	struct block b = {0};
	unsigned l1 = add(&b, K_LD, A1, SP, 0, 8);
	unsigned csr = add(&b, K_GENERIC, 0, 0, 0, 0x10002073); /* csrrs x0, sstatus, x0 */
	unsigned l2 = add(&b, K_LD, A2, SP, 0, 16);
	unsigned l3 = add(&b, K_LD, A3, SP, 0, 24);
	(void)csr;
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK_EQ(p.group[l1], -1);
	CHECK(p.group[l2] >= 0 && p.first[l2] && p.group[l3] == p.group[l2]);
}

/* Stores and loads probe different tables; a span of a page or more does not fit one probe; a run
 * the translator probes on its own stays out. */
static void test_split(void)
{
	struct block b = {0};
	unsigned l1 = add(&b, K_LD, A1, SP, 0, 0);
	unsigned s1 = add(&b, K_SD, 0, SP, A1, 8);
	unsigned l2 = add(&b, K_LD, A2, SP, 0, 4088);
	unsigned l3 = add(&b, K_LD, A3, SP, 0, 4096);
	unsigned s2 = add(&b, K_SW, 0, SP, A2, 100);
	unsigned r1 = add(&b, K_LD, A4, SP, 0, 16);
	b.skip[r1] = true;
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK(p.group[l1] >= 0 && p.group[l1] == p.group[l2]); /* bytes 0 .. 4095 */
	CHECK_EQ(p.g[p.group[l1]].hi, 4095);
	CHECK_EQ(p.group[l3], -1); /* 0 .. 4103 is too wide; alone it is no group */
	CHECK(p.group[s1] >= 0 && p.group[s1] == p.group[s2] && p.group[s1] != p.group[l1]);
	CHECK(p.g[p.group[s1]].store);
	CHECK_EQ(p.group[r1], -1);
}

/* Ranges from shifts, loaded bytes and constants; an unknown index proves nothing. */
static void test_ranges(void)
{
	struct block b = {0};
	add(&b, K_SRLIW, A0, A1, 0, 24); /* 0 .. 255 */
	add(&b, K_ADD, A2, A3, A0, 0);
	unsigned l1 = add(&b, K_LBU, A4, A2, 0, 0);
	add(&b, K_ADDI, A0, 0, 0, 40); /* li a0, 40 */
	add(&b, K_ADD, A2, A0, A3, 0); /* a3 + 40 */
	unsigned l2 = add(&b, K_LD, A1, A2, 0, -8);
	add(&b, K_ADD, T4, A3, A1, 0); /* a3 + (an unknown a1) */
	unsigned l3 = add(&b, K_LBU, A0, T4, 0, 0);
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK(p.group[l1] >= 0 && p.group[l1] == p.group[l2]);
	const struct jit_probe_group *g = &p.g[p.group[l1]];
	CHECK_EQ(g->base, A3);
	CHECK_EQ(g->lo, 0);
	CHECK_EQ(g->hi, 255);
	CHECK_EQ(g->members, 2);
	CHECK_EQ(p.group[l3], -1);
}

/* A shift right by 32 or more of a known range leaves 0 (the shift computed on 64 bits: a 32-bit one
 * was undefined, found by tests/fuzz/fuzz_jit.c under UBSan). */
static void test_wide_shift(void)
{
	struct block b = {0};
	add(&b, K_LHU, A0, A1, 0, 0);   /* 0 .. 0xffff */
	add(&b, K_SLLI, A0, A0, 0, 4);  /* 0 .. 0xffff0 */
	add(&b, K_SRLI, A0, A0, 0, 48); /* 0 */
	add(&b, K_ADD, A2, A3, A0, 0);
	unsigned l1 = add(&b, K_LD, A4, A2, 0, 0);
	unsigned l2 = add(&b, K_LD, T1, A2, 0, 4080);
	struct jit_probe_plan p;
	plan(&b, &p);
	CHECK(p.group[l1] >= 0 && p.group[l1] == p.group[l2]);
	CHECK_EQ(p.g[p.group[l1]].lo, 0);
	CHECK_EQ(p.g[p.group[l1]].hi, 4087);
}

TEST_MAIN(test_table_lookups, test_base_written, test_load_replaces_base, test_boundary, test_forward_join,
          test_csr_forgets, test_split, test_ranges, test_wide_shift)
