/*
 * store.c — see store.h.
 */
#include "cluster/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cluster_store {
	sqlite3 *h;
};

static bool exec(struct cluster_store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(st->h, sql, NULL, NULL, &msg) == SQLITE_OK) return true;
	snprintf(err, errlen, "cluster state database: %s", msg ? msg : "error");
	sqlite3_free(msg);
	return false;
}

struct cluster_store *cluster_store_open(const char *dir, char *err, size_t errlen)
{
	struct cluster_store *st = calloc(1, sizeof(*st));
	if (!st) return snprintf(err, errlen, "out of memory"), NULL;
	char path[4200];
	snprintf(path, sizeof(path), "%s/cluster.db", dir);
	if (sqlite3_open_v2(path, &st->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         st->h ? sqlite3_errmsg(st->h) : "out of memory");
		sqlite3_close(st->h);
		free(st);
		return NULL;
	}
	sqlite3_busy_timeout(st->h, 5000);
	if (!exec(st,
	          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	          "CREATE TABLE IF NOT EXISTS state(id INTEGER PRIMARY KEY CHECK(id = 1),"
	          " version INTEGER NOT NULL, body TEXT NOT NULL);"
	          "CREATE TABLE IF NOT EXISTS self(id INTEGER PRIMARY KEY CHECK(id = 1), node INTEGER NOT "
	          "NULL);",
	          err, errlen)) {
		cluster_store_close(st);
		return NULL;
	}
	return st;
}

void cluster_store_close(struct cluster_store *st)
{
	if (!st) return;
	sqlite3_close(st->h);
	free(st);
}

json_t *cluster_store_load(struct cluster_store *st, uint32_t *self, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	json_t *state = NULL;
	*self = 0;
	err[0] = 0;
	if (sqlite3_prepare_v2(st->h, "SELECT body FROM state WHERE id = 1", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		const char *body = (const char *)sqlite3_column_text(q, 0);
		state = body ? json_loads(body, 0, NULL) : NULL;
		if (!state) snprintf(err, errlen, "the stored cluster state is not JSON");
	}
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(st->h, "SELECT node FROM self WHERE id = 1", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		*self = (uint32_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return state;
}

bool cluster_store_save(struct cluster_store *st, const json_t *state, char *err, size_t errlen)
{
	char *text = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) return snprintf(err, errlen, "out of memory"), false;
	sqlite3_stmt *q = NULL;
	bool ok =
	    sqlite3_prepare_v2(st->h, "INSERT OR REPLACE INTO state(id, version, body) VALUES (1, ?, ?)", -1,
	                       &q, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(q, 1, json_integer_value(json_object_get(state, "version"))) == SQLITE_OK &&
	    sqlite3_bind_text(q, 2, text, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_DONE;
	if (!ok) snprintf(err, errlen, "cluster state database: %s", sqlite3_errmsg(st->h));
	sqlite3_finalize(q);
	free(text);
	return ok;
}

bool cluster_store_set_self(struct cluster_store *st, uint32_t self, char *err, size_t errlen)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO self(id, node) VALUES (1, %u)", self);
	return exec(st, sql, err, errlen);
}

bool cluster_store_clear(struct cluster_store *st, char *err, size_t errlen)
{
	return exec(st, "DELETE FROM state; DELETE FROM self;", err, errlen);
}
