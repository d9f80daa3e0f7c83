/*
 * screenshot.h — what a VM's screen shows as a PNG image (libpng), for the
 * control socket's GET /vm/screenshot and everything built on it.
 */
#ifndef CLOISON_VM_SCREENSHOT_H
#define CLOISON_VM_SCREENSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encodes width x height 8-bit RGB rows as a PNG in a malloc'd buffer (*png, *len). False with err set. */
bool screenshot_png(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **png, size_t *len,
                    char *err, size_t errlen);

#endif
