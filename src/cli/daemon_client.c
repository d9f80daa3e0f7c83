/*
 * daemon_client.c — see daemon_client.h.
 */
#include "daemon_client.h"

#include "usage.h"

#include "http/http.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *dc_socket_path(void)
{
	static char buf[256];
	const char *s = getenv("CLOISON_SOCKET");
	if (s) return s;
	if (geteuid() == 0) return "/run/cloison/cloisond.sock";
	const char *x = getenv("XDG_RUNTIME_DIR");
	snprintf(buf, sizeof(buf), "%s/cloison/cloisond.sock", x ? x : "/tmp");
	return buf;
}

/* No request of the API takes longer to answer (long work is an operation, waited for in slices of at
 * most 30 s): past this the daemon is stuck, and the user hears it rather than waits forever.
 * CLOISON_TIMEOUT (seconds) changes it. */
static int daemon_timeout_ms(void)
{
	const char *v = getenv("CLOISON_TIMEOUT");
	long s = v ? strtol(v, NULL, 10) : 0;
	return s > 0 && s <= 86400 ? (int)s * 1000 : 60000;
}

int dc_call(const char *method, const char *path, json_t *body, json_t **out)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *resp = NULL, err[512];
	int st = http_call_unix(dc_socket_path(), method, path, text, daemon_timeout_ms(), &resp, err,
	                        sizeof(err));
	free(text);
	if (!st) {
		log_error("cloisond does not answer: %s (is it running? `cloisond &`)", err);
		return 0;
	}
	json_t *j = resp ? json_loads(resp, JSON_DECODE_ANY, NULL) : NULL;
	if (!j && resp) j = json_string(resp);
	free(resp);
	if (st >= 300) {
		const char *e = json_string_value(json_object_get(j, "error"));
		log_error("%s", e ? e : "request failed");
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	return st;
}

int dc_rc(int st)
{
	return st == 0 ? 3 : st >= 300 ? 1 : 0;
}

int dc_wait_op(json_t *answer, const char *doing)
{
	json_int_t id = json_integer_value(json_object_get(json_object_get(answer, "operation"), "id"));
	if (!id) return 0;
	bool tty = isatty(STDERR_FILENO) && !cli_quiet;
	if (tty && doing) fprintf(stderr, "%s...", doing);
	for (;;) {
		char path[96], at[32] = "";
		json_int_t node =
		    json_integer_value(json_object_get(json_object_get(answer, "operation"), "node"));
		if (node) snprintf(at, sizeof(at), "@%lld", (long long)node); /* run by another host */
		snprintf(path, sizeof(path), "/v1/operations/%lld%s?wait=%s", (long long)id, at,
		         tty ? "0.5" : "30");
		json_t *op = NULL;
		int st = dc_call("GET", path, NULL, &op);
		if (st != 200) {
			json_decref(op);
			return dc_rc(st);
		}
		const char *status = json_string_value(json_object_get(op, "status"));
		if (status && strcmp(status, "running")) {
			int rc = strcmp(status, "success") ? 1 : 0;
			if (tty && doing && rc) fprintf(stderr, " failed\n");
			if (tty && doing && !rc) fprintf(stderr, "\r\033[K"); /* the verb says what it did */
			if (rc) log_error("%s", json_string_value(json_object_get(op, "error")));
			json_decref(op);
			return rc;
		}
		json_t *pr = json_object_get(op, "progress");
		if (tty && doing && pr)
			fprintf(stderr, "\r%s... %5.1f%%", doing,
			        json_real_value(json_object_get(pr, "percent")));
		else if (tty && doing)
			fputc('.', stderr);
		json_decref(op);
	}
}

int dc_upgrade(const char *path, const char *protocol)
{
	char err[512];
	int fd = http_upgrade_unix(dc_socket_path(), path, protocol, 30000, err, sizeof(err));
	if (fd == -2) log_error("cannot reach cloisond: %s", err);
	if (fd == -1) log_error("%s", err);
	return fd == -2 ? -3 : fd;
}
