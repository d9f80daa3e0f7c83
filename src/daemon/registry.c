/*
 * registry.c — the instances cloisond manages: the table (lookup, add,
 * unlink, references), where their files live, their runtime row in the
 * database, and loading them back at start: each is handed to its driver to
 * be matched with its process, loses snapshot directories the database does
 * not list, and the journal's unfinished operations are then replayed.
 */
#define _GNU_SOURCE
#include "daemon/daemon.h"
#include "daemon/driver.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *inst_state_name(enum inst_state s)
{
	static const char *const names[] = {"stopped", "starting", "running",
	                                    "paused",  "stopping", "crashed"};
	return names[s];
}

struct instance *daemon_find(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->ninsts; i++)
		if (!strcmp(d->insts[i]->def.name, name)) return d->insts[i];
	return NULL;
}

void inst_get(struct instance *in)
{
	in->refs++;
}

void inst_put(struct instance *in)
{
	if (--in->refs > 0 || !in->removed) return;
	if (in->pidfd >= 0) close(in->pidfd);
	inst_def_free(&in->def);
	free(in);
}

bool daemon_add(struct daemon *d, struct instance *in)
{
	if (d->ninsts == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct instance **g = realloc(d->insts, cap * sizeof(*g));
		if (!g) return false;
		d->insts = g;
		d->cap = cap;
	}
	in->refs = 1; /* the table's */
	d->insts[d->ninsts++] = in;
	return true;
}

void daemon_unlink(struct daemon *d, struct instance *in)
{
	for (size_t i = 0; i < d->ninsts; i++)
		if (d->insts[i] == in) {
			memmove(&d->insts[i], &d->insts[i + 1], (d->ninsts - i - 1) * sizeof(*d->insts));
			d->ninsts--;
			in->removed = true;
			inst_put(in);
			return;
		}
}

void inst_path(struct daemon *d, const struct instance *in, const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/instances/%s%s%s", d->state_dir, in->def.name, *file ? "/" : "", file);
}

void daemon_save_runtime(struct daemon *d, struct instance *in)
{
	struct db_runtime rt = {.state = inst_state_name(in->state),
	                        .message = in->message,
	                        .pid = in->pid,
	                        .pid_start = (int64_t)in->pid_start,
	                        .started_at = in->started_at,
	                        .exit_code = in->exit_code};
	char err[512];
	if (!db_runtime_save(d->db, in->def.name, &rt, err, sizeof(err)))
		log_error("%s: %s", in->def.name, err);
}

void daemon_refresh(struct daemon *d, struct instance *in)
{
	inst_driver(in)->refresh(d, in);
}

/* Checks that what the definition names exists on this host (files, root filesystem). */
static bool check_host_paths(const struct inst_def *def, const char *own_dir, char *err, size_t errlen)
{
	if (def->type == INST_CT) {
		const char *rootfs = json_string_value(json_object_get(def->container, "rootfs"));
		struct stat st;
		if (!rootfs || stat(rootfs, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "container.rootfs '%.300s' is not a directory",
			         rootfs ? rootfs : "");
			return false;
		}
		return true;
	}
	const struct vm_config *c = &def->vm.cfg;
	const char *files[] = {c->kernel, c->initrd, c->firmware, def->vm.restore};
	const char *names[] = {"vm.kernel", "vm.initrd", "vm.firmware", "vm.restore"};
	for (int i = 0; i < 4; i++)
		if (files[i][0] && access(files[i], R_OK)) {
			snprintf(err, errlen, "%s '%.300s': %s", names[i], files[i], strerror(errno));
			return false;
		}
	/* A clone's disks, and disks in the instance's own directory (the overlay over an image, the
	 * cloud-init seed), are made with the instance. */
	size_t own = strlen(own_dir);
	for (unsigned i = 0; i < c->ndisks && !def->vm.clone; i++)
		if (strncmp(c->disks[i].path, own_dir, own) && access(c->disks[i].path, R_OK)) {
			snprintf(err, errlen, "vm.disks[%u] '%.300s': %s", i, c->disks[i].path,
			         strerror(errno));
			return false;
		}
	return true;
}

struct instance *daemon_create_instance(struct daemon *d, struct inst_def *def, struct error *e)
{
	*e = (struct error){.code = ERR_EXISTS};
	if (daemon_find(d, def->name)) {
		snprintf(e->msg, sizeof(e->msg), "an instance named '%s' exists", def->name);
		inst_def_free(def);
		return NULL;
	}
	e->code = ERR_INVALID;
	char own_dir[PATH_MAX + 80];
	snprintf(own_dir, sizeof(own_dir), "%s/instances/%s/", d->state_dir, def->name);
	if (!check_host_paths(def, own_dir, e->msg, sizeof(e->msg))) {
		inst_def_free(def);
		return NULL;
	}
	e->code = ERR_INTERNAL;
	struct instance *in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(e->msg, sizeof(e->msg), "out of memory");
		inst_def_free(def);
		return NULL;
	}
	in->def = *def;
	in->pidfd = -1;
	in->exit_code = -1;
	in->created_at = (int64_t)time(NULL);
	char dir[PATH_MAX];
	inst_path(d, in, "", dir, sizeof(dir));
	json_t *dj = inst_def_to_json(&in->def);
	char *text = json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(dj);
	struct db_instance row = {.name = in->def.name,
	                          .type = inst_type_name(in->def.type),
	                          .definition = text,
	                          .autostart = in->def.autostart,
	                          .created_at = in->created_at};
	/* The directory first: a row never names an instance without one. A leftover directory of a
	 * removed instance is replaced. */
	fs_remove_tree(dir);
	e->msg[0] = 0;
	if (!text || !mkdir_p(dir, 0700) || !db_instance_insert(d->db, &row, e) || !daemon_add(d, in)) {
		if (!text)
			snprintf(e->msg, sizeof(e->msg), "out of memory");
		else if (!e->msg[0] || errno == ENOMEM)
			snprintf(e->msg, sizeof(e->msg), "cannot create %.300s: %s", dir, strerror(errno));
		char ignore[64];
		db_instance_delete(d->db, in->def.name, ignore, sizeof(ignore));
		fs_remove_tree(dir);
		free(text);
		inst_def_free(&in->def);
		free(in);
		return NULL;
	}
	free(text);
	return in;
}

void daemon_discard_instance(struct daemon *d, struct instance *in)
{
	char dir[PATH_MAX], ignore[256];
	db_instance_delete(d->db, in->def.name, ignore, sizeof(ignore));
	inst_path(d, in, "", dir, sizeof(dir));
	fs_remove_tree(dir);
	daemon_unlink(d, in);
}

static enum inst_state state_from_name(const char *s)
{
	for (int i = 0; i <= ST_CRASHED; i++)
		if (!strcmp(s, inst_state_name((enum inst_state)i))) return (enum inst_state)i;
	return ST_STOPPED;
}

struct snapshot_names {
	char names[64][INST_NAME_MAX + 1];
	size_t n;
	bool overflow;
};

static void note_snapshot(void *opaque, const char *name, const char *path, int64_t created_at)
{
	struct snapshot_names *s = opaque;
	if (s->n == 64)
		s->overflow = true;
	else
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
}

/* A snapshot directory the database does not list was being written when a daemon died: it goes. */
static void remove_unrecorded_snapshots(struct daemon *d, struct instance *in)
{
	struct snapshot_names known = {.n = 0};
	char dir[PATH_MAX], err[256];
	inst_path(d, in, "snapshots", dir, sizeof(dir));
	if (!db_snapshots_list(d->db, in->def.name, note_snapshot, &known, err, sizeof(err)) ||
	    known.overflow)
		return; /* when in doubt, keep */
	DIR *dh = opendir(dir);
	for (struct dirent *e; dh && (e = readdir(dh));) {
		if (e->d_name[0] == '.') continue;
		bool recorded = false;
		for (size_t i = 0; i < known.n && !recorded; i++)
			recorded = !strcmp(known.names[i], e->d_name);
		if (recorded) continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		log_warn("%s: removing snapshot %s, interrupted by a daemon restart", in->def.name,
		         e->d_name);
		fs_remove_tree(path);
	}
	if (dh) closedir(dh);
}

static void load_one(void *opaque, const struct db_instance *row)
{
	struct daemon *d = opaque;
	json_t *j = json_loads(row->definition, 0, NULL);
	struct instance *in = calloc(1, sizeof(*in));
	char err[512] = "not JSON";
	if (!in || !j || !inst_def_from_json(j, &in->def, err, sizeof(err))) {
		log_error("instance '%s' has a definition this cloisond cannot read (%s): skipped", row->name,
		          err);
		json_decref(j);
		free(in);
		return;
	}
	json_decref(j);
	in->created_at = row->created_at;
	in->state = state_from_name(row->state);
	snprintf(in->message, sizeof(in->message), "%s", row->message);
	in->pid = (pid_t)row->pid;
	in->pid_start = (uint64_t)row->pid_start;
	in->started_at = row->started_at;
	in->exit_code = (int)row->exit_code;
	in->pidfd = -1;
	if (!daemon_add(d, in)) {
		inst_def_free(&in->def);
		free(in);
		return;
	}
	inst_driver(in)->adopt(d, in);
	remove_unrecorded_snapshots(d, in);
	daemon_save_runtime(d, in);
}

bool daemon_load_instances(struct daemon *d, char *err, size_t errlen)
{
	return db_instances_load(d->db, load_one, d, err, errlen);
}

struct replay {
	struct daemon *d;
	int64_t ids[256];
	size_t n;
};

/* One operation a daemon's death interrupted. The instance was already matched to its process when it
 * was loaded (an interrupted start is finished or stopped, a stop finished, a VM an operation paused
 * resumed, a half-written snapshot removed) and partial copies were swept with the pools; what is
 * left is a restore, which may have overwritten part of the disks: it is carried forward from the
 * snapshot, which is intact. */
static void replay_one(void *opaque, int64_t id, const char *instance, const char *kind, const char *arg)
{
	struct replay *rp = opaque;
	struct daemon *d = rp->d;
	if (rp->n < sizeof(rp->ids) / sizeof(rp->ids[0])) rp->ids[rp->n++] = id;
	struct instance *in = *instance ? daemon_find(d, instance) : NULL;
	if (!strcmp(kind, "restore") && in && in->def.type == INST_VM && in->state == ST_STOPPED) {
		char err[512];
		if (vmdrv_restore_disks(d, in, arg, err, sizeof(err)))
			snprintf(
			    in->message, sizeof(in->message),
			    "a restore was interrupted by a daemon restart: its disks were restored again");
		else
			snprintf(in->message, sizeof(in->message),
			         "a restore was interrupted and cannot be redone: %.150s", err);
		daemon_save_runtime(d, in);
	}
	log_info("interrupted by the last daemon's end: %s %s%s%s; %s", kind, *instance ? instance : arg,
	         *instance && *arg ? " " : "", *instance ? arg : "",
	         in ? inst_state_name(in->state) : "reconciled");
}

bool daemon_replay_journal(struct daemon *d, char *err, size_t errlen)
{
	struct replay rp = {.d = d};
	if (!db_journal_list(d->db, replay_one, &rp, err, errlen)) return false;
	for (size_t i = 0; i < rp.n; i++)
		if (!db_journal_end(d->db, rp.ids[i], err, errlen)) return false;
	return true;
}
