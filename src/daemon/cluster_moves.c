/*
 * cluster_moves.c — moving instances between the cluster's hosts: evacuating
 * a host, balancing load (on request or, on the leader, automatically), and
 * making an instance here to receive one by live migration.
 */
#define _GNU_SOURCE
#include "daemon/cluster_internal.h"

#include "daemon/api_internal.h"
#include "util/clock.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One API request, answered here or by the host `node` (forwarded); the answer's JSON in *out. False
 * with err set when it failed (a status of 300 or more). */
static bool call(struct daemon *d, uint32_t node, const char *method, const char *path, json_t *body,
                 json_t **out, char *err, size_t errlen)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *b = text ? text : "";
	struct http_response r = {0};
	if (node == cluster_self(d) || !cluster_forward_to(d, node, path, method, path, b, strlen(b), &r))
		api_handle(d, method, path, b, strlen(b), &r);
	free(text);
	json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	bool ok = r.status > 0 && r.status < 300;
	if (!ok)
		snprintf(err, errlen, "%s %s: %s", method, path,
		         json_string_value(json_object_get(j, "error")) ?: (r.body ? r.body : "no answer"));
	free(r.body);
	if (out)
		*out = j;
	else
		json_decref(j);
	return ok;
}

/* Waits for the operation an answer names (on whichever host runs it). */
static bool wait_operation(struct daemon *d, json_t *answer, char *err, size_t errlen)
{
	json_t *op = json_object_get(answer, "operation");
	json_int_t id = json_integer_value(json_object_get(op, "id"));
	json_int_t node = json_integer_value(json_object_get(op, "node"));
	if (!id) return true;
	for (int i = 0; i < 40; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/v1/operations/%lld%s%.0lld?wait=15", (long long)id,
		         node ? "@" : "", (long long)node);
		json_t *now = NULL;
		if (!call(d, cluster_self(d), "GET", path, NULL, &now, err, errlen)) return false;
		const char *status = json_string_value(json_object_get(now, "status"));
		if (status && strcmp(status, "running")) {
			bool ok = !strcmp(status, "success");
			if (!ok)
				snprintf(err, errlen, "%s",
				         json_string_value(json_object_get(now, "error")) ?: "failed");
			json_decref(now);
			return ok;
		}
		json_decref(now);
	}
	snprintf(err, errlen, "operation %lld did not end within 10 minutes", (long long)id);
	return false;
}

/* Moves one instance off `from` to the least loaded other member: a running VM by live migration
 * (shared storage), anything else by handing it over stopped (a running container is stopped on `from`
 * and started on the target). */
static bool move_instance(struct daemon *d, const char *name, uint32_t from, uint32_t to, char *err,
                          size_t errlen)
{
	struct cluster *c = d->cluster;
	char to_addr[64];
	pthread_mutex_lock(&c->lock);
	snprintf(to_addr, sizeof(to_addr), "%s",
	         json_string_value(json_object_get(cstate_node(&c->cs, to), "addr")) ?: "");
	pthread_mutex_unlock(&c->lock);
	char path[256];
	json_t *info = NULL;
	snprintf(path, sizeof(path), "/v1/instances/%s", name);
	if (!call(d, from, "GET", path, NULL, &info, err, errlen)) return false;
	const char *state = json_string_value(json_object_get(json_object_get(info, "status"), "state"));
	bool vm = !strcmp(json_string_value(json_object_get(info, "type")) ?: "", "vm");
	bool running = state && !strcmp(state, "running");
	json_decref(info);
	bool ok = true;
	json_t *ans = NULL, *recv_ans = NULL, *body;
	if (vm && running) {
		char listen[96];
		snprintf(listen, sizeof(listen), "%s:%u", to_addr,
		         47000 + (unsigned)(monotonic_ns() / 1000 % 9000));
		body = json_pack("{s:s}", "name", name);
		ok = call(d, to, "POST", "/v1/cluster/arrive", body, NULL, err, errlen);
		json_decref(body);
		snprintf(path, sizeof(path), "/v1/instances/%s/receive", name);
		body = json_pack("{s:s, s:i}", "listen", listen, "timeout", 120);
		ok = ok && call(d, to, "POST", path, body, &recv_ans, err, errlen);
		json_decref(body);
		snprintf(path, sizeof(path), "/v1/instances/%s/migrate", name);
		body = json_pack("{s:s}", "to", listen);
		/* The destination's VM process opens its port a moment after the receive began: a refused
		 * connection (the source runs on) is tried again. */
		bool sent = false;
		for (int tries = 0; ok && !sent && tries < 25; tries++) {
			json_decref(ans);
			ans = NULL;
			sent = call(d, from, "POST", path, body, &ans, err, errlen) &&
			       wait_operation(d, ans, err, errlen);
			if (!sent && !strstr(err, "refused")) break;
			if (!sent) usleep(200000);
		}
		ok = ok && sent && wait_operation(d, recv_ans, err, errlen);
		json_decref(body);
		json_decref(ans);
		json_decref(recv_ans);
		if (!ok) return false;
	} else if (running) {
		snprintf(path, sizeof(path), "/v1/instances/%s/stop", name);
		if (!call(d, from, "POST", path, NULL, &ans, err, errlen) ||
		    !wait_operation(d, ans, err, errlen)) {
			json_decref(ans);
			return false;
		}
		json_decref(ans);
	}
	struct error e;
	json_t *args =
	    json_pack("{s:s, s:I, s:I}", "name", name, "owner", (json_int_t)to, "expect", (json_int_t)from);
	ok = cluster_propose(c, "owner", args, NULL, &e);
	json_decref(args);
	if (!ok) return snprintf(err, errlen, "%s", e.msg), false;
	if (running && !vm) { /* the target makes it at its next tick, then starts it */
		snprintf(path, sizeof(path), "/v1/instances/%s/start", name);
		ok = false;
		for (int i = 0; i < 50 && !ok; i++) {
			ok = call(d, to, "POST", path, NULL, &ans, err, errlen) &&
			     wait_operation(d, ans, err, errlen);
			json_decref(ans);
			ans = NULL;
			if (!ok) usleep(100000);
		}
	}
	log_info("cluster: moved %s from node %u to node %u", name, from, to);
	return ok;
}

static bool evacuate_one(struct daemon *d, const char *name, uint32_t from, char *err, size_t errlen)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	long count[CLUSTER_MAX_NODES];
	cluster_owned_counts(c, count);
	size_t best = cluster_least_loaded(c, count, from);
	uint32_t to = best == SIZE_MAX ? 0 : c->cs.members[best];
	pthread_mutex_unlock(&c->lock);
	if (!to) return snprintf(err, errlen, "no other host to move '%s' to", name), false;
	return move_instance(d, name, from, to, err, errlen);
}

/* ---- balancing ---- */

/* Moves that even out the members' load: the vCPUs of their running VMs, as their heartbeats say
 * (cluster lock held). Greedy: from the most loaded to the least, a VM smaller than the gap, while the
 * gap is `threshold` vCPUs or more, so a move always narrows it and nothing ping-pongs. New reference:
 * [{"name", "from", "to"}]. */
static json_t *plan_balance(struct cluster *c, json_int_t threshold)
{
	json_t *plan = json_array();
	json_int_t load[CLUSTER_MAX_NODES] = {0};
	json_t *vms[CLUSTER_MAX_NODES];
	for (size_t m = 0; m < c->cs.nmembers; m++) {
		char key[16];
		snprintf(key, sizeof(key), "%u", c->cs.members[m]);
		vms[m] = json_deep_copy(json_object_get(json_object_get(c->peers, key), "vms"));
		if (!vms[m]) vms[m] = json_object();
		const char *n;
		json_t *cpus;
		json_object_foreach(vms[m], n, cpus) load[m] += json_integer_value(cpus);
	}
	for (int round = 0; round < 64 && c->cs.nmembers > 1; round++) {
		size_t hi = 0, lo = 0;
		for (size_t m = 1; m < c->cs.nmembers; m++) {
			if (load[m] > load[hi]) hi = m;
			if (load[m] < load[lo]) lo = m;
		}
		json_int_t gap = load[hi] - load[lo];
		if (gap < threshold) break;
		const char *pick = NULL, *n;
		json_int_t pick_cpus = 0;
		json_t *cpus;
		json_object_foreach(vms[hi], n, cpus)
		{
			json_int_t k = json_integer_value(cpus);
			if (k < gap && k > pick_cpus) { /* the biggest that narrows the gap */
				pick = n;
				pick_cpus = k;
			}
		}
		if (!pick) break;
		json_array_append_new(plan, json_pack("{s:s, s:I, s:I}", "name", pick, "from",
		                                      (json_int_t)c->cs.members[hi], "to",
		                                      (json_int_t)c->cs.members[lo]));
		load[hi] -= pick_cpus;
		load[lo] += pick_cpus;
		json_object_set_new(vms[lo], pick, json_integer(pick_cpus));
		json_object_del(vms[hi], pick);
	}
	for (size_t m = 0; m < c->cs.nmembers; m++) json_decref(vms[m]);
	return plan;
}

/* Ends an evacuation's or a balancing's operation: failed moves, the first one's reason. */
static void finish_moves(struct daemon *d, struct op *op, size_t failed, const char *first)
{
	pthread_mutex_lock(&d->lock);
	op_end(op, !failed, "%zu not moved; first: %.400s", failed, first);
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

struct balancing {
	struct daemon *d;
	struct op *op;
	json_t *plan;
};

static void *balance_thread(void *arg)
{
	struct balancing *b = arg;
	struct daemon *d = b->d;
	char err[512], first[512] = "";
	size_t i, failed = 0;
	json_t *mv;
	b->op->progress_total = json_array_size(b->plan);
	json_array_foreach(b->plan, i, mv)
	{
		const char *name = json_string_value(json_object_get(mv, "name"));
		if (!move_instance(d, name, (uint32_t)json_integer_value(json_object_get(mv, "from")),
		                   (uint32_t)json_integer_value(json_object_get(mv, "to")), err,
		                   sizeof(err))) {
			log_error("cluster: balancing %s: %s", name, err);
			if (!failed++) snprintf(first, sizeof(first), "%.60s: %.400s", name, err);
		}
		b->op->progress_done = i + 1;
	}
	finish_moves(d, b->op, failed, first);
	json_decref(b->plan);
	free(b);
	return NULL;
}

/* Starts a balancing pass (lock held); the operation, or NULL when there is nothing to move. */
static struct op *start_balance(struct daemon *d, json_t *plan)
{
	struct balancing *b = calloc(1, sizeof(*b));
	struct op *op = b ? op_new(d, "balance", "") : NULL;
	if (!op) {
		free(b);
		json_decref(plan);
		return NULL;
	}
	snprintf(op->resource, sizeof(op->resource), "cluster");
	*b = (struct balancing){d, op, plan};
	if (!spawn_detached(balance_thread, b)) {
		op_end(op, false, "cannot start a thread");
		json_decref(plan);
		free(b);
	}
	return op;
}

#define BALANCE_THRESHOLD 2 /* vCPUs of difference between the most and the least loaded host */

void cluster_balance_request(struct daemon *d, json_t *body, struct http_response *r)
{
	struct cluster *c = d->cluster;
	json_t *autoj = json_object_get(body, "auto");
	if (autoj) {
		if (!json_is_boolean(autoj)) return api_fail(r, ERR_INVALID, "auto: true or false");
		struct error e;
		json_t *args = json_pack("{s:s, s:O}", "key", "auto_balance", "value", autoj);
		bool ok = cluster_propose_unlocked(d, "set", args, NULL, &e);
		json_decref(args);
		if (!ok) return api_fail_error(r, &e);
		return api_reply(r, 200, json_pack("{s:O}", "auto", autoj));
	}
	pthread_mutex_lock(&c->lock);
	json_t *plan = plan_balance(c, BALANCE_THRESHOLD);
	pthread_mutex_unlock(&c->lock);
	if (!json_array_size(plan)) {
		json_decref(plan);
		return api_reply(r, 200, json_pack("{s:[]}", "moves"));
	}
	json_t *moves = json_deep_copy(plan);
	struct op *op = start_balance(d, plan);
	if (!op) {
		json_decref(moves);
		return api_fail(r, ERR_INTERNAL, "out of memory");
	}
	api_reply(r, 202, json_pack("{s:o, s:o}", "moves", moves, "operation", op_json(op)));
}

/* The leader's automatic balancing (cluster lock NOT held, daemon lock held): a pass when the same
 * imbalance showed at two checks 10 s apart and no pass runs. */
void cluster_auto_balance(struct cluster *c)
{
	static uint64_t last_check;
	static int seen;
	uint64_t now = monotonic_ns();
	if (now - last_check < 10000000000ULL) return;
	last_check = now;
	pthread_mutex_lock(&c->lock);
	bool leader =
	    cstate_writable(&c->cs) && c->quorate && c->cs.nmembers && c->cs.members[0] == c->cs.self;
	bool on = json_is_true(json_object_get(json_object_get(c->cs.state, "settings"), "auto_balance"));
	json_t *plan = leader && on ? plan_balance(c, BALANCE_THRESHOLD) : json_array();
	pthread_mutex_unlock(&c->lock);
	for (struct op *op = c->d->ops; op; op = op->next)
		if (!strcmp(op->kind, "balance") && !strcmp(op->status, "running"))
			seen = -1; /* one at a time */
	seen = json_array_size(plan) ? seen + 1 : 0;
	if (seen >= 2) {
		log_info("cluster: the hosts' load stayed uneven: balancing (%zu moves)",
		         json_array_size(plan));
		start_balance(c->d, plan);
		seen = 0;
	} else {
		json_decref(plan);
	}
}

struct evacuation {
	struct daemon *d;
	struct op *op;
	uint32_t node;
};

static void *evacuate_thread(void *arg)
{
	struct evacuation *ev = arg;
	struct daemon *d = ev->d;
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	json_t *names = json_array();
	const char *name;
	json_t *ci;
	json_object_foreach(json_object_get(c->cs.state, "instances"), name, ci)
	{
		if ((uint32_t)json_integer_value(json_object_get(ci, "owner")) == ev->node)
			json_array_append_new(names, json_string(name));
	}
	pthread_mutex_unlock(&c->lock);
	char err[512] = "", first[512] = "";
	size_t i, failed = 0;
	json_t *n;
	ev->op->progress_total = json_array_size(names);
	json_array_foreach(names, i, n)
	{
		if (!evacuate_one(d, json_string_value(n), ev->node, err, sizeof(err))) {
			log_error("cluster: evacuating %s: %s", json_string_value(n), err);
			if (!failed++)
				snprintf(first, sizeof(first), "%.60s: %.400s", json_string_value(n), err);
		}
		ev->op->progress_done = i + 1;
	}
	json_decref(names);
	/* Its load balancers: the new host takes their addresses when the state names it. */
	pthread_mutex_lock(&c->lock);
	json_t *lbs = json_object();
	json_object_foreach(json_object_get(c->cs.state, "lbs"), name, ci)
	{
		if ((uint32_t)json_integer_value(json_object_get(ci, "owner")) != ev->node) continue;
		long count[CLUSTER_MAX_NODES];
		cluster_owned_counts(c, count);
		size_t best = cluster_least_loaded(c, count, ev->node);
		if (best != SIZE_MAX) json_object_set_new(lbs, name, json_integer(c->cs.members[best]));
	}
	pthread_mutex_unlock(&c->lock);
	json_object_foreach(lbs, name, n)
	{
		struct error e;
		json_t *args =
		    json_pack("{s:s, s:O, s:I}", "name", name, "owner", n, "expect", (json_int_t)ev->node);
		if (!cluster_propose(c, "lb-owner", args, NULL, &e) && !failed++)
			snprintf(first, sizeof(first), "load balancer %.60s: %.400s", name, e.msg);
		json_decref(args);
	}
	json_decref(lbs);
	finish_moves(d, ev->op, failed, first);
	free(ev);
	return NULL;
}

void cluster_evacuate_request(struct daemon *d, json_t *body, struct http_response *r)
{
	struct cluster *c = d->cluster;
	const char *node = json_string_value(json_object_get(body, "node"));
	if (!node) return api_fail(r, ERR_INVALID, "expected {\"node\": NAME}: the host to empty");
	pthread_mutex_lock(&c->lock);
	uint32_t id = 0;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(c->cs.state, "nodes"), i, n)
	{
		if (!strcmp(json_string_value(json_object_get(n, "name")) ?: "", node))
			id = (uint32_t)json_integer_value(json_object_get(n, "id"));
	}
	bool online = id && cstate_is_member(&c->cs, id);
	pthread_mutex_unlock(&c->lock);
	if (!id) return api_fail(r, ERR_NOT_FOUND, "no node named '%s' in the cluster", node);
	if (!online)
		return api_fail(r, ERR_UNAVAILABLE,
		                "'%s' is not in the group: its HA instances fail over by themselves", node);
	struct evacuation *ev = calloc(1, sizeof(*ev));
	struct op *op = ev ? op_new(d, "evacuate", "") : NULL;
	if (!op) {
		free(ev);
		return api_fail(r, ERR_INTERNAL, "out of memory");
	}
	snprintf(op->resource, sizeof(op->resource), "cluster/nodes/%s", node);
	*ev = (struct evacuation){d, op, id};
	if (!spawn_detached(evacuate_thread, ev)) {
		op_end(op, false, "cannot start a thread");
		free(ev); /* else evacuate_thread frees it */
	}
	api_reply(r, 202, json_pack("{s:o}", "operation", op_json(op)));
}

/* Makes an instance the cluster knows here, to receive it by live migration from its owner. */
void cluster_arrive_request(struct daemon *d, json_t *body, struct http_response *r)
{
	struct cluster *c = d->cluster;
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name) return api_fail(r, ERR_INVALID, "expected {\"name\"}");
	if (daemon_find(d, name)) return api_fail(r, ERR_EXISTS, "'%s' exists on this host", name);
	pthread_mutex_lock(&c->lock);
	json_t *ci = json_deep_copy(cstate_instance(&c->cs, name));
	pthread_mutex_unlock(&c->lock);
	if (!ci) return api_fail(r, ERR_NOT_FOUND, "no instance named '%s' in the cluster", name);
	struct inst_def def;
	struct error e = {.code = ERR_INVALID};
	struct instance *in = NULL;
	if (inst_def_from_json(json_object_get(ci, "definition"), &def, e.msg, sizeof(e.msg)))
		in = daemon_create_instance(d, &def, &e);
	if (in) {
		in->arriving = monotonic_ns();
		cluster_set_ha(
		    d, in, json_object_get(ci, "ha") != NULL); /* then it runs here under this host's lease */
	}
	json_decref(ci);
	if (!in) return api_fail_error(r, &e);
	api_reply(r, 201, json_pack("{s:s}", "name", name));
}
