/*
 * test_delta.c — disk deltas (block/delta.h): the marked blocks of two disks
 * written and applied reproduce them (zero blocks as holes, a short last
 * block); an unmarked change is not carried; truncated, reordered and
 * trailing-garbage deltas are refused and change nothing.
 */
#include "check.h"

#include "block/delta.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BS 4096

static char dir[64];

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) return NULL;
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	*len = (size_t)read(fd, buf, (size_t)st.st_size);
	close(fd);
	return buf;
}

static void test_round_trip(void)
{
	char a[128], b[128], delta[128], replica[128], err[256];
	snprintf(a, sizeof(a), "%s/a.raw", dir);
	snprintf(b, sizeof(b), "%s/b.raw", dir);
	snprintf(delta, sizeof(delta), "%s/d.delta", dir);
	size_t alen = 5 * BS + 512; /* a short last block */
	uint8_t *da = calloc(1, alen), *db = calloc(1, 3 * BS);
	for (size_t i = 0; i < alen; i++) da[i] = (uint8_t)(i * 7 + 1);
	memset(da + BS, 0, BS); /* block 1 reads as zeros */
	memset(db + 2 * BS, 0xab, BS);
	write_file(a, da, alen);
	write_file(b, db, 3 * BS);
	struct block_backend *disks[2] = {block_open(a, "raw", BLOCK_OPEN_NO_LOCK, err, sizeof(err)),
	                                  block_open(b, "raw", BLOCK_OPEN_NO_LOCK, err, sizeof(err))};
	CHECK(disks[0] && disks[1]);
	struct delta_stats st;
	CHECK(delta_write(delta, disks, NULL, NULL, 2, BS, &st, err, sizeof(err)));
	CHECK_EQ(st.blocks, 6 + 3);
	CHECK_EQ(st.zero_blocks, 1 + 2);
	CHECK(delta_apply(delta, dir, &st, err, sizeof(err)));
	size_t len = 0;
	snprintf(replica, sizeof(replica), "%s/disk0.raw", dir);
	uint8_t *r = read_file(replica, &len);
	CHECK(r && len == alen && !memcmp(r, da, alen));
	free(r);
	snprintf(replica, sizeof(replica), "%s/disk1.raw", dir);
	r = read_file(replica, &len);
	CHECK(r && len == 3 * BS && !memcmp(r, db, 3 * BS));
	free(r);
	/* Only marked blocks travel: block 3 of disk 0 changes, but only block 4 is marked. */
	da[3 * BS] ^= 0xff;
	da[4 * BS] ^= 0xff;
	CHECK(block_pwrite(disks[0], da + 3 * BS, 2 * BS, 3 * BS) == 0);
	uint64_t map0 = 1u << 4, map1 = 0;
	uint64_t *maps[2] = {&map0, &map1};
	size_t nb[2] = {6, 3};
	CHECK(delta_write(delta, disks, maps, nb, 2, BS, &st, err, sizeof(err)));
	CHECK_EQ(st.blocks, 1);
	CHECK(delta_apply(delta, dir, &st, err, sizeof(err)));
	snprintf(replica, sizeof(replica), "%s/disk0.raw", dir);
	r = read_file(replica, &len);
	CHECK(r && r[4 * BS] == da[4 * BS] && r[3 * BS] != da[3 * BS]);
	uint8_t *before = r;
	/* Malformed deltas change nothing. */
	size_t dlen = 0;
	uint8_t *d = read_file(delta, &dlen);
	struct {
		size_t cut;
		const char *what;
	} bad[] = {{dlen - 1, "trailer"}, {dlen - 9, "trailer"}, {30, "truncated"}, {10, "not a"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(delta, d, bad[i].cut);
		CHECK(!delta_apply(delta, dir, &st, err, sizeof(err)));
		CHECK(strstr(err, bad[i].what) != NULL || strstr(err, "truncated") != NULL);
	}
	uint8_t *garbage = malloc(dlen + 3);
	memcpy(garbage, d, dlen);
	memcpy(garbage + dlen, "xyz", 3);
	CHECK(!delta_check(garbage, dlen + 3, err, sizeof(err)));
	d[24 + 8] = 9; /* the entry's kind */
	CHECK(!delta_check(d, dlen, err, sizeof(err)));
	r = read_file(replica, &len);
	CHECK(r && !memcmp(r, before, len));
	free(r);
	free(before);
	free(d);
	free(garbage);
	block_close(disks[0]);
	block_close(disks[1]);
	free(da);
	free(db);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cloison-delta-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

TEST_MAIN(setup, test_round_trip)
