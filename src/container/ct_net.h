/*
 * ct_net.h — a container's network: --net none (loopback only), host (the
 * host's namespace), or veth (a pair: eth0 inside, the host end optionally
 * on a bridge — a defined host-only or bridge network, or any host bridge —
 * or addressed on its own for a point-to-point link).
 */
#ifndef CLOISON_CONTAINER_CT_NET_H
#define CLOISON_CONTAINER_CT_NET_H

#include "container/ct_spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Parent side, once the child exists: creates the pair with eth0 in pid's network namespace, joins the
 * host end to its bridge or addresses it, brings it up. host_if receives the host end's name. */
bool ct_net_attach(const struct ct_net *n, pid_t pid, char host_if[16], char *err, size_t errlen);
/* Child side, inside the new network namespace: loopback up; with veth, eth0 up with its address and
 * default route. */
bool ct_net_configure_inside(const struct ct_net *n, char *err, size_t errlen);
/* Resolves network=NAME to the bridge it uses (host-only and bridge networks). */
bool ct_net_resolve(struct ct_net *n, char *err, size_t errlen);

#endif
