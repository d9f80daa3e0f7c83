/*
 * server.h — cloisond's listener: HTTP/1.1 on a unix socket (mode 0660,
 * group `cloison` when it exists), one request per connection, served by a
 * fixed pool of worker threads from a queue, so a burst of clients waits
 * its turn instead of being refused; a client that sends nothing for 10 s
 * is dropped. A handler may take the connection over (the console).
 */
#ifndef CLOISON_DAEMON_SERVER_H
#define CLOISON_DAEMON_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct api_response {
	int status;
	char *body;               /* malloc'd */
	const char *content_type; /* NULL: JSON */
	/* Set to take the connection over after a 101 answer (extra: bytes the client sent beyond the
	 * request). */
	void (*takeover)(void *opaque, int fd, const char *extra, size_t extra_len);
	void *takeover_opaque;
};

typedef void (*server_handler)(void *opaque, const char *method, const char *path, const char *body,
                               size_t body_len, struct api_response *r);

struct server;
struct server *server_start(const char *path, server_handler h, void *opaque, char *err, size_t errlen);
void server_stop(struct server *s);

#endif
