/*
 * vmconfig.c — the VM configuration: defaults, --disk and --net specs, range
 * checks, the default guest, JSON (jansson) in and out, and the board
 * configuration it becomes. Input is untrusted (it arrives in configuration
 * files, snapshot files and migration streams): every field is type- and
 * range-checked.
 */
#include "vmconfig.h"

#include "virtio/9p.h"

#include "cpu/riscv/hart.h"
#include "cpu/riscv/isa.h"
#include "net/netobj.h"
#include "util/parse.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VM_CONFIG_VERSION 1

void vm_config_defaults(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->firmware, sizeof(c->firmware), "%s", VM_DEFAULT_FIRMWARE);
	snprintf(c->append, sizeof(c->append), "%s", VM_DEFAULT_APPEND);
	c->mem = VM_DEFAULT_MEM;
	c->cpus = 1;
	c->rng = c->vconsole = c->balloon = c->free_page_reporting = true;
	c->vsock_cid = 3;                 /* the first CID a guest may have; each VM's device is its own */
	c->jit = rv_hart_jit_available(); /* the translator where the host has one */
	snprintf(c->accel, sizeof(c->accel), "emulator");
}

static bool copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* One "key=value" option of a --disk spec into d; false with err set. */
static bool disk_option(const char *tok, struct vm_disk *d, char *err, size_t errlen)
{
	static const struct {
		const char *text;
		size_t field; /* offset of the bool */
		bool value;
	} flags[] = {
	    {"readonly=on", offsetof(struct vm_disk, readonly), true},
	    {"readonly=off", offsetof(struct vm_disk, readonly), false},
	    {"backing=off", offsetof(struct vm_disk, no_backing), true},
	    {"backing=on", offsetof(struct vm_disk, no_backing), false},
	    {"cache=unsafe", offsetof(struct vm_disk, unsafe_cache), true},
	    {"cache=writeback", offsetof(struct vm_disk, unsafe_cache), false},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(tok, flags[i].text)) {
			*(bool *)((char *)d + flags[i].field) = flags[i].value;
			return true;
		}
	if (!strncmp(tok, "format=", 7)) {
		if (!strcmp(tok + 7, "raw") || !strcmp(tok + 7, "qcow2"))
			return copy_str(d->format, sizeof(d->format), tok + 7);
		snprintf(err, errlen, "disk format '%s' is not supported (raw or qcow2)", tok + 7);
		return false;
	}
	bool bps = !strncmp(tok, "bps=", 4), iops = !strncmp(tok, "iops=", 5);
	if (bps || iops) {
		if (bps ? parse_disk_size(tok + 4, &d->bps) : parse_uint(tok + 5, 0, 10000000, &d->iops))
			return true;
		snprintf(err, errlen, "invalid --disk %s (bps=BYTES/s with K/M/G suffixes, iops=N)", tok);
		return false;
	}
	snprintf(err, errlen,
	         "unknown --disk option '%s' (known: format=raw|qcow2, readonly=on|off, backing=on|off, "
	         "cache=writeback|unsafe, bps=N, iops=N)",
	         tok);
	return false;
}

bool vm_config_add_disk(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	if (c->ndisks == MACHINE_MAX_DISKS) {
		snprintf(err, errlen, "at most %d disks", MACHINE_MAX_DISKS);
		return false;
	}
	struct vm_disk d = {0};
	size_t path_len = strcspn(spec, ",");
	if (!path_len || path_len >= sizeof(d.path)) {
		snprintf(err, errlen, "--disk needs a path: --disk PATH[,format=raw|qcow2][,readonly=on]");
		return false;
	}
	memcpy(d.path, spec, path_len);
	for (const char *p = spec + path_len; *p == ',';) {
		const char *tok = p + 1;
		size_t n = strcspn(tok, ",");
		char opt[64];
		if (n >= sizeof(opt)) {
			snprintf(err, errlen, "unknown --disk option '%.40s...'", tok);
			return false;
		}
		snprintf(opt, sizeof(opt), "%.*s", (int)n, tok);
		if (!disk_option(opt, &d, err, errlen)) return false;
		p = tok + n;
	}
	c->disks[c->ndisks++] = d;
	return true;
}

static bool add_share(struct vm_config *c, const char *path, const char *tag, bool ro, char *err,
                      size_t errlen)
{
	if (c->nshares == MACHINE_MAX_SHARES) {
		snprintf(err, errlen, "at most %d shared folders", MACHINE_MAX_SHARES);
		return false;
	}
	struct vm_share *s = &c->shares[c->nshares];
	if (path[0] != '/' || !copy_str(s->path, sizeof(s->path), path)) {
		snprintf(err, errlen, "a shared folder's path must be absolute: '%.200s'", path);
		return false;
	}
	if (!virtio_9p_tag_valid(tag) || !copy_str(s->tag, sizeof(s->tag), tag)) {
		snprintf(err, errlen, "invalid share tag '%.40s': 1 to 31 letters, digits, '_', '-' or '.'",
		         tag);
		return false;
	}
	for (unsigned i = 0; i < c->nshares; i++)
		if (!strcmp(c->shares[i].tag, tag)) {
			snprintf(err, errlen, "two shared folders tagged '%s'", tag);
			return false;
		}
	s->readonly = ro;
	c->nshares++;
	return true;
}

bool vm_config_add_share(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	const char *colon = strrchr(spec, ':');
	char path[PATH_MAX], tag[64];
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(path)) {
		snprintf(err, errlen, "--share takes /HOST/DIR:TAG[,ro], not '%.200s'", spec);
		return false;
	}
	snprintf(path, sizeof(path), "%.*s", (int)(colon - spec), spec);
	size_t n = strcspn(colon + 1, ",");
	snprintf(tag, sizeof(tag), "%.*s", (int)(n < sizeof(tag) ? n : sizeof(tag) - 1), colon + 1);
	const char *opt = colon + 1 + n;
	bool ro = false;
	if (!strcmp(opt, ",ro") || !strcmp(opt, ",readonly=on"))
		ro = true;
	else if (*opt && strcmp(opt, ",rw") && strcmp(opt, ",readonly=off")) {
		snprintf(err, errlen, "unknown --share option '%.40s' (ro or rw)", opt + 1);
		return false;
	}
	return add_share(c, path, tag, ro, err, errlen);
}

void vm_disk_spec(const struct vm_disk *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", d->path);
#define ADD(...)                                                                                             \
	if (n >= 0 && (size_t)n < len) n += snprintf(buf + n, len - (size_t)n, __VA_ARGS__)
	if (d->format[0]) ADD(",format=%s", d->format);
	if (d->readonly) ADD(",readonly=on");
	if (d->no_backing) ADD(",backing=off");
	if (d->unsafe_cache) ADD(",cache=unsafe");
	if (d->bps) ADD(",bps=%llu", (unsigned long long)d->bps);
	if (d->iops) ADD(",iops=%llu", (unsigned long long)d->iops);
#undef ADD
}

bool vm_config_add_nic(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	if (c->nnics == MACHINE_MAX_NICS) {
		snprintf(err, errlen, "at most %d network interfaces", MACHINE_MAX_NICS);
		return false;
	}
	if (!*spec || strchr(spec, '\n') || !copy_str(c->nics[c->nnics].spec, VM_NETSPEC_MAX, spec)) {
		snprintf(err, errlen, "a --net spec must be non-empty, on one line and shorter than %d bytes",
		         VM_NETSPEC_MAX);
		return false;
	}
	c->nics[c->nnics].mac_set = false;
	c->nnics++;
	return true;
}

static uint64_t host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

bool vm_display_parse(const char *text, uint32_t *width, uint32_t *height, char *err, size_t errlen)
{
	unsigned w = 0, h = 0;
	char end;
	if (!strcmp(text, "off")) {
		*width = *height = 0;
		return true;
	}
	if (!strcmp(text, "on"))
		w = 1024, h = 768;
	else if (sscanf(text, "%ux%u%c", &w, &h, &end) != 2 || w < 320 || h < 200 || w > 8192 || h > 8192) {
		snprintf(err, errlen, "display '%.40s': on, off or WIDTHxHEIGHT (320x200 to 8192x8192)",
		         text);
		return false;
	}
	*width = w, *height = h;
	return true;
}

bool vm_config_check(const struct vm_config *c, char *err, size_t errlen)
{
	if (c->mem < VM_MIN_MEM || (c->mem & 0xfff)) {
		snprintf(err, errlen, "memory must be a multiple of 4 KiB and at least %llu MiB",
		         (unsigned long long)(VM_MIN_MEM >> 20));
		return false;
	}
	if (c->mem > host_memory() || c->mem > VM_MAX_MEM) {
		snprintf(
		    err, errlen,
		    "memory %llu MiB is more than this host has (%llu MiB) or cloison supports (%llu GiB)",
		    (unsigned long long)(c->mem >> 20), (unsigned long long)(host_memory() >> 20),
		    (unsigned long long)(VM_MAX_MEM >> 30));
		return false;
	}
	if (c->cpus < 1 || c->cpus > MACHINE_MAX_HARTS) {
		snprintf(err, errlen, "cpus must be 1 to %d", MACHINE_MAX_HARTS);
		return false;
	}
	if (c->input_hvc0 && !c->vconsole) {
		snprintf(err, errlen, "console input on hvc0 needs the virtio console");
		return false;
	}
	uint64_t ext = rv_ext_defaults();
	if (!rv_ext_apply(&ext, c->cpu_ext, err, errlen)) return false;
	if (strcmp(c->accel, "emulator") && strcmp(c->accel, "kvm")) {
		snprintf(err, errlen, "accel must be emulator or kvm (got '%s')", c->accel);
		return false;
	}
	if (!strcmp(c->accel, "kvm") && !accel_kvm) {
		snprintf(err, errlen,
		         "--accel kvm runs RISC-V guests on riscv64 Linux hosts only (this cloison is "
		         "built for another host: use the emulator)");
		return false;
	}
	return true;
}

bool vm_config_resolve_guest(struct vm_config *c, char *err, size_t errlen)
{
	if (c->kernel[0]) return true;
	const char *cache = getenv("CLOISON_CACHE"), *home = getenv("HOME");
	char dir[PATH_MAX - 16];
	if (cache)
		snprintf(dir, sizeof(dir), "%s/guest", cache);
	else
		snprintf(dir, sizeof(dir), "%s/.cache/cloison/guest", home ? home : ".");
	snprintf(c->kernel, sizeof(c->kernel), "%s/Image", dir);
	if (!c->initrd[0]) snprintf(c->initrd, sizeof(c->initrd), "%s/initrd.gz", dir);
	if (access(c->kernel, R_OK) != 0) {
		snprintf(err, errlen,
		         "no kernel given and the default guest is missing (%s): run `make guest`",
		         c->kernel);
		return false;
	}
	return true;
}

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
	json_t *shares = json_array();
	for (unsigned i = 0; i < c->nshares; i++)
		json_array_append_new(shares, json_pack("{s:s, s:s, s:b}", "path", c->shares[i].path, "tag",
		                                        c->shares[i].tag, "readonly", c->shares[i].readonly));
	json_t *boot = json_pack("{s:s, s:s, s:s, s:s}", "kernel", c->kernel, "initrd", c->initrd, "firmware",
	                         c->firmware, "append", c->append);
	json_t *root = json_pack(
	    "{s:i, s:o, s:I, s:i, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:I, s:o, s:o}", "version",
	    VM_CONFIG_VERSION, "boot", boot, "memory", (json_int_t)c->mem, "cpus", (int)c->cpus, "cpu_ext",
	    c->cpu_ext, "accel", c->accel, "jit", c->jit, "rng", c->rng, "virtio_console", c->vconsole,
	    "console_input_hvc0", c->input_hvc0, "balloon", c->balloon, "free_page_reporting",
	    c->free_page_reporting, "vsock_cid", (json_int_t)c->vsock_cid, "disks", disks, "nics", nics);
	if (!root) {
		json_decref(shares);
		return NULL;
	}
	json_object_set_new(root, "shares", shares);
	if (c->display_width)
		json_object_set_new(root, "display",
		                    json_sprintf("%ux%u", c->display_width, c->display_height));
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* A disk: a --disk spec string, or the object vm_config_to_json writes. */
static bool disk_from_json(json_t *e, size_t i, struct vm_config *c, char *err, size_t errlen)
{
	if (json_is_string(e)) {
		char msg[400];
		if (vm_config_add_disk(c, json_string_value(e), msg, sizeof(msg))) return true;
		snprintf(err, errlen, "VM configuration: disk %zu: %s", i, msg);
		return false;
	}
	const char *path, *format = "";
	int ro = 0, nb = 0, unsafe = 0;
	json_int_t bps = 0, iops = 0;
	json_error_t je;
	struct vm_disk *d = &c->disks[c->ndisks];
	memset(d, 0, sizeof(*d));
	if (json_unpack_ex(e, &je, JSON_STRICT, "{s:s, s?:s, s?:b, s?:b, s?:b, s?:I, s?:I}", "path", &path,
	                   "format", &format, "readonly", &ro, "no_backing", &nb, "unsafe_cache", &unsafe,
	                   "bps", &bps, "iops", &iops) ||
	    !*path || !copy_str(d->path, sizeof(d->path), path) ||
	    (*format && strcmp(format, "raw") && strcmp(format, "qcow2")) ||
	    !copy_str(d->format, sizeof(d->format), format) || bps < 0 || iops < 0) {
		snprintf(err, errlen, "VM configuration: disk %zu is malformed", i);
		return false;
	}
	d->readonly = ro, d->no_backing = nb, d->unsafe_cache = unsafe;
	d->bps = (uint64_t)bps, d->iops = (uint64_t)iops;
	c->ndisks++;
	return true;
}

/* A network interface: a --net spec string, or {"spec": ..., "mac": ...}. */
static bool nic_from_json(json_t *e, size_t i, struct vm_config *c, char *err, size_t errlen)
{
	const char *spec = NULL, *mac = "";
	json_error_t je;
	char msg[200];
	if (json_is_string(e))
		spec = json_string_value(e);
	else if (json_unpack_ex(e, &je, JSON_STRICT, "{s:s, s?:s}", "spec", &spec, "mac", &mac))
		spec = NULL;
	struct vm_nic *n = &c->nics[c->nnics];
	if (!spec || !vm_config_add_nic(c, spec, msg, sizeof(msg)) || (*mac && !net_parse_mac(mac, n->mac))) {
		snprintf(err, errlen, "VM configuration: network interface %zu is malformed", i);
		return false;
	}
	n->mac_set = *mac != 0;
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
	vm_config_defaults(c);
	int version = VM_CONFIG_VERSION, cpus = (int)c->cpus, jit = c->jit, rng = c->rng, vcon = c->vconsole,
	    hvc0 = c->input_hvc0;
	int balloon = 0; /* a configuration saved before the balloon existed describes a board without one */
	int reporting = 1;
	json_int_t vsock_cid = 0; /* likewise for the socket device */
	json_t *mem = NULL, *disks = NULL, *nics = NULL, *shares = NULL;
	const char *kernel = "", *initrd = "", *firmware = c->firmware, *append = c->append, *cpu_ext = "",
	           *accel = c->accel, *display = "off";
	bool ok = false;
	if (json_unpack_ex(root, &je, JSON_STRICT,
	                   "{s?:i, s?:{s?:s, s?:s, s?:s, s?:s}, s?:o, s?:i, s?:s, s?:s, s?:b, s?:b, s?:b, "
	                   "s?:b, s?:b, s?:b, s?:I, s?:o, s?:o, s?:o, s?:s}",
	                   "version", &version, "boot", "kernel", &kernel, "initrd", &initrd, "firmware",
	                   &firmware, "append", &append, "memory", &mem, "cpus", &cpus, "cpu_ext", &cpu_ext,
	                   "accel", &accel, "jit", &jit, "rng", &rng, "virtio_console", &vcon,
	                   "console_input_hvc0", &hvc0, "balloon", &balloon, "free_page_reporting",
	                   &reporting, "vsock_cid", &vsock_cid, "disks", &disks, "nics", &nics, "shares",
	                   &shares, "display", &display)) {
		snprintf(err, errlen, "VM configuration: %s", je.text);
		goto out;
	}
	if (vsock_cid && (vsock_cid < 3 || vsock_cid >= UINT32_MAX)) {
		snprintf(err, errlen, "VM configuration: vsock_cid is 0 (none) or 3 to 4294967294");
		goto out;
	}
	c->vsock_cid = (uint32_t)vsock_cid;
	char bad[128];
	if (!vm_display_parse(display, &c->display_width, &c->display_height, bad, sizeof(bad))) {
		snprintf(err, errlen, "VM configuration: %s", bad);
		goto out;
	}
	if (version != VM_CONFIG_VERSION) {
		snprintf(err, errlen, "VM configuration version %d is not supported (this cloison reads %d)",
		         version, VM_CONFIG_VERSION);
		goto out;
	}
	if (mem && !(json_is_integer(mem) && json_integer_value(mem) >= 0) &&
	    !(json_is_string(mem) && parse_mem_size(json_string_value(mem), &c->mem))) {
		snprintf(err, errlen, "VM configuration: memory is bytes or a size such as \"512M\"");
		goto out;
	}
	if (json_is_integer(mem)) c->mem = (uint64_t)json_integer_value(mem);
	if ((disks && (!json_is_array(disks) || json_array_size(disks) > MACHINE_MAX_DISKS)) ||
	    (nics && (!json_is_array(nics) || json_array_size(nics) > MACHINE_MAX_NICS)) || cpus < 1) {
		snprintf(err, errlen, "VM configuration: cpus, disks or nics out of range");
		goto out;
	}
	if (!copy_str(c->kernel, sizeof(c->kernel), kernel) ||
	    !copy_str(c->initrd, sizeof(c->initrd), initrd) ||
	    !copy_str(c->firmware, sizeof(c->firmware), firmware) ||
	    !copy_str(c->append, sizeof(c->append), append) ||
	    !copy_str(c->cpu_ext, sizeof(c->cpu_ext), cpu_ext) ||
	    !copy_str(c->accel, sizeof(c->accel), accel)) {
		snprintf(err, errlen, "VM configuration: a boot path, cpu_ext or accel is too long");
		goto out;
	}
	c->cpus = (unsigned)cpus;
	c->jit = jit, c->rng = rng, c->vconsole = vcon, c->input_hvc0 = hvc0, c->balloon = balloon;
	c->free_page_reporting = reporting;
	char msg[256];
	if (!vm_config_check(c, msg, sizeof(msg))) {
		snprintf(err, errlen, "VM configuration: %s", msg);
		goto out;
	}
	size_t i;
	json_t *e;
	json_array_foreach(disks, i, e) if (!disk_from_json(e, i, c, err, errlen)) goto out;
	json_array_foreach(nics, i, e) if (!nic_from_json(e, i, c, err, errlen)) goto out;
	if (shares && (!json_is_array(shares) || json_array_size(shares) > MACHINE_MAX_SHARES)) {
		snprintf(err, errlen, "VM configuration: shares is an array of at most %d",
		         MACHINE_MAX_SHARES);
		goto out;
	}
	json_array_foreach(shares, i, e)
	{
		const char *path = NULL, *tag = NULL;
		int ro = 0;
		char why[300];
		bool added =
		    json_is_string(e) ? vm_config_add_share(c, json_string_value(e), why, sizeof(why))
		    : !json_unpack_ex(e, &je, JSON_STRICT, "{s:s, s:s, s?:b}", "path", &path, "tag", &tag,
		                      "readonly", &ro)
		        ? add_share(c, path, tag, ro, why, sizeof(why))
		        : (snprintf(why, sizeof(why), "expected {\"path\", \"tag\", \"readonly\"}"), false);
		if (!added) {
			snprintf(err, errlen, "VM configuration: share %zu: %s", i, why);
			goto out;
		}
	}
	ok = true;
out:
	json_decref(root);
	return ok;
}

bool vm_config_load_file(const char *path, struct vm_config *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
	bool too_big = buf && n == 1 << 20, failed = ferror(f);
	fclose(f);
	bool ok = false;
	if (!buf || failed || too_big)
		snprintf(err, errlen, "%s: %s", path, too_big ? "larger than 1 MiB" : "cannot be read");
	else if (vm_config_from_json(buf, n, c, err, errlen))
		ok = true;
	else {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s: %s", path, msg);
	}
	free(buf);
	return ok;
}

bool vm_config_to_machine(const struct vm_config *c, struct machine_config *mc, char *err, size_t errlen)
{
	memset(mc, 0, sizeof(*mc));
	mc->ram_size = c->mem;
	mc->nharts = c->cpus;
	mc->isa_ext = rv_ext_defaults();
	if (!rv_ext_apply(&mc->isa_ext, c->cpu_ext, err, errlen)) return false;
	mc->accel = strcmp(c->accel, "kvm") ? &accel_emulator : accel_kvm;
	mc->jit = c->jit;
	mc->rng = c->rng;
	mc->balloon = c->balloon;
	mc->free_page_reporting = c->free_page_reporting;
	mc->vconsole = c->vconsole;
	mc->vsock_cid = c->vsock_cid;
	mc->display_width = c->display_width, mc->display_height = c->display_height;
	for (unsigned i = 0; i < c->nshares; i++)
		mc->shares[i] = (struct machine_share){
		    .path = c->shares[i].path, .tag = c->shares[i].tag, .readonly = c->shares[i].readonly};
	mc->nshares = c->nshares;
	mc->input_to_vconsole = c->input_hvc0;
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		mc->disks[i] = (struct machine_disk){.path = d->path,
		                                     .format = d->format[0] ? d->format : NULL,
		                                     .readonly = d->readonly,
		                                     .no_backing = d->no_backing,
		                                     .unsafe_cache = d->unsafe_cache,
		                                     .no_lock = c->disks_by_lease,
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
