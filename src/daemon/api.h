/*
 * api.h — cloisond's REST API (docs/api.md): instances, their lifecycle,
 * limits, accounting, console, snapshots and clones; operations for long
 * work; networks and storage pools (networks.c, storage.c); /metrics in Prometheus text format.
 */
#ifndef CLOISON_DAEMON_API_H
#define CLOISON_DAEMON_API_H

#include "daemon/daemon.h"
#include "http/http_server.h"

/* The server's handler (opaque: the daemon). */
void api_handle(void *opaque, const char *method, const char *path, const char *body, size_t body_len,
                struct http_response *r);
/* Starts an instance in the background (autostart); false with err if it cannot begin. */
bool api_start_async(struct daemon *d, struct instance *in, char *err, size_t errlen);

#endif
