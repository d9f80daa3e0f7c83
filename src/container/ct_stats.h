/*
 * ct_stats.h — a running container's accounting as JSON: CPU time,
 * memory, pids, block I/O (its cgroup) and network bytes (its namespace's
 * interfaces), plus the limits in force.
 */
#ifndef CLOISON_CONTAINER_CT_STATS_H
#define CLOISON_CONTAINER_CT_STATS_H

#include <jansson.h>
#include <stddef.h>

/* NULL with err set when the container does not exist or is not running. */
json_t *ct_stats_json(const char *name, char *err, size_t errlen);

#endif
