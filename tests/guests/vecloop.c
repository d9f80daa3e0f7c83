/*
 * vecloop.c — a Linux user program (static, no libc) that computes the same
 * results with vector loops and with scalar code, many times over, and says
 * whether they always agreed. Several copies running at once on several harts
 * make the kernel switch vector contexts under them: a register lost or
 * mixed up between processes shows as a mismatch.
 * Prints "vecloop ok N switched M" (N rounds, M involuntary context switches, from getrusage) and
 * exits 0, or "vecloop MISMATCH ..." and exits 1.
 */
#include <stddef.h>
#include <stdint.h>

void plat_write(const char *buf, size_t len);
__attribute__((noreturn)) void plat_exit(int code);

#define N 1000
static uint32_t in[N], out_v[N], out_s[N];

static void put(const char *s)
{
	size_t n = 0;
	while (s[n]) n++;
	plat_write(s, n);
}

static void put_num(uint64_t v)
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

/* out[i] = in[i] * k + 3 and the sum of out[], with vectors (LMUL 4, strip-mined). */
static uint64_t vec_round(uint32_t k)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < N;) {
		size_t vl;
		uint32_t part;
		__asm__ volatile("vsetvli %0, %2, e32, m4, ta, ma\n"
		                 "vle32.v v8, (%3)\n"
		                 "vmul.vx v8, v8, %4\n"
		                 "vadd.vi v8, v8, 3\n"
		                 "vse32.v v8, (%5)\n"
		                 "vmv.s.x v16, zero\n"
		                 "vredsum.vs v16, v8, v16\n"
		                 "vmv.x.s %1, v16\n"
		                 : "=&r"(vl), "=r"(part)
		                 : "r"(N - i), "r"(&in[i]), "r"(k), "r"(&out_v[i])
		                 : "memory");
		sum += part;
		i += vl;
	}
	return sum;
}

static uint64_t scalar_round(uint32_t k)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < N; i++) {
		out_s[i] = in[i] * k + 3;
		sum += out_s[i];
	}
	return sum;
}

int main(void)
{
	uint32_t x = 12345;
	const unsigned rounds = 3000;
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < N; i++) in[i] = x = x * 1664525u + 1013904223u;
		/* The vector sum is of 32-bit partial sums per strip: compare it the same way. */
		uint64_t sv = vec_round(x | 1), ss = 0;
		scalar_round(x | 1);
		for (size_t i = 0; i < N; i++) {
			if (out_v[i] != out_s[i]) {
				put("vecloop MISMATCH at round ");
				put_num(r);
				put(" element ");
				put_num(i);
				put("\n");
				plat_exit(1);
			}
		}
		for (size_t i = 0, vl = 0; i < N; i += vl) {
			uint32_t part = 0;
			vl = N - i < 16 ? N - i : 16; /* VLMAX for e32, m4 at VLEN 128 */
			for (size_t j = 0; j < vl; j++) part += out_s[i + j];
			ss += part;
		}
		if (sv != ss) {
			put("vecloop MISMATCH in the sum at round ");
			put_num(r);
			put("\n");
			plat_exit(1);
		}
	}
	/* getrusage(RUSAGE_SELF): ru_nivcsw is the 14th long after the two timevals. */
	static uint64_t ru[18]; /* static: no memset call in a program without libc */
	register long a0 __asm__("a0") = 0, a1 __asm__("a1") = (long)ru, a7 __asm__("a7") = 165;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a7) : "memory");
	put("vecloop ok ");
	put_num(rounds);
	put(" switched ");
	put_num(ru[4 + 13]);
	put("\n");
	return 0;
}
