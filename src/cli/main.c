/*
 * main.c — `cloison VERB [ARGS]`: finds the verb and hands over. Nothing
 * else lives here.
 */
#include "commands.h"
#include "usage.h"

#include "cpu/riscv/hart.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef CLOISON_VERSION
#define CLOISON_VERSION "dev"
#endif

/* A verb names an instance of cloisond (fn), a VM run by hand (by_hand), or has both forms: then the
 * by-hand form is the one given any of its by_hand_opts. */
struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	int (*by_hand)(int argc, char **argv);
	const char *const *by_hand_opts;
	const char *summary;
};

static const char *const sock_opts[] = {"-s", "--sock", NULL};
static const char *const migrate_opts[] = {"-s", "--sock", "--from", NULL};
static const char *const clone_opts[] = {"--from", "--count", "-n", "--dir", NULL};

static const struct verb verbs[] = {
    {"create", inst_create, NULL, NULL, "define a VM or container in cloisond (create --help)"},
    {"start", inst_lifecycle, NULL, NULL, "start an instance"},
    {"stop", inst_lifecycle, vmctl_simple, sock_opts, "stop an instance (or, with --sock, a VM run by hand)"},
    {"restart", inst_lifecycle, NULL, NULL, "stop and start an instance"},
    {"pause", inst_pause, vmctl_simple, sock_opts,
     "pause an instance (guest time stands still; --sock: a VM run by hand)"},
    {"resume", inst_pause, vmctl_simple, sock_opts, "resume a paused instance"},
    {"rm", inst_rm, NULL, NULL, "remove an instance (--force stops it first)"},
    {"list", inst_list, NULL, NULL, "list instances [--format json]"},
    {"info", inst_info, NULL, NULL, "an instance's definition and state [--format json]"},
    {"console", inst_console, NULL, NULL,
     "attach to an instance's console: a VM's serial port, a container's terminal"},
    {"exec", inst_exec, NULL, NULL, "run a command in an instance: exec [-t] NAME -- CMD"},
    {"file", cmd_file, NULL, NULL, "copy files into and out of a VM: file push|pull (guest agent)"},
    {"agent", cmd_agent, NULL, NULL, "ask a VM's guest agent who it is"},
    {"image", cmd_image, NULL, NULL, "VM images (appliances): list, info, import, export, publish, rm"},
    {"snapshot", inst_snapshot, NULL, NULL,
     "save a VM instance's memory, devices and disks: snapshot NAME SNAP; snapshot list|rm"},
    {"restore", inst_restore, NULL, NULL, "bring a VM instance back to a snapshot: restore NAME SNAP"},
    {"logs", inst_logs, NULL, NULL, "an instance's console output"},
    {"input", inst_input, NULL, NULL, "type text or move the pointer on a VM's display"},
    {"screenshot", inst_screenshot, NULL, NULL,
     "a VM's screen as PNG: screenshot NAME FILE (or --sock S FILE)"},
    {"limits", inst_limits, NULL, NULL, "show or change an instance's limits (at once, while it runs)"},
    {"run", NULL, cmd_run, NULL, "boot a virtual machine in the foreground"},
    {"disk", NULL, cmd_disk, NULL, "create, inspect, check and convert disk images"},
    {"pool", cmd_pool, NULL, NULL, "cloisond's storage pools: list, create, info, rm"},
    {"volume", cmd_volume, NULL, NULL, "volumes in cloisond's pools: list, create, copy, info, rm"},
    {"net", NULL, cmd_net, NULL, "define networks VMs join (NAT, internal, host-only, bridge)"},
    {"status", NULL, vmctl_simple, NULL, "show a running VM's state (through its --api-sock)"},
    {"stats", inst_stats, vmctl_simple, sock_opts,
     "an instance's counters: CPU, instructions, memory, disk and network I/O"},
    {"save", NULL, vmctl_save, NULL, "save a running VM's whole state to a directory"},
    {"balloon", NULL, vmctl_balloon, NULL,
     "a running VM's memory balloon: show, or set what the guest keeps"},
    {"clone", inst_clone, cmd_clone, clone_opts, "start VMs from a saved state, each with a new identity"},
    {"migrate", inst_migrate, vmctl_migrate, migrate_opts,
     "move a VM to another host, live or from a saved directory"},
    {"receive", inst_receive, NULL, NULL, "make a stopped VM instance the destination of a live migration"},
    {"ct", NULL, cmd_ct, NULL, "system containers: run, list, exec, pause, resume, stop, rm, stats"},
    {"cluster", cmd_cluster, NULL, NULL, "several hosts as one: create, join, status, token"},
    {"ha", cmd_ha, NULL, NULL, "high availability: add, rm, status (restart on a surviving host)"},
    {"lb", cmd_lb, NULL, NULL, "service load balancers: create, list, info, rm (HAProxy, health checks)"},
    {"token", cmd_token, NULL, NULL, "API tokens for cloisond's HTTPS listener: create, list, rm"},
};

/* Whether argv holds one of opts, as "--opt", "--opt=value" or (short options) "-s" / "-sVALUE". */
static bool has_option(int argc, char **argv, const char *const *opts)
{
	for (int a = 1; a < argc && strcmp(argv[a], "--"); a++)
		for (size_t k = 0; opts[k]; k++) {
			size_t n = strlen(opts[k]);
			if (!strncmp(argv[a], opts[k], n) &&
			    (!argv[a][n] || argv[a][n] == '=' || (opts[k][1] != '-' && n == 2)))
				return true;
		}
	return false;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: cloison VERB [OPTIONS]\n\nVerbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\n`cloison VERB --help` describes a verb. `cloison --version` prints the version.\n"
	             "-q (anywhere before `--`) silences the line a verb prints when it did something.\n");
}

/* Removes every -q/--quiet before `--` and says whether there was one. The verbs that run a command
 * (exec, ct run, ct exec) take it without `--` too: there only the -q before the verb counts, unless
 * a `--` marks where the command starts. */
static bool take_quiet(int *argc, char **argv)
{
	bool q = false;
	int end = *argc, verb = 1;
	while (verb < *argc && (!strcmp(argv[verb], "-q") || !strcmp(argv[verb], "--quiet"))) verb++;
	for (int a = 1; a < *argc; a++)
		if (!strcmp(argv[a], "--")) end = a;
	bool runs_command =
	    verb < *argc && (!strcmp(argv[verb], "exec") ||
	                     (!strcmp(argv[verb], "ct") && verb + 1 < *argc &&
	                      (!strcmp(argv[verb + 1], "run") || !strcmp(argv[verb + 1], "exec"))));
	if (runs_command && end == *argc) end = verb;
	for (int a = 1; a < end;) {
		if (strcmp(argv[a], "-q") && strcmp(argv[a], "--quiet")) {
			a++;
			continue;
		}
		q = true;
		memmove(&argv[a], &argv[a + 1], (size_t)(*argc - a) * sizeof(char *)); /* with the NULL */
		(*argc)--;
		end--;
	}
	return q;
}

int main(int argc, char **argv)
{
	cli_quiet = take_quiet(&argc, argv);
	if (cli_quiet) log_set_level(LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("cloison %s\n", CLOISON_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb *v = &verbs[i];
		if (strcmp(argv[1], v->name)) continue;
		static char program[32];
		snprintf(program, sizeof(program), "cloison %s", v->name);
		log_set_program(program); /* errors read "cloison VERB: message" */
		bool by_hand = v->by_hand && (!v->fn || has_option(argc - 1, argv + 1, v->by_hand_opts));
		/* The RISC-V decoder's tables serve the VMs run here only: containers and cloisond's
		 * clients start without them. */
		if (by_hand && v->by_hand != cmd_ct) rv_init_tables();
		return (by_hand ? v->by_hand : v->fn)(argc - 1, argv + 1);
	}
	/* Not a verb: name the closest one (or option), and where the list is. */
	const char *names[sizeof(verbs) / sizeof(verbs[0])];
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) names[i] = verbs[i].name;
	static const char *const options[] = {"--help", "--version"};
	bool option = argv[1][0] == '-';
	const char *near = option ? cli_suggest(argv[1], options, 2)
	                          : cli_suggest(argv[1], names, sizeof(names) / sizeof(names[0]));
	fprintf(stderr, "cloison: unknown %s '%s'", option ? "option" : "verb", argv[1]);
	if (near) fprintf(stderr, "; did you mean '%s'?", near);
	fprintf(stderr, "\ntry 'cloison --help'\n");
	return 2;
}
