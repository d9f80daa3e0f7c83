/*
 * run.h — running a VM until it ends: the harts on their threads, host-side
 * device work on the caller's thread, and a guest reboot that clears RAM,
 * loads the boot images again and runs on. The caller supplies what happens
 * between rounds (console input, signals) through hooks; this file knows
 * nothing of terminals.
 */
#ifndef CLOISON_VM_RUN_H
#define CLOISON_VM_RUN_H

#include "vm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm_run_hooks {
	/* Called on the caller's thread while the guest runs; it waits up to about 10 ms for host-side
	 * input. True: stop the VM (the user asked). */
	bool (*poll)(void *ctx, struct machine *m);
	/* Called once, when the harts of a restored or arriving VM run again (may be NULL). */
	void (*resumed)(void *ctx);
	void *ctx;
};

struct vm_run_result {
	enum machine_exit reason;
	int guest_code;        /* what the guest reported with MACHINE_FAIL */
	double seconds;        /* host time the run took */
	uint64_t instructions; /* over every boot of the run */
};

/* Firmware, kernel, initrd and device tree into RAM, harts reset to the entry point. */
bool vm_load_boot_images(struct vm *v, char *err, size_t errlen);

/* Runs a VM whose RAM and harts are ready (booted by vm_load_boot_images, restored or arrived) until
 * the guest powers off or fails, the hooks ask it to stop, or an error ends it. False with err set
 * when a reboot could not load the boot images (res is filled either way). */
bool vm_run(struct vm *v, const struct vm_run_hooks *hooks, struct vm_run_result *res, char *err,
            size_t errlen);

#endif
