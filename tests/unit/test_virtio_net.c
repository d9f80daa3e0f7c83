/*
 * test_virtio_net.c — virtio-net against a hostile or careless driver and a
 * fake backend: good frames pass (with their checksum completed), malformed
 * ones are dropped and counted without breaking the device, broken rings put
 * it in NEEDS_RESET, and received frames land in one or several (mergeable)
 * buffers or wait for the driver to post some. Runs the device's transmit
 * and receive paths on this thread (no I/O thread).
 */
#include "check.h"
#include "virtio/net.h"

#include <stdlib.h>
#include <string.h>

#define BASE 0x80000000ULL
#define SIZE (1u << 20)
#define QSIZE 16
#define RX_DESC (BASE + 0x1000)
#define RX_AVAIL (BASE + 0x2000)
#define RX_USED (BASE + 0x3000)
#define TX_DESC (BASE + 0x4000)
#define TX_AVAIL (BASE + 0x5000)
#define TX_USED (BASE + 0x6000)
#define PKT (BASE + 0x10000)
#define RXBUF (BASE + 0x40000)

static uint8_t *mem;
static struct guest_ram ram;
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static struct virtio_net *dev;
static uint16_t rx_avail, tx_avail;

struct fake {
	struct net_backend b;
	uint8_t last[NET_MAX_FRAME];
	size_t last_len;
	unsigned sent;
};
static struct fake *fake;

static void f_fill(struct net_backend *b, struct net_pollset *ps, int *t)
{
	(void)b, (void)ps, (void)t;
}
static void f_done(struct net_backend *b, struct net_pollset *ps)
{
	(void)b, (void)ps;
}
static bool f_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
	struct fake *f = (struct fake *)b;
	memcpy(f->last, frame, len);
	f->last_len = len;
	f->sent++;
	return true;
}
static void f_destroy(struct net_backend *b)
{
	free(b);
}
static const struct net_backend_ops fake_ops = {"fake", f_fill, f_done, f_send, NULL, f_destroy};

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
	virtio_mmio_write(&dev->transport, off, 4, v);
	pthread_mutex_unlock(&io_lock);
}
static uint32_t status_reg(void)
{
	uint64_t v;
	virtio_mmio_read(&dev->transport, 0x070, 4, &v);
	return (uint32_t)v;
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = at(table + 16 * i);
	memcpy(d, &addr, 8), memcpy(d + 8, &len, 4), memcpy(d + 12, &flags, 2), memcpy(d + 14, &next, 2);
}

static void make_avail(uint64_t avail, uint16_t *idx, uint16_t head)
{
	memcpy(at(avail + 4 + 2 * (*idx % QSIZE)), &head, 2);
	(*idx)++;
	memcpy(at(avail + 2), idx, 2);
}

static uint16_t used_idx(uint64_t used)
{
	uint16_t v;
	memcpy(&v, at(used + 2), 2);
	return v;
}
static uint32_t used_len(uint64_t used, uint16_t i)
{
	uint32_t v;
	memcpy(&v, at(used + 4 + 8 * (i % QSIZE) + 4), 4);
	return v;
}

static void start(void)
{
	memset(mem, 0, SIZE);
	rx_avail = tx_avail = 0;
	fake = calloc(1, sizeof(*fake));
	fake->b.ops = &fake_ops;
	fake->b.mtu = 1500;
	uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	struct net_limits none = {0};
	char err[256];
	dev = virtio_net_create(&fake->b, mac, &none, NULL, &ram, &io_lock, err, sizeof(err));
	CHECK(dev != NULL);
	dev->transport.set_irq = no_irq;
	wr(0x070, 1 | 2);
	wr(0x024, 1), wr(0x020, 1);                                              /* VERSION_1 */
	wr(0x024, 0), wr(0x020, (1u << 0) | (1u << 1) | (1u << 5) | (1u << 15)); /* CSUM GUEST_CSUM MAC MRG */
	wr(0x070, 1 | 2 | 8);
	uint64_t rings[2][3] = {{RX_DESC, RX_AVAIL, RX_USED}, {TX_DESC, TX_AVAIL, TX_USED}};
	for (unsigned q = 0; q < 2; q++) {
		wr(0x030, q);
		wr(0x038, QSIZE);
		wr(0x080, (uint32_t)rings[q][0]), wr(0x084, 0);
		wr(0x090, (uint32_t)rings[q][1]), wr(0x094, 0);
		wr(0x0a0, (uint32_t)rings[q][2]), wr(0x0a4, 0);
		wr(0x044, 1);
	}
	wr(0x070, 1 | 2 | 8 | 4);
}

static void stop(void)
{
	virtio_net_destroy(dev);
	dev = NULL;
}

/* Queues a TX chain of one descriptor holding header + frame at PKT + 0x1000 * head. */
static void tx_one(uint16_t head, const uint8_t hdr[12], const uint8_t *frame, uint32_t len)
{
	uint64_t a = PKT + 0x1000ULL * head;
	memcpy(at(a), hdr, 12);
	memcpy(at(a + 12), frame, len);
	set_desc(TX_DESC, head, a, 12 + len, 0, 0);
	make_avail(TX_AVAIL, &tx_avail, head);
}

static void test_config_space(void)
{
	start();
	uint64_t v;
	CHECK(virtio_mmio_read(&dev->transport, 0x100, 4, &v));
	CHECK_EQ(v, 0x01005452u); /* 52:54:00:01 */
	CHECK(virtio_mmio_read(&dev->transport, 0x106, 2, &v));
	CHECK_EQ(v, 1u); /* link up */
	stop();
}

static void test_tx_good_frame_and_checksum_offload(void)
{
	start();
	/* An IPv4/UDP frame: 14 + 20 + 8 + 6 bytes of payload. */
	uint8_t f[48] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 1, 2, 3, 0x08, 0x00};
	uint8_t *ip = f + 14, *udp = f + 34;
	ip[0] = 0x45, ip[3] = 34, ip[8] = 64, ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
	udp[0] = 0x12, udp[1] = 0x34, udp[2] = 0x56, udp[3] = 0x78, udp[5] = 14;
	memcpy(udp + 8, "hello!", 6);
	/* The driver seeds the checksum field with the pseudo-header sum (not complemented). */
	uint32_t ph = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 14;
	udp[6] = (uint8_t)(ph >> 8), udp[7] = (uint8_t)ph;
	uint8_t hdr[12] = {1 /* NEEDS_CSUM */, 0};
	uint16_t start_ = 34, off = 6;
	memcpy(hdr + 6, &start_, 2), memcpy(hdr + 8, &off, 2);
	tx_one(0, hdr, f, sizeof(f));
	virtio_net_process_tx(dev);
	CHECK_EQ(fake->sent, 1u);
	CHECK_EQ(fake->last_len, sizeof(f));
	CHECK_EQ(used_idx(TX_USED), 1u);
	/* With the pseudo-header, the UDP header and payload now sum to 0xffff. */
	uint32_t s2 = ph;
	for (int i = 0; i < 14; i += 2)
		if (i != 6) s2 += (uint32_t)(fake->last[34 + i] << 8 | fake->last[35 + i]);
	s2 += (uint32_t)(fake->last[40] << 8 | fake->last[41]);
	while (s2 >> 16) s2 = (s2 & 0xffff) + (s2 >> 16);
	CHECK_EQ(s2, 0xffffu);
	CHECK_EQ(dev->stats.tx_frames, 1u);
	stop();
}

static void test_tx_malformed_frames_are_dropped(void)
{
	start();
	uint8_t f[2000] = {0};
	uint8_t plain[12] = {0}, gso[12] = {0, 1 /* TCPv4 */}, badcsum[12] = {1};
	uint16_t s = 1990, o = 16;
	memcpy(badcsum + 6, &s, 2), memcpy(badcsum + 8, &o, 2);
	tx_one(0, plain, f, 10);                     /* shorter than an Ethernet header */
	tx_one(1, plain, f, 1600);                   /* longer than the MTU allows */
	tx_one(2, gso, f, 100);                      /* segmentation offload we never offered */
	tx_one(3, badcsum, f, 100);                  /* checksum position outside the frame */
	set_desc(TX_DESC, 4, PKT + 0x4000, 5, 0, 0); /* not even a header */
	make_avail(TX_AVAIL, &tx_avail, 4);
	tx_one(5, plain, f, 60); /* and a good one after them */
	virtio_net_process_tx(dev);
	CHECK_EQ(dev->stats.tx_malformed, 5u);
	CHECK_EQ(fake->sent, 1u);
	CHECK_EQ(used_idx(TX_USED), 6u); /* every chain went back to the driver */
	CHECK(!(status_reg() & 64));
	stop();
}

static void test_tx_broken_ring_needs_reset(void)
{
	start();
	set_desc(TX_DESC, 0, BASE + SIZE - 8, 64, 0, 0); /* straddles the end of RAM */
	make_avail(TX_AVAIL, &tx_avail, 0);
	virtio_net_process_tx(dev);
	CHECK(status_reg() & 64);
	CHECK_EQ(fake->sent, 0u);
	stop();
}

static void post_rx(uint16_t head, uint32_t len)
{
	set_desc(RX_DESC, head, RXBUF + 0x1000ULL * head, len, 2 /* WRITE */, 0);
	make_avail(RX_AVAIL, &rx_avail, head);
}

static void test_rx_single_and_mergeable(void)
{
	start();
	uint8_t frame[2500];
	for (unsigned i = 0; i < sizeof(frame); i++) frame[i] = (uint8_t)(i * 7);
	post_rx(0, 2048);
	virtio_net_receive(dev, frame, 100);
	CHECK_EQ(used_idx(RX_USED), 1u);
	CHECK_EQ(used_len(RX_USED, 0), 112u);
	uint8_t *b0 = at(RXBUF);
	CHECK_EQ(b0[0], 2u);                /* DATA_VALID */
	CHECK_EQ(b0[10] | b0[11] << 8, 1u); /* num_buffers */
	CHECK(!memcmp(b0 + 12, frame, 100));

	/* 2500 bytes over three 1000-byte buffers. */
	post_rx(1, 1000), post_rx(2, 1000), post_rx(3, 1000);
	virtio_net_receive(dev, frame, sizeof(frame));
	CHECK_EQ(used_idx(RX_USED), 4u);
	uint8_t *b1 = at(RXBUF + 0x1000);
	CHECK_EQ(b1[10] | b1[11] << 8, 3u);
	CHECK_EQ(used_len(RX_USED, 1) + used_len(RX_USED, 2) + used_len(RX_USED, 3), 2512u);
	CHECK(!memcmp(b1 + 12, frame, 988));
	CHECK(!memcmp(at(RXBUF + 0x2000), frame + 988, 1000));
	CHECK(!memcmp(at(RXBUF + 0x3000), frame + 1988, 512));
	CHECK_EQ(dev->stats.rx_frames, 2u);
	stop();
}

static void test_rx_waits_for_buffers_in_order(void)
{
	start();
	uint8_t a[60] = {1}, b[60] = {2}, runt[10] = {0};
	virtio_net_receive(dev, a, sizeof(a)); /* no buffer posted yet */
	CHECK_EQ(used_idx(RX_USED), 0u);
	CHECK(dev->rx_wanted);
	virtio_net_receive(dev, runt, sizeof(runt)); /* not a frame: dropped */
	CHECK_EQ(dev->stats.rx_dropped, 1u);
	post_rx(0, 256), post_rx(1, 256);
	virtio_net_receive(dev, b, sizeof(b));
	CHECK_EQ(used_idx(RX_USED), 2u);
	CHECK_EQ(((uint8_t *)at(RXBUF))[12], 1u); /* a first */
	CHECK_EQ(((uint8_t *)at(RXBUF + 0x1000))[12], 2u);
	CHECK(!dev->rx_wanted);
	/* A buffer too small for a frame that wants a single one: with mergeable buffers it is split,
	 * and a buffer without writable space is the driver's error. */
	set_desc(RX_DESC, 2, RXBUF, 64, 0 /* device-readable */, 0);
	make_avail(RX_AVAIL, &rx_avail, 2);
	virtio_net_receive(dev, b, sizeof(b));
	CHECK(status_reg() & 64);
	stop();
}

int main(void)
{
	mem = calloc(1, SIZE);
	ram = (struct guest_ram){.host = mem, .base = BASE, .size = SIZE};
	test_config_space();
	test_tx_good_frame_and_checksum_offload();
	test_tx_malformed_frames_are_dropped();
	test_tx_broken_ring_needs_reset();
	test_rx_single_and_mergeable();
	test_rx_waits_for_buffers_in_order();
	free(mem);
	printf("%u checks, %u failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}
