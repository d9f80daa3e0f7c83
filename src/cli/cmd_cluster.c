/*
 * cmd_cluster.c — `cloison cluster create|join|status|token` and
 * `cloison ha add|rm|status`: several hosts as one (docs/cluster.md), through
 * the local cloisond.
 *
 * Exit status: 0 done, 1 refused (message on stderr), 2 usage error, 3 no daemon.
 */
#include "commands.h"
#include "util/log.h"

#include "daemon_client.h"
#include "output.h"
#include "usage.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cluster_usage(FILE *out, int rc)
{
	fprintf(out, "Usage: cloison cluster create NAME --addr ADDR [--node-name NAME]\n"
	             "   or: cloison cluster join MEMBER_ADDR --token TOKEN --addr ADDR [--node-name NAME]\n"
	             "   or: cloison cluster status [--format table|json|yaml|csv]\n"
	             "   or: cloison cluster token\n"
	             "   or: cloison cluster evacuate HOST\n"
	             "   or: cloison cluster balance [--auto on|off]\n"
	             "   or: cloison cluster leave\n"
	             "   or: cloison cluster node rm NAME\n"
	             "\n"
	             "create  makes this host the first node of a new cluster; ADDR is the IPv4 address\n"
	             "        corosync and joins use; prints the join token other hosts need\n"
	             "join    joins the cluster a member at MEMBER_ADDR belongs to (TLS with the token as\n"
	             "        key; the cluster's key comes back encrypted)\n"
	             "status  nodes, which are online, quorum, this host's HA lease\n"
	             "token   a new join token (the old one stops working)\n"
	             "evacuate  moves every instance off HOST for maintenance: running VMs by live\n"
	             "        migration (shared storage), containers stopped and started elsewhere\n"
	             "balance live-migrates VMs from the most to the least loaded hosts (vCPUs of running\n"
	             "        VMs) while they differ by 2 or more; --auto on: the cluster does it when the\n"
	             "        load stays uneven for 20 s (off by default)\n"
	             "leave   this host leaves the cluster (it must own nothing: evacuate it first)\n"
	             "node rm forgets a host that is down for good and owns nothing\n"
	             "\n"
	             "The node name defaults to the host name. HA needs three hosts or more: a failed\n"
	             "host's HA instances restart elsewhere only in a majority. See docs/cluster.md.\n");
	return rc;
}

static int ha_usage(FILE *out, int rc)
{
	fprintf(
	    out,
	    "Usage: cloison ha add NAME [--group G] [--max-restarts N] [--replicate-every 5s --to HOST,...]\n"
	    "   or: cloison ha rm NAME\n"
	    "   or: cloison ha status [--format table|json|yaml|csv]\n"
	    "\n"
	    "add     makes a stopped VM instance of this host highly available and starts it: it\n"
	    "        runs under this host's lease, is restarted up to N times (default 3) when\n"
	    "        it crashes, and restarts on a surviving host when this one fails. Its disks\n"
	    "        must be on storage every host reaches at the same path, or replicated:\n"
	    "        --replicate-every sends the blocks written since the last time to the HOSTs\n"
	    "        (crash-consistent, over the cluster's TLS channel); if this host fails it\n"
	    "        restarts on one of them from its replica, losing at most about one interval.\n"
	    "rm      stops guarding it (it keeps running where it is)\n"
	    "status  every HA instance: where it runs, its state, failovers\n");
	return rc;
}

/* Options shared by create and join; argv[optind..] are the positional arguments. */
struct cluster_opts {
	const char *addr, *token, *node_name, *autob;
};

/* -1 to go on, else the exit status of a usage error. */
static int parse_opts(int argc, char **argv, struct cluster_opts *o)
{
	static const struct option longopts[] = {{"addr", required_argument, NULL, 'a'},
	                                         {"token", required_argument, NULL, 't'},
	                                         {"node-name", required_argument, NULL, 'n'},
	                                         {"auto", required_argument, NULL, 'A'},
	                                         {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->addr = optarg; break;
		case 't': o->token = optarg; break;
		case 'n': o->node_name = optarg; break;
		case 'A': o->autob = optarg; break;
		default: return cli_option_error("cluster", argv, longopts);
		}
	}
	return -1;
}

static void print_status(json_t *s)
{
	printf("cluster   %s\n", json_string_value(json_object_get(s, "name")));
	printf("this host %s (node %lld)\n", json_string_value(json_object_get(s, "self_name")),
	       (long long)json_integer_value(json_object_get(s, "self")));
	printf("quorum    %s%s\n", json_is_true(json_object_get(s, "quorate")) ? "yes" : "NO",
	       json_is_true(json_object_get(s, "synced")) ? "" : " (synchronising)");
	printf("lease     %.1f s left\n", json_real_value(json_object_get(s, "lease_s")));
	printf("\n%-4s %-16s %-16s %s\n", "ID", "NAME", "ADDRESS", "STATUS");
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(s, "nodes"), i, n)
	{
		char status[64];
		if (json_is_true(json_object_get(n, "online")))
			snprintf(status, sizeof(status), "online");
		else if (json_object_get(n, "gone_s"))
			snprintf(status, sizeof(status), "offline for %.0f s",
			         json_real_value(json_object_get(n, "gone_s")));
		else
			snprintf(status, sizeof(status), "offline");
		printf("%-4lld %-16s %-16s %s\n", (long long)json_integer_value(json_object_get(n, "id")),
		       json_string_value(json_object_get(n, "name")),
		       json_string_value(json_object_get(n, "addr")), status);
	}
}

int cmd_cluster(int argc, char **argv)
{
	enum out_format fmt;
	if (out_take_format("cluster", &argc, argv, &fmt)) return 2;
	bool js = fmt != OUT_TABLE;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return cluster_usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	struct cluster_opts o;
	int bad = parse_opts(argc - 1, argv + 1, &o);
	if (bad >= 0) return bad;
	int npos = argc - 1 - optind;
	char **pos = argv + 1 + optind;
	json_t *ans = NULL;
	int st;
	if (!strcmp(verb, "create") && npos == 1 && o.addr) {
		json_t *body = json_pack("{s:s, s:s}", "name", pos[0], "addr", o.addr);
		if (o.node_name) json_object_set_new(body, "node_name", json_string(o.node_name));
		st = dc_call("POST", "/v1/cluster", body, &ans);
		json_decref(body);
		if (st == 201)
			printf("cluster %s created; other hosts join with:\n  cloison cluster join %s "
			       "--token %s "
			       "--addr THEIR_ADDR\n",
			       pos[0], o.addr, json_string_value(json_object_get(ans, "token")));
	} else if (!strcmp(verb, "join") && npos == 1 && o.addr && o.token) {
		json_t *body = json_pack("{s:s, s:s, s:s}", "peer", pos[0], "token", o.token, "addr", o.addr);
		if (o.node_name) json_object_set_new(body, "node_name", json_string(o.node_name));
		st = dc_call("POST", "/v1/cluster/join", body, &ans);
		json_decref(body);
		if (st == 200)
			cli_done("joined cluster %s as node %lld",
			         json_string_value(json_object_get(ans, "name")),
			         (long long)json_integer_value(json_object_get(ans, "self")));
	} else if (!strcmp(verb, "status") && npos == 0) {
		st = dc_call("GET", "/v1/cluster", NULL, &ans);
		if (st == 200) js ? out_document(stdout, ans, fmt) : print_status(ans);
	} else if (!strcmp(verb, "evacuate") && npos == 1) {
		json_t *body = json_pack("{s:s}", "node", pos[0]);
		st = dc_call("POST", "/v1/cluster/evacuate", body, &ans);
		json_decref(body);
		if (st == 202) {
			char doing[160];
			snprintf(doing, sizeof(doing), "moving everything off %s", pos[0]);
			int rc = dc_wait_op(ans, doing);
			json_decref(ans);
			return rc;
		}
	} else if (!strcmp(verb, "balance") && npos == 0) {
		json_t *body = json_object();
		if (o.autob) {
			if (strcmp(o.autob, "on") && strcmp(o.autob, "off")) {
				json_decref(body);
				return cli_usage_error("cluster", "--auto takes on or off");
			}
			json_object_set_new(body, "auto", json_boolean(!strcmp(o.autob, "on")));
		}
		st = dc_call("POST", "/v1/cluster/balance", body, &ans);
		json_decref(body);
		if (st == 200 && o.autob) printf("automatic balancing %s\n", o.autob);
		if (st == 200 && !o.autob) printf("the hosts' load is even: nothing to move\n");
		if (st == 202) {
			size_t i;
			json_t *mv;
			json_array_foreach(json_object_get(ans, "moves"), i, mv)
			    printf("moving %s\n", json_string_value(json_object_get(mv, "name")));
			int rc = dc_wait_op(ans, "balancing");
			json_decref(ans);
			return rc;
		}
	} else if (!strcmp(verb, "leave") && npos == 0) {
		st = dc_call("POST", "/v1/cluster/leave", NULL, &ans);
		if (st == 200)
			cli_done("this host left cluster %s",
			         json_string_value(json_object_get(ans, "cluster")));
	} else if (!strcmp(verb, "node") && npos == 2 && !strcmp(pos[0], "rm") && strlen(pos[1]) < 64) {
		char path[128];
		snprintf(path, sizeof(path), "/v1/cluster/nodes/%s", pos[1]);
		st = dc_call("DELETE", path, NULL, &ans);
		if (st == 200) cli_done("removed node %s from the cluster", pos[1]);
	} else if (!strcmp(verb, "token") && npos == 0) {
		st = dc_call("POST", "/v1/cluster/token", NULL, &ans);
		if (st == 200) printf("%s\n", json_string_value(json_object_get(ans, "token")));
	} else {
		return cli_usage_error("cluster", "unknown verb or wrong arguments: '%s'", verb);
	}
	json_decref(ans);
	return dc_rc(st);
}

int cmd_ha(int argc, char **argv)
{
	enum out_format fmt;
	if (out_take_format("ha", &argc, argv, &fmt)) return 2;
	bool js = fmt != OUT_TABLE;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return ha_usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	json_t *ans = NULL;
	int st;
	if (!strcmp(verb, "add") && argc >= 3) {
		json_t *body = json_pack("{s:s}", "name", argv[2]);
		for (int i = 3; i < argc; i += 2) {
			char *end;
			if (i + 1 >= argc) {
				json_decref(body);
				return cli_usage_error("ha", "option '%s' needs a value", argv[i]);
			}
			if (!strcmp(argv[i], "--group")) {
				json_object_set_new(body, "group", json_string(argv[i + 1]));
			} else if (!strcmp(argv[i], "--replicate-every")) {
				double secs = strtod(argv[i + 1], &end);
				if (!strcmp(end, "ms"))
					secs /= 1000;
				else if (!strcmp(end, "m"))
					secs *= 60;
				else if (*end && strcmp(end, "s"))
					secs = -1;
				if (!(secs >= 1 && secs <= 3600)) {
					log_error("--replicate-every: 1s to 1h (5s, 500ms, 2m)");
					json_decref(body);
					return 2;
				}
				json_object_set_new(body, "replicate_every_ms",
				                    json_integer((json_int_t)(secs * 1000)));
			} else if (!strcmp(argv[i], "--to")) {
				json_t *to = json_array();
				char *list = strdup(argv[i + 1]);
				for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
				     t = strtok_r(NULL, ",", &save))
					json_array_append_new(to, json_string(t));
				free(list);
				json_object_set_new(body, "to", to);
			} else if (!strcmp(argv[i], "--max-restarts")) {
				long n = strtol(argv[i + 1], &end, 10);
				if (*end || n < 0 || n > 1000) {
					log_error("--max-restarts: a count from 0 to 1000");
					json_decref(body);
					return 2;
				}
				json_object_set_new(body, "max_restarts", json_integer(n));
			} else {
				json_decref(body);
				return cli_usage_error("ha", "unknown option '%s'", argv[i]);
			}
		}
		st = dc_call("POST", "/v1/ha", body, &ans);
		json_decref(body);
		if (st == 200) cli_done("%s is highly available and starting", argv[2]);
	} else if (!strcmp(verb, "rm") && argc == 3 && strlen(argv[2]) < 100) {
		char path[160];
		snprintf(path, sizeof(path), "/v1/ha/%s", argv[2]);
		st = dc_call("DELETE", path, NULL, &ans);
		if (st == 200) cli_done("%s is no longer highly available", argv[2]);
	} else if (!strcmp(verb, "status") && argc == 2) {
		st = dc_call("GET", "/v1/ha", NULL, &ans);
		if (st == 200 && js) out_document(stdout, ans, fmt);
		if (st == 200 && !js) {
			printf("%-20s %-16s %-10s %-10s %-8s %s\n", "NAME", "LOCATION", "STATE", "FAILOVERS",
			       "GROUP", "REPLICAS (lag)");
			size_t i;
			json_t *h;
			json_array_foreach(ans, i, h)
			{
				const char *group = json_string_value(json_object_get(h, "group"));
				printf("%-20s %-16s %-10s %-10lld %-8s",
				       json_string_value(json_object_get(h, "name")),
				       json_string_value(json_object_get(h, "location")),
				       json_string_value(json_object_get(h, "state")),
				       (long long)json_integer_value(json_object_get(h, "failovers")),
				       group && *group ? group : "-");
				const char *host;
				json_t *rep;
				json_object_foreach(json_object_get(h, "replicas"), host, rep)
				{
					if (json_object_get(rep, "lag_s"))
						printf(" %s (%.1f s)", host,
						       json_real_value(json_object_get(rep, "lag_s")));
					else
						printf(" %s (%s)", host,
						       json_string_value(json_object_get(rep, "error"))
						           ?: "none yet");
				}
				printf("\n");
			}
		}
	} else {
		return cli_usage_error("ha", "unknown verb or wrong arguments: '%s'", verb);
	}
	json_decref(ans);
	return dc_rc(st);
}
