/* Bare-metal entry in M-mode: stack, FP on, then main. Traps end the run. */
	.globl _start
_start:
	la sp, stack_top
	li t0, (1 << 13) | (1 << 9) /* mstatus.FS and VS = Initial (VS: ignored without V) */
	csrs mstatus, t0
	la t0, trap
	csrw mtvec, t0
	call main
	call plat_exit
trap:
	li a0, 99
	call plat_exit
	.bss
	.align 4
	.space 65536
stack_top:
