/*
 * remote.c — see remote.h. What a request meets, in order: TLS (libmicrohttpd
 * refuses anything else on the port); the static files of the web interface
 * (/ui/..., no data in them, so no credentials needed); then the token, from
 * `Authorization: Bearer` or, for a browser's WebSocket, which cannot send
 * headers, from a `cloison.bearer.TOKEN` subprotocol. No cookie is ever read,
 * so a page on another site cannot make a browser act with its user's
 * rights (no CSRF). Then the same handler as the unix socket (api.c).
 */
#define _GNU_SOURCE
#include "daemon/remote.h"

#include "daemon/api.h"
#include "daemon/api_internal.h"
#include "daemon/tls_cert.h"
#include "daemon/tokens.h"
#include "http/http.h"
#include "http/websocket.h"
#include "util/log.h"
#include "util/clock.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAILURE_SLOTS 256
#define FAILURE_WINDOW_NS (60 * 1000000000ull)
#define URI_MAX 255 /* what api_handle takes */

struct failures {
	char addr[INET6_ADDRSTRLEN];
	uint64_t since; /* monotonic ns: the window's start */
	unsigned count;
	bool logged_limit;
};

struct ws_session;

struct remote {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	struct tls_identity id;
	char web_dir[PATH_MAX];
	char xterm_dir[PATH_MAX]; /* xterm.js (tools/web/fetch.sh) */
	char describe[PATH_MAX];
	unsigned failures_per_minute;
	pthread_mutex_t lock; /* failures, sessions */
	struct failures failures[FAILURE_SLOTS];
	struct ws_session *sessions; /* open WebSockets: ended by remote_stop */
};

/* One request, from its URI to its completion. */
struct request {
	char uri[URI_MAX + 1]; /* as the client sent it, query included */
	bool uri_too_long, started, authorized;
	char *body;
	size_t len;
	char token_name[TOKEN_NAME_MAX + 1];
};

/* ---- answers ---- */

static void common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result answer(struct MHD_Connection *c, int status, const char *type, char *body, size_t len,
                              bool take)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, body, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		if (take) free(body);
		return MHD_NO;
	}
	common_headers(resp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type ? type : "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"cloisond\"");
	if (status == 429) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "60");
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result __attribute__((format(printf, 3, 4)))
answer_error(struct MHD_Connection *c, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *code = status == 401                    ? "unauthorized"
	                   : status == 403                  ? "forbidden"
	                   : status == 404                  ? "not-found"
	                   : status == 405                  ? "method"
	                   : status == 429                  ? "rate-limited"
	                   : status == 413 || status == 414 ? "too-large"
	                   : status < 500                   ? "invalid"
	                                                    : "internal";
	json_t *j = json_pack("{s:s, s:s}", "error", msg, "code", code);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) return MHD_NO;
	return answer(c, status, NULL, text, strlen(text), true);
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (!resp) return MHD_NO;
	common_headers(resp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, to);
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_FOUND, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- the web interface's files ---- */

static const char *mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {{".html", "text/html; charset=utf-8"},
	             {".js", "text/javascript; charset=utf-8"},
	             {".css", "text/css; charset=utf-8"},
	             {".svg", "image/svg+xml"},
	             {".png", "image/png"},
	             {".ico", "image/x-icon"},
	             {".json", "application/json"},
	             {".woff2", "font/woff2"}};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext)) return types[i].type;
	return "application/octet-stream";
}

/* A relative path made only of plain components: no "..", no hidden files, nothing but [A-Za-z0-9._/-]. */
static bool path_is_plain(const char *rel)
{
	if (!*rel || strlen(rel) > 400) return false;
	for (const char *p = rel; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-", *p))
			return false;
	for (const char *comp = rel; comp; comp = strchr(comp, '/') ? strchr(comp, '/') + 1 : NULL)
		if (*comp == '.' || *comp == '/' || !*comp) return false;
	return true;
}

static enum MHD_Result serve_file(struct remote *rm, struct MHD_Connection *c, const char *url)
{
	const struct {
		const char *prefix, *dir;
	} vendor[] = {{"/ui/vendor/xterm/", rm->xterm_dir}, {"/ui/vendor/novnc/", "/usr/share/novnc"}};
	char path[PATH_MAX];
	const char *rel = NULL;
	for (size_t i = 0; !rel && i < sizeof(vendor) / sizeof(vendor[0]); i++)
		if (!strncmp(url, vendor[i].prefix, strlen(vendor[i].prefix))) {
			rel = url + strlen(vendor[i].prefix);
			snprintf(path, sizeof(path), "%.3500s/%.500s", vendor[i].dir, rel);
		}
	if (!rel) {
		rel = !strcmp(url, "/ui/") ? "index.html" : url + 4;
		snprintf(path, sizeof(path), "%.3500s/%.500s", rm->web_dir, rel);
	}
	if (!path_is_plain(rel)) return answer_error(c, 404, "no such file");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0) close(fd);
		return answer_error(c, 404, "no such file");
	}
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	common_headers(resp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime_type(path));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(
	    resp, "Content-Security-Policy",
	    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
	    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- who is asking ---- */

static void client_address(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, len, "?");
	if (ci && ci->client_addr) {
		socklen_t sl = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                      : sizeof(struct sockaddr_in);
		getnameinfo(ci->client_addr, sl, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
	}
}

/* The address's failure record (the oldest reused when all are taken); lock held. */
static struct failures *failures_of(struct remote *rm, const char *addr, uint64_t now)
{
	struct failures *oldest = &rm->failures[0];
	for (size_t i = 0; i < FAILURE_SLOTS; i++) {
		struct failures *f = &rm->failures[i];
		if (!strcmp(f->addr, addr)) {
			if (now - f->since > FAILURE_WINDOW_NS) *f = (struct failures){.since = now};
			snprintf(f->addr, sizeof(f->addr), "%s", addr);
			return f;
		}
		if (f->since < oldest->since) oldest = f;
	}
	*oldest = (struct failures){.since = now};
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

static bool too_many_failures(struct remote *rm, const char *addr)
{
	uint64_t now = monotonic_ns();
	pthread_mutex_lock(&rm->lock);
	struct failures *f = failures_of(rm, addr, now);
	bool limited = f->count >= rm->failures_per_minute;
	if (limited && !f->logged_limit) {
		f->logged_limit = true;
		log_warn(
		    "remote API: %u failed authentications from %s within a minute: refusing it for the rest "
		    "of the minute",
		    f->count, addr);
	}
	pthread_mutex_unlock(&rm->lock);
	return limited;
}

static void count_failure(struct remote *rm, const char *addr, const char *method, const char *uri)
{
	pthread_mutex_lock(&rm->lock);
	struct failures *f = failures_of(rm, addr, monotonic_ns());
	f->count++;
	unsigned n = f->count;
	pthread_mutex_unlock(&rm->lock);
	log_warn("remote API: %s %s from %s: invalid token (%u in the last minute)", method, uri, addr, n);
}

/* The value of one item of a comma-separated header that starts with prefix, into out. */
static bool header_item(const char *header, const char *prefix, char *out, size_t len)
{
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n > strlen(prefix) && !strncmp(p, prefix, strlen(prefix)) && n - strlen(prefix) < len) {
			memcpy(out, p + strlen(prefix), n - strlen(prefix));
			out[n - strlen(prefix)] = 0;
			return true;
		}
		p += n;
	}
	return false;
}

static bool header_has(const char *header, const char *item)
{
	for (const char *p = header; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t n = strcspn(p, ", ");
		if (n == strlen(item) && !strncmp(p, item, n)) return true;
		p += n;
	}
	return false;
}

static bool is_websocket(struct MHD_Connection *c)
{
	const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	return up && !strcasecmp(up, "websocket");
}

/* Authenticates the request: MHD_YES to go on (rq->authorized set) or the refusal queued. */
static enum MHD_Result authenticate(struct remote *rm, struct MHD_Connection *c, struct request *rq,
                                    const char *method)
{
	char token[128] = "", addr[INET6_ADDRSTRLEN];
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *protocols = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	if (auth && !strncasecmp(auth, "Bearer ", 7))
		snprintf(token, sizeof(token), "%s", auth + 7);
	else if (protocols && is_websocket(c))
		header_item(protocols, "cloison.bearer.", token, sizeof(token));
	if (!token[0])
		return answer_error(c, 401,
		                    "authentication required: send `Authorization: Bearer TOKEN` "
		                    "(a token from `cloison token create NAME` on the host)");
	client_address(c, addr, sizeof(addr));
	if (too_many_failures(rm, addr))
		return answer_error(c, 429, "too many failed authentications from %s: try again in a minute",
		                    addr);
	if (!tokens_check(rm->d, token, rq->token_name)) {
		count_failure(rm, addr, method, rq->uri);
		return answer_error(c, 401, "invalid or revoked token");
	}
	rq->authorized = true;
	return MHD_YES;
}

/* ---- WebSockets: a console or a VNC connection, relayed ---- */

struct ws_session {
	struct remote *rm;
	struct ws_session *prev, *next; /* the remote's open sessions (its lock) */
	void (*takeover)(void *opaque, int fd, const char *extra, size_t extra_len);
	void *takeover_opaque;
	int sock;
	struct MHD_UpgradeResponseHandle *urh;
	char *pending;
	size_t pending_len;
	int pair[2];
};

static void *takeover_thread(void *arg)
{
	struct ws_session *s = arg;
	s->takeover(s->takeover_opaque, s->pair[1], NULL, 0); /* closes pair[1] */
	return NULL;
}

static void *ws_thread(void *arg)
{
	struct ws_session *s = arg;
	struct remote *rm = s->rm;
	pthread_mutex_lock(&rm->lock);
	s->next = rm->sessions;
	if (s->next) s->next->prev = s;
	rm->sessions = s;
	pthread_mutex_unlock(&rm->lock);
	pthread_t t;
	if (!pthread_create(&t, NULL, takeover_thread, s)) {
		ws_relay(s->sock, s->pair[0], s->pending, s->pending_len);
		shutdown(s->pair[0], SHUT_RDWR); /* the takeover's relay sees the end */
		pthread_join(t, NULL);
	} else {
		close(s->pair[1]);
	}
	close(s->pair[0]);
	pthread_mutex_lock(&rm->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		rm->sessions = s->next;
	if (s->next) s->next->prev = s->prev;
	pthread_mutex_unlock(&rm->lock);
	/* libmicrohttpd's forwarding thread sleeps until one of its sockets moves: the end of ours wakes it
	 * (a closing handle alone left it waiting for the client, and the daemon's stop waiting for it). */
	shutdown(s->sock, SHUT_RDWR);
	MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(s->pending);
	free(s);
	return NULL;
}

static void upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                     size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct ws_session *s = cls;
	s->sock = sock;
	s->urh = urh;
	s->pending = extra_len ? malloc(extra_len) : NULL;
	if (s->pending) {
		memcpy(s->pending, extra_in, extra_len);
		s->pending_len = extra_len;
	}
	if (!spawn_detached(ws_thread, s)) {
		close(s->pair[0]);
		/* the relay sees the end at once and frees what it holds */
		s->takeover(s->takeover_opaque, s->pair[1], NULL, 0);
		shutdown(sock, SHUT_RDWR);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		free(s->pending);
		free(s);
	}
}

/* Ends a takeover nobody will use: its relay sees the end at once and closes what it holds. */
static void discard_takeover(struct http_response *r)
{
	int pair[2];
	if (!r->takeover || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) return;
	close(pair[0]);
	r->takeover(r->takeover_opaque, pair[1], NULL, 0);
	r->takeover = NULL;
}

/* GET /v1/instances/NAME/{console,vnc} as a WebSocket. */
static enum MHD_Result websocket(struct remote *rm, struct MHD_Connection *c, const char *url)
{
	char name[INST_NAME_MAX + 1], what[16], path[URI_MAX + 1], accept_value[WS_ACCEPT_LEN + 1];
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *protocols = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	const char *rest = !strncmp(url, "/v1/instances/", 14) ? url + 14 : "";
	size_t namelen = strcspn(rest, "/");
	if (namelen == 0 || namelen > INST_NAME_MAX ||
	    snprintf(what, sizeof(what), "%s", rest + namelen) >= 16 ||
	    (strcmp(what, "/console") && strcmp(what, "/vnc")))
		return answer_error(c, 404,
		                    "WebSockets: /v1/instances/NAME/console or /v1/instances/NAME/vnc");
	if (!key || !version || strcmp(version, "13") || !ws_accept_value(key, accept_value))
		return answer_error(c, 400, "not a WebSocket handshake (RFC 6455, version 13)");
	memcpy(name, rest, namelen);
	name[namelen] = 0;
	snprintf(path, sizeof(path), "/v1/instances/%s%s", name, what);
	struct http_response r = {0};
	api_handle(rm->d, "POST", path, "", 0, &r);
	if (!r.takeover) {
		enum MHD_Result rc = r.body
		                         ? answer(c, r.status, r.content_type, r.body, strlen(r.body), true)
		                         : answer_error(c, 500, "no answer");
		return rc;
	}
	free(r.body);
	struct ws_session *s = calloc(1, sizeof(*s));
	if (!s || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->pair)) {
		free(s);
		discard_takeover(&r);
		return answer_error(c, 500, "out of resources");
	}
	s->rm = rm;
	s->takeover = r.takeover;
	s->takeover_opaque = r.takeover_opaque;
	struct MHD_Response *resp = MHD_create_response_for_upgrade(upgraded, s);
	if (!resp) {
		close(s->pair[0]);
		close(s->pair[1]);
		discard_takeover(&r);
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept_value);
	if (protocols && header_has(protocols, "binary"))
		MHD_add_response_header(resp, "Sec-WebSocket-Protocol", "binary");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- requests ---- */

static void *uri_logged(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct request *rq = calloc(1, sizeof(*rq));
	if (rq) {
		rq->uri_too_long = strlen(uri) > URI_MAX;
		snprintf(rq->uri, sizeof(rq->uri), "%s", uri);
	}
	return rq;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
	struct request *rq = *con_cls;
	if (!rq) return;
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static enum MHD_Result dispatch(struct remote *rm, struct MHD_Connection *c, struct request *rq,
                                const char *url, const char *method)
{
	if (!strncmp(url, "/v1/tokens", 10) && (!url[10] || url[10] == '/'))
		return answer_error(c, 403, "tokens are managed on the host: `cloison token`");
	if (!strcmp(method, "GET") && is_websocket(c)) return websocket(rm, c, url);
	struct http_response r = {0};
	api_handle(rm->d, method, rq->uri, rq->body ? rq->body : "", rq->len, &r);
	if (r.takeover) {
		free(r.body);
		discard_takeover(&r);
		return answer_error(c, 400,
		                    "this endpoint streams: open it as a WebSocket (GET with Upgrade)");
	}
	if (!r.body) return answer_error(c, r.status ? r.status : 500, "no answer");
	size_t len = r.body_len ? r.body_len : strlen(r.body);
	return answer(c, r.status, r.content_type, r.body, len, true);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct remote *rm = cls;
	struct request *rq = *con_cls;
	if (!rq) return MHD_NO;
	if (!rq->started) {
		rq->started = true;
		if (rq->uri_too_long) return answer_error(c, 414, "the URI is longer than %d bytes", URI_MAX);
		if (!strcmp(url, "/") || !strcmp(url, "/ui")) return redirect(c, "/ui/");
		if (!strncmp(url, "/ui/", 4)) {
			if (strcmp(method, "GET") && strcmp(method, "HEAD"))
				return answer_error(c, 405, "the web interface's files take GET");
			return serve_file(rm, c, url);
		}
		return authenticate(rm, c, rq, method);
	}
	if (!rq->authorized) return MHD_NO; /* a refusal was queued */
	if (*upload_size) {
		if (rq->len + *upload_size > HTTP_MAX_BODY)
			return answer_error(c, 413, "the body is larger than %d bytes", HTTP_MAX_BODY);
		char *b = realloc(rq->body, rq->len + *upload_size + 1);
		if (!b) return MHD_NO;
		memcpy(b + rq->len, upload, *upload_size);
		rq->body = b;
		rq->len += *upload_size;
		rq->body[rq->len] = 0;
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(rm, c, rq, url, method);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	log_debug("remote API: %s", msg);
}

/* The web interface's directory: $CLOISON_WEB_DIR, the source tree, the installed copy. */
static void find_web_dir(struct remote *rm)
{
	const char *dirs[] = {getenv("CLOISON_WEB_DIR"), CLOISON_SOURCE_WEB, CLOISON_INSTALLED_WEB};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !dirs[i][0]) continue;
		char index[PATH_MAX + 16];
		snprintf(index, sizeof(index), "%.4000s/index.html", dirs[i]);
		if (!access(index, R_OK)) {
			snprintf(rm->web_dir, sizeof(rm->web_dir), "%s", dirs[i]);
			return;
		}
	}
	log_warn("remote API: the web interface's files are not installed: /ui/ answers 404");
	snprintf(rm->web_dir, sizeof(rm->web_dir), "/nonexistent");
}

/* xterm.js: installed beside the interface (make install), else where tools/web/fetch.sh puts it. */
static void find_xterm_dir(struct remote *rm)
{
	const char *cache = getenv("CLOISON_CACHE"), *home = getenv("HOME");
	snprintf(rm->xterm_dir, sizeof(rm->xterm_dir), "%.4000s/vendor/xterm", rm->web_dir);
	char js[PATH_MAX + 16];
	snprintf(js, sizeof(js), "%.4000s/xterm.js", rm->xterm_dir);
	if (!access(js, R_OK)) return;
	if (cache)
		snprintf(rm->xterm_dir, sizeof(rm->xterm_dir), "%.4000s/web/xterm", cache);
	else
		snprintf(rm->xterm_dir, sizeof(rm->xterm_dir), "%.4000s/.cache/cloison/web/xterm",
		         home ? home : "/root");
	snprintf(js, sizeof(js), "%.4000s/xterm.js", rm->xterm_dir);
	if (access(js, R_OK))
		log_warn(
		    "remote API: no xterm.js (%s): run tools/web/fetch.sh; the web console will not work",
		    js);
}

struct remote *remote_start(struct daemon *d, const struct remote_config *cfg, char *err, size_t errlen)
{
	char host[256], tls_dir[PATH_MAX + 8];
	const char *port;
	uint64_t portnum;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	                         .ai_socktype = SOCK_STREAM},
	                *ai = NULL;
	if (!parse_host_port(cfg->listen, true, host, sizeof(host), &port) ||
	    !parse_uint(port, 1, 65535, &portnum) || getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) ||
	    !ai) {
		snprintf(err, errlen,
		         "--listen %s: expected ADDR:PORT with a numeric address (or :PORT for all)",
		         cfg->listen);
		return NULL;
	}
	if ((cfg->cert_file == NULL) != (cfg->key_file == NULL)) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return NULL;
	}
	struct remote *rm = calloc(1, sizeof(*rm));
	if (!rm) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rm->d = d;
	rm->failures_per_minute = cfg->failures_per_minute ? cfg->failures_per_minute : 10;
	pthread_mutex_init(&rm->lock, NULL);
	find_web_dir(rm);
	find_xterm_dir(rm);
	snprintf(tls_dir, sizeof(tls_dir), "%.4000s/tls", d->state_dir);
	if (!tls_identity_load(cfg->cert_file, cfg->key_file, tls_dir, &rm->id, err, errlen)) {
		freeaddrinfo(ai);
		free(rm);
		return NULL;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
	                 MHD_ALLOW_UPGRADE | MHD_USE_ITC | MHD_USE_ERROR_LOG |
	                 (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	rm->mhd = MHD_start_daemon(
	    flags, (uint16_t)portnum, NULL, NULL, handle, rm, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_HTTPS_MEM_KEY, rm->id.key_pem, MHD_OPTION_HTTPS_MEM_CERT, rm->id.cert_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_URI_LOG_CALLBACK, uri_logged, rm, MHD_OPTION_NOTIFY_COMPLETED, completed, rm,
	    MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 128u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, rm, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!rm->mhd) {
		snprintf(err, errlen, "cannot serve HTTPS on %s (in use, or not an address of this host?)",
		         cfg->listen);
		tls_identity_free(&rm->id);
		free(rm);
		return NULL;
	}
	snprintf(rm->describe, sizeof(rm->describe), "https://%s%s%s:%s/ (certificate SHA-256 %s)",
	         strchr(host, ':') ? "[" : "", host[0] ? host : "0.0.0.0", strchr(host, ':') ? "]" : "", port,
	         rm->id.fingerprint);
	return rm;
}

const char *remote_describe(const struct remote *r)
{
	return r->describe;
}

void remote_stop(struct remote *r)
{
	if (!r) return;
	/* Stop listening and end our WebSockets (their relays see the end of the stream). The connections'
	 * threads are not joined: libmicrohttpd's TLS forwarding for an upgraded connection can sleep in
	 * select() until its client moves, and this runs only as the daemon exits, which closes them all. */
	MHD_socket listener = MHD_quiesce_daemon(r->mhd);
	if (listener != MHD_INVALID_SOCKET) close(listener);
	pthread_mutex_lock(&r->lock);
	for (struct ws_session *s = r->sessions; s; s = s->next) shutdown(s->sock, SHUT_RDWR);
	pthread_mutex_unlock(&r->lock);
}
