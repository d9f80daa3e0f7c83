/*
 * lifecycle.h — what can be done to a container, by name: run (in the
 * foreground, or detached under a small supervisor process that keeps its
 * console log and records its exit), exec, pause/resume (freezer), stop
 * (SIGTERM to init, SIGKILL after a timeout), remove. Any cloison process
 * can act on a container another one started: everything goes through the
 * record under the state directory (ct_state.h).
 */
#ifndef CLOISON_CONTAINER_LIFECYCLE_H
#define CLOISON_CONTAINER_LIFECYCLE_H

#include "container/ct_spec.h"

#include <stdbool.h>
#include <stddef.h>

struct ct_run_opts {
	bool detach; /* return once init runs; a supervisor waits for it */
	bool remove; /* remove the record when the container exits (--rm) */
};

/* Creates the record and runs the container. Foreground: returns init's exit code (as a shell reports
 * it). Detached: 0 once running. -1 with err if it could not start (the record is then removed). */
int ct_run(const struct ct_spec *s, const struct ct_run_opts *o, char *err, size_t errlen);
/* Runs argv inside; returns its exit code, -1 with err if it could not start. tty: through a new pty. */
int ct_exec(const char *name, char *const argv[], bool tty, char *err, size_t errlen);
bool ct_pause(const char *name, bool pause, char *err, size_t errlen);
/* SIGTERM to init, SIGKILL after timeout_s; returns once the container is down and recorded so. */
bool ct_stop(const char *name, unsigned timeout_s, char *err, size_t errlen);
/* Removes a stopped container's record (force: stop it first, with no grace period). */
bool ct_remove(const char *name, bool force, char *err, size_t errlen);

#endif
