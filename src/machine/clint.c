/*
 * clint.c — SiFive CLINT (ACLINT MSWI + MTIMER layout): per-hart software
 * interrupt bits (msip), per-hart timer compares (mtimecmp) and mtime.
 *
 * mtime is the machine's platform clock and is read-only here; the timer
 * interrupt itself is computed by each hart from its mtimecmp, so this
 * device only forwards writes.
 */
#include "devices.h"
#include "board.h"

#include <stdlib.h>
#include <stdio.h>

#define CLINT_MSIP 0x0000
#define CLINT_MTIMECMP 0x4000
#define CLINT_MTIME 0xbff8

struct clint {
	struct machine *m;
};

static bool clint_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct clint *c = dev;
	struct machine *m = c->m;
	*val = 0;
	if (off < CLINT_MSIP + 4 * m->nharts) {
		if (size != 4 || (off & 3)) return false;
		struct rv_hart *h = accel_emu_hart(m, (unsigned)(off / 4));
		*val = (atomic_load(&h->irq_lines) >> RV_IRQ_MSI) & 1;
		return true;
	}
	if (off >= CLINT_MTIMECMP && off < CLINT_MTIMECMP + 8 * m->nharts) {
		uint64_t rel = off - CLINT_MTIMECMP;
		uint64_t v = atomic_load(&accel_emu_hart(m, (unsigned)(rel / 8))->mtimecmp);
		if (size == 8 && !(rel & 7))
			*val = v;
		else if (size == 4 && !(rel & 3))
			*val = (uint32_t)(v >> (8 * (rel & 4)));
		else
			return false;
		return true;
	}
	if (off == CLINT_MTIME || off == CLINT_MTIME + 4) {
		uint64_t t = machine_time(m);
		if (size == 8 && off == CLINT_MTIME)
			*val = t;
		else if (size == 4)
			*val = (uint32_t)(t >> (8 * (off - CLINT_MTIME)));
		else
			return false;
		return true;
	}
	return true; /* reserved space reads as zero */
}

static bool clint_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct clint *c = dev;
	struct machine *m = c->m;
	if (off < CLINT_MSIP + 4 * m->nharts) {
		if (size != 4 || (off & 3)) return false;
		rv_hart_set_irq(accel_emu_hart(m, (unsigned)(off / 4)), RV_IRQ_MSI, val & 1);
		return true;
	}
	if (off >= CLINT_MTIMECMP && off < CLINT_MTIMECMP + 8 * m->nharts) {
		uint64_t rel = off - CLINT_MTIMECMP;
		struct rv_hart *h = accel_emu_hart(m, (unsigned)(rel / 8));
		uint64_t cur = atomic_load(&h->mtimecmp);
		if (size == 8 && !(rel & 7))
			cur = val;
		else if (size == 4 && !(rel & 3)) {
			unsigned shift = 8 * (rel & 4);
			cur = (cur & ~(0xffffffffULL << shift)) | ((val & 0xffffffffULL) << shift);
		} else
			return false;
		rv_hart_set_mtimecmp(h, cur);
		return true;
	}
	return true; /* mtime is read-only on this board; reserved space ignores writes */
}

struct clint *clint_create(struct machine *m)
{
	struct clint *c = calloc(1, sizeof(*c));
	if (!c) return NULL;
	c->m = m;
	if (!machine_add_region(m, VIRT_CLINT_BASE, VIRT_CLINT_SIZE, clint_read, clint_write, c)) {
		free(c);
		return NULL;
	}
	return c;
}

void clint_destroy(struct clint *c)
{
	free(c);
}

static bool clint_board_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!accel_emu_hart(m, 0))
		return true; /* M-mode's device: an accelerator with its own SBI has none */
	if ((m->clint = clint_create(m))) return true;
	snprintf(err, errlen, "cannot create the core-local interruptor (CLINT)");
	return false;
}

static void clint_board_destroy(struct machine *m)
{
	clint_destroy(m->clint);
	m->clint = NULL;
}

const struct board_device clint_board = {
    .create = clint_board_create,
    .destroy = clint_board_destroy,
};
