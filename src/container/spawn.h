/*
 * spawn.h — starting a container's init in new namespaces, and running a
 * command inside a running container (exec).
 *
 * Start: the cgroup is made first; clone3 creates the user (optional), PID,
 * mount, UTS, IPC and network namespaces; the parent writes the ID maps,
 * moves the child into its cgroup and creates the veth, then lets it go.
 * The child enters a cgroup namespace rooted at its own cgroup, sets the
 * hostname, builds the root filesystem (rootfs.h), configures its network,
 * marks every fd above 2 close-on-exec, drops capabilities, sets
 * no_new_privs, loads the seccomp filter and execs. Any failure before exec
 * comes back to the parent as a message on a close-on-exec pipe.
 */
#ifndef CLOISON_CONTAINER_SPAWN_H
#define CLOISON_CONTAINER_SPAWN_H

#include "container/ct_spec.h"
#include "container/ct_state.h"

#include <stdbool.h>
#include <stddef.h>

struct ct_stdio {
	int in, out, err;      /* the command's stdin/stdout/stderr */
	int console;           /* pty slave: the controlling terminal; -1 = none */
	char console_path[64]; /* its /dev/pts path, bound on /dev/console */
	/* ct_exec_start only: a socket on which the command, once inside the container, sends the master of
	 * a pty it opened from the container's own devpts (its terminal, which the container can name);
	 * -1 = none. */
	int pty_sock;
};

/* Starts the container's init. Fills rt (pid, start time, cgroup, veth) and *pidfd. */
bool ct_spawn(const struct ct_spec *s, const char *ctdir, const struct ct_stdio *io, struct ct_runtime *rt,
              int *pidfd, char *err, size_t errlen);
/* Releases what ct_spawn made once init is gone: the cgroup. */
void ct_spawn_cleanup(struct ct_runtime *rt);

/* Runs argv in the running container (all its namespaces and its cgroup, with the same capabilities,
 * no_new_privs and seccomp filter). On success *pid is the new process, a child of the caller. */
/* With io->pty_sock, the command's stdio and controlling terminal are that pty's slave; the caller
 * receives the master with ct_recv_fd(). */
int ct_recv_fd(int sock);
bool ct_exec_start(const struct ct_spec *s, const struct ct_runtime *rt, char *const argv[],
                   const struct ct_stdio *io, pid_t *pid, char *err, size_t errlen);

/* Reads a message from a close-on-exec pipe until EOF (at most size-1 bytes, NUL-terminated); returns
 * its length. Start-up errors travel this way: EOF alone means the other side exec'd or exited. */
size_t ct_read_message(int fd, char *msg, size_t size);

/* A shell-style exit code from a wait status: the code, or 128 + signal. */
int ct_exit_code(int wstatus);

#endif
