/*
 * blk.c — virtio block device (virtio-blk) over a block backend.
 *
 * The vCPU that notifies the queue only parses descriptor chains into
 * requests (under the board's I/O lock) and hands them to this device's I/O
 * thread, which does the reads, writes and flushes without any lock and
 * then, under the I/O lock again, writes the status byte, returns the chain
 * and interrupts. A flush completes only after fdatasync() returned, so what
 * the guest flushed is on the host's disk. Requests still in flight when the
 * driver resets the device complete into the void (their generation is
 * stale): nothing is pushed into a queue the driver has since rebuilt.
 */
#include "blk.h"

#include "util/log.h"
#include "util/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define BLK_T_MALFORMED 0xffffffffu /* ours: the chain did not form a request */

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define SECTOR 512ULL
#define BLK_QUEUE_MAX 256
#define BLK_SEG_MAX 254

struct blk_req {
	struct blk_req *next;
	uint64_t generation;
	uint16_t queue; /* the virtqueue it came from and completes into */
	uint16_t head;
	uint32_t type;
	uint64_t sector;
	uint8_t *status;
	int niov;
	uint64_t data_len;
	bool data_device_writes;
	struct iovec iov[];
};

/* Copies up to n bytes from the front of the chain's readable segments. */
static size_t gather(const struct virtq_chain *c, void *dst, size_t n, unsigned *seg, uint32_t *off)
{
	size_t got = 0;
	while (got < n && *seg < c->nsegs && !c->segs[*seg].device_writes) {
		uint32_t avail = c->segs[*seg].len - *off,
		         take = (uint32_t)(n - got) < avail ? (uint32_t)(n - got) : avail;
		memcpy((uint8_t *)dst + got, (uint8_t *)c->segs[*seg].host + *off, take);
		got += take;
		*off += take;
		if (*off == c->segs[*seg].len) {
			(*seg)++;
			*off = 0;
		}
	}
	return got;
}

/* Builds a request from a chain: header, data segments, status byte. NULL if it cannot even carry a status.
 */
static struct blk_req *parse(struct virtio_blk *d, const struct virtq_chain *c, const char **why)
{
	const struct virtq_seg *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
	if (!last || !last->device_writes || last->len == 0) {
		*why = "block request without a writable status byte";
		return NULL;
	}
	struct blk_req *r = calloc(1, sizeof(*r) + sizeof(struct iovec) * c->nsegs);
	if (!r) {
		*why = "out of memory";
		return NULL;
	}
	r->head = c->head;
	r->generation = d->generation;
	r->status = (uint8_t *)last->host + last->len - 1;
	uint8_t hdr[16];
	unsigned seg = 0;
	uint32_t off = 0;
	if (gather(c, hdr, sizeof(hdr), &seg, &off) != sizeof(hdr)) {
		r->type = BLK_T_MALFORMED; /* completes with IOERR */
		return r;
	}
	memcpy(&r->type, hdr, 4);
	memcpy(&r->sector, hdr + 8, 8);
	/* The data: what lies between the header and the status byte. */
	for (; seg < c->nsegs; seg++, off = 0) {
		uint32_t len = c->segs[seg].len - off;
		if (seg == c->nsegs - 1) len--; /* the status byte */
		if (len == 0) continue;
		if (r->niov && c->segs[seg].device_writes != r->data_device_writes) {
			r->type = BLK_T_MALFORMED; /* mixed directions in the data */
			break;
		}
		r->data_device_writes = c->segs[seg].device_writes;
		r->iov[r->niov++] = (struct iovec){(uint8_t *)c->segs[seg].host + off, len};
		r->data_len += len;
	}
	return r;
}

static uint8_t range_ok(struct virtio_blk *d, uint64_t sector, uint64_t len)
{
	uint64_t nsec = d->backend->size / SECTOR;
	return len % SECTOR == 0 && sector <= nsec && len / SECTOR <= nsec - sector;
}

#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per range */
#define BLK_MAX_DISCARD_SEGS 32

static void mark_dirty(struct virtio_blk *d, uint64_t off, uint64_t len)
{
	if (!len || !d->dirty) return;
	for (uint64_t blk = off / VIRTIO_BLK_DIRTY_BLOCK;
	     blk <= (off + len - 1) / VIRTIO_BLK_DIRTY_BLOCK && blk < d->dirty_blocks; blk++)
		atomic_fetch_or(&d->dirty[blk / 64], 1ull << (blk % 64));
}

/* Discard or write-zeroes: the data is an array of {le64 sector, le32 count, le32 flags}. */
static uint8_t discard_ranges(struct virtio_blk *d, struct blk_req *r, bool zeroes)
{
	struct block_backend *b = d->backend;
	if (b->readonly || r->data_device_writes || r->data_len % 16 ||
	    r->data_len / 16 > BLK_MAX_DISCARD_SEGS)
		return VIRTIO_BLK_S_IOERR;
	uint8_t ranges[16 * BLK_MAX_DISCARD_SEGS];
	size_t got = 0;
	for (int i = 0; i < r->niov; i++) {
		memcpy(ranges + got, r->iov[i].iov_base, r->iov[i].iov_len);
		got += r->iov[i].iov_len;
	}
	for (size_t i = 0; i < got; i += 16) {
		uint64_t sector;
		uint32_t count, flags;
		memcpy(&sector, ranges + i, 8);
		memcpy(&count, ranges + i + 8, 4);
		memcpy(&flags, ranges + i + 12, 4);
		if (count > BLK_MAX_DISCARD_SECTORS || (flags & ~1u) || (!zeroes && flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (!range_ok(d, sector, (uint64_t)count * SECTOR)) return VIRTIO_BLK_S_IOERR;
		int rc = zeroes ? b->drv->write_zeroes(b, sector * SECTOR, (uint64_t)count * SECTOR)
		                : b->drv->discard(b, sector * SECTOR, (uint64_t)count * SECTOR);
		if (rc) return VIRTIO_BLK_S_IOERR;
		mark_dirty(d, sector * SECTOR, (uint64_t)count * SECTOR);
	}
	d->stats.discard_ops++;
	return VIRTIO_BLK_S_OK;
}

uint64_t *virtio_blk_take_dirty(struct virtio_blk *d, size_t *nblocks)
{
	size_t words = (d->dirty_blocks + 63) / 64;
	uint64_t *out = calloc(words ? words : 1, sizeof(uint64_t));
	if (!out) return NULL;
	for (size_t i = 0; i < words; i++) out[i] = atomic_exchange(&d->dirty[i], 0);
	*nblocks = d->dirty_blocks;
	return out;
}

/* Runs one request on the I/O thread. Returns the status; *written is what the device wrote. */
static uint8_t execute(struct virtio_blk *d, struct blk_req *r, uint32_t *written)
{
	struct block_backend *b = d->backend;
	*written = 1; /* the status byte */
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		if (!r->data_device_writes && r->niov) return VIRTIO_BLK_S_IOERR;
		if (!range_ok(d, r->sector, r->data_len)) return VIRTIO_BLK_S_IOERR;
		if (b->drv->preadv(b, r->iov, r->niov, r->sector * SECTOR)) return VIRTIO_BLK_S_IOERR;
		d->stats.read_ops++;
		d->stats.read_bytes += r->data_len;
		*written += (uint32_t)r->data_len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		if (b->readonly || (r->data_device_writes && r->niov)) return VIRTIO_BLK_S_IOERR;
		if (!range_ok(d, r->sector, r->data_len)) return VIRTIO_BLK_S_IOERR;
		if (b->drv->pwritev(b, r->iov, r->niov, r->sector * SECTOR)) return VIRTIO_BLK_S_IOERR;
		mark_dirty(d, r->sector * SECTOR, r->data_len);
		d->stats.write_ops++;
		d->stats.write_bytes += r->data_len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		d->stats.flush_ops++;
		return b->readonly || b->ignore_flush || b->drv->flush(b) == 0 ? VIRTIO_BLK_S_OK
		                                                               : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID: {
		if (!r->data_device_writes || r->niov == 0) return VIRTIO_BLK_S_IOERR;
		size_t n = r->iov[0].iov_len < sizeof(d->serial) ? r->iov[0].iov_len : sizeof(d->serial);
		memcpy(r->iov[0].iov_base, d->serial, n);
		*written += (uint32_t)n;
		return VIRTIO_BLK_S_OK;
	}
	case BLK_T_MALFORMED: return VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_DISCARD: return discard_ranges(d, r, false);
	case VIRTIO_BLK_T_WRITE_ZEROES: return discard_ranges(d, r, true);
	default: return VIRTIO_BLK_S_UNSUPP;
	}
}

void virtio_blk_set_limits(struct virtio_blk *d, uint64_t bytes_per_s, uint64_t ops_per_s)
{
	pthread_mutex_lock(&d->lock);
	d->limit_bps = bytes_per_s;
	d->limit_iops = ops_per_s;
	d->limits_pending = true;
	pthread_mutex_unlock(&d->lock);
}

/* Waits until the limits let a read or write of `bytes` proceed (in short naps: a stop is not delayed). */
static void throttle(struct virtio_blk *d, const struct blk_req *r)
{
	if (r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_OUT) return;
	uint64_t t = monotonic_ns();
	uint64_t a = token_bucket_take(&d->bps, (double)r->data_len, t),
	         b = token_bucket_take(&d->iops, 1, t);
	uint64_t wait = a > b ? a : b;
	d->stats.throttled_ns += wait;
	while (wait && !__atomic_load_n(&d->stopping, __ATOMIC_RELAXED)) {
		uint64_t nap = wait < 50000000ULL ? wait : 50000000ULL;
		struct timespec ts = {(time_t)(nap / 1000000000ULL), (long)(nap % 1000000000ULL)};
		nanosleep(&ts, NULL);
		wait -= nap;
	}
}

static void *io_thread(void *arg)
{
	struct virtio_blk *d = arg;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->pending && !d->stopping) pthread_cond_wait(&d->cond, &d->lock);
		if (!d->pending) break; /* stopping and drained */
		struct blk_req *r = d->pending;
		d->pending = r->next;
		if (!d->pending) d->pending_tail = NULL;
		if (d->limits_pending) {
			uint64_t t = monotonic_ns();
			token_bucket_init(&d->bps, (double)d->limit_bps, 0, t);
			token_bucket_init(&d->iops, (double)d->limit_iops, 0, t);
			d->limits_pending = false;
		}
		pthread_mutex_unlock(&d->lock);

		uint32_t written;
		lease_wait(d->transport.lease,
		           NULL); /* queued before the lease ran out: wait for a renewal */
		throttle(d, r);
		uint8_t status = execute(d, r, &written);

		pthread_mutex_lock(d->io_lock);
		if (r->generation == d->generation) { /* not reset meanwhile */
			*r->status = status;
			guest_ram_dirty(&d->transport.ram, r->status, 1);
			for (int i = 0; r->data_device_writes && i < r->niov; i++)
				guest_ram_dirty(&d->transport.ram, r->iov[i].iov_base, r->iov[i].iov_len);
			virtq_push(&d->transport.queues[r->queue], &d->transport.ram, r->head, written);
			virtio_notify_used(&d->transport, r->queue);
		}
		pthread_mutex_unlock(d->io_lock);
		free(r);
		pthread_mutex_lock(&d->lock);
		if (--d->inflight == 0) pthread_cond_broadcast(&d->drained);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void blk_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_blk *d = t->dev;
	const char *why;
	enum virtq_pop_result res;
	while ((res = virtq_pop(&t->queues[qi], &t->ram, &d->chain, &why)) == VIRTQ_GOT) {
		struct blk_req *r = parse(d, &d->chain, &why);
		if (!r) {
			virtio_device_broken(t, why);
			return;
		}
		r->queue = (uint16_t)qi;
		pthread_mutex_lock(&d->lock);
		if (d->pending_tail)
			d->pending_tail->next = r;
		else
			d->pending = r;
		d->pending_tail = r;
		d->inflight++;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
}

static uint64_t blk_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	struct virtio_blk *d = t->dev;
	uint8_t cfg[60] = {0};
	uint64_t capacity = d->backend->size / SECTOR;
	uint16_t num_queues = (uint16_t)d->num_queues;
	uint32_t seg_max = BLK_SEG_MAX, max_sectors = BLK_MAX_DISCARD_SECTORS,
	         max_segs = BLK_MAX_DISCARD_SEGS;
	uint32_t alignment = 8; /* 4 KiB: the host's hole granularity */
	memcpy(cfg + 0, &capacity, 8);
	memcpy(cfg + 12, &seg_max, 4);
	memcpy(cfg + 34, &num_queues, 2);  /* num_queues (with VIRTIO_BLK_F_MQ) */
	memcpy(cfg + 36, &max_sectors, 4); /* max_discard_sectors */
	memcpy(cfg + 40, &max_segs, 4);    /* max_discard_seg */
	memcpy(cfg + 44, &alignment, 4);   /* discard_sector_alignment */
	memcpy(cfg + 48, &max_sectors, 4); /* max_write_zeroes_sectors */
	memcpy(cfg + 52, &max_segs, 4);    /* max_write_zeroes_seg */
	cfg[56] = 1;                       /* write_zeroes_may_unmap */
	uint64_t v = 0;
	if (off + size <= sizeof(cfg)) memcpy(&v, cfg + off, size);
	return v;
}

static void blk_reset(struct virtio_mmio *t)
{
	struct virtio_blk *d = t->dev;
	d->generation++; /* in-flight requests will not be pushed */
}

/* What the guest saw of the disk: a restored VM must find the same one. */
static void blk_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_blk *d = t->dev;
	state_put_u64(w, d->backend->size);
	state_put_bool(w, d->backend->readonly);
	state_put_bytes(w, d->serial, sizeof(d->serial));
}

static void blk_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_blk *d = t->dev;
	uint64_t size = state_get_u64(r);
	bool ro = state_get_bool(r);
	char serial[sizeof(d->serial)];
	state_get_bytes(r, serial, sizeof(serial));
	if (!r->failed && (size != d->backend->size || ro != d->backend->readonly))
		state_fail(
		    r, "virtio-blk: the saved disk (%llu bytes%s) is not the one opened here (%llu bytes%s)",
		    (unsigned long long)size, ro ? ", read-only" : "", (unsigned long long)d->backend->size,
		    d->backend->readonly ? ", read-only" : "");
	else if (!r->failed && memcmp(serial, d->serial, sizeof(serial)))
		state_fail(r, "virtio-blk: the saved disk has another serial number");
}

static void init_ops(struct virtio_blk *d)
{
	d->ops = (struct virtio_device_ops){
	    .device_id = VIRTIO_ID_BLOCK,
	    .features =
	        (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_FLUSH) |
	        (d->num_queues > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0) |
	        (d->backend->readonly ? 1ULL << VIRTIO_BLK_F_RO
	                              : (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES)),
	    .num_queues = d->num_queues,
	    .queue_max = BLK_QUEUE_MAX,
	    .notify = blk_notify,
	    .config_size = 60,
	    .config_read = blk_config_read,
	    .reset = blk_reset,
	    .save = blk_save,
	    .load = blk_load,
	};
}

struct virtio_blk *virtio_blk_create(struct block_backend *backend, const struct guest_ram *ram,
                                     pthread_mutex_t *io_lock, const char *serial, unsigned num_queues,
                                     char *errmsg, size_t errlen)
{
	if (num_queues < 1 || num_queues > VIRTIO_BLK_MAX_QUEUES) {
		snprintf(errmsg, errlen, "virtio-blk: %u queues (1 to %d)", num_queues,
		         VIRTIO_BLK_MAX_QUEUES);
		return NULL;
	}
	struct virtio_blk *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(errmsg, errlen, "out of memory");
		return NULL;
	}
	d->backend = backend;
	d->io_lock = io_lock;
	d->num_queues = num_queues;
	memcpy(d->serial, serial, strnlen(serial, sizeof(d->serial))); /* not NUL-terminated when 20 long */
	init_ops(d);
	d->dirty_blocks = (backend->size + VIRTIO_BLK_DIRTY_BLOCK - 1) / VIRTIO_BLK_DIRTY_BLOCK;
	d->dirty = malloc(((d->dirty_blocks + 63) / 64 + 1) * sizeof(uint64_t));
	if (!d->dirty) {
		snprintf(errmsg, errlen, "out of memory");
		free(d);
		return NULL;
	}
	memset((void *)d->dirty, 0xff, ((d->dirty_blocks + 63) / 64 + 1) * sizeof(uint64_t));
	virtio_mmio_init(&d->transport, &d->ops, d, ram, NULL, NULL, "virtio-blk");
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	pthread_cond_init(&d->drained, NULL);
	if (pthread_create(&d->thread, NULL, io_thread, d) != 0) {
		snprintf(errmsg, errlen, "cannot start the disk I/O thread");
		free((void *)d->dirty);
		free(d);
		return NULL;
	}
	return d;
}

bool virtio_blk_drain(struct virtio_blk *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->inflight) pthread_cond_wait(&d->drained, &d->lock);
	pthread_mutex_unlock(&d->lock);
	struct block_backend *b = d->backend;
	return b->readonly || b->drv->flush(b) == 0;
}

void virtio_blk_destroy(struct virtio_blk *d)
{
	if (!d) return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	pthread_cond_destroy(&d->drained);
	block_close(d->backend);
	free((void *)d->dirty);
	free(d);
}
