/*
 * test_p9.c — the 9P2000.L server (fs/p9.c) over a scratch directory, driven
 * by hand-built messages as Linux's client sends them: version and attach,
 * walks, attributes, reading a file and a directory, creating, writing,
 * renaming and removing; and the confinement: "..", symbolic links (to
 * absolute paths and upward), device nodes and FIFOs, names with '/', a
 * read-only share, malformed and truncated messages.
 */
#include "check.h"
#include "fs/p9.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char root[128], share[160];
static struct p9_server srv;
static uint8_t msg[1 << 16], reply[1 << 17];
static size_t mlen, rlen;

/* Builds a message: fmt letters 1 2 4 8 (integers), s (string), d (raw bytes: pointer, length). */
static void build(uint8_t type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mlen = 7;
	for (const char *f = fmt; *f; f++) {
		if (*f == 's') {
			const char *s = va_arg(ap, const char *);
			uint16_t n = (uint16_t)strlen(s);
			memcpy(msg + mlen, &n, 2);
			memcpy(msg + mlen + 2, s, n);
			mlen += 2u + n;
		} else if (*f == 'd') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			memcpy(msg + mlen, p, n);
			mlen += n;
		} else {
			unsigned n = (unsigned)(*f - '0');
			uint64_t v = va_arg(ap, uint64_t);
			memcpy(msg + mlen, &v, n);
			mlen += n;
		}
	}
	va_end(ap);
	uint32_t size = (uint32_t)mlen;
	memcpy(msg, &size, 4);
	msg[4] = type;
	msg[5] = 0x34, msg[6] = 0x12;
}

/* Sends it; the reply's type (its payload at reply + 7). */
static unsigned send(void)
{
	rlen = p9_handle(&srv, msg, mlen, reply, sizeof(reply));
	CHECK(rlen >= 7);
	uint32_t size;
	memcpy(&size, reply, 4);
	CHECK_EQ(size, rlen);
	CHECK(reply[5] == 0x34 && reply[6] == 0x12);
	return reply[4];
}

static uint32_t u32at(size_t off)
{
	uint32_t v;
	memcpy(&v, reply + off, 4);
	return v;
}

/* The errno of an Rlerror, or 0 when the reply is not one. */
static uint32_t lerror(void)
{
	return reply[4] == 7 ? u32at(7) : 0;
}

#define N(x) ((uint64_t)(x))

static void attach(uint32_t fid)
{
	build(100, "4s", N(1 << 20), "9P2000.L");
	CHECK_EQ(send(), 101);
	CHECK_EQ(u32at(7), P9_MAX_MSIZE); /* what we can take, not the client's megabyte */
	build(104, "44ss4", N(fid), N(0xffffffff), "root", "", N(0));
	CHECK_EQ(send(), 105);
	CHECK_EQ(reply[7], 0x80); /* a directory */
}

static unsigned walk(uint32_t fid, uint32_t newfid, const char *a, const char *b)
{
	if (b)
		build(110, "442ss", N(fid), N(newfid), N(2), a, b);
	else if (a)
		build(110, "442s", N(fid), N(newfid), N(1), a);
	else
		build(110, "442", N(fid), N(newfid), N(0));
	return send();
}

static void clunk(uint32_t fid)
{
	build(120, "4", N(fid));
	CHECK_EQ(send(), 121);
}

static void setup_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/test-p9-%d", (int)getpid());
	snprintf(share, sizeof(share), "%s/share", root);
	char p[256];
	mkdir(root, 0755);
	mkdir(share, 0755);
	snprintf(p, sizeof(p), "%s/secret", root);
	FILE *f = fopen(p, "w");
	fputs("outside\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/hello.txt", share);
	f = fopen(p, "w");
	fputs("hello, guest\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/sub", share);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/abs-link", share);
	CHECK(symlink("/etc/passwd", p) == 0);
	snprintf(p, sizeof(p), "%s/up-link", share);
	CHECK(symlink("../secret", p) == 0);
	snprintf(p, sizeof(p), "%s/fifo", share);
	CHECK(mkfifo(p, 0644) == 0);
	snprintf(p, sizeof(p), "%s/null", share);
	mknod(p, S_IFCHR | 0666, makedev(1, 3)); /* root only: the check below skips it otherwise */
}

static void test_read_and_list(void)
{
	char err[256];
	CHECK(p9_server_open(&srv, share, false, err, sizeof(err)));
	attach(1);
	CHECK_EQ(walk(1, 2, "hello.txt", NULL), 111);
	CHECK_EQ(reply[7] | reply[8] << 8, 1);
	build(24, "48", N(2), N(0x7ff));
	CHECK_EQ(send(), 25);
	uint64_t size;
	memcpy(&size, reply + 7 + 8 + 13 + 4 + 4 + 4 + 8 + 8, 8);
	CHECK_EQ(size, 13);
	build(12, "44", N(2), N(0)); /* O_RDONLY */
	CHECK_EQ(send(), 13);
	build(116, "484", N(2), N(0), N(100));
	CHECK_EQ(send(), 117);
	CHECK_EQ(u32at(7), 13);
	CHECK(!memcmp(reply + 11, "hello, guest\n", 13));
	/* A walk from an opened fid is refused. */
	CHECK_EQ(walk(2, 3, "x", NULL), 7);
	clunk(2);
	/* The directory, in two small reads: every entry once. */
	CHECK_EQ(walk(1, 4, NULL, NULL), 111);
	build(12, "44", N(4), N(0200000));
	CHECK_EQ(send(), 13);
	uint64_t off = 0;
	unsigned entries = 0, rounds = 0;
	bool saw_hello = false, saw_sub = false;
	for (;;) {
		build(40, "484", N(4), off, N(64));
		CHECK_EQ(send(), 41);
		uint32_t count = u32at(7);
		if (!count || ++rounds > 50) break;
		for (size_t at = 11; at < 11 + count;) {
			uint16_t n;
			memcpy(&off, reply + at + 13, 8);
			memcpy(&n, reply + at + 22, 2);
			saw_hello |= n == 9 && !memcmp(reply + at + 24, "hello.txt", 9);
			saw_sub |= n == 3 && !memcmp(reply + at + 24, "sub", 3);
			at += 24u + n;
			entries++;
		}
	}
	CHECK(saw_hello && saw_sub);
	CHECK(entries >= 7 && entries <= 9); /* ., .., and the share's 5 or 6 */
	clunk(4);
	/* statfs answers. */
	build(8, "4", N(1));
	CHECK_EQ(send(), 9);
	p9_server_close(&srv);
}

static void test_confinement(void)
{
	char err[256];
	CHECK(p9_server_open(&srv, share, false, err, sizeof(err)));
	attach(1);
	/* ".." at the root stays at the root: the walk succeeds and names the share itself. */
	CHECK_EQ(walk(1, 2, "..", "secret"), 111); /* partial: ".." answered, "secret" not found */
	CHECK_EQ(reply[7] | reply[8] << 8, 1);
	CHECK_EQ(walk(2, 3, NULL, NULL), 7); /* and no fid 2 was made */
	CHECK_EQ(walk(1, 2, "sub", ".."), 111);
	CHECK_EQ(walk(2, 3, "..", NULL), 111);
	clunk(2);
	clunk(3);
	/* Links are walked to as links, never through. */
	CHECK_EQ(walk(1, 2, "abs-link", NULL), 111);
	CHECK_EQ(reply[9], 0x02); /* QTSYMLINK */
	build(22, "4", N(2));
	CHECK_EQ(send(), 23);
	CHECK(!memcmp(reply + 9, "/etc/passwd", 11)); /* the guest may read the link itself */
	build(12, "44", N(2), N(0));
	CHECK_EQ(send(), 7);                       /* and cannot open it */
	CHECK_EQ(walk(1, 3, "up-link", "x"), 111); /* partial: only the link's own qid */
	CHECK_EQ(reply[7] | reply[8] << 8, 1);
	CHECK_EQ(walk(3, 4, "x", NULL), 7);
	clunk(2);
	/* Names with '/' and "." are refused. */
	CHECK_EQ(walk(1, 2, "sub/../..", NULL), 7);
	CHECK_EQ(lerror(), EINVAL);
	build(14, "4s444", N(1), "../escape", N(0101), N(0644), N(0));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EINVAL);
	char p[256];
	snprintf(p, sizeof(p), "%s/escape", root);
	CHECK(access(p, F_OK) != 0);
	/* FIFOs and device nodes are never opened; mknod is refused. */
	CHECK_EQ(walk(1, 2, "fifo", NULL), 111);
	build(12, "44", N(2), N(0));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EACCES);
	clunk(2);
	snprintf(p, sizeof(p), "%s/null", share);
	if (access(p, F_OK) == 0) {
		CHECK_EQ(walk(1, 2, "null", NULL), 111);
		build(12, "44", N(2), N(2));
		CHECK_EQ(send(), 7);
		clunk(2);
	}
	build(18, "4s4444", N(1), "dev", N(S_IFCHR | 0666), N(1), N(3), N(0));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EPERM);
	/* A symlink created by the guest pointing out is just a link on the host; following it is the
	 * guest's own business, inside its own view. */
	build(16, "4ss4", N(1), "mine", "/etc/shadow", N(0));
	CHECK_EQ(send(), 17);
	CHECK_EQ(walk(1, 2, "mine", NULL), 111);
	build(12, "44", N(2), N(0));
	CHECK_EQ(send(), 7);
	clunk(2);
	p9_server_close(&srv);
}

static void test_create_write_rename_remove(void)
{
	char err[256], p[256];
	CHECK(p9_server_open(&srv, share, false, err, sizeof(err)));
	attach(1);
	CHECK_EQ(walk(1, 2, "sub", NULL), 111);
	/* lcreate: the fid becomes the new, open file; setuid is dropped. */
	build(14, "4s444", N(2), "new.bin", N(0102), N(04755), N(0));
	CHECK_EQ(send(), 15);
	static uint8_t data[40000];
	for (size_t i = 0; i < sizeof(data); i++) data[i] = (uint8_t)(i * 7);
	build(118, "484d", N(2), N(0), N(sizeof(data)), data, sizeof(data));
	CHECK_EQ(send(), 119);
	CHECK_EQ(u32at(7), sizeof(data));
	build(50, "44", N(2), N(0));
	CHECK_EQ(send(), 51);
	clunk(2);
	snprintf(p, sizeof(p), "%s/sub/new.bin", share);
	struct stat st;
	CHECK(stat(p, &st) == 0);
	CHECK_EQ(st.st_size, sizeof(data));
	CHECK_EQ(st.st_mode & 07777, 0755);
	/* mkdir, renameat, setattr (truncate, mode), unlinkat. */
	build(72, "4s44", N(1), "dir2", N(0700), N(0));
	CHECK_EQ(send(), 73);
	build(74, "4s4s", N(1), "sub", N(1), "sub2");
	CHECK_EQ(send(), 75);
	CHECK_EQ(walk(1, 3, "sub2", "new.bin"), 111);
	build(26, "4444488888", N(3), N(0x1 | 0x8), N(06640), N(0), N(0), N(100), N(0), N(0), N(0), N(0));
	CHECK_EQ(send(), 27);
	CHECK_EQ(lerror(), 0);
	snprintf(p, sizeof(p), "%s/sub2/new.bin", share);
	CHECK(stat(p, &st) == 0);
	CHECK_EQ(st.st_size, 100);
	CHECK_EQ(st.st_mode & 07777, 0640);
	clunk(3);
	CHECK_EQ(walk(1, 3, "sub2", NULL), 111);
	build(76, "4s4", N(3), "new.bin", N(0));
	CHECK_EQ(send(), 77);
	CHECK(stat(p, &st) != 0);
	build(76, "4s4", N(1), "sub2", N(0x200));
	CHECK_EQ(send(), 77);
	build(76, "4s4", N(1), "dir2", N(0x200));
	CHECK_EQ(send(), 77);
	clunk(3);
	/* Bad fids, a clunked fid, an attach on a fid in use. */
	build(24, "48", N(99), N(0x7ff));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EBADF);
	build(104, "44ss4", N(1), N(0xffffffff), "root", "", N(0));
	CHECK_EQ(send(), 7);
	p9_server_close(&srv);
}

static void test_readonly_and_malformed(void)
{
	char err[256];
	CHECK(p9_server_open(&srv, share, true, err, sizeof(err)));
	attach(1);
	CHECK_EQ(walk(1, 2, "hello.txt", NULL), 111);
	build(12, "44", N(2), N(2)); /* O_RDWR */
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EROFS);
	build(12, "44", N(2), N(0));
	CHECK_EQ(send(), 13);
	build(118, "484d", N(2), N(0), N(3), "abc", (size_t)3);
	CHECK_EQ(send(), 7);
	build(72, "4s44", N(1), "d", N(0700), N(0));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EROFS);
	build(76, "4s4", N(1), "hello.txt", N(0));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EROFS);
	/* Truncated and inconsistent messages get Rlerror; too short for a header gets nothing. */
	build(110, "442", N(1), N(5), N(3)); /* three names promised, none given */
	CHECK_EQ(send(), 7);
	build(24, "", 0);
	CHECK_EQ(send(), 7);
	uint8_t junk[7] = {0xff, 0xff, 0xff, 0x7f, 24, 1, 2}; /* size larger than what arrived */
	CHECK_EQ(p9_handle(&srv, junk, sizeof(junk), reply, sizeof(reply)), 11);
	CHECK_EQ(p9_handle(&srv, junk, 3, reply, sizeof(reply)), 0);
	build(110, "442", N(1), N(5), N(200)); /* more names than the protocol allows */
	CHECK_EQ(send(), 7);
	build(250, "4", N(1));
	CHECK_EQ(send(), 7);
	CHECK_EQ(lerror(), EOPNOTSUPP);
	/* A read asking for more than the message size gets what fits. */
	build(116, "484", N(2), N(0), N(0xffffffff));
	CHECK_EQ(send(), 117);
	CHECK_EQ(u32at(7), 13);
	p9_server_close(&srv);
	CHECK(!p9_server_open(&srv, "/nonexistent/dir", false, err, sizeof(err)));
}

static void cleanup(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(setup_tree, test_read_and_list, test_confinement, test_create_write_rename_remove,
          test_readonly_and_malformed, cleanup)
