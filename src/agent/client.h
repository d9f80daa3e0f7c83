/*
 * client.h — the host side of the guest agent (proto.h): reaching it through
 * a VM's vsock socket (or through cloisond, which relays), and the requests
 * cloison makes: run a command with its input and output relayed, shut the
 * guest down, copy files, give it a new identity, ask who it is.
 *
 * The agent is untrusted (it runs in the guest): every frame is bounded and
 * checked, replies of the wrong kind end the request with an error, and
 * nothing it sends decides where the host writes.
 */
#ifndef CLOISON_AGENT_CLIENT_H
#define CLOISON_AGENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connects to the VM's vsock socket and opens a stream to the agent's port (waiting up to timeout_ms
 * for the guest to answer). The connected fd, or -1 with err set. */
int agent_dial(const char *vsock_socket, int timeout_ms, char *err, size_t errlen);
/* After "CONNECT PORT\n" was written on fd (by us or by a relay): reads the device's "OK N\n". */
bool agent_handshake(int fd, int timeout_ms, char *err, size_t errlen);
/* Bounds every later read and write on fd (0: none): a silent agent cannot hold the caller forever. */
void agent_set_timeout(int fd, int timeout_ms);

struct agent_exec {
	char *const *argv; /* NULL-terminated */
	char *const *envp; /* NAME=VALUE, NULL-terminated (may be NULL) */
	bool tty;
	uint16_t rows, cols;
	int in_fd, out_fd, err_fd; /* where input comes from and output goes (in_fd -1: none) */
	int resize_fd;             /* readable when the terminal was resized (-1: none), e.g. a signalfd */
	int (*window)(uint16_t *rows, uint16_t *cols); /* the terminal's size now (tty; may be NULL) */
};
/* Runs a command through the agent on fd and relays until it ends. The command's exit status (0-255),
 * or -1 with err set when the request failed or the agent broke the protocol. */
int agent_exec(int fd, const struct agent_exec *x, char *err, size_t errlen);

/* One request with a one-frame answer (SHUTDOWN, IDENTITY, INFO): the OK payload into reply (may be
 * NULL), or false with err set (the agent's ERROR message, or what went wrong). */
bool agent_request(int fd, unsigned type, const void *payload, size_t len, char *reply, size_t cap, char *err,
                   size_t errlen);
/* Copies the open file src_fd to `path` in the guest with the given mode. */
bool agent_push(int fd, int src_fd, const char *path, uint32_t mode, uint64_t *bytes, char *err,
                size_t errlen);
/* Copies `path` from the guest into dst_fd. */
bool agent_pull(int fd, const char *path, int dst_fd, uint64_t *bytes, char *err, size_t errlen);
/* An IDENTITY payload: the host's clock now, flags, hostname. Its length. */
size_t agent_identity_payload(uint8_t *buf, size_t cap, uint32_t flags, const char *hostname);

#endif
