/*
 * spawn.c — see spawn.h.
 */
#define _GNU_SOURCE
#include "spawn.h"

#include "container/caps.h"
#include "container/ct_net.h"
#include "container/ct_seccomp.h"
#include "container/rootfs.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ct_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
	return -1;
}

/* The child's messages go through the error pipe, then it exits: nothing prints in the child. */
static _Noreturn void child_fail(int fd, const char *msg)
{
	ssize_t n = write(fd, msg, strlen(msg));
	(void)n;
	_exit(127);
}

static void child_stdio(const struct ct_stdio *io, int errfd)
{
	if (setsid() < 0) child_fail(errfd, "setsid failed");
	if (io->console >= 0 && ioctl(io->console, TIOCSCTTY, 0))
		child_fail(errfd, "cannot take the console as the controlling terminal");
	int fds[3] = {io->in, io->out, io->err};
	for (int i = 0; i < 3; i++)
		if (fds[i] != i && dup2(fds[i], i) < 0) child_fail(errfd, "cannot set up stdio");
	/* Whatever the host had open stays outside: everything above stderr closes on exec. */
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC)) child_fail(errfd, "close_range failed");
}

/* A pty from the container's devpts (inside its mount namespace: /dev/ptmx is its pts/ptmx): the slave
 * becomes stdio and terminal, the master goes to the caller over io->pty_sock. */
static void child_pty(struct ct_stdio *io, int errfd)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char path[64];
	if (master < 0 || grantpt(master) || unlockpt(master) || ptsname_r(master, path, sizeof(path)))
		child_fail(errfd, "cannot allocate a pty in the container's /dev/pts");
	int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) child_fail(errfd, "cannot open the pty's slave in the container");
	char byte = 0;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = {0};
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(io->pty_sock, &msg, MSG_NOSIGNAL) != 1) child_fail(errfd, "cannot hand the pty over");
	close(master);
	close(io->pty_sock);
	io->in = io->out = io->err = io->console = slave;
	snprintf(io->console_path, sizeof(io->console_path), "%s", path);
}

int ct_recv_fd(int sock)
{
	char byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Capabilities, no_new_privs and seccomp: the last steps before exec, in this order (dropping the
 * bounding set needs CAP_SETPCAP; loading a filter without CAP_SYS_ADMIN needs no_new_privs). */
static void child_confine(const struct ct_spec *s, int errfd)
{
	char err[256];
	if (!caps_apply(s->caps, err, sizeof(err))) child_fail(errfd, err);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) child_fail(errfd, "cannot set no_new_privs");
	if (!ct_seccomp_apply(err, sizeof(err))) child_fail(errfd, err);
}

/* The defaults, each replaced by the definition's entry of the same name, then the definition's others. */
static char *const *child_env(const struct ct_spec *s, bool tty)
{
	static char hostname[80], *env[8 + CT_MAX_ENV + 1];
	snprintf(hostname, sizeof(hostname), "HOSTNAME=%s", s->hostname[0] ? s->hostname : s->name);
	int n = 0;
	env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	env[n++] = "HOME=/root";
	env[n++] = "container=cloison";
	env[n++] = hostname;
	if (tty) env[n++] = "TERM=xterm-256color";
	int defaults = n;
	for (int i = 0; i < s->nenv; i++) {
		size_t key = (size_t)(strchr(s->env[i], '=') - s->env[i]) + 1;
		int j = 0;
		while (j < defaults && strncmp(env[j], s->env[i], key)) j++;
		env[j < defaults ? j : n++] = s->env[i];
	}
	env[n] = NULL;
	return env;
}

static _Noreturn void child_exec(const struct ct_spec *s, char *const argv[], bool tty, int errfd)
{
	static char *const init_argv[] = {"/sbin/init", NULL}, *const sh_argv[] = {"/bin/sh", NULL};
	char *const *env = child_env(s, tty);
	if (s->cwd[0] && chdir(s->cwd)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "cannot enter the working directory %.200s: %s", s->cwd,
		         strerror(errno));
		child_fail(errfd, msg);
	}
	if (!argv || !argv[0]) {
		execve(init_argv[0], init_argv, env);
		argv = sh_argv;
	}
	/* The PATH search must use the container's PATH, not the host's: execvp reads environ. */
	environ = (char **)env;
	execvp(argv[0], argv);
	char msg[512];
	snprintf(msg, sizeof(msg), "cannot run '%.200s' in the container: %s", argv[0],
	         errno == ENOENT ? "no such file in the root filesystem (searched PATH)" : strerror(errno));
	child_fail(errfd, msg);
}

size_t ct_read_message(int fd, char *msg, size_t size)
{
	size_t len = 0;
	while (len < size - 1) {
		ssize_t n = read(fd, msg + len, size - 1 - len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		len += (size_t)n;
	}
	msg[len] = 0;
	return len;
}

struct child_ctx {
	const struct ct_spec *s;
	const char *ctdir;
	const struct ct_stdio *io;
	int go_fd, err_fd;
	bool has_cgroup;
};

static _Noreturn void child_main(const struct child_ctx *c)
{
	const struct ct_spec *s = c->s;
	char err[512], overlay[4096 + 16];
	char go;
	if (read(c->go_fd, &go, 1) != 1) _exit(1); /* the parent gave up */
	close(c->go_fd);
	if (s->userns && (setresgid(0, 0, 0) || setresuid(0, 0, 0)))
		child_fail(c->err_fd, "cannot become root in the user namespace");
	if (c->has_cgroup && unshare(CLONE_NEWCGROUP))
		child_fail(c->err_fd, "cannot create the cgroup namespace");
	const char *host = s->hostname[0] ? s->hostname : s->name;
	if (sethostname(host, strlen(host))) child_fail(c->err_fd, "cannot set the hostname");
	snprintf(overlay, sizeof(overlay), "%s/overlay", c->ctdir);
	struct rootfs_opts ro = {
	    .rootfs = s->rootfs,
	    .overlay = s->overlay ? overlay : NULL,
	    .read_only = s->read_only,
	    .new_netns = s->net.mode != CT_NET_HOST,
	    .userns = s->userns,
	    .console = c->io->console >= 0 ? c->io->console_path : NULL,
	};
	if (!rootfs_setup(&ro, err, sizeof(err))) child_fail(c->err_fd, err);
	if (!ct_net_configure_inside(&s->net, err, sizeof(err))) child_fail(c->err_fd, err);
	child_stdio(c->io, c->err_fd);
	child_confine(s, c->err_fd);
	child_exec(s, s->argv, c->io->console >= 0, c->err_fd);
}

static bool write_proc_file(pid_t pid, const char *file, const char *text, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));
	int e = errno;
	if (fd >= 0) close(fd);
	if (n != (ssize_t)strlen(text)) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(e));
		return false;
	}
	return true;
}

static bool write_id_maps(const struct ct_spec *s, pid_t pid, char *err, size_t errlen)
{
	char map[64];
	if (geteuid() == 0) {
		snprintf(map, sizeof(map), "0 %u %u\n", s->uid_base, s->uid_count);
		return write_proc_file(pid, "uid_map", map, err, errlen) &&
		       write_proc_file(pid, "gid_map", map, err, errlen);
	}
	/* Unprivileged: only our own IDs can be mapped, and setgroups must be denied first. */
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)geteuid());
	if (!write_proc_file(pid, "uid_map", map, err, errlen)) return false;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getegid());
	return write_proc_file(pid, "setgroups", "deny", err, errlen) &&
	       write_proc_file(pid, "gid_map", map, err, errlen);
}

static bool prepare_overlay(const struct ct_spec *s, const char *ctdir, char *err, size_t errlen)
{
	if (!s->overlay) return true;
	if (strpbrk(s->rootfs, ",:\\")) {
		snprintf(err, errlen,
		         "--overlay: the rootfs path may not contain ',', ':' or '\\' (overlayfs options)");
		return false;
	}
	static const char *const sub[] = {"overlay", "overlay/upper", "overlay/work", "overlay/merged"};
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char path[4096 + 32];
		snprintf(path, sizeof(path), "%s/%s", ctdir, sub[i]);
		if (mkdir(path, 0755) && errno != EEXIST) {
			snprintf(err, errlen, "creating %.300s: %s", path, strerror(errno));
			return false;
		}
	}
	return true;
}

static bool userns_available(char *err, size_t errlen)
{
	FILE *f = fopen("/proc/sys/user/max_user_namespaces", "re");
	long max = -1;
	if (f) {
		if (fscanf(f, "%ld", &max) != 1) max = -1;
		fclose(f);
	}
	if (max == 0) {
		snprintf(err, errlen,
		         "user namespaces are disabled on this host (/proc/sys/user/max_user_namespaces "
		         "is 0); run as root without --userns, or raise that limit");
		return false;
	}
	return true;
}

static bool make_cgroup(const struct ct_spec *s, struct ct_runtime *rt, char *err, size_t errlen)
{
	struct cg_host h;
	if (!cg_host_probe(&h, err, errlen)) return false;
	char leaf[CT_NAME_MAX + 16];
	snprintf(leaf, sizeof(leaf), "cloison-ct-%s", s->name);
	if (cg_create(&h, leaf, &s->limits, &rt->cg, err, errlen)) {
		rt->has_cgroup = true;
		return true;
	}
	const struct cg_limits *l = &s->limits;
	bool limits = l->cpu_weight || l->cpu_max_pct || l->memory || l->pids || l->io_weight;
	/* Without limits a cgroup only serves accounting and the freezer: an unprivileged user on a host
	 * that delegates nothing still gets a container. */
	if (limits || geteuid() == 0) return false;
	log_warn("container '%s' runs without a cgroup (no accounting, no pause): %s", s->name, err);
	return true;
}

bool ct_spawn(const struct ct_spec *s, const char *ctdir, const struct ct_stdio *io, struct ct_runtime *rt,
              int *pidfd, char *err, size_t errlen)
{
	if (s->userns && !userns_available(err, errlen)) return false;
	struct stat st;
	if (stat(s->rootfs, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "rootfs %.300s: %s", s->rootfs,
		         S_ISDIR(st.st_mode) || errno ? strerror(errno) : "not a directory");
		return false;
	}
	if (!prepare_overlay(s, ctdir, err, errlen)) return false;
	rt->has_cgroup = false;
	if (!make_cgroup(s, rt, err, errlen)) return false;
	int go[2] = {-1, -1}, ep[2] = {-1, -1};
	if (pipe2(go, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail_pipes;
	}
	uint64_t flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD;
	if (s->net.mode != CT_NET_HOST) flags |= CLONE_NEWNET;
	if (s->userns) flags |= CLONE_NEWUSER;
	int fd = -1;
	struct clone_args args = {.flags = flags, .pidfd = (uint64_t)(uintptr_t)&fd, .exit_signal = SIGCHLD};
	fflush(NULL);
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		close(go[1]);
		close(ep[0]);
		struct child_ctx c = {s, ctdir, io, go[0], ep[1], rt->has_cgroup};
		child_main(&c);
	}
	if (pid < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create the container's namespaces: %s%s", strerror(e),
		         e == EPERM && s->userns ? " (user namespaces may be disabled: see "
		                                   "/proc/sys/user/max_user_namespaces)"
		         : e == EPERM            ? " (needs root, or --userns)"
		         : e == ENOSPC ? " (a namespace limit in /proc/sys/user/ is reached or zero)"
		                       : "");
		goto fail_pipes;
	}
	close(go[0]);
	close(ep[1]);
	go[0] = ep[1] = -1;
	rt->pid = (pid_t)pid;
	rt->pid_start = ct_proc_start_time(rt->pid);
	bool ok = (!s->userns || write_id_maps(s, rt->pid, err, errlen)) &&
	          (!rt->has_cgroup || cg_attach(&rt->cg, rt->pid, err, errlen)) &&
	          ct_net_attach(&s->net, rt->pid, rt->host_if, err, errlen);
	if (ok && write(go[1], "g", 1) != 1) {
		snprintf(err, errlen, "the container's init died before starting");
		ok = false;
	}
	close(go[1]);
	go[1] = -1;
	if (ok) {
		/* EOF: exec succeeded. Anything else is the child's message. */
		char msg[512];
		if (ct_read_message(ep[0], msg, sizeof(msg))) {
			snprintf(err, errlen, "%s", msg);
			ok = false;
		}
	}
	close(ep[0]);
	ep[0] = -1;
	if (!ok) {
		kill(rt->pid, SIGKILL);
		waitpid(rt->pid, NULL, 0);
		close(fd);
		rt->pid = 0;
		goto fail;
	}
	rt->started_at = (int64_t)time(NULL);
	*pidfd = fd;
	return true;
fail_pipes:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0) close(go[i]);
		if (ep[i] >= 0) close(ep[i]);
	}
fail:
	ct_spawn_cleanup(rt);
	return false;
}

void ct_spawn_cleanup(struct ct_runtime *rt)
{
	if (!rt->has_cgroup) return;
	char err[256];
	cg_kill_all(&rt->cg, SIGKILL);
	cg_destroy(&rt->cg, err, sizeof(err));
}

bool ct_exec_start(const struct ct_spec *s, const struct ct_runtime *rt, char *const argv[],
                   const struct ct_stdio *io, pid_t *out, char *err, size_t errlen)
{
	int pidfd = pidfd_open(rt->pid, 0);
	if (pidfd < 0 || ct_proc_start_time(rt->pid) != rt->pid_start) {
		snprintf(err, errlen, "container '%s' is not running", s->name);
		if (pidfd >= 0) close(pidfd);
		return false;
	}
	int ep[2];
	if (pipe2(ep, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(pidfd);
		return false;
	}
	/* Nothing inside may open this process's /proc/PID/exe (the runtime binary) while it is in the
	 * container's namespaces: it is not dumpable until exec replaces it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* The PID namespace applies to children: join it first, so the child is born inside. */
	if (setns(pidfd, CLONE_NEWPID)) {
		snprintf(err, errlen, "joining the container's PID namespace: %s", strerror(errno));
		close(pidfd);
		close(ep[0]);
		close(ep[1]);
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(ep[0]);
		char msg[512];
		/* "0" moves the writer: the child joins the cgroup while it still sees the host's mounts. */
		if (rt->has_cgroup && !cg_attach(&rt->cg, 0, msg, sizeof(msg))) child_fail(ep[1], msg);
		int ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
		if (s->net.mode != CT_NET_HOST) ns |= CLONE_NEWNET;
		if (s->userns) ns |= CLONE_NEWUSER;
		if (rt->has_cgroup) ns |= CLONE_NEWCGROUP;
		if (setns(pidfd, ns)) {
			snprintf(msg, sizeof(msg), "joining the container's namespaces: %s", strerror(errno));
			child_fail(ep[1], msg);
		}
		if (s->userns && (setresgid(0, 0, 0) || setresuid(0, 0, 0)))
			child_fail(ep[1], "cannot become root in the user namespace");
		if (chdir("/")) child_fail(ep[1], "chdir / failed");
		struct ct_stdio pio = *io;
		if (io->pty_sock >= 0) child_pty(&pio, ep[1]);
		child_stdio(&pio, ep[1]);
		child_confine(s, ep[1]);
		child_exec(s, argv, pio.console >= 0, ep[1]);
	}
	close(pidfd);
	close(ep[1]);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(ep[0]);
		return false;
	}
	char msg[512];
	size_t len = ct_read_message(ep[0], msg, sizeof(msg));
	close(ep[0]);
	if (len) {
		snprintf(err, errlen, "%s", msg);
		waitpid(pid, NULL, 0);
		return false;
	}
	*out = pid;
	return true;
}
