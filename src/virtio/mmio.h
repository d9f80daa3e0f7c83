/*
 * mmio.h — the virtio-mmio transport (version 2, "modern") and the interface
 * a virtio device implements behind it.
 *
 * The transport owns the register file, feature negotiation, the device
 * status state machine, queue setup and the interrupt line; a device sees
 * only "a queue was notified" and its configuration space. A guest that
 * breaks the rules (queue changes outside the setup window, bad rings,
 * malformed chains) gets DEVICE_NEEDS_RESET and a log line; the host side
 * never trusts a value the guest wrote.
 */
#ifndef CLOISON_VIRTIO_MMIO_H
#define CLOISON_VIRTIO_MMIO_H

#include "virtqueue.h"
#include "util/lease.h"
#include "util/state.h"

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_MMIO_MAX_QUEUES 8

struct virtio_mmio;

struct virtio_device_ops {
	uint32_t device_id;
	uint64_t features; /* device-specific feature bits (transport bits are added) */
	unsigned num_queues;
	uint16_t queue_max;
	/* The driver notified queue `q` (DRIVER_OK is set). */
	void (*notify)(struct virtio_mmio *t, unsigned q);
	/* Configuration space; `off` + `size` already checked against config_size. */
	uint32_t config_size;
	uint64_t (*config_read)(struct virtio_mmio *t, uint32_t off, unsigned size);
	void (*config_write)(struct virtio_mmio *t, uint32_t off, unsigned size, uint64_t val);
	/* The driver reset the device: drop in-flight state. */
	void (*reset)(struct virtio_mmio *t);
	/* Devices run again after a pause or a restore: look at the queues (optional). */
	void (*resume)(struct virtio_mmio *t);
	/* The device's own state in a snapshot, after the transport's (optional; the board's I/O lock is
	 * held). load range-checks every field against the device as it is configured here. */
	void (*save)(const struct virtio_mmio *t, struct state_writer *w);
	void (*load)(struct virtio_mmio *t, struct state_reader *r);
};

/* Raises or lowers the device's interrupt line. */
typedef void (*virtio_irq_fn)(void *opaque, bool level);

struct virtio_mmio {
	const struct virtio_device_ops *ops;
	void *dev; /* the device's own state */
	struct guest_ram ram;
	virtio_irq_fn set_irq;
	void *irq_opaque;
	const char *name; /* for log lines */

	uint64_t withheld_features; /* device features this instance does not offer (configuration) */
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
	uint64_t broken_count;     /* guest errors seen (statistics) */
	bool frozen;               /* paused for a snapshot: devices leave guest memory and queues alone */
	const struct lease *lease; /* NULL, or the run lease: no queue is processed while it is expired */
};

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_ops *ops, void *dev,
                      const struct guest_ram *ram, virtio_irq_fn set_irq, void *irq_opaque, const char *name);
bool virtio_mmio_read(struct virtio_mmio *t, uint64_t off, unsigned size, uint64_t *val);
/* Device reset, as if the driver wrote 0 to Status (board reset). */
void virtio_mmio_reset(struct virtio_mmio *t);
bool virtio_mmio_write(struct virtio_mmio *t, uint64_t off, unsigned size, uint64_t val);

/* Snapshots: the transport's registers and queues, then the device's own state (inside a section of
 * version VIRTIO_STATE_VERSION the caller opened). Loading checks every value against what the device
 * offers and that the rings lie in guest RAM; a version 1 section holds the transport alone. */
#define VIRTIO_STATE_VERSION 2
void virtio_mmio_save(const struct virtio_mmio *t, struct state_writer *w);
void virtio_mmio_load(struct virtio_mmio *t, struct state_reader *r, uint32_t version);
/* Freezes or thaws the device (caller holds the board's I/O lock); thawing lets it look at its queues. */
void virtio_mmio_set_frozen(struct virtio_mmio *t, bool frozen);

/* For devices: signalling. */
/* Pushes used buffers' interrupt if the driver wants it. */
void virtio_notify_used(struct virtio_mmio *t, unsigned q);
/* The device changed its configuration space: a new generation, and the interrupt that says so. */
void virtio_config_changed(struct virtio_mmio *t);
/* Marks the device broken (DEVICE_NEEDS_RESET) because of what the guest did. */
void virtio_device_broken(struct virtio_mmio *t, const char *why);

#endif
