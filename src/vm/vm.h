/*
 * vm.h — one virtual machine and its lifecycle: create from a
 * configuration, pause, resume, save to a directory, restore from one, and
 * live or cold migration over TCP. The CLI's `run` and the control socket
 * drive it; the board (machine/) does the work.
 */
#ifndef CLOISON_VM_H
#define CLOISON_VM_H

#include "machine/machine.h"
#include "vmconfig.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm {
	struct machine *m;
	struct vm_config cfg;    /* MAC addresses filled in once the board exists */
	pthread_mutex_t op_lock; /* one lifecycle operation (save, migrate) at a time */
	uint64_t created_ns;
	bool migrated; /* the destination took over: this process exits without running the guest */
	pthread_mutex_t vnc_lock;
	struct vnc *vnc; /* the display's VNC server: made by --vnc or by the first POST /vm/vnc */
};

/* Builds the board; `ram` is NULL or guest RAM from machine_alloc_ram (taken over, even on failure).
 * NULL with err set. */
struct vm *vm_create(const struct vm_config *cfg, uint8_t *ram, console_write_fn out, void *out_opaque,
                     char *err, size_t errlen);
void vm_destroy(struct vm *v);
/* The unix socket where host programs reach the guest's vsock ports (vsock.h) in the VMs this process
 * builds from now on (created, restored or received); NULL: none. */
void vm_set_vsock_socket(const char *path);

/* Save: pauses the VM (disks flushed), writes DIR/vmstate and DIR/memory (sparse: zero pages are holes)
 * and leaves the VM paused. */
struct vm_save_stats {
	double total_ms;
	uint64_t memory_bytes_written, state_bytes;
};
bool vm_save(struct vm *v, const char *dir, struct vm_save_stats *st, char *err, size_t errlen);

/* Restore: reads DIR/vmstate (config and device state), builds the board and maps DIR/memory copy-on-write
 * (pages load lazily, the file is never written). The VM is ready to start. NULL with err set.
 * With clone_dir, the VM gets a new identity: each disk becomes a new qcow2 overlay in clone_dir over the
 * saved disk (left untouched), each network interface a new MAC address, and the guest is told by a new
 * VM generation ID (docs/lifecycle.md says what a clone-safe guest does with it). */
struct vm *vm_restore(const char *dir, const char *clone_dir, console_write_fn out, void *out_opaque,
                      char *err, size_t errlen);
/* Loads a state blob (vmstate file contents) into a VM built from the config it names: the machine
 * sections follow a "config" section. Used by restore and by the migration receiver. */
bool vm_load_state_blob(struct vm *v, const uint8_t *buf, size_t len, char *err, size_t errlen);
/* Reads DIR/vmstate whole (malloc'd; NULL with err set). */
uint8_t *vm_read_vmstate(const char *dir, size_t *len, char *err, size_t errlen);
/* Reads just the configuration out of a state blob. */
bool vm_state_blob_config(const uint8_t *buf, size_t len, struct vm_config *cfg, char *err, size_t errlen);
/* Serializes config + machine state (the VM must be paused). Caller frees w. */
bool vm_state_blob(struct vm *v, struct state_writer *w, char *err, size_t errlen);

/* Live migration to a `cloison run --incoming` at host:port. With copy_storage, the disk image files travel
 * in the stream too (while the VM is paused for the last round: meant for overlays over a base image both
 * hosts have); otherwise the destination opens them at the same paths (shared storage). On success the source
 * is left paused with v->migrated set (the caller exits); on failure it runs again and err says why. */
struct vm_migrate_stats {
	double total_ms;
	double downtime_ms;      /* from the pause until the destination confirmed it runs the guest */
	double downtime_sent_ms; /* from the pause until the last byte left (QEMU's definition of downtime) */
	unsigned rounds;
	uint64_t pages_sent, bytes_sent;
};
bool vm_migrate(struct vm *v, const char *host, const char *port, bool copy_storage,
                struct vm_migrate_stats *st, char *err, size_t errlen);
/* Cold migration: sends a saved VM directory to a receiver. */
bool vm_migrate_saved(const char *dir, const char *host, const char *port, struct vm_migrate_stats *st,
                      char *err, size_t errlen);
/* Receiver: listens on addr:port, accepts one stream, builds the VM from it; disks the source copies are
 * written into storage_dir (NULL: the source must not copy them). NULL with err set. After the
 * caller started the VM it must call vm_incoming_confirm so the source can stop. */
struct vm_incoming;
struct vm *vm_incoming(const char *addr, const char *port, const char *storage_dir, console_write_fn out,
                       void *out_opaque, struct vm_incoming **inc, char *err, size_t errlen);
void vm_incoming_confirm(struct vm_incoming *inc, bool ok, const char *msg);

/* Replication: writes the blocks of the VM's disks the guest changed since the last call (every block
 * with `full`, or at the first call) to a delta file (block/delta.h), with the VM paused meanwhile so
 * the delta is one instant of the disks. On failure the changes are lost for the next delta: the
 * caller asks for a full one. */
struct vm_delta_stats {
	double total_ms, paused_ms;
	uint64_t blocks, bytes;
};
bool vm_replica_delta(struct vm *v, const char *path, bool full, struct vm_delta_stats *st, char *err,
                      size_t errlen); /* op_lock held */

#endif
