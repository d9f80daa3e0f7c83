/*
 * jit.h — the translator's interface to the interpreter.
 *
 * rv_op.jit counts visits of a jump target up to RV_JIT_HOT; then it holds
 * RV_JIT_NEVER (not translatable) or a block id >= RV_JIT_FIRST_BLOCK.
 */
#ifndef CLOISON_RV_JIT_H
#define CLOISON_RV_JIT_H

#include "hart.h"
#include "ops.h"

#define RV_JIT_HOT 16 /* docs/board.md, "Translator": 8 made python 1.14x slower */
#define RV_JIT_NEVER 0xffffffffu
#define RV_JIT_FIRST_BLOCK 16u
_Static_assert(RV_JIT_HOT <= RV_JIT_FIRST_BLOCK, "a count past RV_JIT_FIRST_BLOCK would read as a block");

/*
 * Translated code: runs its block and any blocks chained to it, charging
 * h->budget_left, and returns the next guest pc; or a block's own pc | 1 if
 * that block's guest code changed (nothing of it ran).
 */
typedef uint64_t (*rv_jit_fn)(struct rv_hart *h);

/* Where jumps from other blocks enter a block: past its prologue. */
#define RV_JIT_ENTRY_OFFSET 113

/* Whether this host has the translator (it emits x86-64 code; jit_none.c elsewhere). */
bool rv_jit_available(void);
bool rv_jit_init(struct rv_hart *h);
void rv_jit_free(struct rv_hart *h);
/* Translates the run starting at `head` (guest pc, host address of its bits). */
uint32_t rv_jit_compile(struct rv_hart *h, const struct rv_op *head, const uint8_t *host, uint64_t pc);
/* Finds the code of the block for `head` at guest address `pc`: block *id, or another block
 * translated for that place (then *id becomes its id). NULL if there is none. */
void *rv_jit_lookup(struct rv_hart *h, uint32_t *id, const struct rv_op *head, uint64_t pc);
/* Whether translated code may run `insn` (expanded) through rv_jit_exec_generic and go on:
 * it neither jumps nor changes privilege, translation or interrupt state. */
bool rv_jit_generic_ok(uint32_t insn);
/* For translated code (exec.c): runs one instruction the translator leaves to the interpreter.
 * Returns 0 to go on with the block; else the block ends at h->pc, and h->jit_exit says why. */
uint64_t rv_jit_exec_generic(struct rv_hart *h, uint32_t insn, uint32_t raw, uint64_t pc, unsigned len);
/* A fence.i, or RAM holding other code: the fence.i count goes up and every block compares its
 * instructions with guest memory again when next entered. */
void rv_jit_new_epoch(struct rv_hart *h);
/* Makes the static exit at `site` jump straight into the block at `code`; false if it already did
 * (an exit taken for want of budget, not of a chain), with no code written. */
bool rv_jit_chain(void *site, void *code);
/* Between blocks, now and then: settles the page hints of loads that ran enough (jit_x86_mem.c). */
void rv_jit_settle_hints(struct rv_hart *h);

#endif
