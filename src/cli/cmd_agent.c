/*
 * cmd_agent.c — the verbs that go through a VM's guest agent (agent/client.h):
 * `cloison exec` into a VM, `cloison file push|pull`, `cloison agent` (is it
 * there, who is it). A VM of cloisond is reached through the daemon's relay
 * (POST /v1/instances/NAME/agent); a VM run by hand through the vsock socket
 * its control socket names (--sock PATH).
 */
#define _GNU_SOURCE
#include "commands.h"
#include "daemon_client.h"
#include "exec.h"
#include "usage.h"

#include "agent/client.h"
#include "agent/proto.h"
#include "http/http.h"
#include "util/log.h"
#include "util/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIAL_TIMEOUT_MS 10000

/* The vsock socket of a VM run by hand: what its control socket says, else SOCK.vsock; and whether
 * its guest runs (not paused). */
static bool vsock_of(const char *api_sock, char *buf, size_t len)
{
	char *resp = NULL, msg[256];
	int st = http_call_unix(api_sock, "GET", "/vm", NULL, 5000, &resp, msg, sizeof(msg));
	json_t *j = st == 200 && resp ? json_loads(resp, 0, NULL) : NULL;
	const char *p = json_string_value(json_object_get(j, "vsock_socket"));
	const char *state = json_string_value(json_object_get(j, "state"));
	bool running = state && !strcmp(state, "running");
	snprintf(buf, len, p ? "%s" : "%s.vsock", p ? p : api_sock);
	json_decref(j);
	free(resp);
	return running;
}

int agent_connect(const char *name, const char *api_sock)
{
	char err[512] = "";
	if (api_sock) {
		char vs[4096];
		vsock_of(api_sock, vs, sizeof(vs));
		int fd = agent_dial(vs, DIAL_TIMEOUT_MS, err, sizeof(err));
		if (fd < 0) log_error("%s", err);
		return fd;
	}
	char path[512];
	snprintf(path, sizeof(path), "/v1/instances/%s/agent", name);
	int fd = dc_upgrade(path, "cloison-agent");
	if (fd < 0) return -1;
	if (!agent_handshake(fd, DIAL_TIMEOUT_MS, err, sizeof(err))) {
		log_error("%s: %s", name, err);
		close(fd);
		return -1;
	}
	return fd;
}

static int window(uint16_t *rows, uint16_t *cols)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0) return -1;
	*rows = ws.ws_row, *cols = ws.ws_col;
	return 0;
}

int vm_exec(const struct exec_args *a)
{
	int fd = agent_connect(a->name, a->sock);
	if (fd < 0) return 255;
	bool tty = a->tty && isatty(STDIN_FILENO);
	char term[128];
	snprintf(term, sizeof(term), "TERM=%s", getenv("TERM") ? getenv("TERM") : "vt100");
	char *envp[] = {tty ? term : NULL, NULL};
	struct agent_exec x = {.argv = a->cmd,
	                       .envp = envp,
	                       .tty = tty,
	                       .in_fd = STDIN_FILENO,
	                       .out_fd = STDOUT_FILENO,
	                       .err_fd = STDERR_FILENO,
	                       .resize_fd = -1,
	                       .window = window};
	struct termios saved;
	sigset_t winch;
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	if (tty) {
		window(&x.rows, &x.cols);
		sigprocmask(SIG_BLOCK, &winch, NULL);
		x.resize_fd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
		tty_raw(STDIN_FILENO, &saved);
	}
	char err[512];
	int rc = agent_exec(fd, &x, err, sizeof(err));
	if (tty) {
		tty_restore(STDIN_FILENO, &saved);
		if (x.resize_fd >= 0) close(x.resize_fd);
		sigprocmask(SIG_UNBLOCK, &winch, NULL);
	}
	close(fd);
	if (rc < 0) {
		log_error("%s", err);
		return 255;
	}
	return rc;
}

/* ---- cloison file ---- */

static const char file_usage[] =
    "Usage: cloison file push [--mode MODE] LOCAL NAME:PATH\n"
    "   or: cloison file pull NAME:PATH LOCAL\n"
    "   or: cloison file push|pull --sock SOCK ... (a VM run by hand: PATH alone, no NAME:)\n"
    "Copies a file into or out of a running VM through its guest agent. PATH is absolute in the\n"
    "guest; LOCAL '-' is standard input or output. A pushed file appears whole or not at all (it\n"
    "is written beside PATH, synced, then renamed); MODE is octal (default: LOCAL's mode).\n";

int cmd_file(int argc, char **argv)
{
	if (cli_help_anywhere(argc, argv)) {
		fputs(file_usage, stdout);
		return 0;
	}
	const char *sock = NULL, *mode_s = NULL, *args[3];
	int nargs = 0;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--sock") || !strcmp(argv[i], "-s")) && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode_s = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("file", "unknown option '%s'", argv[i]);
		else if (nargs < 3)
			args[nargs++] = argv[i];
		else
			return cli_usage_error("file", "too many arguments");
	}
	if (nargs != 3 || (strcmp(args[0], "push") && strcmp(args[0], "pull")))
		return cli_usage_error("file", "expected push LOCAL NAME:PATH or pull NAME:PATH LOCAL");
	bool push = !strcmp(args[0], "push");
	const char *remote = push ? args[2] : args[1], *local = push ? args[1] : args[2];
	char name[256] = "";
	const char *gpath = remote;
	if (!sock) {
		const char *colon = strchr(remote, ':');
		if (!colon || colon == remote || (size_t)(colon - remote) >= sizeof(name))
			return cli_usage_error("file", "expected NAME:PATH, got '%s'", remote);
		snprintf(name, sizeof(name), "%.*s", (int)(colon - remote), remote);
		gpath = colon + 1;
	}
	if (gpath[0] != '/') return cli_usage_error("file", "the guest path must be absolute: '%s'", gpath);
	unsigned long mode = 0;
	char *end;
	if (mode_s && ((mode = strtoul(mode_s, &end, 8)) > 07777 || *end || !*mode_s))
		return cli_usage_error("file", "--mode takes an octal mode such as 0644");
	bool std = !strcmp(local, "-");
	int lfd = std    ? (push ? STDIN_FILENO : STDOUT_FILENO)
	          : push ? open(local, O_RDONLY | O_CLOEXEC)
	                 : open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (lfd < 0) {
		log_error("%s: %s", local, strerror(errno));
		return 1;
	}
	struct stat st;
	if (push && !mode_s) mode = fstat(lfd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_mode & 07777 : 0644;
	int fd = agent_connect(name, sock);
	if (fd < 0) {
		if (!std) close(lfd);
		return 1;
	}
	char err[512];
	uint64_t bytes = 0;
	bool ok = push ? agent_push(fd, lfd, gpath, (uint32_t)mode, &bytes, err, sizeof(err))
	               : agent_pull(fd, gpath, lfd, &bytes, err, sizeof(err));
	close(fd);
	if (!std && close(lfd) < 0 && ok) {
		snprintf(err, sizeof(err), "%s: %s", local, strerror(errno));
		ok = false;
	}
	if (!ok) {
		if (!push && !std) unlink(local); /* no half-copied file left behind */
		log_error("%s", err);
		return 1;
	}
	cli_done("%s %llu bytes %s %s", push ? "pushed" : "pulled", (unsigned long long)bytes,
	         push ? "to" : "from", remote);
	return 0;
}

/* ---- cloison agent ---- */

int cmd_agent(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs("Usage: cloison agent NAME | --sock SOCK\n"
		      "Asks a running VM's guest agent who it is (agent version, hostname, kernel, uptime):\n"
		      "exits 0 when the agent answers.\n",
		      stdout);
		return 0;
	}
	const char *sock = NULL, *name = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--sock") || !strcmp(argv[i], "-s")) && i + 1 < argc)
			sock = argv[++i];
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return cli_usage_error("agent", "unexpected argument '%s'", argv[i]);
	}
	if (!!sock == !!name) return cli_usage_error("agent", "expected NAME or --sock SOCK");
	int fd = agent_connect(name, sock);
	if (fd < 0) return 1;
	agent_set_timeout(fd, DIAL_TIMEOUT_MS);
	char reply[1024], err[512];
	bool ok = agent_request(fd, AGENT_INFO, NULL, 0, reply, sizeof(reply), err, sizeof(err));
	close(fd);
	if (!ok) {
		log_error("%s", err);
		return 1;
	}
	for (char *p = reply; *p; p++) /* the agent chose these bytes: printable lines only */
		if ((*p < 32 && *p != '\n') || *p > 126) *p = '?';
	fputs(reply, stdout);
	return 0;
}

/* ---- identity after a restore ---- */

struct identity_job {
	char sock[4096];
	char hostname[64];
	bool clone;
};

static void *identity_thread(void *arg)
{
	struct identity_job *j = arg;
	char err[512] = "", reply[1024];
	uint8_t payload[128];
	size_t n = agent_identity_payload(
	    payload, sizeof(payload), j->clone ? AGENT_NEW_MACHINE_ID | AGENT_NEW_SSH_KEYS : 0, j->hostname);
	/* The guest may still be paused, and a stream opened while it handles the transport reset a
	 * restore brings can be dropped: try again until it answers (IDENTITY can be applied twice). */
	bool done = false;
	for (int tries = 0; tries < 120 && !done; tries++) {
		if (tries) sleep(1);
		int fd = agent_dial(j->sock, 5000, err, sizeof(err));
		if (fd < 0) continue;
		agent_set_timeout(fd, 60000); /* new SSH host keys take a while in an emulated guest */
		done = agent_request(fd, AGENT_IDENTITY, payload, n, reply, sizeof(reply), err, sizeof(err));
		close(fd);
	}
	if (done) {
		for (char *p = reply; *p; p++)
			if (*p == '\n')
				*p = ' ';
			else if (*p < 32 || *p > 126)
				*p = '?';
		log_info("guest agent: %s", reply);
	} else {
		log_warn("the guest keeps the saved identity and clock: %s", err);
	}
	free(j);
	return NULL;
}

void agent_identity_after_restore(const char *vsock_socket, const char *hostname, bool clone)
{
	struct identity_job *j = calloc(1, sizeof(*j));
	if (!j) return;
	snprintf(j->sock, sizeof(j->sock), "%s", vsock_socket);
	snprintf(j->hostname, sizeof(j->hostname), "%s", hostname ? hostname : "");
	j->clone = clone;
	pthread_t t;
	if (pthread_create(&t, NULL, identity_thread, j) == 0)
		pthread_detach(t);
	else
		free(j);
}

/* ---- a clean stop of a VM run by hand ---- */

bool agent_shutdown_vm(const char *api_sock, unsigned timeout_s)
{
	char vs[4096], err[512] = "";
	if (!vsock_of(api_sock, vs, sizeof(vs))) return false; /* paused (or gone): nobody to ask */
	int fd = agent_dial(vs, 2000, err, sizeof(err));
	if (fd < 0) {
		log_info("no clean shutdown: %s", err);
		return false;
	}
	agent_set_timeout(fd, 2000);
	uint8_t mode[4];
	agent_put32(mode, AGENT_POWEROFF);
	bool asked = agent_request(fd, AGENT_SHUTDOWN, mode, sizeof(mode), NULL, 0, err, sizeof(err));
	close(fd);
	if (!asked) {
		log_info("no clean shutdown: %s", err);
		return false;
	}
	if (vm_gone_within(api_sock, timeout_s)) return true;
	log_warn("the guest did not shut down in %u s: stopping the VM", timeout_s);
	return false;
}

bool vm_gone_within(const char *api_sock, unsigned timeout_s)
{
	char err[512];
	for (unsigned waited = 0; waited < timeout_s * 10; waited++) { /* gone: its control socket is */
		int c = http_connect_unix(api_sock, err, sizeof(err));
		if (c < 0) return true;
		close(c);
		usleep(100000);
	}
	return false;
}
