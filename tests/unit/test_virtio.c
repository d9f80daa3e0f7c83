/*
 * test_virtio.c — split virtqueues against a hostile driver, and the
 * virtio-mmio transport's rules (setup window, features, NEEDS_RESET).
 * Guest memory is a plain buffer; the "driver" writes rings by hand.
 */
#include "check.h"
#include "virtio/mmio.h"
#include "virtio/balloon.h"
#include "virtio/rng.h"
#include "virtio/virtqueue.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* ---- the memory balloon ---- */

/* A queue's rings at desc, desc + 0x1000 (avail), desc + 0x2000 (used), QSIZE entries. */
static void queue_setup(struct virtio_mmio *t, unsigned qi, uint64_t desc)
{
	wr(t, 0x030, qi);
	wr(t, 0x038, QSIZE);
	wr(t, 0x080, (uint32_t)desc);
	wr(t, 0x084, (uint32_t)(desc >> 32));
	wr(t, 0x090, (uint32_t)(desc + 0x1000));
	wr(t, 0x094, (uint32_t)((desc + 0x1000) >> 32));
	wr(t, 0x0a0, (uint32_t)(desc + 0x2000));
	wr(t, 0x0a4, (uint32_t)((desc + 0x2000) >> 32));
	wr(t, 0x044, 1);
}

/* Descriptor i of the queue at desc: one driver-written buffer; made available. */
static void offer(uint64_t desc, unsigned i, uint64_t addr, uint32_t len)
{
	uint8_t *d = at(desc + 16 * i);
	uint16_t flags = 0, next = 0, idx;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	memcpy(&idx, at(desc + 0x1000 + 2), 2);
	uint16_t head = (uint16_t)i;
	memcpy(at(desc + 0x1000 + 4 + 2 * (idx % QSIZE)), &head, 2);
	idx++;
	memcpy(at(desc + 0x1000 + 2), &idx, 2);
}

static uint16_t used_idx(uint64_t desc)
{
	uint16_t idx;
	memcpy(&idx, at(desc + 0x2000 + 2), 2);
	return idx;
}

static void test_balloon(void)
{
	memset(mem, 0, SIZE);
	static struct virtio_balloon b;
	virtio_balloon_init(&b, &ram, set_irq, NULL, true);
	struct virtio_mmio *t = &b.transport;
	CHECK_EQ(rd(t, 0x008), 5);
	wr(t, 0x070, 1 | 2);
	wr(t, 0x024, 0);
	wr(t, 0x020, (1u << 1) | (1u << 5)); /* stats and free page reporting */
	wr(t, 0x024, 1);
	wr(t, 0x020, 1); /* VERSION_1 */
	wr(t, 0x070, 1 | 2 | 8);
	CHECK(rd(t, 0x070) & 8);
	const uint64_t inflate = BASE + 0x40000, stats = BASE + 0x50000, report = BASE + 0x60000;
	queue_setup(t, 0, inflate);
	queue_setup(t, 2, stats);
	queue_setup(t, 3, report);
	/* The stats buffer is offered before DRIVER_OK, as Linux does: it is read once DRIVER_OK is set. */
	uint8_t entries[2][10] = {{4, 0}, {5, 0}}; /* free and total memory */
	uint64_t free_bytes = 123 << 20, total = 456 << 20;
	memcpy(entries[0] + 2, &free_bytes, 8);
	memcpy(entries[1] + 2, &total, 8);
	memcpy(at(BUF), entries, sizeof(entries));
	offer(stats, 0, BUF, sizeof(entries));
	wr(t, 0x050, 2);
	CHECK_EQ(b.stats_updates, 0); /* not before DRIVER_OK */
	wr(t, 0x070, 1 | 2 | 8 | 4);
	CHECK_EQ(b.stats_updates, 1);
	CHECK_EQ(b.stats[BALLOON_MEMFREE], 123 << 20);
	CHECK_EQ(b.stats[BALLOON_MEMTOTAL], 456 << 20);
	CHECK_EQ(b.stats[BALLOON_MAJOR_FAULTS], UINT64_MAX); /* never reported */
	CHECK_EQ(used_idx(stats), 0);                        /* held until the host asks */
	virtio_balloon_request_stats(&b);
	CHECK_EQ(used_idx(stats), 1);
	CHECK(!b.stats_held);

	/* The host's target: capped at the RAM, announced by a configuration interrupt. */
	wr(t, 0x064, rd(t, 0x060));
	uint32_t gen = rd(t, 0x0fc);
	virtio_balloon_set_target(&b, 1ull << 40);
	CHECK_EQ(rd(t, 0x100), SIZE / 4096);
	CHECK(rd(t, 0x060) & 2);
	CHECK(rd(t, 0x0fc) != gen);
	wr(t, 0x104, 7); /* the driver's actual */
	CHECK_EQ(b.actual_pages, 7);
	wr(t, 0x100, 99); /* num_pages is the host's: the driver cannot change it */
	CHECK_EQ(rd(t, 0x100), SIZE / 4096);

	/* Inflate: the page's contents leave the host; page numbers outside RAM are counted, ignored. */
	uint8_t *page = at(BASE + 0x20000);
	memset(page, 0xab, 4096);
	uint32_t pfns[4] = {(uint32_t)((BASE + 0x20000) >> 12), 0xffffffffu, (uint32_t)((BASE + SIZE) >> 12),
	                    (uint32_t)((BASE >> 12) - 1)};
	memcpy(at(BUF + 0x1000), pfns, sizeof(pfns));
	offer(inflate, 0, BUF + 0x1000, sizeof(pfns));
	wr(t, 0x050, 0);
	CHECK_EQ(used_idx(inflate), 1);
	CHECK_EQ(b.inflated_pages, 1);
	CHECK_EQ(b.bad_pfns, 3);
	CHECK_EQ(b.discarded_bytes, 4096);
	CHECK(page[0] == 0 && page[4095] == 0);
	/* Adjacent pages in either order (discarded as runs), then a jump. */
	memset(at(BASE + 0x22000), 0xab, 3 * 4096);
	uint32_t run[3] = {(uint32_t)((BASE + 0x23000) >> 12), (uint32_t)((BASE + 0x22000) >> 12),
	                   (uint32_t)((BASE + 0x24000) >> 12)};
	memcpy(at(BUF + 0x1000), run, sizeof(run));
	offer(inflate, 1, BUF + 0x1000, sizeof(run));
	wr(t, 0x050, 0);
	CHECK_EQ(used_idx(inflate), 2);
	CHECK_EQ(b.inflated_pages, 4);
	CHECK_EQ(b.discarded_bytes, 4 * 4096);
	for (unsigned k = 0; k < 3; k++) CHECK(*(uint8_t *)at(BASE + 0x22000 + 4096 * k + 100) == 0);
	/* Free page reporting: the buffer is the free memory itself. */
	memset(at(BASE + 0x30000), 0xcd, 8192);
	offer(report, 0, BASE + 0x30000, 8192);
	wr(t, 0x050, 3);
	CHECK_EQ(b.reported_bytes, 8192);
	memset(at(BASE + 0x38000), 0xcd, 4096); /* device-writable, as Linux offers them */
	offer(report, 1, BASE + 0x38000, 4096);
	uint16_t writable = 2;
	memcpy(at(report + 16 + 12), &writable, 2);
	wr(t, 0x050, 3);
	CHECK_EQ(b.reported_bytes, 8192 + 4096);
	CHECK(*(uint8_t *)at(BASE + 0x38000) == 0);
	b.reported_bytes = 8192, b.discarded_bytes -= 4096;
	CHECK_EQ(b.discarded_bytes, 6 * 4096);
	CHECK(*(uint8_t *)at(BASE + 0x30000) == 0 && *(uint8_t *)at(BASE + 0x31fff) == 0);
	CHECK_EQ(rd(t, 0x070) & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* A snapshot round-trips; a stats buffer index beyond the queue is refused. */
	struct state_writer w;
	state_writer_init(&w);
	state_begin(&w, "virtio", VIRTIO_STATE_VERSION);
	virtio_mmio_save(t, &w);
	state_end(&w);
	static struct virtio_balloon c;
	virtio_balloon_init(&c, &ram, set_irq, NULL, true);
	struct state_reader r;
	CHECK(state_reader_open(&r, w.buf, w.len));
	CHECK_EQ(state_section(&r, "virtio", VIRTIO_STATE_VERSION), VIRTIO_STATE_VERSION);
	virtio_mmio_load(&c.transport, &r, VIRTIO_STATE_VERSION);
	CHECK(!r.failed);
	CHECK_EQ(c.target_pages, SIZE / 4096);
	CHECK_EQ(c.stats[BALLOON_MEMTOTAL], 456 << 20);
	CHECK_EQ(c.reported_bytes, 8192);
	b.stats_held = true, b.stats_head = 200; /* more than the queue holds */
	state_writer_free(&w);
	state_writer_init(&w);
	state_begin(&w, "virtio", VIRTIO_STATE_VERSION);
	virtio_mmio_save(t, &w);
	state_end(&w);
	CHECK(state_reader_open(&r, w.buf, w.len));
	state_section(&r, "virtio", VIRTIO_STATE_VERSION);
	virtio_mmio_load(&c.transport, &r, VIRTIO_STATE_VERSION);
	CHECK(r.failed);
	state_writer_free(&w);
}

static void setup(void)
{
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* page-aligned */
	ram = (struct guest_ram){.host = mem, .base = BASE, .size = SIZE};
}

TEST_MAIN(setup, test_normal_chain, test_indirect, test_hostile_chains, test_event_idx, test_transport_rules,
          test_balloon)
