/*
 * image_archive.c — see image_archive.h. Tar through libarchive (POSIX pax,
 * regular files only), SHA-256 through GnuTLS.
 */
#define _GNU_SOURCE
#include "image_archive.h"

#include "block/block.h"
#include "block/image_file.h"
#include "util/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SUMS "SHA256SUMS"
#define MANIFEST "manifest.json"

/* The members an archive may hold, and how large each may be. */
static const struct {
	const char *name;
	uint64_t max;
	bool required;
} members[] = {
    {MANIFEST, 64 << 10, true},    {"disk.qcow2", 1ull << 42, true},
    {"kernel", 512u << 20, false}, {"initrd", 1024u << 20, false},
    {SUMS, 4 << 10, true},
};
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

/* ---- the manifest ---- */

static bool copy_field(char *dst, size_t cap, const char *src)
{
	if (!src) return true;
	if (strlen(src) >= cap) return false;
	strcpy(dst, src);
	return true;
}

bool image_manifest_parse(const char *text, size_t len, struct image_manifest *m, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	memset(m, 0, sizeof(*m));
	const char *format = NULL, *name = NULL, *version = NULL, *os = NULL, *arch = NULL, *desc = NULL,
	           *append = NULL;
	json_int_t cpus = 0, memory = 0, created = 0;
	int kernel = 0, initrd = 0;
	bool ok = j && !json_unpack_ex(
	                   j, &je, JSON_STRICT,
	                   "{s:s, s:s, s?:s, s?:s, s?:s, s?:s, s?:I, s?:I, s?:{s?:s, s?:b, s?:b}, s?:I}",
	                   "format", &format, "name", &name, "version", &version, "os", &os, "architecture",
	                   &arch, "description", &desc, "cpus", &cpus, "memory", &memory, "boot", "append",
	                   &append, "kernel", &kernel, "initrd", &initrd, "created_at", &created);
	if (!ok) {
		snprintf(err, errlen, "manifest: %s", je.text);
	} else if (strcmp(format, IMAGE_FORMAT)) {
		snprintf(err, errlen, "manifest: format '%.40s' is not %s", format, IMAGE_FORMAT);
		ok = false;
	} else if (!copy_field(m->name, sizeof(m->name), name) ||
	           !copy_field(m->version, sizeof(m->version), version) ||
	           !copy_field(m->os, sizeof(m->os), os) ||
	           !copy_field(m->architecture, sizeof(m->architecture), arch) ||
	           !copy_field(m->description, sizeof(m->description), desc) ||
	           !copy_field(m->append, sizeof(m->append), append)) {
		snprintf(err, errlen, "manifest: a text field is too long");
		ok = false;
	} else if (cpus < 0 || cpus > 8 || memory < 0 || memory > (1ll << 40) || (memory & 0xfff)) {
		snprintf(err, errlen,
		         "manifest: cpus (0 to 8) or memory (bytes, 4 KiB multiple) out of range");
		ok = false;
	} else if (m->architecture[0] && strcmp(m->architecture, "riscv64")) {
		snprintf(err, errlen, "manifest: architecture %s (this host runs riscv64 guests)",
		         m->architecture);
		ok = false;
	}
	if (ok) {
		m->cpus = (uint32_t)cpus, m->memory = (uint64_t)memory;
		m->kernel = kernel, m->initrd = initrd;
		m->created_at = created;
		if (!m->architecture[0]) strcpy(m->architecture, "riscv64");
	}
	json_decref(j);
	return ok;
}

json_t *image_manifest_json(const struct image_manifest *m)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:{s:s, s:b, s:b}, s:I}", "format",
	                 IMAGE_FORMAT, "name", m->name, "version", m->version, "os", m->os, "architecture",
	                 m->architecture, "description", m->description, "cpus", (int)m->cpus, "memory",
	                 (json_int_t)m->memory, "boot", "append", m->append, "kernel", m->kernel, "initrd",
	                 m->initrd, "created_at", (json_int_t)m->created_at);
}

bool image_manifest_save(const char *dir, const struct image_manifest *m, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST);
	char *text = json_dumps(image_manifest_json(m), JSON_INDENT(1) | JSON_SORT_KEYS);
	bool ok = text && fs_write_file_atomic(path, 0644, text, strlen(text), err, errlen);
	if (!text) snprintf(err, errlen, "out of memory");
	free(text);
	return ok;
}

bool image_manifest_load(const char *dir, struct image_manifest *m, char *err, size_t errlen)
{
	char path[4200], buf[64 << 10];
	snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0) close(fd);
	if (n < 0 || n == (ssize_t)sizeof(buf)) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "too large");
		return false;
	}
	return image_manifest_parse(buf, (size_t)n, m, err, errlen);
}

/* ---- checksums ---- */

static void hex(const uint8_t *d, char out[65])
{
	for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- writing ---- */

static bool add_file(struct archive *a, const char *dir, const char *name, char sum[65], uint64_t *done,
                     uint64_t total, image_progress_fn progress, void *ctx, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0) close(fd);
		return false;
	}
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, st.st_size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, st.st_mtime, 0);
	bool ok = archive_write_header(a, e) == ARCHIVE_OK;
	archive_entry_free(e);
	gnutls_hash_hd_t h;
	ok = ok && gnutls_hash_init(&h, GNUTLS_DIG_SHA256) == 0;
	static uint8_t buf[1 << 20];
	ssize_t n = 0;
	while (ok && (n = read(fd, buf, sizeof(buf))) > 0) {
		gnutls_hash(h, buf, (size_t)n);
		ok = archive_write_data(a, buf, (size_t)n) == n;
		*done += (uint64_t)n;
		if (progress) progress(ctx, *done, total);
	}
	uint8_t digest[32];
	gnutls_hash_deinit(h, digest);
	hex(digest, sum);
	if (!ok || n < 0)
		snprintf(err, errlen, "%s: %s", name, n < 0 ? strerror(errno) : archive_error_string(a));
	close(fd);
	return ok && n == 0;
}

bool image_archive_write(const char *dir, const char *path, image_progress_fn progress, void *ctx, char *err,
                         size_t errlen)
{
	char part[4200];
	snprintf(part, sizeof(part), "%s.part-%d", path, (int)getpid());
	uint64_t total = 0, done = 0;
	for (size_t i = 0; i + 1 < NMEMBERS; i++) {
		char p[4200];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, members[i].name);
		if (stat(p, &st) == 0) total += (uint64_t)st.st_size;
	}
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, part) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		archive_write_free(a);
		return false;
	}
	char sums[1024] = "", sum[65];
	size_t used = 0;
	bool ok = true;
	for (size_t i = 0; ok && i + 1 < NMEMBERS; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", dir, members[i].name);
		if (!members[i].required && access(p, F_OK)) continue;
		ok = add_file(a, dir, members[i].name, sum, &done, total, progress, ctx, err, errlen);
		used += (size_t)snprintf(sums + used, sizeof(sums) - used, "%s  %s\n", sum, members[i].name);
	}
	if (ok) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, SUMS);
		archive_entry_set_size(e, (la_int64_t)used);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_mtime(e, time(NULL), 0);
		ok = archive_write_header(a, e) == ARCHIVE_OK &&
		     archive_write_data(a, sums, used) == (la_ssize_t)used;
		archive_entry_free(e);
		if (!ok) snprintf(err, errlen, "%s", archive_error_string(a));
	}
	if (archive_write_close(a) != ARCHIVE_OK && ok) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		ok = false;
	}
	archive_write_free(a);
	int fd = ok ? open(part, O_RDONLY | O_CLOEXEC) : -1;
	if (ok && (fd < 0 || fsync(fd) < 0 || rename(part, path) < 0)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ok = false;
	}
	if (fd >= 0) close(fd);
	if (!ok) unlink(part);
	return ok;
}

/* ---- reading ---- */

static int member_index(const char *name)
{
	if (!strncmp(name, "./", 2)) name += 2;
	for (size_t i = 0; i < NMEMBERS; i++)
		if (!strcmp(name, members[i].name)) return (int)i;
	return -1;
}

/* Checks SHA256SUMS against what was unpacked: every member listed once with its digest, nothing else. */
static bool check_sums(const char *text, char got[NMEMBERS][65], const bool seen[NMEMBERS], char *err,
                       size_t errlen)
{
	bool listed[NMEMBERS] = {0};
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[256], name[128];
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "SHA256SUMS: a line is too long");
			return false;
		}
		memcpy(line, p, n);
		line[n] = 0;
		p += n + (nl ? 1 : 0);
		if (!n) continue;
		char digest[65];
		if (sscanf(line, "%64[0-9a-f]  %127s", digest, name) != 2 || strlen(digest) != 64) {
			snprintf(err, errlen, "SHA256SUMS: malformed line '%.80s'", line);
			return false;
		}
		int i = member_index(name);
		if (i < 0 || !strcmp(members[i].name, SUMS) || listed[i] || !seen[i]) {
			snprintf(err, errlen,
			         "SHA256SUMS names '%.80s', which the archive does not hold once", name);
			return false;
		}
		if (strcmp(digest, got[i])) {
			snprintf(err, errlen, "%s: checksum mismatch (the archive is corrupt)",
			         members[i].name);
			return false;
		}
		listed[i] = true;
	}
	for (size_t i = 0; i < NMEMBERS; i++)
		if (seen[i] && !listed[i] && strcmp(members[i].name, SUMS)) {
			snprintf(err, errlen, "SHA256SUMS does not cover %s", members[i].name);
			return false;
		}
	return true;
}

bool image_qcow2_names_backing(const char *path)
{
	uint8_t h[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool read_ok = fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h);
	if (fd >= 0) close(fd);
	if (!read_ok || memcmp(h, "QFI\xfb", 4)) return false;
	for (int i = 8; i < 16; i++) /* backing_file_offset */
		if (h[i]) return true;
	return false;
}

/* disk.qcow2 must be a qcow2 image that names no backing file (it would point anywhere on this host). */
static bool check_disk(const char *dir, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/disk.qcow2", dir);
	uint8_t h[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h);
	if (fd >= 0) close(fd);
	if (!ok || memcmp(h, "QFI\xfb", 4)) {
		snprintf(err, errlen, "disk.qcow2 is not a qcow2 image");
		return false;
	}
	if (image_qcow2_names_backing(path)) {
		snprintf(err, errlen, "disk.qcow2 names a backing file: refused");
		return false;
	}
	struct block_backend *b =
	    block_open(path, "qcow2", BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING, err, errlen);
	if (!b) return false;
	block_close(b);
	return true;
}

bool image_archive_read(const char *path, const char *dir, image_progress_fn progress, void *ctx, char *err,
                        size_t errlen)
{
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return false;
	}
	struct stat ast;
	uint64_t total = stat(path, &ast) == 0 ? (uint64_t)ast.st_size : 0;
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	bool ok = archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK;
	if (!ok) snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
	bool seen[NMEMBERS] = {0};
	char got[NMEMBERS][65] = {{0}};
	char sums[4096 + 1] = "", manifest[(64 << 10) + 1] = "";
	size_t manifest_len = 0;
	struct archive_entry *e;
	static uint8_t buf[1 << 20];
	int r = ARCHIVE_OK;
	while (ok && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		int i = name ? member_index(name) : -1;
		if (i < 0 || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
		    archive_entry_symlink(e)) {
			snprintf(err, errlen,
			         "the archive holds '%.100s'%s: only %s, disk.qcow2, kernel, initrd and %s "
			         "as plain files are accepted",
			         name ? name : "(no name)", i >= 0 ? " as a link or special file" : "",
			         MANIFEST, SUMS);
			ok = false;
			break;
		}
		if (seen[i]) {
			snprintf(err, errlen, "the archive holds %s twice", members[i].name);
			ok = false;
			break;
		}
		seen[i] = true;
		int64_t size = archive_entry_size(e);
		if (size < 0 || (uint64_t)size > members[i].max) {
			snprintf(err, errlen, "%s is too large", members[i].name);
			ok = false;
			break;
		}
		int fd = openat(dirfd, members[i].name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		                0644);
		gnutls_hash_hd_t h;
		if (fd < 0 || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) {
			snprintf(err, errlen, "%s: %s", members[i].name, strerror(errno));
			if (fd >= 0) close(fd);
			ok = false;
			break;
		}
		uint64_t written = 0;
		la_ssize_t n;
		while (ok && (n = archive_read_data(a, buf, sizeof(buf))) > 0) {
			written += (uint64_t)n;
			if (written > members[i].max) {
				snprintf(err, errlen, "%s is too large", members[i].name);
				ok = false;
				break;
			}
			gnutls_hash(h, buf, (size_t)n);
			if (!fs_pwrite_all(fd, buf, (size_t)n, (off_t)(written - (uint64_t)n))) {
				snprintf(err, errlen, "%s: %s", members[i].name, strerror(errno));
				ok = false;
			}
			if (!strcmp(members[i].name, SUMS) && written <= sizeof(sums) - 1)
				memcpy(sums + written - (uint64_t)n, buf, (size_t)n);
			if (!strcmp(members[i].name, MANIFEST) && written <= sizeof(manifest) - 1) {
				memcpy(manifest + written - (uint64_t)n, buf, (size_t)n);
				manifest_len = written;
			}
			if (progress) progress(ctx, (uint64_t)archive_filter_bytes(a, -1), total);
		}
		if (ok && n < 0) {
			snprintf(err, errlen, "%s: %s", members[i].name, archive_error_string(a));
			ok = false;
		}
		uint8_t digest[32];
		gnutls_hash_deinit(h, digest);
		hex(digest, got[i]);
		if (ok && fsync(fd) < 0) {
			snprintf(err, errlen, "%s: %s", members[i].name, strerror(errno));
			ok = false;
		}
		close(fd);
	}
	if (ok && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		ok = false;
	}
	archive_read_free(a);
	close(dirfd);
	for (size_t i = 0; ok && i < NMEMBERS; i++)
		if (members[i].required && !seen[i]) {
			snprintf(err, errlen, "the archive has no %s (is it a cloison image?)",
			         members[i].name);
			ok = false;
		}
	struct image_manifest m;
	ok = ok && check_sums(sums, got, seen, err, errlen) &&
	     image_manifest_parse(manifest, manifest_len, &m, err, errlen) && check_disk(dir, err, errlen);
	if (ok && (m.kernel != seen[2] || m.initrd != seen[3])) {
		snprintf(err, errlen, "the manifest and the archive disagree on the kernel or initrd");
		ok = false;
	}
	return ok;
}
