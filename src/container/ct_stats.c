/*
 * ct_stats.c — see ct_stats.h.
 */
#include "ct_stats.h"

#include "container/ct_state.h"

#include <stdio.h>
#include <string.h>

/* Bytes through the container's interfaces other than loopback (its network namespace's /proc/net/dev). */
static void net_bytes(pid_t pid, uint64_t *rx, uint64_t *tx)
{
	*rx = *tx = 0;
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon) continue;
		*colon = 0;
		char *name = line + strspn(line, " ");
		if (!strcmp(name, "lo")) continue;
		unsigned long long r, t;
		if (sscanf(colon + 1, "%llu %*u %*u %*u %*u %*u %*u %*u %llu", &r, &t) == 2) {
			*rx += r;
			*tx += t;
		}
	}
	fclose(f);
}

json_t *ct_stats_json(const char *name, char *err, size_t errlen)
{
	struct ct_spec s;
	struct ct_runtime rt;
	if (!ct_record_load(name, &s, &rt, err, errlen)) {
		return NULL;
	}
	ct_spec_free(&s);
	enum ct_status st = ct_status_of(&rt);
	if (st != CT_RUNNING && st != CT_PAUSED) {
		snprintf(err, errlen, "container '%s' is not running (%s)", name, ct_status_name(st));
		return NULL;
	}
	struct cg_stats cs;
	memset(&cs, 0, sizeof(cs));
	if (!rt.has_cgroup || !cg_read_stats(&rt.cg, &cs)) {
		snprintf(err, errlen, "container '%s' has no readable cgroup", name);
		return NULL;
	}
	uint64_t rx, tx;
	net_bytes(rt.pid, &rx, &tx);
	json_t *j = json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
	    name, "status", ct_status_name(st), "cpu_ns", (json_int_t)cs.cpu_usage_ns, "cpu_user_ns",
	    (json_int_t)cs.cpu_user_ns, "cpu_system_ns", (json_int_t)cs.cpu_system_ns, "cpu_throttled_ns",
	    (json_int_t)cs.throttled_ns, "memory_bytes", (json_int_t)cs.memory_bytes, "memory_peak_bytes",
	    (json_int_t)cs.memory_peak_bytes, "oom_kills", (json_int_t)cs.oom_kills, "pids",
	    (json_int_t)cs.pids, "io_read_bytes", (json_int_t)cs.io_read_bytes, "io_write_bytes",
	    (json_int_t)cs.io_write_bytes, "io_read_ops", (json_int_t)cs.io_read_ops, "io_write_ops",
	    (json_int_t)cs.io_write_ops, "net_rx_bytes", (json_int_t)rx, "net_tx_bytes", (json_int_t)tx,
	    "pid", (json_int_t)rt.pid);
	/* Limits only where set ("max" reads as UINT64_MAX). */
	if (cs.memory_limit && cs.memory_limit < (1ull << 62))
		json_object_set_new(j, "memory_limit", json_integer((json_int_t)cs.memory_limit));
	if (cs.pids_limit && cs.pids_limit != UINT64_MAX)
		json_object_set_new(j, "pids_limit", json_integer((json_int_t)cs.pids_limit));
	return j;
}
