/*
 * ct_seccomp_rules.h — the default container system-call filter, as
 * libseccomp rules. Used at build time only: seccomp_gen compiles it to a
 * BPF program that the runtime loads directly (ct_seccomp.h), so starting
 * a container costs no filter compilation (Firecracker's approach).
 *
 * Everything is allowed except the calls that reach past the container:
 * kernel modules, kexec, the keyring, open_by_handle_at, BPF, perf, mount
 * and the new mount API, clocks, swap, io_uring, new user namespaces, and a
 * few obsolete ones. Blocked calls fail with EPERM; clone3 fails with
 * ENOSYS (its flags cannot be inspected, libc falls back to clone); foreign
 * ABIs (i386, x32) kill the process.
 */
#ifndef CLOISON_CONTAINER_CT_SECCOMP_RULES_H
#define CLOISON_CONTAINER_CT_SECCOMP_RULES_H

#include <seccomp.h>

extern const char *const ct_seccomp_blocked[];
/* The filter context, or NULL with *error set to a negative errno. */
scmp_filter_ctx ct_seccomp_rules_build(int *error);

#endif
