/*
 * cluster_internal.h — what the cluster's parts (cluster.c: the corosync
 * thread, the state machine's hooks, the API; cluster_moves.c: evacuation,
 * balancing, arrivals) share: the cluster's state and the calls between them.
 * Not for the rest of the daemon (cluster.h is).
 */
#ifndef CLOISON_DAEMON_CLUSTER_INTERNAL_H
#define CLOISON_DAEMON_CLUSTER_INTERNAL_H

#include "cluster/cstate.h"
#include "daemon/api.h"
#include "daemon/cluster.h"
#include "util/error.h"
#include "util/lease.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define GROUP "cloison"
#define TICK_MS 100
#define PROPOSE_TIMEOUT_NS 10000000000ULL
#define MAX_GONE 64
#define ARRIVAL_NS 180000000000ULL /* an instance made to receive a migration waits this long */

struct pending {
	uint64_t req;
	bool done, ok;
	char msg[256];
	json_t *data;
	struct pending *next;
};

/* A request this host forwarded to an instance's owner. */
struct fwd_wait {
	uint64_t id;
	bool done;
	int status;
	char *body, *content_type;
	struct fwd_wait *next;
};

struct cluster {
	struct daemon *d;
	char dir[PATH_MAX];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cstate cs;
	struct cluster_store *store;
	struct corosync_link *link;
	bool quorate;
	pid_t corosync_pid;
	uint64_t last_connect_ns, last_hb_ns;
	json_t *outbox; /* messages waiting to be sent, oldest first */
	struct pending *pending;
	uint64_t next_req;
	struct lease lease;
	uint64_t renewed_until;
	struct {
		uint32_t node;
		uint64_t left_at, proposed_at;
	} gone[MAX_GONE]; /* nodes out of the group, since when */
	size_t ngone;
	json_t *peers;              /* node id (string) -> its last heartbeat */
	json_t *local_states;       /* this host's instances' states, for heartbeats */
	json_t *local_vms;          /* its running VMs and their vCPUs: its load, for balancing */
	json_t *restarts;           /* HA instance -> restarts after a crash, on this host */
	bool conf_dirty;            /* corosync.conf to rewrite and reload */
	struct fwd_wait *fwd_waits; /* requests forwarded to other hosts, waiting for their answers */
	uint64_t next_fwd;
	int listen_fd;
	bool leaving; /* this host left: the threads wind down */
	char self_name[64];
	uint8_t key[4096]; /* the cluster's key: replicas are pushed with it */
	size_t key_len;
	pthread_t thread, join_thread;
};

/* ---- cluster.c ---- */
/* Proposes an operation and waits for the group to apply it (cluster lock NOT held); the daemon's
 * lock released around it for the _unlocked form. */
bool cluster_propose(struct cluster *c, const char *op, json_t *args, json_t **data, struct error *e);
bool cluster_propose_unlocked(struct daemon *d, const char *op, json_t *args, json_t **data, struct error *e);
/* Placement (cluster lock held): instances each member owns, and the member to place one more on. */
void cluster_owned_counts(struct cluster *c, long count[CLUSTER_MAX_NODES]);
size_t cluster_least_loaded(struct cluster *c, const long count[CLUSTER_MAX_NODES], uint32_t exclude);
/* An instance's HA flag, saved with its runtime state. */
void cluster_set_ha(struct daemon *d, struct instance *in, bool ha);

/* ---- cluster_moves.c ---- */
/* POST /v1/cluster/balance, /evacuate and /arrive. */
void cluster_balance_request(struct daemon *d, json_t *body, struct http_response *r);
void cluster_evacuate_request(struct daemon *d, json_t *body, struct http_response *r);
void cluster_arrive_request(struct daemon *d, json_t *body, struct http_response *r);
/* The leader's automatic balancing (cluster lock NOT held, daemon lock held). */
void cluster_auto_balance(struct cluster *c);

#endif
