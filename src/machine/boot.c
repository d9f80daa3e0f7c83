/*
 * boot.c — the boot loader of the board.
 *
 * With firmware (OpenSBI fw_dynamic): firmware at the start of RAM, kernel
 * Image at the next 2 MiB boundary, the device tree and a fw_dynamic_info
 * record in the top 2 MiB of RAM, the initrd just below them. Every hart
 * enters the firmware with a0 = hartid, a1 = DTB, a2 = fw_dynamic_info.
 * Under an accelerator that implements SBI itself (KVM), the same layout
 * without the firmware: harts enter the kernel with a0 = hartid, a1 = DTB.
 * Without firmware: an ELF is loaded by its program headers and entered in
 * M-mode at its entry point (a raw binary is loaded at the start of RAM).
 *
 * All input files are untrusted: sizes and offsets are checked against the
 * file and against RAM before anything is copied.
 */
#include "boot.h"

#include "fdt.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_DYNAMIC_MAGIC 0x4942534fULL /* "OSBI" */
#define FW_DYNAMIC_VERSION 2
#define FW_NEXT_MODE_S 1
#define KERNEL_ALIGN (2ULL << 20)
#define TOP_RESERVED (2ULL << 20) /* DTB + fw_dynamic_info */
#define DTB_MAX (1ULL << 20)

/* Opens an input file: a non-empty regular file; gives its length. */
static int open_input(const char *what, const char *path, size_t *len, char *errmsg, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errmsg, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(errmsg, errlen, "%s '%s' is not a regular file", what, path);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		snprintf(errmsg, errlen, "%s '%s' is empty", what, path);
		return -1;
	}
	*len = (size_t)st.st_size;
	return fd;
}

/* Reads len bytes at off into dst (guest RAM, straight from the page cache: no copy in between). */
static bool read_at(int fd, uint64_t off, void *dst, size_t len, const char *what, const char *path,
                    char *errmsg, size_t errlen)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (uint8_t *)dst + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) {
			snprintf(errmsg, errlen, "cannot read %s '%s'%s", what, path,
			         r < 0 ? "" : " (it shrank)");
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

static uint8_t *read_file(const char *what, const char *path, size_t *len, char *errmsg, size_t errlen)
{
	size_t n;
	int fd = open_input(what, path, &n, errmsg, errlen);
	if (fd < 0) return NULL;
	uint8_t *buf = malloc(n);
	if (!buf) {
		close(fd);
		snprintf(errmsg, errlen, "%s '%s' is too large to load", what, path);
		return NULL;
	}
	if (!read_at(fd, 0, buf, n, what, path, errmsg, errlen)) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = n;
	return buf;
}

bool riscv_image_parse(const uint8_t *data, size_t len, struct riscv_image_info *info)
{
	if (len < 64) return false;
	if (memcmp(data + 0x38, "RSC\x05", 4) != 0 && memcmp(data + 0x30, "RISCV\0\0\0", 8) != 0)
		return false;
	uint64_t text_offset, image_size;
	memcpy(&text_offset, data + 0x08, 8);
	memcpy(&image_size, data + 0x10, 8);
	info->text_offset = text_offset;
	info->image_size = image_size < len ? len : image_size;
	return true;
}

static bool fits(const struct machine *m, uint64_t addr, uint64_t size)
{
	return addr >= VIRT_RAM_BASE && size <= m->ram_size && addr - VIRT_RAM_BASE <= m->ram_size - size;
}

static void copy_in(struct machine *m, uint64_t addr, const void *src, size_t len)
{
	memcpy(m->ram + (addr - VIRT_RAM_BASE), src, len);
}

/* Loads a 64-bit little-endian RISC-V ELF and gives its entry point. */
static bool load_elf(struct machine *m, const uint8_t *data, size_t len, const char *path, uint64_t *entry,
                     uint64_t *lo, uint64_t *hi, char *errmsg, size_t errlen)
{
	Elf64_Ehdr eh;
	memcpy(&eh, data, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_RISCV) {
		snprintf(errmsg, errlen, "'%s' is an ELF file but not 64-bit little-endian RISC-V", path);
		return false;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		snprintf(errmsg, errlen, "'%s': malformed ELF program headers", path);
		return false;
	}
	unsigned loaded = 0;
	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			snprintf(errmsg, errlen, "'%s': segment %u lies outside the file", path, i);
			return false;
		}
		if (!fits(m, ph.p_paddr, ph.p_memsz)) {
			snprintf(errmsg, errlen,
			         "'%s': segment %u at 0x%llx (%llu bytes) is outside guest RAM", path, i,
			         (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
			return false;
		}
		copy_in(m, ph.p_paddr, data + ph.p_offset, ph.p_filesz);
		memset(m->ram + (ph.p_paddr - VIRT_RAM_BASE) + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		loaded++;
		if (ph.p_paddr < *lo) *lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > *hi) *hi = ph.p_paddr + ph.p_memsz;
	}
	if (!loaded) {
		snprintf(errmsg, errlen, "'%s' has no loadable segment", path);
		return false;
	}
	*entry = eh.e_entry;
	return true;
}

static bool is_elf(const uint8_t *data, size_t len)
{
	return len >= sizeof(Elf64_Ehdr) && memcmp(data, ELFMAG, SELFMAG) == 0;
}

static int boot_bare(struct machine *m, const struct boot_config *cfg, const uint8_t *k, size_t klen,
                     char *errmsg, size_t errlen)
{
	uint64_t entry, lo, hi;
	if (is_elf(k, klen)) {
		if (!load_elf(m, k, klen, cfg->kernel, &entry, &lo, &hi, errmsg, errlen)) return -1;
	} else {
		if (klen > m->ram_size) {
			snprintf(errmsg, errlen, "kernel '%s' (%zu bytes) does not fit in guest RAM",
			         cfg->kernel, klen);
			return -1;
		}
		copy_in(m, VIRT_RAM_BASE, k, klen);
		entry = VIRT_RAM_BASE;
	}
	/* A device tree for programs that want one, at the top of RAM. */
	uint64_t dtb =
	    VIRT_RAM_BASE + m->ram_size - (m->ram_size > TOP_RESERVED * 2 ? TOP_RESERVED : 64 * 1024);
	struct fdt_params fp = {.bootargs = cfg->cmdline};
	if (fdt_build(m, &fp, m->ram + (dtb - VIRT_RAM_BASE), 64 * 1024, errmsg, errlen)) return -1;
	machine_reset_harts(m, entry, dtb, 0);
	return 0;
}

/* A Linux Image and an initrd go from the page cache straight into guest RAM (kernel_fd, initrd_fd);
 * an ELF payload, the firmware and a bare program are read whole first. */
int boot_load(struct machine *m, const struct boot_config *cfg, char *errmsg, size_t errlen)
{
	size_t klen = 0, flen = 0, ilen = 0, hlen;
	uint8_t *k = NULL, *fw = NULL, head[4096];
	int rc = -1, kernel_fd = -1, initrd_fd = -1;

	kernel_fd = open_input("kernel", cfg->kernel, &klen, errmsg, errlen);
	if (kernel_fd < 0) goto out;
	hlen = klen < sizeof(head) ? klen : sizeof(head);
	if (!read_at(kernel_fd, 0, head, hlen, "kernel", cfg->kernel, errmsg, errlen)) goto out;
	/* An accelerator with its own SBI (KVM) enters the kernel directly, in S-mode. */
	const bool firmware = cfg->firmware && !m->accel->provides_sbi;
	const bool elf_payload = is_elf(head, hlen);
	if (!cfg->firmware || elf_payload) {
		k = read_file("kernel", cfg->kernel, &klen, errmsg, errlen);
		if (!k) goto out;
	}
	if (!cfg->firmware) {
		rc = boot_bare(m, cfg, k, klen, errmsg, errlen);
		goto out;
	}

	/* The S-mode payload: a Linux Image, or an ELF program (U-Boot's S-mode build, say). */
	struct riscv_image_info img;
	if (!elf_payload && !riscv_image_parse(head, hlen, &img)) {
		snprintf(errmsg, errlen, "'%s' is neither a RISC-V Linux kernel Image nor an ELF program",
		         cfg->kernel);
		goto out;
	}
	if (!elf_payload && img.image_size < klen) img.image_size = klen;
	if (firmware && !(fw = read_file("firmware", cfg->firmware, &flen, errmsg, errlen))) goto out;
	if (flen > KERNEL_ALIGN) {
		snprintf(errmsg, errlen, "firmware '%s' is larger than 2 MiB", cfg->firmware);
		goto out;
	}
	if (cfg->initrd) {
		initrd_fd = open_input("initrd", cfg->initrd, &ilen, errmsg, errlen);
		if (initrd_fd < 0) goto out;
	}

	uint64_t kernel_addr = VIRT_RAM_BASE + KERNEL_ALIGN;
	uint64_t top = VIRT_RAM_BASE + m->ram_size - TOP_RESERVED;
	if (m->ram_size < 2 * TOP_RESERVED + KERNEL_ALIGN) {
		snprintf(errmsg, errlen, "guest memory (%llu MiB) is too small to boot",
		         (unsigned long long)(m->ram_size >> 20));
		goto out;
	}
	uint64_t kernel_end;
	if (elf_payload) {
		uint64_t lo;
		if (!load_elf(m, k, klen, cfg->kernel, &kernel_addr, &lo, &kernel_end, errmsg, errlen))
			goto out;
		if (kernel_end > top || (firmware && lo < VIRT_RAM_BASE + KERNEL_ALIGN)) {
			snprintf(errmsg, errlen, "'%s' overlaps the firmware or the device tree",
			         cfg->kernel);
			goto out;
		}
	} else {
		kernel_end = kernel_addr + img.image_size;
		if (img.image_size > top - kernel_addr) {
			snprintf(errmsg, errlen,
			         "guest memory (%llu MiB) is too small for kernel '%s' (%llu MiB)",
			         (unsigned long long)(m->ram_size >> 20), cfg->kernel,
			         (unsigned long long)(img.image_size >> 20));
			goto out;
		}
		if (!read_at(kernel_fd, 0, m->ram + (kernel_addr - VIRT_RAM_BASE), klen, "kernel",
		             cfg->kernel, errmsg, errlen))
			goto out;
	}
	if (firmware) copy_in(m, VIRT_RAM_BASE, fw, flen);

	struct fdt_params fp = {.bootargs = cfg->cmdline};
	if (initrd_fd >= 0) {
		uint64_t start = (top - ilen) & ~0xfffULL;
		/* Keep a gap after the kernel for its early allocations. */
		if (ilen > top - kernel_end || start < kernel_end + KERNEL_ALIGN) {
			snprintf(errmsg, errlen,
			         "initrd '%s' (%zu bytes) does not fit in guest memory beside the kernel",
			         cfg->initrd, ilen);
			goto out;
		}
		if (!read_at(initrd_fd, 0, m->ram + (start - VIRT_RAM_BASE), ilen, "initrd", cfg->initrd,
		             errmsg, errlen))
			goto out;
		fp.initrd_start = start;
		fp.initrd_end = start + ilen;
	}
	uint64_t dtb = top;
	if (fdt_build(m, &fp, m->ram + (dtb - VIRT_RAM_BASE), DTB_MAX, errmsg, errlen)) goto out;

	if (!firmware) {
		machine_reset_harts(m, kernel_addr, dtb, 0);
		rc = 0;
		goto out;
	}
	uint64_t info_addr = top + DTB_MAX;
	uint64_t info[6] = {FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, kernel_addr, FW_NEXT_MODE_S, 0, ~0ULL};
	copy_in(m, info_addr, info, sizeof(info));
	machine_reset_harts(m, VIRT_RAM_BASE, dtb, info_addr);
	rc = 0;
out:
	if (kernel_fd >= 0) close(kernel_fd);
	if (initrd_fd >= 0) close(initrd_fd);
	free(k);
	free(fw);
	return rc;
}
