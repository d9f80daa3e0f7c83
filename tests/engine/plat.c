/* The board as the engine tests see it: the 16550 UART (one hart prints at a time) and the
 * test finisher; and a way into U-mode code and back (run_user). */
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

/* run_user (engine.h): mtvec and ra saved on the stack, mscratch holding it across the U-mode run. */
__asm__(".text\n"
        ".globl run_user\n"
        "run_user:\n"
        " csrr t0, mtvec\n"
        " addi sp, sp, -16\n"
        " sd t0, 0(sp)\n"
        " sd ra, 8(sp)\n"
        " csrw mscratch, sp\n"
        " la t0, 2f\n"
        " csrw mtvec, t0\n"
        " csrw mepc, a0\n"
        " li t0, 3 << 11\n"
        " csrc mstatus, t0\n" /* MPP = U */
        " mv a0, a1\n"
        " mv a1, a2\n"
        " mv a2, a3\n"
        " mv a3, a4\n"
        " mret\n"
        ".align 2\n"
        "2: csrr sp, mscratch\n"
        " csrr t0, mcause\n"
        " li t1, 8\n" /* ecall from U */
        " beq t0, t1, 3f\n"
        " li a0, 98\n"
        " call plat_exit\n"
        "3: ld t0, 0(sp)\n"
        " csrw mtvec, t0\n"
        " ld ra, 8(sp)\n"
        " addi sp, sp, 16\n"
        " ret\n");
