/*
 * cmd_clone.c — `cloison clone SNAPSHOT --count N --dir OUT`: starts N VMs
 * from one saved state, each in the background with its own directory
 * (disk overlays, console log, control socket) and a new identity (see
 * `run --clone`). Prints each clone's control socket and process id.
 *
 * Exit status: 0 when all clones run, 1 if one failed to start (those
 * already started keep running), 2 for usage errors.
 */
#include "commands.h"
#include "usage.h"

#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: cloison clone SNAPSHOT --count N --dir OUT\n"
	        "Starts N VMs from a state saved with `cloison save`, in the background. Clone i lives in\n"
	        "OUT/clone-i: its disk overlays, console.log (the serial console), api.sock (its control\n"
	        "socket: `cloison status --sock OUT/clone-i/api.sock`). Memory is shared copy-on-write\n"
	        "with the snapshot; each clone gets new MAC addresses, a new VM generation ID and, through\n"
	        "its guest agent, the host name clone-i, a new machine-id and new SSH host keys.\n"
	        "  -n, --count N   how many clones (1-64, default 1)\n"
	        "  -d, --dir OUT   where the clones' directories go (created)\n"
	        "  -h, --help      this help\n");
}

/* Starts one clone; returns its pid or -1. */
static pid_t spawn(const char *snapshot, const char *dir, const char *hostname)
{
	char log[PATH_MAX + 16], sock[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/console.log", dir);
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	pid_t pid = fork();
	if (pid != 0) return pid;
	setsid();
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
	execl("/proc/self/exe", "cloison", "run", "--restore", snapshot, "--clone", dir, "--hostname",
	      hostname, "--api-sock", sock, (char *)NULL);
	_exit(127);
}

int cmd_clone(int argc, char **argv)
{
	static const struct option longopts[] = {{"count", required_argument, NULL, 'n'},
	                                         {"dir", required_argument, NULL, 'd'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	uint64_t count = 1;
	const char *out = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!parse_uint(optarg, 1, 64, &count)) {
				log_error("invalid --count '%s': 1 to 64", optarg);
				return 2;
			}
			break;
		case 'd': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return cli_option_error("clone", argv, longopts);
		}
	}
	if (optind != argc - 1 || !out)
		return cli_usage_error("clone", "expected SNAPDIR --dir OUT [--count N]");
	const char *snapshot = argv[optind];
	char state[PATH_MAX];
	snprintf(state, sizeof(state), "%s/vmstate", snapshot);
	if (access(state, R_OK)) {
		log_error("%s is not a saved VM (no readable vmstate): %s", snapshot, strerror(errno));
		return 1;
	}
	int rc = 0;
	for (uint64_t i = 1; i <= count; i++) {
		char dir[PATH_MAX], sock[PATH_MAX + 16];
		snprintf(dir, sizeof(dir), "%s/clone-%llu", out, (unsigned long long)i);
		if (!mkdir_p(dir, 0700)) {
			log_error("cannot create %s: %s", dir, strerror(errno));
			return 1;
		}
		snprintf(sock, sizeof(sock), "%s/api.sock", dir);
		char hostname[32];
		snprintf(hostname, sizeof(hostname), "clone-%llu", (unsigned long long)i);
		pid_t pid = spawn(snapshot, dir, hostname);
		if (pid < 0) {
			log_error("cannot start clone %llu: %s", (unsigned long long)i, strerror(errno));
			return 1;
		}
		/* Running once its control socket exists; a clone that exits first failed. */
		int status;
		bool up = false;
		for (int t = 0; t < 3000 && !up; t++) {
			if (waitpid(pid, &status, WNOHANG) == pid) break;
			struct stat sb;
			up = stat(sock, &sb) == 0;
			if (!up) nanosleep(&(struct timespec){0, 10000000}, NULL);
		}
		if (!up) {
			log_error("clone %llu did not start: see %s/console.log", (unsigned long long)i, dir);
			kill(pid, SIGKILL);
			rc = 1;
			break;
		}
		printf("%s %d\n", sock, (int)pid);
		fflush(stdout);
	}
	return rc;
}
