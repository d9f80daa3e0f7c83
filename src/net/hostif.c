/*
 * hostif.c — see hostif.h.
 */
#include "hostif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/route.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int ctl_socket(char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) snprintf(err, errlen, "socket: %s", strerror(errno));
	return fd;
}

static const char *perm_hint(int e)
{
	return e == EPERM || e == EACCES ? " (needs root or CAP_NET_ADMIN)" : "";
}

bool hostif_exists(const char *ifname)
{
	return if_nametoindex(ifname) != 0;
}

bool hostif_set_up(const char *ifname, char *err, size_t errlen)
{
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	if (ok && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ok = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	}
	if (!ok) snprintf(err, errlen, "cannot bring %s up: %s%s", ifname, strerror(errno), perm_hint(errno));
	close(fd);
	return ok;
}

bool hostif_set_mac(const char *ifname, const uint8_t mac[6], char *err, size_t errlen)
{
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	bool ok = ioctl(fd, SIOCSIFHWADDR, &ifr) == 0;
	if (!ok)
		snprintf(err, errlen, "cannot set %s's MAC address: %s%s", ifname, strerror(errno),
		         perm_hint(errno));
	close(fd);
	return ok;
}

static bool set_addr(int fd, const char *ifname, unsigned long req, struct in_addr a)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr = a;
	return ioctl(fd, req, &ifr) == 0;
}

bool hostif_set_addr(const char *ifname, struct in_addr addr, struct in_addr mask, char *err, size_t errlen)
{
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	bool ok = set_addr(fd, ifname, SIOCSIFADDR, addr) && set_addr(fd, ifname, SIOCSIFNETMASK, mask);
	if (!ok)
		snprintf(err, errlen, "cannot give %s its address: %s%s", ifname, strerror(errno),
		         perm_hint(errno));
	close(fd);
	return ok;
}

bool hostif_add_default_route(struct in_addr gw, char *err, size_t errlen)
{
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	struct rtentry rt;
	memset(&rt, 0, sizeof(rt));
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst,
	                   *mask = (struct sockaddr_in *)&rt.rt_genmask,
	                   *gateway = (struct sockaddr_in *)&rt.rt_gateway;
	dst->sin_family = mask->sin_family = gateway->sin_family = AF_INET;
	gateway->sin_addr = gw;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	bool ok = ioctl(fd, SIOCADDRT, &rt) == 0;
	if (!ok)
		snprintf(err, errlen, "cannot add the default route: %s%s", strerror(errno),
		         perm_hint(errno));
	close(fd);
	return ok;
}

bool hostif_bridge_ensure(const char *bridge, struct in_addr addr, struct in_addr mask, char *err,
                          size_t errlen)
{
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	bool ok = true;
	if (!hostif_exists(bridge) && ioctl(fd, SIOCBRADDBR, bridge) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create bridge %s: %s%s", bridge, strerror(errno),
		         perm_hint(errno));
		ok = false;
	}
	close(fd);
	if (ok && addr.s_addr) ok = hostif_set_addr(bridge, addr, mask, err, errlen);
	return ok && hostif_set_up(bridge, err, errlen);
}

bool hostif_bridge_delete(const char *bridge, char *err, size_t errlen)
{
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags &= ~IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	bool ok = ioctl(fd, SIOCBRDELBR, bridge) == 0 || errno == ENXIO;
	if (!ok)
		snprintf(err, errlen, "cannot delete bridge %s: %s%s", bridge, strerror(errno),
		         perm_hint(errno));
	close(fd);
	return ok;
}

bool hostif_bridge_add_port(const char *bridge, const char *port, char *err, size_t errlen)
{
	if (!hostif_exists(bridge)) {
		snprintf(err, errlen, "bridge %s does not exist", bridge);
		return false;
	}
	int fd = ctl_socket(err, errlen);
	if (fd < 0) return false;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
	ifr.ifr_ifindex = (int)if_nametoindex(port);
	bool ok = ifr.ifr_ifindex && ioctl(fd, SIOCBRADDIF, &ifr) == 0;
	if (!ok)
		snprintf(err, errlen, "cannot add %s to bridge %s: %s%s", port, bridge, strerror(errno),
		         perm_hint(errno));
	close(fd);
	return ok;
}

/* Sends the gratuitous ARP replies for address a on ifname; false when the interface is not there. */
static bool send_announce(const char *ifname, struct in_addr a)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	uint8_t mac[6];
	/* One ioctl at a time: the index and the hardware address share the request's union. */
	bool ok = fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0;
	if (ok) memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!ok || ioctl(fd, SIOCGIFINDEX, &ifr)) {
		if (fd >= 0) close(fd);
		return false;
	}
	uint8_t frame[42] = {0};
	memset(frame, 0xff, 6);
	memcpy(frame + 6, mac, 6);
	frame[12] = 0x08, frame[13] = 0x06; /* ARP */
	frame[14] = 0, frame[15] = 1, frame[16] = 8, frame[17] = 0, frame[18] = 6,
	frame[19] = 4;                /* Ethernet, IPv4 */
	frame[20] = 0, frame[21] = 2; /* reply */
	memcpy(frame + 22, mac, 6);
	memcpy(frame + 28, &a, 4);
	memset(frame + 32, 0xff, 6);
	memcpy(frame + 38, &a, 4);
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifr.ifr_ifindex, .sll_halen = 6};
	memset(to.sll_addr, 0xff, 6);
	for (int i = 0; i < 2; i++) sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
	return true;
}

struct announce_job {
	char ifname[IFNAMSIZ + 1];
	struct in_addr a;
};

/* Announces again 1, 2 and 4 s later (as keepalived repeats its gratuitous ARPs): a neighbour that was
 * still busy with the address's former owner, or a frame lost on a busy segment, hears it anyway. */
static void *announce_later(void *arg)
{
	struct announce_job *j = arg;
	static const unsigned delays_ms[] = {1000, 1000, 2000};
	for (unsigned i = 0; i < sizeof(delays_ms) / sizeof(delays_ms[0]); i++) {
		struct timespec ts = {delays_ms[i] / 1000, (long)(delays_ms[i] % 1000) * 1000000};
		nanosleep(&ts, NULL);
		if (!send_announce(j->ifname, j->a)) break;
	}
	free(j);
	return NULL;
}

void hostif_announce(const char *ifname, struct in_addr a)
{
	if (!send_announce(ifname, a)) return;
	struct announce_job *j = calloc(1, sizeof(*j));
	pthread_t t;
	if (!j) return;
	snprintf(j->ifname, sizeof(j->ifname), "%s", ifname);
	j->a = a;
	if (pthread_create(&t, NULL, announce_later, j) == 0)
		pthread_detach(t);
	else
		free(j);
}
