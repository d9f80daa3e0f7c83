/*
 * test_board.c — the board's device table: every device kind's state goes
 * out through the table and comes back the same on a board built from the
 * same configuration; a disk that is not the one the guest saw is refused.
 * The boot loader: an ELF S-mode payload (U-Boot) after the firmware.
 */
#include "check.h"

#include "machine/boot.h"
#include "machine/machine.h"
#include "machine/stats.h"
#include "net/netdev.h"
#include "util/state.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MB (1ULL << 20)

static char disk_path[64];

static void make_disk(uint64_t size)
{
	strcpy(disk_path, "/tmp/cloison-board-XXXXXX");
	int fd = mkstemp(disk_path);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	close(fd);
}

static struct machine *board(void)
{
	struct machine_config c = {
	    .ram_size = 32 * MB, .nharts = 2, .rng = true, .vconsole = true, .ndisks = 1, .nnics = 1};
	c.disks[0] = (struct machine_disk){.path = disk_path, .format = "raw"};
	char err[512];
	net_config_defaults(&c.nics[0], NET_USER);
	c.nics[0].mac_set = true;
	memcpy(c.nics[0].mac, (uint8_t[]){0x52, 0x54, 0, 9, 8, 7}, 6);
	struct machine *m = machine_create(&c, err, sizeof(err));
	if (!m) fprintf(stderr, "  machine_create: %s\n", err);
	return m;
}

static void mmio_write(struct machine *m, uint64_t addr, unsigned size, uint64_t v)
{
	const struct rv_bus *b = &accel_emu_hart(m, 0)->bus;
	CHECK(b->mmio_write(b->opaque, addr, size, v));
}

/* The state blob of a held board. */
static struct state_writer save(struct machine *m)
{
	struct state_writer w;
	state_writer_init(&w);
	machine_save_state(m, &w);
	CHECK(!w.failed);
	return w;
}

/* Section names in order, and their payloads compared with another blob's (the "machine" section
 * holds the guest time, which runs on after a load: its other fields are compared). */
static unsigned compare_blobs(const struct state_writer *a, const struct state_writer *b, char names[][17])
{
	struct state_reader ra, rb;
	CHECK(state_reader_open(&ra, a->buf, a->len));
	CHECK(state_reader_open(&rb, b->buf, b->len));
	unsigned n = 0;
	char name[STATE_NAME_LEN + 1], other[STATE_NAME_LEN + 1];
	while (*state_peek(&ra, name) && n < 64) {
		CHECK(!strcmp(state_peek(&rb, other), name));
		uint32_t va = state_section(&ra, name, 100), vb = state_section(&rb, name, 100);
		CHECK(va && va == vb);
		CHECK_EQ(ra.sec_len, rb.sec_len);
		if (!strcmp(name,
		            "machine")) /* ram, harts, virtio count, then the time, then the input target */
			CHECK(ra.sec_len == 25 && !memcmp(ra.sec, rb.sec, 16) && ra.sec[24] == rb.sec[24]);
		else if (ra.sec_len == rb.sec_len && memcmp(ra.sec, rb.sec, ra.sec_len)) {
			fprintf(stderr, "  section %u (%s) differs\n", n, name);
			CHECK(!"the section came back the same");
		}
		ra.sec_pos = ra.sec_len, rb.sec_pos = rb.sec_len;
		CHECK(state_section_done(&ra) && state_section_done(&rb));
		strcpy(names[n++], name);
	}
	CHECK(!*state_peek(&rb, other));
	return n;
}

static void test_round_trip_through_the_table(void)
{
	make_disk(4 * MB);
	struct machine *m1 = board(), *m2 = NULL;
	CHECK(m1 != NULL);
	if (!m1) goto out;
	/* Devices with something to remember: UART registers, a PLIC priority, a new generation ID, a
	 * virtio driver part-way through initialising the first disk. */
	mmio_write(m1, VIRT_UART_BASE + 3, 1, 0x03);         /* LCR: 8N1 */
	mmio_write(m1, VIRT_UART_BASE + 1, 1, 0x01);         /* IER: receive interrupts */
	mmio_write(m1, VIRT_UART_BASE + 7, 1, 0x5a);         /* scratch */
	mmio_write(m1, VIRT_PLIC_BASE + 4 * 10, 4, 5);       /* priority of the UART's source */
	mmio_write(m1, machine_virtio_base(0) + 0x70, 4, 3); /* status: ACKNOWLEDGE | DRIVER */
	mmio_write(m1, machine_virtio_base(0) + 0x30, 4, 0); /* QueueSel */
	machine_new_generation(m1);
	machine_hold(m1);
	struct state_writer a = save(m1);
	machine_destroy(m1); /* it holds the disk's lock */
	m1 = NULL;

	m2 = board();
	CHECK(m2 != NULL);
	if (!m2) {
		state_writer_free(&a);
		goto out;
	}
	struct state_reader r;
	CHECK(state_reader_open(&r, a.buf, a.len));
	bool loaded = machine_load_state(m2, &r);
	CHECK(loaded);
	if (!loaded) fprintf(stderr, "  load: %s\n", r.err);
	machine_hold(m2);
	struct state_writer b = save(m2);
	char names[64][17];
	unsigned n = compare_blobs(&a, &b, names);
	/* Every kind of device with state is there: 2 harts, PLIC, UART, RTC, VM generation ID, and the
	 * four virtio devices (disk, NIC, entropy, console), in table order. */
	static const char *const expect[] = {"machine", "hart",   "hart",   "plic",   "uart",  "rtc",
	                                     "vmgenid", "virtio", "virtio", "virtio", "virtio"};
	CHECK_EQ(n, sizeof(expect) / sizeof(expect[0]));
	for (unsigned i = 0; i < n && i < sizeof(expect) / sizeof(expect[0]); i++)
		CHECK(!strcmp(names[i], expect[i]));
	state_writer_free(&b);

	/* A snapshot written before virtio devices kept their own state (version 1 sections: the transport
	 * alone, 40 bytes + 35 per queue) still loads. */
	struct state_writer v1;
	state_writer_init(&v1);
	CHECK(state_reader_open(&r, a.buf, a.len));
	char name[STATE_NAME_LEN + 1];
	unsigned downgraded = 0;
	while (*state_peek(&r, name)) {
		uint32_t version = state_section(&r, name, 100);
		size_t len = r.sec_len;
		if (!strcmp(name, "virtio")) {
			uint32_t nq;
			memcpy(&nq, r.sec + 4, 4);
			len = 40 + 35 * (size_t)nq;
			CHECK(len < r.sec_len); /* every virtio device here keeps state of its own */
			version = 1;
			downgraded++;
		}
		state_begin(&v1, name, version);
		state_put_bytes(&v1, r.sec, len);
		state_end(&v1);
		r.sec_pos = r.sec_len;
		CHECK(state_section_done(&r));
	}
	CHECK_EQ(downgraded, 4);
	machine_destroy(m2);
	m2 = board();
	CHECK(m2 != NULL);
	if (m2) {
		CHECK(state_reader_open(&r, v1.buf, v1.len));
		bool ok = machine_load_state(m2, &r);
		CHECK(ok);
		if (!ok) fprintf(stderr, "  version 1: %s\n", r.err);
	}
	state_writer_free(&v1);

	/* The same state on a board whose disk is not the one the guest saw is refused. */
	char first[64];
	strcpy(first, disk_path);
	machine_destroy(m2);
	m2 = NULL;
	make_disk(8 * MB);
	struct machine *m3 = board();
	CHECK(m3 != NULL);
	if (m3) {
		CHECK(state_reader_open(&r, a.buf, a.len));
		CHECK(!machine_load_state(m3, &r));
		CHECK(strstr(r.err, "is not the one opened here") != NULL);
		machine_destroy(m3);
	}
	unlink(disk_path);
	strcpy(disk_path, first);
	state_writer_free(&a);
out:
	machine_destroy(m1);
	machine_destroy(m2);
	unlink(disk_path);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	CHECK(f && fwrite(data, 1, len, f) == len);
	if (f) fclose(f);
}

/* An ELF64 RISC-V file with one PT_LOAD of 16 bytes ("payload!" twice) at paddr, 64 in memory. */
static void write_elf(const char *path, uint64_t paddr, uint64_t entry)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
		char data[16];
	} f = {0};
	memcpy(f.eh.e_ident, ELFMAG, SELFMAG);
	f.eh.e_ident[EI_CLASS] = ELFCLASS64, f.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	f.eh.e_machine = EM_RISCV, f.eh.e_entry = entry;
	f.eh.e_phoff = sizeof(Elf64_Ehdr), f.eh.e_phentsize = sizeof(Elf64_Phdr), f.eh.e_phnum = 1;
	f.ph.p_type = PT_LOAD, f.ph.p_paddr = paddr, f.ph.p_offset = offsetof(__typeof__(f), data);
	f.ph.p_filesz = 16, f.ph.p_memsz = 64;
	memcpy(f.data, "payload!payload!", 16);
	write_file(path, &f, sizeof(f));
}

static void test_elf_payload_after_firmware(void)
{
	make_disk(1 * MB);
	struct machine *m = board();
	CHECK(m);
	if (!m) return;
	char fw[] = "/tmp/cloison-fw-XXXXXX", k[] = "/tmp/cloison-elf-XXXXXX", err[256];
	close(mkstemp(fw)), close(mkstemp(k));
	write_file(fw, "FIRMWARE", 8);
	const uint64_t base = 0x80000000ULL;
	/* Dirty the payload's bss first: the loader zeroes it. */
	memset(m->ram + 2 * MB, 0xee, 128);
	write_elf(k, base + 2 * MB, base + 2 * MB + 8);
	struct boot_config cfg = {.firmware = fw, .kernel = k, .cmdline = "x"};
	CHECK(boot_load(m, &cfg, err, sizeof(err)) == 0);
	CHECK(!memcmp(m->ram, "FIRMWARE", 8));
	CHECK(!memcmp(m->ram + 2 * MB, "payload!payload!", 16));
	CHECK(m->ram[2 * MB + 16] == 0 && m->ram[2 * MB + 63] == 0 && m->ram[2 * MB + 64] == 0xee);
	CHECK_EQ(machine_hart_pc(m, 0), base); /* the firmware first ... */
	uint64_t info[4]; /* ... told (fw_dynamic_info, top 1 MiB) to go on at the ELF's entry in S-mode */
	memcpy(info, m->ram + m->ram_size - 1 * MB, sizeof(info));
	CHECK_EQ(info[0], 0x4942534fULL);
	CHECK_EQ(info[2], base + 2 * MB + 8);
	CHECK_EQ(info[3], 1);
	/* A segment over the firmware's 2 MiB, or no Image and no ELF: clear refusals. */
	write_elf(k, base + 1 * MB, base + 1 * MB);
	CHECK(boot_load(m, &cfg, err, sizeof(err)) == -1 && strstr(err, "overlaps the firmware"));
	write_file(k, "neither an Image nor an ELF, just text that is long enough to be looked at.", 72);
	CHECK(boot_load(m, &cfg, err, sizeof(err)) == -1 &&
	      strstr(err, "neither a RISC-V Linux kernel Image"));
	unlink(fw), unlink(k), unlink(disk_path);
	machine_destroy(m);
}

TEST_MAIN(test_round_trip_through_the_table, test_elf_payload_after_firmware)
