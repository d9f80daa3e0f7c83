/*
 * fuzz_virtio_net.c — libFuzzer harness for virtio-net's guest-facing side:
 * the input is a small control header (features, queue size, frames to
 * receive) followed by guest RAM holding both queues' rings, descriptors and
 * packet buffers (all guest-controlled). The device pops and checks every
 * transmit chain and delivers frames into whatever receive buffers the
 * "driver" posted. Frames reaching the backend are read in full and checked
 * against the device's bounds; RAM is an exact-size allocation so any access
 * outside it trips AddressSanitizer.
 */
#include "virtio/net.h"
#include "fuzz_virtio.h"

#include <stdlib.h>
#include <string.h>

struct sink {
	struct net_backend b;
};

static void s_fill(struct net_backend *b, struct net_pollset *ps, int *t)
{
	(void)b, (void)ps, (void)t;
}
static void s_done(struct net_backend *b, struct net_pollset *ps)
{
	(void)b, (void)ps;
}
static bool s_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
	if (len < NET_ETH_HLEN || len > (size_t)b->mtu + NET_ETH_HLEN + 4) abort(); /* the device's promise */
	volatile uint8_t x = 0;
	for (size_t i = 0; i < len; i++) x ^= frame[i];
	(void)x;
	return true;
}
static void s_destroy(struct net_backend *b)
{
	free(b);
}
static const struct net_backend_ops sink_ops = {"fuzz", s_fill, s_done, s_send, NULL, s_destroy};

static void no_irq(void *o, bool level)
{
	(void)o, (void)level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint32_t features;
		uint16_t qsize;
		uint16_t rx_lens[3];
	} hdr;
	if (size < sizeof(hdr) + 0x3000) return 0;
	memcpy(&hdr, data, sizeof(hdr));
	size_t ram_size = size - sizeof(hdr);
	uint8_t *host = malloc(ram_size);
	memcpy(host, data + sizeof(hdr), ram_size);
	struct guest_ram ram = {.host = host, .base = RAM_BASE, .size = ram_size};

	static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
	struct sink *s = calloc(1, sizeof(*s));
	s->b.ops = &sink_ops;
	s->b.mtu = 1500;
	uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, 1};
	struct net_limits none = {0};
	char err[128];
	struct virtio_net *n = virtio_net_create(&s->b, mac, &none, NULL, &ram, &io_lock, err, sizeof(err));
	if (!n) abort();
	struct virtio_mmio *t = &n->transport;
	t->set_irq = no_irq;
	fuzz_virtio_attach(t, hdr.features, 2, hdr.qsize);

	virtio_net_process_tx(n);
	static uint8_t frame[NET_MAX_FRAME];
	for (unsigned i = 0; i < 3; i++) {
		size_t len = hdr.rx_lens[i] % (NET_MAX_FRAME + 2);
		memset(frame, (int)i, len);
		virtio_net_receive(n, frame, len);
	}
	virtio_mmio_write(t, 0x070, 4, 0); /* driver reset with frames still waiting */
	virtio_net_receive(n, frame, 60);
	virtio_net_destroy(n);
	free(host);
	return 0;
}
