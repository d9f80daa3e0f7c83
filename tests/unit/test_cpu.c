/*
 * test_cpu.c — the hart against the privileged and unprivileged specs:
 * M-extension edge cases, CSR access rules, traps and delegation,
 * interrupts, xRET, WFI, and page-table walks (Sv39/Sv48, superpages,
 * permissions, A/D bits, SUM/MXR/MPRV).
 *
 * Each test runs real instructions on a hart whose bus is a plain RAM
 * buffer; code runs in M-mode and reaches virtual memory through MPRV.
 */
#include "hart_fixture.h"

static void test_division_edge_cases(void)
{
	struct {
		uint32_t insn;
		uint64_t a, b, r;
	} cases[] = {
	    {DIV(3, 1, 2), 7, 0, ~0ULL},
	    {DIVU(3, 1, 2), 7, 0, ~0ULL},
	    {REM(3, 1, 2), 7, 0, 7},
	    {REMU(3, 1, 2), 7, 0, 7},
	    {DIV(3, 1, 2), 0x8000000000000000ULL, ~0ULL, 0x8000000000000000ULL},
	    {REM(3, 1, 2), 0x8000000000000000ULL, ~0ULL, 0},
	    {DIVW(3, 1, 2), 0x80000000ULL, ~0ULL, 0xffffffff80000000ULL},
	    {REMW(3, 1, 2), 0x80000000ULL, ~0ULL, 0},
	    {DIVW(3, 1, 2), 5, 0, ~0ULL},
	    {REMW(3, 1, 2), 0xfffffffffffffff9ULL, 0, 0xfffffffffffffff9ULL},
	    {DIV(3, 1, 2), (uint64_t)-7, 2, (uint64_t)-3},
	    {REM(3, 1, 2), (uint64_t)-7, 2, (uint64_t)-1},
	    {MULH(3, 1, 2), (uint64_t)-1, (uint64_t)-1, 0},
	    {MULH(3, 1, 2), 0x8000000000000000ULL, 0x8000000000000000ULL, 0x4000000000000000ULL},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset();
		hart.x[1] = cases[i].a;
		hart.x[2] = cases[i].b;
		exec1(cases[i].insn);
		CHECK_EQ(hart.x[3], cases[i].r);
		CHECK_EQ(hart.pc, CODE + 4);
	}
}

static void test_x0_is_zero(void)
{
	reset();
	exec1(enc_i(5, 0, 0, 0, 0x13)); /* addi x0, x0, 5 */
	CHECK_EQ(hart.x[0], 0);
}

static void test_illegal_instruction_trap(void)
{
	reset();
	exec1(0xffffffffu);
	CHECK_EQ(hart.pc, MTVEC);
	CHECK_EQ(hart.mcause, 2);
	CHECK_EQ(hart.mepc, CODE);
	CHECK_EQ(hart.mtval, 0xffffffffu);
	CHECK_EQ(hart.priv, RV_PRIV_M);
}

static void test_ecall_delegation(void)
{
	reset();
	hart.medeleg = 1 << RV_EXC_ECALL_U;
	enter(RV_PRIV_U, CODE + 0x100);
	CHECK_EQ(hart.priv, RV_PRIV_U);
	CHECK_EQ(hart.pc, CODE + 0x100);
	exec1(ECALL);
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.pc, STVEC);
	CHECK_EQ(hart.scause, RV_EXC_ECALL_U);
	CHECK_EQ(hart.sepc, CODE + 0x100);
	CHECK_EQ(hart.mstatus & (1 << 8), 0); /* SPP = U */

	/* Not delegated: ecall from S goes to M. */
	exec1(ECALL);
	CHECK_EQ(hart.priv, RV_PRIV_M);
	CHECK_EQ(hart.mcause, RV_EXC_ECALL_S);
	CHECK_EQ((hart.mstatus >> 11) & 3, RV_PRIV_S); /* MPP = S */
	CHECK_EQ(hart.mepc, STVEC);
}

static void test_sret_restores(void)
{
	reset();
	enter(RV_PRIV_S, CODE + 0x100);
	hart.sepc = CODE + 0x200;
	hart.mstatus |= 1 << 5;       /* SPIE */
	hart.mstatus &= ~(1ULL << 8); /* SPP = U */
	exec1(SRET);
	CHECK_EQ(hart.priv, RV_PRIV_U);
	CHECK_EQ(hart.pc, CODE + 0x200);
	CHECK(hart.mstatus & (1 << 1)); /* SIE <- SPIE */
	/* sret from U is illegal (trap to M). */
	exec1(SRET);
	CHECK_EQ(hart.priv, RV_PRIV_M);
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
}

static void test_csr_access_rules(void)
{
	reset();
	/* Writing a read-only CSR (mhartid) is illegal; reading it is fine. */
	exec1(CSRRW(5, 0xf14, 1));
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
	reset();
	hart.hartid = 3;
	exec1(CSRRS(5, 0xf14, 0));
	CHECK_EQ(hart.x[5], 3);
	CHECK_EQ(hart.pc, CODE + 4);
	/* S-mode may not read mstatus. */
	reset();
	enter(RV_PRIV_S, CODE + 0x100);
	exec1(CSRRS(5, 0x300, 0));
	CHECK_EQ(hart.priv, RV_PRIV_M);
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
	/* U-mode reads cycle only if mcounteren and scounteren allow. */
	reset();
	enter(RV_PRIV_U, CODE + 0x100);
	exec1(CSRRS(5, 0xc00, 0));
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
	reset();
	hart.mcounteren = 1;
	hart.scounteren = 1;
	enter(RV_PRIV_U, CODE + 0x100);
	exec1(CSRRS(5, 0xc00, 0));
	CHECK_EQ(hart.priv, RV_PRIV_U);
	CHECK_EQ(hart.pc, CODE + 0x104);
	/* Unknown CSR. */
	reset();
	exec1(CSRRS(5, 0x7ff, 0));
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
	/* misa reports RV64IMAFDCHSUV. */
	reset();
	exec1(CSRRS(5, 0x301, 0));
	CHECK_EQ(hart.x[5] >> 62, 2);
	CHECK_EQ(hart.x[5] & 0x3ffffff, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 7) | (1 << 8) |
	                                    (1 << 12) | (1 << 18) | (1 << 20) | (1 << 21));
	/* FP CSRs are illegal while mstatus.FS is off. */
	reset();
	exec1(CSRRS(5, 0x003, 0));
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
}

static void test_timer_interrupt(void)
{
	reset();
	hart.mie = 1 << RV_IRQ_MTI;
	rv_hart_set_mtimecmp(&hart, 100);
	hart.mstatus |= 1 << 3; /* MIE */
	put32(CODE, enc_i(1, 0, 0, 1, 0x13));
	put32(CODE + 4, enc_i(1, 0, 0, 1, 0x13));
	fake_time = 50;
	rv_hart_step(&hart, 1);
	CHECK_EQ(hart.pc, CODE + 4); /* not yet */
	fake_time = 100;
	rv_hart_step(&hart, 1);
	CHECK_EQ(hart.mcause, (1ULL << 63) | RV_IRQ_MTI);
	CHECK_EQ(hart.mepc, CODE + 4);
	CHECK_EQ(hart.mstatus & (1 << 3), 0); /* MIE cleared */
	CHECK(hart.mstatus & (1 << 7));       /* MPIE set */
}

static void test_delegated_interrupt_not_taken_in_m(void)
{
	reset();
	hart.mideleg = 1 << RV_IRQ_SSI;
	hart.mie = 1 << RV_IRQ_SSI;
	hart.mip_sw = 1 << RV_IRQ_SSI;
	hart.mstatus |= (1 << 3) | (1 << 1);
	exec1(enc_i(1, 0, 0, 1, 0x13));
	CHECK_EQ(hart.pc, CODE + 4); /* M-mode ignores S-level interrupts */
	enter(RV_PRIV_U, CODE + 0x100);
	rv_hart_step(&hart, 1);
	CHECK_EQ(hart.priv, RV_PRIV_S);
	CHECK_EQ(hart.scause, (1ULL << 63) | RV_IRQ_SSI);
}

/* csrrs mip, SSIP while the PLIC holds SEIP high (an IPI arriving during a disk interrupt) must not
 * latch SEIP into the software-writable bit: once the line drops, SEIP must read 0 again. */
static void test_mip_set_does_not_latch_external_line(void)
{
	reset();
	rv_hart_set_irq(&hart, RV_IRQ_SEI, true);
	hart.x[5] = 1 << RV_IRQ_SSI;
	exec1(CSRRS(6, 0x344, 5));
	CHECK(hart.x[6] & (1 << RV_IRQ_SEI)); /* the read shows the line */
	rv_hart_set_irq(&hart, RV_IRQ_SEI, false);
	exec1(CSRRS(7, 0x344, 0));
	CHECK_EQ(hart.x[7] & ((1 << RV_IRQ_SEI) | (1 << RV_IRQ_SSI)), 1 << RV_IRQ_SSI);
	/* csrrc keeps the other software bits */
	hart.x[5] = 1 << RV_IRQ_SSI;
	rv_hart_set_irq(&hart, RV_IRQ_SEI, true);
	exec1(enc_i(0x344, 5, 3, 0, 0x73)); /* csrrc x0, mip, x5 */
	rv_hart_set_irq(&hart, RV_IRQ_SEI, false);
	exec1(CSRRS(7, 0x344, 0));
	CHECK_EQ(hart.x[7] & ((1 << RV_IRQ_SEI) | (1 << RV_IRQ_SSI)), 0);
}

static void test_wfi_illegal_in_user(void)
{
	reset();
	enter(RV_PRIV_U, CODE + 0x100);
	exec1(WFI);
	CHECK_EQ(hart.priv, RV_PRIV_M);
	CHECK_EQ(hart.mcause, RV_EXC_ILLEGAL);
}

static void test_misaligned_amo(void)
{
	reset();
	hart.x[1] = RAM_BASE + 0x10004;
	exec1(AMOADD_D(3, 1, 2));
	CHECK_EQ(hart.mcause, RV_EXC_STORE_MISALIGNED);
	CHECK_EQ(hart.mtval, RAM_BASE + 0x10004);
}

static void test_sv39_walk(void)
{
	reset();
	map_sv39(PTE_V | PTE_R | PTE_W);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 0x1122334455667788ULL);
	CHECK(get64(L0) & PTE_A);
	CHECK_EQ(get64(L0) & PTE_D, 0);
	hart.x[7] = 42;
	CHECK_EQ(mprv_access(SD(7, 6, 16), 0x40000000ULL, RV_PRIV_S), -1);
	CHECK(get64(L0) & PTE_D);
	CHECK_EQ(get64(DATA + 16), 42);
	uint64_t pa = 0;
	CHECK(rv_hart_debug_translate(&hart, 0x40000123ULL, &pa));
	CHECK_EQ(pa, DATA + 0x123);
}

static void test_sv39_permission_faults(void)
{
	reset();
	map_sv39(PTE_V | PTE_R); /* read-only */
	CHECK_EQ(mprv_access(SD(7, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_STORE_PAGE);
	CHECK_EQ(hart.mtval, 0x40000000ULL);
	/* Unmapped neighbour page. */
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40001000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	/* Non-canonical address (bit 38 set, upper bits clear). */
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x4000000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	/* U page from S: only with SUM. */
	reset();
	map_sv39(PTE_V | PTE_R | PTE_U);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	hart.mstatus |= 1ULL << 18; /* SUM */
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	/* S page from U: never. */
	reset();
	map_sv39(PTE_V | PTE_R);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_U), RV_EXC_LOAD_PAGE);
	/* Execute-only page: readable only with MXR. */
	reset();
	map_sv39(PTE_V | PTE_X);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
	hart.mstatus |= 1ULL << 19; /* MXR */
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), -1);
	/* W without R is reserved. */
	reset();
	map_sv39(PTE_V | PTE_W);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40000000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
}

static void test_superpages(void)
{
	/* A 2 MiB megapage at L1, aligned: VA 0x40200000 -> DATA (0x80200000). */
	reset();
	put64(ROOT + 1 * 8, pte(L1, PTE_V));
	put64(L1 + 1 * 8, pte(DATA, PTE_V | PTE_R | PTE_W));
	put64(DATA + 0x1238, 77);
	hart.satp = 8ULL << 60 | (ROOT >> 12);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40201238ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 77);
	/* Misaligned megapage (PPN low bits set) faults. */
	put64(L1 + 1 * 8, pte(DATA + 0x1000, PTE_V | PTE_R | PTE_W));
	rv_hart_reset(&hart, CODE);
	hart.mtvec = MTVEC;
	hart.satp = 8ULL << 60 | (ROOT >> 12);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40201238ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
}

/* sfence.vma of one address drops the translation of the page table entry that maps it: for a
 * megapage, every 4 KiB page of it the TLB holds, not only the page of that address (Linux flushes
 * a 2 MiB range, when it moves or unmaps a huge page, with one sfence.vma of its first address). */
static void test_superpage_sfence_page(void)
{
	const uint64_t moved = RAM_BASE; /* another 2 MiB-aligned frame */
	reset();
	put64(ROOT + 1 * 8, pte(L1, PTE_V));
	put64(L1 + 1 * 8, pte(DATA, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	put64(DATA + 0x1238, 77);
	put64(DATA + 0x5000, 55);
	put64(moved + 0x5000, 66);
	hart.satp = 8ULL << 60 | (ROOT >> 12);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40201238ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 77);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40205000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 55);
	/* The megapage moves; sfence.vma a0 with a0 in another of its 4 KiB pages. */
	put64(L1 + 1 * 8, pte(moved, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	hart.pc = CODE;
	hart.x[10] = 0x40201000ULL;
	exec1(SFENCE_VMA(10u, 0u));
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40205000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 66);
	/* Moved back and flushed the same way: the old frame's value again. */
	put64(L1 + 1 * 8, pte(DATA, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	hart.pc = CODE;
	exec1(SFENCE_VMA(10u, 0u));
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40205000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 55);
	/* A gigapage (VA 0x40000000 -> RAM_BASE) unmapped, then sfence.vma of another of its addresses:
	 * a load from the page the TLB held faults. */
	reset();
	put64(ROOT + 1 * 8, pte(RAM_BASE, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	put64(DATA + 0x5000, 55);
	hart.satp = 8ULL << 60 | (ROOT >> 12);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40205000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 55);
	put64(ROOT + 1 * 8, 0);
	hart.pc = CODE;
	hart.x[10] = 0x40001000ULL;
	exec1(SFENCE_VMA(10u, 0u));
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40205000ULL, RV_PRIV_S), RV_EXC_LOAD_PAGE);
}

/* A megapage's 2 MiB entry (mmu.c's mega_fill) serves its other 4 KiB pages without a walk, but
 * only for the access it was filled by (a read entry never lets a store through), and it goes with
 * the address space: a new ASID walks again for a non-global megapage. */
static void test_megapage_entries(void)
{
	const uint64_t root2 = RAM_BASE + 0x110000, l1b = RAM_BASE + 0x111000, moved = RAM_BASE;
	reset();
	put64(ROOT + 1 * 8, pte(L1, PTE_V));
	put64(L1 + 1 * 8, pte(DATA, PTE_V | PTE_R | PTE_A)); /* read-only */
	put64(root2 + 1 * 8, pte(l1b, PTE_V));
	put64(l1b + 1 * 8, pte(moved, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	put64(DATA + 0x1000, 11);
	put64(DATA + 0x7000, 77);
	put64(moved + 0x9000, 99);
	hart.pc = CODE;
	hart.x[1] = 8ULL << 60 | 1ULL << 44 | (ROOT >> 12);
	exec1(CSRRW(0, 0x180, 1));
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40201000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 11);
	uint64_t walks = hart.tlb_counts.data_misses;
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40207000ULL, RV_PRIV_S), -1); /* another 4 KiB page of it */
	CHECK_EQ(hart.x[5], 77);
	CHECK_EQ(hart.tlb_counts.data_misses, walks); /* from the 2 MiB entry */
	hart.x[7] = 5;
	CHECK_EQ(mprv_access(SD(7, 6, 0), 0x40209000ULL, RV_PRIV_S), RV_EXC_STORE_PAGE);
	CHECK_EQ(get64(DATA + 0x9000), 0);
	/* Another address space maps the megapage elsewhere, writable: its own walk, its own frame. */
	hart.pc = CODE;
	hart.x[1] = 8ULL << 60 | 2ULL << 44 | (root2 >> 12);
	exec1(CSRRW(0, 0x180, 1));
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x40209000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 99);
	CHECK_EQ(mprv_access(SD(7, 6, 0), 0x4020a000ULL, RV_PRIV_S), -1);
	CHECK_EQ(get64(moved + 0xa000), 5);
	CHECK_EQ(get64(DATA + 0xa000), 0);
}

static void test_sv48(void)
{
	reset();
	/* VA 0x0000_8000_4000_0000: vpn3 = 1, vpn2 = 1, vpn1 = 0, vpn0 = 0. */
	uint64_t l2 = RAM_BASE + 0x103000;
	put64(ROOT + 1 * 8, pte(l2, PTE_V));
	put64(l2 + 1 * 8, pte(L1, PTE_V));
	put64(L1 + 0 * 8, pte(L0, PTE_V));
	put64(L0 + 0 * 8, pte(DATA, PTE_V | PTE_R));
	put64(DATA, 99);
	hart.satp = 9ULL << 60 | (ROOT >> 12);
	CHECK_EQ(mprv_access(LD(5, 6, 0), 0x0000008040000000ULL, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 99);
	/* Sv57 is not offered: writing mode 10 leaves satp alone. */
	uint64_t before = hart.satp;
	hart.pc = CODE;
	hart.x[1] = 10ULL << 60;
	exec1(CSRRW(0, 0x180, 1));
	CHECK_EQ(hart.satp, before);
}

/* satp keeps 16 ASID bits; a new address space (ASID or root) drops the TLB's non-global
 * mappings and keeps the global ones; sfence.vma of one ASID keeps global ones, of all drops all. */
static void test_asid_flushes(void)
{
	const uint64_t root2 = RAM_BASE + 0x110000, l1b = RAM_BASE + 0x111000, l0b = RAM_BASE + 0x112000;
	const uint64_t va_local = 0x40000000ULL, va_global = 0x40001000ULL;
	const uint64_t PTE_G = 32;
	reset();
	/* Address space 1: va_local -> DATA, va_global -> DATA + 0x1000 (global). */
	put64(ROOT + 1 * 8, pte(L1, PTE_V));
	put64(L1 + 0 * 8, pte(L0, PTE_V));
	put64(L0 + 0 * 8, pte(DATA, PTE_V | PTE_R | PTE_A));
	put64(L0 + 1 * 8, pte(DATA + 0x1000, PTE_V | PTE_R | PTE_A | PTE_G));
	/* Address space 2 maps both elsewhere (a guest breaking the global promise, to see it kept). */
	put64(root2 + 1 * 8, pte(l1b, PTE_V));
	put64(l1b + 0 * 8, pte(l0b, PTE_V));
	put64(l0b + 0 * 8, pte(DATA + 0x2000, PTE_V | PTE_R | PTE_A));
	put64(l0b + 1 * 8, pte(DATA + 0x3000, PTE_V | PTE_R | PTE_A));
	for (unsigned i = 0; i < 4; i++) put64(DATA + 0x1000 * i, 100 + i);

	hart.pc = CODE;
	hart.x[1] = 8ULL << 60 | 0xffffULL << 44 | (ROOT >> 12);
	exec1(CSRRW(0, 0x180, 1));
	CHECK_EQ(hart.satp, 8ULL << 60 | 0xffffULL << 44 | (ROOT >> 12)); /* all 16 ASID bits */
	CHECK_EQ(mprv_access(LD(5, 6, 0), va_local, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 100);
	CHECK_EQ(mprv_access(LD(5, 6, 0), va_global, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 101);

	hart.pc = CODE;
	hart.x[1] = 8ULL << 60 | 2ULL << 44 | (root2 >> 12);
	exec1(CSRRW(0, 0x180, 1));
	CHECK_EQ(mprv_access(LD(5, 6, 0), va_local, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 102); /* walked again */
	CHECK_EQ(mprv_access(LD(5, 6, 0), va_global, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 101); /* kept */

	/* sfence.vma x0, a0 (one ASID): the global entry stays. */
	hart.pc = CODE;
	hart.x[10] = 2;
	exec1(SFENCE_VMA(0u, 10u));
	CHECK_EQ(mprv_access(LD(5, 6, 0), va_global, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 101);
	/* sfence.vma x0, x0: everything goes. */
	hart.pc = CODE;
	exec1(SFENCE_VMA(0u, 0u));
	CHECK_EQ(mprv_access(LD(5, 6, 0), va_global, RV_PRIV_S), -1);
	CHECK_EQ(hart.x[5], 103);
}

TEST_MAIN(setup, test_division_edge_cases, test_x0_is_zero, test_illegal_instruction_trap,
          test_ecall_delegation, test_sret_restores, test_csr_access_rules, test_timer_interrupt,
          test_delegated_interrupt_not_taken_in_m, test_mip_set_does_not_latch_external_line,
          test_wfi_illegal_in_user, test_misaligned_amo, test_sv39_walk, test_sv39_permission_faults,
          test_superpages, test_superpage_sfence_page, test_megapage_entries, test_sv48, test_asid_flushes)
