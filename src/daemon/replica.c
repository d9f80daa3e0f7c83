/*
 * replica.c — replication of HA instances' local disks (`cloison ha add NAME
 * --replicate-every 5s --to HOST...`). Every interval the owner asks the VM
 * for a delta of its disks (the blocks written since the last one, taken with
 * the VM paused for an instant, so each replica is crash-consistent) and
 * pushes it to each target host over the cluster's TLS channel (the cluster
 * key as pre-shared key). A target checks the delta whole, applies it to
 * STATE/replicas/NAME/diskN.raw, syncs, and records which delta it holds and
 * when it was taken. When the owner fails, the instance restarts on a target
 * from its replica: the data lost is what the guest wrote after the last
 * delta that reached it.
 */
#define _GNU_SOURCE
#include "daemon/replica.h"

#include "block/delta.h"
#include "cluster/join.h"
#include "daemon/cluster.h"
#include "daemon/driver.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Per instance this host replicates: {"seq", "next_ns", "full", "taken_ns", "targets": {ID: {"seq",
 * "taken_ns", "error"}}}; guarded by `lock`. */
static json_t *sources;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void replica_dir(struct daemon *d, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%.3000s/replicas/%.200s", d->state_dir, name);
}

/* One round for one instance (no lock held): delta from the VM, then to each target. */
static void replicate(struct daemon *d, const char *name, json_t *ha, uint64_t now)
{
	pthread_mutex_lock(&lock);
	json_t *src = json_object_get(sources, name);
	if (!src)
		json_object_set_new(sources, name,
		                    src = json_pack("{s:I, s:I, s:b, s:{}}", "seq", (json_int_t)0, "next_ns",
		                                    (json_int_t)0, "full", 1, "targets"));
	uint64_t every = (uint64_t)json_integer_value(json_object_get(ha, "replicate_every_ms")) * 1000000ULL;
	bool due = now >= (uint64_t)json_integer_value(json_object_get(src, "next_ns"));
	bool full = json_is_true(json_object_get(src, "full"));
	json_int_t seq = json_integer_value(json_object_get(src, "seq")) + 1;
	if (due) json_object_set_new(src, "next_ns", json_integer((json_int_t)(now + every)));
	pthread_mutex_unlock(&lock);
	if (!due) return;
	char path[PATH_MAX + 256], err[512];
	snprintf(path, sizeof(path), "%.4000s/%.200s.delta", d->run_dir, name);
	pthread_mutex_lock(&d->lock);
	struct instance *in = daemon_find(d, name);
	bool running = in && in->state == ST_RUNNING && in->ha && !in->busy;
	if (running) inst_get(in);
	pthread_mutex_unlock(&d->lock);
	if (!running) return;
	uint64_t taken = monotonic_ns();
	bool ok = vmdrv_replica_delta(d, in, path, full, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	inst_put(in);
	pthread_mutex_unlock(&d->lock);
	struct stat st;
	if (!ok || stat(path, &st)) {
		log_warn("replica: %s: no delta: %s", name, err);
		pthread_mutex_lock(&lock);
		json_object_set_new(src, "full", json_true());
		pthread_mutex_unlock(&lock);
		return;
	}
	uint8_t key[4096];
	size_t key_len = 0;
	bool missed = !cluster_key(d, key, sizeof(key), &key_len);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(ha, "replicas"), i, t)
	{
		uint32_t id = (uint32_t)json_integer_value(t);
		char addr[64], key_s[16];
		if (id == cluster_self(d)) continue;
		snprintf(key_s, sizeof(key_s), "%u", id);
		const char *error = NULL;
		json_t *answer = NULL;
		if (!cluster_member_addr(d, id, addr, sizeof(addr))) {
			error = "not in the group";
		} else if (key_len) {
			json_t *req = json_pack("{s:s, s:s, s:I, s:I, s:b}", "kind", "replica", "name", name,
			                        "seq", seq, "bytes", (json_int_t)st.st_size, "full", full);
			answer = join_ask(addr, true, key, key_len, req, path, err, sizeof(err));
			json_decref(req);
			error = !answer ? err
			        : json_object_get(answer, "error")
			            ? json_string_value(json_object_get(answer, "error"))
			            : NULL;
		}
		pthread_mutex_lock(&lock);
		json_t *targets = json_object_get(src, "targets");
		json_t *tgt = json_object_get(targets, key_s);
		if (!tgt)
			json_object_set_new(
			    targets, key_s,
			    tgt = json_pack("{s:I, s:I}", "seq", (json_int_t)0, "taken_ns", (json_int_t)0));
		if (error) {
			json_object_set_new(tgt, "error", json_string(error));
			missed = true;
		} else {
			json_object_set_new(tgt, "seq", json_integer(seq));
			json_object_set_new(tgt, "taken_ns", json_integer((json_int_t)taken));
			json_object_del(tgt, "error");
		}
		pthread_mutex_unlock(&lock);
		json_decref(answer);
	}
	unlink(path);
	pthread_mutex_lock(&lock);
	json_object_set_new(src, "seq", json_integer(seq));
	/* A target that missed this delta misses its blocks: the next one carries every block. */
	json_object_set_new(src, "full", json_boolean(missed));
	pthread_mutex_unlock(&lock);
}

static void *replica_thread(void *arg)
{
	struct daemon *d = arg;
	for (;;) {
		usleep(200000);
		if (!d->cluster) continue;
		json_t *todo = cluster_replicated_here(d); /* name -> ha settings */
		const char *name;
		json_t *ha;
		uint64_t now = monotonic_ns();
		json_object_foreach(todo, name, ha) replicate(d, name, ha, now);
		pthread_mutex_lock(&lock);
		json_t *v, *tmp;
		json_object_foreach_safe(sources, tmp, name, v) /* no longer replicated from here */
		{
			if (!json_object_get(todo, name)) json_object_del(sources, name);
		}
		pthread_mutex_unlock(&lock);
		json_decref(todo);
	}
	return NULL;
}

bool replica_start(struct daemon *d, char *err, size_t errlen)
{
	sources = json_object();
	pthread_t t;
	if (pthread_create(&t, NULL, replica_thread, d))
		return snprintf(err, errlen, "cannot start a thread"), false;
	pthread_detach(t);
	return true;
}

json_t *replica_receive(struct daemon *d, json_t *req, struct join_io *io, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	json_int_t seq = json_integer_value(json_object_get(req, "seq"));
	json_int_t bytes = json_integer_value(json_object_get(req, "bytes"));
	if (!name || strchr(name, '/') || name[0] == '.' || seq <= 0 || bytes <= 0 || bytes > (1ll << 40))
		return snprintf(err, errlen, "malformed replica push"), NULL;
	if (!cluster_replica_target(d, name))
		return snprintf(err, errlen, "this host keeps no replica of '%s'", name), NULL;
	pthread_mutex_lock(&d->lock);
	bool here = daemon_find(d, name) != NULL;
	pthread_mutex_unlock(&d->lock);
	if (here)
		return snprintf(err, errlen, "'%s' runs on this host: its replica is its disk now", name),
		       NULL;
	char dir[PATH_MAX], delta[PATH_MAX + 32], meta[PATH_MAX + 32];
	replica_dir(d, name, dir, sizeof(dir));
	snprintf(delta, sizeof(delta), "%s/incoming.delta", dir);
	snprintf(meta, sizeof(meta), "%s/meta.json", dir);
	if (!mkdir_p(dir, 0700))
		return snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno)), NULL;
	int fd = open(delta, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && join_read_payload(io, fd, (uint64_t)bytes) && fsync(fd) == 0;
	if (fd >= 0) close(fd);
	if (!ok) {
		unlink(delta);
		return snprintf(err, errlen, "the delta did not arrive whole"), NULL;
	}
	struct delta_stats st;
	if (!delta_apply(delta, dir, &st, err, errlen)) {
		unlink(delta);
		return NULL;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	json_t *m = json_pack("{s:I, s:I, s:I}", "seq", seq, "applied_at", (json_int_t)now.tv_sec, "blocks",
	                      (json_int_t)st.blocks);
	char *text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	ok = text && fs_write_file_atomic(meta, 0600, text, strlen(text), err, errlen);
	free(text);
	unlink(delta);
	if (!ok) return NULL;
	return json_pack("{s:b, s:I, s:I}", "ok", 1, "seq", seq, "blocks", (json_int_t)st.blocks);
}

bool replica_present(struct daemon *d, const char *name)
{
	char dir[PATH_MAX], meta[PATH_MAX + 32];
	replica_dir(d, name, dir, sizeof(dir));
	snprintf(meta, sizeof(meta), "%s/meta.json", dir);
	return access(meta, R_OK) == 0;
}

json_t *replica_status(void)
{
	json_t *out = json_object();
	uint64_t now = monotonic_ns();
	pthread_mutex_lock(&lock);
	const char *name, *id;
	json_t *src, *t;
	json_object_foreach(sources, name, src)
	{
		json_t *o = json_object();
		json_object_foreach(json_object_get(src, "targets"), id, t)
		{
			uint64_t taken = (uint64_t)json_integer_value(json_object_get(t, "taken_ns"));
			json_t *e = json_pack("{s:O}", "seq", json_object_get(t, "seq"));
			if (taken) json_object_set_new(e, "lag_s", json_real((double)(now - taken) / 1e9));
			if (json_object_get(t, "error"))
				json_object_set(e, "error", json_object_get(t, "error"));
			json_object_set_new(o, id, e);
		}
		json_object_set_new(out, name, o);
	}
	pthread_mutex_unlock(&lock);
	return out;
}
