/*
 * db.c — see db.h.
 */
#include "db.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct db {
	sqlite3 *h;
};

/* Each entry takes the schema from version i to i+1. Never edit a released step: append one. */
static const char *const migrations[] = {
    "CREATE TABLE instances(name TEXT PRIMARY KEY, type TEXT NOT NULL CHECK(type IN ('vm','container')),"
    " definition TEXT NOT NULL, autostart INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE runtime(name TEXT PRIMARY KEY REFERENCES instances(name) ON DELETE CASCADE,"
    " state TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL DEFAULT 0,"
    " pid_start INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT -1);"
    "CREATE TABLE snapshots(instance TEXT NOT NULL REFERENCES instances(name) ON DELETE CASCADE,"
    " name TEXT NOT NULL, path TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " PRIMARY KEY(instance, name));",
    "CREATE TABLE pools(name TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);",
    "CREATE TABLE journal(id INTEGER PRIMARY KEY AUTOINCREMENT, instance TEXT NOT NULL, kind TEXT NOT NULL,"
    " arg TEXT NOT NULL, started_at INTEGER NOT NULL);",
    "CREATE TABLE lbs(name TEXT PRIMARY KEY, definition TEXT NOT NULL, created_at INTEGER NOT NULL);",
    "CREATE TABLE tokens(name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);",
};

static bool fail(struct db *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "state database: %s: %s", what, sqlite3_errmsg(db->h));
	return false;
}

static bool exec(struct db *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) == SQLITE_OK) return true;
	snprintf(err, errlen, "state database: %s", msg ? msg : "error");
	sqlite3_free(msg);
	return false;
}

int db_schema_version(struct db *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool migrate(struct db *db, char *err, size_t errlen)
{
	int v = db_schema_version(db);
	int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	if (v < 0) return fail(db, "cannot read the schema version", err, errlen);
	if (v > latest) {
		snprintf(err, errlen,
		         "state database: schema version %d is newer than this cloisond knows (%d): upgrade "
		         "cloison",
		         v, latest);
		return false;
	}
	for (; v < latest; v++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (!exec(db, "BEGIN IMMEDIATE", err, errlen)) return false;
		if (!exec(db, migrations[v], err, errlen) || !exec(db, sql, err, errlen)) {
			char ignore[64];
			exec(db, "ROLLBACK", ignore, sizeof(ignore));
			return false;
		}
		if (!exec(db, "COMMIT", err, errlen)) return false;
	}
	return true;
}

struct db *db_open(const char *path, char *err, size_t errlen)
{
	struct db *db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the state database %s: %s", path,
		         db->h ? sqlite3_errmsg(db->h) : "out of memory");
		db_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->h, 5000);
	if (!exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err,
	          errlen) ||
	    !migrate(db, err, errlen)) {
		db_close(db);
		return NULL;
	}
	return db;
}

void db_close(struct db *db)
{
	if (!db) return;
	sqlite3_close(db->h);
	free(db);
}

/* Prepares sql and binds its parameters from a format: s = text, i = int64, b = bool. */
static sqlite3_stmt *prepare(struct db *db, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
	va_list ap;
	va_start(ap, fmt);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 's')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else if (fmt[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else
			sqlite3_bind_int(st, i + 1, va_arg(ap, int));
	}
	va_end(ap);
	return st;
}

/* Runs a statement that returns no rows; SQLITE_DONE or the error code. */
static int run(sqlite3_stmt *st)
{
	if (!st) return SQLITE_ERROR;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

/* The last statement failed because a key it inserts is taken (not another constraint). */
static bool key_taken(struct db *db, int rc)
{
	int ext = sqlite3_extended_errcode(db->h);
	return rc == SQLITE_CONSTRAINT &&
	       (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE);
}

bool db_instance_insert(struct db *db, const struct db_instance *in, struct error *e)
{
	char *err = e->msg;
	size_t errlen = sizeof(e->msg);
	e->code = ERR_INTERNAL;
	if (!exec(db, "BEGIN IMMEDIATE", err, errlen)) return false;
	int rc = run(prepare(db, "INSERT INTO instances VALUES(?,?,?,?,?)", "sssbi", in->name, in->type,
	                     in->definition, (int)in->autostart, in->created_at));
	if (rc == SQLITE_DONE)
		rc = run(prepare(db, "INSERT INTO runtime(name, state) VALUES(?, 'stopped')", "s", in->name));
	if (rc != SQLITE_DONE) {
		if (key_taken(db, rc))
			err_set(e, ERR_EXISTS, "an instance named '%s' exists", in->name);
		else
			fail(db, "cannot add the instance", err, errlen);
		char ignore[64];
		exec(db, "ROLLBACK", ignore, sizeof(ignore));
		return false;
	}
	return exec(db, "COMMIT", err, errlen);
}

bool db_instance_update(struct db *db, const char *name, const char *definition, bool autostart, char *err,
                        size_t errlen)
{
	if (run(prepare(db, "UPDATE instances SET definition = ?, autostart = ? WHERE name = ?", "sbs",
	                definition, (int)autostart, name)) != SQLITE_DONE)
		return fail(db, "cannot update the instance", err, errlen);
	return true;
}

bool db_runtime_save(struct db *db, const char *name, const struct db_runtime *rt, char *err, size_t errlen)
{
	if (run(prepare(db,
	                "UPDATE runtime SET state = ?, message = ?, pid = ?, pid_start = ?, started_at = ?, "
	                "exit_code = ? WHERE name = ?",
	                "ssiiiis", rt->state, rt->message ? rt->message : "", rt->pid, rt->pid_start,
	                rt->started_at, rt->exit_code, name)) != SQLITE_DONE)
		return fail(db, "cannot record the instance's state", err, errlen);
	return true;
}

bool db_instance_delete(struct db *db, const char *name, char *err, size_t errlen)
{
	if (run(prepare(db, "DELETE FROM instances WHERE name = ?", "s", name)) != SQLITE_DONE)
		return fail(db, "cannot remove the instance", err, errlen);
	return true;
}

static const char *text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? (const char *)t : "";
}

bool db_instances_load(struct db *db, void (*fn)(void *opaque, const struct db_instance *in), void *opaque,
                       char *err, size_t errlen)
{
	sqlite3_stmt *st =
	    prepare(db,
	            "SELECT i.name, i.type, i.definition, i.autostart, i.created_at, r.state, "
	            "r.message, r.pid, r.pid_start, r.started_at, r.exit_code FROM instances i "
	            "JOIN runtime r USING(name) ORDER BY i.name",
	            "");
	if (!st) return fail(db, "cannot read instances", err, errlen);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_instance in = {
		    .name = text(st, 0),
		    .type = text(st, 1),
		    .definition = text(st, 2),
		    .autostart = sqlite3_column_int(st, 3) != 0,
		    .created_at = sqlite3_column_int64(st, 4),
		    .state = text(st, 5),
		    .message = text(st, 6),
		    .pid = sqlite3_column_int64(st, 7),
		    .pid_start = sqlite3_column_int64(st, 8),
		    .started_at = sqlite3_column_int64(st, 9),
		    .exit_code = sqlite3_column_int64(st, 10),
		};
		fn(opaque, &in);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || fail(db, "cannot read instances", err, errlen);
}

/* Runs a query whose rows are (name, path, created_at), calling fn on each. */
static bool each_named_path(struct db *db, sqlite3_stmt *st,
                            void (*fn)(void *opaque, const char *name, const char *path, int64_t created_at),
                            void *opaque, const char *what, char *err, size_t errlen)
{
	if (!st) return fail(db, what, err, errlen);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(opaque, text(st, 0), text(st, 1), sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || fail(db, what, err, errlen);
}

bool db_snapshot_insert(struct db *db, const char *instance, const char *name, const char *path,
                        int64_t created_at, char *err, size_t errlen)
{
	int rc = run(
	    prepare(db, "INSERT INTO snapshots VALUES(?,?,?,?)", "sssi", instance, name, path, created_at));
	if (rc == SQLITE_CONSTRAINT) {
		snprintf(err, errlen, "'%s' has a snapshot named '%s'", instance, name);
		return false;
	}
	return rc == SQLITE_DONE || fail(db, "cannot record the snapshot", err, errlen);
}

bool db_snapshot_delete(struct db *db, const char *instance, const char *name, char *err, size_t errlen)
{
	if (run(prepare(db, "DELETE FROM snapshots WHERE instance = ? AND name = ?", "ss", instance, name)) !=
	    SQLITE_DONE)
		return fail(db, "cannot remove the snapshot", err, errlen);
	return true;
}

bool db_snapshots_list(struct db *db, const char *instance,
                       void (*fn)(void *opaque, const char *name, const char *path, int64_t created_at),
                       void *opaque, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(
	    db, "SELECT name, path, created_at FROM snapshots WHERE instance = ? ORDER BY created_at, name",
	    "s", instance);
	return each_named_path(db, st, fn, opaque, "cannot read snapshots", err, errlen);
}

bool db_pool_insert(struct db *db, const char *name, const char *path, int64_t created_at, struct error *e)
{
	int rc = run(prepare(db, "INSERT INTO pools VALUES(?,?,?)", "ssi", name, path, created_at));
	if (key_taken(db, rc))
		return err_set(e, ERR_EXISTS, "a storage pool named '%s' or at '%s' exists", name, path);
	e->code = ERR_INTERNAL;
	return rc == SQLITE_DONE || fail(db, "cannot record the storage pool", e->msg, sizeof(e->msg));
}

bool db_pool_delete(struct db *db, const char *name, char *err, size_t errlen)
{
	if (run(prepare(db, "DELETE FROM pools WHERE name = ?", "s", name)) != SQLITE_DONE)
		return fail(db, "cannot remove the storage pool", err, errlen);
	return true;
}

bool db_pools_list(struct db *db,
                   void (*fn)(void *opaque, const char *name, const char *path, int64_t created_at),
                   void *opaque, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, "SELECT name, path, created_at FROM pools ORDER BY name", "");
	return each_named_path(db, st, fn, opaque, "cannot read storage pools", err, errlen);
}

bool db_lb_insert(struct db *db, const char *name, const char *definition, int64_t created_at,
                  struct error *e)
{
	int rc = run(prepare(db, "INSERT INTO lbs VALUES(?,?,?)", "ssi", name, definition, created_at));
	if (key_taken(db, rc)) return err_set(e, ERR_EXISTS, "a load balancer named '%s' exists", name);
	e->code = ERR_INTERNAL;
	return rc == SQLITE_DONE || fail(db, "cannot record the load balancer", e->msg, sizeof(e->msg));
}

bool db_lb_delete(struct db *db, const char *name, char *err, size_t errlen)
{
	if (run(prepare(db, "DELETE FROM lbs WHERE name = ?", "s", name)) != SQLITE_DONE)
		return fail(db, "cannot remove the load balancer", err, errlen);
	return true;
}

bool db_lbs_list(struct db *db,
                 void (*fn)(void *opaque, const char *name, const char *definition, int64_t created_at),
                 void *opaque, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, "SELECT name, definition, created_at FROM lbs ORDER BY name", "");
	return each_named_path(db, st, fn, opaque, "cannot read load balancers", err, errlen);
}

bool db_journal_begin(struct db *db, const char *instance, const char *kind, const char *arg, int64_t *id,
                      char *err, size_t errlen)
{
	int rc = run(prepare(db, "INSERT INTO journal(instance, kind, arg, started_at) VALUES(?,?,?,?)",
	                     "sssi", instance, kind, arg, (int64_t)time(NULL)));
	if (rc != SQLITE_DONE) return fail(db, "cannot journal the operation", err, errlen);
	*id = sqlite3_last_insert_rowid(db->h);
	return true;
}

bool db_journal_end(struct db *db, int64_t id, char *err, size_t errlen)
{
	return run(prepare(db, "DELETE FROM journal WHERE id = ?", "i", id)) == SQLITE_DONE ||
	       fail(db, "cannot close the journal entry", err, errlen);
}

bool db_journal_list(struct db *db,
                     void (*fn)(void *opaque, int64_t id, const char *instance, const char *kind,
                                const char *arg),
                     void *opaque, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, "SELECT id, instance, kind, arg FROM journal ORDER BY id", "");
	if (!st) return fail(db, "cannot read the journal", err, errlen);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(opaque, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		   (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || fail(db, "cannot read the journal", err, errlen);
}

bool db_token_insert(struct db *db, const char *name, const char *hash, int64_t created_at, struct error *e)
{
	int rc = run(prepare(db, "INSERT INTO tokens VALUES(?,?,?)", "ssi", name, hash, created_at));
	if (key_taken(db, rc)) return err_set(e, ERR_EXISTS, "a token named '%s' exists", name);
	e->code = ERR_INTERNAL;
	return rc == SQLITE_DONE || fail(db, "cannot record the token", e->msg, sizeof(e->msg));
}

bool db_token_delete(struct db *db, const char *name, char *err, size_t errlen)
{
	if (run(prepare(db, "DELETE FROM tokens WHERE name = ?", "s", name)) != SQLITE_DONE)
		return fail(db, "cannot remove the token", err, errlen);
	return true;
}

bool db_tokens_list(struct db *db,
                    void (*fn)(void *opaque, const char *name, const char *hash, int64_t created_at),
                    void *opaque, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, "SELECT name, hash, created_at FROM tokens ORDER BY name", "");
	return each_named_path(db, st, fn, opaque, "cannot read tokens", err, errlen);
}
