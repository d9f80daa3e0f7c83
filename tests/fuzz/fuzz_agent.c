/*
 * fuzz_agent.c — libFuzzer harness for the host side of the guest agent's
 * protocol (agent/client.h), which reads what an untrusted guest sends: the
 * input is the agent's side of the stream, fed through a socket pair to a
 * command run (exec), a file copy out of the guest (pull) and a one-frame
 * request; the first byte picks which. Also the agent's own parser of EXEC
 * requests. Nothing may crash, hang or write outside its buffers.
 */
#include "agent/client.h"
#include "agent/proto.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 200000) return 0;
	static struct agent_exec_req req;
	const char *why;
	uint8_t *copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	agent_exec_decode(copy, size - 1, &req, &why);
	free(copy);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
	int big = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	const uint8_t *p = data + 1;
	size_t left = size - 1;
	while (left) { /* the whole reply is in the socket before the client reads: no thread needed */
		ssize_t n = write(sv[0], p, left);
		if (n <= 0) break;
		p += n, left -= (size_t)n;
	}
	shutdown(sv[0], SHUT_WR);
	int sink = open("/dev/null", O_WRONLY | O_CLOEXEC);
	char err[256], reply[512];
	uint64_t bytes;
	switch (data[0] % 3) {
	case 0: {
		char *argv[] = {"true", NULL};
		struct agent_exec x = {
		    .argv = argv, .in_fd = -1, .out_fd = sink, .err_fd = sink, .resize_fd = -1};
		int rc = agent_exec(sv[1], &x, err, sizeof(err));
		if (rc > 255) abort();
		break;
	}
	case 1: agent_pull(sv[1], "/etc/hostname", sink, &bytes, err, sizeof(err)); break;
	default: agent_request(sv[1], AGENT_INFO, NULL, 0, reply, sizeof(reply), err, sizeof(err)); break;
	}
	close(sink);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
