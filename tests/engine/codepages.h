/*
 * codepages.h — two U-mode code pages for engine tests: A at CODE and B right
 * after it under Sv39, A on one frame and B on either of two (map_b), so a
 * test can remap B (sfence.vma only) or rewrite a frame in place under code
 * the translator runs (straddle.c, crosspage.c). Included by one test each.
 */
#ifndef CLOISON_TESTS_ENGINE_CODEPAGES_H
#define CLOISON_TESTS_ENGINE_CODEPAGES_H

#include "engine.h"

#define CODE 0xc0000000UL /* page A, then page B */
#define PTE_CODE 0xdb     /* V R X U A */

static uint8_t page_a[4096] __attribute__((aligned(4096)));
static uint8_t page_b[2][4096] __attribute__((aligned(4096)));
static uint64_t root[512] __attribute__((aligned(4096))), mid[512] __attribute__((aligned(4096))),
    leaf[512] __attribute__((aligned(4096)));

static void copy(uint8_t *to, const uint8_t *from, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) to[i] = from[i];
}

/* Page B on frame f. */
static void map_b(unsigned f)
{
	leaf[1] = (uint64_t)(uintptr_t)page_b[f] >> 12 << 10 | PTE_CODE;
	__asm__ volatile("sfence.vma" ::: "memory");
}

/* Sv39 on, A and B (on frame 0) mapped at CODE for U-mode, the code as it is in memory fetched. */
static void map_code_pages(void)
{
	root[3] = (uint64_t)(uintptr_t)mid >> 12 << 10 | 1; /* VA 3 GiB: the code pages */
	mid[0] = (uint64_t)(uintptr_t)leaf >> 12 << 10 | 1;
	leaf[0] = (uint64_t)(uintptr_t)page_a >> 12 << 10 | PTE_CODE;
	__asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" ::"r"(~0ULL >> 10), "r"(0x1fULL));
	__asm__ volatile("csrw satp, %0" ::"r"(8ULL << 60 | (uint64_t)(uintptr_t)root >> 12));
	map_b(0);
	fence_i();
}

#endif
