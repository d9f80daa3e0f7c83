/*
 * layer.c — see layer.h. libarchive reads and writes the tars; openat2 keeps
 * our own path walks (the parent check, whiteouts) beneath the directory.
 */
#define _GNU_SOURCE
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define MAX_DEPTH 256

static int open_beneath(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	return (int)syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how, sizeof(how));
}

/* The entry's name made relative and plain: "./a//b/" → "a/b"; "" for the top directory itself.
 * False for an absolute name, a `..` component or one too long. */
static bool clean_name(const char *in, char *out, size_t cap)
{
	if (in[0] == '/') return false;
	size_t n = 0;
	for (const char *p = in; *p;) {
		while (*p == '/') p++;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') return false;
		if (len && !(len == 1 && p[0] == '.')) {
			if (n + len + 2 > cap) return false;
			if (n) out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = end;
	}
	out[n] = 0;
	return true;
}

/* Splits "a/b/c" into parent "a/b" (in buf) and the last component. */
static const char *split_parent(const char *name, char *parent, size_t cap)
{
	const char *slash = strrchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : 0;
	if (n >= cap) n = cap - 1;
	memcpy(parent, name, n);
	parent[n] = 0;
	return slash ? slash + 1 : name;
}

/* Whether the parent of name is beneath root without a symlink on the way (or does not exist yet). */
static bool parent_safe(int rootfd, const char *name)
{
	char parent[PATH_MAX];
	split_parent(name, parent, sizeof(parent));
	int fd = open_beneath(rootfd, parent, O_PATH | O_DIRECTORY);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno == ENOENT;
}

/* Removes everything inside the directory fd (closed), never following a symlink. */
static bool clear_dir(int fd, int depth);

static bool remove_at(int dirfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT;
	if (S_ISDIR(st.st_mode)) {
		if (depth >= MAX_DEPTH) return false;
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || !clear_dir(fd, depth + 1)) return false;
		return unlinkat(dirfd, name, AT_REMOVEDIR) == 0;
	}
	return unlinkat(dirfd, name, 0) == 0;
}

static bool clear_dir(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	bool ok = true;
	for (struct dirent *e; ok && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		ok = remove_at(dirfd(d), e->d_name, depth);
		if (ok) rewinddir(d); /* the listing changed under readdir */
	}
	closedir(d);
	return ok;
}

/* An OCI whiteout: `.wh..wh..opq` empties its directory, `.wh.NAME` removes NAME beside it. */
static bool apply_whiteout(int rootfd, const char *name, const char *base, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	split_parent(name, parent, sizeof(parent));
	int fd = open_beneath(rootfd, parent, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		if (errno == ENOENT) return true; /* nothing below to hide */
		snprintf(err, errlen, "whiteout '%.200s': its directory is not beneath the root", name);
		return false;
	}
	bool ok;
	if (!strcmp(base, OPAQUE)) {
		ok = clear_dir(fd, 0);
	} else if (!strncmp(base, WHITEOUT WHITEOUT, 8)) {
		close(fd); /* other aufs metadata (.wh..wh.plnk...): nothing to do */
		return true;
	} else {
		const char *victim = base + strlen(WHITEOUT);
		if (!victim[0] || !strcmp(victim, ".") || !strcmp(victim, "..")) {
			close(fd);
			snprintf(err, errlen, "whiteout '%.200s' names no file", name);
			return false;
		}
		ok = remove_at(fd, victim, 0);
		close(fd);
	}
	if (!ok) snprintf(err, errlen, "whiteout '%.200s': %s", name, strerror(errno));
	return ok;
}

/* Keeps only the extended attributes a rootfs needs (file capabilities, user.*). */
static void filter_xattrs(struct archive_entry *e)
{
	enum { MAX = 32 };
	char *names[MAX];
	void *values[MAX];
	size_t sizes[MAX];
	int n = 0;
	const char *name;
	const void *value;
	size_t size;
	if (archive_entry_xattr_reset(e) == 0) return;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK && n < MAX) {
		if (strncmp(name, "user.", 5) && strcmp(name, "security.capability")) continue;
		names[n] = strdup(name);
		values[n] = malloc(size ? size : 1);
		if (!names[n] || !values[n]) {
			free(names[n]);
			free(values[n]);
			break;
		}
		memcpy(values[n], value, size);
		sizes[n++] = size;
	}
	archive_entry_xattr_clear(e);
	for (int i = 0; i < n; i++) {
		archive_entry_xattr_add_entry(e, names[i], values[i], sizes[i]);
		free(names[i]);
		free(values[i]);
	}
}

static struct archive *open_tar(const char *path, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

bool layer_is_tar(const char *path)
{
	char err[64];
	struct archive *a = open_tar(path, err, sizeof(err));
	if (!a) return false;
	struct archive_entry *e;
	bool tar = archive_read_next_header(a, &e) == ARCHIVE_OK;
	archive_read_free(a);
	return tar;
}

/* The entry's clean name in name (see clean_name) and its last component; NULL with err set when refused. */
static const char *entry_name(struct archive_entry *e, char *name, size_t cap, char *err, size_t errlen)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw || !clean_name(raw, name, cap)) {
		snprintf(err, errlen, "refused entry '%.200s': absolute or with '..'",
		         raw ? raw : "(no name)");
		return NULL;
	}
	return strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
}

/* The first pass over an OCI layer: its whiteouts. */
static bool whiteout_pass(const char *path, int rootfd, struct layer_stats *st, char *err, size_t errlen)
{
	struct archive *a = open_tar(path, err, errlen);
	if (!a) return false;
	struct archive_entry *e;
	char name[PATH_MAX];
	bool ok = true;
	int r;
	while (ok && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *base = entry_name(e, name, sizeof(name), err, errlen);
		if (!base) {
			ok = false;
			break;
		}
		if (strncmp(base, WHITEOUT, strlen(WHITEOUT))) continue;
		ok = apply_whiteout(rootfd, name, base, err, errlen);
		st->whiteouts++;
	}
	if (ok && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		ok = false;
	}
	archive_read_free(a);
	return ok;
}

static bool copy_data(struct archive *in, struct archive *out, struct layer_stats *st, char *err,
                      size_t errlen)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
		st->bytes += size;
		if (st->bytes > LAYER_MAX_BYTES) {
			snprintf(err, errlen, "more than %llu GiB unpacked: refused",
			         (unsigned long long)(LAYER_MAX_BYTES >> 30));
			return false;
		}
		if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK) {
			snprintf(err, errlen, "%s", archive_error_string(out));
			return false;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s", archive_error_string(in));
		return false;
	}
	return true;
}

bool layer_unpack(const char *path, const char *dir, enum layer_kind kind, struct layer_stats *stats,
                  char *err, size_t errlen)
{
	struct layer_stats local = {0};
	struct layer_stats *st = stats ? stats : &local;
	char root[PATH_MAX];
	if (!realpath(dir, root)) { /* libarchive refuses symlinks on the way: start from none */
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return false;
	}
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return false;
	}
	if (kind == LAYER_OCI && !whiteout_pass(path, rootfd, st, err, errlen)) {
		close(rootfd);
		return false;
	}
	struct archive *a = open_tar(path, err, errlen);
	struct archive *w = archive_write_disk_new();
	bool ok = a && w;
	if (a && !w) snprintf(err, errlen, "out of memory");
	if (w)
		archive_write_disk_set_options(
		    w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
		           ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		           ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	/* No name lookup: owners stay the numeric ids of the tar (the rootfs's own users, not ours). */
	struct archive_entry *e;
	char name[PATH_MAX], full[2 * PATH_MAX + 2];
	int r = ARCHIVE_OK;
	while (ok && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *base = entry_name(e, name, sizeof(name), err, errlen);
		if (!base) {
			ok = false;
			break;
		}
		if (kind == LAYER_OCI && !strncmp(base, WHITEOUT, strlen(WHITEOUT))) continue;
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) {
			st->skipped++;
			continue;
		}
		if (!name[0]) {
			if (type != AE_IFDIR) {
				snprintf(err, errlen, "the tar's top entry is not a directory");
				ok = false;
			}
			continue; /* the top directory: already there, keep its mode */
		}
		if (++st->entries > LAYER_MAX_ENTRIES) {
			snprintf(err, errlen, "more than %u entries: refused", LAYER_MAX_ENTRIES);
			ok = false;
			break;
		}
		if (!parent_safe(rootfd, name)) {
			snprintf(err, errlen,
			         "refused entry '%.200s': its directory is reached through a symlink", name);
			ok = false;
			break;
		}
		const char *link = archive_entry_hardlink(e);
		if (link) {
			char target[PATH_MAX];
			int fd = -1;
			if (!clean_name(link, target, sizeof(target)) || !target[0] ||
			    (fd = open_beneath(rootfd, target, O_PATH)) < 0) {
				snprintf(
				    err, errlen,
				    "refused hard link '%.200s' to '%.200s': not a file beneath the root",
				    name, link);
				ok = false;
				break;
			}
			close(fd);
			snprintf(full, sizeof(full), "%s/%s", root, target);
			archive_entry_set_hardlink(e, full);
		}
		snprintf(full, sizeof(full), "%s/%s", root, name);
		archive_entry_set_pathname(e, full);
		filter_xattrs(e);
		r = archive_write_header(w, e);
		if (r < ARCHIVE_WARN) {
			snprintf(err, errlen, "%.200s: %s", name, archive_error_string(w));
			ok = false;
			break;
		}
		if (type == AE_IFREG && archive_entry_size(e) > 0 && !link)
			ok = copy_data(a, w, st, err, errlen);
		if (ok && archive_write_finish_entry(w) < ARCHIVE_WARN) {
			snprintf(err, errlen, "%.200s: %s", name, archive_error_string(w));
			ok = false;
		}
		r = ARCHIVE_OK;
	}
	if (ok && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		ok = false;
	}
	if (w) {
		if (archive_write_close(w) != ARCHIVE_OK && ok) { /* sets directory modes and times last */
			snprintf(err, errlen, "%s", archive_error_string(w));
			ok = false;
		}
		archive_write_free(w);
	}
	if (a) archive_read_free(a);
	close(rootfd);
	return ok;
}

bool layer_pack(const char *dir, const char *path, char *err, size_t errlen)
{
	char root[PATH_MAX];
	if (!realpath(dir, root)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return false;
	}
	struct archive *rd = archive_read_disk_new(), *w = archive_write_new();
	if (!rd || !w) {
		snprintf(err, errlen, "out of memory");
		if (rd) archive_read_free(rd);
		if (w) archive_write_free(w);
		return false;
	}
	archive_read_disk_set_symlink_physical(rd);
	archive_read_disk_set_behavior(rd, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	archive_write_set_format_pax_restricted(w);
	bool ok = archive_read_disk_open(rd, root) == ARCHIVE_OK;
	if (!ok) snprintf(err, errlen, "%s: %s", root, archive_error_string(rd));
	if (ok && archive_write_open_filename(w, path) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(w));
		ok = false;
	}
	size_t rootlen = strlen(root);
	struct archive_entry *e = archive_entry_new();
	int r = ARCHIVE_OK;
	while (ok && (r = archive_read_next_header2(rd, e)) == ARCHIVE_OK) {
		archive_read_disk_descend(rd);
		const char *p = archive_entry_pathname(e);
		char rel[PATH_MAX + 2];
		if (!p || strncmp(p, root, rootlen) || (p[rootlen] && p[rootlen] != '/')) continue;
		snprintf(rel, sizeof(rel), ".%s", p + rootlen);
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFSOCK || type == AE_IFCHR || type == AE_IFBLK) continue;
		archive_entry_set_pathname(e, rel);
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			snprintf(err, errlen, "%.200s: %s", rel, archive_error_string(w));
			ok = false;
			break;
		}
		if (type != AE_IFREG || archive_entry_size(e) <= 0) continue;
		char buf[1 << 16];
		la_ssize_t n;
		while ((n = archive_read_data(rd, buf, sizeof(buf))) > 0)
			if (archive_write_data(w, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
		if (n < 0) {
			snprintf(err, errlen, "%.200s: %s", rel, archive_error_string(rd));
			ok = false;
		}
	}
	if (ok && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", root, archive_error_string(rd));
		ok = false;
	}
	archive_entry_free(e);
	if (archive_write_close(w) != ARCHIVE_OK && ok) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(w));
		ok = false;
	}
	archive_write_free(w);
	archive_read_free(rd);
	if (!ok) unlink(path);
	return ok;
}
