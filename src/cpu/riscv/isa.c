/*
 * isa.c — the table of ISA extensions (isa.h): defaults, the `--cpu-ext`
 * spec, and the ISA string and list the device tree describes harts with.
 */
#include "isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned flags;
} extensions[RV_EXT_COUNT] = {
#define X(NAME, name, fl) [RV_EXT_##NAME] = {name, fl},
    RV_EXTENSIONS(X)
#undef X
};

static const char *const base_letters[] = {"i", "m", "a", "f", "d", "c"};
#define NBASE (sizeof(base_letters) / sizeof(base_letters[0]))

uint64_t rv_ext_defaults(void)
{
	uint64_t set = 0;
	for (unsigned e = 0; e < RV_EXT_COUNT; e++)
		if (extensions[e].flags & (RV_EXT_FIXED | RV_EXT_DEFAULT)) set |= 1ULL << e;
	return set;
}

static int find(const char *name, size_t len)
{
	for (unsigned e = 0; e < RV_EXT_COUNT; e++)
		if (strlen(extensions[e].name) == len && !strncmp(extensions[e].name, name, len))
			return (int)e;
	return -1;
}

bool rv_ext_apply(uint64_t *set, const char *spec, char *err, size_t errlen)
{
	uint64_t s = *set;
	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, ",");
		const char *item = p;
		p += len;
		if (*p == ',') p++;
		if (len == 0) continue;
		if (len > 5 && !strncmp(item, "vlen=", 5)) {
			char num[16] = "", *end = num;
			if (len - 5 < sizeof(num)) memcpy(num, item + 5, len - 5);
			unsigned long v = num[0] >= '0' && num[0] <= '9' ? strtoul(num, &end, 10) : 0;
			int log = v == 128 ? 0 : v == 256 ? 1 : v == 512 ? 2 : v == 1024 ? 3 : -1;
			if (*end || log < 0) {
				snprintf(err, errlen, "vlen must be 128, 256, 512 or 1024 (got '%.*s')",
				         (int)len - 5, item + 5);
				return false;
			}
			s = (s & ~(3ULL << RV_EXT_VLEN_SHIFT)) | (uint64_t)log << RV_EXT_VLEN_SHIFT;
			continue;
		}
		bool off = *item == '-';
		if (*item == '-' || *item == '+') item++, len--;
		int e = find(item, len);
		if (e < 0) {
			char known[512];
			size_t k = 0;
			known[0] = 0;
			for (unsigned i = 0; i < RV_EXT_COUNT && k < sizeof(known); i++)
				if (!(extensions[i].flags & RV_EXT_FIXED))
					k += (size_t)snprintf(known + k, sizeof(known) - k, "%s%s",
					                      k ? " " : "", extensions[i].name);
			snprintf(err, errlen, "unknown ISA extension '%.*s' (switchable: %s)", (int)len, item,
			         known);
			return false;
		}
		if (off && (extensions[e].flags & RV_EXT_FIXED)) {
			snprintf(err, errlen, "ISA extension '%s' cannot be switched off",
			         extensions[e].name);
			return false;
		}
		if (off)
			s &= ~(1ULL << e);
		else
			s |= 1ULL << e;
	}
	*set = s;
	return true;
}

uint64_t rv_ext_from(bool (*has)(const char *name, void *opaque), void *opaque)
{
	uint64_t set = 0;
	for (unsigned e = 0; e < RV_EXT_COUNT; e++)
		if (has(extensions[e].name, opaque)) set |= 1ULL << e;
	return set;
}

unsigned rv_ext_names(uint64_t set, const char **names, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < NBASE; i++, n++)
		if (n < max) names[n] = base_letters[i];
	for (int letters = 1; letters >= 0; letters--) /* single letters first, as in the string */
		for (unsigned e = 0; e < RV_EXT_COUNT; e++)
			if (((set >> e) & 1) && !(extensions[e].flags & RV_EXT_LETTER) == !letters) {
				if (n < max) names[n] = extensions[e].name;
				n++;
			}
	return n;
}

bool rv_isa_string(uint64_t set, char *buf, size_t len)
{
	size_t k = (size_t)snprintf(buf, len, "rv64");
	for (unsigned i = 0; i < NBASE && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%s", base_letters[i]);
	for (unsigned e = 0; e < RV_EXT_COUNT && k < len; e++)
		if (((set >> e) & 1) && (extensions[e].flags & RV_EXT_LETTER))
			k += (size_t)snprintf(buf + k, len - k, "%s", extensions[e].name);
	for (unsigned e = 0; e < RV_EXT_COUNT && k < len; e++)
		if (((set >> e) & 1) && !(extensions[e].flags & RV_EXT_LETTER))
			k += (size_t)snprintf(buf + k, len - k, "_%s", extensions[e].name);
	return k < len;
}
