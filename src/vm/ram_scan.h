/*
 * ram_scan.h — finding the guest RAM pages worth copying (snapshots and
 * migration): zero pages are skipped, and pages of anonymous RAM the
 * process never touched are recognized without reading (and so faulting in)
 * them.
 */
#ifndef CLOISON_RAM_SCAN_H
#define CLOISON_RAM_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#define RAM_PAGE 4096ULL

bool ram_page_is_zero(const uint8_t *page);
/* Clears the bits (one per page of `ram`) of pages neither present nor swapped: never touched, they read
 * as zero. Only for anonymous memory: untouched pages of a file mapping hold the file's data. */
void ram_skip_untouched(const uint8_t *ram, uint64_t npages, uint64_t *bits);

#endif
