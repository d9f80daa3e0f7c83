/*
 * def.c — see def.h.
 */
#include "def.h"

#include "container/ct_spec.h"
#include "util/parse.h"
#include "vm/vnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAD(...)                                                                                             \
	do {                                                                                                 \
		snprintf(err, errlen, __VA_ARGS__);                                                          \
		return false;                                                                                \
	} while (0)

const char *inst_type_name(enum inst_type t)
{
	return t == INST_VM ? "vm" : "container";
}

bool inst_name_valid(const char *name)
{
	return ct_name_valid(name) && strlen(name) <= INST_NAME_MAX;
}

/* Copies a string member into dst; absent leaves dst alone. */
static bool get_str(const json_t *obj, const char *key, const char *where, char *dst, size_t len, char *err,
                    size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v) return true;
	if (!json_is_string(v)) BAD("%s%s must be a string", where, key);
	if (strlen(json_string_value(v)) >= len)
		BAD("%s%s is too long (at most %zu bytes)", where, key, len - 1);
	strcpy(dst, json_string_value(v));
	return true;
}

/* A non-negative integer member within [min, max] (0 always allowed when zero_ok), or a size string
 * ("512M") when sizes is set. */
static bool get_uint(const json_t *obj, const char *key, const char *where, uint64_t min, uint64_t max,
                     bool zero_ok, bool sizes, uint64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v) return true;
	uint64_t n;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		n = (uint64_t)json_integer_value(v);
	else if (sizes && json_is_string(v) && parse_disk_size(json_string_value(v), &n))
		;
	else
		BAD("%s%s must be %s", where, key,
		    sizes ? "a size in bytes (a number, or a string like \"512M\")"
		          : "a non-negative integer");
	if (!(zero_ok && n == 0) && (n < min || n > max))
		BAD("%s%s = %llu is out of range (%llu to %llu%s)", where, key, (unsigned long long)n,
		    (unsigned long long)min, (unsigned long long)max, zero_ok ? ", or 0 for none" : "");
	*out = n;
	return true;
}

static bool get_bool(const json_t *obj, const char *key, const char *where, bool *out, char *err,
                     size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v) return true;
	if (!json_is_boolean(v)) BAD("%s%s must be true or false", where, key);
	*out = json_is_true(v);
	return true;
}

/* Refuses members not in `known` (NULL-terminated). */
static bool only_keys(const json_t *obj, const char *where, const char *const *known, char *err,
                      size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		size_t i = 0;
		while (known[i] && strcmp(known[i], key)) i++;
		if (!known[i]) {
			char list[512] = "";
			for (i = 0; known[i]; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				         i ? ", " : "", known[i]);
			BAD("unknown field %s%.64s (known: %s)", where, key, list);
		}
	}
	return true;
}

bool inst_cpuset_each(const char *s, void (*fn)(void *ctx, unsigned cpu), void *ctx)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0) return false;
		if (*end == '-') {
			const char *t = end + 1;
			b = strtol(t, &end, 10);
			if (end == t || b < a) return false;
		}
		if (b >= ncpu) return false;
		for (long c = a; fn && c <= b; c++) fn(ctx, (unsigned)c);
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return true;
}

bool inst_limits_from_json(const json_t *j, struct inst_limits *l, char *err, size_t errlen)
{
	static const char *const known[] = {"cpu_weight", "cpu_max",  "memory",        "pids",
	                                    "ips",        "disk_bps", "disk_iops",     "net_rx_bw",
	                                    "net_tx_bw",  "cpuset",   "memory_target", NULL};
	if (!json_is_object(j)) BAD("limits must be an object");
	if (!only_keys(j, "limits.", known, err, errlen)) return false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t w = l->cpu_weight, c = l->cpu_max;
	if (!get_uint(j, "cpu_weight", "limits.", 1, 10000, true, false, &w, err, errlen) ||
	    !get_uint(j, "cpu_max", "limits.", 1, 100 * (uint64_t)(ncpu > 0 ? ncpu : 1), true, false, &c, err,
	              errlen) ||
	    !get_uint(j, "memory", "limits.", 4 << 20, 1ULL << 50, true, true, &l->memory, err, errlen) ||
	    !get_uint(j, "pids", "limits.", 2, 1 << 22, true, false, &l->pids, err, errlen) ||
	    !get_uint(j, "ips", "limits.", 1000, 1ULL << 40, true, false, &l->ips, err, errlen) ||
	    !get_uint(j, "disk_bps", "limits.", 4096, 1ULL << 50, true, true, &l->disk_bps, err, errlen) ||
	    !get_uint(j, "disk_iops", "limits.", 1, 1ULL << 32, true, false, &l->disk_iops, err, errlen) ||
	    !get_uint(j, "net_rx_bw", "limits.", 8000, 1ULL << 50, true, false, &l->net_rx_bw, err, errlen) ||
	    !get_uint(j, "net_tx_bw", "limits.", 8000, 1ULL << 50, true, false, &l->net_tx_bw, err, errlen) ||
	    !get_uint(j, "memory_target", "limits.", 16 << 20, 1ULL << 50, true, true, &l->memory_target, err,
	              errlen) ||
	    !get_str(j, "cpuset", "limits.", l->cpuset, sizeof(l->cpuset), err, errlen))
		return false;
	l->cpu_weight = (uint32_t)w;
	l->cpu_max = (uint32_t)c;
	if (!inst_cpuset_each(l->cpuset, NULL, NULL))
		BAD("limits.cpuset '%s' names CPUs this host does not have (it has %ld)", l->cpuset, ncpu);
	return true;
}

json_t *inst_limits_to_json(const struct inst_limits *l)
{
	return json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "cpu_weight",
	                 (int)l->cpu_weight, "cpu_max", (int)l->cpu_max, "memory", (json_int_t)l->memory,
	                 "pids", (json_int_t)l->pids, "ips", (json_int_t)l->ips, "disk_bps",
	                 (json_int_t)l->disk_bps, "disk_iops", (json_int_t)l->disk_iops, "net_rx_bw",
	                 (json_int_t)l->net_rx_bw, "net_tx_bw", (json_int_t)l->net_tx_bw, "memory_target",
	                 (json_int_t)l->memory_target, "cpuset", l->cpuset);
}

bool inst_limits_check(const struct inst_def *d, const struct inst_limits *l, char *err, size_t errlen)
{
	if (d->type == INST_VM) {
		if (l->memory && l->memory < d->vm.cfg.mem + (16 << 20))
			BAD("limits.memory (%llu MiB) must leave room for the VM's %llu MiB of memory and "
			    "the "
			    "emulator (at least %llu MiB)",
			    (unsigned long long)(l->memory >> 20), (unsigned long long)(d->vm.cfg.mem >> 20),
			    (unsigned long long)((d->vm.cfg.mem >> 20) + 16));
		if (l->pids) BAD("limits.pids applies to containers only");
		if (l->memory_target > d->vm.cfg.mem)
			BAD("limits.memory_target (%llu MiB) is more than the VM's memory (%llu MiB)",
			    (unsigned long long)(l->memory_target >> 20),
			    (unsigned long long)(d->vm.cfg.mem >> 20));
	} else {
		if (l->ips || l->disk_bps || l->disk_iops || l->net_rx_bw || l->net_tx_bw || l->memory_target)
			BAD("limits.ips, disk_bps, disk_iops, net_rx_bw, net_tx_bw and memory_target apply "
			    "to VMs "
			    "only");
	}
	return true;
}

static bool vm_from_json(const json_t *j, struct inst_vm *vm, char *err, size_t errlen)
{
	static const char *const known[] = {"kernel",  "initrd", "firmware", "append", "memory",  "cpus",
	                                    "cpu_ext", "jit",    "disks",    "nets",   "restore", "clone",
	                                    "shares",  "image",  "display",  "vnc",    NULL};
	if (!json_is_object(j)) BAD("vm must be an object");
	if (!only_keys(j, "vm.", known, err, errlen)) return false;
	struct vm_config *c = &vm->cfg;
	uint64_t cpus = c->cpus;
	char firmware[PATH_MAX] = "", append[sizeof(c->append)] = "";
	if (!get_str(j, "kernel", "vm.", c->kernel, sizeof(c->kernel), err, errlen) ||
	    !get_str(j, "initrd", "vm.", c->initrd, sizeof(c->initrd), err, errlen) ||
	    !get_str(j, "firmware", "vm.", firmware, sizeof(firmware), err, errlen) ||
	    !get_str(j, "append", "vm.", append, sizeof(append), err, errlen) ||
	    !get_uint(j, "memory", "vm.", VM_MIN_MEM, VM_MAX_MEM, false, true, &c->mem, err, errlen) ||
	    !get_uint(j, "cpus", "vm.", 1, MACHINE_MAX_HARTS, false, false, &cpus, err, errlen) ||
	    !get_str(j, "cpu_ext", "vm.", c->cpu_ext, sizeof(c->cpu_ext), err, errlen) ||
	    !get_bool(j, "jit", "vm.", &c->jit, err, errlen) ||
	    !get_str(j, "restore", "vm.", vm->restore, sizeof(vm->restore), err, errlen) ||
	    !get_str(j, "image", "vm.", vm->image, sizeof(vm->image), err, errlen) ||
	    !get_bool(j, "clone", "vm.", &vm->clone, err, errlen))
		return false;
	c->cpus = (unsigned)cpus;
	char display[32] = "";
	if (!get_str(j, "display", "vm.", display, sizeof(display), err, errlen) ||
	    !get_str(j, "vnc", "vm.", vm->vnc, sizeof(vm->vnc), err, errlen))
		return false;
	char bad[160], addr[64];
	int port;
	if (display[0] && !vm_display_parse(display, &c->display_width, &c->display_height, bad, sizeof(bad)))
		BAD("vm.%s", bad);
	if (vm->vnc[0] && !vnc_parse_listen(vm->vnc, addr, sizeof(addr), &port, bad, sizeof(bad)))
		BAD("vm.vnc: %s", bad);
	if (vm->vnc[0] && !c->display_width)
		BAD("vm.vnc needs a display (vm.display \"on\" or WIDTHxHEIGHT)");
	if (c->mem & 0xfff) BAD("vm.memory must be a multiple of 4 KiB");
	char why[400];
	if (!vm_config_check(c, why, sizeof(why))) BAD("vm: %s", why);
	/* "" keeps the default; firmware "none" boots the kernel bare-metal. */
	if (firmware[0]) strcpy(c->firmware, strcmp(firmware, "none") ? firmware : "");
	if (append[0]) strcpy(c->append, append);
	static const char *const lists[] = {"disks", "nets", "shares"};
	for (int k = 0; k < 3; k++) {
		json_t *a = json_object_get(j, lists[k]);
		unsigned max = k == 0 ? MACHINE_MAX_DISKS : k == 1 ? MACHINE_MAX_NICS : MACHINE_MAX_SHARES;
		if (!a) continue;
		if (!json_is_array(a) || json_array_size(a) > max)
			BAD("vm.%s must be an array of at most %u strings", lists[k], max);
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v)
		{
			char msg[400];
			if (!json_is_string(v) || !json_string_length(v))
				BAD("vm.%s[%zu] must be a non-empty string (a `cloison run --%.*s` spec)",
				    lists[k], i, k == 2 ? 5 : 4, lists[k]);
			if (!(k == 0   ? vm_config_add_disk
			      : k == 1 ? vm_config_add_nic
			               : vm_config_add_share)(c, json_string_value(v), msg, sizeof(msg)))
				BAD("vm.%s[%zu]: %s", lists[k], i, msg);
		}
	}
	if (vm->clone && !vm->restore[0]) BAD("vm.clone needs vm.restore (the saved state to clone)");
	return true;
}

static json_t *vm_to_json(const struct inst_vm *vm)
{
	const struct vm_config *c = &vm->cfg;
	char display[32] = "off";
	if (c->display_width)
		snprintf(display, sizeof(display), "%ux%u", c->display_width, c->display_height);
	json_t *disks = json_array(), *nets = json_array();
	for (unsigned i = 0; i < c->ndisks; i++) {
		char spec[PATH_MAX + 128];
		vm_disk_spec(&c->disks[i], spec, sizeof(spec));
		json_array_append_new(disks, json_string(spec));
	}
	for (unsigned i = 0; i < c->nnics; i++) json_array_append_new(nets, json_string(c->nics[i].spec));
	json_t *shares = json_array();
	for (unsigned i = 0; i < c->nshares; i++) {
		char spec[PATH_MAX + 64];
		snprintf(spec, sizeof(spec), "%s:%s%s", c->shares[i].path, c->shares[i].tag,
		         c->shares[i].readonly ? ",ro" : "");
		json_array_append_new(shares, json_string(spec));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:s, s:b, s:o, s:o, s:o, s:s, s:b, s:s, s:s, s:s}",
	                 "kernel", c->kernel, "initrd", c->initrd, "firmware",
	                 c->firmware[0] ? c->firmware : "none", "append", c->append, "memory",
	                 (json_int_t)c->mem, "cpus", (int)c->cpus, "cpu_ext", c->cpu_ext, "jit", c->jit,
	                 "disks", disks, "nets", nets, "shares", shares, "restore", vm->restore, "clone",
	                 vm->clone, "image", vm->image, "display", display, "vnc", vm->vnc);
}

/* Merges the given container definition over the engine's defaults and validates it with the
 * engine's own (strict) parser. */
static json_t *container_from_json(const json_t *j, const char *name, char *err, size_t errlen)
{
	if (!json_is_object(j)) {
		snprintf(err, errlen, "container must be an object");
		return NULL;
	}
	if (json_object_get(j, "name") || json_object_get(j, "limits")) {
		snprintf(err, errlen,
		         "container.name and container.limits are set at the top level (name, limits)");
		return NULL;
	}
	struct ct_spec s;
	ct_spec_defaults(&s);
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.hostname, sizeof(s.hostname), "%s", name);
	json_t *user = json_deep_copy(j);
	json_t *net = json_object_get(user, "net");
	if (json_is_string(net)) { /* the --net syntax: "veth,bridge=br0" */
		char msg[256];
		if (!ct_net_parse(json_string_value(net), &s.net, msg, sizeof(msg))) {
			snprintf(err, errlen, "container.net: %s", msg);
			json_decref(user);
			return NULL;
		}
		json_object_del(user, "net");
	}
	json_t *merged = ct_spec_to_json(&s);
	json_object_update_recursive(merged, user);
	json_decref(user);
	struct ct_spec parsed;
	char msg[256];
	bool ok = ct_spec_from_json(merged, &parsed, msg, sizeof(msg));
	json_decref(merged);
	if (ok && !parsed.rootfs[0]) {
		snprintf(msg, sizeof(msg), "rootfs is required (a directory holding the root filesystem)");
		ok = false;
	}
	if (!ok) {
		if (ok == false) snprintf(err, errlen, "container: %s", msg);
		ct_spec_free(&parsed);
		return NULL;
	}
	json_t *out = ct_spec_to_json(&parsed);
	ct_spec_free(&parsed);
	json_object_del(out, "name");
	json_object_del(out, "limits");
	return out;
}

bool inst_def_from_json(const json_t *j, struct inst_def *d, char *err, size_t errlen)
{
	static const char *const known[] = {"name",      "type",   "autostart", "vm",
	                                    "container", "limits", "status",    NULL};
	memset(d, 0, sizeof(*d));
	vm_config_defaults(&d->vm.cfg);
	if (!json_is_object(j)) BAD("the definition must be a JSON object");
	if (!only_keys(j, "", known, err, errlen)) return false;
	const char *type = "vm";
	json_t *t = json_object_get(j, "type");
	if (t && !json_is_string(t)) BAD("type must be \"vm\" or \"container\"");
	if (t) type = json_string_value(t);
	if (!strcmp(type, "vm"))
		d->type = INST_VM;
	else if (!strcmp(type, "container"))
		d->type = INST_CT;
	else
		BAD("type must be \"vm\" or \"container\", not \"%.32s\"", type);
	json_t *n = json_object_get(j, "name");
	if (!json_is_string(n)) BAD("name is required (a string)");
	if (!inst_name_valid(json_string_value(n)))
		BAD("invalid name '%.80s': letters, digits, '-', '_' and '.', starting with a letter or "
		    "digit, "
		    "at most %d characters",
		    json_string_value(n), INST_NAME_MAX);
	strcpy(d->name, json_string_value(n));
	if (!get_bool(j, "autostart", "", &d->autostart, err, errlen)) return false;
	json_t *vm = json_object_get(j, "vm"), *ct = json_object_get(j, "container");
	if (d->type == INST_VM) {
		if (ct) BAD("a VM has no container section");
		if (vm && !vm_from_json(vm, &d->vm, err, errlen)) return false;
	} else {
		if (vm) BAD("a container has no vm section");
		if (!ct) BAD("a container needs a container section with at least a rootfs");
		if (!(d->container = container_from_json(ct, d->name, err, errlen))) return false;
	}
	json_t *l = json_object_get(j, "limits");
	if (l && !inst_limits_from_json(l, &d->limits, err, errlen)) {
		inst_def_free(d);
		return false;
	}
	if (!inst_limits_check(d, &d->limits, err, errlen)) {
		inst_def_free(d);
		return false;
	}
	return true;
}

json_t *inst_def_to_json(const struct inst_def *d)
{
	json_t *j = json_pack("{s:s, s:s, s:b}", "name", d->name, "type", inst_type_name(d->type),
	                      "autostart", d->autostart);
	if (d->type == INST_VM)
		json_object_set_new(j, "vm", vm_to_json(&d->vm));
	else
		json_object_set(j, "container", d->container);
	json_object_set_new(j, "limits", inst_limits_to_json(&d->limits));
	return j;
}

void inst_def_free(struct inst_def *d)
{
	json_decref(d->container);
	d->container = NULL;
}

void inst_def_copy(struct inst_def *dst, const struct inst_def *src)
{
	*dst = *src;
	json_incref(dst->container);
}
