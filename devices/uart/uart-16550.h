/*
 * A 16550A UART core that knows no bus: eight byte registers, the divisor
 * latch, 16-byte transmit and receive FIFOs with trigger levels, the
 * LSR/IIR/IER interrupt logic, modem control with loopback, and scratch.
 * Glue code (uart-isa.c) puts it on ports and an IRQ; the host side is a
 * byte sink for transmit and a source feeding uart_receive().
 *
 * Flow: the core never drops a byte the guest wrote while THRE was set. A
 * byte leaves the transmit FIFO only when the host side accepts it; until
 * then THRE/TEMT stay clear, so a guest that polls or waits for the THRE
 * interrupt is slowed to the host's pace. A guest that writes into a full
 * FIFO anyway loses that byte, and it is counted. Input is pulled: the host
 * offers at most uart_rx_room() bytes and is told (rx_ready) when room
 * returns, so input is never lost either.
 */
#ifndef DEVICES_UART_16550_H
#define DEVICES_UART_16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "irq.h"

#define UART_FIFO_SIZE 16

/* Register offsets (PC16550D datasheet, table II). */
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI  0x01 /* received data available (and timeout) */
#define UART_IER_THRI 0x02 /* transmitter holding register empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI  0x08 /* modem status */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_RLSI   0x06
#define UART_IIR_CTI    0x0c
#define UART_IIR_FIFO   0xc0

#define UART_FCR_ENABLE    0x01
#define UART_FCR_CLEAR_RX  0x02
#define UART_FCR_CLEAR_TX  0x04
#define UART_FCR_TRIG_MASK 0xc0

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR    0x01
#define UART_LSR_OE    0x02
#define UART_LSR_PE    0x04
#define UART_LSR_FE    0x08
#define UART_LSR_BI    0x10
#define UART_LSR_THRE  0x20
#define UART_LSR_TEMT  0x40
#define UART_LSR_FIFOE 0x80

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

struct uart_fifo {
    uint8_t buf[UART_FIFO_SIZE];
    unsigned head, count;
};

/* The host side of the serial line. */
struct uart_host_ops {
    /* Accept up to len bytes for output; returns how many were taken (0..len). */
    size_t (*tx)(void *opaque, const uint8_t *buf, size_t len);
    /* The receive FIFO has room again: offer more input. */
    void (*rx_ready)(void *opaque);
};

struct uart_stats {
    uint64_t tx_bytes;    /* handed to the host */
    uint64_t rx_bytes;    /* received from the host (or looped back) */
    uint64_t tx_dropped;  /* written by the guest into a full transmit FIFO */
    uint64_t rx_overruns; /* characters lost to a full receiver (loopback only) */
};

struct uart_16550 {
    /* Registers, named after the datasheet. */
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    uint16_t divisor;
    struct uart_fifo rx, tx;
    bool thre_pending; /* THRE interrupt latched until IIR read or THR write */
    bool irq_level;    /* last level driven on the line */

    const struct irq_line *irq;
    const struct uart_host_ops *host;
    void *host_opaque;
    struct uart_stats stats;
};

void uart_init(struct uart_16550 *u, const struct irq_line *irq, const struct uart_host_ops *host,
               void *host_opaque);
/* Master reset: power-on register values, FIFOs emptied, interrupt dropped. */
void uart_reset(struct uart_16550 *u);

/* Register access; reg is taken modulo 8. */
uint8_t uart_read(struct uart_16550 *u, unsigned reg);
void uart_write(struct uart_16550 *u, unsigned reg, uint8_t value);

/* Host → guest: bytes the receive FIFO can take now, and handing them over. */
size_t uart_rx_room(const struct uart_16550 *u);
size_t uart_receive(struct uart_16550 *u, const uint8_t *buf, size_t len);
/* The host can take output again: drain the transmit FIFO. */
void uart_tx_kick(struct uart_16550 *u);

#endif
