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

/* The descriptor the child waits on, once everything else it inherited is closed. */
#define SYNC_FD 3

/* In the child, between fork and exec: async-signal-safe calls only. Never returns. */
static _Noreturn void child(const char *exe, char *const argv[], const struct spawn_opts *o, int sync[2])
{
	/* First of all, let go of everything the daemon had open (its listening socket above all: a
	 * daemon restarted while we wait must find that socket dead). Keep the pipe's read end as
	 * SYNC_FD and the descriptor stderr goes to; the write end goes too, so that only the daemon's
	 * copy keeps the pipe open and its death is our EOF. */
	int err = o->stderr_path ? open(o->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
	                         : o->stderr_fd;
	if (err >= 0 && err != 2) dup2(err, 2);
	if (sync[0] != SYNC_FD && dup3(sync[0], SYNC_FD, O_CLOEXEC) < 0) _exit(127);
	close_range(SYNC_FD + 1, ~0U, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks SIGTERM, SIGINT and SIGHUP */
	signal(SIGPIPE, SIG_DFL);              /* ignored dispositions survive exec */
	umask(022);                            /* the daemon's own is 077 */
	setsid();
	if (o->cpus) sched_setaffinity(0, sizeof(*o->cpus), o->cpus);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) dup2(null, 0), dup2(null, 1);
	if (err < 0 && null >= 0) dup2(null, 2);
	char go;
	ssize_t n;
	while ((n = read(SYNC_FD, &go, 1)) < 0 && errno == EINTR) {
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
