/*
 * console.c — see console.h.
 *
 * With a terminal on stdin, it is switched to raw mode so every key reaches
 * the guest (Ctrl-C included), and Ctrl-A is the escape: Ctrl-A x quits,
 * Ctrl-A h prints help, Ctrl-A c switches the keyboard between the UART
 * (ttyS0) and the virtio console (hvc0), Ctrl-A Ctrl-A sends one Ctrl-A. With a pipe, bytes
 * pass through untouched and end of input simply stops reading.
 */
#define _GNU_SOURCE
#include "console.h"

#include "util/log.h"
#include "util/unix_socket.h"
#include "util/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define ESCAPE_KEY 0x01 /* Ctrl-A */
#define LOG_MAX (4 << 20)

struct console {
	int in_fd, out_fd;
	bool is_tty, eof, escape;
	struct termios saved;
	uint8_t pending[4096]; /* input the UART could not take yet */
	size_t npending;
	/* Server mode. */
	int log_fd, listen_fd, client_fd; /* -1: none */
	char log_path[4096], sock_path[108];
	off_t log_size;
	pthread_mutex_t lock; /* guards log_fd, log_size and client_fd (the guest writes from hart threads) */
};

/* The terminal a console put in raw mode, for console_restore_terminal (one console per process). */
static volatile sig_atomic_t raw_fd = -1;
static struct termios raw_saved;

struct console *console_open(int in_fd, int out_fd)
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c) return NULL;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->log_fd = c->listen_fd = c->client_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->is_tty = tty_raw(in_fd, &c->saved);
	if (c->is_tty) {
		raw_saved = c->saved;
		atomic_signal_fence(memory_order_release); /* a handler that sees raw_fd sees raw_saved */
		raw_fd = in_fd;
	}
	return c;
}

void console_restore_terminal(void)
{
	if (raw_fd >= 0) tty_restore(raw_fd, &raw_saved); /* a tcsetattr: async-signal-safe */
}

struct console *console_open_server(const char *sock_path, const char *log_path, char *err, size_t errlen)
{
	struct console *c = console_open(-1, -1);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->eof = true; /* no keyboard but the client's */
	if (log_path) {
		snprintf(c->log_path, sizeof(c->log_path), "%s", log_path);
		c->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		struct stat st;
		if (c->log_fd < 0 || fstat(c->log_fd, &st)) {
			snprintf(err, errlen, "cannot open the console log %s: %s", log_path,
			         strerror(errno));
			console_close(c);
			return NULL;
		}
		c->log_size = st.st_size;
	}
	if (sock_path) {
		/* ours to replace: whoever started this VM named it */
		c->listen_fd = unix_listen(sock_path, 0600, 4, SOCK_NONBLOCK, err, errlen);
		if (c->listen_fd < 0) { /* (also when longer than sock_path: sun_path has the same size) */
			console_close(c);
			return NULL;
		}
		strcpy(c->sock_path, sock_path);
	}
	return c;
}

void console_close(struct console *c)
{
	if (!c) return;
	if (c->is_tty) {
		raw_fd = -1;
		tty_restore(c->in_fd, &c->saved);
	}
	if (c->log_fd >= 0) close(c->log_fd);
	if (c->client_fd >= 0) close(c->client_fd);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->sock_path);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR) continue;
			return; /* the reader went away: the guest keeps running */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Appends to the log, moving it to PATH.1 once it passed LOG_MAX (lock held). */
static void log_output(struct console *c, const uint8_t *buf, size_t len)
{
	if (c->log_size + (off_t)len > LOG_MAX) {
		char old[sizeof(c->log_path) + 2];
		snprintf(old, sizeof(old), "%s.1", c->log_path);
		int fd = rename(c->log_path, old) == 0
		             ? open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
		             : -1;
		if (fd >= 0) {
			close(c->log_fd);
			c->log_fd = fd;
			c->log_size = 0;
		}
	}
	write_all(c->log_fd, buf, len);
	c->log_size += (off_t)len;
}

void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;
	if (c->out_fd >= 0) write_all(c->out_fd, buf, len);
	if (c->log_fd < 0 && c->listen_fd < 0) return;
	pthread_mutex_lock(&c->lock);
	if (c->log_fd >= 0) log_output(c, buf, len);
	/* A client that does not keep up loses output rather than stall the guest. */
	if (c->client_fd >= 0 && send(c->client_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN && errno != EINTR) {
		close(c->client_fd);
		c->client_fd = -1;
	}
	pthread_mutex_unlock(&c->lock);
}

static void help(struct console *c)
{
	static const char text[] =
	    "\r\nC-a x    exit cloison\r\nC-a c    switch the keyboard between ttyS0 and hvc0\r\n"
	    "C-a h    this help\r\nC-a C-a  send C-a\r\n";
	write_all(c->out_fd, (const uint8_t *)text, sizeof(text) - 1);
}

/* Interprets the escape sequence; returns true to quit. Leaves bytes for the guest in out. */
static bool filter_escape(struct console *c, struct machine *m, const uint8_t *in, size_t n, uint8_t *out,
                          size_t *nout)
{
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];
		if (c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				static const char bye[] = "\r\n[cloison: exit]\r\n";
				write_all(c->out_fd, (const uint8_t *)bye, sizeof(bye) - 1);
				return true;
			}
			if (b == 'h' || b == 'H' || b == '?') {
				help(c);
			} else if (b == 'c' || b == 'C') {
				char msg[64];
				int len = snprintf(msg, sizeof(msg), "\r\n[cloison: keyboard -> %s]\r\n",
				                   machine_console_switch(m));
				write_all(c->out_fd, (const uint8_t *)msg, (size_t)len);
			} else if (b == ESCAPE_KEY)
				out[(*nout)++] = b;
			continue;
		}
		if (b == ESCAPE_KEY) {
			c->escape = true;
			continue;
		}
		out[(*nout)++] = b;
	}
	return false;
}

static void flush_pending(struct console *c, struct machine *m)
{
	if (!c->npending) return;
	size_t n = machine_console_input(m, c->pending, c->npending);
	memmove(c->pending, c->pending + n, c->npending - n);
	c->npending -= n;
}

/* A client knocks: it becomes the keyboard, unless one is attached already. */
static void accept_client(struct console *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) return;
	pthread_mutex_lock(&c->lock);
	if (c->client_fd >= 0) {
		static const char busy[] = "cloison: the console is in use by another client\r\n";
		send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
	} else {
		c->client_fd = fd;
	}
	pthread_mutex_unlock(&c->lock);
}

static void drop_client(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->client_fd >= 0) close(c->client_fd);
	c->client_fd = -1;
	pthread_mutex_unlock(&c->lock);
}

bool console_poll(struct console *c, struct machine *m, int timeout_ms)
{
	flush_pending(c, m);
	bool can_read = c->npending == 0;
	struct pollfd p[3];
	int n = 0, in = -1, lis = -1, cli = -1;
	if (can_read && !c->eof) p[in = n++] = (struct pollfd){.fd = c->in_fd, .events = POLLIN};
	if (c->listen_fd >= 0) p[lis = n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
	int client = c->client_fd; /* only this thread closes or replaces it */
	if (client >= 0) p[cli = n++] = (struct pollfd){.fd = client, .events = can_read ? POLLIN : 0};
	if (poll(p, (nfds_t)n, timeout_ms) <= 0) return false;
	if (lis >= 0 && (p[lis].revents & POLLIN)) accept_client(c);
	uint8_t buf[sizeof(c->pending)];
	if (cli >= 0 && (p[cli].revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t r = read(client, buf, sizeof(buf));
		if (r <= 0) {
			if (r == 0 || (errno != EINTR && errno != EAGAIN)) drop_client(c);
			return false;
		}
		memcpy(c->pending, buf, (size_t)r);
		c->npending = (size_t)r;
		flush_pending(c, m);
		return false;
	}
	if (in < 0 || !(p[in].revents & (POLLIN | POLLHUP))) return false;
	ssize_t r = read(c->in_fd, buf, sizeof(buf));
	if (r <= 0) {
		if (r == 0 || (errno != EINTR && errno != EAGAIN)) c->eof = true;
		return false;
	}
	size_t keep = (size_t)r;
	if (c->is_tty && filter_escape(c, m, buf, (size_t)r, buf, &keep)) return true;
	memcpy(c->pending, buf, keep);
	c->npending = keep;
	flush_pending(c, m);
	return false;
}
