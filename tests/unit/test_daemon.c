/*
 * test_daemon.c — cloisond's definitions (def.c: strict parsing, defaults,
 * round trips, limits), its SQLite state (db.c: schema, transactions,
 * uniqueness, cascades, persistence, refusing what it cannot read) and its
 * operations' ends (api.c: op_end, as op_json shows them).
 */
#include "check.h"
#include "daemon/api_internal.h"
#include "daemon/db.h"
#include "daemon/def.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j) fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
	return j;
}

/* Parses text as a definition; returns whether it was accepted, the message in err. */
static bool def_ok(const char *text, struct inst_def *d, char *err, size_t errlen)
{
	json_t *j = parse(text);
	err[0] = 0;
	bool ok = j && inst_def_from_json(j, d, err, errlen);
	json_decref(j);
	return ok;
}

static void test_vm_defaults_and_round_trip(void)
{
	struct inst_def d, d2;
	char err[512];
	CHECK(def_ok("{\"name\":\"web-1\"}", &d, err, sizeof(err)));
	CHECK(d.type == INST_VM);
	CHECK_EQ(d.vm.cfg.mem, 256ULL << 20);
	CHECK_EQ(d.vm.cfg.cpus, 1);
	CHECK(d.vm.cfg.jit);
	CHECK(!d.autostart);
	inst_def_free(&d);

	const char *full =
	    "{\"name\":\"db.2\",\"type\":\"vm\",\"autostart\":true,"
	    "\"vm\":{\"kernel\":\"/k\",\"initrd\":\"/i\",\"append\":\"console=ttyS0\","
	    "\"memory\":\"512M\",\"cpus\":2,\"jit\":false,\"disks\":[\"/d.qcow2,readonly=on,bps=1000\"],"
	    "\"nets\":[\"user\",\"segment=lan\"]},"
	    "\"limits\":{\"cpu_weight\":300,\"cpu_max\":50,\"memory\":\"1G\",\"ips\":1000000,"
	    "\"disk_bps\":\"10M\",\"net_tx_bw\":1000000,\"cpuset\":\"0\"},"
	    "\"status\":{\"state\":\"running\"}}";
	CHECK(def_ok(full, &d, err, sizeof(err)));
	CHECK_EQ(d.vm.cfg.mem, 512ULL << 20);
	CHECK_EQ(d.vm.cfg.ndisks, 1);
	CHECK(!strcmp(d.vm.cfg.disks[0].path, "/d.qcow2"));
	CHECK(d.vm.cfg.disks[0].readonly);
	CHECK_EQ(d.vm.cfg.disks[0].bps, 1000);
	CHECK_EQ(d.vm.cfg.nnics, 2);
	CHECK(!strcmp(d.vm.cfg.nics[1].spec, "segment=lan"));
	CHECK_EQ(d.limits.cpu_weight, 300);
	CHECK_EQ(d.limits.memory, 1ULL << 30);
	CHECK_EQ(d.limits.disk_bps, 10ULL << 20);
	/* to_json then from_json gives the same definition, and the same JSON again. */
	json_t *j1 = inst_def_to_json(&d);
	char err2[512];
	CHECK(inst_def_from_json(j1, &d2, err2, sizeof(err2)));
	json_t *j2 = inst_def_to_json(&d2);
	CHECK(json_equal(j1, j2));
	CHECK(!memcmp(&d.vm, &d2.vm, sizeof(d.vm)));
	CHECK(!memcmp(&d.limits, &d2.limits, sizeof(d.limits)));
	json_decref(j1);
	json_decref(j2);
	inst_def_free(&d);
	inst_def_free(&d2);
}

static void test_container_definition(void)
{
	struct inst_def d;
	char err[512];
	char dir[] = "/tmp/cloison-test-rootfs-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char text[512];
	snprintf(text, sizeof(text),
	         "{\"name\":\"box\",\"type\":\"container\",\"container\":{\"rootfs\":\"%s\","
	         "\"argv\":[\"/bin/sh\"],\"net\":\"none\"},\"limits\":{\"pids\":64,\"memory\":\"64M\"}}",
	         dir);
	bool ok = def_ok(text, &d, err, sizeof(err));
	CHECK(ok);
	if (!ok) fprintf(stderr, "  %s\n", err);
	if (ok) {
		CHECK(d.type == INST_CT);
		CHECK(!strcmp(json_string_value(json_object_get(d.container, "rootfs")), dir));
		/* The engine's defaults are filled in; name and limits stay at the top level. */
		CHECK(!strcmp(json_string_value(json_object_get(d.container, "hostname")), "box"));
		CHECK(!json_object_get(d.container, "name"));
		CHECK(!json_object_get(d.container, "limits"));
		json_t *j = inst_def_to_json(&d);
		struct inst_def d2;
		CHECK(inst_def_from_json(j, &d2, err, sizeof(err)));
		json_t *j2 = inst_def_to_json(&d2);
		CHECK(json_equal(j, j2));
		json_decref(j);
		json_decref(j2);
		inst_def_free(&d2);
		/* A copy shares the container section and outlives the original. */
		struct inst_def c;
		inst_def_copy(&c, &d);
		inst_def_free(&d);
		CHECK(json_is_object(c.container));
		inst_def_free(&c);
	}
	rmdir(dir);
}

/* Each bad definition is refused with a message naming what is wrong. */
static void test_refusals(void)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"[]", "JSON object"},
	    {"{}", "name is required"},
	    {"{\"name\":\"../etc\"}", "invalid name"},
	    {"{\"name\":\"a/b\"}", "invalid name"},
	    {"{\"name\":\"\"}", "invalid name"},
	    {"{\"name\":\"-x\"}", "invalid name"},
	    {"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	     "invalid name"},
	    {"{\"name\":\"a\",\"colour\":1}", "unknown field colour"},
	    {"{\"name\":\"a\",\"type\":\"lxc\"}", "type must be"},
	    {"{\"name\":\"a\",\"type\":3}", "type must be"},
	    {"{\"name\":\"a\",\"autostart\":\"yes\"}", "autostart must be true or false"},
	    {"{\"name\":\"a\",\"vm\":{\"memory\":4097}}", "vm.memory"},
	    {"{\"name\":\"a\",\"vm\":{\"memory\":\"12 parsecs\"}}", "vm.memory must be a size"},
	    {"{\"name\":\"a\",\"vm\":{\"memory\":-1}}", "vm.memory"},
	    {"{\"name\":\"a\",\"vm\":{\"cpus\":0}}", "vm.cpus = 0 is out of range"},
	    {"{\"name\":\"a\",\"vm\":{\"cpus\":100000}}", "vm.cpus"},
	    {"{\"name\":\"a\",\"vm\":{\"kernel\":7}}", "vm.kernel must be a string"},
	    {"{\"name\":\"a\",\"vm\":{\"disks\":\"x\"}}", "vm.disks must be an array"},
	    {"{\"name\":\"a\",\"vm\":{\"disks\":[\"\"]}}", "vm.disks[0]"},
	    {"{\"name\":\"a\",\"vm\":{\"nets\":[\"a\\nb\"]}}", "vm.nets[0]"},
	    {"{\"name\":\"a\",\"vm\":{\"disks\":[\"/d,ro\"]}}", "vm.disks[0]: unknown --disk option 'ro'"},
	    {"{\"name\":\"a\",\"vm\":{\"disks\":[\"/d,format=vmdk\"]}}", "'vmdk' is not supported"},
	    {"{\"name\":\"a\",\"vm\":{\"clone\":true}}", "vm.clone needs vm.restore"},
	    {"{\"name\":\"a\",\"vm\":{\"bogus\":1}}", "unknown field vm.bogus"},
	    {"{\"name\":\"a\",\"container\":{}}", "a VM has no container section"},
	    {"{\"name\":\"a\",\"type\":\"container\"}", "needs a container section"},
	    {"{\"name\":\"a\",\"type\":\"container\",\"container\":{\"argv\":[\"/bin/sh\"]}}", "rootfs"},
	    {"{\"name\":\"a\",\"type\":\"container\",\"container\":{\"rootfs\":\"/\",\"name\":\"b\"}}",
	     "top level"},
	    {"{\"name\":\"a\",\"type\":\"container\",\"vm\":{}}", "no vm section"},
	    {"{\"name\":\"a\",\"limits\":[]}", "limits must be an object"},
	    {"{\"name\":\"a\",\"limits\":{\"cpu_weight\":10001}}", "limits.cpu_weight"},
	    {"{\"name\":\"a\",\"limits\":{\"cpu_max\":100000}}", "limits.cpu_max"},
	    {"{\"name\":\"a\",\"limits\":{\"memory\":1024}}", "limits.memory"},
	    {"{\"name\":\"a\",\"limits\":{\"memory\":\"64M\"}}", "must leave room for the VM"},
	    {"{\"name\":\"a\",\"limits\":{\"pids\":10}}", "containers only"},
	    {"{\"name\":\"a\",\"limits\":{\"cpuset\":\"4096\"}}", "limits.cpuset"},
	    {"{\"name\":\"a\",\"limits\":{\"cpuset\":\"1-0\"}}", "limits.cpuset"},
	    {"{\"name\":\"a\",\"limits\":{\"cpuset\":\"x\"}}", "limits.cpuset"},
	    {"{\"name\":\"a\",\"limits\":{\"ips\":5}}", "limits.ips = 5 is out of range"},
	    {"{\"name\":\"a\",\"limits\":{\"shares\":5}}", "unknown field limits.shares"},
	    {"{\"name\":\"a\",\"type\":\"container\",\"container\":{\"rootfs\":\"/\"},\"limits\":{\"ips\":"
	     "100000}}",
	     "apply to VMs only"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct inst_def d;
		char err[512];
		bool ok = def_ok(cases[i].text, &d, err, sizeof(err));
		CHECK(!ok);
		if (ok) {
			fprintf(stderr, "  accepted: %s\n", cases[i].text);
			inst_def_free(&d);
		} else if (!strstr(err, cases[i].expect)) {
			check_failures++;
			fprintf(stderr, "  %s\n    gave \"%s\", expected \"%s\"\n", cases[i].text, err,
			        cases[i].expect);
		}
	}
}

/* A PATCH of limits replaces only the fields it names, and a refused one changes nothing. */
static void test_limits_patch(void)
{
	struct inst_limits l = {.cpu_weight = 200, .memory = 1ULL << 30};
	char err[256];
	json_t *j = parse("{\"cpu_max\":25}");
	CHECK(inst_limits_from_json(j, &l, err, sizeof(err)));
	json_decref(j);
	CHECK_EQ(l.cpu_weight, 200);
	CHECK_EQ(l.cpu_max, 25);
	CHECK_EQ(l.memory, 1ULL << 30);
	j = parse("{\"cpu_max\":0}"); /* 0 = no cap */
	CHECK(inst_limits_from_json(j, &l, err, sizeof(err)));
	json_decref(j);
	CHECK_EQ(l.cpu_max, 0);
	struct inst_limits before = l;
	j = parse("{\"cpu_weight\":\"heavy\"}");
	CHECK(!inst_limits_from_json(j, &l, err, sizeof(err)));
	json_decref(j);
	CHECK(!memcmp(&before, &l, sizeof(l)));
	/* The output form parses back to the same limits. */
	j = inst_limits_to_json(&l);
	struct inst_limits back = {0};
	CHECK(inst_limits_from_json(j, &back, err, sizeof(err)));
	json_decref(j);
	CHECK(!memcmp(&back, &l, sizeof(l)));
}

/* ---- db.c ---- */

struct rows {
	unsigned n;
	char names[8][64], states[8][32], defs[8][128];
	int64_t pid[8];
	bool autostart[8];
};

static void collect(void *opaque, const struct db_instance *in)
{
	struct rows *r = opaque;
	if (r->n == 8) return;
	snprintf(r->names[r->n], 64, "%s", in->name);
	snprintf(r->states[r->n], 32, "%s", in->state);
	snprintf(r->defs[r->n], 128, "%s", in->definition);
	r->pid[r->n] = in->pid;
	r->autostart[r->n] = in->autostart;
	r->n++;
}

/* Counts rows (snapshots, pools: the same callback shape). */
static void count_snapshot(void *opaque, const char *name, const char *path, int64_t created_at)
{
	(void)name, (void)path, (void)created_at;
	(*(unsigned *)opaque)++;
}

struct journal_rows {
	unsigned n;
	int64_t id;
	char instance[32], kind[16], arg[64];
};

static void note_journal(void *opaque, int64_t id, const char *instance, const char *kind, const char *arg)
{
	struct journal_rows *r = opaque;
	r->n++;
	r->id = id;
	snprintf(r->instance, sizeof(r->instance), "%s", instance);
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->arg, sizeof(r->arg), "%s", arg);
}

static void test_db(void)
{
	char dir[] = "/tmp/cloison-test-db-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	struct db *db = db_open(path, err, sizeof(err));
	struct error e;
	CHECK(db != NULL);
	if (!db) return;
	CHECK_EQ(db_schema_version(db), DB_SCHEMA_VERSION);
	struct db_instance a = {
	    .name = "b-vm", .type = "vm", .definition = "{\"name\":\"b-vm\"}", .created_at = 5};
	CHECK(db_instance_insert(db, &a, &e));
	/* A taken name is refused and leaves nothing behind. */
	CHECK(!db_instance_insert(db, &a, &e));
	CHECK(strstr(e.msg, "exists") != NULL);
	CHECK(e.code == ERR_EXISTS);
	struct db_instance b = {.name = "a-ct", .type = "container", .definition = "{}", .autostart = true};
	CHECK(db_instance_insert(db, &b, &e));
	/* The schema's CHECK refuses a type it does not know. */
	struct db_instance bad = {.name = "c", .type = "zone", .definition = "{}"};
	CHECK(!db_instance_insert(db, &bad, &e));
	CHECK(e.code == ERR_INTERNAL);
	struct db_runtime rt = {
	    .state = "running", .message = "", .pid = 1234, .pid_start = 99, .exit_code = -1};
	CHECK(db_runtime_save(db, "b-vm", &rt, err, sizeof(err)));
	CHECK(
	    db_instance_update(db, "b-vm", "{\"name\":\"b-vm\",\"autostart\":true}", true, err, sizeof(err)));
	CHECK(db_snapshot_insert(db, "b-vm", "s1", "/x/s1", 10, err, sizeof(err)));
	CHECK(db_snapshot_insert(db, "b-vm", "s2", "/x/s2", 11, err, sizeof(err)));
	CHECK(!db_snapshot_insert(db, "b-vm", "s1", "/x/s1", 12, err, sizeof(err)));
	/* A snapshot of an instance that does not exist breaks the foreign key. */
	CHECK(!db_snapshot_insert(db, "ghost", "s1", "/x", 1, err, sizeof(err)));
	db_close(db);

	/* Reopened: everything committed is there, in name order. */
	db = db_open(path, err, sizeof(err));
	CHECK(db != NULL);
	if (!db) return;
	struct rows r = {0};
	CHECK(db_instances_load(db, collect, &r, err, sizeof(err)));
	CHECK_EQ(r.n, 2);
	CHECK(!strcmp(r.names[0], "a-ct") && !strcmp(r.names[1], "b-vm"));
	CHECK(!strcmp(r.states[0], "stopped") && !strcmp(r.states[1], "running"));
	CHECK_EQ(r.pid[1], 1234);
	CHECK(r.autostart[0] && r.autostart[1]);
	CHECK(strstr(r.defs[1], "autostart") != NULL);
	unsigned snaps = 0;
	CHECK(db_snapshots_list(db, "b-vm", count_snapshot, &snaps, err, sizeof(err)));
	CHECK_EQ(snaps, 2);
	CHECK(db_snapshot_delete(db, "b-vm", "s1", err, sizeof(err)));
	/* Removing an instance takes its runtime row and snapshots with it. */
	CHECK(db_instance_delete(db, "b-vm", err, sizeof(err)));
	snaps = 0;
	CHECK(db_snapshots_list(db, "b-vm", count_snapshot, &snaps, err, sizeof(err)));
	CHECK_EQ(snaps, 0);
	CHECK(db_instance_insert(db, &a, &e)); /* the name is free again */
	memset(&r, 0, sizeof(r));
	CHECK(db_instances_load(db, collect, &r, err, sizeof(err)));
	CHECK_EQ(r.n, 2);
	CHECK(!strcmp(r.states[1], "stopped")); /* a fresh runtime row */
	/* Storage pools (schema version 2): unique by name and by directory. */
	CHECK(db_pool_insert(db, "default", "/srv/pool", 1, &e));
	CHECK(!db_pool_insert(db, "default", "/srv/other", 2, &e));
	CHECK(strstr(e.msg, "exists") != NULL);
	CHECK(e.code == ERR_EXISTS);
	CHECK(!db_pool_insert(db, "second", "/srv/pool", 3, &e));
	CHECK(db_pool_insert(db, "fast", "/mnt/ssd", 4, &e));
	unsigned pools = 0;
	CHECK(db_pools_list(db, count_snapshot, &pools, err, sizeof(err)));
	CHECK_EQ(pools, 2);
	CHECK(db_pool_delete(db, "fast", err, sizeof(err)));
	/* The journal (schema version 3): entries written before an operation, removed after it. */
	int64_t j1 = 0, j2 = 0;
	CHECK(db_journal_begin(db, "b-vm", "snapshot", "s9", &j1, err, sizeof(err)));
	CHECK(db_journal_begin(db, "", "copy", "/p/x.img", &j2, err, sizeof(err)));
	CHECK(j1 > 0 && j2 > j1);
	CHECK(db_journal_end(db, j1, err, sizeof(err)));
	struct journal_rows jr = {0};
	CHECK(db_journal_list(db, note_journal, &jr, err, sizeof(err)));
	CHECK_EQ(jr.n, 1);
	CHECK(jr.id == j2 && !strcmp(jr.kind, "copy") && !strcmp(jr.arg, "/p/x.img") && !jr.instance[0]);
	pools = 0;
	CHECK(db_pools_list(db, count_snapshot, &pools, err, sizeof(err)));
	CHECK_EQ(pools, 1);
	db_close(db);

	/* A database from a newer cloisond is refused, not downgraded. */
	char newer[128];
	snprintf(newer, sizeof(newer), "%s/newer.db", dir);
	db = db_open(newer, err, sizeof(err));
	CHECK(db != NULL);
	db_close(db);
	sqlite3 *h = NULL;
	CHECK(sqlite3_open(newer, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	db = db_open(newer, err, sizeof(err));
	CHECK(db == NULL);
	CHECK(strstr(err, "newer") != NULL);
	db_close(db);

	/* A version-1 database (before storage pools) is migrated forward with its instances. */
	char old[128];
	snprintf(old, sizeof(old), "%s/v1.db", dir);
	CHECK(sqlite3_open(old, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(
	          h,
	          "CREATE TABLE instances(name TEXT PRIMARY KEY, type TEXT NOT NULL, definition TEXT NOT "
	          "NULL, autostart INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
	          "CREATE TABLE runtime(name TEXT PRIMARY KEY, state TEXT NOT NULL, message TEXT NOT NULL "
	          "DEFAULT '', pid INTEGER NOT NULL DEFAULT 0, pid_start INTEGER NOT NULL DEFAULT 0, "
	          "started_at INTEGER NOT NULL DEFAULT 0, exit_code INTEGER NOT NULL DEFAULT -1);"
	          "CREATE TABLE snapshots(instance TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, "
	          "created_at INTEGER NOT NULL, PRIMARY KEY(instance, name));"
	          "INSERT INTO instances VALUES('old', 'vm', '{}', 0, 1);"
	          "INSERT INTO runtime(name, state) VALUES('old', 'stopped');"
	          "PRAGMA user_version = 1;",
	          NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	db = db_open(old, err, sizeof(err));
	CHECK(db != NULL);
	if (db) {
		CHECK_EQ(db_schema_version(db), DB_SCHEMA_VERSION);
		memset(&r, 0, sizeof(r));
		CHECK(db_instances_load(db, collect, &r, err, sizeof(err)));
		CHECK_EQ(r.n, 1);
		CHECK(db_pool_insert(db, "default", "/p", 1, &e));
		db_close(db);
	}

	/* A file that is not a database gives an error, not a crash. */
	char junk[128];
	snprintf(junk, sizeof(junk), "%s/junk.db", dir);
	int fd = open(junk, O_CREAT | O_WRONLY, 0600);
	char garbage[4096];
	for (size_t i = 0; i < sizeof(garbage); i++) garbage[i] = (char)(i * 37 + 11);
	CHECK(write(fd, garbage, sizeof(garbage)) == (ssize_t)sizeof(garbage));
	close(fd);
	db = db_open(junk, err, sizeof(err));
	CHECK(db == NULL);
	CHECK(strstr(err, "state database") != NULL);
	db_close(db);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/* An operation ends once: its status, its error on failure only (cut to fit), its finish time. */
static void test_op_end(void)
{
	static struct daemon d;
	struct op *ok = op_new(&d, "copy", "");
	struct op *bad = op_new(&d, "start", "vm1");
	struct op *running = op_new(&d, "stop", "vm1");
	CHECK(ok && bad && running);
	op_end(ok, true, "%s", "not an error");
	op_end(bad, false, "%s failed: %d", "boot", 7);
	CHECK(!strcmp(ok->status, "success") && ok->error[0] == 0 && ok->finished_at > 0);
	CHECK(!strcmp(bad->status, "failure") && !strcmp(bad->error, "boot failed: 7") &&
	      bad->finished_at > 0);
	json_t *j = op_json(bad), *r = op_json(running);
	CHECK(j && json_integer_value(json_object_get(j, "finished_at")) == bad->finished_at);
	CHECK(!strcmp(json_string_value(json_object_get(j, "error")), "boot failed: 7"));
	CHECK(r && !json_object_get(r, "finished_at") && !json_object_get(r, "error"));
	CHECK(!strcmp(json_string_value(json_object_get(r, "status")), "running"));
	json_decref(j);
	json_decref(r);
	char longer[2000];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	op_end(running, false, "%s", longer);
	CHECK_EQ(strlen(running->error), sizeof(running->error) - 1);
	while (d.ops) {
		struct op *next = d.ops->next;
		free(d.ops);
		d.ops = next;
	}
}

TEST_MAIN(test_vm_defaults_and_round_trip, test_container_definition, test_refusals, test_limits_patch,
          test_db, test_op_end)
