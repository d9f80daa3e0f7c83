/*
 * replica.h — replication of HA instances' local disks to other hosts of the
 * cluster (see replica.c), and the replicas this host keeps for others.
 */
#ifndef CLOISON_DAEMON_REPLICA_H
#define CLOISON_DAEMON_REPLICA_H

#include "daemon/daemon.h"

#include <jansson.h>

struct join_io;

/* Starts the thread that replicates this host's instances when their interval comes. */
bool replica_start(struct daemon *d, char *err, size_t errlen);
/* A member pushes a delta of `name` (the join channel, cluster key): applied to this host's replica.
 * The answer, or NULL with err set. */
json_t *replica_receive(struct daemon *d, json_t *req, struct join_io *io, char *err, size_t errlen);
/* STATE/replicas/NAME: where this host keeps NAME's replica (diskN.raw, meta.json). */
void replica_dir(struct daemon *d, const char *name, char *buf, size_t len);
/* Whether this host holds a complete replica of NAME. */
bool replica_present(struct daemon *d, const char *name);
/* What this host replicates: {NAME: {NODE_ID: {"seq", "lag_s", "error"}}} (new reference). */
json_t *replica_status(void);

#endif
