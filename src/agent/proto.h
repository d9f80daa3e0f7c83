/*
 * proto.h — the guest agent's wire protocol, shared by the agent in the guest
 * (agent.c) and the host side (client.c).
 *
 * One vsock connection carries one request. Every message is a frame: an
 * 8-byte header (type, three zero bytes, little-endian payload length) and at
 * most AGENT_FRAME_MAX bytes of payload. Neither side trusts the other's
 * frames: a bad type, a length over the limit or a truncated frame ends the
 * connection with an error, never a crash.
 *
 * Requests (host to agent) and what answers them:
 *   EXEC     u32 flags (AGENT_EXEC_TTY), u16 rows, u16 cols, u32 argc, u32 envc, then argc + envc
 *            NUL-terminated strings (env as NAME=VALUE). Then STDIN frames (empty: end of input),
 *            RESIZE (u16 rows, u16 cols) and SIGNAL (u32) from the host; STDOUT/STDERR frames and
 *            one EXIT (i32: the exit code, or 128 + signal) from the agent.
 *   SHUTDOWN u32 AGENT_POWEROFF or AGENT_REBOOT: OK, then the guest goes down through its init.
 *   PUSH     u32 mode, path; then DATA frames, an empty one last: OK once written and synced.
 *   PULL     path: DATA frames, an empty one last.
 *   IDENTITY u64 seconds, u32 nanoseconds (0, 0: leave the clock), u32 flags (AGENT_NEW_*),
 *            hostname ("": keep): OK with "key=value" lines saying what changed.
 *   INFO     nothing: OK with "key=value" lines (agent, hostname, kernel, uptime).
 * Any request may get ERROR (a message) instead.
 */
#ifndef CLOISON_AGENT_PROTO_H
#define CLOISON_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_PORT 1024 /* the vsock port the agent listens on */
#define AGENT_VERSION 1
#define AGENT_FRAME_MAX (64u << 10)
#define AGENT_HDR 8

enum agent_type {
	AGENT_EXEC = 1,
	AGENT_STDIN,
	AGENT_RESIZE,
	AGENT_SIGNAL,
	AGENT_SHUTDOWN,
	AGENT_PUSH,
	AGENT_PULL,
	AGENT_IDENTITY,
	AGENT_INFO,
	AGENT_STDOUT = 16,
	AGENT_STDERR,
	AGENT_EXIT,
	AGENT_OK,
	AGENT_ERROR,
	AGENT_DATA,
};

#define AGENT_EXEC_TTY 1u
#define AGENT_POWEROFF 0u
#define AGENT_REBOOT 1u
#define AGENT_NEW_MACHINE_ID 1u
#define AGENT_NEW_SSH_KEYS 2u
#define AGENT_MAX_ARGS 4096

/* Writes one frame (retrying short writes). False when the connection failed. */
bool agent_send(int fd, unsigned type, const void *payload, size_t len);
/* Reads one frame into buf (AGENT_FRAME_MAX + 1 bytes: the payload is NUL-terminated for convenience).
 * 1: a frame; 0: the peer closed cleanly between frames; -1: an error, a malformed or truncated
 * frame (why says which). */
int agent_recv(int fd, unsigned *type, uint8_t *buf, size_t *len, const char **why);

/* Little-endian fields in payloads. */
static inline void agent_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t agent_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void agent_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static inline uint16_t agent_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* An EXEC request: what the payload says. argv and envp point into the caller's buffer. */
struct agent_exec_req {
	uint32_t flags;
	uint16_t rows, cols;
	uint32_t argc, envc;
	const char *argv[AGENT_MAX_ARGS + 1], *envp[AGENT_MAX_ARGS + 1]; /* NULL-terminated */
};
/* Builds the payload into buf (cap bytes); its length, or 0 when it does not fit. */
size_t agent_exec_encode(uint8_t *buf, size_t cap, uint32_t flags, uint16_t rows, uint16_t cols,
                         char *const argv[], char *const envp[]);
/* Parses a payload (buf[len] must be writable: strings are checked for their terminators). False
 * with why set when it is malformed (no command, counts over the limit, strings cut short). */
bool agent_exec_decode(const uint8_t *buf, size_t len, struct agent_exec_req *r, const char **why);

#endif
