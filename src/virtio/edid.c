/*
 * edid.c — see edid.h. Field layout from the VESA E-EDID 1.4 standard.
 */
#include "edid.h"

#include <string.h>

#define REFRESH_HZ 60
#define H_BLANK 160 /* reduced blanking: front porch 48, sync 32, back porch 80 */
#define H_FRONT 48
#define H_SYNC 32
#define V_FRONT 3
#define V_SYNC 6
#define DPI 96

/* A chromaticity coordinate as EDID's 10-bit binary fraction. */
static unsigned coord(double v)
{
	return (unsigned)(v * 1024.0 + 0.5) & 0x3ff;
}

static void put_descriptor_text(uint8_t *d, uint8_t tag, const char *text)
{
	memset(d, 0, 18);
	d[3] = tag;
	size_t n = strlen(text);
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n);
	if (n < 13) d[5 + n] = '\n';
}

static void put_detailed_timing(uint8_t *d, uint32_t w, uint32_t h)
{
	/* Vertical blanking of at least 460 us at 60 Hz (as CVT's reduced blanking asks), 15 lines or more.
	 */
	uint32_t v_blank = (h * 2838 + 99999) / 100000;
	if (v_blank < V_FRONT + V_SYNC + 6) v_blank = V_FRONT + V_SYNC + 6;
	uint64_t clock_10khz = ((uint64_t)(w + H_BLANK) * (h + v_blank) * REFRESH_HZ + 5000) / 10000;
	uint32_t w_mm = w * 254 / (DPI * 10), h_mm = h * 254 / (DPI * 10);
	d[0] = (uint8_t)clock_10khz;
	d[1] = (uint8_t)(clock_10khz >> 8);
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)H_BLANK;
	d[4] = (uint8_t)(((w >> 8) & 0xf) << 4 | ((H_BLANK >> 8) & 0xf));
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)v_blank;
	d[7] = (uint8_t)(((h >> 8) & 0xf) << 4 | ((v_blank >> 8) & 0xf));
	d[8] = (uint8_t)H_FRONT;
	d[9] = (uint8_t)H_SYNC;
	d[10] = (uint8_t)((V_FRONT & 0xf) << 4 | (V_SYNC & 0xf));
	d[11] = 0; /* the high bits of porches and syncs: all small */
	d[12] = (uint8_t)w_mm;
	d[13] = (uint8_t)h_mm;
	d[14] = (uint8_t)(((w_mm >> 8) & 0xf) << 4 | ((h_mm >> 8) & 0xf));
	d[15] = d[16] = 0;   /* no border */
	d[17] = 0x18 | 0x02; /* digital separate sync; horizontal +, vertical - (reduced blanking) */
}

void edid_build(uint8_t out[EDID_SIZE], uint32_t width, uint32_t height)
{
	static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	memset(out, 0, EDID_SIZE);
	memcpy(out, header, sizeof(header));
	uint16_t maker = (uint16_t)(('C' - '@') << 10 | ('L' - '@') << 5 | ('S' - '@')); /* "CLS" */
	out[8] = (uint8_t)(maker >> 8);
	out[9] = (uint8_t)maker;
	out[10] = 0x01; /* product code 1, no serial number */
	out[16] = 0;    /* week unknown */
	out[17] = 2026 - 1990;
	out[18] = 1, out[19] = 4; /* EDID 1.4 */
	out[20] = 0x80 | 0x20;    /* digital input, 8 bits per primary colour */
	out[21] = (uint8_t)(width * 254 / (DPI * 100) ? width * 254 / (DPI * 100) : 1); /* cm */
	out[22] = (uint8_t)(height * 254 / (DPI * 100) ? height * 254 / (DPI * 100) : 1);
	out[23] = 120;         /* gamma 2.2 */
	out[24] = 0x04 | 0x02; /* sRGB default; the preferred timing is native */
	const double rx = 0.640, ry = 0.330, gx = 0.300, gy = 0.600, bx = 0.150, by = 0.060, wx = 0.3127,
	             wy = 0.3290; /* sRGB primaries and D65 */
	out[25] =
	    (uint8_t)((coord(rx) & 3) << 6 | (coord(ry) & 3) << 4 | (coord(gx) & 3) << 2 | (coord(gy) & 3));
	out[26] =
	    (uint8_t)((coord(bx) & 3) << 6 | (coord(by) & 3) << 4 | (coord(wx) & 3) << 2 | (coord(wy) & 3));
	out[27] = (uint8_t)(coord(rx) >> 2), out[28] = (uint8_t)(coord(ry) >> 2);
	out[29] = (uint8_t)(coord(gx) >> 2), out[30] = (uint8_t)(coord(gy) >> 2);
	out[31] = (uint8_t)(coord(bx) >> 2), out[32] = (uint8_t)(coord(by) >> 2);
	out[33] = (uint8_t)(coord(wx) >> 2), out[34] = (uint8_t)(coord(wy) >> 2);
	out[35] = 0x20 | 0x01;                       /* established: 640x480@60, 800x600@60 */
	out[36] = 0x08;                              /* 1024x768@60 */
	for (int i = 38; i < 54; i++) out[i] = 0x01; /* no standard timings */
	uint8_t *d = out + 54;
	if (width < 4096 && height < 4096) {
		put_detailed_timing(d, width, height);
		d += 18;
	}
	memset(d, 0, 18); /* range limits: 50-75 Hz, 30-160 kHz, up to 600 MHz */
	d[3] = 0xfd;
	d[5] = 50, d[6] = 75, d[7] = 30, d[8] = 160, d[9] = 60, d[10] = 0x01, d[11] = 0x0a;
	memset(d + 12, ' ', 6);
	d += 18;
	put_descriptor_text(d, 0xfc, "cloison"); /* the monitor's name */
	d += 18;
	while (d < out + 126) { /* dummy descriptors fill the rest */
		memset(d, 0, 18);
		d[3] = 0x10;
		d += 18;
	}
	out[126] = 0; /* no extension blocks */
	uint8_t sum = 0;
	for (int i = 0; i < 127; i++) sum = (uint8_t)(sum + out[i]);
	out[127] = (uint8_t)(0x100 - sum);
}
