/*
 * balloon.c — see balloon.h. Requests are served synchronously when the
 * driver notifies. Every page number and range the guest sends is checked
 * against guest RAM; one outside it is counted and ignored.
 *
 * Queues are numbered as the driver finds them: inflate 0, deflate 1, then
 * stats (if VIRTIO_BALLOON_F_STATS_VQ was negotiated) and free page reporting
 * (if VIRTIO_BALLOON_F_PAGE_REPORTING), each taking the next index.
 */
#define _GNU_SOURCE
#include "balloon.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define VIRTIO_ID_BALLOON 5
#define F_STATS_VQ 1
#define F_DEFLATE_ON_OOM 2
#define F_PAGE_REPORTING 5
#define BALLOON_PAGE 4096u
#define STAT_ENTRY 10  /* le16 tag, le64 value, packed */
#define CONFIG_SIZE 16 /* num_pages, actual, free_page_hint_cmd_id, poison_val */

enum queue_role { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORTING, Q_NONE };

static enum queue_role role_of(const struct virtio_mmio *t, unsigned qi)
{
	bool stats = t->driver_features & (1ull << F_STATS_VQ);
	bool reporting = t->driver_features & (1ull << F_PAGE_REPORTING);
	if (qi < 2) return qi == 0 ? Q_INFLATE : Q_DEFLATE;
	if (qi == 2) return stats ? Q_STATS : reporting ? Q_REPORTING : Q_NONE;
	if (qi == 3) return stats && reporting ? Q_REPORTING : Q_NONE;
	return Q_NONE;
}

/* Drops [host, host + len) from the host process, whole pages only. */
static uint64_t discard(struct virtio_balloon *b, uint8_t *host, uint64_t len)
{
	uintptr_t start = ((uintptr_t)host + BALLOON_PAGE - 1) & ~(uintptr_t)(BALLOON_PAGE - 1);
	uintptr_t end = ((uintptr_t)host + len) & ~(uintptr_t)(BALLOON_PAGE - 1);
	if (end <= start) return 0;
	if (madvise((void *)start, end - start, MADV_DONTNEED)) return 0;
	b->discarded_bytes += end - start;
	return end - start;
}

/* Inflate and deflate buffers: arrays of le32 page frame numbers (4 KiB pages). Runs of adjacent
 * pages (the driver often hands them over in order) are discarded with one call. */
static void page_list(struct virtio_balloon *b, const struct virtq_chain *c, bool inflate)
{
	struct virtio_mmio *t = &b->transport;
	uint8_t *run = NULL; /* the run of adjacent pages being gathered */
	uint64_t run_len = 0;
	for (unsigned i = 0; i < c->nsegs; i++) {
		if (c->segs[i].device_writes) continue;
		const uint8_t *p = c->segs[i].host;
		for (uint32_t k = 0; k + 4 <= c->segs[i].len; k += 4) {
			uint32_t pfn;
			memcpy(&pfn, p + k, 4); /* little-endian host */
			uint8_t *host = guest_ram_ptr(&t->ram, (uint64_t)pfn * BALLOON_PAGE, BALLOON_PAGE);
			if (!host) {
				b->bad_pfns++;
				continue;
			}
			if (!inflate) {
				b->deflated_pages++; /* the page comes back on its own: its first touch faults
				                        it in */
				continue;
			}
			b->inflated_pages++;
			if (run && host == run + run_len) {
				run_len += BALLOON_PAGE;
			} else if (run && host + BALLOON_PAGE == run) {
				run = host, run_len += BALLOON_PAGE;
			} else {
				if (run) discard(b, run, run_len);
				run = host, run_len = BALLOON_PAGE;
			}
		}
	}
	if (run) discard(b, run, run_len);
}

static void read_stats(struct virtio_balloon *b, const struct virtq_chain *c)
{
	uint8_t entry[STAT_ENTRY];
	unsigned have = 0;
	for (unsigned i = 0; i < c->nsegs; i++) {
		if (c->segs[i].device_writes) continue;
		const uint8_t *p = c->segs[i].host;
		for (uint32_t k = 0; k < c->segs[i].len; k++) {
			entry[have++] = p[k];
			if (have < STAT_ENTRY) continue;
			have = 0;
			uint16_t tag;
			uint64_t val;
			memcpy(&tag, entry, 2);
			memcpy(&val, entry + 2, 8);
			if (tag < BALLOON_NSTATS) b->stats[tag] = val;
		}
	}
	b->stats_updates++;
}

static void balloon_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_balloon *b = t->dev;
	struct virtq *q = &t->queues[qi];
	static struct virtq_chain chain; /* large: not on the vCPU stack; callers hold the I/O lock */
	enum queue_role role = role_of(t, qi);
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	if (role == Q_NONE) return;
	while ((res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		switch (role) {
		case Q_INFLATE:
		case Q_DEFLATE: page_list(b, &chain, role == Q_INFLATE); break;
		case Q_REPORTING:
			/* The buffers are the free pages themselves (Linux offers them device-writable). */
			for (unsigned i = 0; i < chain.nsegs; i++)
				b->reported_bytes += discard(b, chain.segs[i].host, chain.segs[i].len);
			break;
		case Q_STATS:
			read_stats(b, &chain);
			if (b->stats_held)
				virtq_push(q, &t->ram, b->stats_head, 0), pushed = true; /* one at a time */
			b->stats_held = true;
			b->stats_head = chain.head;
			continue; /* kept until the host wants fresh numbers */
		case Q_NONE: break;
		}
		virtq_push(q, &t->ram, chain.head, 0);
		pushed = true;
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, qi);
}

static uint64_t balloon_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	const struct virtio_balloon *b = t->dev;
	uint32_t cfg[CONFIG_SIZE / 4] = {b->target_pages, b->actual_pages, 0, 0};
	uint64_t v = 0;
	memcpy(&v, (const uint8_t *)cfg + off, size); /* the transport checked off + size */
	return v;
}

static void balloon_config_write(struct virtio_mmio *t, uint32_t off, unsigned size, uint64_t val)
{
	struct virtio_balloon *b = t->dev;
	if (off == 4 && size == 4) b->actual_pages = (uint32_t)val; /* the only field the driver writes */
}

static void balloon_reset(struct virtio_mmio *t)
{
	struct virtio_balloon *b = t->dev;
	b->actual_pages = 0;
	b->stats_held = false;
}

static void balloon_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_balloon *b = t->dev;
	state_put_u32(w, b->target_pages);
	state_put_u32(w, b->actual_pages);
	state_put_u64(w, b->inflated_pages);
	state_put_u64(w, b->deflated_pages);
	state_put_u64(w, b->reported_bytes);
	state_put_u64(w, b->discarded_bytes);
	state_put_u64(w, b->bad_pfns);
	for (unsigned i = 0; i < BALLOON_NSTATS; i++) state_put_u64(w, b->stats[i]);
	state_put_u64(w, b->stats_updates);
	state_put_u32(w, b->stats_held);
	state_put_u32(w, b->stats_head);
}

static void balloon_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_balloon *b = t->dev;
	uint64_t ram_pages = t->ram.size / BALLOON_PAGE;
	b->target_pages = state_get_u32(r);
	b->actual_pages = state_get_u32(r);
	b->inflated_pages = state_get_u64(r);
	b->deflated_pages = state_get_u64(r);
	b->reported_bytes = state_get_u64(r);
	b->discarded_bytes = state_get_u64(r);
	b->bad_pfns = state_get_u64(r);
	for (unsigned i = 0; i < BALLOON_NSTATS; i++) b->stats[i] = state_get_u64(r);
	b->stats_updates = state_get_u64(r);
	b->stats_held = state_get_u32(r) != 0;
	uint32_t head = state_get_u32(r);
	unsigned sq = 2; /* the stats queue, when the driver has one */
	bool stats = t->driver_features & (1ull << F_STATS_VQ);
	if (b->target_pages > ram_pages || (b->stats_held && (!stats || head >= t->queues[sq].size)))
		state_fail(r, "virtio-balloon: target or stats buffer out of range");
	b->stats_head = (uint16_t)head;
}

static const struct virtio_device_ops balloon_ops = {
    .device_id = VIRTIO_ID_BALLOON,
    .features = (1ull << F_STATS_VQ) | (1ull << F_DEFLATE_ON_OOM) | (1ull << F_PAGE_REPORTING),
    .num_queues = 4,
    .queue_max = 128, /* the driver's page reporting wants at least 32 entries */
    .notify = balloon_notify,
    .config_size = CONFIG_SIZE,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .reset = balloon_reset,
    .save = balloon_save,
    .load = balloon_load,
};

void virtio_balloon_init(struct virtio_balloon *b, const struct guest_ram *ram, virtio_irq_fn set_irq,
                         void *irq_opaque, bool free_page_reporting)
{
	memset(b, 0, sizeof(*b));
	for (unsigned i = 0; i < BALLOON_NSTATS; i++) b->stats[i] = UINT64_MAX;
	virtio_mmio_init(&b->transport, &balloon_ops, b, ram, set_irq, irq_opaque, "virtio-balloon");
	if (!free_page_reporting) b->transport.withheld_features = 1ull << F_PAGE_REPORTING;
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	uint64_t pages = bytes / BALLOON_PAGE, ram_pages = b->transport.ram.size / BALLOON_PAGE;
	if (pages > ram_pages) pages = ram_pages;
	if (pages == b->target_pages) return;
	b->target_pages = (uint32_t)pages;
	virtio_config_changed(&b->transport);
}

void virtio_balloon_request_stats(struct virtio_balloon *b)
{
	struct virtio_mmio *t = &b->transport;
	if (!b->stats_held || t->frozen || !(t->status & VIRTIO_STATUS_DRIVER_OK)) return;
	b->stats_held = false;
	virtq_push(&t->queues[2], &t->ram, b->stats_head, 0);
	virtio_notify_used(t, 2);
}

const char *virtio_balloon_stat_name(enum balloon_stat s)
{
	static const char *const names[BALLOON_NSTATS] = {"swap_in_pages",   "swap_out_pages", "major_faults",
	                                                  "minor_faults",    "free_bytes",     "total_bytes",
	                                                  "available_bytes", "cache_bytes"};
	return (unsigned)s < BALLOON_NSTATS ? names[s] : "?";
}
