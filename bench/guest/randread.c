/*
 * randread.c — runs inside the guest (static riscv64, no libc): 4 KiB
 * O_DIRECT random reads from a block device for a number of seconds, then
 * prints "iops=N". Timing uses the guest's CLOCK_MONOTONIC.
 * Usage: randread DEVICE SECONDS
 */
#include <stdint.h>

#define AT_FDCWD -100
#define O_RDONLY 0
#define O_DIRECT 040000

static long sys(long n, long a, long b, long c, long d)
{
	register long a0 __asm__("a0") = a, a1 __asm__("a1") = b, a2 __asm__("a2") = c, a3 __asm__("a3") = d;
	register long a7 __asm__("a7") = n;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
	return a0;
}

struct ts {
	long sec, nsec;
};
static uint64_t now_ns(void)
{
	struct ts t;
	sys(113, 1 /* CLOCK_MONOTONIC */, (long)&t, 0, 0);
	return (uint64_t)t.sec * 1000000000ull + (uint64_t)t.nsec;
}

static void out(const char *s, long n)
{
	sys(64, 1, (long)s, n, 0);
}

static uint8_t buf[4096 * 2];

int main(int argc, char **argv)
{
	if (argc < 3) return 2;
	long fd = sys(56, AT_FDCWD, (long)argv[1], O_RDONLY | O_DIRECT, 0);
	if (fd < 0) return 1;
	long size = sys(62, fd, 0, 2 /* SEEK_END */, 0);
	uint64_t blocks = (uint64_t)size / 4096, seconds = 0;
	for (const char *p = argv[2]; *p; p++) seconds = seconds * 10 + (uint64_t)(*p - '0');
	uint8_t *aligned = (uint8_t *)(((uintptr_t)buf + 4095) & ~(uintptr_t)4095);
	uint64_t x = 88172645463325252ull, n = 0, start = now_ns(), end = start + seconds * 1000000000ull;
	while (now_ns() < end) {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (sys(67, fd, (long)aligned, 4096, (long)((x % blocks) * 4096)) != 4096) return 1;
			n++;
		}
	}
	uint64_t iops = n * 1000000000ull / (now_ns() - start);
	char s[32];
	int len = 0;
	char digits[24];
	int nd = 0;
	do digits[nd++] = (char)('0' + iops % 10);
	while ((iops /= 10));
	for (const char *p = "iops="; *p; p++) s[len++] = *p;
	while (nd) s[len++] = digits[--nd];
	s[len++] = '\n';
	out(s, len);
	return 0;
}

__attribute__((naked)) void _start(void)
{
	__asm__ volatile("ld a0, 0(sp)\n addi a1, sp, 8\n call main\n li a7, 93\n ecall");
}
