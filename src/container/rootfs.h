/*
 * rootfs.h — the container's filesystem view, built inside its new mount
 * namespace: the root (a bind of the rootfs, or an overlay with a
 * copy-on-write upper layer), /proc, /sys, a minimal /dev with its own
 * devpts, the masked and read-only kernel paths, then pivot_root.
 *
 * Every mount target inside the root is opened with openat2(RESOLVE_IN_ROOT)
 * and mounted through its /proc/self/fd link, so a symlink in the rootfs
 * (`dev -> /etc` or `proc -> ../../..`) resolves inside the root and never
 * lets a mount land on the host.
 */
#ifndef CLOISON_CONTAINER_ROOTFS_H
#define CLOISON_CONTAINER_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

struct rootfs_opts {
	const char *rootfs;  /* the directory given by --rootfs */
	const char *overlay; /* the container's overlay directory (upper/, work/, merged/), or NULL */
	bool read_only;
	bool new_netns;      /* a fresh sysfs can be mounted (else the host's is bound read-only) */
	bool userns;         /* device nodes are bound from the host instead of created */
	const char *console; /* path of the pty slave bound on /dev/console, or NULL */
};

/* Paths hidden (masked) and made read-only inside, as OCI runtimes do. NULL-terminated. */
extern const char *const rootfs_masked_paths[];
extern const char *const rootfs_readonly_paths[];

/* Runs in the child, in its new mount namespace, before capabilities are dropped. On success the
 * process's root and cwd are the container's root. */
bool rootfs_setup(const struct rootfs_opts *o, char *err, size_t errlen);

#endif
