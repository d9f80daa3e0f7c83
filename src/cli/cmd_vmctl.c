/*
 * cmd_vmctl.c — the verbs that drive a running VM through its control
 * socket (`cloison run --api-sock PATH`): status, stats, pause, resume,
 * stop, save, migrate; plus cold migration of a saved directory.
 *
 * Exit status: 0 done, 1 the VM or the socket refused (the message says
 * why), 2 usage errors.
 */
#define _GNU_SOURCE
#include "commands.h"

#include "util/log.h"
#include "util/parse.h"
#include "http/http.h"
#include "vm/vm.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* One request; returns the HTTP status (0 if the socket failed) and the body in *out. */
static int api_call(const char *sock, const char *method, const char *path, const char *body, char **out)
{
	char err[512];
	int status = http_call_unix(sock, method, path, body, 600000, out, err, sizeof(err));
	if (!status) log_error("the VM's control socket: %s", err);
	return status;
}

static int finish(int status, char *body, bool quiet)
{
	int rc = 0;
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	if (status == 0) {
		rc = 1;
	} else if (status >= 300) {
		const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
		log_error("%s", msg ? msg : "request failed");
		rc = 1;
	} else if (!quiet && j) {
		char *pretty = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (pretty) puts(pretty);
		free(pretty);
	}
	json_decref(j);
	free(body);
	return rc;
}

static void usage(FILE *out, const char *verb)
{
	if (!strcmp(verb, "save"))
		fprintf(
		    out,
		    "Usage: cloison save --sock PATH DIR [--then pause|resume|stop]\n"
		    "Saves the VM's whole state to DIR (vmstate + sparse memory file); the VM stays paused\n"
		    "unless --then says otherwise. `cloison run --restore DIR` resumes it.\n");
	else if (!strcmp(verb, "migrate"))
		fprintf(
		    out,
		    "Usage: cloison migrate --sock PATH --to HOST:PORT [--copy-storage]   (live)\n"
		    "       cloison migrate --from DIR --to HOST:PORT      (cold: a saved VM)\n"
		    "Moves the VM to a `cloison run --incoming PORT` on HOST. Live migration copies memory\n"
		    "while the guest runs, then pauses it briefly; the source stops only once the\n"
		    "destination runs the guest, and keeps running if anything fails. Disks must be\n"
		    "reachable at the same paths on the destination (shared storage), or, with\n"
		    "--copy-storage, travel in the stream to the destination's --storage-dir (meant for\n"
		    "qcow2 overlays whose backing files both hosts have).\n");
	else
		fprintf(out, "Usage: cloison %s --sock PATH\n", verb);
	fprintf(out, "  -s, --sock PATH   the VM's control socket (`cloison run --api-sock PATH`)\n"
	             "  -q, --quiet       print nothing on success\n"
	             "  -h, --help        this help\n");
}

int cmd_vmctl(int argc, char **argv)
{
	const char *verb = argv[0], *sock = NULL, *to = NULL, *from = NULL, *then = NULL;
	bool quiet = false, copy_storage = false;
	static const struct option longopts[] = {
	    {"sock", required_argument, NULL, 's'},   {"to", required_argument, NULL, 't'},
	    {"from", required_argument, NULL, 'f'},   {"then", required_argument, NULL, 'T'},
	    {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
	    {"copy-storage", no_argument, NULL, 'C'}, {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 't': to = optarg; break;
		case 'f': from = optarg; break;
		case 'T': then = optarg; break;
		case 'q': quiet = true; break;
		case 'C': copy_storage = true; break;
		case 'h': usage(stdout, verb); return 0;
		default: usage(stderr, verb); return 2;
		}
	}
	bool is_save = !strcmp(verb, "save"), is_migrate = !strcmp(verb, "migrate");
	if ((to || from) && !is_migrate) {
		log_error("--to and --from belong to `cloison migrate`");
		return 2;
	}
	if (copy_storage && (!is_migrate || from)) {
		log_error(
		    "--copy-storage belongs to live migration: cloison migrate --sock PATH --to HOST:PORT");
		return 2;
	}
	if (then && !is_save) {
		log_error("--then belongs to `cloison save`");
		return 2;
	}
	if (is_migrate && from) {
		if (!to || sock || optind != argc) {
			log_error("cold migration: cloison migrate --from DIR --to HOST:PORT");
			return 2;
		}
		char host[256], err[512];
		const char *port;
		if (!parse_host_port(to, false, host, sizeof(host), &port)) {
			log_error("--to must be HOST:PORT");
			return 2;
		}
		struct vm_migrate_stats st;
		if (!vm_migrate_saved(from, host, port, &st, err, sizeof(err))) {
			log_error("%s", err);
			return 1;
		}
		if (!quiet)
			printf("migrated %s to %s: %llu pages, %.1f MiB in %.1f ms\n", from, to,
			       (unsigned long long)st.pages_sent, (double)st.bytes_sent / 1048576.0,
			       st.total_ms);
		return 0;
	}
	if (!sock) {
		log_error("%s needs --sock PATH (the VM's `cloison run --api-sock`)", verb);
		return 2;
	}
	char *body = NULL, *out = NULL;
	int status;
	if (is_save) {
		if (optind != argc - 1) {
			log_error("save needs one directory: cloison save --sock PATH DIR");
			return 2;
		}
		json_t *j = json_pack("{s:s}", "dir", argv[optind]);
		if (then) json_object_set_new(j, "then", json_string(then));
		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		status = api_call(sock, "POST", "/vm/save", body, &out);
	} else if (is_migrate) {
		if (!to || optind != argc) {
			log_error("live migration: cloison migrate --sock PATH --to HOST:PORT");
			return 2;
		}
		json_t *j = json_pack("{s:s, s:b}", "to", to, "copy_storage", copy_storage);
		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		status = api_call(sock, "POST", "/vm/migrate", body, &out);
	} else {
		if (optind != argc) {
			log_error("unexpected argument '%s'", argv[optind]);
			return 2;
		}
		char path[32];
		bool get = !strcmp(verb, "status") || !strcmp(verb, "stats");
		snprintf(path, sizeof(path), "/vm%s%s", strcmp(verb, "status") ? "/" : "",
		         strcmp(verb, "status") ? verb : "");
		status = api_call(sock, get ? "GET" : "POST", path, NULL, &out);
	}
	free(body);
	return finish(status, out, quiet);
}
