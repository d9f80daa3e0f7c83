/*
 * vmconfig.h — what a VM is made of, in a form that survives the process:
 * memory, harts, devices, disks and network interfaces as JSON (inside
 * snapshots and migration streams), and its translation into a board
 * configuration.
 */
#ifndef CLOISON_VMCONFIG_H
#define CLOISON_VMCONFIG_H

#include "machine/machine.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define VM_NETSPEC_MAX 1024

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

struct vm_config {
	/* What a (re)boot loads; empty firmware: the kernel runs bare-metal. */
	char kernel[PATH_MAX], initrd[PATH_MAX], firmware[PATH_MAX], append[4096];
	uint64_t mem;
	unsigned cpus;
	bool jit, rng, vconsole, input_hvc0;
	struct vm_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct vm_nic nics[MACHINE_MAX_NICS];
	unsigned nnics;
};

/* A malloc'd JSON document, or NULL when out of memory. */
char *vm_config_to_json(const struct vm_config *c);
/* Parses and range-checks a document from vm_config_to_json. False with err set. */
bool vm_config_from_json(const char *json, size_t len, struct vm_config *c, char *err, size_t errlen);
/* Fills a board configuration (network specs are resolved here). False with err set. */
bool vm_config_to_machine(const struct vm_config *c, struct machine_config *mc, char *err, size_t errlen);

#endif
