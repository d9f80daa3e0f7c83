/*
 * def.h — an instance's definition: what cloisond stores and `cloison
 * create -f` reads (JSON, documented in docs/api.md): name, type (vm or
 * container), autostart, the VM's boot, CPUs, memory, disks and networks or
 * the container's root filesystem and command, and the resource limits
 * both kinds share. Parsing is strict (unknown keys, wrong types and
 * impossible values are refused with a message naming the field) and
 * to_json/from_json round-trip.
 */
#ifndef CLOISON_DAEMON_DEF_H
#define CLOISON_DAEMON_DEF_H

#include "machine/machine.h"
#include "vm/vmconfig.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INST_NAME_MAX 63

enum inst_type { INST_VM, INST_CT };

struct inst_limits {
	uint32_t cpu_weight;           /* 1..10000, 100 = a default share; 0 = unset */
	uint32_t cpu_max;              /* percent of one host CPU; 0 = unset */
	uint64_t memory;               /* bytes; 0 = unset */
	uint64_t pids;                 /* containers; 0 = unset */
	uint64_t ips;                  /* VMs: instructions per second per hart; 0 = unset */
	uint64_t disk_bps, disk_iops;  /* VMs: per disk */
	uint64_t net_rx_bw, net_tx_bw; /* VMs: per interface, bits per second */
	uint64_t memory_target;        /* VMs: bytes the guest keeps, the balloon takes the rest; 0 = unset */
	char cpuset[64];               /* host CPUs the instance may run on ("0", "0-1,3"); "" = any */
};

struct inst_vm {
	/* What `cloison run --config` is given. An empty kernel is the default guest; the definition's
	 * JSON names disks and networks by their `cloison run --disk`/`--net` specs. */
	struct vm_config cfg;
	char restore[PATH_MAX]; /* a saved state the first start resumes from ("" = boot) */
	bool clone;             /* ... with a new identity (disks become overlays, new MACs) */
	char image[64];         /* the image its first disk was made from ("" = none; daemon/images.c) */
	char vnc[64];           /* [ADDR:]PORT its display is served on over VNC ("" = none; vm/vnc.h) */
};

struct inst_def {
	char name[INST_NAME_MAX + 1];
	enum inst_type type;
	bool autostart;
	struct inst_vm vm;
	json_t *container; /* the container engine's definition (ct_spec JSON without name and limits) */
	struct inst_limits limits;
};

const char *inst_type_name(enum inst_type t);
bool inst_name_valid(const char *name);

/* Parses a definition. A "status" member (what `info` adds) is ignored. Defaults fill what is
 * missing. False with err naming the offending field. */
bool inst_def_from_json(const json_t *j, struct inst_def *d, char *err, size_t errlen);
json_t *inst_def_to_json(const struct inst_def *d);
/* Parses just a limits object (the API's PATCH of a running instance): fields present replace those
 * of *l. */
bool inst_limits_from_json(const json_t *j, struct inst_limits *l, char *err, size_t errlen);
json_t *inst_limits_to_json(const struct inst_limits *l);
/* Checks limits against the instance (a memory limit below a VM's memory, a cap above the host). */
bool inst_limits_check(const struct inst_def *d, const struct inst_limits *l, char *err, size_t errlen);
/* Walks a cpuset ("0", "0-3", "0,2-3"), calling fn (if given) on each CPU; false when it is malformed
 * or names a CPU this host does not have. */
bool inst_cpuset_each(const char *s, void (*fn)(void *ctx, unsigned cpu), void *ctx);
void inst_def_free(struct inst_def *d);
/* A deep copy (the container definition is shared by reference count). */
void inst_def_copy(struct inst_def *dst, const struct inst_def *src);

#endif
