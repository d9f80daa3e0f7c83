/*
 * http_server.c — see http_server.h.
 */
#define _GNU_SOURCE
#include "http_server.h"

#include "util/unix_socket.h"

#include "http.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORKERS 32
#define QUEUE_MAX 4096

struct http_server {
	int listen_fd;
	char path[108];
	http_handler handler;
	void *opaque;
	pthread_t acceptor, workers[WORKERS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int queue[QUEUE_MAX];
	size_t head, count;
	_Atomic bool stopping;
};

static void serve(struct http_server *s, int fd)
{
	static __thread char buf[HTTP_MAX_HEADER + HTTP_MAX_BODY];
	size_t len = 0;
	struct http_request req;
	int status = 400;
	const char *why = "incomplete request";
	enum http_parse res = HTTP_INCOMPLETE;
	while (len < sizeof(buf)) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 10000) <= 0) break;
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		len += (size_t)n;
		res = http_parse_request(buf, len, &req, &status, &why);
		if (res != HTTP_INCOMPLETE) break;
	}
	if (res == HTTP_BAD) {
		char body[200];
		int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", why);
		http_write_response(fd, status, NULL, body, (size_t)n);
	} else if (res == HTTP_COMPLETE) {
		struct http_response r = {0};
		s->handler(s->opaque, req.method, req.path, req.body, req.body_len, &r);
		if (r.takeover) {
			static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
			                           "cloison-console\r\nConnection: Upgrade\r\n\r\n";
			http_write_all(fd, head, sizeof(head) - 1);
			size_t used = req.header_len + req.body_len;
			r.takeover(r.takeover_opaque, fd, buf + used, len - used);
			free(r.body);
			return; /* the takeover closes fd */
		}
		http_write_response(fd, r.status, r.content_type, r.body, r.body ? strlen(r.body) : 0);
		free(r.body);
	}
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
		int fd = s->queue[s->head];
		s->head = (s->head + 1) % QUEUE_MAX;
		s->count--;
		pthread_mutex_unlock(&s->lock);
		serve(s, fd);
	}
}

static void *acceptor(void *arg)
{
	struct http_server *s = arg;
	while (!atomic_load(&s->stopping)) {
		struct pollfd p = {s->listen_fd, POLLIN, 0};
		if (poll(&p, 1, 200) <= 0) continue;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) continue;
		pthread_mutex_lock(&s->lock);
		bool full = s->count == QUEUE_MAX;
		if (!full) {
			s->queue[(s->head + s->count) % QUEUE_MAX] = fd;
			s->count++;
			pthread_cond_signal(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);
		if (full) {
			static const char busy[] = "{\"error\":\"the daemon is overloaded: retry\"}";
			http_write_response(fd, 503, NULL, busy, sizeof(busy) - 1);
			close(fd);
		}
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
	pthread_create(&s->acceptor, NULL, acceptor, s);
	return s;
}

void http_server_stop(struct http_server *s)
{
	if (!s) return;
	atomic_store(&s->stopping, true);
	pthread_join(s->acceptor, NULL);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < WORKERS; i++) pthread_join(s->workers[i], NULL);
	close(s->listen_fd);
	unlink(s->path);
	free(s);
}
