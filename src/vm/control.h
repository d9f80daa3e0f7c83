/*
 * control.h — a running VM's control socket: HTTP/1.1 with JSON bodies on a
 * unix socket (curl --unix-socket works). Endpoints and errors are listed
 * in docs/api.md. Each connection carries one request, served by the
 * http_server's workers; lifecycle operations are serialized by the VM's
 * op_lock.
 */
#ifndef CLOISON_CONTROL_H
#define CLOISON_CONTROL_H

#include "vm.h"

#include <stdbool.h>
#include <stddef.h>

struct control;

/* Binds `path` (0600; a stale socket left by a dead process is replaced, a live one is an error) and
 * starts serving. NULL with err set. */
struct control *control_start(struct vm *v, const char *path, char *err, size_t errlen);
/* Stops serving and removes the socket. */
void control_stop(struct control *c);

/* Handles one parsed request and returns the HTTP status; *body is a malloc'd JSON document (tests and
 * the fuzzer call this directly). */
int control_handle(struct vm *v, const char *method, const char *path, const char *body, size_t body_len,
                   char **response);

#endif
