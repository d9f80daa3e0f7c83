/*
 * vmconfig.h — the one description of a VM: boot images, memory, harts,
 * devices, disks and network interfaces. Every way of making a VM produces
 * it: `cloison run` flags (vm_config_add_disk/_nic take the --disk and --net
 * specs), `cloison run --config FILE.json`, cloisond's definitions (which
 * hold one and hand the VM process a file) and the "config" section of
 * snapshots and migration streams. JSON in and out; input is untrusted and
 * range-checked. vm_config_to_machine turns it into the board's
 * configuration where the VM runs.
 */
#ifndef CLOISON_VMCONFIG_H
#define CLOISON_VMCONFIG_H

#include "machine/machine.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define VM_NETSPEC_MAX 1024
#define VM_DEFAULT_FIRMWARE "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define VM_DEFAULT_APPEND "console=ttyS0 quiet"
#define VM_DEFAULT_MEM (256ULL << 20)
#define VM_MIN_MEM (16ULL << 20)
#define VM_MAX_MEM (1ULL << 40)

struct vm_disk {
	char path[PATH_MAX];
	char format[16]; /* "" : by name */
	bool readonly, no_backing, unsafe_cache;
	uint64_t bps, iops;
};

struct vm_nic {
	char spec[VM_NETSPEC_MAX]; /* the --net string, resolved again where the VM runs */
	uint8_t mac[6];            /* the guest's address: kept across save, restore and migration */
	bool mac_set;
};

struct vm_share {
	char path[PATH_MAX]; /* an absolute host directory */
	char tag[32];
	bool readonly;
};

struct vm_config {
	/* What a (re)boot loads. Empty firmware: the kernel runs bare-metal. Empty kernel: the default
	 * guest of the user the VM runs as (vm_config_resolve_guest). */
	char kernel[PATH_MAX], initrd[PATH_MAX], firmware[PATH_MAX], append[4096];
	uint64_t mem;
	unsigned cpus;
	bool jit, rng, vconsole, input_hvc0;
	uint32_t display_width, display_height; /* a virtio GPU with this mode; 0 x 0: no display */
	bool
	    balloon; /* a virtio memory balloon (default on; off in a configuration file that does not say) */
	bool free_page_reporting; /* the balloon offers free page reporting (default on) */
	uint32_t vsock_cid;       /* a virtio socket device (the guest agent's way in) with this CID; 0: none
	                             (default 3; none in a configuration file that does not say) */
	char accel[16];           /* what runs the harts: "emulator" or "kvm" (machine/accel.h) */
	char cpu_ext[256]; /* ISA extensions switched from the defaults: a --cpu-ext spec (cpu/riscv/isa.h) */
	struct vm_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct vm_nic nics[MACHINE_MAX_NICS];
	unsigned nnics;
	struct vm_share shares[MACHINE_MAX_SHARES];
	unsigned nshares;
	/* How this process runs it (never in the JSON): disks unlocked, guarded by a lease instead. */
	bool disks_by_lease;
};

/* "on" (1024x768), "off" or "WIDTHxHEIGHT" into width and height (0 x 0 for off). */
bool vm_display_parse(const char *text, uint32_t *width, uint32_t *height, char *err, size_t errlen);

/* 256 MiB, one hart, Debian's OpenSBI, the default command line, translator, entropy device and
 * virtio console on; no kernel (the default guest), no disks, no NICs. */
void vm_config_defaults(struct vm_config *c);

/* Adds a disk from a `--disk PATH[,format=raw|qcow2][,readonly=on|off][,backing=on|off]
 * [,cache=writeback|unsafe][,bps=N][,iops=N]` spec. False with err set (a malformed spec, too many). */
bool vm_config_add_disk(struct vm_config *c, const char *spec, char *err, size_t errlen);
/* The spec of a disk, in the form vm_config_add_disk reads (only options that differ from the default). */
void vm_disk_spec(const struct vm_disk *d, char *buf, size_t len);
/* Adds a network interface from a `--net` spec; only its form is checked here (a network it names may
 * be defined later): vm_config_to_machine resolves it. False with err set. */
bool vm_config_add_nic(struct vm_config *c, const char *spec, char *err, size_t errlen);

/* Adds a shared folder from a `--share /HOST/DIR:TAG[,ro]` spec (the path absolute). False with err set. */
bool vm_config_add_share(struct vm_config *c, const char *spec, char *err, size_t errlen);

/* Range checks shared by every source: memory (16 MiB to 1 TiB, 4 KiB multiples), harts. */
bool vm_config_check(const struct vm_config *c, char *err, size_t errlen);
/* An empty kernel becomes the default guest's Image (and, if no initrd is set, its initrd.gz) under
 * $CLOISON_CACHE/guest or ~/.cache/cloison/guest. False with err set when it is missing. */
bool vm_config_resolve_guest(struct vm_config *c, char *err, size_t errlen);

/* A malloc'd JSON document, or NULL when out of memory. */
char *vm_config_to_json(const struct vm_config *c);
/* Parses and range-checks a document: the one vm_config_to_json writes, or a hand-written one where
 * members left out keep vm_config_defaults' values. Unknown members are refused. False with err set. */
bool vm_config_from_json(const char *json, size_t len, struct vm_config *c, char *err, size_t errlen);
/* Reads a file of vm_config_from_json's form. */
bool vm_config_load_file(const char *path, struct vm_config *c, char *err, size_t errlen);
/* Fills a board configuration (network specs are resolved here). False with err set. */
bool vm_config_to_machine(const struct vm_config *c, struct machine_config *mc, char *err, size_t errlen);

#endif
