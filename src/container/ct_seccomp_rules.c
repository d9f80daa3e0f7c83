/*
 * ct_seccomp_rules.c — see ct_seccomp_rules.h.
 */
#define _GNU_SOURCE
#include "ct_seccomp_rules.h"

#include <errno.h>
#include <sched.h>

const char *const ct_seccomp_blocked[] = {
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "keyctl",
    "add_key",
    "request_key",
    "open_by_handle_at",
    "name_to_handle_at",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "lookup_dcookie",
    "mount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "quotactl",
    "syslog",
    "vhangup",
    "uselib",
    "nfsservctl",
    "_sysctl",
    "get_kernel_syms",
    "query_module",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "setns",
    NULL,
};

scmp_filter_ctx ct_seccomp_rules_build(int *error)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		*error = -ENOMEM;
		return NULL;
	}
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (const char *const *n = ct_seccomp_blocked; rc == 0 && *n; n++) {
		int nr = seccomp_syscall_resolve_name(*n);
		if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* A new user namespace would hand the container a full capability set over new objects. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
		                      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		                      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc) {
		seccomp_release(ctx);
		*error = rc;
		return NULL;
	}
	return ctx;
}
