/*
 * caps.h — the capabilities a container keeps: names, the default set, and
 * reducing the calling process (bounding, permitted, effective, inheritable
 * and ambient sets) to a given set before exec.
 */
#ifndef CLOISON_CONTAINER_CAPS_H
#define CLOISON_CONTAINER_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The default set: the one Docker and Podman keep (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
 * SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP) plus SYS_BOOT, so that a system
 * container's init can shut down: in a PID namespace reboot() only ends that namespace's init (the
 * kernel turns it into a signal), and kexec stays blocked by the seccomp filter. */
uint64_t caps_default(void);
/* "NET_ADMIN", "CAP_NET_ADMIN" or "net_admin" → bit number; -1 unknown. "ALL" is handled by callers. */
int caps_from_name(const char *name);
const char *caps_name(int cap);
/* Applies set to the calling process; must run before exec and after everything needing privileges. */
bool caps_apply(uint64_t set, char *err, size_t errlen);

#endif
