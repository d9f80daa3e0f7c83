/*
 * cmd_vmctl.c — the verbs that drive a VM run by hand through its control
 * socket (`cloison run --api-sock PATH`): status, stats, pause, resume and
 * stop (vmctl_simple), save, migrate (live, or cold from a saved
 * directory). Each parses its own options.
 *
 * Exit status: 0 done, 1 the VM or the socket refused (the message says
 * why), 2 usage errors.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "output.h"
#include "usage.h"

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

/* The answer: an error on stderr (exit 1), a document (status, stats) in the format asked for, or
 * the one line `done` makes of it. */
static int finish(int status, char *body, enum out_format fmt, void (*done)(json_t *answer))
{
	int rc = 0;
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	if (status == 0) {
		rc = 1;
	} else if (status >= 300) {
		const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
		log_error("%s", msg ? msg : "request failed");
		rc = 1;
	} else if (j && !done) {
		out_document(stdout, j, fmt);
	} else if (j) {
		done(j);
	}
	json_decref(j);
	free(body);
	return rc;
}

#define ANSWER_NUM(j, key) json_number_value(json_object_get(j, key))

static void said_state(json_t *j)
{
	const char *state = json_string_value(json_object_get(j, "state"));
	cli_done("the VM is %s", state ? state : "done");
}

static void said_save(json_t *j)
{
	char size[32];
	out_size(size, sizeof(size), ANSWER_NUM(j, "memory_bytes"));
	cli_done("saved the VM to %s in %.1f ms (%s of memory); it is %s",
	         json_string_value(json_object_get(j, "dir")), ANSWER_NUM(j, "save_ms"), size,
	         json_string_value(json_object_get(j, "state")));
}

static void said_migrate(json_t *j)
{
	cli_done("migrated the VM in %.0f ms (%d rounds, guest paused %.1f ms); it runs on the destination",
	         ANSWER_NUM(j, "total_ms"), (int)ANSWER_NUM(j, "rounds"), ANSWER_NUM(j, "downtime_ms"));
}

static const char common_help[] =
    "  -s, --sock PATH   the VM's control socket (`cloison run --api-sock PATH`)\n"
    "  -q, --quiet       print nothing on success\n"
    "      --format F    status and stats: table (default), json, yaml or csv\n"
    "  -h, --help        this help\n";

/* The options every by-hand verb takes, plus those of its own (extra: getopt entries, NULL-ended, whose
 * values go to on_extra). Returns -1 to go on, or an exit status. */
static int parse(int argc, char **argv, const char *usage_text, const struct option *extra,
                 void (*on_extra)(void *ctx, int opt, const char *val), void *ctx, const char **sock,
                 bool *quiet)
{
	struct option opts[8] = {
	    {"sock", required_argument, NULL, 's'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	};
	for (int i = 0; extra && extra[i].name && i < 4; i++) opts[3 + i] = extra[i];
	int c;
	optind = 1;
	*quiet = cli_quiet; /* main.c took -q */
	while ((c = getopt_long(argc, argv, "s:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': *sock = optarg; break;
		case 'q': *quiet = cli_quiet = true; break;
		case 'h': printf("%s%s", usage_text, common_help); return 0;
		case '?': fprintf(stderr, "%s%s", usage_text, common_help); return 2;
		default: on_extra(ctx, c, optarg); break;
		}
	}
	return -1;
}

static void stop_option(void *ctx, int opt, const char *val)
{
	long *timeout = ctx; /* --force: 0 */
	*timeout = opt == 'F' ? 0 : strtol(val, NULL, 10) > 0 ? strtol(val, NULL, 10) : -1;
}

/* status, stats, pause, resume, stop: no argument but the socket. */
int vmctl_simple(int argc, char **argv)
{
	const char *verb = argv[0], *sock = NULL;
	bool quiet = false;
	enum out_format fmt;
	if (out_take_format(verb, &argc, argv, &fmt)) return 2;
	bool stop = !strcmp(verb, "stop");
	static const struct option stop_opts[] = {
	    {"force", no_argument, NULL, 'F'}, {"timeout", required_argument, NULL, 'T'}, {NULL, 0, NULL, 0}};
	long timeout = 10;
	char usage_text[512];
	snprintf(usage_text, sizeof(usage_text), "Usage: cloison %s --sock PATH%s\n", verb,
	         stop ? " [--timeout S] [--force]\n"
	                "The guest agent shuts the guest down first (its init stops its services); past the\n"
	                "timeout (default 10 s), or at once with --force or without an agent, the VM stops."
	              : "");
	int rc = parse(argc, argv, usage_text, stop ? stop_opts : NULL, stop_option, &timeout, &sock, &quiet);
	if (rc >= 0) return rc;
	if (!sock) {
		log_error("%s needs --sock PATH (the VM's `cloison run --api-sock`)", verb);
		return 2;
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (timeout < 0) {
		log_error("--timeout takes whole seconds");
		return 2;
	}
	if (stop && timeout && agent_shutdown_vm(sock, (unsigned)timeout)) {
		cli_done("the guest shut down");
		return 0;
	}
	char path[32], *out = NULL;
	bool get = !strcmp(verb, "status") || !strcmp(verb, "stats");
	snprintf(path, sizeof(path), "/vm%s%s", strcmp(verb, "status") ? "/" : "",
	         strcmp(verb, "status") ? verb : "");
	int status = api_call(sock, get ? "GET" : "POST", path, NULL, &out);
	/* The guest may have gone down on the agent's request without the answer reaching us. */
	if (stop && status == 409 && timeout && vm_gone_within(sock, (unsigned)timeout)) {
		free(out);
		cli_done("the guest shut down");
		return 0;
	}
	return finish(status, out, fmt, get ? NULL : said_state);
}

static void save_option(void *ctx, int opt, const char *val)
{
	*(const char **)ctx = val; /* --then */
}

int vmctl_save(int argc, char **argv)
{
	static const struct option extra[] = {{"then", required_argument, NULL, 'T'}, {NULL, 0, NULL, 0}};
	const char *sock = NULL, *then = NULL;
	bool quiet = false;
	int rc =
	    parse(argc, argv,
	          "Usage: cloison save --sock PATH DIR [--then pause|resume|stop]\n"
	          "Saves the VM's whole state to DIR (vmstate + sparse memory file); the VM stays paused\n"
	          "unless --then says otherwise. `cloison run --restore DIR` resumes it.\n",
	          extra, save_option, &then, &sock, &quiet);
	if (rc >= 0) return rc;
	if (!sock) {
		log_error("save needs --sock PATH (the VM's `cloison run --api-sock`)");
		return 2;
	}
	if (optind != argc - 1) {
		log_error("save needs one directory: cloison save --sock PATH DIR");
		return 2;
	}
	json_t *j = json_pack("{s:s}", "dir", argv[optind]);
	if (then) json_object_set_new(j, "then", json_string(then));
	char *body = json_dumps(j, JSON_COMPACT), *out = NULL;
	json_decref(j);
	int status = api_call(sock, "POST", "/vm/save", body, &out);
	free(body);
	return finish(status, out, OUT_TABLE, said_save);
}

struct migrate_opts {
	const char *to, *from;
	bool copy_storage;
};

static void migrate_option(void *ctx, int opt, const char *val)
{
	struct migrate_opts *m = ctx;
	if (opt == 't') m->to = val;
	if (opt == 'f') m->from = val;
	if (opt == 'C') m->copy_storage = true;
}

int vmctl_migrate(int argc, char **argv)
{
	static const struct option extra[] = {{"to", required_argument, NULL, 't'},
	                                      {"from", required_argument, NULL, 'f'},
	                                      {"copy-storage", no_argument, NULL, 'C'},
	                                      {NULL, 0, NULL, 0}};
	struct migrate_opts m = {0};
	const char *sock = NULL;
	bool quiet = false;
	int rc =
	    parse(argc, argv,
	          "Usage: cloison migrate --sock PATH --to HOST:PORT [--copy-storage]   (live)\n"
	          "   or: cloison migrate --from DIR --to HOST:PORT      (cold: a saved VM)\n"
	          "Moves the VM to a `cloison run --incoming PORT` on HOST. Live migration copies memory\n"
	          "while the guest runs, then pauses it briefly; the source stops only once the\n"
	          "destination runs the guest, and keeps running if anything fails. Disks must be\n"
	          "reachable at the same paths on the destination (shared storage), or, with\n"
	          "--copy-storage, travel in the stream to the destination's --storage-dir (meant for\n"
	          "qcow2 overlays whose backing files both hosts have).\n",
	          extra, migrate_option, &m, &sock, &quiet);
	if (rc >= 0) return rc;
	if (m.copy_storage && m.from) {
		log_error(
		    "--copy-storage belongs to live migration: cloison migrate --sock PATH --to HOST:PORT");
		return 2;
	}
	if (m.from) {
		if (!m.to || sock || optind != argc) {
			log_error("cold migration: cloison migrate --from DIR --to HOST:PORT");
			return 2;
		}
		char host[256], err[512];
		const char *port;
		if (!parse_host_port(m.to, false, host, sizeof(host), &port)) {
			log_error("--to must be HOST:PORT");
			return 2;
		}
		struct vm_migrate_stats st;
		if (!vm_migrate_saved(m.from, host, port, &st, err, sizeof(err))) {
			log_error("%s", err);
			return 1;
		}
		if (!quiet)
			cli_done("migrated %s to %s: %llu pages, %.1f MiB in %.1f ms", m.from, m.to,
			         (unsigned long long)st.pages_sent, (double)st.bytes_sent / 1048576.0,
			         st.total_ms);
		return 0;
	}
	if (!sock) {
		log_error("migrate needs --sock PATH (the VM's `cloison run --api-sock`)");
		return 2;
	}
	if (!m.to || optind != argc) {
		log_error("live migration: cloison migrate --sock PATH --to HOST:PORT");
		return 2;
	}
	json_t *j = json_pack("{s:s, s:b}", "to", m.to, "copy_storage", m.copy_storage);
	char *body = json_dumps(j, JSON_COMPACT), *out = NULL;
	json_decref(j);
	int status = api_call(sock, "POST", "/vm/migrate", body, &out);
	free(body);
	return finish(status, out, OUT_TABLE, said_migrate);
}

static void said_balloon(json_t *j)
{
	char keep[32], held[32];
	out_size(keep, sizeof(keep), ANSWER_NUM(j, "memory_target_bytes"));
	out_size(held, sizeof(held), ANSWER_NUM(j, "actual_bytes"));
	cli_done("the guest may keep %s; the balloon holds %s so far", keep, held);
}

int vmctl_balloon(int argc, char **argv)
{
	const char *sock = NULL;
	bool quiet = false;
	enum out_format fmt;
	if (out_take_format("balloon", &argc, argv, &fmt)) return 2;
	int rc = parse(argc, argv,
	               "Usage: cloison balloon --sock PATH [SIZE]\n"
	               "Shows a running VM's memory balloon and the guest's memory statistics, or asks the\n"
	               "guest to keep SIZE of its memory (512M, 1G; 0: all of it): the balloon takes the\n"
	               "rest, and what it takes leaves this host's memory.\n",
	               NULL, NULL, NULL, &sock, &quiet);
	if (rc >= 0) return rc;
	if (!sock) return cli_usage_error("balloon", "needs --sock PATH (the VM's `cloison run --api-sock`)");
	if (argc - optind > 1)
		return cli_usage_error("balloon", "unexpected argument '%s'", argv[optind + 1]);
	char *out = NULL;
	if (optind == argc) {
		int status = api_call(sock, "GET", "/vm/balloon", NULL, &out);
		return finish(status, out, fmt, NULL);
	}
	uint64_t bytes;
	if (!parse_mem_size(argv[optind], &bytes) && strcmp(argv[optind], "0"))
		return cli_usage_error("balloon", "invalid size '%s' (512M, 1G, 0)", argv[optind]);
	if (!strcmp(argv[optind], "0")) bytes = 0;
	char body[64];
	snprintf(body, sizeof(body), "{\"memory_target\": %llu}", (unsigned long long)bytes);
	int status = api_call(sock, "POST", "/vm/balloon", body, &out);
	return finish(status, out, fmt, said_balloon);
}
