/*
 * ct_console.h — a container's terminal: a pty whose slave is the
 * container's console and controlling terminal, and the relay between its
 * master and the user's terminal (raw mode, window size followed) or a
 * console log file and a socket a console client attaches to. The host's
 * own terminal is never handed to the container, so nothing inside can push
 * input into the host's shell.
 */
#ifndef CLOISON_CONTAINER_CT_CONSOLE_H
#define CLOISON_CONTAINER_CT_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

/* Opens a pty pair (both close-on-exec; path receives the slave's name); the window size is copied from
 * size_from if it is a tty. */
bool ct_pty_open(int *master, int *slave, char path[64], int size_from, char *err, size_t errlen);
/* Relays until the process behind pidfd has exited and the master is drained: in_fd (-1 = none) to the
 * master, the master to out_fd. A tty in_fd is put in raw mode and restored afterwards. listen_fd (-1 =
 * none) is a listening unix socket: one client at a time gets the master's output and types into it
 * (`cloison console` through cloisond); a second is told the console is in use. */
void ct_pty_relay(int master, int in_fd, int out_fd, int pidfd, int listen_fd);

#endif
