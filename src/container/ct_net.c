/*
 * ct_net.c — see ct_net.h. The pair is made with libnl-route (RTM_NEWLINK
 * with the peer created directly in the container's namespace); addresses
 * and routes use the same ioctls as the VM networks (net/hostif).
 */
#include "ct_net.h"

#include "net/hostif.h"
#include "net/netobj.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link/veth.h>
#include <stdio.h>
#include <string.h>

bool ct_net_resolve(struct ct_net *n, char *err, size_t errlen)
{
	if (n->mode != CT_NET_VETH || !n->network[0]) return true;
	struct netobj o;
	if (!netobj_load(n->network, &o, err, errlen)) return false;
	if (o.type != NETOBJ_HOST_ONLY && o.type != NETOBJ_BRIDGE) {
		snprintf(
		    err, errlen,
		    "network '%s' is a %s network, which lives inside cloison's VM processes; containers can "
		    "join host-only and bridge networks",
		    o.name, netobj_type_name(o.type));
		return false;
	}
	snprintf(n->bridge, sizeof(n->bridge), "%s", o.bridge);
	return true;
}

bool ct_net_attach(const struct ct_net *n, pid_t pid, char host_if[16], char *err, size_t errlen)
{
	host_if[0] = 0;
	if (n->mode != CT_NET_VETH) return true;
	char name[16];
	snprintf(name, sizeof(name), "vc%d", (int)pid);
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		snprintf(err, errlen, "netlink: out of memory");
		return false;
	}
	int rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc == 0) rc = rtnl_link_veth_add(sk, name, "eth0", pid);
	nl_socket_free(sk);
	if (rc < 0) {
		snprintf(err, errlen, "creating the veth pair %s/eth0: %s%s", name, nl_geterror(rc),
		         rc == -NLE_PERM ? " (needs root or CAP_NET_ADMIN)" : "");
		return false;
	}
	snprintf(host_if, 16, "%s", name);
	if (n->bridge[0] && !hostif_bridge_add_port(n->bridge, name, err, errlen)) return false;
	if (n->host_addr.s_addr) {
		struct in_addr mask = {htonl(n->prefix ? ~0u << (32 - n->prefix) : 0)};
		if (!hostif_set_addr(name, n->host_addr, mask, err, errlen)) return false;
	}
	return hostif_set_up(name, err, errlen);
}

bool ct_net_configure_inside(const struct ct_net *n, char *err, size_t errlen)
{
	if (n->mode == CT_NET_HOST) return true;
	if (!hostif_set_up("lo", err, errlen)) return false;
	if (n->mode != CT_NET_VETH) return true;
	if (n->addr.s_addr) {
		/* The MAC follows from the address (02:42 and its 4 bytes, as Docker does): a restarted
		 * container keeps it, so its neighbours' ARP entries stay right. */
		uint8_t mac[6] = {0x02, 0x42};
		memcpy(mac + 2, &n->addr.s_addr, 4);
		if (!hostif_set_mac("eth0", mac, err, errlen)) return false;
	}
	if (n->addr.s_addr) {
		struct in_addr mask = {htonl(n->prefix ? ~0u << (32 - n->prefix) : 0)};
		if (!hostif_set_addr("eth0", n->addr, mask, err, errlen)) return false;
	}
	if (!hostif_set_up("eth0", err, errlen)) return false;
	if (n->addr.s_addr) hostif_announce("eth0", n->addr); /* a restart comes with a new MAC */
	return !n->gw.s_addr || hostif_add_default_route(n->gw, err, errlen);
}
