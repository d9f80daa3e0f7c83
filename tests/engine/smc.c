/*
 * smc.c — self-modifying code under the engine: hart 0 (in S-mode, Sv39)
 * writes a function, runs it until it is hot (translated), rewrites it —
 * through the same address, through an alias of the same physical page, and
 * from hart 1 — and after each fence.i must see the new code run, also when
 * the function is a loop. Prints "PASS smc" and finishes with code 0.
 */
#include "engine.h"

#define ALIAS 0x40000000UL /* VA + ALIAS maps the same physical page */
#define CALLS 200

static uint32_t code[1024] __attribute__((aligned(4096)));
static uint64_t root[512] __attribute__((aligned(4096)));
static volatile int request, done;

static uint32_t enc_addi(unsigned rd, unsigned rs1, int imm)
{
	return (uint32_t)(imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13;
}
static uint32_t enc_bne(unsigned rs1, unsigned rs2, int off)
{
	uint32_t i = (uint32_t)off;
	return ((i >> 12) & 1) << 31 | ((i >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12 |
	       ((i >> 1) & 0xf) << 8 | ((i >> 11) & 1) << 7 | 0x63;
}
#define RET 0x00008067u
enum { ZERO = 0, T0 = 5, A0 = 10 };

/* Writes `return v` at p. */
static void write_const(volatile uint32_t *p, int v)
{
	p[0] = enc_addi(A0, ZERO, v);
	p[1] = RET;
}
/* Writes a loop adding v to a0 100 times. */
static void write_loop(volatile uint32_t *p, int v)
{
	p[0] = enc_addi(A0, ZERO, 0);
	p[1] = enc_addi(T0, ZERO, 100);
	p[2] = enc_addi(A0, A0, v);
	p[3] = enc_addi(T0, T0, -1);
	p[4] = enc_bne(T0, ZERO, -8);
	p[5] = RET;
}

/* After a fence.i, calls the code at `at` until it is hot (translated), expecting `want` each time. */
static void expect_calls(uintptr_t at, long want, const char *what)
{
	long (*f)(void) = (long (*)(void))at;
	fence_i();
	for (int i = 0; i < CALLS; i++) EXPECT(f() == want, what, (uint64_t)f());
}

static void s_main(void)
{
	uintptr_t here = (uintptr_t)code, alias = here + ALIAS;
	write_const(code, 1);
	expect_calls(here, 1, "first code");
	write_const(code, 2);
	expect_calls(here, 2, "rewritten in place");
	write_const((volatile uint32_t *)alias, 3);
	expect_calls(here, 3, "rewritten through the alias");
	expect_calls(alias, 3, "run through the alias");
	write_const(code, 4);
	expect_calls(alias, 4, "rewritten in place, run through the alias");
	write_loop(code, 3);
	expect_calls(here, 300, "a loop");
	write_loop(code, 5);
	expect_calls(here, 500, "the loop rewritten");
	request = 1; /* hart 1 writes `return 6` */
	while (!done) {
	}
	expect_calls(here, 6, "rewritten by hart 1");
	put("PASS smc\n");
	plat_exit(0);
}

int main(uint64_t hartid)
{
	if (hartid == 1) { /* stays in M-mode: writes through the physical address */
		while (!request) {
		}
		write_const(code, 6);
		__asm__ volatile("fence w, w" ::: "memory");
		done = 1;
		for (;;) {
		}
	}
	if (hartid != 0)
		for (;;) {
		}
	root[3] = 0x80000000ULL >> 12 << 10 | 0xcf; /* 3-4 GiB: the RAM again, V R W X A D */
	plat_enter_s(root, s_main);
}
