/*
 * corosync_conf.c — see corosync_conf.h.
 */
#define _GNU_SOURCE
#include "cluster/corosync_conf.h"

#include "util/fs.h"
#include "util/parse.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTHKEY_BYTES 256

/* Names and addresses go into a file corosync parses: only plain characters. */
static bool plain(const char *s)
{
	return parse_is_plain(s, 255, ".-_:");
}

bool corosync_conf_write(const char *dir, const json_t *state, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(state, "name"));
	if (!plain(name))
		return snprintf(err, errlen, "cluster name '%s' is not plain", name ? name : ""), false;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) return snprintf(err, errlen, "out of memory"), false;
	fprintf(f,
	        "# Written by cloisond from the cluster's state: edits are overwritten.\n"
	        "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: knet\n"
	        "\ttoken: 1000\n\ttoken_coefficient: 0\n"
	        /* A path MTU probe that failed during a partition leaves knet's link unusable until the
	         * next one: probe every 2 s, not 30, so a healed host rejoins at once. */
	        "\tknet_pmtud_interval: 2\n"
	        "\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n\tkeyfile: %s/authkey\n}\n"
	        "nodelist {\n",
	        name, dir);
	size_t i;
	json_t *n;
	bool ok = true;
	json_array_foreach(json_object_get(state, "nodes"), i, n)
	{
		const char *nn = json_string_value(json_object_get(n, "name"));
		const char *addr = json_string_value(json_object_get(n, "addr"));
		if (!plain(nn) || !plain(addr)) ok = false;
		fprintf(f, "\tnode {\n\t\tnodeid: %lld\n\t\tname: %s\n\t\tring0_addr: %s\n\t}\n",
		        (long long)json_integer_value(json_object_get(n, "id")), nn ? nn : "",
		        addr ? addr : "");
	}
	fprintf(f,
	        "}\nquorum {\n\tprovider: corosync_votequorum\n}\n"
	        "logging {\n\tto_stderr: no\n\tto_syslog: no\n\tto_logfile: yes\n\tlogfile: %s/corosync.log\n"
	        "\ttimestamp: on\n}\n"
	        "system {\n\tstate_dir: %s\n}\n",
	        dir, dir);
	fclose(f);
	if (!ok) {
		free(text);
		return snprintf(err, errlen, "a node's name or address is not plain"), false;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/corosync.conf", dir);
	bool wrote = fs_write_file_atomic(path, 0600, text, len, err, errlen);
	free(text);
	return wrote;
}

static bool write_key(const char *dir, const uint8_t *key, size_t len, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/authkey", dir);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	bool ok = fd >= 0 && write(fd, key, len) == (ssize_t)len && fsync(fd) == 0;
	if (!ok) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0) close(fd);
	return ok;
}

bool corosync_authkey_create(const char *dir, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/authkey", dir);
	if (access(path, F_OK) == 0) return true;
	uint8_t key[AUTHKEY_BYTES];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return snprintf(err, errlen, "getrandom: %s", strerror(errno)), false;
	return write_key(dir, key, sizeof(key), err, errlen);
}

bool corosync_authkey_load(const char *dir, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/authkey", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;
	if (fd >= 0) close(fd);
	if (n <= 0) return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), false;
	*len = (size_t)n;
	return true;
}

char *corosync_authkey_export(const char *dir, char *err, size_t errlen)
{
	uint8_t key[4096];
	size_t len;
	if (!corosync_authkey_load(dir, key, sizeof(key), &len, err, errlen)) return NULL;
	gnutls_datum_t in = {.data = key, .size = (unsigned)len}, out = {0};
	if (gnutls_base64_encode2(&in, &out) < 0) return snprintf(err, errlen, "out of memory"), NULL;
	char *text = malloc(out.size + 1);
	if (text) {
		memcpy(text, out.data, out.size);
		text[out.size] = 0;
	} else {
		snprintf(err, errlen, "out of memory");
	}
	gnutls_free(out.data);
	return text;
}

bool corosync_authkey_import(const char *dir, const char *b64, char *err, size_t errlen)
{
	gnutls_datum_t in = {.data = (unsigned char *)b64, .size = (unsigned)strlen(b64)}, out = {0};
	if (strlen(b64) > 8192 || gnutls_base64_decode2(&in, &out) < 0)
		return snprintf(err, errlen, "malformed cluster key"), false;
	bool ok = out.size >= 128 ||
	          (snprintf(err, errlen, "the cluster key is too short (%u bytes)", out.size), false);
	ok = ok && write_key(dir, out.data, out.size, err, errlen);
	gnutls_free(out.data);
	return ok;
}
