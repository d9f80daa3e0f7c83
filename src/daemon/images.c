/*
 * images.c — cloisond's VM images (appliances): STATE/images/NAME holds a
 * manifest (image_archive.h), disk.qcow2 and, when the image brings its own,
 * its kernel and initrd. /v1/images lists, describes, imports (a disk in
 * any format qemu-img reads, or an archive `export` wrote) and removes them;
 * /v1/images/NAME/export writes the one-file form; an instance's "publish"
 * turns a stopped VM into an image; a definition's "vm": {"image": NAME}
 * makes a VM whose root disk is a qcow2 overlay over the image's disk.
 * Container images hold rootfs/ instead of the disk: imported from a rootfs
 * tarball, an OCI image layout (oci.h) or an archive; a definition's
 * "container": {"image": NAME} makes a container whose root is an overlay
 * over that tree, with the image's command, environment and directory.
 * Long work runs as operations, in threads, without the daemon's lock.
 */
#define _GNU_SOURCE
#include "images.h"

#include "api_internal.h"
#include "image_archive.h"
#include "layer.h"
#include "oci.h"
#include "ovf.h"

#include "block/block.h"
#include "block/image_file.h"
#include "container/ct_state.h"
#include "util/fs.h"
#include "util/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sched.h>
#include <sys/mount.h>
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

/* Removes an image's directory (or a half-made one) with all it holds, a container image's tree too. */
static void rm_tree(const char *dir)
{
	if (!dir[0] || !strstr(dir, "/images/")) return; /* never anything but the store's */
	fs_remove_tree(dir);
}

/* The instances made from image name (its directory dir), as a JSON array of names. Lock held. */
static json_t *image_users(struct daemon *d, const char *name, const char *dir)
{
	char rootfs[PATH_MAX + 16];
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	json_t *users = json_array();
	for (size_t i = 0; i < d->ninsts; i++) {
		const struct inst_def *def = &d->insts[i]->def;
		const char *ct_root = def->type == INST_CT
		                          ? json_string_value(json_object_get(def->container, "rootfs"))
		                          : NULL;
		if ((def->type == INST_VM && !strcmp(def->vm.image, name)) ||
		    (ct_root && !strcmp(ct_root, rootfs)))
			json_array_append_new(users, json_string(def->name));
	}
	return users;
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
	    m.container ? NULL
	                : block_open(disk, "qcow2", BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING, err, errlen);
	if (m.container) json_object_set_new(j, "rootfs", json_sprintf("%s/rootfs", dir));
	if (b) {
		json_object_set_new(j, "disk_size", json_integer((json_int_t)b->size));
		json_object_set_new(j, "disk_allocated", json_integer((json_int_t)block_host_allocated(b)));
		block_close(b);
	}
	json_object_set_new(j, "path", json_string(dir));
	json_object_set_new(j, "used_by", image_users(d, name, dir));
	return j;
}

/* ---- operations ---- */

struct image_job {
	struct daemon *d;
	struct op *op;
	char name[IMAGE_NAME_MAX + 1];
	char source[PATH_MAX], dest[PATH_MAX];
	char tag[128];           /* import of an OCI layout: the image's ref name ("" : the only one) */
	struct image_manifest m; /* what the caller said (import of a disk, publish) */
	char kernel[PATH_MAX], initrd[PATH_MAX]; /* publish: the instance's own, copied in */
	char upper[PATH_MAX]; /* publish of a container: its layer over source ("" : none) */
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
	op_end(j->op, ok, "%.500s", err);
	if (!ok) log_warn("image %s: %s", j->name, err);
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
		op_end(op, false, "cannot start a thread");
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

/* A container image's tree, made in TMP/rootfs by unpack. */
static bool import_tree(struct image_job *j, const char *tmp, const char *layout, char *err, size_t errlen)
{
	char rootfs[PATH_MAX + 16];
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
	if (mkdir(rootfs, 0755) < 0) {
		snprintf(err, errlen, "%s: %s", rootfs, strerror(errno));
		return false;
	}
	struct layer_stats st = {0};
	bool ok = layout ? oci_import(layout, j->tag, rootfs, &j->m, err, errlen)
	                 : layer_unpack(j->source, rootfs, LAYER_TARBALL, &st, err, errlen);
	if (ok && st.skipped)
		log_info("image %s: %llu device nodes or sockets left out", j->name,
		         (unsigned long long)st.skipped);
	j->m.created_at = (int64_t)time(NULL);
	return ok && image_manifest_save(tmp, &j->m, err, errlen);
}

static bool import_rootfs(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	return import_tree(j, tmp, NULL, err, errlen);
}

static bool import_oci_dir(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	return import_tree(j, tmp, j->source, err, errlen);
}

static bool import_oci_tar(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	char layout[PATH_MAX + 16];
	snprintf(layout, sizeof(layout), "%s/oci", tmp);
	bool ok = mkdir(layout, 0700) == 0;
	if (!ok) snprintf(err, errlen, "%s: %s", layout, strerror(errno));
	ok = ok && oci_archive_unpack(j->source, layout, err, errlen) &&
	     import_tree(j, tmp, layout, err, errlen);
	fs_remove_tree(layout);
	return ok;
}

/* Whether the tar at path is one `cloison image export` wrote (its first member is the manifest). */
static bool is_image_archive(const char *path)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	struct archive_entry *e;
	bool yes = archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK &&
	           archive_read_next_header(a, &e) == ARCHIVE_OK && archive_entry_pathname(e) &&
	           !strcmp(archive_entry_pathname(e), "manifest.json");
	archive_read_free(a);
	return yes;
}

static bool is_tar(const char *path)
{
	char magic[6];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool tar = fd >= 0 && pread(fd, magic, 5, 257) == 5 && !memcmp(magic, "ustar", 5);
	if (fd >= 0) close(fd);
	return tar;
}

/* What the source is: an OCI layout (a directory or its tar), an OVF or OVA appliance, an archive export
 * wrote, a rootfs tarball (compressed or not), else a disk image. */
static bool (*import_kind(const char *source, bool *container))(struct image_job *, const char *, char *,
                                                                size_t)
{
	struct stat st;
	size_t sl = strlen(source);
	*container = true;
	if (stat(source, &st) == 0 && S_ISDIR(st.st_mode))
		return oci_layout_is(source) ? import_oci_dir : NULL;
	if (oci_archive_is(source)) return import_oci_tar;
	*container = false;
	if (sl > 4 && !strcasecmp(source + sl - 4, ".ovf")) return import_ovf;
	if (is_tar(source)) {
		if (ova_is(source)) return import_ova;
		if (is_image_archive(source)) return import_archive;
		*container = true;
		return import_rootfs;
	}
	if (layer_is_tar(source)) return *container = true, import_rootfs;
	return import_disk;
}

static void import_image(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *name = NULL, *source = NULL, *desc = "", *os = "", *version = "", *append = "", *tag = "";
	json_int_t cpus = 0, memory = 0;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s, s?:s, s?:s, s?:s, s?:s, s?:I, s?:I, s?:s}",
	                   "name", &name, "source", &source, "description", &desc, "os", &os, "version",
	                   &version, "append", &append, "cpus", &cpus, "memory", &memory, "tag", &tag))
		return api_fail(
		    r, ERR_INVALID,
		    "expected {\"name\": IMAGE, \"source\": PATH, \"description\", \"os\", \"version\", "
		    "\"append\", \"cpus\", \"memory\", \"tag\"}: %s",
		    je.text);
	if (!inst_name_valid(name)) return api_fail(r, ERR_INVALID, "invalid image name '%.80s'", name);
	if (source[0] != '/' || access(source, R_OK))
		return api_fail(r, ERR_INVALID,
		                "source '%.300s' must be a readable absolute path on the daemon's host",
		                source);
	char dir[PATH_MAX];
	image_dir(d, name, dir, sizeof(dir));
	if (!access(dir, F_OK)) return api_fail(r, ERR_EXISTS, "an image named '%s' exists", name);
	bool container;
	bool (*work)(struct image_job *, const char *, char *, size_t) = import_kind(source, &container);
	if (!work)
		return api_fail(r, ERR_INVALID,
		                "%.300s is a directory but not an OCI image layout (no oci-layout file)",
		                source);
	if (container && (append[0] || cpus || memory))
		return api_fail(r, ERR_INVALID,
		                "%.300s is a container image: append, cpus and memory are for VM images",
		                source);
	if (tag[0] && work != import_oci_dir && work != import_oci_tar)
		return api_fail(r, ERR_INVALID, "a tag names an image in an OCI layout; %.300s is none",
		                source);
	struct image_job *j = calloc(1, sizeof(*j));
	if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->source, sizeof(j->source), "%s", source);
	if (strlen(tag) >= sizeof(j->tag)) {
		free(j);
		return api_fail(r, ERR_INVALID, "the tag is too long");
	}
	strcpy(j->tag, tag);
	json_t *mj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "format", IMAGE_FORMAT, "type",
	                       container ? "container" : "vm", "name", name, "description", desc, "os", os,
	                       "version", version);
	if (!container)
		json_object_set_new(mj, "boot", json_pack("{s:s}", "append", append)),
		    json_object_set_new(mj, "cpus", json_integer(cpus)),
		    json_object_set_new(mj, "memory", json_integer(memory));
	char *text = json_dumps(mj, 0), err[512];
	json_decref(mj);
	bool ok = text && image_manifest_parse(text, strlen(text), &j->m, err, sizeof(err));
	free(text);
	if (!ok) {
		free(j);
		return api_fail(r, ERR_INVALID, "%s", err);
	}
	j->work = work;
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
	char buf[1 << 16]; /* on the stack: imports run in threads side by side */
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

/* A container's root as its processes saw it, into TMP/rootfs: its own layer over its rootfs, merged by a
 * read-only overlayfs mounted in this thread's own mount namespace (so nothing shows on the host), then
 * copied as a tar through layer.h. */
static bool publish_container_work(struct image_job *j, const char *tmp, char *err, size_t errlen)
{
	char tree[PATH_MAX + 16], tar[PATH_MAX + 16], merged[PATH_MAX + 16], opts[3 * PATH_MAX];
	snprintf(tree, sizeof(tree), "%s/rootfs", tmp);
	snprintf(tar, sizeof(tar), "%s/rootfs.tar", tmp);
	snprintf(merged, sizeof(merged), "%s/merged", tmp);
	const char *from = j->source;
	bool mounted = false, ok = mkdir(tree, 0755) == 0;
	if (ok && j->upper[0]) {
		if ((size_t)snprintf(opts, sizeof(opts), "lowerdir=%s:%s", j->upper, j->source) >=
		        sizeof(opts) ||
		    mkdir(merged, 0700) < 0 || unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("overlay", merged, "overlay", MS_RDONLY, opts) < 0) {
			snprintf(err, errlen, "merging the container's layer over its rootfs: %s",
			         strerror(errno));
			ok = false;
		}
		mounted = ok, from = merged;
	} else if (!ok) {
		snprintf(err, errlen, "%s: %s", tree, strerror(errno));
	}
	ok = ok && layer_pack(from, tar, err, errlen);
	if (mounted) umount2(merged, MNT_DETACH), rmdir(merged);
	ok = ok && layer_unpack(tar, tree, LAYER_TARBALL, NULL, err, errlen);
	unlink(tar);
	j->m.created_at = (int64_t)time(NULL);
	return ok && image_manifest_save(tmp, &j->m, err, errlen);
}

/* Publishing a stopped container: its tree, command, environment and directory (the definition was
 * checked when it was made). */
static void publish_container(struct daemon *d, struct instance *in, struct image_job *j,
                              struct http_response *r)
{
	json_t *c = in->def.container;
	char ctdir[PATH_MAX];
	snprintf(j->source, sizeof(j->source), "%s", json_string_value(json_object_get(c, "rootfs")) ?: "");
	if (json_is_true(json_object_get(c, "overlay")) && ct_dir(in->def.name, ctdir, sizeof(ctdir)) &&
	    (size_t)snprintf(j->upper, sizeof(j->upper), "%s/overlay/upper", ctdir) < sizeof(j->upper) &&
	    access(j->upper, F_OK))
		j->upper[0] = 0; /* never started: nothing of its own yet */
	j->m.container = true;
	snprintf(j->m.architecture, sizeof(j->m.architecture), "%s", image_host_architecture());
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(c, "argv"), i, v)
	{
		if (j->m.ct_argc < IMAGE_CT_ARGS && json_string_length(v) < sizeof(j->m.ct_argv[0]))
			strcpy(j->m.ct_argv[j->m.ct_argc++], json_string_value(v));
	}
	json_array_foreach(json_object_get(c, "env"), i, v)
	{
		if (j->m.ct_nenv < IMAGE_CT_ENV && json_string_length(v) < sizeof(j->m.ct_env[0]))
			strcpy(j->m.ct_env[j->m.ct_nenv++], json_string_value(v));
	}
	const char *cwd = json_string_value(json_object_get(c, "cwd"));
	if (cwd && strlen(cwd) < sizeof(j->m.ct_workdir)) strcpy(j->m.ct_workdir, cwd);
	j->work = publish_container_work;
	start_job(d, j, "publish", r);
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
	if (in->state != ST_STOPPED && in->state != ST_CRASHED)
		return api_fail(
		    r, ERR_BUSY, "'%s' is %s: stop it first (its %s must not change while it is copied)",
		    in->def.name, inst_state_name(in->state), in->def.type == INST_VM ? "disk" : "files");
	char dir[PATH_MAX];
	image_dir(d, name, dir, sizeof(dir));
	if (!access(dir, F_OK)) return api_fail(r, ERR_EXISTS, "an image named '%s' exists", name);
	if (in->def.type != INST_VM) {
		struct image_job *j = calloc(1, sizeof(*j));
		if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
		snprintf(j->name, sizeof(j->name), "%s", name);
		snprintf(j->m.name, sizeof(j->m.name), "%s", name);
		snprintf(j->m.description, sizeof(j->m.description), "%s", desc);
		snprintf(j->m.version, sizeof(j->m.version), "%s", version);
		snprintf(j->m.os, sizeof(j->m.os), "%s", os);
		return publish_container(d, in, j, r);
	}
	const struct vm_config *c = &in->def.vm.cfg;
	if (!c->ndisks) return api_fail(r, ERR_INVALID, "'%s' has no disk to publish", in->def.name);
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

/* A container from a container image: its root is an overlay over the image's tree (the image stays as
 * it is), its command, environment and directory the image's unless the definition says otherwise. */
static bool apply_container_image(struct daemon *d, json_t *ct, struct error *e)
{
	json_t *image = json_object_get(ct, "image");
	if (!image) return true;
	char dir[PATH_MAX], err[512], path[PATH_MAX + 16];
	struct image_manifest *m = malloc(sizeof(*m));
	const char *name = json_string_value(image);
	bool ok = m && name;
	if (ok) image_dir(d, name, dir, sizeof(dir));
	if (!ok || !inst_name_valid(name) || !image_manifest_load(dir, m, err, sizeof(err))) {
		err_set(e, ERR_NOT_FOUND, "no image named '%.80s'", name ? name : "(not a string)");
		free(m);
		return false;
	}
	json_t *overlay = json_object_get(ct, "overlay");
	if (!m->container || json_object_get(ct, "rootfs") || (overlay && !json_is_true(overlay))) {
		err_set(e, ERR_INVALID,
		        !m->container ? "'%s' is a VM image: `cloison create NAME --image %s` makes a VM"
		                      : "a container made from image '%s' has its own layer over the image's "
		                        "tree: no rootfs, no overlay false",
		        name, name);
		free(m);
		return false;
	}
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	json_object_set_new(ct, "rootfs", json_string(path));
	json_object_set_new(ct, "overlay", json_true());
	json_t *argv = json_object_get(ct, "argv");
	if (!json_array_size(argv) && m->ct_argc) {
		argv = json_array();
		for (int i = 0; i < m->ct_argc; i++) json_array_append_new(argv, json_string(m->ct_argv[i]));
		json_object_set_new(ct, "argv", argv);
	}
	if (m->ct_workdir[0] && !json_object_get(ct, "cwd"))
		json_object_set_new(ct, "cwd", json_string(m->ct_workdir));
	json_t *env = json_object_get(ct, "env"), *merged = json_array();
	for (int i = 0; i < m->ct_nenv; i++) { /* the image's, unless the definition sets the same name */
		size_t key = (size_t)(strchr(m->ct_env[i], '=') - m->ct_env[i]) + 1;
		size_t k;
		json_t *v;
		bool overridden = false;
		json_array_foreach(env, k, v)
		{
			const char *kv = json_string_value(v);
			overridden |= kv && !strncmp(kv, m->ct_env[i], key);
		}
		if (!overridden) json_array_append_new(merged, json_string(m->ct_env[i]));
	}
	if (json_is_array(env)) json_array_extend(merged, env);
	if (json_array_size(merged) || env)
		json_object_set_new(ct, "env", merged);
	else
		json_decref(merged);
	json_object_del(ct, "image");
	free(m);
	return true;
}

bool images_apply(struct daemon *d, json_t *def, char *overlay, size_t overlay_len, struct error *e)
{
	overlay[0] = 0;
	json_t *ct = json_object_get(def, "container");
	if (json_is_object(ct)) return apply_container_image(d, ct, e);
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
	if (m.container) {
		err_set(e, ERR_INVALID,
		        "'%s' is a container image: `cloison create --type container NAME --image %s`", image,
		        image);
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
	json_t *users = image_users(d, name, dir);
	if (json_array_size(users)) {
		api_fail(r, ERR_BUSY, "image '%s' is the base of instance '%s': remove it first", name,
		         json_string_value(json_array_get(users, 0)));
		json_decref(users);
		return;
	}
	json_decref(users);
	rm_tree(dir);
	if (!access(dir, F_OK)) return api_fail(r, ERR_INTERNAL, "cannot remove %s", dir);
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", name, "removed", 1));
}
