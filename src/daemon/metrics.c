/*
 * metrics.c — see metrics.h.
 */
#define _GNU_SOURCE
#include "metrics.h"

#include "daemon/driver.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPU time and resident memory of one process from /proc (VMs without a cgroup). */
static void proc_usage(pid_t pid, uint64_t *cpu_ns, uint64_t *rss)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	long long rss_pages;
	if (p &&
	    sscanf(
	        p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %*u %lld",
	        &ut, &st, &rss_pages) == 3) {
		long hz = sysconf(_SC_CLK_TCK);
		*cpu_ns = (ut + st) * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
		*rss = (uint64_t)rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
	}
}

static uint64_t sum(json_t *array, const char *key)
{
	uint64_t s = 0;
	size_t i;
	json_t *v;
	json_array_foreach(array, i, v) s += (uint64_t)json_integer_value(json_object_get(v, key));
	return s;
}

json_t *metrics_instance_stats(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	uint64_t cpu = 0, mem = 0, instr = 0, rb = 0, wb = 0, ro = 0, wo = 0, rx = 0, tx = 0;
	json_t *raw;
	if (in->def.type == INST_VM) {
		if (!(raw = vmdrv_stats(d, in, err, errlen))) return NULL;
		instr = (uint64_t)json_integer_value(json_object_get(raw, "instructions"));
		json_t *disks = json_object_get(raw, "disks"), *nics = json_object_get(raw, "nics");
		rb = sum(disks, "read_bytes"), wb = sum(disks, "write_bytes");
		ro = sum(disks, "read_ops"), wo = sum(disks, "write_ops");
		rx = sum(nics, "rx_bytes"), tx = sum(nics, "tx_bytes");
		struct cg_stats cs = {0};
		if (in->has_cg && cg_read_stats(&in->cg, &cs) && cs.have[CG_CPUACCT]) cpu = cs.cpu_usage_ns;
		if (cs.have[CG_MEMORY]) mem = cs.memory_bytes;
		if (!cpu || !mem) { /* no cgroup: the process's own figures */
			uint64_t pcpu = 0, prss = 0;
			proc_usage(in->pid, &pcpu, &prss);
			if (!cpu) cpu = pcpu;
			if (!mem) mem = prss;
		}
	} else {
		if (!(raw = ctdrv_stats(d, in, err, errlen))) return NULL;
#define GET(k) (uint64_t) json_integer_value(json_object_get(raw, k))
		cpu = GET("cpu_ns"), mem = GET("memory_bytes"), rb = GET("io_read_bytes"),
		wb = GET("io_write_bytes");
		ro = GET("io_read_ops"), wo = GET("io_write_ops"), rx = GET("net_rx_bytes"),
		tx = GET("net_tx_bytes");
#undef GET
	}
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", in->def.name,
	                      "type", inst_type_name(in->def.type), "cpu_ns", (json_int_t)cpu, "memory_bytes",
	                      (json_int_t)mem, "disk_read_bytes", (json_int_t)rb, "disk_write_bytes",
	                      (json_int_t)wb, "disk_read_ops", (json_int_t)ro, "disk_write_ops",
	                      (json_int_t)wo, "net_rx_bytes", (json_int_t)rx, "net_tx_bytes", (json_int_t)tx);
	if (in->def.type == INST_VM) json_object_set_new(j, "instructions", json_integer((json_int_t)instr));
	json_object_set_new(j, "engine", raw);
	return j;
}

/* Label values are names (letters, digits, - _ .): nothing to escape. */
static void sample(FILE *f, const char *metric, const struct instance *in, uint64_t v)
{
	fprintf(f, "%s{name=\"%s\",type=\"%s\"} %llu\n", metric, in->def.name, inst_type_name(in->def.type),
	        (unsigned long long)v);
}

char *metrics_text(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	size_t n = d->ninsts;
	struct instance **list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	unsigned by_state[ST_CRASHED + 1] = {0};
	for (size_t i = 0; i < n; i++) {
		list[i] = d->insts[i];
		daemon_refresh(d, list[i]);
		by_state[list[i]->state]++;
		inst_get(list[i]);
	}
	uint64_t requests = d->requests, uptime = (monotonic_ns() - d->started_ns) / 1000000000ULL;
	pthread_mutex_unlock(&d->lock);

	json_t **stats = calloc(n ? n : 1, sizeof(*stats));
	for (size_t i = 0; stats && i < n; i++) {
		char err[256];
		if (list[i]->state == ST_RUNNING || list[i]->state == ST_PAUSED)
			stats[i] = metrics_instance_stats(d, list[i], err, sizeof(err));
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f && stats) {
		fprintf(f,
		        "# HELP cloisond_uptime_seconds Seconds since cloisond started.\n"
		        "# TYPE cloisond_uptime_seconds gauge\ncloisond_uptime_seconds %llu\n",
		        (unsigned long long)uptime);
		fprintf(f,
		        "# HELP cloisond_api_requests_total API requests served.\n"
		        "# TYPE cloisond_api_requests_total counter\ncloisond_api_requests_total %llu\n",
		        (unsigned long long)requests);
		fprintf(f, "# HELP cloison_instances Instances defined, by state.\n# TYPE cloison_instances "
		           "gauge\n");
		for (int s = 0; s <= ST_CRASHED; s++)
			fprintf(f, "cloison_instances{state=\"%s\"} %u\n",
			        inst_state_name((enum inst_state)s), by_state[s]);
		fprintf(f, "# HELP cloison_instance_up 1 while the instance runs or is paused.\n"
		           "# TYPE cloison_instance_up gauge\n");
		for (size_t i = 0; i < n; i++)
			sample(f, "cloison_instance_up", list[i],
			       list[i]->state == ST_RUNNING || list[i]->state == ST_PAUSED);
		static const struct {
			const char *metric, *key, *help, *type;
			bool vm_only;
		} m[] = {
		    {"cloison_instance_cpu_seconds_total", "cpu_ns", "Host CPU time used.", "counter", false},
		    {"cloison_instance_memory_bytes", "memory_bytes", "Host memory in use.", "gauge", false},
		    {"cloison_vm_instructions_total", "instructions", "Guest instructions retired.",
		     "counter", true},
		    {"cloison_instance_disk_read_bytes_total", "disk_read_bytes", "Bytes read from disk.",
		     "counter", false},
		    {"cloison_instance_disk_written_bytes_total", "disk_write_bytes",
		     "Bytes written to disk.", "counter", false},
		    {"cloison_instance_disk_reads_total", "disk_read_ops", "Disk read operations.", "counter",
		     false},
		    {"cloison_instance_disk_writes_total", "disk_write_ops", "Disk write operations.",
		     "counter", false},
		    {"cloison_instance_network_receive_bytes_total", "net_rx_bytes", "Bytes received.",
		     "counter", false},
		    {"cloison_instance_network_transmit_bytes_total", "net_tx_bytes", "Bytes sent.",
		     "counter", false},
		};
		for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[k].metric, m[k].help, m[k].metric,
			        m[k].type);
			for (size_t i = 0; i < n; i++) {
				if (!stats[i] || (m[k].vm_only && list[i]->def.type != INST_VM)) continue;
				uint64_t v =
				    (uint64_t)json_integer_value(json_object_get(stats[i], m[k].key));
				if (!strcmp(m[k].key, "cpu_ns"))
					fprintf(f, "%s{name=\"%s\",type=\"%s\"} %.9f\n", m[k].metric,
					        list[i]->def.name, inst_type_name(list[i]->def.type),
					        (double)v / 1e9);
				else
					sample(f, m[k].metric, list[i], v);
			}
		}
	}
	if (f) fclose(f);
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < n; i++) {
		if (stats) json_decref(stats[i]);
		inst_put(list[i]);
	}
	pthread_mutex_unlock(&d->lock);
	free(stats);
	free(list);
	return text;
}
