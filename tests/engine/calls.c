/*
 * calls.c — calls and returns, which translated code predicts with a stack of
 * return addresses (jit_x86_exit.c): mutual recursion a million calls deep
 * (past the stack's limit, so it drops its entries on the way down: the
 * returns then find no entry) with a
 * call through t0 at each level, indirect calls through a table of functions,
 * a function returning past the instruction after its call (a return the
 * stack must not predict), and in S-mode a call whose callee maps the
 * caller's code page to another frame and runs sfence.vma before returning:
 * the return must then run the instructions the new frame holds. Every
 * result against the sum C computes.
 */
#include "engine.h"

/* ---- a million calls deep ----
 * rec_f(d, x) = d ? x + rec_g(d - 1, 3x + 1) : x; rec_g(d, y) = 1 + rec_f(d, y ^ d), its xor made by
 * mix, called through t0; each level keeps 16 bytes of stack. rec_f calls by jal, rec_g by
 * auipc + jalr. */
__asm__(".text\n"
        ".globl rec_f, rec_g\n"
        "rec_f:\n"
        " beqz a0, 1f\n"
        " addi sp, sp, -16\n sd ra, 8(sp)\n sd a1, 0(sp)\n"
        " addi a0, a0, -1\n"
        " slli t1, a1, 1\n add a1, a1, t1\n addi a1, a1, 1\n"
        " jal rec_g\n"
        " ld a1, 0(sp)\n ld ra, 8(sp)\n addi sp, sp, 16\n"
        " add a0, a0, a1\n"
        " ret\n"
        "1: mv a0, a1\n"
        " ret\n"
        "rec_g:\n"
        " addi sp, sp, -16\n sd ra, 8(sp)\n"
        " jal t0, mix\n"
        " call rec_f\n"
        " ld ra, 8(sp)\n addi sp, sp, 16\n"
        " addi a0, a0, 1\n"
        " ret\n"
        "mix:\n"
        " xor a1, a1, a0\n"
        " jr t0\n");
uint64_t rec_f(uint64_t d, uint64_t x);

static uint64_t rec_model(uint64_t d, uint64_t x)
{
	uint64_t sum = 0;
	for (; d; d--) {
		sum += x + 1;
		x = (3 * x + 1) ^ (d - 1);
	}
	return sum + x;
}

#define DEPTH 1000000 /* levels of rec_f: 2 * 16 MB of guest stack */
static uint64_t deep_stack[(2 * DEPTH * 16 + 65536) / 8] __attribute__((aligned(16)));
uint64_t deep_d, deep_x, deep_sum, deep_saved_sp;

/* rec_f(deep_d, deep_x) on deep_stack. */
__asm__(".text\n"
        ".globl deep_call\n"
        "deep_call:\n"
        " addi sp, sp, -16\n sd ra, 8(sp)\n"
        " la t1, deep_saved_sp\n sd sp, 0(t1)\n"
        " la t1, deep_stack_top\n ld sp, 0(t1)\n"
        " la t1, deep_d\n ld a0, 0(t1)\n"
        " la t1, deep_x\n ld a1, 0(t1)\n"
        " call rec_f\n"
        " la t1, deep_sum\n sd a0, 0(t1)\n"
        " la t1, deep_saved_sp\n ld sp, 0(t1)\n"
        " ld ra, 8(sp)\n addi sp, sp, 16\n"
        " ret\n");
void deep_call(void);
uint64_t deep_stack_top;

/* ---- indirect calls ---- */
static uint64_t __attribute__((noinline)) op_add(uint64_t a, uint64_t b)
{
	return a + b;
}
static uint64_t __attribute__((noinline)) op_xor(uint64_t a, uint64_t b)
{
	return (a ^ b) * 5;
}
static uint64_t __attribute__((noinline)) op_sub(uint64_t a, uint64_t b)
{
	return a - (b >> 3);
}
static uint64_t (*volatile const ops[3])(uint64_t, uint64_t) = {op_add, op_xor, op_sub};

static uint64_t indirect_loop(uint64_t n, int model)
{
	uint64_t x = LOOP_SEED, acc = 0;
	for (uint64_t i = 0; i < n; i++) {
		x = loop_step(x);
		const unsigned which = (unsigned)(x >> 60) % 3;
		if (model)
			acc = which == 0 ? acc + x : which == 1 ? (acc ^ x) * 5 : acc - (x >> 3);
		else
			acc = ops[which](acc, x);
	}
	return acc;
}

/* ---- a return past the call's next instruction ----
 * skip_loop(n): n passes of `call bump; addi a1, a1, 1000; addi a1, a1, 1`, bump returning 4 bytes
 * past its return address (over the first addi): n. */
__asm__(".text\n"
        ".option push\n"
        ".option norvc\n"
        ".globl skip_loop\n"
        "skip_loop:\n"
        " addi sp, sp, -16\n sd ra, 8(sp)\n"
        " li a1, 0\n"
        "1: jal bump\n"
        " addi a1, a1, 1000\n"
        " addi a1, a1, 1\n"
        " addi a0, a0, -1\n"
        " bnez a0, 1b\n"
        " mv a0, a1\n"
        " ld ra, 8(sp)\n addi sp, sp, 16\n"
        " ret\n"
        "bump:\n"
        " addi ra, ra, 4\n"
        " ret\n"
        ".option pop\n");
uint64_t skip_loop(uint64_t n);

/* ---- in S-mode: the caller's page remapped by its callee ----
 * remap_loop(n, acc, hook) at CODE: n passes of `jalr hook; addi a1, a1, STEP`, STEP 3 in frame 0
 * and 7 in frame 1; returns acc. The hook maps CODE to frame 1 (sfence.vma) when a0 = remap_at. */
#define CODE 0xc0000000UL
#define PTE_CODE 0x4b /* V R X A: S-mode code */
__asm__(".text\n"
        ".option push\n"
        ".option norvc\n"
        ".globl remap_loop3, remap_loop7, remap_hook\n"
        ".macro remap_loop step\n"
        "remap_loop\\step:\n"
        " addi sp, sp, -16\n sd ra, 8(sp)\n"
        "1: jalr a2\n"
        " addi a1, a1, \\step\n"
        " addi a0, a0, -1\n"
        " bnez a0, 1b\n"
        " mv a0, a1\n"
        " ld ra, 8(sp)\n addi sp, sp, 16\n"
        " ret\n"
        ".endm\n"
        "remap_loop 3\n"
        "remap_loop 7\n"
        "remap_hook:\n"
        " la t1, remap_at\n ld t1, 0(t1)\n"
        " bne a0, t1, 1f\n"
        " la t1, remap_pte\n ld t2, 0(t1)\n"
        " la t1, leaf\n sd t2, 0(t1)\n"
        " sfence.vma\n"
        "1: ret\n"
        ".option pop\n");
extern const uint8_t remap_loop3[], remap_loop7[];
void remap_hook(void);
uint64_t remap_at, remap_pte;

static uint8_t frames[2][4096] __attribute__((aligned(4096)));
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096)));
uint64_t leaf[512] __attribute__((aligned(4096)));

static uint64_t frame_pte(unsigned f)
{
	return (uint64_t)(uintptr_t)frames[f] >> 12 << 10 | PTE_CODE;
}

/* A run of remap_loop from frame 0, switching to frame 1 before the pass with a0 = at (0: never). */
static uint64_t remap_run(uint64_t n, uint64_t at)
{
	leaf[0] = frame_pte(0);
	remap_at = at;
	remap_pte = frame_pte(1);
	__asm__ volatile("sfence.vma" ::: "memory");
	uint64_t (*loop)(uint64_t, uint64_t, void (*)(void)) = (void *)CODE;
	return loop(n, 0, remap_hook);
}

static void s_main(void)
{
	for (unsigned run = 0; run < 4; run++) { /* hot: translated, calls predicted */
		uint64_t got = remap_run(5000, 0);
		EXPECT(got == 5000 * 3, "remap_loop in frame 0", got);
	}
	for (uint64_t at = 4000; at >= 1000; at -= 1000) {
		uint64_t got = remap_run(5000, at);
		EXPECT(got == (5000 - at) * 3 + at * 7, "remap_loop switched to frame 1 by its callee", got);
	}
	put("PASS calls\n");
	plat_exit(0);
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");

	deep_stack_top = (uint64_t)(uintptr_t)&deep_stack[sizeof(deep_stack) / 8];
	for (unsigned run = 0; run < 3; run++) {
		deep_d = run == 1 ? DEPTH : 20000 + run;
		deep_x = 5 + run;
		deep_call();
		EXPECT(deep_sum == rec_model(deep_d, deep_x), "mutual recursion", deep_sum);
	}

	for (unsigned run = 0; run < 3; run++) {
		uint64_t got = indirect_loop(30000 + run, 0);
		EXPECT(got == indirect_loop(30000 + run, 1), "indirect calls", got);
	}

	for (unsigned run = 0; run < 3; run++) {
		uint64_t got = skip_loop(20000 + run);
		EXPECT(got == 20000 + run, "returns past the call's next instruction", got);
	}

	for (unsigned f = 0; f < 2; f++) {
		const uint8_t *from = f ? remap_loop7 : remap_loop3;
		for (unsigned i = 0; i < (unsigned)(remap_loop7 - remap_loop3); i++) frames[f][i] = from[i];
	}
	fence_i();
	root[3] = (uint64_t)(uintptr_t)mid >> 12 << 10 | 1; /* VA 3 GiB: the code page */
	mid[0] = (uint64_t)(uintptr_t)leaf >> 12 << 10 | 1;
	plat_enter_s(root, s_main);
}
