/*
 * test_websocket.c — the server side of WebSockets (http/websocket.h): the
 * handshake's accept value (RFC 6455's own example), and the relay driven by
 * frames written here byte by byte: masked client messages reach the peer,
 * the peer's bytes come back as binary messages, a close is answered, and
 * hostile frames (unmasked, oversized, garbage) end the relay without harm.
 */
#define _GNU_SOURCE
#include "check.h"
#include "http/websocket.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_accept_value(void)
{
	char out[WS_ACCEPT_LEN + 1];
	CHECK(ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", out)); /* RFC 6455 section 1.3 */
	CHECK(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	CHECK(!ws_accept_value("", out));
	CHECK(!ws_accept_value("dGhlIHNhbXBsZSBub25jZQ=", out));   /* 23 characters */
	CHECK(!ws_accept_value("dGhlIHNhbXBsZSBub25jZQ===", out)); /* 25 */
	CHECK(!ws_accept_value("!!!!!!!!!!!!!!!!!!!!!!==", out));  /* not base64 */
	CHECK(!ws_accept_value("dGhlIHNhbXBsZSBub25jZQAA", out));  /* 18 bytes, not 16 */
}

struct relay_run {
	int ws, peer;
	pthread_t t;
};

static void *relay_thread(void *arg)
{
	struct relay_run *r = arg;
	ws_relay(r->ws, r->peer, NULL, 0);
	return NULL;
}

/* A relay between two socket pairs: *client is the browser's end, *peer the console's. */
static void start(struct relay_run *r, int *client, int *peer)
{
	int a[2], b[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, a);
	socketpair(AF_UNIX, SOCK_STREAM, 0, b);
	r->ws = a[0], *client = a[1], r->peer = b[0], *peer = b[1];
	pthread_create(&r->t, NULL, relay_thread, r);
}

static void finish(struct relay_run *r, int client, int peer)
{
	pthread_join(r->t, NULL);
	close(r->ws), close(r->peer), close(client), close(peer);
}

/* A client frame (masked, as clients must) of one opcode. */
static size_t client_frame(uint8_t *out, uint8_t opcode, const void *payload, size_t len, bool masked)
{
	static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	size_t n = 0;
	out[n++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[n++] = (uint8_t)((masked ? 0x80 : 0) | len);
	} else {
		out[n++] = (uint8_t)((masked ? 0x80 : 0) | 126);
		out[n++] = (uint8_t)(len >> 8), out[n++] = (uint8_t)len;
	}
	if (masked) memcpy(out + n, mask, 4), n += 4;
	for (size_t i = 0; i < len; i++)
		out[n + i] = ((const uint8_t *)payload)[i] ^ (masked ? mask[i % 4] : 0);
	return n + len;
}

static ssize_t read_timeout(int fd, void *buf, size_t len)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, 5000) <= 0) return -1;
	return read(fd, buf, len);
}

/* Exactly len bytes (frames may arrive in pieces); fewer when the other side ended or went quiet. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read_timeout(fd, buf + got, len - got);
		if (n <= 0) break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void test_relay_both_ways_and_close(void)
{
	struct relay_run r;
	int client, peer;
	start(&r, &client, &peer);
	uint8_t frame[256], buf[256];
	size_t n = client_frame(frame, 0x2, "ls -l\r", 6, true);
	CHECK_EQ(write(client, frame, n), n);
	CHECK_EQ(read_timeout(peer, buf, sizeof(buf)), 6);
	CHECK(!memcmp(buf, "ls -l\r", 6));
	n = client_frame(frame, 0x1, "text too", 8,
	                 true); /* text messages are bytes for the console as well */
	CHECK_EQ(write(client, frame, n), n);
	CHECK_EQ(read_timeout(peer, buf, sizeof(buf)), 8);
	CHECK_EQ(write(peer, "guest# ", 7), 7);
	ssize_t got = read_full(client, buf, 9);
	CHECK_EQ(got, 9); /* 0x82, length 7, unmasked: a server never masks */
	CHECK_EQ(buf[0], 0x82);
	CHECK_EQ(buf[1], 7);
	CHECK(!memcmp(buf + 2, "guest# ", 7));
	n = client_frame(frame, 0x9, "hi", 2, true); /* a ping gets its pong */
	CHECK_EQ(write(client, frame, n), n);
	got = read_full(client, buf, 4);
	CHECK_EQ(got, 4);
	CHECK_EQ(buf[0], 0x8a);
	uint8_t code[2] = {0x03, 0xe8}; /* 1000: normal closure */
	n = client_frame(frame, 0x8, code, 2, true);
	CHECK_EQ(write(client, frame, n), n);
	got = read_full(client, buf, 2);
	CHECK(got == 2 && buf[0] == 0x88); /* the close is answered, then the relay ends */
	finish(&r, client, peer);
}

static void test_peer_end_closes_the_websocket(void)
{
	struct relay_run r;
	int client, peer;
	start(&r, &client, &peer);
	shutdown(peer, SHUT_WR);
	uint8_t buf[64];
	ssize_t got = read_full(client, buf, 4);
	CHECK(got == 4 && buf[0] == 0x88 && buf[2] == 0x03 && buf[3] == 0xe8); /* close, 1000 */
	uint8_t frame[16], code[2] = {0x03, 0xe8};
	size_t n = client_frame(frame, 0x8, code, 2, true);
	CHECK_EQ(write(client, frame, n), n);
	finish(&r, client, peer);
}

/* What a hostile or broken client may send: each ends the relay (a close with an error, or just the end);
 * nothing reaches the peer. */
static void test_hostile_frames(void)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} cases[] = {
	    {"unmasked", {0x82, 0x03, 'a', 'b', 'c'}, 5},
	    {"reserved bits", {0xf2, 0x80, 0, 0, 0, 0}, 6},
	    {"unknown opcode", {0x83, 0x80, 0, 0, 0, 0}, 6},
	    {"a 2 GiB message", {0x82, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0, 1, 2, 3, 4}, 14},
	    {"a fragmented ping", {0x09, 0x80, 0, 0, 0, 0}, 6},
	    {"a ping longer than 125", {0x89, 0xfe, 0x01, 0x00, 1, 2, 3, 4}, 8},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned failures = check_failures;
		struct relay_run r;
		int client, peer;
		start(&r, &client, &peer);
		CHECK_EQ(write(client, cases[i].bytes, cases[i].len), cases[i].len);
		shutdown(client, SHUT_WR); /* and then nothing more: the relay must end on its own */
		pthread_join(r.t,
		             NULL); /* a relay that does not end hangs here: the test's timeout fails it */
		shutdown(r.ws, SHUT_RDWR);
		uint8_t buf[64];
		while (read_timeout(client, buf, sizeof(buf)) >
		       0) { /* what it answered (a close, or nothing) */
		}
		struct pollfd p = {peer, POLLIN, 0};
		CHECK(poll(&p, 1, 0) == 0 || read(peer, buf, sizeof(buf)) <= 0);
		if (check_failures != failures) fprintf(stderr, "  case: %s\n", cases[i].what);
		close(r.ws), close(r.peer), close(client), close(peer);
	}
}

TEST_MAIN(test_accept_value, test_relay_both_ways_and_close, test_peer_end_closes_the_websocket,
          test_hostile_frames)
