/*
 * netdev.h — how a virtual NIC is connected: the parsed form of `--net`
 * (kind, addresses, port forwards, MAC, MTU, rate limits, capture file) and
 * the one constructor that opens the matching backend.
 *
 *   user[,net=10.0.2.0/24][,host=A][,dhcpstart=A][,dns=A][,restrict=on]
 *       [,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 *   segment=NAME                       a LAN segment shared by the VMs naming it
 *   tap=IFNAME[,bridge=BR]             a TAP device, optionally enslaved to a bridge
 * and on any kind:
 *   mac=52:54:00:12:34:56  mtu=N  rx_bw=BITS/S  tx_bw=BITS/S  rx_pps=N  tx_pps=N
 *   burst=BYTES  pcap=FILE
 * Rates take k, M, G suffixes (powers of 1000); rx is toward the guest.
 */
#ifndef CLOISON_NET_NETDEV_H
#define CLOISON_NET_NETDEV_H

#include "net/backend.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

enum net_kind { NET_USER, NET_SEGMENT, NET_TAP };

#define NET_MAX_HOSTFWD 16
#define NET_NAME_MAX 64

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr, guest_addr;
	uint16_t host_port, guest_port;
};

struct net_config {
	enum net_kind kind;
	uint8_t mac[6];
	bool mac_set;
	unsigned mtu; /* 0: the default, 1500 */
	/* user */
	struct in_addr network, netmask, host, dhcp_start, dns;
	bool restricted; /* the guest reaches only the host-side services and forwards */
	bool no_dhcp;    /* no DHCP server (addresses configured in the guest) */
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
	unsigned nhostfwd;
	/* segment */
	char segment[NET_NAME_MAX + 1];
	/* tap */
	char ifname[16], bridge[16];
	/* limits: bits/s, frames/s, bytes (0: none / default) */
	uint64_t rx_bps, tx_bps, rx_pps, tx_pps, burst;
	char pcap[PATH_MAX];
};

/* Fills the defaults of `kind` (user: QEMU's 10.0.2.0/24 plan). */
void net_config_defaults(struct net_config *cfg, enum net_kind kind);
/* Parses a --net string. A spec that names no kind is left to the caller (returns false with
 * *unknown_kind set) so that it can look the name up among defined networks. */
bool net_config_parse(const char *spec, struct net_config *cfg, bool *unknown_kind, char *err, size_t errlen);
/* Parses the options after the kind (the part of a spec after the first comma) into cfg. */
bool net_config_parse_options(const char *opts, struct net_config *cfg, char *err, size_t errlen);
/* Parses "A.B.C.D/N" into network and mask; the host bits must be zero. */
bool net_parse_cidr(const char *s, struct in_addr *network, struct in_addr *mask);
/* Segment and network names: 1 to 64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
bool net_name_valid(const char *name);
/* "52:54:00:12:34:56": six hex pairs, a unicast address. */
bool net_parse_mac(const char *s, uint8_t mac[6]);
/* A random locally administered unicast address in QEMU's 52:54:00 range. */
void net_random_mac(uint8_t mac[6]);
/* Where LAN segments' sockets live: $CLOISON_RUN_DIR, else /run/cloison (root), else
 * $XDG_RUNTIME_DIR/cloison, else /tmp/cloison-UID. */
const char *net_run_dir(void);

/* Opens the backend the config names. NULL with err set. */
struct net_backend *net_backend_open(const struct net_config *cfg, char *err, size_t errlen);

/* The backends' constructors. */
struct net_backend *net_user_open(const struct net_config *cfg, char *err, size_t errlen);
struct net_backend *net_segment_open(const struct net_config *cfg, char *err, size_t errlen);
struct net_backend *net_tap_open(const struct net_config *cfg, char *err, size_t errlen);

#endif
