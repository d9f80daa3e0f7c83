/*
 * virtio_devices.c — the board's virtio devices as device-table entries
 * (board.h): disks (virtio-blk, one per configured disk), network
 * interfaces (virtio-net with their backends), the entropy source, the
 * virtio console, the memory balloon, the socket device (vsock) and the
 * shared folders (virtio-9p, one per share), the display (virtio-gpu) with its keyboard and tablet
 * (virtio-input). Each takes the next virtio-mmio slot in table order; their snapshot state is the
 * transport's plus the device's own, written by virtio/mmio.c.
 */
#include "board.h"

#include "net/pcap.h"
#include "virtio/9p.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/gpu.h"
#include "virtio/input.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct guest_ram guest_ram_of(struct machine *m)
{
	return (struct guest_ram){
	    .host = m->ram, .base = VIRT_RAM_BASE, .size = m->ram_size, .dirty = &m->dirty};
}

static bool add_slot(struct machine *m, struct virtio_mmio *t, char *err, size_t errlen)
{
	if (machine_add_virtio(m, t)) return true;
	snprintf(err, errlen, "too many virtio devices");
	return false;
}

/* ---- disks ---- */

static bool blk_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	struct guest_ram guest = guest_ram_of(m);
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const struct machine_disk *dk = &cfg->disks[i];
		struct block_backend *b = block_open(dk->path, dk->format,
		                                     (dk->readonly ? BLOCK_OPEN_READONLY : 0) |
		                                         (dk->no_backing ? BLOCK_OPEN_NO_BACKING : 0) |
		                                         (dk->no_lock ? BLOCK_OPEN_NO_LOCK : 0),
		                                     err, errlen);
		if (!b) return false;
		b->ignore_flush = dk->unsafe_cache;
		char serial[32]; /* the device keeps the first 20 bytes */
		snprintf(serial, sizeof(serial), "cloison-disk%u", i);
		m->disks[i] = virtio_blk_create(b, &guest, &m->io_lock, serial,
		                                cfg->nharts < 4 ? cfg->nharts : 4, err, errlen);
		if (!m->disks[i]) {
			block_close(b);
			return false;
		}
		virtio_blk_set_limits(m->disks[i], dk->bps, dk->iops);
		m->ndisks++;
		if (!add_slot(m, &m->disks[i]->transport, err, errlen)) return false;
	}
	return true;
}

/* First among the virtio devices to go: draining their requests still raises interrupts. */
static void blk_destroy(struct machine *m)
{
	for (unsigned i = 0; i < m->ndisks; i++) virtio_blk_destroy(m->disks[i]);
	m->ndisks = 0;
}

static unsigned blk_count(const struct machine *m)
{
	return m->ndisks;
}

static struct virtio_mmio *blk_transport(const struct machine *m, unsigned i)
{
	return &m->disks[i]->transport;
}

const struct board_device virtio_blk_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = blk_create,
    .destroy = blk_destroy,
    .count = blk_count,
    .virtio = blk_transport,
};

/* ---- network interfaces ---- */

static bool add_nic(struct machine *m, const struct net_config *nc, const struct guest_ram *guest, char *err,
                    size_t errlen)
{
	uint8_t mac[6];
	if (nc->mac_set)
		memcpy(mac, nc->mac, 6);
	else
		net_random_mac(mac);
	struct pcap_writer *pcap = NULL;
	if (nc->pcap[0] && !(pcap = pcap_open(nc->pcap, 65535, err, errlen))) return false;
	struct net_backend *b = net_backend_open(nc, err, errlen);
	if (!b) {
		pcap_close(pcap);
		return false;
	}
	struct net_limits limits = {nc->rx_bps, nc->tx_bps, nc->rx_pps, nc->tx_pps, nc->burst};
	struct virtio_net *n = virtio_net_create(b, mac, &limits, pcap, guest, &m->io_lock, err, errlen);
	if (!n) {
		b->ops->destroy(b);
		pcap_close(pcap);
		return false;
	}
	m->nics[m->nnics++] = n;
	return add_slot(m, &n->transport, err, errlen) && virtio_net_start(n, err, errlen);
}

static bool net_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	struct guest_ram guest = guest_ram_of(m);
	for (unsigned i = 0; i < cfg->nnics; i++)
		if (!add_nic(m, &cfg->nics[i], &guest, err, errlen)) return false;
	return true;
}

static void net_destroy(struct machine *m)
{
	for (unsigned i = 0; i < m->nnics; i++) virtio_net_destroy(m->nics[i]);
	m->nnics = 0;
}

static unsigned net_count(const struct machine *m)
{
	return m->nnics;
}

static struct virtio_mmio *net_transport(const struct machine *m, unsigned i)
{
	return &m->nics[i]->transport;
}

const struct board_device virtio_net_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = net_create,
    .destroy = net_destroy,
    .count = net_count,
    .virtio = net_transport,
};

/* ---- entropy ---- */

static bool rng_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!cfg->rng) return true;
	struct guest_ram guest = guest_ram_of(m);
	if ((m->rng = calloc(1, sizeof(*m->rng)))) virtio_rng_init(m->rng, &guest, NULL, NULL);
	if (m->rng && add_slot(m, &m->rng->transport, err, errlen)) return true;
	snprintf(err, errlen, "cannot create the virtio-rng device");
	return false;
}

static void rng_destroy(struct machine *m)
{
	free(m->rng);
	m->rng = NULL;
}

static unsigned rng_count(const struct machine *m)
{
	return m->rng ? 1 : 0;
}

static struct virtio_mmio *rng_transport(const struct machine *m, unsigned i)
{
	return &m->rng->transport;
}

const struct board_device virtio_rng_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = rng_create,
    .destroy = rng_destroy,
    .count = rng_count,
    .virtio = rng_transport,
};

/* ---- the display ---- */

static bool gpu_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!cfg->display_width) return true;
	struct guest_ram guest = guest_ram_of(m);
	if (!(m->gpu = calloc(1, sizeof(*m->gpu)))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (!virtio_gpu_init(m->gpu, &guest, cfg->display_width, cfg->display_height, err, errlen)) {
		free(m->gpu);
		m->gpu = NULL;
		return false;
	}
	return add_slot(m, &m->gpu->transport, err, errlen);
}

static void gpu_destroy(struct machine *m)
{
	if (m->gpu) virtio_gpu_destroy(m->gpu);
	free(m->gpu);
	m->gpu = NULL;
}

static unsigned gpu_count(const struct machine *m)
{
	return m->gpu ? 1 : 0;
}

static struct virtio_mmio *gpu_transport(const struct machine *m, unsigned i)
{
	return &m->gpu->transport;
}

const struct board_device virtio_gpu_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = gpu_create,
    .destroy = gpu_destroy,
    .count = gpu_count,
    .virtio = gpu_transport,
};

/* ---- the display's keyboard and tablet ---- */

static bool input_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!cfg->display_width) return true;
	struct guest_ram guest = guest_ram_of(m);
	m->keyboard = calloc(1, sizeof(*m->keyboard));
	m->tablet = calloc(1, sizeof(*m->tablet));
	if (!m->keyboard || !m->tablet) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	virtio_input_init(m->keyboard, VIRTIO_INPUT_KEYBOARD, &guest);
	virtio_input_init(m->tablet, VIRTIO_INPUT_TABLET, &guest);
	return add_slot(m, &m->keyboard->transport, err, errlen) &&
	       add_slot(m, &m->tablet->transport, err, errlen);
}

static void input_destroy(struct machine *m)
{
	free(m->keyboard);
	free(m->tablet);
	m->keyboard = m->tablet = NULL;
}

static unsigned input_count(const struct machine *m)
{
	return m->keyboard ? 2 : 0;
}

static struct virtio_mmio *input_transport(const struct machine *m, unsigned i)
{
	return i == 0 ? &m->keyboard->transport : &m->tablet->transport;
}

const struct board_device virtio_input_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = input_create,
    .destroy = input_destroy,
    .count = input_count,
    .virtio = input_transport,
};

/* ---- the virtio console (hvc0) ---- */

static bool console_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!cfg->vconsole) return true;
	struct guest_ram guest = guest_ram_of(m);
	if ((m->vconsole = calloc(1, sizeof(*m->vconsole))))
		virtio_console_init(m->vconsole, &guest, cfg->console_write, cfg->console_opaque);
	if (!m->vconsole || !add_slot(m, &m->vconsole->transport, err, errlen)) {
		snprintf(err, errlen, "cannot create the virtio console");
		return false;
	}
	m->input_to_vconsole = cfg->input_to_vconsole;
	return true;
}

static void console_destroy(struct machine *m)
{
	free(m->vconsole);
	m->vconsole = NULL;
}

static unsigned console_count(const struct machine *m)
{
	return m->vconsole ? 1 : 0;
}

static struct virtio_mmio *console_transport(const struct machine *m, unsigned i)
{
	return &m->vconsole->transport;
}

const struct board_device virtio_console_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = console_create,
    .destroy = console_destroy,
    .count = console_count,
    .virtio = console_transport,
};

/* ---- the memory balloon ---- */

static bool balloon_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!cfg->balloon) return true;
	struct guest_ram guest = guest_ram_of(m);
	if ((m->balloon = calloc(1, sizeof(*m->balloon))))
		virtio_balloon_init(m->balloon, &guest, NULL, NULL, cfg->free_page_reporting);
	if (m->balloon && add_slot(m, &m->balloon->transport, err, errlen)) return true;
	snprintf(err, errlen, "cannot create the virtio-balloon device");
	return false;
}

static void balloon_destroy(struct machine *m)
{
	free(m->balloon);
	m->balloon = NULL;
}

static unsigned balloon_count(const struct machine *m)
{
	return m->balloon ? 1 : 0;
}

static struct virtio_mmio *balloon_transport(const struct machine *m, unsigned i)
{
	return &m->balloon->transport;
}

const struct board_device virtio_balloon_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = balloon_create,
    .destroy = balloon_destroy,
    .count = balloon_count,
    .virtio = balloon_transport,
};

/* ---- sockets between guest and host (vsock) ---- */

static bool vsock_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	if (!cfg->vsock_cid) return true;
	struct guest_ram guest = guest_ram_of(m);
	m->vsock = virtio_vsock_create(cfg->vsock_cid, cfg->vsock_path, &guest, &m->io_lock, err, errlen);
	return m->vsock && add_slot(m, &m->vsock->transport, err, errlen) &&
	       virtio_vsock_start(m->vsock, err, errlen);
}

static void vsock_destroy(struct machine *m)
{
	virtio_vsock_destroy(m->vsock);
	m->vsock = NULL;
}

static unsigned vsock_count(const struct machine *m)
{
	return m->vsock ? 1 : 0;
}

static struct virtio_mmio *vsock_transport(const struct machine *m, unsigned i)
{
	return &m->vsock->transport;
}

const struct board_device virtio_vsock_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = vsock_create,
    .destroy = vsock_destroy,
    .count = vsock_count,
    .virtio = vsock_transport,
};

/* ---- shared folders ---- */

static bool p9_create(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen)
{
	struct guest_ram guest = guest_ram_of(m);
	for (unsigned i = 0; i < cfg->nshares; i++) {
		const struct machine_share *sh = &cfg->shares[i];
		struct virtio_9p *d = virtio_9p_create(sh->path, sh->tag, sh->readonly, &guest, err, errlen);
		if (!d) return false;
		m->shares[m->nshares++] = d;
		if (!add_slot(m, &d->transport, err, errlen)) return false;
	}
	return true;
}

static void p9_destroy(struct machine *m)
{
	for (unsigned i = 0; i < m->nshares; i++) virtio_9p_destroy(m->shares[i]);
	m->nshares = 0;
}

static unsigned p9_count(const struct machine *m)
{
	return m->nshares;
}

static struct virtio_mmio *p9_transport(const struct machine *m, unsigned i)
{
	return &m->shares[i]->transport;
}

const struct board_device virtio_9p_board = {
    .name = "virtio",
    .version = VIRTIO_STATE_VERSION,
    .create = p9_create,
    .destroy = p9_destroy,
    .count = p9_count,
    .virtio = p9_transport,
};

bool machine_balloon_set_memory(struct machine *m, uint64_t guest_bytes)
{
	if (!m->balloon) return false;
	uint64_t keep = guest_bytes && guest_bytes < m->ram_size ? guest_bytes : m->ram_size;
	pthread_mutex_lock(&m->io_lock);
	virtio_balloon_set_target(m->balloon, m->ram_size - keep);
	pthread_mutex_unlock(&m->io_lock);
	return true;
}

bool machine_balloon_report(struct machine *m, struct virtio_balloon *out)
{
	if (!m->balloon) return false;
	pthread_mutex_lock(&m->io_lock);
	*out = *m->balloon;
	virtio_balloon_request_stats(m->balloon);
	pthread_mutex_unlock(&m->io_lock);
	return true;
}
