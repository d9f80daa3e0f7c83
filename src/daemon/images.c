/*
 * images.c — cloisond's VM images (appliances): STATE/images/NAME holds a
 * manifest (image_archive.h), disk.qcow2 and, when the image brings its own,
 * its kernel and initrd. /v1/images lists, describes, imports (a disk in
 * any format qemu-img reads, or an archive `export` wrote) and removes them;
 * /v1/images/NAME/export writes the one-file form; an instance's "publish"
 * turns a stopped VM into an image; a definition's "vm": {"image": NAME}
 * makes a VM whose root disk is a qcow2 overlay over the image's disk.
 * Long work runs as operations, in threads, without the daemon's lock.
 */
#define _GNU_SOURCE
#include "images.h"

#include "api_internal.h"
#include "image_archive.h"
#include "ovf.h"

#include "block/block.h"
#include "block/image_file.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void image_dir(struct daemon *d, const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/images%s%s", d->state_dir, name ? "/" : "", name ? name : "") >=
	    len)
		buf[0] = 0; /* too long: no such file */
}

static void rm_tree(const char *dir)
{
	static const char *const files[] = {"manifest.json", "disk.qcow2", "kernel",
	                                    "initrd",        "SHA256SUMS", NULL};
	char p[PATH_MAX + 32];
	for (int i = 0; files[i]; i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, files[i]) < sizeof(p)) unlink(p);
	}
	image_part_sweep(dir, NULL);
	rmdir(dir);
}

static json_t *image_json(struct daemon *d, const char *name, char *err, size_t errlen)
{
	char dir[PATH_MAX], disk[PATH_MAX + 16];
	struct image_manifest m;
	image_dir(d, name, dir, sizeof(dir));
	if (!image_manifest_load(dir, &m, err, errlen)) return NULL;
	json_t *j = image_manifest_json(&m);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", dir);
	struct block_backend *b =
	    block_open(disk, "qcow2", BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING, err, errlen);
	if (b) {
		json_object_set_new(j, "disk_size", json_integer((json_int_t)b->size));
		json_object_set_new(j, "disk_allocated", json_integer((json_int_t)block_host_allocated(b)));
		block_close(b);
	}
	json_object_set_new(j, "path", json_string(dir));
	json_t *users = json_array();
	for (size_t i = 0; i < d->ninsts; i++)
		if (d->insts[i]->def.type == INST_VM && !strcmp(d->insts[i]->def.vm.image, name))
			json_array_append_new(users, json_string(d->insts[i]->def.name));
	json_object_set_new(j, "used_by", users);
	return j;
}

/* ---- operations ---- */

struct image_job {
	struct daemon *d;
	struct op *op;
	char name[IMAGE_NAME_MAX + 1];
	char source[PATH_MAX], dest[PATH_MAX];
	struct image_manifest m;                 /* what the caller said (import of a disk, publish) */
	char kernel[PATH_MAX], initrd[PATH_MAX]; /* publish: the instance's own, copied in */
	bool (*work)(struct image_job *j, const char *tmpdir, char *err, size_t errlen);
};

/* Work that makes a new image fills a temporary directory beside the store, renamed when complete. */
static void *job_thread(void *arg)
{
	struct image_job *j = arg;
	char err[1024] = "", tmp[PATH_MAX + 64], final[PATH_MAX];
	bool makes_image = j->dest[0] == 0;
	bool ok = true;
	if (makes_image) {
		image_dir(j->d, NULL, final, sizeof(final));
		mkdir_p(final, 0755);
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.new-%s-%d", final, j->name, (int)getpid()) >=
		    sizeof(tmp))
			tmp[0] = 0;
		rm_tree(tmp);
		image_dir(j->d, j->name, final, sizeof(final));
		if (mkdir(tmp, 0755) < 0) {
			snprintf(err, sizeof(err), "%.400s: %s", tmp, strerror(errno));
			ok = false;
		}
	}
	ok = ok && j->work(j, makes_image ? tmp : NULL, err, sizeof(err));
	if (ok && makes_image && rename(tmp, final) < 0) {
		snprintf(err, sizeof(err), "%.300s: %s", final,
		         errno == EEXIST || errno == ENOTEMPTY ? "an image of that name appeared meanwhile"
		                                               : strerror(errno));
		ok = false;
	}
	if (!ok && makes_image) rm_tree(tmp);
	struct daemon *d = j->d;
	pthread_mutex_lock(&d->lock);
	j->op->status = ok ? "success" : "failure";
	if (!ok) {
		snprintf(j->op->error, sizeof(j->op->error), "%.500s", err);
		log_warn("image %s: %s", j->name, err);
	}
	j->op->finished_at = (int64_t)time(NULL);
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	free(j);
	return NULL;
}

static void start_job(struct daemon *d, struct image_job *j, const char *kind, struct http_response *r)
{
	struct op *op = op_new(d, kind, "");
	if (!op) {
		free(j);
		return api_fail(r, ERR_INTERNAL, "out of memory");
	}
	snprintf(op->resource, sizeof(op->resource), "images/%s", j->name);
	j->d = d, j->op = op;
	if (!spawn_detached(job_thread, j)) {
		op->status = "failure";
		snprintf(op->error, sizeof(op->error), "cannot start a thread");
		op->finished_at = (int64_t)time(NULL);
		free(j);
		return api_fail(r, ERR_INTERNAL, "cannot start a thread");
	}
	api_reply(r, 202, json_pack("{s:o}", "operation", op_json(op)));
}

/* ---- import ---- */

static bool run_qemu_img(char *const argv[], char *err, size_t errlen)
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	int st = 0;
	if (rc == 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		}
	if (rc || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(err, errlen, "qemu-img %s failed%s", argv[1],
		         rc ? " to start (apt-get install qemu-utils)" : "");
		return false;
	}
	return true;
}

/* A disk image into TMP/disk.qcow2: raw and qcow2 (never its backing file) through our own block layer,
 * the formats of other products (VMDK, VDI, VHDX) through qemu-img, named explicitly. */
static bool convert_disk(struct image_job *j, const char *source, const char *tmp, char *err, size_t errlen)
{
	char dst[PATH_MAX + 32];
	snprintf(dst, sizeof(dst), "%s/disk.qcow2", tmp);
	const char *fmt = block_probe_format(source, err, errlen);
	if (!fmt) return false;
	struct image_create_opts o = {.format = "qcow2"};
	if (!strcmp(fmt, "qcow2") && image_qcow2_names_backing(source)) {
		snprintf(err, errlen, "%s names a backing file: flatten it first (`cloison disk convert`)",
		         source);
		return false;
	}
	if (image_format_native(fmt)) {
		struct block_backend *s =
		    block_open(source, fmt, BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING, err, errlen);
		if (!s) return false;
		bool ok = image_convert(s, dst, &o, op_progress, j->op, err, errlen) == 0;
		block_close(s);
		return ok;
	}
	if (!strcmp(fmt, "vmdk") || !strcmp(fmt, "vdi") || !strcmp(fmt, "vhdx") || !strcmp(fmt, "vpc")) {
		/* Probed from its magic, so a monolithic file: a VMDK descriptor naming other files is text,
		 * and the probe calls that raw. */
		char *argv[] = {"qemu-img", "convert",      "-f", (char *)fmt, "-O",
		                "qcow2",    (char *)source, dst,  NULL};
		return run_qemu_img(argv, err, errlen);
	}
	snprintf(err, errlen, "%s images cannot be imported", fmt);
	return false;
}

static bool import_disk(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	if (!convert_disk(j, j->source, tmp, err, errlen)) return false;
	j->m.created_at = (int64_t)time(NULL);
	return image_manifest_save(tmp, &j->m, err, errlen);
}

/* An OVF appliance in DIR (descriptor OVF, its .mf and disk files beside it): what the caller said wins
 * over what the descriptor says. */
static bool import_appliance(struct image_job *j, const char *dir, const char *ovf, const char *tmp,
                             char *err, size_t errlen)
{
	size_t len;
	char *xml = ovf_read_file(dir, ovf, 1u << 20, &len, err, errlen);
	struct ovf_appliance a;
	bool ok = xml && ovf_parse(xml, len, &a, err, errlen);
	free(xml);
	if (!ok) return false;
	char mf[300];
	snprintf(mf, sizeof(mf), "%.*s.mf", (int)(strlen(ovf) > 4 ? strlen(ovf) - 4 : 0), ovf);
	if (!ovf_check_manifest(dir, mf, err, errlen)) return false;
	char disk[PATH_MAX + 300];
	snprintf(disk, sizeof(disk), "%s/%s", dir, a.disk);
	if (!convert_disk(j, disk, tmp, err, errlen)) return false;
	if (!j->m.os[0]) snprintf(j->m.os, sizeof(j->m.os), "%s", a.os);
	if (!j->m.description[0]) snprintf(j->m.description, sizeof(j->m.description), "%s", a.description);
	if (!j->m.cpus) j->m.cpus = a.cpus;
	if (!j->m.memory) j->m.memory = a.memory;
	j->m.created_at = (int64_t)time(NULL);
	return image_manifest_save(tmp, &j->m, err, errlen);
}

static bool import_ova(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	char sub[PATH_MAX + 16], ovf[256];
	snprintf(sub, sizeof(sub), "%s/ova", tmp);
	bool ok = mkdir(sub, 0700) == 0 && ova_unpack(j->source, sub, ovf, sizeof(ovf), err, errlen) &&
	          import_appliance(j, sub, ovf, tmp, err, errlen);
	fs_remove_tree(sub);
	return ok;
}

static bool import_ovf(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", j->source);
	char *slash = strrchr(dir, '/'); /* the source is absolute */
	*slash = 0;
	return import_appliance(j, dir[0] ? dir : "/", slash + 1, tmp, err, errlen);
}

static bool import_archive(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	if (!image_archive_read(j->source, tmp, op_progress, j->op, err, errlen)) return false;
	struct image_manifest m;
	if (!image_manifest_load(tmp, &m, err, errlen)) return false;
	char sums[PATH_MAX + 16];
	snprintf(sums, sizeof(sums), "%s/SHA256SUMS", tmp);
	unlink(sums);
	snprintf(m.name, sizeof(m.name), "%s", j->name); /* imported under the name asked for */
	return image_manifest_save(tmp, &m, err, errlen);
}

static bool is_tar(const char *path)
{
	char magic[6];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool tar = fd >= 0 && pread(fd, magic, 5, 257) == 5 && !memcmp(magic, "ustar", 5);
	if (fd >= 0) close(fd);
	return tar;
}

static void import_image(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *name = NULL, *source = NULL, *desc = "", *os = "", *version = "", *append = "";
	json_int_t cpus = 0, memory = 0;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s, s?:s, s?:s, s?:s, s?:s, s?:I, s?:I}", "name",
	                   &name, "source", &source, "description", &desc, "os", &os, "version", &version,
	                   "append", &append, "cpus", &cpus, "memory", &memory))
		return api_fail(
		    r, ERR_INVALID,
		    "expected {\"name\": IMAGE, \"source\": PATH, \"description\", \"os\", \"version\", "
		    "\"append\", \"cpus\", \"memory\"}: %s",
		    je.text);
	if (!inst_name_valid(name)) return api_fail(r, ERR_INVALID, "invalid image name '%.80s'", name);
	if (source[0] != '/' || access(source, R_OK))
		return api_fail(r, ERR_INVALID,
		                "source '%.300s' must be a readable absolute path on the daemon's host",
		                source);
	char dir[PATH_MAX];
	image_dir(d, name, dir, sizeof(dir));
	if (!access(dir, F_OK)) return api_fail(r, ERR_EXISTS, "an image named '%s' exists", name);
	struct image_job *j = calloc(1, sizeof(*j));
	if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->source, sizeof(j->source), "%s", source);
	json_t *mj =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:s}}", "format", IMAGE_FORMAT, "name",
	              name, "description", desc, "os", os, "version", version, "architecture", "riscv64",
	              "cpus", cpus, "memory", memory, "boot", "append", append);
	char *text = json_dumps(mj, 0), err[512];
	json_decref(mj);
	bool ok = text && image_manifest_parse(text, strlen(text), &j->m, err, sizeof(err));
	free(text);
	if (!ok) {
		free(j);
		return api_fail(r, ERR_INVALID, "%s", err);
	}
	size_t sl = strlen(source);
	j->work = sl > 4 && !strcasecmp(source + sl - 4, ".ovf") ? import_ovf
	          : is_tar(source) ? (ova_is(source) ? import_ova : import_archive)
	                           : import_disk;
	start_job(d, j, "import", r);
}

/* ---- export ---- */

static bool export_work(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	(void)tmp;
	return image_archive_write(j->source, j->dest, op_progress, j->op, err, errlen);
}

static void export_image(struct daemon *d, const char *name, json_t *body, struct http_response *r)
{
	const char *path = NULL;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s}", "path", &path) || path[0] != '/')
		return api_fail(r, ERR_INVALID, "expected {\"path\": ABSOLUTE FILE} for the archive");
	if (!access(path, F_OK)) return api_fail(r, ERR_EXISTS, "%.300s exists", path);
	struct image_job *j = calloc(1, sizeof(*j));
	if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
	snprintf(j->name, sizeof(j->name), "%s", name);
	image_dir(d, name, j->source, sizeof(j->source));
	snprintf(j->dest, sizeof(j->dest), "%s", path);
	j->work = export_work;
	start_job(d, j, "export", r);
}

/* ---- publish ---- */

static bool copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
	bool ok = in >= 0 && (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) >= 0;
	static char buf[1 << 20];
	ssize_t n = 0;
	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = fs_pwrite_all(out, buf, (size_t)n, lseek(out, 0, SEEK_CUR)) &&
		     lseek(out, n, SEEK_CUR) >= 0;
	ok = ok && n == 0 && fsync(out) == 0;
	if (!ok) snprintf(err, errlen, "copying %s: %s", from, strerror(errno));
	if (in >= 0) close(in);
	if (out >= 0) close(out);
	return ok;
}

static bool publish_work(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	char dst[PATH_MAX + 32];
	snprintf(dst, sizeof(dst), "%s/disk.qcow2", tmp);
	struct block_backend *s = block_open(j->source, NULL, BLOCK_OPEN_READONLY, err, errlen);
	if (!s) return false;
	struct image_create_opts o = {.format = "qcow2"};
	bool ok =
	    image_convert(s, dst, &o, op_progress, j->op, err, errlen) == 0; /* the whole chain, flattened */
	block_close(s);
	char p[PATH_MAX + 32];
	if (ok && j->kernel[0])
		snprintf(p, sizeof(p), "%s/kernel", tmp), ok = copy_file(j->kernel, p, err, errlen);
	if (ok && j->initrd[0])
		snprintf(p, sizeof(p), "%s/initrd", tmp), ok = copy_file(j->initrd, p, err, errlen);
	j->m.kernel = j->kernel[0], j->m.initrd = j->initrd[0];
	j->m.created_at = (int64_t)time(NULL);
	return ok && image_manifest_save(tmp, &j->m, err, errlen);
}

void images_publish(struct daemon *d, struct instance *in, json_t *body, struct http_response *r)
{
	const char *name = NULL, *desc = "", *version = "", *os = "";
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s?:s, s?:s, s?:s}", "image", &name, "description",
	                   &desc, "version", &version, "os", &os))
		return api_fail(r, ERR_INVALID,
		                "expected {\"image\": NAME, \"description\", \"version\", \"os\"}: %s",
		                je.text);
	if (!inst_name_valid(name)) return api_fail(r, ERR_INVALID, "invalid image name '%.80s'", name);
	if (in->def.type != INST_VM) return api_fail(r, ERR_INVALID, "only VMs are published as images");
	if (in->state != ST_STOPPED && in->state != ST_CRASHED)
		return api_fail(r, ERR_BUSY,
		                "'%s' is %s: stop it first (its disk must not change while it is copied)",
		                in->def.name, inst_state_name(in->state));
	const struct vm_config *c = &in->def.vm.cfg;
	if (!c->ndisks) return api_fail(r, ERR_INVALID, "'%s' has no disk to publish", in->def.name);
	char dir[PATH_MAX];
	image_dir(d, name, dir, sizeof(dir));
	if (!access(dir, F_OK)) return api_fail(r, ERR_EXISTS, "an image named '%s' exists", name);
	struct image_job *j = calloc(1, sizeof(*j));
	if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->source, sizeof(j->source), "%s", c->disks[0].path);
	/* An instance made from an image keeps booting the way the image did. */
	struct image_manifest base = {0};
	char bdir[PATH_MAX];
	image_dir(d, in->def.vm.image, bdir, sizeof(bdir));
	if (in->def.vm.image[0]) image_manifest_load(bdir, &base, (char[64]){0}, 64);
	snprintf(j->kernel, sizeof(j->kernel), "%s", c->kernel);
	snprintf(j->initrd, sizeof(j->initrd), "%s", c->initrd);
	j->m = (struct image_manifest){.cpus = c->cpus, .memory = c->mem};
	snprintf(j->m.name, sizeof(j->m.name), "%s", name);
	snprintf(j->m.description, sizeof(j->m.description), "%s", desc);
	snprintf(j->m.version, sizeof(j->m.version), "%s", version);
	snprintf(j->m.os, sizeof(j->m.os), "%s", os[0] ? os : base.os);
	snprintf(j->m.architecture, sizeof(j->m.architecture), "riscv64");
	snprintf(j->m.append, sizeof(j->m.append), "%.1023s", c->append); /* a longer one is cut */
	j->work = publish_work;
	start_job(d, j, "publish", r);
}

/* ---- VMs made from an image ---- */

bool images_apply(struct daemon *d, json_t *def, char *overlay, size_t overlay_len, struct error *e)
{
	overlay[0] = 0;
	json_t *vm = json_object_get(def, "vm");
	const char *image = json_string_value(json_object_get(vm, "image"));
	if (!image || !image[0]) return true; /* "" : an `info` of a VM made without one */
	const char *name = json_string_value(json_object_get(def, "name"));
	if (!name || !inst_name_valid(name)) return true; /* the definition's parser says what is wrong */
	char dir[PATH_MAX], err[512];
	struct image_manifest m;
	image_dir(d, image, dir, sizeof(dir));
	if (!inst_name_valid(image) || !image_manifest_load(dir, &m, err, sizeof(err))) {
		err_set(e, ERR_NOT_FOUND, "no image named '%.80s'", image);
		return false;
	}
	if (daemon_find(d, name)) {
		err_set(e, ERR_EXISTS, "an instance named '%s' exists", name);
		return false;
	}
	char idir[PATH_MAX], disk[PATH_MAX + 16], path[PATH_MAX + 16];
	snprintf(idir, sizeof(idir), "%.4000s/instances/%.63s", d->state_dir, name);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", dir);
	(void)disk;
	snprintf(overlay, overlay_len, "%s/root.qcow2", idir); /* made once the instance exists */
	json_t *disks = json_object_get(vm, "disks");
	if (!json_is_array(disks)) json_object_set_new(vm, "disks", disks = json_array());
	/* vda. A definition copied from `info` of another instance made from the image names that one's
	 * overlay first: this instance gets its own instead. */
	char others[PATH_MAX + 16];
	snprintf(others, sizeof(others), "%.4000s/instances/", d->state_dir);
	const char *first = json_string_value(json_array_get(disks, 0));
	if (first && !strncmp(first, others, strlen(others)) && strstr(first, "/root.qcow2"))
		json_array_set_new(disks, 0, json_string(overlay));
	else
		json_array_insert_new(disks, 0, json_string(overlay));
	if (m.kernel && !json_object_get(vm, "kernel"))
		snprintf(path, sizeof(path), "%s/kernel", dir),
		    json_object_set_new(vm, "kernel", json_string(path));
	if (m.initrd && !json_object_get(vm, "initrd"))
		snprintf(path, sizeof(path), "%s/initrd", dir),
		    json_object_set_new(vm, "initrd", json_string(path));
	if (m.append[0] && !json_object_get(vm, "append"))
		json_object_set_new(vm, "append", json_string(m.append));
	if (m.cpus && !json_object_get(vm, "cpus")) json_object_set_new(vm, "cpus", json_integer(m.cpus));
	if (m.memory && !json_object_get(vm, "memory"))
		json_object_set_new(vm, "memory", json_integer((json_int_t)m.memory));
	return true;
}

bool images_make_overlay(struct daemon *d, const char *image, const char *overlay, struct error *e)
{
	char dir[PATH_MAX], disk[PATH_MAX + 16], err[512] = "";
	image_dir(d, image, dir, sizeof(dir));
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", dir);
	struct image_create_opts o = {.format = "qcow2", .backing = disk, .backing_format = "qcow2"};
	if (image_create(overlay, &o, NULL, NULL, err, sizeof(err)) == 0) return true;
	err_set(e, ERR_INTERNAL, "cannot make the instance's disk over image '%s': %s", image, err);
	return false;
}

/* ---- the routes ---- */

void api_images(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                struct http_response *r)
{
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	char err[512], dir[PATH_MAX];
	if (n == 2) {
		if (post) return import_image(d, body, r);
		if (!get) return api_fail(r, ERR_METHOD, "/v1/images takes GET or POST");
		json_t *a = json_array();
		image_dir(d, NULL, dir, sizeof(dir));
		DIR *dp = opendir(dir);
		for (struct dirent *e; dp && (e = readdir(dp));) {
			if (e->d_name[0] == '.' || !inst_name_valid(e->d_name)) continue;
			json_t *j = image_json(d, e->d_name, err, sizeof(err));
			if (j) json_array_append_new(a, j);
		}
		if (dp) closedir(dp);
		return api_reply(r, 200, a);
	}
	const char *name = seg[2];
	image_dir(d, name, dir, sizeof(dir));
	if (!inst_name_valid(name) || access(dir, F_OK))
		return api_fail(r, ERR_NOT_FOUND, "no image named '%.80s'", name);
	if (n == 4 && !strcmp(seg[3], "export") && post) return export_image(d, name, body, r);
	if (n != 3) return api_fail(r, ERR_NOT_FOUND, "no such endpoint (see docs/api.md)");
	if (get) {
		json_t *j = image_json(d, name, err, sizeof(err));
		return j ? api_reply(r, 200, j) : api_fail(r, ERR_INTERNAL, "%s", err);
	}
	if (!del) return api_fail(r, ERR_METHOD, "/v1/images/NAME takes GET or DELETE");
	for (size_t i = 0; i < d->ninsts; i++)
		if (d->insts[i]->def.type == INST_VM && !strcmp(d->insts[i]->def.vm.image, name))
			return api_fail(r, ERR_BUSY,
			                "image '%s' is the base of instance '%s': remove it first", name,
			                d->insts[i]->def.name);
	rm_tree(dir);
	if (!access(dir, F_OK)) return api_fail(r, ERR_INTERNAL, "cannot remove %s", dir);
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", name, "removed", 1));
}
