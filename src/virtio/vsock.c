/*
 * vsock.c — see vsock.h. Queues: 0 receive (host to guest), 1 transmit
 * (guest to host), 2 events. All connection state is guarded by the board's
 * I/O lock; the I/O thread waits in poll() on the host sockets and an eventfd
 * the queues' notifications write, then runs virtio_vsock_service().
 *
 * Flow control is the protocol's credit: each side announces how much it can
 * buffer (buf_alloc) and how much it has consumed (fwd_cnt); a sender keeps
 * what is in flight within the peer's buf_alloc. We read a host socket only
 * as far as the guest's credit and a receive buffer allow, and buffer at most
 * VSOCK_BUF_ALLOC of guest data per connection on its way to the host.
 */
#define _GNU_SOURCE
#include "vsock.h"

#include "util/clock.h"
#include "util/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VIRTIO_ID_VSOCK 19
#define RXQ 0
#define TXQ 1
#define EVQ 2
#define HDR_SIZE 44
#define MAX_PAYLOAD (64u << 10) /* Linux's largest packet; more is a broken guest */
#define CONNECT_TIMEOUT_NS (10ull * 1000000000ull)
#define LINE_MAX_LEN 32 /* "CONNECT 4294967295\n" */
#define FIRST_HOST_PORT (1u << 30)

enum { TYPE_STREAM = 1 };
enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };
enum { SHUT_RCV_FLAG = 1, SHUT_SEND_FLAG = 2 };

enum conn_state {
	CONN_FREE,
	CONN_LINE,        /* host program connected; reading its CONNECT line */
	CONN_CONNECTING,  /* REQUEST sent (or owed) to the guest; waiting for RESPONSE */
	CONN_ESTABLISHED, /* data flows */
	CONN_CLOSING,     /* the guest shut both ways: flush to the host, then reset */
};

/* Control packets a connection owes the guest, sent before its data. */
enum { OWE_REQUEST = 1, OWE_RESPONSE = 2, OWE_CREDIT = 4, OWE_SHUTDOWN = 8, OWE_RST = 16 };

struct vsock_conn {
	enum conn_state state;
	int fd;
	uint32_t host_port, guest_port;
	unsigned owe;
	uint64_t deadline_ns; /* CONN_CONNECTING: give up then */
	/* Credit: the guest's buffer and what it consumed; what we sent it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* Our side: bytes written to the host program, and what we last told the guest. */
	uint32_t fwd_cnt, fwd_announced;
	bool host_eof;   /* the host program will send nothing more */
	bool guest_done; /* the guest will send nothing more (SHUTDOWN SEND) */
	uint8_t *buf;    /* guest data on its way to the host program: [off, len) */
	uint32_t off, len;
	uint32_t own; /* bytes at the front of the buffer that are ours ("OK PORT\n"), not the guest's */
	char line[LINE_MAX_LEN];
	unsigned line_len;
};

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static void hdr_encode(const struct vsock_hdr *h, uint8_t *b)
{
	memcpy(b + 0, &h->src_cid, 8);
	memcpy(b + 8, &h->dst_cid, 8);
	memcpy(b + 16, &h->src_port, 4);
	memcpy(b + 20, &h->dst_port, 4);
	memcpy(b + 24, &h->len, 4);
	memcpy(b + 28, &h->type, 2);
	memcpy(b + 30, &h->op, 2);
	memcpy(b + 32, &h->flags, 4);
	memcpy(b + 36, &h->buf_alloc, 4);
	memcpy(b + 40, &h->fwd_cnt, 4);
}

static void hdr_decode(const uint8_t *b, struct vsock_hdr *h)
{
	memcpy(&h->src_cid, b + 0, 8);
	memcpy(&h->dst_cid, b + 8, 8);
	memcpy(&h->src_port, b + 16, 4);
	memcpy(&h->dst_port, b + 20, 4);
	memcpy(&h->len, b + 24, 4);
	memcpy(&h->type, b + 28, 2);
	memcpy(&h->op, b + 30, 2);
	memcpy(&h->flags, b + 32, 4);
	memcpy(&h->buf_alloc, b + 36, 4);
	memcpy(&h->fwd_cnt, b + 40, 4);
}

static bool queues_usable(const struct virtio_vsock *v)
{
	const struct virtio_mmio *t = &v->transport;
	return !t->frozen && (t->status & VIRTIO_STATUS_DRIVER_OK);
}

static void kick(struct virtio_vsock *v)
{
	uint64_t one = 1;
	ssize_t r = write(v->kick_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: already non-zero, the thread wakes anyway */
}

/* ---- connections ---- */

static void conn_free(struct virtio_vsock *v, struct vsock_conn *c)
{
	(void)v;
	if (c->fd >= 0) close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = CONN_FREE;
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != CONN_FREE) continue;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		v->stats.connections++;
		return c;
	}
	return NULL;
}

static struct vsock_conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state > CONN_LINE && c->host_port == host_port && c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static bool host_port_used(struct virtio_vsock *v, uint32_t port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state > CONN_LINE && v->conns[i].host_port == port) return true;
	return false;
}

static uint32_t new_host_port(struct virtio_vsock *v)
{
	for (;;) {
		uint32_t p = v->next_host_port++;
		if (v->next_host_port == 0) v->next_host_port = FIRST_HOST_PORT;
		if (p >= FIRST_HOST_PORT && !host_port_used(v, p)) return p;
	}
}

/* The connection ends: the guest is told with a reset (when it knows of it), the host program by the
 * socket closing. */
static void conn_reset(struct virtio_vsock *v, struct vsock_conn *c)
{
	v->stats.resets++;
	if (c->state == CONN_LINE || (c->state == CONN_CONNECTING && (c->owe & OWE_REQUEST))) {
		conn_free(v, c); /* the guest never heard of it */
		return;
	}
	if (c->fd >= 0) close(c->fd);
	c->fd = -1;
	c->owe = OWE_RST; /* nothing else matters any more; freed once the reset is delivered */
	c->state = CONN_CLOSING;
}

static void refuse(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port)
{
	v->stats.resets++;
	if (v->nrefuse < sizeof(v->refuse) / sizeof(v->refuse[0])) {
		v->refuse[v->nrefuse][0] = guest_port;
		v->refuse[v->nrefuse][1] = host_port;
		v->nrefuse++;
	} /* else dropped: a guest flooding us with stray packets gets no answer to some */
}

/* Free room in the guest's receive buffer for our data. */
static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Writes what waits for the host program; returns false when the program is gone. */
static bool flush_to_host(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (c->off < c->len && c->fd >= 0) {
		ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
		if (n <= 0) return false;
		c->off += (uint32_t)n;
		uint32_t ours = c->own < (uint32_t)n ? c->own : (uint32_t)n;
		c->own -= ours;
		c->fwd_cnt += (uint32_t)n - ours;
		v->stats.to_host_bytes += (uint64_t)n - ours;
	}
	if (c->off == c->len) c->off = c->len = 0;
	if (c->state == CONN_ESTABLISHED && c->fwd_cnt - c->fwd_announced >= VSOCK_BUF_ALLOC / 4)
		c->owe |= OWE_CREDIT;
	return true;
}

/* ---- guest to host ---- */

/* A connection the guest opens to host port `port`: the program listening on PATH_PORT. */
static int connect_host_program(struct virtio_vsock *v, uint32_t port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (!v->path[0] ||
	    (size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->path, port) >= sizeof(a.sun_path))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void guest_request(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	if (conn_find(v, h->dst_port, h->src_port)) { /* a second request on a live connection */
		refuse(v, h->src_port, h->dst_port);
		return;
	}
	int fd = connect_host_program(v, h->dst_port);
	struct vsock_conn *c = fd >= 0 ? conn_new(v, fd) : NULL;
	if (!c) {
		if (fd >= 0) close(fd);
		refuse(v, h->src_port, h->dst_port);
		return;
	}
	c->state = CONN_ESTABLISHED;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->owe = OWE_RESPONSE;
	if (!(c->buf = malloc(VSOCK_BUF_ALLOC))) {
		conn_free(v, c);
		refuse(v, h->src_port, h->dst_port);
	}
}

static void guest_data(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_chain *ch,
                       uint32_t len)
{
	if (c->state != CONN_ESTABLISHED || c->guest_done) {
		conn_reset(v, c);
		return;
	}
	if (c->len + len > VSOCK_BUF_ALLOC) { /* keep the buffer compact, then check the credit */
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len + len > VSOCK_BUF_ALLOC) { /* more than the credit we gave */
		v->stats.bad_packets++;
		conn_reset(v, c);
		return;
	}
	/* The payload follows the header in the driver's buffers, wherever the segments split. */
	uint32_t skip = HDR_SIZE, want = len;
	for (unsigned i = 0; i < ch->nsegs && want; i++) {
		const struct virtq_seg *s = &ch->segs[i];
		if (s->device_writes) continue;
		uint32_t from = skip < s->len ? skip : s->len;
		skip -= from;
		uint32_t n = s->len - from < want ? s->len - from : want;
		memcpy(c->buf + c->len, (uint8_t *)s->host + from, n);
		c->len += n;
		want -= n;
	}
	if (!flush_to_host(v, c)) conn_reset(v, c);
}

static void guest_shutdown(struct virtio_vsock *v, struct vsock_conn *c, uint32_t flags)
{
	if (flags & SHUT_SEND_FLAG) c->guest_done = true;
	if ((flags & (SHUT_SEND_FLAG | SHUT_RCV_FLAG)) == (SHUT_SEND_FLAG | SHUT_RCV_FLAG)) {
		c->state = CONN_CLOSING; /* flushed to the host program, then reset */
		c->owe &= ~(OWE_CREDIT | OWE_SHUTDOWN);
	} else if (c->guest_done && c->off == c->len && c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
	}
}

static void guest_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
	uint8_t raw[HDR_SIZE];
	uint32_t got = 0;
	for (unsigned i = 0; i < ch->nsegs && got < HDR_SIZE; i++) {
		if (ch->segs[i].device_writes) continue;
		uint32_t n = ch->segs[i].len < HDR_SIZE - got ? ch->segs[i].len : HDR_SIZE - got;
		memcpy(raw + got, ch->segs[i].host, n);
		got += n;
	}
	struct vsock_hdr h;
	if (got < HDR_SIZE) {
		v->stats.bad_packets++;
		return;
	}
	hdr_decode(raw, &h);
	if (h.src_cid != v->guest_cid || h.dst_cid != VSOCK_HOST_CID || h.type != TYPE_STREAM ||
	    h.len > MAX_PAYLOAD || h.len > ch->out_bytes - HDR_SIZE || (h.op != OP_RW && h.len)) {
		v->stats.bad_packets++;
		if (h.op != OP_RST) refuse(v, h.src_port, h.dst_port);
		return;
	}
	if (h.op == OP_REQUEST) {
		guest_request(v, &h);
		return;
	}
	struct vsock_conn *c = conn_find(v, h.dst_port, h.src_port);
	if (!c) {
		if (h.op != OP_RST) refuse(v, h.src_port, h.dst_port);
		return;
	}
	if (c->state == CONN_CLOSING) { /* going: only a reset from the guest changes anything */
		if (h.op == OP_RST) conn_free(v, c);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case OP_RESPONSE:
		if (c->state != CONN_CONNECTING || (c->owe & OWE_REQUEST)) {
			conn_reset(v, c);
			break;
		}
		c->state = CONN_ESTABLISHED;
		int n = snprintf((char *)c->buf, VSOCK_BUF_ALLOC, "OK %u\n", c->host_port);
		c->off = 0;
		c->len = c->own = (uint32_t)n; /* our own line, not guest data */
		if (!flush_to_host(v, c)) conn_reset(v, c);
		break;
	case OP_RST:
		if (c->fd >= 0 && c->state == CONN_ESTABLISHED) flush_to_host(v, c);
		conn_free(v, c);
		break;
	case OP_SHUTDOWN: guest_shutdown(v, c, h.flags); break;
	case OP_RW: guest_data(v, c, ch, h.len); break;
	case OP_CREDIT_UPDATE: break; /* the credit was read above */
	case OP_CREDIT_REQUEST: c->owe |= OWE_CREDIT; break;
	default: v->stats.bad_packets++; conn_reset(v, c);
	}
}

static void process_tx(struct virtio_vsock *v)
{
	struct virtio_mmio *t = &v->transport;
	struct virtq *q = &t->queues[TXQ];
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	while ((res = virtq_pop(q, &t->ram, &v->chain, &why)) == VIRTQ_GOT) {
		guest_packet(v, &v->chain);
		virtq_push(q, &t->ram, v->chain.head, 0);
		pushed = true;
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, TXQ);
}

/* ---- host to guest ---- */

/* Writes header + data into the receive chain; false when it does not fit. */
static bool fill_chain(struct virtio_vsock *v, const struct vsock_hdr *h, const uint8_t *data)
{
	struct virtio_mmio *t = &v->transport;
	if (v->chain.in_bytes < HDR_SIZE + (uint64_t)h->len) return false;
	uint8_t raw[HDR_SIZE];
	hdr_encode(h, raw);
	uint32_t done = 0, total = HDR_SIZE + h->len;
	for (unsigned i = 0; i < v->chain.nsegs && done < total; i++) {
		struct virtq_seg *s = &v->chain.segs[i];
		if (!s->device_writes) continue;
		uint32_t n = s->len < total - done ? s->len : total - done;
		for (uint32_t k = 0; k < n; k++) { /* header bytes, then data bytes */
			uint32_t at = done + k;
			((uint8_t *)s->host)[k] = at < HDR_SIZE ? raw[at] : data[at - HDR_SIZE];
		}
		guest_ram_dirty(&t->ram, s->host, n);
		done += n;
	}
	virtq_push(&t->queues[RXQ], &t->ram, v->chain.head, total);
	return true;
}

static struct vsock_hdr reply_hdr(const struct virtio_vsock *v, const struct vsock_conn *c, uint16_t op)
{
	return (struct vsock_hdr){.src_cid = VSOCK_HOST_CID,
	                          .dst_cid = v->guest_cid,
	                          .src_port = c->host_port,
	                          .dst_port = c->guest_port,
	                          .type = TYPE_STREAM,
	                          .op = op,
	                          .buf_alloc = VSOCK_BUF_ALLOC,
	                          .fwd_cnt = c->fwd_cnt};
}

/* Pops a receive buffer; false (and rx_starved) when the guest has none. */
static bool pop_rx(struct virtio_vsock *v, bool *broken)
{
	struct virtio_mmio *t = &v->transport;
	const char *why;
	enum virtq_pop_result res = virtq_pop(&t->queues[RXQ], &t->ram, &v->chain, &why);
	if (res == VIRTQ_BROKEN) {
		virtio_device_broken(t, why);
		*broken = true;
	}
	if (res != VIRTQ_GOT) v->rx_starved = true;
	return res == VIRTQ_GOT;
}

/* Sends one control packet the connection owes; false when no buffer was there. */
static bool send_owed(struct virtio_vsock *v, struct vsock_conn *c, bool *broken, bool *pushed)
{
	static const struct {
		unsigned bit;
		uint16_t op;
	} order[] = {{OWE_RST, OP_RST},
	             {OWE_REQUEST, OP_REQUEST},
	             {OWE_RESPONSE, OP_RESPONSE},
	             {OWE_CREDIT, OP_CREDIT_UPDATE},
	             {OWE_SHUTDOWN, OP_SHUTDOWN}};
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->owe & order[i].bit)) continue;
		if (!pop_rx(v, broken)) return false;
		struct vsock_hdr h = reply_hdr(v, c, order[i].op);
		if (order[i].op == OP_SHUTDOWN) h.flags = SHUT_SEND_FLAG;
		if (!fill_chain(v, &h, NULL)) { /* a buffer smaller than a header: the driver's problem */
			virtq_push(&v->transport.queues[RXQ], &v->transport.ram, v->chain.head, 0);
			v->stats.bad_packets++;
		}
		*pushed = true;
		c->owe &= ~order[i].bit;
		if (order[i].bit == OWE_CREDIT) c->fwd_announced = c->fwd_cnt;
		if (order[i].bit == OWE_RST) {
			conn_free(v, c);
			return true;
		}
	}
	return true;
}

/* Moves what the host program wrote into the guest, within its credit. */
static void send_data(struct virtio_vsock *v, struct vsock_conn *c, bool *broken, bool *pushed)
{
	static uint8_t data[MAX_PAYLOAD]; /* callers hold the I/O lock */
	while (c->state == CONN_ESTABLISHED && !c->host_eof && c->fd >= 0 && !c->owe) {
		uint32_t credit = peer_credit(c);
		if (!credit) return;
		if (!pop_rx(v, broken)) return;
		uint64_t room = v->chain.in_bytes > HDR_SIZE ? v->chain.in_bytes - HDR_SIZE : 0;
		uint32_t want = credit < MAX_PAYLOAD ? credit : MAX_PAYLOAD;
		if (room < want) want = (uint32_t)room;
		ssize_t n = want ? recv(c->fd, data, want, MSG_DONTWAIT) : -1;
		if (n < 0 && want && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			virtq_unpop(&v->transport.queues[RXQ], &v->transport.ram, 1);
			return;
		}
		if (n <= 0) {
			virtq_unpop(&v->transport.queues[RXQ], &v->transport.ram, 1);
			if (n == 0) {
				c->host_eof = true;
				c->owe |= OWE_SHUTDOWN;
			} else {
				conn_reset(v, c);
			}
			return;
		}
		struct vsock_hdr h = reply_hdr(v, c, OP_RW);
		h.len = (uint32_t)n;
		fill_chain(v, &h, data); /* fits: want was bounded by the room */
		c->tx_cnt += (uint32_t)n;
		c->fwd_announced = c->fwd_cnt;
		v->stats.to_guest_bytes += (uint64_t)n;
		*pushed = true;
	}
}

static void deliver(struct virtio_vsock *v)
{
	struct virtio_mmio *t = &v->transport;
	bool broken = false, pushed = false;
	v->rx_starved = false;
	while (v->nrefuse && !broken) {
		if (!pop_rx(v, &broken)) break;
		struct vsock_conn tmp = {.host_port = v->refuse[0][1], .guest_port = v->refuse[0][0]};
		struct vsock_hdr h = reply_hdr(v, &tmp, OP_RST);
		h.buf_alloc = h.fwd_cnt = 0;
		if (!fill_chain(v, &h, NULL)) virtq_push(&t->queues[RXQ], &t->ram, v->chain.head, 0);
		pushed = true;
		memmove(v->refuse[0], v->refuse[1], (--v->nrefuse) * sizeof(v->refuse[0]));
	}
	for (unsigned i = 0; i < VSOCK_MAX_CONNS && !broken && !v->rx_starved; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state == CONN_FREE || c->state == CONN_LINE) continue;
		if (v->reset_unacked && (c->owe & OWE_REQUEST)) continue; /* after the guest's reset */
		if (c->owe && !send_owed(v, c, &broken, &pushed)) break;
		if (c->state != CONN_ESTABLISHED) continue;
		send_data(v, c, &broken, &pushed);
		if (c->owe && !broken && !v->rx_starved)
			send_owed(v, c, &broken, &pushed); /* its end, a reset */
	}
	if (pushed) virtio_notify_used(t, RXQ);
}

static void announce_reset(struct virtio_vsock *v)
{
	struct virtio_mmio *t = &v->transport;
	const char *why;
	enum virtq_pop_result res = virtq_pop(&t->queues[EVQ], &t->ram, &v->chain, &why);
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (res != VIRTQ_GOT) return;
	uint32_t id = 0; /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	uint32_t written = 0;
	for (unsigned i = 0; i < v->chain.nsegs && !written; i++)
		if (v->chain.segs[i].device_writes && v->chain.segs[i].len >= 4) {
			memcpy(v->chain.segs[i].host, &id, 4);
			guest_ram_dirty(&t->ram, v->chain.segs[i].host, 4);
			written = 4;
		}
	virtq_push(&t->queues[EVQ], &t->ram, v->chain.head, written);
	virtio_notify_used(t, EVQ);
	v->announce_reset = false;
	/* Linux resets the sockets it has when it handles the event, silently: a connection it accepted
	 * just before would die unseen. It posts the event buffer again once it handled it (the queue's
	 * available index moves); host connections wait for that (or a deadline, for a driver that
	 * never does). */
	v->reset_unacked = true;
	v->reset_evq_avail = virtq_avail_idx(&t->queues[EVQ], &t->ram);
	v->reset_deadline_ns = monotonic_ns() + 2000000000ull;
}

static void check_reset_handled(struct virtio_vsock *v)
{
	struct virtio_mmio *t = &v->transport;
	if (v->reset_unacked && (virtq_avail_idx(&t->queues[EVQ], &t->ram) != v->reset_evq_avail ||
	                         monotonic_ns() > v->reset_deadline_ns))
		v->reset_unacked = false;
}

/* ---- host programs ---- */

static void accept_host(struct virtio_vsock *v)
{
	if (v->listen_fd < 0) return;
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) return;
		struct vsock_conn *c = conn_new(v, fd);
		if (!c) {
			static const char busy[] = "ERROR too many connections\n";
			ssize_t r = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)r;
			close(fd);
			continue;
		}
		c->state = CONN_LINE;
		c->deadline_ns = monotonic_ns() + CONNECT_TIMEOUT_NS;
	}
}

/* Reads the host program's "CONNECT PORT\n" byte by byte (nothing after it is consumed). */
static void read_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	for (;;) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
		if (n <= 0) {
			conn_free(v, c);
			return;
		}
		if (ch != '\n') {
			if (c->line_len + 1 >= sizeof(c->line)) break;
			c->line[c->line_len++] = ch;
			continue;
		}
		c->line[c->line_len] = 0;
		char *end;
		const char *p = c->line;
		if (strncmp(p, "CONNECT ", 8) || p[8] < '0' || p[8] > '9') break;
		unsigned long port = strtoul(p + 8, &end, 10);
		if ((*end && *end != '\r') || port > UINT32_MAX) break;
		if (!(v->transport.status & VIRTIO_STATUS_DRIVER_OK)) { /* nobody in the guest to ask (yet) */
			static const char none[] = "ERROR the guest has no vsock driver running\n";
			ssize_t r = send(c->fd, none, sizeof(none) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)r;
			conn_free(v, c);
			return;
		}
		if (!(c->buf = malloc(VSOCK_BUF_ALLOC))) break;
		c->guest_port = (uint32_t)port;
		c->host_port = new_host_port(v);
		c->state = CONN_CONNECTING;
		c->owe = OWE_REQUEST;
		return;
	}
	static const char bad[] = "ERROR expected CONNECT PORT\n";
	ssize_t r = send(c->fd, bad, sizeof(bad) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)r;
	conn_free(v, c);
}

static void service_host(struct virtio_vsock *v)
{
	uint64_t now = monotonic_ns();
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state == CONN_LINE) read_line(v, c);
		if ((c->state == CONN_LINE || c->state == CONN_CONNECTING) && now > c->deadline_ns) {
			static const char late[] = "ERROR the guest did not answer\n";
			ssize_t r = send(c->fd, late, sizeof(late) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)r;
			conn_reset(v, c);
			continue;
		}
		if (c->state == CONN_ESTABLISHED || c->state == CONN_CLOSING) {
			if (c->fd >= 0 && !flush_to_host(v, c)) {
				conn_reset(v, c);
				continue;
			}
			if (c->state == CONN_ESTABLISHED && c->guest_done && c->off == c->len && c->fd >= 0)
				shutdown(c->fd, SHUT_WR);
			if (c->state == CONN_CLOSING && c->off == c->len)
				c->owe |= OWE_RST; /* all delivered */
		}
	}
}

void virtio_vsock_service(struct virtio_vsock *v)
{
	if (v->drop_all) {
		for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
			if (v->conns[i].state != CONN_FREE) conn_free(v, &v->conns[i]);
		v->nrefuse = 0;
		v->drop_all = false;
	}
	bool usable = queues_usable(v);
	accept_host(v);
	if (usable) process_tx(v);
	service_host(v);
	if (!usable) return;
	if (v->announce_reset) announce_reset(v);
	check_reset_handled(v);
	deliver(v);
}

/* ---- the I/O thread ---- */

static void *io_thread(void *arg)
{
	struct virtio_vsock *v = arg;
	struct pollfd fds[2 + VSOCK_MAX_CONNS];
	while (!atomic_load(&v->stopping)) {
		unsigned n = 0;
		int timeout = 500; /* notice `stopping`, connection deadlines */
		fds[n++] = (struct pollfd){.fd = v->kick_fd, .events = POLLIN};
		pthread_mutex_lock(v->io_lock);
		bool usable = queues_usable(v);
		if (v->listen_fd >= 0) fds[n++] = (struct pollfd){.fd = v->listen_fd, .events = POLLIN};
		for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
			const struct vsock_conn *c = &v->conns[i];
			short ev = 0;
			if (c->fd < 0 || c->state == CONN_FREE) continue;
			if (c->state == CONN_LINE) ev |= POLLIN;
			if (c->off < c->len) ev |= POLLOUT;
			if (c->state == CONN_ESTABLISHED && usable && !v->rx_starved && !c->host_eof &&
			    !c->owe && peer_credit(c))
				ev |= POLLIN;
			if (ev) fds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		pthread_mutex_unlock(v->io_lock);
		if (poll(fds, n, timeout) < 0 && errno != EINTR) usleep(1000);
		if (fds[0].revents & POLLIN) {
			uint64_t val;
			ssize_t r = read(v->kick_fd, &val, sizeof(val));
			(void)r;
		}
		pthread_mutex_lock(v->io_lock);
		virtio_vsock_service(v);
		pthread_mutex_unlock(v->io_lock);
	}
	return NULL;
}

/* ---- device callbacks (vCPU threads, io_lock held) ---- */

static void vsock_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_vsock *v = t->dev;
	if (qi == TXQ || (qi == RXQ && v->rx_starved) ||
	    (qi == EVQ && (v->announce_reset || v->reset_unacked)))
		kick(v);
}

static uint64_t vsock_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	struct virtio_vsock *v = t->dev;
	uint64_t val = 0;
	uint8_t cfg[8];
	memcpy(cfg, &v->guest_cid, 8);
	if (off + size <= sizeof(cfg)) memcpy(&val, cfg + off, size);
	return val;
}

static void vsock_reset(struct virtio_mmio *t)
{
	struct virtio_vsock *v = t->dev;
	v->drop_all = true;
	v->rx_starved = false;
	kick(v);
}

static void vsock_resume(struct virtio_mmio *t)
{
	kick(t->dev);
}

static void vsock_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_vsock *v = t->dev;
	state_put_u64(w, v->guest_cid);
}

/* Host connections do not survive a snapshot: the guest hears that its transport was reset. */
static void vsock_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_vsock *v = t->dev;
	uint64_t cid = state_get_u64(r);
	if (!r->failed && cid != v->guest_cid)
		state_fail(r, "virtio-vsock: the saved device has CID %llu, this one %llu",
		           (unsigned long long)cid, (unsigned long long)v->guest_cid);
	v->drop_all = true;
	v->announce_reset = true;
}

static const struct virtio_device_ops vsock_ops = {
    .device_id = VIRTIO_ID_VSOCK,
    .num_queues = 3,
    .queue_max = 128,
    .notify = vsock_notify,
    .config_size = 8,
    .config_read = vsock_config_read,
    .reset = vsock_reset,
    .resume = vsock_resume,
    .save = vsock_save,
    .load = vsock_load,
};

struct virtio_vsock *virtio_vsock_create(uint64_t guest_cid, const char *path, const struct guest_ram *ram,
                                         pthread_mutex_t *io_lock, char *err, size_t errlen)
{
	if (guest_cid < 3 || guest_cid > UINT32_MAX - 1) {
		snprintf(err, errlen, "virtio-vsock: CID %llu is reserved (use 3 to 4294967294)",
		         (unsigned long long)guest_cid);
		return NULL;
	}
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	struct vsock_conn *conns = calloc(VSOCK_MAX_CONNS, sizeof(*conns));
	if (!v || !conns) {
		free(v);
		free(conns);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->conns = conns;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) conns[i].fd = -1;
	v->guest_cid = guest_cid;
	v->io_lock = io_lock;
	v->next_host_port = FIRST_HOST_PORT;
	v->listen_fd = -1;
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->kick_fd < 0) {
		snprintf(err, errlen, "virtio-vsock: eventfd: %s", strerror(errno));
		virtio_vsock_destroy(v);
		return NULL;
	}
	if (path && path[0]) {
		if (strlen(path) >=
		    sizeof(v->path)) { /* (PATH_PORT for guest connections is checked there) */
			snprintf(err, errlen, "virtio-vsock: socket path too long: %s", path);
			virtio_vsock_destroy(v);
			return NULL;
		}
		snprintf(v->path, sizeof(v->path), "%s", path);
		v->listen_fd = unix_listen(path, 0600, 16, SOCK_NONBLOCK, err, errlen);
		if (v->listen_fd < 0) {
			v->path[0] = 0;
			virtio_vsock_destroy(v);
			return NULL;
		}
		struct stat st;
		if (stat(path, &st) == 0) v->path_dev = st.st_dev, v->path_ino = st.st_ino;
	}
	virtio_mmio_init(&v->transport, &vsock_ops, v, ram, NULL, NULL, "virtio-vsock");
	return v;
}

bool virtio_vsock_start(struct virtio_vsock *v, char *err, size_t errlen)
{
	if (pthread_create(&v->thread, NULL, io_thread, v) != 0) {
		snprintf(err, errlen, "cannot start the vsock I/O thread");
		return false;
	}
	v->started = true;
	return true;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v) return;
	if (v->started) {
		atomic_store(&v->stopping, true);
		kick(v);
		pthread_join(v->thread, NULL);
	}
	for (unsigned i = 0; v->conns && i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != CONN_FREE) conn_free(v, &v->conns[i]);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		struct stat st; /* another VM process may have taken the path over since (a migration) */
		if (stat(v->path, &st) == 0 && st.st_dev == v->path_dev && st.st_ino == v->path_ino)
			unlink(v->path);
	}
	if (v->kick_fd >= 0) close(v->kick_fd);
	free(v->conns);
	free(v);
}
