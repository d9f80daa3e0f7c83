/*
 * cstate.c — see cstate.h. Operations are small functions in one table; each
 * checks its arguments against the state and either changes it or refuses
 * with a message, deterministically: every host reaches the same verdict.
 */
#include "cluster/cstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state_hash(const json_t *state)
{
	char *text = state ? json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const char *p = text ? text : ""; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	free(text);
	return h;
}

uint64_t cstate_version(const struct cstate *cs)
{
	return cs->state ? (uint64_t)json_integer_value(json_object_get(cs->state, "version")) : 0;
}

size_t cstate_node_count(const struct cstate *cs)
{
	return json_array_size(json_object_get(cs->state, "nodes"));
}

bool cstate_is_member(const struct cstate *cs, uint32_t node)
{
	for (size_t i = 0; i < cs->nmembers; i++)
		if (cs->members[i] == node) return true;
	return false;
}

bool cstate_majority(const struct cstate *cs)
{
	size_t nodes = cstate_node_count(cs), present = 0;
	for (size_t i = 0; i < nodes; i++) {
		json_t *n = json_array_get(json_object_get(cs->state, "nodes"), i);
		if (cstate_is_member(cs, (uint32_t)json_integer_value(json_object_get(n, "id")))) present++;
	}
	return nodes > 0 && present * 2 > nodes;
}

bool cstate_writable(const struct cstate *cs)
{
	return cs->synced && !cs->broken && cstate_majority(cs);
}

json_t *cstate_node(const struct cstate *cs, uint32_t id)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(cs->state, "nodes"), i, n)
	{
		if (json_integer_value(json_object_get(n, "id")) == id) return n;
	}
	return NULL;
}

json_t *cstate_instance(const struct cstate *cs, const char *name)
{
	return json_object_get(json_object_get(cs->state, "instances"), name);
}

uint32_t cstate_owner(const struct cstate *cs, const char *name)
{
	return (uint32_t)json_integer_value(json_object_get(cstate_instance(cs, name), "owner"));
}

json_t *cstate_new_cluster(const char *name, const char *node_name, const char *addr, const char *token)
{
	return json_pack("{s:i, s:s, s:s, s:[{s:i, s:s, s:s}], s:{}}", "version", 1, "name", name, "token",
	                 token, "nodes", "id", 1, "name", node_name, "addr", addr, "instances");
}

void cstate_init(struct cstate *cs, uint32_t self, json_t *state, const struct cstate_hooks *hooks)
{
	memset(cs, 0, sizeof(*cs));
	cs->self = self;
	cs->state = state;
	cs->hooks = *hooks;
}

void cstate_free(struct cstate *cs)
{
	json_decref(cs->state);
	cs->state = NULL;
}

json_t *cstate_op(const char *op, uint64_t req, json_t *args)
{
	json_t *m = json_pack("{s:s, s:s, s:I}", "t", "op", "op", op, "req", (json_int_t)req);
	if (m && args) json_object_update(m, args);
	return m;
}

static void send_offer(struct cstate *cs)
{
	json_t *m =
	    json_pack("{s:s, s:I, s:s}", "t", "offer", "version", (json_int_t)cstate_version(cs), "hash", "");
	char hash[24];
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)state_hash(cs->state));
	if (m) json_object_set_new(m, "hash", json_string(hash));
	if (m) cs->hooks.send(cs->hooks.ctx, m);
}

void cstate_confchg(struct cstate *cs, const uint32_t *members, size_t n)
{
	if (n > CLUSTER_MAX_NODES) n = CLUSTER_MAX_NODES;
	/* Ascending, without duplicates (a node could appear twice if two daemons ran on it). */
	cs->nmembers = 0;
	for (size_t i = 0; i < n; i++) {
		if (cstate_is_member(cs, members[i])) continue;
		size_t j = cs->nmembers++;
		while (j > 0 && cs->members[j - 1] > members[i]) {
			cs->members[j] = cs->members[j - 1];
			j--;
		}
		cs->members[j] = members[i];
	}
	cs->synced = false;
	cs->noffers = 0;
	send_offer(cs);
}

static bool persist_and_notify(struct cstate *cs, const char *op, json_t *args)
{
	if (cs->hooks.persist && !cs->hooks.persist(cs->hooks.ctx, cs->state)) {
		cs->broken = true;
		return false;
	}
	if (cs->hooks.changed) cs->hooks.changed(cs->hooks.ctx, op, args);
	return true;
}

/* All offers are in: adopt the best state. */
static void finish_sync(struct cstate *cs)
{
	size_t best = 0;
	bool agree = true;
	for (size_t i = 1; i < cs->noffers; i++) {
		if (cs->offers[i].version != cs->offers[0].version ||
		    cs->offers[i].hash != cs->offers[0].hash)
			agree = false;
		if (cs->offers[i].version > cs->offers[best].version ||
		    (cs->offers[i].version == cs->offers[best].version &&
		     cs->offers[i].node < cs->offers[best].node))
			best = i;
	}
	if (agree) {
		cs->synced = true;
		if (cs->hooks.changed) cs->hooks.changed(cs->hooks.ctx, "sync", NULL);
		return;
	}
	cs->sync_from = cs->offers[best].node;
	if (cs->offers[best].node == cs->self && cs->state) {
		json_t *m = json_pack("{s:s, s:O}", "t", "state", "state", cs->state);
		if (m) cs->hooks.send(cs->hooks.ctx, m);
	}
	/* Everyone (the sender too) becomes synced when the state message is delivered. */
}

static void on_offer(struct cstate *cs, uint32_t from, json_t *m)
{
	if (!cstate_is_member(cs, from) || cs->synced) return;
	for (size_t i = 0; i < cs->noffers; i++)
		if (cs->offers[i].node == from) return;
	const char *hash = json_string_value(json_object_get(m, "hash"));
	json_t *v = json_object_get(m, "version");
	if (!hash || !json_is_integer(v) || json_integer_value(v) < 0) return;
	cs->offers[cs->noffers].node = from;
	cs->offers[cs->noffers].version = (uint64_t)json_integer_value(v);
	cs->offers[cs->noffers].hash = strtoull(hash, NULL, 16);
	if (++cs->noffers == cs->nmembers) finish_sync(cs);
}

/* A state sent whole: checked for its shape before it replaces ours. */
static bool state_well_formed(const json_t *s)
{
	if (!json_is_object(s) || !json_is_integer(json_object_get(s, "version")) ||
	    !json_is_string(json_object_get(s, "name")) || !json_is_array(json_object_get(s, "nodes")) ||
	    !json_is_object(json_object_get(s, "instances")))
		return false;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(s, "nodes"), i, n)
	{
		if (!json_is_integer(json_object_get(n, "id")) ||
		    !json_is_string(json_object_get(n, "addr")) ||
		    !json_is_string(json_object_get(n, "name")))
			return false;
	}
	const char *k;
	json_t *inst;
	json_object_foreach(json_object_get(s, "instances"), k, inst)
	{
		if (!json_is_integer(json_object_get(inst, "owner")) ||
		    !json_is_string(json_object_get(inst, "type")) ||
		    !json_is_object(json_object_get(inst, "definition")))
			return false;
	}
	return true;
}

static void on_state(struct cstate *cs, uint32_t from, json_t *m)
{
	json_t *s = json_object_get(m, "state");
	/* Only the state this round chose, while the round waits for it. */
	if (cs->synced || cs->noffers != cs->nmembers || from != cs->sync_from || !state_well_formed(s))
		return;
	if (s != cs->state) {
		json_decref(cs->state);
		cs->state = json_deep_copy(s);
	}
	cs->synced = true;
	persist_and_notify(cs, "sync", NULL);
}

/* ---- operations ---- */

typedef bool (*op_fn)(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data);

static const char *str_arg(json_t *m, const char *key)
{
	const char *s = json_string_value(json_object_get(m, key));
	return s && *s ? s : NULL;
}

static bool op_node_add(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from;
	const char *name = str_arg(m, "name"), *addr = str_arg(m, "addr");
	if (!name || !addr) return snprintf(err, errlen, "a node needs a name and an address"), false;
	json_t *nodes = json_object_get(cs->state, "nodes");
	if (json_array_size(nodes) >= CLUSTER_MAX_NODES)
		return snprintf(err, errlen, "the cluster has %d nodes already", CLUSTER_MAX_NODES), false;
	json_int_t next = 1;
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
	{
		if (!strcmp(json_string_value(json_object_get(n, "name")), name) ||
		    !strcmp(json_string_value(json_object_get(n, "addr")), addr))
			return snprintf(err, errlen, "a node named '%s' or at %s is in the cluster already",
			                name, addr),
			       false;
		if (json_integer_value(json_object_get(n, "id")) >= next)
			next = json_integer_value(json_object_get(n, "id")) + 1;
	}
	json_array_append_new(nodes, json_pack("{s:I, s:s, s:s}", "id", next, "name", name, "addr", addr));
	*data = json_pack("{s:I}", "id", next);
	return true;
}

static bool op_node_rm(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	json_int_t id = json_integer_value(json_object_get(m, "id"));
	json_t *nodes = json_object_get(cs->state, "nodes");
	if (!cstate_node(cs, (uint32_t)id))
		return snprintf(err, errlen, "no node %lld", (long long)id), false;
	if (cstate_is_member(cs, (uint32_t)id) && id != (json_int_t)from)
		return snprintf(err, errlen, "node %lld is online: stop it first", (long long)id), false;
	const char *k;
	json_t *inst;
	json_object_foreach(json_object_get(cs->state, "instances"), k, inst)
	{
		if (json_integer_value(json_object_get(inst, "owner")) == id)
			return snprintf(err, errlen, "node %lld still owns '%s'", (long long)id, k), false;
	}
	json_object_foreach(json_object_get(cs->state, "lbs"), k, inst)
	{
		if (json_integer_value(json_object_get(inst, "owner")) == id)
			return snprintf(err, errlen, "node %lld still runs load balancer '%s'", (long long)id,
			                k),
			       false;
	}
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
	{
		if (json_integer_value(json_object_get(n, "id")) == id) {
			json_array_remove(nodes, i);
			break;
		}
	}
	return true;
}

static bool op_inst_put(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name"), *type = str_arg(m, "type");
	json_t *def = json_object_get(m, "definition");
	json_int_t owner = json_integer_value(json_object_get(m, "owner"));
	if (!name || !type || !json_is_object(def))
		return snprintf(err, errlen, "an instance needs a name, a type and a definition"), false;
	if (!cstate_node(cs, (uint32_t)owner))
		return snprintf(err, errlen, "no node %lld to own '%s'", (long long)owner, name), false;
	json_t *old = cstate_instance(cs, name);
	if (old && json_is_true(json_object_get(m, "create")))
		return snprintf(err, errlen, "an instance named '%s' exists in the cluster", name), false;
	if (old && json_integer_value(json_object_get(old, "owner")) != owner)
		return snprintf(err, errlen, "'%s' belongs to node %lld", name,
		                (long long)json_integer_value(json_object_get(old, "owner"))),
		       false;
	json_t *inst = json_pack("{s:s, s:I, s:O}", "type", type, "owner", owner, "definition", def);
	if (old && json_object_get(old, "ha")) json_object_set(inst, "ha", json_object_get(old, "ha"));
	json_object_set_new(json_object_get(cs->state, "instances"), name, inst);
	return true;
}

static bool op_inst_rm(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name");
	if (!name || !cstate_instance(cs, name))
		return snprintf(err, errlen, "no instance named '%s' in the cluster", name ? name : ""),
		       false;
	json_object_del(json_object_get(cs->state, "instances"), name);
	return true;
}

static bool op_ha_set(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name"), *group = json_string_value(json_object_get(m, "group"));
	json_t *inst = name ? cstate_instance(cs, name) : NULL;
	json_int_t max = json_integer_value(json_object_get(m, "max_restarts"));
	if (!inst)
		return snprintf(err, errlen, "no instance named '%s' in the cluster", name ? name : ""),
		       false;
	if (max < 0 || max > 1000) return snprintf(err, errlen, "max_restarts: 0 to 1000"), false;
	json_int_t every = json_integer_value(json_object_get(m, "replicate_every_ms"));
	json_t *replicas = json_object_get(m, "replicas");
	if (every && (every < 1000 || every > 3600000))
		return snprintf(err, errlen, "replicate every 1 s to 1 h"), false;
	size_t i;
	json_t *r;
	if (replicas && (!json_is_array(replicas) || json_array_size(replicas) > CLUSTER_MAX_NODES))
		return snprintf(err, errlen, "replicas: a list of nodes"), false;
	json_array_foreach(replicas, i, r)
	{
		if (!json_is_integer(r) || !cstate_node(cs, (uint32_t)json_integer_value(r)))
			return snprintf(err, errlen, "replicas: no node %lld",
			                (long long)json_integer_value(r)),
			       false;
	}
	if (every && !json_array_size(replicas))
		return snprintf(err, errlen, "replication needs target nodes"), false;
	json_object_set_new(
	    inst, "ha",
	    json_pack(
	        "{s:s, s:I, s:I, s:I, s:o}", "group", group ? group : "", "max_restarts", max, "failovers",
	        json_integer_value(json_object_get(json_object_get(inst, "ha"), "failovers")),
	        "replicate_every_ms", every, "replicas", replicas ? json_deep_copy(replicas) : json_array()));
	return true;
}

static bool op_ha_rm(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name");
	json_t *inst = name ? cstate_instance(cs, name) : NULL;
	if (!inst || !json_object_get(inst, "ha"))
		return snprintf(err, errlen, "'%s' is not an HA instance", name ? name : ""), false;
	json_object_del(inst, "ha");
	return true;
}

/* A failed node's HA instances go to the owners the proposer chose, if that node is still out of the
 * group and the new owners are in it. */
static bool op_recover(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	json_int_t node = json_integer_value(json_object_get(m, "node"));
	json_t *moves = json_object_get(m, "moves");
	if (cstate_is_member(cs, (uint32_t)node))
		return snprintf(err, errlen, "node %lld is back in the group", (long long)node), false;
	if (!json_is_object(moves)) return snprintf(err, errlen, "recover: no moves"), false;
	const char *k;
	json_t *to;
	json_object_foreach(moves, k, to)
	{
		json_t *inst = cstate_instance(cs, k);
		if (!inst || !json_object_get(inst, "ha") ||
		    json_integer_value(json_object_get(inst, "owner")) != node ||
		    !cstate_is_member(cs, (uint32_t)json_integer_value(to)))
			continue;
		json_object_set(inst, "owner", to);
		json_t *ha = json_object_get(inst, "ha");
		json_object_set_new(ha, "failovers",
		                    json_integer(json_integer_value(json_object_get(ha, "failovers")) + 1));
	}
	json_object_foreach(json_object_get(m, "lb_moves"), k, to) /* its load balancers, likewise */
	{
		json_t *lb = json_object_get(json_object_get(cs->state, "lbs"), k);
		if (lb && json_integer_value(json_object_get(lb, "owner")) == node &&
		    cstate_is_member(cs, (uint32_t)json_integer_value(to)))
			json_object_set(lb, "owner", to);
	}
	return true;
}

/* Hands an instance to another node (a planned move: the caller stopped or migrated it). */
static bool op_owner(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name");
	json_t *inst = name ? cstate_instance(cs, name) : NULL;
	json_int_t to = json_integer_value(json_object_get(m, "owner"));
	json_int_t expect = json_integer_value(json_object_get(m, "expect"));
	if (!inst)
		return snprintf(err, errlen, "no instance named '%s' in the cluster", name ? name : ""),
		       false;
	if (json_integer_value(json_object_get(inst, "owner")) != expect)
		return snprintf(err, errlen, "'%s' changed owner meanwhile", name), false;
	if (!cstate_node(cs, (uint32_t)to))
		return snprintf(err, errlen, "no node %lld", (long long)to), false;
	json_object_set_new(inst, "owner", json_integer(to));
	return true;
}

/* A load balancer (daemon/lb.c checked the definition), run by `owner`. */
static bool op_lb_put(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name");
	json_t *def = json_object_get(m, "definition");
	json_int_t owner = json_integer_value(json_object_get(m, "owner"));
	if (!name || !json_is_object(def))
		return snprintf(err, errlen, "a load balancer needs a name and a definition"), false;
	if (!cstate_node(cs, (uint32_t)owner))
		return snprintf(err, errlen, "no node %lld", (long long)owner), false;
	json_t *lbs = json_object_get(cs->state, "lbs");
	if (!lbs) json_object_set_new(cs->state, "lbs", lbs = json_object());
	if (json_object_get(lbs, name))
		return snprintf(err, errlen, "a load balancer named '%s' exists", name), false;
	json_object_set_new(lbs, name, json_pack("{s:O, s:I}", "definition", def, "owner", owner));
	return true;
}

/* Hands a load balancer to another node (evacuation). */
static bool op_lb_owner(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name");
	json_t *lb = name ? json_object_get(json_object_get(cs->state, "lbs"), name) : NULL;
	json_int_t to = json_integer_value(json_object_get(m, "owner"));
	if (!lb) return snprintf(err, errlen, "no load balancer named '%s'", name ? name : ""), false;
	if (json_integer_value(json_object_get(lb, "owner")) !=
	    json_integer_value(json_object_get(m, "expect")))
		return snprintf(err, errlen, "'%s' changed owner meanwhile", name), false;
	if (!cstate_node(cs, (uint32_t)to))
		return snprintf(err, errlen, "no node %lld", (long long)to), false;
	json_object_set_new(lb, "owner", json_integer(to));
	return true;
}

static bool op_lb_rm(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *name = str_arg(m, "name");
	json_t *lbs = json_object_get(cs->state, "lbs");
	if (!name || !json_object_get(lbs, name))
		return snprintf(err, errlen, "no load balancer named '%s'", name ? name : ""), false;
	json_object_del(lbs, name);
	return true;
}

/* A cluster-wide setting (only known keys). */
static bool op_set(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *key = str_arg(m, "key");
	json_t *value = json_object_get(m, "value");
	if (!key || strcmp(key, "auto_balance") || !json_is_boolean(value))
		return snprintf(err, errlen, "settings: auto_balance (true or false)"), false;
	json_t *settings = json_object_get(cs->state, "settings");
	if (!settings) json_object_set_new(cs->state, "settings", settings = json_object());
	json_object_set(settings, key, value);
	return true;
}

static bool op_token(struct cstate *cs, uint32_t from, json_t *m, char *err, size_t errlen, json_t **data)
{
	(void)from, (void)data;
	const char *token = str_arg(m, "token");
	if (!token || strlen(token) < 32)
		return snprintf(err, errlen, "a join token has 32 characters or more"), false;
	json_object_set_new(cs->state, "token", json_string(token));
	return true;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
    {"node-add", op_node_add}, {"node-rm", op_node_rm}, {"inst-put", op_inst_put}, {"inst-rm", op_inst_rm},
    {"ha-set", op_ha_set},     {"ha-rm", op_ha_rm},     {"recover", op_recover},   {"owner", op_owner},
    {"token", op_token},       {"lb-put", op_lb_put},   {"lb-rm", op_lb_rm},       {"lb-owner", op_lb_owner},
    {"set", op_set},
};

static void on_op(struct cstate *cs, uint32_t from, json_t *m)
{
	const char *name = json_string_value(json_object_get(m, "op"));
	uint64_t req = (uint64_t)json_integer_value(json_object_get(m, "req"));
	char err[256] = "";
	json_t *data = NULL;
	bool ok = false;
	if (!cs->synced || cs->broken) {
		/* Not in step with the others: this host leaves the change to the sync that follows. */
		snprintf(err, sizeof(err), "this host's cluster state is being synchronised: try again");
	} else if (!cstate_majority(cs)) {
		snprintf(err, sizeof(err), "no quorum: %zu of %zu nodes are in the group", cs->nmembers,
		         cstate_node_count(cs));
	} else {
		op_fn fn = NULL;
		for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
			if (!strcmp(ops[i].name, name)) fn = ops[i].fn;
		if (!fn) {
			snprintf(err, sizeof(err), "unknown operation '%s'", name ? name : "");
		} else {
			json_t *before = json_deep_copy(cs->state);
			ok = fn(cs, from, m, err, sizeof(err), &data);
			if (ok) {
				json_object_set_new(cs->state, "version",
				                    json_integer((json_int_t)cstate_version(cs) + 1));
				if (!persist_and_notify(cs, name, m)) {
					ok = false;
					snprintf(err, sizeof(err),
					         "cannot store the cluster state on this host");
				}
			} else if (before) {
				json_decref(cs->state); /* a refused operation leaves no trace */
				cs->state = before;
				before = NULL;
			}
			json_decref(before);
		}
	}
	if (from == cs->self && cs->hooks.result) cs->hooks.result(cs->hooks.ctx, req, ok, err, data);
	json_decref(data);
}

bool cstate_deliver(struct cstate *cs, uint32_t from, const char *buf, size_t len)
{
	json_t *m = json_loadb(buf, len, 0, NULL);
	const char *t = json_string_value(json_object_get(m, "t"));
	bool known = true;
	if (!t)
		known = false;
	else if (!strcmp(t, "offer"))
		on_offer(cs, from, m);
	else if (!strcmp(t, "state"))
		on_state(cs, from, m);
	else if (!strcmp(t, "op") && cs->state)
		on_op(cs, from, m);
	else
		known = false;
	json_decref(m);
	return known;
}
