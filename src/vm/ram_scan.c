/*
 * ram_scan.c — zero-page tests and /proc/self/pagemap lookups (see ram_scan.h).
 */
#include "ram_scan.h"

#include <fcntl.h>
#include <unistd.h>

bool ram_page_is_zero(const uint8_t *page)
{
	const uint64_t *w = (const uint64_t *)page;
	for (unsigned i = 0; i < RAM_PAGE / 8; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3]) return false;
	return true;
}

void ram_skip_untouched(const uint8_t *ram, uint64_t npages, uint64_t *bits)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return; /* then every page is read */
	static __thread uint64_t entries[4096];
	uint64_t first = (uint64_t)(uintptr_t)ram / RAM_PAGE;
	for (uint64_t p = 0; p < npages;) {
		uint64_t n = npages - p < 4096 ? npages - p : 4096;
		ssize_t got = pread(fd, entries, n * 8, (off_t)((first + p) * 8));
		if (got != (ssize_t)(n * 8)) break;
		for (uint64_t i = 0; i < n; i++)
			if (!(entries[i] >> 62)) /* bit 63: present, bit 62: swapped */
				bits[(p + i) / 64] &= ~(1ULL << ((p + i) % 64));
		p += n;
	}
	close(fd);
}
