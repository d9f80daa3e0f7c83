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
