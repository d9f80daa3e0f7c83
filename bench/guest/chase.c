/*
 * chase.c — a pointer chase over 64 MiB in U-mode, bare metal (tests/engine's
 * crt.S and plat.c: the UART and test finisher both boards have): one node
 * per 64-byte line, 1 Mi nodes in one random cycle, `ld a0, 0(a0)` STEPS
 * times. The pages are 4 KiB, or 2 MiB with MEGA. Each step waits on a load
 * that misses the caches and, with 4 KiB pages, on a TLB whose 16384 pages
 * no host or guest TLB holds: the match finders' tree walks in xz and 7-Zip
 * in their plainest form (bench/chase.sh).
 */
#include "../chase.h"
#include "engine.h"

#define DATA 0xc0000000UL

static uint8_t pool[64u << 20] __attribute__((aligned(2 << 20)));
static uint32_t order[CHASE_NODES];
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096)));
static uint64_t leaf[32][512] __attribute__((aligned(4096)));

void u_chase(void);
__asm__(".text\n"
        ".globl u_chase\n"
        "u_chase:\n" /* a0: the first node, a1: the steps; back with the last node */
        "1: ld a0, 0(a0)\n"
        " addi a1, a1, -1\n"
        " bnez a1, 1b\n"
        " ecall\n");

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	map_user_tables(root, mid, leaf[0]);
	for (unsigned i = 0; i < 32; i++) {
#ifdef MEGA
		mid[i] =
		    (uint64_t)(uintptr_t)(pool + ((uint64_t)i << 21)) >> 12 << 10 | 0xd7; /* V R W U A D */
#else
		mid[i] = (uint64_t)(uintptr_t)leaf[i] >> 12 << 10 | 1;
		for (unsigned j = 0; j < 512; j++)
			leaf[i][j] =
			    (uint64_t)(uintptr_t)(pool + ((uint64_t)(i * 512 + j) << 12)) >> 12 << 10 | 0xd7;
#endif
	}
	__asm__ volatile("sfence.vma" ::: "memory");
	chase_link(pool, DATA, order);
	const uint64_t last = run_user(user_addr(u_chase), DATA, STEPS, 0, 0);
	put("chase ends at node ");
	put_num((last - DATA) / 64);
	put("\n");
	plat_exit(0);
}
