/*
 * pcap.h — writes the frames a NIC sends and receives to a capture file in
 * the classic pcap format (readable by tcpdump and Wireshark).
 */
#ifndef CLOISON_NET_PCAP_H
#define CLOISON_NET_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pcap_writer;

/* Creates (truncates) `path`. NULL with err set. */
struct pcap_writer *pcap_open(const char *path, unsigned snaplen, char *err, size_t errlen);
void pcap_write(struct pcap_writer *w, const uint8_t *frame, size_t len);
void pcap_flush(struct pcap_writer *w);
void pcap_close(struct pcap_writer *w);

#endif
