/*
 * test_virtio_input.c — virtio input devices (virtio/input.c): the
 * configuration space a Linux driver reads (names, ids, event bits, absolute
 * axes), text typed as key presses with the US layout, pointer reports scaled
 * to the tablet's axes, and a host queue that stays bounded when the guest
 * takes nothing.
 */
#include "check.h"
#include "virtio/input.h"

#include <linux/input-event-codes.h>
#include <linux/virtio_input.h>
#include <stdlib.h>
#include <string.h>

static struct guest_ram ram;
static struct virtio_input kbd, tab;

static void select_cfg(struct virtio_input *in, uint8_t sel, uint8_t sub)
{
	in->transport.ops->config_write(&in->transport, 0, 1, sel);
	in->transport.ops->config_write(&in->transport, 1, 1, sub);
}

static uint8_t cfg_byte(struct virtio_input *in, uint32_t off)
{
	return (uint8_t)virtio_input_config_read(&in->transport, off, 1);
}

static void test_config(void)
{
	static uint8_t mem[4096];
	ram = (struct guest_ram){.host = mem, .base = 0x80000000ull, .size = sizeof(mem)};
	virtio_input_init(&kbd, VIRTIO_INPUT_KEYBOARD, &ram);
	virtio_input_init(&tab, VIRTIO_INPUT_TABLET, &ram);
	select_cfg(&kbd, VIRTIO_INPUT_CFG_ID_NAME, 0);
	CHECK_EQ(cfg_byte(&kbd, 2), strlen("cloison keyboard"));
	CHECK_EQ(cfg_byte(&kbd, 8), 'c');
	/* The keyboard has keys (KEY_A), no axes; the tablet has buttons and two axes of 0..32767. */
	select_cfg(&kbd, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
	CHECK(cfg_byte(&kbd, 2) > KEY_A / 8);
	CHECK(cfg_byte(&kbd, 8 + KEY_A / 8) & (1u << (KEY_A % 8)));
	select_cfg(&kbd, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS);
	CHECK_EQ(cfg_byte(&kbd, 2), 0);
	select_cfg(&tab, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS);
	CHECK_EQ(cfg_byte(&tab, 2), 1);
	CHECK_EQ(cfg_byte(&tab, 8), 0x03);
	select_cfg(&tab, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
	CHECK(cfg_byte(&tab, 8 + BTN_LEFT / 8) & (1u << (BTN_LEFT % 8)));
	CHECK(!(cfg_byte(&tab, 8 + KEY_A / 8) & (1u << (KEY_A % 8))));
	select_cfg(&tab, VIRTIO_INPUT_CFG_ABS_INFO, ABS_Y);
	CHECK_EQ(cfg_byte(&tab, 2), sizeof(struct virtio_input_absinfo));
	CHECK_EQ(virtio_input_config_read(&tab.transport, 8 + 4, 4), INPUT_ABS_MAX);
	/* Unknown selectors and reads past the space say nothing. */
	select_cfg(&tab, 0x77, 0x99);
	CHECK_EQ(cfg_byte(&tab, 2), 0);
	CHECK_EQ(virtio_input_config_read(&tab.transport, 200, 4), 0);
	select_cfg(&kbd, VIRTIO_INPUT_CFG_ID_DEVIDS, 0);
	CHECK_EQ(cfg_byte(&kbd, 2), sizeof(struct virtio_input_devids));
	CHECK_EQ(cfg_byte(&kbd, 8), 0x06); /* BUS_VIRTUAL */
}

/* The i-th queued event (no driver: they wait). */
static struct input_event_rec at(const struct virtio_input *in, unsigned i)
{
	return in->queue[(in->head + i) % INPUT_QUEUE_MAX];
}

static void test_typing(void)
{
	char err[160];
	CHECK(virtio_input_type_text(&kbd, "a!\n", err, sizeof(err)));
	/* a: down, SYN, up, SYN; !: shift down, 1 down, SYN, 1 up, shift up, SYN; Enter: 4. */
	CHECK_EQ(kbd.count, 4 + 6 + 4);
	CHECK_EQ(at(&kbd, 0).code, KEY_A);
	CHECK_EQ(at(&kbd, 0).value, 1);
	CHECK_EQ(at(&kbd, 1).type, EV_SYN);
	CHECK_EQ(at(&kbd, 2).value, 0);
	CHECK_EQ(at(&kbd, 4).code, KEY_LEFTSHIFT);
	CHECK_EQ(at(&kbd, 5).code, KEY_1);
	CHECK_EQ(at(&kbd, 8).code, KEY_LEFTSHIFT);
	CHECK_EQ(at(&kbd, 8).value, 0);
	CHECK_EQ(at(&kbd, 10).code, KEY_ENTER);
	/* Every printable character has a key; the layout's corners land where they should. */
	bool shift;
	(void)shift;
	unsigned before = kbd.count;
	CHECK(virtio_input_type_text(&kbd, "zZ/?`~\\|", err, sizeof(err)));
	CHECK_EQ(at(&kbd, before).code, KEY_Z);
	CHECK_EQ(at(&kbd, before + 5).code, KEY_Z); /* Z: shift, z */
	CHECK_EQ(at(&kbd, before + 10).code, KEY_SLASH);
	CHECK_EQ(at(&kbd, before + 20).code, KEY_GRAVE);
	CHECK_EQ(at(&kbd, before + 30).code, KEY_BACKSLASH);
	/* What a US keyboard cannot type is refused before anything is queued. */
	before = kbd.count;
	CHECK(!virtio_input_type_text(&kbd, "ok\x01", err, sizeof(err)));
	CHECK(strstr(err, "0x01") != NULL);
	CHECK(!virtio_input_type_text(&kbd, "caf\xc3\xa9", err, sizeof(err)));
	CHECK_EQ(kbd.count, before);
}

static void test_pointer_and_bounds(void)
{
	CHECK(virtio_input_pointer(&tab, 1023, 0, 1024, 768, 1));
	CHECK_EQ(at(&tab, 0).code, ABS_X);
	CHECK_EQ(at(&tab, 0).value, INPUT_ABS_MAX);
	CHECK_EQ(at(&tab, 1).value, 0);
	CHECK_EQ(at(&tab, 2).code, BTN_LEFT);
	CHECK_EQ(at(&tab, 2).value, 1);
	CHECK_EQ(at(&tab, 5).type, EV_SYN);
	CHECK(virtio_input_pointer(&tab, 99999, 99999, 1024, 768, 0)); /* off the screen: its edge */
	CHECK_EQ(at(&tab, 6).value, INPUT_ABS_MAX);
	CHECK_EQ(at(&tab, 7).value, INPUT_ABS_MAX);
	/* A guest that takes nothing: the queue fills, whole reports are refused and counted. */
	unsigned ok = 0;
	for (int i = 0; i < 1000; i++) ok += virtio_input_pointer(&tab, 1, 1, 1024, 768, 0);
	CHECK(tab.count <= INPUT_QUEUE_MAX);
	CHECK_EQ(tab.count % 6, 0); /* only whole reports */
	CHECK(tab.dropped > 0);
	CHECK_EQ(ok + tab.dropped, 1000);
	char err[160];
	CHECK(!virtio_input_type_text(&tab, "xyz", err, sizeof(err))); /* 4 slots left: not 12 */
	CHECK(strstr(err, "does not take") != NULL);
	/* A driver reset empties it. */
	tab.transport.ops->reset(&tab.transport);
	CHECK_EQ(tab.count, 0);
}

TEST_MAIN(test_config, test_typing, test_pointer_and_bounds)
