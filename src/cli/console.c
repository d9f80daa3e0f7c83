/*
 * console.c — see console.h.
 *
 * With a terminal on stdin, it is switched to raw mode so every key reaches
 * the guest (Ctrl-C included), and Ctrl-A is the escape: Ctrl-A x quits,
 * Ctrl-A h prints help, Ctrl-A c switches the keyboard between the UART
 * (ttyS0) and the virtio console (hvc0), Ctrl-A Ctrl-A sends one Ctrl-A. With a pipe, bytes
 * pass through untouched and end of input simply stops reading.
 */
#include "console.h"

#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define ESCAPE_KEY 0x01 /* Ctrl-A */

struct console {
	int in_fd, out_fd;
	bool is_tty, eof, escape;
	struct termios saved;
	uint8_t pending[4096]; /* input the UART could not take yet */
	size_t npending;
};

struct console *console_open(int in_fd, int out_fd)
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c) return NULL;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->is_tty = isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0;
	if (c->is_tty) {
		struct termios raw = c->saved;
		cfmakeraw(&raw);
		tcsetattr(in_fd, TCSANOW, &raw);
	}
	return c;
}

void console_close(struct console *c)
{
	if (!c) return;
	if (c->is_tty) tcsetattr(c->in_fd, TCSANOW, &c->saved);
	free(c);
}

void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;
	while (len) {
		ssize_t n = write(c->out_fd, buf, len);
		if (n < 0) {
			if (errno == EINTR) continue;
			return; /* the reader went away: the guest keeps running */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void help(struct console *c)
{
	static const char text[] =
	    "\r\nC-a x    exit cloison\r\nC-a c    switch the keyboard between ttyS0 and hvc0\r\n"
	    "C-a h    this help\r\nC-a C-a  send C-a\r\n";
	console_write(c, (const uint8_t *)text, sizeof(text) - 1);
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
			if (b == 'x' || b == 'X') return true;
			if (b == 'h' || b == 'H' || b == '?') {
				help(c);
			} else if (b == 'c' || b == 'C') {
				char msg[64];
				int len = snprintf(msg, sizeof(msg), "\r\n[cloison: keyboard -> %s]\r\n",
				                   machine_console_switch(m));
				console_write(c, (const uint8_t *)msg, (size_t)len);
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

bool console_poll(struct console *c, struct machine *m, int timeout_ms)
{
	flush_pending(c, m);
	struct pollfd p = {.fd = c->in_fd, .events = POLLIN};
	bool can_read = !c->eof && c->npending == 0;
	int r = poll(&p, can_read ? 1 : 0, timeout_ms);
	if (r <= 0 || !(p.revents & (POLLIN | POLLHUP))) return false;

	uint8_t buf[sizeof(c->pending)];
	ssize_t n = read(c->in_fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) c->eof = true;
		return false;
	}
	size_t keep = (size_t)n;
	if (c->is_tty && filter_escape(c, m, buf, (size_t)n, buf, &keep)) return true;
	memcpy(c->pending, buf, keep);
	c->npending = keep;
	flush_pending(c, m);
	return false;
}
