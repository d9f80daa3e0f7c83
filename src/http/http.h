/*
 * http.h — the small HTTP/1.1 subset the control sockets speak: one
 * request per connection, a JSON body sized by Content-Length, and a JSON
 * response. The parser is pure (no I/O) and treats its input as hostile.
 */
#ifndef CLOISON_HTTP_H
#define CLOISON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_BODY (64 * 1024)

struct http_request {
	char method[8];
	char path[256];
	size_t header_len; /* bytes up to and including the blank line */
	size_t body_len;   /* from Content-Length */
	const char *body;  /* points into the parsed buffer once complete */
};

enum http_parse { HTTP_INCOMPLETE = 0, HTTP_COMPLETE = 1, HTTP_BAD = -1 };

/* Parses buf[0..len). HTTP_BAD sets *status (400, 405, 413, 414, 431, 501) and *why. */
enum http_parse http_parse_request(const char *buf, size_t len, struct http_request *req, int *status,
                                   const char **why);
/* The reason phrase of a status code. */
const char *http_reason(int status);

/* Writes a whole response (Connection: close) with a body of len bytes and the given type
 * (NULL: application/json; a JSON body gets a final newline). */
void http_write_response(int fd, int status, const char *content_type, const char *body, size_t len);
/* Writes all of buf (retrying short writes and EINTR); false if the peer went away. */
bool http_write_all(int fd, const void *buf, size_t len);

/* A client's request on a unix socket: sends method/path with a JSON body (NULL: none), waits up to
 * timeout_ms for the whole response. Returns the HTTP status and the body in *out (malloc'd), or 0 with
 * err set when the socket cannot be reached or the answer is not HTTP. */
int http_call_unix(const char *sock, const char *method, const char *path, const char *body, int timeout_ms,
                   char **out, char *err, size_t errlen);
/* The same for a binary answer (an image): its length in *out_len (*out stays NUL-terminated). */
int http_call_unix_binary(const char *sock, const char *method, const char *path, const char *body,
                          int timeout_ms, char **out, size_t *out_len, char *err, size_t errlen);
/* Connects to a unix socket (close-on-exec); -1 with err set. */
int http_connect_unix(const char *sock, char *err, size_t errlen);
/* POSTs to path on a unix socket asking to switch the connection to protocol (a console, VNC): the
 * connected fd once the server answered 101; -2 when the socket cannot be reached, -1 when the server
 * refused (err holds its error message either way). Waits up to timeout_ms for the answer. */
int http_upgrade_unix(const char *sock, const char *path, const char *protocol, int timeout_ms, char *err,
                      size_t errlen);

#endif
