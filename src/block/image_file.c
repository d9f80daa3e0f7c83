/*
 * image_file.c — see image_file.h.
 */
#define _GNU_SOURCE
#include "image_file.h"

#include "qcow2.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool image_format_native(const char *fmt)
{
	return fmt && (!strcmp(fmt, "raw") || !strcmp(fmt, "qcow2"));
}

bool image_backing_path(const char *image, const char *name, char *out, size_t len)
{
	char dir[4096];
	int n;
	if (name[0] == '/') {
		n = snprintf(out, len, "%s", name);
	} else {
		snprintf(dir, sizeof(dir), "%s", image);
		n = snprintf(out, len, "%s/%s", dirname(dir), name);
	}
	return n >= 0 && (size_t)n < len;
}

static int create_raw(const char *path, uint64_t size, const char *prealloc, block_progress_fn progress,
                      void *ctx, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	int rc = ftruncate(fd, (off_t)size) ? errno : 0;
	if (rc == 0 && prealloc && !strcmp(prealloc, "falloc")) rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc == 0 && prealloc && !strcmp(prealloc, "full")) {
		static const uint8_t zeros[1 << 20];
		for (uint64_t off = 0; off < size && rc == 0; off += sizeof(zeros)) {
			size_t n = size - off < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
			if (pwrite(fd, zeros, n, (off_t)off) != (ssize_t)n) rc = errno ? errno : EIO;
			if (progress) progress(ctx, off + n, size);
		}
	}
	if (rc == 0 && fsync(fd)) rc = errno;
	close(fd);
	if (rc) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(rc));
		unlink(path);
		return -1;
	}
	return 0;
}

int image_create(const char *path, struct image_create_opts *o, block_progress_fn progress, void *ctx,
                 char *err, size_t errlen)
{
	if (!image_format_native(o->format)) {
		snprintf(err, errlen, "cannot create '%s' images (supported: raw, qcow2)",
		         o->format ? o->format : "?");
		return -1;
	}
	bool qcow2 = !strcmp(o->format, "qcow2");
	if (o->backing && !qcow2) {
		snprintf(err, errlen, "only qcow2 images can have a backing file");
		return -1;
	}
	if (qcow2 && o->prealloc && strcmp(o->prealloc, "off")) {
		snprintf(err, errlen,
		         "qcow2 images are created dynamic (preallocation=off); use raw for a static disk");
		return -1;
	}
	if (o->backing) {
		/* Open the backing file as the overlay will: relative to the overlay's directory. */
		char bpath[4096], msg[1024];
		if (!image_backing_path(path, o->backing, bpath, sizeof(bpath))) {
			snprintf(err, errlen, "backing file path too long");
			return -1;
		}
		if (!o->backing_format &&
		    !(o->backing_format = block_probe_format(bpath, msg, sizeof(msg)))) {
			snprintf(err, errlen, "backing file: %s", msg);
			return -1;
		}
		if (!image_format_native(o->backing_format)) {
			snprintf(err, errlen, "backing file '%s' is %s: convert it to qcow2 or raw first",
			         o->backing, o->backing_format);
			return -1;
		}
		struct block_backend *bb = block_open(
		    bpath, o->backing_format, BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_LOCK, msg, sizeof(msg));
		if (!bb) {
			snprintf(err, errlen, "backing file: %s", msg);
			return -1;
		}
		if (!o->size) o->size = bb->size;
		block_close(bb);
	}
	if (!o->size) {
		snprintf(err, errlen, "a size is needed");
		return -1;
	}
	o->size = (o->size + 511) & ~511ULL;
	if (!qcow2) return create_raw(path, o->size, o->prealloc, progress, ctx, err, errlen);
	struct qcow2_create_opts qo = {
	    .size = o->size,
	    .cluster_bits = o->cluster_bits,
	    .version = o->version,
	    .refcount_order = o->refcount_order,
	    .backing = o->backing,
	    .backing_format = o->backing_format,
	};
	return qcow2_create(path, &qo, err, errlen) ? -1 : 0;
}

/* DIR/.NAME.part-PID beside dst. False if it does not fit. */
static bool part_path(const char *dst, pid_t pid, char *out, size_t len)
{
	const char *slash = strrchr(dst, '/');
	int dirlen = slash ? (int)(slash - dst + 1) : 0;
	int n = snprintf(out, len, "%.*s.%s.part-%d", dirlen, dst, slash ? slash + 1 : dst, (int)pid);
	return n > 0 && (size_t)n < len;
}

void image_part_sweep(const char *dir, const char *name)
{
	char prefix[1024];
	snprintf(prefix, sizeof(prefix), ".%s", name ? name : "");
	DIR *dh = opendir(dir);
	for (struct dirent *e; dh && (e = readdir(dh));) {
		const char *tag =
		    strncmp(e->d_name, prefix, strlen(prefix)) ? NULL : strstr(e->d_name, ".part-");
		if (!tag || (name && tag != e->d_name + strlen(prefix))) continue;
		char *end;
		long pid = strtol(tag + 6, &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) && errno == ESRCH)) /* its writer is gone */
			unlinkat(dirfd(dh), e->d_name, 0);
	}
	if (dh) closedir(dh);
}

/* The directory of a path ("." when it has none). */
static void dir_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

bool image_part_begin(const char *dst, char *part, size_t len)
{
	char dir[4096];
	dir_of(dst, dir, sizeof(dir));
	const char *slash = strrchr(dst, '/');
	image_part_sweep(dir, slash ? slash + 1 : dst);
	return part_path(dst, getpid(), part, len);
}

int image_part_commit(const char *part, const char *dst, char *err, size_t errlen)
{
	int fd = open(part, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		snprintf(err, errlen, "'%s': %s", part, strerror(errno));
		if (fd >= 0) close(fd);
		return -1;
	}
	close(fd);
	if (renameat2(AT_FDCWD, part, AT_FDCWD, dst, RENAME_NOREPLACE)) {
		snprintf(err, errlen, "cannot move the new image to '%s': %s", dst, strerror(errno));
		return -1;
	}
	/* The new name reaches the disk too. */
	char dir[4096];
	dir_of(dst, dir, sizeof(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int image_convert(struct block_backend *src, const char *dst, const struct image_create_opts *o,
                  block_progress_fn progress, void *ctx, char *err, size_t errlen)
{
	struct image_create_opts co = *o;
	co.size = src->size;
	co.backing = co.backing_format = NULL;
	if (access(dst, F_OK) == 0) {
		snprintf(err, errlen, "'%s' exists (a copy never overwrites)", dst);
		return -1;
	}
	char part[4096];
	if (!image_part_begin(dst, part, sizeof(part))) {
		snprintf(err, errlen, "'%s': path too long", dst);
		return -1;
	}
	/* Preallocating writes zeros first: leave that out of the progress the copy reports. */
	if (image_create(part, &co, NULL, NULL, err, errlen)) return -1;
	struct block_backend *d = block_open(part, co.format, 0, err, errlen);
	if (!d) {
		unlink(part);
		return -1;
	}
	bool fresh = !co.prealloc || strcmp(co.prealloc, "full");
	int rc = image_copy(src, d, fresh, progress, ctx); /* flushes d */
	block_close(d);
	if (rc) {
		snprintf(err, errlen, "copying into '%s' failed: %s", dst, strerror(-rc));
		unlink(part);
		return -1;
	}
	if (image_part_commit(part, dst, err, errlen)) {
		unlink(part);
		return -1;
	}
	return 0;
}

json_t *image_info_json(struct block_backend *b, const char *path, const char *fmt)
{
	json_t *o = json_object();
	json_object_set_new(o, "filename", json_string(path));
	json_object_set_new(o, "format", json_string(fmt));
	json_object_set_new(o, "virtual-size", json_integer((json_int_t)b->size));
	json_object_set_new(o, "actual-size", json_integer((json_int_t)block_host_allocated(b)));
	const struct qcow2_header *h = qcow2_header_of(b);
	if (h) {
		json_object_set_new(o, "cluster-size", json_integer((json_int_t)(1ULL << h->cluster_bits)));
		if (h->backing_file[0]) {
			json_object_set_new(o, "backing-filename", json_string(h->backing_file));
			if (h->backing_format[0])
				json_object_set_new(o, "backing-filename-format",
				                    json_string(h->backing_format));
		}
		json_object_set_new(o, "dirty-flag",
		                    json_boolean(h->incompatible_features & QCOW2_INCOMPAT_DIRTY));
		json_t *d = json_object();
		json_object_set_new(d, "compat", json_string(h->version == 3 ? "1.1" : "0.10"));
		json_object_set_new(d, "refcount-bits", json_integer(1 << h->refcount_order));
		json_object_set_new(d, "corrupt",
		                    json_boolean(h->incompatible_features & QCOW2_INCOMPAT_CORRUPT));
		json_object_set_new(d, "lazy-refcounts",
		                    json_boolean(h->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS));
		json_object_set_new(d, "snapshots", json_integer(h->nb_snapshots));
		json_t *fs = json_object();
		json_object_set_new(fs, "type", json_string("qcow2"));
		json_object_set_new(fs, "data", d);
		json_object_set_new(o, "format-specific", fs);
	}
	return o;
}
