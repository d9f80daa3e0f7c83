/*
 * p9.c — see p9.h. Messages are size[4] type[1] tag[2] then fields, little
 * endian; strings are len[2] + bytes. Each fid remembers its path under the
 * share (for "..") and holds an O_PATH descriptor, or an open one after
 * Tlopen/Tlcreate; every lookup of a single name is an openat2() beneath the
 * parent's descriptor that follows no symbolic link.
 */
#define _GNU_SOURCE
#include "p9.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
	Tlerror = 6,
	Rlerror,
	Tstatfs = 8,
	Tlopen = 12,
	Tlcreate = 14,
	Tsymlink = 16,
	Tmknod = 18,
	Trename = 20,
	Treadlink = 22,
	Tgetattr = 24,
	Tsetattr = 26,
	Txattrwalk = 30,
	Txattrcreate = 32,
	Treaddir = 40,
	Tfsync = 50,
	Tlock = 52,
	Tgetlock = 54,
	Tlink = 70,
	Tmkdir = 72,
	Trenameat = 74,
	Tunlinkat = 76,
	Tversion = 100,
	Tauth = 102,
	Tattach = 104,
	Tflush = 108,
	Twalk = 110,
	Tread = 116,
	Twrite = 118,
	Tclunk = 120,
	Tremove = 122,
};

#define NOFID 0xffffffffu
#define HDR 7
#define MAX_WALK 16
#define QID_DIR 0x80
#define QID_SYMLINK 0x02
/* Tsetattr's valid bits */
#define ATTR_MODE 0x1
#define ATTR_SIZE 0x8
#define ATTR_ATIME 0x10
#define ATTR_MTIME 0x20
#define ATTR_ATIME_SET 0x80
#define ATTR_MTIME_SET 0x100
/* 9P2000.L open flags that mean something here (the rest are dropped) */
#define L_ACCMODE 03
#define L_CREAT 0100
#define L_EXCL 0200
#define L_TRUNC 01000
#define L_APPEND 02000
#define L_DSYNC 010000
#define L_DIRECTORY 0200000
#define L_SYNC 04000000

struct p9_fid {
	bool used;
	uint32_t num;
	char *path; /* relative to the share, "" for its root */
	int fd;     /* O_PATH, or open for I/O when `opened` */
	bool opened;
	DIR *dir;
};

/* ---- message reading and writing ---- */

struct rd {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static uint64_t get(struct rd *r, unsigned n)
{
	if (r->len - r->pos < n) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++) v |= (uint64_t)r->p[r->pos + i] << (8 * i);
	r->pos += n;
	return v;
}

/* A string copied into buf (cap bytes, NUL-terminated); one with a NUL inside or too long is bad. */
static const char *get_str(struct rd *r, char *buf, size_t cap)
{
	size_t n = get(r, 2);
	if (r->bad || r->len - r->pos < n || n >= cap || memchr(r->p + r->pos, 0, n)) {
		r->bad = true;
		buf[0] = 0;
		return buf;
	}
	memcpy(buf, r->p + r->pos, n);
	buf[n] = 0;
	r->pos += n;
	return buf;
}

struct wr {
	uint8_t *p;
	size_t cap, pos;
	bool full;
};

static void put(struct wr *w, uint64_t v, unsigned n)
{
	if (w->cap - w->pos < n) {
		w->full = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) w->p[w->pos + i] = (uint8_t)(v >> (8 * i));
	w->pos += n;
}

static void put_str(struct wr *w, const char *s)
{
	size_t n = strlen(s);
	if (n > 0xffff || w->cap - w->pos < 2 + n) {
		w->full = true;
		return;
	}
	put(w, n, 2);
	memcpy(w->p + w->pos, s, n);
	w->pos += n;
}

static void put_qid(struct wr *w, const struct stat *st)
{
	uint8_t type = S_ISDIR(st->st_mode) ? QID_DIR : S_ISLNK(st->st_mode) ? QID_SYMLINK : 0;
	put(w, type, 1);
	put(w, (uint32_t)st->st_mtime, 4); /* version: changes when the file does */
	put(w, (uint64_t)st->st_ino ^ ((uint64_t)st->st_dev << 48), 8);
}

/* ---- fids ---- */

static struct p9_fid *fid_get(struct p9_server *s, uint32_t num)
{
	for (unsigned i = 0; i < P9_MAX_FIDS; i++) {
		struct p9_fid *f = &s->fids[(num + i) % P9_MAX_FIDS];
		if (!f->used && !f->path) return NULL; /* never used: the probe ends */
		if (f->used && f->num == num) return f;
	}
	return NULL;
}

static struct p9_fid *fid_new(struct p9_server *s, uint32_t num)
{
	if (num == NOFID || fid_get(s, num)) return NULL;
	for (unsigned i = 0; i < P9_MAX_FIDS; i++) {
		struct p9_fid *f = &s->fids[(num + i) % P9_MAX_FIDS];
		if (f->used) continue;
		free(f->path);
		*f = (struct p9_fid){.used = true, .num = num, .fd = -1};
		return f;
	}
	return NULL;
}

/* Frees what the fid holds; its slot keeps a non-NULL path marker so probes go past it. */
static void fid_drop(struct p9_fid *f)
{
	if (f->dir) closedir(f->dir); /* its own duplicate of fd */
	if (f->fd >= 0) close(f->fd);
	f->dir = NULL;
	f->fd = -1;
	f->used = f->opened = false;
	free(f->path);
	f->path = strdup("");
}

void p9_server_reset(struct p9_server *s)
{
	for (unsigned i = 0; i < P9_MAX_FIDS; i++) {
		struct p9_fid *f = &s->fids[i];
		if (f->used) fid_drop(f);
		free(f->path);
		f->path = NULL;
	}
}

/* ---- the host side, confined ---- */

static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC | O_NOFOLLOW,
	                       .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof(how));
}

/* A name the guest may create or look up in a directory: one component, not "." or "..". */
static bool name_ok(const char *n)
{
	return n[0] && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..");
}

static char *join(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0) return NULL;
	return p;
}

static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return strndup(path, slash ? (size_t)(slash - path) : 0);
}

static int fstat_fid(const struct p9_fid *f, struct stat *st)
{
	return fstatat(f->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

/* ---- requests ---- */

struct req {
	struct p9_server *s;
	struct rd r;
	struct wr w;
	int err; /* errno for Rlerror, 0: the reply in w is good */
};

static struct p9_fid *need_fid(struct req *q, uint32_t num)
{
	struct p9_fid *f = q->r.bad ? NULL : fid_get(q->s, num);
	if (!f && !q->err) q->err = q->r.bad ? EPROTO : EBADF;
	return f;
}

static bool writable(struct req *q)
{
	if (q->s->readonly) q->err = EROFS;
	return !q->s->readonly;
}

static void do_version(struct req *q)
{
	uint32_t msize = (uint32_t)get(&q->r, 4);
	char version[32];
	get_str(&q->r, version, sizeof(version));
	if (q->r.bad) {
		q->err = EPROTO;
		return;
	}
	p9_server_reset(q->s);
	if (msize > P9_MAX_MSIZE) msize = P9_MAX_MSIZE;
	if (msize < P9_MIN_MSIZE) msize = P9_MIN_MSIZE;
	q->s->msize = msize;
	put(&q->w, msize, 4);
	put_str(&q->w, strcmp(version, "9P2000.L") ? "unknown" : "9P2000.L");
}

static void do_attach(struct req *q)
{
	uint32_t fid = (uint32_t)get(&q->r, 4);
	get(&q->r, 4); /* afid: no authentication */
	char name[256];
	get_str(&q->r, name, sizeof(name));
	get_str(&q->r, name, sizeof(name)); /* aname: the share is the tree */
	if (q->r.bad) {
		q->err = EPROTO;
		return;
	}
	struct p9_fid *f = fid_new(q->s, fid);
	struct stat st;
	if (!f) {
		q->err = EBADF;
		return;
	}
	f->path = strdup("");
	f->fd = open_beneath(q->s->root_fd, "", O_PATH | O_DIRECTORY, 0);
	if (!f->path || f->fd < 0 || fstat(f->fd, &st) < 0) {
		q->err = errno ? errno : ENOMEM;
		fid_drop(f);
		return;
	}
	put_qid(&q->w, &st);
}

static void do_walk(struct req *q)
{
	uint32_t fid = (uint32_t)get(&q->r, 4), newfid = (uint32_t)get(&q->r, 4);
	unsigned n = (unsigned)get(&q->r, 2);
	char names[MAX_WALK][256];
	for (unsigned i = 0; i < n && i < MAX_WALK; i++) get_str(&q->r, names[i], sizeof(names[i]));
	if (n > MAX_WALK) q->r.bad = true;
	struct p9_fid *f = need_fid(q, fid);
	if (!f) return;
	if (f->opened) { /* the protocol: a fid that was opened cannot be walked from */
		q->err = EBADF;
		return;
	}
	char *path = strdup(f->path);
	int fd = dup(f->fd);
	size_t count_at = q->w.pos;
	put(&q->w, 0, 2);
	unsigned done = 0;
	for (; done < n && path && fd >= 0; done++) {
		const char *name = names[done];
		char *next;
		int nfd;
		if (!strcmp(name, "..")) { /* lexically, and never above the share's root */
			next = parent_of(path);
			nfd = next ? open_beneath(q->s->root_fd, next, O_PATH, 0) : -1;
		} else if (!name_ok(name)) {
			errno = EINVAL;
			break;
		} else {
			next = join(path, name);
			nfd = open_beneath(fd, name, O_PATH, 0);
		}
		struct stat st;
		if (!next || nfd < 0 || fstatat(nfd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			int e = errno;
			free(next);
			if (nfd >= 0) close(nfd);
			errno = e;
			break;
		}
		free(path);
		close(fd);
		path = next, fd = nfd;
		put_qid(&q->w, &st);
	}
	if (done == 0 && n > 0) { /* the first name failed: an error, no new fid */
		q->err = errno ? errno : ENOENT;
	} else if (done == n) {
		struct p9_fid *nf = newfid == fid ? f : fid_new(q->s, newfid);
		if (!nf) {
			q->err = EBADF;
		} else {
			if (nf == f && f->fd >= 0) close(f->fd);
			free(nf->path);
			nf->path = path, nf->fd = fd;
			path = NULL, fd = -1;
		}
	} /* a partial walk: the qids so far, no new fid */
	free(path);
	if (fd >= 0) close(fd);
	if (!q->err) {
		size_t end = q->w.pos;
		q->w.pos = count_at;
		put(&q->w, done, 2);
		q->w.pos = end;
	}
}

static void do_getattr(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	get(&q->r, 8); /* request_mask: the basic set is always there */
	struct stat st;
	if (!f) return;
	if (fstat_fid(f, &st) < 0) {
		q->err = errno;
		return;
	}
	put(&q->w, 0x7ff, 8); /* P9_STATS_BASIC */
	put_qid(&q->w, &st);
	put(&q->w, st.st_mode, 4);
	put(&q->w, st.st_uid, 4);
	put(&q->w, st.st_gid, 4);
	put(&q->w, st.st_nlink, 8);
	put(&q->w, st.st_rdev, 8);
	put(&q->w, (uint64_t)st.st_size, 8);
	put(&q->w, (uint64_t)st.st_blksize, 8);
	put(&q->w, (uint64_t)st.st_blocks, 8);
	put(&q->w, (uint64_t)st.st_atim.tv_sec, 8), put(&q->w, (uint64_t)st.st_atim.tv_nsec, 8);
	put(&q->w, (uint64_t)st.st_mtim.tv_sec, 8), put(&q->w, (uint64_t)st.st_mtim.tv_nsec, 8);
	put(&q->w, (uint64_t)st.st_ctim.tv_sec, 8), put(&q->w, (uint64_t)st.st_ctim.tv_nsec, 8);
	put(&q->w, 0, 8), put(&q->w, 0, 8); /* btime */
	put(&q->w, 0, 8), put(&q->w, 0, 8); /* gen, data_version */
}

/* The directory holding fid f (O_PATH) and f's own name in it; false at the share's root. */
static bool parent_and_name(struct req *q, const struct p9_fid *f, int *dirfd, const char **name)
{
	if (!f->path[0]) {
		q->err = EBUSY;
		return false;
	}
	char *parent = parent_of(f->path);
	*dirfd = parent ? open_beneath(q->s->root_fd, parent, O_PATH | O_DIRECTORY, 0) : -1;
	free(parent);
	const char *slash = strrchr(f->path, '/');
	*name = slash ? slash + 1 : f->path;
	if (*dirfd < 0) q->err = errno ? errno : ENOMEM;
	return *dirfd >= 0;
}

/* Opens the file fid f names for I/O (an O_PATH descriptor cannot be reopened without /proc's magic
 * links): a directory beneath itself, anything else through its parent and name, checked to be the
 * very file that was walked. Only regular files and directories; never blocks on open. */
static int reopen(struct req *q, struct p9_fid *f, const struct stat *st, int flags)
{
	int fd = -1, dirfd;
	const char *name;
	if (S_ISDIR(st->st_mode))
		fd = open_beneath(f->fd, "", O_RDONLY | O_DIRECTORY, 0);
	else if (!S_ISREG(st->st_mode))
		errno = S_ISLNK(st->st_mode) ? ELOOP : EACCES; /* devices, FIFOs, sockets, links: never */
	else if (parent_and_name(q, f, &dirfd, &name)) {
		fd = open_beneath(dirfd, name, flags | O_NONBLOCK, 0);
		int e = errno;
		close(dirfd);
		errno = e;
	}
	struct stat now;
	if (fd >= 0 && (fstat(fd, &now) < 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev)) {
		close(fd);
		fd = -1;
		errno = ESTALE; /* replaced behind the guest's back */
	}
	if (fd < 0) {
		if (!q->err) q->err = errno ? errno : EACCES;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static void do_setattr(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	uint32_t valid = (uint32_t)get(&q->r, 4), mode = (uint32_t)get(&q->r, 4);
	get(&q->r, 4), get(&q->r, 4); /* uid, gid: ownership stays the host's */
	uint64_t size = get(&q->r, 8);
	struct timespec t[2];
	t[0].tv_sec = (time_t)get(&q->r, 8), t[0].tv_nsec = (long)get(&q->r, 8);
	t[1].tv_sec = (time_t)get(&q->r, 8), t[1].tv_nsec = (long)get(&q->r, 8);
	struct stat st;
	if (!f) return;
	if (!(valid & (ATTR_MODE | ATTR_SIZE | ATTR_ATIME | ATTR_MTIME))) return; /* only ownership: done */
	if (!writable(q)) return;
	if (fstat_fid(f, &st) < 0) {
		q->err = errno;
		return;
	}
	if (valid & ATTR_SIZE) {
		if (!S_ISREG(st.st_mode) || size > INT64_MAX) {
			q->err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
			return;
		}
		int fd = f->opened ? f->fd : reopen(q, f, &st, O_WRONLY);
		if (fd < 0) return;
		int rc = ftruncate(fd, (off_t)size), e = errno;
		if (fd != f->fd) close(fd);
		if (rc < 0) {
			q->err = e;
			return;
		}
	}
	int dirfd = -1;
	const char *name = NULL;
	if ((valid & (ATTR_MODE | ATTR_ATIME | ATTR_MTIME)) && !parent_and_name(q, f, &dirfd, &name)) {
		if (q->err == EBUSY) q->err = EPERM; /* the share's root keeps its mode and times */
		return;
	}
	int rc = 0;
	if ((valid & ATTR_MODE) && !S_ISLNK(st.st_mode)) /* fchmodat follows links: never on one */
		rc = fchmodat(dirfd, name, mode & 01777, 0);
	if (!rc && (valid & (ATTR_ATIME | ATTR_MTIME))) {
		if (!(valid & ATTR_ATIME))
			t[0].tv_nsec = UTIME_OMIT;
		else if (!(valid & ATTR_ATIME_SET))
			t[0].tv_nsec = UTIME_NOW;
		if (!(valid & ATTR_MTIME))
			t[1].tv_nsec = UTIME_OMIT;
		else if (!(valid & ATTR_MTIME_SET))
			t[1].tv_nsec = UTIME_NOW;
		rc = utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW);
	}
	if (rc < 0) q->err = errno;
	if (dirfd >= 0) close(dirfd);
}

/* Host open flags for a 9P2000.L open: access, truncate, append, sync; the rest is not the guest's. */
static int host_flags(uint32_t l)
{
	int f = (int)(l & L_ACCMODE);
	if (l & L_TRUNC) f |= O_TRUNC;
	if (l & L_APPEND) f |= O_APPEND;
	if (l & L_DSYNC) f |= O_DSYNC;
	if (l & L_SYNC) f |= O_SYNC;
	if (l & L_DIRECTORY) f |= O_DIRECTORY;
	return f;
}

static uint32_t iounit(const struct p9_server *s)
{
	return s->msize - 24;
}

static void do_lopen(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	uint32_t lflags = (uint32_t)get(&q->r, 4);
	struct stat st;
	if (!f) return;
	if (f->opened) {
		q->err = EBADF;
		return;
	}
	if (fstat_fid(f, &st) < 0) {
		q->err = errno;
		return;
	}
	int flags = host_flags(lflags) & ~O_DIRECTORY;
	if (((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) && !writable(q)) return;
	int fd = reopen(q, f, &st, flags);
	if (fd < 0) return;
	close(f->fd);
	f->fd = fd;
	f->opened = true;
	put_qid(&q->w, &st);
	put(&q->w, iounit(q->s), 4);
}

static void do_lcreate(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	char name[256];
	get_str(&q->r, name, sizeof(name));
	uint32_t lflags = (uint32_t)get(&q->r, 4), mode = (uint32_t)get(&q->r, 4);
	get(&q->r, 4); /* gid */
	if (!f || !writable(q)) return;
	if (f->opened || !name_ok(name)) {
		q->err = f->opened ? EBADF : EINVAL;
		return;
	}
	char *path = join(f->path, name);
	int fd =
	    path ? open_beneath(f->fd, name, host_flags(lflags) | O_CREAT | ((lflags & L_EXCL) ? O_EXCL : 0),
	                        mode & 01777)
	         : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		q->err = errno ? errno : ENOMEM;
		free(path);
		if (fd >= 0) close(fd);
		return;
	}
	close(f->fd);
	free(f->path);
	f->path = path, f->fd = fd, f->opened = true; /* the fid is the new file, open */
	put_qid(&q->w, &st);
	put(&q->w, iounit(q->s), 4);
}

static void do_read(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	uint64_t off = get(&q->r, 8);
	uint32_t count = (uint32_t)get(&q->r, 4);
	if (!f) return;
	if (!f->opened || f->dir || off > INT64_MAX) {
		q->err = f->dir ? EISDIR : EBADF;
		return;
	}
	size_t room = q->w.cap - q->w.pos - 4;
	if (count > room) count = (uint32_t)room;
	ssize_t n = pread(f->fd, q->w.p + q->w.pos + 4, count, (off_t)off);
	if (n < 0) {
		q->err = errno;
		return;
	}
	put(&q->w, (uint64_t)n, 4);
	q->w.pos += (size_t)n;
}

static void do_write(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	uint64_t off = get(&q->r, 8);
	uint32_t count = (uint32_t)get(&q->r, 4);
	if (q->r.bad || q->r.len - q->r.pos < count) {
		q->err = EPROTO;
		return;
	}
	if (!f) return;
	if (!f->opened || f->dir || off > INT64_MAX) {
		q->err = EBADF;
		return;
	}
	ssize_t n = pwrite(f->fd, q->r.p + q->r.pos, count, (off_t)off);
	if (n < 0) {
		q->err = errno;
		return;
	}
	put(&q->w, (uint64_t)n, 4);
}

static void do_readdir(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	uint64_t off = get(&q->r, 8);
	uint32_t count = (uint32_t)get(&q->r, 4);
	if (!f) return;
	if (!f->opened) {
		q->err = EBADF;
		return;
	}
	if (!f->dir) {
		int fd = dup(f->fd);
		f->dir = fd >= 0 ? fdopendir(fd) : NULL;
		if (!f->dir) {
			q->err = errno;
			if (fd >= 0) close(fd);
			return;
		}
	}
	if (off == 0)
		rewinddir(f->dir);
	else
		seekdir(f->dir, (long)off);
	size_t room = q->w.cap - q->w.pos - 4;
	if (count > room) count = (uint32_t)room;
	struct stat dst;
	uint64_t dev = fstat(f->fd, &dst) == 0 ? (uint64_t)dst.st_dev << 48 : 0; /* qid paths as put_qid's */
	struct wr ents = {.p = q->w.p + q->w.pos + 4, .cap = count};
	for (;;) {
		long before = telldir(f->dir);
		errno = 0;
		struct dirent *d = readdir(f->dir);
		if (!d) break;
		size_t at = ents.pos;
		uint8_t type = d->d_type == DT_DIR ? QID_DIR : d->d_type == DT_LNK ? QID_SYMLINK : 0;
		put(&ents, type, 1);
		put(&ents, 0, 4);
		put(&ents, (uint64_t)d->d_ino ^ dev, 8);
		put(&ents, (uint64_t)telldir(f->dir), 8);
		put(&ents, d->d_type, 1);
		put_str(&ents, d->d_name);
		if (ents.full) { /* no room for this one: it comes first next time */
			ents.pos = at;
			seekdir(f->dir, before);
			break;
		}
	}
	put(&q->w, ents.pos, 4);
	q->w.pos += ents.pos;
}

static void make_in_dir(struct req *q, unsigned type)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	char name[256], target[4096];
	get_str(&q->r, name, sizeof(name));
	uint32_t mode = 0;
	if (type == Tsymlink)
		get_str(&q->r, target, sizeof(target));
	else
		mode = (uint32_t)get(&q->r, 4);
	get(&q->r, 4); /* gid */
	if (!f || !writable(q)) return;
	if (q->r.bad || !name_ok(name)) {
		q->err = q->r.bad ? EPROTO : EINVAL;
		return;
	}
	/* A link may say anything: the guest follows it, never the host. */
	int rc = type == Tsymlink ? symlinkat(target, f->fd, name) : mkdirat(f->fd, name, mode & 01777);
	struct stat st;
	if (rc < 0 || fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		q->err = errno;
		return;
	}
	put_qid(&q->w, &st);
}

static void do_readlink(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	char target[4096];
	if (!f) return;
	ssize_t n = readlinkat(f->fd, "", target, sizeof(target) - 1);
	if (n < 0) {
		q->err = errno;
		return;
	}
	target[n] = 0;
	put_str(&q->w, target);
}

static void do_unlinkat(struct req *q)
{
	struct p9_fid *d = need_fid(q, (uint32_t)get(&q->r, 4));
	char name[256];
	get_str(&q->r, name, sizeof(name));
	uint32_t flags = (uint32_t)get(&q->r, 4);
	if (!d || !writable(q)) return;
	if (q->r.bad || !name_ok(name)) {
		q->err = q->r.bad ? EPROTO : EINVAL;
		return;
	}
	if (unlinkat(d->fd, name, (flags & 0x200) ? AT_REMOVEDIR : 0) < 0) q->err = errno;
}

static void do_renameat(struct req *q)
{
	struct p9_fid *od = need_fid(q, (uint32_t)get(&q->r, 4));
	char oname[256], nname[256];
	get_str(&q->r, oname, sizeof(oname));
	struct p9_fid *nd = need_fid(q, (uint32_t)get(&q->r, 4));
	get_str(&q->r, nname, sizeof(nname));
	if (!od || !nd || !writable(q)) return;
	if (q->r.bad || !name_ok(oname) || !name_ok(nname)) {
		q->err = q->r.bad ? EPROTO : EINVAL;
		return;
	}
	if (renameat(od->fd, oname, nd->fd, nname) < 0) q->err = errno;
}

/* Trename: fid moves into directory dfid as name; its path follows it. */
static void do_rename(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	struct p9_fid *d = need_fid(q, (uint32_t)get(&q->r, 4));
	char name[256];
	get_str(&q->r, name, sizeof(name));
	int dirfd = -1;
	const char *old;
	if (!f || !d || !writable(q)) return;
	if (q->r.bad || !name_ok(name)) {
		q->err = q->r.bad ? EPROTO : EINVAL;
		return;
	}
	if (!parent_and_name(q, f, &dirfd, &old)) return;
	char *path = join(d->path, name);
	if (!path || renameat(dirfd, old, d->fd, name) < 0) {
		q->err = path ? errno : ENOMEM;
		free(path);
	} else {
		free(f->path);
		f->path = path;
	}
	close(dirfd);
}

static void do_link(struct req *q)
{
	struct p9_fid *d = need_fid(q, (uint32_t)get(&q->r, 4));
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	char name[256];
	get_str(&q->r, name, sizeof(name));
	struct stat st;
	if (!d || !f || !writable(q)) return;
	if (q->r.bad || !name_ok(name)) {
		q->err = q->r.bad ? EPROTO : EINVAL;
		return;
	}
	if (fstat_fid(f, &st) < 0 || S_ISDIR(st.st_mode) || linkat(f->fd, "", d->fd, name, AT_EMPTY_PATH) < 0)
		q->err = errno ? errno : EPERM;
}

static void do_remove(struct req *q)
{
	uint32_t num = (uint32_t)get(&q->r, 4);
	struct p9_fid *f = need_fid(q, num);
	int dirfd = -1;
	const char *name;
	struct stat st;
	if (!f) return;
	if (writable(q) && parent_and_name(q, f, &dirfd, &name)) {
		if (fstat_fid(f, &st) < 0 ||
		    unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
			q->err = errno;
		close(dirfd);
	}
	fid_drop(f); /* clunked whether or not the removal worked */
}

static void do_statfs(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	struct statfs sf;
	if (!f) return;
	if (fstatfs(f->fd, &sf) < 0) {
		q->err = errno;
		return;
	}
	put(&q->w, (uint64_t)sf.f_type, 4);
	put(&q->w, (uint64_t)sf.f_bsize, 4);
	put(&q->w, sf.f_blocks, 8), put(&q->w, sf.f_bfree, 8), put(&q->w, sf.f_bavail, 8);
	put(&q->w, sf.f_files, 8), put(&q->w, sf.f_ffree, 8);
	put(&q->w, 0, 8);
	put(&q->w, (uint64_t)sf.f_namelen, 4);
}

static void do_fsync(struct req *q)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	uint32_t datasync = (uint32_t)get(&q->r, 4);
	if (!f) return;
	if (f->opened && (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0) q->err = errno;
}

/* Locks are the guest's own business between its processes: always granted, never held here. */
static void do_lock(struct req *q, unsigned type)
{
	struct p9_fid *f = need_fid(q, (uint32_t)get(&q->r, 4));
	if (!f) return;
	if (type == Tlock) {
		put(&q->w, 0, 1); /* P9_LOCK_SUCCESS */
		return;
	}
	get(&q->r, 1);
	uint64_t start = get(&q->r, 8), length = get(&q->r, 8);
	uint32_t proc = (uint32_t)get(&q->r, 4);
	char client[256];
	get_str(&q->r, client, sizeof(client));
	put(&q->w, 2, 1); /* F_UNLCK: nobody holds it */
	put(&q->w, start, 8), put(&q->w, length, 8), put(&q->w, proc, 4);
	put_str(&q->w, client);
}

size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	if (len < HDR || cap < HDR + 4) return 0; /* not even room for an Rlerror */
	struct req q = {
	    .s = s, .r = {.p = req, .len = len, .pos = HDR}, .w = {.p = out, .cap = cap, .pos = HDR}};
	uint32_t size =
	    (uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24;
	unsigned type = req[4];
	uint16_t tag = (uint16_t)(req[5] | req[6] << 8);
	if (size < HDR || size > len)
		q.err = EPROTO;
	else
		q.r.len = size;
	if (cap > s->msize) q.w.cap = s->msize;
	s->requests++;
	errno = 0;
	if (!q.err) switch (type) {
		case Tversion: do_version(&q); break;
		case Tattach: do_attach(&q); break;
		case Twalk: do_walk(&q); break;
		case Tgetattr: do_getattr(&q); break;
		case Tsetattr: do_setattr(&q); break;
		case Tlopen: do_lopen(&q); break;
		case Tlcreate: do_lcreate(&q); break;
		case Tread: do_read(&q); break;
		case Twrite: do_write(&q); break;
		case Treaddir: do_readdir(&q); break;
		case Tmkdir:
		case Tsymlink: make_in_dir(&q, type); break;
		case Treadlink: do_readlink(&q); break;
		case Tunlinkat: do_unlinkat(&q); break;
		case Trenameat: do_renameat(&q); break;
		case Trename: do_rename(&q); break;
		case Tlink: do_link(&q); break;
		case Tremove: do_remove(&q); break;
		case Tstatfs: do_statfs(&q); break;
		case Tfsync: do_fsync(&q); break;
		case Tlock:
		case Tgetlock: do_lock(&q, type); break;
		case Tclunk: {
			struct p9_fid *f = need_fid(&q, (uint32_t)get(&q.r, 4));
			if (f) fid_drop(f);
			break;
		}
		case Tflush: break; /* requests are served in order: nothing is in flight to cancel */
		case Tmknod:
			q.err = s->readonly ? EROFS : EPERM;
			break; /* no device nodes, FIFOs or sockets */
		case Txattrwalk:
		case Txattrcreate:
		case Tauth: q.err = EOPNOTSUPP; break;
		default: q.err = EOPNOTSUPP; break;
		}
	if (!q.err && q.r.bad) q.err = EPROTO;
	if (!q.err && q.w.full) q.err = ENOBUFS;
	if (q.err) {
		s->errors++;
		q.w.pos = HDR;
		q.w.full = false;
		put(&q.w, (uint32_t)q.err, 4);
		type = Tlerror;
	}
	out[0] = (uint8_t)q.w.pos, out[1] = (uint8_t)(q.w.pos >> 8), out[2] = (uint8_t)(q.w.pos >> 16),
	out[3] = (uint8_t)(q.w.pos >> 24);
	out[4] = (uint8_t)(type + 1);
	out[5] = (uint8_t)tag, out[6] = (uint8_t)(tag >> 8);
	return q.w.pos;
}

bool p9_server_open(struct p9_server *s, const char *dir, bool readonly, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		snprintf(err, errlen, "shared folder %s: %s", dir, strerror(errno));
		return false;
	}
	s->fids = calloc(P9_MAX_FIDS, sizeof(*s->fids));
	if (!s->fids) {
		close(s->root_fd);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	s->readonly = readonly;
	s->msize = P9_MIN_MSIZE;
	return true;
}

void p9_server_close(struct p9_server *s)
{
	if (!s->fids) return;
	p9_server_reset(s);
	free(s->fids);
	s->fids = NULL;
	close(s->root_fd);
}
