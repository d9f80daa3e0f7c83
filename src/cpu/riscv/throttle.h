/*
 * throttle.h — a hart's speed limits, enforced inside the emulator so they
 * hold without cgroups: a cap on instructions per second, and a cap on the
 * host CPU time the hart's thread may use (a share of one host CPU). The
 * hart sleeps whenever it ran ahead of either budget, measured over short
 * windows so an idle spell does not bank a long burst. Limits are set from
 * any thread and take effect within one block.
 */
#ifndef CLOISON_CPU_RISCV_THROTTLE_H
#define CLOISON_CPU_RISCV_THROTTLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct rv_throttle {
	_Atomic uint64_t ips;           /* instructions per second; 0: none */
	_Atomic uint32_t cpu_permyriad; /* hundredths of a percent of one host CPU; 0: none */
	_Atomic uint32_t generation;    /* bumped by every change: the hart restarts its window */
	/* The hart thread's own. */
	uint32_t seen_generation;
	uint64_t window_ns, window_instret, window_cpu_ns;
	_Atomic uint64_t throttled_ns; /* time spent asleep for the limits */
};

/* Sets both caps (0 removes one). */
void rv_throttle_set(struct rv_throttle *t, uint64_t ips, uint32_t cpu_permyriad);
static inline bool rv_throttle_active(struct rv_throttle *t)
{
	return atomic_load_explicit(&t->ips, memory_order_relaxed) ||
	       atomic_load_explicit(&t->cpu_permyriad, memory_order_relaxed);
}
/* Called by the hart thread between blocks with its instructions retired so far: sleeps while it is
 * ahead of a budget, in naps that end early when *stop or *paused is set. */
void rv_throttle_wait(struct rv_throttle *t, uint64_t instret, const _Atomic int *stop,
                      const _Atomic int *paused);

#endif
