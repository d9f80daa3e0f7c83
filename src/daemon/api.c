/*
 * api.c — see api.h. Handlers look instances up under the daemon's lock,
 * take a reference, and release the lock before talking to a VM process or
 * the container engine; work that may take long runs on an operation's own
 * thread with the instance marked busy, so one instance does one thing at a
 * time and a client that goes away does not cancel it half-way.
 */
#define _GNU_SOURCE
#include "api.h"
#include "api_internal.h"

#include "agent/proto.h"

#include "daemon/cluster.h"
#include "daemon/driver.h"
#include "daemon/images.h"
#include "daemon/provision.h"
#include "daemon/lb.h"
#include "daemon/tokens.h"
#include "daemon/metrics.h"
#include "util/fs.h"
#include "util/log.h"
#include "http/http.h"
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPS_KEPT 256

void api_reply(struct http_response *r, int status, json_t *j)
{
	r->status = status;
	r->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
}

/* The one place where a kind of error becomes an HTTP status. */
static int http_status(enum err_code code)
{
	switch (code) {
	case ERR_INVALID: return 400;
	case ERR_NOT_FOUND: return 404;
	case ERR_METHOD: return 405;
	case ERR_EXISTS:
	case ERR_BUSY: return 409;
	case ERR_UNREADABLE: return 422;
	case ERR_UNAVAILABLE: return 503;
	case ERR_INTERNAL: break;
	}
	return 500;
}

void api_fail_error(struct http_response *r, const struct error *e)
{
	api_reply(r, http_status(e->code),
	          json_pack("{s:s, s:s}", "error", e->msg, "code", err_code_name(e->code)));
}

void api_fail(struct http_response *r, enum err_code code, const char *fmt, ...)
{
	struct error e = {.code = code};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	api_fail_error(r, &e);
}

/* ---- operations ---- */

json_t *op_json(const struct op *op)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)op->id, "kind", op->kind, "status",
	                      op->status, "created_at", (json_int_t)op->created_at);
	if (op->instance[0]) json_object_set_new(j, "instance", json_string(op->instance));
	if (op->resource[0]) json_object_set_new(j, "resource", json_string(op->resource));
	uint64_t total = __atomic_load_n(&op->progress_total, __ATOMIC_RELAXED);
	if (total) {
		uint64_t done = __atomic_load_n(&op->progress_done, __ATOMIC_RELAXED);
		json_object_set_new(j, "progress",
		                    json_pack("{s:I, s:I, s:f}", "done", (json_int_t)done, "total",
		                              (json_int_t)total, "percent",
		                              100.0 * (double)done / (double)total));
	}
	if (op->finished_at) json_object_set_new(j, "finished_at", json_integer(op->finished_at));
	if (op->error[0]) json_object_set_new(j, "error", json_string(op->error));
	return j;
}

/* Lock held. */
void op_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct op *op = ctx;
	__atomic_store_n(&op->progress_total, total, __ATOMIC_RELAXED);
	__atomic_store_n(&op->progress_done, done, __ATOMIC_RELAXED);
}

struct op *op_new(struct daemon *d, const char *kind, const char *instance)
{
	struct op *op = calloc(1, sizeof(*op));
	if (!op) return NULL;
	op->id = ++d->next_op;
	snprintf(op->kind, sizeof(op->kind), "%s", kind);
	snprintf(op->instance, sizeof(op->instance), "%s", instance);
	op->status = "running";
	op->created_at = (int64_t)time(NULL);
	op->next = d->ops;
	d->ops = op;
	/* Keep the newest few hundred. */
	struct op *p = d->ops;
	for (int i = 1; p && i < MAX_OPS_KEPT; i++) p = p->next;
	while (p && p->next && strcmp(p->next->status, "running")) {
		struct op *old = p->next;
		p->next = old->next;
		free(old);
	}
	return op;
}

void op_end(struct op *op, bool ok, const char *fmt, ...)
{
	op->status = ok ? "success" : "failure";
	if (!ok) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(op->error, sizeof(op->error), fmt, ap);
		va_end(ap);
	}
	op->finished_at = (int64_t)time(NULL);
}

static struct op *op_find(struct daemon *d, uint64_t id)
{
	for (struct op *op = d->ops; op; op = op->next)
		if (op->id == id) return op;
	return NULL;
}

/* ---- instances as JSON ---- */

static json_t *status_json(struct daemon *d, struct instance *in)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:i, s:s}", "state", inst_state_name(in->state), "pid",
	                      (json_int_t)in->pid, "started_at", (json_int_t)in->started_at, "exit_code",
	                      in->exit_code, "message", in->message);
	json_object_set_new(j, "operation", in->busy ? json_string(in->busy) : json_null());
	json_object_set_new(j, "created_at", json_integer(in->created_at));
	return j;
}

/* The definition with a read-only "status" member: `create -f` takes it back. */
static json_t *inst_json(struct daemon *d, struct instance *in)
{
	json_t *j = inst_def_to_json(&in->def);
	json_object_set_new(j, "status", status_json(d, in));
	return j;
}

/* ---- helpers ---- */

json_t *api_parse_body(const char *body, size_t len, struct http_response *r)
{
	if (len == 0) return json_object();
	json_error_t je;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		api_fail(r, ERR_INVALID, "the body must be a JSON object%s%s", j ? "" : ": ",
		         j ? "" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Query parameter value ("" if present without value), NULL if absent. */
const char *api_query(const char *q, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	while (q && *q) {
		if (!strncmp(q, key, kl) && (q[kl] == '=' || q[kl] == '&' || !q[kl])) {
			const char *v = q[kl] == '=' ? q + kl + 1 : q + kl;
			size_t n = strcspn(v, "&");
			snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), v);
			return buf;
		}
		q = strchr(q, '&');
		if (q) q++;
	}
	return NULL;
}

bool api_truthy(const char *v)
{
	return v && (!*v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

/* Marks an instance busy with an operation (lock held); false with a 409 when it is already. */
static bool claim(struct instance *in, const char *what, struct http_response *r)
{
	if (in->busy) {
		api_fail(r, ERR_BUSY, "'%s' is busy: %s in progress", in->def.name, in->busy);
		return false;
	}
	in->busy = what;
	return true;
}

static bool is_up(const struct instance *in)
{
	return in->state == ST_RUNNING || in->state == ST_PAUSED || in->state == ST_STARTING ||
	       in->state == ST_STOPPING;
}

/* ---- long operations ---- */

struct job {
	struct daemon *d;
	struct instance *in;
	struct op *op;
	char arg[PATH_MAX]; /* snapshot directory, migration target... */
	unsigned timeout;
	bool (*run)(struct job *j, char *err, size_t errlen);
	int64_t journal; /* its entry in the journal */
};

static bool start_instance(struct daemon *d, struct instance *in, const struct vm_start *how, char *err,
                           size_t errlen)
{
	pthread_mutex_lock(&d->lock);
	in->state = ST_STARTING;
	if (how->listen)
		snprintf(in->message, sizeof(in->message), "waiting for a live migration on %.200s",
		         how->listen);
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	bool ok = inst_driver(in)->start(d, in, how, err, errlen);
	if (!ok) {
		pthread_mutex_lock(&d->lock);
		in->state = ST_STOPPED;
		snprintf(in->message, sizeof(in->message), "start failed: %s", err);
		daemon_save_runtime(d, in);
		pthread_mutex_unlock(&d->lock);
	}
	return ok;
}

static bool stop_instance(struct daemon *d, struct instance *in, unsigned timeout, char *err, size_t errlen)
{
	if (!is_up(in)) return true;
	return inst_driver(in)->stop(d, in, timeout, err, errlen);
}

static bool job_start(struct job *j, char *err, size_t errlen)
{
	return start_instance(j->d, j->in, &(struct vm_start){0}, err, errlen);
}

static bool job_stop(struct job *j, char *err, size_t errlen)
{
	return stop_instance(j->d, j->in, j->timeout, err, errlen);
}

static bool job_restart(struct job *j, char *err, size_t errlen)
{
	return stop_instance(j->d, j->in, j->timeout, err, errlen) &&
	       start_instance(j->d, j->in, &(struct vm_start){0}, err, errlen);
}

static bool job_snapshot(struct job *j, char *err, size_t errlen)
{
	char dir[PATH_MAX + 64];
	inst_path(j->d, j->in, "snapshots", dir, sizeof(dir));
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", j->arg);
	if (!mkdir_p(dir, 0700)) {
		snprintf(err, errlen, "cannot create %.300s: %s", dir, strerror(errno));
		return false;
	}
	bool ok = vmdrv_snapshot(j->d, j->in, dir, err, errlen);
	pthread_mutex_lock(&j->d->lock);
	ok = ok &&
	     db_snapshot_insert(j->d->db, j->in->def.name, j->arg, dir, (int64_t)time(NULL), err, errlen);
	pthread_mutex_unlock(&j->d->lock);
	if (!ok) fs_remove_tree(dir);
	return ok;
}

static bool job_restore(struct job *j, char *err, size_t errlen)
{
	return stop_instance(j->d, j->in, j->timeout, err, errlen) &&
	       vmdrv_restore_disks(j->d, j->in, j->arg, err, errlen) &&
	       start_instance(j->d, j->in, &(struct vm_start){.restore_dir = j->arg}, err, errlen);
}

static bool job_migrate(struct job *j, char *err, size_t errlen)
{
	if (!vmdrv_migrate(j->d, j->in, j->arg, err, errlen)) return false;
	pthread_mutex_lock(&j->d->lock);
	snprintf(j->in->message, sizeof(j->in->message), "migrated to %.200s", j->arg);
	pthread_mutex_unlock(&j->d->lock);
	return true;
}

static bool job_receive(struct job *j, char *err, size_t errlen)
{
	struct vm_start how = {.listen = j->arg, .wait_s = j->timeout};
	if (!start_instance(j->d, j->in, &how, err, errlen)) return false;
	pthread_mutex_lock(&j->d->lock);
	snprintf(j->in->message, sizeof(j->in->message), "arrived by live migration on %.200s", j->arg);
	daemon_save_runtime(j->d, j->in);
	pthread_mutex_unlock(&j->d->lock);
	return true;
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	char err[512] = "";
	bool ok = j->run(j, err, sizeof(err));
	struct daemon *d = j->d;
	pthread_mutex_lock(&d->lock);
	char jerr[256];
	if (!db_journal_end(d->db, j->journal, jerr, sizeof(jerr))) log_warn("%s", jerr);
	j->in->busy = NULL;
	op_end(j->op, ok, "%s", err);
	if (!ok) log_warn("%s %s failed: %s", j->op->kind, j->in->def.name, err);
	inst_put(j->in);
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	free(j);
	return NULL;
}

bool spawn_detached(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	bool ok = pthread_create(&t, &attr, fn, arg) == 0;
	pthread_attr_destroy(&attr);
	return ok;
}

/* Starts a job on a claimed instance (lock held) and answers 202 with its operation. */
static bool launch(struct daemon *d, struct instance *in, const char *kind,
                   bool (*run)(struct job *, char *, size_t), const char *arg, unsigned timeout,
                   struct http_response *r, char *err, size_t errlen)
{
	struct job *j = calloc(1, sizeof(*j));
	struct op *op = j ? op_new(d, kind, in->def.name) : NULL;
	if (!op) {
		free(j);
		in->busy = NULL;
		snprintf(err, errlen, "out of memory");
		if (r) api_fail(r, ERR_INTERNAL, "out of memory");
		return false;
	}
	*j = (struct job){.d = d, .in = in, .op = op, .timeout = timeout, .run = run};
	snprintf(j->arg, sizeof(j->arg), "%s", arg ? arg : "");
	/* The intent is on disk before anything acts on it: a daemon that dies in the middle finds it. */
	if (!db_journal_begin(d->db, in->def.name, kind, j->arg, &j->journal, err, errlen)) {
		in->busy = NULL;
		op_end(op, false, "%s", err);
		free(j);
		if (r) api_fail(r, ERR_INTERNAL, "%s", err);
		return false;
	}
	inst_get(in);
	if (!spawn_detached(job_thread, j)) {
		db_journal_end(d->db, j->journal, err, errlen);
		in->busy = NULL;
		op_end(op, false, "cannot start a thread");
		inst_put(in);
		free(j);
		snprintf(err, errlen, "cannot start a thread");
		if (r) api_fail(r, ERR_INTERNAL, "cannot start a thread");
		return false;
	}
	if (r) api_reply(r, 202, json_pack("{s:o}", "operation", op_json(op)));
	return true;
}

bool api_start_async(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	if (in->busy) {
		snprintf(err, errlen, "busy");
		return false;
	}
	in->busy = "start";
	return launch(d, in, "start", job_start, NULL, 0, NULL, err, errlen);
}

/* ---- handlers: /v1/instances ---- */

static void list_instances(struct daemon *d, struct http_response *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->ninsts; i++) {
		struct instance *in = d->insts[i];
		daemon_refresh(d, in);
		json_t *j = inst_json(d, in);
		if (d->cluster) json_object_set_new(j, "location", json_string(cluster_self_name(d)));
		json_array_append_new(a, j);
	}
	if (d->cluster) cluster_list_remote(d, a);
	api_reply(r, 200, a);
}

/* Adds an instance from a definition (taken over) and, in a cluster, makes it known to every host;
 * NULL with r answered. */
static struct instance *create_instance(struct daemon *d, struct inst_def *def, struct http_response *r)
{
	struct error e;
	struct instance *in = daemon_create_instance(d, def, &e);
	if (in && d->cluster && !cluster_register_instance(d, in, &e)) {
		daemon_discard_instance(d, in);
		in = NULL;
	}
	if (!in) api_fail_error(r, &e);
	return in;
}

static void create(struct daemon *d, json_t *body, struct http_response *r)
{
	struct inst_def def;
	char err[512], overlay[PATH_MAX + 16];
	struct error e;
	char seed[PATH_MAX + 16];
	if (!images_apply(d, body, overlay, sizeof(overlay), &e) ||
	    !provision_apply(d, body, seed, sizeof(seed), &e))
		return api_fail_error(r, &e);
	json_t *ci = json_incref(json_object_get(body, "__cloud_init"));
	json_object_del(body, "__cloud_init");
	if (!inst_def_from_json(body, &def, err, sizeof(err))) {
		json_decref(ci);
		api_fail(r, ERR_INVALID, "%s", err);
		return;
	}
	struct instance *in = create_instance(d, &def, r);
	if (!in) {
		json_decref(ci);
		return;
	}
	if ((overlay[0] && !images_make_overlay(d, in->def.vm.image, overlay, &e)) ||
	    (seed[0] && !provision_write(seed, in->def.name, ci, &e))) {
		json_decref(ci);
		daemon_discard_instance(d, in);
		return api_fail_error(r, &e);
	}
	json_decref(ci);
	api_reply(r, 201, inst_json(d, in));
}

/* Whether path lies in directory dir (or is it). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/') n--;
	return !strncmp(path, dir, n) && (path[n] == 0 || path[n] == '/');
}

/* The other instances whose definition names something under dir (the snapshot a clone resumes
 * from, a disk), as "a, b" in out; false when there are none. Lock held. */
static bool dependents(struct daemon *d, const struct instance *self, const char *dir, char *out, size_t len)
{
	size_t used = 0;
	out[0] = 0;
	for (size_t i = 0; i < d->ninsts; i++) {
		const struct instance *o = d->insts[i];
		if (o == self || o->def.type != INST_VM) continue;
		bool uses = o->def.vm.restore[0] && path_within(o->def.vm.restore, dir);
		for (unsigned k = 0; !uses && k < o->def.vm.cfg.ndisks; k++)
			uses = path_within(o->def.vm.cfg.disks[k].path, dir);
		if (!uses) continue;
		int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "", o->def.name);
		if (w > 0 && (size_t)w < len - used) used += (size_t)w;
	}
	return out[0] != 0;
}

static void remove_instance(struct daemon *d, struct instance *in, bool force, struct http_response *r)
{
	char err[512];
	char dir[PATH_MAX], users[400];
	inst_path(d, in, "", dir, sizeof(dir));
	/* Removing an instance removes its directory: its snapshots, and whatever clone was made of them. */
	if (dependents(d, in, dir, users, sizeof(users)))
		return api_fail(
		    r, ERR_BUSY, "'%s' has snapshots or disks that %s still use%s: remove %s first",
		    in->def.name, users, strchr(users, ',') ? "" : "s", strchr(users, ',') ? "them" : "it");
	if (!claim(in, "remove", r)) return;
	if (is_up(in) && !force) {
		in->busy = NULL;
		api_fail(r, ERR_BUSY, "'%s' is %s: stop it first, or remove with force", in->def.name,
		         inst_state_name(in->state));
		return;
	}
	inst_get(in);
	pthread_mutex_unlock(&d->lock);
	bool ok = stop_instance(d, in, 0, err, sizeof(err));
	if (ok) ok = inst_driver(in)->remove(d, in, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	struct error ce;
	if (ok && d->cluster && !cluster_unregister_instance(d, in->def.name, &ce)) {
		in->busy = NULL;
		inst_put(in);
		return api_fail_error(r, &ce);
	}
	if (ok) ok = db_instance_delete(d->db, in->def.name, err, sizeof(err));
	if (!ok) {
		in->busy = NULL;
		inst_put(in);
		api_fail(r, ERR_BUSY, "%s", err);
		return;
	}
	fs_remove_tree(dir);
	daemon_unlink(d, in);
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", in->def.name, "removed", 1));
	inst_put(in);
}

static void pause_instance(struct daemon *d, struct instance *in, bool pause, struct http_response *r)
{
	if ((pause && in->state != ST_RUNNING) || (!pause && in->state != ST_PAUSED)) {
		api_fail(r, ERR_BUSY, "'%s' is %s", in->def.name, inst_state_name(in->state));
		return;
	}
	if (!claim(in, pause ? "pause" : "resume", r)) return;
	inst_get(in);
	pthread_mutex_unlock(&d->lock);
	char err[512];
	bool ok = inst_driver(in)->pause(d, in, pause, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	in->busy = NULL;
	if (ok)
		api_reply(r, 200, inst_json(d, in));
	else
		api_fail(r, ERR_BUSY, "%s", err);
	inst_put(in);
}

static void set_limits(struct daemon *d, struct instance *in, json_t *body, struct http_response *r)
{
	struct inst_limits l = in->def.limits;
	char err[512];
	if (!inst_limits_from_json(body, &l, err, sizeof(err)) ||
	    !inst_limits_check(&in->def, &l, err, sizeof(err))) {
		api_fail(r, ERR_INVALID, "%s", err);
		return;
	}
	if (!claim(in, "limits", r)) return;
	struct inst_limits old = in->def.limits;
	in->def.limits = l;
	bool up = in->state == ST_RUNNING || in->state == ST_PAUSED;
	inst_get(in);
	pthread_mutex_unlock(&d->lock);
	bool ok = !up || inst_driver(in)->apply_limits(d, in, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	if (ok) {
		json_t *dj = inst_def_to_json(&in->def);
		char *text = json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(dj);
		ok = text &&
		     db_instance_update(d->db, in->def.name, text, in->def.autostart, err, sizeof(err));
		free(text);
	}
	if (!ok) {
		in->def.limits = old;
		if (up) { /* put the old ones back in force */
			char ignore[256];
			pthread_mutex_unlock(&d->lock);
			inst_driver(in)->apply_limits(d, in, ignore, sizeof(ignore));
			pthread_mutex_lock(&d->lock);
		}
		api_fail(r, ERR_BUSY, "%s", err);
	} else {
		api_reply(r, 200, inst_limits_to_json(&in->def.limits));
	}
	in->busy = NULL;
	inst_put(in);
}

static void stats(struct daemon *d, struct instance *in, struct http_response *r)
{
	daemon_refresh(d, in);
	if (in->state != ST_RUNNING && in->state != ST_PAUSED) {
		api_fail(r, ERR_BUSY, "'%s' is %s: no statistics", in->def.name, inst_state_name(in->state));
		return;
	}
	inst_get(in);
	pthread_mutex_unlock(&d->lock);
	char err[512];
	json_t *j = metrics_instance_stats(d, in, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	if (j)
		api_reply(r, 200, j);
	else
		api_fail(r, ERR_BUSY, "%s", err);
	inst_put(in);
}

static void logs(struct daemon *d, struct instance *in, const char *q, struct http_response *r)
{
	char path[PATH_MAX + 128], buf[32];
	inst_driver(in)->console_log(d, in, path, sizeof(path));
	uint64_t max = 65536;
	const char *v = api_query(q, "bytes", buf, sizeof(buf));
	if (v) max = strtoull(v, NULL, 10);
	if (max == 0 || max > (4u << 20)) max = 4u << 20;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r->status = 200;
		r->content_type = "text/plain; charset=utf-8";
		r->body = strdup("");
		return;
	}
	off_t size = lseek(fd, 0, SEEK_END), from = size > (off_t)max ? size - (off_t)max : 0;
	char *text = malloc((size_t)(size - from) + 1);
	ssize_t n = text ? pread(fd, text, (size_t)(size - from), from) : -1;
	close(fd);
	if (n < 0) {
		free(text);
		api_fail(r, ERR_INTERNAL, "cannot read %s", path);
		return;
	}
	/* NUL bytes would cut the body short: the console is text for a terminal anyway. */
	for (ssize_t i = 0; i < n; i++)
		if (!text[i]) text[i] = ' ';
	text[n] = 0;
	r->status = 200;
	r->content_type = "text/plain; charset=utf-8";
	r->body = text;
}

/* ---- the console: the connection becomes a byte pipe to the VM's console socket ---- */

struct relay {
	int vm_fd;
};

static void relay_console(void *opaque, int fd, const char *extra, size_t extra_len)
{
	struct relay *rl = opaque;
	int vm = rl->vm_fd;
	free(rl);
	if (extra_len) http_write_all(vm, extra, extra_len);
	char buf[16384];
	struct pollfd p[2] = {{fd, POLLIN, 0}, {vm, POLLIN, 0}};
	for (bool alive = true; alive;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) continue;
			break;
		}
		for (int from = 0; from < 2 && alive; from++) { /* both ways each round: neither starves */
			if (!(p[from].revents & (POLLIN | POLLHUP | POLLERR))) continue;
			ssize_t n = read(p[from].fd, buf, sizeof(buf));
			alive = n > 0 && http_write_all(p[!from].fd, buf, (size_t)n);
		}
	}
	close(vm);
	close(fd);
}

static void console(struct daemon *d, struct instance *in, struct http_response *r)
{
	if (in->state != ST_RUNNING && in->state != ST_PAUSED) {
		api_fail(r, ERR_BUSY, "'%s' is %s", in->def.name, inst_state_name(in->state));
		return;
	}
	char sock[PATH_MAX], err[256];
	inst_driver(in)->console_socket(d, in, sock, sizeof(sock));
	int fd = http_connect_unix(sock, err, sizeof(err));
	struct relay *rl = fd >= 0 ? malloc(sizeof(*rl)) : NULL;
	if (!rl) {
		if (fd >= 0) close(fd);
		api_fail(r, ERR_BUSY, "the console is not reachable: %s", err);
		return;
	}
	rl->vm_fd = fd;
	r->status = 101;
	r->takeover = relay_console;
	r->takeover_opaque = rl;
}

/* A stream to the guest agent (agent/proto.h) of a running VM: the daemon opens it on the VM's vsock
 * socket and relays; the client reads the device's "OK N" line, then speaks the agent's protocol. */
static void agent_stream(struct daemon *d, struct instance *in, struct http_response *r)
{
	if (!inst_driver(in)->agent_socket) {
		api_fail(r, ERR_INVALID, "'%s' is a container: `cloison exec` runs in it directly",
		         in->def.name);
		return;
	}
	if (in->state != ST_RUNNING) {
		api_fail(r, ERR_BUSY, "'%s' is %s", in->def.name, inst_state_name(in->state));
		return;
	}
	char sock[PATH_MAX], err[256] = "";
	inst_driver(in)->agent_socket(d, in, sock, sizeof(sock));
	int fd = http_connect_unix(sock, err, sizeof(err));
	char line[32];
	int n = snprintf(line, sizeof(line), "CONNECT %d\n", AGENT_PORT);
	struct relay *rl = fd >= 0 && http_write_all(fd, line, (size_t)n) ? malloc(sizeof(*rl)) : NULL;
	if (!rl) {
		if (fd >= 0) close(fd);
		api_fail(r, ERR_BUSY, "the VM's vsock socket is not reachable%s%s", err[0] ? ": " : "", err);
		return;
	}
	rl->vm_fd = fd;
	r->status = 101;
	r->takeover = relay_console;
	r->takeover_opaque = rl;
}

/* ---- snapshots, clones ---- */

static void add_snapshot(void *opaque, const char *name, const char *path, int64_t created_at)
{
	json_array_append_new(opaque, json_pack("{s:s, s:s, s:I}", "name", name, "path", path, "created_at",
	                                        (json_int_t)created_at));
}

/* The directory of a recorded snapshot (lock held); false with r answered. */
static bool snapshot_dir(struct daemon *d, struct instance *in, const char *snap, char *dir, size_t len,
                         struct http_response *r)
{
	json_t *a = json_array();
	char err[256];
	db_snapshots_list(d->db, in->def.name, add_snapshot, a, err, sizeof(err));
	size_t i;
	json_t *s;
	bool found = false;
	json_array_foreach(a, i, s) if (!strcmp(json_string_value(json_object_get(s, "name")), snap))
	{
		snprintf(dir, len, "%s", json_string_value(json_object_get(s, "path")));
		found = true;
	}
	json_decref(a);
	if (!found) api_fail(r, ERR_NOT_FOUND, "'%s' has no snapshot named '%s'", in->def.name, snap);
	return found;
}

static void clone_instance(struct daemon *d, struct instance *src, json_t *body, struct http_response *r)
{
	const char *name = NULL, *snap = NULL;
	int start = 0;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s?:s, s?:b}", "name", &name, "snapshot", &snap,
	                   "start", &start)) {
		api_fail(r, ERR_INVALID,
		         "expected {\"name\": NEW, \"snapshot\": SNAPSHOT, \"start\": true|false}: %s",
		         je.text);
		return;
	}
	if (!inst_name_valid(name)) {
		api_fail(r, ERR_INVALID, "invalid name '%.80s'", name);
		return;
	}
	struct inst_def def;
	inst_def_copy(&def, &src->def);
	snprintf(def.name, sizeof(def.name), "%s", name);
	def.autostart = false;
	if (src->def.type == INST_VM) {
		if (!snap) {
			inst_def_free(&def);
			api_fail(r, ERR_INVALID,
			         "a VM is cloned from one of its snapshots: give \"snapshot\"");
			return;
		}
		char dir[PATH_MAX];
		if (!snapshot_dir(d, src, snap, dir, sizeof(dir), r)) {
			inst_def_free(&def);
			return;
		}
		snprintf(def.vm.restore, sizeof(def.vm.restore), "%s", dir);
		def.vm.clone = true;
		def.vm.vnc[0] =
		    0; /* the source's port stays the source's: a clone gets its own with a new definition */
		/* Later (cold) boots use the overlays the first start makes in the clone's directory. */
		for (unsigned i = 0; i < def.vm.cfg.ndisks; i++) {
			struct vm_disk *disk = &def.vm.cfg.disks[i];
			snprintf(disk->path, sizeof(disk->path), "%.3900s/instances/%s/clone/disk%u.qcow2",
			         d->state_dir, name, i);
			strcpy(disk->format, "qcow2");
		}
	} else if (snap) {
		inst_def_free(&def);
		api_fail(r, ERR_INVALID,
		         "containers have no snapshots: a container clone copies the definition");
		return;
	} else {
		/* The container engine's JSON carries the hostname: the clone gets its own. */
		json_t *c = json_deep_copy(def.container);
		json_decref(def.container);
		json_object_set_new(c, "hostname", json_string(name));
		def.container = c;
	}
	struct instance *in = create_instance(d, &def, r);
	if (!in) return;
	if (!start) {
		api_reply(r, 201, inst_json(d, in));
		return;
	}
	char err[256];
	in->busy = "start";
	if (launch(d, in, "start", job_start, NULL, 0, r, err, sizeof(err))) {
		json_t *j = json_loads(r->body, 0, NULL);
		free(r->body);
		json_object_set_new(j, "instance", inst_json(d, in));
		api_reply(r, 202, j);
	}
}

/* A stopped VM becomes the destination of a live migration: its process listens on [ADDR:]PORT. */
static void receive(struct daemon *d, struct instance *in, json_t *body, struct http_response *r)
{
	const char *listen = json_string_value(json_object_get(body, "listen"));
	json_t *t = json_object_get(body, "timeout");
	size_t known = !!json_object_get(body, "listen") + !!t;
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	const char *port = colon ? colon + 1 : listen;
	char *end = NULL;
	unsigned long p = port && *port ? strtoul(port, &end, 10) : 0;
	if (!listen || json_object_size(body) != known || !end || *end || p == 0 || p > 65535 ||
	    strlen(listen) > 200)
		return api_fail(r, ERR_INVALID,
		                "expected {\"listen\": \"[ADDR:]PORT\", \"timeout\": SECONDS} (the port "
		                "the source's migrate connects to)");
	if (t && json_integer_value(t) == 0)
		return api_fail(r, ERR_INVALID, "timeout must be 1 to 3600 seconds");
	if (in->def.type != INST_VM) return api_fail(r, ERR_BUSY, "containers cannot be migrated live");
	daemon_refresh(d, in);
	if (is_up(in)) return api_fail(r, ERR_BUSY, "'%s' is %s", in->def.name, inst_state_name(in->state));
	char err[512];
	if (claim(in, "receive", r))
		launch(d, in, "receive", job_receive, listen, t ? (unsigned)json_integer_value(t) : 600, r,
		       err, sizeof(err));
}

/* ---- the router ---- */

/* One request on an instance, as the route handlers see it. */
struct action {
	struct daemon *d;
	struct instance *in;
	const char *name, *sub, *q; /* /v1/instances/NAME/name[/sub][?q] */
	json_t *body;
	unsigned timeout; /* seconds, from the body's "timeout" (10 by default) */
	struct http_response *r;
};

static void act_start(struct action *a)
{
	char err[512];
	daemon_refresh(a->d, a->in);
	if (is_up(a->in))
		return api_fail(a->r, ERR_BUSY, "'%s' is %s", a->in->def.name, inst_state_name(a->in->state));
	if (claim(a->in, "start", a->r))
		launch(a->d, a->in, "start", job_start, NULL, 0, a->r, err, sizeof(err));
}

static void act_stop(struct action *a) /* and restart */
{
	char err[512];
	bool restart = !strcmp(a->name, "restart");
	daemon_refresh(a->d, a->in);
	if (!restart && !is_up(a->in))
		return api_fail(a->r, ERR_BUSY, "'%s' is %s", a->in->def.name, inst_state_name(a->in->state));
	if (json_is_true(json_object_get(a->body, "force"))) a->timeout = 0;
	if (claim(a->in, a->name, a->r))
		launch(a->d, a->in, a->name, restart ? job_restart : job_stop, NULL, a->timeout, a->r, err,
		       sizeof(err));
}

static void act_pause(struct action *a) /* and resume */
{
	daemon_refresh(a->d, a->in);
	pause_instance(a->d, a->in, !strcmp(a->name, "pause"), a->r);
}

static void act_limits_get(struct action *a)
{
	api_reply(a->r, 200, inst_limits_to_json(&a->in->def.limits));
}

static void act_limits_set(struct action *a)
{
	set_limits(a->d, a->in, a->body, a->r);
}

/* Whether a's instance has a display a request can reach (a VM, running, or paused when paused_ok);
 * answered otherwise. */
static bool display_reachable(struct action *a, bool has, bool paused_ok, const char *what)
{
	struct instance *in = a->in;
	if (!has) {
		api_fail(a->r, ERR_INVALID, "'%s' is a container: it has no %s", in->def.name, what);
		return false;
	}
	daemon_refresh(a->d, in);
	if (in->state != ST_RUNNING && !(paused_ok && in->state == ST_PAUSED)) {
		api_fail(a->r, ERR_BUSY, "'%s' is %s: no %s to reach", in->def.name,
		         inst_state_name(in->state), what);
		return false;
	}
	return true;
}

/* GET /v1/instances/NAME/screenshot: the screen of a VM with a display, as PNG. */
static void act_screenshot(struct action *a)
{
	struct daemon *d = a->d;
	const struct inst_driver *drv = inst_driver(a->in);
	if (!display_reachable(a, drv->screenshot != NULL, true, "screen")) return;
	inst_get(a->in);
	pthread_mutex_unlock(&d->lock);
	char err[512], *png = NULL;
	size_t len = 0;
	bool ok = drv->screenshot(d, a->in, &png, &len, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	inst_put(a->in);
	if (!ok) return api_fail(a->r, ERR_BUSY, "%s", err);
	a->r->status = 200;
	a->r->body = png;
	a->r->body_len = len;
	a->r->content_type = "image/png";
}

/* POST /v1/instances/NAME/input: {"text"} typed, {"pointer": {"x", "y", "buttons"}} on a VM's display. */
static void act_input(struct action *a)
{
	struct daemon *d = a->d;
	const struct inst_driver *drv = inst_driver(a->in);
	if (!display_reachable(a, drv->input != NULL, false, "keyboard")) return;
	json_t *body = json_deep_copy(a->body);
	json_object_del(body, "timeout");
	inst_get(a->in);
	pthread_mutex_unlock(&d->lock);
	char err[512];
	json_t *j = drv->input(d, a->in, body, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	inst_put(a->in);
	json_decref(body);
	if (!j) return api_fail(a->r, ERR_INVALID, "%s", err);
	api_reply(a->r, 200, j);
}

/* POST /v1/instances/NAME/vnc: the connection becomes a VNC client of the VM's display (the web
 * interface's graphical console, as a WebSocket through remote.c). */
static void act_vnc(struct action *a)
{
	struct daemon *d = a->d;
	const struct inst_driver *drv = inst_driver(a->in);
	if (!display_reachable(a, drv->vnc_connect != NULL, true, "display")) return;
	inst_get(a->in);
	pthread_mutex_unlock(&d->lock);
	char err[512];
	int fd = drv->vnc_connect(d, a->in, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	inst_put(a->in);
	struct relay *rl = fd >= 0 ? malloc(sizeof(*rl)) : NULL;
	if (!rl) {
		if (fd >= 0) close(fd);
		return api_fail(a->r, ERR_BUSY, "the display is not reachable: %s",
		                fd >= 0 ? "out of memory" : err);
	}
	rl->vm_fd = fd;
	a->r->status = 101;
	a->r->takeover = relay_console;
	a->r->takeover_opaque = rl;
}

static void act_stats(struct action *a)
{
	stats(a->d, a->in, a->r);
}

static void act_logs(struct action *a)
{
	logs(a->d, a->in, a->q, a->r);
}

static void act_console(struct action *a)
{
	console(a->d, a->in, a->r);
}

static void act_agent(struct action *a)
{
	agent_stream(a->d, a->in, a->r);
}

static void act_publish(struct action *a)
{
	images_publish(a->d, a->in, a->body, a->r);
}

static void act_snapshots_list(struct action *a)
{
	char err[512];
	json_t *list = json_array();
	if (!db_snapshots_list(a->d->db, a->in->def.name, add_snapshot, list, err, sizeof(err))) {
		json_decref(list);
		return api_fail(a->r, ERR_INTERNAL, "%s", err);
	}
	api_reply(a->r, 200, list);
}

static void act_snapshot_take(struct action *a)
{
	struct instance *in = a->in;
	const char *snap = json_string_value(json_object_get(a->body, "name"));
	if (json_object_size(a->body) != 1 || !snap || !inst_name_valid(snap))
		return api_fail(a->r, ERR_INVALID,
		                "expected {\"name\": SNAPSHOT} (letters, digits, '-', '_', '.')");
	if (in->def.type != INST_VM)
		return api_fail(
		    a->r, ERR_BUSY,
		    "containers have no memory snapshots (no checkpointing): clone the definition");
	if (in->state != ST_RUNNING && in->state != ST_PAUSED)
		return api_fail(a->r, ERR_BUSY, "'%s' is %s: a snapshot saves a running VM", in->def.name,
		                inst_state_name(in->state));
	char dir[PATH_MAX], err[512];
	if (snapshot_dir(a->d, in, snap, dir, sizeof(dir), &(struct http_response){0}))
		return api_fail(a->r, ERR_EXISTS, "'%s' has a snapshot named '%s'", in->def.name, snap);
	if (claim(in, "snapshot", a->r))
		launch(a->d, in, "snapshot", job_snapshot, snap, 0, a->r, err, sizeof(err));
}

static void act_snapshot_delete(struct action *a)
{
	char dir[PATH_MAX], err[512], users[400];
	if (!snapshot_dir(a->d, a->in, a->sub, dir, sizeof(dir), a->r)) return;
	if (dependents(a->d, a->in, dir, users, sizeof(users)))
		return api_fail(a->r, ERR_BUSY,
		                "snapshot '%s' of '%s' is what %s resume%s from: remove %s first", a->sub,
		                a->in->def.name, users, strchr(users, ',') ? "" : "s",
		                strchr(users, ',') ? "them" : "it");
	if (!db_snapshot_delete(a->d->db, a->in->def.name, a->sub, err, sizeof(err)))
		return api_fail(a->r, ERR_INTERNAL, "%s", err);
	fs_remove_tree(dir);
	api_reply(a->r, 200, json_pack("{s:s, s:b}", "snapshot", a->sub, "removed", 1));
}

static void act_restore(struct action *a)
{
	const char *snap = json_string_value(json_object_get(a->body, "snapshot"));
	if (!snap) return api_fail(a->r, ERR_INVALID, "expected {\"snapshot\": NAME}");
	char dir[PATH_MAX], err[512];
	if (!snapshot_dir(a->d, a->in, snap, dir, sizeof(dir), a->r)) return;
	if (claim(a->in, "restore", a->r))
		launch(a->d, a->in, "restore", job_restore, dir, a->timeout, a->r, err, sizeof(err));
}

static void act_clone(struct action *a)
{
	clone_instance(a->d, a->in, a->body, a->r);
}

static void act_migrate(struct action *a)
{
	char err[512];
	const char *to = json_string_value(json_object_get(a->body, "to"));
	if (!to || !strchr(to, ':'))
		return api_fail(a->r, ERR_INVALID,
		                "expected {\"to\": \"HOST:PORT\"} (a `cloison run --incoming PORT`)");
	if (a->in->def.type != INST_VM) return api_fail(a->r, ERR_BUSY, "containers cannot be migrated live");
	if (a->in->state != ST_RUNNING)
		return api_fail(a->r, ERR_BUSY, "'%s' is %s", a->in->def.name, inst_state_name(a->in->state));
	if (claim(a->in, "migrate", a->r))
		launch(a->d, a->in, "migrate", job_migrate, to, 0, a->r, err, sizeof(err));
}

static void act_receive(struct action *a)
{
	receive(a->d, a->in, a->body, a->r);
}

/* The actions on an instance: /v1/instances/NAME/ACTION[/SUB]. */
static const struct {
	const char *name, *method;
	bool sub; /* takes /SUB (and only then) */
	void (*fn)(struct action *a);
} actions[] = {
    {"start", "POST", false, act_start},
    {"stop", "POST", false, act_stop},
    {"restart", "POST", false, act_stop},
    {"pause", "POST", false, act_pause},
    {"resume", "POST", false, act_pause},
    {"limits", "GET", false, act_limits_get},
    {"limits", "PATCH", false, act_limits_set},
    {"limits", "POST", false, act_limits_set},
    {"stats", "GET", false, act_stats},
    {"screenshot", "GET", false, act_screenshot},
    {"input", "POST", false, act_input},
    {"vnc", "POST", false, act_vnc},
    {"logs", "GET", false, act_logs},
    {"console", "POST", false, act_console},
    {"agent", "POST", false, act_agent},
    {"publish", "POST", false, act_publish},
    {"snapshots", "GET", false, act_snapshots_list},
    {"snapshots", "POST", false, act_snapshot_take},
    {"snapshots", "DELETE", true, act_snapshot_delete},
    {"restore", "POST", false, act_restore},
    {"clone", "POST", false, act_clone},
    {"migrate", "POST", false, act_migrate},
    {"receive", "POST", false, act_receive},
};

static void instance_action(struct daemon *d, struct instance *in, const char *method, const char *action,
                            const char *sub, const char *q, json_t *body, struct http_response *r)
{
	struct action a = {
	    .d = d, .in = in, .name = action, .sub = sub, .q = q, .body = body, .timeout = 10, .r = r};
	json_t *t = json_object_get(body, "timeout");
	if (t && (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 3600))
		return api_fail(r, ERR_INVALID, "timeout must be whole seconds, 0 to 3600");
	if (t) a.timeout = (unsigned)json_integer_value(t);
	bool known = false;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(action, actions[i].name)) continue;
		known = true;
		if (!strcmp(method, actions[i].method) && actions[i].sub == (sub != NULL))
			return actions[i].fn(&a);
	}
	api_fail(r, known ? ERR_METHOD : ERR_NOT_FOUND,
	         "%s /v1/instances/%s/%s%s%s: no such endpoint (see docs/api.md)", method, in->def.name,
	         action, sub ? "/" : "", sub ? sub : "");
}

static void operation(struct daemon *d, const char *id_text, const char *q, struct http_response *r)
{
	char *end, buf[32];
	uint64_t id = strtoull(id_text, &end, 10);
	if (*end == '@' && d->cluster && strtoul(end + 1, NULL, 10) == (unsigned long)cluster_self(d))
		end += strlen(end); /* ID@SELF */
	struct op *op = *end ? NULL : op_find(d, id);
	if (!op) return api_fail(r, ERR_NOT_FOUND, "no operation %s", id_text);
	const char *w = api_query(q, "wait", buf, sizeof(buf));
	if (w) {
		double secs = *w ? strtod(w, NULL) : 60;
		if (!(secs >= 0) || secs > 3600) secs = 3600;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)secs;
		until.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
		if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
		while (!strcmp(op->status, "running"))
			if (pthread_cond_timedwait(&d->changed, &d->lock, &until) == ETIMEDOUT) break;
		op = op_find(d, id); /* may have been dropped meanwhile */
		if (!op) return api_fail(r, ERR_NOT_FOUND, "no operation %s", id_text);
	}
	api_reply(r, 200, op_json(op));
}

void api_handle(void *opaque, const char *method, const char *full_path, const char *body_text,
                size_t body_len, struct http_response *r)
{
	struct daemon *d = opaque;
	char path[256];
	snprintf(path, sizeof(path), "%s", full_path);
	char *q = strchr(path, '?');
	if (q) *q++ = 0;
	char *seg[6] = {0};
	int n = 0;
	for (char *save = NULL, *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 6) return api_fail(r, ERR_NOT_FOUND, "no such endpoint (see docs/api.md)");
		seg[n++] = t;
	}
	bool get = !strcmp(method, "GET");
	if (n == 1 && !strcmp(seg[0], "metrics")) {
		if (!get) return api_fail(r, ERR_METHOD, "/metrics takes GET");
		r->status = 200;
		r->content_type = "text/plain; version=0.0.4; charset=utf-8";
		r->body = metrics_text(d);
		if (!r->body) api_fail(r, ERR_INTERNAL, "out of memory");
		return;
	}
	if (n == 0 || strcmp(seg[0], "v1"))
		return api_fail(r, ERR_NOT_FOUND,
		                "no such endpoint: the API lives under /v1 (see docs/api.md)");
	if (n >= 3 && !strcmp(seg[1], "instances") && d->cluster) {
		/* Another host's instance: asked there. */
		pthread_mutex_lock(&d->lock);
		bool here = daemon_find(d, seg[2]) != NULL;
		pthread_mutex_unlock(&d->lock);
		if (!here && cluster_forward(d, seg[2], method, full_path, body_text, body_len, r)) return;
	}
	if (n == 3 && !strcmp(seg[1], "operations") && strchr(seg[2], '@') && d->cluster) {
		/* ID@NODE: an operation another host runs (started through a forwarded request). */
		unsigned long node = strtoul(strchr(seg[2], '@') + 1, NULL, 10);
		if (node != (unsigned long)cluster_self(d) &&
		    cluster_forward_to(d, (uint32_t)node, seg[2], method, full_path, body_text, body_len, r))
			return;
	}
	json_t *body = api_parse_body(body_text, body_len, r);
	if (!body) return;
	pthread_mutex_lock(&d->lock);
	d->requests++;
	if (n == 1 && get) {
		api_reply(r, 200,
		          json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:i}", "server", "cloisond",
		                    "version", CLOISON_VERSION, "api", "v1", "state_dir", d->state_dir,
		                    "run_dir", d->run_dir, "pid", (int)getpid(), "instances",
		                    (json_int_t)d->ninsts, "schema_version", db_schema_version(d->db)));
	} else if (n == 2 && !strcmp(seg[1], "instances")) {
		if (get)
			list_instances(d, r);
		else if (!strcmp(method, "POST"))
			create(d, body, r);
		else
			api_fail(r, ERR_METHOD, "/v1/instances takes GET or POST");
	} else if (n >= 3 && !strcmp(seg[1], "instances")) {
		struct instance *in = daemon_find(d, seg[2]);
		if (!in) {
			api_fail(r, ERR_NOT_FOUND, "no instance named '%.80s'", seg[2]);
		} else if (n == 3) {
			char buf[16];
			if (get) {
				daemon_refresh(d, in);
				api_reply(r, 200, inst_json(d, in));
			} else if (!strcmp(method, "DELETE")) {
				remove_instance(d, in, api_truthy(api_query(q, "force", buf, sizeof(buf))),
				                r);
			} else {
				api_fail(r, ERR_METHOD, "/v1/instances/NAME takes GET or DELETE");
			}
		} else {
			instance_action(d, in, method, seg[3], n > 4 ? seg[4] : NULL, q, body, r);
		}
	} else if (n == 2 && !strcmp(seg[1], "operations") && get) {
		json_t *a = json_array();
		for (struct op *op = d->ops; op; op = op->next) json_array_append_new(a, op_json(op));
		api_reply(r, 200, a);
	} else if (n == 3 && !strcmp(seg[1], "operations") && get) {
		operation(d, seg[2], q, r);
	} else if (n >= 2 && !strcmp(seg[1], "networks")) {
		api_networks(d, method, seg, n, body, r);
	} else if (n >= 2 && !strcmp(seg[1], "cluster")) {
		cluster_api(d, method, seg, n, body, r);
	} else if (n >= 2 && !strcmp(seg[1], "ha")) {
		ha_api(d, method, seg, n, body, r);
	} else if (n >= 2 && !strcmp(seg[1], "lbs")) {
		lb_api(d, method, seg, n, body, r);
	} else if (n >= 2 && !strcmp(seg[1], "images")) {
		api_images(d, method, seg, n, body, r);
	} else if (n >= 2 && !strcmp(seg[1], "storage-pools")) {
		api_storage(d, method, seg, n, body, r);
	} else if (n >= 2 && !strcmp(seg[1], "tokens")) {
		tokens_api(d, method, seg, n, body, r);
	} else {
		api_fail(r, ERR_NOT_FOUND, "no such endpoint (see docs/api.md)");
	}
	pthread_mutex_unlock(&d->lock);
	json_decref(body);
}
