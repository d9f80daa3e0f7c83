/*
 * lifecycle.c — see lifecycle.h.
 */
#define _GNU_SOURCE
#include "lifecycle.h"

#include "container/ct_console.h"
#include "container/ct_state.h"
#include "container/spawn.h"
#include "util/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* init's pidfd for the signal forwarder of a foreground run. */
static volatile sig_atomic_t forward_pidfd = -1;

static void forward_signal(int sig)
{
	if (forward_pidfd >= 0) pidfd_send_signal(forward_pidfd, sig, NULL, 0);
}

static void set_forwarding(bool on)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = on ? forward_signal : SIG_DFL};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) sigaction(sigs[i], &sa, NULL);
}

/* Waits for init (a child of this process) and records how it ended. */
/* `ct stop` leaves a note in the container's directory while it stops init: "asked SIG" when it sent
 * the shutdown signal SIG, "killed" once it had to send SIGKILL. */
#define STOP_NOTE "stop-request"

static void stop_note(const char *name, const char *what)
{
	char path[4096 + 32];
	if (!ct_dir(name, path, sizeof(path) - sizeof(STOP_NOTE) - 1)) return;
	strcat(path, "/" STOP_NOTE);
	if (!what) {
		unlink(path);
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) return;
	ssize_t n = write(fd, what, strlen(what));
	(void)n;
	close(fd);
}

/* The shutdown signal the note says `ct stop` sent and is still waiting on, or 0. */
static int stop_note_asked(const char *name)
{
	char path[4096 + 32], buf[16] = "";
	if (!ct_dir(name, path, sizeof(path) - sizeof(STOP_NOTE) - 1)) return 0;
	strcat(path, "/" STOP_NOTE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	int sig = 0;
	return n > 0 && sscanf(buf, "asked %d", &sig) == 1 && sig > 0 && sig < 65 ? sig : 0;
}

/* Whether init's end is the clean shutdown `ct stop` asked for: it exited 0, or died by the signal the
 * kernel sends a PID namespace's init when it calls reboot() (SIGINT for halt and power-off, SIGHUP for
 * restart), or by the shutdown signal itself (an init with no handler for it). */
static bool clean_stop(int status, int stop_signal)
{
	if (WIFEXITED(status)) return WEXITSTATUS(status) == 0;
	if (!WIFSIGNALED(status)) return false;
	int sig = WTERMSIG(status);
	return sig == SIGINT || sig == SIGHUP || sig == stop_signal;
}

/* The signal that asks this init to shut down: SIGRTMIN+3 for systemd, SIGPWR for busybox init and
 * sysvinit, SIGTERM for anything else (a plain command). */
static int stop_signal_for(pid_t pid)
{
	char path[64], exe[4096], cmd[4096];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
	if (fd >= 0) close(fd);
	cmd[n > 0 ? n : 0] = 0; /* argv[0] */
	const char *e = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	const char *a = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	if (!strcmp(e, "systemd") || !strcmp(a, "systemd")) return SIGRTMIN + 3;
	if (!strcmp(a, "init") || !strcmp(e, "init")) return SIGPWR;
	return SIGTERM;
}

static int reap(const struct ct_spec *s, struct ct_runtime *rt, bool remove)
{
	int status = 0;
	while (waitpid(rt->pid, &status, 0) < 0 && errno == EINTR) {
	}
	int code = ct_exit_code(status);
	/* Stopped as asked, in time: a clean stop, whatever signal the kernel used to end init. */
	int asked = stop_note_asked(s->name);
	if (asked && clean_stop(status, asked)) code = 0;
	stop_note(s->name, NULL);
	ct_spawn_cleanup(rt);
	char err[256];
	if (remove) {
		ct_record_remove(s->name, err, sizeof(err));
		return code;
	}
	rt->stopped = true;
	rt->exit_code = code;
	rt->stopped_at = (int64_t)time(NULL);
	ct_runtime_save(s->name, rt, err, sizeof(err));
	return code;
}

static int run_foreground(const struct ct_spec *s, const char *dir, const struct ct_run_opts *o, char *err,
                          size_t errlen)
{
	struct ct_runtime rt = {.exit_code = -1, .supervisor = getpid()};
	rt.supervisor_start = ct_proc_start_time(rt.supervisor);
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	int master = -1, slave = -1, pidfd = -1;
	struct ct_stdio io = {0, 1, 2, -1, "", -1};
	if (tty && !ct_pty_open(&master, &slave, io.console_path, STDIN_FILENO, err, errlen)) return -1;
	if (tty) io.in = io.out = io.err = io.console = slave;
	bool ok = ct_spawn(s, dir, &io, &rt, &pidfd, err, errlen);
	if (slave >= 0) close(slave);
	if (!ok) {
		if (master >= 0) close(master);
		return -1;
	}
	char ignore[256];
	ct_runtime_save(s->name, &rt, ignore, sizeof(ignore));
	forward_pidfd = pidfd;
	set_forwarding(true);
	if (tty) {
		ct_pty_relay(master, STDIN_FILENO, STDOUT_FILENO, pidfd, -1);
		close(master);
	}
	int code = reap(s, &rt, o->remove);
	set_forwarding(false);
	forward_pidfd = -1;
	close(pidfd);
	return code;
}

/* The supervisor of a detached container: a session of its own, the console into console.log and on
 * console.sock. */
static _Noreturn void supervise(const struct ct_spec *s, const char *dir, const struct ct_run_opts *o,
                                int report)
{
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char path[4096 + 32], err[512];
	snprintf(path, sizeof(path), "%s/console.log", dir);
	int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	if (log >= 0) dup2(log, STDERR_FILENO); /* the supervisor's own messages land in the log too */
	struct ct_runtime rt = {.exit_code = -1, .supervisor = getpid()};
	rt.supervisor_start = ct_proc_start_time(rt.supervisor);
	int master, slave, pidfd, lfd = -1;
	struct ct_stdio io = {.pty_sock = -1};
	if (!ct_pty_open(&master, &slave, io.console_path, -1, err, sizeof(err))) goto fail;
	io.in = io.out = io.err = io.console = slave;
	/* The console socket (`cloison console` through cloisond), ready before anyone hears the container
	 * runs. Without it the container runs on. */
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	lfd = unix_listen(path, 0600, 4, SOCK_NONBLOCK, err, sizeof(err));
	if (lfd < 0) dprintf(STDERR_FILENO, "cloison: no console socket: %s\n", err);
	bool ok = ct_spawn(s, dir, &io, &rt, &pidfd, err, sizeof(err));
	close(slave);
	if (!ok) goto fail;
	if (!ct_runtime_save(s->name, &rt, err, sizeof(err))) {
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		reap(s, &rt, false);
		goto fail;
	}
	if (write(report, "", 1) != 1) {
	}
	close(report);
	ct_pty_relay(master, -1, log, pidfd, lfd);
	if (lfd >= 0) close(lfd), unlink(path);
	reap(s, &rt, o->remove);
	_exit(0);
fail:
	if (lfd >= 0) unlink(path);
	if (write(report, err, strlen(err)) < 0) {
	}
	_exit(1);
}

static int run_detached(const struct ct_spec *s, const char *dir, const struct ct_run_opts *o, char *err,
                        size_t errlen)
{
	int rp[2];
	if (pipe2(rp, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(rp[0]);
		supervise(s, dir, o, rp[1]);
	}
	close(rp[1]);
	if (pid < 0) {
		close(rp[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	/* One NUL byte: running. Text: why not. EOF alone: the supervisor died. */
	char msg[512];
	size_t len = ct_read_message(rp[0], msg, sizeof(msg));
	close(rp[0]);
	if (len == 1 && msg[0] == 0) return 0;
	snprintf(err, errlen, "%s", len ? msg : "the container's supervisor died while starting it");
	waitpid(pid, NULL, 0);
	return -1;
}

int ct_run(const struct ct_spec *s, const struct ct_run_opts *o, char *err, size_t errlen)
{
	char dir[4096];
	if (!ct_dir(s->name, dir, sizeof(dir))) {
		snprintf(err, errlen, "state directory path too long");
		return -1;
	}
	if (!ct_record_create(s, err, errlen)) return -1;
	int rc = o->detach ? run_detached(s, dir, o, err, errlen) : run_foreground(s, dir, o, err, errlen);
	if (rc < 0) {
		char ignore[256];
		ct_record_remove(s->name, ignore, sizeof(ignore));
	}
	return rc;
}

/* Loads a container that must be running (or paused) and opens init's pidfd. */
static bool load_running(const char *name, struct ct_spec *s, struct ct_runtime *rt, int *pidfd, char *err,
                         size_t errlen)
{
	if (!ct_record_load(name, s, rt, err, errlen)) return false;
	enum ct_status st = ct_status_of(rt);
	*pidfd = st == CT_RUNNING || st == CT_PAUSED ? pidfd_open(rt->pid, 0) : -1;
	if (*pidfd >= 0 && ct_proc_start_time(rt->pid) == rt->pid_start) return true;
	if (*pidfd >= 0) close(*pidfd);
	snprintf(err, errlen, "container '%s' is not running (%s)", name, ct_status_name(ct_status_of(rt)));
	ct_spec_free(s);
	return false;
}

int ct_exec(const char *name, char *const argv[], bool tty, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	int pidfd;
	if (!load_running(name, &s, &rt, &pidfd, err, errlen)) return -1;
	close(pidfd);
	if (ct_status_of(&rt) == CT_PAUSED) {
		snprintf(err, errlen, "container '%s' is paused (cloison ct resume %s)", name, name);
		ct_spec_free(&s);
		return -1;
	}
	/* A terminal comes from the container's own devpts (the command can name it: `tty` works), its
	 * master handed back over a socket pair. */
	int master = -1, sp[2] = {-1, -1};
	struct ct_stdio io = {0, 1, 2, -1, "", -1};
	if (tty && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		ct_spec_free(&s);
		return -1;
	}
	io.pty_sock = sp[1];
	pid_t pid;
	bool ok = ct_exec_start(&s, &rt, argv, &io, &pid, err, errlen);
	ct_spec_free(&s);
	if (sp[1] >= 0) close(sp[1]);
	if (ok && tty && (master = ct_recv_fd(sp[0])) < 0) {
		snprintf(err, errlen, "the command's terminal did not arrive");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ok = false;
	}
	if (sp[0] >= 0) close(sp[0]);
	if (!ok) return -1;
	struct winsize ws;
	if (tty && isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
	int cfd = pidfd_open(pid, 0);
	forward_pidfd = cfd;
	set_forwarding(true);
	if (tty) {
		ct_pty_relay(master, STDIN_FILENO, STDOUT_FILENO, cfd, -1);
		close(master);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	set_forwarding(false);
	forward_pidfd = -1;
	if (cfd >= 0) close(cfd);
	return ct_exit_code(status);
}

bool ct_pause(const char *name, bool pause, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	int pidfd;
	if (!load_running(name, &s, &rt, &pidfd, err, errlen)) return false;
	close(pidfd);
	ct_spec_free(&s);
	if (!rt.has_cgroup) {
		snprintf(err, errlen, "container '%s' has no cgroup, so no freezer", name);
		return false;
	}
	return cg_freeze(&rt.cg, pause, err, errlen);
}

static bool wait_fd(int fd, int timeout_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	for (;;) {
		int rc = poll(&p, 1, timeout_ms);
		if (rc < 0 && errno == EINTR) continue;
		return rc > 0;
	}
}

bool ct_stop(const char *name, unsigned timeout_s, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	int pidfd;
	if (!load_running(name, &s, &rt, &pidfd, err, errlen)) return false;
	ct_spec_free(&s);
	/* The supervisor, if alive, records the end; open it now, before init's exit wakes it. */
	int sup = -1;
	if (rt.supervisor > 0 && rt.supervisor != getpid()) {
		sup = pidfd_open(rt.supervisor, 0);
		if (sup >= 0 && ct_proc_start_time(rt.supervisor) != rt.supervisor_start) {
			close(sup);
			sup = -1;
		}
	}
	/* A frozen task cannot act on a signal: thaw first. */
	if (rt.has_cgroup && cg_frozen(&rt.cg) == 1) cg_freeze(&rt.cg, false, err, errlen);
	/* Ask init to shut down the way it understands; past the timeout, kill it. */
	int sig = stop_signal_for(rt.pid);
	char note[24];
	snprintf(note, sizeof(note), "asked %d", sig);
	stop_note(name, note);
	bool down =
	    timeout_s && pidfd_send_signal(pidfd, sig, NULL, 0) == 0 && wait_fd(pidfd, (int)timeout_s * 1000);
	if (!down) {
		stop_note(name, "killed");
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		down = wait_fd(pidfd, 10000);
	}
	close(pidfd);
	if (!down) {
		if (sup >= 0) close(sup);
		snprintf(err, errlen, "container '%s' did not stop within 10 s of SIGKILL", name);
		return false;
	}
	if (sup >= 0) {
		bool done = wait_fd(sup, 10000);
		close(sup);
		if (done) return true;
	}
	/* No supervisor (it was killed): clean up and record the stop here; the exit code is unknown. */
	ct_spawn_cleanup(&rt);
	rt.stopped = true;
	rt.exit_code = -1;
	rt.stopped_at = (int64_t)time(NULL);
	return ct_runtime_save(name, &rt, err, errlen);
}

bool ct_remove(const char *name, bool force, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	if (!ct_record_load(name, &s, &rt, err, errlen)) {
		/* A damaged record can still be removed. */
		char dir[4096];
		if (!force || !ct_name_valid(name) || !ct_dir(name, dir, sizeof(dir)) || access(dir, F_OK))
			return false;
		return ct_record_remove(name, err, errlen);
	}
	ct_spec_free(&s);
	enum ct_status st = ct_status_of(&rt);
	if (st == CT_RUNNING || st == CT_PAUSED) {
		if (!force) {
			snprintf(err, errlen, "container '%s' is %s: stop it first (or ct rm --force)", name,
			         ct_status_name(st));
			return false;
		}
		if (!ct_stop(name, 0, err, errlen)) return false;
	}
	return ct_record_remove(name, err, errlen);
}
