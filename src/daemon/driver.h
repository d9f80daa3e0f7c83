/*
 * driver.h — how cloisond acts on each kind of instance. VMs (vmdrv.c):
 * one `cloison run` process each, in its own session and cgroup, driven
 * through its control socket, its console on a socket and in a log file.
 * Containers (ctdrv.c): the container engine (container/lifecycle.h), whose
 * detached supervisor keeps init and the console log. Unless said
 * otherwise, these run with the daemon's lock released and the instance
 * marked busy; they return false with err set.
 */
#ifndef CLOISON_DAEMON_DRIVER_H
#define CLOISON_DAEMON_DRIVER_H

#include "daemon/daemon.h"

#include <jansson.h>

/* How a VM process starts: a fresh boot (all NULL), from a saved state, or as the destination of a live
 * migration listening on [ADDR:]PORT (it runs as soon as the VM has arrived, within wait_s seconds). */
struct vm_start {
	const char *restore_dir;
	const char *listen;
	unsigned wait_s;
};

/* What an instance has used, in the same units for every kind. */
struct inst_usage {
	uint64_t cpu_ns, memory_bytes;
	uint64_t disk_read_bytes, disk_write_bytes, disk_read_ops, disk_write_ops;
	uint64_t net_rx_bytes, net_tx_bytes;
	bool has_instructions; /* VMs count the guest's instructions */
	uint64_t instructions;
};

/* One kind of instance. The daemon calls these without knowing which kind it holds. */
struct inst_driver {
	/* Starts it (how: VMs only; containers ignore it). */
	bool (*start)(struct daemon *d, struct instance *in, const struct vm_start *how, char *err,
	              size_t errlen);
	bool (*stop)(struct daemon *d, struct instance *in, unsigned timeout_s, char *err, size_t errlen);
	bool (*pause)(struct daemon *d, struct instance *in, bool pause, char *err, size_t errlen);
	/* Applies the definition's limits to the running instance. */
	bool (*apply_limits)(struct daemon *d, struct instance *in, char *err, size_t errlen);
	/* Fills *u and returns the engine's own figures (NULL with err set). */
	json_t *(*stats)(struct daemon *d, struct instance *in, struct inst_usage *u, char *err,
	                 size_t errlen);
	/* Drops what the engine keeps of a stopped instance being deleted. */
	bool (*remove)(struct daemon *d, struct instance *in, char *err, size_t errlen);
	/* What the instance's screen shows, as a PNG in *png (malloc'd); NULL for kinds without one. */
	bool (*screenshot)(struct daemon *d, struct instance *in, char **png, size_t *len, char *err,
	                   size_t errlen);
	/* Keys typed and pointer moves on its display ({"text"}, {"pointer"}); NULL for kinds without one. */
	json_t *(*input)(struct daemon *d, struct instance *in, json_t *body, char *err, size_t errlen);
	/* A connection to its display's VNC server (RFB from the server's first byte); -1 with err set. NULL
	 * for engines without a display. Called without the daemon's lock. */
	int (*vnc_connect)(struct daemon *d, struct instance *in, char *err, size_t errlen);
	/* The unix socket of its console, and the file its console output goes to. */
	void (*console_socket)(struct daemon *d, const struct instance *in, char *buf, size_t len);
	void (*console_log)(struct daemon *d, const struct instance *in, char *buf, size_t len);
	/* The unix socket of its guest's vsock ports (agent/client.h); NULL for engines without one. */
	void (*agent_socket)(struct daemon *d, const struct instance *in, char *buf, size_t len);
	/* The lock is held for the ones below. The process behind pidfd ended: record how. */
	void (*exited)(struct daemon *d, struct instance *in);
	/* After a daemon restart: takes a still-running instance back under watch, or records that it
	 * ended. */
	void (*adopt)(struct daemon *d, struct instance *in);
	/* Brings the recorded state up to date when it may have changed behind the daemon's back. */
	void (*refresh)(struct daemon *d, struct instance *in);
};

extern const struct inst_driver vm_driver, ct_driver;
static inline const struct inst_driver *inst_driver(const struct instance *in)
{
	return in->def.type == INST_VM ? &vm_driver : &ct_driver;
}

/* What only VMs do. Saves memory and device state to dir and copies the disks beside it; the VM runs on
 * after. */
bool vmdrv_snapshot(struct daemon *d, struct instance *in, const char *dir, char *err, size_t errlen);
/* Copies a snapshot's disks back over the instance's (stopped) disks. */
bool vmdrv_restore_disks(struct daemon *d, struct instance *in, const char *dir, char *err, size_t errlen);
/* Live migration to HOST:PORT: a `cloison run --incoming` or a cloisond instance receiving. */
bool vmdrv_migrate(struct daemon *d, struct instance *in, const char *to, char *err, size_t errlen);
/* Asks the VM for a delta of its disks into path (daemon/replica.c); `full`: every block. */
bool vmdrv_replica_delta(struct daemon *d, struct instance *in, const char *path, bool full, char *err,
                         size_t errlen);

/* Converts limits to the cgroup form. */
struct cg_limits inst_cg_limits(const struct inst_limits *l);

#endif
