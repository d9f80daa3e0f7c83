/*
 * rootfs.c — see rootfs.h. Runs in the child between clone and exec; it
 * reports errors through err and never prints.
 */
#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char *const rootfs_masked_paths[] = {
    "proc/acpi",
    "proc/asound",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "proc/sysrq-trigger",
    "sys/firmware",
    "sys/devices/virtual/powercap",
    NULL,
};
const char *const rootfs_readonly_paths[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sys", NULL};

#define FAIL(...)                                                                                            \
	do {                                                                                                 \
		snprintf(err, errlen, __VA_ARGS__);                                                          \
		return false;                                                                                \
	} while (0)

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Opens path (relative to the root, resolved inside it) as an O_PATH fd; creates a missing directory
 * (and its parents) when mkdir is set. */
static int open_in_root(int rootfd, const char *path, bool mkdir_missing)
{
	int fd = openat2_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || errno != ENOENT || !mkdir_missing) return fd;
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	const char *base = path;
	int pfd;
	if (slash) {
		*slash = 0;
		base = slash + 1;
		pfd = open_in_root(rootfd, parent, true);
	} else {
		pfd = dup(rootfd);
	}
	if (pfd < 0) return -1;
	if (mkdirat(pfd, base, 0755) && errno != EEXIST) {
		int e = errno;
		close(pfd);
		errno = e;
		return -1;
	}
	close(pfd);
	return openat2_in_root(rootfd, path, O_PATH);
}

static void fd_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Mounts onto path inside the root. */
static bool mount_in(int rootfd, const char *path, const char *source, const char *fstype,
                     unsigned long flags, const char *data, char *err, size_t errlen)
{
	int fd = open_in_root(rootfd, path, true);
	if (fd < 0) FAIL("rootfs: /%s: %s", path, strerror(errno));
	char p[64];
	fd_path(p, sizeof(p), fd);
	int rc = mount(source, p, fstype, flags, data);
	int e = errno;
	close(fd);
	if (rc) FAIL("rootfs: mounting %s on /%s: %s", fstype ? fstype : source, path, strerror(e));
	return true;
}

static unsigned long statvfs_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv)) return 0;
	unsigned long f = 0;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

/* Binds path onto itself and makes that read-only (the flags the kernel locks are kept). */
static bool bind_readonly(int rootfd, const char *path, bool missing_ok, char *err, size_t errlen)
{
	int fd = open_in_root(rootfd, path, false);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok) return true;
		FAIL("rootfs: /%s: %s", path, strerror(errno));
	}
	char p[64];
	fd_path(p, sizeof(p), fd);
	int rc = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
	close(fd);
	if (rc) FAIL("rootfs: binding /%s: %s", path, strerror(errno));
	fd = open_in_root(rootfd, path, false); /* now the new mount */
	if (fd < 0) FAIL("rootfs: /%s: %s", path, strerror(errno));
	fd_path(p, sizeof(p), fd);
	rc = mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | statvfs_flags(p), NULL);
	close(fd);
	if (rc) FAIL("rootfs: making /%s read-only: %s", path, strerror(errno));
	return true;
}

static bool mask_path(int rootfd, const char *path, char *err, size_t errlen)
{
	int fd = open_in_root(rootfd, path, false);
	if (fd < 0) {
		if (errno == ENOENT) return true;
		FAIL("rootfs: /%s: %s", path, strerror(errno));
	}
	struct stat st;
	char p[64];
	fd_path(p, sizeof(p), fd);
	int rc = fstat(fd, &st);
	if (rc == 0)
		rc = S_ISDIR(st.st_mode)
		         ? mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		                 "size=0,mode=555")
		         : mount("/dev/null", p, NULL, MS_BIND, NULL);
	int e = errno;
	close(fd);
	if (rc) FAIL("rootfs: masking /%s: %s", path, strerror(e));
	return true;
}

static bool setup_dev(int rootfd, const struct rootfs_opts *o, char *err, size_t errlen)
{
	if (!mount_in(rootfd, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
	              err, errlen))
		return false;
	int devfd = open_in_root(rootfd, "dev", false);
	if (devfd < 0) FAIL("rootfs: /dev: %s", strerror(errno));
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
	             {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
	mode_t old = umask(0);
	bool ok = true;
	for (size_t i = 0; ok && i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (!o->userns && mknodat(devfd, nodes[i].name, S_IFCHR | 0666,
		                          makedev(nodes[i].major, nodes[i].minor)) == 0)
			continue;
		/* In a user namespace mknod is refused: bind the host's node instead. */
		int f = openat(devfd, nodes[i].name, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (f >= 0) close(f);
		char src[64];
		snprintf(src, sizeof(src), "/dev/%s", nodes[i].name);
		char dst[64];
		snprintf(dst, sizeof(dst), "dev/%s", nodes[i].name);
		ok = mount_in(rootfd, dst, src, NULL, MS_BIND, NULL, err, errlen);
	}
	umask(old);
	if (ok)
		ok = mount_in(rootfd, "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
		              o->userns ? "newinstance,ptmxmode=0666,mode=0620"
		                        : "newinstance,ptmxmode=0666,mode=0620,gid=5",
		              err, errlen);
	if (ok)
		ok = mount_in(rootfd, "dev/shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		              "mode=1777,size=65536k", err, errlen);
	if (ok)
		ok = mount_in(rootfd, "dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		              NULL, err, errlen);
	static const char *const links[][2] = {{"pts/ptmx", "ptmx"},
	                                       {"/proc/self/fd", "fd"},
	                                       {"/proc/self/fd/0", "stdin"},
	                                       {"/proc/self/fd/1", "stdout"},
	                                       {"/proc/self/fd/2", "stderr"}};
	for (size_t i = 0; ok && i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i][0], devfd, links[i][1])) {
			snprintf(err, errlen, "rootfs: /dev/%s: %s", links[i][1], strerror(errno));
			ok = false;
		}
	if (ok && o->console) {
		/* By path: a bind's source must be in this mount namespace, which the parent's fd is not. */
		int f = openat(devfd, "console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (f >= 0) close(f);
		ok = mount_in(rootfd, "dev/console", o->console, NULL, MS_BIND, NULL, err, errlen);
	}
	close(devfd);
	return ok;
}

bool rootfs_setup(const struct rootfs_opts *o, char *err, size_t errlen)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		FAIL("rootfs: making mounts private: %s", strerror(errno));
	char root[4096];
	if (o->overlay) {
		char data[3 * 4096 + 64];
		int n = snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work",
		                 o->rootfs, o->overlay, o->overlay);
		snprintf(root, sizeof(root), "%s/merged", o->overlay);
		if (n < 0 || (size_t)n >= sizeof(data)) FAIL("rootfs: overlay paths too long");
		if (mount("overlay", root, "overlay", 0, data))
			FAIL("rootfs: overlay over %s: %s", o->rootfs, strerror(errno));
	} else {
		snprintf(root, sizeof(root), "%s", o->rootfs);
		if (mount(root, root, NULL, MS_BIND | MS_REC, NULL))
			FAIL("rootfs: binding %s: %s", root, strerror(errno));
	}
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) FAIL("rootfs: %s: %s", root, strerror(errno));
	bool ok =
	    mount_in(rootfd, "proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, err, errlen);
	if (ok) {
		if (o->new_netns)
			ok = mount_in(rootfd, "sys", "sysfs", "sysfs",
			              MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, err, errlen);
		else
			ok = mount_in(rootfd, "sys", "/sys", NULL, MS_BIND | MS_REC, NULL, err, errlen) &&
			     bind_readonly(rootfd, "sys", false, err, errlen);
	}
	if (ok) ok = setup_dev(rootfd, o, err, errlen);
	for (const char *const *p = rootfs_masked_paths; ok && *p; p++)
		ok = mask_path(rootfd, *p, err, errlen);
	for (const char *const *p = rootfs_readonly_paths; ok && *p; p++)
		ok = bind_readonly(rootfd, *p, true, err, errlen);
	close(rootfd);
	if (!ok) return false;
	if (chdir(root)) FAIL("rootfs: %s: %s", root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".")) FAIL("rootfs: pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH)) FAIL("rootfs: detaching the host's root: %s", strerror(errno));
	if (chdir("/")) FAIL("rootfs: chdir /: %s", strerror(errno));
	if (o->read_only &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | statvfs_flags("/"), NULL))
		FAIL("rootfs: making / read-only: %s", strerror(errno));
	return true;
}
