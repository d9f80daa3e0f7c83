/*
 * edid.h — the EDID (VESA Enhanced Display Identification Data 1.4, the
 * 128-byte base block) the virtio GPU hands the guest for its display: the
 * display's size as the preferred mode (a detailed timing at 60 Hz with
 * reduced blanking), the usual established modes, range limits, the name
 * "cloison". Pure: unit-tested byte for byte.
 */
#ifndef CLOISON_VIRTIO_EDID_H
#define CLOISON_VIRTIO_EDID_H

#include <stdint.h>

#define EDID_SIZE 128

/* Fills out for a width x height display (a detailed timing only when both fit its 12-bit fields:
 * below 4096). */
void edid_build(uint8_t out[EDID_SIZE], uint32_t width, uint32_t height);

#endif
