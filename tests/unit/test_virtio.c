/*
 * test_virtio.c — split virtqueues against a hostile driver, and the
 * virtio-mmio transport's rules (setup window, features, NEEDS_RESET).
 * Guest memory is a plain buffer; the "driver" writes rings by hand.
 */
#include "check.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "virtio/virtqueue.h"

#include <stdlib.h>
#include <string.h>

#define BASE 0x80000000ULL
#define SIZE (1u << 20)
#define QSIZE 8
#define DESC (BASE + 0x1000)
#define AVAIL (BASE + 0x2000)
#define USED (BASE + 0x3000)
#define BUF (BASE + 0x10000)

static uint8_t *mem;
static struct guest_ram ram;
static struct virtq q;
static struct virtq_chain chain;

static void *at(uint64_t gpa)
{
	return mem + (gpa - BASE);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = at(DESC + 16 * i);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void make_avail(uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, at(AVAIL + 2), 2);
	memcpy(at(AVAIL + 4 + 2 * (idx % QSIZE)), &head, 2);
	idx++;
	memcpy(at(AVAIL + 2), &idx, 2);
}

static void reset(void)
{
	memset(mem, 0, SIZE);
	virtq_reset(&q);
	q.size = QSIZE;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.ready = true;
}

static int pop(const char **why)
{
	*why = "";
	return virtq_pop(&q, &ram, &chain, why);
}

static void test_normal_chain(void)
{
	reset();
	CHECK(virtq_rings_valid(&q, &ram));
	const char *why;
	CHECK_EQ(pop(&why), VIRTQ_EMPTY);
	set_desc(0, BUF, 16, 1 /* NEXT */, 1);
	set_desc(1, BUF + 0x100, 512, 2 /* WRITE */, 0);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_GOT);
	CHECK_EQ(chain.head, 0);
	CHECK_EQ(chain.nsegs, 2);
	CHECK_EQ(chain.out_bytes, 16);
	CHECK_EQ(chain.in_bytes, 512);
	CHECK(chain.segs[0].host == at(BUF) && !chain.segs[0].device_writes);
	CHECK(chain.segs[1].host == at(BUF + 0x100) && chain.segs[1].device_writes);
	CHECK_EQ(pop(&why), VIRTQ_EMPTY);
	virtq_push(&q, &ram, 0, 512);
	uint16_t used_idx;
	uint32_t id, len;
	memcpy(&used_idx, at(USED + 2), 2);
	memcpy(&id, at(USED + 4), 4);
	memcpy(&len, at(USED + 8), 4);
	CHECK_EQ(used_idx, 1);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 512);
}

static void test_indirect(void)
{
	reset();
	const char *why;
	uint64_t table = BASE + 0x4000;
	set_desc(0, table, 32, 4 /* INDIRECT */, 0);
	uint8_t *t = at(table);
	uint64_t a0 = BUF, a1 = BUF + 64;
	uint32_t l0 = 8, l1 = 64;
	uint16_t f0 = 1, f1 = 2, n0 = 1, n1 = 0;
	memcpy(t, &a0, 8), memcpy(t + 8, &l0, 4), memcpy(t + 12, &f0, 2), memcpy(t + 14, &n0, 2);
	memcpy(t + 16, &a1, 8), memcpy(t + 24, &l1, 4), memcpy(t + 28, &f1, 2), memcpy(t + 30, &n1, 2);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_GOT);
	CHECK_EQ(chain.nsegs, 2);
	CHECK_EQ(chain.in_bytes, 64);

	/* An indirect table that itself holds an indirect descriptor. */
	reset();
	set_desc(0, table, 16, 4, 0);
	uint16_t ind = 4;
	memcpy(t + 12, &ind, 2);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	CHECK(strstr(why, "indirect") != NULL);

	/* Table length not a multiple of 16. */
	reset();
	set_desc(0, table, 24, 4, 0);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
}

static void test_hostile_chains(void)
{
	const char *why;
	/* A loop: 0 -> 1 -> 0. */
	reset();
	set_desc(0, BUF, 8, 1, 1);
	set_desc(1, BUF, 8, 1, 0);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	CHECK(strstr(why, "loop") != NULL);
	/* next beyond the table. */
	reset();
	set_desc(0, BUF, 8, 1, QSIZE);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	/* Head beyond the queue. */
	reset();
	make_avail(QSIZE + 3);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	/* Buffer straddling the end of RAM, and one far outside it. */
	reset();
	set_desc(0, BASE + SIZE - 4, 8, 0, 0);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	reset();
	set_desc(0, 0xfffffffffffff000ULL, 0xffffffff, 2, 0);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	/* Readable after writable. */
	reset();
	set_desc(0, BUF, 8, 2 | 1, 1);
	set_desc(1, BUF, 8, 0, 0);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	/* The driver claims more available entries than the queue holds. */
	reset();
	uint16_t idx = QSIZE + 1;
	memcpy(at(AVAIL + 2), &idx, 2);
	CHECK_EQ(pop(&why), VIRTQ_BROKEN);
	/* Rings that do not fit in RAM are refused at QueueReady. */
	reset();
	q.used_gpa = BASE + SIZE - 8;
	CHECK(!virtq_rings_valid(&q, &ram));
	q.used_gpa = USED + 2; /* misaligned */
	CHECK(!virtq_rings_valid(&q, &ram));
}

static void test_event_idx(void)
{
	reset();
	q.event_idx = true;
	const char *why;
	set_desc(0, BUF, 8, 2, 0);
	for (int i = 0; i < 3; i++) {
		make_avail(0);
		CHECK_EQ(pop(&why), VIRTQ_GOT);
		virtq_push(&q, &ram, 0, 8);
	}
	/* used_event = 0: the driver wants an interrupt when used idx passes 0 -> first call says yes. */
	CHECK(virtq_should_interrupt(&q, &ram));
	/* Nothing new pushed since: no interrupt. */
	CHECK(!virtq_should_interrupt(&q, &ram));
	/* The driver asks to hear after entry 10 only. */
	uint16_t used_event = 10;
	memcpy(at(AVAIL + 4 + 2 * QSIZE), &used_event, 2);
	make_avail(0);
	CHECK_EQ(pop(&why), VIRTQ_GOT);
	virtq_push(&q, &ram, 0, 8);
	CHECK(!virtq_should_interrupt(&q, &ram));
	/* avail_event tells the driver where we are. */
	uint16_t avail_event;
	memcpy(&avail_event, at(USED + 4 + 8 * QSIZE), 2);
	CHECK_EQ(avail_event, 4);
}

/* ---- transport ---- */
static int irq_level;
static void set_irq(void *o, bool level)
{
	(void)o;
	irq_level = level;
}

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint64_t v;
	virtio_mmio_read(t, off, 4, &v);
	return (uint32_t)v;
}
static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_write(t, off, 4, v);
}

static void test_transport_rules(void)
{
	memset(mem, 0, SIZE);
	static struct virtio_rng rng;
	virtio_rng_init(&rng, &ram, set_irq, NULL);
	struct virtio_mmio *t = &rng.transport;
	CHECK_EQ(rd(t, 0x000), 0x74726976);
	CHECK_EQ(rd(t, 0x004), 2);
	CHECK_EQ(rd(t, 0x008), 4);
	/* Queue setup before FEATURES_OK is a guest error. */
	wr(t, 0x070, 1 | 2);
	wr(t, 0x038, 8);
	CHECK(rd(t, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	/* Reset clears it. */
	wr(t, 0x070, 0);
	CHECK_EQ(rd(t, 0x070), 0);
	/* Features we never offered are refused: FEATURES_OK does not stick. */
	wr(t, 0x070, 1 | 2);
	wr(t, 0x024, 1);
	wr(t, 0x020, 1 | (1u << 7)); /* VERSION_1 + an unoffered bit */
	wr(t, 0x070, 1 | 2 | 8);
	CHECK_EQ(rd(t, 0x070) & 8, 0);
	/* A proper handshake and a request. */
	wr(t, 0x070, 0);
	wr(t, 0x070, 1 | 2);
	wr(t, 0x024, 1);
	wr(t, 0x020, 1);
	wr(t, 0x070, 1 | 2 | 8);
	CHECK(rd(t, 0x070) & 8);
	wr(t, 0x030, 0);
	CHECK_EQ(rd(t, 0x034), 64);
	wr(t, 0x038, QSIZE);
	wr(t, 0x080, (uint32_t)DESC);
	wr(t, 0x084, (uint32_t)(DESC >> 32));
	wr(t, 0x090, (uint32_t)AVAIL);
	wr(t, 0x094, 0);
	wr(t, 0x0a0, (uint32_t)USED);
	wr(t, 0x0a4, 0);
	wr(t, 0x044, 1);
	CHECK_EQ(rd(t, 0x044), 1);
	wr(t, 0x070, 1 | 2 | 8 | 4);
	set_desc(0, BUF, 32, 2, 0);
	make_avail(0);
	wr(t, 0x050, 0);
	uint32_t len;
	memcpy(&len, at(USED + 8), 4);
	CHECK_EQ(len, 32);
	CHECK_EQ(rng.bytes_served, 32);
	CHECK(irq_level);
	CHECK_EQ(rd(t, 0x060), 1);
	wr(t, 0x064, 1);
	CHECK(!irq_level);
	/* Changing the queue after DRIVER_OK is refused and flagged. */
	wr(t, 0x038, 4);
	CHECK(rd(t, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(rd(t, 0x038), QSIZE);
	/* A hostile chain flags the device too, and nothing is pushed. */
	wr(t, 0x070, 0);
	CHECK(t->broken_count >= 2);
}

static void setup(void)
{
	mem = calloc(1, SIZE);
	ram = (struct guest_ram){.host = mem, .base = BASE, .size = SIZE};
}

TEST_MAIN(setup, test_normal_chain, test_indirect, test_hostile_chains, test_event_idx, test_transport_rules)
