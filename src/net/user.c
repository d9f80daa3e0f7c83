/*
 * user.c — user-mode NAT networking over libslirp: DHCP, DNS forwarding,
 * the host reachable at the gateway address, and host-to-guest port
 * forwards. Needs no privileges: guest connections become ordinary sockets
 * of this process.
 *
 * libslirp is not thread-safe; everything here runs on the NIC's I/O thread.
 */
#include "netdev.h"

#include "util/log.h"
#include "util/clock.h"

#include <arpa/inet.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USER_MAX_TIMERS 8

struct user_timer {
	bool used, armed;
	int64_t expire_ms;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct net_user {
	struct net_backend b;
	Slirp *slirp;
	struct net_pollset *ps; /* during poll_fill / poll_done */
	struct user_timer timers[USER_MAX_TIMERS];
	char desc[64];
};

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_user *u = opaque;
	u->b.rx(u->b.rx_opaque, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	log_debug("user net: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)monotonic_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_user *u = opaque;
	for (int i = 0; i < USER_MAX_TIMERS; i++) {
		if (u->timers[i].used) continue;
		u->timers[i] = (struct user_timer){.used = true, .cb = cb, .cb_opaque = cb_opaque};
		return &u->timers[i];
	}
	log_warn("user net: out of timers");
	return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
	(void)opaque;
	if (timer) ((struct user_timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	struct user_timer *t = timer;
	if (!t) return;
	t->armed = true;
	t->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque;
}

static void cb_notify(void *opaque)
{
	(void)opaque; /* one thread: the next poll round picks up the change */
}

static const SlirpCb user_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_register_poll_fd,
    .notify = cb_notify,
};

static int add_poll(int fd, int events, void *opaque)
{
	struct net_user *u = opaque;
	short ev = 0;
	if (events & SLIRP_POLL_IN) ev |= POLLIN;
	if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
	if (u->b.rx_blocked) ev &= (short)~(POLLIN | POLLPRI); /* backpressure: leave data in the sockets */
	return net_pollset_add(u->ps, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
	struct net_user *u = opaque;
	if (idx < 0 || (unsigned)idx >= u->ps->n) return 0;
	short r = u->ps->fds[idx].revents;
	int ev = 0;
	if (r & POLLIN) ev |= SLIRP_POLL_IN;
	if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
	if (r & POLLERR) ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP) ev |= SLIRP_POLL_HUP;
	return ev;
}

static void user_poll_fill(struct net_backend *b, struct net_pollset *ps, int *timeout_ms)
{
	struct net_user *u = (struct net_user *)b;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	u->ps = ps;
	slirp_pollfds_fill(u->slirp, &t, add_poll, u);
	int64_t now_ms = (int64_t)monotonic_ns() / 1000000;
	for (int i = 0; i < USER_MAX_TIMERS; i++) {
		struct user_timer *tm = &u->timers[i];
		if (!tm->used || !tm->armed) continue;
		int64_t left = tm->expire_ms - now_ms;
		if (left < 0) left = 0;
		if ((uint64_t)left < t) t = (uint32_t)left;
	}
	*timeout_ms = t == UINT32_MAX ? -1 : (int)(t > 1000000 ? 1000000 : t);
}

static void user_poll_done(struct net_backend *b, struct net_pollset *ps)
{
	struct net_user *u = (struct net_user *)b;
	u->ps = ps;
	slirp_pollfds_poll(u->slirp, 0, get_revents, u);
	int64_t now_ms = (int64_t)monotonic_ns() / 1000000;
	for (int i = 0; i < USER_MAX_TIMERS; i++) {
		struct user_timer *tm = &u->timers[i];
		if (tm->used && tm->armed && tm->expire_ms <= now_ms) {
			tm->armed = false;
			tm->cb(tm->cb_opaque);
		}
	}
}

static bool user_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
	struct net_user *u = (struct net_user *)b;
	slirp_input(u->slirp, frame, (int)len);
	return true;
}

static void user_describe(struct net_backend *b, char *buf, size_t len)
{
	struct net_user *u = (struct net_user *)b;
	snprintf(buf, len, "%s", u->desc);
}

static void user_destroy(struct net_backend *b)
{
	struct net_user *u = (struct net_user *)b;
	if (u->slirp) slirp_cleanup(u->slirp);
	free(u);
}

static const struct net_backend_ops user_ops = {
    .kind = "user",
    .poll_fill = user_poll_fill,
    .poll_done = user_poll_done,
    .send = user_send,
    .describe = user_describe,
    .destroy = user_destroy,
};

struct net_backend *net_user_open(const struct net_config *cfg, char *err, size_t errlen)
{
	struct net_user *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->b.ops = &user_ops;
	u->b.mtu = cfg->mtu ? cfg->mtu : 1500;
	SlirpConfig sc = {
	    .version = 4,
	    .restricted = cfg->restricted,
	    .in_enabled = true,
	    .vnetwork = cfg->network,
	    .vnetmask = cfg->netmask,
	    .vhost = cfg->host,
	    .in6_enabled = false,
	    .vhostname = "cloison",
	    .vdhcp_start = cfg->dhcp_start,
	    .vnameserver = cfg->dns,
	    .if_mtu = u->b.mtu,
	    .if_mru = u->b.mtu,
	    .disable_dhcp = cfg->no_dhcp,
	};
	u->slirp = slirp_new(&sc, &user_callbacks, u);
	if (!u->slirp) {
		snprintf(err, errlen, "user networking: libslirp refused the configuration");
		free(u);
		return NULL;
	}
	for (unsigned i = 0; i < cfg->nhostfwd; i++) {
		const struct net_hostfwd *f = &cfg->hostfwd[i];
		if (slirp_add_hostfwd(u->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
		                      f->guest_port) < 0) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, a, sizeof(a));
			snprintf(err, errlen,
			         "hostfwd: cannot listen on %s %s:%u (port in use or not permitted)",
			         f->udp ? "udp" : "tcp", a, f->host_port);
			slirp_cleanup(u->slirp);
			free(u);
			return NULL;
		}
	}
	char net[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &cfg->network, net, sizeof(net));
	snprintf(u->desc, sizeof(u->desc), "user %s/%d", net, __builtin_popcount(cfg->netmask.s_addr));
	return &u->b;
}
