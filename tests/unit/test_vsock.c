/*
 * test_vsock.c — virtio-vsock between a driver written by hand (guest RAM is
 * a buffer, rings filled here) and host programs on real unix sockets: the
 * CONNECT handshake, data both ways, connections the guest opens, shutdown
 * and reset, hostile headers, credit, and the transport reset a restore
 * announces. The device's service routine runs on this thread (no I/O
 * thread).
 */
#include "check.h"
#include "virtio/vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BASE 0x80000000ULL
#define SIZE (4u << 20)
#define QSIZE 16
#define HDR 44
#define RXBUF_LEN (4096 + HDR)
#define CID 7

static uint8_t *mem;
static struct guest_ram ram;
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static struct virtio_vsock *dev;
static char path[64];
static uint16_t avail_idx[3], seen_used[3];
static unsigned tx_slot;

static void *at(uint64_t gpa)
{
	return mem + (gpa - BASE);
}
static uint64_t qbase(unsigned qi)
{
	return BASE + 0x4000ull * qi + 0x1000;
}
static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_write(&dev->transport, off, 4, v);
}
static uint32_t rd(uint64_t off)
{
	uint64_t v;
	virtio_mmio_read(&dev->transport, off, 4, &v);
	return (uint32_t)v;
}
static void no_irq(void *o, bool level)
{
	(void)o, (void)level;
}

/* Descriptor `desc` of queue qi: one buffer; made available. */
static void offer(unsigned qi, uint16_t desc, uint64_t addr, uint32_t len, bool device_writes)
{
	uint8_t *d = at(qbase(qi) + 16 * desc);
	uint16_t flags = device_writes ? 2 : 0, next = 0;
	memcpy(d, &addr, 8), memcpy(d + 8, &len, 4), memcpy(d + 12, &flags, 2), memcpy(d + 14, &next, 2);
	uint8_t *avail = at(qbase(qi) + 0x1000);
	memcpy(avail + 4 + 2 * (avail_idx[qi] % QSIZE), &desc, 2);
	avail_idx[qi]++;
	memcpy(avail + 2, &avail_idx[qi], 2);
}

static uint64_t rxbuf(uint16_t i)
{
	return BASE + 0x40000 + 0x2000ull * i;
}

/* Posts the rx buffers the device has given back (all of them at first). */
static void refill_rx(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		offer(0, (uint16_t)(avail_idx[0] % QSIZE), rxbuf(avail_idx[0] % QSIZE), RXBUF_LEN, true);
}

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[4096];
};

static void decode(const uint8_t *b, struct pkt *p)
{
	memcpy(&p->src_cid, b, 8), memcpy(&p->dst_cid, b + 8, 8);
	memcpy(&p->src_port, b + 16, 4), memcpy(&p->dst_port, b + 20, 4), memcpy(&p->len, b + 24, 4);
	memcpy(&p->type, b + 28, 2), memcpy(&p->op, b + 30, 2), memcpy(&p->flags, b + 32, 4);
	memcpy(&p->buf_alloc, b + 36, 4), memcpy(&p->fwd_cnt, b + 40, 4);
	if (p->len <= sizeof(p->data)) memcpy(p->data, b + HDR, p->len);
}

/* The next packet the device put in the guest's receive queue; false when there is none. */
static bool next_rx(struct pkt *p)
{
	uint16_t used;
	memcpy(&used, at(qbase(0) + 0x2000 + 2), 2);
	if (used == seen_used[0]) return false;
	uint32_t id, len;
	memcpy(&id, at(qbase(0) + 0x2000 + 4 + 8 * (seen_used[0] % QSIZE)), 4);
	memcpy(&len, at(qbase(0) + 0x2000 + 8 + 8 * (seen_used[0] % QSIZE)), 4);
	seen_used[0]++;
	CHECK(len >= HDR);
	decode(at(rxbuf((uint16_t)id)), p);
	CHECK_EQ(len, HDR + p->len);
	refill_rx(1);
	return true;
}

/* The guest sends a packet (header fields, payload) on the transmit queue. */
static void guest_send(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags, const void *data,
                       uint32_t len, uint32_t declared_len)
{
	uint64_t buf = BASE + 0x100000 + 0x12000ull * (tx_slot % 8);
	uint8_t *b = at(buf);
	uint64_t src_cid = CID, dst_cid = 2;
	uint16_t type = 1;
	uint32_t buf_alloc = 65536, fwd_cnt = 0;
	memcpy(b, &src_cid, 8), memcpy(b + 8, &dst_cid, 8), memcpy(b + 16, &src_port, 4);
	memcpy(b + 20, &dst_port, 4), memcpy(b + 24, &declared_len, 4), memcpy(b + 28, &type, 2);
	memcpy(b + 30, &op, 2), memcpy(b + 32, &flags, 4), memcpy(b + 36, &buf_alloc, 4);
	memcpy(b + 40, &fwd_cnt, 4);
	if (len) memcpy(b + HDR, data, len);
	offer(1, (uint16_t)(tx_slot % QSIZE), buf, HDR + len, false);
	tx_slot++;
	wr(0x050, 1);
}

static void service(void)
{
	virtio_vsock_service(dev);
}

static int host_connect(const char *p)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", p);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* Reads what is there (waiting up to 1 s for the first byte). */
static ssize_t host_read(int fd, char *buf, size_t cap)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, 1000) <= 0) return -1;
	ssize_t n = read(fd, buf, cap - 1);
	if (n >= 0) buf[n] = 0;
	return n;
}

static void start(void)
{
	memset(mem, 0, SIZE);
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(seen_used, 0, sizeof(seen_used));
	tx_slot = 0;
	char err[256];
	dev = virtio_vsock_create(CID, path, &ram, &io_lock, err, sizeof(err));
	CHECK(dev != NULL);
	dev->transport.set_irq = no_irq;
	wr(0x070, 1 | 2);
	wr(0x024, 1), wr(0x020, 1); /* VERSION_1 */
	wr(0x024, 0), wr(0x020, 0);
	wr(0x070, 1 | 2 | 8);
	for (unsigned q = 0; q < 3; q++) {
		wr(0x030, q);
		wr(0x038, QSIZE);
		wr(0x080, (uint32_t)qbase(q)), wr(0x084, 0);
		wr(0x090, (uint32_t)(qbase(q) + 0x1000)), wr(0x094, 0);
		wr(0x0a0, (uint32_t)(qbase(q) + 0x2000)), wr(0x0a4, 0);
		wr(0x044, 1);
	}
	wr(0x070, 1 | 2 | 8 | 4);
	refill_rx(QSIZE);
}

/* A host program connects to guest port 1024 and the guest accepts: the host port it got. */
static uint32_t open_from_host(int *fd)
{
	*fd = host_connect(path);
	CHECK(write(*fd, "CONNECT 1024\n", 13) == 13);
	service();
	struct pkt p;
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 1); /* REQUEST */
	CHECK_EQ(p.src_cid, 2);
	CHECK_EQ(p.dst_cid, CID);
	CHECK_EQ(p.dst_port, 1024);
	CHECK_EQ(p.type, 1);
	CHECK_EQ(p.buf_alloc, VSOCK_BUF_ALLOC);
	guest_send(1024, p.src_port, 2 /* RESPONSE */, 0, NULL, 0, 0);
	service();
	char line[64];
	CHECK(host_read(*fd, line, sizeof(line)) > 0);
	char want[64];
	snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	CHECK(!strcmp(line, want));
	return p.src_port;
}

static void test_config_and_handshake(void)
{
	start();
	CHECK_EQ(rd(0x008), 19);
	CHECK_EQ(rd(0x100), CID);
	CHECK_EQ(rd(0x104), 0);
	int fd;
	uint32_t hp = open_from_host(&fd);
	/* Host to guest. */
	CHECK(write(fd, "hello", 5) == 5);
	service();
	struct pkt p;
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 5);
	CHECK_EQ(p.len, 5);
	CHECK(!memcmp(p.data, "hello", 5));
	/* Guest to host. */
	guest_send(1024, hp, 5, 0, "world!", 6, 6);
	service();
	char buf[64];
	CHECK_EQ(host_read(fd, buf, sizeof(buf)), 6);
	CHECK(!strcmp(buf, "world!"));
	/* The guest closes both ways: the device resets once the data is out, the host sees the end. */
	guest_send(1024, hp, 4 /* SHUTDOWN */, 3, NULL, 0, 0);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 3); /* RST */
	CHECK_EQ(host_read(fd, buf, sizeof(buf)), 0);
	close(fd);
	CHECK_EQ(dev->stats.to_host_bytes, 6);
	CHECK_EQ(dev->stats.to_guest_bytes, 5);
	virtio_vsock_destroy(dev);
	CHECK(access(path, F_OK) != 0); /* its socket file goes with it */
}

static void test_no_driver(void)
{
	memset(mem, 0, SIZE);
	char err[256], buf[128];
	dev = virtio_vsock_create(CID, path, &ram, &io_lock, err, sizeof(err));
	CHECK(dev != NULL);
	/* The guest has not set the device up: a host program is told at once, not left waiting. */
	int fd = host_connect(path);
	CHECK(write(fd, "CONNECT 1024\n", 13) == 13);
	service();
	CHECK(host_read(fd, buf, sizeof(buf)) > 0);
	CHECK(!strncmp(buf, "ERROR the guest has no vsock driver", 35));
	close(fd);
	virtio_vsock_destroy(dev);
}

static void test_host_side_errors(void)
{
	start();
	/* Not a CONNECT line. */
	int fd = host_connect(path);
	CHECK(write(fd, "HELLO\n", 6) == 6);
	service();
	char buf[128];
	CHECK(host_read(fd, buf, sizeof(buf)) > 0);
	CHECK(!strncmp(buf, "ERROR", 5));
	close(fd);
	struct pkt p;
	CHECK(!next_rx(&p)); /* the guest heard nothing of it */
	/* The guest refuses: the host program's connection closes without OK. */
	fd = host_connect(path);
	CHECK(write(fd, "CONNECT 99\n", 11) == 11);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 1);
	guest_send(99, p.src_port, 3 /* RST */, 0, NULL, 0, 0);
	service();
	CHECK_EQ(host_read(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* The host program hangs up: the guest is told it will get nothing more. */
	uint32_t hp = open_from_host(&fd);
	close(fd);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 4);
	CHECK_EQ(p.flags, 2); /* SEND */
	CHECK_EQ(p.src_port, hp);
	virtio_vsock_destroy(dev);
}

static void test_guest_connects(void)
{
	start();
	/* Nobody listens on PATH_5000: refused. */
	guest_send(40000, 5000, 1 /* REQUEST */, 0, NULL, 0, 0);
	service();
	struct pkt p;
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 3);
	CHECK_EQ(p.dst_port, 40000);
	/* A program listens there: accepted, and data reaches it. */
	char lp[100];
	snprintf(lp, sizeof(lp), "%s_5000", path);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", lp);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(lp);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0);
	guest_send(40001, 5000, 1, 0, NULL, 0, 0);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 2); /* RESPONSE */
	CHECK_EQ(p.src_port, 5000);
	int c = accept(l, NULL, NULL);
	CHECK(c >= 0);
	guest_send(40001, 5000, 5, 0, "ping", 4, 4);
	service();
	char buf[32];
	CHECK_EQ(host_read(c, buf, sizeof(buf)), 4);
	CHECK(!strcmp(buf, "ping"));
	CHECK(write(c, "pong", 4) == 4);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 5);
	CHECK(!memcmp(p.data, "pong", 4));
	close(c);
	close(l);
	unlink(lp);
	virtio_vsock_destroy(dev);
}

static void test_hostile_guest(void)
{
	start();
	int fd;
	uint32_t hp = open_from_host(&fd);
	struct pkt p;
	/* A header that claims more payload than the buffer holds: refused with a reset, nothing passes. */
	guest_send(1024, hp, 5, 0, "abc", 3, 60000);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 3);
	CHECK(dev->stats.bad_packets >= 1);
	/* A wrong source CID, a non-stream type, an unknown op: refused, never crashes. */
	uint8_t junk[HDR];
	memset(junk, 0xff, sizeof(junk));
	offer(1, (uint16_t)(tx_slot++ % QSIZE), BASE + 0x300000, HDR, false);
	memcpy(at(BASE + 0x300000), junk, HDR);
	wr(0x050, 1);
	service();
	guest_send(1024, hp, 77, 0, NULL, 0, 0);
	service();
	/* A header cut short. */
	offer(1, (uint16_t)(tx_slot++ % QSIZE), BASE + 0x300000, 10, false);
	wr(0x050, 1);
	service();
	CHECK(dev->stats.bad_packets >= 3);
	/* More than the credit the host gave: the connection is reset, the host side buffer stays bounded. */
	close(fd);
	service();
	while (next_rx(&p)) {
	}
	hp = open_from_host(&fd);
	static uint8_t big[60000];
	for (int i = 0; i < 12; i++) { /* 720 KB: beyond the 256 KiB buffer and the socket's own (~208 KiB) */
		guest_send(1024, hp, 5, 0, big, sizeof(big), sizeof(big));
		service();
	}
	bool reset_seen = false;
	while (next_rx(&p))
		if (p.op == 3 && p.src_port == hp) reset_seen = true;
	CHECK(reset_seen); /* the guest broke the credit it was given */
	CHECK(dev->stats.to_host_bytes < 12 * sizeof(big));
	close(fd);
	CHECK(!(rd(0x070) & VIRTIO_STATUS_NEEDS_RESET)); /* none of it was a broken ring */
	virtio_vsock_destroy(dev);
}

static void test_restore_announces_reset(void)
{
	start();
	int fd;
	open_from_host(&fd);
	struct state_writer w;
	state_writer_init(&w);
	state_begin(&w, "virtio", VIRTIO_STATE_VERSION);
	virtio_mmio_save(&dev->transport, &w);
	state_end(&w);
	virtio_vsock_destroy(dev);
	close(fd);
	/* The same device in a new process: the guest's old connections are gone and it is told so. */
	char err[256];
	dev = virtio_vsock_create(CID, path, &ram, &io_lock, err, sizeof(err));
	CHECK(dev != NULL);
	dev->transport.set_irq = no_irq;
	struct state_reader r;
	CHECK(state_reader_open(&r, w.buf, w.len));
	state_section(&r, "virtio", VIRTIO_STATE_VERSION);
	virtio_mmio_load(&dev->transport, &r, VIRTIO_STATE_VERSION);
	CHECK(!r.failed);
	offer(2, 0, BASE + 0x310000, 4, true);
	memset(at(BASE + 0x310000), 0xaa, 4);
	service();
	uint16_t used;
	memcpy(&used, at(qbase(2) + 0x2000 + 2), 2);
	CHECK_EQ(used, 1);
	uint32_t id;
	memcpy(&id, at(BASE + 0x310000), 4);
	CHECK_EQ(id, 0); /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	/* A host program that connects now waits until the guest handled the reset (it posts the event
	 * buffer again): a connection it accepted before would be reset unseen. */
	fd = host_connect(path);
	CHECK(write(fd, "CONNECT 1024\n", 13) == 13);
	service();
	struct pkt p;
	CHECK(!next_rx(&p));
	offer(2, 1, BASE + 0x310000, 4, true);
	service();
	CHECK(next_rx(&p));
	CHECK_EQ(p.op, 1);
	close(fd);
	/* A device with another CID refuses the state. */
	struct virtio_vsock *other = virtio_vsock_create(CID + 1, NULL, &ram, &io_lock, err, sizeof(err));
	CHECK(state_reader_open(&r, w.buf, w.len));
	state_section(&r, "virtio", VIRTIO_STATE_VERSION);
	virtio_mmio_load(&other->transport, &r, VIRTIO_STATE_VERSION);
	CHECK(r.failed);
	virtio_vsock_destroy(other);
	state_writer_free(&w);
	virtio_vsock_destroy(dev);
	/* Reserved CIDs are refused. */
	CHECK(virtio_vsock_create(2, NULL, &ram, &io_lock, err, sizeof(err)) == NULL);
}

static void setup(void)
{
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ram = (struct guest_ram){.host = mem, .base = BASE, .size = SIZE};
	snprintf(path, sizeof(path), "/tmp/test-vsock-%d.sock", (int)getpid());
}

TEST_MAIN(setup, test_no_driver, test_config_and_handshake, test_host_side_errors, test_guest_connects,
          test_hostile_guest, test_restore_announces_reset)
