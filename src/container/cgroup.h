/*
 * cgroup.h — control groups for containers (and later VMs): find the
 * hierarchies this host has (cgroup v2, v1, or the v1/v2 hybrid), create an
 * instance's group beneath the cgroup cloison itself runs in, apply limits
 * (CPU weight and cap, memory, pids, block I/O weight), move processes in,
 * freeze and thaw, read accounting back, remove.
 *
 * Each resource is served by one hierarchy: the v2 one when its
 * cgroup.controllers lists the controller, else the v1 hierarchy that has it
 * mounted. A group is thus a directory per resource; several resources may
 * share one directory (v2, or v1 co-mounted controllers).
 */
#ifndef CLOISON_CONTAINER_CGROUP_H
#define CLOISON_CONTAINER_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cg_res { CG_CPU, CG_CPUACCT, CG_MEMORY, CG_PIDS, CG_FREEZER, CG_IO, CG_NRES };

struct cg_limits {
	uint32_t cpu_weight;  /* 1..10000 (cgroup v2 scale, 100 = default); 0 = unset */
	uint32_t cpu_max_pct; /* percent of one host CPU, 1..100*ncpu; 0 = unset */
	uint64_t memory;      /* bytes; 0 = unset */
	uint64_t pids;        /* 0 = unset */
	uint32_t io_weight;   /* 1..10000 (v2 scale); 0 = unset */
};

/* Where each resource lives on this host, and the cgroup of the calling process in it. */
struct cg_host {
	char dir[CG_NRES][PATH_MAX]; /* mount point + own cgroup path; "" = not available */
	bool v2[CG_NRES];
};

/* One instance's group: a directory per available resource ("" where none). */
struct cg_group {
	char dir[CG_NRES][PATH_MAX];
	bool v2[CG_NRES];
};

struct cg_stats {
	uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
	uint64_t memory_bytes, memory_peak_bytes, memory_limit, oom_kills;
	uint64_t pids, pids_limit;
	uint64_t io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
	uint64_t throttled_periods, throttled_ns;
	bool have[CG_NRES];
};

const char *cg_res_name(enum cg_res r);

/* Parses /proc/self/mountinfo and /proc/self/cgroup texts (passed in so tests can fake a host).
 * v2_controllers is the content of the v2 root's cgroup.controllers ("" if none). */
void cg_host_parse(struct cg_host *h, const char *mountinfo, const char *self_cgroup,
                   const char *v2_controllers);
/* The same from this process's /proc files. */
bool cg_host_probe(struct cg_host *h, char *err, size_t errlen);

/* Checks that every resource the limits need exists; err names the first missing controller. */
bool cg_limits_supported(const struct cg_host *h, const struct cg_limits *l, char *err, size_t errlen);

/* Creates `leaf` beneath the own cgroup in every available hierarchy and applies the limits. On a
 * failure everything created is removed. */
bool cg_create(const struct cg_host *h, const char *leaf, const struct cg_limits *l, struct cg_group *g,
               char *err, size_t errlen);
/* Finds an existing group `leaf` (made by an earlier process); false if there is none. */
bool cg_open(const struct cg_host *h, const char *leaf, struct cg_group *g);
/* Applies limits to an existing group (unset fields stay as they are). */
bool cg_set_limits(const struct cg_group *g, const struct cg_limits *l, char *err, size_t errlen);
/* Moves a process (all its threads) into the group. */
bool cg_attach(const struct cg_group *g, pid_t pid, char *err, size_t errlen);
/* Freezes or thaws every process of the group; returns when the state is reached. */
bool cg_freeze(const struct cg_group *g, bool frozen, char *err, size_t errlen);
/* 1 frozen, 0 thawed, -1 unknown (no freezer). */
int cg_frozen(const struct cg_group *g);
bool cg_read_stats(const struct cg_group *g, struct cg_stats *s);
/* Sends sig to every process of the group. */
void cg_kill_all(const struct cg_group *g, int sig);
/* Removes the directories (they must be empty of processes; retried briefly). */
bool cg_destroy(const struct cg_group *g, char *err, size_t errlen);

/* Conversions between the v2 scale the options use and v1's files. */
uint64_t cg_weight_to_shares(uint32_t weight);
uint32_t cg_weight_to_blkio(uint32_t weight);

#endif
