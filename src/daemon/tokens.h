/*
 * tokens.h — API tokens for cloisond's remote listener (remote.c): made by
 * `cloison token create NAME` on the host's unix socket, shown once, kept
 * only as a SHA-256 hash (in the state database and in memory for the
 * check every remote request makes), revoked by name. A token is 256 bits
 * from the kernel's random source, so a fast hash is enough: there is
 * nothing to guess a password from.
 */
#ifndef CLOISON_DAEMON_TOKENS_H
#define CLOISON_DAEMON_TOKENS_H

#include "daemon/daemon.h"
#include "http/http_server.h"

#include <jansson.h>
#include <stdbool.h>

#define TOKEN_NAME_MAX 63

/* Loads the stored hashes (at start, before any listener). */
bool tokens_load(struct daemon *d, char *err, size_t errlen);
/* Whether token is a valid, unrevoked token; its name in name (TOKEN_NAME_MAX + 1 bytes) when it is.
 * Takes the token table's own lock, not the daemon's. */
bool tokens_check(struct daemon *d, const char *token, char *name);
/* /v1/tokens (GET: list, POST {"name"}: create, the token in the answer) and /v1/tokens/NAME (DELETE:
 * revoke). Lock held. */
void tokens_api(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                struct http_response *r);

#endif
