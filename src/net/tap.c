/*
 * tap.c — TAP networking: the NIC's frames go to a TAP device on the host,
 * optionally enslaved to a Linux bridge (host-only networks: a bridge with
 * an address and no uplink; bridged networks: an existing bridge with the
 * host's physical interface in it). Creating a TAP needs CAP_NET_ADMIN,
 * unless a persistent one was made for this user (`ip tuntap add … user U`).
 */
#include "hostif.h"
#include "netdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TAP_RECV_BURST 64

struct net_tap {
	struct net_backend b;
	int fd, poll_idx;
	char ifname[IFNAMSIZ];
	char bridge[IFNAMSIZ];
	uint8_t *buf;
};

static void tap_poll_fill(struct net_backend *b, struct net_pollset *ps, int *timeout_ms)
{
	(void)timeout_ms;
	struct net_tap *t = (struct net_tap *)b;
	t->poll_idx = b->rx_blocked ? -1 : net_pollset_add(ps, t->fd, POLLIN);
}

static void tap_poll_done(struct net_backend *b, struct net_pollset *ps)
{
	struct net_tap *t = (struct net_tap *)b;
	if (t->poll_idx < 0 || !(ps->fds[t->poll_idx].revents & POLLIN)) return;
	for (int i = 0; i < TAP_RECV_BURST; i++) {
		ssize_t n = read(t->fd, t->buf, NET_MAX_FRAME);
		if (n < 0) break;
		if (n < NET_ETH_HLEN) {
			b->dropped++;
			continue;
		}
		b->rx(b->rx_opaque, t->buf, (size_t)n);
	}
}

static bool tap_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
	struct net_tap *t = (struct net_tap *)b;
	return write(t->fd, frame, len) == (ssize_t)len;
}

static void tap_describe(struct net_backend *b, char *buf, size_t len)
{
	struct net_tap *t = (struct net_tap *)b;
	snprintf(buf, len, "tap %s%s%s", t->ifname, t->bridge[0] ? " on bridge " : "", t->bridge);
}

static void tap_destroy(struct net_backend *b)
{
	struct net_tap *t = (struct net_tap *)b;
	close(t->fd); /* a non-persistent TAP disappears with its last descriptor */
	free(t->buf);
	free(t);
}

static const struct net_backend_ops tap_ops = {
    .kind = "tap",
    .poll_fill = tap_poll_fill,
    .poll_done = tap_poll_done,
    .send = tap_send,
    .describe = tap_describe,
    .destroy = tap_destroy,
};

struct net_backend *net_tap_open(const struct net_config *cfg, char *err, size_t errlen)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t || !(t->buf = malloc(NET_MAX_FRAME))) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->b.ops = &tap_ops;
	t->b.mtu = cfg->mtu ? cfg->mtu : 1500;
	snprintf(t->ifname, sizeof(t->ifname), "%s", cfg->ifname);
	snprintf(t->bridge, sizeof(t->bridge), "%s", cfg->bridge);
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		snprintf(err, errlen, "tap=%s: cannot open /dev/net/tun: %s", cfg->ifname, strerror(errno));
		goto fail;
	}
	struct ifreq ifr = {0};
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg->ifname);
	if (ioctl(t->fd, TUNSETIFF, &ifr)) {
		int e = errno;
		snprintf(err, errlen, "tap=%s: %s%s", cfg->ifname, strerror(e),
		         e == EPERM
		             ? " (creating a TAP needs root or CAP_NET_ADMIN, or a persistent TAP made "
		               "for you with 'ip tuntap add NAME mode tap user YOU')"
		         : e == EBUSY ? " (another process has it open)"
		                      : "");
		goto fail;
	}
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
	if (cfg->bridge[0] && !hostif_bridge_add_port(cfg->bridge, t->ifname, err, errlen)) goto fail;
	if (!hostif_set_up(t->ifname, err, errlen)) goto fail;
	return &t->b;
fail:
	if (t->fd >= 0) close(t->fd);
	free(t->buf);
	free(t);
	return NULL;
}
