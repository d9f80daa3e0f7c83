/*
 * fuzz_vmstate.c — libFuzzer harness for the snapshot loader: the input is
 * a vmstate file (header, JSON configuration, every component's section),
 * loaded into one small VM built at start-up. Whatever the bytes, loading
 * must fail with a message or succeed with in-range state; never crash.
 * With CLOISON_FUZZ_SEED_DIR set, start-up writes a valid vmstate of that VM
 * there as a seed.
 */
#include "vm/vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static struct vm *vm;

static void discard(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque, (void)buf, (void)len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rv_init_tables();
	/* With a display: its GPU (resources, pixels, backing) and input queues are in the state too. */
	struct vm_config cfg = {.mem = 16 << 20,
	                        .cpus = 2,
	                        .rng = true,
	                        .vconsole = true,
	                        .display_width = 320,
	                        .display_height = 200};
	char err[256];
	vm = vm_create(&cfg, NULL, discard, NULL, err, sizeof(err));
	if (!vm) {
		fprintf(stderr, "fuzz_vmstate: %s\n", err);
		abort();
	}
	const char *dir = getenv("CLOISON_FUZZ_SEED_DIR");
	if (dir) {
		machine_hold(vm->m);
		struct state_writer w;
		if (vm_state_blob(vm, &w, err, sizeof(err))) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/valid", dir);
			FILE *f = fopen(path, "wb");
			if (f) {
				fwrite(w.buf, 1, w.len, f);
				fclose(f);
			}
			state_writer_free(&w);
		}
	}
	return 0;
}

/* Recomputes each section's checksum, so mutations reach the field checks behind it. */
static void fix_checksums(uint8_t *p, size_t size)
{
	size_t pos = STATE_HEADER_LEN;
	while (size - pos >= STATE_NAME_LEN + 12 && pos < size) {
		uint64_t len;
		memcpy(&len, p + pos + STATE_NAME_LEN + 4, 8);
		size_t hdr = STATE_NAME_LEN + 12;
		if (len > size - pos - hdr || size - pos - hdr - len < 4) return;
		uint32_t crc = (uint32_t)crc32(0L, p + pos, (uInt)(hdr + len));
		memcpy(p + pos + hdr + len, &crc, 4);
		pos += hdr + len + 4;
	}
}

static void load(const uint8_t *data, size_t size)
{
	char err[512];
	err[0] = 0;
	if (!vm_load_state_blob(vm, data, size, err, sizeof(err)) && !err[0])
		abort(); /* a failure says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size);
	if (size < STATE_HEADER_LEN) return 0;
	uint8_t *copy = malloc(size);
	memcpy(copy, data, size);
	fix_checksums(copy, size);
	load(copy, size);
	free(copy);
	return 0;
}
