/*
 * test_virtio_blk.c — virtio-blk requests from a hostile or careless driver:
 * the device must answer with a status (IOERR/UNSUPP) or go NEEDS_RESET, and
 * never touch the image outside the request's checked range.
 * Guest RAM is a buffer; the image a temporary raw file; completions are
 * awaited by polling the used ring (the device's I/O thread pushes them).
 */
#define _GNU_SOURCE /* mkstemp */
#include "check.h"
#include "virtio/blk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BASE 0x80000000ULL
#define SIZE (1u << 20)
#define QSIZE 16
#define DESC (BASE + 0x1000)
#define AVAIL (BASE + 0x2000)
#define USED (BASE + 0x3000)
#define HDR (BASE + 0x8000)
#define DATA (BASE + 0x10000)
#define STATUS (BASE + 0x20000)
#define DISK_BYTES (64 * 1024)

static uint8_t *mem;
static struct guest_ram ram;
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static struct virtio_blk *blk;
static char image[64];
static uint16_t avail_idx, used_seen;

static void *at(uint64_t gpa)
{
	return mem + (gpa - BASE);
}
static void no_irq(void *o, bool level)
{
	(void)o, (void)level;
}
static void wr(uint64_t off, uint32_t v)
{
	pthread_mutex_lock(&io_lock);
	virtio_mmio_write(&blk->transport, off, 4, v);
	pthread_mutex_unlock(&io_lock);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = at(DESC + 16 * i);
	memcpy(d, &addr, 8), memcpy(d + 8, &len, 4), memcpy(d + 12, &flags, 2), memcpy(d + 14, &next, 2);
}

static void header(uint32_t type, uint64_t sector)
{
	memset(at(HDR), 0, 16);
	memcpy(at(HDR), &type, 4);
	memcpy(at(HDR + 8), &sector, 8);
}

/* Makes chain `head` available, notifies, waits for its completion; returns its status byte. */
static int submit(uint16_t head)
{
	*(uint8_t *)at(STATUS) = 0xee;
	memcpy(at(AVAIL + 4 + 2 * (avail_idx % QSIZE)), &head, 2);
	avail_idx++;
	memcpy(at(AVAIL + 2), &avail_idx, 2);
	wr(0x050, 0);
	for (int i = 0; i < 2000; i++) {
		uint16_t used;
		__atomic_load((uint16_t *)at(USED + 2), &used, __ATOMIC_ACQUIRE);
		if (used != used_seen) {
			used_seen = used;
			return *(uint8_t *)at(STATUS);
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return -1; /* no completion */
}

static void start(bool readonly)
{
	memset(mem, 0, SIZE);
	avail_idx = used_seen = 0;
	char err[256];
	struct block_backend *b =
	    block_open(image, "raw", readonly ? BLOCK_OPEN_READONLY : 0, err, sizeof(err));
	CHECK(b != NULL);
	blk = virtio_blk_create(b, &ram, &io_lock, "unit", 1, err, sizeof(err));
	CHECK(blk != NULL);
	blk->transport.set_irq = no_irq;
	wr(0x070, 1 | 2);
	wr(0x024, 1);
	wr(0x020, 1);
	wr(0x024, 0);
	wr(0x020, (1u << 9)); /* FLUSH */
	wr(0x070, 1 | 2 | 8);
	wr(0x030, 0);
	wr(0x038, QSIZE);
	wr(0x080, (uint32_t)DESC), wr(0x084, 0);
	wr(0x090, (uint32_t)AVAIL), wr(0x094, 0);
	wr(0x0a0, (uint32_t)USED), wr(0x0a4, 0);
	wr(0x044, 1);
	wr(0x070, 1 | 2 | 8 | 4);
}

static uint32_t status_reg(void)
{
	uint64_t v;
	virtio_mmio_read(&blk->transport, 0x070, 4, &v);
	return (uint32_t)v;
}

static void test_write_read_roundtrip(void)
{
	start(false);
	header(1 /* OUT */, 3);
	memset(at(DATA), 0x5a, 1024);
	set_desc(0, HDR, 16, 1, 1);
	set_desc(1, DATA, 1024, 1, 2);
	set_desc(2, STATUS, 1, 2, 0);
	CHECK_EQ(submit(0), 0);
	header(4 /* FLUSH */, 0);
	set_desc(0, HDR, 16, 1, 2);
	CHECK_EQ(submit(0), 0);
	memset(at(DATA), 0, 1024);
	header(0 /* IN */, 3);
	set_desc(0, HDR, 16, 1, 1);
	set_desc(1, DATA, 1024, 2 | 1, 2);
	CHECK_EQ(submit(0), 0);
	CHECK_EQ(*(uint8_t *)at(DATA + 1023), 0x5a);
	virtio_blk_destroy(blk);
}

static void test_bad_requests_get_errors(void)
{
	start(false);
	/* Beyond the end of the disk. */
	header(0, DISK_BYTES / 512);
	set_desc(0, HDR, 16, 1, 1);
	set_desc(1, DATA, 512, 2 | 1, 2);
	set_desc(2, STATUS, 1, 2, 0);
	CHECK_EQ(submit(0), 1 /* IOERR */);
	/* A sector count that overflows 64 bits when scaled. */
	header(0, 0xffffffffffffff00ULL);
	CHECK_EQ(submit(0), 1);
	/* Not a multiple of 512 bytes. */
	header(0, 0);
	set_desc(1, DATA, 100, 2 | 1, 2);
	CHECK_EQ(submit(0), 1);
	/* A read whose data buffer is device-readable (wrong direction). */
	set_desc(1, DATA, 512, 1, 2);
	CHECK_EQ(submit(0), 1);
	/* Header too short. */
	set_desc(0, HDR, 8, 1, 2);
	CHECK_EQ(submit(0), 1);
	/* Unknown request type. */
	header(77, 0);
	set_desc(0, HDR, 16, 1, 2);
	CHECK_EQ(submit(0), 2 /* UNSUPP */);
	CHECK_EQ(status_reg() & VIRTIO_STATUS_NEEDS_RESET, 0);
	/* No writable status byte at all: nothing to answer with, the device needs a reset. */
	set_desc(0, HDR, 16, 0, 0);
	CHECK_EQ(submit(0), -1);
	CHECK(status_reg() & VIRTIO_STATUS_NEEDS_RESET);
	virtio_blk_destroy(blk);
}

static void test_readonly(void)
{
	start(true);
	header(1, 0);
	set_desc(0, HDR, 16, 1, 1);
	set_desc(1, DATA, 512, 1, 2);
	set_desc(2, STATUS, 1, 2, 0);
	CHECK_EQ(submit(0), 1);
	header(11 /* DISCARD */, 0);
	CHECK_EQ(submit(0), 1);
	virtio_blk_destroy(blk);
	/* The image is untouched. */
	FILE *f = fopen(image, "rb");
	uint8_t buf[512];
	CHECK(f && fread(buf, 1, 512, f) == 512);
	CHECK_EQ(buf[0], 0);
	if (f) fclose(f);
}

static void setup(void)
{
	mem = calloc(1, SIZE);
	ram = (struct guest_ram){.host = mem, .base = BASE, .size = SIZE};
	snprintf(image, sizeof(image), "/tmp/cloison-blk-XXXXXX");
	int fd = mkstemp(image);
	CHECK(fd >= 0 && ftruncate(fd, DISK_BYTES) == 0);
	close(fd);
}

static void teardown(void)
{
	unlink(image);
}

TEST_MAIN(setup, test_write_read_roundtrip, test_bad_requests_get_errors, test_readonly, teardown)
