/*
 * clnet.c — a tiny TCP throughput tool built into the default guest (and
 * usable on the host): what busybox nc cannot do, because nc moves 1 KiB
 * per system call and measures the shell, not the network.
 *
 *   clnet send HOST PORT MIB    connect, write MIB MiB in 64 KiB writes, close
 *   clnet recv PORT             accept one connection, read to EOF
 * Both print "clnet: BYTES bytes in SECONDS s (MBIT Mbit/s)".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(unsigned long long bytes, double t)
{
	printf("clnet: %llu bytes in %.3f s (%.1f Mbit/s)\n", bytes, t,
	       t > 0 ? (double)bytes * 8 / t / 1e6 : 0);
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	if (argc == 5 && !strcmp(argv[1], "send")) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_port = htons((unsigned short)atoi(argv[3]))};
		if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) return 2;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("clnet: connect");
			return 1;
		}
		unsigned long long total = (unsigned long long)atoll(argv[4]) << 20, sent = 0;
		double t0 = now();
		while (sent < total) {
			size_t n = total - sent < sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);
			ssize_t w = write(fd, buf, n);
			if (w <= 0) {
				perror("clnet: write");
				return 1;
			}
			sent += (unsigned long long)w;
		}
		shutdown(fd, SHUT_WR);
		while (read(fd, buf, sizeof(buf)) > 0) {
		} /* the peer closes after reading everything */
		report(sent, now() - t0);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "recv")) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_port = htons((unsigned short)atoi(argv[2]))};
		int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1)) {
			perror("clnet: listen");
			return 1;
		}
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) return 1;
		unsigned long long got = 0;
		double t0 = now();
		ssize_t r;
		while ((r = read(fd, buf, sizeof(buf))) > 0) got += (unsigned long long)r;
		report(got, now() - t0);
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: clnet send HOST PORT MIB | clnet recv PORT\n");
	return 2;
}
