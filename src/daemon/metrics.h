/*
 * metrics.h — accounting: one instance's counters in a common shape for VMs
 * and containers (CPU time, guest instructions, memory, disk and network
 * bytes and operations), and all of them in Prometheus' text format.
 */
#ifndef CLOISON_DAEMON_METRICS_H
#define CLOISON_DAEMON_METRICS_H

#include "daemon/daemon.h"

#include <jansson.h>

/* A running instance's counters (lock not held; the caller holds a reference). NULL with err set. */
json_t *metrics_instance_stats(struct daemon *d, struct instance *in, char *err, size_t errlen);
/* The /metrics page (lock not held); malloc'd, NULL when out of memory. */
char *metrics_text(struct daemon *d);

#endif
