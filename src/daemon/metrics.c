/*
 * metrics.c — see metrics.h.
 */
#define _GNU_SOURCE
#include "metrics.h"
#include "daemon/replica.h"

#include "daemon/driver.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

json_t *metrics_instance_stats(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	struct inst_usage u = {0};
	json_t *raw = inst_driver(in)->stats(d, in, &u, err, errlen);
	if (!raw) return NULL;
	json_t *j =
	    json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", in->def.name, "type",
	              inst_type_name(in->def.type), "cpu_ns", (json_int_t)u.cpu_ns, "memory_bytes",
	              (json_int_t)u.memory_bytes, "disk_read_bytes", (json_int_t)u.disk_read_bytes,
	              "disk_write_bytes", (json_int_t)u.disk_write_bytes, "disk_read_ops",
	              (json_int_t)u.disk_read_ops, "disk_write_ops", (json_int_t)u.disk_write_ops,
	              "net_rx_bytes", (json_int_t)u.net_rx_bytes, "net_tx_bytes", (json_int_t)u.net_tx_bytes);
	if (u.has_instructions)
		json_object_set_new(j, "instructions", json_integer((json_int_t)u.instructions));
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
		json_t *rep = replica_status(); /* HA instances this host replicates */
		if (json_object_size(rep))
			fprintf(f, "# HELP cloison_ha_replication_lag_seconds Age of the newest delta a "
			           "target holds.\n"
			           "# TYPE cloison_ha_replication_lag_seconds gauge\n");
		const char *rname, *rid;
		json_t *rtargets, *rt;
		json_object_foreach(rep, rname, rtargets)
		{
			json_object_foreach(rtargets, rid, rt)
			{
				if (json_object_get(rt, "lag_s"))
					fprintf(f,
					        "cloison_ha_replication_lag_seconds{instance=\"%s\",target="
					        "\"%s\"} %.3f\n",
					        rname, rid, json_real_value(json_object_get(rt, "lag_s")));
			}
		}
		json_decref(rep);
		fprintf(f, "# HELP cloison_instance_up 1 while the instance runs or is paused.\n"
		           "# TYPE cloison_instance_up gauge\n");
		for (size_t i = 0; i < n; i++)
			sample(f, "cloison_instance_up", list[i],
			       list[i]->state == ST_RUNNING || list[i]->state == ST_PAUSED);
		static const struct {
			const char *metric, *key, *help, *type;
		} m[] = {
		    {"cloison_instance_cpu_seconds_total", "cpu_ns", "Host CPU time used.", "counter"},
		    {"cloison_instance_memory_bytes", "memory_bytes", "Host memory in use.", "gauge"},
		    {"cloison_vm_instructions_total", "instructions", "Guest instructions retired.",
		     "counter"},
		    {"cloison_instance_disk_read_bytes_total", "disk_read_bytes", "Bytes read from disk.",
		     "counter"},
		    {"cloison_instance_disk_written_bytes_total", "disk_write_bytes",
		     "Bytes written to disk.", "counter"},
		    {"cloison_instance_disk_reads_total", "disk_read_ops", "Disk read operations.",
		     "counter"},
		    {"cloison_instance_disk_writes_total", "disk_write_ops", "Disk write operations.",
		     "counter"},
		    {"cloison_instance_network_receive_bytes_total", "net_rx_bytes", "Bytes received.",
		     "counter"},
		    {"cloison_instance_network_transmit_bytes_total", "net_tx_bytes", "Bytes sent.",
		     "counter"},
		};
		for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[k].metric, m[k].help, m[k].metric,
			        m[k].type);
			for (size_t i = 0; i < n; i++) {
				json_t *value = stats[i] ? json_object_get(stats[i], m[k].key) : NULL;
				if (!value)
					continue; /* not measured for this kind (instructions: VMs only) */
				uint64_t v = (uint64_t)json_integer_value(value);
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
