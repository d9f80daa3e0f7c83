/*
 * fuzz_layer.c — libFuzzer harness for unpacking root filesystem tars
 * (daemon/layer.c: rootfs tarballs and OCI layers, whiteouts included). The
 * input is written to a file and unpacked as an OCI layer into a fresh
 * directory inside a sandbox directory; whatever it holds, nothing may appear
 * in the sandbox beside that directory, and a sentinel directory a symlink
 * could point at stays as it was.
 */
#define _GNU_SOURCE
#include "daemon/layer.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char sandbox[64];

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d) closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sandbox[0]) {
		snprintf(sandbox, sizeof(sandbox), "/tmp/fuzz-layer-XXXXXX");
		if (!mkdtemp(sandbox)) abort();
		char p[128];
		snprintf(p, sizeof(p), "%s/sentinel", sandbox); /* seeds point symlinks here */
		if (mkdir(p, 0755)) abort();
		snprintf(p, sizeof(p), "%s/sentinel/keep", sandbox);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);
		if (fd < 0) abort();
		close(fd);
	}
	char tar[128], root[128], err[512];
	snprintf(tar, sizeof(tar), "%s/input.tar", sandbox);
	snprintf(root, sizeof(root), "%s/root", sandbox);
	int fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) abort();
	close(fd);
	if (mkdir(root, 0755)) abort();
	/* Twice: the second pass meets what the first left (whiteouts over real files, links to them). */
	layer_unpack(tar, root, LAYER_OCI, NULL, err, sizeof(err));
	layer_unpack(tar, root, LAYER_OCI, NULL, err, sizeof(err));
	char keep[128];
	snprintf(keep, sizeof(keep), "%s/sentinel", sandbox);
	if (entries(sandbox) != 3 || entries(keep) != 1) abort(); /* input.tar, root, sentinel; keep */
	fs_remove_tree(root);
	return 0;
}
