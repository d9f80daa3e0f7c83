/*
 * atomics.c — two harts increment shared counters at once, each N times:
 * amoadd.w, amoadd.d, LR/SC loops on a doubleword and a word, and a plain
 * load/store under a lock taken with amoswap.w.aq. Every count must come out
 * exactly 2N. Both also toggle their own bits of one shared doubleword with
 * amoxor.d (each bit an odd number of times: all set at the end), and set and
 * clear their own half of a shared word with amoor.w and amoand.w, checking
 * the old value each returns. Prints "PASS atomics" and finishes with code 0.
 */
#include "engine.h"

#define N 100000

static volatile uint32_t c32;
static volatile uint64_t c64, lrsc, locked, toggled;
static volatile uint32_t lrsc32, halves;
static volatile uint32_t lock;
static volatile int finished[2];

/* *p += 1 by an LR/SC loop on a doubleword or a word. */
#define LRSC_ADD(name, type, lr, sc, add)                                                                    \
	static void name(volatile type *p)                                                                   \
	{                                                                                                    \
		uint64_t v, fail;                                                                            \
		do {                                                                                         \
			__asm__ volatile(lr " %0, (%2)\n\t" add " %0, %0, 1\n\t" sc " %1, %0, (%2)"          \
			                 : "=&r"(v), "=&r"(fail)                                             \
			                 : "r"(p)                                                            \
			                 : "memory");                                                        \
		} while (fail);                                                                              \
	}
LRSC_ADD(lrsc_add, uint64_t, "lr.d", "sc.d", "addi")
LRSC_ADD(lrsc_add32, uint32_t, "lr.w", "sc.w", "addiw")

int main(uint64_t hartid)
{
	if (hartid > 1)
		for (;;) {
		}
	for (int i = 0; i < N; i++) {
		__asm__ volatile("amoadd.w zero, %1, (%0)" ::"r"(&c32), "r"(1) : "memory");
		__asm__ volatile("amoadd.d zero, %1, (%0)" ::"r"(&c64), "r"(1) : "memory");
		lrsc_add(&lrsc);
		lrsc_add32(&lrsc32);
		uint64_t t = 1ULL << (hartid * 32 + (unsigned)i % 32);
		__asm__ volatile("amoxor.d zero, %1, (%0)" ::"r"(&toggled), "r"(t) : "memory");
		uint32_t bit = 1u << (hartid * 16 + (unsigned)i % 16), before;
		__asm__ volatile("amoor.w %0, %2, (%1)" : "=r"(before) : "r"(&halves), "r"(bit) : "memory");
		EXPECT(!(before & bit), "amoor.w old value", before);
		__asm__ volatile("amoand.w %0, %2, (%1)" : "=r"(before) : "r"(&halves), "r"(~bit) : "memory");
		EXPECT(before & bit, "amoand.w old value", before);
		uint32_t old;
		do {
			__asm__ volatile("amoswap.w.aq %0, %2, (%1)"
			                 : "=r"(old)
			                 : "r"(&lock), "r"(1)
			                 : "memory");
		} while (old);
		locked = locked + 1;
		__asm__ volatile("amoswap.w.rl zero, zero, (%0)" ::"r"(&lock) : "memory");
	}
	finished[hartid] = 1;
	if (hartid == 1)
		for (;;) {
		}
	while (!finished[1]) {
	}
	EXPECT(c32 == 2 * N, "amoadd.w count", c32);
	EXPECT(c64 == 2 * N, "amoadd.d count", c64);
	EXPECT(lrsc == 2 * N, "lr/sc count", lrsc);
	EXPECT(lrsc32 == 2 * N, "lr.w/sc.w count", lrsc32);
	EXPECT(toggled == ~0ULL, "amoxor.d bits", toggled); /* N / 32 toggles of each: odd */
	EXPECT(halves == 0, "amoor.w/amoand.w word", halves);
	EXPECT(locked == 2 * N, "count under the lock", locked);
	put("PASS atomics\n");
	plat_exit(0);
}
