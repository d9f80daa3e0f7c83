/*
 * cmd_lb.c — `cloison lb create|list|info|rm`: service load balancers run by
 * cloisond on HAProxy (docs/api.md, /v1/lbs).
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

static int lb_usage(FILE *out, int rc)
{
	fprintf(out,
	        "Usage: cloison lb create NAME --listen ADDR:PORT --backend INSTANCE:PORT... [--check "
	        "tcp|http:PATH] [--interval MS]\n"
	        "   or: cloison lb list [--format table|json|yaml|csv]\n"
	        "   or: cloison lb info NAME [--format table|json|yaml|csv]\n"
	        "   or: cloison lb rm NAME\n"
	        "\n"
	        "Spreads TCP connections to ADDR:PORT over the backends that pass their health check\n"
	        "(a TCP connect, or an HTTP GET of PATH answered 2xx/3xx) every MS milliseconds (default\n"
	        "1000; a backend is out after 2 failed checks, back after 2 good ones). A backend is a\n"
	        "container with a static address (--net veth,...,ip=A.B.C.D/N) and a port, or\n"
	        "A.B.C.D:PORT. In a cluster, the host that created it runs it, and its listen address\n"
	        "moves to a survivor if that host fails.\n");
	return rc;
}

static void print_lb(json_t *lb)
{
	printf("%-16s %-22s %-12s", json_string_value(json_object_get(lb, "name")),
	       json_string_value(json_object_get(lb, "listen")),
	       json_string_value(json_object_get(lb, "check")));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(lb, "servers"), i, s)
	{
		printf(" %s=%s", json_string_value(json_object_get(s, "backend")),
		       json_string_value(json_object_get(s, "state")));
	}
	const char *where = json_string_value(json_object_get(lb, "location"));
	if (where) printf(" (on %s)", where);
	printf("\n");
}

int cmd_lb(int argc, char **argv)
{
	enum out_format fmt;
	if (out_take_format("lb", &argc, argv, &fmt)) return 2;
	bool js = fmt != OUT_TABLE;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return lb_usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	json_t *ans = NULL;
	int st;
	if (!strcmp(verb, "create")) {
		static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
		                                         {"backend", required_argument, NULL, 'b'},
		                                         {"check", required_argument, NULL, 'c'},
		                                         {"interval", required_argument, NULL, 'i'},
		                                         {NULL, 0, NULL, 0}};
		json_t *body = json_pack("{s:[]}", "backends");
		optind = 1;
		opterr = 0; /* errors are ours: cli_option_error */
		int c;
		while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
			char *end;
			switch (c) {
			case 'l': json_object_set_new(body, "listen", json_string(optarg)); break;
			case 'b':
				json_array_append_new(json_object_get(body, "backends"), json_string(optarg));
				break;
			case 'c': json_object_set_new(body, "check", json_string(optarg)); break;
			case 'i':
				json_object_set_new(body, "interval_ms",
				                    json_integer(strtol(optarg, &end, 10)));
				if (*end) {
					log_error("--interval: milliseconds");
					json_decref(body);
					return 2;
				}
				break;
			default: json_decref(body); return cli_option_error("lb", argv + 1, longopts);
			}
		}
		if (optind + 1 != argc - 1) {
			json_decref(body);
			return cli_usage_error(
			    "lb", "expected create NAME --listen ADDR:PORT --backend INSTANCE:PORT...");
		}
		json_object_set_new(body, "name", json_string(argv[optind + 1]));
		st = dc_call("POST", "/v1/lbs", body, &ans);
		json_decref(body);
		if (st == 201)
			cli_done("load balancer %s listens on %s",
			         json_string_value(json_object_get(ans, "name")),
			         json_string_value(json_object_get(ans, "listen")));
	} else if (!strcmp(verb, "list") && argc == 2) {
		st = dc_call("GET", "/v1/lbs", NULL, &ans);
		if (st == 200 && js) out_document(stdout, ans, fmt);
		size_t i;
		json_t *lb;
		if (st == 200 && !js) json_array_foreach(ans, i, lb) print_lb(lb);
	} else if ((!strcmp(verb, "info") || !strcmp(verb, "rm")) && argc == 3 && strlen(argv[2]) < 100) {
		char path[160];
		snprintf(path, sizeof(path), "/v1/lbs/%s", argv[2]);
		st = dc_call(verb[0] == 'i' ? "GET" : "DELETE", path, NULL, &ans);
		if (st == 200 && verb[0] == 'i') out_document(stdout, ans, fmt);
		if (st == 200 && verb[0] == 'r') cli_done("removed load balancer %s", argv[2]);
	} else {
		return cli_usage_error("lb", "unknown verb or wrong arguments: '%s'", verb);
	}
	json_decref(ans);
	return dc_rc(st);
}
