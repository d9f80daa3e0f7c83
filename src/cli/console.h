/*
 * console.h — the host side of the guest's serial console: the terminal in
 * raw mode with an escape key (Ctrl-A x quits, like QEMU), or plain pipes.
 */
#ifndef CLOISON_CONSOLE_H
#define CLOISON_CONSOLE_H

#include "machine/machine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct console;

struct console *console_open(int in_fd, int out_fd);
void console_close(struct console *c); /* restores the terminal */
void console_write(void *opaque, const uint8_t *buf, size_t len);
/* Waits up to timeout_ms for input and feeds it to the machine. Returns true
 * when the user asked to quit with the escape sequence. */
bool console_poll(struct console *c, struct machine *m, int timeout_ms);

#endif
