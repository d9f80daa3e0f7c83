/*
 * exec.c — the option parser and runner behind `cloison exec` and
 * `cloison ct exec` (see exec.h).
 */
#include "exec.h"
#include "usage.h"

#include "container/lifecycle.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out, const char *verb)
{
	fprintf(out,
	        "Usage: cloison %s [-t] NAME -- COMMAND [ARG...]\n"
	        "  -t, --tty   give the command a new terminal (a pty relayed to this one)\n",
	        verb);
	if (!strcmp(verb, "exec"))
		fprintf(out,
		        "   or: cloison exec [-t] --sock SOCK -- COMMAND [ARG...]   (a VM run by hand)\n"
		        "In a VM the command runs through the guest agent (cloison-agent, over vsock); the\n"
		        "exit status is the command's, or 255 when it could not be run.\n");
}

int exec_parse(int argc, char **argv, const char *verb, struct exec_args *a)
{
	*a = (struct exec_args){0};
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--tty")) {
			a->tty = true;
		} else if ((!strcmp(argv[i], "--sock") || !strcmp(argv[i], "-s")) && !strcmp(verb, "exec") &&
		           i + 1 < argc) {
			a->sock = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, verb);
			return 0;
		} else {
			return cli_usage_error(verb, "unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) return cli_usage_error(verb, "expected NAME -- COMMAND");
	if (!a->sock) a->name = argv[i++];
	if (i < argc && !strcmp(argv[i], "--")) i++;
	if (i >= argc) {
		return cli_usage_error(verb, "no command given: expected NAME -- COMMAND");
	}
	a->cmd = argv + i;
	return -1;
}

int exec_run(const struct exec_args *a, int fail_status)
{
	char err[1024];
	int rc = ct_exec(a->name, a->cmd, a->tty && isatty(STDIN_FILENO), err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return fail_status;
	}
	return rc;
}
