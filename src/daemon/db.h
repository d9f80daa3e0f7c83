/*
 * db.h — cloisond's persistent state in SQLite: instance definitions, what
 * each one runs (process, state, exit), snapshots, and storage pools. The schema carries a
 * version (PRAGMA user_version) and is migrated forward when the daemon
 * starts. Every change is one transaction; the journal is a WAL with full
 * sync, so a daemon killed at any point leaves the last committed state.
 * Not thread-safe: the daemon serializes calls under its lock.
 */
#ifndef CLOISON_DAEMON_DB_H
#define CLOISON_DAEMON_DB_H

#include "util/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION 5

struct db;

/* A stored instance, as db_instances_load hands it over. */
struct db_instance {
	const char *name, *type, *definition; /* definition: JSON text */
	bool autostart;
	int64_t created_at;
	const char *state, *message; /* runtime: last known state and why */
	int64_t pid, pid_start, started_at, exit_code;
};

struct db_runtime {
	const char *state, *message;
	int64_t pid, pid_start, started_at, exit_code;
};

/* Opens (creating) the database and migrates its schema. NULL with err set. */
struct db *db_open(const char *path, char *err, size_t errlen);
void db_close(struct db *db);
int db_schema_version(struct db *db);

/* Adds an instance and its runtime row in one transaction; fails (err says "exists") on a taken name. */
bool db_instance_insert(struct db *db, const struct db_instance *in, struct error *e);
bool db_instance_update(struct db *db, const char *name, const char *definition, bool autostart, char *err,
                        size_t errlen);
bool db_runtime_save(struct db *db, const char *name, const struct db_runtime *rt, char *err, size_t errlen);
/* Removes an instance with its runtime row and snapshots. */
bool db_instance_delete(struct db *db, const char *name, char *err, size_t errlen);
/* Calls fn for each instance, in name order. */
bool db_instances_load(struct db *db, void (*fn)(void *opaque, const struct db_instance *in), void *opaque,
                       char *err, size_t errlen);

bool db_snapshot_insert(struct db *db, const char *instance, const char *name, const char *path,
                        int64_t created_at, char *err, size_t errlen);
bool db_snapshot_delete(struct db *db, const char *instance, const char *name, char *err, size_t errlen);
/* Calls fn for each snapshot of the instance, oldest first. */
bool db_snapshots_list(struct db *db, const char *instance,
                       void (*fn)(void *opaque, const char *name, const char *path, int64_t created_at),
                       void *opaque, char *err, size_t errlen);

/* Storage pools: a name for a directory of volumes (the volumes are the image files in it). */
bool db_pool_insert(struct db *db, const char *name, const char *path, int64_t created_at, struct error *e);
bool db_pool_delete(struct db *db, const char *name, char *err, size_t errlen);
bool db_pools_list(struct db *db,
                   void (*fn)(void *opaque, const char *name, const char *path, int64_t created_at),
                   void *opaque, char *err, size_t errlen);

/* The journal of operations: an entry is written before an operation acts and removed when it ended;
 * entries found at start are operations a daemon's death interrupted. */
/* Load balancers of a host in no cluster (daemon/lb.c): name and definition (JSON text). */
bool db_lb_insert(struct db *db, const char *name, const char *definition, int64_t created_at,
                  struct error *e);
bool db_lb_delete(struct db *db, const char *name, char *err, size_t errlen);
bool db_lbs_list(struct db *db,
                 void (*fn)(void *opaque, const char *name, const char *definition, int64_t created_at),
                 void *opaque, char *err, size_t errlen);
bool db_journal_begin(struct db *db, const char *instance, const char *kind, const char *arg, int64_t *id,
                      char *err, size_t errlen);
bool db_journal_end(struct db *db, int64_t id, char *err, size_t errlen);
bool db_journal_list(struct db *db,
                     void (*fn)(void *opaque, int64_t id, const char *instance, const char *kind,
                                const char *arg),
                     void *opaque, char *err, size_t errlen);

/* API tokens for the remote listener: only a hash of each is kept (SHA-256, hex). */
bool db_token_insert(struct db *db, const char *name, const char *hash, int64_t created_at, struct error *e);
bool db_token_delete(struct db *db, const char *name, char *err, size_t errlen);
bool db_tokens_list(struct db *db,
                    void (*fn)(void *opaque, const char *name, const char *hash, int64_t created_at),
                    void *opaque, char *err, size_t errlen);

#endif
