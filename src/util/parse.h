/*
 * parse.h — strict parsing of user-supplied numbers and sizes.
 */
#ifndef CLOISON_PARSE_H
#define CLOISON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "512" (MiB, as QEMU's -m), "512M", "2G", "65536K", "1048576B". */
bool parse_mem_size(const char *s, uint64_t *bytes);
/* The same suffixes, but a bare number is bytes (as qemu-img's sizes). */
bool parse_disk_size(const char *s, uint64_t *bytes);
/* "10M" -> 10000000: decimal multiples (k, M, G), as rates are quoted; at most 1e12. */
bool parse_rate(const char *s, uint64_t *out);
/* A decimal unsigned integer in [min, max]. */
bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Whether s is 1 to max ASCII letters, digits and characters of `punct` (names that go into files and
 * configurations other programs parse). */
bool parse_is_plain(const char *s, size_t max, const char *punct);
/* "HOST:PORT", split at the last colon (IPv6 literals need no brackets). With host_optional, "PORT"
 * and ":PORT" leave host empty. HOST goes into host (longer than hostlen-1 bytes: false); *port points
 * into s and is never empty. */
bool parse_host_port(const char *s, bool host_optional, char *host, size_t hostlen, const char **port);

#endif
