/*
 * monitor.c — cloisond's process monitor: one thread polls the pidfds of
 * every VM process and container init and hands each end to the instance's
 * driver; an eventfd wakes it when the set of processes changed.
 */
#define _GNU_SOURCE
#include "daemon/daemon.h"
#include "daemon/driver.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

void daemon_wake_monitor(struct daemon *d)
{
	uint64_t one = 1;
	if (write(d->monitor_wake, &one, sizeof(one)) < 0) {
	}
}

/* Watches the pidfds of VM processes and container inits, and records each end. */
static void *monitor_thread(void *arg)
{
	struct daemon *d = arg;
	for (;;) {
		pthread_mutex_lock(&d->lock);
		size_t n = 0, cap = d->ninsts + 1;
		struct pollfd *p = calloc(cap, sizeof(*p));
		struct instance **who = calloc(cap, sizeof(*who));
		if (p && who) {
			p[n++] = (struct pollfd){d->monitor_wake, POLLIN, 0};
			for (size_t i = 0; i < d->ninsts; i++) {
				struct instance *in = d->insts[i];
				if (in->pidfd < 0) continue;
				inst_get(in);
				who[n] = in;
				p[n++] = (struct pollfd){in->pidfd, POLLIN, 0};
			}
		}
		pthread_mutex_unlock(&d->lock);
		if (!p || !who) {
			free(p);
			free(who);
			sleep(1);
			continue;
		}
		poll(p, n, 1000);
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(d->monitor_wake, &v, sizeof(v)) < 0) {
			}
		}
		pthread_mutex_lock(&d->lock);
		for (size_t i = 1; i < n; i++) {
			struct instance *in = who[i];
			if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && in->pidfd == p[i].fd) {
				inst_driver(in)->exited(d, in);
			}
			inst_put(in);
		}
		pthread_mutex_unlock(&d->lock);
		free(p);
		free(who);
	}
	return NULL;
}

bool daemon_monitor_init(struct daemon *d, char *err, size_t errlen)
{
	d->monitor_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->monitor_wake >= 0) return true;
	snprintf(err, errlen, "eventfd: %s", strerror(errno));
	return false;
}

void daemon_monitor_start(struct daemon *d)
{
	pthread_t t;
	pthread_create(&t, NULL, monitor_thread, d);
	pthread_detach(t);
}
