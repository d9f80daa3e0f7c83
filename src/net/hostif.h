/*
 * hostif.h — host network interfaces the TAP-based networks need: bring a
 * link up, create a bridge and give it an address, enslave a port. Plain
 * ioctls (the same the classic bridge and ifconfig tools use); all need
 * CAP_NET_ADMIN and act in the calling process's network namespace.
 */
#ifndef CLOISON_NET_HOSTIF_H
#define CLOISON_NET_HOSTIF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool hostif_exists(const char *ifname);
bool hostif_set_up(const char *ifname, char *err, size_t errlen);
/* Tells the LAN that address `a` is at this interface now: two gratuitous ARP replies at once and again
 * 1, 2 and 4 s later (from a thread of their own), so neighbours forget an old MAC (a restarted
 * container, an address moved to another host). Best effort. */
void hostif_announce(const char *ifname, struct in_addr a);
/* Sets an interface's MAC address (while it is down). */
bool hostif_set_mac(const char *ifname, const uint8_t mac[6], char *err, size_t errlen);
/* Gives ifname the IPv4 address addr/mask (in the calling process's network namespace). */
bool hostif_set_addr(const char *ifname, struct in_addr addr, struct in_addr mask, char *err, size_t errlen);
/* Adds a default IPv4 route through gw. */
bool hostif_add_default_route(struct in_addr gw, char *err, size_t errlen);
/* Creates the bridge if it does not exist, brings it up; with addr != 0 gives it addr/mask. */
bool hostif_bridge_ensure(const char *bridge, struct in_addr addr, struct in_addr mask, char *err,
                          size_t errlen);
bool hostif_bridge_delete(const char *bridge, char *err, size_t errlen);
bool hostif_bridge_add_port(const char *bridge, const char *port, char *err, size_t errlen);

#endif
