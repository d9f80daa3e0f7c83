/*
 * devices.h — constructors of the board's built-in devices. Each device
 * registers its own MMIO region on the machine; all device state is
 * protected by machine->io_lock, held by the bus around every handler.
 */
#ifndef CLOISON_DEVICES_H
#define CLOISON_DEVICES_H

#include "machine.h"
#include "util/state.h"

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

struct vmgenid *vmgenid_create(struct machine *m, uint64_t base, unsigned irq);
void vmgenid_destroy(struct vmgenid *g);
/* A new identifier, and the interrupt that announces it (caller holds io_lock). */
void vmgenid_change(struct vmgenid *g);

/* Snapshots (caller holds io_lock and has opened the section). */
void plic_save(const struct plic *p, struct state_writer *w);
void plic_load(struct plic *p, struct state_reader *r);
void uart_save(const struct uart *u, struct state_writer *w);
void uart_load(struct uart *u, struct state_reader *r);
void rtc_save(const struct goldfish_rtc *r, struct state_writer *w);
void rtc_load(struct goldfish_rtc *r, struct state_reader *rd);
void vmgenid_save(const struct vmgenid *g, struct state_writer *w);
void vmgenid_load(struct vmgenid *g, struct state_reader *r);

/* Hart threads, for machine.c and snapshot.c (run_lock held). */
void machine_start_harts(struct machine *m);
void machine_stop_harts(struct machine *m);

bool test_finisher_create(struct machine *m, uint64_t base);

#endif
