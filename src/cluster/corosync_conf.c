/*
 * corosync_conf.c — see corosync_conf.h.
 */
#define _GNU_SOURCE
#include "cluster/corosync_conf.h"

#include "util/fs.h"

#include <errno.h>
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
	if (!s || !*s) return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(".-_:", *s)))
			return false;
	return true;
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

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
	ssize_t n = (ssize_t)len;
	char *out = malloc((size_t)n / 3 * 4 + 8);
	if (!out) return snprintf(err, errlen, "out of memory"), NULL;
	size_t o = 0;
	for (ssize_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)key[i] << 16 | (i + 1 < n ? (uint32_t)key[i + 1] << 8 : 0) |
		             (i + 2 < n ? key[i + 2] : 0);
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = 0;
	return out;
}

bool corosync_authkey_import(const char *dir, const char *b64, char *err, size_t errlen)
{
	uint8_t key[4096];
	size_t n = 0, len = strlen(b64);
	if (len % 4 || len / 4 * 3 > sizeof(key))
		return snprintf(err, errlen, "malformed cluster key"), false;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			const char *p = b64[i + j] == '=' ? NULL : strchr(b64chars, b64[i + j]);
			if (b64[i + j] == '=')
				pad++;
			else if (!p || !b64[i + j] || pad)
				return snprintf(err, errlen, "malformed cluster key"), false;
			v = v << 6 | (p ? (uint32_t)(p - b64chars) : 0);
		}
		if (pad > 2 || (pad && i + 4 != len))
			return snprintf(err, errlen, "malformed cluster key"), false;
		key[n++] = (uint8_t)(v >> 16);
		if (pad < 2) key[n++] = (uint8_t)(v >> 8);
		if (pad < 1) key[n++] = (uint8_t)v;
	}
	if (n < 128) return snprintf(err, errlen, "the cluster key is too short (%zu bytes)", n), false;
	return write_key(dir, key, n, err, errlen);
}
