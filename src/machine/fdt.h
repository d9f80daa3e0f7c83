/*
 * fdt.h — generates the flattened device tree that describes the board.
 */
#ifndef CLOISON_FDT_H
#define CLOISON_FDT_H

#include "machine.h"

struct fdt_params {
	const char *bootargs;  /* may be NULL */
	uint64_t initrd_start; /* 0: no initrd */
	uint64_t initrd_end;
};

/* Writes the DTB into buf (of size len, the rest left as free space for the
 * firmware to grow it). Returns 0, or -1 with errmsg set. */
int fdt_build(const struct machine *m, const struct fdt_params *p, void *buf, size_t len, char *errmsg,
              size_t errlen);

#endif
