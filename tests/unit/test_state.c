/*
 * test_state.c — the state API (util/state), the dirty-page log, the HTTP
 * request parser and a hart's architectural state through a snapshot
 * section.
 */
#include "check.h"

#include "cpu/riscv/hart.h"
#include "util/dirty_log.h"
#include "util/state.h"
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

static void write_sample(struct state_writer *w)
{
	state_writer_init(w);
	state_begin(w, "alpha", 2);
	state_put_u8(w, 0xab);
	state_put_u16(w, 0xbeef);
	state_put_u32(w, 0xdeadbeef);
	state_put_u64(w, 0x0123456789abcdefULL);
	state_put_bool(w, true);
	state_put_str(w, "hello");
	state_end(w);
	state_begin(w, "beta", 1);
	state_put_u64(w, 42);
	state_end(w);
}

static void test_round_trip(void)
{
	struct state_writer w;
	write_sample(&w);
	CHECK(!w.failed);
	struct state_reader r;
	CHECK(state_reader_open(&r, w.buf, w.len));
	char name[STATE_NAME_LEN + 1];
	CHECK(!strcmp(state_peek(&r, name), "alpha"));
	CHECK_EQ(state_section(&r, "alpha", 3), 2);
	CHECK_EQ(state_get_u8(&r), 0xab);
	CHECK_EQ(state_get_u16(&r), 0xbeef);
	CHECK_EQ(state_get_u32(&r), 0xdeadbeef);
	CHECK_EQ(state_get_u64(&r), 0x0123456789abcdefULL);
	CHECK(state_get_bool(&r));
	char s[16];
	state_get_str(&r, s, sizeof(s));
	CHECK(!strcmp(s, "hello"));
	CHECK(state_section_done(&r));
	CHECK_EQ(state_section(&r, "beta", 1), 1);
	CHECK_EQ(state_get_range(&r, 0, 100, "answer"), 42);
	CHECK(state_section_done(&r));
	CHECK_EQ(r.pos, w.len);
	state_writer_free(&w);
}

static void test_refusals(void)
{
	struct state_writer w;
	write_sample(&w);
	struct state_reader r;
	char name[STATE_NAME_LEN + 1];
	/* Wrong section name, version too new, leftover bytes, reading past the end, a range violation. */
	state_reader_open(&r, w.buf, w.len);
	CHECK_EQ(state_section(&r, "beta", 1), 0);
	CHECK(r.failed && strstr(r.err, "expected section 'beta'"));
	state_reader_open(&r, w.buf, w.len);
	CHECK_EQ(state_section(&r, "alpha", 1), 0);
	CHECK(strstr(r.err, "version 2"));
	state_reader_open(&r, w.buf, w.len);
	state_section(&r, "alpha", 2);
	state_get_u8(&r);
	CHECK(!state_section_done(&r) && strstr(r.err, "trailing"));
	state_reader_open(&r, w.buf, w.len);
	state_section(&r, "alpha", 2);
	r.sec_pos = r.sec_len; /* skip */
	state_section_done(&r);
	state_section(&r, "beta", 1);
	state_get_u64(&r);
	CHECK_EQ(state_get_u64(&r), 0); /* past the end: zero and failed */
	CHECK(r.failed && strstr(r.err, "shorter"));
	state_reader_open(&r, w.buf, w.len);
	state_section(&r, "alpha", 2);
	state_section_done(&r); /* not consumed: fails */
	state_reader_open(&r, w.buf, w.len);
	state_section(&r, "alpha", 2);
	r.sec_pos = r.sec_len; /* skip */
	state_section_done(&r);
	state_section(&r, "beta", 1);
	state_get_range(&r, 0, 41, "answer");
	CHECK(r.failed && strstr(r.err, "out of range"));
	/* Every single-bit flip is caught by the header or a checksum. */
	unsigned caught = 0, total = 0;
	for (size_t byte = 0; byte < w.len; byte++)
		for (unsigned bit = 0; bit < 8; bit++) {
			w.buf[byte] ^= (uint8_t)(1u << bit);
			bool ok = state_reader_open(&r, w.buf, w.len) && state_section(&r, "alpha", 2);
			if (ok) {
				r.sec_pos = r.sec_len;
				state_section_done(&r);
				ok = state_section(&r, "beta", 1) != 0;
			}
			caught += !ok;
			total++;
			w.buf[byte] ^= (uint8_t)(1u << bit);
		}
	/* Flips in the header's reserved flags word are the only ones allowed through. */
	CHECK_EQ(caught, total - 32);
	/* Truncations at every length fail. */
	unsigned trunc_ok = 0;
	for (size_t len = 0; len < w.len; len++) {
		bool ok = state_reader_open(&r, w.buf, len) && state_section(&r, "alpha", 2);
		if (ok) {
			r.sec_pos = r.sec_len;
			state_section_done(&r);
			ok = state_section(&r, "beta", 1) != 0;
		}
		trunc_ok += ok;
	}
	CHECK_EQ(trunc_ok, 0);
	CHECK(strcmp(state_peek(&r, name), "") == 0 || r.failed);
	state_writer_free(&w);
}

static void test_dirty_log(void)
{
	static uint8_t ram[64 * 4096];
	struct dirty_log d;
	CHECK(dirty_log_init(&d, ram, sizeof(ram)));
	uint64_t out[1];
	dirty_log_mark(&d, 0, 4096); /* inactive: ignored */
	CHECK_EQ(dirty_log_harvest(&d, out), 0);
	dirty_log_start(&d);
	CHECK_EQ(dirty_log_harvest(&d, out), 64);
	CHECK_EQ(out[0], ~0ULL);
	dirty_log_mark(&d, 4095, 2);                 /* straddles pages 0 and 1 */
	dirty_log_mark_host(&d, ram + 63 * 4096, 1); /* last page */
	dirty_log_mark(&d, 64 * 4096, 4096);         /* past the end: ignored */
	CHECK_EQ(dirty_log_harvest(&d, out), 3);
	CHECK_EQ(out[0], 3ULL | 1ULL << 63);
	CHECK_EQ(dirty_log_harvest(&d, out), 0);
	dirty_log_free(&d);
}

static void test_http(void)
{
	struct http_request req;
	int status;
	const char *why;
	const char *ok = "POST /vm/save HTTP/1.1\r\nHost: x\r\ncontent-length: 4\r\n\r\n{}  ";
	CHECK_EQ(http_parse_request(ok, strlen(ok), &req, &status, &why), HTTP_COMPLETE);
	CHECK(!strcmp(req.method, "POST") && !strcmp(req.path, "/vm/save") && req.body_len == 4);
	CHECK_EQ(http_parse_request(ok, strlen(ok) - 1, &req, &status, &why), HTTP_INCOMPLETE);
	CHECK_EQ(http_parse_request(ok, 20, &req, &status, &why), HTTP_INCOMPLETE);
	static const struct {
		const char *req;
		int status;
	} bad[] = {
	    {"GET vm HTTP/1.1\r\n\r\n", 400},
	    {"GET /vm HTTP/2\r\n\r\n", 400},
	    {"get /vm HTTP/1.1\r\n\r\n", 400},
	    {"GET /vm HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
	    {"GET /vm HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
	    {"GET /vm HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413},
	    {"GET /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
	    {"GET /vm HTTP/1.1\r\nno colon\r\n\r\n", 400},
	    {"LONGMETHOD /vm HTTP/1.1\r\n\r\n", 501},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		status = 0;
		CHECK_EQ(http_parse_request(bad[i].req, strlen(bad[i].req), &req, &status, &why), HTTP_BAD);
		CHECK_EQ(status, bad[i].status);
	}
	char big[HTTP_MAX_HEADER + 10];
	memset(big, 'a', sizeof(big));
	CHECK_EQ(http_parse_request(big, sizeof(big), &req, &status, &why), HTTP_BAD);
	CHECK_EQ(status, 431);
}

static bool no_mmio_read(void *o, uint64_t a, unsigned s, uint64_t *v)
{
	(void)o, (void)a, (void)s, (void)v;
	return false;
}
static bool no_mmio_write(void *o, uint64_t a, unsigned s, uint64_t v)
{
	(void)o, (void)a, (void)s, (void)v;
	return false;
}
static uint64_t no_time(void *o)
{
	(void)o;
	return 0;
}

/* Saves hart a into a fresh writer w and opens its section in r, for rv_hart_load. */
static void hart_round_trip(struct rv_hart *a, struct state_writer *w, struct state_reader *r)
{
	state_writer_free(w);
	state_writer_init(w);
	state_begin(w, "hart", RV_HART_STATE_VERSION);
	rv_hart_save(a, w);
	state_end(w);
	state_reader_open(r, w->buf, w->len);
	state_section(r, "hart", RV_HART_STATE_VERSION);
}

static void test_hart_state(void)
{
	static uint8_t ram[1 << 16];
	struct rv_bus bus = {.ram = ram,
	                     .ram_base = 0x80000000,
	                     .ram_size = sizeof(ram) - 4096,
	                     .mmio_read = no_mmio_read,
	                     .mmio_write = no_mmio_write,
	                     .read_time = no_time};
	static struct rv_hart a, b;
	CHECK(rv_hart_init(&a, 0, &bus) && rv_hart_init(&b, 0, &bus));
	for (unsigned i = 1; i < 32; i++) a.x[i] = 0x1111 * i, a.f[i] = ~(uint64_t)i;
	a.pc = 0x80001234;
	a.priv = RV_PRIV_S;
	a.satp = 8ULL << 60 | 0x80010;
	a.stimecmp = 777;
	a.frm = 3;
	atomic_store(&a.mtimecmp, 999);
	a.vtype = 0x1a; /* e64, m4 */
	a.vl = 7;
	a.vxrm = 2;
	for (unsigned i = 0; i < sizeof(a.vreg); i++) a.vreg[i] = (uint8_t)(i * 7);
	a.tselect = 1;
	a.tdata1[1] = 2ULL << 60 | 1u << 6 | 2; /* mcontrol, M-mode stores */
	a.tdata2[1] = 0x80004000;
	a.virt = true; /* VS-mode, with hypervisor state (section version 3) */
	a.hgatp = 8ULL << 60 | 5ULL << 44 | 0x80100;
	a.vsatp = 9ULL << 60 | 0x80200;
	a.hideleg = 0x444;
	a.htimedelta = 12345;
	a.vsepc = 0x80005000;
	a.mtval2 = 0x20000000;
	struct state_writer w;
	struct state_reader r;
	state_writer_init(&w);
	hart_round_trip(&a, &w, &r);
	rv_hart_load(&b, &r);
	CHECK(state_section_done(&r));
	CHECK_EQ(b.vtype, 0x1a);
	CHECK_EQ(b.vl, 7);
	CHECK_EQ(b.vxrm, 2);
	CHECK(!memcmp(a.vreg, b.vreg, sizeof(a.vreg)));
	CHECK_EQ(b.tselect, 1);
	CHECK_EQ(b.tdata2[1], 0x80004000);
	CHECK(b.trig_data && !b.trig_exec); /* armed again */
	CHECK(!memcmp(a.x, b.x, sizeof(uint64_t) * 32) && !memcmp(a.f, b.f, sizeof(a.f)));
	CHECK_EQ(b.pc, a.pc);
	CHECK_EQ(b.priv, RV_PRIV_S);
	CHECK_EQ(b.satp, a.satp);
	CHECK_EQ(b.stimecmp, 777);
	CHECK_EQ(b.frm, 3);
	CHECK_EQ(atomic_load(&b.mtimecmp), 999);
	CHECK(b.virt);
	CHECK_EQ(b.hgatp, a.hgatp);
	CHECK_EQ(b.vsatp, a.vsatp);
	CHECK_EQ(b.hideleg, 0x444);
	CHECK_EQ(b.htimedelta, 12345);
	CHECK_EQ(b.vsepc, 0x80005000);
	CHECK_EQ(b.mtval2, 0x20000000);
	/* V=1 in M-mode, or an hgatp mode that does not exist, is refused. */
	a.priv = RV_PRIV_M;
	hart_round_trip(&a, &w, &r);
	rv_hart_load(&b, &r);
	CHECK(r.failed && strstr(r.err, "V=1"));
	a.priv = RV_PRIV_S;
	a.hgatp = 10ULL << 60;
	hart_round_trip(&a, &w, &r);
	rv_hart_load(&b, &r);
	CHECK(r.failed && strstr(r.err, "hgatp"));
	a.hgatp = 0;
	a.virt = false;
	/* A privilege level that does not exist is refused and leaves the hart alone. */
	a.priv = 2;
	hart_round_trip(&a, &w, &r);
	b.pc = 0x80000000;
	rv_hart_load(&b, &r);
	CHECK(r.failed && strstr(r.err, "privilege"));
	CHECK_EQ(b.pc, 0x80000000);
	/* So is a vl beyond what vtype allows (e64, m4 at VLEN 128: 8), and a trigger no write makes. */
	a.priv = RV_PRIV_S;
	a.vl = 9;
	hart_round_trip(&a, &w, &r);
	rv_hart_load(&b, &r);
	CHECK(r.failed && strstr(r.err, "vector state"));
	a.vl = 8;
	a.tdata1[0] = 9ULL << 60;
	hart_round_trip(&a, &w, &r);
	rv_hart_load(&b, &r);
	CHECK(r.failed && strstr(r.err, "trigger"));
	state_writer_free(&w);
	rv_hart_destroy(&a);
	rv_hart_destroy(&b);
}

TEST_MAIN(test_round_trip, test_refusals, test_dirty_log, test_http, test_hart_state)
