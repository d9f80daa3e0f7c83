/*
 * corosync.h — cloisond's connection to its host's corosync: one CPG group
 * (totally ordered, virtually synchronous messages and the group's
 * membership) and votequorum (whether this host's partition is quorate).
 * Both are pollable file descriptors; callbacks run inside
 * corosync_link_dispatch on the caller's thread.
 */
#ifndef CLOISON_CLUSTER_COROSYNC_H
#define CLOISON_CLUSTER_COROSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct corosync_events {
	void (*deliver)(void *ctx, uint32_t node, const void *msg, size_t len);
	void (*confchg)(void *ctx, const uint32_t *members, size_t n);
	void (*quorum)(void *ctx, bool quorate);
	void *ctx;
};

struct corosync_link;

/* Connects to the local corosync and joins `group`. NULL with err set (corosync not running...). */
struct corosync_link *corosync_link_open(const char *group, const struct corosync_events *ev, char *err,
                                         size_t errlen);
void corosync_link_close(struct corosync_link *l);
/* The two descriptors to poll for input (CPG, votequorum). */
void corosync_link_fds(const struct corosync_link *l, int fds[2]);
/* Runs the callbacks for what arrived; false when the connection to corosync is lost. */
bool corosync_link_dispatch(struct corosync_link *l);
/* Sends to the group: 0 sent, 1 try again later (flow control, membership change), -1 lost. */
int corosync_link_send(struct corosync_link *l, const void *msg, size_t len);
uint32_t corosync_link_nodeid(const struct corosync_link *l);

#endif
