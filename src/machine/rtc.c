/*
 * rtc.c — Google Goldfish RTC: wall-clock time in nanoseconds since the
 * epoch, with one alarm. Reading TIME_LOW latches TIME_HIGH.
 */
#include "devices.h"
#include "board.h"
#include "util/clock.h"

#include <stdlib.h>
#include <stdio.h>
#include <time.h>

enum {
	RTC_TIME_LOW = 0x00,
	RTC_TIME_HIGH = 0x04,
	RTC_ALARM_LOW = 0x08,
	RTC_ALARM_HIGH = 0x0c,
	RTC_IRQ_ENABLED = 0x10,
	RTC_CLEAR_ALARM = 0x14,
	RTC_ALARM_STATUS = 0x18,
	RTC_CLEAR_INTERRUPT = 0x1c,
};

struct goldfish_rtc {
	struct machine *m;
	unsigned irq;
	uint32_t time_high_latch, alarm_high;
	uint64_t alarm_ns;
	bool alarm_armed, irq_enabled, irq_pending;
};

static void update_irq(struct goldfish_rtc *r)
{
	machine_set_irq(r->m, r->irq, r->irq_enabled && r->irq_pending);
}

void rtc_poll(struct goldfish_rtc *r)
{
	if (r->alarm_armed && clock_ns(CLOCK_REALTIME) >= r->alarm_ns) {
		r->alarm_armed = false;
		r->irq_pending = true;
		update_irq(r);
	}
}

static bool rtc_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct goldfish_rtc *r = dev;
	(void)size;
	switch (off) {
	case RTC_TIME_LOW: {
		uint64_t t = clock_ns(CLOCK_REALTIME);
		r->time_high_latch = (uint32_t)(t >> 32);
		*val = (uint32_t)t;
		break;
	}
	case RTC_TIME_HIGH: *val = r->time_high_latch; break;
	case RTC_ALARM_LOW: *val = (uint32_t)r->alarm_ns; break;
	case RTC_ALARM_HIGH: *val = (uint32_t)(r->alarm_ns >> 32); break;
	case RTC_IRQ_ENABLED: *val = r->irq_enabled; break;
	case RTC_ALARM_STATUS: *val = r->alarm_armed; break;
	default: *val = 0; break;
	}
	return true;
}

static bool rtc_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct goldfish_rtc *r = dev;
	(void)size;
	switch (off) {
	case RTC_ALARM_HIGH: r->alarm_high = (uint32_t)val; break;
	case RTC_ALARM_LOW: /* writing the low word arms the alarm */
		r->alarm_ns = (uint64_t)r->alarm_high << 32 | (uint32_t)val;
		r->alarm_armed = true;
		rtc_poll(r);
		break;
	case RTC_IRQ_ENABLED:
		r->irq_enabled = val & 1;
		update_irq(r);
		break;
	case RTC_CLEAR_ALARM: r->alarm_armed = false; break;
	case RTC_CLEAR_INTERRUPT:
		r->irq_pending = false;
		update_irq(r);
		break;
	default: break; /* the time itself follows the host and is not settable */
	}
	return true;
}

struct goldfish_rtc *rtc_create(struct machine *m, uint64_t base, unsigned irq)
{
	struct goldfish_rtc *r = calloc(1, sizeof(*r));
	if (!r) return NULL;
	r->m = m;
	r->irq = irq;
	if (!machine_add_region(m, base, 0x1000, rtc_read, rtc_write, r)) {
		free(r);
		return NULL;
	}
	return r;
}

void rtc_destroy(struct goldfish_rtc *r)
{
	free(r);
}

void rtc_save(const struct goldfish_rtc *r, struct state_writer *w)
{
	state_put_u32(w, r->time_high_latch);
	state_put_u32(w, r->alarm_high);
	state_put_u64(w, r->alarm_ns);
	state_put_bool(w, r->alarm_armed);
	state_put_bool(w, r->irq_enabled);
	state_put_bool(w, r->irq_pending);
}

void rtc_load(struct goldfish_rtc *r, struct state_reader *rd)
{
	uint32_t latch = state_get_u32(rd), high = state_get_u32(rd);
	uint64_t alarm = state_get_u64(rd);
	bool armed = state_get_bool(rd), en = state_get_bool(rd), pend = state_get_bool(rd);
	if (rd->failed) return;
	r->time_high_latch = latch, r->alarm_high = high, r->alarm_ns = alarm;
	r->alarm_armed = armed, r->irq_enabled = en, r->irq_pending = pend;
	update_irq(r);
}

BOARD_SINGLE_DEVICE(rtc, rtc, "rtc", rtc_create(m, VIRT_RTC_BASE, VIRT_RTC_IRQ), "real-time clock");
