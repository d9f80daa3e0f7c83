/*
 * test_virtio_gpu.c — the virtio GPU's command parser (virtio/gpu.c): the 2D
 * path a Linux driver takes (display info, create, attach backing, transfer,
 * scanout, flush) down to the pixels a screenshot reads, fences, and hostile
 * commands: short requests, unknown ids, rectangles and transfers beyond the
 * resource, absurd sizes, backing outside RAM, more host memory than allowed.
 */
#include "check.h"
#include "virtio/gpu.h"

#include <linux/virtio_gpu.h>
#include <stdlib.h>
#include <string.h>

#define BASE 0x80000000ull
#define SIZE (8u << 20)

static struct guest_ram ram;
static struct virtio_gpu gpu;
static unsigned flushes_seen;
static struct gpu_rect last_flush;

static void on_flush(void *opaque, const struct gpu_rect *r)
{
	(void)opaque;
	flushes_seen++;
	last_flush = *r;
}

/* Sends a command; the response's type (0 when there was none). */
static uint32_t run(const void *req, size_t len)
{
	uint8_t resp[512];
	size_t n = virtio_gpu_command(&gpu, req, len, resp, sizeof(resp));
	if (n < sizeof(struct virtio_gpu_ctrl_hdr)) return 0;
	struct virtio_gpu_ctrl_hdr h;
	memcpy(&h, resp, sizeof(h));
	return h.type;
}

static uint32_t create(uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
	                                          .resource_id = id,
	                                          .format = format,
	                                          .width = w,
	                                          .height = h};
	return run(&c, sizeof(c));
}

static uint32_t attach(uint32_t id, const struct virtio_gpu_mem_entry *e, uint32_t n, size_t claimed)
{
	uint8_t buf[sizeof(struct virtio_gpu_resource_attach_backing) + 4 * sizeof(*e)];
	struct virtio_gpu_resource_attach_backing a = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
	                                               .resource_id = id,
	                                               .nr_entries = (uint32_t)claimed};
	memcpy(buf, &a, sizeof(a));
	memcpy(buf + sizeof(a), e, n * sizeof(*e));
	return run(buf, sizeof(a) + n * sizeof(*e));
}

static uint32_t transfer(uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint64_t offset)
{
	struct virtio_gpu_transfer_to_host_2d t = {.hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
	                                           .r = {x, y, w, h},
	                                           .offset = offset,
	                                           .resource_id = id};
	return run(&t, sizeof(t));
}

static uint32_t scanout(uint32_t scanout_id, uint32_t id, uint32_t w, uint32_t h)
{
	struct virtio_gpu_set_scanout s = {.hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT,
	                                   .r = {0, 0, w, h},
	                                   .scanout_id = scanout_id,
	                                   .resource_id = id};
	return run(&s, sizeof(s));
}

static uint32_t flush(uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_flush f = {
	    .hdr.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH, .r = {x, y, w, h}, .resource_id = id};
	return run(&f, sizeof(f));
}

static void setup(void)
{
	char err[128];
	if (gpu.req) virtio_gpu_destroy(&gpu);
	CHECK(virtio_gpu_init(&gpu, &ram, 640, 480, err, sizeof(err)));
	virtio_gpu_set_flush_listener(&gpu, on_flush, NULL);
	flushes_seen = 0;
}

static void test_display_info_and_fence(void)
{
	setup();
	struct virtio_gpu_ctrl_hdr h = {
	    .type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO, .flags = VIRTIO_GPU_FLAG_FENCE, .fence_id = 77};
	uint8_t resp[512];
	size_t n = virtio_gpu_command(&gpu, (uint8_t *)&h, sizeof(h), resp, sizeof(resp));
	struct virtio_gpu_resp_display_info d;
	CHECK_EQ(n, sizeof(d));
	memcpy(&d, resp, sizeof(d));
	CHECK_EQ(d.hdr.type, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	CHECK_EQ(d.hdr.flags, VIRTIO_GPU_FLAG_FENCE);
	CHECK_EQ(d.hdr.fence_id, 77);
	CHECK_EQ(d.pmodes[0].r.width, 640);
	CHECK_EQ(d.pmodes[0].r.height, 480);
	CHECK_EQ(d.pmodes[0].enabled, 1);
	CHECK_EQ(d.pmodes[1].enabled, 0);
	/* No room for the answer: nothing is written. */
	CHECK_EQ(virtio_gpu_command(&gpu, (uint8_t *)&h, sizeof(h), resp, 100), 0);
	/* Another product's display size is refused at creation. */
	char err[128];
	struct virtio_gpu other;
	CHECK(!virtio_gpu_init(&other, &ram, 100000, 10, err, sizeof(err)));
}

static void test_picture_path(void)
{
	setup();
	/* The guest's framebuffer: 64x32 B8G8R8X8 at RAM offset 1 MiB, in two pieces (rows 0-15, 16-31). */
	const uint32_t w = 64, h = 32;
	uint8_t *fb = ram.host + (1u << 20);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *p = fb + (y * w + x) * 4;
			p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = 0xAA, p[3] = 0; /* blue, green, red, x */
		}
	CHECK_EQ(create(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	struct virtio_gpu_mem_entry e[2] = {{.addr = BASE + (1u << 20), .length = w * 4 * 16},
	                                    {.addr = BASE + (1u << 20) + w * 4 * 16, .length = w * 4 * 16}};
	CHECK_EQ(attach(1, e, 2, 2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(1, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
	uint32_t sw, sh;
	CHECK(virtio_gpu_read_screen(&gpu, &sw, &sh) == NULL); /* no scanout yet */
	CHECK_EQ(scanout(0, 1, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(1, 1, 2, 3, 4), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flushes_seen, 1);
	CHECK_EQ(last_flush.x, 1);
	CHECK_EQ(last_flush.height, 4);
	uint8_t *rgb = virtio_gpu_read_screen(&gpu, &sw, &sh);
	CHECK(rgb != NULL);
	if (rgb) {
		CHECK_EQ(sw, w);
		CHECK_EQ(sh, h);
		const uint8_t *px = rgb + (20 * w + 5) * 3; /* (5, 20): red 0xAA, green 20, blue 5 */
		CHECK_EQ(px[0], 0xAA);
		CHECK_EQ(px[1], 20);
		CHECK_EQ(px[2], 5);
		free(rgb);
	}
	/* A partial transfer: only the rectangle changes. offset points at (x, y) in the guest's copy. */
	fb[(10 * w + 10) * 4 + 2] = 0x11;
	fb[(11 * w + 10) * 4 + 2] = 0x22;
	CHECK_EQ(transfer(1, 10, 10, 1, 1, (10 * w + 10) * 4), VIRTIO_GPU_RESP_OK_NODATA);
	rgb = virtio_gpu_read_screen(&gpu, &sw, &sh);
	if (rgb) {
		CHECK_EQ(rgb[(10 * w + 10) * 3], 0x11);
		CHECK_EQ(rgb[(11 * w + 10) * 3], 0xAA); /* not transferred */
		free(rgb);
	}
	/* The scanout's resource goes away: the screen is off, flushes of others are not shown. */
	CHECK_EQ(create(2, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(2, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flushes_seen, 1);
	struct virtio_gpu_resource_unref u = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF, .resource_id = 1};
	CHECK_EQ(run(&u, sizeof(u)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(virtio_gpu_read_screen(&gpu, &sw, &sh) == NULL);
	CHECK_EQ(run(&u, sizeof(u)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void test_hostile_commands(void)
{
	setup();
	uint64_t bad_before = gpu.bad_commands;
	struct virtio_gpu_ctrl_hdr h = {.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D};
	CHECK_EQ(run(&h, sizeof(h)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER); /* too short for its type */
	CHECK_EQ(run(&h, 3), VIRTIO_GPU_RESP_ERR_UNSPEC);                    /* not even a header */
	h.type = 0x0200;                                                     /* 3D: not offered */
	CHECK_EQ(run(&h, sizeof(h)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	h.type = 0xdeadbeef;
	CHECK_EQ(run(&h, sizeof(h)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* Ids, formats and sizes. */
	CHECK_EQ(create(0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create(5, 999, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0xffffffff, 0xffffffff),
	         VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16384, 16384),
	         VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(create(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16),
	         VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* Host memory is bounded across resources: 256 MiB is 16 of 4096x1024. */
	unsigned made = 0;
	for (uint32_t id = 100; id < 120; id++)
		made += create(id, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4096, 1024) == VIRTIO_GPU_RESP_OK_NODATA;
	CHECK_EQ(made, 15); /* the 16x16 one took the rest of the 16th */
	CHECK(gpu.host_bytes <= GPU_MAX_HOST_BYTES);
	/* Backing: outside RAM, straddling its end, zero length, more entries claimed than sent, twice. */
	struct virtio_gpu_mem_entry out = {.addr = BASE + SIZE, .length = 4096},
	                            straddle = {.addr = BASE + SIZE - 100, .length = 4096},
	                            zero = {.addr = BASE, .length = 0},
	                            wrap = {.addr = ~0ull - 10, .length = 4096},
	                            ok = {.addr = BASE, .length = 16 * 16 * 4};
	CHECK_EQ(attach(5, &out, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(5, &straddle, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(5, &zero, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(5, &wrap, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(5, &ok, 1, 1000), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(5, &ok, 1, 0xffffffff), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(6, &ok, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(transfer(5, 0, 0, 16, 16, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER); /* no backing yet */
	CHECK_EQ(attach(5, &ok, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(5, &ok, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Transfers: beyond the resource, wrapping rectangles, offsets beyond the backing. */
	CHECK_EQ(transfer(5, 0, 0, 16, 16, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(5, 8, 8, 9, 8, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(5, 0xfffffff0, 0, 0x20, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(5, 0, 0, 16, 16, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(5, 0, 0, 1, 1, ~0ull - 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(9, 0, 0, 1, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* Scanouts and flushes: other scanouts, unknown resources, rectangles out of the resource. */
	CHECK_EQ(scanout(1, 5, 16, 16), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(scanout(0, 9, 16, 16), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(scanout(0, 5, 17, 16), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(scanout(0, 5, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(flush(5, 0, 0, 32, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* The cursor: unknown resource, another scanout. */
	struct virtio_gpu_update_cursor c = {.hdr.type = VIRTIO_GPU_CMD_UPDATE_CURSOR, .resource_id = 9};
	CHECK_EQ(run(&c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	c.resource_id = 5, c.pos.scanout_id = 3;
	CHECK_EQ(run(&c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	c.pos.scanout_id = 0, c.pos.x = 7;
	CHECK_EQ(run(&c, sizeof(c)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu.cursor_x, 7);
	CHECK(gpu.bad_commands > bad_before);
	virtio_gpu_destroy(&gpu);
	CHECK_EQ(gpu.host_bytes, 0);
}

/* The EDID the guest reads: a valid 1.4 block whose preferred mode is the display's size; a new size
 * is announced through the configuration and the next EDID has it. */
static void test_edid_and_mode_change(void)
{
	setup();
	struct virtio_gpu_cmd_get_edid q = {.hdr.type = VIRTIO_GPU_CMD_GET_EDID};
	uint8_t resp[2048];
	size_t n = virtio_gpu_command(&gpu, (uint8_t *)&q, sizeof(q), resp, sizeof(resp));
	struct virtio_gpu_resp_edid e;
	CHECK_EQ(n, sizeof(e));
	memcpy(&e, resp, sizeof(e));
	CHECK_EQ(e.hdr.type, VIRTIO_GPU_RESP_OK_EDID);
	CHECK_EQ(e.size, 128);
	static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	CHECK(!memcmp(e.edid, header, 8));
	uint8_t sum = 0;
	for (int i = 0; i < 128; i++) sum = (uint8_t)(sum + e.edid[i]);
	CHECK_EQ(sum, 0);
	CHECK_EQ(e.edid[18], 1);
	CHECK_EQ(e.edid[19], 4);
	const uint8_t *dtd = e.edid + 54; /* the preferred mode: 640 x 480 */
	CHECK((dtd[0] | dtd[1]) != 0);
	CHECK_EQ(dtd[2] | (dtd[4] >> 4) << 8, 640);
	CHECK_EQ(dtd[5] | (dtd[7] >> 4) << 8, 480);
	uint32_t clock = (dtd[0] | dtd[1] << 8) * 10000u, htotal = 640 + (dtd[3] | (dtd[4] & 15) << 8),
	         vtotal = 480 + (dtd[6] | (dtd[7] & 15) << 8);
	CHECK(clock / (htotal * vtotal) >= 59 && clock / (htotal * vtotal) <= 60); /* 60 Hz */
	bool named = false;
	for (int d = 54; d < 126; d += 18)
		named |= e.edid[d + 3] == 0xfc && !memcmp(e.edid + d + 5, "cloison\n", 8);
	CHECK(named);
	/* Another scanout: refused. A short request: refused. */
	q.scanout = 1;
	CHECK_EQ(run(&q, sizeof(q)), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(run(&q, sizeof(q.hdr)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* A new mode: the display event is raised, display info and EDID say 1280 x 800. */
	CHECK(!virtio_gpu_set_mode(&gpu, 100, 100));
	CHECK(!virtio_gpu_set_mode(&gpu, 9000, 600));
	CHECK_EQ(gpu.events_read, 0);
	CHECK(virtio_gpu_set_mode(&gpu, 1280, 800));
	CHECK_EQ(gpu.events_read, VIRTIO_GPU_EVENT_DISPLAY);
	CHECK_EQ(gpu.width, 1280);
	q.scanout = 0;
	virtio_gpu_command(&gpu, (uint8_t *)&q, sizeof(q), resp, sizeof(resp));
	memcpy(&e, resp, sizeof(e));
	CHECK_EQ(e.edid[56] | (e.edid[58] >> 4) << 8, 1280);
	CHECK_EQ(e.edid[59] | (e.edid[61] >> 4) << 8, 800);
	/* A display too wide for a detailed timing still gets a valid block (no preferred timing in it). */
	CHECK(virtio_gpu_set_mode(&gpu, 5120, 2880));
	virtio_gpu_command(&gpu, (uint8_t *)&q, sizeof(q), resp, sizeof(resp));
	memcpy(&e, resp, sizeof(e));
	sum = 0;
	for (int i = 0; i < 128; i++) sum = (uint8_t)(sum + e.edid[i]);
	CHECK_EQ(sum, 0);
	CHECK_EQ(e.edid[54] | e.edid[55], 0); /* a display descriptor, not a timing */
}

static void init(void)
{
	static uint8_t *mem;
	if (!mem) mem = calloc(1, SIZE);
	ram = (struct guest_ram){.host = mem, .base = BASE, .size = SIZE};
}

static void test_init(void)
{
	init();
}

TEST_MAIN(test_init, test_display_info_and_fence, test_picture_path, test_hostile_commands,
          test_edid_and_mode_change)
