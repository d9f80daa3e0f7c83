/*
 * tty.h — raw mode for the terminal a console or a relayed pty runs on:
 * keys reach the guest or container byte for byte (no echo, no line
 * editing, no signals from ^C), and the terminal is put back as it was.
 */
#ifndef CLOISON_TTY_H
#define CLOISON_TTY_H

#include <stdbool.h>
#include <termios.h>

/* Puts fd in raw mode, keeping its settings in *saved. False (nothing changed) when fd is not a
 * terminal. */
bool tty_raw(int fd, struct termios *saved);
/* Puts back what tty_raw saved. */
void tty_restore(int fd, const struct termios *saved);

#endif
