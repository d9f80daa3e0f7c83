/*
 * state.c — writer and bounds-checked reader of sectioned, checksummed state
 * blobs (see state.h; the layout is in docs/formats.md).
 */
#include "state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SECTION_HDR (STATE_NAME_LEN + 4 + 8)

static void reserve(struct state_writer *w, size_t n)
{
	if (w->failed || w->len + n <= w->cap) return;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n) cap *= 2;
	uint8_t *b = realloc(w->buf, cap);
	if (!b) {
		w->failed = true;
		return;
	}
	w->buf = b;
	w->cap = cap;
}

void state_put_bytes(struct state_writer *w, const void *p, size_t n)
{
	reserve(w, n);
	if (w->failed) return;
	if (n) memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void state_writer_init(struct state_writer *w)
{
	*w = (struct state_writer){0};
	uint32_t version = STATE_FORMAT_VERSION, flags = 0;
	state_put_bytes(w, STATE_MAGIC, 8);
	state_put_bytes(w, &version, 4);
	state_put_bytes(w, &flags, 4);
}

void state_writer_free(struct state_writer *w)
{
	free(w->buf);
	*w = (struct state_writer){0};
}

void state_begin(struct state_writer *w, const char *name, uint32_t version)
{
	char n[STATE_NAME_LEN] = {0};
	strncpy(n, name, STATE_NAME_LEN - 1);
	w->section_start = w->len;
	w->open = true;
	uint64_t len = 0;
	state_put_bytes(w, n, STATE_NAME_LEN);
	state_put_bytes(w, &version, 4);
	state_put_bytes(w, &len, 8);
}

void state_end(struct state_writer *w)
{
	if (!w->open) return;
	w->open = false;
	if (w->failed) return;
	uint64_t len = w->len - w->section_start - SECTION_HDR;
	memcpy(w->buf + w->section_start + STATE_NAME_LEN + 4, &len, 8);
	uint32_t crc = (uint32_t)crc32(0L, w->buf + w->section_start, (uInt)(w->len - w->section_start));
	state_put_bytes(w, &crc, 4);
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
	state_put_bytes(w, &v, 1);
}
void state_put_u16(struct state_writer *w, uint16_t v)
{
	state_put_bytes(w, &v, 2);
}
void state_put_u32(struct state_writer *w, uint32_t v)
{
	state_put_bytes(w, &v, 4);
}
void state_put_u64(struct state_writer *w, uint64_t v)
{
	state_put_bytes(w, &v, 8);
}
void state_put_bool(struct state_writer *w, bool v)
{
	state_put_u8(w, v ? 1 : 0);
}
void state_put_str(struct state_writer *w, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	state_put_u32(w, n);
	state_put_bytes(w, s, n);
}

void state_fail(struct state_reader *r, const char *fmt, ...)
{
	if (r->failed) return;
	r->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

bool state_reader_open(struct state_reader *r, const void *buf, size_t len)
{
	*r = (struct state_reader){.buf = buf, .len = len};
	if (len < STATE_HEADER_LEN || memcmp(buf, STATE_MAGIC, 8) != 0) {
		state_fail(r, "not a cloison state file (bad magic)");
		return false;
	}
	uint32_t version;
	memcpy(&version, r->buf + 8, 4);
	if (version != STATE_FORMAT_VERSION) {
		state_fail(r, "state format version %u is not supported (this cloison reads version %u)",
		           version, STATE_FORMAT_VERSION);
		return false;
	}
	r->pos = STATE_HEADER_LEN;
	return true;
}

const char *state_peek(struct state_reader *r, char out[STATE_NAME_LEN + 1])
{
	out[0] = 0;
	if (r->failed || r->len - r->pos < SECTION_HDR) return out;
	memcpy(out, r->buf + r->pos, STATE_NAME_LEN);
	out[STATE_NAME_LEN] = 0;
	return out;
}

uint32_t state_section(struct state_reader *r, const char *name, uint32_t max_version)
{
	if (r->failed) return 0;
	if (r->len - r->pos < SECTION_HDR) {
		state_fail(r, "state truncated before section '%s'", name);
		return 0;
	}
	const uint8_t *h = r->buf + r->pos;
	char found[STATE_NAME_LEN + 1];
	memcpy(found, h, STATE_NAME_LEN);
	found[STATE_NAME_LEN] = 0;
	for (size_t i = 0; i < STATE_NAME_LEN; i++) /* printable for the message */
		if (found[i] && (found[i] < 0x20 || found[i] > 0x7e)) found[i] = '?';
	if (strcmp(found, name) != 0) {
		state_fail(r, "expected section '%s', found '%.16s'", name, found);
		return 0;
	}
	uint32_t version;
	uint64_t len;
	memcpy(&version, h + STATE_NAME_LEN, 4);
	memcpy(&len, h + STATE_NAME_LEN + 4, 8);
	if (len > r->len - r->pos - SECTION_HDR || r->len - r->pos - SECTION_HDR - len < 4) {
		state_fail(r, "section '%s' is truncated", name);
		return 0;
	}
	uint32_t crc, want = (uint32_t)crc32(0L, h, (uInt)(SECTION_HDR + len));
	memcpy(&crc, h + SECTION_HDR + len, 4);
	if (crc != want) {
		state_fail(r, "section '%s' is corrupt (checksum mismatch)", name);
		return 0;
	}
	if (version < 1 || version > max_version) {
		state_fail(r, "section '%s' has version %u; this cloison reads up to version %u", name,
		           version, max_version);
		return 0;
	}
	memcpy(r->sec_name, found, sizeof(r->sec_name));
	r->sec_version = version;
	r->sec = h + SECTION_HDR;
	r->sec_len = len;
	r->sec_pos = 0;
	r->pos += SECTION_HDR + len + 4;
	return version;
}

bool state_section_done(struct state_reader *r)
{
	if (!r->failed && r->sec_pos != r->sec_len)
		state_fail(r, "section '%s' has %zu unexpected trailing bytes", r->sec_name,
		           r->sec_len - r->sec_pos);
	r->sec = NULL;
	r->sec_len = r->sec_pos = 0;
	return !r->failed;
}

void state_get_bytes(struct state_reader *r, void *p, size_t n)
{
	if (!r->failed && (!r->sec || r->sec_len - r->sec_pos < n))
		state_fail(r, "section '%s' is shorter than its fields", r->sec_name);
	if (r->failed) {
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->sec + r->sec_pos, n);
	r->sec_pos += n;
}

uint8_t state_get_u8(struct state_reader *r)
{
	uint8_t v;
	state_get_bytes(r, &v, 1);
	return v;
}
uint16_t state_get_u16(struct state_reader *r)
{
	uint16_t v;
	state_get_bytes(r, &v, 2);
	return v;
}
uint32_t state_get_u32(struct state_reader *r)
{
	uint32_t v;
	state_get_bytes(r, &v, 4);
	return v;
}
uint64_t state_get_u64(struct state_reader *r)
{
	uint64_t v;
	state_get_bytes(r, &v, 8);
	return v;
}
bool state_get_bool(struct state_reader *r)
{
	uint8_t v = state_get_u8(r);
	if (v > 1) state_fail(r, "section '%s': a flag holds %u", r->sec_name, v);
	return v == 1;
}

void state_get_str(struct state_reader *r, char *out, size_t outlen)
{
	uint32_t n = state_get_u32(r);
	out[0] = 0;
	if (r->failed) return;
	if (n >= outlen) {
		state_fail(r, "section '%s': a string of %u bytes is too long", r->sec_name, n);
		return;
	}
	state_get_bytes(r, out, n);
	out[r->failed ? 0 : n] = 0;
	if (!r->failed && strlen(out) != n) state_fail(r, "section '%s': a string holds a NUL", r->sec_name);
}

uint64_t state_get_range(struct state_reader *r, uint64_t lo, uint64_t hi, const char *what)
{
	uint64_t v = state_get_u64(r);
	if (!r->failed && (v < lo || v > hi)) {
		state_fail(r, "section '%s': %s = %llu is out of range [%llu, %llu]", r->sec_name, what,
		           (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
		return lo;
	}
	return v;
}
