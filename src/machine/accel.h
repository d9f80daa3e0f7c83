/*
 * accel.h — how the board runs its harts: an accelerator, either cloison's own
 * emulator (accel_emu.c, over cpu/riscv) or the host kernel's KVM (accel_kvm.c,
 * on riscv64 Linux hosts with /dev/kvm). The board and everything above it see
 * harts only through this interface: create, reset, run on a thread, stop,
 * interrupt lines, counters, snapshot sections.
 *
 * Devices are shared: MMIO that an accelerator cannot satisfy from RAM goes to
 * the rv_bus callbacks the board gives it, so every device model exists once.
 */
#ifndef CLOISON_MACHINE_ACCEL_H
#define CLOISON_MACHINE_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct machine_config;
struct machine_hart_stats;
struct rv_bus;
struct state_reader;
struct state_writer;
struct lease;
struct accel_cpu; /* one hart, as the accelerator keeps it */

struct accel_ops {
	const char *name;    /* "emulator", "kvm" */
	const char *section; /* the snapshot section of one hart's state */
	unsigned section_version;
	bool provides_sbi; /* implements the SBI itself: the board boots the kernel without firmware */
	/* Board-wide state (KVM: the VM and its memory slot), before the harts; NULL if none is needed.
	 * May narrow m->isa_ext to what the harts really offer. */
	void *(*vm_create)(struct machine *m, char *err, size_t errlen);
	void (*vm_destroy)(void *vm);
	struct accel_cpu *(*cpu_create)(struct machine *m, unsigned index, const struct rv_bus *bus,
	                                const struct machine_config *cfg, char *err, size_t errlen);
	void (*cpu_destroy)(struct accel_cpu *c);
	/* Boot state: pc, a0 = hartid, a1, a2; interrupt lines low. Hart 0 runs, the others too unless the
	 * accelerator starts them through SBI HSM (KVM). */
	void (*reset)(struct accel_cpu *c, uint64_t pc, uint64_t a1, uint64_t a2);
	/* The hart thread's body: runs until asked to stop. */
	void (*run)(struct accel_cpu *c);
	/* Asks run() to return soon (stop) or lets the next run() go on (!stop); from any thread. */
	void (*request_stop)(struct accel_cpu *c, bool stop);
	/* An interrupt line (RV_IRQ_*: MSI, MEI, SEI) from a device, from any thread. */
	void (*set_irq)(struct accel_cpu *c, unsigned irq, bool level);
	void (*stats)(const struct accel_cpu *c, struct machine_hart_stats *st);
	uint64_t (*instructions)(const struct accel_cpu *c);
	/* Snapshots (the hart stopped): its state in and out of a section the board opened. */
	void (*save)(struct accel_cpu *c, struct state_writer *w);
	void (*load)(struct accel_cpu *c, struct state_reader *r);
	/* RAM changed behind the hart's back (loaded, dirty-log round): drop what it cached of it. */
	void (*ram_changed)(struct accel_cpu *c);
	/* Live migration, for accelerators whose harts write RAM the board does not see (KVM; NULL for the
	 * emulator, whose harts mark m->dirty themselves): turn the tracking of written pages on or off,
	 * and, with the harts stopped, add the pages written since the last call to m->dirty. */
	bool (*dirty_track)(struct machine *m, bool on);
	void (*dirty_collect)(struct machine *m);
	/* Speed limits and the run lease (NULL when the accelerator has none: KVM runs unthrottled). */
	void (*set_limits)(struct accel_cpu *c, uint64_t ips, uint32_t cpu_pct_per_hart);
	void (*set_lease)(struct accel_cpu *c, const struct lease *l);
};

extern const struct accel_ops accel_emulator;
/* NULL where the host cannot run KVM RISC-V guests (it is not a riscv64 Linux build). */
extern const struct accel_ops *const accel_kvm;

/* The emulator's hart behind an accelerator hart, for the devices only the emulator has (the CLINT,
 * which M-mode firmware drives); NULL under another accelerator. */
struct rv_hart *accel_emu_hart(struct machine *m, unsigned index);
/* The emulator's harts count their data TLB lookups from now on (for --stats: translated code
 * made after this call counts its hits, at a small cost); nothing under another accelerator. */
void accel_emu_count_tlb(struct machine *m);

#endif
