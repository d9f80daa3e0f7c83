/*
 * jit_none.c — the translator on hosts it does not target (it emits x86-64
 * code): there is none, rv_jit_available() says so, rv_jit_init() refuses and
 * harts run the interpreter. The other entry points are never reached then.
 */
#include "jit.h"

#include <stdlib.h>

bool rv_jit_available(void)
{
	return false;
}

bool rv_jit_init(struct rv_hart *h)
{
	(void)h;
	return false;
}

void rv_jit_free(struct rv_hart *h)
{
	(void)h;
}

uint32_t rv_jit_compile(struct rv_hart *h, const struct rv_op *head, const uint8_t *host, uint64_t pc)
{
	(void)h, (void)head, (void)host, (void)pc;
	return RV_JIT_NEVER;
}

void *rv_jit_lookup(struct rv_hart *h, uint32_t *id, const struct rv_op *head, uint64_t pc)
{
	(void)h, (void)id, (void)head, (void)pc;
	return NULL;
}

void rv_jit_new_epoch(struct rv_hart *h)
{
	(void)h;
}

bool rv_jit_chain(void *site, void *code)
{
	(void)site, (void)code;
	abort(); /* only translated code has chain sites */
}

void rv_jit_settle_hints(struct rv_hart *h)
{
	(void)h;
}
