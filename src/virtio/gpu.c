/*
 * gpu.c — see gpu.h. Commands are served synchronously when the driver
 * notifies (the board's I/O lock held): 2D work is copies between guest
 * pages and host copies, bounded by the resource limits.
 */
#include "gpu.h"

#include "edid.h"

#include <linux/virtio_gpu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_ID_GPU 16
#define GPU_DEFAULT_WIDTH 1024
#define GPU_DEFAULT_HEIGHT 768
#define RESP_MAX 1200 /* the largest response served: an EDID (1056 bytes) */

static uint32_t bytes_per_pixel(uint32_t format)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM: return 4;
	default: return 0;
	}
}

static struct gpu_resource *find(struct virtio_gpu *g, uint32_t id)
{
	for (unsigned i = 0; id && i < GPU_MAX_RESOURCES; i++)
		if (g->res[i].id == id) return &g->res[i];
	return NULL;
}

static void free_resource(struct virtio_gpu *g, struct gpu_resource *r)
{
	g->host_bytes -= (uint64_t)r->width * r->height * 4;
	free(r->pixels);
	free(r->backing);
	memset(r, 0, sizeof(*r));
}

/* Whether rect lies inside a width x height resource (and is not empty). */
static bool rect_inside(const struct virtio_gpu_rect *rc, uint32_t width, uint32_t height)
{
	return rc->width && rc->height && (uint64_t)rc->x + rc->width <= width &&
	       (uint64_t)rc->y + rc->height <= height;
}

/* The response header: its type, and the request's fence when it asked for one. */
static size_t respond(const struct virtio_gpu_ctrl_hdr *req, uint32_t type, uint8_t *resp, size_t cap,
                      size_t len)
{
	if (cap < len || len < sizeof(struct virtio_gpu_ctrl_hdr)) return 0;
	struct virtio_gpu_ctrl_hdr h = {.type = type};
	if (req && (req->flags & VIRTIO_GPU_FLAG_FENCE)) {
		h.flags = VIRTIO_GPU_FLAG_FENCE;
		h.fence_id = req->fence_id;
		h.ctx_id = req->ctx_id;
		h.ring_idx = req->ring_idx;
	}
	memcpy(resp, &h, sizeof(h));
	return len;
}

/* Reads len bytes at offset off of the resource's backing (the guest pages it attached). */
static bool backing_read(const struct virtio_gpu *g, const struct gpu_resource *r, uint64_t off, uint8_t *dst,
                         uint64_t len, uint32_t *entry, uint64_t *entry_start)
{
	/* The cursor (entry, entry_start) carries over between rows: they come in increasing offsets. */
	if (off < *entry_start) *entry = 0, *entry_start = 0;
	while (len) {
		if (*entry >= r->nbacking) return false;
		const struct gpu_mem_entry *e = &r->backing[*entry];
		if (off >= *entry_start + e->length) {
			*entry_start += e->length;
			(*entry)++;
			continue;
		}
		uint64_t in = off - *entry_start, n = e->length - in;
		if (n > len) n = len;
		const uint8_t *src = guest_ram_ptr(&g->transport.ram, e->addr + in, n);
		if (!src) return false;
		memcpy(dst, src, n);
		dst += n, off += n, len -= n;
	}
	return true;
}

static uint32_t create_2d(struct virtio_gpu *g, const struct virtio_gpu_resource_create_2d *c)
{
	if (!c->resource_id || find(g, c->resource_id)) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!bytes_per_pixel(c->format) || !c->width || !c->height || c->width > GPU_MAX_DIMENSION ||
	    c->height > GPU_MAX_DIMENSION)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	uint64_t bytes = (uint64_t)c->width * c->height * 4;
	struct gpu_resource *r = NULL;
	for (unsigned i = 0; !r && i < GPU_MAX_RESOURCES; i++)
		if (!g->res[i].id) r = &g->res[i];
	if (!r || g->host_bytes + bytes > GPU_MAX_HOST_BYTES || !(r->pixels = calloc(1, bytes)))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	r->id = c->resource_id, r->format = c->format, r->width = c->width, r->height = c->height;
	g->host_bytes += bytes;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t unref(struct virtio_gpu *g, uint32_t id)
{
	struct gpu_resource *r = find(g, id);
	if (!r) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (g->scanout_resource == id) g->scanout_resource = 0;
	if (g->cursor_resource == id) g->cursor_resource = 0;
	free_resource(g, r);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct virtio_gpu *g, const struct virtio_gpu_set_scanout *s)
{
	if (s->scanout_id != 0) return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (!s->resource_id) { /* the driver turns the display off */
		g->scanout_resource = 0;
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	struct gpu_resource *r = find(g, s->resource_id);
	if (!r) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!rect_inside(&s->r, r->width, r->height)) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	g->scanout_resource = s->resource_id;
	g->scanout_rect = (struct gpu_rect){s->r.x, s->r.y, s->r.width, s->r.height};
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t flush(struct virtio_gpu *g, const struct virtio_gpu_resource_flush *f)
{
	struct gpu_resource *r = find(g, f->resource_id);
	if (!r) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!rect_inside(&f->r, r->width, r->height)) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (f->resource_id == g->scanout_resource) {
		g->flushes++;
		struct gpu_rect d = {f->r.x, f->r.y, f->r.width, f->r.height};
		if (g->on_flush) g->on_flush(g->flush_opaque, &d);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t transfer_2d(struct virtio_gpu *g, const struct virtio_gpu_transfer_to_host_2d *t)
{
	struct gpu_resource *r = find(g, t->resource_id);
	if (!r) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!rect_inside(&t->r, r->width, r->height) || !r->nbacking)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	uint64_t stride = (uint64_t)r->width * 4, row_bytes = (uint64_t)t->r.width * 4;
	uint32_t entry = 0;
	uint64_t entry_start = 0;
	for (uint32_t row = 0; row < t->r.height; row++) {
		uint64_t src = t->offset + row * stride; /* offset points at (x, y) in the guest's copy */
		uint8_t *dst = r->pixels + (uint64_t)(t->r.y + row) * stride + (uint64_t)t->r.x * 4;
		if (src < t->offset || !backing_read(g, r, src, dst, row_bytes, &entry, &entry_start))
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t attach_backing(struct virtio_gpu *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_attach_backing a;
	memcpy(&a, req, sizeof(a));
	struct gpu_resource *r = find(g, a.resource_id);
	if (!r) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (r->nbacking || !a.nr_entries || a.nr_entries > GPU_MAX_BACKING_ENTRIES ||
	    len < sizeof(a) + (uint64_t)a.nr_entries * sizeof(struct virtio_gpu_mem_entry))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	struct gpu_mem_entry *e = calloc(a.nr_entries, sizeof(*e));
	if (!e) return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	for (uint32_t i = 0; i < a.nr_entries; i++) {
		struct virtio_gpu_mem_entry m;
		memcpy(&m, req + sizeof(a) + i * sizeof(m), sizeof(m));
		if (!m.length || !guest_ram_ptr(&g->transport.ram, m.addr, m.length)) {
			free(e);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		e[i] = (struct gpu_mem_entry){m.addr, m.length};
	}
	r->backing = e;
	r->nbacking = a.nr_entries;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t detach_backing(struct virtio_gpu *g, uint32_t id)
{
	struct gpu_resource *r = find(g, id);
	if (!r) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	free(r->backing);
	r->backing = NULL;
	r->nbacking = 0;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cursor(struct virtio_gpu *g, const struct virtio_gpu_update_cursor *c, bool update)
{
	if (c->pos.scanout_id != 0) return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (update) {
		if (c->resource_id && !find(g, c->resource_id))
			return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
		g->cursor_resource = c->resource_id;
	}
	g->cursor_x = c->pos.x, g->cursor_y = c->pos.y;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Copies the request into a struct of its type when it is long enough. */
#define AS(type, var)                                                                                        \
	type var;                                                                                            \
	if (len < sizeof(var)) {                                                                             \
		status = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;                                              \
		break;                                                                                       \
	}                                                                                                    \
	memcpy(&var, req, sizeof(var))

size_t virtio_gpu_command(struct virtio_gpu *g, const uint8_t *req, size_t len, uint8_t *resp, size_t cap)
{
	g->commands++;
	struct virtio_gpu_ctrl_hdr h;
	if (len < sizeof(h)) {
		g->bad_commands++;
		return respond(NULL, VIRTIO_GPU_RESP_ERR_UNSPEC, resp, cap, sizeof(h));
	}
	memcpy(&h, req, sizeof(h));
	uint32_t status = VIRTIO_GPU_RESP_ERR_UNSPEC;
	switch (h.type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: {
		struct virtio_gpu_resp_display_info d;
		memset(&d, 0, sizeof(d));
		d.pmodes[0].r.width = g->width;
		d.pmodes[0].r.height = g->height;
		d.pmodes[0].enabled = 1;
		size_t n = respond(&h, VIRTIO_GPU_RESP_OK_DISPLAY_INFO, resp, cap, sizeof(d));
		if (n) memcpy(resp + sizeof(h), (uint8_t *)&d + sizeof(h), sizeof(d) - sizeof(h));
		return n;
	}
	case VIRTIO_GPU_CMD_GET_EDID: {
		struct virtio_gpu_cmd_get_edid q;
		if (len < sizeof(q)) break;
		memcpy(&q, req, sizeof(q));
		if (q.scanout != 0) {
			status = VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
			break;
		}
		struct virtio_gpu_resp_edid e;
		memset(&e, 0, sizeof(e));
		e.size = EDID_SIZE;
		edid_build(e.edid, g->width, g->height);
		size_t n = respond(&h, VIRTIO_GPU_RESP_OK_EDID, resp, cap, sizeof(e));
		if (n) memcpy(resp + sizeof(h), (uint8_t *)&e + sizeof(h), sizeof(e) - sizeof(h));
		return n;
	}
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: {
		AS(struct virtio_gpu_resource_create_2d, c);
		status = create_2d(g, &c);
		break;
	}
	case VIRTIO_GPU_CMD_RESOURCE_UNREF: {
		AS(struct virtio_gpu_resource_unref, u);
		status = unref(g, u.resource_id);
		break;
	}
	case VIRTIO_GPU_CMD_SET_SCANOUT: {
		AS(struct virtio_gpu_set_scanout, s);
		status = set_scanout(g, &s);
		break;
	}
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: {
		AS(struct virtio_gpu_resource_flush, f);
		status = flush(g, &f);
		break;
	}
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: {
		AS(struct virtio_gpu_transfer_to_host_2d, t);
		status = transfer_2d(g, &t);
		break;
	}
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
		AS(struct virtio_gpu_resource_attach_backing, a);
		(void)a;
		status = attach_backing(g, req, len);
		break;
	}
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: {
		AS(struct virtio_gpu_resource_detach_backing, dt);
		status = detach_backing(g, dt.resource_id);
		break;
	}
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
	case VIRTIO_GPU_CMD_MOVE_CURSOR: {
		AS(struct virtio_gpu_update_cursor, c);
		status = cursor(g, &c, h.type == VIRTIO_GPU_CMD_UPDATE_CURSOR);
		break;
	}
	default: break; /* 3D, blobs and capsets are not offered */
	}
	if (status != VIRTIO_GPU_RESP_OK_NODATA) g->bad_commands++;
	return respond(&h, status, resp, cap, sizeof(h));
}

/* Byte positions of red, green and blue in a pixel of a format (little-endian names). */
static void channels(uint32_t format, unsigned *ri, unsigned *gi, unsigned *bi)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM: *ri = 1, *gi = 2, *bi = 3; break;
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM: *ri = 0, *gi = 1, *bi = 2; break;
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM: *ri = 3, *gi = 2, *bi = 1; break;
	default: *ri = 2, *gi = 1, *bi = 0; break; /* B8G8R8A8, B8G8R8X8: blue, green, red in memory order */
	}
}

/* Copies rect (scanout coordinates, already checked) as pixels of bpp bytes (3: RGB, 4: RGBX). */
static void copy_out(const struct virtio_gpu *g, const struct gpu_resource *r, const struct gpu_rect *rc,
                     uint8_t *dst, uint32_t dst_width, unsigned bpp)
{
	unsigned ri, gi, bi;
	channels(r->format, &ri, &gi, &bi);
	const struct gpu_rect *s = &g->scanout_rect;
	for (uint32_t y = 0; y < rc->height; y++) {
		const uint8_t *src = r->pixels + ((uint64_t)(s->y + rc->y + y) * r->width + s->x + rc->x) * 4;
		uint8_t *d = dst + ((uint64_t)(rc->y + y) * dst_width + rc->x) * bpp;
		for (uint32_t x = 0; x < rc->width; x++, src += 4, d += bpp) {
			d[0] = src[ri], d[1] = src[gi], d[2] = src[bi];
			if (bpp == 4) d[3] = 0;
		}
	}
}

bool virtio_gpu_copy_rgbx(const struct virtio_gpu *g, const struct gpu_rect *rc, uint8_t *dst,
                          uint32_t dst_width)
{
	const struct gpu_resource *r = find((struct virtio_gpu *)g, g->scanout_resource);
	const struct gpu_rect *s = &g->scanout_rect;
	if (!r || (uint64_t)rc->x + rc->width > s->width || (uint64_t)rc->y + rc->height > s->height ||
	    dst_width < s->width)
		return false;
	copy_out(g, r, rc, dst, dst_width, 4);
	return true;
}

uint8_t *virtio_gpu_read_screen(const struct virtio_gpu *g, uint32_t *width, uint32_t *height)
{
	const struct gpu_resource *r = find((struct virtio_gpu *)g, g->scanout_resource);
	if (!r) return NULL;
	const struct gpu_rect *s = &g->scanout_rect;
	uint8_t *rgb = malloc((size_t)s->width * s->height * 3);
	if (!rgb) return NULL;
	struct gpu_rect all = {0, 0, s->width, s->height};
	copy_out(g, r, &all, rgb, s->width, 3);
	*width = s->width, *height = s->height;
	return rgb;
}

/* ---- the transport's side ---- */

static void gpu_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_gpu *g = t->dev;
	struct virtq *q = &t->queues[qi];
	static struct virtq_chain chain; /* large: not on the vCPU stack; callers hold the I/O lock */
	uint8_t resp[RESP_MAX];
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	while (!t->frozen && (res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		size_t len = virtq_chain_gather(&chain, g->req, GPU_MAX_REQUEST);
		size_t cap = chain.in_bytes < sizeof(resp) ? (size_t)chain.in_bytes : sizeof(resp);
		size_t n = virtio_gpu_command(g, g->req, len, resp, cap);
		n = virtq_chain_scatter(&t->ram, &chain, resp, n);
		virtq_push(q, &t->ram, chain.head, (uint32_t)n);
		pushed = true;
	}
	if (!t->frozen && res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, qi);
}

static uint64_t gpu_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	struct virtio_gpu *g = t->dev;
	struct virtio_gpu_config c = {.events_read = g->events_read, .num_scanouts = 1};
	uint64_t v = 0;
	if (off + size <= sizeof(c)) memcpy(&v, (uint8_t *)&c + off, size);
	return v;
}

static void gpu_config_write(struct virtio_mmio *t, uint32_t off, unsigned size, uint64_t val)
{
	struct virtio_gpu *g = t->dev;
	if (off == offsetof(struct virtio_gpu_config, events_clear) && size == 4)
		g->events_read &= ~(uint32_t)val;
}

static void gpu_reset(struct virtio_mmio *t)
{
	struct virtio_gpu *g = t->dev;
	for (unsigned i = 0; i < GPU_MAX_RESOURCES; i++)
		if (g->res[i].id) free_resource(g, &g->res[i]);
	g->scanout_resource = g->cursor_resource = 0;
	g->events_read = 0;
}

/* The picture survives a snapshot: every resource with its host copy and backing. */
static void gpu_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_gpu *g = t->dev;
	state_put_u32(w, g->width);
	state_put_u32(w, g->height);
	state_put_u32(w, g->scanout_resource);
	state_put_bytes(w, &g->scanout_rect, sizeof(g->scanout_rect));
	state_put_u32(w, g->cursor_resource);
	state_put_u32(w, g->cursor_x);
	state_put_u32(w, g->cursor_y);
	state_put_u32(w, g->events_read);
	uint32_t n = 0;
	for (unsigned i = 0; i < GPU_MAX_RESOURCES; i++) n += g->res[i].id != 0;
	state_put_u64(w, n);
	for (unsigned i = 0; i < GPU_MAX_RESOURCES; i++) {
		const struct gpu_resource *r = &g->res[i];
		if (!r->id) continue;
		state_put_u32(w, r->id);
		state_put_u32(w, r->format);
		state_put_u32(w, r->width);
		state_put_u32(w, r->height);
		state_put_u64(w, r->nbacking);
		for (uint32_t k = 0; k < r->nbacking; k++) {
			state_put_u64(w, r->backing[k].addr);
			state_put_u32(w, r->backing[k].length);
		}
		state_put_bytes(w, r->pixels, (size_t)r->width * r->height * 4);
	}
}

static void gpu_load(struct virtio_mmio *t, struct state_reader *rd)
{
	struct virtio_gpu *g = t->dev;
	gpu_reset(t);
	uint32_t w = state_get_u32(rd), h = state_get_u32(rd);
	if (!rd->failed && (w != g->width || h != g->height))
		state_fail(rd, "virtio-gpu: the saved display is %ux%u, this one %ux%u", w, h, g->width,
		           g->height);
	uint32_t scanout = state_get_u32(rd);
	struct gpu_rect rect;
	state_get_bytes(rd, &rect, sizeof(rect));
	uint32_t cursor_res = state_get_u32(rd);
	g->cursor_x = state_get_u32(rd);
	g->cursor_y = state_get_u32(rd);
	g->events_read = state_get_u32(rd) & VIRTIO_GPU_EVENT_DISPLAY;
	uint32_t n = (uint32_t)state_get_range(rd, 0, GPU_MAX_RESOURCES, "virtio-gpu resources");
	for (uint32_t i = 0; i < n && !rd->failed; i++) {
		/* Through the guest's own command path: the same checks as when it made them. */
		struct virtio_gpu_resource_create_2d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D};
		c.resource_id = state_get_u32(rd);
		c.format = state_get_u32(rd);
		c.width = state_get_u32(rd);
		c.height = state_get_u32(rd);
		if (rd->failed || create_2d(g, &c) != VIRTIO_GPU_RESP_OK_NODATA) {
			state_fail(rd, "virtio-gpu: a saved resource is invalid");
			break;
		}
		struct gpu_resource *r = find(g, c.resource_id);
		uint32_t nb =
		    (uint32_t)state_get_range(rd, 0, GPU_MAX_BACKING_ENTRIES, "virtio-gpu backing entries");
		if (nb && !rd->failed && !(r->backing = calloc(nb, sizeof(*r->backing)))) {
			state_fail(rd, "virtio-gpu: out of memory");
			break;
		}
		for (uint32_t k = 0; k < nb && !rd->failed; k++) {
			uint64_t addr = state_get_u64(rd);
			uint32_t length = state_get_u32(rd);
			if (!length || !guest_ram_ptr(&t->ram, addr, length))
				state_fail(rd, "virtio-gpu: a saved backing entry lies outside RAM");
			r->backing[k] = (struct gpu_mem_entry){addr, length};
			r->nbacking = k + 1;
		}
		state_get_bytes(rd, r->pixels, (size_t)r->width * r->height * 4);
	}
	struct gpu_resource *s = find(g, scanout);
	struct virtio_gpu_rect sr = {rect.x, rect.y, rect.width, rect.height};
	if (!rd->failed && scanout && (!s || !rect_inside(&sr, s->width, s->height)))
		state_fail(rd, "virtio-gpu: the saved scanout shows no valid resource");
	if (!rd->failed && cursor_res && !find(g, cursor_res))
		state_fail(rd, "virtio-gpu: the saved cursor names no resource");
	if (rd->failed) {
		gpu_reset(t);
		return;
	}
	g->scanout_resource = scanout;
	g->scanout_rect = rect;
	g->cursor_resource = cursor_res;
}

static const struct virtio_device_ops gpu_ops = {
    .device_id = VIRTIO_ID_GPU,
    .features = 1ull << VIRTIO_GPU_F_EDID,
    .num_queues = 2, /* control, cursor */
    .queue_max = 256,
    .notify = gpu_notify,
    .config_size = sizeof(struct virtio_gpu_config),
    .config_read = gpu_config_read,
    .config_write = gpu_config_write,
    .reset = gpu_reset,
    .save = gpu_save,
    .load = gpu_load,
};

bool virtio_gpu_init(struct virtio_gpu *g, const struct guest_ram *ram, uint32_t width, uint32_t height,
                     char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->width = width ? width : GPU_DEFAULT_WIDTH;
	g->height = height ? height : GPU_DEFAULT_HEIGHT;
	if (g->width < GPU_MIN_WIDTH || g->height < GPU_MIN_HEIGHT || g->width > GPU_MAX_SIZE ||
	    g->height > GPU_MAX_SIZE) {
		snprintf(err, errlen, "display size %ux%u: %ux%u to %ux%u", g->width, g->height,
		         GPU_MIN_WIDTH, GPU_MIN_HEIGHT, GPU_MAX_SIZE, GPU_MAX_SIZE);
		return false;
	}
	if (!(g->req = malloc(GPU_MAX_REQUEST))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	virtio_mmio_init(&g->transport, &gpu_ops, g, ram, NULL, NULL, "virtio-gpu");
	return true;
}

void virtio_gpu_destroy(struct virtio_gpu *g)
{
	gpu_reset(&g->transport);
	free(g->req);
	g->req = NULL;
}

void virtio_gpu_set_flush_listener(struct virtio_gpu *g, gpu_flush_fn fn, void *opaque)
{
	g->on_flush = fn;
	g->flush_opaque = opaque;
}

bool virtio_gpu_set_mode(struct virtio_gpu *g, uint32_t width, uint32_t height)
{
	if (width < GPU_MIN_WIDTH || height < GPU_MIN_HEIGHT || width > GPU_MAX_SIZE || height > GPU_MAX_SIZE)
		return false;
	if (width == g->width && height == g->height) return true;
	g->width = width;
	g->height = height;
	g->events_read |= VIRTIO_GPU_EVENT_DISPLAY; /* the driver reads the display info (and EDID) again */
	virtio_config_changed(&g->transport);
	return true;
}
