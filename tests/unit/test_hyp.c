/*
 * test_hyp.c — the hypervisor extension (H) on one hart: its CSRs and their writable bits, trap
 * entry from VS/VU into M, HS or VS (what each records), sret and mret across V, the supervisor
 * CSRs VS-mode reaches as VS CSRs, virtual-instruction exceptions, two-stage translation and
 * guest-page faults (htval/mtval2, htinst pseudoinstructions, GVA), HLV/HLVX/HSV, VS-level
 * interrupts and their delegation, the guest's time and timer, and H switched off.
 */
#include "cpu/riscv/isa.h"
#include "hart_fixture.h"

#define MSTATUS_SIE (1ULL << 1)
#define MSTATUS_SPP (1ULL << 8)
#define MSTATUS_TVM (1ULL << 20)
#define MSTATUS_GVA (1ULL << 38)
#define MSTATUS_MPV (1ULL << 39)
#define HSTATUS_GVA (1ULL << 6)
#define HSTATUS_SPV (1ULL << 7)
#define HSTATUS_SPVP (1ULL << 8)
#define HSTATUS_VTW (1ULL << 21)
#define HSTATUS_VTSR (1ULL << 22)
#define VSTVEC 0x80003000ULL
#define IRQ (1ULL << 63)

#define HLV_D(rd, rs1) enc_r(0x36, 0, rs1, 4, rd, 0x73)
#define HLV_W(rd, rs1) enc_r(0x34, 0, rs1, 4, rd, 0x73)
#define HLVX_WU(rd, rs1) enc_r(0x34, 3, rs1, 4, rd, 0x73)
#define HSV_D(rs2, rs1) enc_r(0x37, rs2, rs1, 4, 0, 0x73)
#define HFENCE_VVMA 0x22000073u
#define HFENCE_GVMA 0x62000073u
#define CSRRC(rd, csr, rs1) enc_i(csr, rs1, 3, rd, 0x73)
#define LD_(rd, rs1) LD(rd, rs1, 0)

/* G-stage (Sv39x4) root table: 16 KiB, 16 KiB-aligned. */
#define GROOT (RAM_BASE + 0x300000)

static void reset_h(void)
{
	reset();
	hart.vstvec = VSTVEC;
	put32(VSTVEC, 0x00000013u);
}

/* Back to M-mode, as after reset (the fixture enters other modes from M). */
static void to_m(void)
{
	hart.priv = RV_PRIV_M;
	hart.virt = false;
	rv_hart_flush_tlb(&hart);
}

/* Enters VS (priv S) or VU (priv U) at pc through mret with MPV set. */
static void enter_v(unsigned priv, uint64_t pc)
{
	to_m();
	hart.mstatus |= MSTATUS_MPV;
	enter(priv, pc);
}

static uint64_t csr_read(unsigned csr)
{
	hart.pc = CODE + 0x40;
	exec1(CSRRS(5, csr, 0));
	return hart.x[5];
}

static void csr_write(unsigned csr, uint64_t v)
{
	hart.x[6] = v;
	hart.pc = CODE + 0x40;
	exec1(CSRRW(0, csr, 6));
}

/* Runs insn at pc in the current mode; returns the M-mode trap cause, or -1 if none was taken. */
static int64_t try_m(uint32_t insn)
{
	hart.mcause = 0xdead;
	uint64_t pc = hart.pc;
	exec1(insn);
	return hart.pc == MTVEC && hart.mepc == pc ? (int64_t)hart.mcause : -1;
}

static void test_csrs(void)
{
	reset_h();
	CHECK_EQ((csr_read(0x301) >> 7) & 1, 1);  /* misa.H */
	CHECK_EQ(csr_read(0x600) >> 32 & 3, 2);   /* hstatus.VSXL: 64 */
	CHECK_EQ(csr_read(0x303) & 0x444, 0x444); /* mideleg: VS-level interrupts, read-only one */
	csr_write(0x303, 0);
	CHECK_EQ(csr_read(0x303) & 0x444, 0x444);
	csr_write(0x602, ~0ULL); /* hedeleg */
	CHECK_EQ(csr_read(0x602), 0xb1ff);
	csr_write(0x603, ~0ULL); /* hideleg */
	CHECK_EQ(csr_read(0x603), 0x444);
	csr_write(0x302, ~0ULL); /* medeleg now takes the VS ecall, guest-page faults, virtual insn */
	CHECK_EQ(csr_read(0x302), 0xf0b7ff);
	csr_write(0x607, ~0ULL); /* hgeie: GEILEN 0 */
	CHECK_EQ(csr_read(0x607), 0);
	CHECK_EQ(csr_read(0xe12), 0);
	/* hgatp: Sv57x4 is not offered (reads back Bare), PPN[1:0] read zero, 14 VMID bits. */
	csr_write(0x680, 10ULL << 60 | 5);
	CHECK_EQ(csr_read(0x680), 0);
	csr_write(0x680, 8ULL << 60 | 0x3fffULL << 44 | 0x80007);
	CHECK_EQ(csr_read(0x680), 8ULL << 60 | 0x3fffULL << 44 | 0x80004);
	/* hvip and hip: VSSIP in hip is hvip's; mip shows them too. */
	csr_write(0x645, ~0ULL);
	CHECK_EQ(csr_read(0x645), 0x444);
	CHECK_EQ(csr_read(0x644) & 0x444, 0x444);
	CHECK_EQ(csr_read(0x344) & 0x444, 0x444);
	csr_write(0x644, 0);
	CHECK_EQ(csr_read(0x645), 0x440);
	/* HS-level sip/sie do not show VS-level bits. */
	hart.mie = ~0ULL;
	CHECK_EQ(csr_read(0x104) & 0x444, 0);
	CHECK_EQ(csr_read(0x144) & 0x444, 0);
	CHECK_EQ(csr_read(0x604), 0x444); /* hie */
	/* vsstatus: UXL 64, writable fields only. */
	csr_write(0x200, ~0ULL);
	CHECK_EQ(csr_read(0x200) & (3ULL << 32), 2ULL << 32);
	CHECK_EQ(csr_read(0x200) & 0x1ffffULL, 0x6722); /* SIE, SPIE, SPP, VS, FS */
	/* mstatus: MPV and GVA writable. */
	csr_write(0x300, MSTATUS_MPV | MSTATUS_GVA);
	CHECK_EQ(csr_read(0x300) & (MSTATUS_MPV | MSTATUS_GVA), MSTATUS_MPV | MSTATUS_GVA);
	/* HS-mode reaches the H CSRs; U-mode does not. */
	reset_h();
	enter(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	exec1(CSRRS(5, 0x600, 0));
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.pc, CODE + 0x44);
	reset_h();
	enter(RV_PRIV_U, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x600, 0)), RV_EXC_ILLEGAL);
	/* mstatus.TVM stops HS-mode at hgatp and hfence.gvma, not at hfence.vvma. */
	reset_h();
	hart.mstatus |= MSTATUS_TVM;
	enter(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x680, 0)), RV_EXC_ILLEGAL);
	hart.mstatus |= MSTATUS_TVM;
	enter(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(HFENCE_GVMA), RV_EXC_ILLEGAL);
	hart.mstatus |= MSTATUS_TVM;
	enter(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(HFENCE_VVMA), -1);
}

static void test_traps_and_returns(void)
{
	/* mret with MPV enters VS; an ecall from VS goes to HS as cause 10 with SPV, SPVP. */
	reset_h();
	hart.medeleg = 1ULL << RV_EXC_ECALL_VS;
	enter_v(RV_PRIV_S, CODE + 0x100);
	CHECK(hart.virt);
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.mstatus & MSTATUS_MPV, 0); /* mret clears MPV */
	exec1(ECALL);
	CHECK(!hart.virt);
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.scause, RV_EXC_ECALL_VS);
	CHECK_EQ(hart.sepc, CODE + 0x100);
	CHECK_EQ(hart.pc, STVEC);
	CHECK_EQ(hart.hstatus & (HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_GVA), HSTATUS_SPV | HSTATUS_SPVP);
	CHECK_EQ(hart.mstatus & MSTATUS_SPP, MSTATUS_SPP);
	/* sret from HS with SPV goes back into VS; SPV is cleared. */
	hart.sepc = CODE + 0x200;
	hart.pc = CODE + 0x40;
	exec1(SRET);
	CHECK(hart.virt);
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.pc, CODE + 0x200);
	CHECK_EQ(hart.hstatus & HSTATUS_SPV, 0);
	/* Not delegated by medeleg: VS's ecall goes to M with MPV=1, MPP=S. */
	hart.medeleg = 0;
	exec1(ECALL);
	CHECK_EQ(hart.priv, RV_PRIV_M);
	CHECK(!hart.virt);
	CHECK_EQ(hart.mcause, RV_EXC_ECALL_VS);
	CHECK_EQ(hart.mstatus & MSTATUS_MPV, MSTATUS_MPV);
	CHECK_EQ((hart.mstatus >> 11) & 3, RV_PRIV_S);
	/* From VU, an ecall delegated by medeleg and hedeleg stays in the guest: VS takes it. */
	reset_h();
	hart.medeleg = 1ULL << RV_EXC_ECALL_U;
	hart.hedeleg = 1ULL << RV_EXC_ECALL_U;
	hart.vsstatus |= MSTATUS_SIE;
	enter_v(RV_PRIV_U, CODE + 0x100);
	exec1(ECALL);
	CHECK(hart.virt);
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.pc, VSTVEC);
	CHECK_EQ(hart.vscause, RV_EXC_ECALL_U);
	CHECK_EQ(hart.vsepc, CODE + 0x100);
	CHECK_EQ(hart.vsstatus & (MSTATUS_SPP | MSTATUS_SIE | (1ULL << 5)),
	         1ULL << 5);      /* SPIE=1 SIE=0 SPP=0 */
	CHECK_EQ(hart.scause, 0); /* HS saw nothing */
	CHECK_EQ(hart.hstatus & HSTATUS_SPV, 0);
	/* sret in VS returns through vsepc and vsstatus to VU. */
	hart.vsepc = CODE + 0x300;
	hart.pc = CODE + 0x40;
	exec1(SRET);
	CHECK(hart.virt);
	CHECK_EQ(hart.priv, RV_PRIV_U);
	CHECK_EQ(hart.pc, CODE + 0x300);
	CHECK_EQ(hart.vsstatus & MSTATUS_SIE, MSTATUS_SIE);
}

static void test_vs_csrs_and_virtual_instructions(void)
{
	reset_h();
	hart.mcounteren = ~0u;
	hart.sscratch = 0x1111;
	hart.vsscratch = 0x2222;
	hart.vsstatus = 2ULL << 32 | MSTATUS_SPP;
	enter_v(RV_PRIV_S, CODE);
	/* sscratch and sstatus are the VS CSRs while V=1. */
	CHECK_EQ(csr_read(0x140), 0x2222);
	csr_write(0x140, 0x3333);
	CHECK_EQ(hart.vsscratch, 0x3333);
	CHECK_EQ(hart.sscratch, 0x1111);
	CHECK_EQ(csr_read(0x100) & MSTATUS_SPP, MSTATUS_SPP);
	/* Hypervisor and VS CSRs by their own numbers: virtual instruction; M CSRs: illegal. */
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x600, 0)), RV_EXC_VIRTUAL_INSN);
	CHECK_EQ(hart.mtval, CSRRS(5, 0x600, 0));
	CHECK_EQ(hart.mstatus & MSTATUS_MPV, MSTATUS_MPV);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x240, 0)), RV_EXC_VIRTUAL_INSN);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x300, 0)), RV_EXC_ILLEGAL);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x6ff, 0)), RV_EXC_ILLEGAL); /* no such hypervisor CSR */
	/* Hypervisor instructions from VS: virtual instruction. */
	const uint32_t hyp_insns[] = {HLV_D(5, 6), HSV_D(5, 6), HFENCE_VVMA, HFENCE_GVMA};
	for (unsigned i = 0; i < 4; i++) {
		enter_v(RV_PRIV_S, CODE);
		hart.pc = CODE + 0x40;
		CHECK_EQ(try_m(hyp_insns[i]), RV_EXC_VIRTUAL_INSN);
	}
	/* VTSR, VTW and VTVM. */
	hart.hstatus |= HSTATUS_VTSR;
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(SRET), RV_EXC_VIRTUAL_INSN);
	hart.hstatus = (hart.hstatus & ~HSTATUS_VTSR) | HSTATUS_VTW;
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(WFI), RV_EXC_VIRTUAL_INSN);
	hart.hstatus = (hart.hstatus & ~HSTATUS_VTW) | (1ULL << 20);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x180, 0)), RV_EXC_VIRTUAL_INSN);
	hart.hstatus &= ~(1ULL << 20);
	/* Counters: mcounteren allows, hcounteren does not: virtual; mcounteren not: illegal. */
	hart.hcounteren = 0;
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0xc00, 0)), RV_EXC_VIRTUAL_INSN);
	hart.mcounteren = 0;
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0xc00, 0)), RV_EXC_ILLEGAL);
	/* From VU: supervisor CSRs and sret are virtual instructions. */
	enter_v(RV_PRIV_U, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x140, 0)), RV_EXC_VIRTUAL_INSN);
	enter_v(RV_PRIV_U, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(SRET), RV_EXC_VIRTUAL_INSN);
	/* The guest's time runs htimedelta ahead. */
	hart.mcounteren = hart.hcounteren = ~0u;
	hart.htimedelta = 1000;
	fake_time = 5;
	enter_v(RV_PRIV_S, CODE);
	CHECK_EQ(csr_read(0xc01), 1005);
	/* FP with vsstatus.FS off is illegal even though mstatus.FS is on. */
	hart.mstatus |= 3ULL << 13;
	hart.vsstatus &= ~(3ULL << 13);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x003, 0)), RV_EXC_ILLEGAL);
	/* Writing FP state at V=1 dirties both FS fields. */
	hart.vsstatus |= 1ULL << 13;
	hart.mstatus = (hart.mstatus & ~(3ULL << 13)) | 1ULL << 13;
	enter_v(RV_PRIV_S, CODE);
	csr_write(0x001, 1);
	CHECK_EQ((hart.vsstatus >> 13) & 3, 3);
	CHECK_EQ((hart.mstatus >> 13) & 3, 3);
}

/* G-stage Sv39x4: guest physical gigapage 2 (0x80000000) and 4 (0x100000000) both map to RAM at
 * 0x80000000, leaf flags `flags`; everything else unmapped. */
static void map_gstage(unsigned flags)
{
	put64(GROOT + 2 * 8, pte(RAM_BASE, flags));
	put64(GROOT + 4 * 8, pte(RAM_BASE, flags));
	hart.hgatp = 8ULL << 60 | (GROOT >> 12);
}

static void test_two_stage(void)
{
	const unsigned rwxu = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;
	/* vsatp Bare, G-stage Sv39x4: GPA 0x100200000 is DATA (0x80200000). */
	reset_h();
	map_gstage(rwxu);
	put64(DATA, 0x1122334455667788ULL);
	enter_v(RV_PRIV_S, CODE);
	hart.x[6] = 0x100200000ULL;
	hart.pc = CODE + 0x40;
	exec1(LD_(5, 6));
	CHECK_EQ(hart.x[5], 0x1122334455667788ULL);
	CHECK(hart.virt);
	/* An unmapped guest physical address: a load guest-page fault to M, mtval the guest virtual
	 * address, mtval2 the guest physical one >> 2, GVA and MPV set. */
	hart.x[6] = 0x140000010ULL;
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(LD_(5, 6)), RV_EXC_LOAD_GUEST_PAGE);
	CHECK_EQ(hart.mtval, 0x140000010ULL);
	CHECK_EQ(hart.mtval2, 0x140000010ULL >> 2);
	CHECK_EQ(hart.mtinst, 0);
	CHECK_EQ(hart.mstatus & (MSTATUS_GVA | MSTATUS_MPV), MSTATUS_GVA | MSTATUS_MPV);
	/* Delegated to HS: htval, hstatus.GVA; a store gives the store cause. */
	hart.medeleg = 1ULL << RV_EXC_STORE_GUEST_PAGE;
	enter_v(RV_PRIV_S, CODE);
	hart.x[6] = 0x140000020ULL;
	hart.pc = CODE + 0x40;
	exec1(SD(5, 6, 0));
	CHECK_EQ(hart.pc, STVEC);
	CHECK_EQ(hart.scause, RV_EXC_STORE_GUEST_PAGE);
	CHECK_EQ(hart.stval, 0x140000020ULL);
	CHECK_EQ(hart.htval, 0x140000020ULL >> 2);
	CHECK_EQ(hart.hstatus & (HSTATUS_GVA | HSTATUS_SPV), HSTATUS_GVA | HSTATUS_SPV);
	/* Addresses above the 41 bits of Sv39x4 fault. */
	hart.medeleg = 0;
	enter_v(RV_PRIV_S, CODE);
	hart.x[6] = 1ULL << 41;
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(LD_(5, 6)), RV_EXC_LOAD_GUEST_PAGE);
	/* G-stage leaves need U (every G-stage access is a user one). */
	map_gstage(rwxu & ~PTE_U);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40; /* the fetch faults first */
	CHECK_EQ(try_m(LD_(5, 6)), RV_EXC_INSN_GUEST_PAGE);
	CHECK_EQ(hart.mtval2, (CODE + 0x40) >> 2);
	/* A read-only G-stage page refuses stores. */
	map_gstage(rwxu & ~PTE_W);
	enter_v(RV_PRIV_S, CODE);
	hart.x[6] = 0x100200000ULL;
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(SD(5, 6, 0)), RV_EXC_STORE_GUEST_PAGE);

	/* VS-stage Sv39 whose root table is not mapped by the G-stage: a guest-page fault of the
	 * original access type (here the fetch of the next instruction), htval the page-table entry's
	 * guest physical address, htinst the pseudoinstruction of a 64-bit read. */
	reset_h();
	map_gstage(rwxu);
	hart.vsatp = 8ULL << 60 | (0x140000000ULL >> 12);
	enter_v(RV_PRIV_S, CODE);
	hart.pc = CODE + 0x40; /* VPN[2] = 2 */
	CHECK_EQ(try_m(LD_(5, 6)), RV_EXC_INSN_GUEST_PAGE);
	CHECK_EQ(hart.mtval, CODE + 0x40);
	CHECK_EQ(hart.mtval2, (0x140000000ULL + 2 * 8) >> 2);
	CHECK_EQ(hart.mtinst, 0x3000);
	CHECK_EQ(hart.mstatus & MSTATUS_GVA, MSTATUS_GVA);
	/* With the tables in mapped guest memory (GPA 0x100000000 + offset = RAM), the VS-stage
	 * walk works through the G-stage and sets A/D in the guest's entries. */
	reset_h();
	map_gstage(rwxu);
	const uint64_t g = 0x100000000ULL - RAM_BASE; /* GPA of a RAM address, through gigapage 4 */
	put64(ROOT + 1 * 8, pte(L1 + g, PTE_V));
	put64(L1 + 0, pte(L0 + g, PTE_V));
	put64(L0 + 0, pte(DATA + g, PTE_V | PTE_R | PTE_W));
	put64(ROOT + 2 * 8, pte(RAM_BASE, PTE_V | PTE_R | PTE_X | PTE_A)); /* the code, identity-mapped */
	put64(DATA, 0xabcdef);
	hart.vsatp = 8ULL << 60 | ((ROOT + g) >> 12);
	hart.henvcfg = 1ULL << 61; /* ADUE: the hart sets A and D in VS-stage entries */
	enter_v(RV_PRIV_S, CODE);
	hart.x[6] = 0x40000008ULL;
	put64(DATA + 8, 0x5555);
	hart.pc = CODE + 0x40;
	exec1(LD_(5, 6));
	CHECK_EQ(hart.x[5], 0x5555);
	CHECK_EQ(get64(L0) & (PTE_A | PTE_D), PTE_A);
	hart.x[5] = 77;
	hart.pc = CODE + 0x40;
	exec1(SD(5, 6, 0));
	CHECK_EQ(get64(DATA + 8), 77);
	CHECK_EQ(get64(L0) & (PTE_A | PTE_D), PTE_A | PTE_D);
	/* A VS page fault is an ordinary page fault; hedeleg hands it to VS. */
	hart.medeleg = 1ULL << RV_EXC_LOAD_PAGE;
	hart.hedeleg = 1ULL << RV_EXC_LOAD_PAGE;
	hart.x[6] = 0xc0000000ULL; /* VPN[2] = 3: no entry */
	hart.pc = CODE + 0x40;
	exec1(LD_(5, 6));
	CHECK(hart.virt);
	CHECK_EQ(hart.pc, VSTVEC);
	CHECK_EQ(hart.vscause, RV_EXC_LOAD_PAGE);
	CHECK_EQ(hart.vstval, 0xc0000000ULL);
	/* hfence.gvma from HS drops what the G-stage mapped: after unmapping, the next load faults. */
	reset_h();
	map_gstage(rwxu);
	enter_v(RV_PRIV_S, CODE);
	hart.x[6] = 0x100200000ULL;
	hart.pc = CODE + 0x40;
	exec1(LD_(5, 6));
	put64(GROOT + 4 * 8, 0);
	hart.medeleg = 1ULL << RV_EXC_ECALL_VS;
	exec1(ECALL); /* to HS */
	hart.pc = CODE + 0x80;
	exec1(HFENCE_GVMA);
	hart.hstatus |= HSTATUS_SPV;
	hart.sepc = CODE + 0x40;
	hart.pc = CODE + 0x84;
	exec1(SRET);
	CHECK(hart.virt);
	CHECK_EQ(try_m(LD_(5, 6)), RV_EXC_LOAD_GUEST_PAGE);
}

static void test_hlv_hsv(void)
{
	const unsigned rwxu = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;
	reset_h();
	map_gstage(rwxu);
	put64(DATA, 0x8877665544332211ULL);
	enter(RV_PRIV_S, CODE);
	/* From HS, with vsatp Bare: GPA 0x100200000 is DATA. */
	hart.x[6] = 0x100200000ULL;
	hart.pc = CODE + 0x40;
	exec1(HLV_D(5, 6));
	CHECK_EQ(hart.x[5], 0x8877665544332211ULL);
	CHECK(!hart.virt);
	hart.pc = CODE + 0x40;
	exec1(HLV_W(5, 6));
	CHECK_EQ(hart.x[5], 0x44332211ULL);
	hart.x[7] = 0xfeed;
	hart.pc = CODE + 0x40;
	exec1(HSV_D(7, 6));
	CHECK_EQ(get64(DATA), 0xfeed);
	/* Execute-only G-stage page: HLVX reads it, HLV faults (a load guest-page fault, GVA=1 while
	 * SPV stays 0). */
	map_gstage(PTE_V | PTE_X | PTE_U | PTE_A | PTE_D);
	hart.pc = CODE + 0x40;
	exec1(HLVX_WU(5, 6));
	CHECK_EQ(hart.x[5], 0xfeed);
	hart.medeleg = 1ULL << RV_EXC_LOAD_GUEST_PAGE;
	hart.pc = CODE + 0x40;
	exec1(HLV_D(5, 6));
	CHECK_EQ(hart.pc, STVEC);
	CHECK_EQ(hart.scause, RV_EXC_LOAD_GUEST_PAGE);
	CHECK_EQ(hart.hstatus & (HSTATUS_GVA | HSTATUS_SPV), HSTATUS_GVA);
	/* U-mode may use them only with hstatus.HU. */
	reset_h();
	map_gstage(rwxu);
	enter(RV_PRIV_U, CODE);
	hart.x[6] = 0x100200000ULL;
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(HLV_D(5, 6)), RV_EXC_ILLEGAL);
	hart.hstatus |= 1ULL << 9;
	enter(RV_PRIV_U, CODE);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(HLV_D(5, 6)), -1);
}

static void test_interrupts(void)
{
	/* hvip.VSSIP, delegated to VS by hideleg, taken in VS with vsstatus.SIE and vsie.SSIE as a
	 * supervisor software interrupt (code 1). */
	reset_h();
	hart.hideleg = 1ULL << RV_IRQ_VSSI;
	hart.mie = 1ULL << RV_IRQ_VSSI;
	hart.hvip = 1ULL << RV_IRQ_VSSI;
	hart.vsstatus |= MSTATUS_SIE;
	enter_v(RV_PRIV_S, CODE + 0x100);
	rv_hart_step(&hart, 1);
	CHECK(hart.virt);
	CHECK_EQ(hart.vscause, IRQ | 1);
	CHECK_EQ(hart.vsepc, CODE + 0x100);
	/* vsip shows it as SSIP; clearing it through vsip clears hvip.VSSIP. */
	hart.pc = CODE + 0x40;
	CHECK_EQ(csr_read(0x144), 2);
	CHECK_EQ(csr_read(0x104), 2); /* vsie */
	hart.x[6] = 2;
	hart.pc = CODE + 0x40;
	exec1(CSRRC(0, 0x144, 6));
	CHECK_EQ(hart.hvip, 0);
	/* Masked in VS by vsstatus.SIE=0: not taken. */
	reset_h();
	hart.hideleg = 1ULL << RV_IRQ_VSSI;
	hart.mie = 1ULL << RV_IRQ_VSSI;
	hart.hvip = 1ULL << RV_IRQ_VSSI;
	put32(CODE + 0x100, 0x00000013u);
	enter_v(RV_PRIV_S, CODE + 0x100);
	rv_hart_step(&hart, 1);
	CHECK_EQ(hart.pc, CODE + 0x104);
	/* At V=0 a VS-level interrupt waits for the guest. */
	reset_h();
	hart.hideleg = 1ULL << RV_IRQ_VSSI;
	hart.mie = 1ULL << RV_IRQ_VSSI;
	hart.hvip = 1ULL << RV_IRQ_VSSI;
	hart.mstatus |= MSTATUS_SIE;
	put32(CODE + 0x100, 0x00000013u);
	enter(RV_PRIV_S, CODE + 0x100);
	rv_hart_step(&hart, 1);
	CHECK_EQ(hart.pc, CODE + 0x104);
	/* Not in hideleg: HS takes it as code 2 even while the guest runs (V=1, whatever HS's SIE). */
	reset_h();
	hart.mie = 1ULL << RV_IRQ_VSTI;
	hart.hvip = 1ULL << RV_IRQ_VSTI;
	enter_v(RV_PRIV_S, CODE + 0x100);
	rv_hart_step(&hart, 1);
	CHECK(!hart.virt);
	CHECK_EQ(hart.scause, IRQ | RV_IRQ_VSTI);
	CHECK_EQ(hart.hstatus & HSTATUS_SPV, HSTATUS_SPV);
	/* vstimecmp (Sstc): VSTIP when the guest's time (time + htimedelta) reaches it. */
	reset_h();
	hart.menvcfg |= 1ULL << 63;
	hart.henvcfg = 1ULL << 63;
	hart.htimedelta = 100;
	hart.vstimecmp = 150;
	fake_time = 40;
	CHECK_EQ(csr_read(0x644) & (1ULL << RV_IRQ_VSTI), 0);
	fake_time = 50;
	CHECK_EQ(csr_read(0x644) & (1ULL << RV_IRQ_VSTI), 1ULL << RV_IRQ_VSTI);
	hart.henvcfg = 0;
	CHECK_EQ(csr_read(0x644) & (1ULL << RV_IRQ_VSTI), 0);
}

static void test_h_off(void)
{
	reset_h();
	uint64_t ext = hart.ext & ~(1ULL << RV_EXT_H);
	rv_hart_set_extensions(&hart, ext);
	rv_hart_reset(&hart, CODE);
	hart.mtvec = MTVEC;
	CHECK_EQ((csr_read(0x301) >> 7) & 1, 0);
	CHECK_EQ(csr_read(0x303), 0);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(CSRRS(5, 0x600, 0)), RV_EXC_ILLEGAL);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(HLV_D(5, 6)), RV_EXC_ILLEGAL);
	hart.pc = CODE + 0x40;
	CHECK_EQ(try_m(HFENCE_GVMA), RV_EXC_ILLEGAL);
	/* mret ignores MPV without H (it is not writable). */
	hart.x[6] = MSTATUS_MPV;
	hart.pc = CODE + 0x40;
	exec1(CSRRS(0, 0x300, 6));
	CHECK_EQ(hart.mstatus & MSTATUS_MPV, 0);
}

TEST_MAIN(setup, test_csrs, test_traps_and_returns, test_vs_csrs_and_virtual_instructions, test_two_stage,
          test_hlv_hsv, test_interrupts, test_h_off)
