/*
 * The 16550A core (see uart-16550.h). Register behaviour follows the
 * PC16550D datasheet; interrupt priorities are those of its table IV:
 * receiver line status, received data / character timeout, transmitter
 * holding register empty, modem status.
 *
 * There is no baud-rate clock: a byte moves as soon as the host side takes
 * it, and the character timeout fires as soon as the receive FIFO holds data
 * below the trigger level (the host has nothing more to deliver at that
 * moment, which is what four idle character times would tell a real UART).
 */
#include <string.h>

#include "uart-16550.h"

/* Modem inputs when the line is not looped back: the far end is ready. */
#define UART_MSR_LINE   (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)
#define UART_MSR_DELTAS (UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_TERI | UART_MSR_DDCD)
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

static bool fifo_mode(const struct uart_16550 *u)
{
    return u->fcr & UART_FCR_ENABLE;
}

/* Without FIFOs each direction holds one character (RBR, THR). */
static unsigned fifo_cap(const struct uart_16550 *u)
{
    return fifo_mode(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart_16550 *u)
{
    static const unsigned levels[4] = {1, 4, 8, 14};
    return fifo_mode(u) ? levels[(u->fcr & UART_FCR_TRIG_MASK) >> 6] : 1;
}

static void fifo_push(struct uart_fifo *f, uint8_t c)
{
    f->buf[(f->head + f->count) % UART_FIFO_SIZE] = c;
    f->count++;
}

static uint8_t fifo_pop(struct uart_fifo *f)
{
    uint8_t c = f->buf[f->head];
    f->head = (f->head + 1) % UART_FIFO_SIZE;
    f->count--;
    return c;
}

static void fifo_clear(struct uart_fifo *f)
{
    f->head = 0;
    f->count = 0;
}

static uint8_t lsr_value(const struct uart_16550 *u)
{
    uint8_t lsr = u->lsr & UART_LSR_ERRORS;

    if (u->rx.count)
        lsr |= UART_LSR_DR;
    if (!u->tx.count)
        lsr |= UART_LSR_THRE | UART_LSR_TEMT;
    return lsr;
}

/* The highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t pending_iid(const struct uart_16550 *u)
{
    if ((u->ier & UART_IER_RLSI) && (u->lsr & UART_LSR_ERRORS))
        return UART_IIR_RLSI;
    if ((u->ier & UART_IER_RDI) && u->rx.count) {
        if (u->rx.count >= rx_trigger(u))
            return UART_IIR_RDI;
        return UART_IIR_CTI;
    }
    if ((u->ier & UART_IER_THRI) && u->thre_pending)
        return UART_IIR_THRI;
    if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_DELTAS))
        return UART_IIR_MSI;
    return UART_IIR_NO_INT;
}

static void update_irq(struct uart_16550 *u)
{
    bool level = pending_iid(u) != UART_IIR_NO_INT;

    if (level != u->irq_level) {
        u->irq_level = level;
        irq_set_level(u->irq, level);
    }
}

static void rx_ready(struct uart_16550 *u)
{
    if (u->host && u->host->rx_ready && uart_rx_room(u))
        u->host->rx_ready(u->host_opaque);
}

/*
 * Loopback: the transmitter feeds the receiver; a full receiver overruns
 * (PC16550D, LSR bit 1). Without FIFOs the new character overwrites the
 * one in the RBR; with FIFOs the FIFO keeps what it holds and the new
 * character, overwritten in the shift register, is lost. OE either way.
 */
static void loop_tx(struct uart_16550 *u)
{
    while (u->tx.count) {
        uint8_t c = fifo_pop(&u->tx);
        u->stats.tx_bytes++;
        if (u->rx.count >= fifo_cap(u)) {
            u->lsr |= UART_LSR_OE;
            u->stats.rx_overruns++;
            if (fifo_mode(u))
                continue;
            fifo_clear(&u->rx);
        }
        fifo_push(&u->rx, c);
        u->stats.rx_bytes++;
    }
    u->thre_pending = true;
}

static void drain_tx(struct uart_16550 *u)
{
    bool had = u->tx.count > 0;

    if (u->mcr & UART_MCR_LOOP) {
        if (had)
            loop_tx(u);
        return;
    }
    while (u->tx.count) {
        /* Hand over the contiguous run at the head of the ring. */
        size_t run = UART_FIFO_SIZE - u->tx.head;
        size_t n;
        if (run > u->tx.count)
            run = u->tx.count;
        n = u->host && u->host->tx ? u->host->tx(u->host_opaque, &u->tx.buf[u->tx.head], run) : run;
        if (n > run)
            n = run;
        u->tx.head = (u->tx.head + (unsigned)n) % UART_FIFO_SIZE;
        u->tx.count -= (unsigned)n;
        u->stats.tx_bytes += n;
        if (n < run)
            break; /* host is full: THRE stays clear until uart_tx_kick */
    }
    if (had && !u->tx.count)
        u->thre_pending = true;
}

static void set_msr_inputs(struct uart_16550 *u, uint8_t inputs)
{
    uint8_t old = u->msr & ~UART_MSR_DELTAS, deltas = 0;

    if ((old ^ inputs) & UART_MSR_CTS)
        deltas |= UART_MSR_DCTS;
    if ((old ^ inputs) & UART_MSR_DSR)
        deltas |= UART_MSR_DDSR;
    if ((old ^ inputs) & UART_MSR_DCD)
        deltas |= UART_MSR_DDCD;
    if ((old & UART_MSR_RI) && !(inputs & UART_MSR_RI))
        deltas |= UART_MSR_TERI; /* trailing edge only */
    u->msr = (uint8_t)(inputs | (u->msr & UART_MSR_DELTAS) | deltas);
}

/* In loopback the modem outputs drive the inputs: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD. */
static uint8_t loop_inputs(uint8_t mcr)
{
    uint8_t in = 0;

    if (mcr & UART_MCR_RTS)
        in |= UART_MSR_CTS;
    if (mcr & UART_MCR_DTR)
        in |= UART_MSR_DSR;
    if (mcr & UART_MCR_OUT1)
        in |= UART_MSR_RI;
    if (mcr & UART_MCR_OUT2)
        in |= UART_MSR_DCD;
    return in;
}

void uart_reset(struct uart_16550 *u)
{
    u->ier = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->lsr = 0;
    u->fcr = 0;
    u->scr = 0;
    /* The divisor latch is not touched by master reset; start at 9600 baud. */
    u->divisor = 12;
    u->msr = UART_MSR_LINE;
    fifo_clear(&u->rx);
    fifo_clear(&u->tx);
    u->thre_pending = false;
    update_irq(u);
    rx_ready(u);
}

void uart_init(struct uart_16550 *u, const struct irq_line *irq, const struct uart_host_ops *host,
               void *host_opaque)
{
    memset(u, 0, sizeof(*u));
    u->irq = irq;
    u->host = host;
    u->host_opaque = host_opaque;
    uart_reset(u);
}

uint8_t uart_read(struct uart_16550 *u, unsigned reg)
{
    uint8_t v = 0;

    switch (reg & 7) {
    case UART_RBR:
        if (u->lcr & UART_LCR_DLAB) {
            v = (uint8_t)u->divisor;
            break;
        }
        if (u->rx.count) {
            bool was_full = u->rx.count >= fifo_cap(u);
            v = fifo_pop(&u->rx);
            update_irq(u);
            if (was_full)
                rx_ready(u);
        }
        break;
    case UART_IER:
        v = u->lcr & UART_LCR_DLAB ? (uint8_t)(u->divisor >> 8) : u->ier;
        break;
    case UART_IIR:
        v = pending_iid(u);
        /* Reading IIR while it reports THRE acknowledges that interrupt. */
        if (v == UART_IIR_THRI) {
            u->thre_pending = false;
            update_irq(u);
        }
        if (fifo_mode(u))
            v |= UART_IIR_FIFO;
        break;
    case UART_LCR:
        v = u->lcr;
        break;
    case UART_MCR:
        v = u->mcr;
        break;
    case UART_LSR:
        v = lsr_value(u);
        u->lsr &= (uint8_t)~UART_LSR_ERRORS;
        update_irq(u);
        break;
    case UART_MSR:
        v = u->msr;
        u->msr &= (uint8_t)~UART_MSR_DELTAS;
        update_irq(u);
        break;
    case UART_SCR:
        v = u->scr;
        break;
    }
    return v;
}

static void write_fcr(struct uart_16550 *u, uint8_t v)
{
    bool had_tx = u->tx.count > 0;

    if ((v ^ u->fcr) & UART_FCR_ENABLE) {
        /* Switching FIFO mode empties both FIFOs. */
        fifo_clear(&u->rx);
        fifo_clear(&u->tx);
    }
    if (v & UART_FCR_CLEAR_RX)
        fifo_clear(&u->rx);
    if (v & UART_FCR_CLEAR_TX)
        fifo_clear(&u->tx);
    if (had_tx && !u->tx.count)
        u->thre_pending = true;
    u->fcr = v & (UART_FCR_ENABLE | UART_FCR_TRIG_MASK);
    update_irq(u);
    rx_ready(u);
}

void uart_write(struct uart_16550 *u, unsigned reg, uint8_t v)
{
    switch (reg & 7) {
    case UART_THR:
        if (u->lcr & UART_LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0xff00) | v);
            break;
        }
        u->thre_pending = false;
        if (u->tx.count >= fifo_cap(u))
            u->stats.tx_dropped++; /* the guest ignored THRE */
        else
            fifo_push(&u->tx, v);
        drain_tx(u);
        update_irq(u);
        break;
    case UART_IER:
        if (u->lcr & UART_LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | v << 8);
            break;
        }
        /* Enabling THRE interrupts while THR is empty raises one at once. */
        if ((v & UART_IER_THRI) && !(u->ier & UART_IER_THRI) && !u->tx.count)
            u->thre_pending = true;
        u->ier = v & 0x0f;
        update_irq(u);
        break;
    case UART_FCR:
        write_fcr(u, v);
        break;
    case UART_LCR:
        u->lcr = v;
        break;
    case UART_MCR: {
        bool was_loop = u->mcr & UART_MCR_LOOP;
        u->mcr = v & 0x1f;
        set_msr_inputs(u, u->mcr & UART_MCR_LOOP ? loop_inputs(u->mcr) : UART_MSR_LINE);
        if (was_loop && !(u->mcr & UART_MCR_LOOP)) {
            drain_tx(u); /* bytes queued while looped go out now */
            rx_ready(u);
        }
        update_irq(u);
        break;
    }
    case UART_LSR:
    case UART_MSR:
        break; /* read-only (factory test writes are not modelled) */
    case UART_SCR:
        u->scr = v;
        break;
    }
}

size_t uart_rx_room(const struct uart_16550 *u)
{
    /* In loopback the receiver is cut off from the line. */
    if (u->mcr & UART_MCR_LOOP)
        return 0;
    return fifo_cap(u) - u->rx.count;
}

size_t uart_receive(struct uart_16550 *u, const uint8_t *buf, size_t len)
{
    size_t room = uart_rx_room(u), n = len < room ? len : room;

    for (size_t i = 0; i < n; i++)
        fifo_push(&u->rx, buf[i]);
    u->stats.rx_bytes += n;
    if (n)
        update_irq(u);
    return n;
}

void uart_tx_kick(struct uart_16550 *u)
{
    drain_tx(u);
    update_irq(u);
}
