/* Linux user-mode entry: the kernel set up sp and enabled FP. */
	.globl _start
_start:
	call main
	call plat_exit
