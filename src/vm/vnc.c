/*
 * vnc.c — see vnc.h. libvncserver runs its own threads (one listening, two
 * per client); the GPU's flushes copy the damaged rectangle into the server's
 * framebuffer (R, G, B, X) under the board's I/O lock and mark it modified;
 * key and pointer events take the same lock to reach the input devices.
 */
#define _GNU_SOURCE
#include "vnc.h"

#include "machine/machine.h"
#include "virtio/gpu.h"
#include "virtio/input.h"
#include "util/unix_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool vnc_parse_listen(const char *spec, char *addr, size_t addrlen, int *port, char *err, size_t errlen)
{
	if (!strncmp(spec, "unix:", 5)) {
		const char *path = spec + 5;
		if (!*path || strlen(path) >= addrlen ||
		    strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "VNC socket path '%.60s': empty or longer than %zu bytes", path,
			         sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return false;
		}
		snprintf(addr, addrlen, "%s", path);
		*port = 0;
		return true;
	}
	const char *colon = strrchr(spec, ':');
	const char *p = colon ? colon + 1 : spec;
	char *end;
	long n = strtol(p, &end, 10);
	size_t alen = colon ? (size_t)(colon - spec) : 0;
	struct in_addr a;
	char host[64] = "127.0.0.1";
	if (colon && alen && alen < sizeof(host)) memcpy(host, spec, alen), host[alen] = 0;
	if (!*p || *end || n < 1 || n > 65535 || (colon && (!alen || alen >= sizeof(host))) ||
	    inet_pton(AF_INET, host, &a) != 1 || strlen(host) >= addrlen) {
		snprintf(err, errlen, "VNC address '%.60s': PORT or IPV4:PORT (such as 127.0.0.1:5901)",
		         spec);
		return false;
	}
	snprintf(addr, addrlen, "%s", host);
	*port = (int)n;
	return true;
}

#ifndef CLOISON_DISPLAY_LIBS
struct vnc *vnc_start(struct machine *m, const char *spec, char *err, size_t errlen)
{
	(void)m, (void)spec;
	snprintf(err, errlen, "this cloison was built without libvncserver (a cross build): no VNC");
	return NULL;
}

bool vnc_attach(struct vnc *v, int fd)
{
	(void)v, (void)fd;
	return false;
}

void vnc_stop(struct vnc *v)
{
	(void)v;
}
#else
#include <rfb/rfb.h>

struct vnc {
	struct machine *m;
	rfbScreenInfoPtr screen;
	uint8_t *fb;     /* what clients are sent */
	uint8_t *shadow; /* the flushed rectangle lands here first, to find what really changed */
	uint32_t width, height;
	int unix_fd; /* --vnc unix:PATH: its listening socket, -1 otherwise */
	char unix_path[108];
	pthread_t unix_thread;
};

static void quiet(const char *fmt, ...)
{
	(void)fmt; /* libvncserver's chatter would land on the VM's console */
}

/* The scanout changed size (a new mode): a framebuffer of the new size with all of it. I/O lock held. */
static void resize(struct vnc *v, const struct gpu_rect *s)
{
	uint8_t *fb = calloc((size_t)s->width * s->height, 4),
	        *shadow = calloc((size_t)s->width * s->height, 4);
	if (!fb || !shadow) {
		free(fb);
		free(shadow);
		return;
	}
	struct gpu_rect all = {0, 0, s->width, s->height};
	virtio_gpu_copy_rgbx(v->m->gpu, &all, fb, s->width);
	uint8_t *old = v->fb;
	free(v->shadow);
	v->fb = fb, v->shadow = shadow, v->width = s->width, v->height = s->height;
	rfbNewFramebuffer(v->screen, (char *)fb, (int)s->width, (int)s->height, 8, 3, 4);
	free(old);
}

/* A flush of rectangle r of the scanout's resource: the part of it the scanout shows. I/O lock held. */
static void on_flush(void *opaque, const struct gpu_rect *r)
{
	struct vnc *v = opaque;
	const struct gpu_rect *s = &v->m->gpu->scanout_rect;
	if (s->width != v->width || s->height != v->height) return resize(v, s);
	uint64_t x0 = r->x > s->x ? r->x : s->x, y0 = r->y > s->y ? r->y : s->y;
	uint64_t x1 = (uint64_t)r->x + r->width, y1 = (uint64_t)r->y + r->height;
	if (x1 > (uint64_t)s->x + s->width) x1 = (uint64_t)s->x + s->width;
	if (y1 > (uint64_t)s->y + s->height) y1 = (uint64_t)s->y + s->height;
	if (x0 >= x1 || y0 >= y1) return;
	struct gpu_rect rc = {(uint32_t)(x0 - s->x), (uint32_t)(y0 - s->y), (uint32_t)(x1 - x0),
	                      (uint32_t)(y1 - y0)};
	if (!virtio_gpu_copy_rgbx(v->m->gpu, &rc, v->shadow, v->width)) return;
	/* Guests flush more than they changed (Linux's fbdev flushes the whole screen): clients get only the
	 * bounding box of what differs from what they have. */
	uint32_t minx = UINT32_MAX, maxx = 0, miny = UINT32_MAX, maxy = 0;
	for (uint32_t y = rc.y; y < rc.y + rc.height; y++) {
		const uint32_t *a = (const uint32_t *)v->shadow + (size_t)y * v->width;
		uint32_t *b = (uint32_t *)v->fb + (size_t)y * v->width;
		uint32_t x = rc.x, end = rc.x + rc.width;
		while (x < end && a[x] == b[x]) x++;
		if (x == end) continue;
		uint32_t last = end - 1;
		while (a[last] == b[last]) last--;
		memcpy(b + x, a + x, (size_t)(last - x + 1) * 4);
		if (x < minx) minx = x;
		if (last > maxx) maxx = last;
		if (y < miny) miny = y;
		maxy = y;
	}
	if (miny == UINT32_MAX) return; /* nothing changed */
	rfbMarkRectAsModified(v->screen, (int)minx, (int)miny, (int)maxx + 1, (int)maxy + 1);
}

/* A viewer asks for another size (noVNC's "remote resizing"): the display's mode changes; the picture
 * follows when the guest sets a scanout of that size. */
static int on_desktop_size(int width, int height, int nscreens, struct rfbExtDesktopScreen *screens,
                           rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	(void)nscreens, (void)screens;
	pthread_mutex_lock(&v->m->io_lock);
	bool ok =
	    width > 0 && height > 0 && virtio_gpu_set_mode(v->m->gpu, (uint32_t)width, (uint32_t)height);
	pthread_mutex_unlock(&v->m->io_lock);
	return ok ? rfbExtDesktopSize_Success : rfbExtDesktopSize_InvalidScreenLayout;
}

static void on_key(rfbBool down, rfbKeySym sym, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	uint16_t key = virtio_input_keysym((uint32_t)sym);
	if (!key) return;
	pthread_mutex_lock(&v->m->io_lock);
	virtio_input_key(v->m->keyboard, key, down);
	pthread_mutex_unlock(&v->m->io_lock);
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	/* RFB's buttons are 1 left, 2 middle, 4 right; the tablet's 1 left, 2 right, 4 middle. */
	unsigned buttons = (mask & 1) | ((mask & 4) ? 2u : 0) | ((mask & 2) ? 4u : 0);
	pthread_mutex_lock(&v->m->io_lock);
	virtio_input_pointer(v->m->tablet, x < 0 ? 0 : (uint32_t)x, y < 0 ? 0 : (uint32_t)y, v->width,
	                     v->height, buttons);
	pthread_mutex_unlock(&v->m->io_lock);
}

static void *accept_unix(void *arg);

struct vnc *vnc_start(struct machine *m, const char *spec, char *err, size_t errlen)
{
	char addr[108] = "127.0.0.1";
	int port = 0; /* no TCP listener: clients come through vnc_attach (and a unix socket's accept loop) */
	if (spec && !vnc_parse_listen(spec, addr, sizeof(addr), &port, err, errlen)) return NULL;
	bool on_unix = spec && port == 0;
	if (!m->gpu || !m->keyboard) {
		snprintf(err, errlen, "--vnc needs a display (--display on)");
		return NULL;
	}
	struct vnc *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rfbLog = quiet;
	rfbErr = quiet;
	v->m = m;
	v->unix_fd = -1;
	pthread_mutex_lock(&m->io_lock);
	const struct gpu_rect *s = &m->gpu->scanout_rect;
	bool on = m->gpu->scanout_resource != 0;
	v->width = on ? s->width : m->gpu->width;
	v->height = on ? s->height : m->gpu->height;
	v->fb = calloc((size_t)v->width * v->height, 4);
	v->shadow = calloc((size_t)v->width * v->height, 4);
	struct gpu_rect all = {0, 0, v->width, v->height};
	if (v->fb && on) virtio_gpu_copy_rgbx(m->gpu, &all, v->fb, v->width); /* what it shows already */
	pthread_mutex_unlock(&m->io_lock);
	v->screen =
	    v->fb && v->shadow ? rfbGetScreen(NULL, NULL, (int)v->width, (int)v->height, 8, 3, 4) : NULL;
	if (!v->screen) {
		snprintf(err, errlen, "out of memory");
		free(v->fb);
		free(v->shadow);
		free(v);
		return NULL;
	}
	rfbScreenInfoPtr sc = v->screen;
	sc->frameBuffer = (char *)v->fb;
	sc->desktopName = "cloison";
	sc->alwaysShared = TRUE;
	sc->autoPort = FALSE;
	sc->port = port;
	sc->ipv6port = 0; /* only the IPv4 address asked for */
	sc->httpPort = 0;
	if (!on_unix) inet_pton(AF_INET, addr, &sc->listenInterface);
	sc->cursor = NULL; /* no cursor drawn into the picture: viewers show their own */
	sc->setDesktopSizeHook = on_desktop_size;
	sc->kbdAddEvent = on_key;
	sc->ptrAddEvent = on_pointer;
	sc->screenData = v;
	rfbInitServer(sc);
	if (on_unix) {
		snprintf(v->unix_path, sizeof(v->unix_path), "%s", addr);
		v->unix_fd = unix_listen(addr, 0600, 8, 0, err, errlen);
	}
	if ((port && sc->listenSock == RFB_INVALID_SOCKET) || (on_unix && v->unix_fd < 0)) {
		if (!on_unix) snprintf(err, errlen, "VNC: cannot listen on %s:%d (in use?)", addr, port);
		rfbScreenCleanup(sc);
		free(v->fb);
		free(v->shadow);
		free(v);
		return NULL;
	}
	pthread_mutex_lock(&m->io_lock);
	virtio_gpu_set_flush_listener(m->gpu, on_flush, v);
	pthread_mutex_unlock(&m->io_lock);
	rfbRunEventLoop(sc, -1, TRUE); /* its own threads from here */
	if (on_unix && pthread_create(&v->unix_thread, NULL, accept_unix, v)) { /* clients once it runs */
		close(v->unix_fd);
		v->unix_fd = -1;
		vnc_stop(v);
		unlink(addr);
		snprintf(err, errlen, "VNC: no thread for %s", addr);
		return NULL;
	}
	return v;
}

bool vnc_attach(struct vnc *v, int fd)
{
	rfbClientPtr cl = rfbNewClient(v->screen, fd); /* as libvncserver's own listener does */
	if (!cl) return false;
	if (!cl->onHold) rfbStartOnHoldClient(cl);
	return true;
}

/* --vnc unix:PATH: each connection becomes a client; ends when vnc_stop shuts the socket down. */
static void *accept_unix(void *arg)
{
	struct vnc *v = arg;
	for (;;) {
		int fd = accept4(v->unix_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR) continue;
		if (fd < 0) return NULL;
		vnc_attach(v, fd);
	}
}

void vnc_stop(struct vnc *v)
{
	if (!v) return;
	if (v->unix_fd >= 0) {
		shutdown(v->unix_fd, SHUT_RDWR); /* accept() returns */
		pthread_join(v->unix_thread, NULL);
		close(v->unix_fd);
		unlink(v->unix_path);
	}
	pthread_mutex_lock(&v->m->io_lock);
	virtio_gpu_set_flush_listener(v->m->gpu, NULL, NULL);
	pthread_mutex_unlock(&v->m->io_lock);
	rfbShutdownServer(v->screen, TRUE);
	rfbScreenCleanup(v->screen);
	free(v->fb);
	free(v->shadow);
	free(v);
}
#endif
