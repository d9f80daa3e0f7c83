/*
 * input.h — virtio input devices (virtio-input): a keyboard, and a tablet
 * whose pointer is where the user points (absolute coordinates, 0 to
 * INPUT_ABS_MAX on each axis, scaled to the screen by the guest). The host
 * queues Linux input events (type, code, value: linux/input-event-codes.h);
 * the device hands them to the guest in the buffers it posts, a report
 * (events then SYN_REPORT) at a time. Text typed through the API becomes key
 * presses with the US layout.
 *
 * The guest only posts buffers and reads the configuration space: short
 * buffers, unknown selectors and status messages are ignored; the host's
 * queue is bounded (a full queue drops whole reports, counted).
 */
#ifndef CLOISON_VIRTIO_INPUT_H
#define CLOISON_VIRTIO_INPUT_H

#include "mmio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INPUT_QUEUE_MAX 1024 /* events waiting for the guest's buffers */
#define INPUT_ABS_MAX 32767

enum virtio_input_kind { VIRTIO_INPUT_KEYBOARD, VIRTIO_INPUT_TABLET };

struct input_event_rec {
	uint16_t type, code;
	uint32_t value;
};

struct virtio_input {
	struct virtio_mmio transport;
	enum virtio_input_kind kind;
	uint8_t select, subsel; /* the configuration space's selector, as the driver wrote it */
	struct input_event_rec queue[INPUT_QUEUE_MAX];
	unsigned head, count;
	uint64_t delivered, dropped;
};

void virtio_input_init(struct virtio_input *in, enum virtio_input_kind kind, const struct guest_ram *ram);

/* Queues one report: the events given, then SYN_REPORT; false (nothing queued, counted) when the
 * queue lacks room. Delivers what the guest has buffers for. Callers hold the board's I/O lock. */
bool virtio_input_report(struct virtio_input *in, const struct input_event_rec *ev, unsigned n);
/* Types text on a keyboard (US layout: letters, digits, punctuation, space, \n as Enter, \t as Tab):
 * a press and a release per character, with shift where needed. False with err set at the first
 * character it cannot type (nothing typed), or when the queue fills. */
bool virtio_input_type_text(struct virtio_input *in, const char *text, char *err, size_t errlen);
/* The tablet's pointer at (x, y) of a width x height screen, with buttons (bit 0 left, 1 right,
 * 2 middle) held. */
bool virtio_input_pointer(struct virtio_input *in, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                          unsigned buttons);

/* One key pressed or released (a Linux key code, linux/input-event-codes.h). */
bool virtio_input_key(struct virtio_input *in, uint16_t key, bool down);
/* The key an X11 keysym (what VNC clients send) is on, US layout; 0 when none. Shifted symbols map to
 * their unshifted key: the client sends Shift itself. */
uint16_t virtio_input_keysym(uint32_t keysym);

/* The configuration space as the driver reads it (tests read it this way too). */
uint64_t virtio_input_config_read(struct virtio_mmio *t, uint32_t off, unsigned size);

#endif
