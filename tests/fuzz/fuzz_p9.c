/*
 * fuzz_p9.c — libFuzzer harness for the 9P2000.L server (fs/p9.c), which
 * parses what an untrusted guest sends: the input is a flag byte (read-only
 * share or not) and then 9P messages back to back (each starts with its own
 * size; a size beyond the input takes the rest). They are served in order
 * over a scratch directory with a file, a subdirectory and a symbolic link
 * pointing out of it; nothing outside the directory may change and nothing
 * may crash.
 */
#include "fs/p9.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], outside[80];

static void make_tree(void)
{
	char p[128];
	snprintf(dir, sizeof(dir), "/tmp/fuzz-p9-%d", (int)getpid());
	snprintf(outside, sizeof(outside), "%s-outside", dir);
	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/file", dir);
	FILE *f = fopen(p, "w");
	if (f) fputs("data\n", f), fclose(f);
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/link", dir);
	symlink(outside, p);
	f = fopen(outside, "w");
	if (f) fputs("keep\n", f), fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) make_tree();
	if (size < 1) return 0;
	static struct p9_server s;
	static uint8_t reply[P9_MAX_MSIZE];
	char err[256];
	if (!p9_server_open(&s, dir, data[0] & 1, err, sizeof(err))) abort();
	size_t at = 1;
	while (at + 7 <= size) {
		uint32_t n;
		memcpy(&n, data + at, 4);
		if (n < 7 || n > size - at) n = (uint32_t)(size - at);
		size_t cap =
		    (data[0] & 2) ? 64 : sizeof(reply); /* small reply buffers, as Linux sizes them */
		size_t r = p9_handle(&s, data + at, n, reply, cap);
		if (r > cap) abort();
		at += n;
	}
	p9_server_close(&s);
	struct stat st;
	if (stat(outside, &st) != 0 || st.st_size != 5) abort(); /* the file outside is untouched */
	return 0;
}
