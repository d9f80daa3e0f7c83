/*
 * virtqueue.h — split virtqueues (virtio 1.x) read from and written to guest
 * memory, with the guest treated as hostile.
 *
 * A device pops descriptor chains as lists of host buffers, fills or reads
 * them, and pushes them back to the used ring. Every index, length and
 * address the guest wrote is checked: descriptor loops, chains longer than
 * the queue, indirect tables inside indirect tables, lengths that overflow,
 * buffers outside or straddling guest RAM and a driver that advances the
 * available index by more than the queue size all make virtq_pop() fail, and
 * the transport then puts the device in DEVICE_NEEDS_RESET. Nothing here
 * touches host memory outside guest RAM.
 */
#ifndef CLOISON_VIRTQUEUE_H
#define CLOISON_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dirty_log.h"

/* Guest physical memory as the device sees it. */
struct guest_ram {
	uint8_t *host;
	uint64_t base; /* guest physical address of host[0] */
	uint64_t size;
	struct dirty_log *dirty; /* pages devices write are marked here (live migration), or NULL */
};

/* Records that the device wrote [host, host+len) of guest RAM. */
static inline void guest_ram_dirty(const struct guest_ram *ram, const void *host, uint64_t len)
{
	dirty_log_mark_host(ram->dirty, host, len);
}

/* Host view of guest memory [gpa, gpa + len), or NULL if any byte is outside RAM. */
void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len);

#define VIRTQ_MAX_SIZE 1024 /* largest queue this implementation offers */
#define VIRTQ_MAX_SEGS 1024 /* a chain has at most one segment per descriptor */

struct virtq {
	uint16_t size; /* QueueNum as the driver set it; a power of 2 */
	bool ready;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;     /* next available-ring entry to consume */
	uint16_t used_idx;       /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx when we last interrupted (event idx) */
	bool signalled_valid;
};

struct virtq_seg {
	void *host;
	uint32_t len;
	bool device_writes; /* VIRTQ_DESC_F_WRITE: the device fills it */
};

struct virtq_chain {
	uint16_t head;
	unsigned nsegs;
	uint64_t out_bytes; /* driver -> device */
	uint64_t in_bytes;  /* device -> driver */
	struct virtq_seg segs[VIRTQ_MAX_SEGS];
};

enum virtq_pop_result { VIRTQ_EMPTY = 0, VIRTQ_GOT = 1, VIRTQ_BROKEN = -1 };

/* Checks that the rings the driver placed fit in guest RAM (at QueueReady). */
bool virtq_rings_valid(const struct virtq *q, const struct guest_ram *ram);
/* Takes the next available chain. On VIRTQ_BROKEN, `why` says what the guest did. */
enum virtq_pop_result virtq_pop(struct virtq *q, const struct guest_ram *ram, struct virtq_chain *c,
                                const char **why);
/* The driver's available index as it is now (0 when the ring is not readable): it moves each time the
 * driver makes a chain available. */
uint16_t virtq_avail_idx(const struct virtq *q, const struct guest_ram *ram);
/* Gives back the last n chains popped and not pushed: the next pops return them again (a device
 * that found too little room for a packet). */
void virtq_unpop(struct virtq *q, const struct guest_ram *ram, uint16_t n);
/* Copies the chain's driver-written bytes (at most cap) into buf; their count. */
size_t virtq_chain_gather(const struct virtq_chain *c, void *buf, size_t cap);
/* Copies len bytes of buf into the chain's device-writable segments (as many as fit, marked dirty);
 * their count. */
size_t virtq_chain_scatter(const struct guest_ram *ram, const struct virtq_chain *c, const void *buf,
                           size_t len);

/* Returns a chain to the driver with the number of bytes the device wrote. */
void virtq_push(struct virtq *q, const struct guest_ram *ram, uint16_t head, uint32_t written);
/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool virtq_should_interrupt(struct virtq *q, const struct guest_ram *ram);
void virtq_reset(struct virtq *q);

#endif
