/*
 * fuzz_websocket.c — libFuzzer harness for the WebSocket relay
 * (http/websocket.h): arbitrary bytes as what a browser sent after the
 * handshake, half of them as the bytes MHD had already read (the relay's
 * `pending`), the rest through the socket, then the end of the stream. The
 * relay must end, write only to its peer what whole messages carried (never
 * more bytes than came in) and answer with well-formed server frames.
 */
#define _GNU_SOURCE
#include "http/websocket.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct feeder {
	int fd;
	const uint8_t *data;
	size_t len;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;
	while (off < f->len) {
		ssize_t n =
		    send(f->fd, f->data + off, f->len - off, MSG_NOSIGNAL); /* the relay may be gone */
		if (n <= 0) break;
		off += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	/* What the server answers, drained until it ends, walked frame by frame: no reserved bits, never
	 * masked (a server's frames), lengths that add up. */
	static uint8_t out[1 << 16];
	size_t got = 0;
	bool whole = true;
	ssize_t n;
	while ((n = read(f->fd, out + got, sizeof(out) - got)) > 0) {
		got += (size_t)n;
		if (got == sizeof(out)) got = 0, whole = false; /* more than a short input makes it say */
	}
	for (size_t at = 0; whole && at + 2 <= got;) {
		uint8_t b0 = out[at], b1 = out[at + 1];
		if ((b0 & 0x70) || (b1 & 0x80)) abort();
		uint64_t len = b1 & 0x7f;
		size_t head = 2;
		if (len == 126 && at + 4 <= got)
			len = (uint64_t)out[at + 2] << 8 | out[at + 3], head = 4;
		else if (len == 127)
			break; /* not for messages this small */
		at += head + len;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	signal(SIGPIPE, SIG_IGN);
	int client[2], peer[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, client)) return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, peer)) {
		close(client[0]), close(client[1]);
		return 0;
	}
	fcntl(peer[1], F_SETFL, O_NONBLOCK);
	int big = 1 << 22;
	setsockopt(peer[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	size_t pending = size / 2;
	struct feeder f = {client[1], data + pending, size - pending};
	pthread_t t;
	if (pthread_create(&t, NULL, feed, &f)) abort();
	ws_relay(client[0], peer[0], data, pending);
	shutdown(client[0], SHUT_RDWR); /* the feeder's read ends */
	pthread_join(t, NULL);
	uint8_t buf[65536];
	size_t relayed = 0;
	ssize_t n;
	while ((n = read(peer[1], buf, sizeof(buf))) > 0) relayed += (size_t)n;
	if (relayed > size) abort(); /* payloads are never larger than the frames that carried them */
	close(client[0]), close(client[1]), close(peer[0]), close(peer[1]);
	return 0;
}
