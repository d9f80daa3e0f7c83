/*
 * pcap.c — see pcap.h. Layout: a 24-byte global header (magic a1b2c3d4,
 * version 2.4, link type 1 = Ethernet), then per frame a 16-byte record
 * header (seconds, microseconds, captured and original length) and the bytes.
 */
#include "pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct pcap_writer {
	FILE *f;
	unsigned snaplen;
};

struct pcap_writer *pcap_open(const char *path, unsigned snaplen, char *err, size_t errlen)
{
	struct pcap_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->f = fopen(path, "wbe");
	if (!w->f) {
		snprintf(err, errlen, "pcap=%s: %s", path, strerror(errno));
		free(w);
		return NULL;
	}
	w->snaplen = snaplen;
	uint32_t hdr[6] = {0xa1b2c3d4u, 2 | (4u << 16), 0, 0, snaplen, 1};
	fwrite(hdr, sizeof(hdr), 1, w->f);
	return w;
}

void pcap_write(struct pcap_writer *w, const uint8_t *frame, size_t len)
{
	if (!w) return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint32_t caplen = len < w->snaplen ? (uint32_t)len : w->snaplen;
	uint32_t rec[4] = {(uint32_t)tv.tv_sec, (uint32_t)tv.tv_usec, caplen, (uint32_t)len};
	fwrite(rec, sizeof(rec), 1, w->f);
	fwrite(frame, 1, caplen, w->f);
}

void pcap_flush(struct pcap_writer *w)
{
	if (w) fflush(w->f);
}

void pcap_close(struct pcap_writer *w)
{
	if (!w) return;
	fclose(w->f);
	free(w);
}
