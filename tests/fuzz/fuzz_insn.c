/*
 * fuzz_insn.c — libFuzzer harness for the hart's decoders and executors: the
 * input is guest code, run for a bounded number of instructions in M-mode on a
 * hart with every extension on (V at the VLEN the first byte picks), the FPU
 * and vector unit enabled, registers pointing into guest RAM. Whatever the
 * words, a hart traps or goes on: never a crash, and never an access outside
 * guest RAM or the register file (the fuzzing build runs under ASan).
 */
#include "fuzz_hart.h"

#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (64u << 10)

static uint8_t *ram;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rv_init_tables();
	ram = aligned_alloc(4096, RAM_SIZE + 4096); /* the hart may read a few bytes past the end */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rv_hart h;
	if (size < 1) return 0;
	memset(ram, 0, RAM_SIZE + 4096);
	size_t code = size - 1 < RAM_SIZE / 2 ? size - 1 : RAM_SIZE / 2;
	memcpy(ram, data + 1, code);
	fuzz_hart_init(&h, ram, RAM_BASE, RAM_SIZE, data[0]);
	h.mtvec = RAM_BASE + RAM_SIZE / 2; /* traps land on zeros: illegal again, bounded by the budget */
	for (unsigned i = 1; i < 32; i++) h.x[i] = RAM_BASE + (i * 0x7f3u) % (RAM_SIZE - 64);
	rv_hart_step(&h, 4000);
	rv_hart_destroy(&h);
	return 0;
}
