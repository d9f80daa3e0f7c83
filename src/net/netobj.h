/*
 * netobj.h — defined networks: named, persistent descriptions of how VMs
 * connect (`cloison net create`), stored one JSON file each under the state
 * directory, and turned into a NIC's net_config when a VM names them.
 *
 *   nat        user-mode NAT (libslirp) on its own subnet, DHCP, port forwards
 *   internal   a LAN segment: VMs only, isolated from every other network
 *   host-only  a host bridge with an address on the subnet and no uplink; VMs get TAPs on it
 *   bridge     TAPs on an existing host bridge (the VM sits on that LAN)
 */
#ifndef CLOISON_NET_NETOBJ_H
#define CLOISON_NET_NETOBJ_H

#include "net/netdev.h"
#include "util/error.h"

#include <stdbool.h>
#include <stddef.h>

enum netobj_type { NETOBJ_NAT, NETOBJ_INTERNAL, NETOBJ_HOST_ONLY, NETOBJ_BRIDGE };

struct netobj {
	char name[NET_NAME_MAX + 1];
	enum netobj_type type;
	struct in_addr network, netmask; /* nat, host-only */
	bool dhcp;                       /* nat: slirp's DHCP server */
	char bridge[16];                 /* host-only: the bridge we own; bridge: the host's */
	char hostfwd[NET_MAX_HOSTFWD][64];
	unsigned nhostfwd;
};

const char *netobj_type_name(enum netobj_type t);
bool netobj_type_parse(const char *s, enum netobj_type *t);

/* Fills a new object's defaults for its type (subnets: nat 10.0.2.0/24, host-only 192.168.100.0/24). */
void netobj_defaults(struct netobj *o, const char *name, enum netobj_type type);
/* What a user gives to define a network (the CLI's flags, the API's JSON); NULL = not given. */
struct netobj_params {
	const char *name, *type, *subnet, *dhcp /* "on" or "off" */, *bridge;
	const char *hostfwd[NET_MAX_HOSTFWD];
	unsigned nhostfwd;
};
/* Checks the parameters against the type and fills *o; false with err saying which one is wrong. */
bool netobj_build(const struct netobj_params *p, struct netobj *o, char *err, size_t errlen);
/* Stores a new network; host-only also creates its bridge (root). Fails if the name is taken. */
bool netobj_create(const struct netobj *o, struct error *e);
bool netobj_load(const char *name, struct netobj *o, char *err, size_t errlen);
/* Removes the definition (and a host-only network's bridge). */
bool netobj_remove(const char *name, char *err, size_t errlen);
/* Names of all defined networks, sorted; *n set. Caller frees with netobj_free_names. */
char **netobj_list(size_t *n, char *err, size_t errlen);
void netobj_free_names(char **names, size_t n);
/* The object as JSON text (caller frees). */
char *netobj_to_json(const struct netobj *o);

/* Resolves a --net spec: a backend kind (user, segment=, tap=) or the name of a defined network,
 * followed by per-interface options. */
bool netspec_resolve(const char *spec, struct net_config *cfg, char *err, size_t errlen);

#endif
