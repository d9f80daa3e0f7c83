/*
 * cluster.c — see cluster.h. One thread owns the corosync connection: it
 * polls CPG and votequorum, feeds the replicated state machine, sends what
 * it queued (the outbox), heartbeats, and every tick reconciles this host's
 * instances with the state (start what it now owns, kill what it lost or
 * may no longer run). A second thread answers joins. Lock order: the
 * daemon's lock, then the cluster's; the cluster thread only ever tries the
 * daemon's lock, so an API request waiting on the cluster never deadlocks.
 */
#define _GNU_SOURCE
#include "daemon/cluster.h"
#include "daemon/cluster_internal.h"

#include "cluster/corosync.h"
#include "cluster/corosync_conf.h"
#include "cluster/cstate.h"
#include "cluster/join.h"
#include "cluster/store.h"
#include "daemon/api.h"
#include "daemon/api_internal.h"
#include "daemon/driver.h"
#include "daemon/replica.h"
#include "daemon/spawn.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/lease.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the state machine's hooks (cluster lock held) ---- */

static void hook_send(void *ctx, json_t *msg)
{
	struct cluster *c = ctx;
	json_array_append_new(c->outbox, msg);
}

static void hook_result(void *ctx, uint64_t req, bool ok, const char *msg, json_t *data)
{
	struct cluster *c = ctx;
	for (struct pending *p = c->pending; p; p = p->next) {
		if (p->req != req) continue;
		p->done = true;
		p->ok = ok;
		snprintf(p->msg, sizeof(p->msg), "%s", msg);
		p->data = data ? json_incref(data) : NULL;
		pthread_cond_broadcast(&c->cond);
	}
}

static void hook_changed(void *ctx, const char *op, json_t *args)
{
	(void)args;
	struct cluster *c = ctx;
	if (!strcmp(op, "node-add") || !strcmp(op, "node-rm") || !strcmp(op, "sync")) c->conf_dirty = true;
	if (strcmp(op, "sync"))
		log_info("cluster: applied %s (version %llu)", op,
		         (unsigned long long)cstate_version(&c->cs));
}

static bool hook_persist(void *ctx, const json_t *state)
{
	struct cluster *c = ctx;
	char err[256];
	if (cluster_store_save(c->store, state, err, sizeof(err))) return true;
	log_error("cluster: %s: this host stops applying changes", err);
	return false;
}

/* ---- corosync's callbacks (cluster lock held: they run inside dispatch) ---- */

static size_t gone_index(struct cluster *c, uint32_t node, bool add)
{
	for (size_t i = 0; i < c->ngone; i++)
		if (c->gone[i].node == node) return i;
	if (!add || c->ngone == MAX_GONE) return SIZE_MAX;
	c->gone[c->ngone].node = node;
	c->gone[c->ngone].left_at = monotonic_ns();
	c->gone[c->ngone].proposed_at = 0;
	return c->ngone++;
}

static void on_confchg(void *ctx, const uint32_t *members, size_t n)
{
	struct cluster *c = ctx;
	/* Nodes that just left start their fencing clock now; nodes back in the group stop it. */
	for (size_t i = 0; i < c->cs.nmembers; i++) {
		bool still = false;
		for (size_t j = 0; j < n; j++) still |= members[j] == c->cs.members[i];
		if (!still) {
			size_t g = gone_index(c, c->cs.members[i], true);
			if (g != SIZE_MAX) c->gone[g].left_at = monotonic_ns();
			log_warn("cluster: node %u left the group", c->cs.members[i]);
		}
	}
	for (size_t j = 0; j < n; j++) {
		size_t g = gone_index(c, members[j], false);
		if (g != SIZE_MAX) c->gone[g] = c->gone[--c->ngone];
	}
	cstate_confchg(&c->cs, members, n);
	log_info("cluster: %zu member(s) in the group, %s", n,
	         cstate_majority(&c->cs) ? "a majority" : "NOT a majority");
}

/* ---- requests about instances on other hosts ---- */

struct fwd_job {
	struct cluster *c;
	uint32_t from;
	json_t *req;
};

/* A JSON string of any bytes: invalid UTF-8 becomes '?' (answers are JSON or text). */
static json_t *text_json(const char *buf, size_t len)
{
	json_t *j = json_stringn(buf, len);
	if (j) return j;
	char *copy = malloc(len + 1);
	if (!copy) return json_string("");
	for (size_t i = 0; i < len; i++) copy[i] = (buf[i] & 0x80) || !buf[i] ? '?' : buf[i];
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

static __thread bool serving_forwarded; /* a forwarded request is answered here, never sent on */

static void *forwarded_thread(void *arg)
{
	struct fwd_job *job = arg;
	serving_forwarded = true;
	struct cluster *c = job->c;
	const char *method = json_string_value(json_object_get(job->req, "method"));
	const char *path = json_string_value(json_object_get(job->req, "path"));
	const char *body = json_string_value(json_object_get(job->req, "body"));
	struct http_response r = {0};
	if (method && path && body &&
	    (!strncmp(path, "/v1/instances/", 14) || !strncmp(path, "/v1/operations/", 15) ||
	     !strcmp(path, "/v1/cluster/arrive")))
		api_handle(c->d, method, path, body, strlen(body), &r);
	else
		api_fail(&r, ERR_INVALID, "malformed forwarded request");
	if (r.takeover) { /* a console cannot travel through the group */
		free(r.body);
		r = (struct http_response){0};
		api_fail(&r, ERR_METHOD, "attach to the console on the host the instance runs on");
	}
	json_t *reply =
	    json_pack("{s:s, s:I, s:I, s:i, s:o, s:s}", "t", "fwd-reply", "to", (json_int_t)job->from, "id",
	              json_integer_value(json_object_get(job->req, "id")), "status", r.status, "body",
	              text_json(r.body ? r.body : "", r.body ? strlen(r.body) : 0), "content_type",
	              r.content_type ? r.content_type : "");
	free(r.body);
	pthread_mutex_lock(&c->lock);
	if (reply) json_array_append_new(c->outbox, reply);
	pthread_mutex_unlock(&c->lock);
	json_decref(job->req);
	free(job);
	return NULL;
}

static void serve_forwarded(struct cluster *c, uint32_t from, json_t *m)
{
	struct fwd_job *job = malloc(sizeof(*job));
	if (!job) return;
	*job = (struct fwd_job){c, from, json_incref(m)};
	if (!spawn_detached(forwarded_thread, job)) {
		json_decref(m);
		free(job);
	}
}

static void take_reply(struct cluster *c, json_t *m)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(m, "id"));
	for (struct fwd_wait *w = c->fwd_waits; w; w = w->next) {
		if (w->id != id || w->done) continue;
		w->done = true;
		w->status = (int)json_integer_value(json_object_get(m, "status"));
		w->body = strdup(json_string_value(json_object_get(m, "body")) ?: "");
		const char *ct = json_string_value(json_object_get(m, "content_type"));
		w->content_type = ct && *ct ? strdup(ct) : NULL;
		pthread_cond_broadcast(&c->cond);
	}
}

static void on_deliver(void *ctx, uint32_t node, const void *msg, size_t len)
{
	struct cluster *c = ctx;
	json_t *m = json_loadb(msg, len, 0, NULL);
	const char *t = json_string_value(json_object_get(m, "t"));
	if (t && !strcmp(t, "hb")) {
		char key[16];
		snprintf(key, sizeof(key), "%u", node);
		json_object_set(c->peers, key, m);
		/* Our own heartbeat, delivered in a synchronised majority group that corosync calls
		 * quorate: this host may run its HA guests for one more lease, counted from when the
		 * heartbeat was sent (a delivery this thread reads late must not stretch it). */
		uint64_t sent = (uint64_t)json_integer_value(json_object_get(m, "sent"));
		if (node == c->cs.self && sent && cstate_writable(&c->cs) && c->quorate &&
		    sent + CLUSTER_LEASE_NS > c->renewed_until) {
			c->renewed_until = sent + CLUSTER_LEASE_NS;
			lease_set(&c->lease, c->renewed_until);
		}
	} else if (t && !strcmp(t, "fwd")) {
		if ((uint32_t)json_integer_value(json_object_get(m, "to")) == c->cs.self)
			serve_forwarded(c, node, m);
	} else if (t && !strcmp(t, "fwd-reply")) {
		if ((uint32_t)json_integer_value(json_object_get(m, "to")) == c->cs.self) take_reply(c, m);
	} else {
		cstate_deliver(&c->cs, node, msg, len);
	}
	json_decref(m);
}

static void on_quorum(void *ctx, bool quorate)
{
	struct cluster *c = ctx;
	if (c->quorate != quorate) log_warn("cluster: this host is %s", quorate ? "quorate" : "NOT quorate");
	c->quorate = quorate;
}

/* ---- corosync, the process ---- */

static void corosync_start(struct cluster *c)
{
	if (c->corosync_pid > 0 && waitpid(c->corosync_pid, NULL, WNOHANG) == 0) return; /* still starting */
	c->corosync_pid = 0;
	const char *exe = getenv("CLOISON_COROSYNC");
	if (!exe) exe = access("/usr/sbin/corosync", X_OK) == 0 ? "/usr/sbin/corosync" : "corosync";
	char conf[PATH_MAX + 32], log[PATH_MAX + 32], err[512];
	snprintf(conf, sizeof(conf), "%.4000s/corosync.conf", c->dir);
	snprintf(log, sizeof(log), "%.4000s/corosync.stderr", c->dir);
	char *argv[] = {(char *)exe, "-f", "-c", conf, NULL};
	struct spawn_opts so = {.stderr_path = log, .name = "corosync"};
	c->corosync_pid = daemon_spawn(exe, argv, &so, err, sizeof(err));
	if (c->corosync_pid < 0) {
		c->corosync_pid = 0;
		log_error("cluster: cannot start corosync: %s", err);
	} else {
		log_info("cluster: started corosync (pid %d)", (int)c->corosync_pid);
	}
}

static void *reload_thread(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("corosync-cfgtool", "corosync-cfgtool", "-R", (char *)NULL);
		_exit(127);
	}
	if (pid > 0) waitpid(pid, NULL, 0);
	return NULL;
}

/* Rewrites corosync.conf from the state's nodes; with `reload`, tells every corosync to read it. */
static void write_conf(struct cluster *c, bool reload)
{
	char err[512];
	if (!corosync_conf_write(c->dir, c->cs.state, err, sizeof(err))) {
		log_error("cluster: %s", err);
		return;
	}
	if (reload) spawn_detached(reload_thread, NULL);
}

/* ---- the thread ---- */

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
	if (f) fclose(f);
	return kb * 1024;
}

static void flush_outbox(struct cluster *c)
{
	while (c->link && json_array_size(c->outbox)) {
		char *text = json_dumps(json_array_get(c->outbox, 0), JSON_COMPACT);
		int rc = text ? corosync_link_send(c->link, text, strlen(text)) : 0;
		free(text);
		if (rc == 1) return; /* corosync is busy (a membership change): later */
		if (rc < 0) return;  /* lost: dispatch notices */
		json_array_remove(c->outbox, 0);
	}
}

static void link_lost(struct cluster *c)
{
	log_error("cluster: lost the connection to corosync: this host's HA guests are fenced");
	corosync_link_close(c->link);
	c->link = NULL;
	c->quorate = false;
	c->cs.synced = false;
	c->cs.nmembers = 0;
	c->renewed_until = 0;
	lease_set(&c->lease, 0);
}

static void try_connect(struct cluster *c)
{
	uint64_t now = monotonic_ns();
	if (now - c->last_connect_ns < 500000000ULL) return;
	c->last_connect_ns = now;
	static const struct corosync_events ev_template = {
	    .deliver = on_deliver, .confchg = on_confchg, .quorum = on_quorum};
	struct corosync_events ev = ev_template;
	ev.ctx = c;
	char err[512];
	c->link = corosync_link_open(GROUP, &ev, err, sizeof(err));
	if (!c->link) {
		corosync_start(c);
		return;
	}
	uint32_t id = corosync_link_nodeid(c->link);
	if (c->cs.self && id != c->cs.self)
		log_warn("cluster: corosync says this is node %u, the state says %u", id, c->cs.self);
	log_info("cluster: connected to corosync as node %u", id);
}

/* Placement (cluster lock held): how many instances each member owns (by index in members)... */
void cluster_owned_counts(struct cluster *c, long count[CLUSTER_MAX_NODES])
{
	memset(count, 0, sizeof(long) * CLUSTER_MAX_NODES);
	const char *name;
	json_t *inst;
	json_object_foreach(json_object_get(c->cs.state, "instances"), name, inst)
	{
		for (size_t m = 0; m < c->cs.nmembers; m++)
			if (json_integer_value(json_object_get(inst, "owner")) == c->cs.members[m])
				count[m]++;
	}
}

/* ...and the member to place one more on: fewest instances, then the most memory available (from its
 * last heartbeat), then the lowest id; never `exclude`. SIZE_MAX when there is none. */
size_t cluster_least_loaded(struct cluster *c, const long count[CLUSTER_MAX_NODES], uint32_t exclude)
{
	size_t best = SIZE_MAX;
	uint64_t best_mem = 0;
	for (size_t m = 0; m < c->cs.nmembers; m++) {
		if (c->cs.members[m] == exclude) continue;
		char key[16];
		snprintf(key, sizeof(key), "%u", c->cs.members[m]);
		uint64_t mem =
		    (uint64_t)json_integer_value(json_object_get(json_object_get(c->peers, key), "mem"));
		if (best == SIZE_MAX || count[m] < count[best] ||
		    (count[m] == count[best] && mem > best_mem)) {
			best = m;
			best_mem = mem;
		}
	}
	return best;
}

/* The same among the members named in `allowed` (node ids; an empty list allows all): an instance whose
 * disks are replicated restarts only where a replica is. */
static size_t least_loaded_of(struct cluster *c, const long count[CLUSTER_MAX_NODES], json_t *allowed)
{
	if (!json_array_size(allowed)) return cluster_least_loaded(c, count, 0);
	size_t best = SIZE_MAX;
	for (size_t m = 0; m < c->cs.nmembers; m++) {
		bool ok = false;
		size_t i;
		json_t *a;
		json_array_foreach(allowed, i, a) ok |= (uint32_t)json_integer_value(a) == c->cs.members[m];
		if (ok && (best == SIZE_MAX || count[m] < count[best])) best = m;
	}
	return best;
}

/* The leader hands the HA instances of nodes gone past the fencing wait to the least loaded members. */
static void recover_gone_nodes(struct cluster *c)
{
	if (!cstate_writable(&c->cs) || !c->quorate || !c->cs.nmembers || c->cs.members[0] != c->cs.self)
		return;
	uint64_t now = monotonic_ns();
	json_t *insts = json_object_get(c->cs.state, "instances");
	size_t i;
	json_t *node;
	json_array_foreach(json_object_get(c->cs.state, "nodes"), i, node)
	{
		uint32_t id = (uint32_t)json_integer_value(json_object_get(node, "id"));
		if (cstate_is_member(&c->cs, id)) continue;
		bool owns = false;
		const char *name;
		json_t *inst;
		json_object_foreach(insts, name, inst)
		{
			owns |= json_object_get(inst, "ha") &&
			        json_integer_value(json_object_get(inst, "owner")) == id;
		}
		json_object_foreach(json_object_get(c->cs.state, "lbs"), name, inst)
		{
			owns |= json_integer_value(json_object_get(inst, "owner")) == id;
		}
		if (!owns) continue;
		size_t g = gone_index(c, id, true);
		if (g == SIZE_MAX || now < c->gone[g].left_at + CLUSTER_FENCE_WAIT_NS ||
		    now < c->gone[g].proposed_at + 2000000000ULL)
			continue;
		long count[CLUSTER_MAX_NODES];
		cluster_owned_counts(c, count);
		json_t *moves = json_object();
		json_object_foreach(insts, name, inst)
		{
			if (!json_object_get(inst, "ha") ||
			    json_integer_value(json_object_get(inst, "owner")) != id)
				continue;
			size_t best = least_loaded_of(
			    c, count, json_object_get(json_object_get(inst, "ha"), "replicas"));
			if (best == SIZE_MAX) {
				log_error("cluster: %s: none of its replica hosts is in the group: it cannot "
				          "restart",
				          name);
				continue;
			}
			count[best]++;
			json_object_set_new(moves, name, json_integer(c->cs.members[best]));
		}
		log_warn("cluster: node %u has been gone %.1f s: handing its HA instances over", id,
		         (double)(now - c->gone[g].left_at) / 1e9);
		json_t *lb_moves = json_object();
		json_object_foreach(json_object_get(c->cs.state, "lbs"), name, inst)
		{
			if (json_integer_value(json_object_get(inst, "owner")) != id) continue;
			size_t best = cluster_least_loaded(c, count, 0);
			count[best]++;
			json_object_set_new(lb_moves, name, json_integer(c->cs.members[best]));
		}
		json_t *args = json_pack("{s:I, s:o, s:o}", "node", (json_int_t)id, "moves", moves,
		                         "lb_moves", lb_moves);
		json_array_append_new(c->outbox, cstate_op("recover", 0, args));
		json_decref(args);
		c->gone[g].proposed_at = now;
	}
}

static bool is_up(const struct instance *in)
{
	return in->state == ST_RUNNING || in->state == ST_PAUSED || in->state == ST_STARTING ||
	       in->state == ST_STOPPING;
}

static void fence_kill(struct daemon *d, struct instance *in, const char *why)
{
	if (in->pidfd >= 0 && is_up(in)) {
		log_warn("cluster: killing HA instance %s: %s", in->def.name, why);
		syscall(SYS_pidfd_send_signal, in->pidfd, SIGKILL, NULL, 0);
		snprintf(in->message, sizeof(in->message), "fenced: %s", why);
		daemon_save_runtime(d, in);
	}
}

void cluster_set_ha(struct daemon *d, struct instance *in, bool ha)
{
	if (in->ha == ha) return;
	in->ha = ha;
	char marker[PATH_MAX];
	inst_path(d, in, "ha", marker, sizeof(marker));
	if (ha) {
		char err[256];
		fs_write_file_atomic(marker, 0600, "", 0, err, sizeof(err));
	} else {
		unlink(marker);
	}
}

/* Brings this host's instances in line with the state (both locks' holders: see the header). */
static void reconcile(struct cluster *c)
{
	struct daemon *d = c->d;
	pthread_mutex_lock(&c->lock);
	uint32_t self = c->cs.self;
	bool synced = c->cs.synced;
	bool fenced = !c->link || !c->quorate || !cstate_majority(&c->cs);
	bool lease_ok = c->renewed_until > monotonic_ns() + CLUSTER_LEASE_NS / 4;
	json_t *insts = json_deep_copy(json_object_get(c->cs.state, "instances"));
	pthread_mutex_unlock(&c->lock);
	json_t *states = json_object(), *vms = json_object();
	for (size_t i = 0; i < d->ninsts; i++) {
		struct instance *in = d->insts[i];
		json_t *ci = json_object_get(insts, in->def.name);
		uint32_t owner = (uint32_t)json_integer_value(json_object_get(ci, "owner"));
		if (in->arriving) {
			/* Made here for a migration: ours once the state says so; dropped if it never came.
			 */
			if (ci && owner == self) {
				in->arriving = 0;
			} else {
				if (!is_up(in) && !in->busy && monotonic_ns() - in->arriving > ARRIVAL_NS) {
					log_warn("cluster: %s never arrived: dropping it here", in->def.name);
					daemon_discard_instance(d, in);
					i--;
				}
				continue;
			}
		}
		if (ci && owner != self && synced) {
			/* Moved to another host (migrated, evacuated) or taken over while this one was away:
			 * an HA copy must never run here; a stopped copy is dropped (its disks stay). */
			if (in->ha) fence_kill(d, in, "another host owns it now");
			if (!is_up(in) && !in->busy) {
				log_info("cluster: %s lives on node %u now: dropping it here", in->def.name,
				         owner);
				daemon_discard_instance(d, in);
				i--;
			}
			continue;
		}
		if (synced) cluster_set_ha(d, in, ci && owner == self && json_object_get(ci, "ha"));
		if (in->ha && fenced) fence_kill(d, in, "this host is not in a quorate majority");
		json_object_set_new(states, in->def.name, json_string(inst_state_name(in->state)));
		if (in->def.type == INST_VM && in->state == ST_RUNNING && !in->busy)
			json_object_set_new(vms, in->def.name, json_integer(in->def.vm.cfg.cpus));
	}
	const char *name;
	json_t *ci;
	json_object_foreach(insts, name, ci)
	{
		if (!synced || json_integer_value(json_object_get(ci, "owner")) != self) continue;
		bool ha = json_object_get(ci, "ha") != NULL;
		struct instance *in = daemon_find(d, name);
		if (!in && !ha) { /* handed to this host (a stopped instance evacuated): made here */
			struct inst_def def;
			struct error e;
			if (!inst_def_from_json(json_object_get(ci, "definition"), &def, e.msg,
			                        sizeof(e.msg)) ||
			    !daemon_create_instance(d, &def, &e))
				log_error("cluster: cannot make %s here: %s", name, e.msg);
			continue;
		}
		if (!ha || fenced || !lease_ok) continue;
		char err[512];
		if (!in) { /* taken over: made here from the cluster's definition */
			struct inst_def def;
			struct error e;
			bool replicated =
			    json_array_size(json_object_get(json_object_get(ci, "ha"), "replicas")) > 0;
			if (replicated && !replica_present(d, name)) {
				log_error(
				    "cluster: cannot take over %s: this host holds no replica of its disks",
				    name);
				continue;
			}
			if (!inst_def_from_json(json_object_get(ci, "definition"), &def, e.msg,
			                        sizeof(e.msg))) {
				log_error("cluster: cannot take over %s: %s", name, e.msg);
				continue;
			}
			if (replicated) /* its disks are this host's replicas now */
				for (unsigned k = 0; k < def.vm.cfg.ndisks; k++) {
					char dir[PATH_MAX];
					replica_dir(d, name, dir, sizeof(dir));
					snprintf(def.vm.cfg.disks[k].path, sizeof(def.vm.cfg.disks[k].path),
					         "%.3000s/disk%u.raw", dir, k);
					snprintf(def.vm.cfg.disks[k].format,
					         sizeof(def.vm.cfg.disks[k].format), "raw");
				}
			if (!(in = daemon_create_instance(d, &def, &e))) {
				log_error("cluster: cannot take over %s: %s", name, e.msg);
				continue;
			}
			if (replicated) { /* the state learns where its disks are now */
				json_t *args = json_pack(
				    "{s:s, s:O, s:I, s:o}", "name", name, "type", json_object_get(ci, "type"),
				    "owner", (json_int_t)self, "definition", inst_def_to_json(&in->def));
				pthread_mutex_lock(&c->lock);
				json_array_append_new(c->outbox, cstate_op("inst-put", 0, args));
				pthread_mutex_unlock(&c->lock);
				json_decref(args);
			}
			cluster_set_ha(d, in, true);
			log_info("cluster: took over %s", name);
			if (!api_start_async(d, in, err, sizeof(err)))
				log_error("cluster: cannot start %s: %s", name, err);
			continue;
		}
		if (in->state != ST_CRASHED || in->busy) continue;
		json_int_t max =
		    json_integer_value(json_object_get(json_object_get(ci, "ha"), "max_restarts"));
		json_int_t done = json_integer_value(json_object_get(c->restarts, name));
		if (done >= max) continue;
		json_object_set_new(c->restarts, name, json_integer(done + 1));
		log_warn("cluster: restarting HA instance %s (restart %lld of %lld)", name,
		         (long long)done + 1, (long long)max);
		if (!api_start_async(d, in, err, sizeof(err)))
			log_error("cluster: cannot start %s: %s", name, err);
	}
	json_decref(insts);
	pthread_mutex_lock(&c->lock);
	json_decref(c->local_states);
	c->local_states = states;
	json_decref(c->local_vms);
	c->local_vms = vms;
	pthread_mutex_unlock(&c->lock);
}

static void *cluster_thread(void *arg)
{
	struct cluster *c = arg;
	while (!c->leaving) {
		pthread_mutex_lock(&c->lock);
		if (!c->link) try_connect(c);
		int fds[2] = {-1, -1};
		if (c->link) corosync_link_fds(c->link, fds);
		pthread_mutex_unlock(&c->lock);
		struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
		poll(p, 2, TICK_MS);
		pthread_mutex_lock(&c->lock);
		if (c->link && !corosync_link_dispatch(c->link)) link_lost(c);
		uint64_t now = monotonic_ns();
		if (c->link && now - c->last_hb_ns >= CLUSTER_HEARTBEAT_NS) {
			c->last_hb_ns = now;
			json_t *hb = json_pack("{s:s, s:I, s:I, s:O, s:o}", "t", "hb", "sent",
			                       (json_int_t)now, "mem", (json_int_t)mem_available(),
			                       "instances", c->local_states, "replication", replica_status());
			if (hb)
				json_object_set_new(
				    hb, "vms", c->local_vms ? json_deep_copy(c->local_vms) : json_object());
			if (hb) json_array_append_new(c->outbox, hb);
		}
		if (c->conf_dirty && c->cs.synced) {
			c->conf_dirty = false;
			write_conf(c, true);
		}
		recover_gone_nodes(c);
		flush_outbox(c);
		pthread_mutex_unlock(&c->lock);
		if (pthread_mutex_trylock(&c->d->lock) == 0) {
			reconcile(c);
			cluster_auto_balance(c);
			pthread_mutex_unlock(&c->d->lock);
		}
	}
	return NULL;
}

/* ---- proposals ---- */

/* Waits on the cluster's condition (its lock held) for an answer, 50 ms at most. */
static void nap(struct cluster *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

/* Why this host cannot propose now (cluster lock held): NULL if it can. A host only out of step for
 * a moment (a sync after a membership change) is worth waiting for; one without quorum is not. */
static const char *cannot_propose(struct cluster *c, bool *transient)
{
	*transient = false;
	if (!c->link) return "no quorum: this host is not connected to corosync";
	if (!cstate_majority(&c->cs) || !c->quorate) return "no quorum";
	if (!c->cs.synced || c->cs.broken) {
		*transient = !c->cs.broken;
		return "the cluster state is being synchronised: try again in a moment";
	}
	return NULL;
}

/* Proposes an operation and waits for the group to apply it (cluster lock NOT held). An operation
 * refused because a membership change overtook it was refused by every host alike: it is sent again
 * once the group is in step, until the deadline. */
bool cluster_propose(struct cluster *c, const char *op, json_t *args, json_t **data, struct error *e)
{
	uint64_t deadline = monotonic_ns() + PROPOSE_TIMEOUT_NS;
	pthread_mutex_lock(&c->lock);
	struct pending p = {0};
	for (;;) {
		bool transient;
		const char *why = cannot_propose(c, &transient);
		if (why && (!transient || monotonic_ns() >= deadline)) {
			if (!strcmp(why, "no quorum"))
				err_set(
				    e, ERR_UNAVAILABLE,
				    "no quorum: %zu of %zu nodes are reachable, and changes need a majority",
				    c->cs.nmembers, cstate_node_count(&c->cs));
			else
				err_set(e, ERR_UNAVAILABLE, "%s", why);
			pthread_mutex_unlock(&c->lock);
			return false;
		}
		if (why) { /* in a moment */
			pthread_mutex_unlock(&c->lock);
			usleep(50000);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		p = (struct pending){.req = ++c->next_req, .next = c->pending};
		c->pending = &p;
		json_array_append_new(c->outbox, cstate_op(op, p.req, args));
		while (!p.done && monotonic_ns() < deadline) {
			nap(c);
		}
		for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
			if (*pp == &p) {
				*pp = p.next;
				break;
			}
		if (p.done && !p.ok && strstr(p.msg, "being synchronised") && monotonic_ns() < deadline) {
			json_decref(p.data);
			continue; /* overtaken by a membership change: again */
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	if (!p.done)
		return err_set(e, ERR_UNAVAILABLE,
		               "the cluster did not apply '%s' within 10 s (membership change?)", op);
	if (!p.ok) {
		json_decref(p.data);
		return err_set(e,
		               strstr(p.msg, "quorum") || strstr(p.msg, "synchronised") ? ERR_UNAVAILABLE
		               : strstr(p.msg, "exists") || strstr(p.msg, "already")    ? ERR_EXISTS
		                                                                        : ERR_INVALID,
		               "%s", p.msg);
	}
	if (data)
		*data = p.data;
	else
		json_decref(p.data);
	return true;
}

/* The daemon's lock is released around a proposal (it may wait seconds). */
bool cluster_propose_unlocked(struct daemon *d, const char *op, json_t *args, json_t **data, struct error *e)
{
	pthread_mutex_unlock(&d->lock);
	bool ok = cluster_propose(d->cluster, op, args, data, e);
	pthread_mutex_lock(&d->lock);
	return ok;
}

/* ---- joins ---- */

static json_t *answer_join(struct cluster *c, json_t *req, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	const char *addr = json_string_value(json_object_get(req, "addr"));
	if (!name || !addr)
		return snprintf(err, errlen, "a join request names the host and its address"), NULL;
	json_t *data = NULL;
	struct error e;
	json_t *args = json_pack("{s:s, s:s}", "name", name, "addr", addr);
	bool ok = cluster_propose(c, "node-add", args, &data, &e);
	json_decref(args);
	if (!ok) return snprintf(err, errlen, "%s", e.msg), NULL;
	json_int_t id = json_integer_value(json_object_get(data, "id"));
	json_decref(data);
	char *key = corosync_authkey_export(c->dir, err, errlen);
	if (!key) return NULL;
	/* Every member rewrote its corosync.conf when it applied node-add; this reload makes sure the
	 * last one is read before the new host's corosync knocks. */
	reload_thread(NULL);
	pthread_mutex_lock(&c->lock);
	json_t *answer = json_pack("{s:I, s:O, s:s}", "id", id, "state", c->cs.state, "authkey", key);
	pthread_mutex_unlock(&c->lock);
	free(key);
	log_info("cluster: node %s (%s) joined as node %lld", name, addr, (long long)id);
	return answer;
}

/* A connection on the join port: a new host (join token) or a member pushing a replica (cluster key). */
static json_t *answer_peer(void *ctx, bool member, json_t *req, struct join_io *io, char *err, size_t errlen)
{
	struct cluster *c = ctx;
	if (!member) return answer_join(c, req, err, errlen);
	const char *kind = json_string_value(json_object_get(req, "kind"));
	if (kind && !strcmp(kind, "replica")) return replica_receive(c->d, req, io, err, errlen);
	return snprintf(err, errlen, "unknown request"), NULL;
}

static void *join_thread(void *arg)
{
	struct cluster *c = arg;
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c->leaving) break;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) continue;
			sleep(1);
			continue;
		}
		pthread_mutex_lock(&c->lock);
		char token[128];
		snprintf(token, sizeof(token), "%s",
		         json_string_value(json_object_get(c->cs.state, "token")) ?: "");
		pthread_mutex_unlock(&c->lock);
		struct join_keys keys = {.token = (const uint8_t *)token,
		                         .token_len = strlen(token) >= 32 ? strlen(token) : 0,
		                         .cluster_key = c->key,
		                         .cluster_key_len = c->key_len};
		char err[512];
		if (!join_serve(fd, &keys, answer_peer, c, err, sizeof(err)))
			log_warn("cluster: a peer's request failed: %s", err);
		close(fd);
	}
	return NULL;
}

static bool listen_for_joins(struct cluster *c, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(JOIN_PORT))};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return snprintf(err, errlen, "'%s' is not an IPv4 address", addr), false;
	c->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(c->listen_fd, 8)) {
		snprintf(err, errlen, "cannot listen for joins on %s port %s: %s", addr, JOIN_PORT,
		         strerror(errno));
		if (c->listen_fd >= 0) close(c->listen_fd);
		return false;
	}
	return true;
}

/* ---- starting ---- */

static struct cluster *cluster_start(struct daemon *d, struct cluster_store *store, json_t *state,
                                     uint32_t self, char *err, size_t errlen)
{
	struct cluster *c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(state);
		return snprintf(err, errlen, "out of memory"), NULL;
	}
	c->d = d;
	c->store = store;
	snprintf(c->dir, sizeof(c->dir), "%.4000s/cluster", d->state_dir);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->outbox = json_array();
	c->peers = json_object();
	c->local_states = json_object();
	c->restarts = json_object();
	struct cstate_hooks hooks = {.send = hook_send,
	                             .result = hook_result,
	                             .changed = hook_changed,
	                             .persist = hook_persist,
	                             .ctx = c};
	cstate_init(&c->cs, self, state, &hooks);
	json_t *me = cstate_node(&c->cs, self);
	snprintf(c->self_name, sizeof(c->self_name), "%s",
	         json_string_value(json_object_get(me, "name")) ?: "");
	char lease_path[PATH_MAX + 16];
	snprintf(lease_path, sizeof(lease_path), "%.4000s/ha.lease", d->run_dir);
	if (!me || !lease_open(&c->lease, lease_path, err, errlen) ||
	    !listen_for_joins(c, json_string_value(json_object_get(me, "addr")), err, errlen)) {
		if (!me) snprintf(err, errlen, "node %u is not in the cluster's node list", self);
		lease_close(&c->lease);
		cstate_free(&c->cs);
		free(c);
		return NULL;
	}
	lease_set(&c->lease, 0); /* nothing runs on an old lease */
	char kerr[256];
	if (!corosync_authkey_load(c->dir, c->key, sizeof(c->key), &c->key_len, kerr, sizeof(kerr)))
		log_warn("cluster: %s: replicas cannot be pushed", kerr);
	write_conf(c, false);
	d->cluster = c;
	pthread_create(&c->thread, NULL, cluster_thread, c);
	pthread_create(&c->join_thread, NULL, join_thread, c);
	return c;
}

static struct cluster_store *open_store(struct daemon *d, char *err, size_t errlen)
{
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%.4000s/cluster", d->state_dir);
	if (!mkdir_p(dir, 0700))
		return snprintf(err, errlen, "cannot create %.300s: %s", dir, strerror(errno)), NULL;
	return cluster_store_open(dir, err, errlen);
}

bool cluster_load(struct daemon *d, char *err, size_t errlen)
{
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%.4000s/cluster/cluster.db", d->state_dir);
	if (access(dir, F_OK)) return true; /* never in a cluster */
	struct cluster_store *st = open_store(d, err, errlen);
	if (!st) return false;
	uint32_t self;
	json_t *state = cluster_store_load(st, &self, err, errlen);
	if (!state || !self) {
		cluster_store_close(st);
		json_decref(state);
		return !err[0];
	}
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->ninsts; i++) { /* which instances ran here as HA ones */
		char marker[PATH_MAX];
		inst_path(d, d->insts[i], "ha", marker, sizeof(marker));
		d->insts[i]->ha = access(marker, F_OK) == 0;
	}
	pthread_mutex_unlock(&d->lock);
	if (!cluster_start(d, st, state, self, err, errlen)) {
		cluster_store_close(st);
		return false;
	}
	log_info("cluster: member of '%s' as node %u", json_string_value(json_object_get(state, "name")),
	         self);
	return true;
}

/* ---- the API ---- */

uint32_t cluster_self(struct daemon *d)
{
	return d->cluster ? d->cluster->cs.self : 0;
}

const char *cluster_self_name(struct daemon *d)
{
	return d->cluster ? d->cluster->self_name : NULL;
}

static json_t *status_json(struct cluster *c)
{
	pthread_mutex_lock(&c->lock);
	json_t *nodes = json_array();
	size_t i;
	json_t *n;
	uint64_t now = monotonic_ns();
	json_array_foreach(json_object_get(c->cs.state, "nodes"), i, n)
	{
		uint32_t id = (uint32_t)json_integer_value(json_object_get(n, "id"));
		json_t *o = json_pack("{s:O, s:O, s:O, s:b}", "id", json_object_get(n, "id"), "name",
		                      json_object_get(n, "name"), "addr", json_object_get(n, "addr"),
		                      "online", cstate_is_member(&c->cs, id));
		size_t g = gone_index(c, id, false);
		if (g != SIZE_MAX)
			json_object_set_new(o, "gone_s", json_real((double)(now - c->gone[g].left_at) / 1e9));
		json_array_append_new(nodes, o);
	}
	json_t *j = json_pack("{s:O, s:I, s:s, s:b, s:b, s:b, s:b, s:I, s:o, s:f}", "name",
	                      json_object_get(c->cs.state, "name"), "self", (json_int_t)c->cs.self,
	                      "self_name", c->self_name, "connected", c->link != NULL, "quorate", c->quorate,
	                      "synced", c->cs.synced, "writable", cstate_writable(&c->cs) && c->quorate,
	                      "version", (json_int_t)cstate_version(&c->cs), "nodes", nodes, "lease_s",
	                      c->renewed_until > now ? (double)(c->renewed_until - now) / 1e9 : 0.0);
	pthread_mutex_unlock(&c->lock);
	return j;
}

/* Waits (daemon lock released) until this host is in the group, synchronised, quorate. */
static bool wait_in_step(struct daemon *d, int seconds)
{
	struct cluster *c = d->cluster;
	uint64_t t0 = monotonic_ns();
	bool in = false;
	pthread_mutex_unlock(&d->lock);
	while (!in && monotonic_ns() - t0 < (uint64_t)seconds * 1000000000ULL) {
		usleep(50000);
		pthread_mutex_lock(&c->lock);
		in = cstate_writable(&c->cs) && c->quorate;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&d->lock);
	return in;
}

static void create_cluster(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *addr = json_string_value(json_object_get(body, "addr"));
	const char *node = json_string_value(json_object_get(body, "node_name"));
	char host[64], token[64], err[512];
	if (!node) {
		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = 0;
		node = host;
	}
	if (!name || !addr) return api_fail(r, ERR_INVALID, "a cluster needs a name and this host's address");
	if (!join_token_new(token, sizeof(token)))
		return api_fail(r, ERR_INTERNAL, "no randomness for a token");
	json_t *state = cstate_new_cluster(name, node, addr, token);
	struct cluster_store *st = open_store(d, err, sizeof(err));
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%.4000s/cluster", d->state_dir);
	if (!st || !corosync_authkey_create(dir, err, sizeof(err)) ||
	    !corosync_conf_write(dir, state, err, sizeof(err)) ||
	    !cluster_store_save(st, state, err, sizeof(err)) ||
	    !cluster_store_set_self(st, 1, err, sizeof(err)) ||
	    !cluster_start(d, st, state, 1, err, sizeof(err))) {
		if (st) {
			char ignore[64];
			cluster_store_clear(st, ignore, sizeof(ignore));
			cluster_store_close(st);
		}
		return api_fail(r, ERR_INVALID, "%s", err);
	}
	log_info("cluster: created '%s' with this host (%s at %s) as node 1", name, node, addr);
	if (!wait_in_step(d, 30))
		return api_fail(r, ERR_UNAVAILABLE,
		                "created, but corosync did not come up within 30 s: see %s/corosync.log",
		                d->cluster->dir);
	api_reply(r, 201, json_pack("{s:s, s:s, s:i}", "name", name, "token", token, "self", 1));
}

static void join_cluster(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *peer = json_string_value(json_object_get(body, "peer"));
	const char *token = json_string_value(json_object_get(body, "token"));
	const char *addr = json_string_value(json_object_get(body, "addr"));
	const char *node = json_string_value(json_object_get(body, "node_name"));
	char host[64], err[512];
	if (!node) {
		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = 0;
		node = host;
	}
	if (!peer || !token || !addr)
		return api_fail(r, ERR_INVALID,
		                "joining needs a member's address, the join token and this host's address");
	static bool joining;
	if (joining) return api_fail(r, ERR_BUSY, "a join is under way");
	joining = true;
	json_t *req = json_pack("{s:s, s:s}", "name", node, "addr", addr);
	pthread_mutex_unlock(&d->lock);
	json_t *answer =
	    join_ask(peer, false, (const uint8_t *)token, strlen(token), req, NULL, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	joining = false;
	json_decref(req);
	if (!answer) return api_fail(r, ERR_UNAVAILABLE, "%s", err);
	char refusal[512] = "";
	if (json_object_get(answer, "error"))
		snprintf(refusal, sizeof(refusal), "%s",
		         json_string_value(json_object_get(answer, "error")) ?: "?");
	json_int_t id = json_integer_value(json_object_get(answer, "id"));
	char key[8192];
	snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(answer, "authkey")) ?: "");
	json_t *state = json_incref(json_object_get(answer, "state"));
	json_decref(answer);
	if (refusal[0] || !id || !key[0] || !json_is_object(state)) {
		json_decref(state);
		return api_fail(r, ERR_INVALID, "the cluster refused: %s",
		                refusal[0] ? refusal : "malformed answer");
	}
	if (d->cluster) {
		json_decref(state);
		return api_fail(r, ERR_EXISTS, "this host joined a cluster meanwhile");
	}
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%.4000s/cluster", d->state_dir);
	struct cluster_store *st = open_store(d, err, sizeof(err));
	if (!st || !corosync_authkey_import(dir, key, err, sizeof(err)) ||
	    !corosync_conf_write(dir, state, err, sizeof(err)) ||
	    !cluster_store_save(st, state, err, sizeof(err)) ||
	    !cluster_store_set_self(st, (uint32_t)id, err, sizeof(err)) ||
	    !cluster_start(d, st, json_incref(state), (uint32_t)id, err, sizeof(err))) {
		json_decref(state);
		if (st) cluster_store_close(st);
		return api_fail(r, ERR_INTERNAL, "%s", err);
	}
	/* Done when this host is in the group with the state in step (a majority again for everyone). */
	struct cluster *c = d->cluster;
	uint64_t t0 = monotonic_ns();
	bool in = wait_in_step(d, 30);
	if (!in) {
		json_decref(state);
		return api_fail(
		    r, ERR_UNAVAILABLE,
		    "joined, but this host is not in step with the cluster after 30 s: is corosync's "
		    "traffic (UDP 5405) let through? See %s/corosync.log",
		    c->dir);
	}
	api_reply(r, 200,
	          json_pack("{s:O, s:I, s:f}", "name", json_object_get(state, "name"), "self", id, "seconds",
	                    (double)(monotonic_ns() - t0) / 1e9));
	json_decref(state);
}

static void leave(struct daemon *d, struct http_response *r);
static void node_rm(struct daemon *d, const char *name, struct http_response *r);

void cluster_api(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                 struct http_response *r)
{
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	struct cluster *c = d->cluster;
	if (n == 2 && post) {
		if (c)
			return api_fail(r, ERR_EXISTS,
			                "this host is in cluster already (see GET /v1/cluster)");
		return create_cluster(d, body, r);
	}
	if (n == 3 && post && !strcmp(seg[2], "join")) {
		if (c) return api_fail(r, ERR_EXISTS, "this host is in a cluster already");
		return join_cluster(d, body, r);
	}
	if (!c) return api_fail(r, ERR_NOT_FOUND, "this host is in no cluster (cloison cluster create|join)");
	if (n == 2 && get) return api_reply(r, 200, status_json(c));
	if (n == 3 && post && !strcmp(seg[2], "evacuate")) return cluster_evacuate_request(d, body, r);
	if (n == 3 && post && !strcmp(seg[2], "balance")) return cluster_balance_request(d, body, r);
	if (n == 3 && post && !strcmp(seg[2], "leave")) return leave(d, r);
	if (n == 4 && !strcmp(method, "DELETE") && !strcmp(seg[2], "nodes")) return node_rm(d, seg[3], r);
	if (n == 3 && post && !strcmp(seg[2], "arrive")) return cluster_arrive_request(d, body, r);
	if (n == 3 && post && !strcmp(seg[2], "token")) {
		char token[64];
		struct error e;
		if (!join_token_new(token, sizeof(token))) return api_fail(r, ERR_INTERNAL, "no randomness");
		json_t *args = json_pack("{s:s}", "token", token);
		bool ok = cluster_propose_unlocked(d, "token", args, NULL, &e);
		json_decref(args);
		if (!ok) return api_fail_error(r, &e);
		return api_reply(r, 200, json_pack("{s:s}", "token", token));
	}
	api_fail(r, ERR_NOT_FOUND, "no such endpoint under /v1/cluster (see docs/api.md)");
}

bool cluster_register_instance(struct daemon *d, struct instance *in, struct error *e)
{
	json_t *def = inst_def_to_json(&in->def);
	json_t *args =
	    json_pack("{s:s, s:s, s:I, s:o, s:b}", "name", in->def.name, "type", inst_type_name(in->def.type),
	              "owner", (json_int_t)d->cluster->cs.self, "definition", def, "create", 1);
	inst_get(in);
	bool ok = cluster_propose_unlocked(d, "inst-put", args, NULL, e);
	json_decref(args);
	inst_put(in);
	return ok;
}

bool cluster_unregister_instance(struct daemon *d, const char *name, struct error *e)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	bool known = cstate_instance(&c->cs, name) != NULL;
	pthread_mutex_unlock(&c->lock);
	if (!known) return true;
	json_t *args = json_pack("{s:s}", "name", name);
	bool ok = cluster_propose_unlocked(d, "inst-rm", args, NULL, e);
	json_decref(args);
	return ok;
}

void cluster_list_remote(struct daemon *d, json_t *list)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	const char *name;
	json_t *ci;
	json_object_foreach(json_object_get(c->cs.state, "instances"), name, ci)
	{
		uint32_t owner = (uint32_t)json_integer_value(json_object_get(ci, "owner"));
		if (owner == c->cs.self && daemon_find(d, name)) continue;
		char key[16];
		snprintf(key, sizeof(key), "%u", owner);
		const char *state = json_string_value(
		    json_object_get(json_object_get(json_object_get(c->peers, key), "instances"), name));
		json_t *node = cstate_node(&c->cs, owner);
		json_array_append_new(
		    list, json_pack("{s:s, s:O, s:s, s:b, s:{s:s}}", "name", name, "type",
		                    json_object_get(ci, "type"), "location",
		                    json_string_value(json_object_get(node, "name")) ?: "?", "ha",
		                    json_object_get(ci, "ha") != NULL, "status", "state",
		                    state && cstate_is_member(&c->cs, owner) ? state : "unknown"));
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- /v1/ha ---- */

static json_t *ha_list(struct daemon *d)
{
	struct cluster *c = d->cluster;
	json_t *a = json_array();
	pthread_mutex_lock(&c->lock);
	const char *name;
	json_t *ci;
	json_object_foreach(json_object_get(c->cs.state, "instances"), name, ci)
	{
		json_t *ha = json_object_get(ci, "ha");
		if (!ha) continue;
		uint32_t owner = (uint32_t)json_integer_value(json_object_get(ci, "owner"));
		char key[16];
		snprintf(key, sizeof(key), "%u", owner);
		const char *state = json_string_value(
		    json_object_get(json_object_get(json_object_get(c->peers, key), "instances"), name));
		json_t *node = cstate_node(&c->cs, owner);
		json_array_append_new(
		    a, json_pack(
		           "{s:s, s:I, s:s, s:s, s:O, s:O, s:O}", "name", name, "owner", (json_int_t)owner,
		           "location", json_string_value(json_object_get(node, "name")) ?: "?", "state",
		           state && cstate_is_member(&c->cs, owner) ? state : "unknown", "group",
		           json_object_get(ha, "group"), "max_restarts", json_object_get(ha, "max_restarts"),
		           "failovers", json_object_get(ha, "failovers")));
		if (json_integer_value(json_object_get(ha, "replicate_every_ms")) > 0) {
			/* Replication as its owner last told: per target host, the delta it holds and its
			 * age. */
			json_t *rep = json_object(),
			       *from = json_object_get(
			           json_object_get(json_object_get(c->peers, key), "replication"), name);
			size_t i;
			json_t *t;
			json_array_foreach(json_object_get(ha, "replicas"), i, t)
			{
				char id[16];
				snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(t));
				json_t *st = json_object_get(from, id);
				const char *tn = json_string_value(json_object_get(
				    cstate_node(&c->cs, (uint32_t)json_integer_value(t)), "name"));
				json_object_set_new(rep, tn ? tn : id,
				                    st ? json_deep_copy(st) : json_object());
			}
			json_t *last = json_array_get(a, json_array_size(a) - 1);
			json_object_set_new(last, "replicate_every_ms",
			                    json_deep_copy(json_object_get(ha, "replicate_every_ms")));
			json_object_set_new(last, "replicas", rep);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return a;
}

static void ha_add(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *group = json_string_value(json_object_get(body, "group"));
	json_t *maxj = json_object_get(body, "max_restarts");
	struct error e;
	if (!name) return api_fail(r, ERR_INVALID, "ha add needs the instance's name");
	if (maxj && (!json_is_integer(maxj) || json_integer_value(maxj) < 0))
		return api_fail(r, ERR_INVALID, "max_restarts: a count, 0 or more");
	struct instance *in = daemon_find(d, name);
	if (!in) return api_fail(r, ERR_NOT_FOUND, "no instance named '%s' on this host", name);
	if (in->def.type != INST_VM)
		return api_fail(r, ERR_INVALID,
		                "'%s' is a container: HA guards VMs (their lease fences them)", name);
	if (is_up(in))
		return api_fail(
		    r, ERR_BUSY,
		    "'%s' is %s: stop it first (an HA guest runs under this host's lease from its start)",
		    name, inst_state_name(in->state));
	/* Replication: "to" names hosts; the state keeps their ids. */
	json_t *replica_ids = json_array();
	pthread_mutex_lock(&d->cluster->lock);
	bool known = cstate_instance(&d->cluster->cs, name) != NULL;
	size_t i, k;
	json_t *to, *node;
	const char *bad = NULL;
	json_array_foreach(json_object_get(body, "to"), i, to)
	{
		json_int_t id = 0;
		json_array_foreach(json_object_get(d->cluster->cs.state, "nodes"), k, node)
		{
			if (json_is_string(to) &&
			    !strcmp(json_string_value(json_object_get(node, "name")) ?: "",
			            json_string_value(to)))
				id = json_integer_value(json_object_get(node, "id"));
		}
		if (!id || id == (json_int_t)d->cluster->cs.self)
			bad = json_is_string(to) ? json_string_value(to) : "?";
		json_array_append_new(replica_ids, json_integer(id));
	}
	pthread_mutex_unlock(&d->cluster->lock);
	if (bad) {
		json_decref(replica_ids);
		return api_fail(r, ERR_INVALID, "replicate to '%s': not another node of the cluster", bad);
	}
	inst_get(in);
	bool ok = known || cluster_register_instance(d, in, &e);
	json_t *args = json_pack(
	    "{s:s, s:s, s:I, s:I, s:o}", "name", name, "group", group ? group : "", "max_restarts",
	    maxj ? json_integer_value(maxj) : (json_int_t)3, "replicate_every_ms",
	    json_integer_value(json_object_get(body, "replicate_every_ms")), "replicas", replica_ids);
	ok = ok && cluster_propose_unlocked(d, "ha-set", args, NULL, &e);
	json_decref(args);
	bool removed = in->removed;
	inst_put(in);
	if (!ok) return api_fail_error(r, &e);
	if (removed) return api_fail(r, ERR_NOT_FOUND, "'%s' was removed meanwhile", name);
	/* The HA manager keeps it running: started now, under the lease. */
	cluster_set_ha(d, in, true);
	char err[512];
	if (!api_start_async(d, in, err, sizeof(err))) return api_fail(r, ERR_BUSY, "%s", err);
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", name, "ha", 1));
}

void ha_api(struct daemon *d, const char *method, char **seg, int n, json_t *body, struct http_response *r)
{
	if (!d->cluster) return api_fail(r, ERR_NOT_FOUND, "this host is in no cluster: HA needs one");
	bool get = !strcmp(method, "GET");
	if (n == 2 && get) return api_reply(r, 200, ha_list(d));
	if (n == 2 && !strcmp(method, "POST")) return ha_add(d, body, r);
	if (n == 3 && !strcmp(method, "DELETE")) {
		struct error e;
		json_t *args = json_pack("{s:s}", "name", seg[2]);
		bool ok = cluster_propose_unlocked(d, "ha-rm", args, NULL, &e);
		json_decref(args);
		if (!ok) return api_fail_error(r, &e);
		return api_reply(r, 200, json_pack("{s:s, s:b}", "name", seg[2], "ha", 0));
	}
	api_fail(r, ERR_NOT_FOUND, "no such endpoint under /v1/ha (see docs/api.md)");
}

bool cluster_forward(struct daemon *d, const char *name, const char *method, const char *path,
                     const char *body, size_t len, struct http_response *r)
{
	struct cluster *c = d->cluster;
	if (serving_forwarded) return false;
	pthread_mutex_lock(&c->lock);
	json_t *ci = cstate_instance(&c->cs, name);
	uint32_t owner = (uint32_t)json_integer_value(json_object_get(ci, "owner"));
	bool elsewhere = ci && owner != c->cs.self;
	pthread_mutex_unlock(&c->lock);
	return elsewhere && cluster_forward_to(d, owner, name, method, path, body, len, r);
}

bool cluster_forward_to(struct daemon *d, uint32_t owner, const char *name, const char *method,
                        const char *path, const char *body, size_t len, struct http_response *r)
{
	struct cluster *c = d->cluster;
	if (serving_forwarded) return false;
	pthread_mutex_lock(&c->lock);
	if (!cstate_node(&c->cs, owner)) {
		pthread_mutex_unlock(&c->lock);
		api_fail(r, ERR_NOT_FOUND, "no node %u in the cluster", owner);
		return true;
	}
	const char *where = json_string_value(json_object_get(cstate_node(&c->cs, owner), "name"));
	if (!cstate_is_member(&c->cs, owner)) {
		pthread_mutex_unlock(&c->lock);
		api_fail(r, ERR_UNAVAILABLE, "'%s' lives on %s, which is not in the cluster's group now",
		         name, where ? where : "?");
		return true;
	}
	struct fwd_wait w = {.id = ++c->next_fwd, .next = c->fwd_waits};
	json_t *m = json_pack("{s:s, s:I, s:I, s:s, s:s, s:o}", "t", "fwd", "to", (json_int_t)owner, "id",
	                      (json_int_t)w.id, "method", method, "path", path, "body", text_json(body, len));
	if (!m) {
		pthread_mutex_unlock(&c->lock);
		api_fail(r, ERR_INTERNAL, "out of memory");
		return true;
	}
	c->fwd_waits = &w;
	json_array_append_new(c->outbox, m);
	uint64_t deadline = monotonic_ns() + 60000000000ULL;
	while (!w.done && monotonic_ns() < deadline && cstate_is_member(&c->cs, owner)) {
		nap(c);
	}
	for (struct fwd_wait **pp = &c->fwd_waits; *pp; pp = &(*pp)->next)
		if (*pp == &w) {
			*pp = w.next;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (!w.done) {
		api_fail(r, ERR_UNAVAILABLE, "%s did not answer about '%s'", where ? where : "its host",
		         name);
		return true;
	}
	r->status = w.status;
	r->body = w.body;
	/* An operation started there is followed there: its id names the host (ID@NODE). */
	json_t *j = w.status == 202 && !w.content_type ? json_loads(w.body, 0, NULL) : NULL;
	json_t *op = json_object_get(j, "operation");
	if (json_is_object(op)) {
		json_object_set_new(op, "node", json_integer(owner));
		free(r->body);
		r->body = json_dumps(j, JSON_COMPACT);
	}
	json_decref(j);
	/* content_type is a borrowed constant in responses: JSON (NULL) or the text type logs use. */
	r->content_type = w.content_type ? "text/plain; charset=utf-8" : NULL;
	free(w.content_type);
	return true;
}

/* ---- load balancers (daemon/lb.c) ---- */

/* Whether this host may run what it owns: connected, quorate, a majority, synchronised (lock held). */
static bool in_step(struct cluster *c)
{
	return c->link && c->quorate && cstate_majority(&c->cs) && c->cs.synced;
}

json_t *cluster_lbs(struct daemon *d, bool mine)
{
	struct cluster *c = d->cluster;
	json_t *out = json_object();
	pthread_mutex_lock(&c->lock);
	bool fenced = !in_step(c);
	const char *name;
	json_t *lb;
	json_object_foreach(json_object_get(c->cs.state, "lbs"), name, lb)
	{
		uint32_t owner = (uint32_t)json_integer_value(json_object_get(lb, "owner"));
		if (mine && (fenced || owner != c->cs.self)) continue;
		json_t *def = json_deep_copy(json_object_get(lb, "definition"));
		json_t *node = cstate_node(&c->cs, owner);
		json_object_set_new(def, "location",
		                    json_string(json_string_value(json_object_get(node, "name")) ?: "?"));
		json_object_set_new(out, name, def);
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

bool cluster_lb_put(struct daemon *d, json_t *def, struct error *e)
{
	json_t *args = json_pack("{s:O, s:O, s:I}", "name", json_object_get(def, "name"), "definition", def,
	                         "owner", (json_int_t)cluster_self(d));
	bool ok = cluster_propose_unlocked(d, "lb-put", args, NULL, e);
	json_decref(args);
	return ok;
}

bool cluster_lb_rm(struct daemon *d, const char *name, struct error *e)
{
	json_t *args = json_pack("{s:s}", "name", name);
	bool ok = cluster_propose_unlocked(d, "lb-rm", args, NULL, e);
	json_decref(args);
	return ok;
}

json_t *cluster_instance_definition(struct daemon *d, const char *name)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	json_t *def = json_deep_copy(json_object_get(cstate_instance(&c->cs, name), "definition"));
	pthread_mutex_unlock(&c->lock);
	return def;
}

bool cluster_self_addr(struct daemon *d, char *buf, size_t len)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	const char *addr = json_string_value(json_object_get(cstate_node(&c->cs, c->cs.self), "addr"));
	snprintf(buf, len, "%s", addr ? addr : "");
	pthread_mutex_unlock(&c->lock);
	return addr != NULL;
}

/* ---- replication (daemon/replica.c) ---- */

bool cluster_key(struct daemon *d, uint8_t *buf, size_t cap, size_t *len)
{
	struct cluster *c = d->cluster;
	if (!c || !c->key_len || c->key_len > cap) return false;
	memcpy(buf, c->key, c->key_len);
	*len = c->key_len;
	return true;
}

bool cluster_member_addr(struct daemon *d, uint32_t id, char *buf, size_t len)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	const char *addr = json_string_value(json_object_get(cstate_node(&c->cs, id), "addr"));
	bool ok = addr && cstate_is_member(&c->cs, id);
	snprintf(buf, len, "%s", addr ? addr : "");
	pthread_mutex_unlock(&c->lock);
	return ok;
}

json_t *cluster_replicated_here(struct daemon *d)
{
	struct cluster *c = d->cluster;
	json_t *out = json_object();
	pthread_mutex_lock(&c->lock);
	bool fenced = !in_step(c);
	const char *name;
	json_t *ci;
	json_object_foreach(json_object_get(c->cs.state, "instances"), name, ci)
	{
		json_t *ha = json_object_get(ci, "ha");
		if (fenced || (uint32_t)json_integer_value(json_object_get(ci, "owner")) != c->cs.self ||
		    json_integer_value(json_object_get(ha, "replicate_every_ms")) <= 0)
			continue;
		json_object_set_new(out, name, json_deep_copy(ha));
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

bool cluster_replica_target(struct daemon *d, const char *name)
{
	struct cluster *c = d->cluster;
	pthread_mutex_lock(&c->lock);
	json_t *ci = cstate_instance(&c->cs, name);
	bool target = false;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(ci, "ha"), "replicas"), i, r)
	{
		target |= (uint32_t)json_integer_value(r) == c->cs.self;
	}
	target = target && (uint32_t)json_integer_value(json_object_get(ci, "owner")) != c->cs.self;
	pthread_mutex_unlock(&c->lock);
	return target;
}

/* ---- nodes leaving ---- */

static uint32_t node_id_named(struct cluster *c, const char *name)
{
	uint32_t id = 0;
	size_t i;
	json_t *n;
	pthread_mutex_lock(&c->lock);
	json_array_foreach(json_object_get(c->cs.state, "nodes"), i, n)
	{
		if (!strcmp(json_string_value(json_object_get(n, "name")) ?: "", name))
			id = (uint32_t)json_integer_value(json_object_get(n, "id"));
	}
	pthread_mutex_unlock(&c->lock);
	return id;
}

/* Removes a node that is down for good (it owns nothing any more). */
static void node_rm(struct daemon *d, const char *name, struct http_response *r)
{
	uint32_t id = node_id_named(d->cluster, name);
	if (!id) return api_fail(r, ERR_NOT_FOUND, "no node named '%.80s' in the cluster", name);
	struct error e;
	json_t *args = json_pack("{s:I}", "id", (json_int_t)id);
	bool ok = cluster_propose_unlocked(d, "node-rm", args, NULL, &e);
	json_decref(args);
	if (!ok) return api_fail_error(r, &e);
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", name, "removed", 1));
}

/* This host leaves: the others drop it from the node list (and corosync's), then it stops its corosync
 * and forgets the cluster. It must own nothing: `cluster evacuate` first. */
static void leave(struct daemon *d, struct http_response *r)
{
	struct cluster *c = d->cluster;
	struct error e;
	json_t *args = json_pack("{s:I}", "id", (json_int_t)c->cs.self);
	bool ok = cluster_propose_unlocked(d, "node-rm", args, NULL, &e);
	json_decref(args);
	if (!ok) return api_fail_error(r, &e);
	if (d->cluster != c) return api_fail(r, ERR_BUSY, "this host left meanwhile");
	char name[64], err[256];
	snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(c->cs.state, "name")) ?: "");
	c->leaving = true;
	shutdown(c->listen_fd, SHUT_RDWR); /* the join thread returns */
	pthread_mutex_unlock(&d->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_lock(&d->lock);
	pthread_mutex_lock(&c->lock);
	corosync_link_close(c->link);
	c->link = NULL;
	pthread_mutex_unlock(&c->lock);
	if (c->corosync_pid > 0) {
		kill(c->corosync_pid, SIGTERM);
		waitpid(c->corosync_pid, NULL, 0);
	}
	if (!cluster_store_clear(c->store, err, sizeof(err))) log_warn("cluster: %s", err);
	lease_set(&c->lease, 0);
	for (size_t i = 0; i < d->ninsts; i++) cluster_set_ha(d, d->insts[i], false);
	d->cluster = NULL; /* the structure stays: threads that still hold it find it inert */
	log_info("cluster: this host left '%s'", name);
	api_reply(r, 200, json_pack("{s:s, s:b}", "cluster", name, "left", 1));
}
