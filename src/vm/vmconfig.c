/*
 * vmconfig.c — VM configuration to and from JSON (jansson), and into a board
 * configuration. Input is untrusted (it arrives in snapshot files and
 * migration streams): every field is type- and range-checked.
 */
#include "vmconfig.h"

#include "net/netobj.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define VM_CONFIG_VERSION 1
#define VM_MIN_MEM (16ULL << 20)
#define VM_MAX_MEM (1ULL << 40)

static void mac_string(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

char *vm_config_to_json(const struct vm_config *c)
{
	json_t *disks = json_array(), *nics = json_array();
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		json_array_append_new(disks,
		                      json_pack("{s:s, s:s, s:b, s:b, s:b, s:I, s:I}", "path", d->path,
		                                "format", d->format, "readonly", d->readonly, "no_backing",
		                                d->no_backing, "unsafe_cache", d->unsafe_cache, "bps",
		                                (json_int_t)d->bps, "iops", (json_int_t)d->iops));
	}
	for (unsigned i = 0; i < c->nnics; i++) {
		char mac[18] = "";
		if (c->nics[i].mac_set) mac_string(c->nics[i].mac, mac);
		json_array_append_new(nics, json_pack("{s:s, s:s}", "spec", c->nics[i].spec, "mac", mac));
	}
	json_t *boot = json_pack("{s:s, s:s, s:s, s:s}", "kernel", c->kernel, "initrd", c->initrd, "firmware",
	                         c->firmware, "append", c->append);
	json_t *root = json_pack("{s:i, s:o, s:I, s:i, s:b, s:b, s:b, s:b, s:o, s:o}", "version",
	                         VM_CONFIG_VERSION, "boot", boot, "memory", (json_int_t)c->mem, "cpus",
	                         (int)c->cpus, "jit", c->jit, "rng", c->rng, "virtio_console", c->vconsole,
	                         "console_input_hvc0", c->input_hvc0, "disks", disks, "nics", nics);
	if (!root) return NULL;
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
	return !(mac[0] & 1); /* unicast */
}

static bool copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) return false;
	memcpy(dst, src, n + 1);
	return true;
}

bool vm_config_from_json(const char *text, size_t len, struct vm_config *c, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "VM configuration is not valid JSON: %s", je.text);
		return false;
	}
	memset(c, 0, sizeof(*c));
	int version = 0, cpus = 0, jit = 0, rng = 0, vcon = 0, hvc0 = 0;
	json_int_t mem = 0;
	json_t *disks = NULL, *nics = NULL;
	const char *kernel, *initrd, *firmware, *append;
	bool ok = false;
	if (json_unpack_ex(root, &je, JSON_STRICT,
	                   "{s:i, s:{s:s, s:s, s:s, s:s}, s:I, s:i, s:b, s:b, s:b, s:b, s:o, s:o}", "version",
	                   &version, "boot", "kernel", &kernel, "initrd", &initrd, "firmware", &firmware,
	                   "append", &append, "memory", &mem, "cpus", &cpus, "jit", &jit, "rng", &rng,
	                   "virtio_console", &vcon, "console_input_hvc0", &hvc0, "disks", &disks, "nics",
	                   &nics)) {
		snprintf(err, errlen, "VM configuration: %s", je.text);
		goto out;
	}
	if (version != VM_CONFIG_VERSION) {
		snprintf(err, errlen, "VM configuration version %d is not supported (this cloison reads %d)",
		         version, VM_CONFIG_VERSION);
		goto out;
	}
	if (mem < (json_int_t)VM_MIN_MEM || (uint64_t)mem > VM_MAX_MEM || (mem & 0xfff) || cpus < 1 ||
	    cpus > MACHINE_MAX_HARTS || !json_is_array(disks) || !json_is_array(nics) ||
	    json_array_size(disks) > MACHINE_MAX_DISKS || json_array_size(nics) > MACHINE_MAX_NICS) {
		snprintf(err, errlen, "VM configuration: memory, cpus, disks or nics out of range");
		goto out;
	}
	if (!copy_str(c->kernel, sizeof(c->kernel), kernel) ||
	    !copy_str(c->initrd, sizeof(c->initrd), initrd) ||
	    !copy_str(c->firmware, sizeof(c->firmware), firmware) ||
	    !copy_str(c->append, sizeof(c->append), append)) {
		snprintf(err, errlen, "VM configuration: a boot path is too long");
		goto out;
	}
	c->mem = (uint64_t)mem;
	c->cpus = (unsigned)cpus;
	c->jit = jit, c->rng = rng, c->vconsole = vcon, c->input_hvc0 = hvc0;
	size_t i;
	json_t *e;
	json_array_foreach(disks, i, e)
	{
		const char *path, *format;
		int ro, nb, unsafe;
		json_int_t bps, iops;
		struct vm_disk *d = &c->disks[i];
		if (json_unpack_ex(e, &je, JSON_STRICT, "{s:s, s:s, s:b, s:b, s:b, s:I, s:I}", "path", &path,
		                   "format", &format, "readonly", &ro, "no_backing", &nb, "unsafe_cache",
		                   &unsafe, "bps", &bps, "iops", &iops) ||
		    !*path || !copy_str(d->path, sizeof(d->path), path) ||
		    !copy_str(d->format, sizeof(d->format), format) || bps < 0 || iops < 0) {
			snprintf(err, errlen, "VM configuration: disk %zu is malformed", i);
			goto out;
		}
		d->readonly = ro, d->no_backing = nb, d->unsafe_cache = unsafe;
		d->bps = (uint64_t)bps, d->iops = (uint64_t)iops;
		c->ndisks++;
	}
	json_array_foreach(nics, i, e)
	{
		const char *spec, *mac;
		struct vm_nic *n = &c->nics[i];
		if (json_unpack_ex(e, &je, JSON_STRICT, "{s:s, s:s}", "spec", &spec, "mac", &mac) || !*spec ||
		    !copy_str(n->spec, sizeof(n->spec), spec) || (*mac && !parse_mac(mac, n->mac))) {
			snprintf(err, errlen, "VM configuration: network interface %zu is malformed", i);
			goto out;
		}
		n->mac_set = *mac != 0;
		c->nnics++;
	}
	ok = true;
out:
	json_decref(root);
	return ok;
}

bool vm_config_to_machine(const struct vm_config *c, struct machine_config *mc, char *err, size_t errlen)
{
	memset(mc, 0, sizeof(*mc));
	mc->ram_size = c->mem;
	mc->nharts = c->cpus;
	mc->jit = c->jit;
	mc->rng = c->rng;
	mc->vconsole = c->vconsole;
	mc->input_to_vconsole = c->input_hvc0;
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		mc->disks[i] = (struct machine_disk){.path = d->path,
		                                     .format = d->format[0] ? d->format : NULL,
		                                     .readonly = d->readonly,
		                                     .no_backing = d->no_backing,
		                                     .unsafe_cache = d->unsafe_cache,
		                                     .bps = d->bps,
		                                     .iops = d->iops};
	}
	mc->ndisks = c->ndisks;
	for (unsigned i = 0; i < c->nnics; i++) {
		if (!netspec_resolve(c->nics[i].spec, &mc->nics[i], err, errlen)) return false;
		if (c->nics[i].mac_set) {
			memcpy(mc->nics[i].mac, c->nics[i].mac, 6);
			mc->nics[i].mac_set = true;
		}
	}
	mc->nnics = c->nnics;
	return true;
}
