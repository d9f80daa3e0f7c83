/*
 * cluster.h — cloisond as a member of a cluster: runs and supervises the
 * host's corosync, keeps the replicated state (cluster/cstate.h) in step
 * over CPG, answers joins, and runs HA: it renews this host's lease while
 * the host is in a quorate, synchronised group, kills its HA guests when it
 * is not, and (on the group's leader) hands a failed host's HA instances to
 * survivors once that host's lease has surely run out. docs/cluster.md says
 * why this is safe and how long each step takes.
 */
#ifndef CLOISON_DAEMON_CLUSTER_H
#define CLOISON_DAEMON_CLUSTER_H

#include "daemon/daemon.h"
#include "http/http_server.h"
#include "util/error.h"

#include <jansson.h>

/* Timings (ns): heartbeats; the lease a heartbeat renews, counted from when it was sent; how long
 * survivors wait after a host left the group before they restart its HA instances: the lease plus a
 * margin. A host's last renewal was sent before the others noticed it gone, so by then its lease has
 * run out. */
#define CLUSTER_HEARTBEAT_NS 250000000ULL
#define CLUSTER_LEASE_NS 1500000000ULL
#define CLUSTER_FENCE_WAIT_NS (CLUSTER_LEASE_NS + 500000000ULL)

/* At startup: rejoins the cluster this host belongs to, if any (lock not held). */
bool cluster_load(struct daemon *d, char *err, size_t errlen);
/* /v1/cluster... and /v1/ha... (lock held; released while waiting on the cluster). */
void cluster_api(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                 struct http_response *r);
void ha_api(struct daemon *d, const char *method, char **seg, int n, json_t *body, struct http_response *r);
/* A new local instance becomes known cluster-wide, owned by this host (lock held). */
bool cluster_register_instance(struct daemon *d, struct instance *in, struct error *e);
/* A removed instance is forgotten cluster-wide (lock held). */
bool cluster_unregister_instance(struct daemon *d, const char *name, struct error *e);
/* Appends the cluster's instances that live on other hosts to a listing (lock held). */
void cluster_list_remote(struct daemon *d, json_t *list);
/* A request about instance `name` (under /v1/instances/NAME) when another host owns it: sent to that
 * host through the group and its answer put in r (true). False when the instance is not another
 * host's (the caller handles it). Called without the daemon's lock. */
bool cluster_forward(struct daemon *d, const char *name, const char *method, const char *path,
                     const char *body, size_t len, struct http_response *r);
/* The same for a request to node `owner` (name: what it is about, for messages). */
bool cluster_forward_to(struct daemon *d, uint32_t owner, const char *name, const char *method,
                        const char *path, const char *body, size_t len, struct http_response *r);
/* Load balancers in the state, name -> definition (+ "location"): all, or those this host runs now
 * (none while it is fenced). New reference. */
json_t *cluster_lbs(struct daemon *d, bool mine);
/* Adds one run by this host / removes one (lock held; released while the group applies it). */
bool cluster_lb_put(struct daemon *d, json_t *def, struct error *e);
bool cluster_lb_rm(struct daemon *d, const char *name, struct error *e);
/* An instance's definition as the state holds it (new reference), NULL if unknown. */
json_t *cluster_instance_definition(struct daemon *d, const char *name);
/* Replication: the cluster key; a member's address (false when it is not in the group); the instances
 * this host owns and replicates (name -> HA settings; none while fenced); whether this host keeps a
 * replica of `name` for its owner. */
bool cluster_key(struct daemon *d, uint8_t *buf, size_t cap, size_t *len);
bool cluster_member_addr(struct daemon *d, uint32_t id, char *buf, size_t len);
json_t *cluster_replicated_here(struct daemon *d);
bool cluster_replica_target(struct daemon *d, const char *name);
/* This host's cluster address. */
bool cluster_self_addr(struct daemon *d, char *buf, size_t len);
/* This host's node id (0 outside a cluster). */
uint32_t cluster_self(struct daemon *d);
/* This host's name in the cluster, or NULL. */
const char *cluster_self_name(struct daemon *d);

#endif
