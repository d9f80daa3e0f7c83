/*
 * lease.c — see lease.h.
 */
#include "util/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool lease_open(struct lease *l, const char *path, char *err, size_t errlen)
{
	l->until = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || (st.st_size < (off_t)sizeof(uint64_t) && ftruncate(fd, 4096))) {
		snprintf(err, errlen, "lease file %.300s: %s", path, strerror(errno));
		if (fd >= 0) close(fd);
		return false;
	}
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "lease file %.300s: %s", path, strerror(errno));
		return false;
	}
	l->until = p;
	return true;
}

void lease_close(struct lease *l)
{
	if (l->until) munmap((void *)l->until, 4096);
	l->until = NULL;
}

void lease_wait(const struct lease *l, const _Atomic int *stop)
{
	while (!lease_valid(l) && !(stop && atomic_load(stop)))
		nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
}

void lease_set(struct lease *l, uint64_t until_ns)
{
	if (l->until) atomic_store_explicit(l->until, until_ns, memory_order_release);
}
