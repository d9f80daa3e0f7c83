/*
 * oci.c — see oci.h. The OCI image spec (image-layout, image-index,
 * manifest, config): JSON through jansson, SHA-256 through GnuTLS, tars
 * through libarchive.
 */
#define _GNU_SOURCE
#include "oci.h"

#include "layer.h"

#include "util/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_JSON (4u << 20)
#define MAX_LAYERS 128
#define MAX_NESTING 3
#define REF_NAME "org.opencontainers.image.ref.name"

static const char *const index_types[] = {"application/vnd.oci.image.index.v1+json",
                                          "application/vnd.docker.distribution.manifest.list.v2+json", NULL};
static const char *const manifest_types[] = {"application/vnd.oci.image.manifest.v1+json",
                                             "application/vnd.docker.distribution.manifest.v2+json", NULL};
static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    NULL,
};

static bool one_of(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcmp(s, *list)) return true;
	return false;
}

/* "sha256:" and 64 lowercase hex digits; the hex part in hex. */
static bool digest_parse(const char *digest, char hex[65])
{
	if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 7 + 64) return false;
	for (int i = 0; i < 64; i++) {
		char c = digest[7 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
	}
	memcpy(hex, digest + 7, 65);
	return true;
}

static void to_hex(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* A descriptor's blob: its path, after checking that its size and SHA-256 are what it says. */
static bool blob_verified(const char *dir, json_t *desc, char *path, size_t cap, char *err, size_t errlen)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_t *size = json_object_get(desc, "size");
	char want[65], got[65];
	if (!json_is_object(desc) || !digest_parse(digest, want) || !json_is_integer(size) ||
	    json_integer_value(size) < 0) {
		snprintf(err, errlen, "a descriptor without a sha256 digest and a size");
		return false;
	}
	snprintf(path, cap, "%s/blobs/sha256/%s", dir, want);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "blob %.20s…: %s", want, fd < 0 ? strerror(errno) : "not a file");
		if (fd >= 0) close(fd);
		return false;
	}
	if ((uint64_t)st.st_size != (uint64_t)json_integer_value(size)) {
		snprintf(err, errlen, "blob %.20s…: %lld bytes, the descriptor says %lld", want,
		         (long long)st.st_size, (long long)json_integer_value(size));
		close(fd);
		return false;
	}
	gnutls_hash_hd_t h;
	uint8_t *buf = malloc(1 << 20);
	bool ok = buf && gnutls_hash_init(&h, GNUTLS_DIG_SHA256) == 0;
	ssize_t n = 0;
	if (ok) {
		while ((n = read(fd, buf, 1 << 20)) > 0) gnutls_hash(h, buf, (size_t)n);
		uint8_t d[32];
		gnutls_hash_deinit(h, d);
		to_hex(d, got);
	}
	free(buf);
	close(fd);
	if (!ok || n < 0) {
		snprintf(err, errlen, "blob %.20s…: %s", want, ok ? strerror(errno) : "out of memory");
		return false;
	}
	if (strcmp(got, want)) {
		snprintf(err, errlen, "blob %.20s…: its content does not match its digest (corrupt)", want);
		return false;
	}
	return true;
}

/* A JSON blob (index, manifest, config), verified, at most MAX_JSON bytes. */
static json_t *blob_json(const char *dir, json_t *desc, const char *what, char *err, size_t errlen)
{
	char path[PATH_MAX + 100], why[256];
	json_t *size = json_object_get(desc, "size");
	if (json_is_integer(size) && json_integer_value(size) > MAX_JSON) {
		snprintf(err, errlen, "the %s is larger than %u MiB", what, MAX_JSON >> 20);
		return NULL;
	}
	if (!blob_verified(dir, desc, path, sizeof(path), why, sizeof(why))) {
		snprintf(err, errlen, "the %s: %s", what, why);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the %s is not a JSON object: %s", what, j ? "" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Picks an image manifest's descriptor from an index: by ref name, else the only one, else the one for
 * this host's platform. */
static json_t *pick(json_t *index, const char *ref, char *err, size_t errlen)
{
	json_t *list = json_object_get(index, "manifests");
	if (!json_is_array(list) || !json_array_size(list)) {
		snprintf(err, errlen, "the index lists no image");
		return NULL;
	}
	size_t i;
	json_t *d, *found = NULL;
	if (ref && ref[0]) {
		json_array_foreach(list, i, d)
		{
			const char *name =
			    json_string_value(json_object_get(json_object_get(d, "annotations"), REF_NAME));
			if (name && !strcmp(name, ref)) return d;
		}
		snprintf(err, errlen, "the layout has no image tagged '%.100s'", ref);
		return NULL;
	}
	if (json_array_size(list) == 1) return json_array_get(list, 0);
	json_array_foreach(list, i, d)
	{
		json_t *p = json_object_get(d, "platform");
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *os = json_string_value(json_object_get(p, "os"));
		if (arch && os && !strcmp(arch, image_host_architecture()) && !strcmp(os, "linux")) {
			if (found) break;
			found = d;
		}
	}
	if (!found || i < json_array_size(list))
		snprintf(err, errlen,
		         "the layout holds %zu images and none or several for linux/%s: name one (--tag)",
		         json_array_size(list), image_host_architecture());
	return found && i == json_array_size(list) ? found : NULL;
}

static bool copy_strings(json_t *a, const char *what, char *out, size_t len, int max, int *n, char *err,
                         size_t errlen)
{
	if (!a || json_is_null(a)) return true;
	size_t i;
	json_t *v;
	if (!json_is_array(a)) {
		snprintf(err, errlen, "config: %s is not an array", what);
		return false;
	}
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || strlen(s) >= len || strlen(s) != json_string_length(v) || *n >= max) {
			snprintf(err, errlen,
			         "config: %s has more than %d entries, or one that is not a string of "
			         "under %zu bytes",
			         what, max, len);
			return false;
		}
		strcpy(out + (size_t)(*n)++ * len, s);
	}
	return true;
}

/* The config's architecture, os and process defaults into m. */
static bool read_config(json_t *cfg, struct image_manifest *m, char *err, size_t errlen)
{
	const char *arch = json_string_value(json_object_get(cfg, "architecture"));
	const char *os = json_string_value(json_object_get(cfg, "os"));
	if (!arch || !os) {
		snprintf(err, errlen, "config: no architecture or os");
		return false;
	}
	if (strcmp(os, "linux") || strcmp(arch, image_host_architecture())) {
		snprintf(err, errlen, "the image is for %.20s/%.20s: containers run natively here (linux/%s)",
		         os, arch, image_host_architecture());
		return false;
	}
	snprintf(m->architecture, sizeof(m->architecture), "%s", arch);
	json_t *c = json_object_get(cfg, "config");
	m->ct_argc = m->ct_nenv = 0;
	m->ct_workdir[0] = 0;
	if (!c || json_is_null(c)) return true;
	const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
	if (wd && wd[0]) {
		if (wd[0] != '/' || strlen(wd) >= sizeof(m->ct_workdir)) {
			snprintf(err, errlen, "config: WorkingDir is not an absolute path");
			return false;
		}
		strcpy(m->ct_workdir, wd);
	}
	if (!copy_strings(json_object_get(c, "Entrypoint"), "Entrypoint", &m->ct_argv[0][0],
	                  sizeof(m->ct_argv[0]), IMAGE_CT_ARGS, &m->ct_argc, err, errlen) ||
	    !copy_strings(json_object_get(c, "Cmd"), "Cmd", &m->ct_argv[0][0], sizeof(m->ct_argv[0]),
	                  IMAGE_CT_ARGS, &m->ct_argc, err, errlen) ||
	    !copy_strings(json_object_get(c, "Env"), "Env", &m->ct_env[0][0], sizeof(m->ct_env[0]),
	                  IMAGE_CT_ENV, &m->ct_nenv, err, errlen))
		return false;
	for (int i = 0; i < m->ct_nenv; i++)
		if (!strchr(m->ct_env[i], '=') || m->ct_env[i][0] == '=') {
			snprintf(err, errlen, "config: Env entry '%.60s' is not KEY=VALUE", m->ct_env[i]);
			return false;
		}
	return true;
}

bool oci_layout_is(const char *dir)
{
	char p[PATH_MAX + 16];
	struct stat st;
	snprintf(p, sizeof(p), "%s/oci-layout", dir);
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

bool oci_import(const char *dir, const char *ref, const char *rootfs, struct image_manifest *m, char *err,
                size_t errlen)
{
	char path[PATH_MAX + 100];
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	json_error_t je;
	json_t *layout = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	const char *version = json_string_value(json_object_get(layout, "imageLayoutVersion"));
	bool ok = version && !strncmp(version, "1.", 2);
	json_decref(layout);
	if (!ok) {
		snprintf(err, errlen, "%s: not an OCI image layout 1.x", path);
		return false;
	}
	snprintf(path, sizeof(path), "%s/index.json", dir);
	json_t *index = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(index)) {
		snprintf(err, errlen, "index.json: %s", index ? "not an object" : je.text);
		json_decref(index);
		return false;
	}
	json_t *manifest = NULL;
	for (int depth = 0; index && !manifest; depth++) {
		json_t *d = pick(index, depth ? "" : ref, err, errlen);
		const char *type = json_string_value(json_object_get(d, "mediaType"));
		json_t *next = NULL;
		if (!d) {
		} else if (one_of(type, manifest_types)) {
			manifest = blob_json(dir, d, "image manifest", err, errlen);
		} else if (one_of(type, index_types) && depth < MAX_NESTING) {
			next = blob_json(dir, d, "image index", err, errlen);
		} else {
			snprintf(err, errlen, "the index names a '%.80s', not an image manifest",
			         type ? type : "(no media type)");
		}
		json_decref(index);
		index = next;
	}
	json_decref(index);
	if (!manifest) return false;
	json_t *cfgdesc = json_object_get(manifest, "config"), *layers = json_object_get(manifest, "layers");
	json_t *cfg = NULL;
	ok = json_is_array(layers) && json_array_size(layers) <= MAX_LAYERS;
	if (!ok)
		snprintf(err, errlen, "the image manifest has no list of layers (or more than %d)",
		         MAX_LAYERS);
	ok = ok && (cfg = blob_json(dir, cfgdesc, "image config", err, errlen)) &&
	     read_config(cfg, m, err, errlen);
	json_decref(cfg);
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		if (!ok) break;
		const char *type = json_string_value(json_object_get(l, "mediaType"));
		char why[512];
		if (!one_of(type, layer_types)) {
			snprintf(err, errlen, "layer %zu: media type '%.80s' is not a tar layer", i,
			         type ? type : "(none)");
			ok = false;
		} else if (!blob_verified(dir, l, path, sizeof(path), why, sizeof(why)) ||
		           !layer_unpack(path, rootfs, LAYER_OCI, NULL, why, sizeof(why))) {
			snprintf(err, errlen, "layer %zu: %s", i, why);
			ok = false;
		}
	}
	json_decref(manifest);
	if (ok) snprintf(m->os, sizeof(m->os), "%s", m->os[0] ? m->os : "linux");
	return ok;
}

/* ---- the layout as one tar ---- */

static const char *member_name(const char *raw)
{
	while (!strncmp(raw, "./", 2)) raw += 2;
	return raw;
}

bool oci_archive_is(const char *path)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	bool found = false;
	struct archive_entry *e;
	if (archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK)
		for (int n = 0; !found && n < 100000 && archive_read_next_header(a, &e) == ARCHIVE_OK; n++)
			found = archive_entry_pathname(e) &&
			        !strcmp(member_name(archive_entry_pathname(e)), "oci-layout");
	archive_read_free(a);
	return found;
}

/* The names an OCI tar may hold: the layout's files and directories, blobs by digest. */
static int layout_name_kind(const char *name)
{
	size_t n = strlen(name);
	while (n && name[n - 1] == '/') n--;
	if ((n == 10 && !strncmp(name, "oci-layout", 10)) || (n == 10 && !strncmp(name, "index.json", 10)))
		return AE_IFREG;
	if ((n == 5 && !strncmp(name, "blobs", 5)) || (n == 12 && !strncmp(name, "blobs/sha256", 12)) ||
	    n == 0 || (n == 1 && name[0] == '.'))
		return AE_IFDIR;
	char hex[65], digest[80];
	snprintf(digest, sizeof(digest), "sha256:%.*s", (int)(n > 13 ? n - 13 : 0), name + 13);
	if (n == 13 + 64 && !strncmp(name, "blobs/sha256/", 13) && digest_parse(digest, hex)) return AE_IFREG;
	return 0;
}

bool oci_archive_unpack(const char *path, const char *dir, char *err, size_t errlen)
{
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	bool ok = dirfd >= 0 && archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK;
	if (!ok) snprintf(err, errlen, "%s: %s", path, dirfd < 0 ? strerror(errno) : archive_error_string(a));
	ok = ok && (mkdirat(dirfd, "blobs", 0755) == 0 || errno == EEXIST) &&
	     (mkdirat(dirfd, "blobs/sha256", 0755) == 0 || errno == EEXIST);
	struct archive_entry *e;
	uint64_t total = 0;
	int r = ARCHIVE_OK;
	uint8_t *buf = malloc(1 << 20);
	if (!buf) ok = false, snprintf(err, errlen, "out of memory");
	while (ok && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e) ? member_name(archive_entry_pathname(e)) : "";
		int kind = layout_name_kind(name);
		if (!kind || (int)archive_entry_filetype(e) != kind || archive_entry_hardlink(e)) {
			snprintf(
			    err, errlen,
			    "the OCI tar holds '%.100s': only oci-layout, index.json and blobs/sha256/DIGEST "
			    "as plain files are accepted",
			    name);
			ok = false;
			break;
		}
		if (kind == AE_IFDIR) continue;
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			snprintf(err, errlen, "%.100s: %s", name,
			         errno == EEXIST ? "twice in the tar" : strerror(errno));
			ok = false;
			break;
		}
		la_ssize_t n;
		off_t off = 0;
		while (ok && (n = archive_read_data(a, buf, 1 << 20)) > 0) {
			total += (uint64_t)n;
			if (total > LAYER_MAX_BYTES) {
				snprintf(err, errlen, "the OCI tar unpacks to more than %llu GiB",
				         (unsigned long long)(LAYER_MAX_BYTES >> 30));
				ok = false;
			} else if (!fs_pwrite_all(fd, buf, (size_t)n, off)) {
				snprintf(err, errlen, "%.100s: %s", name, strerror(errno));
				ok = false;
			}
			off += n;
		}
		if (ok && n < 0) {
			snprintf(err, errlen, "%.100s: %s", name, archive_error_string(a));
			ok = false;
		}
		close(fd);
	}
	if (ok && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		ok = false;
	}
	free(buf);
	archive_read_free(a);
	if (dirfd >= 0) close(dirfd);
	return ok;
}
