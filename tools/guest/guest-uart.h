/*
 * guart: a polled 16550 driver, as early boot code writes to COM1.
 *
 * Programs 8N1 with the FIFO on and interrupts off, then sends each byte
 * once the line status register says the transmit holding register is empty
 * (LSR.THRE). Polling is bounded: a UART that never becomes ready makes the
 * write fail with -ETIMEDOUT instead of spinning.
 */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include <stddef.h>
#include <stdint.h>

#include "mockhv.h"

struct guart {
    struct mockhv *hv;
    unsigned vcpu;
    uint16_t port; /* base of the 8 registers */
    int timeout_ms;
    unsigned max_polls; /* LSR reads per byte before giving up */
    uint64_t tx_bytes;
};

/*
 * Checks the scratch register (a missing UART reads back all-ones) and
 * programs divisor 1 (115200 baud), 8N1, FIFO on, DTR/RTS/OUT2, IER = 0.
 * 0, -ENODEV or an access error.
 */
int guart_init(struct guart *u, struct mockhv *hv, unsigned vcpu, uint16_t port, int timeout_ms);
/* 0 once every byte went out; tx_bytes counts those that did. */
int guart_write(struct guart *u, const void *buf, size_t len);
int guart_puts(struct guart *u, const char *s);

#endif
