/*
 * devices.h — constructors of the board's built-in devices. Each device
 * registers its own MMIO region on the machine; all device state is
 * protected by machine->io_lock, held by the bus around every handler.
 */
#ifndef CLOISON_DEVICES_H
#define CLOISON_DEVICES_H

#include "machine.h"

struct clint *clint_create(struct machine *m);
void clint_destroy(struct clint *c);

struct plic *plic_create(struct machine *m);
void plic_destroy(struct plic *p);
void plic_set_source(struct plic *p, unsigned source, bool level);

struct uart *uart_create(struct machine *m, uint64_t base, unsigned irq);
void uart_destroy(struct uart *u);
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

struct goldfish_rtc *rtc_create(struct machine *m, uint64_t base, unsigned irq);
void rtc_destroy(struct goldfish_rtc *r);
void rtc_poll(struct goldfish_rtc *r);

bool test_finisher_create(struct machine *m, uint64_t base);

#endif
