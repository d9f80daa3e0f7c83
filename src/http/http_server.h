/*
 * http_server.h — an HTTP/1.1 server on a unix socket, for a VM's control
 * socket and for cloisond: one request per connection (parsed by http.h).
 * One thread reads all requests as they arrive, each within a deadline
 * from its connection, and a fixed pool of workers answers complete ones
 * from a queue, so slow clients cannot occupy the workers and a burst
 * waits its turn; waiting connections are capped in total and per client,
 * the oldest dropped first. A handler may take the connection over (the
 * console). A stale socket file left by a dead process is replaced; one a
 * live process serves is an error.
 */
#ifndef CLOISON_HTTP_SERVER_H
#define CLOISON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct http_response {
	int status;
	char *body;               /* malloc'd */
	size_t body_len;          /* 0: strlen(body) (binary bodies set it) */
	const char *content_type; /* NULL: JSON */
	/* Set to take the connection over after a 101 answer (extra: bytes the client sent beyond the
	 * request). */
	void (*takeover)(void *opaque, int fd, const char *extra, size_t extra_len);
	void *takeover_opaque;
};

typedef void (*http_handler)(void *opaque, const char *method, const char *path, const char *body,
                             size_t body_len, struct http_response *r);

struct http_server;
/* Listens on path with the given mode (0660 also gives the socket to group `cloison` when it exists).
 * NULL with err set. */
struct http_server *http_server_start(const char *path, unsigned mode, http_handler h, void *opaque,
                                      char *err, size_t errlen);
/* Stops accepting, lets requests in progress finish, removes the socket. */
void http_server_stop(struct http_server *s);

#endif
