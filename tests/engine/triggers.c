/*
 * triggers.c — debug triggers (Sdtrig) under the engine, on hart 0 in M-mode:
 * an execute trigger on an instruction of a hot loop (translated by then),
 * store and load triggers on data hot loops touch, each firing one breakpoint
 * with the right epc and tval; a trigger for S-mode only stays silent in
 * M-mode; disarmed, the loops run through.
 *
 * The trap handler logs the trap, disarms the selected trigger and skips the
 * instruction (every instruction a trigger is set on here is 4 bytes long).
 */
#include "engine.h"

#define TDATA1_MCONTROL (2ULL << 60)
#define CTL_LOAD 1ULL
#define CTL_STORE 2ULL
#define CTL_EXECUTE 4ULL
#define CTL_S (1ULL << 4)
#define CTL_M (1ULL << 6)

/* cause, tval, epc, count, then room to save t1 */
volatile uint64_t trap_log[5];

__asm__(".text\n"
        ".align 2\n"
        "trig_handler:\n"
        "  csrw mscratch, t0\n"
        "  la t0, trap_log\n"
        "  sd t1, 32(t0)\n"
        "  csrr t1, mcause\n"
        "  sd t1, 0(t0)\n"
        "  csrr t1, mtval\n"
        "  sd t1, 8(t0)\n"
        "  csrr t1, mepc\n"
        "  sd t1, 16(t0)\n"
        "  addi t1, t1, 4\n"
        "  csrw mepc, t1\n"
        "  ld t1, 24(t0)\n"
        "  addi t1, t1, 1\n"
        "  sd t1, 24(t0)\n"
        "  csrw tdata1, zero\n" /* type 0: the trigger is off */
        "  ld t1, 32(t0)\n"
        "  csrr t0, mscratch\n"
        "  mret\n");
void trig_handler(void);

/* The sum n + (n-1) + ... + 1; `count_marked` is the decrement. */
__asm__(".option push\n"
        ".option norvc\n"
        ".globl count_loop\n"
        "count_loop:\n"
        "  li a1, 0\n"
        "1:add a1, a1, a0\n"
        ".globl count_marked\n"
        "count_marked:\n"
        "  addi a0, a0, -1\n"
        "  bnez a0, 1b\n"
        "  mv a0, a1\n"
        "  ret\n"
        /* p[0..n-1] = n, n-1, ..., 1 */
        ".globl fill_loop\n"
        "fill_loop:\n"
        "1:\n"
        ".globl fill_store\n"
        "fill_store:\n"
        "  sd a1, 0(a0)\n"
        "  addi a0, a0, 8\n"
        "  addi a1, a1, -1\n"
        "  bnez a1, 1b\n"
        "  ret\n"
        /* the sum of p[0..n-1] */
        ".globl sum_loop\n"
        "sum_loop:\n"
        "  li a2, 0\n"
        "  li t0, 0\n"
        "1:\n"
        ".globl sum_load\n"
        "sum_load:\n"
        "  ld t0, 0(a0)\n"
        "  add a2, a2, t0\n"
        "  addi a0, a0, 8\n"
        "  addi a1, a1, -1\n"
        "  bnez a1, 1b\n"
        "  mv a0, a2\n"
        "  ret\n"
        ".option pop\n");
uint64_t count_loop(uint64_t n);
void fill_loop(volatile uint64_t *p, uint64_t n);
uint64_t sum_loop(volatile uint64_t *p, uint64_t n);
extern char count_marked[], fill_store[], sum_load[];

static volatile uint64_t arr[16];

static void arm(uint64_t tdata1, uint64_t tdata2)
{
	uint64_t back;
	__asm__ volatile("csrw tselect, zero; csrw tdata2, %1; csrw tdata1, %2; csrr %0, tdata1"
	                 : "=r"(back)
	                 : "r"(tdata2), "r"(tdata1)
	                 : "memory");
	EXPECT(back == tdata1, "tdata1 reads back as written", back);
}

static void expect_one_trap(uint64_t before, uint64_t tval, uint64_t epc, const char *what)
{
	EXPECT(trap_log[3] == before + 1, what, trap_log[3] - before);
	EXPECT(trap_log[0] == 3, "mcause is breakpoint", trap_log[0]);
	EXPECT(trap_log[1] == tval, "mtval", trap_log[1]);
	EXPECT(trap_log[2] == epc, "mepc", trap_log[2]);
}

int main(uint64_t hartid)
{
	if (hartid != 0)
		for (;;) {
		}
	__asm__ volatile("csrw mtvec, %0" ::"r"((uintptr_t)trig_handler));
	uint64_t tinfo;
	__asm__ volatile("csrr %0, tinfo" : "=r"(tinfo));
	EXPECT(tinfo & (1u << 2), "tinfo offers mcontrol", tinfo);

	/* Hot: translated long before the triggers are set. */
	for (int i = 0; i < 200; i++) {
		EXPECT(count_loop(100) == 5050, "count_loop", 0);
		fill_loop(arr, 16);
		EXPECT(sum_loop(arr, 16) == 136, "sum_loop", 0);
	}

	/* Execute: the first decrement is skipped, so 10 is added twice. */
	uint64_t n = trap_log[3];
	arm(TDATA1_MCONTROL | CTL_M | CTL_EXECUTE, (uintptr_t)count_marked);
	uint64_t sum = count_loop(10);
	expect_one_trap(n, (uintptr_t)count_marked, (uintptr_t)count_marked, "one execute breakpoint");
	EXPECT(sum == 65, "count_loop with one decrement skipped", sum);
	EXPECT(count_loop(100) == 5050, "count_loop disarmed", 0);

	/* Store: arr[5] keeps what it held (its store was skipped). */
	arr[5] = 77;
	n = trap_log[3];
	arm(TDATA1_MCONTROL | CTL_M | CTL_STORE, (uintptr_t)&arr[5]);
	EXPECT(sum_loop(arr, 16) == 136 - 11 + 77, "a load does not fire a store trigger", trap_log[3] - n);
	fill_loop(arr, 16);
	expect_one_trap(n, (uintptr_t)&arr[5], (uintptr_t)fill_store, "one store breakpoint");
	EXPECT(arr[5] == 77, "the store was skipped", arr[5]);
	EXPECT(arr[4] == 12 && arr[6] == 10, "the stores around it", arr[4]);

	/* Load: the load of arr[3] is skipped, so t0 still holds arr[2] (14): 136 - 13 + 14. */
	fill_loop(arr, 16);
	n = trap_log[3];
	arm(TDATA1_MCONTROL | CTL_M | CTL_LOAD, (uintptr_t)&arr[3]);
	sum = sum_loop(arr, 16);
	expect_one_trap(n, (uintptr_t)&arr[3], (uintptr_t)sum_load, "one load breakpoint");
	EXPECT(sum == 137, "sum_loop with one load skipped", sum);

	/* A trigger for S-mode only is silent in M-mode. */
	n = trap_log[3];
	arm(TDATA1_MCONTROL | CTL_S | CTL_STORE | CTL_LOAD, (uintptr_t)&arr[5]);
	fill_loop(arr, 16);
	EXPECT(sum_loop(arr, 16) == 136, "sum_loop", 0);
	EXPECT(trap_log[3] == n, "no breakpoint outside the trigger's modes", trap_log[3] - n);
	__asm__ volatile("csrw tdata1, zero");

	put("PASS triggers\n");
	plat_exit(0);
}
