/*
 * lb.h — service load balancers: `cloison lb create NAME --listen ADDR:PORT
 * --backend INSTANCE:PORT...` spreads TCP connections over the backends that
 * pass their health checks (TCP connect, or an HTTP GET), on HAProxy from
 * Debian, which cloisond configures, runs, reloads and watches. On a host in
 * no cluster the definitions live in the daemon's database; in a cluster they
 * are part of the replicated state, each run by one host, and the listen
 * address moves with it when that host fails (docs/cluster.md).
 */
#ifndef CLOISON_DAEMON_LB_H
#define CLOISON_DAEMON_LB_H

#include "daemon/daemon.h"
#include "http/http_server.h"

#include <jansson.h>

/* Checks a definition {"name", "listen": "A.B.C.D:PORT", "backends": ["INSTANCE:PORT"|"A.B.C.D:PORT"],
 * "check": "tcp"|"http:/PATH", "interval_ms"} and fills in the defaults. False with err set. */
bool lb_def_check(json_t *def, char *err, size_t errlen);
/* Loads this host's definitions and starts the thread that keeps HAProxy in line with them. */
bool lb_start(struct daemon *d, char *err, size_t errlen);
/* /v1/lbs... (lock held). */
void lb_api(struct daemon *d, const char *method, char **seg, int n, json_t *body, struct http_response *r);

#endif
