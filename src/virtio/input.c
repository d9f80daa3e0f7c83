/*
 * input.c — see input.h. The configuration space is computed from the
 * selector on each read; events leave the host queue as the driver posts
 * buffers (one 8-byte event per buffer, as Linux posts them).
 */
#include "input.h"

#include <linux/input-event-codes.h>
#include <linux/virtio_input.h>
#include <stdio.h>
#include <string.h>

#define VIRTIO_ID_INPUT 18
#define BUS_VIRTUAL 0x06

static void set_bit(uint8_t *bits, unsigned n)
{
	bits[n / 8] |= (uint8_t)(1u << (n % 8));
}

/* Fills the union of the configuration for the current selector; its size (0: nothing there). */
static uint8_t config_payload(const struct virtio_input *in, uint8_t u[128])
{
	memset(u, 0, 128);
	bool kbd = in->kind == VIRTIO_INPUT_KEYBOARD;
	switch (in->select) {
	case VIRTIO_INPUT_CFG_ID_NAME: {
		const char *name = kbd ? "cloison keyboard" : "cloison tablet";
		memcpy(u, name, strlen(name));
		return (uint8_t)strlen(name);
	}
	case VIRTIO_INPUT_CFG_ID_SERIAL: memcpy(u, "cloison-0", 9); return 9;
	case VIRTIO_INPUT_CFG_ID_DEVIDS: {
		struct virtio_input_devids ids = {
		    .bustype = BUS_VIRTUAL, .vendor = 0, .product = kbd ? 1 : 2, .version = 1};
		memcpy(u, &ids, sizeof(ids));
		return sizeof(ids);
	}
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (kbd && in->subsel == EV_KEY) {
			for (unsigned k = KEY_ESC; k <= KEY_MICMUTE; k++) set_bit(u, k);
			return (KEY_MICMUTE / 8) + 1;
		}
		if (!kbd && in->subsel == EV_KEY) {
			set_bit(u, BTN_LEFT), set_bit(u, BTN_RIGHT), set_bit(u, BTN_MIDDLE);
			return (BTN_MIDDLE / 8) + 1;
		}
		if (!kbd && in->subsel == EV_ABS) {
			set_bit(u, ABS_X), set_bit(u, ABS_Y);
			return 1;
		}
		return 0;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (!kbd && (in->subsel == ABS_X || in->subsel == ABS_Y)) {
			struct virtio_input_absinfo a = {.min = 0, .max = INPUT_ABS_MAX};
			memcpy(u, &a, sizeof(a));
			return sizeof(a);
		}
		return 0;
	default: return 0; /* PROP_BITS: none; unknown selectors: nothing */
	}
}

uint64_t virtio_input_config_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	struct virtio_input *in = t->dev;
	uint8_t c[sizeof(struct virtio_input_config)] = {0};
	c[0] = in->select, c[1] = in->subsel;
	c[2] = config_payload(in, c + offsetof(struct virtio_input_config, u));
	uint64_t v = 0;
	if (off + size <= sizeof(c)) memcpy(&v, c + off, size);
	return v;
}

static void input_config_write(struct virtio_mmio *t, uint32_t off, unsigned size, uint64_t val)
{
	struct virtio_input *in = t->dev;
	if (size != 1) return;
	if (off == offsetof(struct virtio_input_config, select)) in->select = (uint8_t)val;
	if (off == offsetof(struct virtio_input_config, subsel)) in->subsel = (uint8_t)val;
}

/* Hands queued events to the guest, one per buffer it posted. */
static void deliver(struct virtio_input *in)
{
	struct virtio_mmio *t = &in->transport;
	struct virtq *q = &t->queues[0];
	if (t->frozen || !(t->status & VIRTIO_STATUS_DRIVER_OK) || !q->ready) return;
	static struct virtq_chain chain; /* large: not on the vCPU stack; callers hold the I/O lock */
	const char *why;
	enum virtq_pop_result res = VIRTQ_EMPTY;
	bool pushed = false;
	while (in->count && (res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		const struct input_event_rec *e = &in->queue[in->head];
		struct virtio_input_event ev = {.type = e->type, .code = e->code, .value = e->value};
		if (chain.in_bytes < sizeof(ev)) { /* a buffer too small for an event: given back empty */
			virtq_push(q, &t->ram, chain.head, 0);
			pushed = true;
			continue;
		}
		size_t n = virtq_chain_scatter(&t->ram, &chain, &ev, sizeof(ev));
		virtq_push(q, &t->ram, chain.head, (uint32_t)n);
		pushed = true;
		in->head = (in->head + 1) % INPUT_QUEUE_MAX;
		in->count--;
		in->delivered++;
	}
	if (res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, 0);
}

static void input_notify(struct virtio_mmio *t, unsigned qi)
{
	struct virtio_input *in = t->dev;
	if (qi == 0) return deliver(in);
	/* The status queue (LEDs): read and given back. */
	struct virtq *q = &t->queues[qi];
	static struct virtq_chain chain;
	const char *why;
	enum virtq_pop_result res;
	bool pushed = false;
	while (!t->frozen && (res = virtq_pop(q, &t->ram, &chain, &why)) == VIRTQ_GOT) {
		virtq_push(q, &t->ram, chain.head, 0);
		pushed = true;
	}
	if (!t->frozen && res == VIRTQ_BROKEN) virtio_device_broken(t, why);
	if (pushed) virtio_notify_used(t, qi);
}

bool virtio_input_report(struct virtio_input *in, const struct input_event_rec *ev, unsigned n)
{
	if (in->count + n + 1 > INPUT_QUEUE_MAX) {
		in->dropped++;
		return false;
	}
	for (unsigned i = 0; i <= n; i++) {
		struct input_event_rec e = i < n ? ev[i] : (struct input_event_rec){EV_SYN, SYN_REPORT, 0};
		in->queue[(in->head + in->count) % INPUT_QUEUE_MAX] = e;
		in->count++;
	}
	deliver(in);
	return true;
}

/* The key (and whether shift) that types c on a US keyboard; 0 when there is none. */
static uint16_t key_of(char c, bool *shift)
{
	static const char *const rows[] = {"1234567890-=", "qwertyuiop[]", "asdfghjkl;'`", "\\zxcvbnm,./"};
	static const char *const shifted[] = {"!@#$%^&*()_+", "QWERTYUIOP{}", "ASDFGHJKL:\"~", "|ZXCVBNM<>?"};
	static const uint16_t first[] = {KEY_1, KEY_Q, KEY_A, KEY_BACKSLASH};
	*shift = false;
	if (c == ' ') return KEY_SPACE;
	if (c == '\n') return KEY_ENTER;
	if (c == '\t') return KEY_TAB;
	for (unsigned r = 0; r < 4; r++) {
		const char *p = c ? strchr(rows[r], c) : NULL;
		const char *s = c ? strchr(shifted[r], c) : NULL;
		if (!p && !s) continue;
		*shift = s != NULL;
		unsigned i = (unsigned)((s ? s - shifted[r] : p - rows[r]));
		if (r == 3 && i > 0)
			return (uint16_t)(KEY_Z + i - 1); /* \ sits apart, then z x c v b n m , . / */
		return (uint16_t)(first[r] + i);
	}
	return 0;
}

bool virtio_input_type_text(struct virtio_input *in, const char *text, char *err, size_t errlen)
{
	bool shift;
	for (const char *p = text; *p; p++)
		if (!key_of(*p, &shift)) {
			snprintf(err, errlen,
			         "cannot type character 0x%02x (US layout: printable ASCII, \\n, \\t)",
			         (unsigned char)*p);
			return false;
		}
	for (const char *p = text; *p; p++) {
		uint16_t k = key_of(*p, &shift);
		struct input_event_rec down[2] = {{EV_KEY, KEY_LEFTSHIFT, 1}, {EV_KEY, k, 1}};
		struct input_event_rec up[2] = {{EV_KEY, k, 0}, {EV_KEY, KEY_LEFTSHIFT, 0}};
		if (!virtio_input_report(in, shift ? down : down + 1, shift ? 2 : 1) ||
		    !virtio_input_report(in, up, shift ? 2 : 1)) {
			snprintf(err, errlen,
			         "the guest does not take its key presses (typed %zu of %zu characters)",
			         (size_t)(p - text), strlen(text));
			return false;
		}
	}
	return true;
}

bool virtio_input_key(struct virtio_input *in, uint16_t key, bool down)
{
	struct input_event_rec e = {EV_KEY, key, down};
	return key && virtio_input_report(in, &e, 1);
}

uint16_t virtio_input_keysym(uint32_t keysym)
{
	static const struct {
		uint32_t sym;
		uint16_t key;
	} special[] = {
	    {0xff08, KEY_BACKSPACE},  {0xff09, KEY_TAB},      {0xff0d, KEY_ENTER},
	    {0xff1b, KEY_ESC},        {0xffff, KEY_DELETE},   {0xff50, KEY_HOME},
	    {0xff51, KEY_LEFT},       {0xff52, KEY_UP},       {0xff53, KEY_RIGHT},
	    {0xff54, KEY_DOWN},       {0xff55, KEY_PAGEUP},   {0xff56, KEY_PAGEDOWN},
	    {0xff57, KEY_END},        {0xff63, KEY_INSERT},   {0xffe1, KEY_LEFTSHIFT},
	    {0xffe2, KEY_RIGHTSHIFT}, {0xffe3, KEY_LEFTCTRL}, {0xffe4, KEY_RIGHTCTRL},
	    {0xffe5, KEY_CAPSLOCK},   {0xffe9, KEY_LEFTALT},  {0xffea, KEY_RIGHTALT},
	    {0xffe7, KEY_LEFTMETA},   {0xffeb, KEY_LEFTMETA}, {0xff7f, KEY_NUMLOCK},
	    {0xff14, KEY_SCROLLLOCK}, {0xff61, KEY_SYSRQ},    {0xff13, KEY_PAUSE},
	    {0xffbe + 10, KEY_F11},   {0xffbe + 11, KEY_F12},
	};
	bool shift;
	if (keysym >= 0x20 && keysym <= 0x7e) return key_of((char)keysym, &shift);
	if (keysym >= 0xffbe && keysym < 0xffbe + 10) return (uint16_t)(KEY_F1 + (keysym - 0xffbe));
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (special[i].sym == keysym) return special[i].key;
	return 0;
}

bool virtio_input_pointer(struct virtio_input *in, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                          unsigned buttons)
{
	uint64_t ax = width > 1 ? (uint64_t)(x < width ? x : width - 1) * INPUT_ABS_MAX / (width - 1) : 0;
	uint64_t ay = height > 1 ? (uint64_t)(y < height ? y : height - 1) * INPUT_ABS_MAX / (height - 1) : 0;
	struct input_event_rec ev[5] = {
	    {EV_ABS, ABS_X, (uint32_t)ax},
	    {EV_ABS, ABS_Y, (uint32_t)ay},
	    {EV_KEY, BTN_LEFT, buttons & 1},
	    {EV_KEY, BTN_RIGHT, (buttons >> 1) & 1},
	    {EV_KEY, BTN_MIDDLE, (buttons >> 2) & 1},
	};
	return virtio_input_report(in, ev, 5);
}

static void input_reset(struct virtio_mmio *t)
{
	struct virtio_input *in = t->dev;
	in->select = in->subsel = 0;
	in->head = in->count = 0; /* a new driver starts from a quiet device */
}

static void input_resume(struct virtio_mmio *t)
{
	deliver(t->dev);
}

static void input_save(const struct virtio_mmio *t, struct state_writer *w)
{
	const struct virtio_input *in = t->dev;
	state_put_u32(w, in->kind);
	state_put_u8(w, in->select);
	state_put_u8(w, in->subsel);
	state_put_u64(w, in->count);
	for (unsigned i = 0; i < in->count; i++) {
		const struct input_event_rec *e = &in->queue[(in->head + i) % INPUT_QUEUE_MAX];
		state_put_u16(w, e->type);
		state_put_u16(w, e->code);
		state_put_u32(w, e->value);
	}
}

static void input_load(struct virtio_mmio *t, struct state_reader *r)
{
	struct virtio_input *in = t->dev;
	uint32_t kind = state_get_u32(r);
	if (!r->failed && kind != in->kind) state_fail(r, "virtio-input: the saved device is another kind");
	in->select = state_get_u8(r);
	in->subsel = state_get_u8(r);
	unsigned n = (unsigned)state_get_range(r, 0, INPUT_QUEUE_MAX, "virtio-input queued events");
	in->head = in->count = 0;
	for (unsigned i = 0; i < n && !r->failed; i++) {
		in->queue[i].type = state_get_u16(r);
		in->queue[i].code = state_get_u16(r);
		in->queue[i].value = state_get_u32(r);
		in->count = i + 1;
	}
	if (r->failed) in->count = 0;
}

static const struct virtio_device_ops input_ops = {
    .device_id = VIRTIO_ID_INPUT,
    .num_queues = 2, /* events, status */
    .queue_max = 64,
    .notify = input_notify,
    .config_size = sizeof(struct virtio_input_config),
    .config_read = virtio_input_config_read,
    .config_write = input_config_write,
    .reset = input_reset,
    .resume = input_resume,
    .save = input_save,
    .load = input_load,
};

void virtio_input_init(struct virtio_input *in, enum virtio_input_kind kind, const struct guest_ram *ram)
{
	memset(in, 0, sizeof(*in));
	in->kind = kind;
	virtio_mmio_init(&in->transport, &input_ops, in, ram, NULL, NULL,
	                 kind == VIRTIO_INPUT_KEYBOARD ? "virtio-keyboard" : "virtio-tablet");
}
