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
    {"run", cmd_run, "boot a virtual machine in the foreground"},
    {"disk", cmd_disk, "create, inspect, check and convert disk images"},
    {"net", cmd_net, "define networks VMs join (NAT, internal, host-only, bridge)"},
    {"status", cmd_vmctl, "show a running VM's state (through its --api-sock)"},
    {"stats", cmd_vmctl, "a running VM's counters: instructions, disk and network I/O"},
    {"pause", cmd_vmctl, "pause a running VM (guest time stands still)"},
    {"resume", cmd_vmctl, "resume a paused VM"},
    {"stop", cmd_vmctl, "stop a running VM (hard stop; disks are flushed)"},
    {"save", cmd_vmctl, "save a running VM's whole state to a directory"},
    {"clone", cmd_clone, "start VMs from a saved state, each with a new identity"},
    {"migrate", cmd_vmctl, "move a VM to another host, live or from a saved directory"},
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
		/* The RISC-V decoder's tables serve the VM verbs only: containers start without them. */
		if (verbs[i].fn != cmd_ct) rv_init_tables();
		return verbs[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "cloison: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
