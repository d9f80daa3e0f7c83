/*
 * state.h — the one state API: components serialize themselves into
 * versioned, named, checksummed sections and read them back with every
 * field bounds-checked.
 *
 * A state blob is a header ("CLVMSTAT", format version) followed by
 * sections: a 16-byte NUL-padded name, a u32 section version, a u64 payload
 * length, the payload, and a CRC-32 over all of it. docs/formats.md has
 * the layout. Readers never trust the blob: a short read, a bad checksum,
 * an unknown version or an out-of-range field sets an error message and
 * every later read returns zero, so loaders can read a whole section and
 * check once at the end.
 */
#ifndef CLOISON_STATE_H
#define CLOISON_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_MAGIC "CLVMSTAT"
#define STATE_FORMAT_VERSION 1
#define STATE_NAME_LEN 16
#define STATE_HEADER_LEN 16

struct state_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section_start; /* offset of the open section's header */
	bool open, failed;    /* failed: out of memory */
};

void state_writer_init(struct state_writer *w);
void state_writer_free(struct state_writer *w);
void state_begin(struct state_writer *w, const char *name, uint32_t version);
void state_end(struct state_writer *w);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bool(struct state_writer *w, bool v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);
/* A length-prefixed string. */
void state_put_str(struct state_writer *w, const char *s);

struct state_reader {
	const uint8_t *buf;
	size_t len, pos;
	const uint8_t *sec; /* payload of the current section */
	size_t sec_len, sec_pos;
	char sec_name[STATE_NAME_LEN + 1];
	uint32_t sec_version;
	bool failed;
	char err[256];
};

/* Checks the header. False (with r->err) if this is not a state blob or of another format version. */
bool state_reader_open(struct state_reader *r, const void *buf, size_t len);
/* Enters the next section, which must be called `name` and have a version in 1..max_version.
 * Returns the version, or 0 with r->err set. */
uint32_t state_section(struct state_reader *r, const char *name, uint32_t max_version);
/* The name of the next section without entering it ("" at the end or on error). */
const char *state_peek(struct state_reader *r, char out[STATE_NAME_LEN + 1]);
/* Leaves the current section; fails if the loader did not consume exactly all of it. */
bool state_section_done(struct state_reader *r);
uint8_t state_get_u8(struct state_reader *r);
uint16_t state_get_u16(struct state_reader *r);
uint32_t state_get_u32(struct state_reader *r);
uint64_t state_get_u64(struct state_reader *r);
bool state_get_bool(struct state_reader *r);
void state_get_bytes(struct state_reader *r, void *p, size_t n);
/* A length-prefixed string into out (at most outlen-1 bytes, NUL-terminated); longer fails. */
void state_get_str(struct state_reader *r, char *out, size_t outlen);
/* A u64 that must lie in [lo, hi]; `what` names it in the error. */
uint64_t state_get_range(struct state_reader *r, uint64_t lo, uint64_t hi, const char *what);
/* Marks the reader failed with a message (the first failure wins). */
void state_fail(struct state_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
