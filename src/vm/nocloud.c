/*
 * nocloud.c — see nocloud.h. The files go to a private temporary directory,
 * genisoimage makes the image beside the target, renamed into place when
 * complete.
 */
#define _GNU_SOURCE
#include "nocloud.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static bool hostname_ok(const char *h)
{
	size_t n = strlen(h);
	if (n > 63) return false;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '.'))
			return false;
	return true;
}

/* A key line is written inside a YAML double-quoted string: printable, no quote or backslash. */
static bool key_ok(const char *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (k[i] < 32 || k[i] > 126 || k[i] == '"' || k[i] == '\\') return false;
	return n > 0;
}

static bool write_text(const char *dir, const char *name, const char *text, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fs_write_file_atomic(path, 0600, text, strlen(text), err, errlen);
}

bool nocloud_write(const char *path, const struct nocloud *n, char *err, size_t errlen)
{
	if (n->hostname && !hostname_ok(n->hostname)) {
		snprintf(err, errlen, "invalid host name '%.80s' (letters, digits, '-' and '.', at most 63)",
		         n->hostname);
		return false;
	}
	size_t cap = 512 + (n->ssh_keys ? strlen(n->ssh_keys) * 2 : 0);
	char *meta = malloc(cap);
	if (!meta) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	size_t at = (size_t)snprintf(meta, cap, "instance-id: %s\n", n->instance_id);
	if (n->hostname && n->hostname[0])
		at += (size_t)snprintf(meta + at, cap - at, "local-hostname: %s\n", n->hostname);
	bool keys = false;
	for (const char *k = n->ssh_keys; k && *k;) {
		size_t len = strcspn(k, "\r\n");
		while (len && (k[len - 1] == ' ' || k[len - 1] == '\t')) len--;
		if (len && k[0] != '#') {
			if (!key_ok(k, len)) {
				snprintf(err, errlen,
				         "an SSH public key holds characters a key does not have");
				free(meta);
				return false;
			}
			if (!keys) at += (size_t)snprintf(meta + at, cap - at, "public-keys:\n");
			at += (size_t)snprintf(meta + at, cap - at, "  - \"%.*s\"\n", (int)len, k);
			keys = true;
		}
		k += strcspn(k, "\r\n");
		k += strspn(k, "\r\n");
	}
	char tmp[] = "/tmp/cloison-seed-XXXXXX", part[4200];
	bool ok = mkdtemp(tmp) != NULL;
	if (!ok) snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
	ok = ok && write_text(tmp, "meta-data", meta, err, errlen) &&
	     write_text(tmp, "user-data", n->user_data ? n->user_data : "#cloud-config\n", err, errlen);
	free(meta);
	snprintf(part, sizeof(part), "%s.part-%d", path, (int)getpid());
	if (ok) {
		char *argv[] = {"genisoimage", "-quiet",  "-output", part, "-volid",
		                "cidata",      "-joliet", "-rock",   tmp,  NULL};
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
		pid_t pid;
		int rc = posix_spawnp(&pid, "genisoimage", &fa, NULL, argv, environ), st = 0;
		posix_spawn_file_actions_destroy(&fa);
		if (!rc)
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
			}
		ok = !rc && WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (!ok)
			snprintf(err, errlen,
			         "genisoimage %s (the cloud-init seed; apt-get install genisoimage)",
			         rc ? "is not installed" : "failed");
	}
	if (ok && rename(part, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ok = false;
	}
	if (!ok) unlink(part);
	char f[4200];
	snprintf(f, sizeof(f), "%s/meta-data", tmp), unlink(f);
	snprintf(f, sizeof(f), "%s/user-data", tmp), unlink(f);
	rmdir(tmp);
	return ok;
}
