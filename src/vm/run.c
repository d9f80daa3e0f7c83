/*
 * run.c — the run loop of one VM (see run.h): start the harts, serve the
 * host side until the guest stops, and boot it again on reboot.
 */
#include "run.h"

#include "machine/boot.h"
#include "util/clock.h"
#include "util/log.h"

#include <stdatomic.h>

bool vm_load_boot_images(struct vm *v, char *err, size_t errlen)
{
	struct boot_config boot = {.firmware = v->cfg.firmware[0] ? v->cfg.firmware : NULL,
	                           .kernel = v->cfg.kernel,
	                           .initrd = v->cfg.initrd[0] ? v->cfg.initrd : NULL,
	                           .cmdline = v->cfg.append};
	return boot_load(v->m, &boot, err, errlen) == 0;
}

bool vm_run(struct vm *v, const struct vm_run_hooks *hooks, struct vm_run_result *res, char *err,
            size_t errlen)
{
	struct machine *m = v->m;
	uint64_t start = monotonic_ns();
	bool first = true, ok = true;
	*res = (struct vm_run_result){0};
	for (;;) {
		machine_start(m);
		if (first && hooks->resumed) hooks->resumed(hooks->ctx);
		first = false;
		while (atomic_load(&m->exit_reason) == MACHINE_RUNNING) {
			if (hooks->poll(hooks->ctx, m)) machine_request_exit(m, MACHINE_QUIT, 0);
			machine_poll_io(m);
		}
		machine_stop(m);
		res->instructions += machine_instructions(m);
		if (atomic_load(&m->exit_reason) != MACHINE_REBOOT) break;
		log_info("guest requested a reboot");
		machine_clear_ram(m); /* fresh RAM: reads back as zero (also after a restore) */
		/* Pause and resume are refused until the harts are reset by the reload. */
		if (!vm_load_boot_images(v, err, errlen)) {
			atomic_store(&m->exit_reason, MACHINE_ERROR);
			ok = false;
			break;
		}
	}
	res->reason = atomic_load(&m->exit_reason);
	res->guest_code = m->exit_code;
	res->seconds = (double)(monotonic_ns() - start) / 1e9;
	return ok;
}
