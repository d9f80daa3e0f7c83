/*
 * net.c — virtio network device (virtio-net): one receive and one transmit
 * queue, MAC address, link status, mergeable receive buffers, checksum
 * offload in both directions, an MTU the backend chooses.
 *
 * The vCPU that notifies a queue only kicks this device's I/O thread (an
 * eventfd). The I/O thread runs the backend's poll loop, pops the frames the
 * guest queued (under the board's I/O lock), checks and completes them
 * (checksum offload) and hands them to the backend without the lock; frames
 * from the backend wait in a bounded backlog until the guest has posted
 * buffers and the rate limits allow, then are copied in under the lock.
 * While the backlog is full the backend stops reading its sources, so a
 * slow guest slows the host side down instead of losing frames.
 *
 * The guest is not trusted: a malformed frame (too short, too long, bad
 * offload request) is dropped and counted; only a broken ring puts the
 * device in DEVICE_NEEDS_RESET.
 */
#include "net.h"

#include "util/log.h"
#include "util/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define HDR_GSO_NONE 0
#define NET_HDR_LEN 12 /* virtio_net_hdr with num_buffers (always, for a version 1 device) */

#define RXQ 0
#define TXQ 1
#define NET_QUEUE_MAX 256
#define TXQ_MAX_FRAMES 256       /* frames popped from the guest and not yet sent, at most */
#define TXQ_MAX_BYTES (1u << 20) /* ... and bytes, without limits; with them, 50 ms worth */
#define BACKLOG_MAX_FRAMES 1024  /* frames waiting for the guest, at most */
#define BACKLOG_MAX_BYTES (8u << 20)
#define BACKLOG_BLOCK_FRAMES 64 /* above this, the backend stops reading */

struct net_frame {
	struct net_frame *next;
	size_t len;
	uint8_t data[];
};

static bool negotiated(const struct virtio_net *n, unsigned bit)
{
	return (n->transport.driver_features >> bit) & 1;
}

/* The Internet checksum (RFC 1071) of buf, folded and complemented. */
static uint16_t inet_checksum(const uint8_t *buf, size_t len)
{
	uint64_t sum = 0;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t w;
		memcpy(&w, buf + i, 2);
		sum += w;
	}
	if (i < len) sum += buf[i]; /* little-endian host: the odd byte is the low half of its word */
	while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Receive side. */

/* Copies header + frame into receive buffers (several with mergeable buffers). 1: delivered, 0: no room
 * yet, -1: dropped. Caller holds io_lock. */
static int deliver(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	struct virtio_mmio *t = &n->transport;
	struct virtq *q = &t->queues[RXQ];
	if (t->frozen) return 0; /* paused for a snapshot: the frame waits */
	if (!(t->status & VIRTIO_STATUS_DRIVER_OK) || (t->status & VIRTIO_STATUS_NEEDS_RESET) || !q->ready)
		return -1;
	bool mergeable = negotiated(n, VIRTIO_NET_F_MRG_RXBUF);
	uint8_t hdr[NET_HDR_LEN] = {0};
	if (negotiated(n, VIRTIO_NET_F_GUEST_CSUM)) hdr[0] = HDR_F_DATA_VALID;
	size_t total = NET_HDR_LEN + len, done = 0;
	uint16_t nbuf = 0;
	uint8_t *numbuf_lo = NULL, *numbuf_hi = NULL;
	static __thread uint16_t heads[VIRTQ_MAX_SIZE];
	static __thread uint32_t lens[VIRTQ_MAX_SIZE];
	while (done < total && (mergeable || nbuf == 0)) {
		const char *why;
		enum virtq_pop_result res = virtq_pop(q, &t->ram, &n->chain, &why);
		if (res == VIRTQ_BROKEN) {
			virtio_device_broken(t, why);
			return -1;
		}
		if (res == VIRTQ_EMPTY) {
			virtq_unpop(q, &t->ram, nbuf);
			return 0;
		}
		uint32_t w = 0;
		for (unsigned s = 0; s < n->chain.nsegs && done < total; s++) {
			const struct virtq_seg *sg = &n->chain.segs[s];
			if (!sg->device_writes) continue;
			uint8_t *dst = sg->host;
			uint32_t room = sg->len;
			while (room && done < total) {
				size_t chunk;
				if (done < NET_HDR_LEN) {
					chunk = NET_HDR_LEN - done < room ? NET_HDR_LEN - done : room;
					for (size_t i = 0; i < chunk; i++) {
						if (done + i == 10) numbuf_lo = dst + i;
						if (done + i == 11) numbuf_hi = dst + i;
					}
					memcpy(dst, hdr + done, chunk);
				} else {
					chunk = total - done < room ? total - done : room;
					memcpy(dst, frame + (done - NET_HDR_LEN), chunk);
				}
				guest_ram_dirty(&t->ram, dst, chunk);
				dst += chunk;
				room -= (uint32_t)chunk;
				done += chunk;
				w += (uint32_t)chunk;
			}
		}
		if (w == 0) {
			virtio_device_broken(t, "receive buffer without writable space");
			return -1;
		}
		heads[nbuf] = n->chain.head;
		lens[nbuf] = w;
		nbuf++;
	}
	if (done < total) { /* one buffer per frame and this one is too small: keep the buffer */
		virtq_unpop(q, &t->ram, nbuf);
		return -1;
	}
	*numbuf_lo = (uint8_t)nbuf;
	*numbuf_hi = (uint8_t)(nbuf >> 8);
	for (uint16_t i = 0; i < nbuf; i++) virtq_push(q, &t->ram, heads[i], lens[i]);
	return 1;
}

/* Frame queues: the receive backlog and the transmit queue. */

static struct net_frame *frame_new(size_t len)
{
	struct net_frame *f = malloc(sizeof(*f) + len);
	if (f) {
		f->next = NULL;
		f->len = len;
	}
	return f;
}

static void fq_push(struct net_frame_queue *q, struct net_frame *f)
{
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	q->count++;
	q->bytes += f->len;
}

static struct net_frame *fq_pop(struct net_frame_queue *q)
{
	struct net_frame *f = q->head;
	q->head = f->next;
	if (!q->head) q->tail = NULL;
	q->count--;
	q->bytes -= f->len;
	return f;
}

static void fq_clear(struct net_frame_queue *q)
{
	while (q->head) free(fq_pop(q));
}

/* Takes tokens for a frame; when the limits say wait, sets *next_ns. */
static void charge(struct virtio_net *n, struct token_bucket *bw, struct token_bucket *pps, size_t len,
                   uint64_t now, uint64_t *next_ns)
{
	uint64_t a = token_bucket_take(bw, (double)len, now), b = token_bucket_take(pps, 1, now);
	uint64_t wait = a > b ? a : b;
	if (wait) {
		*next_ns = now + wait;
		n->stats.throttled_ns += wait;
	}
}

/* Delivers waiting frames while there is room and the limits allow. */
static void flush_rx(struct virtio_net *n)
{
	if (!n->backlog.head) return;
	uint64_t now = monotonic_ns();
	if (now < n->rx_next_ns) return;
	bool pushed = false;
	pthread_mutex_lock(n->io_lock);
	while (n->backlog.head && now >= n->rx_next_ns) {
		struct net_frame *f = n->backlog.head;
		int r = deliver(n, f->data, f->len);
		if (r == 0) {
			n->rx_wanted = true;
			break;
		}
		if (r > 0) {
			pushed = true;
			n->stats.rx_frames++;
			n->stats.rx_bytes += f->len;
			pcap_write(n->pcap, f->data, f->len);
			charge(n, &n->rx_bw, &n->rx_pps, f->len, now, &n->rx_next_ns);
		} else {
			n->stats.rx_dropped++;
		}
		free(fq_pop(&n->backlog));
	}
	if (!n->backlog.head) n->rx_wanted = false;
	if (pushed) virtio_notify_used(&n->transport, RXQ);
	pthread_mutex_unlock(n->io_lock);
}

static void backend_rx(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	struct net_frame *f = NULL;
	if (len >= NET_ETH_HLEN && len <= NET_MAX_FRAME && n->backlog.count < BACKLOG_MAX_FRAMES &&
	    n->backlog.bytes + len <= BACKLOG_MAX_BYTES)
		f = frame_new(len);
	if (!f) {
		n->stats.rx_dropped++;
		return;
	}
	memcpy(f->data, frame, len);
	fq_push(&n->backlog, f);
}

void virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	backend_rx(n, frame, len);
	flush_rx(n);
}

/* Transmit side. */

/* Checks one frame the guest queued and completes its checksum; false if we do not accept it. */
static bool check_tx_frame(struct virtio_net *n, const uint8_t *hdr, uint8_t *frame, size_t len)
{
	if (len < NET_ETH_HLEN || len > (size_t)n->mtu + NET_ETH_HLEN + 4) return false;
	if (hdr[1] != HDR_GSO_NONE) return false; /* no segmentation offload offered */
	if (hdr[0] & HDR_F_NEEDS_CSUM) {
		if (!negotiated(n, VIRTIO_NET_F_CSUM)) return false;
		uint16_t start, off;
		memcpy(&start, hdr + 6, 2);
		memcpy(&off, hdr + 8, 2);
		if ((size_t)start + off + 2 > len) return false;
		uint16_t sum = inet_checksum(frame + start, len - start);
		if (sum == 0 && off == 6) sum = 0xffff; /* UDP: zero means "no checksum" */
		memcpy(frame + start + off, &sum, 2);
	}
	return true;
}

/* Moves what the guest queued into the transmit queue, up to its limit. The chains go back to the
 * guest at once: its TCP sees completions (and keeps sending) while the limits pace the wire. */
static void pop_tx(struct virtio_net *n)
{
	struct virtio_mmio *t = &n->transport;
	struct virtq *q = &t->queues[TXQ];
	bool pushed = false;
	pthread_mutex_lock(n->io_lock);
	while (!t->frozen && (t->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(t->status & VIRTIO_STATUS_NEEDS_RESET) && q->ready && n->txq.count < TXQ_MAX_FRAMES &&
	       n->txq.bytes < n->txq_max_bytes) {
		const char *why;
		enum virtq_pop_result res = virtq_pop(q, &t->ram, &n->chain, &why);
		if (res == VIRTQ_BROKEN) {
			virtio_device_broken(t, why);
			break;
		}
		if (res == VIRTQ_EMPTY) break;
		const struct virtq_chain *c = &n->chain;
		virtq_push(q, &t->ram, c->head, 0);
		pushed = true;
		struct net_frame *f = NULL;
		if (c->out_bytes >= NET_HDR_LEN + NET_ETH_HLEN && c->out_bytes <= NET_HDR_LEN + NET_MAX_FRAME)
			f = frame_new(c->out_bytes - NET_HDR_LEN);
		if (!f) {
			n->stats.tx_malformed++;
			continue;
		}
		uint8_t hdr[NET_HDR_LEN];
		size_t got = 0;
		for (unsigned s = 0; s < c->nsegs && !c->segs[s].device_writes; s++) {
			const uint8_t *src = c->segs[s].host;
			size_t len = c->segs[s].len;
			if (got < NET_HDR_LEN) {
				size_t h = NET_HDR_LEN - got < len ? NET_HDR_LEN - got : len;
				memcpy(hdr + got, src, h);
				got += h, src += h, len -= h;
			}
			if (len) memcpy(f->data + (got - NET_HDR_LEN), src, len);
			got += len;
		}
		if (!check_tx_frame(n, hdr, f->data, f->len)) {
			n->stats.tx_malformed++;
			free(f);
			continue;
		}
		fq_push(&n->txq, f);
	}
	if (pushed) virtio_notify_used(t, TXQ);
	pthread_mutex_unlock(n->io_lock);
}

/* Hands queued frames to the backend while the limits allow. */
static void drain_tx(struct virtio_net *n)
{
	uint64_t now = monotonic_ns();
	while (n->txq.head && now >= n->tx_next_ns) {
		struct net_frame *f = fq_pop(&n->txq);
		pcap_write(n->pcap, f->data, f->len);
		n->stats.tx_frames++;
		n->stats.tx_bytes += f->len;
		if (!n->backend->ops->send(n->backend, f->data, f->len)) n->stats.tx_dropped++;
		charge(n, &n->tx_bw, &n->tx_pps, f->len, now, &n->tx_next_ns);
		free(f);
	}
}

void virtio_net_process_tx(struct virtio_net *n)
{
	pop_tx(n);
	drain_tx(n);
	if (!n->txq.head) pop_tx(n); /* room again: what the guest queued meanwhile */
	drain_tx(n);
}

/* The I/O thread. */

static void kick(struct virtio_net *n)
{
	if (atomic_exchange(&n->kick_pending, true))
		return; /* the thread has yet to look: it will see this too */
	uint64_t one = 1;
	ssize_t r = write(n->kick_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, the thread will wake */
}

/* Fills the buckets for new limits (I/O thread, or before it runs). */
static void apply_limits(struct virtio_net *n, const struct net_limits *limits)
{
	uint64_t t = monotonic_ns();
	/* A bandwidth bucket holds 1/10 s of traffic (at least 64 KiB): short bursts, steady averages. */
	double rx_rate = (double)limits->rx_bps / 8, tx_rate = (double)limits->tx_bps / 8;
	double rx_burst = limits->burst ? (double)limits->burst : rx_rate / 10 > 65536 ? rx_rate / 10 : 65536;
	double tx_burst = limits->burst ? (double)limits->burst : tx_rate / 10 > 65536 ? tx_rate / 10 : 65536;
	token_bucket_init(&n->rx_bw, rx_rate, rx_burst, t);
	token_bucket_init(&n->tx_bw, tx_rate, tx_burst, t);
	token_bucket_init(&n->rx_pps, (double)limits->rx_pps, 0, t);
	token_bucket_init(&n->tx_pps, (double)limits->tx_pps, 0, t);
	n->rx_next_ns = n->tx_next_ns = 0;
	n->txq_max_bytes = TXQ_MAX_BYTES;
	if (limits->tx_bps && tx_rate / 20 < TXQ_MAX_BYTES) /* queue at most 50 ms: TCP then sees the rate */
		n->txq_max_bytes = tx_rate / 10 > 65536 ? (size_t)(tx_rate / 10) : 65536;
}

void virtio_net_set_limits(struct virtio_net *n, const struct net_limits *limits)
{
	pthread_mutex_lock(&n->limits_lock);
	n->new_limits = *limits;
	n->limits = *limits;
	atomic_store(&n->limits_pending, true);
	pthread_mutex_unlock(&n->limits_lock);
	kick(n);
}

struct net_limits virtio_net_limits(struct virtio_net *n)
{
	pthread_mutex_lock(&n->limits_lock);
	struct net_limits l = n->limits;
	pthread_mutex_unlock(&n->limits_lock);
	return l;
}

static int ms_until(uint64_t deadline, uint64_t now)
{
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > 1000 ? 1000 : (int)ms;
}

static void *io_thread(void *arg)
{
	struct virtio_net *n = arg;
	static __thread struct net_pollset ps;
	while (!atomic_load(&n->stopping)) {
		uint64_t now = monotonic_ns();
		int timeout = -1;
		ps.n = 0;
		net_pollset_add(&ps, n->kick_fd, POLLIN);
		if (n->rx_next_ns > now)
			timeout = ms_until(n->rx_next_ns, now); /* then the backend reads again */
		if (n->tx_next_ns > now) {
			int t = ms_until(n->tx_next_ns, now);
			if (timeout < 0 || t < timeout) timeout = t;
		}
		n->backend->rx_blocked = n->backlog.count >= BACKLOG_BLOCK_FRAMES || n->rx_next_ns > now;
		n->backend->ops->poll_fill(n->backend, &ps, &timeout);
		if (timeout < 0 || timeout > 500) timeout = 500; /* notice `stopping` */
		int r = poll(ps.fds, ps.n, timeout);
		if (r < 0) {
			if (errno == EINTR) continue;
			for (unsigned i = 0; i < ps.n; i++) ps.fds[i].revents = 0;
		}
		if (ps.fds[0].revents & POLLIN) {
			uint64_t v;
			ssize_t rd = read(n->kick_fd, &v, sizeof(v));
			(void)rd;
		}
		atomic_store(&n->kick_pending,
		             false); /* before looking at the queues: later notifies kick again */
		n->backend->ops->poll_done(n->backend, &ps);
		if (atomic_exchange(&n->limits_pending, false)) {
			pthread_mutex_lock(&n->limits_lock);
			struct net_limits l = n->new_limits;
			pthread_mutex_unlock(&n->limits_lock);
			apply_limits(n, &l);
		}
		virtio_net_process_tx(n);
		flush_rx(n);
		pcap_flush(n->pcap);
	}
	return NULL;
}

/* Device callbacks (vCPU threads, io_lock held). */

static void net_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_net *n = t->dev;
	if (qi == TXQ || (qi == RXQ && n->rx_wanted)) kick(n);
}

static uint64_t net_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	struct virtio_net *n = t->dev;
	uint8_t cfg[12] = {0};
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = n->mtu;
	memcpy(cfg, n->mac, 6);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &mtu, 2);
	uint64_t v = 0;
	if (off + size <= sizeof(cfg)) memcpy(&v, cfg + off, size);
	return v;
}

/* After a pause or a restore: the I/O thread looks at both queues (kicks may have been coalesced away). */
static void net_resume(struct virtio_mmio *t)
{
	kick(t->dev);
}

static void net_reset(struct virtio_mmio *t)
{
	struct virtio_net *n = t->dev;
	n->rx_wanted = false;
}

/* The MTU the guest was offered (its MAC may change: a clone gets a new one, announced by the new
 * configuration). */
static void net_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_net *n = t->dev;
	state_put_u16(w, n->mtu);
}

static void net_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_net *n = t->dev;
	uint16_t mtu = state_get_u16(r);
	if (!r->failed && mtu != n->mtu)
		state_fail(r, "virtio-net: the saved interface has MTU %u, this one %u", mtu, n->mtu);
}

struct virtio_net *virtio_net_create(struct net_backend *backend, const uint8_t mac[6],
                                     const struct net_limits *limits, struct pcap_writer *pcap,
                                     const struct guest_ram *ram, pthread_mutex_t *io_lock, char *err,
                                     size_t errlen)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->kick_fd < 0) {
		snprintf(err, errlen, "virtio-net: eventfd: %s", strerror(errno));
		free(n);
		return NULL;
	}
	n->backend = backend;
	n->pcap = pcap;
	n->io_lock = io_lock;
	memcpy(n->mac, mac, 6);
	memcpy(backend->mac, mac, 6);
	n->mtu = (uint16_t)backend->mtu;
	backend->rx = backend_rx;
	backend->rx_opaque = n;

	pthread_mutex_init(&n->limits_lock, NULL);
	n->limits = *limits;
	apply_limits(n, limits);

	n->ops = (struct virtio_device_ops){
	    .save = net_save,
	    .load = net_load,
	    .device_id = VIRTIO_ID_NET,
	    .features = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
	                (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
	                (1ULL << VIRTIO_NET_F_STATUS) | (n->mtu != 1500 ? 1ULL << VIRTIO_NET_F_MTU : 0),
	    .num_queues = 2,
	    .queue_max = NET_QUEUE_MAX,
	    .notify = net_notify,
	    .config_size = 12,
	    .config_read = net_config_read,
	    .reset = net_reset,
	    .resume = net_resume,
	};
	virtio_mmio_init(&n->transport, &n->ops, n, ram, NULL, NULL, "virtio-net");
	return n;
}

bool virtio_net_start(struct virtio_net *n, char *err, size_t errlen)
{
	if (pthread_create(&n->thread, NULL, io_thread, n) != 0) {
		snprintf(err, errlen, "cannot start the network I/O thread");
		return false;
	}
	n->started = true;
	return true;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n) return;
	if (n->started) {
		atomic_store(&n->stopping, true);
		kick(n);
		pthread_join(n->thread, NULL);
	}
	fq_clear(&n->backlog);
	fq_clear(&n->txq);
	n->backend->ops->destroy(n->backend);
	pcap_close(n->pcap);
	close(n->kick_fd);
	free(n);
}
