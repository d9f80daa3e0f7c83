/*
 * test_rvc.c — compressed-instruction expansion. The pairs (16-bit
 * encoding, 32-bit equivalent) were produced by GNU as for riscv64; the Zcb
 * encodings are those of LLVM's assembler tests (binutils 2.40 lacks Zcb).
 */
#include "check.h"
#include "cpu/riscv/hart.h"
#include "cpu/riscv/isa.h"

static const struct {
	uint16_t c;
	uint32_t full;
} pairs[] = {
    {0x0808, 0x01010513}, /* c.addi4spn a0, sp, 16 */
    {0x1fe4, 0x3fc10493}, /* c.addi4spn s1, sp, 1020 */
    {0x2588, 0x0085b507}, /* c.fld fa0, 8(a1) */
    {0x5ef0, 0x07c6a603}, /* c.lw a2, 124(a3) */
    {0x7ff8, 0x0f87b703}, /* c.ld a4, 248(a5) */
    {0xa880, 0x0084b827}, /* c.fsd fs0, 16(s1) */
    {0xc1a8, 0x04a5a023}, /* c.sw a0, 64(a1) */
    {0xe480, 0x0084b423}, /* c.sd s0, 8(s1) */
    {0x0001, 0x00000013}, /* c.nop */
    {0x1501, 0xfe050513}, /* c.addi a0, -32 */
    {0x017d, 0x01f10113}, /* c.addi sp, 31 */
    {0x35fd, 0xfff5859b}, /* c.addiw a1, -1 */
    {0x5281, 0xfe000293}, /* c.li t0, -32 */
    {0x47fd, 0x01f00793}, /* c.li a5, 31 */
    {0x7101, 0xe0010113}, /* c.addi16sp sp, -512 */
    {0x617d, 0x1f010113}, /* c.addi16sp sp, 496 */
    {0x657d, 0x0001f537}, /* c.lui a0, 0x1f */
    {0x7301, 0xfffe0337}, /* c.lui t1, 0xfffe0 */
    {0x917d, 0x03f55513}, /* c.srli a0, 63 */
    {0x8485, 0x4014d493}, /* c.srai s1, 1 */
    {0x9a7d, 0xfff67613}, /* c.andi a2, -1 */
    {0x8d0d, 0x40b50533}, /* c.sub a0, a1 */
    {0x8c25, 0x00944433}, /* c.xor s0, s1 */
    {0x8f5d, 0x00f76733}, /* c.or a4, a5 */
    {0x8e75, 0x00d67633}, /* c.and a2, a3 */
    {0x9d1d, 0x40f5053b}, /* c.subw a0, a5 */
    {0x9cad, 0x00b484bb}, /* c.addw s1, a1 */
    {0xb001, 0x801ff06f}, /* c.j . - 2048 */
    {0xaffd, 0x7fe0006f}, /* c.j . + 2046 */
    {0xd101, 0xf00500e3}, /* c.beqz a0, . - 256 */
    {0xecfd, 0x0e049f63}, /* c.bnez s1, . + 254 */
    {0x12fe, 0x03f29293}, /* c.slli t0, 63 */
    {0x30fe, 0x1f813087}, /* c.fldsp ft1, 504(sp) */
    {0x50fe, 0x0fc12083}, /* c.lwsp ra, 252(sp) */
    {0x7dfe, 0x1f813d83}, /* c.ldsp s11, 504(sp) */
    {0x8082, 0x00008067}, /* c.jr ra */
    {0x857e, 0x01f00533}, /* c.mv a0, t6 */
    {0x9002, 0x00100073}, /* c.ebreak */
    {0x9282, 0x000280e7}, /* c.jalr t0 */
    {0x952a, 0x00a50533}, /* c.add a0, a0 */
    {0xbfa6, 0x1e913c27}, /* c.fsdsp fs1, 504(sp) */
    {0xdf9e, 0x0e712e23}, /* c.swsp t2, 252(sp) */
    {0xffea, 0x1fa13c23}, /* c.sdsp s10, 504(sp) */
};

static void test_known_pairs(void)
{
	for (unsigned i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		CHECK_EQ(rv_expand_compressed(pairs[i].c, 0), pairs[i].full);
}

static void test_illegal(void)
{
	CHECK_EQ(rv_expand_compressed(0x0000, 0), 0);          /* all zero */
	CHECK_EQ(rv_expand_compressed(0x0000 | 4 << 2, 0), 0); /* c.addi4spn with zero immediate */
	CHECK_EQ(rv_expand_compressed(0x4002, 0), 0);          /* c.lwsp x0 */
	CHECK_EQ(rv_expand_compressed(0x6002, 0), 0);          /* c.ldsp x0 */
	CHECK_EQ(rv_expand_compressed(0x8002, 0), 0);          /* c.jr x0 */
	CHECK_EQ(rv_expand_compressed(0x6101, 0), 0);          /* c.addi16sp 0 */
	CHECK_EQ(rv_expand_compressed(0x6501, 0), 0);          /* c.lui a0, 0 */
	CHECK_EQ(rv_expand_compressed(0x2001, 0), 0);          /* c.addiw x0 */
	CHECK_EQ(rv_expand_compressed(0x9c41, 0), 0);          /* reserved: quadrant 1, funct 100, 1 11 10 */
	CHECK_EQ(rv_expand_compressed(0x8000, 0), 0);          /* reserved quadrant 0 funct 100 */
}

static void test_all_entries_decodable(void)
{
	/* Every expansion is either illegal or a 32-bit instruction (low bits 11). */
	unsigned bad = 0, legal = 0;
	for (uint32_t c = 0; c < 65536; c++) {
		if ((c & 3) == 3) continue;
		uint32_t f = rv_expand_compressed((uint16_t)c, 0);
		if (f == 0) continue;
		legal++;
		if ((f & 3) != 3) bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK(legal > 45000);
}

/* Zcb and Zcmop: reserved without them, expanded with them. */
static const struct {
	uint16_t c;
	uint32_t full;
} zcb_pairs[] = {
    {0x9c61, 0x0ff47413}, /* c.zext.b s0 = andi s0, s0, 255 */
    {0x9c65, 0x60441413}, /* c.sext.b s0 */
    {0x9c69, 0x0804443b}, /* c.zext.h s0 */
    {0x9c6d, 0x60541413}, /* c.sext.h s0 */
    {0x9c71, 0x0804043b}, /* c.zext.w s0 = add.uw s0, s0, zero */
    {0x9c75, 0xfff44413}, /* c.not s0 = xori s0, s0, -1 */
    {0x9c45, 0x02940433}, /* c.mul s0, s1 */
    {0x833c, 0x00274783}, /* c.lbu a5, 2(a4) */
    {0x873c, 0x00275783}, /* c.lhu a5, 2(a4) */
    {0x877c, 0x00271783}, /* c.lh a5, 2(a4) */
    {0x8b3c, 0x00f70123}, /* c.sb a5, 2(a4) */
    {0x8f3c, 0x00f71123}, /* c.sh a5, 2(a4) */
};

static void test_zcb_zcmop(void)
{
	uint64_t all = rv_ext_defaults(), none = 0;
	for (unsigned i = 0; i < sizeof(zcb_pairs) / sizeof(zcb_pairs[0]); i++) {
		CHECK_EQ(rv_expand_compressed(zcb_pairs[i].c, all), zcb_pairs[i].full);
		CHECK_EQ(rv_expand_compressed(zcb_pairs[i].c, none), 0);
	}
	CHECK_EQ(rv_expand_compressed(0x8f7c, all), 0); /* c.sh with bit 6 set: reserved */
	CHECK_EQ(rv_expand_compressed(0x9c79, all), 0); /* funct 100111 11 110: reserved */
	/* c.mop.1 ... c.mop.15 are c.lui x1 ... x15 (odd) with a zero immediate: no-ops. */
	for (unsigned n = 1; n <= 15; n += 2) {
		uint16_t mop = (uint16_t)(0x6001 | n << 7);
		CHECK_EQ(rv_expand_compressed(mop, all), 0x00000013);
		CHECK_EQ(rv_expand_compressed(mop, none), 0);
		CHECK_EQ(rv_expand_compressed(mop, all & ~(1ULL << RV_EXT_ZCMOP)), 0);
	}
	CHECK_EQ(rv_expand_compressed(0x6501, all), 0); /* c.lui a0, 0 (even register): still reserved */
	CHECK_EQ(rv_expand_compressed(0x9c61, all & ~(1ULL << RV_EXT_ZCB)), 0);
}

static void setup(void)
{
	rv_init_tables();
}

TEST_MAIN(setup, test_known_pairs, test_illegal, test_all_entries_decodable, test_zcb_zcmop)
