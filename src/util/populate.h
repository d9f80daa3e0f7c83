/*
 * populate.h — backs a range of this process's anonymous memory in one call
 * (MADV_POPULATE_WRITE) instead of a page fault per page: a fault costs about
 * 10 us where cloison itself runs virtualized, a page populated this way
 * about 0.65 us (docs/board.md). For memory about to be touched anyway (a
 * table cleared before use, the page of slots the interpreter is about to
 * read and decode into). Best effort: where the kernel lacks the call
 * (before Linux 5.14) the pages fault in as before.
 */
#ifndef CLOISON_UTIL_POPULATE_H
#define CLOISON_UTIL_POPULATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static inline void mem_populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	const uintptr_t start = (uintptr_t)p & ~(page - 1), end = ((uintptr_t)p + n + page - 1) & ~(page - 1);
	if (n) (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
	(void)p, (void)n;
#endif
}

#endif
