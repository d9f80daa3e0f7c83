/*
 * client.c — see client.h.
 */
#define _GNU_SOURCE
#include "client.h"

#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint8_t frame[AGENT_FRAME_MAX + 1];

void agent_set_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool agent_handshake(int fd, int timeout_ms, char *err, size_t errlen)
{
	char line[64];
	size_t len = 0;
	while (len < sizeof(line) - 1) {
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR) continue;
		if (r == 0) {
			snprintf(err, errlen, "the guest agent did not answer in %d ms", timeout_ms);
			return false;
		}
		ssize_t n =
		    r > 0 ? read(fd, line + len, 1) : -1; /* byte by byte: what follows is the agent's */
		if (n <= 0) break;
		if (line[len] == '\n') {
			line[len] = 0;
			if (!strncmp(line, "OK ", 3)) return true;
			snprintf(err, errlen, "the VM's vsock device says: %s", line);
			return false;
		}
		len++;
	}
	snprintf(err, errlen,
	         "the guest agent is not running (nothing listens on vsock port %d in the guest)",
	         AGENT_PORT);
	return false;
}

int agent_dial(const char *vsock_socket, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(vsock_socket) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "vsock socket path too long: %s", vsock_socket);
		return -1;
	}
	strcpy(a.sun_path, vsock_socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(err, errlen, "cannot reach the VM's vsock socket %s: %s", vsock_socket,
		         strerror(errno));
		if (fd >= 0) close(fd);
		return -1;
	}
	char req[32];
	int n = snprintf(req, sizeof(req), "CONNECT %d\n", AGENT_PORT);
	if (write(fd, req, (size_t)n) != n || !agent_handshake(fd, timeout_ms, err, errlen)) {
		if (!err[0]) snprintf(err, errlen, "the VM's vsock socket closed");
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the next frame; false with err set on a broken or malformed stream. */
static bool next(int fd, unsigned *type, size_t *len, char *err, size_t errlen)
{
	const char *why;
	int r = agent_recv(fd, type, frame, len, &why);
	if (r == 1) return true;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		snprintf(err, errlen, "the guest agent stopped answering");
	else
		snprintf(err, errlen, "guest agent: %s", why);
	return false;
}

/* An ERROR frame's message, made printable (the agent chose those bytes). */
static void agent_error(size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++)
		if (frame[i] < 32 || frame[i] > 126) frame[i] = '?';
	snprintf(err, errlen, "guest agent: %s", (const char *)frame);
}

/* Reads the next frame and checks it is of type `want`: an ERROR frame becomes err, any other type a
 * protocol error. */
static bool expect(int fd, unsigned want, size_t *len, char *err, size_t errlen)
{
	unsigned t;
	if (!next(fd, &t, len, err, errlen)) return false;
	if (t == want) return true;
	if (t == AGENT_ERROR)
		agent_error(*len, err, errlen);
	else
		snprintf(err, errlen, "guest agent: unexpected message %u", t);
	return false;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

int agent_exec(int fd, const struct agent_exec *x, char *err, size_t errlen)
{
	static uint8_t req[AGENT_FRAME_MAX];
	size_t n = agent_exec_encode(req, sizeof(req), x->tty ? AGENT_EXEC_TTY : 0, x->rows, x->cols, x->argv,
	                             x->envp);
	if (!n) {
		snprintf(err, errlen, "the command line is too long for the guest agent (64 KiB)");
		return -1;
	}
	if (!agent_send(fd, AGENT_EXEC, req, n)) {
		snprintf(err, errlen, "cannot send the command to the guest agent: %s", strerror(errno));
		return -1;
	}
	bool input_open = x->in_fd >= 0;
	for (;;) {
		struct pollfd p[3] = {
		    {fd, POLLIN, 0}, {input_open ? x->in_fd : -1, POLLIN, 0}, {x->resize_fd, POLLIN, 0}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR) continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (p[2].revents & POLLIN) {
			uint8_t drain[128];
			ssize_t r = read(x->resize_fd, drain, sizeof(drain));
			(void)r;
			uint16_t rows, cols;
			uint8_t sz[4];
			if (x->window && x->window(&rows, &cols) == 0) {
				agent_put16(sz, rows), agent_put16(sz + 2, cols);
				agent_send(fd, AGENT_RESIZE, sz, 4);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(x->in_fd, req, sizeof(req));
			if (r < 0 && errno == EINTR) continue;
			if (r <= 0) input_open = false;
			if (!agent_send(fd, AGENT_STDIN, req, r > 0 ? (size_t)r : 0)) {
				snprintf(err, errlen, "the guest agent went away");
				return -1;
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
		unsigned type;
		size_t len;
		if (!next(fd, &type, &len, err, errlen)) return -1;
		switch (type) {
		case AGENT_STDOUT:
		case AGENT_STDERR: write_all(type == AGENT_STDOUT ? x->out_fd : x->err_fd, frame, len); break;
		case AGENT_EXIT:
			if (len != 4 || agent_get32(frame) > 255) {
				snprintf(err, errlen, "guest agent: malformed exit status");
				return -1;
			}
			return (int)agent_get32(frame);
		case AGENT_ERROR: agent_error(len, err, errlen); return -1;
		default: snprintf(err, errlen, "guest agent: unexpected message %u", type); return -1;
		}
	}
}

bool agent_request(int fd, unsigned type, const void *payload, size_t len, char *reply, size_t cap, char *err,
                   size_t errlen)
{
	if (!agent_send(fd, type, payload, len)) {
		snprintf(err, errlen, "cannot reach the guest agent: %s", strerror(errno));
		return false;
	}
	size_t n;
	if (!expect(fd, AGENT_OK, &n, err, errlen)) return false;
	if (reply && cap) snprintf(reply, cap, "%.*s", (int)n, (const char *)frame);
	return true;
}

bool agent_push(int fd, int src_fd, const char *path, uint32_t mode, uint64_t *bytes, char *err,
                size_t errlen)
{
	size_t plen = strlen(path);
	if (!plen || plen > 4000) {
		snprintf(err, errlen, "invalid guest path");
		return false;
	}
	uint8_t head[4 + 4001];
	agent_put32(head, mode);
	memcpy(head + 4, path, plen + 1);
	bool sent = agent_send(fd, AGENT_PUSH, head, 4 + plen + 1);
	static uint8_t buf[AGENT_FRAME_MAX];
	*bytes = 0;
	while (sent) {
		ssize_t n = read(src_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return false; /* closing the connection mid-copy: the agent drops the partial file */
		}
		sent = agent_send(fd, AGENT_DATA, buf, (size_t)n);
		*bytes += (uint64_t)n;
		if (n == 0) break;
	}
	/* Sent or not (an agent that refused at once closes early): its answer says what happened. */
	size_t n;
	if (!expect(fd, AGENT_OK, &n, err, errlen)) return false;
	if (!sent) snprintf(err, errlen, "guest agent: the connection broke during the copy");
	return sent;
}

bool agent_pull(int fd, const char *path, int dst_fd, uint64_t *bytes, char *err, size_t errlen)
{
	size_t plen = strlen(path);
	if (!plen || plen > 4000) {
		snprintf(err, errlen, "invalid guest path");
		return false;
	}
	if (!agent_send(fd, AGENT_PULL, path, plen + 1)) {
		snprintf(err, errlen, "cannot reach the guest agent: %s", strerror(errno));
		return false;
	}
	*bytes = 0;
	for (;;) {
		size_t n;
		if (!expect(fd, AGENT_DATA, &n, err, errlen)) return false;
		if (!n) return true;
		if (!write_all(dst_fd, frame, n)) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			return false;
		}
		*bytes += n;
	}
}

size_t agent_identity_payload(uint8_t *buf, size_t cap, uint32_t flags, const char *hostname)
{
	size_t hl = hostname ? strlen(hostname) : 0;
	if (cap < 16 + hl + 1) return 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	agent_put32(buf, (uint32_t)now.tv_sec);
	agent_put32(buf + 4, (uint32_t)((uint64_t)now.tv_sec >> 32));
	agent_put32(buf + 8, (uint32_t)now.tv_nsec);
	agent_put32(buf + 12, flags);
	memcpy(buf + 16, hostname ? hostname : "", hl + 1);
	return 16 + hl + 1;
}
