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
bool vmdrv_start(struct daemon *d, struct instance *in, const struct vm_start *how, char *err, size_t errlen);
bool vmdrv_stop(struct daemon *d, struct instance *in, unsigned timeout_s, char *err, size_t errlen);
bool vmdrv_pause(struct daemon *d, struct instance *in, bool pause, char *err, size_t errlen);
/* Applies the definition's emulator-side limits (CPU cap, instructions/s, disk and NIC rates). */
bool vmdrv_apply_limits(struct daemon *d, struct instance *in, char *err, size_t errlen);
/* The VM process's /vm/stats (NULL with err set). */
json_t *vmdrv_stats(struct daemon *d, struct instance *in, char *err, size_t errlen);
/* Saves memory and device state to dir and copies the disks beside it; the VM runs on after. */
bool vmdrv_snapshot(struct daemon *d, struct instance *in, const char *dir, char *err, size_t errlen);
/* Copies a snapshot's disks back over the instance's (stopped) disks. */
bool vmdrv_restore_disks(struct daemon *d, struct instance *in, const char *dir, char *err, size_t errlen);
/* Live migration to HOST:PORT: a `cloison run --incoming` or a cloisond instance receiving. */
bool vmdrv_migrate(struct daemon *d, struct instance *in, const char *to, char *err, size_t errlen);
/* The process behind pidfd ended: record how (lock held). */
void vmdrv_exited(struct daemon *d, struct instance *in);
/* After a daemon restart: takes a still-running VM process back under watch, or records that it
 * ended (lock held). */
void vmdrv_adopt(struct daemon *d, struct instance *in);
/* The control and console sockets. */
void vmdrv_socket(struct daemon *d, const struct instance *in, const char *kind, char *buf, size_t len);

bool ctdrv_start(struct daemon *d, struct instance *in, char *err, size_t errlen);
/* The socket of the container's console (its supervisor serves it). */
void ctdrv_console_socket(const struct instance *in, char *buf, size_t len);
bool ctdrv_stop(struct daemon *d, struct instance *in, unsigned timeout_s, char *err, size_t errlen);
bool ctdrv_pause(struct daemon *d, struct instance *in, bool pause, char *err, size_t errlen);
bool ctdrv_apply_limits(struct daemon *d, struct instance *in, char *err, size_t errlen);
json_t *ctdrv_stats(struct daemon *d, struct instance *in, char *err, size_t errlen);
/* Drops the engine's record (the container is stopped). */
bool ctdrv_remove(struct daemon *d, struct instance *in, char *err, size_t errlen);
/* Reads the state from the engine's record and watches a running init's pidfd (lock held). */
void ctdrv_refresh(struct daemon *d, struct instance *in);
/* Whether the state read last is still current: the engine's record is unchanged and init has not
 * ended (one stat; lock held). */
bool ctdrv_current(struct daemon *d, struct instance *in);
/* Init's pidfd fired: re-reads the record (lock held). */
void ctdrv_exited(struct daemon *d, struct instance *in);

/* Converts limits to the cgroup form. */
struct cg_limits inst_cg_limits(const struct inst_limits *l);

#endif
