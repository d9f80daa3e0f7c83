/*
 * engine.h — what the engine tests share: printing on the UART, finishing
 * through the test finisher, and a check that fails the run.
 */
#ifndef ENGINE_TEST_H
#define ENGINE_TEST_H

#include <stdint.h>

void put(const char *s);
void put_num(uint64_t v);
__attribute__((noreturn)) void plat_exit(int code);
/* From M-mode: Sv39 with `root` (a 4 KiB-aligned table whose entries other than 0 and 2 the caller
 * set), gigapages 0-1 GiB (devices) RW and 2-3 GiB (RAM) RWX mapped to themselves, all memory open in
 * the PMP; then s_main in S-mode. */
__attribute__((noreturn)) void plat_enter_s(uint64_t *root, void (*s_main)(void));
/* Prints what failed with the values seen and ends the run with code 1. */
#define EXPECT(cond, what, got)                                                                              \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			put("FAIL: ");                                                                       \
			put(what);                                                                           \
			put(" got ");                                                                        \
			put_num(got);                                                                        \
			put("\n");                                                                           \
			plat_exit(1);                                                                        \
		}                                                                                            \
	} while (0)

/* From M-mode: entry(a0..a3) in U-mode, back here at its ecall with its a0 (another trap ends the
 * run with code 98). The caller maps the code at USER_ALIAS (user_addr). */
uint64_t run_user(uint64_t entry, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
#define USER_ALIAS 0x40000000UL /* VA 1-2 GiB: RAM (2-3 GiB) again, with U set, for the code */
/* Where a function linked in RAM (at 2 GiB) runs at its U alias. */
static inline uint64_t user_addr(void (*f)(void))
{
	return (uint64_t)(uintptr_t)f - 0x80000000UL + USER_ALIAS;
}

/* Sv39 for a U-mode test, from M-mode: VA 1-2 GiB is RAM again with U and X (USER_ALIAS: the code),
 * VA 3 GiB on goes through mid[0] to leaf (the test's 4 KiB pages); PMP opens all memory. */
static inline void map_user_tables(uint64_t *root, uint64_t *mid, uint64_t *leaf)
{
	root[1] = 0x80000000UL >> 12 << 10 | 0xdf; /* V R W X U A D */
	root[3] = (uint64_t)(uintptr_t)mid >> 12 << 10 | 1;
	mid[0] = (uint64_t)(uintptr_t)leaf >> 12 << 10 | 1;
	__asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" ::"r"(~0ULL >> 10), "r"(0x1fULL));
	__asm__ volatile("csrw satp, %0" ::"r"(8ULL << 60 | (uint64_t)(uintptr_t)root >> 12));
}

/* Assembly for a test loop's entry and exit: s0-s11 saved in a 96-byte frame, and back. */
#define SAVE_S_REGS                                                                                          \
	" addi sp, sp, -96\n sd s0, 0(sp)\n sd s1, 8(sp)\n sd s2, 16(sp)\n sd s3, 24(sp)\n"                  \
	" sd s4, 32(sp)\n sd s5, 40(sp)\n sd s6, 48(sp)\n sd s7, 56(sp)\n sd s8, 64(sp)\n"                   \
	" sd s9, 72(sp)\n sd s10, 80(sp)\n sd s11, 88(sp)\n"
#define RESTORE_S_REGS                                                                                       \
	" ld s0, 0(sp)\n ld s1, 8(sp)\n ld s2, 16(sp)\n ld s3, 24(sp)\n ld s4, 32(sp)\n"                     \
	" ld s5, 40(sp)\n ld s6, 48(sp)\n ld s7, 56(sp)\n ld s8, 64(sp)\n ld s9, 72(sp)\n"                   \
	" ld s10, 80(sp)\n ld s11, 88(sp)\n addi sp, sp, 96\n"

/* The test loops' pseudo-random x: its seed and its step, in C and in assembly (x in a0, through
 * t1); and eight words a loop may load, with upper halves, signs and low bits worth covering. */
#define LOOP_SEED 0x9e3779b97f4a7c15u
static inline uint64_t loop_step(uint64_t x)
{
	return x * 6364136223846793005u + 1442695040888963407u;
}
#define LOOP_STEP_A0                                                                                         \
	" li t1, 6364136223846793005\n mul a0, a0, t1\n li t1, 1442695040888963407\n add a0, a0, t1\n"
#define LOOP_WORDS                                                                                           \
	{                                                                                                    \
		3, 0xffffffff00000001u, 7, 0x8000000000000000u, 1, 42, 9, 0x123456789                        \
	}

/* A test loop's main on hart `hartid` (the others wait): loop(x, buf, n) from LOOP_SEED over
 * LOOP_WORDS must return what its model in C does, else the run fails saying `what`; then
 * `pass` is printed and the run ends. */
typedef uint64_t test_loop_fn(uint64_t x, const uint64_t *buf, uint64_t n);
__attribute__((noreturn)) static inline void check_loop(unsigned long hartid, test_loop_fn *loop,
                                                        test_loop_fn *model, uint64_t n, const char *what,
                                                        const char *pass)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	static const uint64_t buf[8] = LOOP_WORDS;
	const uint64_t got = loop(LOOP_SEED, buf, n), want = model(LOOP_SEED, buf, n);
	EXPECT(got == want, what, got);
	put(pass);
	plat_exit(0);
}

static inline void fence_i(void)
{
	__asm__ volatile("fence.i" ::: "memory");
}

#endif
