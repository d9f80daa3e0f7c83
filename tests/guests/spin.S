/* A bare-metal guest for cloison's tests (--firmware none): hart 0 counts
 * LOOPS iterations of a two-instruction loop (forever when LOOPS is 0), then
 * sleeps in WFI; other harts sleep at once. The instructions it retires are
 * thus known: 2 per iteration plus a handful. */
	.globl _start
_start:
	csrr a0, mhartid
	bnez a0, park
	li t0, LOOPS
	beqz t0, forever
count:
	addi t0, t0, -1
	bnez t0, count
park:
	wfi
	j park
forever:
	addi t1, t1, 1
	j forever
