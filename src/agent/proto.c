/*
 * proto.c — see proto.h. Plain libc only: it is built into the guest agent
 * (a static riscv64 program) as well as into cloison.
 */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL); /* a peer gone is an error, not a signal */
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* 1: all read; 0: end of stream before the first byte; -1: error or end in the middle. */
static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR) continue;
		if (n == 0 && got == 0) return 0;
		if (n <= 0) return -1;
		got += (size_t)n;
	}
	return 1;
}

bool agent_send(int fd, unsigned type, const void *payload, size_t len)
{
	if (len > AGENT_FRAME_MAX || type > 255) return false;
	uint8_t frame[AGENT_HDR + 512];
	uint8_t hdr[AGENT_HDR] = {(uint8_t)type, 0, 0, 0};
	agent_put32(hdr + 4, (uint32_t)len);
	if (len <= sizeof(frame) - AGENT_HDR) { /* small frames in one write: one vsock packet */
		memcpy(frame, hdr, AGENT_HDR);
		if (len) memcpy(frame + AGENT_HDR, payload, len);
		return write_all(fd, frame, AGENT_HDR + len);
	}
	return write_all(fd, hdr, AGENT_HDR) && write_all(fd, payload, len);
}

int agent_recv(int fd, unsigned *type, uint8_t *buf, size_t *len, const char **why)
{
	uint8_t hdr[AGENT_HDR];
	int r = read_all(fd, hdr, AGENT_HDR);
	if (r <= 0) {
		*why = r == 0 ? "the connection closed" : "the connection broke inside a frame";
		return r;
	}
	uint32_t n = agent_get32(hdr + 4);
	if (hdr[1] || hdr[2] || hdr[3] || n > AGENT_FRAME_MAX) {
		*why = "malformed frame header";
		return -1;
	}
	if (n && read_all(fd, buf, n) != 1) {
		*why = "the connection broke inside a frame";
		return -1;
	}
	buf[n] = 0;
	*type = hdr[0];
	*len = n;
	return 1;
}

size_t agent_exec_encode(uint8_t *buf, size_t cap, uint32_t flags, uint16_t rows, uint16_t cols,
                         char *const argv[], char *const envp[])
{
	uint32_t argc = 0, envc = 0;
	while (argv && argv[argc]) argc++;
	while (envp && envp[envc]) envc++;
	if (!argc || argc > AGENT_MAX_ARGS || envc > AGENT_MAX_ARGS || cap < 16) return 0;
	agent_put32(buf, flags);
	agent_put16(buf + 4, rows);
	agent_put16(buf + 6, cols);
	agent_put32(buf + 8, argc);
	agent_put32(buf + 12, envc);
	size_t at = 16;
	for (uint32_t i = 0; i < argc + envc; i++) {
		const char *s = i < argc ? argv[i] : envp[i - argc];
		size_t n = strlen(s) + 1;
		if (n > cap - at) return 0;
		memcpy(buf + at, s, n);
		at += n;
	}
	return at;
}

bool agent_exec_decode(const uint8_t *buf, size_t len, struct agent_exec_req *r, const char **why)
{
	if (len < 16) {
		*why = "EXEC request too short";
		return false;
	}
	r->flags = agent_get32(buf);
	r->rows = agent_get16(buf + 4);
	r->cols = agent_get16(buf + 6);
	r->argc = agent_get32(buf + 8);
	r->envc = agent_get32(buf + 12);
	if (!r->argc || r->argc > AGENT_MAX_ARGS || r->envc > AGENT_MAX_ARGS) {
		*why = "EXEC request: no command, or too many arguments";
		return false;
	}
	size_t at = 16;
	for (uint32_t i = 0; i < r->argc + r->envc; i++) {
		const uint8_t *end = at < len ? memchr(buf + at, 0, len - at) : NULL;
		if (!end) {
			*why = "EXEC request: a string runs past the end";
			return false;
		}
		const char *s = (const char *)buf + at;
		if (i < r->argc)
			r->argv[i] = s;
		else
			r->envp[i - r->argc] = s;
		at = (size_t)(end - buf) + 1;
	}
	r->argv[r->argc] = NULL;
	r->envp[r->envc] = NULL;
	if (!r->argv[0][0]) {
		*why = "EXEC request: empty command name";
		return false;
	}
	return true;
}
