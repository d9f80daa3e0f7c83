/*
 * segment.c — LAN segments: a virtual Ethernet switch shared by every VM
 * process that names the same segment, with no switch process to manage.
 *
 * Each NIC on segment NAME binds a unix datagram socket in
 * RUN_DIR/segments/NAME/ (a directory only its owner can enter). A frame for
 * a learned unicast address goes to the one socket it was last seen coming
 * from; broadcast, multicast and unknown unicast go to every socket in the
 * directory (rescanned every second and whenever a peer is found gone).
 * Segments are isolated by construction: a NIC only ever sends into its own
 * segment's directory and only accepts frames from sockets in it.
 *
 * Unix datagram queues are short (net.unix.max_dgram_qlen, often 10), so a
 * unicast send waits a few milliseconds for room before dropping (the
 * backpressure TCP needs); flooded frames never wait.
 */
#include "netdev.h"

#include "util/fs.h"
#include "util/clock.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SEG_MAX_PEERS 64
#define SEG_MAX_MACS 256
#define SEG_RESCAN_MS 1000
#define SEG_NAME_LEN 32
#define SEG_RECV_BURST 64

struct seg_mac {
	uint8_t mac[6];
	char peer[SEG_NAME_LEN];
};

struct net_segment {
	struct net_backend b;
	int fd;
	char dir[PATH_MAX - 64];
	char self[SEG_NAME_LEN];
	char peers[SEG_MAX_PEERS][SEG_NAME_LEN];
	unsigned npeers;
	struct seg_mac macs[SEG_MAX_MACS];
	unsigned nmacs, next_mac;
	uint64_t next_scan_ms;
	int poll_idx;
	uint8_t *buf;
	char desc[96];
};

static bool peer_addr(const struct net_segment *s, const char *peer, struct sockaddr_un *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", s->dir, peer);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) return false;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return true;
}

static void rescan(struct net_segment *s)
{
	s->npeers = 0;
	s->next_scan_ms = monotonic_ns() / 1000000 + SEG_RESCAN_MS;
	DIR *d = opendir(s->dir);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d)) && s->npeers < SEG_MAX_PEERS) {
		if (e->d_type != DT_SOCK && e->d_type != DT_UNKNOWN) continue;
		if (e->d_name[0] == '.' || !strcmp(e->d_name, s->self) || strlen(e->d_name) >= SEG_NAME_LEN)
			continue;
		strcpy(s->peers[s->npeers++], e->d_name);
	}
	closedir(d);
}

static void forget_peer(struct net_segment *s, const char *peer, bool stale)
{
	for (unsigned i = 0; i < s->nmacs; i++)
		if (!strcmp(s->macs[i].peer, peer)) s->macs[i].peer[0] = 0;
	for (unsigned i = 0; i < s->npeers; i++) {
		if (strcmp(s->peers[i], peer)) continue;
		memmove(s->peers[i], s->peers[i + 1], (s->npeers - i - 1) * SEG_NAME_LEN);
		s->npeers--;
		break;
	}
	if (stale) { /* nobody listens there any more: a VM that died without cleaning up */
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", s->dir, peer);
		unlink(path);
	}
}

/* Sends to one peer; false if it was dropped. */
static bool send_to(struct net_segment *s, const char *peer, const uint8_t *frame, size_t len, bool wait)
{
	struct sockaddr_un sa;
	socklen_t salen;
	char name[SEG_NAME_LEN];
	if (!peer_addr(s, peer, &sa, &salen)) return false;
	if (sendto(s->fd, frame, len, wait ? 0 : MSG_DONTWAIT, (struct sockaddr *)&sa, salen) == (ssize_t)len)
		return true;
	int e = errno;
	if (e == ECONNREFUSED || e == ENOENT || e == ENOTSOCK) {
		strcpy(name, peer); /* `peer` may point into the table forget_peer edits */
		forget_peer(s, name, e == ECONNREFUSED);
	}
	return false;
}

static struct seg_mac *lookup(struct net_segment *s, const uint8_t *mac)
{
	for (unsigned i = 0; i < s->nmacs; i++)
		if (!memcmp(s->macs[i].mac, mac, 6) && s->macs[i].peer[0]) return &s->macs[i];
	return NULL;
}

static void learn(struct net_segment *s, const uint8_t *mac, const char *peer)
{
	if (mac[0] & 1) return; /* group addresses are never sources */
	for (unsigned i = 0; i < s->nmacs; i++) {
		if (memcmp(s->macs[i].mac, mac, 6)) continue;
		snprintf(s->macs[i].peer, SEG_NAME_LEN, "%s", peer); /* moved or came back */
		return;
	}
	unsigned i = s->nmacs < SEG_MAX_MACS ? s->nmacs++ : s->next_mac++ % SEG_MAX_MACS;
	memcpy(s->macs[i].mac, mac, 6);
	snprintf(s->macs[i].peer, SEG_NAME_LEN, "%s", peer);
}

static bool seg_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
	struct net_segment *s = (struct net_segment *)b;
	if (!(frame[0] & 1)) {
		struct seg_mac *m = lookup(s, frame);
		if (m) {
			char peer[SEG_NAME_LEN];
			strcpy(peer, m->peer);
			if (send_to(s, peer, frame, len, true)) return true;
			if (lookup(s, frame)) return false; /* still there, only full */
		}
	}
	if (monotonic_ns() / 1000000 >= s->next_scan_ms) rescan(s);
	bool any = false;
	for (unsigned i = 0; i < s->npeers;) {
		unsigned before = s->npeers;
		any |= send_to(s, s->peers[i], frame, len, false);
		if (s->npeers == before) i++; /* else peers[i] is now the next one */
	}
	return any || s->npeers == 0; /* nobody else on the segment: not a drop */
}

static void seg_poll_fill(struct net_backend *b, struct net_pollset *ps, int *timeout_ms)
{
	struct net_segment *s = (struct net_segment *)b;
	s->poll_idx = b->rx_blocked ? -1 : net_pollset_add(ps, s->fd, POLLIN);
	uint64_t now = monotonic_ns() / 1000000;
	int left = now >= s->next_scan_ms ? 0 : (int)(s->next_scan_ms - now);
	if (*timeout_ms < 0 || left < *timeout_ms) *timeout_ms = left;
}

static void seg_poll_done(struct net_backend *b, struct net_pollset *ps)
{
	struct net_segment *s = (struct net_segment *)b;
	if (monotonic_ns() / 1000000 >= s->next_scan_ms) rescan(s);
	if (s->poll_idx < 0 || !(ps->fds[s->poll_idx].revents & POLLIN)) return;
	for (int i = 0; i < SEG_RECV_BURST; i++) {
		struct sockaddr_un from;
		socklen_t fromlen = sizeof(from);
		ssize_t n =
		    recvfrom(s->fd, s->buf, NET_MAX_FRAME, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n < 0) break;
		/* Only frames from a socket in this segment's directory. */
		size_t dlen = strlen(s->dir);
		const char *path = from.sun_path;
		if (fromlen <= offsetof(struct sockaddr_un, sun_path) || strncmp(path, s->dir, dlen) ||
		    path[dlen] != '/' || strchr(path + dlen + 1, '/') ||
		    strlen(path + dlen + 1) >= SEG_NAME_LEN || n < NET_ETH_HLEN) {
			b->dropped++;
			continue;
		}
		learn(s, s->buf + 6, path + dlen + 1);
		b->rx(b->rx_opaque, s->buf, (size_t)n);
	}
}

static void seg_describe(struct net_backend *b, char *buf, size_t len)
{
	struct net_segment *s = (struct net_segment *)b;
	snprintf(buf, len, "%s (%u peers seen)", s->desc, s->npeers);
}

static void seg_destroy(struct net_backend *b)
{
	struct net_segment *s = (struct net_segment *)b;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", s->dir, s->self);
	unlink(path);
	rmdir(s->dir); /* fails while others are still on the segment: fine */
	close(s->fd);
	free(s->buf);
	free(s);
}

static const struct net_backend_ops segment_ops = {
    .kind = "segment",
    .poll_fill = seg_poll_fill,
    .poll_done = seg_poll_done,
    .send = seg_send,
    .describe = seg_describe,
    .destroy = seg_destroy,
};

struct net_backend *net_segment_open(const struct net_config *cfg, char *err, size_t errlen)
{
	if (!net_name_valid(cfg->segment)) {
		snprintf(err, errlen, "segment '%s': invalid name", cfg->segment);
		return NULL;
	}
	struct net_segment *s = calloc(1, sizeof(*s));
	if (!s || !(s->buf = malloc(NET_MAX_FRAME))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->b.ops = &segment_ops;
	s->b.mtu = cfg->mtu ? cfg->mtu : 1500;
	s->fd = -1;
	int n = snprintf(s->dir, sizeof(s->dir), "%s/segments/%s", net_run_dir(), cfg->segment);
	struct sockaddr_un sa;
	socklen_t salen;
	static unsigned counter;
	snprintf(s->self, sizeof(s->self), "%d.%u", (int)getpid(),
	         __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	if (n < 0 || !peer_addr(s, s->self, &sa, &salen)) {
		snprintf(err, errlen, "segment %s: the run directory path is too long", cfg->segment);
		goto fail;
	}
	if (!mkdir_p(s->dir, 0700)) {
		snprintf(err, errlen, "segment %s: cannot create %s: %s", cfg->segment, s->dir,
		         strerror(errno));
		goto fail;
	}
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(err, errlen, "segment %s: socket: %s", cfg->segment, strerror(errno));
		goto fail;
	}
	unlink(sa.sun_path); /* a leftover of a process that had our pid */
	if (bind(s->fd, (struct sockaddr *)&sa, salen)) {
		snprintf(err, errlen, "segment %s: cannot bind %s: %s", cfg->segment, sa.sun_path,
		         strerror(errno));
		goto fail;
	}
	int buf = 4 << 20;
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	struct timeval tv = {.tv_sec = 0, .tv_usec = 5000}; /* the longest a unicast send waits for room */
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rescan(s);
	snprintf(s->desc, sizeof(s->desc), "segment %s", cfg->segment);
	return &s->b;
fail:
	if (s->fd >= 0) close(s->fd);
	free(s->buf);
	free(s);
	return NULL;
}
