/*
 * kvmsmoke_guest.S — the code kvmsmoke.c runs in a KVM virtual machine (VS-mode, loaded at guest
 * physical 0x80000000). It reports through MMIO stores to 0x10000000 + 8*i, which KVM hands to the
 * VMM as exits: an MMIO store and load, a trap taken inside the guest, Sv39 paging under the
 * hypervisor's G-stage (an alias of a page, a page fault handled by the guest), a loop of a0
 * iterations (set by the VMM) that reports its progress every 2^22, an SBI call KVM answers, and
 * an SBI system reset that ends the run.
 */
	.option norvc
	.section .rodata
	.balign 4
	.globl kvmsmoke_guest_start, kvmsmoke_guest_end
kvmsmoke_guest_start:
	mv	s2, a0			/* the loop's length */
	li	s0, 0x10000000		/* the report area (MMIO: no memory slot) */
	/* 1. an MMIO store and an MMIO load */
	li	t1, 42
	sw	t1, 0(s0)
	ld	t2, 8(s0)		/* the VMM answers 0x1122334455667788 */
	addi	t2, t2, 1
	sd	t2, 16(s0)
	/* 2. a trap inside the guest: an illegal instruction, its cause seen by the guest's handler */
	lla	t3, handler
	csrw	stvec, t3
	li	s1, -1
	.word	0
	sd	s1, 24(s0)		/* 2: illegal instruction */
	/* 3. Sv39: gigapages 0 (MMIO) and 2 (RAM) identity-mapped, 1 an alias of 2, 3 unmapped */
	lla	t0, kvmsmoke_guest_start
	li	t1, 0x100000
	add	a0, t0, t1		/* the root table, 1 MiB into RAM */
	li	t1, 0xcf		/* V R W X A D */
	sd	t1, 0(a0)		/* VA 0: PA 0 */
	li	t2, 0x80000000 >> 2	/* PPN of 0x80000000, at bit 10 */
	or	t2, t2, t1
	sd	t2, 8(a0)		/* VA 0x40000000: PA 0x80000000 */
	sd	t2, 16(a0)		/* VA 0x80000000: PA 0x80000000 */
	sd	zero, 24(a0)		/* VA 0xc0000000: nothing */
	srli	t1, a0, 12
	li	t2, 8 << 60
	or	t1, t1, t2
	csrw	satp, t1
	sfence.vma
	li	t1, 0x40000000 + 0x180000
	li	t2, 0x5a5a
	sd	t2, 0(t1)		/* written through the alias... */
	li	t1, 0x80000000 + 0x180000
	ld	t3, 0(t1)		/* ...read through the identity mapping */
	sd	t3, 32(s0)
	li	s1, -1
	li	t1, 0xc0000000
	ld	t1, 0(t1)		/* a load page fault the guest handles */
	sd	s1, 40(s0)		/* 13 */
	/* 4. a loop: the sum of 1..s2, with progress reports */
	li	t0, 0
	li	t1, 1
1:	add	t0, t0, t1
	slli	t3, t1, 64 - 22
	bnez	t3, 3f
	sd	t1, 64(s0)		/* progress */
3:	addi	t1, t1, 1
	bleu	t1, s2, 1b
	sd	t0, 48(s0)
	/* 5. SBI base extension, get_spec_version: answered by KVM */
	li	a7, 0x10
	li	a6, 0
	ecall
	sd	a1, 56(s0)
	/* 6. SBI system reset: shutdown */
	li	a7, 0x53525354
	li	a6, 0
	li	a0, 0
	li	a1, 0
	ecall
2:	j	2b

	.balign 4
handler:				/* records scause in s1 and skips the instruction */
	csrr	s1, scause
	csrr	t4, sepc
	addi	t4, t4, 4
	csrw	sepc, t4
	sret
kvmsmoke_guest_end:
