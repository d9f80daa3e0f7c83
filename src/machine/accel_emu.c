/*
 * accel_emu.c — the emulator as an accelerator (accel.h): each hart is a
 * cpu/riscv rv_hart, interpreted or translated, run on its own thread.
 */
#include "accel.h"
#include "machine.h"
#include "stats.h"

#include "cpu/riscv/hart.h"

#include <stdio.h>
#include <stdlib.h>

static struct rv_hart *hart(struct accel_cpu *c)
{
	return (struct rv_hart *)c;
}

static const struct rv_hart *chart(const struct accel_cpu *c)
{
	return (const struct rv_hart *)c;
}

static struct accel_cpu *emu_cpu_create(struct machine *m, unsigned index, const struct rv_bus *bus,
                                        const struct machine_config *cfg, char *err, size_t errlen)
{
	struct rv_hart *h = rv_hart_alloc();
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!rv_hart_init(h, index, bus)) {
		snprintf(err, errlen, "cannot reserve memory for hart %u's instruction cache", index);
		rv_hart_destroy(h);
		rv_hart_release(h);
		return NULL;
	}
	rv_hart_set_extensions(h, m->isa_ext);
	if (cfg->jit && !rv_hart_enable_jit(h)) {
		if (!rv_hart_jit_available())
			snprintf(err, errlen,
			         "this host has no translator (it targets x86-64): use --jit off");
		else
			snprintf(err, errlen, "cannot reserve memory for hart %u's translated code", index);
		rv_hart_destroy(h);
		rv_hart_release(h);
		return NULL;
	}
	return (struct accel_cpu *)h;
}

static void emu_cpu_destroy(struct accel_cpu *c)
{
	rv_hart_destroy(hart(c));
	rv_hart_release(hart(c));
}

static void emu_reset(struct accel_cpu *c, uint64_t pc, uint64_t a1, uint64_t a2)
{
	struct rv_hart *h = hart(c);
	rv_hart_reset(h, pc);
	atomic_store(&h->irq_lines, 0);
	atomic_store(&h->stop, 0);
	h->x[10] = h->hartid;
	h->x[11] = a1;
	h->x[12] = a2;
}

static void emu_run(struct accel_cpu *c)
{
	rv_hart_run(hart(c));
}

static void emu_request_stop(struct accel_cpu *c, bool stop)
{
	atomic_store(&hart(c)->stop, stop);
	if (stop) rv_hart_kick(hart(c));
}

static void emu_set_irq(struct accel_cpu *c, unsigned irq, bool level)
{
	rv_hart_set_irq(hart(c), irq, level);
}

static uint64_t emu_instructions(const struct accel_cpu *c)
{
	return rv_hart_instret(chart(c));
}

static void emu_stats(const struct accel_cpu *c, struct machine_hart_stats *st)
{
	const struct rv_hart *h = chart(c);
	*st = (struct machine_hart_stats){
	    .instructions = rv_hart_instret(h),
	    .wfi_sleeps = h->wfi_count,
	    .engine = h->stats,
	    .tlb = h->tlb_counts,
	    .throttled_ns = atomic_load(&h->throttle.throttled_ns),
	    .pc = __atomic_load_n(&h->pc, __ATOMIC_RELAXED),
	    .priv = h->priv,
	};
}

static void emu_save(struct accel_cpu *c, struct state_writer *w)
{
	rv_hart_save(hart(c), w);
}

static void emu_load(struct accel_cpu *c, struct state_reader *r)
{
	rv_hart_load(hart(c), r);
}

static void emu_ram_changed(struct accel_cpu *c)
{
	rv_hart_flush_tlb(hart(c));
}

static void emu_set_limits(struct accel_cpu *c, uint64_t ips, uint32_t cpu_pct)
{
	rv_throttle_set(&hart(c)->throttle, ips, cpu_pct);
}

static void emu_set_lease(struct accel_cpu *c, const struct lease *l)
{
	hart(c)->lease = l;
}

const struct accel_ops accel_emulator = {
    .name = "emulator",
    .section = "hart",
    .section_version = RV_HART_STATE_VERSION,
    .cpu_create = emu_cpu_create,
    .cpu_destroy = emu_cpu_destroy,
    .reset = emu_reset,
    .run = emu_run,
    .request_stop = emu_request_stop,
    .set_irq = emu_set_irq,
    .stats = emu_stats,
    .instructions = emu_instructions,
    .save = emu_save,
    .load = emu_load,
    .ram_changed = emu_ram_changed,
    .set_limits = emu_set_limits,
    .set_lease = emu_set_lease,
};

void accel_emu_count_tlb(struct machine *m)
{
	for (unsigned i = 0; i < m->nharts; i++) {
		struct rv_hart *h = accel_emu_hart(m, i);
		if (h) h->count_tlb = true;
	}
}

struct rv_hart *accel_emu_hart(struct machine *m, unsigned index)
{
	return m->accel == &accel_emulator && index < m->nharts ? hart(m->cpus[index]) : NULL;
}
