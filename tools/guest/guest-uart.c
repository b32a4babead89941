/*
 * guart: polled 16550 output (see guest-uart.h). Register offsets and bits
 * are the 16550A data sheet's.
 */
#include "guest-uart.h"

#include <errno.h>
#include <string.h>

#define UART_THR 0 /* DLAB=0, write */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1
#define UART_DLM 1 /* DLAB=1 */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7

#define UART_LCR_DLAB  0x80
#define UART_LCR_8N1   0x03
#define UART_FCR_SETUP 0x07 /* enable, clear RX and TX FIFOs, trigger 1 */
#define UART_MCR_SETUP 0x0b /* DTR, RTS, OUT2 */
#define UART_LSR_THRE  0x20

static int out8(struct guart *u, unsigned reg, uint8_t v)
{
    return mockhv_pio_out(u->hv, u->vcpu, (uint16_t)(u->port + reg), 1, v, u->timeout_ms);
}

static int in8(struct guart *u, unsigned reg, uint8_t *v)
{
    uint32_t val;
    int rc = mockhv_pio_in(u->hv, u->vcpu, (uint16_t)(u->port + reg), 1, &val, u->timeout_ms);

    *v = (uint8_t)val;
    return rc;
}

int guart_init(struct guart *u, struct mockhv *hv, unsigned vcpu, uint16_t port, int timeout_ms)
{
    static const struct {
        unsigned reg;
        uint8_t val;
    } setup[] = {
        {UART_IER, 0},
        {UART_LCR, UART_LCR_DLAB},
        {UART_DLL, 1},
        {UART_DLM, 0},
        {UART_LCR, UART_LCR_8N1},
        {UART_FCR, UART_FCR_SETUP},
        {UART_MCR, UART_MCR_SETUP},
    };
    uint8_t v;
    int rc;

    memset(u, 0, sizeof(*u));
    u->hv = hv;
    u->vcpu = vcpu;
    u->port = port;
    u->timeout_ms = timeout_ms;
    u->max_polls = 100000;

    rc = out8(u, UART_SCR, 0x5a);
    if (!rc)
        rc = in8(u, UART_SCR, &v);
    if (rc)
        return rc;
    if (v != 0x5a)
        return -ENODEV;
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        rc = out8(u, setup[i].reg, setup[i].val);
        if (rc)
            return rc;
    }
    return 0;
}

int guart_write(struct guart *u, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int rc;

    for (size_t i = 0; i < len; i++) {
        unsigned polls = 0;
        uint8_t lsr = 0;

        do {
            if (polls++ == u->max_polls)
                return -ETIMEDOUT;
            rc = in8(u, UART_LSR, &lsr);
            if (rc)
                return rc;
        } while (!(lsr & UART_LSR_THRE));
        rc = out8(u, UART_THR, p[i]);
        if (rc)
            return rc;
        u->tx_bytes++;
    }
    return 0;
}

int guart_puts(struct guart *u, const char *s)
{
    return guart_write(u, s, strlen(s));
}
