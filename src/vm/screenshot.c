/*
 * screenshot.c — see screenshot.h. libpng writes into a growing memory
 * buffer; its errors come back through setjmp, as libpng requires.
 */
#include "screenshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLOISON_DISPLAY_LIBS
bool screenshot_png(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **png, size_t *len,
                    char *err, size_t errlen)
{
	(void)rgb, (void)width, (void)height, (void)png, (void)len;
	snprintf(err, errlen, "this cloison was built without libpng (a cross build): no screenshots");
	return false;
}
#else
#include <png.h>
#include <setjmp.h>

struct sink {
	uint8_t *buf;
	size_t len, cap;
	bool failed;
};

static void sink_write(png_structp p, png_bytep data, size_t n)
{
	struct sink *s = png_get_io_ptr(p);
	if (s->failed) return;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 1 << 16;
		while (cap < s->len + n) cap *= 2;
		uint8_t *b = realloc(s->buf, cap);
		if (!b) {
			s->failed = true;
			return;
		}
		s->buf = b, s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
}

static void sink_flush(png_structp p)
{
	(void)p;
}

bool screenshot_png(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **png, size_t *len,
                    char *err, size_t errlen)
{
	struct sink s = {0};
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	if (!p || !info) {
		png_destroy_write_struct(&p, NULL);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (setjmp(png_jmpbuf(p))) {
		png_destroy_write_struct(&p, &info);
		free(s.buf);
		snprintf(err, errlen, "PNG encoding failed");
		return false;
	}
	png_set_write_fn(p, &s, sink_write, sink_flush);
	png_set_IHDR(p, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(p, 1); /* fast: screens are mostly flat colour */
	png_write_info(p, info);
	for (uint32_t y = 0; y < height; y++)
		png_write_row(p, (png_const_bytep)(rgb + (size_t)y * width * 3));
	png_write_end(p, info);
	png_destroy_write_struct(&p, &info);
	if (s.failed) {
		free(s.buf);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	*png = s.buf, *len = s.len;
	return true;
}
#endif
