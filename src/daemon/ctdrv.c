/*
 * ctdrv.c — container instances (see driver.h). Starting goes through
 * `cloison ct run -d --spec FILE` in a fresh process (the engine forks and
 * clones, which a threaded daemon must not do itself); stopping, pausing,
 * limits and accounting call the engine directly on its record, which lives
 * under the daemon's state directory.
 */
#define _GNU_SOURCE
#include "driver.h"

#include "container/ct_state.h"
#include "container/ct_stats.h"
#include "container/lifecycle.h"
#include "daemon/spawn.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cg_limits inst_cg_limits(const struct inst_limits *l)
{
	return (struct cg_limits){
	    .cpu_weight = l->cpu_weight, .cpu_max_pct = l->cpu_max, .memory = l->memory, .pids = l->pids};
}

/* The engine's definition: the container section plus name and limits. */
static json_t *engine_spec(const struct instance *in)
{
	json_t *j = json_deep_copy(in->def.container);
	struct cg_limits cl = inst_cg_limits(&in->def.limits);
	json_object_set_new(j, "name", json_string(in->def.name));
	json_object_set_new(j, "limits",
	                    json_pack("{s:I, s:I, s:I, s:I, s:I}", "cpu_weight", (json_int_t)cl.cpu_weight,
	                              "cpu_max_pct", (json_int_t)cl.cpu_max_pct, "memory",
	                              (json_int_t)cl.memory, "pids", (json_int_t)cl.pids, "io_weight",
	                              (json_int_t)0));
	return j;
}

static void ctdrv_refresh(struct daemon *d, struct instance *in);

static bool ctdrv_start(struct daemon *d, struct instance *in, const struct vm_start *how, char *err,
                        size_t errlen)
{
	char spec[PATH_MAX];
	inst_path(d, in, "container.json", spec, sizeof(spec));
	json_t *j = engine_spec(in);
	char *text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	bool ok = text && fs_write_file_atomic(spec, 0600, text, strlen(text), err, errlen);
	free(text);
	if (!ok) return false;
	/* The record of an earlier run goes; the copy-on-write layer of an --overlay container stays. */
	struct ct_spec old;
	struct ct_runtime rt;
	char msg[512];
	if (ct_record_load(in->def.name, &old, &rt, msg, sizeof(msg))) {
		ct_spec_free(&old);
		if (!ct_remove(in->def.name, false, err, errlen)) return false;
	}
	int out[2];
	if (pipe2(out, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return false;
	}
	char *argv[] = {d->exe, "ct", "run", "--spec", spec, "-d", NULL};
	struct spawn_opts so = {.stderr_fd = out[1], .name = in->def.name};
	pid_t pid = daemon_spawn(d->exe, argv, &so, err, errlen);
	close(out[1]);
	if (pid < 0) {
		close(out[0]);
		return false;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(out[0], msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		len += (size_t)n;
		if (len == sizeof(msg) - 1) break;
	}
	msg[len] = 0;
	close(out[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (len && msg[len - 1] == '\n') msg[--len] = 0;
		const char *m = strncmp(msg, "cloison: ", 9) ? msg : msg + 9;
		snprintf(err, errlen, "%s", *m ? m : "the container did not start");
		return false;
	}
	pthread_mutex_lock(&d->lock);
	in->started_at = (int64_t)time(NULL);
	in->message[0] = 0;
	ctdrv_refresh(d, in); /* running, or already ended */
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	return true;
}

static bool ctdrv_stop(struct daemon *d, struct instance *in, unsigned timeout_s, char *err, size_t errlen)
{
	pthread_mutex_lock(&d->lock);
	in->state = ST_STOPPING;
	pthread_mutex_unlock(&d->lock);
	bool ok = ct_stop(in->def.name, timeout_s, err, errlen);
	pthread_mutex_lock(&d->lock);
	ctdrv_refresh(d, in);
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static bool ctdrv_pause(struct daemon *d, struct instance *in, bool pause, char *err, size_t errlen)
{
	bool ok = ct_pause(in->def.name, pause, err, errlen);
	pthread_mutex_lock(&d->lock);
	ctdrv_refresh(d, in);
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static bool ctdrv_apply_limits(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	if (!ct_record_load(in->def.name, &s, &rt, err, errlen)) return false;
	ct_spec_free(&s);
	if (!rt.has_cgroup) {
		snprintf(err, errlen, "container '%s' has no cgroup", in->def.name);
		return false;
	}
	struct cg_limits cl = inst_cg_limits(&in->def.limits);
	return cg_set_limits(&rt.cg, &cl, err, errlen);
}

static json_t *ctdrv_stats(struct daemon *d, struct instance *in, struct inst_usage *u, char *err,
                           size_t errlen)
{
	json_t *raw = ct_stats_json(in->def.name, err, errlen);
	if (!raw) return NULL;
#define GET(k) (uint64_t) json_integer_value(json_object_get(raw, k))
	u->cpu_ns = GET("cpu_ns"), u->memory_bytes = GET("memory_bytes");
	u->disk_read_bytes = GET("io_read_bytes"), u->disk_write_bytes = GET("io_write_bytes");
	u->disk_read_ops = GET("io_read_ops"), u->disk_write_ops = GET("io_write_ops");
	u->net_rx_bytes = GET("net_rx_bytes"), u->net_tx_bytes = GET("net_tx_bytes");
#undef GET
	return raw;
}

static bool ctdrv_remove(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	char msg[256];
	if (!ct_record_load(in->def.name, &s, &rt, msg, sizeof(msg))) return true; /* never started */
	ct_spec_free(&s);
	return ct_remove(in->def.name, true, err, errlen);
}

/* The terminal init has as its console; its supervisor serves it. */
static void ctdrv_console_socket(struct daemon *d, const struct instance *in, char *buf, size_t len)
{
	char dir[PATH_MAX];
	if (!ct_dir(in->def.name, dir, sizeof(dir))) dir[0] = 0;
	snprintf(buf, len, "%s/console.sock", dir);
}

/* The identity of the engine's state.json (all zero when absent). */
static void record_key(const struct instance *in, uint64_t key[3])
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct stat st;
	key[0] = key[1] = key[2] = 0;
	if (!ct_dir(in->def.name, dir, sizeof(dir))) return;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (stat(path, &st)) return;
	key[0] = (uint64_t)st.st_ino;
	key[1] = (uint64_t)st.st_size;
	key[2] = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
}

static bool ctdrv_current(struct daemon *d, struct instance *in)
{
	(void)d;
	uint64_t key[3];
	record_key(in, key);
	/* An up container is current only while its init is watched (the pidfd reports its end). */
	bool up = in->state == ST_RUNNING || in->state == ST_PAUSED;
	return (key[0] || key[2]) && !memcmp(key, in->rec_key, sizeof(key)) && (!up || in->pidfd >= 0);
}

static void unwatch(struct instance *in)
{
	if (in->pidfd >= 0) close(in->pidfd);
	in->pidfd = -1;
}

static void ctdrv_refresh(struct daemon *d, struct instance *in)
{
	struct ct_spec s;
	struct ct_runtime rt;
	char msg[256];
	record_key(in, in->rec_key);
	if (!ct_record_load(in->def.name, &s, &rt, msg, sizeof(msg))) {
		in->state = ST_STOPPED;
		in->pid = 0;
		unwatch(in);
		return;
	}
	ct_spec_free(&s);
	enum ct_status st = ct_status_of(&rt);
	pid_t was = in->pid;
	in->pid = st == CT_RUNNING || st == CT_PAUSED ? rt.pid : 0;
	in->pid_start = in->pid ? rt.pid_start : 0;
	if (st == CT_RUNNING)
		in->state = ST_RUNNING;
	else if (st == CT_PAUSED)
		in->state = ST_PAUSED;
	else {
		in->state = ST_STOPPED;
		in->exit_code = rt.exit_code;
		if (rt.stopped_at) in->started_at = rt.started_at;
		snprintf(in->message, sizeof(in->message), "init exited (%d)", rt.exit_code);
	}
	if (!in->pid || in->pid != was) unwatch(in);
	if (in->pid && in->pidfd < 0) {
		/* Opened after the liveness check: if init ended in between, the pidfd is ready at once. */
		in->pidfd = (int)pidfd_open(in->pid, 0);
		if (in->pidfd >= 0) daemon_wake_monitor(d);
	}
}

static void ctdrv_exited(struct daemon *d, struct instance *in)
{
	unwatch(in);
	if (in->busy) return; /* the operation under way refreshes when it ends */
	ctdrv_refresh(d, in);
	daemon_save_runtime(d, in);
}

static void ctdrv_console_log(struct daemon *d, const struct instance *in, char *buf, size_t len)
{
	snprintf(buf, len, "%s/containers/%s/console.log", d->state_dir, in->def.name);
}

/* Reads the engine's record again unless it is unchanged (or an operation holds the instance and
 * refreshes when it ends). */
static void ctdrv_refresh_if_stale(struct daemon *d, struct instance *in)
{
	if (!in->busy && !ctdrv_current(d, in)) ctdrv_refresh(d, in);
}

const struct inst_driver ct_driver = {
    .start = ctdrv_start,
    .stop = ctdrv_stop,
    .pause = ctdrv_pause,
    .apply_limits = ctdrv_apply_limits,
    .stats = ctdrv_stats,
    .remove = ctdrv_remove,
    .console_socket = ctdrv_console_socket,
    .console_log = ctdrv_console_log,
    .exited = ctdrv_exited,
    .adopt = ctdrv_refresh,
    .refresh = ctdrv_refresh_if_stale,
};
