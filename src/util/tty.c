/*
 * tty.c — raw terminal mode and its undoing (see tty.h).
 */
#include "tty.h"

#include <unistd.h>

bool tty_raw(int fd, struct termios *saved)
{
	if (fd < 0 || !isatty(fd) || tcgetattr(fd, saved) != 0) return false;
	struct termios raw = *saved;
	cfmakeraw(&raw);
	tcsetattr(fd, TCSANOW, &raw);
	return true;
}

void tty_restore(int fd, const struct termios *saved)
{
	tcsetattr(fd, TCSANOW, saved);
}
