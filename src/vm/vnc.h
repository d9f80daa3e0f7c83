/*
 * vnc.h — a VNC server for a VM's display (libvncserver): clients see what
 * the virtio GPU's scanout shows, updated by the rectangles the guest flushes
 * (damage, not whole frames); their keys go to the virtio keyboard (X11
 * keysyms to Linux key codes) and their pointer to the tablet.
 *
 * It listens on TCP, on the address given (127.0.0.1 unless told): whoever
 * reaches the port sees and drives the screen, so expose it only through
 * something that authenticates. On a unix socket (unix:PATH, mode 0600) the
 * file's permissions are the authentication: only its owner connects. Or on no port at all: clients then come
 * through the VM's control socket (POST /vm/vnc), which cloisond's web
 * interface uses after authenticating its user.
 */
#ifndef CLOISON_VM_VNC_H
#define CLOISON_VM_VNC_H

#include <stdbool.h>
#include <stddef.h>

struct machine;
struct vnc;

/* "PORT" or "ADDR:PORT" (IPv4): the address and port; "unix:PATH": the path in addr and port 0. False
 * with err set. */
bool vnc_parse_listen(const char *spec, char *addr, size_t addrlen, int *port, char *err, size_t errlen);
/* Serves m's display (m has one) on spec (NULL: on no port, only to clients given by vnc_attach). NULL
 * with err set (a bad spec, a port in use). */
struct vnc *vnc_start(struct machine *m, const char *spec, char *err, size_t errlen);
/* Serves one more client, connected on fd (taken, even on failure: libvncserver closes it). */
bool vnc_attach(struct vnc *v, int fd);
void vnc_stop(struct vnc *v);

#endif
