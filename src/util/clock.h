/*
 * clock.h — the project's one way to read a clock in nanoseconds: the host's
 * monotonic clock for durations, deadlines and guest time, any other clock
 * (real time, a thread's CPU time) by id.
 */
#ifndef CLOISON_CLOCK_H
#define CLOISON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

#endif
