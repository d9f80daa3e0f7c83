/*
 * platform.h — what a differential test program needs from where it runs:
 * print bytes and finish. Two implementations: Linux user mode (qemu-riscv64)
 * and bare metal on the cloison board (UART + test finisher).
 */
#ifndef DIFF_PLATFORM_H
#define DIFF_PLATFORM_H

#include <stddef.h>

void plat_write(const char *buf, size_t len);
__attribute__((noreturn)) void plat_exit(int code);

#endif
