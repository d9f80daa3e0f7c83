/*
 * fs.c — see fs.h.
 */
#define _GNU_SOURCE /* nftw */
#include "fs.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

bool mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return false;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/') continue;
		*p = 0;
		if (mkdir(tmp, mode) && errno != EEXIST) return false;
		*p = '/';
	}
	return !mkdir(tmp, mode) || errno == EEXIST;
}

bool fs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) {
			if (n == 0) errno = EIO;
			return false;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return true;
}

static bool replace_file(const char *path, mode_t mode, bool (*fill)(int fd, void *opaque), void *opaque,
                         bool durable, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	bool ok = fd >= 0 && fill(fd, opaque) && (!durable || fdatasync(fd) == 0);
	int e = errno;
	if (fd >= 0 && close(fd) && ok) ok = false, e = errno;
	if (ok && rename(tmp, path)) ok = false, e = errno;
	if (!ok) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	return ok;
}

bool fs_replace_file(const char *path, mode_t mode, bool (*fill)(int fd, void *opaque), void *opaque,
                     char *err, size_t errlen)
{
	return replace_file(path, mode, fill, opaque, true, err, errlen);
}

struct buffer {
	const void *buf;
	size_t len;
};

static bool fill_buffer(int fd, void *opaque)
{
	const struct buffer *b = opaque;
	return fs_pwrite_all(fd, b->buf, b->len, 0);
}

bool fs_write_file_atomic(const char *path, mode_t mode, const void *buf, size_t len, char *err,
                          size_t errlen)
{
	struct buffer b = {buf, len};
	return fs_replace_file(path, mode, fill_buffer, &b, err, errlen);
}

bool fs_write_file_volatile(const char *path, mode_t mode, const void *buf, size_t len, char *err,
                            size_t errlen)
{
	struct buffer b = {buf, len};
	return replace_file(path, mode, fill_buffer, &b, false, err, errlen);
}

const char *cloison_state_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("CLOISON_STATE_DIR");
	if (env && *env) return env;
	if (geteuid() == 0) return "/var/lib/cloison";
	env = getenv("XDG_STATE_HOME");
	if (env && *env)
		snprintf(dir, sizeof(dir), "%s/cloison", env);
	else
		snprintf(dir, sizeof(dir), "%s/.local/state/cloison",
		         getenv("HOME") ? getenv("HOME") : "/tmp");
	return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void fs_remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *fs_read_text(const char *path, size_t max, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = f ? malloc(max + 1) : NULL;
	size_t n = buf ? fread(buf, 1, max, f) : 0;
	bool big = buf && n == max && fgetc(f) != EOF;
	int e = errno;
	if (f) fclose(f);
	if (!buf || big) {
		snprintf(err, errlen, "%s: %s", path, !f ? strerror(e) : big ? "too large" : "out of memory");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}
