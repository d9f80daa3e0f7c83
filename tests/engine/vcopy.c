/*
 * vcopy.c — the vector copy loop Linux copies user memory with (vsetvli;
 * vle8ff.v; vse8.v), and its e32 and vsetivli forms, in hot loops: translated
 * after a few passes, with lengths from 0 up, both ends anywhere in three
 * pages (copies across page boundaries), vector state switched back to Initial
 * now and then, vector registers filled (vmv.v.i -1 and 0, as Linux discards
 * them), and vtype or vstart changed under a translated load, so both
 * the inline copies and the interpreter's take part. Every copy is checked
 * byte by byte against the source, with the bytes around it untouched.
 */
#include "engine.h"

#include <stddef.h>

#define AREA (3 * 4096)
#define PASSES 3000

static uint8_t src[AREA] __attribute__((aligned(4096)));
static uint8_t dst[AREA] __attribute__((aligned(4096)));

/* Returns the first vl vsetvli gave. */
static uint64_t copy_e8(uint8_t *d, const uint8_t *s, uint64_t n)
{
	uint64_t first;
	__asm__ volatile(".option push\n .option arch, +v\n"
	                 " vsetvli %[f], %[n], e8, m8, ta, ma\n"
	                 "1: vsetvli t0, %[n], e8, m8, ta, ma\n"
	                 " vle8ff.v v0, (%[s])\n"
	                 " sub %[n], %[n], t0\n"
	                 " add %[s], %[s], t0\n"
	                 " vse8.v v0, (%[d])\n"
	                 " add %[d], %[d], t0\n"
	                 " bnez %[n], 1b\n"
	                 ".option pop"
	                 : [n] "+r"(n), [s] "+r"(s), [d] "+r"(d), [f] "=&r"(first)
	                 :
	                 : "t0", "memory");
	return first;
}

/* n 32-bit words, through v8 (a group of 2) */
static void copy_e32(uint8_t *d, const uint8_t *s, uint64_t n)
{
	__asm__ volatile(".option push\n .option arch, +v\n"
	                 "1: vsetvli t0, %[n], e32, m2, ta, ma\n"
	                 " vle32.v v8, (%[s])\n"
	                 " slli t1, t0, 2\n"
	                 " sub %[n], %[n], t0\n"
	                 " add %[s], %[s], t1\n"
	                 " vse32.v v8, (%[d])\n"
	                 " add %[d], %[d], t1\n"
	                 " bnez %[n], 1b\n"
	                 ".option pop"
	                 : [n] "+r"(n), [s] "+r"(s), [d] "+r"(d)
	                 :
	                 : "t0", "t1", "memory");
}

/* 13 bytes (vsetivli), through v24 */
static void copy_13(uint8_t *d, const uint8_t *s)
{
	__asm__ volatile(".option push\n .option arch, +v\n"
	                 " vsetivli t0, 13, e8, m1, ta, ma\n"
	                 " vle8.v v24, (%[s])\n"
	                 " vse8.v v24, (%[d])\n"
	                 ".option pop"
	                 :
	                 : [s] "r"(s), [d] "r"(d)
	                 : "t0", "memory");
}

/* vsetvli e8, m8 then vsetvl to e16, m8 before the e8 load and store: they copy vl(e16, m8) bytes
 * (EMUL 4), which vtype the translated load did not expect. Returns that vl. */
static uint64_t copy_other_vtype(uint8_t *d, const uint8_t *s, uint64_t n)
{
	uint64_t vl, vt = 1u << 3 | 3; /* e16, m8 */
	__asm__ volatile(".option push\n .option arch, +v\n"
	                 " vsetvli t0, %[n], e8, m8, ta, ma\n"
	                 " vsetvl %[vl], %[n], %[vt]\n"
	                 " vle8.v v0, (%[s])\n"
	                 " vse8.v v0, (%[d])\n"
	                 ".option pop"
	                 : [vl] "=&r"(vl)
	                 : [n] "r"(n), [s] "r"(s), [d] "r"(d), [vt] "r"(vt)
	                 : "t0", "memory");
	return vl;
}

/* vle8.v with vstart = 5: elements 0-4 keep what v16 held (16 bytes of 0xee from the first load). */
static void load_from_5(uint8_t *d, const uint8_t *s, const uint8_t *fill)
{
	__asm__ volatile(".option push\n .option arch, +v\n"
	                 " vsetivli t0, 16, e8, m1, tu, mu\n"
	                 " vle8.v v16, (%[f])\n"
	                 " li t1, 5\n"
	                 " csrw vstart, t1\n"
	                 " vle8.v v16, (%[s])\n"
	                 " vse8.v v16, (%[d])\n"
	                 ".option pop"
	                 :
	                 : [s] "r"(s), [d] "r"(d), [f] "r"(fill)
	                 : "t0", "t1", "memory");
}

/* vmv.v.i v8, IMM (-1 or 0) over vl e16 m2 elements, then their store; VL gets vl. */
#define SPLAT_E16(D, N, IMM, VL)                                                                             \
	__asm__ volatile(".option push\n .option arch, +v\n"                                                 \
	                 " vsetvli %[vl], %[n], e16, m2, ta, ma\n"                                           \
	                 " vmv.v.i v8, " #IMM "\n"                                                           \
	                 " vse16.v v8, (%[d])\n"                                                             \
	                 ".option pop"                                                                       \
	                 : [vl] "=&r"(VL)                                                                    \
	                 : [n] "r"(N), [d] "r"(D)                                                            \
	                 : "memory")

static void check(const uint8_t *s, uint64_t doff, uint64_t n, const char *what, unsigned pass)
{
	for (uint64_t k = 0; k < n; k++) EXPECT(dst[doff + k] == s[k], what, pass);
	EXPECT(doff == 0 || dst[doff - 1] == 0x5a, what, pass);        /* the byte before */
	EXPECT(doff + n >= AREA || dst[doff + n] == 0x5a, what, pass); /* the byte after */
}

static void clear_dst(void)
{
	for (unsigned k = 0; k < AREA; k++) dst[k] = 0x5a;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	__asm__ volatile("csrs mstatus, %0" ::"r"(1ul << 9)); /* VS: Initial */
	uint64_t vlenb;
	__asm__ volatile("csrr %0, vlenb" : "=r"(vlenb));
	for (unsigned k = 0; k < AREA; k++) src[k] = (uint8_t)(k * 131 + (k >> 8));
	static const uint8_t fill[16] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
	                                 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
	clear_dst();
	for (unsigned i = 0; i < PASSES; i++) {
		uint64_t n = i % 97 == 0 ? 0 : (i * 37u) % 700, soff = (i * 131u) % 8192,
		         doff = (i * 71u) % 8192;
		if (i % 50 == 7) /* VS back to Initial: the next vsetvli runs in the interpreter */
			__asm__ volatile("csrc mstatus, %0" ::"r"(1ul << 10));
		uint64_t vl = copy_e8(dst + doff, src + soff, n);
		EXPECT(vl == (n < 8 * vlenb ? n : 8 * vlenb), "vsetvli e8 m8 vl", i);
		check(src + soff, doff, n, "vle8ff.v / vse8.v copy", i);
		uint64_t mstatus;
		__asm__ volatile("csrr %0, mstatus" : "=r"(mstatus));
		EXPECT((mstatus >> 9 & 3) == 3, "mstatus.VS dirty after vector instructions", mstatus);
		for (uint64_t k = 0; k < n; k++) dst[doff + k] = 0x5a;

		uint64_t words = n / 4, woff = doff & ~3ul;
		copy_e32(dst + woff, src + (soff & ~3ul), words);
		check(src + (soff & ~3ul), woff, 4 * words, "vle32.v / vse32.v copy", i);
		for (uint64_t k = 0; k < 4 * words; k++) dst[woff + k] = 0x5a;

		copy_13(dst + doff, src + soff);
		check(src + soff, doff, 13, "vsetivli 13 copy", i);
		for (uint64_t k = 0; k < 13; k++) dst[doff + k] = 0x5a;

		uint64_t vl16 = copy_other_vtype(dst + doff, src + soff, n);
		EXPECT(vl16 == (n < 4 * vlenb ? n : 4 * vlenb), "vsetvl e16 m8 vl", i);
		check(src + soff, doff, vl16, "vle8.v / vse8.v under another vtype", i);
		for (uint64_t k = 0; k < vl16; k++) dst[doff + k] = 0x5a;

		for (int ones = 1; ones >= 0; ones--) {
			uint64_t svl;
			if (ones)
				SPLAT_E16(dst + doff, n / 2, -1, svl);
			else
				SPLAT_E16(dst + doff, n / 2, 0, svl);
			EXPECT(svl == (n / 2 < vlenb ? n / 2 : vlenb), "vsetvli e16 m2 vl", i);
			for (uint64_t k = 0; k < 2 * svl; k++)
				EXPECT(dst[doff + k] == (ones ? 0xff : 0), "vmv.v.i then vse16.v", i);
			EXPECT(dst[doff + 2 * svl] == 0x5a, "vmv.v.i then vse16.v: the byte after", i);
		}
		for (uint64_t k = 0; k < n; k++) dst[doff + k] = 0x5a;

		load_from_5(dst + doff, src + soff, fill);
		for (unsigned k = 0; k < 16; k++)
			EXPECT(dst[doff + k] == (k < 5 ? 0xee : src[soff + k]), "vle8.v from vstart 5", i);
		for (uint64_t k = 0; k < 16; k++) dst[doff + k] = 0x5a;
	}
	put("PASS vcopy\n");
	plat_exit(0);
}
