/*
 * console.h — the host side of the guest's serial console: the terminal in
 * raw mode with an escape key (Ctrl-A x quits, like QEMU), plain pipes, or
 * a log file plus a unix socket one client at a time attaches to.
 */
#ifndef CLOISON_CONSOLE_H
#define CLOISON_CONSOLE_H

#include "machine/machine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct console;

struct console *console_open(int in_fd, int out_fd);
/* A console with no terminal (a VM run by cloisond): the output goes to log_path (appended; rotated to
 * log_path.1 past 4 MiB) and to the one client attached on the unix socket sock_path, whose bytes are the
 * keyboard. Either may be NULL. NULL with err set. */
struct console *console_open_server(const char *sock_path, const char *log_path, char *err, size_t errlen);
void console_close(struct console *c); /* restores the terminal */
/* The terminal as it was before a console made it raw, from a signal handler about to end the
 * process without console_close (async-signal-safe). */
void console_restore_terminal(void);
void console_write(void *opaque, const uint8_t *buf, size_t len);
/* Waits up to timeout_ms for input and feeds it to the machine. Returns true
 * when the user asked to quit with the escape sequence. */
bool console_poll(struct console *c, struct machine *m, int timeout_ms);

#endif
