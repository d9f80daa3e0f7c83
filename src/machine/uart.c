/*
 * uart.c — NS16550A UART: the guest's serial console.
 *
 * Transmission is instantaneous (bytes go to the machine's console sink), so
 * THR is always empty and the THR-empty interrupt re-arms after each write.
 * Received bytes wait in a host-side buffer that stands in for the FIFO, so
 * input typed before the guest reads is not lost.
 */
#include "devices.h"
#include "board.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define UART_RX_BUF 4096

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define IER_RDI 0x01
#define IER_THRI 0x02
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10

struct uart {
	struct machine *m;
	unsigned irq;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thre_pending;
	uint8_t rx[UART_RX_BUF];
	size_t rx_head, rx_count;
};

static void update_irq(struct uart *u)
{
	bool level = ((u->ier & IER_RDI) && u->rx_count) || ((u->ier & IER_THRI) && u->thre_pending);
	machine_set_irq(u->m, u->irq, level);
}

static uint8_t read_iir(struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? 0xc0 : 0;
	if ((u->ier & IER_RDI) && u->rx_count) return fifo | 0x04;
	if ((u->ier & IER_THRI) && u->thre_pending) {
		u->thre_pending = false; /* reading IIR clears THRE as the source */
		return fifo | 0x02;
	}
	return fifo | 0x01;
}

static bool uart_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct uart *u = dev;
	(void)size;
	uint8_t v = 0;
	switch (off) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_BUF;
			u->rx_count--;
		}
		break;
	case IER: v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier; break;
	case IIR_FCR: v = read_iir(u); break;
	case LCR: v = u->lcr; break;
	case MCR: v = u->mcr; break;
	case LSR: v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0); break;
	case MSR:
		/* Loopback reflects MCR outputs; otherwise the modem is always ready (DCD, DSR, CTS). */
		v = (u->mcr & MCR_LOOP) ? (uint8_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 0x03) << 4)) : 0xb0;
		break;
	case SCR: v = u->scr; break;
	default: break;
	}
	*val = v;
	update_irq(u);
	return true;
}

static bool uart_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct uart *u = dev;
	(void)size;
	uint8_t v = (uint8_t)val;
	switch (off) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			if (!(u->mcr & MCR_LOOP) && u->m->console_write)
				u->m->console_write(u->m->console_opaque, &v, 1);
			u->thre_pending = true;
		}
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling the THR-empty interrupt fires at once: THR is empty. */
			if ((v & IER_THRI) && !(u->ier & IER_THRI)) u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case IIR_FCR:
		u->fcr = v & 0xc9;
		if (v & 0x02) { /* clear the receive FIFO: only what the guest could see of it */
			size_t drop = u->rx_count < 16 ? u->rx_count : 16;
			u->rx_head = (u->rx_head + drop) % UART_RX_BUF;
			u->rx_count -= drop;
		}
		break;
	case LCR: u->lcr = v; break;
	case MCR: u->mcr = v & 0x1f; break;
	case SCR: u->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
	update_irq(u);
	return true;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	while (n < len && u->rx_count < UART_RX_BUF) {
		u->rx[(u->rx_head + u->rx_count) % UART_RX_BUF] = buf[n++];
		u->rx_count++;
	}
	update_irq(u);
	return n;
}

struct uart *uart_create(struct machine *m, uint64_t base, unsigned irq)
{
	struct uart *u = calloc(1, sizeof(*u));
	if (!u) return NULL;
	u->m = m;
	u->irq = irq;
	if (!machine_add_region(m, base, 0x100, uart_read, uart_write, u)) {
		free(u);
		return NULL;
	}
	return u;
}

void uart_destroy(struct uart *u)
{
	free(u);
}

void uart_save(const struct uart *u, struct state_writer *w)
{
	const uint8_t regs[7] = {u->ier, u->lcr, u->mcr, u->scr, u->fcr, u->dll, u->dlm};
	state_put_bytes(w, regs, sizeof(regs));
	state_put_bool(w, u->thre_pending);
	state_put_u32(w, (uint32_t)u->rx_count);
	for (size_t i = 0; i < u->rx_count; i++) state_put_u8(w, u->rx[(u->rx_head + i) % UART_RX_BUF]);
}

void uart_load(struct uart *u, struct state_reader *r)
{
	uint8_t regs[7], rx[UART_RX_BUF];
	state_get_bytes(r, regs, sizeof(regs));
	bool thre = state_get_bool(r);
	uint32_t n = state_get_u32(r);
	if (!r->failed && n > UART_RX_BUF) {
		state_fail(r, "uart: %u bytes of input saved, the FIFO holds %d", n, UART_RX_BUF);
		return;
	}
	state_get_bytes(r, rx, n);
	if (r->failed) return;
	u->ier = regs[0] & 0x0f, u->lcr = regs[1], u->mcr = regs[2] & 0x1f, u->scr = regs[3];
	u->fcr = regs[4], u->dll = regs[5], u->dlm = regs[6];
	u->thre_pending = thre;
	memcpy(u->rx, rx, n);
	u->rx_head = 0;
	u->rx_count = n;
	update_irq(u);
}

BOARD_SINGLE_DEVICE(uart, uart, "uart", uart_create(m, VIRT_UART_BASE, VIRT_UART_IRQ), "serial port (UART)");
