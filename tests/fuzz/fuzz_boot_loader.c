/*
 * fuzz_boot_loader.c — libFuzzer harness for the boot loader, which parses
 * untrusted files: the RISC-V Image header and sizes (with firmware and
 * initrd), and ELF program headers (bare metal).
 *
 * Input: byte 0 selects the path (even: Image + firmware + initrd, odd: bare
 * ELF/raw); byte 1 splits the rest into kernel and initrd. Every input must
 * either load or fail with a message; sanitizers catch everything else.
 */
#define _GNU_SOURCE /* memfd_create */
#include "cpu/riscv/hart.h"
#include "machine/boot.h"
#include "machine/machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct machine *m;
static char firmware_path[64];

static int memfd_with(const uint8_t *data, size_t len, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0) abort();
	if (len && write(fd, data, len) != (ssize_t)len) abort();
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

static void setup(void)
{
	rv_init_tables();
	char err[256];
	struct machine_config cfg = {.ram_size = 16 << 20, .nharts = 1};
	m = machine_create(&cfg, err, sizeof(err));
	if (!m) abort();
	static const uint8_t fw[64] = {0x6f}; /* jal x0, 0 */
	memfd_with(fw, sizeof(fw), firmware_path, sizeof(firmware_path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!m) setup();
	if (size < 2) return 0;
	bool bare = data[0] & 1;
	size_t split = 2 + (size - 2) * data[1] / 255;
	char kpath[64], ipath[64], err[512];
	int kfd = memfd_with(data + 2, split - 2, kpath, sizeof(kpath));
	int ifd = memfd_with(data + split, size - split, ipath, sizeof(ipath));
	struct boot_config cfg = {
	    .firmware = bare ? NULL : firmware_path,
	    .kernel = kpath,
	    .initrd = bare ? NULL : ipath,
	    .cmdline = "console=ttyS0",
	};
	err[0] = 0;
	if (boot_load(m, &cfg, err, sizeof(err)) != 0 && !err[0]) abort(); /* failures must say why */
	close(kfd);
	close(ifd);
	return 0;
}
