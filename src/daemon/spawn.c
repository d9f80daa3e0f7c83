/*
 * spawn.c — starting supervised processes (see spawn.h).
 */
#define _GNU_SOURCE
#include "daemon/spawn.h"

#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* In the child, between fork and exec: async-signal-safe calls only. Never returns. */
static _Noreturn void child(const char *exe, char *const argv[], const struct spawn_opts *o, int sync[2])
{
	close(sync[1]); /* only the daemon's copy may keep the pipe open: its death is our EOF */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks SIGTERM, SIGINT and SIGHUP */
	signal(SIGPIPE, SIG_DFL);              /* ignored dispositions survive exec */
	umask(022);                            /* the daemon's own is 077 */
	setsid();
	if (o->cpus) sched_setaffinity(0, sizeof(*o->cpus), o->cpus);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int err = o->stderr_path ? open(o->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
	                         : o->stderr_fd;
	if (null >= 0) dup2(null, 0), dup2(null, 1);
	dup2(err >= 0 ? err : null, 2);
	char go;
	ssize_t n;
	while ((n = read(sync[0], &go, 1)) < 0 && errno == EINTR) {
	}
	if (n != 1) _exit(127); /* the daemon died before it recorded us */
	execv(exe, argv);
	_exit(127);
}

pid_t daemon_spawn(const char *exe, char *const argv[], const struct spawn_opts *o, char *err, size_t errlen)
{
	int sync[2];
	if (pipe2(sync, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sync[0]);
		close(sync[1]);
		return -1;
	}
	if (pid == 0) child(exe, argv, o, sync);
	close(sync[0]);
	char msg[512];
	if (o->cg && !cg_attach(o->cg, pid, msg, sizeof(msg))) log_warn("%s: %s", o->name, msg);
	if (o->before_exec) o->before_exec(o->ctx, pid);
	if (write(sync[1], "g", 1) != 1) {
		/* the child is gone already: its exit is seen like any other */
	}
	close(sync[1]);
	return pid;
}
