/*
 * store.h — where a host keeps its copy of the cluster state between runs:
 * a SQLite database of its own (DIR/cluster.db), one row holding the
 * document and its version, replaced in a transaction at each applied
 * operation. Also the host's own node id and name.
 */
#ifndef CLOISON_CLUSTER_STORE_H
#define CLOISON_CLUSTER_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_store;

struct cluster_store *cluster_store_open(const char *dir, char *err, size_t errlen);
void cluster_store_close(struct cluster_store *st);
/* The stored state (new reference) and this host's node id; NULL when none is stored. */
json_t *cluster_store_load(struct cluster_store *st, uint32_t *self, char *err, size_t errlen);
bool cluster_store_save(struct cluster_store *st, const json_t *state, char *err, size_t errlen);
bool cluster_store_set_self(struct cluster_store *st, uint32_t self, char *err, size_t errlen);
/* Forgets everything (leaving the cluster). */
bool cluster_store_clear(struct cluster_store *st, char *err, size_t errlen);

#endif
