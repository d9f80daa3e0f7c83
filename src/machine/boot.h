/*
 * boot.h — puts firmware, kernel, initrd and device tree into guest RAM and
 * points the harts at the entry, as a board's boot ROM would.
 */
#ifndef CLOISON_BOOT_H
#define CLOISON_BOOT_H

#include "machine.h"

struct boot_config {
	const char *firmware; /* path to an fw_dynamic-style binary, or NULL: bare metal */
	const char *kernel;   /* RISC-V Image or ELF: S-mode payload, or bare metal */
	const char *initrd;   /* may be NULL */
	const char *cmdline;  /* may be NULL */
};

/* Loads everything and resets the harts. Returns 0, or -1 with errmsg set. */
int boot_load(struct machine *m, const struct boot_config *cfg, char *errmsg, size_t errlen);

/* Exposed for tests: the RISC-V Image header check. */
struct riscv_image_info {
	uint64_t text_offset;
	uint64_t image_size;
};
bool riscv_image_parse(const uint8_t *data, size_t len, struct riscv_image_info *info);

#endif
