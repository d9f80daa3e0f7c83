/*
 * api_internal.h — what the API's handler files share: answering with JSON
 * or an error, reading the body and query, and operations (the objects a
 * client waits on for long work). All with the daemon's lock held unless
 * said otherwise.
 */
#ifndef CLOISON_DAEMON_API_INTERNAL_H
#define CLOISON_DAEMON_API_INTERNAL_H

#include "daemon/daemon.h"
#include "http/http_server.h"
#include "util/error.h"

#include <jansson.h>

/* Answers with j (taken) as the body. */
void api_reply(struct http_response *r, int status, json_t *j);
/* Answers {"error": message, "code": name} with the status the kind of error maps to. */
void __attribute__((format(printf, 3, 4)))
api_fail(struct http_response *r, enum err_code code, const char *fmt, ...);
void api_fail_error(struct http_response *r, const struct error *e);
/* The request body as a JSON object ({} when empty); NULL with r answered 400. */
json_t *api_parse_body(const char *body, size_t len, struct http_response *r);
/* Query parameter value ("" if present without value), NULL if absent. */
const char *api_query(const char *q, const char *key, char *buf, size_t len);
bool api_truthy(const char *v);

/* Runs fn(arg) on a detached thread; false if none could be made. */
bool spawn_detached(void *(*fn)(void *), void *arg);
/* A new running operation, newest first in the daemon's list; NULL when out of memory. */
struct op *op_new(struct daemon *d, const char *kind, const char *instance);
json_t *op_json(const struct op *op);
/* Ends an operation (lock held): success, or failure with its error (printf-like, cut to fit). */
void op_end(struct op *op, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A progress callback (block/image_ops.h, image_archive.h) for an operation: ctx is the struct op. */
void op_progress(void *ctx, uint64_t done, uint64_t total);

/* /v1/storage-pools... (api_storage.c) and /v1/networks... (api_networks.c); seg[1] is the collection. */
void api_storage(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                 struct http_response *r);
void api_networks(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                  struct http_response *r);
/* Creates the default pool (STATE_DIR/pools/default) if no pool has that name. */
bool storage_init(struct daemon *d, char *err, size_t errlen);

#endif
