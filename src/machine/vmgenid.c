/*
 * vmgenid.c — Virtual Machine Generation ID ("microsoft,vmgenid" device-tree
 * binding): a 128-bit identifier the guest reads, and an interrupt when it
 * changes. A clone gets a new one, and Linux's vmgenid driver then reseeds
 * its random number generator at once and sends a NEW_VMGENID uevent, so
 * two clones of one snapshot never share their random streams.
 *
 * The line stays high until the guest reads the identifier (its interrupt
 * handler does), so a level-triggered PLIC source delivers it exactly once.
 */
#include "devices.h"
#include "board.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

struct vmgenid {
	struct machine *m;
	unsigned irq;
	uint8_t id[16];
	bool line;
};

static void set_line(struct vmgenid *g, bool level)
{
	g->line = level;
	machine_set_irq(g->m, g->irq, level);
}

static bool vmgenid_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct vmgenid *g = dev;
	*val = 0;
	if (off + size <= sizeof(g->id)) memcpy(val, g->id + off, size);
	if (g->line) set_line(g, false);
	return true;
}

static bool vmgenid_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)dev, (void)off, (void)size, (void)val;
	return true; /* read-only */
}

static void fill_random(uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = getrandom(buf, len, 0);
		if (n <= 0) continue; /* EINTR; the pool is initialized on any running host */
		buf += n;
		len -= (size_t)n;
	}
}

struct vmgenid *vmgenid_create(struct machine *m, uint64_t base, unsigned irq)
{
	struct vmgenid *g = calloc(1, sizeof(*g));
	if (!g) return NULL;
	g->m = m;
	g->irq = irq;
	fill_random(g->id, sizeof(g->id));
	if (!machine_add_region(m, base, 0x1000, vmgenid_read, vmgenid_write, g)) {
		free(g);
		return NULL;
	}
	return g;
}

void vmgenid_destroy(struct vmgenid *g)
{
	free(g);
}

void vmgenid_change(struct vmgenid *g)
{
	fill_random(g->id, sizeof(g->id));
	set_line(g, true);
}

void vmgenid_save(const struct vmgenid *g, struct state_writer *w)
{
	state_put_bytes(w, g->id, sizeof(g->id));
	state_put_bool(w, g->line);
}

void vmgenid_load(struct vmgenid *g, struct state_reader *r)
{
	uint8_t id[16];
	state_get_bytes(r, id, sizeof(id));
	bool line = state_get_bool(r);
	if (r->failed) return;
	memcpy(g->id, id, sizeof(id));
	set_line(g, line);
}

BOARD_SINGLE_DEVICE(vmgenid, vmgenid, "vmgenid", vmgenid_create(m, VIRT_VMGENID_BASE, VIRT_VMGENID_IRQ),
                    "VM generation ID device");
