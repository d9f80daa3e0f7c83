/*
 * store_forward.c — what a store followed by a load of the same address costs
 * on this host, by how the address is written: the chain the translator's
 * guest registers kept in the hart go through (docs/board.md, "Registers").
 * Each loop adds one to a value, stores it and loads it back: the time per
 * pass beyond the add alone is the store-to-load latency of that form.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static uint64_t slot __attribute__((aligned(64)));

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void add_only(long n)
{
	uint64_t v = 0;
	__asm__ volatile("1: add $1, %0\n\tdec %1\n\tjnz 1b" : "+r"(v), "+r"(n));
}

/* [disp32], no base register: the absolute form (the address must lie below 2 GiB: -no-pie) */
static void absolute(long n)
{
	uint64_t v = 0;
	__asm__ volatile("1: add $1, %0\n\tmov %0, slot\n\tmov slot, %0\n\tdec %1\n\tjnz 1b"
	                 : "+r"(v), "+r"(n)
	                 :
	                 : "memory");
}

static void rip_relative(long n)
{
	uint64_t v = 0;
	__asm__ volatile("1: add $1, %0\n\tmov %0, slot(%%rip)\n\tmov slot(%%rip), %0\n\tdec %1\n\tjnz 1b"
	                 : "+r"(v), "+r"(n)
	                 :
	                 : "memory");
}

static void base_register(long n)
{
	uint64_t v = 0;
	uint64_t *p = &slot;
	__asm__ volatile("1: add $1, %0\n\tmov %0, 8(%2)\n\tmov 8(%2), %0\n\tdec %1\n\tjnz 1b"
	                 : "+r"(v), "+r"(n)
	                 : "r"(p - 1)
	                 : "memory");
}

int main(void)
{
	const long n = 200000000;
	static const struct {
		const char *name;
		void (*fn)(long);
	} forms[] = {{"add alone", add_only},
	             {"absolute [disp32]", absolute},
	             {"rip-relative", rip_relative},
	             {"base register + disp", base_register}};
	double best[4] = {1e9, 1e9, 1e9, 1e9};
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 4; i++) {
			double t = now();
			forms[i].fn(n);
			t = (now() - t) / (double)n * 1e9;
			if (t < best[i]) best[i] = t;
		}
	printf("store then load of one address, ns per pass (best of 3 runs of %ld):\n", n);
	for (int i = 0; i < 4; i++)
		printf("  %-22s %.3f ns  (%.2fx the add alone)\n", forms[i].name, best[i], best[i] / best[0]);
	return 0;
}
