/*
 * ct_console.c — see ct_console.h.
 */
#define _GNU_SOURCE
#include "ct_console.h"
#include "util/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

bool ct_pty_open(int *master, int *slave, char path[64], int size_from, char *err, size_t errlen)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) || unlockpt(*master)) {
		snprintf(err, errlen, "cannot allocate a pty: %s", strerror(errno));
		if (*master >= 0) close(*master);
		return false;
	}
	if (ptsname_r(*master, path, 64) || (*slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open the pty's slave: %s", strerror(errno));
		close(*master);
		return false;
	}
	struct winsize ws;
	if (size_from >= 0 && isatty(size_from) && ioctl(size_from, TIOCGWINSZ, &ws) == 0)
		ioctl(*master, TIOCSWINSZ, &ws);
	return true;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* A client of the console socket knocks: it gets the keyboard, unless one has it already. */
static int accept_client(int listen_fd, int client)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) return client;
	if (client >= 0) {
		static const char busy[] = "cloison: the console is in use by another client\r\n";
		send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return client;
	}
	return fd;
}

void ct_pty_relay(int master, int in_fd, int out_fd, int pidfd, int listen_fd)
{
	struct termios saved;
	bool raw = tty_raw(in_fd, &saved);
	/* With a console socket, a client's keystrokes wait in `pending` rather than block the relay
	 * (and the log) while the container does not read its terminal. */
	if (listen_fd >= 0) fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	sigset_t winch, old;
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	sigprocmask(SIG_BLOCK, &winch, &old);
	int sfd = raw ? signalfd(-1, &winch, SFD_CLOEXEC) : -1;
	bool exited = false, in_open = in_fd >= 0;
	int client = -1;
	char buf[16384], pending[4096];
	size_t npending = 0;
	for (;;) {
		struct pollfd p[6] = {{master, (short)(POLLIN | (npending ? POLLOUT : 0)), 0},
		                      {pidfd, POLLIN, 0},
		                      {in_open ? in_fd : -1, POLLIN, 0},
		                      {sfd, POLLIN, 0},
		                      {listen_fd, POLLIN, 0},
		                      {client, npending ? 0 : POLLIN, 0}};
		/* After exit, keep reading until the master has nothing left. */
		int rc = poll(p, 6, exited ? 50 : -1);
		if (rc < 0 && errno == EINTR) continue;
		if (rc < 0) break;
		if (p[4].revents & POLLIN) client = accept_client(listen_fd, client);
		if (client >= 0 && !npending && (p[5].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(client, pending, sizeof(pending));
			if (n > 0)
				npending = (size_t)n;
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				close(client), client = -1;
		}
		if (npending) {
			ssize_t n = write(master, pending, npending);
			if (n > 0) memmove(pending, pending + n, npending - (size_t)n), npending -= (size_t)n;
		}
		if (p[0].revents & POLLIN) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0) {
				if (out_fd >= 0) write_all(out_fd, buf, (size_t)n);
				/* A client that does not keep up loses output rather than stall the
				 * container. */
				if (client >= 0 &&
				    send(client, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
				    errno != EAGAIN && errno != EINTR)
					close(client), client = -1;
				continue;
			}
			if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
			if (exited) break;
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			if (exited) break;
		} else if (exited && rc == 0) {
			break;
		}
		if (p[1].revents & POLLIN) exited = true;
		if (p[2].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(in_fd, buf, sizeof(buf));
			if (n > 0)
				write_all(master, buf, (size_t)n);
			else if (n == 0 || errno != EINTR)
				in_open = false;
		}
		if (sfd >= 0 && (p[3].revents & POLLIN)) {
			struct signalfd_siginfo si;
			struct winsize ws;
			if (read(sfd, &si, sizeof(si)) > 0 && ioctl(in_fd, TIOCGWINSZ, &ws) == 0)
				ioctl(master, TIOCSWINSZ, &ws);
		}
		if ((p[0].revents & (POLLHUP | POLLERR)) && !(p[0].revents & POLLIN) && !exited) {
			/* Every slave is closed but the process lives on: wait for it without spinning. */
			struct pollfd w = {pidfd, POLLIN, 0};
			poll(&w, 1, -1);
			exited = true;
		}
	}
	if (client >= 0) close(client);
	if (sfd >= 0) close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (raw) tty_restore(in_fd, &saved);
}
