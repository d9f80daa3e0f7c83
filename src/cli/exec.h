/*
 * exec.h — `exec [-t] NAME [--] COMMAND [ARG...]`, shared by `cloison exec`
 * (an instance of cloisond) and `cloison ct exec` (a container run by hand):
 * one option parser and one way to run the command in the container.
 */
#ifndef CLOISON_CLI_EXEC_H
#define CLOISON_CLI_EXEC_H

#include <stdbool.h>

struct exec_args {
	bool tty; /* a new terminal for the command, relayed to this one (when stdin is one) */
	const char *name;
	const char *sock; /* `cloison exec --sock SOCK`: a VM run by hand (no name) */
	char **cmd;       /* NULL-terminated, as argv */
};

/* Parses argv (argv[0] is the verb); `verb` names it in messages ("exec", "ct exec"). Returns -1 to go
 * on, or the exit status to end with (0 after --help, 2 for a usage error). */
int exec_parse(int argc, char **argv, const char *verb, struct exec_args *a);
/* Runs the command in the container; its exit status, or fail_status when it could not be started. */
int exec_run(const struct exec_args *a, int fail_status);
/* Runs the command in a VM through its guest agent (cmd_agent.c): its exit status, or 255 when it could
 * not be run. */
int vm_exec(const struct exec_args *a);

#endif
