/*
 * storage.c — storage pools and their volumes, the /v1/storage-pools
 * endpoints. A pool is a named directory recorded in the database; its
 * volumes are the image files in it (as in libvirt's directory pools), so
 * images copied in by hand show up too. A volume's format follows its name
 * (*.qcow2 is qcow2, anything else raw) and is never probed from content a
 * guest may have written. Creating a volume is quick and answers at once;
 * copying one is an operation with progress, written to a hidden file and
 * renamed into place only when complete.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include "block/image_file.h"
#include "block/qcow2.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

struct pool {
	char name[INST_NAME_MAX + 1], path[PATH_MAX];
	int64_t created_at;
	bool found;
};

static void find_pool(void *opaque, const char *name, const char *path, int64_t created_at)
{
	struct pool *p = opaque;
	if (strcmp(p->name, name)) return;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->created_at = created_at;
	p->found = true;
}

/* Looks a pool up by name; false with r answered (404) when there is none. */
static bool pool_get(struct daemon *d, const char *name, struct pool *p, struct http_response *r)
{
	char err[256];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%.63s", name);
	if (!db_pools_list(d->db, find_pool, p, err, sizeof(err))) {
		api_fail(r, ERR_INTERNAL, "%s", err);
		return false;
	}
	if (!p->found) api_fail(r, ERR_NOT_FOUND, "no storage pool named '%.80s'", name);
	return p->found;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static const char *volume_format(const char *name)
{
	return ends_with(name, ".qcow2") ? "qcow2" : "raw";
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Instances whose definition names the file among their disks. */
static json_t *used_by(struct daemon *d, const char *path)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->ninsts; i++) {
		const struct inst_def *def = &d->insts[i]->def;
		if (def->type != INST_VM) continue;
		for (unsigned k = 0; k < def->vm.cfg.ndisks; k++) {
			if (same_file(def->vm.cfg.disks[k].path, path)) {
				json_array_append_new(a, json_string(def->name));
				break;
			}
		}
	}
	return a;
}

/* The volume's description: qemu-img info's fields plus name, path and the instances using it. NULL with
 * err when the file cannot be read as its format. */
static json_t *volume_json(struct daemon *d, const char *pool, const char *dir, const char *name, char *err,
                           size_t errlen)
{
	char path[PATH_MAX + 80];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	const char *fmt = volume_format(name);
	struct block_backend *b = block_open(
	    path, fmt, BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING | BLOCK_OPEN_NO_LOCK, err, errlen);
	if (!b) return NULL;
	json_t *j = image_info_json(b, path, fmt);
	block_close(b);
	json_object_set_new(j, "name", json_string(name));
	json_object_set_new(j, "pool", json_string(pool));
	json_object_set_new(j, "path", json_string(path));
	json_object_set_new(j, "used_by", used_by(d, path));
	return j;
}

/* The volume file names in dir (regular files, not hidden, valid names), sorted; the count. */
static size_t list_volume_names(const char *dir, char ***out)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	size_t k = 0;
	char **names = n > 0 ? calloc((size_t)n, sizeof(*names)) : NULL;
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX + 300];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, ents[i]->d_name);
		if (names && ents[i]->d_name[0] != '.' && !lstat(p, &st) && S_ISREG(st.st_mode) &&
		    inst_name_valid(ents[i]->d_name))
			names[k++] = strdup(ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	*out = names;
	return k;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) free(names[i]);
	free(names);
}

/* Volumes in any pool whose backing file is path. */
struct backing_scan {
	struct daemon *d;
	const char *target;
	json_t *users;
};

static void scan_pool_backing(void *opaque, const char *pool, const char *dir, int64_t created_at)
{
	(void)created_at;
	struct backing_scan *s = opaque;
	char **names;
	size_t n = list_volume_names(dir, &names);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(volume_format(names[i]), "qcow2")) continue;
		char path[PATH_MAX + 80], err[256];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		struct block_backend *b = block_open(
		    path, "qcow2", BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING | BLOCK_OPEN_NO_LOCK, err,
		    sizeof(err));
		if (!b) continue;
		const struct qcow2_header *h = qcow2_header_of(b);
		char bpath[PATH_MAX];
		if (h && h->backing_file[0] &&
		    image_backing_path(path, h->backing_file, bpath, sizeof(bpath)) &&
		    same_file(bpath, s->target))
			json_array_append_new(s->users, json_sprintf("%s/%s", pool, names[i]));
		block_close(b);
	}
	free_names(names, n);
}

/* ---- pools ---- */

static void pool_entry(void *opaque, const char *name, const char *path, int64_t created_at)
{
	char **names;
	size_t n = list_volume_names(path, &names);
	free_names(names, n);
	struct statvfs vfs;
	json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "name", name, "path", path, "created_at",
	                      (json_int_t)created_at, "volumes", (json_int_t)n);
	if (!statvfs(path, &vfs)) {
		json_object_set_new(j, "capacity", json_integer((json_int_t)(vfs.f_blocks * vfs.f_frsize)));
		json_object_set_new(j, "available", json_integer((json_int_t)(vfs.f_bavail * vfs.f_frsize)));
	}
	json_array_append_new(opaque, j);
}

/* Copies a killed daemon left half written. */
static void sweep_pool(void *opaque, const char *name, const char *path, int64_t created_at)
{
	image_part_sweep(path, NULL);
}

bool storage_init(struct daemon *d, char *err, size_t errlen)
{
	struct pool p = {.name = "default"};
	if (!db_pools_list(d->db, sweep_pool, NULL, err, errlen) ||
	    !db_pools_list(d->db, find_pool, &p, err, errlen))
		return false;
	if (p.found) return true;
	snprintf(p.path, sizeof(p.path), "%.4000s/pools/default", d->state_dir);
	if (!mkdir_p(p.path, 0700)) {
		snprintf(err, errlen, "cannot create %.300s: %s", p.path, strerror(errno));
		return false;
	}
	struct error e;
	if (db_pool_insert(d->db, "default", p.path, (int64_t)time(NULL), &e)) return true;
	snprintf(err, errlen, "%s", e.msg);
	return false;
}

static void create_pool(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *name = NULL, *path = NULL;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s}", "name", &name, "path", &path))
		return api_fail(r, ERR_INVALID,
		                "expected {\"name\": NAME, \"path\": \"/absolute/directory\"}: %s", je.text);
	if (!inst_name_valid(name)) return api_fail(r, ERR_INVALID, "invalid pool name '%.80s'", name);
	if (path[0] != '/' || strlen(path) >= PATH_MAX - 80)
		return api_fail(r, ERR_INVALID, "path must be an absolute directory path");
	char real[PATH_MAX];
	if (!mkdir_p(path, 0700))
		return api_fail(r, ERR_INVALID, "cannot create %.300s: %s", path, strerror(errno));
	if (!realpath(path, real)) return api_fail(r, ERR_INVALID, "%.300s: %s", path, strerror(errno));
	struct error e;
	if (!db_pool_insert(d->db, name, real, (int64_t)time(NULL), &e)) return api_fail_error(r, &e);
	json_t *a = json_array();
	pool_entry(a, name, real, (int64_t)time(NULL));
	api_reply(r, 201, json_incref(json_array_get(a, 0)));
	json_decref(a);
}

static void delete_pool(struct daemon *d, const struct pool *p, struct http_response *r)
{
	if (!strcmp(p->name, "default")) return api_fail(r, ERR_BUSY, "the default pool stays");
	char **names, err[256];
	size_t n = list_volume_names(p->path, &names);
	free_names(names, n);
	if (n) return api_fail(r, ERR_BUSY, "pool '%s' holds %zu volume(s): remove them first", p->name, n);
	if (!db_pool_delete(d->db, p->name, err, sizeof(err))) return api_fail(r, ERR_INTERNAL, "%s", err);
	rmdir(p->path); /* only if empty of anything else too */
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", p->name, "removed", 1));
}

/* ---- volumes ---- */

/* Resolves "POOL/VOLUME" or an absolute path to a file path; false with r answered. */
static bool resolve_source(struct daemon *d, const char *src, char *out, size_t len, struct http_response *r)
{
	if (src[0] == '/') {
		if (access(src, R_OK)) {
			api_fail(r, ERR_INVALID, "source '%.300s': %s", src, strerror(errno));
			return false;
		}
		snprintf(out, len, "%s", src);
		return true;
	}
	char pool[INST_NAME_MAX + 1];
	const char *slash = strchr(src, '/');
	if (!slash || slash - src > INST_NAME_MAX || !inst_name_valid(slash + 1)) {
		api_fail(r, ERR_INVALID, "a source is \"POOL/VOLUME\" or an absolute path, not '%.80s'", src);
		return false;
	}
	snprintf(pool, sizeof(pool), "%.*s", (int)(slash - src), src);
	struct pool p;
	if (!pool_get(d, pool, &p, r)) return false;
	int k = snprintf(out, len, "%s/%s", p.path, slash + 1);
	if (k < 0 || (size_t)k >= len || access(out, R_OK)) {
		api_fail(r, ERR_NOT_FOUND, "no volume '%.80s' in pool '%s'", slash + 1, pool);
		return false;
	}
	return true;
}

/* The constant spelling of a preallocation mode (NULL for none, "?" for an unknown one). */
static const char *prealloc_name(const char *s)
{
	static const char *const modes[] = {"off", "falloc", "full"};
	if (!s) return NULL;
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, modes[i])) return i ? modes[i] : NULL;
	return "?";
}

struct copy_job {
	struct daemon *d;
	struct op *op;
	int64_t journal;
	char src[PATH_MAX], src_fmt[16], dst[PATH_MAX + 100];
	struct image_create_opts o;
};

static void *copy_thread(void *arg)
{
	struct copy_job *j = arg;
	char err[512] = "";
	bool ok = false;
	struct block_backend *s = block_open(j->src, j->src_fmt, BLOCK_OPEN_READONLY, err, sizeof(err));
	if (s) {
		__atomic_store_n(&j->op->progress_total, s->size, __ATOMIC_RELAXED);
		ok = image_convert(s, j->dst, &j->o, op_progress, j->op, err, sizeof(err)) == 0;
		block_close(s);
	}
	struct daemon *d = j->d;
	pthread_mutex_lock(&d->lock);
	char jerr[256];
	if (!db_journal_end(d->db, j->journal, jerr, sizeof(jerr))) log_warn("%s", jerr);
	op_end(j->op, ok, "%s", err);
	if (!ok) log_warn("volume copy to %s failed: %s", j->dst, err);
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	free(j);
	return NULL;
}

/* Starts copying source into a new volume of the pool: 202 with the operation. */
static void start_copy(struct daemon *d, const struct pool *p, const char *name, const char *source,
                       const struct image_create_opts *o, struct http_response *r)
{
	char src[PATH_MAX], err[512];
	if (!resolve_source(d, source, src, sizeof(src), r)) return;
	const char *sfmt = source[0] == '/' ? block_probe_format(src, err, sizeof(err)) : volume_format(src);
	if (!sfmt) return api_fail(r, ERR_INVALID, "source: %s", err);
	if (!image_format_native(sfmt))
		return api_fail(r, ERR_INVALID,
		                "source is a %s image: import it with `cloison disk convert` first", sfmt);
	struct copy_job *j = calloc(1, sizeof(*j));
	struct op *op = j ? op_new(d, "copy", "") : NULL;
	if (!op) {
		free(j);
		return api_fail(r, ERR_INTERNAL, "out of memory");
	}
	snprintf(op->resource, sizeof(op->resource), "storage-pools/%s/volumes/%s", p->name, name);
	*j = (struct copy_job){.d = d, .op = op, .o = *o}; /* o's strings are constants */
	snprintf(j->src, sizeof(j->src), "%s", src);
	snprintf(j->src_fmt, sizeof(j->src_fmt), "%s", sfmt);
	snprintf(j->dst, sizeof(j->dst), "%s/%s", p->path, name);
	if (!db_journal_begin(d->db, "", "copy", j->dst, &j->journal, err, sizeof(err))) {
		op_end(op, false, "%s", err);
		free(j);
		return api_fail(r, ERR_INTERNAL, "%s", err);
	}
	if (!spawn_detached(copy_thread, j)) {
		db_journal_end(d->db, j->journal, err, sizeof(err));
		op_end(op, false, "cannot start a thread");
		free(j);
		return api_fail(r, ERR_INTERNAL, "cannot start a thread");
	}
	api_reply(r, 202, json_pack("{s:o}", "operation", op_json(op)));
}

static void create_volume(struct daemon *d, const struct pool *p, json_t *body, struct http_response *r)
{
	const char *name = NULL, *format = NULL, *backing = NULL, *source = NULL, *prealloc = NULL;
	json_t *size_j = NULL;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s?:o, s?:s, s?:s, s?:s, s?:s}", "name", &name,
	                   "size", &size_j, "format", &format, "backing", &backing, "source", &source,
	                   "preallocation", &prealloc))
		return api_fail(
		    r, ERR_INVALID,
		    "expected {\"name\": VOLUME, \"size\": SIZE, \"format\": \"raw\"|\"qcow2\", "
		    "\"backing\": \"POOL/VOLUME\", \"source\": \"POOL/VOLUME\", \"preallocation\": "
		    "\"off\"|\"falloc\"|\"full\"}: %s",
		    je.text);
	if (!inst_name_valid(name)) return api_fail(r, ERR_INVALID, "invalid volume name '%.80s'", name);
	const char *fmt = volume_format(name);
	if (format && strcmp(format, fmt))
		return api_fail(
		    r, ERR_INVALID,
		    "a volume's format follows its name: qcow2 volumes end in .qcow2, raw ones do not "
		    "('%s' would be %s)",
		    name, fmt);
	if (prealloc && !strcmp(prealloc_name(prealloc), "?"))
		return api_fail(r, ERR_INVALID, "preallocation must be off, falloc or full");
	uint64_t size = 0;
	if (size_j &&
	    !(json_is_integer(size_j) && json_integer_value(size_j) > 0 &&
	      (size = (uint64_t)json_integer_value(size_j))) &&
	    !(json_is_string(size_j) && parse_disk_size(json_string_value(size_j), &size) && size))
		return api_fail(r, ERR_INVALID,
		                "size must be a positive number of bytes or a string like \"10G\"");
	if (size > (1ULL << 50)) return api_fail(r, ERR_INVALID, "size is too large (at most 1 PiB)");
	if (source && (backing || size))
		return api_fail(r, ERR_INVALID,
		                "a copy (source) takes its size from the source and has no backing file");
	if (!source && !backing && !size)
		return api_fail(r, ERR_INVALID, "give a size, a backing volume or a source");
	char dst[PATH_MAX + 100];
	snprintf(dst, sizeof(dst), "%s/%s", p->path, name);
	if (!access(dst, F_OK))
		return api_fail(r, ERR_EXISTS, "pool '%s' has a volume named '%s'", p->name, name);
	struct image_create_opts o = {.format = fmt, .size = size, .prealloc = prealloc_name(prealloc)};
	char err[1024], bpath[PATH_MAX];
	if (source) return start_copy(d, p, name, source, &o, r);
	if (backing) {
		if (strcmp(fmt, "qcow2"))
			return api_fail(r, ERR_INVALID, "only qcow2 volumes (*.qcow2) have a backing file");
		if (!resolve_source(d, backing, bpath, sizeof(bpath), r)) return;
		/* Within one pool the link is relative, so the pool's directory can move. */
		size_t pl = strlen(p->name);
		o.backing = !strncmp(backing, p->name, pl) && backing[pl] == '/' ? backing + pl + 1 : bpath;
		o.backing_format = backing[0] == '/' ? NULL : volume_format(bpath);
	}
	if (image_create(dst, &o, NULL, NULL, err, sizeof(err))) return api_fail(r, ERR_INVALID, "%s", err);
	json_t *j = volume_json(d, p->name, p->path, name, err, sizeof(err));
	if (!j) return api_fail(r, ERR_INTERNAL, "%s", err);
	api_reply(r, 201, j);
}

static void delete_volume(struct daemon *d, const struct pool *p, const char *name, struct http_response *r)
{
	char path[PATH_MAX + 100];
	snprintf(path, sizeof(path), "%s/%s", p->path, name);
	json_t *users = used_by(d, path);
	struct backing_scan s = {.d = d, .target = path, .users = users};
	char err[256];
	db_pools_list(d->db, scan_pool_backing, &s, err, sizeof(err));
	if (json_array_size(users)) {
		char *list = json_dumps(users, JSON_COMPACT);
		json_decref(users);
		api_fail(r, ERR_BUSY, "volume '%s' is in use by %s", name, list ? list : "others");
		free(list);
		return;
	}
	json_decref(users);
	if (unlink(path)) return api_fail(r, ERR_INTERNAL, "cannot remove %s: %s", path, strerror(errno));
	api_reply(r, 200, json_pack("{s:s, s:s, s:b}", "pool", p->name, "name", name, "removed", 1));
}

void api_storage(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                 struct http_response *r)
{
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	char err[512];
	if (n == 2) {
		if (get) {
			json_t *a = json_array();
			if (!db_pools_list(d->db, pool_entry, a, err, sizeof(err))) {
				json_decref(a);
				return api_fail(r, ERR_INTERNAL, "%s", err);
			}
			return api_reply(r, 200, a);
		}
		if (post) return create_pool(d, body, r);
		return api_fail(r, ERR_METHOD, "/v1/storage-pools takes GET or POST");
	}
	struct pool p;
	if (!pool_get(d, seg[2], &p, r)) return;
	if (n == 3) {
		if (get) {
			json_t *a = json_array();
			pool_entry(a, p.name, p.path, p.created_at);
			api_reply(r, 200, json_incref(json_array_get(a, 0)));
			json_decref(a);
			return;
		}
		if (del) return delete_pool(d, &p, r);
		return api_fail(r, ERR_METHOD, "/v1/storage-pools/NAME takes GET or DELETE");
	}
	if (strcmp(seg[3], "volumes") || n > 5)
		return api_fail(r, ERR_NOT_FOUND, "no such endpoint (see docs/api.md)");
	if (n == 4) {
		if (post) return create_volume(d, &p, body, r);
		if (!get) return api_fail(r, ERR_METHOD, "/v1/storage-pools/NAME/volumes takes GET or POST");
		char **names;
		size_t k = list_volume_names(p.path, &names);
		json_t *a = json_array();
		for (size_t i = 0; i < k; i++) {
			json_t *v = volume_json(d, p.name, p.path, names[i], err, sizeof(err));
			if (!v)
				v = json_pack("{s:s, s:s, s:s}", "name", names[i], "pool", p.name, "error",
				              err);
			json_array_append_new(a, v);
		}
		free_names(names, k);
		return api_reply(r, 200, a);
	}
	const char *vol = seg[4];
	char path[PATH_MAX + 100];
	snprintf(path, sizeof(path), "%s/%s", p.path, vol);
	struct stat st;
	if (!inst_name_valid(vol) || lstat(path, &st) || !S_ISREG(st.st_mode))
		return api_fail(r, ERR_NOT_FOUND, "no volume '%.80s' in pool '%s'", vol, p.name);
	if (get) {
		json_t *v = volume_json(d, p.name, p.path, vol, err, sizeof(err));
		if (!v) return api_fail(r, ERR_UNREADABLE, "%s", err);
		return api_reply(r, 200, v);
	}
	if (del) return delete_volume(d, &p, vol, r);
	api_fail(r, ERR_METHOD, "/v1/storage-pools/NAME/volumes/VOLUME takes GET or DELETE");
}
