/* Bare-metal entry for the engine tests, every hart in M-mode: a stack per hart
 * (16 KiB each), traps end the run with code 99, then main(hartid). */
	.section .text._start, "ax"
	.globl _start
_start:
	csrr a0, mhartid
	la sp, stacks
	addi t0, a0, 1
	slli t0, t0, 14
	add sp, sp, t0
	li t0, (1 << 13)          /* mstatus.FS = Initial */
	csrs mstatus, t0
	la t0, trap
	csrw mtvec, t0
	call main
	call plat_exit
	.text
trap:
	li a0, 99
	call plat_exit
	.bss
	.align 12
stacks:
	.space 4 * 16384
