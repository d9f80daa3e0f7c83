/*
 * gpu.h — the virtio GPU device in 2D mode (virtio-gpu): one scanout, 2D
 * resources the guest creates, backs with its own pages and transfers to
 * host copies, a scanout showing one of them, flushes that mark what
 * changed, and a cursor. What the scanout shows is the VM's screen: a
 * screenshot reads it, a display server (VNC) follows its flushes.
 *
 * The guest is hostile: resource ids, formats, sizes, rectangles, backing
 * entries and transfer offsets are all checked; host memory for resources
 * is bounded; a bad command gets an error response, never a crash.
 */
#ifndef CLOISON_VIRTIO_GPU_H
#define CLOISON_VIRTIO_GPU_H

#include "mmio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPU_MAX_RESOURCES 256
#define GPU_MAX_DIMENSION 16384
#define GPU_MAX_HOST_BYTES (256u << 20) /* all resources' host copies together */
#define GPU_MAX_BACKING_ENTRIES 16384
#define GPU_MAX_REQUEST (64 + 16 * GPU_MAX_BACKING_ENTRIES)

struct gpu_mem_entry {
	uint64_t addr;
	uint32_t length;
};

struct gpu_resource {
	uint32_t id; /* 0: free slot */
	uint32_t format, width, height;
	uint8_t *pixels; /* width * height * 4, the host copy */
	struct gpu_mem_entry *backing;
	uint32_t nbacking;
};

struct gpu_rect {
	uint32_t x, y, width, height;
};

/* Told about each flush of what the scanout shows (damage), from the thread that serves the queue. */
typedef void (*gpu_flush_fn)(void *opaque, const struct gpu_rect *r);

struct virtio_gpu {
	struct virtio_mmio transport;
	uint32_t width, height; /* the display's mode (what GET_DISPLAY_INFO says) */
	struct gpu_resource res[GPU_MAX_RESOURCES];
	uint64_t host_bytes;
	uint32_t scanout_resource; /* 0: the scanout is disabled */
	struct gpu_rect scanout_rect;
	uint32_t cursor_resource, cursor_x, cursor_y;
	uint32_t events_read;
	uint64_t commands, bad_commands, flushes;
	uint8_t *req; /* GPU_MAX_REQUEST bytes: a request gathered from its chain */
	gpu_flush_fn on_flush;
	void *flush_opaque;
};

#define GPU_MIN_WIDTH 320
#define GPU_MIN_HEIGHT 200
#define GPU_MAX_SIZE 8192

/* A display of width x height (0: 1024x768). False with err set (sizes out of range, no memory). */
bool virtio_gpu_init(struct virtio_gpu *g, const struct guest_ram *ram, uint32_t width, uint32_t height,
                     char *err, size_t errlen);
void virtio_gpu_destroy(struct virtio_gpu *g);
/* The display changes size (a monitor replaced): the driver is told through the configuration
 * (VIRTIO_GPU_EVENT_DISPLAY) and reads the new mode and EDID; what it shows stays until it sets a new
 * scanout. False for a size out of range. Callers hold the I/O lock. */
bool virtio_gpu_set_mode(struct virtio_gpu *g, uint32_t width, uint32_t height);
void virtio_gpu_set_flush_listener(struct virtio_gpu *g, gpu_flush_fn fn, void *opaque);

/* Runs one control or cursor command (req, len bytes) and writes its response into resp (at most cap
 * bytes); the response's length (0 when there is none or no room). Used by the queues, the tests and the
 * fuzzer alike. */
size_t virtio_gpu_command(struct virtio_gpu *g, const uint8_t *req, size_t len, uint8_t *resp, size_t cap);

/* Copies rect r of what the scanout shows (its coordinates) into dst as R, G, B, X bytes per pixel, rows
 * of dst_width pixels; false when the scanout is off or r lies outside it. Callers hold the I/O lock. */
bool virtio_gpu_copy_rgbx(const struct virtio_gpu *g, const struct gpu_rect *r, uint8_t *dst,
                          uint32_t dst_width);

/* What the scanout shows, as 8-bit RGB rows (width * 3 bytes each) in a malloc'd buffer; NULL when the
 * scanout is disabled. Callers hold the board's I/O lock. */
uint8_t *virtio_gpu_read_screen(const struct virtio_gpu *g, uint32_t *width, uint32_t *height);

#endif
