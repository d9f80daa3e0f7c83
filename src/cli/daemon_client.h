/*
 * daemon_client.h — how the CLI's daemon verbs talk to cloisond: where its
 * socket is, one JSON request, waiting on an operation (with progress on a
 * terminal). Errors from the daemon are printed once, here; output.h lays
 * out the answers.
 */
#ifndef CLOISON_CLI_DAEMON_CLIENT_H
#define CLOISON_CLI_DAEMON_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

/* $CLOISON_SOCKET, else /run/cloison/cloisond.sock as root, else $XDG_RUNTIME_DIR/cloison/. */
const char *dc_socket_path(void);
/* One API call: the HTTP status (0: unreachable), the answer in *out when out is given. A status of
 * 300 or more has its error printed. */
int dc_call(const char *method, const char *path, json_t *body, json_t **out);
/* The exit status for an HTTP status: 0 done, 1 refused, 3 unreachable. */
int dc_rc(int status);
/* Waits for the operation an answer names ({"operation": {...}}); 0 when it succeeded. On a terminal
 * (and without -q), `doing` and the progress are shown on stderr, and erased once it succeeded. */
int dc_wait_op(json_t *answer, const char *doing);
/* POSTs to `path` asking to switch the connection to `protocol` (the console, the guest agent): the
 * connected fd once the daemon answered 101; -3 when the daemon is unreachable, -1 when it refused
 * (its error printed either way). */
int dc_upgrade(const char *path, const char *protocol);
#endif
