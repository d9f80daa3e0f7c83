/*
 * fuzz_insn.c — libFuzzer harness for the hart's decoders and executors: the
 * input is guest code, run for a bounded number of instructions in M-mode on a
 * hart with every extension on (V at the VLEN the first byte picks), the FPU
 * and vector unit enabled, registers pointing into guest RAM. Whatever the
 * words, a hart traps or goes on: never a crash, and never an access outside
 * guest RAM or the register file (the fuzzing build runs under ASan).
 */
#include "cpu/riscv/hart.h"
#include "cpu/riscv/isa.h"

#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (64u << 10)

static uint8_t *ram;

static bool no_mmio_read(void *o, uint64_t a, unsigned s, uint64_t *v)
{
	(void)o, (void)a, (void)s;
	*v = 0;
	return false;
}

static bool no_mmio_write(void *o, uint64_t a, unsigned s, uint64_t v)
{
	(void)o, (void)a, (void)s, (void)v;
	return false;
}

static uint64_t no_time(void *o)
{
	(void)o;
	return 0;
}

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
	struct rv_bus bus = {.ram = ram,
	                     .ram_base = RAM_BASE,
	                     .ram_size = RAM_SIZE,
	                     .mmio_read = no_mmio_read,
	                     .mmio_write = no_mmio_write,
	                     .read_time = no_time};
	if (!rv_hart_init(&h, 0, &bus)) abort();
	uint64_t ext = rv_ext_defaults();
	char err[128];
	static const char *const vlens[] = {"", "vlen=256", "vlen=512", "vlen=1024"};
	if (!rv_ext_apply(&ext, vlens[data[0] & 3], err, sizeof(err))) abort();
	rv_hart_set_extensions(&h, ext);
	h.mstatus |= 3ULL << 13 | 3ULL << 9; /* FS and VS dirty */
	h.mtvec = RAM_BASE + RAM_SIZE / 2;   /* traps land on zeros: illegal again, bounded by the budget */
	for (unsigned i = 1; i < 32; i++) h.x[i] = RAM_BASE + (i * 0x7f3u) % (RAM_SIZE - 64);
	rv_hart_step(&h, 4000);
	rv_hart_destroy(&h);
	return 0;
}
