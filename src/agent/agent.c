/*
 * agent.c — cloison-agent, the guest agent: a small static program that runs
 * in the guest, listens on vsock port AGENT_PORT and serves the requests of
 * proto.h (run a command, shut down, copy files, take a new identity, say
 * who it is). One child process per connection.
 *
 *   cloison-agent [--unix PATH] [--foreground]
 *
 * --unix listens on a unix socket instead (tests run the agent on the host).
 * Without --foreground it detaches and logs to /dev/kmsg when it can.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static uint8_t frame[AGENT_FRAME_MAX + 1];

static void say(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cloison-agent: %s\n", msg);
}

static void fail(int conn, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_send(conn, AGENT_ERROR, msg, n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* ---- EXEC ---- */

struct pending {
	uint8_t buf[AGENT_FRAME_MAX];
	size_t off, len;
};

static void child_exec(const struct agent_exec_req *r)
{
	static char *env[AGENT_MAX_ARGS + 8];
	unsigned n = 0;
	env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	env[n++] = "HOME=/root";
	for (uint32_t i = 0; i < r->envc; i++) env[n++] = (char *)r->envp[i];
	env[n] = NULL;
	if (chdir("/root") < 0 && chdir("/") < 0) _exit(126);
	execvpe(r->argv[0], (char *const *)r->argv, env);
	fprintf(stderr, "cloison-agent: %s: %s\n", r->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static int exit_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
}

static void set_winsize(int fd, uint16_t rows, uint16_t cols)
{
	if (!rows || !cols) return;
	struct winsize ws = {.ws_row = rows, .ws_col = cols};
	ioctl(fd, TIOCSWINSZ, &ws);
}

/* Runs the command, relays its input and output, answers EXIT. */
static void serve_exec(int conn, const uint8_t *payload, size_t len)
{
	static struct agent_exec_req r;
	const char *why;
	if (!agent_exec_decode(payload, len, &r, &why)) {
		fail(conn, "%s", why);
		return;
	}
	bool tty = r.flags & AGENT_EXEC_TTY;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, master = -1;
	if (tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
			fail(conn, "cannot open a terminal: %s", strerror(errno));
			return;
		}
		set_winsize(master, r.rows, r.cols);
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		fail(conn, "pipe: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		fail(conn, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		setsid();
		if (tty) {
			int slave = open(ptsname(master), O_RDWR);
			if (slave < 0) _exit(126);
			ioctl(slave, TIOCSCTTY, 0);
			dup2(slave, 0), dup2(slave, 1), dup2(slave, 2);
			if (slave > 2) close(slave);
		} else {
			dup2(in[0], 0), dup2(out[1], 1), dup2(err[1], 2);
		}
		signal(SIGPIPE, SIG_DFL);
		child_exec(&r);
	}
	int to_child = tty ? master : in[1], from_out = tty ? master : out[0], from_err = tty ? -1 : err[0];
	if (!tty) close(in[0]), close(out[1]), close(err[1]);
	fcntl(to_child, F_SETFL, fcntl(to_child, F_GETFL) | O_NONBLOCK);
	static struct pending p;
	p.off = p.len = 0;
	bool input_done = false, host_gone = false;
	for (;;) {
		struct pollfd fds[4];
		unsigned n = 0;
		int ci = -1, oi = -1, ei = -1, ii = -1;
		if (!host_gone && p.off == p.len) ci = (int)n, fds[n++] = (struct pollfd){conn, POLLIN, 0};
		if (from_out >= 0) oi = (int)n, fds[n++] = (struct pollfd){from_out, POLLIN, 0};
		if (from_err >= 0) ei = (int)n, fds[n++] = (struct pollfd){from_err, POLLIN, 0};
		if (p.off < p.len && to_child >= 0)
			ii = (int)n, fds[n++] = (struct pollfd){to_child, POLLOUT, 0};
		if (from_out < 0 && from_err < 0) break; /* the command's output ended: it has exited */
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR) continue;
			break;
		}
		if (ii >= 0 && fds[ii].revents) {
			ssize_t w = write(to_child, p.buf + p.off, p.len - p.off);
			if (w > 0) p.off += (size_t)w;
			if (w < 0 && errno != EAGAIN) p.off = p.len; /* the command stopped reading */
			if (p.off == p.len && input_done && !tty && to_child >= 0)
				close(to_child), to_child = -1;
		}
		if (ci >= 0 && fds[ci].revents) {
			unsigned type;
			size_t flen;
			if (agent_recv(conn, &type, frame, &flen, &why) != 1) {
				host_gone = true; /* nobody to report to: end the command */
				kill(-pid, SIGHUP);
				kill(-pid, SIGKILL);
				continue;
			}
			if (type == AGENT_STDIN && flen) {
				memcpy(p.buf, frame, flen);
				p.off = 0, p.len = flen;
			} else if (type == AGENT_STDIN) {
				input_done = true;
				if (tty) { /* end of input on a terminal: the EOF character */
					static const char eof = 4;
					memcpy(p.buf, &eof, 1);
					p.off = 0, p.len = 1;
				} else if (to_child >= 0 && p.off == p.len) {
					close(to_child);
					to_child = -1;
				}
			} else if (type == AGENT_RESIZE && flen >= 4 && tty) {
				set_winsize(master, agent_get16(frame), agent_get16(frame + 2));
			} else if (type == AGENT_SIGNAL && flen >= 4) {
				uint32_t sig = agent_get32(frame);
				if (sig > 0 && sig < 65) kill(-pid, (int)sig);
			}
		}
		int outs[2] = {oi, ei};
		for (int k = 0; k < 2; k++) {
			if (outs[k] < 0 || !fds[outs[k]].revents) continue;
			int *fd = k ? &from_err : &from_out;
			ssize_t rd = read(*fd, frame, AGENT_FRAME_MAX);
			if (rd <= 0) { /* EOF, or EIO once a terminal's last user closed it */
				if (rd < 0 && errno == EINTR) continue;
				if (!tty || *fd != master) close(*fd);
				*fd = -1;
				continue;
			}
			if (!host_gone &&
			    !agent_send(conn, k ? AGENT_STDERR : AGENT_STDOUT, frame, (size_t)rd))
				host_gone = true;
		}
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	if (master >= 0) close(master);
	if (to_child >= 0 && to_child != master) close(to_child);
	uint8_t code[4];
	agent_put32(code, (uint32_t)exit_status(st));
	if (!host_gone) agent_send(conn, AGENT_EXIT, code, 4);
}

/* ---- files ---- */

static void serve_push(int conn, const uint8_t *payload, size_t len)
{
	if (len < 5 || !payload[4]) {
		fail(conn, "PUSH request: mode and path expected");
		return;
	}
	char path[4096], tmp[4200]; /* copied: the data frames reuse the buffer the request is in */
	mode_t mode = agent_get32(payload) & 07777;
	if ((size_t)snprintf(path, sizeof(path), "%s", (const char *)payload + 4) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.cloison-push", path) >= sizeof(tmp)) {
		fail(conn, "path too long");
		return;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode ? mode : 0644);
	if (fd < 0) {
		fail(conn, "%s: %s", path, strerror(errno));
		return;
	}
	int saved = 0;
	for (;;) {
		unsigned type;
		size_t n;
		const char *why;
		if (agent_recv(conn, &type, frame, &n, &why) != 1 || type != AGENT_DATA) {
			close(fd);
			unlink(tmp);
			return; /* the host went away or broke the protocol: nothing half-written stays */
		}
		if (!n) break;
		const uint8_t *p = frame;
		while (n && !saved) {
			ssize_t w = write(fd, p, n);
			if (w < 0 && errno == EINTR) continue;
			if (w <= 0)
				saved = errno ? errno : EIO;
			else
				p += w, n -= (size_t)w;
		}
	}
	if (!saved && fchmod(fd, mode ? mode : 0644) < 0) saved = errno;
	if (!saved && fsync(fd) < 0) saved = errno;
	close(fd);
	if (!saved && rename(tmp, path) < 0) saved = errno;
	if (saved) {
		unlink(tmp);
		fail(conn, "%s: %s", path, strerror(saved));
		return;
	}
	agent_send(conn, AGENT_OK, NULL, 0);
}

static void serve_pull(int conn, const uint8_t *payload, size_t len)
{
	const char *path = (const char *)payload;
	int fd = len ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fail(conn, "%s: %s", len ? path : "(no path)", strerror(len ? errno : EINVAL));
		if (fd >= 0) close(fd);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		fail(conn, "%s: is a directory", path);
		close(fd);
		return;
	}
	for (;;) {
		ssize_t n = read(fd, frame, AGENT_FRAME_MAX);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) {
			fail(conn, "%s: %s", path, strerror(errno));
			break;
		}
		if (!agent_send(conn, AGENT_DATA, frame, (size_t)n) || n == 0) break;
	}
	close(fd);
}

/* ---- the guest as a whole ---- */

static void serve_shutdown(int conn, const uint8_t *payload, size_t len)
{
	bool reboot_it = len >= 4 && agent_get32(payload) == AGENT_REBOOT;
	agent_send(conn, AGENT_OK, NULL, 0);
	close(conn);
	sync();
	struct stat st;
	if (stat("/run/systemd/system", &st) == 0) { /* systemd: its orderly shutdown */
		execl("/bin/systemctl", "systemctl", reboot_it ? "reboot" : "poweroff", (char *)NULL);
		say("systemctl: %s", strerror(errno));
	}
	/* An init without a shutdown of its own (the default guest's shell): everything synced, go. */
	reboot(reboot_it ? RB_AUTOBOOT : RB_POWER_OFF);
	say("reboot: %s", strerror(errno));
	_exit(1);
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return false;
	size_t n = strlen(text);
	bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	close(fd);
	return ok;
}

static void serve_identity(int conn, const uint8_t *payload, size_t len)
{
	if (len < 17) {
		fail(conn, "IDENTITY request too short");
		return;
	}
	char report[1024];
	size_t at = 0;
	uint64_t sec = (uint64_t)agent_get32(payload) | (uint64_t)agent_get32(payload + 4) << 32;
	uint32_t nsec = agent_get32(payload + 8), flags = agent_get32(payload + 12);
	const char *host = (const char *)payload + 16;
	if (sec) {
		struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = nsec < 1000000000u ? nsec : 0};
		bool ok = clock_settime(CLOCK_REALTIME, &ts) == 0;
		at += (size_t)snprintf(report + at, sizeof(report) - at, "clock=%s\n",
		                       ok ? "set" : strerror(errno));
	}
	if (host[0]) {
		size_t n = strlen(host);
		bool valid = n < 64;
		for (size_t i = 0; i < n && valid; i++)
			valid = (host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
			        (host[i] >= '0' && host[i] <= '9') || host[i] == '-' || host[i] == '.';
		if (!valid) {
			fail(conn, "invalid hostname");
			return;
		}
		bool ok = sethostname(host, n) == 0;
		char line[80];
		snprintf(line, sizeof(line), "%s\n", host);
		if (ok && access("/etc/hostname", F_OK) == 0) write_file("/etc/hostname", line);
		at += (size_t)snprintf(report + at, sizeof(report) - at, "hostname=%s\n",
		                       ok ? host : strerror(errno));
	}
	if (flags & AGENT_NEW_MACHINE_ID) {
		uint8_t rnd[16];
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		bool ok = fd >= 0 && read(fd, rnd, sizeof(rnd)) == (ssize_t)sizeof(rnd);
		if (fd >= 0) close(fd);
		char id[34];
		for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", rnd[i]);
		id[32] = '\n', id[33] = 0;
		ok = ok && write_file("/etc/machine-id", id);
		id[32] = 0;
		at += (size_t)snprintf(report + at, sizeof(report) - at, "machine-id=%s\n",
		                       ok ? id : "not written");
	}
	if (flags & AGENT_NEW_SSH_KEYS) {
		struct stat st;
		bool ok = false;
		if (stat("/usr/bin/ssh-keygen", &st) == 0) {
			int rc = system("rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub && "
			                "/usr/bin/ssh-keygen -A >/dev/null 2>&1");
			ok = rc == 0;
		}
		at += (size_t)snprintf(report + at, sizeof(report) - at, "ssh-host-keys=%s\n",
		                       ok ? "new" : "unchanged (no ssh-keygen)");
	}
	agent_send(conn, AGENT_OK, report, at < sizeof(report) ? at : sizeof(report) - 1);
}

static void serve_info(int conn)
{
	struct utsname u;
	uname(&u);
	struct timespec up;
	clock_gettime(CLOCK_BOOTTIME, &up);
	char text[512];
	int n = snprintf(text, sizeof(text), "agent=%d\nhostname=%s\nkernel=%s\nmachine=%s\nuptime=%lld\n",
	                 AGENT_VERSION, u.nodename, u.release, u.machine, (long long)up.tv_sec);
	agent_send(conn, AGENT_OK, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}

static void serve(int conn)
{
	unsigned type;
	size_t len;
	const char *why;
	if (agent_recv(conn, &type, frame, &len, &why) != 1) return;
	switch (type) {
	case AGENT_EXEC: serve_exec(conn, frame, len); break;
	case AGENT_SHUTDOWN: serve_shutdown(conn, frame, len); break;
	case AGENT_PUSH: serve_push(conn, frame, len); break;
	case AGENT_PULL: serve_pull(conn, frame, len); break;
	case AGENT_IDENTITY: serve_identity(conn, frame, len); break;
	case AGENT_INFO: serve_info(conn); break;
	default: fail(conn, "unknown request %u", type);
	}
}

static int listen_on(const char *unix_path)
{
	int fd;
	if (unix_path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		if (strlen(unix_path) >= sizeof(a.sun_path)) return -1;
		strcpy(a.sun_path, unix_path);
		unlink(unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) return -1;
	} else {
		struct sockaddr_vm a = {
		    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = AGENT_PORT};
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) return -1;
	}
	return listen(fd, 16) < 0 ? -1 : fd;
}

int main(int argc, char **argv)
{
	const char *unix_path = NULL;
	bool foreground = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unix") && i + 1 < argc)
			unix_path = argv[++i];
		else if (!strcmp(argv[i], "--foreground"))
			foreground = true;
		else {
			fprintf(stderr, "usage: cloison-agent [--unix PATH] [--foreground]\n");
			return 2;
		}
	}
	int lfd = -1;
	for (int tries = 0; tries < 100 && (lfd = listen_on(unix_path)) < 0; tries++)
		usleep(100000); /* the vsock transport may still be loading */
	if (lfd < 0) {
		say("cannot listen on %s: %s", unix_path ? unix_path : "vsock", strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT};
	sigaction(SIGCHLD, &sa, NULL); /* connection handlers reap themselves */
	signal(SIGPIPE, SIG_IGN);
	if (!foreground && daemon(0, 1) < 0) say("daemon: %s", strerror(errno));
	for (;;) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno != EINTR) usleep(10000);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			struct sigaction dfl = {.sa_handler = SIG_DFL};
			sigaction(SIGCHLD, &dfl, NULL); /* this child waits for its command */
			serve(conn);
			_exit(0);
		}
		close(conn);
	}
}
