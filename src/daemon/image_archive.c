/*
 * image_archive.c — see image_archive.h. Tar through libarchive (POSIX pax,
 * regular files only), SHA-256 through GnuTLS.
 */
#define _GNU_SOURCE
#include "image_archive.h"
#include "layer.h"

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
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define SUMS "SHA256SUMS"
#define MANIFEST "manifest.json"
#define ROOTFS_TAR "rootfs.tar"

/* The members an archive may hold, and how large each may be. */
static const struct {
	const char *name;
	uint64_t max;
	bool required;
} members[] = {
    {MANIFEST, 256 << 10, true},    {"disk.qcow2", 1ull << 42, false}, {"kernel", 512u << 20, false},
    {"initrd", 1024u << 20, false}, {ROOTFS_TAR, 1ull << 40, false},   {SUMS, 4 << 10, true}, /* SUMS last */
};
enum { M_DISK = 1, M_KERNEL = 2, M_INITRD = 3, M_ROOTFS = 4 };
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

/* ---- the manifest ---- */

static bool copy_field(char *dst, size_t cap, const char *src)
{
	if (!src) return true;
	if (strlen(src) >= cap) return false;
	strcpy(dst, src);
	return true;
}

const char *image_host_architecture(void)
{
	static const struct {
		const char *uname, *debian;
	} names[] = {{"x86_64", "amd64"}, {"aarch64", "arm64"},      {"i686", "i386"},
	             {"armv7l", "armhf"}, {"ppc64le", "ppc64el"},    {"riscv64", "riscv64"},
	             {"s390x", "s390x"},  {"loongarch64", "loong64"}};
	static char machine[65];
	struct utsname u;
	if (uname(&u) < 0) return "unknown";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(u.machine, names[i].uname)) return names[i].debian;
	snprintf(machine, sizeof(machine), "%s", u.machine);
	return machine;
}

/* An array of at most max strings, each shorter than len: copied to out. */
static bool string_array(json_t *a, const char *what, char *out, size_t len, int max, int *n, char *err,
                         size_t errlen)
{
	*n = 0;
	if (!a) return true;
	if (!json_is_array(a) || json_array_size(a) > (size_t)max) {
		snprintf(err, errlen, "manifest: container.%s must be an array of at most %d strings", what,
		         max);
		return false;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		const char *str = json_string_value(v);
		if (!str || strlen(str) >= len || strlen(str) != json_string_length(v)) {
			snprintf(err, errlen,
			         "manifest: container.%s[%zu] is not a string of under %zu bytes", what, i,
			         len);
			return false;
		}
		strcpy(out + i * len, str);
		(*n)++;
	}
	return true;
}

/* The container section: {"argv": [...], "env": ["K=V", ...], "workdir": "/abs"}. */
static bool parse_container(json_t *c, struct image_manifest *m, char *err, size_t errlen)
{
	json_error_t je;
	json_t *argv = NULL, *env = NULL;
	const char *workdir = "";
	if (json_unpack_ex(c, &je, JSON_STRICT, "{s?:o, s?:o, s?:s}", "argv", &argv, "env", &env, "workdir",
	                   &workdir)) {
		snprintf(err, errlen, "manifest: container: %s", je.text);
		return false;
	}
	if (!string_array(argv, "argv", &m->ct_argv[0][0], sizeof(m->ct_argv[0]), IMAGE_CT_ARGS, &m->ct_argc,
	                  err, errlen) ||
	    !string_array(env, "env", &m->ct_env[0][0], sizeof(m->ct_env[0]), IMAGE_CT_ENV, &m->ct_nenv, err,
	                  errlen))
		return false;
	for (int i = 0; i < m->ct_nenv; i++) {
		const char *eq = strchr(m->ct_env[i], '=');
		if (!eq || eq == m->ct_env[i]) {
			snprintf(err, errlen, "manifest: container.env[%d] is not KEY=VALUE", i);
			return false;
		}
	}
	if ((workdir[0] && workdir[0] != '/') || !copy_field(m->ct_workdir, sizeof(m->ct_workdir), workdir)) {
		snprintf(err, errlen, "manifest: container.workdir must be an absolute path");
		return false;
	}
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
	const char *type = "vm";
	json_t *container = NULL;
	bool ok =
	    j && !json_unpack_ex(j, &je, JSON_STRICT,
	                         "{s:s, s:s, s?:s, s?:s, s?:s, s?:s, s?:I, s?:I, s?:{s?:s, s?:b, s?:b}, "
	                         "s?:I, s?:s, s?:o}",
	                         "format", &format, "name", &name, "version", &version, "os", &os,
	                         "architecture", &arch, "description", &desc, "cpus", &cpus, "memory",
	                         &memory, "boot", "append", &append, "kernel", &kernel, "initrd", &initrd,
	                         "created_at", &created, "type", &type, "container", &container);
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
	} else if (strcmp(type, "vm") && strcmp(type, "container")) {
		snprintf(err, errlen, "manifest: type is \"vm\" or \"container\", not '%.40s'", type);
		ok = false;
	} else if ((m->container = !strcmp(type, "container"))) {
		const char *host = image_host_architecture();
		if (kernel || initrd || append) {
			snprintf(err, errlen, "manifest: a container image does not boot a kernel");
			ok = false;
		} else if (m->architecture[0] && strcmp(m->architecture, host)) {
			snprintf(err, errlen,
			         "manifest: architecture %s (containers run natively: this host is %s)",
			         m->architecture, host);
			ok = false;
		} else {
			ok = !container || parse_container(container, m, err, errlen);
			if (!m->architecture[0])
				snprintf(m->architecture, sizeof(m->architecture), "%s", host);
		}
	} else if (container) {
		snprintf(err, errlen, "manifest: a VM image has no container section");
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
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I}", "format", IMAGE_FORMAT, "type",
	              m->container ? "container" : "vm", "name", m->name, "version", m->version, "os", m->os,
	              "architecture", m->architecture, "description", m->description, "cpus", (int)m->cpus,
	              "memory", (json_int_t)m->memory, "created_at", (json_int_t)m->created_at);
	if (!m->container) {
		json_object_set_new(j, "boot",
		                    json_pack("{s:s, s:b, s:b}", "append", m->append, "kernel", m->kernel,
		                              "initrd", m->initrd));
		return j;
	}
	json_t *argv = json_array(), *env = json_array();
	for (int i = 0; i < m->ct_argc; i++) json_array_append_new(argv, json_string(m->ct_argv[i]));
	for (int i = 0; i < m->ct_nenv; i++) json_array_append_new(env, json_string(m->ct_env[i]));
	json_object_set_new(j, "container",
	                    json_pack("{s:o, s:o, s:s}", "argv", argv, "env", env, "workdir", m->ct_workdir));
	return j;
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
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST);
	char *text = fs_read_text(path, members[0].max, err, errlen);
	bool ok = text && image_manifest_parse(text, strlen(text), m, err, errlen);
	free(text);
	return ok;
}

/* ---- checksums ---- */

static void hex(const uint8_t *d, char out[65])
{
	for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- writing ---- */

/* Adds the file at path as member name. */
static bool add_file(struct archive *a, const char *path, const char *name, char sum[65], uint64_t *done,
                     uint64_t total, image_progress_fn progress, void *ctx, char *err, size_t errlen)
{
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
	uint8_t *buf = malloc(1 << 20);
	ssize_t n = 0;
	if (!buf) ok = false, errno = ENOMEM, n = -1;
	while (ok && (n = read(fd, buf, 1 << 20)) > 0) {
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
	free(buf);
	close(fd);
	return ok && n == 0;
}

bool image_archive_write(const char *dir, const char *path, image_progress_fn progress, void *ctx, char *err,
                         size_t errlen)
{
	char part[4200], rootfs_tar[4200];
	snprintf(part, sizeof(part), "%s.part-%d", path, (int)getpid());
	snprintf(rootfs_tar, sizeof(rootfs_tar), "%s.rootfs-%d", path, (int)getpid());
	struct image_manifest m;
	if (!image_manifest_load(dir, &m, err, errlen)) return false;
	if (m.container) { /* the tree, as one tar member */
		char tree[4200];
		snprintf(tree, sizeof(tree), "%s/rootfs", dir);
		if (!layer_pack(tree, rootfs_tar, err, errlen)) return false;
	}
	uint64_t total = 0, done = 0;
	for (size_t i = 0; i + 1 < NMEMBERS; i++) {
		char p[4200];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, members[i].name);
		if (i == M_ROOTFS) snprintf(p, sizeof(p), "%s", rootfs_tar);
		if (stat(p, &st) == 0) total += (uint64_t)st.st_size;
	}
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, part) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		archive_write_free(a);
		unlink(rootfs_tar);
		return false;
	}
	char sums[1024] = "", sum[65];
	size_t used = 0;
	bool ok = true;
	for (size_t i = 0; ok && i + 1 < NMEMBERS; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", dir, members[i].name);
		if (i == M_ROOTFS) snprintf(p, sizeof(p), "%s", rootfs_tar);
		if (i == M_DISK && m.container) continue;
		if (!members[i].required && i != M_DISK && access(p, F_OK)) continue;
		ok = add_file(a, p, members[i].name, sum, &done, total, progress, ctx, err, errlen);
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
	unlink(rootfs_tar);
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
	char sums[4096 + 1] = "";
	char *manifest = calloc(1, members[0].max + 1);
	size_t manifest_len = 0;
	struct archive_entry *e;
	uint8_t *buf = malloc(1 << 20);
	if (!buf || !manifest) {
		snprintf(err, errlen, "out of memory");
		ok = false;
	}
	int r = ARCHIVE_OK;
	while (ok && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		int i = name ? member_index(name) : -1;
		if (i < 0 || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
		    archive_entry_symlink(e)) {
			snprintf(err, errlen,
			         "the archive holds '%.100s'%s: only %s, disk.qcow2, kernel, initrd, %s and "
			         "%s as plain files are accepted",
			         name ? name : "(no name)", i >= 0 ? " as a link or special file" : "",
			         MANIFEST, ROOTFS_TAR, SUMS);
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
		while (ok && (n = archive_read_data(a, buf, 1 << 20)) > 0) {
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
			if (!strcmp(members[i].name, MANIFEST) && written <= members[0].max) {
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
	free(buf);
	struct image_manifest m;
	ok = ok && check_sums(sums, got, seen, err, errlen) &&
	     image_manifest_parse(manifest, manifest_len, &m, err, errlen);
	free(manifest);
	if (ok && (m.kernel != seen[M_KERNEL] || m.initrd != seen[M_INITRD] || m.container == seen[M_DISK] ||
	           m.container != seen[M_ROOTFS])) {
		snprintf(err, errlen,
		         "the manifest and the archive disagree on what the image holds (a VM image holds "
		         "disk.qcow2, a container image rootfs.tar)");
		ok = false;
	}
	if (ok && !m.container) return check_disk(dir, err, errlen);
	if (!ok) return false;
	char tar[4200], tree[4200];
	snprintf(tar, sizeof(tar), "%s/%s", dir, ROOTFS_TAR);
	snprintf(tree, sizeof(tree), "%s/rootfs", dir);
	ok = mkdir(tree, 0755) == 0;
	if (!ok) snprintf(err, errlen, "%s: %s", tree, strerror(errno));
	char why[512];
	if (ok && !layer_unpack(tar, tree, LAYER_TARBALL, NULL, why, sizeof(why))) {
		snprintf(err, errlen, "rootfs.tar: %s", why);
		ok = false;
	}
	unlink(tar);
	return ok;
}
