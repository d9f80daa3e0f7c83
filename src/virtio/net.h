/*
 * net.h — virtio network device (virtio-net) over a network backend, with
 * its own I/O thread that runs the backend, moves frames both ways and
 * applies the interface's rate limits.
 */
#ifndef CLOISON_VIRTIO_NET_H
#define CLOISON_VIRTIO_NET_H

#include "mmio.h"
#include "net/backend.h"
#include "net/pcap.h"
#include "util/token_bucket.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct net_limits {
	uint64_t rx_bps, tx_bps; /* bits per second (0: none); rx is toward the guest */
	uint64_t rx_pps, tx_pps; /* frames per second (0: none) */
	uint64_t burst;          /* bytes the bandwidth buckets hold (0: a default) */
};

struct net_stats {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_dropped;   /* no room in the guest for too long, or a frame too big for its buffers */
	uint64_t tx_dropped;   /* the backend could not take it */
	uint64_t tx_malformed; /* what the guest sent was not a frame we accept */
	uint64_t throttled_ns; /* time the limits held traffic back */
};

struct net_frame;
struct net_frame_queue {
	struct net_frame *head, *tail;
	unsigned count;
	size_t bytes;
};

struct virtio_net {
	struct virtio_mmio transport;
	struct virtio_device_ops ops;
	struct net_backend *backend;
	struct pcap_writer *pcap;
	uint8_t mac[6];
	uint16_t mtu;
	pthread_mutex_t *io_lock; /* the board's: guards the transport and queues */

	/* Guarded by io_lock. */
	bool rx_wanted;           /* frames wait for receive buffers: a notify on the receive queue kicks */
	struct virtq_chain chain; /* scratch for the I/O thread */

	/* I/O thread only. */
	pthread_t thread;
	int kick_fd;               /* eventfd: the guest queued frames to send or buffers to receive into */
	_Atomic bool kick_pending; /* kick_fd was written and the thread has not looked at the queues yet */
	struct net_frame_queue backlog; /* received, waiting for the guest's buffers or the limits */
	struct net_frame_queue txq;     /* popped from the guest, waiting for the limits */
	size_t txq_max_bytes;
	struct token_bucket rx_bw, tx_bw, rx_pps, tx_pps;
	uint64_t rx_next_ns, tx_next_ns; /* the limits hold traffic back until then */
	bool started;
	_Atomic bool stopping;

	struct net_stats stats; /* written by the I/O thread; readers accept slightly stale values */

	/* New limits from another thread, applied by the I/O thread (virtio_net_set_limits). */
	pthread_mutex_t limits_lock;
	struct net_limits limits, new_limits;
	_Atomic bool limits_pending;
};

/* Takes ownership of `backend` and `pcap` (may be NULL). NULL with err set. */
struct virtio_net *virtio_net_create(struct net_backend *backend, const uint8_t mac[6],
                                     const struct net_limits *limits, struct pcap_writer *pcap,
                                     const struct guest_ram *ram, pthread_mutex_t *io_lock, char *err,
                                     size_t errlen);
/* Changes the rate limits of a running interface (any thread); the I/O thread applies them shortly. */
void virtio_net_set_limits(struct virtio_net *n, const struct net_limits *limits);
/* The limits in force (or about to be). */
struct net_limits virtio_net_limits(struct virtio_net *n);
/* Starts the I/O thread (the board does, once the device is on the bus). */
bool virtio_net_start(struct virtio_net *n, char *err, size_t errlen);
/* Stops the I/O thread and closes the backend. */
void virtio_net_destroy(struct virtio_net *n);

/* For tests and fuzzing: runs the transmit path once on the calling thread (pop, check, send). */
void virtio_net_process_tx(struct virtio_net *n);
/* Queues a frame for the guest and delivers what fits (I/O thread, or tests). */
void virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len);

#endif
