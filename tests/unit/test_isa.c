/*
 * test_isa.c — the ISA extensions beyond RV64GC (cpu/riscv/isa.h): the
 * `--cpu-ext` spec and ISA string, Zba/Zbb/Zbc/Zbs/Zicond results against
 * hand-computed vectors, and through a running hart: each extension off
 * raises illegal instruction, Zcb, Zimop, Zicbom/Zicboz with their envcfg
 * enables and faults, Svinval, Zawrs, Svnapot and Svpbmt translation, Sstc
 * switched off, the envcfg WARL fields, and half precision (Zfh, Zfhmin):
 * rounding in every mode, overflow, tininess after rounding, NaN boxing; Zfa
 * (fli, fminm/fmaxm, fround/froundnx, fcvtmod.w.d, fleq/fltq); the Sdtrig
 * registers (tests/engine/triggers.c fires triggers in translated code).
 */
#include "cpu/riscv/bitmanip.h"
#include "cpu/riscv/isa.h"
#include "hart_fixture.h"

#include <math.h>

#define EXT(NAME) (1ULL << RV_EXT_##NAME)
#define OP(f7, f3) enc_r(f7, 2, 1, f3, 3, 0x33)     /* x3 = op(x1, x2) */
#define OP32(f7, f3) enc_r(f7, 2, 1, f3, 3, 0x3b)   /* x3 = op(x1, x2), 32-bit forms */
#define OPI(imm12, f3) enc_i(imm12, 1, f3, 3, 0x13) /* x3 = op(x1, imm) */
#define OPI32(imm12, f3) enc_i(imm12, 1, f3, 3, 0x1b)
#define CBO(op, rs1) enc_i(op, rs1, 2, 0, 0x0f) /* 0 inval, 1 clean, 2 flush, 4 zero */
#define CSR_MENVCFG 0x30a
#define CSRRC(rd, csr, rs1) enc_i(csr, rs1, 3, rd, 0x73)
#define CSR_SENVCFG 0x10a
#define CSR_STIMECMP 0x14d

static void test_ext_spec(void)
{
	char err[512], isa[1024];
	uint64_t d = rv_ext_defaults(), s = d;
	CHECK(RV_HAS(d, ZBB) && RV_HAS(d, ZICSR) && RV_HAS(d, SSTC));
	CHECK(rv_ext_apply(&s, "", err, sizeof(err)));
	CHECK_EQ(s, d);
	CHECK(rv_ext_apply(&s, "-zbb,-sstc", err, sizeof(err)));
	CHECK_EQ(s, d & ~EXT(ZBB) & ~EXT(SSTC));
	CHECK(rv_ext_apply(&s, "+zbb,sstc", err, sizeof(err)));
	CHECK_EQ(s, d);
	CHECK(!rv_ext_apply(&s, "-zbb,-zbq", err, sizeof(err)));
	CHECK(strstr(err, "'zbq'") != NULL);
	CHECK_EQ(s, d); /* untouched on failure */
	CHECK(!rv_ext_apply(&s, "-zicsr", err, sizeof(err)));
	CHECK(strstr(err, "cannot be switched off") != NULL);
	CHECK(!rv_ext_apply(&s, "-zb", err, sizeof(err))); /* a prefix is not a name */
	CHECK(rv_isa_string(d, isa, sizeof(isa)));
	CHECK(!strncmp(isa, "rv64imafdcvh_zicbom_", 20));
	CHECK(strstr(isa, "_zbb_") != NULL);
	CHECK(rv_isa_string(d & ~EXT(ZBB), isa, sizeof(isa)));
	CHECK(strstr(isa, "_zbb") == NULL);
	CHECK(!rv_isa_string(d, isa, 20)); /* does not fit */
	const char *names[64];
	unsigned n = rv_ext_names(d, names, 64);
	CHECK(n > 6 && n <= 64);
	CHECK(!strcmp(names[0], "i") && !strcmp(names[5], "c") && !strcmp(names[6], "v") &&
	      !strcmp(names[7], "h") && !strcmp(names[8], "zicbom"));
}

/* Runs rv_bitmanip with every extension and returns the result (0xbad when it refuses). */
static uint64_t bm(uint32_t insn, uint64_t a, uint64_t b)
{
	uint64_t r;
	return rv_bitmanip(rv_ext_defaults(), insn, a, b, &r) ? r : 0xbad;
}

static void test_bitmanip_vectors(void)
{
	const uint64_t ones = ~0ULL;
	/* Zba */
	CHECK_EQ(bm(OP(0x10, 2), 3, 10), 16);                                        /* sh1add */
	CHECK_EQ(bm(OP(0x10, 4), 3, 10), 22);                                        /* sh2add */
	CHECK_EQ(bm(OP(0x10, 6), 3, 10), 34);                                        /* sh3add */
	CHECK_EQ(bm(OP32(0x04, 0), 0xffffffff80000000ULL, 1), 0x80000001ULL);        /* add.uw */
	CHECK_EQ(bm(OP32(0x10, 6), 0xffffffff00000002ULL, 1), 17);                   /* sh3add.uw */
	CHECK_EQ(bm(OPI32(0x080 | 4, 1), 0xffffffff80000001ULL, 0), 0x800000010ULL); /* slli.uw 4 */
	/* Zbb */
	CHECK_EQ(bm(OP(0x20, 7), 0xff, 0x0f), 0xf0);                                  /* andn */
	CHECK_EQ(bm(OP(0x20, 6), 0, 0xffffffffffffff00ULL), 0xff);                    /* orn */
	CHECK_EQ(bm(OP(0x20, 4), 0xff, 0xff), ones);                                  /* xnor */
	CHECK_EQ(bm(OP(0x05, 4), ones, 1), ones);                                     /* min */
	CHECK_EQ(bm(OP(0x05, 5), ones, 1), 1);                                        /* minu */
	CHECK_EQ(bm(OP(0x05, 6), ones, 1), 1);                                        /* max */
	CHECK_EQ(bm(OP(0x05, 7), ones, 1), ones);                                     /* maxu */
	CHECK_EQ(bm(OP(0x30, 1), 0x8000000000000001ULL, 1), 3);                       /* rol */
	CHECK_EQ(bm(OP(0x30, 1), 0x8000000000000001ULL, 65), 3);                      /* rol: amount mod 64 */
	CHECK_EQ(bm(OP(0x30, 5), 1, 1), 0x8000000000000000ULL);                       /* ror */
	CHECK_EQ(bm(OP(0x30, 5), 5, 0), 5);                                           /* ror by 0 */
	CHECK_EQ(bm(OPI(0x600, 1), 1, 0), 63);                                        /* clz */
	CHECK_EQ(bm(OPI(0x600, 1), 0, 0), 64);                                        /* clz 0 */
	CHECK_EQ(bm(OPI(0x601, 1), 0x8000000000000000ULL, 0), 63);                    /* ctz */
	CHECK_EQ(bm(OPI(0x601, 1), 0, 0), 64);                                        /* ctz 0 */
	CHECK_EQ(bm(OPI(0x602, 1), 0xf0f0, 0), 8);                                    /* cpop */
	CHECK_EQ(bm(OPI(0x604, 1), 0x80, 0), 0xffffffffffffff80ULL);                  /* sext.b */
	CHECK_EQ(bm(OPI(0x605, 1), 0x7fff, 0), 0x7fff);                               /* sext.h */
	CHECK_EQ(bm(OPI(0x605, 1), 0x18000, 0), 0xffffffffffff8000ULL);               /* sext.h */
	CHECK_EQ(bm(OP32(0x04, 4) & ~(31u << 20), 0xffffffffffff1234ULL, 0), 0x1234); /* zext.h */
	CHECK_EQ(bm(OPI(0x287, 5), 0x0012000000ff0001ULL, 0), 0x00ff000000ff00ffULL); /* orc.b */
	CHECK_EQ(bm(OPI(0x6b8, 5), 0x0102030405060708ULL, 0), 0x0807060504030201ULL); /* rev8 */
	CHECK_EQ(bm(OPI(0x600 | 4, 5), 1, 0), 0x1000000000000000ULL);                 /* rori 4 */
	CHECK_EQ(bm(OPI32(0x600, 1), 0xffffffff00000001ULL, 0), 31);                  /* clzw */
	CHECK_EQ(bm(OPI32(0x600, 1), 0xffffffff00000000ULL, 0), 32);                  /* clzw 0 */
	CHECK_EQ(bm(OPI32(0x601, 1), 0x100000000ULL, 0), 32);                         /* ctzw */
	CHECK_EQ(bm(OPI32(0x602, 1), 0xffffffff0000000fULL, 0), 4);                   /* cpopw */
	CHECK_EQ(bm(OP32(0x30, 1), 0x80000001, 1), 3);                                /* rolw */
	CHECK_EQ(bm(OP32(0x30, 5), 1, 1), 0xffffffff80000000ULL);                     /* rorw */
	CHECK_EQ(bm(OPI32(0x600 | 4, 5), 0x10, 0), 1);                                /* roriw 4 */
	/* Zbc: (x+1)^2 = x^2+1; all ones squared has every even bit of the 128-bit product. */
	CHECK_EQ(bm(OP(0x05, 1), 3, 3), 5); /* clmul */
	CHECK_EQ(bm(OP(0x05, 1), ones, ones), 0x5555555555555555ULL);
	CHECK_EQ(bm(OP(0x05, 3), ones, ones), 0x5555555555555555ULL); /* clmulh */
	CHECK_EQ(bm(OP(0x05, 2), ones, ones), 0xaaaaaaaaaaaaaaaaULL); /* clmulr: bits 126:63 */
	CHECK_EQ(bm(OP(0x05, 1), 0x8000000000000000ULL, 2), 0);
	CHECK_EQ(bm(OP(0x05, 3), 0x8000000000000000ULL, 2), 1);
	CHECK_EQ(bm(OP(0x05, 2), 0x8000000000000000ULL, 2), 2);
	/* Zbs */
	CHECK_EQ(bm(OP(0x14, 1), 0, 63), 0x8000000000000000ULL);         /* bset */
	CHECK_EQ(bm(OP(0x24, 1), ones, 64), ones - 1);                   /* bclr: index mod 64 */
	CHECK_EQ(bm(OP(0x34, 1), 5, 2), 1);                              /* binv */
	CHECK_EQ(bm(OP(0x24, 5), 4, 2), 1);                              /* bext */
	CHECK_EQ(bm(OPI(0x280 | 40, 1), 0, 0), 1ULL << 40);              /* bseti */
	CHECK_EQ(bm(OPI(0x480 | 40, 1), ones, 0), ones & ~(1ULL << 40)); /* bclri */
	CHECK_EQ(bm(OPI(0x680 | 1, 1), 3, 0), 1);                        /* binvi */
	CHECK_EQ(bm(OPI(0x480 | 40, 5), 1ULL << 40, 0), 1);              /* bexti */
	/* Zicond */
	CHECK_EQ(bm(OP(0x07, 5), 7, 0), 0); /* czero.eqz */
	CHECK_EQ(bm(OP(0x07, 5), 7, 5), 7);
	CHECK_EQ(bm(OP(0x07, 7), 7, 0), 7); /* czero.nez */
	CHECK_EQ(bm(OP(0x07, 7), 7, 5), 0);
	/* Not theirs, or reserved: refused. */
	CHECK_EQ(bm(OP(0, 0), 1, 2), 0xbad);      /* add is a base instruction */
	CHECK_EQ(bm(OPI(0x603, 1), 1, 0), 0xbad); /* between cpop and sext.b */
	CHECK_EQ(bm(OP32(0x30, 5) | 1u << 25, 1, 1), 0xbad);
	uint64_t r;
	CHECK(!rv_bitmanip(rv_ext_defaults() & ~EXT(ZBA), OP(0x10, 2), 1, 1, &r));
	CHECK(!rv_bitmanip(rv_ext_defaults() & ~EXT(ZICOND), OP(0x07, 5), 1, 1, &r));
}

/* Runs insn with x1 = a, x2 = b; returns x3, or 0xdead00 | mcause if it trapped. */
static uint64_t run(uint32_t insn, uint64_t a, uint64_t b)
{
	hart.pc = CODE;
	hart.x[1] = a;
	hart.x[2] = b;
	hart.x[3] = 0x5a5a;
	exec1(insn);
	return hart.pc == MTVEC ? 0xdead00 | hart.mcause : hart.x[3];
}

/* Enters `priv` at CODE from wherever the last trap left the hart. */
static void become(unsigned priv)
{
	hart.priv = RV_PRIV_M; /* mret then selects the TLB set of the new privilege */
	enter(priv, CODE);
}

static void test_each_extension_off_is_illegal(void)
{
	const struct {
		unsigned ext;
		uint32_t insn;
		uint64_t result; /* with x1 = 6, x2 = 3 */
	} cases[] = {
	    {RV_EXT_ZBA, OP(0x10, 2), 15},       {RV_EXT_ZBB, OP(0x20, 7), 4},
	    {RV_EXT_ZBB, OPI(0x602, 1), 2},      {RV_EXT_ZBC, OP(0x05, 1), 10},
	    {RV_EXT_ZBS, OPI(0x280 | 3, 1), 14}, {RV_EXT_ZICOND, OP(0x07, 7), 0},
	    {RV_EXT_ZBB, OPI32(0x600, 1), 29},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset();
		CHECK_EQ(run(cases[i].insn, 6, 3), cases[i].result);
		rv_hart_set_extensions(&hart, rv_ext_defaults() & ~(1ULL << cases[i].ext));
		CHECK_EQ(run(cases[i].insn, 6, 3), 0xdead00 | RV_EXC_ILLEGAL);
		CHECK_EQ(hart.mtval, cases[i].insn);
	}
}

static void test_zcb_runs(void)
{
	reset();
	put64(DATA, 0x8877665544332211ULL);
	hart.x[14] = DATA; /* a4 */
	exec1(0x877c);     /* c.lh a5, 2(a4) */
	CHECK_EQ(hart.x[15], 0x4433);
	CHECK_EQ(hart.pc, CODE + 2);
	hart.x[15] = 0xabcd;
	exec1(0x8f3c); /* c.sh a5, 2(a4) */
	CHECK_EQ(get64(DATA), 0x88776655abcd2211ULL);
	hart.x[8] = 0xffffffff80001234ULL; /* s0 */
	exec1(0x9c69);                     /* c.zext.h s0 */
	CHECK_EQ(hart.x[8], 0x1234);
	hart.x[8] = 6, hart.x[9] = 7;
	exec1(0x9c45); /* c.mul s0, s1 */
	CHECK_EQ(hart.x[8], 42);
	/* c.zext.h is Zcb's, but it is zext.h: it needs Zbb too. */
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZBB));
	uint64_t at = hart.pc;
	exec1(0x9c69);
	CHECK_EQ(hart.pc, MTVEC);
	CHECK_EQ(hart.mepc, at);
	CHECK_EQ(hart.mtval, 0x9c69); /* the compressed bits, as for every illegal instruction */
}

static void test_zimop_and_zcmop(void)
{
	reset();
	uint32_t mop_r = 0x81c04073 | 3 << 7 | 1 << 15, mop_rr = 0x82004073 | 3 << 7 | 1 << 15 | 2 << 20;
	CHECK_EQ(run(mop_r, 1, 2), 0); /* writes zero */
	CHECK_EQ(run(mop_rr | 1u << 30, 1, 2), 0);
	CHECK_EQ(run(0x80004073 | 3 << 7, 1, 2), 0xdead00 | RV_EXC_ILLEGAL); /* not a mop encoding */
	hart.x[1] = 77;
	hart.pc = CODE;
	exec1(0x6081); /* c.mop.1 */
	CHECK_EQ(hart.pc, CODE + 2);
	CHECK_EQ(hart.x[1], 77);
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZIMOP) & ~EXT(ZCMOP));
	CHECK_EQ(run(mop_r, 1, 2), 0xdead00 | RV_EXC_ILLEGAL);
	hart.pc = CODE;
	exec1(0x6081);
	CHECK_EQ(hart.pc, MTVEC);
}

static void fill(uint64_t pa, uint8_t v, unsigned n)
{
	memset(ram + (pa - RAM_BASE), v, n);
}

static void test_cbo_zero_and_enables(void)
{
	reset();
	fill(DATA, 0xaa, 256);
	CHECK_EQ(run(CBO(4, 1), DATA + 0x40 + 5, 0), 0x5a5a); /* M-mode: always allowed */
	CHECK_EQ(get64(DATA + 0x38), 0xaaaaaaaaaaaaaaaaULL);
	for (unsigned off = 0x40; off < 0x80; off += 8) CHECK_EQ(get64(DATA + off), 0);
	CHECK_EQ(get64(DATA + 0x80), 0xaaaaaaaaaaaaaaaaULL);
	/* S-mode needs menvcfg.CBZE; U-mode needs senvcfg.CBZE as well. */
	fill(DATA, 0xaa, 256);
	become(RV_PRIV_S);
	CHECK_EQ(run(CBO(4, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	hart.menvcfg = 0x80; /* CBZE */
	become(RV_PRIV_S);
	CHECK_EQ(run(CBO(4, 1), DATA, 0), 0x5a5a);
	CHECK_EQ(get64(DATA), 0);
	become(RV_PRIV_U);
	CHECK_EQ(run(CBO(4, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	hart.senvcfg = 0x80;
	become(RV_PRIV_U);
	CHECK_EQ(run(CBO(4, 1), DATA, 0), 0x5a5a);
	/* clean/flush need CBCFE, inval needs CBIE != 0. */
	become(RV_PRIV_S);
	CHECK_EQ(run(CBO(1, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	become(RV_PRIV_S);
	CHECK_EQ(run(CBO(0, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	hart.menvcfg = 0x40 | 0x10; /* CBCFE, CBIE = flush */
	for (unsigned op = 0; op <= 2; op++) {
		become(RV_PRIV_S);
		CHECK_EQ(run(CBO(op, 1), DATA, 0), 0x5a5a);
	}
	/* Reserved operations and rd != 0 are illegal; so is everything with the extensions off. */
	reset();
	CHECK_EQ(run(CBO(3, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run(CBO(4, 1) | 1 << 7, DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZICBOZ) & ~EXT(ZICBOM));
	CHECK_EQ(run(CBO(4, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run(CBO(2, 1), DATA, 0), 0xdead00 | RV_EXC_ILLEGAL);
}

static void test_cbo_faults(void)
{
	/* Through translation: a read-only page may be cleaned but not zeroed; an unmapped one gives a
	 * store page fault, with the address the instruction named. */
	reset();
	map_sv39(PTE_V | PTE_R | PTE_A);
	CHECK_EQ(mprv_access(CBO(1, 6), 0x40000010ULL, RV_PRIV_S), -1);
	CHECK_EQ(mprv_access(CBO(4, 6), 0x40000010ULL, RV_PRIV_S), RV_EXC_STORE_PAGE);
	CHECK_EQ(hart.mtval, 0x40000010ULL);
	CHECK_EQ(mprv_access(CBO(1, 6), 0x40001008ULL, RV_PRIV_S), RV_EXC_STORE_PAGE);
	CHECK_EQ(hart.mtval, 0x40001008ULL);
	reset();
	map_sv39(PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
	put64(DATA + 0x40, 5);
	CHECK_EQ(mprv_access(CBO(4, 6), 0x40000047ULL, RV_PRIV_S), -1);
	CHECK_EQ(get64(DATA + 0x40), 0);
}

static void test_svinval_and_zawrs(void)
{
	const uint32_t sinval = 0x16000073, w_inval = 0x18000073, inval_ir = 0x18100073;
	reset();
	become(RV_PRIV_S);
	CHECK_EQ(run(sinval, 0, 0), 0x5a5a);
	CHECK_EQ(run(w_inval, 0, 0), 0x5a5a);
	CHECK_EQ(run(inval_ir, 0, 0), 0x5a5a);
	hart.mstatus |= 1ULL << 20; /* TVM traps sinval.vma as it traps sfence.vma */
	CHECK_EQ(run(sinval, 0, 0), 0xdead00 | RV_EXC_ILLEGAL);
	become(RV_PRIV_U);
	CHECK_EQ(run(w_inval, 0, 0), 0xdead00 | RV_EXC_ILLEGAL);
	reset();
	CHECK_EQ(run(0x00d00073, 0, 0), 0x5a5a); /* wrs.nto */
	CHECK_EQ(run(0x01d00073, 0, 0), 0x5a5a); /* wrs.sto */
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(SVINVAL) & ~EXT(ZAWRS));
	CHECK_EQ(run(sinval, 0, 0), 0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run(w_inval, 0, 0), 0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run(0x00d00073, 0, 0), 0xdead00 | RV_EXC_ILLEGAL);
}

static void test_svnapot(void)
{
	/* L0[5] is one of the 16 copies of a NAPOT PTE for the 64 KiB at DATA: VA 0x40005010 maps to
	 * DATA + 0x5010 (the page offset within the 64 KiB comes from the address, not the PTE). */
	const uint64_t napot = (uint64_t)1 << 63, va = 0x40005010ULL;
	reset();
	map_sv39(0);
	put64(L0 + 5 * 8, (((DATA >> 12) | 8) << 10) | napot | PTE_V | PTE_R | PTE_A);
	put64(DATA + 0x5010, 4242);
	CHECK_EQ(mprv_access(LD(5, 6, 0), va, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 4242);
	/* Any other size encoding (ppn[3:0] != 1000) is reserved. */
	reset();
	map_sv39(0);
	put64(L0 + 5 * 8, (((DATA >> 12) | 4) << 10) | napot | PTE_V | PTE_R | PTE_A);
	CHECK_EQ(mprv_access(LD(5, 6, 0), va, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	/* N in a pointer to the next level is reserved. */
	reset();
	map_sv39(PTE_V | PTE_R | PTE_A);
	put64(L1, get64(L1) | napot);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	/* Without Svnapot, N is a reserved bit. */
	reset();
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(SVNAPOT));
	map_sv39(0);
	put64(L0 + 5 * 8, (((DATA >> 12) | 8) << 10) | napot | PTE_V | PTE_R | PTE_A);
	CHECK_EQ(mprv_access(LD(5, 6, 0), va, RV_PRIV_S), RV_EXC_LOAD_PAGE);
}

static void test_svpbmt(void)
{
	const uint64_t nc = 1ULL << 61, io = 2ULL << 61, reserved = 3ULL << 61;
	reset();
	map_sv39(PTE_V | PTE_R | PTE_A);
	put64(L0, get64(L0) | io);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE); /* PBMTE = 0 */
	hart.pc = CODE;
	hart.x[1] = 1ULL << 62; /* menvcfg.PBMTE, through the CSR path (it flushes the TLB) */
	exec1(CSRRW(0, CSR_MENVCFG, 1));
	CHECK_EQ(hart.menvcfg, 1ULL << 62);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 0x1122334455667788ULL);
	put64(L0, (get64(L0) & ~reserved) | nc);
	rv_hart_flush_tlb(&hart);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	put64(L0, get64(L0) | reserved);
	rv_hart_flush_tlb(&hart);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	put64(L0, get64(L0) & ~reserved);
	put64(L1, get64(L1) | nc); /* in a non-leaf PTE: reserved */
	rv_hart_flush_tlb(&hart);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
}

static void test_svadu(void)
{
	const uint64_t adue = 1ULL << 61;
	/* Reset: hardware updates A/D (firmware that knows nothing of Svadu leaves ADUE set). */
	reset();
	CHECK_EQ(hart.menvcfg & adue, adue);
	map_sv39(PTE_V | PTE_R | PTE_W);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	CHECK(get64(L0) & PTE_A);
	/* ADUE clear: software manages A and D (Svade); a missing bit faults and the PTE stays. */
	reset();
	map_sv39(PTE_V | PTE_R | PTE_W);
	hart.x[1] = adue;
	exec1(CSRRC(0, CSR_MENVCFG, 1));
	CHECK_EQ(hart.menvcfg & adue, 0);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	CHECK_EQ(get64(L0) & PTE_A, 0);
	put64(L0, get64(L0) | PTE_A);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	CHECK_EQ(mprv_access(SD(7, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_STORE_PAGE); /* D clear */
	CHECK_EQ(get64(L0) & PTE_D, 0);
}

static void test_envcfg_warl_and_sstc_off(void)
{
	uint64_t v;
	reset();
	hart.x[1] = ~0ULL;
	exec1(CSRRW(0, CSR_MENVCFG, 1));
	CHECK_EQ(hart.menvcfg, 0xe0000000000000f1ULL); /* STCE, PBMTE, ADUE, CBZE, CBCFE, CBIE, FIOM */
	exec1(CSRRW(0, CSR_SENVCFG, 1));
	CHECK_EQ(hart.senvcfg, 0xf1);
	hart.x[1] = 0x20; /* CBIE = 2 is reserved: reads as off */
	exec1(CSRRW(0, CSR_SENVCFG, 1));
	CHECK_EQ(hart.senvcfg, 0);
	CHECK_EQ(run(CSRRS(3, CSR_STIMECMP, 0), 0, 0), ~0ULL);
	reset();
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(SSTC) & ~EXT(SVPBMT) & ~EXT(ZICBOZ));
	hart.x[1] = ~0ULL;
	exec1(CSRRW(0, CSR_MENVCFG, 1));
	CHECK_EQ(hart.menvcfg, 0x2000000000000071ULL);
	v = run(CSRRS(3, CSR_STIMECMP, 0), 0, 0);
	CHECK_EQ(v, 0xdead00 | RV_EXC_ILLEGAL);
}

/* ---- half precision ---- */
#define FP(f7, rs2, rm) enc_r(f7, rs2, 1, rm, 3, 0x53) /* f3 (or x3) = op(f1, f2) */
#define BOX_H(v) (0xffffffffffff0000ULL | (v))
#define BOX_S(v) (0xffffffff00000000ULL | (v))
enum { RNE, RTZ, RDN, RUP, RMM };
enum { NX = 1, UF = 2, OF = 4, DZ = 8, NV = 16 };

static uint64_t dbits(double d)
{
	uint64_t b;
	memcpy(&b, &d, 8);
	return b;
}

/* Runs an FP instruction with f1 = a, f2 = b; returns f3 (x3 when `to_int`), flags in *flags. */
static uint64_t run_fp(uint32_t insn, uint64_t a, uint64_t b, bool to_int, uint32_t *flags)
{
	hart.pc = CODE;
	hart.mstatus |= 3ULL << 13; /* FS dirty: the FPU is on */
	hart.f[1] = a;
	hart.f[2] = b;
	hart.fflags = 0;
	hart.x[3] = hart.f[3] = 0x5a5a;
	exec1(insn);
	*flags = hart.fflags;
	if (hart.pc == MTVEC) return 0xdead00 | hart.mcause;
	return to_int ? hart.x[3] : hart.f[3];
}

static void test_half_precision(void)
{
	const struct {
		uint32_t insn;
		uint64_t a, b, result;
		uint32_t flags;
	} cases[] = {
	    {FP(0x22, 0, RNE), BOX_S(0x3f800000), 0, BOX_H(0x3c00), 0},       /* fcvt.h.s 1.0 */
	    {FP(0x22, 0, RNE), BOX_S(0x477ff000), 0, BOX_H(0x7c00), OF | NX}, /* 65520: ties up to inf */
	    {FP(0x22, 0, RTZ), BOX_S(0x477ff000), 0, BOX_H(0x7bff), NX}, /* toward zero: the largest, no OF */
	    {FP(0x22, 0, RDN), BOX_S(0xc77ff000), 0, BOX_H(0xfc00), OF | NX},   /* -65520 down: -inf */
	    {FP(0x22, 0, RNE), BOX_S(0x33000000), 0, BOX_H(0x0000), UF | NX},   /* 2^-25: tie to even 0 */
	    {FP(0x22, 0, RUP), BOX_S(0x33000000), 0, BOX_H(0x0001), UF | NX},   /* ... up: min subnormal */
	    {FP(0x22, 0, RMM), BOX_S(0x33000000), 0, BOX_H(0x0001), UF | NX},   /* ... away from zero */
	    {FP(0x22, 1, RNE), dbits(0.1), 0, BOX_H(0x2e66), NX},               /* fcvt.h.d 0.1 */
	    {FP(0x22, 1, RNE), dbits(0x1p-14 - 0x1p-26), 0, BOX_H(0x0400), NX}, /* rounds up to 2^-14: */
	    {FP(0x22, 1, RTZ), dbits(0x1p-14 - 0x1p-26), 0, BOX_H(0x03ff), UF | NX}, /* not tiny, or tiny */
	    {FP(0x22, 1, RNE), dbits(0x1p-14 - 0x1p-24), 0, BOX_H(0x03ff), 0},       /* exact subnormal */
	    {FP(0x20, 2, RNE), BOX_H(0x7c01), 0, BOX_S(0x7fc00000), NV},             /* fcvt.s.h sNaN */
	    {FP(0x21, 2, RNE), BOX_H(0xbc00), 0, dbits(-1.0), 0},                    /* fcvt.d.h -1 */
	    {FP(0x21, 2, RNE), 0x3c00, 0, 0x7ff8000000000000ULL, 0},                 /* not NaN-boxed: NaN */
	    {FP(0x02, 2, RNE), BOX_H(0x3c00), BOX_H(0x1000), BOX_H(0x3c00), NX}, /* 1 + 2^-11: tie, even */
	    {FP(0x02, 2, RUP), BOX_H(0x3c00), BOX_H(0x1000), BOX_H(0x3c01), NX},
	    {FP(0x06, 2, RDN), BOX_H(0x3c00), BOX_H(0x3c00), BOX_H(0x8000), 0},  /* 1 - 1 rounding down: -0 */
	    {FP(0x0e, 2, RNE), BOX_H(0x3c00), BOX_H(0x0000), BOX_H(0x7c00), DZ}, /* 1 / 0 */
	    {FP(0x0e, 2, RNE), BOX_H(0x3c00), BOX_H(0x4200), BOX_H(0x3555), NX}, /* 1 / 3 */
	    {FP(0x2e, 0, RNE), BOX_H(0xbc00), 0, BOX_H(0x7e00), NV},             /* fsqrt.h -1 */
	    {FP(0x0a, 2, RNE), BOX_H(0x7bff), BOX_H(0x4000), BOX_H(0x7c00), OF | NX}, /* max * 2 */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t flags;
		reset();
		CHECK_EQ(run_fp(cases[i].insn, cases[i].a, cases[i].b, false, &flags), cases[i].result);
		CHECK_EQ(flags, cases[i].flags);
	}
	uint32_t flags;
	reset();
	CHECK_EQ(run_fp(FP(0x72, 0, 0), BOX_H(0x8000), 0, true, &flags), 0xffffffffffff8000ULL); /* fmv.x.h */
	CHECK_EQ(run_fp(FP(0x72, 0, 1), BOX_H(0x0001), 0, true, &flags), 1u << 5); /* fclass: +subnormal */
	CHECK_EQ(run_fp(FP(0x62, 0, RTZ), BOX_H(0xc500), 0, true, &flags), (uint64_t)-5); /* fcvt.w.h */
	hart.x[1] = 0x12345;
	CHECK_EQ(run_fp(FP(0x6a, 2, RNE) | 0, 0, 0, false, &flags), BOX_H(0x7c00)); /* fcvt.h.l 74565 */
	CHECK_EQ(flags, OF | NX);
	/* Zfhmin keeps conversions and moves; Zfh's arithmetic goes. Without either, flh goes too. */
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZFH));
	CHECK_EQ(run_fp(FP(0x02, 2, RNE), BOX_H(0x3c00), BOX_H(0x3c00), false, &flags),
	         0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run_fp(FP(0x20, 2, RNE), BOX_H(0x3c00), 0, false, &flags), BOX_S(0x3f800000));
	put64(DATA, 0x1234abcd);
	hart.x[1] = DATA;
	CHECK_EQ(run_fp(enc_i(2, 1, 1, 3, 0x07), 0, 0, false, &flags), BOX_H(0x1234)); /* flh f3, 2(x1) */
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZFH) & ~EXT(ZFHMIN));
	CHECK_EQ(run_fp(FP(0x20, 2, RNE), BOX_H(0x3c00), 0, false, &flags), 0xdead00 | RV_EXC_ILLEGAL);
	hart.x[1] = DATA;
	CHECK_EQ(run_fp(enc_i(2, 1, 1, 3, 0x07), 0, 0, false, &flags), 0xdead00 | RV_EXC_ILLEGAL);
}

static void test_zfa(void)
{
#define R53(f7, rs2, rs1, f3) enc_r(f7, rs2, rs1, f3, 3, 0x53)
	const uint64_t qnan_s = BOX_S(0x7fc00000), snan_s = BOX_S(0x7f800001), one_s = BOX_S(0x3f800000);
	const struct {
		uint32_t insn;
		uint64_t a, b, result;
		uint32_t flags;
		bool to_int;
	} cases[] = {
	    {R53(0x78, 1, 0, 0), 0, 0, BOX_S(0xbf800000), 0, 0},             /* fli.s -1.0 */
	    {R53(0x78, 1, 1, 0), 0, 0, BOX_S(0x00800000), 0, 0},             /* fli.s min */
	    {R53(0x78, 1, 2, 0), 0, 0, BOX_S(0x37800000), 0, 0},             /* fli.s 2^-16 */
	    {R53(0x78, 1, 29, 0), 0, 0, BOX_S(0x47800000), 0, 0},            /* fli.s 2^16 */
	    {R53(0x78, 1, 30, 0), 0, 0, BOX_S(0x7f800000), 0, 0},            /* fli.s inf */
	    {R53(0x78, 1, 31, 0), 0, 0, BOX_S(0x7fc00000), 0, 0},            /* fli.s nan */
	    {R53(0x79, 1, 1, 0), 0, 0, 0x0010000000000000ULL, 0, 0},         /* fli.d min */
	    {R53(0x79, 1, 9, 0), 0, 0, dbits(0.3125), 0, 0},                 /* fli.d 0.3125 */
	    {R53(0x7a, 1, 1, 0), 0, 0, BOX_H(0x0400), 0, 0},                 /* fli.h min */
	    {R53(0x7a, 1, 2, 0), 0, 0, BOX_H(0x0100), 0, 0},                 /* fli.h 2^-16: subnormal */
	    {R53(0x7a, 1, 29, 0), 0, 0, BOX_H(0x7c00), 0, 0},                /* fli.h 2^16: infinity */
	    {R53(0x14, 2, 1, 0), one_s, qnan_s, one_s, 0, 0},                /* fmin.s: the number */
	    {R53(0x14, 2, 1, 2), one_s, qnan_s, qnan_s, 0, 0},               /* fminm.s: NaN */
	    {R53(0x14, 2, 1, 3), snan_s, one_s, qnan_s, NV, 0},              /* fmaxm.s sNaN */
	    {R53(0x15, 2, 1, 3), dbits(-0.0), dbits(0.0), dbits(0.0), 0, 0}, /* fmaxm.d -0, +0 */
	    {R53(0x16, 2, 1, 2), BOX_H(0x3c00), BOX_H(0x7e00), BOX_H(0x7e00), 0, 0}, /* fminm.h */
	    {R53(0x21, 4, 1, RNE), dbits(2.5), 0, dbits(2.0), 0, 0},                 /* fround.d */
	    {R53(0x21, 5, 1, RNE), dbits(2.5), 0, dbits(2.0), NX, 0},                /* froundnx.d */
	    {R53(0x21, 4, 1, RMM), dbits(2.5), 0, dbits(3.0), 0, 0},
	    {R53(0x21, 4, 1, RUP), dbits(-0.5), 0, dbits(-0.0), 0, 0},   /* keeps the sign */
	    {R53(0x21, 5, 1, RNE), dbits(1e300), 0, dbits(1e300), 0, 0}, /* already integral */
	    {R53(0x21, 5, 1, RNE), dbits(INFINITY), 0, dbits(INFINITY), 0, 0},
	    {R53(0x20, 4, 1, RNE), snan_s, 0, qnan_s, NV, 0},               /* fround.s sNaN */
	    {R53(0x22, 5, 1, RDN), BOX_H(0x3e00), 0, BOX_H(0x3c00), NX, 0}, /* froundnx.h 1.5 down */
	    {R53(0x61, 8, 1, RTZ), dbits(3.7), 0, 3, NX, 1},                /* fcvtmod.w.d */
	    {R53(0x61, 8, 1, RTZ), dbits(-3.7), 0, (uint64_t)-3, NX, 1},
	    {R53(0x61, 8, 1, RTZ), dbits(0x1p32 + 5.5), 0, 5, NV, 1}, /* modular; NV as fcvt.w.d */
	    {R53(0x61, 8, 1, RTZ), dbits(0x1p31), 0, 0xffffffff80000000ULL, NV, 1},
	    {R53(0x61, 8, 1, RTZ), dbits(-0x1p31), 0, 0xffffffff80000000ULL, 0, 1},
	    {R53(0x61, 8, 1, RTZ), dbits(1e20), 0, 0x63100000, NV, 1}, /* 0x56bc75e2d63100000 */
	    {R53(0x61, 8, 1, RTZ), dbits(-1e20), 0, (uint64_t)(int64_t)(int32_t)-0x63100000, NV, 1},
	    {R53(0x61, 8, 1, RTZ), dbits(INFINITY), 0, 0, NV, 1},
	    {R53(0x61, 8, 1, RTZ), dbits(NAN), 0, 0, NV, 1},
	    {R53(0x61, 8, 1, RNE), dbits(1.0), 0, 0xdead00 | RV_EXC_ILLEGAL, 0, 1}, /* rm must be RTZ */
	    {R53(0x50, 2, 1, 0), qnan_s, one_s, 0, NV, 1},               /* fle.s: NV for any NaN */
	    {R53(0x50, 2, 1, 4), qnan_s, one_s, 0, 0, 1},                /* fleq.s: quiet */
	    {R53(0x50, 2, 1, 4), snan_s, one_s, 0, NV, 1},               /* ... but sNaN */
	    {R53(0x51, 2, 1, 5), dbits(1.0), dbits(2.0), 1, 0, 1},       /* fltq.d */
	    {R53(0x52, 2, 1, 4), BOX_H(0x3c00), BOX_H(0x3c00), 1, 0, 1}, /* fleq.h */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t flags;
		reset();
		CHECK_EQ(run_fp(cases[i].insn, cases[i].a, cases[i].b, cases[i].to_int, &flags),
		         cases[i].result);
		CHECK_EQ(flags, cases[i].flags);
	}
	uint32_t flags;
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZFA));
	CHECK_EQ(run_fp(R53(0x78, 1, 0, 0), 0, 0, false, &flags), 0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run_fp(R53(0x50, 2, 1, 4), one_s, one_s, true, &flags), 0xdead00 | RV_EXC_ILLEGAL);
	CHECK_EQ(run_fp(R53(0x21, 4, 1, RNE), dbits(2.5), 0, false, &flags), 0xdead00 | RV_EXC_ILLEGAL);
#undef R53
}

static void test_trigger_csrs(void)
{
	const uint64_t mcontrol = 2ULL << 60, m = 1u << 6, exec = 4, load = 1;
	reset();
	CHECK_EQ(run(CSRRS(3, 0x7a4, 0), 0, 0) & 0xffff, 1u << 2 | 1u << 6 | 1u << 15); /* tinfo */
	CHECK_EQ(run(CSRRS(3, 0x7a1, 0), 0, 0), mcontrol); /* reset: an mcontrol armed by nothing */
	CHECK_EQ(run(CSRRW(3, 0x7a0, 1), 1, 0), 0);        /* tselect 1 */
	CHECK_EQ(run(CSRRW(3, 0x7a0, 1), 7, 0), 1);        /* no trigger 7: tselect stays 1 */
	CHECK_EQ(run(CSRRS(3, 0x7a0, 0), 0, 0), 1);
	/* Legal values: a chain, an action other than a breakpoint and debug mode read as zero;
	 * an unknown type disables the trigger (type 15). */
	run(CSRRW(0, 0x7a1, 1), mcontrol | 1ULL << 59 | 1u << 12 | 1u << 11 | m | exec, 0);
	CHECK_EQ(hart.tdata1[1], mcontrol | m | exec);
	CHECK(hart.trig_exec && !hart.trig_data);
	run(CSRRW(0, 0x7a1, 1), 3ULL << 60 | m | load, 0);
	CHECK_EQ(hart.tdata1[1], 15ULL << 60);
	CHECK(!hart.trig_exec && !hart.trig_data);
	/* A load trigger firing from the interpreter: tval is the address, epc the load. */
	run(CSRRW(0, 0x7a2, 1), DATA + 4, 0);
	run(CSRRW(0, 0x7a1, 1), mcontrol | m | load, 0);
	CHECK_EQ(run(LD(3, 1, 0), DATA, 0), 0xdead00 | RV_EXC_BREAKPOINT);
	CHECK_EQ(hart.mtval, DATA);
	CHECK_EQ(hart.mepc, CODE);
	CHECK_EQ(run(LD(3, 1, 0), DATA + 8, 0), 0);  /* other bytes: no breakpoint */
	CHECK_EQ(run(SD(2, 1, 0), DATA, 0), 0x5a5a); /* a store: not watched */
	/* Without Sdtrig the registers do not exist. */
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(SDTRIG));
	CHECK_EQ(run(CSRRS(3, 0x7a0, 0), 0, 0), 0xdead00 | RV_EXC_ILLEGAL);
}

/* ---- vector floating point the differential test cannot reach ---- */
static void vcfg(unsigned vsew, unsigned vlmul, uint64_t vl)
{
	rv_hart_set_extensions(&hart, rv_ext_defaults() | EXT(V) | EXT(ZVFHMIN));
	hart.mstatus |= 3ULL << 9 | 3ULL << 13; /* VS, FS dirty */
	hart.vtype = vsew << 3 | vlmul;
	hart.vl = vl;
	hart.vstart = 0;
}
static void vput(unsigned reg, unsigned eew, unsigned i, uint64_t v)
{
	memcpy(hart.vreg + reg * hart.vlenb + i * eew, &v, eew);
}
static uint64_t vgetv(unsigned reg, unsigned eew, unsigned i)
{
	uint64_t v = 0;
	memcpy(&v, hart.vreg + reg * hart.vlenb + i * eew, eew);
	return v;
}
/* A VFUNARY0 (0x12) or VFUNARY1 (0x13) instruction, unmasked: vd = op(vs2). */
static uint32_t vfunary(unsigned f6, unsigned sel, unsigned vd, unsigned vs2)
{
	return f6 << 26 | 1u << 25 | vs2 << 20 | sel << 15 | 1u << 12 | vd << 7 | 0x57;
}

static void test_vector_fp(void)
{
	reset();
	/* The estimates: the V specification's own examples. */
	vcfg(2, 0, 2);
	vput(16, 4, 0, 0x00718abc);
	vput(16, 4, 1, 0x7f765432);
	hart.pc = CODE;
	exec1(vfunary(0x13, 5, 8, 16)); /* vfrec7.v v8, v16 */
	CHECK_EQ(vgetv(8, 4, 0), 0x7e900000);
	CHECK_EQ(vgetv(8, 4, 1), 0x00214000);
	exec1(vfunary(0x13, 4, 8, 16)); /* vfrsqrt7.v v8, v16 */
	CHECK_EQ(vgetv(8, 4, 0), 0x5f080000);
	CHECK_EQ(vgetv(8, 4, 1), 0x1f820000);
	/* The .rtz conversions truncate whatever frm says (QEMU 7.2 aborts on them). */
	hart.frm = 3;               /* RUP */
	vput(16, 4, 0, 0x3fc00000); /* 1.5f */
	vput(16, 4, 1, 0xc0700000); /* -3.75f */
	hart.fflags = 0;
	exec1(vfunary(0x12, 7, 8, 16)); /* vfcvt.rtz.x.f.v */
	CHECK_EQ(vgetv(8, 4, 0), 1);
	CHECK_EQ(vgetv(8, 4, 1), 0xfffffffd);
	CHECK_EQ(hart.fflags, 1);       /* NX */
	exec1(vfunary(0x12, 1, 8, 16)); /* vfcvt.x.f.v: frm rounds up */
	CHECK_EQ(vgetv(8, 4, 0), 2);
	CHECK_EQ(vgetv(8, 4, 1), 0xfffffffd);
	exec1(vfunary(0x12, 14, 8, 16)); /* vfwcvt.rtz.xu.f.v: 1.5 -> 1, -3.75 -> 0 with NV */
	CHECK_EQ(vgetv(8, 8, 0), 1);
	CHECK_EQ(vgetv(8, 8, 1), 0);
	CHECK(hart.fflags & 16);
	vcfg(1, 0, 2);                   /* SEW 16: narrowing from single */
	exec1(vfunary(0x12, 22, 8, 16)); /* vfncvt.rtz.xu.f.w */
	CHECK_EQ(vgetv(8, 2, 0), 1);
	/* Zvfhmin: half to single, single to half (in frm). */
	vput(16, 2, 0, 0x3c00);          /* 1.0 */
	vput(16, 2, 1, 0xfc00);          /* -inf */
	exec1(vfunary(0x12, 12, 8, 16)); /* vfwcvt.f.f.v */
	CHECK_EQ(vgetv(8, 4, 0), 0x3f800000);
	CHECK_EQ(vgetv(8, 4, 1), 0xff800000);
	vput(16, 4, 0, 0x3dcccccd); /* 0.1f */
	vput(16, 4, 1, 0x477ff000); /* 65520: rounds up to infinity in RUP */
	hart.fflags = 0;
	exec1(vfunary(0x12, 20, 8, 16)); /* vfncvt.f.f.w */
	CHECK_EQ(vgetv(8, 2, 0), 0x2e67);
	CHECK_EQ(vgetv(8, 2, 1), 0x7c00);
	CHECK_EQ(hart.fflags, 5); /* OF, NX */
	/* Without Zvfhmin those two are illegal; so is arithmetic at SEW 16 (no Zvfh). */
	rv_hart_set_extensions(&hart, (rv_ext_defaults() | EXT(V)) & ~EXT(ZVFHMIN));
	hart.pc = CODE;
	exec1(vfunary(0x12, 12, 8, 16));
	CHECK_EQ(hart.pc, MTVEC);
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
}

/* Zvbb at SEW 32, LMUL 1, vl 4; encodings from LLVM's assembler tests (unmasked forms). */
static void test_zvbb(void)
{
	static const uint32_t v9[4] = {0x80000001, 0x12345678, 0, 0xf000}, v8[4] = {1, 4, 31, 0xffffffff};
	static const struct {
		const char *name;
		uint32_t insn;
		uint32_t r[4];
	} cases[] = {
	    {"vandn.vv", 0x06940557, {0x80000000, 0x12345678, 0, 0}},
	    {"vbrev8.v", 0x4a942557, {0x01000080, 0x482c6a1e, 0, 0x0f00}},
	    {"vrev8.v", 0x4a94a557, {0x01000080, 0x78563412, 0, 0x00f00000}},
	    {"vbrev.v", 0x4a952557, {0x80000001, 0x1e6a2c48, 0, 0x000f0000}},
	    {"vclz.v", 0x4a962557, {0, 3, 32, 16}},
	    {"vctz.v", 0x4a96a557, {0, 3, 32, 12}},
	    {"vcpop.v", 0x4a972557, {2, 13, 0, 4}},
	    {"vrol.vv", 0x56940557, {0x3, 0x23456781, 0, 0x7800}},
	    {"vror.vv", 0x52940557, {0xc0000000, 0x81234567, 0, 0x1e000}},
	    {"vror.vi 33", 0x5690b557, {0xc0000000, 0x091a2b3c, 0, 0x7800}},
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		reset();
		vcfg(2, 0, 4);
		for (unsigned i = 0; i < 4; i++) vput(9, 4, i, v9[i]), vput(8, 4, i, v8[i]);
		hart.pc = CODE;
		exec1(cases[k].insn);
		CHECK_EQ(hart.pc, CODE + 4);
		for (unsigned i = 0; i < 4; i++) {
			CHECK_EQ(vgetv(10, 4, i), cases[k].r[i]);
			if (vgetv(10, 4, i) != cases[k].r[i])
				fprintf(stderr, "  %s element %u\n", cases[k].name, i);
		}
	}
	static const uint64_t wsll_vv[4] = {0x100000002, 0x123456780, 0, 0};
	static const uint64_t wsll_vi[4] = {0x1000000020000000, 0x2468acf00000000, 0, 0x1e0000000000};
	for (unsigned vi = 0; vi < 2; vi++) {
		reset();
		vcfg(2, 0, 4);
		for (unsigned i = 0; i < 4; i++) vput(9, 4, i, v9[i]), vput(8, 4, i, v8[i]);
		hart.pc = CODE;
		exec1(vi ? 0xd69eb557 : 0xd6940557); /* vwsll.vi v10, v9, 29 / vwsll.vv v10, v9, v8 */
		for (unsigned i = 0; i < 4; i++) CHECK_EQ(vgetv(10, 8, i), (vi ? wsll_vi : wsll_vv)[i]);
	}
	/* Without Zvbb they are illegal. */
	reset();
	vcfg(2, 0, 4);
	rv_hart_set_extensions(&hart, (rv_ext_defaults() | EXT(V)) & ~EXT(ZVBB));
	hart.pc = CODE;
	exec1(0x4a962557);
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
	hart.pc = CODE;
	exec1(0x06940557);
	CHECK_EQ(hart.pc, MTVEC);
}

/* Zihpm and Sscofpmf: mhpmcounter3 counting instructions retired (event 2). */
static void test_hpm_counters(void)
{
	const unsigned ctr = 0xb03, evt = 0x323, nop = 0x00000013;
	reset();
	hart.x[1] = 2;
	exec1(CSRRW(0, evt, 1)); /* count instructions retired from here */
	for (int i = 0; i < 10; i++) exec1(nop);
	exec1(CSRRS(5, ctr, 0));
	CHECK_EQ(hart.x[5], 10); /* the ten nops: not the write before, nor the read itself */
	/* mcountinhibit stops it; the mode filter too (MINH: not in M-mode). */
	hart.x[1] = 1u << 3;
	exec1(CSRRW(0, 0x320, 1));
	for (int i = 0; i < 5; i++) exec1(nop);
	exec1(CSRRS(5, ctr, 0));
	CHECK_EQ(hart.x[5], 11); /* one more: the instruction that set the inhibit bit */
	exec1(CSRRW(0, 0x320, 0));
	hart.x[1] = 2 | 1ULL << 62;
	exec1(CSRRW(0, evt, 1));
	uint64_t before = hart.hpm_counter[0];
	for (int i = 0; i < 5; i++) exec1(nop);
	exec1(CSRRS(5, ctr, 0));
	CHECK_EQ(hart.x[5], before);
	/* Overflow: OF, the LCOFI pending bit, scountovf, and the interrupt once enabled. */
	reset();
	hart.x[1] = ~0ULL - 2;
	exec1(CSRRW(0, ctr, 1));
	hart.x[1] = 2;
	exec1(CSRRW(0, evt, 1));
	for (int i = 0; i < 4; i++) exec1(nop);
	exec1(CSRRS(5, evt, 0));
	CHECK_EQ(hart.x[5] >> 63, 1);                     /* OF */
	CHECK(hart.mip_sw & (1u << 13));                  /* LCOFIP */
	CHECK_EQ(run(CSRRS(3, 0xda0, 0), 0, 0), 1u << 3); /* scountovf */
	hart.mie = 1u << 13;
	hart.mstatus |= 1u << 3; /* MIE */
	hart.pc = CODE;
	exec1(nop); /* the interrupt is taken before the next instruction */
	CHECK_EQ(hart.mcause, (1ULL << 63) | 13);
	/* Without Sscofpmf, no OF bit and no interrupt; without Zihpm, read-only zero. */
	reset();
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(SSCOFPMF));
	hart.x[1] = (1ULL << 63) | 2;
	exec1(CSRRW(0, evt, 1));
	CHECK_EQ(hart.hpm_event[0], 2);
	rv_hart_set_extensions(&hart, rv_ext_defaults() & ~EXT(ZIHPM));
	exec1(CSRRW(0, ctr, 1));
	exec1(CSRRS(5, ctr, 0));
	CHECK_EQ(hart.x[5], 0);
}

/* VLEN from the extension spec: vlenb, and VLMAX as vsetvli sees it. */
static void test_vlen(void)
{
	char err[256];
	static const struct {
		const char *spec;
		unsigned vtype;
		uint64_t vlmax, vlenb;
	} cases[] = {
	    {"", 0x10, 4, 16},              /* VLEN 128, e32, m1 */
	    {"vlen=256", 0x10, 8, 32},      /* e32, m1 */
	    {"vlen=1024", 0x03, 1024, 128}, /* e8, m8 */
	    {"vlen=512,-zbb", 0x17, 8, 64}, /* e32, mf2 */
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint64_t ext = rv_ext_defaults();
		CHECK(rv_ext_apply(&ext, cases[k].spec, err, sizeof(err)));
		reset();
		rv_hart_set_extensions(&hart, ext);
		hart.mstatus |= 3ULL << 9; /* VS */
		hart.x[1] = 100000;
		exec1(cases[k].vtype << 20 | 1 << 15 | 7 << 12 | 5 << 7 | 0x57); /* vsetvli x5, x1, vtype */
		CHECK_EQ(hart.x[5], cases[k].vlmax);
		exec1(CSRRS(6, 0xc22, 0)); /* vlenb */
		CHECK_EQ(hart.x[6], cases[k].vlenb);
	}
	uint64_t ext = rv_ext_defaults();
	CHECK(!rv_ext_apply(&ext, "vlen=100", err, sizeof(err)));
	CHECK(strstr(err, "vlen must be") != NULL);
	CHECK(!rv_ext_apply(&ext, "vlen=2048", err, sizeof(err)));
	CHECK(!rv_ext_apply(&ext, "vlen=", err, sizeof(err)));
	CHECK(!rv_ext_apply(&ext, "vlen=256x", err, sizeof(err)));
	CHECK_EQ(ext, rv_ext_defaults());
}

TEST_MAIN(setup, test_ext_spec, test_bitmanip_vectors, test_each_extension_off_is_illegal, test_zcb_runs,
          test_zimop_and_zcmop, test_cbo_zero_and_enables, test_cbo_faults, test_svinval_and_zawrs,
          test_svnapot, test_svpbmt, test_envcfg_warl_and_sstc_off, test_half_precision, test_zfa,
          test_trigger_csrs, test_vector_fp, test_zvbb, test_svadu, test_hpm_counters, test_vlen)
