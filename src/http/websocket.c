/*
 * websocket.c — see websocket.h.
 */
#define _GNU_SOURCE
#include "http/websocket.h"

#include "http/http.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define WS_MAX_MESSAGE (1u << 20)
#define WS_MAX_QUEUED (4u << 20)
/* Pings when the client is quiet: a browser answers them; and a client that vanished without a close is
 * found when the ping cannot reach it (libmicrohttpd's TLS forwarding says nothing until a send fails). */
#define WS_PING_S 5
#define WS_GONE_S 30

bool ws_accept_value(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	size_t n = strlen(key);
	if (n != 24) return false;
	gnutls_datum_t b64 = {(unsigned char *)key, (unsigned)n}, raw = {0};
	if (gnutls_base64_decode2(&b64, &raw) < 0) return false;
	bool sixteen = raw.size == 16;
	gnutls_free(raw.data);
	if (!sixteen) return false;
	char joined[24 + sizeof(guid)];
	memcpy(joined, key, 24);
	memcpy(joined + 24, guid, sizeof(guid));
	unsigned char sha1[20];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, joined, 24 + sizeof(guid) - 1, sha1)) return false;
	gnutls_datum_t digest = {sha1, sizeof(sha1)}, enc = {0};
	if (gnutls_base64_encode2(&digest, &enc) < 0) return false;
	bool ok = enc.size == WS_ACCEPT_LEN;
	if (ok) {
		memcpy(out, enc.data, WS_ACCEPT_LEN);
		out[WS_ACCEPT_LEN] = 0;
	}
	gnutls_free(enc.data);
	return ok;
}

struct relay {
	int ws, peer;
	uint64_t heard_ns; /* when the client last sent a frame */
	const unsigned char *pending;
	size_t pending_len;
	bool peer_gone;
};

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct relay *r = user;
	if (r->pending_len) {
		size_t n = len < r->pending_len ? len : r->pending_len;
		memcpy(buf, r->pending, n);
		r->pending += n;
		r->pending_len -= n;
		return (ssize_t)n;
	}
	ssize_t n;
	do n = read(r->ws, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	struct relay *r = user;
	ssize_t n;
	do n = send(r->ws, data, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
		                               ? WSLAY_ERR_WOULDBLOCK
		                               : WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1; /* a server never masks; wslay asks anyway */
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct relay *r = user;
	r->heard_ns = monotonic_ns(); /* pongs included: the client is there */
	if (m->opcode != WSLAY_TEXT_FRAME && m->opcode != WSLAY_BINARY_FRAME)
		return; /* wslay answers pings */
	if (!r->peer_gone && !http_write_all(r->peer, m->msg, m->msg_length)) r->peer_gone = true;
}

void ws_relay(int ws, int peer, const void *pending, size_t pending_len)
{
	struct relay r = {.ws = ws,
	                  .peer = peer,
	                  .pending = pending,
	                  .pending_len = pending_len,
	                  .heard_ns = monotonic_ns()};
	struct wslay_event_callbacks cb = {.recv_callback = on_recv,
	                                   .send_callback = on_send,
	                                   .genmask_callback = on_genmask,
	                                   .on_msg_recv_callback = on_message};
	wslay_event_context_ptr ctx;
	if (wslay_event_context_server_init(&ctx, &cb, &r)) return;
	wslay_event_config_set_max_recv_msg_length(ctx, WS_MAX_MESSAGE);
	int flags = fcntl(ws, F_GETFL);
	fcntl(ws, F_SETFL, flags | O_NONBLOCK);
	bool peer_open = true;
	unsigned char chunk[16384];
	if (pending_len && wslay_event_recv(ctx)) goto out;
	while (!r.peer_gone && (wslay_event_want_read(ctx) || wslay_event_want_write(ctx))) {
		size_t queued = wslay_event_get_queued_msg_length(ctx);
		if (queued > WS_MAX_QUEUED) break; /* a client that does not read */
		struct pollfd p[2] = {
		    {ws,
		     (short)((wslay_event_want_read(ctx) ? POLLIN : 0) |
		             (wslay_event_want_write(ctx) ? POLLOUT : 0)),
		     0},
		    {peer, (short)(peer_open && queued < WS_MAX_QUEUED / 4 ? POLLIN : 0), 0}};
		/* A ping when the client was quiet for WS_PING_S; gone after WS_GONE_S of silence (a
		 * half-open connection). A client that never answers our close gets 5 s. */
		int ready = poll(p, 2, peer_open ? WS_PING_S * 1000 : 5000);
		if (ready < 0 && errno == EINTR) continue;
		if (ready < 0 || (ready == 0 && !peer_open)) break;
		uint64_t quiet_ns = monotonic_ns() - r.heard_ns;
		if (quiet_ns > WS_GONE_S * 1000000000ull) break;
		if (ready == 0 && quiet_ns >= WS_PING_S * 1000000000ull) {
			struct wslay_event_msg ping = {WSLAY_PING, NULL, 0};
			wslay_event_queue_msg(ctx, &ping);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (wslay_event_recv(ctx)) break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(peer, chunk, sizeof(chunk));
			if (n > 0) {
				struct wslay_event_msg msg = {WSLAY_BINARY_FRAME, chunk, (size_t)n};
				if (wslay_event_queue_msg(ctx, &msg)) break;
			} else if (n == 0 || errno != EINTR) {
				peer_open = false; /* say goodbye properly, then end */
				wslay_event_queue_close(ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
			}
		}
		if (wslay_event_want_write(ctx) && wslay_event_send(ctx)) break;
	}
out:
	wslay_event_context_free(ctx);
}
