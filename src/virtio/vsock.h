/*
 * vsock.h — virtio socket device (virtio-vsock): stream connections between
 * the guest (its context id, CID) and the host (CID 2), carried to host
 * programs over unix sockets, with its own I/O thread.
 *
 * Host side, as Firecracker does it: a program connects to the device's unix
 * socket PATH and writes "CONNECT PORT\n"; once the guest accepts, it reads
 * "OK HOSTPORT\n" and the stream is the guest's. A guest that connects to
 * host port P reaches the unix socket "PATH_P" when one listens there.
 *
 * The guest is untrusted: every header is checked, a guest that sends more
 * than the credit it was given or breaks the protocol loses the connection
 * (a reset), and what one connection buffers on the host is bounded.
 */
#ifndef CLOISON_VIRTIO_VSOCK_H
#define CLOISON_VIRTIO_VSOCK_H

#include "mmio.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VSOCK_HOST_CID 2
#define VSOCK_MAX_CONNS 32
#define VSOCK_BUF_ALLOC (256u << 10) /* what the host buffers per connection toward its program */

struct vsock_conn;

struct vsock_stats {
	uint64_t connections; /* opened, both ways */
	uint64_t to_guest_bytes, to_host_bytes;
	uint64_t resets;      /* connections reset (refused, broken by either side) */
	uint64_t bad_packets; /* headers from the guest we refused */
};

struct virtio_vsock {
	struct virtio_mmio transport;
	uint64_t guest_cid;
	pthread_mutex_t *io_lock; /* the board's: guards the transport, queues and connections */
	char path[108];           /* the host's unix socket ("" : host programs cannot connect) */
	int listen_fd, kick_fd;
	uint64_t path_dev, path_ino; /* the socket file we made: removed at the end only if still ours */

	/* Guarded by io_lock. */
	struct vsock_conn *conns; /* VSOCK_MAX_CONNS slots */
	uint32_t next_host_port;
	bool drop_all;              /* the driver reset the device: every connection goes */
	bool announce_reset;        /* tell the guest its connections are gone (after a restore) */
	bool reset_unacked;         /* ... told, and it has not handled it yet: new host connections wait */
	uint64_t reset_deadline_ns; /* ... or until then */
	uint16_t reset_evq_avail;   /* the event queue's available index when we told it */
	bool rx_starved;            /* something waits for a receive buffer: a notify on rx kicks */
	uint32_t refuse[16][2]; /* resets owed to the guest for packets of no connection (src, dst port) */
	unsigned nrefuse;
	struct virtq_chain chain; /* scratch */
	struct vsock_stats stats;

	pthread_t thread;
	bool started;
	_Atomic bool stopping;
};

/* path: the unix socket to listen on ("" or NULL: none). NULL with err set. */
struct virtio_vsock *virtio_vsock_create(uint64_t guest_cid, const char *path, const struct guest_ram *ram,
                                         pthread_mutex_t *io_lock, char *err, size_t errlen);
/* Starts the I/O thread (the board does, once the device is on the bus). */
bool virtio_vsock_start(struct virtio_vsock *v, char *err, size_t errlen);
/* Stops the thread, closes every connection and removes the socket. */
void virtio_vsock_destroy(struct virtio_vsock *v);
/* One round of work without waiting (the I/O thread's body; tests and fuzzing call it directly):
 * accepts host connections, moves what the guest sent, delivers what host programs wrote. */
void virtio_vsock_service(struct virtio_vsock *v);

#endif
