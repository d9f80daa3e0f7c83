/*
 * spawn.h — how cloisond starts the processes it supervises (a VM's
 * `cloison run`, a container's `cloison ct run -d`), safe against the
 * daemon's own death at any instant: the child execs only after the daemon
 * has recorded its pid and put it in its cgroup, and a child whose daemon
 * died before that exits instead of waiting forever (it holds no copy of
 * the pipe it waits on). The child gets a session of its own, no blocked
 * signals and default dispositions, /dev/null as stdin and stdout, and none
 * of the daemon's descriptors (all are close-on-exec).
 */
#ifndef CLOISON_DAEMON_SPAWN_H
#define CLOISON_DAEMON_SPAWN_H

#include "container/cgroup.h"

#include <sched.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
	const char *stderr_path; /* appended to, created 0600 (NULL: stderr_fd) */
	int stderr_fd;           /* used when stderr_path is NULL (-1: /dev/null) */
	const cpu_set_t *cpus;   /* pinned to these host CPUs (NULL: any) */
	struct cg_group *cg;     /* moved into it before exec (NULL: stays in the daemon's) */
	/* Called in the daemon once the child exists and before it may exec: record its pid here. */
	void (*before_exec)(void *ctx, pid_t pid);
	void *ctx;
	const char *name; /* for log lines */
};

/* Forks and execs exe with argv. The child's pid, or -1 with err set. */
pid_t daemon_spawn(const char *exe, char *const argv[], const struct spawn_opts *o, char *err, size_t errlen);

#endif
