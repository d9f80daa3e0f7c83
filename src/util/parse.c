/*
 * parse.c — see parse.h. Rejects empty strings, trailing garbage, overflow.
 */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s)) return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max) return false;
	*out = v;
	return true;
}

static bool parse_size_unit(const char *s, unsigned bare_shift, uint64_t *bytes);

bool parse_mem_size(const char *s, uint64_t *bytes)
{
	return parse_size_unit(s, 20, bytes);
}

bool parse_disk_size(const char *s, uint64_t *bytes)
{
	return parse_size_unit(s, 0, bytes);
}

static bool parse_size_unit(const char *s, unsigned bare_shift, uint64_t *bytes)
{
	if (!s || !isdigit((unsigned char)*s)) return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno) return false;
	unsigned shift;
	switch (toupper((unsigned char)*end)) {
	case '\0': shift = bare_shift; break;
	case 'B': shift = 0; break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return false;
	}
	if (*end && end[1] &&
	    !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]) &&
	    !(toupper((unsigned char)end[1]) == 'B' && !end[2]))
		return false;
	if (v > (~0ULL >> shift)) return false;
	*bytes = (uint64_t)v << shift;
	return true;
}

bool parse_host_port(const char *s, bool host_optional, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : 0;
	*port = colon ? colon + 1 : s;
	if ((!colon && !host_optional) || (n == 0 && !host_optional) || n >= hostlen || !**port) return false;
	memcpy(host, s, n);
	host[n] = 0;
	return true;
}

/* "10M" -> 10000000: decimal multiples, as network rates are quoted. */
bool parse_rate(const char *s, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s)) return false;
	double v = strtod(s, &end);
	uint64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1000, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1000000, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1000000000, end++;
	if (*end || v < 0 || v * (double)mul > 1e12) return false;
	*out = (uint64_t)(v * (double)mul);
	return true;
}

bool parse_is_plain(const char *s, size_t max, const char *punct)
{
	if (!s || !*s || strlen(s) > max) return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(punct, *s)))
			return false;
	return true;
}
