/*
 * backend.h — what a network backend is: the host side of a virtual NIC.
 *
 * A backend moves whole Ethernet frames (no FCS, no virtio header) between a
 * NIC and something on the host: libslirp's user-mode NAT, a LAN segment
 * shared with other VM processes, or a TAP device. Every backend runs on its
 * NIC's I/O thread only: it adds its file descriptors to the thread's poll
 * set, handles what poll() reported, takes frames to send, and hands frames
 * it receives to the NIC through `rx`. When the NIC has no room (`rx_blocked`
 * is set), a backend stops reading its sources so the host side feels the
 * backpressure instead of frames being dropped.
 */
#ifndef CLOISON_NET_BACKEND_H
#define CLOISON_NET_BACKEND_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_POLLFDS 256
#define NET_ETH_HLEN 14
#define NET_MAX_FRAME 65550 /* the largest frame any backend carries (64 KiB MTU + header + VLAN tag) */

struct net_pollset {
	struct pollfd fds[NET_MAX_POLLFDS];
	unsigned n;
};

/* Appends a descriptor; returns its index, or -1 when the set is full. */
int net_pollset_add(struct net_pollset *ps, int fd, short events);

struct net_backend;
typedef void (*net_rx_fn)(void *opaque, const uint8_t *frame, size_t len);

struct net_backend_ops {
	const char *kind;
	/* Adds what it waits for to the poll set; may lower *timeout_ms (-1: none). */
	void (*poll_fill)(struct net_backend *b, struct net_pollset *ps, int *timeout_ms);
	/* Handles what poll() returned (also called after a timeout, with revents cleared). */
	void (*poll_done)(struct net_backend *b, struct net_pollset *ps);
	/* Sends one frame; false when it was dropped (counted by the caller). */
	bool (*send)(struct net_backend *b, const uint8_t *frame, size_t len);
	/* A line describing the backend's state for `stats` (may be NULL). */
	void (*describe)(struct net_backend *b, char *buf, size_t len);
	void (*destroy)(struct net_backend *b);
};

struct net_backend {
	const struct net_backend_ops *ops;
	net_rx_fn rx;
	void *rx_opaque;
	bool rx_blocked;  /* the NIC has no room: do not read more frames now */
	unsigned mtu;     /* the IP MTU the backend supports (1500 unless configured) */
	uint8_t mac[6];   /* the guest NIC's address (backends that filter or answer for it) */
	uint64_t dropped; /* frames the backend dropped (peer full, malformed, ...) */
};

#endif
