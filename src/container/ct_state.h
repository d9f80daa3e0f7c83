/*
 * ct_state.h — a container's record under the state directory
 * (STATE/containers/NAME/): config.json (its definition), state.json (what
 * runs: init's PID and start time, the supervisor, the cgroup, the exit
 * code), console.log for detached ones, and overlay/ for the copy-on-write
 * layer. A second cloison invocation finds a container through it.
 */
#ifndef CLOISON_CONTAINER_CT_STATE_H
#define CLOISON_CONTAINER_CT_STATE_H

#include "container/cgroup.h"
#include "container/ct_spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ct_runtime {
	pid_t pid;                    /* init in the host's PID namespace; 0 = never started */
	unsigned long long pid_start; /* its start time (/proc/PID/stat), so a reused PID is not mistaken */
	pid_t supervisor;             /* the process waiting for init (0 = none) */
	unsigned long long supervisor_start;
	bool stopped;  /* the supervisor saw init exit */
	int exit_code; /* as a shell reports it: code, or 128+signal; -1 unknown */
	int64_t started_at, stopped_at;
	bool has_cgroup;
	struct cg_group cg;
	char host_if[16]; /* veth host end */
};

enum ct_status { CT_CREATED, CT_RUNNING, CT_PAUSED, CT_STOPPED };
const char *ct_status_name(enum ct_status s);

/* STATE/containers/NAME (false if too long). */
bool ct_dir(const char *name, char *buf, size_t len);
/* Makes the directory and writes config.json; fails if the name is taken. */
bool ct_record_create(const struct ct_spec *s, char *err, size_t errlen);
/* Loads both files (rt zeroed if state.json does not exist yet). */
bool ct_record_load(const char *name, struct ct_spec *s, struct ct_runtime *rt, char *err, size_t errlen);
bool ct_runtime_save(const char *name, const struct ct_runtime *rt, char *err, size_t errlen);
/* Removes the directory and everything in it. */
bool ct_record_remove(const char *name, char *err, size_t errlen);
/* Sorted names; caller frees with ct_free_names. */
char **ct_record_list(size_t *n);
void ct_free_names(char **names, size_t n);

/* /proc/PID/stat's start time; 0 if the process does not exist or has exited (a zombie). */
unsigned long long ct_proc_start_time(pid_t pid);
/* Is init alive (same PID and start time)? */
bool ct_init_alive(const struct ct_runtime *rt);
enum ct_status ct_status_of(const struct ct_runtime *rt);

#endif
