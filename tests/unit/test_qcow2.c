/*
 * test_qcow2.c — the qcow2 driver against a model: random writes, zeroes,
 * discards and reopens mirrored on a flat buffer, over every cluster size
 * class, refcount width and both versions, with and without a backing file.
 * After each run our checker and (when installed) `qemu-img check` must
 * find nothing, `qemu-img compare` must see the model's bytes, and the
 * backing file must be untouched. Also: malformed headers are refused.
 */
#define _GNU_SOURCE
#include "check.h"

#include "block/block.h"
#include "block/image_ops.h"
#include "block/qcow2.h"
#include "block/qcow2_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/cloison-qcow2-XXXXXX";
static bool have_qemu_img;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void path_of(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", dir, name);
}

static struct block_backend *open_img(const char *path, const char *fmt, unsigned flags)
{
	char err[512];
	struct block_backend *b = block_open(path, fmt, flags, err, sizeof(err));
	if (!b) fprintf(stderr, "open %s: %s\n", path, err);
	return b;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void check_clean(const char *path)
{
	struct block_backend *b =
	    open_img(path, "qcow2", BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING | QCOW2_OPEN_FOR_CHECK);
	CHECK(b != NULL);
	if (!b) return;
	struct qcow2_check_result r;
	CHECK_EQ(qcow2_check(b, 0, &r, NULL, NULL, NULL), 0);
	CHECK_EQ(r.corruptions, 0);
	CHECK_EQ(r.leaks, 0);
	CHECK_EQ(r.check_errors, 0);
	block_close(b);
	if (have_qemu_img) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "qemu-img check -q '%s'", path);
		CHECK_EQ(sh(cmd), 0);
	}
}

/* Random operations on `img` mirrored in `model` (which starts as the image's content). */
static void exercise(const char *img, uint8_t *model, uint64_t size, unsigned cluster, int rounds)
{
	struct block_backend *b = open_img(img, "qcow2", 0);
	CHECK(b != NULL);
	if (!b) return;
	uint8_t *buf = malloc(4 * cluster + 8192);
	for (int i = 0; i < rounds; i++) {
		uint64_t op = rnd() % 100;
		uint64_t len = 512 * (1 + rnd() % ((4 * cluster + 4096) / 512));
		if (len > size) len = size;
		uint64_t off = 512 * (rnd() % ((size - len) / 512 + 1));
		if (op < 45) {
			for (uint64_t j = 0; j < len; j++) buf[j] = (uint8_t)rnd();
			CHECK_EQ(block_pwrite(b, buf, len, off), 0);
			memcpy(model + off, buf, len);
		} else if (op < 80) {
			CHECK_EQ(block_pread(b, buf, len, off), 0);
			if (memcmp(buf, model + off, len)) {
				CHECK(!"read differs from the model");
				break;
			}
		} else if (op < 88) {
			CHECK_EQ(b->drv->write_zeroes(b, off, len), 0);
			memset(model + off, 0, len);
		} else if (op < 94) {
			/* Discard: content afterwards is unspecified; the model takes whatever the image
			 * shows. */
			CHECK_EQ(b->drv->discard(b, off, len), 0);
			CHECK_EQ(block_pread(b, model + off, len, off), 0);
		} else if (op < 97) {
			CHECK_EQ(b->drv->flush(b), 0);
		} else {
			block_close(b);
			b = open_img(img, "qcow2", 0);
			CHECK(b != NULL);
			if (!b) break;
		}
	}
	if (b) {
		/* Everything, in large reads. */
		for (uint64_t off = 0; off < size; off += 4 * cluster) {
			uint64_t len = size - off < 4 * cluster ? size - off : 4 * cluster;
			CHECK_EQ(block_pread(b, buf, len, off), 0);
			if (memcmp(buf, model + off, len)) {
				CHECK(!"final read differs from the model");
				break;
			}
		}
		block_close(b);
	}
	free(buf);
}

static void compare_with_qemu(const char *img, const uint8_t *model, uint64_t size)
{
	if (!have_qemu_img) return;
	char raw[256], cmd[700];
	path_of(raw, "model.raw");
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, model, size) == (ssize_t)size);
	close(fd);
	snprintf(cmd, sizeof(cmd), "qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, img);
	CHECK_EQ(sh(cmd), 0);
	unlink(raw);
}

static void run_config(unsigned cluster_bits, unsigned refcount_order, unsigned version, bool with_backing,
                       const char *backing_fmt)
{
	uint64_t cluster = 1ULL << cluster_bits;
	uint64_t size = (cluster_bits <= 12 ? 3ULL << 20 : 24ULL << 20) + 3 * 512; /* not cluster-aligned */
	char img[256], base[256];
	path_of(img, "t.qcow2");
	path_of(base, backing_fmt && !strcmp(backing_fmt, "raw") ? "base.raw" : "base.qcow2");
	unlink(img);
	unlink(base);
	uint8_t *model = calloc(1, size);
	uint8_t *base_copy = NULL;
	char err[512];
	if (with_backing) {
		/* A base with data, a hole and a tail shorter than the overlay. */
		uint64_t bsize = size - 5 * cluster;
		if (!strcmp(backing_fmt, "raw")) {
			int fd = open(base, O_RDWR | O_CREAT | O_TRUNC, 0644);
			CHECK(fd >= 0 && ftruncate(fd, (off_t)bsize) == 0);
			close(fd);
		} else {
			struct qcow2_create_opts bo = {.size = bsize, .cluster_bits = cluster_bits};
			CHECK_EQ(qcow2_create(base, &bo, err, sizeof(err)), 0);
		}
		struct block_backend *bb = open_img(base, backing_fmt, 0);
		CHECK(bb != NULL);
		if (!bb) return;
		uint8_t *tmp = malloc(bsize);
		for (uint64_t j = 0; j < bsize; j++) tmp[j] = (j / cluster) % 3 == 1 ? 0 : (uint8_t)rnd();
		for (uint64_t off = 0; off < bsize; off += cluster)
			if ((off / cluster) % 3 != 1)
				CHECK_EQ(block_pwrite(bb, tmp + off,
				                      cluster < bsize - off ? cluster : bsize - off, off),
				         0);
		block_close(bb);
		memcpy(model, tmp, bsize);
		base_copy = tmp;
	}
	struct qcow2_create_opts o = {.size = size,
	                              .cluster_bits = cluster_bits,
	                              .version = version,
	                              .refcount_order = refcount_order,
	                              .backing = with_backing ? strrchr(base, '/') + 1 : NULL,
	                              .backing_format = backing_fmt};
	CHECK_EQ(qcow2_create(img, &o, err, sizeof(err)), 0);
	check_clean(img);
	exercise(img, model, size, (unsigned)cluster, cluster_bits <= 12 ? 1500 : 600);
	check_clean(img);
	compare_with_qemu(img, model, size);
	if (with_backing) {
		/* The base is never written through an overlay. */
		struct block_backend *bb = open_img(base, backing_fmt, BLOCK_OPEN_READONLY);
		uint64_t bsize = bb ? bb->size : 0;
		uint8_t *now = malloc(bsize + 1);
		CHECK(bb && block_pread(bb, now, bsize, 0) == 0 && memcmp(now, base_copy, bsize) == 0);
		free(now);
		block_close(bb);
		free(base_copy);
	}
	free(model);
}

static void test_configurations(void)
{
	static const struct {
		unsigned cb, ro, ver;
		bool backing;
		const char *bfmt;
	} cfgs[] = {
	    {16, 4, 3, false, NULL},   {16, 4, 3, true, "qcow2"}, {16, 4, 3, true, "raw"},
	    {16, 4, 2, true, "qcow2"}, {9, 0, 3, false, NULL},    {9, 6, 3, true, "qcow2"},
	    {12, 1, 3, false, NULL},   {12, 5, 2, false, NULL},   {21, 3, 3, true, "raw"},
	};
	for (unsigned i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		unsigned before = check_failures;
		run_config(cfgs[i].cb, cfgs[i].ro, cfgs[i].ver, cfgs[i].backing, cfgs[i].bfmt);
		if (check_failures != before)
			fprintf(stderr, "  in config: cluster_bits=%u refcount_order=%u v%u backing=%s\n",
			        cfgs[i].cb, cfgs[i].ro, cfgs[i].ver, cfgs[i].backing ? cfgs[i].bfmt : "none");
	}
}

/* A file written by qemu-img (compressed clusters included) reads back byte for byte. */
static void test_reads_qemu_images(void)
{
	if (!have_qemu_img) return;
	char raw[256], q[256], cmd[1024];
	path_of(raw, "src.raw");
	path_of(q, "qemu.qcow2");
	unlink(q);
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint64_t size = 8 << 20;
	uint8_t *data = calloc(1, size);
	for (uint64_t j = 0; j < size; j++)
		data[j] = (j >> 16) % 4 == 0   ? (uint8_t)(j * 7 / 13)
		          : (j >> 16) % 4 == 1 ? (uint8_t)rnd()
		                               : 0;
	CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -c -f raw -O qcow2 '%s' '%s'", raw, q);
	CHECK_EQ(sh(cmd), 0);
	struct block_backend *b = open_img(q, "qcow2", BLOCK_OPEN_READONLY);
	CHECK(b != NULL);
	if (b) {
		uint8_t *got = malloc(size);
		CHECK_EQ(block_pread(b, got, size, 0), 0);
		CHECK(memcmp(got, data, size) == 0);
		free(got);
		block_close(b);
	}
	/* Writing over compressed clusters re-allocates them and frees the old ones. */
	b = open_img(q, "qcow2", 0);
	if (b) {
		uint8_t blk[4096];
		memset(blk, 0x5a, sizeof(blk));
		CHECK_EQ(block_pwrite(b, blk, sizeof(blk), 12345 * 512), 0);
		memcpy(data + 12345 * 512, blk, sizeof(blk));
		block_close(b);
	}
	check_clean(q);
	compare_with_qemu(q, data, size);
	free(data);
	unlink(raw);
}

/* commit and rebase through image_ops. */
static void test_commit_and_rebase(void)
{
	char base[256], top[256], err[512];
	path_of(base, "cbase.qcow2");
	path_of(top, "ctop.qcow2");
	unlink(base);
	unlink(top);
	uint64_t size = 4 << 20;
	struct qcow2_create_opts bo = {.size = size};
	CHECK_EQ(qcow2_create(base, &bo, err, sizeof(err)), 0);
	struct qcow2_create_opts to = {.size = size, .backing = "cbase.qcow2", .backing_format = "qcow2"};
	CHECK_EQ(qcow2_create(top, &to, err, sizeof(err)), 0);
	uint8_t a[8192], b2[8192];
	memset(a, 0xab, sizeof(a));
	struct block_backend *t = open_img(top, "qcow2", 0);
	CHECK(t && block_pwrite(t, a, sizeof(a), 65536 + 512) == 0);
	block_close(t);
	t = open_img(top, "qcow2", BLOCK_OPEN_NO_BACKING);
	struct block_backend *bs = open_img(base, "qcow2", 0);
	CHECK(t && bs);
	if (!t || !bs) return;
	CHECK_EQ(image_commit(t, bs, false, NULL, NULL), 0);
	block_close(t);
	CHECK(block_pread(bs, b2, sizeof(b2), 65536 + 512) == 0 && !memcmp(a, b2, sizeof(a)));
	block_close(bs);
	check_clean(base);
	check_clean(top);
	/* The emptied overlay maps nothing and still shows the data, now from the base. */
	t = open_img(top, "qcow2", 0);
	uint64_t n;
	CHECK(t && t->drv->block_status(t, 0, size, &n) == 0 && n == size);
	CHECK(t && block_pread(t, b2, sizeof(b2), 65536 + 512) == 0 && !memcmp(a, b2, sizeof(a)));
	/* Rebase onto nothing: the overlay copies what it showed and stands alone. */
	CHECK(t && image_rebase(t, NULL, NULL, NULL) == 0 && qcow2_set_backing(t, NULL, NULL) == 0);
	block_close(t);
	unlink(base);
	t = open_img(top, "qcow2", 0);
	CHECK(t && block_pread(t, b2, sizeof(b2), 65536 + 512) == 0 && !memcmp(a, b2, sizeof(a)));
	block_close(t);
	check_clean(top);
}

static void test_grow(void)
{
	char img[256], err[512];
	path_of(img, "grow.qcow2");
	unlink(img);
	struct qcow2_create_opts o = {.size = 1 << 20, .cluster_bits = 9}; /* 1 L1 entry maps 32 KiB */
	CHECK_EQ(qcow2_create(img, &o, err, sizeof(err)), 0);
	struct block_backend *b = open_img(img, "qcow2", 0);
	CHECK(b != NULL);
	if (!b) return;
	uint8_t x[512];
	memset(x, 0x77, sizeof(x));
	CHECK_EQ(block_pwrite(b, x, sizeof(x), 4096), 0);
	CHECK_EQ(b->drv->resize(b, 64 << 20), 0);
	CHECK_EQ(b->size, 64 << 20);
	CHECK_EQ(block_pwrite(b, x, sizeof(x), (64 << 20) - 512), 0);
	uint8_t y[512];
	CHECK(block_pread(b, y, sizeof(y), 4096) == 0 && !memcmp(x, y, 512));
	block_close(b);
	check_clean(img);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void test_malformed_headers(void)
{
	char img[256], err[512];
	path_of(img, "bad.qcow2");
	unlink(img);
	struct qcow2_create_opts o = {.size = 1 << 20};
	CHECK_EQ(qcow2_create(img, &o, err, sizeof(err)), 0);
	static uint8_t good[4 * 65536];
	int fd = open(img, O_RDONLY);
	CHECK(fd >= 0 && read(fd, good, sizeof(good)) == (ssize_t)sizeof(good));
	close(fd);
	static uint8_t bad[sizeof(good)];
	struct {
		unsigned off;
		uint8_t val;
		const char *what;
	} muts[] = {
	    {20 + 3, 30, "cluster bits"},
	    {4 + 3, 9, "version"},
	    {36 + 0, 0x7f, "l1 size"},
	    {40 + 5, 0x33, "l1 offset"},
	    {48 + 7, 0x10, "refcount table offset"},
	    {56 + 0, 0x40, "refcount table clusters"},
	    {72 + 7, 0x20, "incompatible feature"},
	    {96 + 3, 9, "refcount order"},
	    {100 + 3, 3, "header length"},
	    {24 + 0, 0x7f, "size"},
	    {65536 + 7, 0x08, "refcount block pointer"},
	    {3 * 65536 + 6, 0x12, "L1 entry"},
	};
	for (unsigned i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		memcpy(bad, good, sizeof(good));
		bad[muts[i].off] = muts[i].val;
		write_file(img, bad, sizeof(bad));
		struct block_backend *b = block_open(img, "qcow2", 0, err, sizeof(err));
		if (b) fprintf(stderr, "mutation '%s' was accepted\n", muts[i].what);
		CHECK(b == NULL);
		block_close(b);
	}
	write_file(img, good, 50);
	CHECK(block_open(img, "qcow2", 0, err, sizeof(err)) == NULL);
	/* Without format=qcow2 a backing file is not followed; with NO_BACKING it reads as zeros. */
	char ov[256];
	path_of(ov, "ov.img");
	unlink(ov);
	write_file(img, good, sizeof(good));
	struct qcow2_create_opts to = {.size = 1 << 20, .backing = "bad.qcow2", .backing_format = "qcow2"};
	CHECK_EQ(qcow2_create(ov, &to, err, sizeof(err)), 0);
	CHECK(block_open(ov, NULL, 0, err, sizeof(err)) == NULL); /* not .qcow2: must say format */
	struct block_backend *b = block_open(ov, "qcow2", BLOCK_OPEN_NO_BACKING, err, sizeof(err));
	CHECK(b && b->backing == NULL);
	block_close(b);
	b = block_open(ov, "qcow2", 0, err, sizeof(err));
	CHECK(b && b->backing != NULL);
	/* A second writer is refused while the first holds the image. */
	CHECK(block_open(ov, "qcow2", 0, err, sizeof(err)) == NULL);
	block_close(b);
}

static void setup(void)
{
	CHECK(mkdtemp(dir) != NULL);
	have_qemu_img = sh("qemu-img --version >/dev/null 2>&1") == 0;
	if (!have_qemu_img) fprintf(stderr, "note: qemu-img not installed: interop checks skipped\n");
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ(sh(cmd), 0);
}

TEST_MAIN(setup, test_configurations, test_reads_qemu_images, test_commit_and_rebase, test_grow,
          test_malformed_headers, teardown)
