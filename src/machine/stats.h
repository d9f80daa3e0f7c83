/*
 * stats.h — what a running board has done, read in one call: instructions
 * and sleeps per hart, I/O per disk and per network interface. Values are
 * read without stopping the harts or the I/O threads, so they may be a
 * moment stale; each counter only grows.
 */
#ifndef CLOISON_MACHINE_STATS_H
#define CLOISON_MACHINE_STATS_H

#include "machine/machine.h"
#include "virtio/blk.h"
#include "virtio/net.h"

struct machine_hart_stats {
	uint64_t instructions, wfi_sleeps, throttled_ns;
	struct rv_engine_stats engine;
	struct rv_tlb_counts tlb;
	uint64_t pc;   /* where it was when read */
	unsigned priv; /* 0 U, 1 S, 3 M */
};

struct machine_stats {
	uint64_t instructions; /* all harts */
	unsigned nharts, ndisks, nnics;
	struct machine_hart_stats harts[MACHINE_MAX_HARTS];
	struct virtio_blk_stats disks[MACHINE_MAX_DISKS];
	struct net_stats nics[MACHINE_MAX_NICS];
};

void machine_stats(const struct machine *m, struct machine_stats *st);
/* Where hart i is running now (a sampling profiler's read). */
uint64_t machine_hart_pc(const struct machine *m, unsigned i);

#endif
