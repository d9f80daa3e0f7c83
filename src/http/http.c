/*
 * http.c — request parsing for the control sockets (see http.h).
 */
#include "http.h"

#include <jansson.h>
#include <unistd.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <stdio.h>
#include <poll.h>
#include <errno.h>

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	default: return "Error";
	}
}

static enum http_parse bad(int *status, const char **why, int code, const char *msg)
{
	*status = code;
	*why = msg;
	return HTTP_BAD;
}

enum http_parse http_parse_request(const char *buf, size_t len, struct http_request *req, int *status,
                                   const char **why)
{
	memset(req, 0, sizeof(*req));
	const char *end = NULL;
	for (size_t i = 0; i + 3 < len && i < HTTP_MAX_HEADER; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
			end = buf + i;
			break;
		}
	if (!end) {
		if (len >= HTTP_MAX_HEADER) return bad(status, why, 431, "request header too large");
		return HTTP_INCOMPLETE;
	}
	req->header_len = (size_t)(end - buf) + 4;
	/* Request line: METHOD SP PATH SP HTTP/1.x CRLF */
	const char *line_end = memchr(buf, '\r', (size_t)(end - buf) + 1);
	const char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
	if (!sp1 || sp1 == buf) return bad(status, why, 400, "malformed request line");
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (!sp2) return bad(status, why, 400, "malformed request line");
	size_t mlen = (size_t)(sp1 - buf), plen = (size_t)(sp2 - sp1 - 1);
	if (mlen >= sizeof(req->method)) return bad(status, why, 501, "unknown method");
	if (plen == 0 || sp1[1] != '/') return bad(status, why, 400, "the path must start with /");
	if (plen >= sizeof(req->path)) return bad(status, why, 414, "path too long");
	size_t vlen = (size_t)(line_end - sp2 - 1);
	if (vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) && memcmp(sp2 + 1, "HTTP/1.0", 8)))
		return bad(status, why, 400, "only HTTP/1.0 and HTTP/1.1 are spoken here");
	for (size_t i = 0; i < mlen; i++)
		if (!isupper((unsigned char)buf[i])) return bad(status, why, 400, "malformed method");
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)sp1[1 + i] <= 0x20 || (unsigned char)sp1[1 + i] >= 0x7f)
			return bad(status, why, 400, "malformed path");
	memcpy(req->method, buf, mlen);
	memcpy(req->path, sp1 + 1, plen);
	/* Headers: only Content-Length and Transfer-Encoding matter. */
	bool have_length = false;
	for (const char *h = line_end + 2; h < end;) {
		const char *e = memchr(h, '\r', (size_t)(end - h) + 1);
		if (!e || e[1] != '\n') return bad(status, why, 400, "malformed header line");
		const char *colon = memchr(h, ':', (size_t)(e - h));
		if (!colon || colon == h) return bad(status, why, 400, "malformed header line");
		size_t nlen = (size_t)(colon - h);
		const char *v = colon + 1;
		while (v < e && (*v == ' ' || *v == '\t')) v++;
		if (nlen == 14 && !strncasecmp(h, "Content-Length", 14)) {
			if (have_length) return bad(status, why, 400, "repeated Content-Length");
			if (v == e) return bad(status, why, 400, "empty Content-Length");
			uint64_t n = 0;
			for (const char *p = v; p < e; p++) {
				if (*p == ' ' || *p == '\t') {
					for (; p < e; p++)
						if (*p != ' ' && *p != '\t')
							return bad(status, why, 400, "bad Content-Length");
					break;
				}
				if (!isdigit((unsigned char)*p))
					return bad(status, why, 400, "bad Content-Length");
				n = n * 10 + (uint64_t)(*p - '0');
				if (n > HTTP_MAX_BODY) return bad(status, why, 413, "request body too large");
			}
			req->body_len = (size_t)n;
			have_length = true;
		} else if (nlen == 17 && !strncasecmp(h, "Transfer-Encoding", 17)) {
			return bad(status, why, 501, "chunked bodies are not supported: send Content-Length");
		}
		h = e + 2;
	}
	if (len - req->header_len < req->body_len) return HTTP_INCOMPLETE;
	req->body = buf + req->header_len;
	return HTTP_COMPLETE;
}

bool http_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK) n = write(fd, p, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

void http_write_response(int fd, int status, const char *content_type, const char *body, size_t len)
{
	char head[256];
	bool json = !content_type;
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, http_reason(status), json ? "application/json" : content_type,
	                 len + (json ? 1 : 0));
	if (!http_write_all(fd, head, (size_t)n)) return;
	if (len && !http_write_all(fd, body, len)) return;
	if (json) http_write_all(fd, "\n", 1);
}

int http_connect_unix(const char *sock, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", sock);
		return -1;
	}
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot reach %s: %s", sock, strerror(errno));
		if (fd >= 0) close(fd);
		return -1;
	}
	return fd;
}

int http_call_unix(const char *sock, const char *method, const char *path, const char *body, int timeout_ms,
                   char **out, char *err, size_t errlen)
{
	size_t len;
	return http_call_unix_binary(sock, method, path, body, timeout_ms, out, &len, err, errlen);
}

int http_call_unix_binary(const char *sock, const char *method, const char *path, const char *body,
                          int timeout_ms, char **out, size_t *out_len, char *err, size_t errlen)
{
	*out = NULL;
	*out_len = 0;
	int fd = http_connect_unix(sock, err, errlen);
	if (fd < 0) return 0;
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int n = snprintf(head, sizeof(head),
	                 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\n\r\n",
	                 method, path, blen);
	if (n >= (int)sizeof(head) || !http_write_all(fd, head, (size_t)n) ||
	    (blen && !http_write_all(fd, body, blen))) {
		snprintf(err, errlen, "cannot send the request to %s", sock);
		close(fd);
		return 0;
	}
	size_t cap = 16384, len = 0;
	char *resp = malloc(cap + 1);
	while (resp) {
		if (len == cap) {
			char *g = cap < (64u << 20) ? realloc(resp, (cap *= 2) + 1) : NULL;
			if (!g) {
				free(resp);
				resp = NULL;
				break;
			}
			resp = g;
		}
		struct pollfd p = {fd, POLLIN, 0};
		int pr = poll(&p, 1, timeout_ms);
		if (pr < 0 && errno == EINTR) continue;
		if (pr == 0) {
			snprintf(err, errlen, "%s did not answer within %d s", sock, timeout_ms / 1000);
			free(resp);
			close(fd);
			return 0;
		}
		ssize_t r = read(fd, resp + len, cap - len);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		len += (size_t)r;
	}
	close(fd);
	int status = 0;
	if (resp) {
		resp[len] = 0;
		if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) status = 0;
		char *b = strstr(resp, "\r\n\r\n");
		size_t at = b ? (size_t)(b + 4 - resp) : len;
		if ((*out = malloc(len - at + 1))) {
			memcpy(*out, resp + at, len - at + 1); /* with resp's terminating NUL */
			*out_len = len - at;
		}
		free(resp);
	}
	if (!status) snprintf(err, errlen, "%s sent no valid response", sock);
	return status;
}

int http_upgrade_unix(const char *sock, const char *path, const char *protocol, int timeout_ms, char *err,
                      size_t errlen)
{
	char req[1024];
	int fd = http_connect_unix(sock, err, errlen);
	if (fd < 0) return -2;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000}, none = {0, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int n = snprintf(req, sizeof(req),
	                 "POST %.800s HTTP/1.1\r\nHost: localhost\r\nUpgrade: %.60s\r\n"
	                 "Connection: Upgrade\r\nContent-Length: 0\r\n\r\n",
	                 path, protocol);
	http_write_all(fd, req, (size_t)n);
	char head[4096];
	size_t len = 0;
	while (len < sizeof(head) - 1) {
		ssize_t r = read(fd, head + len, 1); /* byte by byte: stop exactly at the blank line */
		if (r <= 0) break;
		len++;
		if (len >= 4 && !memcmp(head + len - 4, "\r\n\r\n", 4)) break;
	}
	head[len] = 0;
	if (!strncmp(head, "HTTP/1.1 101", 12)) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
		return fd;
	}
	char rest[2048];
	ssize_t r = len ? read(fd, rest, sizeof(rest) - 1) : 0;
	rest[r > 0 ? r : 0] = 0;
	close(fd);
	json_t *j = json_loads(rest, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	snprintf(err, errlen, "%s", e ? e : len ? "the server refused the connection" : "no answer");
	json_decref(j);
	return -1;
}
