/*
 * randcode.c — random code, translated and interpreted alike. Hart 0 writes
 * programs of random RV64IM, Zba, Zbb, Zbs and Zicond instructions into a
 * code buffer (fence.i between programs), about half of them in their
 * compressed (RVC) form where one exists: register and immediate operations,
 * W forms, runs of loads and of stores through base registers near page
 * boundaries and mid-page (a run's bytes often cross a page and its shared
 * probe misses), loads through an address loaded before (page hints in
 * U-mode) or masked into a table, reads of a register right after it is
 * loaded or computed, shifts before adds, zero-extensions, branches on a
 * result against zero and back-to-back branches on the same registers,
 * forward branches and jumps over a few pieces, inner loops of 2-5 passes,
 * and F and D instructions (every rounding mode, mostly to nearest, which
 * translated code runs inline; NaN-boxed and unboxed operands, edge values;
 * fflags read and cleared, frm set) whose registers and fcsr join the sum. Each program is a loop body run 40
 * times (hot enough to be translated), from registers seeded by a PRNG, in M-mode and again in U-mode (where
 * page hints and probe sites come in), then every register and data word goes into a checksum. run.sh
 * compares the printed "RANDSUM" with the one under --jit off (the interpreter, the reference).
 */
#include "engine.h"

#include <stdbool.h>

#define PROGRAMS 400
#define BODY 240        /* instructions per loop body */
#define PASSES 40       /* loop passes per program */
#define DATA_WORDS 1536 /* three pages */

#define ARMS 16 /* out-of-line arms per program at most */
#define MAX_INSNS (BODY + 32 + ARMS * 14)
static uint32_t insn[MAX_INSNS]; /* a program as 32-bit instructions, before layout */
static int target[MAX_INSNS];    /* where a branch or jump among them leads (an index), or -1 */
static uint16_t code[2 * MAX_INSNS] __attribute__((aligned(4096))); /* laid out, some compressed */
static uint64_t data[DATA_WORDS] __attribute__((aligned(4096)));
#define F_SLOT 32 /* regs[]: x0-x31 (x0's slot: the code's address for rand_run), f0-f31, fcsr */
#define FCSR_SLOT 64
static uint64_t regs[65];

/* Loading fcsr, f0-f31 and x5-x31 from the registers' array (at tp), and storing them back. */
#define LOAD_REGS                                                                                            \
	" ld x5, 8*64(tp)\n csrw fcsr, x5\n"                                                                 \
	" .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"   \
	" fld f\\n, 256+8*\\n(tp)\n"                                                                         \
	" .endr\n"                                                                                           \
	" .irp n, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"             \
	" ld x\\n, 8*\\n(tp)\n"                                                                              \
	" .endr\n"
#define STORE_REGS                                                                                           \
	" .irp n, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"             \
	" sd x\\n, 8*\\n(tp)\n"                                                                              \
	" .endr\n"                                                                                           \
	" .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"   \
	" fsd f\\n, 256+8*\\n(tp)\n"                                                                         \
	" .endr\n"                                                                                           \
	" csrr x5, fcsr\n sd x5, 8*64(tp)\n"
/* A frame for ra and tp (at 0 and 8) and fs0-fs11, which the random code overwrites, kept for the
 * C caller (f8-f27's slots from 16). */
#define SAVE_RA_TP_FS                                                                                        \
	" addi sp, sp, -176\n sd ra, 0(sp)\n sd tp, 8(sp)\n"                                                 \
	" .irp n, 8,9,18,19,20,21,22,23,24,25,26,27\n fsd f\\n, 16+8*(\\n-8)(sp)\n .endr\n"
#define RESTORE_RA_TP_FS                                                                                     \
	" .irp n, 8,9,18,19,20,21,22,23,24,25,26,27\n fld f\\n, 16+8*(\\n-8)(sp)\n .endr\n"                  \
	" ld ra, 0(sp)\n ld tp, 8(sp)\n addi sp, sp, 176\n"
/* rand_run(regs, code), in M-mode: x5-x31 from regs[], the code called (it returns with ret), x5-x31
 * back into regs[]; tp holds regs throughout (the random code leaves x1-x4 alone).
 * rand_user(entry, regs, code): the same in U-mode (entry: rand_u's U alias, regs and code through
 * theirs); rand_u ends with ecall, back into run_user. */
void rand_run(uint64_t *r, const uint16_t *c);
void rand_user(uint64_t entry, uint64_t r, uint64_t c);
void rand_u(void);
__asm__(".text\n"
        ".globl rand_run\n"
        "rand_run:\n" SAVE_S_REGS SAVE_RA_TP_FS " mv tp, a0\n"
        " sd a1, 0(tp)\n" LOAD_REGS " ld ra, 0(tp)\n"
        " jalr ra, 0(ra)\n" STORE_REGS RESTORE_RA_TP_FS RESTORE_S_REGS " ret\n"
        ".globl rand_u\n"
        "rand_u:\n"
        " mv tp, a0\n"
        " sd a1, 0(tp)\n" LOAD_REGS " ld ra, 0(tp)\n"
        " jalr ra, 0(ra)\n" STORE_REGS " ecall\n"
        ".globl rand_user\n"
        "rand_user:\n" SAVE_S_REGS SAVE_RA_TP_FS " call run_user\n" RESTORE_RA_TP_FS RESTORE_S_REGS " ret\n");

#ifndef RANDCODE_SEED /* another seed: more programs, for a longer hunt by hand */
#define RANDCODE_SEED 0x2545f4914f6cdd1du
#endif
static uint64_t seed = RANDCODE_SEED;
static uint64_t rnd(void)
{
	seed ^= seed >> 12, seed ^= seed << 25, seed ^= seed >> 27;
	return seed * 0x2545f4914f6cdd1du;
}
static unsigned below(unsigned n)
{
	return (unsigned)(rnd() >> 33) % n;
}

enum { BASE0 = 8, BASE1 = 9, BASE2 = 18, POINTERS = 19, INNER = 30, COUNTER = 31 };
#define POINTER_WORD 1200 /* data[1200..1263]: pointers into data, which no store reaches */
/* The registers the random instructions read and write (not the bases, nor the loop counter). */
static const uint8_t pool[] = {5,  6,  7,  10, 11, 12, 13, 14, 15, 16, 17,
                               20, 21, 22, 23, 24, 25, 26, 27, 28, 29};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))
static unsigned reg(void)
{
	return pool[below(NPOOL)];
}

static uint32_t r_type(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t i_type(int imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return (uint32_t)(imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t s_type(int imm, unsigned rs2, unsigned rs1, unsigned f3)
{
	const uint32_t i = (uint32_t)imm;
	return ((i >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (i & 0x1f) << 7 | 0x23;
}
static uint32_t b_type(int off, unsigned rs2, unsigned rs1, unsigned f3)
{
	const uint32_t i = (uint32_t)off;
	return ((i >> 12) & 1) << 31 | ((i >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
	       ((i >> 1) & 0xf) << 8 | ((i >> 11) & 1) << 7 | 0x63;
}
static uint32_t jal_x0(int off)
{
	const uint32_t i = (uint32_t)off;
	return ((i >> 20) & 1) << 31 | ((i >> 1) & 0x3ff) << 21 | ((i >> 11) & 1) << 20 |
	       ((i >> 12) & 0xff) << 12 | 0x6f;
}

/* Two-register operations: funct7, funct3, opcode (OP or OP-32). */
static const uint16_t r_ops[][3] = {
    {0x00, 0, 0x33}, {0x20, 0, 0x33}, {0x00, 1, 0x33}, {0x00, 2, 0x33}, {0x00, 3, 0x33}, {0x00, 4, 0x33},
    {0x00, 5, 0x33}, {0x20, 5, 0x33}, {0x00, 6, 0x33}, {0x00, 7, 0x33}, {0x01, 0, 0x33}, {0x01, 1, 0x33},
    {0x01, 2, 0x33}, {0x01, 3, 0x33}, {0x01, 4, 0x33}, {0x01, 5, 0x33}, {0x01, 6, 0x33}, {0x01, 7, 0x33},
    {0x00, 0, 0x3b}, {0x20, 0, 0x3b}, {0x00, 1, 0x3b}, {0x00, 5, 0x3b}, {0x20, 5, 0x3b}, {0x01, 0, 0x3b},
    {0x01, 4, 0x3b}, {0x01, 5, 0x3b}, {0x01, 6, 0x3b}, {0x01, 7, 0x3b}, {0x10, 2, 0x33}, {0x10, 4, 0x33},
    {0x10, 6, 0x33}, {0x04, 0, 0x3b},                                   /* sh1add sh2add sh3add add.uw */
    {0x20, 7, 0x33}, {0x20, 6, 0x33}, {0x20, 4, 0x33},                  /* andn orn xnor */
    {0x05, 4, 0x33}, {0x05, 5, 0x33}, {0x05, 6, 0x33}, {0x05, 7, 0x33}, /* min minu max maxu */
    {0x30, 1, 0x33}, {0x30, 5, 0x33}, {0x30, 1, 0x3b}, {0x30, 5, 0x3b}, /* rol ror rolw rorw */
    {0x14, 1, 0x33}, {0x24, 1, 0x33}, {0x34, 1, 0x33}, {0x24, 5, 0x33}, /* bset bclr binv bext */
    {0x07, 5, 0x33}, {0x07, 7, 0x33},                                   /* czero.eqz czero.nez */
};
/* One-register operations with a fixed immediate field (Zbb): clz ctz cpop sext.b sext.h rev8 orc.b,
 * clzw ctzw cpopw; funct3, imm, opcode. */
static const uint16_t u_ops[][3] = {{1, 0x600, 0x13}, {1, 0x601, 0x13}, {1, 0x602, 0x13}, {1, 0x604, 0x13},
                                    {1, 0x605, 0x13}, {5, 0x6b8, 0x13}, {5, 0x287, 0x13}, {1, 0x600, 0x1b},
                                    {1, 0x601, 0x1b}, {1, 0x602, 0x1b}};

/* One of the data bases, and an offset from it for an access of `size` bytes, aligned: -192..+184
 * (two bases sit 64 bytes before a page boundary, one mid-page). */
static unsigned data_base(void)
{
	static const unsigned base[3] = {BASE0, BASE1, BASE2};
	return base[below(3)];
}
static int near_base(unsigned size)
{
	return ((int)below(384) - 192) & ~(int)(size - 1);
}

/* A run of 1-4 loads or stores through one base, naturally aligned, bytes around the base's page
 * boundary; `after`: the register the last load wrote (0 for stores). */
static unsigned emit_accesses(uint32_t *p, unsigned room, unsigned *after)
{
	const unsigned b = data_base(), n = 1 + below(room < 4 ? room : 4);
	const bool store = below(3) == 0;
	for (unsigned i = 0; i < n; i++) {
		const unsigned f3 = store ? below(4) : below(7), size = 1u << (f3 & 3);
		const int off = near_base(size);
		if (store) {
			p[i] = s_type(off, reg(), b, f3);
		} else {
			*after = reg();
			p[i] = i_type(off, b, f3, *after, 0x03);
		}
	}
	if (store) *after = 0;
	return n;
}

/* F and D: an OP-FP instruction (funct5, format 0 = S or 1 = D, rs2, rs1, rounding mode, rd). */
static uint32_t fp_op(unsigned f5, unsigned fmt, unsigned rs2, unsigned rs1, unsigned rm, unsigned rd)
{
	return (f5 << 2 | fmt) << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | 0x53;
}
static unsigned freg(void)
{
	return below(32);
}
/* A static rounding mode (0-4), or 7: frm's (which the code only sets to 0-4). Mostly to nearest,
 * which translated code runs inline (its flags accrued in MXCSR), the others through a helper. */
static unsigned rm_any(void)
{
	static const uint8_t rms[] = {0, 0, 0, 0, 1, 2, 3, 4, 7, 7, 7, 7};
	return rms[below(sizeof(rms))];
}

/* One F or D instruction: arithmetic in every rounding mode, fused multiply-adds, conversions between
 * formats and to and from integers, compares, classes, moves, loads and stores, frm set and fflags
 * read and cleared; `src`: an integer source. */
static unsigned emit_fp(uint32_t *p, unsigned *after, unsigned src)
{
	const unsigned fmt = below(2);
	switch (below(10)) {
	case 0:
	case 1:
		p[0] = fp_op(below(4), fmt, freg(), freg(), rm_any(), freg());
		return 1; /* fadd fsub fmul fdiv */
	case 2:
		if (below(3) == 0)
			p[0] = fp_op(0x0b, fmt, 0, freg(), rm_any(), freg()); /* fsqrt */
		else if (below(2))
			p[0] = fp_op(0x04, fmt, freg(), freg(), below(3), freg()); /* fsgnj, fsgnjn, fsgnjx */
		else
			p[0] = fp_op(0x05, fmt, freg(), freg(), below(2), freg()); /* fmin, fmax */
		return 1;
	case 3: /* fmadd fmsub fnmsub fnmadd */
		p[0] = freg() << 27 | fmt << 25 | freg() << 20 | freg() << 15 | rm_any() << 12 | freg() << 7 |
		       (0x43 + 4 * below(4));
		return 1;
	case 4: p[0] = fp_op(0x08, fmt, !fmt, freg(), rm_any(), freg()); return 1; /* fcvt.s.d, fcvt.d.s */
	case 5: /* into an integer register */
		*after = reg();
		switch (below(4)) {
		case 0:
			p[0] = fp_op(0x18, fmt, below(4), freg(), rm_any(), *after);
			break; /* fcvt.{w,wu,l,lu} */
		case 1: p[0] = fp_op(0x14, fmt, freg(), freg(), below(3), *after); break; /* fle flt feq */
		case 2: p[0] = fp_op(0x1c, fmt, 0, freg(), 1, *after); break;             /* fclass */
		default: p[0] = fp_op(0x1c, fmt, 0, freg(), 0, *after); break; /* fmv.x.w, fmv.x.d */
		}
		return 1;
	case 6: /* from an integer register: fcvt.{s,d}.{w,wu,l,lu}, fmv.w.x, fmv.d.x */
		p[0] = below(2) ? fp_op(0x1a, fmt, below(4), src, rm_any(), freg())
		                : fp_op(0x1e, fmt, 0, src, 0, freg());
		return 1;
	case 7: { /* flw fld fsw fsd around a base */
		const unsigned b = data_base(), size = fmt ? 8 : 4;
		const int off = near_base(size);
		p[0] = below(2) ? i_type(off, b, 2 + fmt, freg(), 0x07)
		                : (s_type(off, freg(), b, 2 + fmt) & ~0x7fu) | 0x27;
		return 1;
	}
	case 8:
		if (below(2)) {
			p[0] = i_type(0x002, below(2) ? 0 : below(5), 5, 0, 0x73); /* csrwi frm, 0-4 */
			return 1;
		}
		*after = reg();
		p[0] = i_type(0x001, 0, 1, *after, 0x73); /* csrrw rd, fflags, zero */
		return 1;
	default:
		p[0] = fp_op(below(2) ? 0 : 2, fmt, freg(), freg(), 7, freg());
		return 1; /* fadd, fmul (dyn) */
	}
}

/* One instruction or a few (returns how many, at most `room`), reading `after` first if not 0;
 * *jumps: how many of them, first, are forward branches or jumps to aim (write_program), which come
 * only if `outer` (not inside an inner loop, which makes no other loop either). p[0] is
 * insn[at]. */
static unsigned emit_some(uint32_t *p, unsigned at, unsigned room, unsigned *after, unsigned *jumps,
                          bool outer)
{
	const unsigned src = *after && below(2) ? *after : reg();
	*after = 0;
	switch (below(15)) {
	case 12:
	case 13: return emit_fp(p, after, src);
	case 0:
	case 1:
	case 2: { /* register-register */
		const uint16_t *o = r_ops[below(sizeof(r_ops) / sizeof(r_ops[0]))];
		*after = reg();
		p[0] = r_type(o[0], reg(), src, o[1], *after, o[2]);
		return 1;
	}
	case 3: { /* register-immediate, W forms, shifts */
		static const uint8_t f3s[] = {0, 2, 3, 4, 6, 7};
		const int imm = (int)below(4096) - 2048;
		*after = reg();
		switch (below(6)) {
		case 0: p[0] = i_type(imm, src, f3s[below(6)], *after, 0x13); break;
		case 1: p[0] = i_type(imm, src, 0, *after, 0x1b); break; /* addiw (sext.w at 0) */
		case 2: p[0] = i_type((int)below(64) | (below(2) ? 0x400 : 0), src, 5, *after, 0x13); break;
		case 3: p[0] = i_type((int)below(64), src, 1, *after, 0x13); break;
		case 4: p[0] = i_type((int)below(32) | (below(2) ? 0x400 : 0), src, 5, *after, 0x1b); break;
		default: p[0] = i_type((int)below(32), src, 1, *after, 0x1b); break;
		}
		return 1;
	}
	case 4: { /* Zbb's one-register operations, lui */
		*after = reg();
		if (below(4) == 0) {
			p[0] = (uint32_t)(rnd() & 0xfffff000u) | *after << 7 | 0x37;
		} else {
			const uint16_t *o = u_ops[below(sizeof(u_ops) / sizeof(u_ops[0]))];
			p[0] = i_type(o[1], src, o[0], *after, o[2]);
		}
		return 1;
	}
	case 5: { /* a zero-extension (slli 32, srli 32) or a shift before an add */
		if (room < 2) break;
		const unsigned d = reg();
		if (below(2)) {
			p[0] = i_type(32, src, 1, d, 0x13);
			p[1] = i_type(32, d, 5, d, 0x13);
		} else {
			p[0] = i_type(1 + (int)below(3), src, 1, d, 0x13);
			p[1] = r_type(0, d, reg(), 0, below(2) ? d : reg(), 0x33);
		}
		*after = d;
		return 2;
	}
	case 6:
	case 7: return emit_accesses(p, room, after);
	case 8: { /* a load through an address that comes from a load (U-mode gives it a page hint) */
		if (room < 4) break;
		const unsigned b = data_base(), t = reg(), f3 = below(7), size = 1u << (f3 & 3);
		p[0] = i_type(near_base(8), b, 3, t, 0x03);             /* ld t, off(b) */
		p[1] = i_type(0x7f8 & ~(int)(size - 1), t, 7, t, 0x13); /* andi t, t, aligned < 2 KiB */
		p[2] = r_type(0, b, t, 0, t, 0x33);                     /* add t, t, b */
		*after = reg();
		p[3] = i_type(0, t, f3, *after, 0x03);
		if (below(2)) return 4;
		/* or a pointer loaded from the table, then a load through it (U-mode: a page hint) */
		p[0] = i_type(8 * (int)below(64), POINTERS, 3, t, 0x03);
		p[1] = i_type(((int)below(64)) & ~(int)(size - 1), t, f3, *after, 0x03);
		return 2;
	}
	case 9:
	case 10: { /* forward branches: on a result against zero, back to back on the same registers */
		if (!outer) break;
		const unsigned f3s[] = {0, 1, 4, 5, 6, 7};
		const unsigned a = src, b = below(3) ? reg() : 0;
		p[0] = b_type(0, b, a, f3s[below(6)]);
		*jumps = 1;
		if (below(2)) /* the same registers again, the other way round */
			p[(*jumps)++] = b_type(0, a, b, f3s[below(6)]);
		return *jumps;
	}
	case 11: { /* an inner loop of 2-5 passes over a few pieces, counted in INNER */
		if (!outer || room < 10) break;
		unsigned n = 1, inner_after = 0, none;
		p[0] = i_type(2 + (int)below(4), 0, 0, INNER, 0x13); /* li INNER, 2..5 */
		for (unsigned pieces = 1 + below(3); pieces-- && room - n > 6;)
			n += emit_some(&p[n], at + n, room - n - 2, &inner_after, &none, false);
		p[n] = i_type(-1, INNER, 0, INNER, 0x13); /* addi INNER, INNER, -1 */
		p[n + 1] = b_type(0, 0, INNER, 1);        /* bnez INNER, back to the body's start */
		target[at + n + 1] = (int)(at + 1);
		*after = inner_after;
		return n + 2;
	}
	default: /* a jump over a few */
		if (!outer) break;
		p[0] = jal_x0(0);
		*jumps = 1;
		return 1;
	}
	const uint16_t *o = r_ops[below(sizeof(r_ops) / sizeof(r_ops[0]))];
	*after = reg();
	p[0] = r_type(o[0], reg(), src, o[1], *after, o[2]);
	return 1;
}

/* Compressed (RVC) forms of the instructions above where one exists: what gcc emits most. */
static bool creg(unsigned r)
{
	return r >= 8 && r < 16;
}
static bool fits6(int v)
{
	return v >= -32 && v < 32;
}
static uint16_t ci(unsigned f3, int imm, unsigned rd, unsigned op)
{
	return (uint16_t)(f3 << 13 | ((unsigned)imm & 0x20) << 7 | rd << 7 | ((unsigned)imm & 0x1f) << 2 |
	                  op);
}
/* c.lw/c.sw (scale 4) or c.ld/c.sd (scale 8): base rs1', register r'. */
static uint16_t cmem(unsigned f3, unsigned off, unsigned rs1, unsigned r, bool d)
{
	const unsigned lo = d ? (off >> 6 & 3) : ((off >> 2 & 1) << 1 | (off >> 6 & 1));
	return (uint16_t)(f3 << 13 | (off >> 3 & 7) << 10 | (rs1 - 8) << 7 | lo << 5 | (r - 8) << 2);
}
static uint16_t cb(unsigned f3, int off, unsigned rs1)
{
	const unsigned o = (unsigned)off;
	return (uint16_t)(f3 << 13 | (o >> 8 & 1) << 12 | (o >> 3 & 3) << 10 | (rs1 - 8) << 7 |
	                  (o >> 6 & 3) << 5 | (o >> 1 & 3) << 3 | (o >> 5 & 1) << 2 | 1);
}
static uint16_t cj(int off)
{
	const unsigned o = (unsigned)off;
	return (uint16_t)(0xa001 | (o >> 11 & 1) << 12 | (o >> 4 & 1) << 11 | (o >> 8 & 3) << 9 |
	                  (o >> 10 & 1) << 8 | (o >> 6 & 1) << 7 | (o >> 7 & 1) << 6 | (o >> 1 & 7) << 3 |
	                  (o >> 5 & 1) << 2);
}
/* w's compressed form (a branch's or jump's with offset `off`), or 0 if it has none. */
static uint16_t compress(uint32_t w, int off)
{
	const unsigned op = w & 0x7f, rd = w >> 7 & 31, f3 = w >> 12 & 7, rs1 = w >> 15 & 31,
	               rs2 = w >> 20 & 31, f7 = w >> 25;
	const int imm = (int32_t)w >> 20;
	switch (op) {
	case 0x13:
		if (f3 == 0 && rd && rd == rs1 && imm && fits6(imm)) return ci(0, imm, rd, 1);   /* c.addi */
		if (f3 == 0 && rd && !rs1 && fits6(imm)) return ci(2, imm, rd, 1);               /* c.li */
		if (f3 == 1 && rd && rd == rs1 && imm > 0 && imm < 64) return ci(0, imm, rd, 2); /* c.slli */
		if (f3 == 5 && creg(rd) && rd == rs1 && (imm & 63) && (imm >> 6 == 0 || imm >> 6 == 0x10))
			return (uint16_t)(ci(4, imm & 63, rd - 8, 1) | (imm >> 6 ? 1 : 0)
			                                                   << 10); /* c.srli, c.srai */
		if (f3 == 7 && creg(rd) && rd == rs1 && fits6(imm))
			return (uint16_t)(ci(4, imm, rd - 8, 1) | 2 << 10); /* c.andi */
		return 0;
	case 0x1b:
		if (f3 == 0 && rd && rd == rs1 && fits6(imm)) return ci(1, imm, rd, 1); /* c.addiw */
		return 0;
	case 0x37: {
		const int v = (int32_t)w >> 12;
		if (rd && rd != 2 && v && fits6(v)) return ci(3, v, rd, 1); /* c.lui */
		return 0;
	}
	case 0x33:
		if (!f7 && !f3 && rd && rs2 && rd == rs1)
			return (uint16_t)(0x9002 | rd << 7 | rs2 << 2); /* c.add */
		if (!f7 && !f3 && rd && rs2 && !rs1)
			return (uint16_t)(0x8002 | rd << 7 | rs2 << 2); /* c.mv */
		if (creg(rd) && rd == rs1 && creg(rs2)) {
			const int f2 = f7 == 0x20 && !f3 ? 0
			               : !f7 && f3 == 4  ? 1
			               : !f7 && f3 == 6  ? 2
			               : !f7 && f3 == 7  ? 3
			                                 : -1;
			if (f2 >= 0)
				return (uint16_t)(0x8c01 | (rd - 8) << 7 | (unsigned)f2 << 5 |
				                  (rs2 - 8) << 2);
		}
		return 0;
	case 0x3b:
		if (creg(rd) && rd == rs1 && creg(rs2) && !f3 && (f7 == 0 || f7 == 0x20)) /* c.addw, c.subw */
			return (uint16_t)(0x9c01 | (rd - 8) << 7 | (f7 ? 0u : 1u) << 5 | (rs2 - 8) << 2);
		return 0;
	case 0x03:
	case 0x23: {
		const bool d = f3 == 3, store = op == 0x23;
		const int o = store ? (int)((w >> 25) << 5 | (w >> 7 & 31)) - ((w >> 31) ? 4096 : 0) : imm;
		const unsigned r = store ? rs2 : rd;
		if ((f3 == 2 || d) && creg(rs1) && creg(r) && o >= 0 && o < (d ? 256 : 128) &&
		    !(o & (d ? 7 : 3)))
			return cmem(store ? (d ? 7 : 6) : (d ? 3 : 2), (unsigned)o, rs1, r, d);
		return 0;
	}
	case 0x63:
		if (f3 < 2 && !rs2 && creg(rs1) && off >= -256 && off < 256) return cb(f3 ? 7 : 6, off, rs1);
		return 0;
	case 0x6f:
		if (!rd && off >= -2048 && off < 2048) return cj(off);
		return 0;
	}
	return 0;
}

/* A branch or jump with its offset. */
static uint32_t aimed(uint32_t w, int off)
{
	return (w & 0x7f) == 0x63 ? w | (b_type(off, 0, 0, 0) & 0xfe000f80u)
	                          : w | (jal_x0(off) & 0xfffff000u);
}

/* Lays insn[0..n) out in code[], compressing about half of those that can be (a branch or jump only
 * while its offset fits: the layout is redone, with such an instruction long, until all fit). */
static void lay_out(unsigned n)
{
	bool shortish[MAX_INSNS], long_only[MAX_INSNS];
	unsigned at[MAX_INSNS + 1];
	for (unsigned i = 0; i < n; i++) shortish[i] = below(2), long_only[i] = false;
	for (bool again = true; again;) {
		again = false;
		for (unsigned i = 0, h = 0; i <= n; i++) {
			at[i] = h;
			if (i < n) h += shortish[i] && !long_only[i] && compress(insn[i], 0) ? 1 : 2;
		}
		/* Branch offsets are known only now: one whose short form does not reach goes long. */
		for (unsigned i = 0; i < n; i++) {
			if (target[i] < 0 || !shortish[i] || long_only[i] || !compress(insn[i], 0)) continue;
			const int off = 2 * ((int)at[target[i]] - (int)at[i]);
			if (!compress(insn[i], off)) long_only[i] = again = true;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		const int off = target[i] >= 0 ? 2 * ((int)at[target[i]] - (int)at[i]) : 0;
		const uint16_t c = shortish[i] && !long_only[i] ? compress(insn[i], off) : 0;
		const uint32_t w = target[i] >= 0 ? aimed(insn[i], off) : insn[i];
		if (c) {
			code[at[i]] = c;
		} else {
			code[at[i]] = (uint16_t)w;
			code[at[i] + 1] = (uint16_t)(w >> 16);
		}
	}
}

/* A program: the body, the loop counter's step and jump back, ret, then out-of-line arms. A forward
 * branch or jump leads over the next 1-6 pieces emit_some() makes (never into one: a chained load's
 * address is valid only at its end, an inner loop's count only inside it), or to the loop's step;
 * half the branches (up to 16) lead instead to an arm after the ret: 1-3 pieces without branches,
 * then a jump back to where the branch would have led (the other arm of an if placed apart, which
 * the translator takes into the block as a tail). */
static void write_program(void)
{
	struct {
		unsigned at, pieces;
		bool arm;
	} fwd[2 * BODY];
	unsigned n = 0, after = 0, nfwd = 0, arms = 0;
	for (unsigned i = 0; i < MAX_INSNS; i++) target[i] = -1;
	while (n < BODY) {
		unsigned jumps = 0, k = emit_some(&insn[n], n, BODY - n, &after, &jumps, true);
		for (unsigned j = 0; j < jumps; j++) {
			const bool to_arm = (insn[n + j] & 0x7f) == 0x63 && arms < ARMS && below(2) == 0;
			arms += to_arm;
			fwd[nfwd++] = (typeof(fwd[0])){n + j, 2 + below(6), to_arm};
		}
		n += k;
		for (unsigned i = 0; i < nfwd; i++)
			if (fwd[i].pieces && --fwd[i].pieces == 0) target[fwd[i].at] = (int)n;
	}
	for (unsigned i = 0; i < nfwd; i++)
		if (fwd[i].pieces) target[fwd[i].at] = (int)n;
	insn[n] = i_type(-1, COUNTER, 0, COUNTER, 0x13); /* addi x31, x31, -1 */
	insn[n + 1] = b_type(0, 0, COUNTER, 1);          /* bnez x31, body */
	target[n + 1] = 0;
	insn[n + 2] = 0x00008067u; /* ret */
	n += 3;
	for (unsigned i = 0; i < nfwd; i++) { /* an arm, then back to where the branch led */
		if (!fwd[i].arm) continue;
		const int rejoin = target[fwd[i].at];
		target[fwd[i].at] = (int)n;
		unsigned none;
		for (unsigned pieces = 1 + below(3); pieces--;)
			n += emit_some(&insn[n], n, 4, &after, &none, false);
		insn[n] = jal_x0(0);
		target[n++] = rejoin;
	}
	lay_out(n);
	fence_i();
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3u + (h >> 29);
}

/* Seeds the registers for a program: pool registers at random (a quarter sign-extended words), two
 * bases 64 bytes before a page boundary of the data (at `data`: its address in the mode that runs),
 * so that runs of accesses around them cross the page, one mid-page, the pointer table (pointers
 * into the data, in that mode's addresses) and the loop counter. */
static void seed_regs(uint64_t data_at)
{
	for (unsigned r = 5; r < 32; r++) regs[r] = below(4) ? rnd() : (uint64_t)(int64_t)(int32_t)rnd();
	regs[BASE0] = data_at + 4096 - 64;
	regs[BASE1] = data_at + 8192 - 64;
	regs[BASE2] = data_at + 4096 + 2048; /* mid-page: its runs hit */
	regs[POINTERS] = data_at + 8 * POINTER_WORD;
	for (unsigned i = 0; i < 64; i++) data[POINTER_WORD + i] = data_at + 8 * below(1100);
	regs[COUNTER] = PASSES;
	/* FP registers: random bits, NaN-boxed singles, and values at the formats' edges. */
	static const uint64_t edges[] = {0,
	                                 1ull << 63,
	                                 0x7ff0000000000000u,
	                                 0xfff0000000000000u,
	                                 0x7ff8000000000000u,
	                                 0x7ff4000000000000u,
	                                 1,
	                                 0x3ff0000000000000u,
	                                 0x43e0000000000000u,
	                                 0xc3e0000000000000u,
	                                 0xffffffff7f800000u,
	                                 0xffffffff7fc00000u,
	                                 0xffffffff7fa00000u,
	                                 0xffffffff00000001u,
	                                 0xffffffff3f800000u,
	                                 0xffffffff4f000000u,
	                                 0xffffffffcf000000u,
	                                 0x000000003f800000u};
	for (unsigned f = 0; f < 32; f++) {
		const unsigned k = below(4);
		regs[F_SLOT + f] = k == 0   ? rnd()
		                   : k == 1 ? 0xffffffff00000000u | (uint32_t)rnd()
		                   : k == 2 ? edges[below(sizeof(edges) / sizeof(edges[0]))]
		                            : (uint64_t)(int64_t)(int32_t)below(2000) * 0x10000000000u;
	}
	regs[FCSR_SLOT] = (below(2) ? 0 : below(5)) << 5 | below(32); /* a valid frm, some flags */
}

static uint64_t mixed_regs(uint64_t sum)
{
	for (unsigned r = 5; r <= FCSR_SLOT; r++) sum = mix(sum, regs[r]);
	return sum;
}

#define PTE_LEAF_UX 0xdf /* V R W X U A D */
static uint64_t root[512] __attribute__((aligned(4096)));
/* Where memory linked in RAM (at 2 GiB) is in U-mode: its alias at 1 GiB. */
static uint64_t u_alias(const void *p)
{
	return (uint64_t)(uintptr_t)p - 0x80000000UL + USER_ALIAS;
}

int main(unsigned long hartid)
{
	if (hartid != 0)
		for (;;) __asm__ volatile("wfi");
	root[1] = 0x80000000UL >> 12 << 10 | PTE_LEAF_UX; /* VA 1-2 GiB: RAM, for U-mode */
	__asm__ volatile("csrw pmpaddr0, %0; csrw pmpcfg0, %1" ::"r"(~0ULL >> 10), "r"(0x1fULL));
	__asm__ volatile("csrw satp, %0; sfence.vma" ::"r"(8ULL << 60 | (uint64_t)(uintptr_t)root >> 12));
	for (unsigned i = 0; i < DATA_WORDS; i++) data[i] = rnd();
	uint64_t sum = 0;
	for (unsigned prog = 0; prog < PROGRAMS; prog++) {
		write_program();
		seed_regs((uint64_t)(uintptr_t)data);
		rand_run(regs, code);
		sum = mixed_regs(sum);
		seed_regs(u_alias(data)); /* the same program in U-mode, where more is translated */
		rand_user(user_addr(rand_u), u_alias(regs), u_alias(code));
		sum = mixed_regs(sum);
	}
	for (unsigned i = 0; i < DATA_WORDS; i++) sum = mix(sum, data[i]);
	put("RANDSUM ");
	put_num(sum);
	put("\n");
	put("PASS randcode\n");
	plat_exit(0);
}
