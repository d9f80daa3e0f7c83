/* The board as the engine tests see it: the 16550 UART (one hart prints at a time) and the
 * test finisher. */
#include "engine.h"

#define UART ((volatile unsigned char *)0x10000000UL)
#define FINISHER ((volatile unsigned int *)0x100000UL)

void put(const char *s)
{
	for (; *s; s++) {
		while (!(UART[5] & 0x20)) {
		}
		UART[0] = (unsigned char)*s;
	}
}

void put_num(uint64_t v)
{
	char b[24];
	int i = 23;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b + i);
}

void plat_exit(int code)
{
	*FINISHER = code ? ((unsigned)code << 16 | 0x3333) : 0x5555;
	for (;;) {
	}
}

void plat_enter_s(uint64_t *root, void (*s_main)(void))
{
	root[0] = 0x0ULL >> 12 << 10 | 0xc7;        /* devices: V R W A D */
	root[2] = 0x80000000ULL >> 12 << 10 | 0xcf; /* RAM: V R W X A D */
	uint64_t satp = 8ULL << 60 | (uint64_t)(uintptr_t)root >> 12;
	__asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" ::"r"(~0ULL >> 10), "r"(0x1fULL));
	__asm__ volatile("csrw satp, %0; sfence.vma" ::"r"(satp) : "memory");
	uint64_t mstatus;
	__asm__ volatile("csrr %0, mstatus" : "=r"(mstatus));
	mstatus = (mstatus & ~(3ULL << 11)) | 1ULL << 11; /* MPP = S */
	__asm__ volatile("csrw mstatus, %0; csrw mepc, %1; mret" ::"r"(mstatus), "r"((uintptr_t)s_main));
	for (;;) {
	}
}
