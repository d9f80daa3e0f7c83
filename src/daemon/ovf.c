/*
 * ovf.c — see ovf.h. Elements are found by local name (OVF files differ in
 * their namespace prefixes); attributes through xmlGetProp, which ignores
 * the prefix (ovf:href, vssd:...).
 */
#define _GNU_SOURCE
#include "ovf.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVA_MAX_MEMBERS 16
#define OVF_MAX (1u << 20)

static bool plain_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 200 || !strcmp(s, ".") || !strcmp(s, "..")) return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool named(const xmlNode *n, const char *local)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

/* The first element called `local` in the subtree (depth first), or NULL. */
static xmlNode *find(xmlNode *n, const char *local)
{
	for (; n; n = n->next) {
		if (named(n, local)) return n;
		xmlNode *in = find(n->children, local);
		if (in) return in;
	}
	return NULL;
}

/* The text of child element `local` of n, into buf. */
static void child_text(xmlNode *n, const char *local, char *buf, size_t cap)
{
	buf[0] = 0;
	xmlNode *c = n ? find(n->children, local) : NULL;
	xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
	if (t) {
		snprintf(buf, cap, "%s", (const char *)t);
		xmlFree(t);
	}
}

static void attr(xmlNode *n, const char *name, char *buf, size_t cap)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	snprintf(buf, cap, "%s", v ? (const char *)v : "");
	if (v) xmlFree(v);
}

/* "byte * 2^20", "MegaBytes", ... as a multiplier. */
static uint64_t units(const char *u)
{
	if (strstr(u, "2^30") || strcasestr(u, "giga")) return 1ull << 30;
	if (strstr(u, "2^20") || strcasestr(u, "mega") || !u[0]) return 1ull << 20; /* OVF's default: MB */
	if (strstr(u, "2^10") || strcasestr(u, "kilo")) return 1ull << 10;
	return 1;
}

bool ovf_parse(const char *xml, size_t len, struct ovf_appliance *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (len > OVF_MAX) {
		snprintf(err, errlen, "the OVF descriptor is larger than 1 MiB");
		return false;
	}
	/* No network, no entity substitution, no DTD loading: the descriptor is data, nothing more. */
	xmlDoc *doc = xmlReadMemory(xml, (int)len, "appliance.ovf", NULL,
	                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	bool ok = false;
	if (!root || !named(root, "Envelope")) {
		snprintf(err, errlen, "not an OVF descriptor (no Envelope element)");
		goto out;
	}
	xmlNode *vs = find(root->children, "VirtualSystem");
	if (vs) {
		child_text(vs, "Name", a->name, sizeof(a->name));
		if (!a->name[0]) attr(vs, "id", a->name, sizeof(a->name));
		xmlNode *os = find(vs->children, "OperatingSystemSection");
		child_text(os, "Description", a->os, sizeof(a->os));
		xmlNode *ann = find(vs->children, "AnnotationSection");
		child_text(ann, "Annotation", a->description, sizeof(a->description));
		xmlNode *hw = find(vs->children, "VirtualHardwareSection");
		for (xmlNode *it = hw ? hw->children : NULL; it; it = it->next) {
			if (!named(it, "Item")) continue;
			char type[16], qty[32], unit[64];
			child_text(it, "ResourceType", type, sizeof(type));
			child_text(it, "VirtualQuantity", qty, sizeof(qty));
			child_text(it, "AllocationUnits", unit, sizeof(unit));
			unsigned long long q = strtoull(qty, NULL, 10);
			if (!strcmp(type, "3") && q >= 1 && q <= 8) a->cpus = (uint32_t)q;
			if (!strcmp(type, "4") && q && q <= (1ull << 40) / units(unit))
				a->memory = (q * units(unit) + 4095) & ~4095ull;
		}
	}
	/* The first disk: DiskSection/Disk's fileRef names a References/File, whose href is the file. */
	xmlNode *disk = find(root->children, "Disk");
	char ref[128] = "", format[256] = "";
	if (disk) attr(disk, "fileRef", ref, sizeof(ref)), attr(disk, "format", format, sizeof(format));
	xmlNode *refs = find(root->children, "References");
	for (xmlNode *f = refs ? refs->children : NULL; f && ref[0]; f = f->next) {
		char id[128];
		if (!named(f, "File")) continue;
		attr(f, "id", id, sizeof(id));
		if (!strcmp(id, ref)) attr(f, "href", a->disk, sizeof(a->disk));
	}
	if (!a->disk[0]) {
		snprintf(err, errlen,
		         "the OVF descriptor names no disk file (DiskSection/Disk and References/File)");
		goto out;
	}
	if (!plain_name(a->disk)) {
		snprintf(err, errlen, "the OVF descriptor's disk '%.100s' is not a plain file name: refused",
		         a->disk);
		goto out;
	}
	snprintf(a->disk_format, sizeof(a->disk_format), "%s",
	         strcasestr(format, "vmdk") || !format[0] ? "vmdk"
	         : strcasestr(format, "qcow")             ? "qcow2"
	                                                  : "raw");
	ok = true;
out:
	if (doc) xmlFreeDoc(doc);
	return ok;
}

bool ova_is(const char *path)
{
	struct archive *ar = archive_read_new();
	archive_read_support_format_tar(ar);
	struct archive_entry *e;
	bool ova = archive_read_open_filename(ar, path, 1 << 16) == ARCHIVE_OK &&
	           archive_read_next_header(ar, &e) == ARCHIVE_OK && archive_entry_pathname(e);
	if (ova) {
		const char *n = archive_entry_pathname(e);
		size_t l = strlen(n);
		ova = l > 4 && !strcasecmp(n + l - 4, ".ovf");
	}
	archive_read_free(ar);
	return ova;
}

bool ova_unpack(const char *path, const char *dir, char *ovf, size_t cap, char *err, size_t errlen)
{
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct archive *ar = archive_read_new();
	archive_read_support_format_tar(ar);
	bool ok = dirfd >= 0 && archive_read_open_filename(ar, path, 1 << 16) == ARCHIVE_OK;
	if (!ok)
		snprintf(err, errlen, "%s: %s", path, dirfd < 0 ? strerror(errno) : archive_error_string(ar));
	struct archive_entry *e;
	unsigned members = 0;
	int r = ARCHIVE_OK;
	ovf[0] = 0;
	char buf[1 << 16]; /* on the stack: imports run in threads side by side */
	while (ok && (r = archive_read_next_header(ar, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (!name || !plain_name(name) || archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) || archive_entry_symlink(e) || ++members > OVA_MAX_MEMBERS) {
			snprintf(err, errlen,
			         "the OVA holds '%.100s': only plain files with plain names are accepted",
			         name ? name : "(no name)");
			ok = false;
			break;
		}
		size_t l = strlen(name);
		if (!ovf[0] && l > 4 && !strcasecmp(name + l - 4, ".ovf")) snprintf(ovf, cap, "%s", name);
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", name,
			         errno == EEXIST ? "twice in the OVA" : strerror(errno));
			ok = false;
			break;
		}
		la_ssize_t n;
		while (ok && (n = archive_read_data(ar, buf, sizeof(buf))) > 0) {
			const char *p = buf;
			for (la_ssize_t left = n; left > 0;) {
				ssize_t w = write(fd, p, (size_t)left);
				if (w <= 0) {
					snprintf(err, errlen, "%s: %s", name, strerror(errno));
					ok = false;
					break;
				}
				p += w, left -= w;
			}
		}
		if (ok && n < 0) {
			snprintf(err, errlen, "%s: %s", name, archive_error_string(ar));
			ok = false;
		}
		close(fd);
	}
	if (ok && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(ar));
		ok = false;
	}
	if (ok && !ovf[0]) {
		snprintf(err, errlen, "the OVA holds no .ovf descriptor");
		ok = false;
	}
	archive_read_free(ar);
	if (dirfd >= 0) close(dirfd);
	return ok;
}

char *ovf_read_file(const char *dir, const char *name, size_t max, size_t *len, char *err, size_t errlen)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf = NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max ||
	    !(buf = malloc((size_t)st.st_size + 1)) || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		snprintf(err, errlen, "%s: %s", name,
		         fd < 0                     ? strerror(errno)
		         : (size_t)st.st_size > max ? "too large"
		                                    : "cannot be read");
		free(buf);
		buf = NULL;
	} else {
		buf[st.st_size] = 0;
		*len = (size_t)st.st_size;
	}
	if (fd >= 0) close(fd);
	return buf;
}

static bool digest_file(const char *dir, const char *name, gnutls_digest_algorithm_t alg, char *hex,
                        char *err, size_t errlen)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	gnutls_hash_hd_t h;
	if (fd < 0 || gnutls_hash_init(&h, alg) != 0) {
		snprintf(err, errlen, "the manifest names %s: %s", name, strerror(errno));
		if (fd >= 0) close(fd);
		return false;
	}
	uint8_t buf[1 << 16];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) gnutls_hash(h, buf, (size_t)n);
	close(fd);
	uint8_t d[64];
	gnutls_hash_deinit(h, d);
	unsigned len = gnutls_hash_get_len(alg);
	for (unsigned i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return n == 0;
}

bool ovf_check_manifest(const char *dir, const char *mf, char *err, size_t errlen)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", dir, mf);
	if (access(path, F_OK)) return true;
	size_t len;
	char *text = ovf_read_file(dir, mf, 64 << 10, &len, err, errlen);
	if (!text) return false;
	bool ok = true;
	unsigned checked = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\r\n", &save); ok && line; line = strtok_r(NULL, "\r\n", &save)) {
		char alg[16], name[256], want[160], got[160];
		if (sscanf(line, "%15[A-Z0-9](%255[^)])= %159s", alg, name, want) != 3) continue;
		gnutls_digest_algorithm_t a = !strcmp(alg, "SHA256") ? GNUTLS_DIG_SHA256
		                              : !strcmp(alg, "SHA1") ? GNUTLS_DIG_SHA1
		                                                     : GNUTLS_DIG_UNKNOWN;
		if (a == GNUTLS_DIG_UNKNOWN || !plain_name(name)) {
			snprintf(err, errlen, "%s: cannot check '%.80s'", mf, line);
			ok = false;
		} else if (digest_file(dir, name, a, got, err, errlen)) {
			for (char *p = want; *p; p++) *p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
			if (strcmp(got, want)) {
				snprintf(err, errlen, "%s: digest mismatch (the appliance is corrupt)", name);
				ok = false;
			}
			checked++;
		} else {
			ok = false;
		}
	}
	free(text);
	return ok;
}
