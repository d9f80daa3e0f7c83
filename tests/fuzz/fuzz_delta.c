/*
 * fuzz_delta.c — libFuzzer harness for the disk delta format (block/delta.h),
 * which a replica host receives from a peer: bytes checked as a delta; one
 * accepted (one small disk) is applied to a replica file in a scratch
 * directory, and applying must succeed: the check said it is whole.
 */
#include "block/delta.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (!delta_check(data, size, err, sizeof(err))) {
		if (!err[0]) abort(); /* a refusal says why */
		return 0;
	}
	uint32_t ndisks;
	memcpy(&ndisks, data + 8, 4);
	char dir[] = "/tmp/fuzz-delta-XXXXXX", path[64];
	if (!mkdtemp(dir)) return 0;
	snprintf(path, sizeof(path), "%s/in.delta", dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fwrite(data, 1, size, f);
		fclose(f);
	}
	struct delta_stats st;
	/* Declared sizes can be large (sparse files): apply one small disk. */
	uint64_t first_size = 0;
	if (ndisks) memcpy(&first_size, data + 16, 8);
	if (ndisks == 1 && first_size < (64u << 20) && !delta_apply(path, dir, &st, err, sizeof(err)))
		abort();
	for (uint32_t d = 0; d < ndisks; d++) {
		char disk[80];
		snprintf(disk, sizeof(disk), "%s/disk%u.raw", dir, d);
		unlink(disk);
	}
	unlink(path);
	rmdir(dir);
	return 0;
}
