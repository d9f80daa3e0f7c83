/*
 * unix_socket.h — listening unix sockets for the control, console and API
 * endpoints: one place that checks the path length, replaces a stale
 * socket file and sets the mode at bind time (no window with wider rights).
 */
#ifndef CLOISON_UTIL_UNIX_SOCKET_H
#define CLOISON_UTIL_UNIX_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

/* Listens on path with the given mode (e.g. 0600) and backlog; flags are added to socket()'s type
 * (SOCK_NONBLOCK). An existing file at path is removed first: callers own their paths or checked that
 * nobody serves them. Returns the fd (close-on-exec), or -1 with err set. */
int unix_listen(const char *path, mode_t mode, int backlog, int flags, char *err, size_t errlen);

#endif
