/*
 * main.c — `cloison VERB [ARGS]`: finds the verb and hands over. Nothing
 * else lives here.
 */
#include "commands.h"

#include "cpu/riscv/hart.h"

#include <stdio.h>
#include <string.h>

#ifndef CLOISON_VERSION
#define CLOISON_VERSION "dev"
#endif

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct verb verbs[] = {
    {"create", cmd_inst, "define a VM or container in cloisond (create --help)"},
    {"start", cmd_inst, "start an instance"},
    {"stop", cmd_vmctl, "stop an instance (or, with --sock, a VM run by hand)"},
    {"restart", cmd_inst, "stop and start an instance"},
    {"pause", cmd_vmctl, "pause an instance (guest time stands still; --sock: a VM run by hand)"},
    {"resume", cmd_vmctl, "resume a paused instance"},
    {"rm", cmd_inst, "remove an instance (--force stops it first)"},
    {"list", cmd_inst, "list instances [--format json]"},
    {"info", cmd_inst, "an instance's definition and state [--format json]"},
    {"console", cmd_inst, "attach to an instance's console: a VM's serial port, a container's terminal"},
    {"exec", cmd_inst, "run a command in a container instance: exec [-t] NAME -- CMD"},
    {"snapshot", cmd_inst, "save a VM instance's memory, devices and disks: snapshot NAME SNAP"},
    {"restore", cmd_inst, "bring a VM instance back to a snapshot: restore NAME SNAP"},
    {"logs", cmd_inst, "an instance's console output"},
    {"limits", cmd_inst, "show or change an instance's limits (at once, while it runs)"},
    {"run", cmd_run, "boot a virtual machine in the foreground"},
    {"disk", cmd_disk, "create, inspect, check and convert disk images"},
    {"pool", cmd_pool, "cloisond's storage pools: list, create, info, rm"},
    {"volume", cmd_volume, "volumes in cloisond's pools: list, create, copy, info, rm"},
    {"net", cmd_net, "define networks VMs join (NAT, internal, host-only, bridge)"},
    {"status", cmd_vmctl, "show a running VM's state (through its --api-sock)"},
    {"stats", cmd_vmctl, "an instance's counters: CPU, instructions, memory, disk and network I/O"},
    {"save", cmd_vmctl, "save a running VM's whole state to a directory"},
    {"clone", cmd_clone, "start VMs from a saved state, each with a new identity"},
    {"migrate", cmd_vmctl, "move a VM to another host, live or from a saved directory"},
    {"receive", cmd_inst, "make a stopped VM instance the destination of a live migration"},
    {"ct", cmd_ct, "system containers: run, list, exec, pause, resume, stop, rm, stats"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: cloison VERB [OPTIONS]\n\nVerbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\n`cloison VERB --help` describes a verb. `cloison --version` prints the version.\n");
}

int main(int argc, char **argv)
{
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
		if (strcmp(argv[1], verbs[i].name)) continue;
		/* The verbs that also drive a VM run by hand (--sock, --from, --count) go to cloisond
		 * without. */
		int (*fn)(int, char **) = verbs[i].fn;
		if (fn == cmd_vmctl || fn == cmd_clone) {
			bool direct = false;
			for (int a = 2; a < argc; a++)
				direct |= !strncmp(argv[a], "--sock", 6) || !strcmp(argv[a], "-s") ||
				          !strcmp(argv[a], "--from") || !strcmp(argv[a], "--count") ||
				          !strcmp(argv[a], "-n") || !strcmp(argv[a], "--dir");
			if (!direct && strcmp(argv[1], "status") && strcmp(argv[1], "save"))
				return cmd_inst(argc - 1, argv + 1);
		}
		/* The RISC-V decoder's tables serve the VM verbs only: containers start without them. */
		if (verbs[i].fn != cmd_ct) rv_init_tables();
		return verbs[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "cloison: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
