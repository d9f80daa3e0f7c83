/*
 * log.c — see log.h. Messages end with "\r\n" when the terminal is in raw
 * mode, so lines stay aligned while the guest console owns the terminal.
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

static enum log_level current = LOG_NOTICE;

static const char *program;

void log_set_level(enum log_level level)
{
	current = level;
}

void log_set_program(const char *name)
{
	program = name;
}

static bool terminal_is_raw(void)
{
	struct termios t;
	return isatty(STDERR_FILENO) && tcgetattr(STDERR_FILENO, &t) == 0 && !(t.c_oflag & OPOST);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"", "warning: ", "", "info: ", "debug: "};
	if (level > current) return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s%s%s", program ? program : program_invocation_short_name, names[level], buf,
	        terminal_is_raw() ? "\r\n" : "\n");
}
