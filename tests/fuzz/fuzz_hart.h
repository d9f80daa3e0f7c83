/*
 * fuzz_hart.h — what the instruction harnesses share (fuzz_insn.c,
 * fuzz_jit.c): a hart on a bus of RAM only (MMIO accesses fault, time stands
 * still) with every extension on, VLEN picked by a byte of the input, the FPU
 * and vector unit enabled.
 */
#ifndef CLOISON_FUZZ_HART_H
#define CLOISON_FUZZ_HART_H

#include "cpu/riscv/hart.h"
#include "cpu/riscv/isa.h"

#include <stdlib.h>

static bool fuzz_no_mmio_read(void *o, uint64_t a, unsigned s, uint64_t *v)
{
	(void)o, (void)a, (void)s;
	*v = 0;
	return false;
}

static bool fuzz_no_mmio_write(void *o, uint64_t a, unsigned s, uint64_t v)
{
	(void)o, (void)a, (void)s, (void)v;
	return false;
}

static uint64_t fuzz_no_time(void *o)
{
	(void)o;
	return 0;
}

/* Initializes h on `size` bytes of RAM at `base` (held in `ram`, 4 KiB more readable past its end). */
static void fuzz_hart_init(struct rv_hart *h, uint8_t *ram, uint64_t base, uint64_t size, uint8_t vlen_pick)
{
	struct rv_bus bus = {.ram = ram,
	                     .ram_base = base,
	                     .ram_size = size,
	                     .mmio_read = fuzz_no_mmio_read,
	                     .mmio_write = fuzz_no_mmio_write,
	                     .read_time = fuzz_no_time};
	if (!rv_hart_init(h, 0, &bus)) abort();
	uint64_t ext = rv_ext_defaults();
	char err[128];
	static const char *const vlens[] = {"", "vlen=256", "vlen=512", "vlen=1024"};
	if (!rv_ext_apply(&ext, vlens[vlen_pick & 3], err, sizeof(err))) abort();
	rv_hart_set_extensions(h, ext);
	h->mstatus |= 3ULL << 13 | 3ULL << 9; /* FS and VS dirty */
}

#endif
