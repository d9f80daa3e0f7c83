/*
 * cstate.h — the cluster's replicated state machine. Every host holds the
 * same JSON document (nodes, instances and their owners, HA settings, the
 * join token) and changes it only by applying operations delivered by
 * corosync's CPG in one total order, so all hosts apply the same operations
 * in the same order. Nothing here talks to corosync: the caller feeds
 * membership changes and delivered messages in, and sends what the machine
 * asks it to send (cluster/corosync.c does both in cloisond; unit tests do
 * it by hand).
 *
 * Synchronisation: after every membership change each member offers its
 * (version, hash); once every member's offer is in, the best state (highest
 * version, then lowest node id) is sent whole by its holder and adopted by
 * all, unless all offers already agree. Until then the host is unsynced:
 * it proposes nothing and renews no lease.
 *
 * Writes need a majority: an operation delivered in a configuration whose
 * members are not a majority of the cluster's nodes is refused, by every
 * host alike. Two majorities always share a host, so versions never fork.
 */
#ifndef CLOISON_CLUSTER_CSTATE_H
#define CLOISON_CLUSTER_CSTATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_MAX_NODES 32

struct cstate_hooks {
	/* Sends a message to the group (takes the reference). */
	void (*send)(void *ctx, json_t *msg);
	/* The outcome of an operation this host proposed (req is the proposer's number). data: NULL or
	 * what the operation returns (borrowed). */
	void (*result)(void *ctx, uint64_t req, bool ok, const char *msg, json_t *data);
	/* An operation changed the state, or a sync replaced it (op "sync"); args borrowed. */
	void (*changed)(void *ctx, const char *op, json_t *args);
	/* Stores the state durably before the change counts (false: the host stops applying). */
	bool (*persist)(void *ctx, const json_t *state);
	void *ctx;
};

struct cstate {
	json_t *state; /* {"version", "name", "token", "nodes": [{"id","name","addr"}], "instances": {}} */
	uint32_t self;
	uint32_t members[CLUSTER_MAX_NODES]; /* the group's current members (node ids), ascending */
	size_t nmembers;
	bool synced;
	bool broken; /* persisting failed: the host stays out of the state */
	struct {
		uint32_t node;
		uint64_t version, hash;
	} offers[CLUSTER_MAX_NODES];
	size_t noffers;
	uint32_t sync_from; /* once all offers are in: the host whose state everyone adopts */
	struct cstate_hooks hooks;
};

/* A new cluster's first state (version 1, this host as node 1). */
json_t *cstate_new_cluster(const char *name, const char *node_name, const char *addr, const char *token);

/* Takes over `state` (may be NULL: none yet, version 0). */
void cstate_init(struct cstate *cs, uint32_t self, json_t *state, const struct cstate_hooks *hooks);
void cstate_free(struct cstate *cs);

/* The group's membership changed: members are the node ids now in it. Starts a sync round. */
void cstate_confchg(struct cstate *cs, const uint32_t *members, size_t n);
/* A message delivered by the group, from node `from`. Unknown or malformed messages are ignored
 * (false), never applied. */
bool cstate_deliver(struct cstate *cs, uint32_t from, const char *buf, size_t len);

/* An operation to propose: {"t":"op","op":OP,"req":REQ,...args}. NULL when out of memory. */
json_t *cstate_op(const char *op, uint64_t req, json_t *args);

uint64_t cstate_version(const struct cstate *cs);
size_t cstate_node_count(const struct cstate *cs);
bool cstate_is_member(const struct cstate *cs, uint32_t node);
/* Whether the members are a majority of the cluster's nodes. */
bool cstate_majority(const struct cstate *cs);
/* Whether this host may propose writes: synced, with a majority. */
bool cstate_writable(const struct cstate *cs);
/* Lookups in the state (borrowed; NULL when missing). */
json_t *cstate_node(const struct cstate *cs, uint32_t id);
json_t *cstate_instance(const struct cstate *cs, const char *name);
uint32_t cstate_owner(const struct cstate *cs, const char *name);

#endif
