/*
 * throttle.c — see throttle.h.
 */
#define _GNU_SOURCE
#include "throttle.h"
#include "util/clock.h"

#include <time.h>

#define WINDOW_NS 250000000ULL /* budgets are counted over a quarter second at most */
#define NAP_NS 20000000ULL     /* sleep in slices: a stop or pause is never delayed long */

void rv_throttle_set(struct rv_throttle *t, uint64_t ips, uint32_t cpu_permyriad)
{
	atomic_store(&t->ips, ips);
	atomic_store(&t->cpu_permyriad, cpu_permyriad);
	atomic_fetch_add(&t->generation, 1);
}

/* How long the hart must sleep to be back within its budgets (0: it is within). */
static uint64_t debt_ns(struct rv_throttle *t, uint64_t now, uint64_t instret, uint64_t cpu)
{
	uint64_t ips = atomic_load_explicit(&t->ips, memory_order_relaxed);
	uint32_t permyriad = atomic_load_explicit(&t->cpu_permyriad, memory_order_relaxed);
	uint64_t elapsed = now - t->window_ns, wait = 0;
	if (ips) {
		/* The time these instructions are allowed to take at the cap. */
		double due = (double)(instret - t->window_instret) * 1e9 / (double)ips;
		if (due > (double)elapsed) wait = (uint64_t)(due - (double)elapsed);
	}
	if (permyriad) {
		double due = (double)(cpu - t->window_cpu_ns) * 10000.0 / permyriad;
		if (due > (double)elapsed && (uint64_t)(due - (double)elapsed) > wait)
			wait = (uint64_t)(due - (double)elapsed);
	}
	return wait;
}

void rv_throttle_wait(struct rv_throttle *t, uint64_t instret, const _Atomic int *stop,
                      const _Atomic int *paused)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	uint64_t cpu = atomic_load_explicit(&t->cpu_permyriad, memory_order_relaxed)
	                   ? clock_ns(CLOCK_THREAD_CPUTIME_ID)
	                   : 0;
	uint32_t gen = atomic_load(&t->generation);
	if (gen != t->seen_generation || now - t->window_ns >= WINDOW_NS) {
		/* A new window; what the last one overspent was slept off before it ended. */
		t->seen_generation = gen;
		t->window_ns = now;
		t->window_instret = instret;
		t->window_cpu_ns = cpu;
		return;
	}
	uint64_t wait = debt_ns(t, now, instret, cpu);
	while (wait && !atomic_load(stop) && !atomic_load(paused) && atomic_load(&t->generation) == gen) {
		uint64_t nap = wait < NAP_NS ? wait : NAP_NS;
		struct timespec ts = {0, (long)nap};
		nanosleep(&ts, NULL);
		atomic_fetch_add_explicit(&t->throttled_ns, nap, memory_order_relaxed);
		wait -= nap;
	}
}
