/*
 * fuzz_jit.c — libFuzzer harness that holds the translator to the
 * interpreter: the input is guest code, run as the body of a loop (24 passes,
 * so the translator takes over after a few) on two harts with their own RAM,
 * one interpreting and one translating, both with every extension on, in
 * M-mode or, when the first byte's bit 2 is set, in U-mode under Sv39 (the
 * first byte's low bits pick VLEN). A trap or the loop's end leads to a halt
 * loop; when both harts halt, their registers, FP and vector state, trap
 * CSRs and data memory must be equal, else the harness aborts with the first
 * difference. Code that stores into its own code area is skipped (running
 * code rewritten without fence.i is unspecified: the translator may run the
 * old code), and so is code that never halts. Never a crash either (the
 * fuzzing build runs under ASan).
 */
#include "cpu/riscv/internal.h"
#include "fuzz_hart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (64u << 10)
#define CODE_BYTES 0x8000u /* the body, the loop's tail, the halt loop at its end */
#define ROOT (CODE_BYTES - 0x2000)
#define HALT (CODE_BYTES - 4)
#define MAX_BODY 1024u
#define PASSES 24
#define BUDGET 50000u

static uint8_t *ram[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rv_init_tables();
	setenv("CLOISON_JIT_CACHE_MB", "1", 1); /* a code cache per input: the smallest */
	for (unsigned i = 0; i < 2; i++)
		ram[i] =
		    aligned_alloc(4096, RAM_SIZE + 4096); /* the hart may read a few bytes past the end */
	return 0;
}

static void put32(uint8_t *p, uint32_t w)
{
	memcpy(p, &w, 4);
}

/* bne rs1, x0 to a pc `off` bytes away (B-type). */
static uint32_t bnez(unsigned rs1, int32_t off)
{
	uint32_t o = (uint32_t)off;
	return ((o >> 12) & 1) << 31 | ((o >> 5) & 0x3f) << 25 | rs1 << 15 | 1u << 12 |
	       ((o >> 1) & 0xf) << 8 | ((o >> 11) & 1) << 7 | 0x63;
}

/* Lays out the program in r: the body, then t6 -= 1, back to the body while t6 != 0, ecall; the Sv39
 * root table (one gigapage: the RAM, to itself, for U-mode); the halt loop; then the data. A body
 * that writes t6 loops another number of times, or for ever (not compared). */
static void lay_out(uint8_t *r, const uint8_t *body, size_t len)
{
	memset(r, 0, RAM_SIZE + 4096);
	memcpy(r, body, len);
	uint64_t v = 0x9e3779b97f4a7c15ULL; /* data: a fixed pseudo-random pattern, so that values differ */
	for (unsigned i = CODE_BYTES; i < RAM_SIZE; i += 8) {
		v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		memcpy(r + i, &v, 8);
	}
	size_t t = (len + 3) & ~(size_t)3;
	put32(r + t, 0xffff8f93); /* addi t6, t6, -1 */
	put32(r + t + 4, bnez(31, -(int32_t)(t + 4)));
	put32(r + t + 8, 0x00000073);                  /* ecall */
	uint64_t giga = (RAM_BASE >> 12) << 10 | 0xdf; /* D A U X W R V */
	memcpy(r + ROOT + 8 * (RAM_BASE >> 30), &giga, 8);
	put32(r + HALT, 0x0000006f); /* j . */
}

/* The two harts' memory, mapped once (fresh mappings fault in page by page). */
static struct rv_hart *harts[2];

static struct rv_hart *start(unsigned which, uint8_t *r, uint8_t vlen_pick, bool user, bool translate)
{
	if (!harts[which] && !(harts[which] = rv_hart_alloc())) abort();
	struct rv_hart *h = harts[which];
	fuzz_hart_init(h, r, RAM_BASE, RAM_SIZE, vlen_pick);
	if (translate && !rv_hart_enable_jit(h)) abort();
	h->mtvec = RAM_BASE + HALT;
	h->pc = RAM_BASE;
	if (user) { /* U-mode under Sv39: translated code addresses the U TLB set directly */
		h->satp = 8ULL << 60 | (RAM_BASE + ROOT) >> 12;
		h->mcounteren = 7; /* cycle, time and instret readable */
		h->priv = RV_PRIV_U;
		rv_hart_flush_tlb(h);
	}
	/* Registers point into the data area, 8-byte aligned (AMOs and LR/SC trap otherwise), some near
	 * its pages' ends. */
	for (unsigned i = 1; i < 32; i++)
		h->x[i] = RAM_BASE + CODE_BYTES + ((i * 0x7f3u) % (RAM_SIZE - CODE_BYTES - 64) & ~7u);
	h->x[31] = PASSES;
	return h;
}

static void differ(const char *what, unsigned i, uint64_t interp, uint64_t jit)
{
	fprintf(stderr, "fuzz_jit: %s[%u]: interpreter %#llx, translator %#llx\n", what, i,
	        (unsigned long long)interp, (unsigned long long)jit);
	abort();
}

/* Aborts at the first architectural difference between a (interpreted) and b (translated). */
static void compare(struct rv_hart *a, struct rv_hart *b)
{
	/* mstatus as software reads it: SD is derived from FS, VS and XS (the stored bit may lag). */
	uint64_t ms_a, ms_b;
	if (rv_csr_read(a, 0x300, &ms_a) || rv_csr_read(b, 0x300, &ms_b)) abort();
	for (unsigned i = 1; i < 32; i++)
		if (a->x[i] != b->x[i]) differ("x", i, a->x[i], b->x[i]);
	for (unsigned i = 0; i < 32; i++)
		if (a->f[i] != b->f[i]) differ("f", i, a->f[i], b->f[i]);
	const uint64_t ca[] = {a->fflags, a->frm, ms_a,     a->mepc,   a->mcause,    a->mtval,
	                       a->satp,   a->vl,  a->vtype, a->vstart, a->resv_valid};
	const uint64_t cb[] = {b->fflags, b->frm, ms_b,     b->mepc,   b->mcause,    b->mtval,
	                       b->satp,   b->vl,  b->vtype, b->vstart, b->resv_valid};
	for (unsigned i = 0; i < sizeof(ca) / sizeof(ca[0]); i++)
		if (ca[i] != cb[i])
			differ("fflags frm mstatus mepc mcause mtval satp vl vtype vstart resv", i, ca[i],
			       cb[i]);
	for (unsigned i = 0; i < sizeof(a->vreg); i++)
		if (a->vreg[i] != b->vreg[i]) differ("vreg byte", i, a->vreg[i], b->vreg[i]);
	for (unsigned i = CODE_BYTES; i < RAM_SIZE; i++)
		if (ram[0][i] != ram[1][i]) differ("RAM byte", i, ram[0][i], ram[1][i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2) return 0;
	static uint8_t program[RAM_SIZE + 4096]; /* what both harts start from */
	lay_out(program, data + 1, size - 1 < MAX_BODY ? size - 1 : MAX_BODY);
	struct rv_hart *h[2];
	for (unsigned i = 0; i < 2; i++) {
		memcpy(ram[i], program, sizeof(program));
		h[i] = start(i, ram[i], data[0], data[0] & 4, i == 1);
		rv_hart_run_for(h[i], BUDGET);
		rv_fp_sync_flags(h[i]);
	}
	if (h[0]->pc == RAM_BASE + HALT && h[1]->pc == RAM_BASE + HALT &&
	    !memcmp(ram[0], program, CODE_BYTES) && !memcmp(ram[1], program, CODE_BYTES))
		compare(h[0], h[1]);
	for (unsigned i = 0; i < 2; i++) rv_hart_destroy(h[i]);
	return 0;
}
