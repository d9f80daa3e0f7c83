/*
 * http_server.c — see http_server.h.
 *
 * One thread reads every connection's request (poll over all of them, each
 * with its own buffer) and hands complete requests to the workers, so a
 * client that trickles its request in occupies a buffer, never a worker.
 * Each request has a deadline from its accept (REQUEST_DEADLINE_MS), not
 * only an idle timeout; requests waiting to be read are capped in total and
 * per client process, the oldest dropped first. Workers write answers with
 * a send timeout, so a client that does not read cannot hold one forever,
 * and close with a lingering read after an error, so a refused client reads
 * its 4xx instead of a reset.
 */
#define _GNU_SOURCE
#include "http_server.h"

#include "util/clock.h"
#include "util/unix_socket.h"

#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define WORKERS 32
#define PENDING_MAX 1024          /* connections whose request is still arriving */
#define PENDING_PER_CLIENT_MAX 64 /* ... from one client process */
#define READY_MAX 4096            /* complete requests waiting for a worker */
#define REQUEST_DEADLINE_MS 10000 /* from accept to the whole request */
#define SEND_TIMEOUT_S 10         /* a client that does not read its answer */
#define LINGER_MS 1000            /* reading what a refused client still sends */
#define BUF_MAX (HTTP_MAX_HEADER + HTTP_MAX_BODY)

/* A connection whose request is being read. */
struct pending {
	int fd;
	pid_t peer; /* the client process (SO_PEERCRED), 0 if unknown */
	uint64_t accepted_ns;
	char *buf;
	size_t len, cap; /* the buffer grows as the request does, up to BUF_MAX */
};

/* A request read whole (or refused while reading), for a worker. */
struct ready {
	int fd;
	char *buf;
	size_t len;
	enum http_parse res;
	struct http_request req;
	int status;      /* res == HTTP_BAD */
	const char *why; /* res == HTTP_BAD */
};

struct http_server {
	int listen_fd;
	char path[108];
	http_handler handler;
	void *opaque;
	pthread_t reader, workers[WORKERS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ready queue[READY_MAX];
	size_t head, count;
	struct pending pend[PENDING_MAX]; /* the reader's */
	struct pollfd fds[PENDING_MAX + 1];
	_Atomic bool stopping;
};

/* Closes after an answer that did not read the whole request: the client's remaining bytes are read
 * and dropped for a moment, so its kernel does not turn our answer into a reset. */
static void close_lingering(int fd)
{
	shutdown(fd, SHUT_WR);
	char sink[4096];
	uint64_t until = monotonic_ns() + (uint64_t)LINGER_MS * 1000000;
	for (uint64_t now; (now = monotonic_ns()) < until;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, (int)((until - now) / 1000000) + 1) <= 0) break;
		if (read(fd, sink, sizeof(sink)) <= 0) break;
	}
	close(fd);
}

static void answer_error(int fd, int status, const char *why)
{
	char body[200];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", why);
	http_write_response(fd, status, NULL, body, (size_t)n);
	close_lingering(fd);
}

static void serve(struct http_server *s, struct ready *q)
{
	int fd = q->fd;
	struct timeval tv = {SEND_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (q->res != HTTP_COMPLETE) {
		answer_error(fd, q->status, q->why);
		free(q->buf);
		return;
	}
	struct http_response r = {0};
	s->handler(s->opaque, q->req.method, q->req.path, q->req.body, q->req.body_len, &r);
	if (r.takeover) {
		static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
		                           "cloison-console\r\nConnection: Upgrade\r\n\r\n";
		struct timeval none = {0, 0}; /* the console relay paces itself */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
		http_write_all(fd, head, sizeof(head) - 1);
		size_t used = q->req.header_len + q->req.body_len;
		r.takeover(r.takeover_opaque, fd, q->buf + used, q->len - used);
		free(r.body);
		free(q->buf);
		return; /* the takeover closes fd */
	}
	http_write_response(fd, r.status, r.content_type, r.body,
	                    r.body_len ? r.body_len
	                    : r.body   ? strlen(r.body)
	                               : 0);
	free(r.body);
	free(q->buf);
	if (r.status >= 400)
		close_lingering(fd);
	else
		close(fd);
}

static void *worker(void *arg)
{
	struct http_server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->count && !atomic_load(&s->stopping)) pthread_cond_wait(&s->cond, &s->lock);
		if (!s->count) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		struct ready q = s->queue[s->head];
		s->head = (s->head + 1) % READY_MAX;
		s->count--;
		pthread_mutex_unlock(&s->lock);
		serve(s, &q);
	}
}

/* Hands a request to the workers; when even their queue is full, answers 503 itself. */
static void dispatch(struct http_server *s, struct ready *q)
{
	pthread_mutex_lock(&s->lock);
	bool full = s->count == READY_MAX;
	if (!full) {
		s->queue[(s->head + s->count) % READY_MAX] = *q;
		s->count++;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (full) {
		free(q->buf);
		answer_error(q->fd, 503, "the server is overloaded: retry");
	}
}

/* Drops a pending connection that was too slow or crowded out, telling it why when it can. */
static void drop(struct pending *p, int status, const char *why)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", why);
	struct timeval tv = {0, 100000}; /* it may not read either */
	setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	http_write_response(p->fd, status, NULL, body, (size_t)n);
	close(p->fd);
	free(p->buf);
}

/* The oldest pending connection (of `peer` when it is not 0). */
static size_t oldest(const struct pending *pend, size_t n, pid_t peer)
{
	size_t best = n;
	for (size_t i = 0; i < n; i++)
		if ((!peer || pend[i].peer == peer) &&
		    (best == n || pend[i].accepted_ns < pend[best].accepted_ns))
			best = i;
	return best;
}

static void accept_one(struct http_server *s, struct pending *pend, size_t *n)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) return;
	struct ucred cred = {0};
	socklen_t cl = sizeof(cred);
	pid_t peer = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 ? cred.pid : 0;
	size_t mine = 0;
	for (size_t i = 0; i < *n; i++) mine += peer && pend[i].peer == peer;
	/* Full, in total or for this client: the oldest (of this client first) makes room. */
	size_t victim = mine >= PENDING_PER_CLIENT_MAX ? oldest(pend, *n, peer)
	                : *n == PENDING_MAX            ? oldest(pend, *n, 0)
	                                               : *n;
	if (victim < *n) {
		drop(&pend[victim], 503, "too many connections waiting: the oldest slow one was dropped");
		pend[victim] = pend[--*n];
	}
	pend[(*n)++] = (struct pending){.fd = fd, .peer = peer, .accepted_ns = monotonic_ns()};
}

/* Reads what arrived on a pending connection; true when it left the pending set (dispatched or
 * closed). */
static bool read_some(struct http_server *s, struct pending *p)
{
	if (p->len == p->cap) { /* most requests fit the first 4 KiB */
		size_t cap = p->cap ? 2 * p->cap : 4096;
		char *g = realloc(p->buf, cap < BUF_MAX ? cap : BUF_MAX);
		if (!g) {
			close(p->fd);
			free(p->buf);
			return true;
		}
		p->buf = g;
		p->cap = cap < BUF_MAX ? cap : BUF_MAX;
	}
	ssize_t r = read(p->fd, p->buf + p->len, p->cap - p->len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) return false;
	struct ready q = {.fd = p->fd, .buf = p->buf, .status = 400, .why = "incomplete request"};
	if (r <= 0) { /* gone, or closed its side before the request was whole */
		if (r == 0 && p->len) {
			q.res = HTTP_BAD;
			dispatch(s, &q);
		} else {
			close(p->fd);
			free(p->buf);
		}
		return true;
	}
	p->len += (size_t)r;
	q.len = p->len;
	q.res = http_parse_request(p->buf, p->len, &q.req, &q.status, &q.why);
	if (q.res == HTTP_INCOMPLETE && p->len == BUF_MAX)
		q.res = HTTP_BAD; /* the parser sets 413/431 first */
	if (q.res == HTTP_INCOMPLETE) return false;
	int flags = fcntl(p->fd, F_GETFL);
	fcntl(p->fd, F_SETFL, flags & ~O_NONBLOCK); /* workers write and relay blocking */
	dispatch(s, &q);
	return true;
}

static void *reader(void *arg)
{
	struct http_server *s = arg;
	struct pending *pend = s->pend;
	struct pollfd *fds = s->fds;
	size_t n = 0;
	while (!atomic_load(&s->stopping)) {
		fds[0] = (struct pollfd){s->listen_fd, POLLIN, 0};
		for (size_t i = 0; i < n; i++) fds[i + 1] = (struct pollfd){pend[i].fd, POLLIN, 0};
		int ready = poll(fds, n + 1, 200);
		uint64_t now = monotonic_ns();
		/* Walk backwards: a connection that leaves is replaced by the last one, already seen. */
		for (size_t i = n; i-- > 0;) {
			bool gone = false;
			if (ready > 0 && fds[i + 1].revents)
				gone = read_some(s, &pend[i]);
			else if (now - pend[i].accepted_ns > (uint64_t)REQUEST_DEADLINE_MS * 1000000) {
				drop(&pend[i], 408, "the request did not arrive in time");
				gone = true;
			}
			if (gone) pend[i] = pend[--n];
		}
		if (ready > 0 && (fds[0].revents & POLLIN)) accept_one(s, pend, &n);
	}
	for (size_t i = 0; i < n; i++) {
		close(pend[i].fd);
		free(pend[i].buf);
	}
	return NULL;
}

struct http_server *http_server_start(const char *path, unsigned mode, http_handler h, void *opaque,
                                      char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		char ignore[256];
		int probe = S_ISSOCK(st.st_mode) ? http_connect_unix(path, ignore, sizeof(ignore)) : -1;
		if (probe >= 0 || !S_ISSOCK(st.st_mode)) {
			if (probe >= 0) close(probe);
			snprintf(err, errlen, "%s already exists%s", path,
			         probe >= 0 ? " and another process is serving it" : "");
			return NULL;
		}
		/* stale: nobody listens (unix_listen replaces it) */
	}
	int fd = unix_listen(path, (mode_t)mode, 1024, 0, err, errlen);
	if (fd < 0) return NULL;
	struct group *g = (mode & 0070) ? getgrnam("cloison") : NULL; /* members of `cloison` may use it */
	if (g && chown(path, (uid_t)-1, g->gr_gid)) {
	}
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->listen_fd = fd;
	strcpy(s->path, path);
	s->handler = h;
	s->opaque = opaque;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	for (int i = 0; i < WORKERS; i++) pthread_create(&s->workers[i], NULL, worker, s);
	pthread_create(&s->reader, NULL, reader, s);
	return s;
}

void http_server_stop(struct http_server *s)
{
	if (!s) return;
	atomic_store(&s->stopping, true);
	pthread_join(s->reader, NULL);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < WORKERS; i++) pthread_join(s->workers[i], NULL);
	close(s->listen_fd);
	unlink(s->path);
	free(s);
}
