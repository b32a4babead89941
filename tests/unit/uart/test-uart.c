/*
 * Unit tests of the 16550A core: register map, divisor latch, FIFOs and
 * trigger levels, interrupt identification and priorities, loopback, flow
 * control towards a slow host and lossless input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "uart-16550.h"

struct rec {
    bool level;
    unsigned edges;
    uint8_t out[256];
    size_t nout;
    size_t host_room; /* bytes the host takes before refusing */
    unsigned rx_ready_calls;
};

static void rec_level(void *opaque, bool level)
{
    struct rec *r = opaque;
    r->level = level;
    r->edges++;
}

static size_t rec_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct rec *r = opaque;
    size_t n = len < r->host_room ? len : r->host_room;
    memcpy(r->out + r->nout, buf, n);
    r->nout += n;
    r->host_room -= n;
    return n;
}

static void rec_rx_ready(void *opaque)
{
    struct rec *r = opaque;
    r->rx_ready_calls++;
}

static const struct uart_host_ops rec_ops = {.tx = rec_tx, .rx_ready = rec_rx_ready};

struct fixture {
    struct rec r;
    struct irq_line line;
    struct uart_16550 u;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->r.host_room = sizeof(f->r.out);
    f->line = (struct irq_line){.set_level = rec_level, .opaque = &f->r};
    uart_init(&f->u, &f->line, &rec_ops, &f->r);
    f->r.rx_ready_calls = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
    return uart_read(&f->u, reg);
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
    uart_write(&f->u, reg, v);
}

static void test_reset_values(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(rd(f, UART_RBR), 0x00);
    assert_int_equal(rd(f, UART_IER), 0x00);
    assert_int_equal(rd(f, UART_IIR), 0x01);
    assert_int_equal(rd(f, UART_LCR), 0x00);
    assert_int_equal(rd(f, UART_MCR), 0x00);
    assert_int_equal(rd(f, UART_LSR), 0x60);
    assert_int_equal(rd(f, UART_MSR), 0xb0);
    assert_int_equal(rd(f, UART_SCR), 0x00);
    assert_false(f->r.level);
    assert_int_equal(f->r.edges, 0);
}

static void test_registers(void **state)
{
    struct fixture *f = *state;

    /* Divisor latch behind DLAB. */
    wr(f, UART_LCR, 0x83);
    assert_int_equal(rd(f, UART_DLL), 12);
    assert_int_equal(rd(f, UART_DLM), 0);
    wr(f, UART_DLL, 0x01);
    wr(f, UART_DLM, 0x02);
    assert_int_equal(rd(f, UART_DLL), 0x01);
    assert_int_equal(rd(f, UART_DLM), 0x02);
    assert_int_equal(f->u.divisor, 0x0201);
    assert_int_equal(rd(f, UART_LCR), 0x83);
    wr(f, UART_LCR, 0x03);
    assert_int_equal(rd(f, UART_IER), 0x00);
    assert_int_equal(f->r.nout, 0); /* DLL write was not data */
    /* IER keeps its low nibble, MCR its low five bits. */
    wr(f, UART_IER, 0xff);
    assert_int_equal(rd(f, UART_IER), 0x0f);
    wr(f, UART_IER, 0);
    wr(f, UART_MCR, 0xff);
    assert_int_equal(rd(f, UART_MCR), 0x1f);
    wr(f, UART_MCR, 0);
    wr(f, UART_SCR, 0x5a);
    assert_int_equal(rd(f, UART_SCR), 0x5a);
    /* LSR and MSR ignore writes. */
    wr(f, UART_LSR, 0xff);
    assert_int_equal(rd(f, UART_LSR), 0x60);
    /* The register index wraps at 8. */
    assert_int_equal(rd(f, 8 + UART_SCR), 0x5a);
    /* FCR: FIFO mode shows in IIR bits 7:6. */
    wr(f, UART_FCR, 0xc7);
    assert_int_equal(rd(f, UART_IIR), 0xc1);
    wr(f, UART_FCR, 0x00);
    assert_int_equal(rd(f, UART_IIR), 0x01);
}

static void test_transmit_and_thre(void **state)
{
    struct fixture *f = *state;

    wr(f, UART_THR, 'h');
    wr(f, UART_THR, 'i');
    assert_int_equal(f->r.nout, 2);
    assert_memory_equal(f->r.out, "hi", 2);
    assert_int_equal(rd(f, UART_LSR), 0x60);
    assert_false(f->r.level);

    /* Enabling THRE interrupts with THR empty raises one at once. */
    wr(f, UART_IER, UART_IER_THRI);
    assert_true(f->r.level);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_THRI);
    /* Reading IIR acknowledged it. */
    assert_false(f->r.level);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
    /* Each transmitted byte empties THR again: a new THRE interrupt. */
    wr(f, UART_THR, '!');
    assert_true(f->r.level);
    /* Writing THR also clears a pending THRE interrupt (then it re-arms on drain). */
    wr(f, UART_IER, 0);
    assert_false(f->r.level);
    assert_int_equal(f->u.stats.tx_bytes, 3);
}

static void test_slow_host_flow_control(void **state)
{
    struct fixture *f = *state;

    f->r.host_room = 2;
    wr(f, UART_FCR, UART_FCR_ENABLE);
    wr(f, UART_IER, UART_IER_THRI);
    assert_int_equal(rd(f, UART_IIR), 0xc2);
    for (int i = 0; i < 20; i++)
        wr(f, UART_THR, (uint8_t)('a' + i));
    /* 2 went out, 16 wait in the FIFO, 2 were written into a full FIFO. */
    assert_int_equal(f->r.nout, 2);
    assert_int_equal(f->u.tx.count, 16);
    assert_int_equal(f->u.stats.tx_dropped, 2);
    assert_int_equal(rd(f, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), 0);
    assert_false(f->r.level);
    /* The host takes 10 more: still not empty, no interrupt. */
    f->r.host_room = 10;
    uart_tx_kick(&f->u);
    assert_int_equal(f->r.nout, 12);
    assert_false(f->r.level);
    f->r.host_room = 100;
    uart_tx_kick(&f->u);
    assert_int_equal(f->r.nout, 18);
    assert_memory_equal(f->r.out, "abcdefghijklmnopqr", 18);
    assert_int_equal(rd(f, UART_LSR), 0x60);
    assert_true(f->r.level);
    assert_int_equal(rd(f, UART_IIR), 0xc2);
    assert_false(f->r.level);
}

static void test_receive_non_fifo(void **state)
{
    struct fixture *f = *state;
    const uint8_t in[] = "xyz";

    /* Without FIFOs one byte fits. */
    assert_int_equal(uart_rx_room(&f->u), 1);
    assert_int_equal(uart_receive(&f->u, in, 3), 1);
    assert_int_equal(uart_rx_room(&f->u), 0);
    assert_int_equal(rd(f, UART_LSR), 0x61);
    assert_false(f->r.level);
    wr(f, UART_IER, UART_IER_RDI);
    assert_true(f->r.level);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RDI);
    assert_true(f->r.level); /* IIR read does not clear data interrupts */
    assert_int_equal(rd(f, UART_RBR), 'x');
    assert_false(f->r.level);
    assert_int_equal(f->r.rx_ready_calls, 1); /* room came back */
    assert_int_equal(rd(f, UART_LSR), 0x60);
    assert_int_equal(f->u.stats.rx_bytes, 1);
}

static void test_fifo_trigger_levels(void **state)
{
    struct fixture *f = *state;
    static const struct {
        uint8_t fcr;
        unsigned level;
    } trig[] = {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}};
    uint8_t in[16];

    for (unsigned i = 0; i < 16; i++)
        in[i] = (uint8_t)('A' + i);
    wr(f, UART_IER, UART_IER_RDI);
    for (unsigned t = 0; t < 4; t++) {
        wr(f, UART_FCR, trig[t].fcr | UART_FCR_CLEAR_RX);
        /* Below the trigger: character timeout; at it: data available. */
        if (trig[t].level > 1) {
            assert_int_equal(uart_receive(&f->u, in, trig[t].level - 1), trig[t].level - 1);
            assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_CTI);
            assert_true(f->r.level);
        }
        uart_receive(&f->u, in + trig[t].level - 1, 1);
        assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RDI);
        assert_int_equal(uart_rx_room(&f->u), 16 - trig[t].level);
        /* Reading one byte drops below the trigger: timeout again. */
        assert_int_equal(rd(f, UART_RBR), 'A');
        if (trig[t].level > 1)
            assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_CTI);
        else
            assert_int_equal(rd(f, UART_IIR), 0xc1);
    }
    /* Full FIFO takes 16, in order. */
    wr(f, UART_FCR, 0xc1 | UART_FCR_CLEAR_RX);
    assert_int_equal(uart_receive(&f->u, in, 16), 16);
    assert_int_equal(uart_receive(&f->u, in, 1), 0);
    f->r.rx_ready_calls = 0;
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(rd(f, UART_RBR), 'A' + i);
    assert_int_equal(f->r.rx_ready_calls, 1);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
    assert_int_equal(rd(f, UART_RBR), 0);
    assert_false(f->r.level);
    /* FCR clear bits empty the FIFO. */
    uart_receive(&f->u, in, 5);
    wr(f, UART_FCR, 0xc1 | UART_FCR_CLEAR_RX);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
    /* Leaving FIFO mode empties it too. */
    uart_receive(&f->u, in, 5);
    wr(f, UART_FCR, 0);
    assert_int_equal(uart_rx_room(&f->u), 1);
}

static void test_loopback(void **state)
{
    struct fixture *f = *state;

    wr(f, UART_MCR, UART_MCR_LOOP);
    /* Modem inputs follow the outputs: all clear, deltas for the lines that dropped. */
    assert_int_equal(rd(f, UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    assert_int_equal(rd(f, UART_MSR), 0x00);
    wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT1 | UART_MCR_OUT2);
    assert_int_equal(rd(f, UART_MSR), 0xf0 | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    /* RI trailing edge only. */
    wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT2);
    assert_int_equal(rd(f, UART_MSR), 0xb0 | UART_MSR_TERI);
    /* Modem status interrupt. */
    wr(f, UART_IER, UART_IER_MSI);
    wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT2);
    assert_true(f->r.level);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_MSI);
    assert_int_equal(rd(f, UART_MSR), 0xa0 | UART_MSR_DCTS);
    assert_false(f->r.level);
    wr(f, UART_IER, 0);

    /* Data loops back to the receiver, the host sees nothing and cannot send. */
    wr(f, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(uart_rx_room(&f->u), 0);
    assert_int_equal(uart_receive(&f->u, (const uint8_t *)"q", 1), 0);
    for (int i = 0; i < 17; i++)
        wr(f, UART_THR, (uint8_t)('0' + i));
    assert_int_equal(f->r.nout, 0);
    assert_int_equal(rd(f, UART_LSR), 0x61 | UART_LSR_OE);
    assert_int_equal(rd(f, UART_LSR), 0x61); /* OE cleared by the read */
    assert_int_equal(f->u.stats.rx_overruns, 1);
    assert_int_equal(rd(f, UART_RBR), '0');
    assert_int_equal(rd(f, UART_RBR), '1');
    /* Overrun raises a line status interrupt, highest priority. */
    wr(f, UART_IER, UART_IER_RLSI | UART_IER_RDI | UART_IER_THRI);
    for (int i = 0; i < 3; i++)
        wr(f, UART_THR, 'x');
    assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RLSI);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_OE, UART_LSR_OE);
    assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RDI);
    /* Leaving loopback gives the line back: inputs high, room for host input. */
    f->r.rx_ready_calls = 0;
    wr(f, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
    wr(f, UART_MCR, 0);
    assert_int_equal(rd(f, UART_MSR) & 0xf0, 0xb0);
    assert_true(f->r.rx_ready_calls >= 1);
    assert_int_equal(uart_rx_room(&f->u), 16);
}

/*
 * Overrun without FIFOs (PC16550D, LSR bit 1): the next character is
 * transferred into the RBR before the previous one was read, destroying
 * the previous one. The new character is what the guest reads.
 */
static void test_overrun_character_mode_keeps_new_byte(void **state)
{
    struct fixture *f = *state;

    wr(f, UART_MCR, UART_MCR_LOOP);
    wr(f, UART_THR, 'a');
    assert_int_equal(rd(f, UART_LSR), 0x61);
    wr(f, UART_THR, 'b');
    wr(f, UART_THR, 'c');
    assert_int_equal(rd(f, UART_LSR), 0x61 | UART_LSR_OE);
    assert_int_equal(rd(f, UART_LSR), 0x61); /* OE cleared by the read */
    assert_int_equal(rd(f, UART_RBR), 'c');
    assert_int_equal(rd(f, UART_LSR), 0x60);
    assert_int_equal(f->u.stats.rx_overruns, 2);
    assert_int_equal(f->u.stats.rx_bytes, 3);
    assert_int_equal(f->u.stats.tx_bytes, 3);
}

/*
 * Overrun with FIFOs (PC16550D, LSR bit 1): the character in the shift
 * register is overwritten and never reaches the FIFO, which keeps what it
 * holds; OE is set as soon as the overrun happens.
 */
static void test_overrun_fifo_mode_keeps_fifo(void **state)
{
    struct fixture *f = *state;

    wr(f, UART_FCR, UART_FCR_ENABLE);
    wr(f, UART_MCR, UART_MCR_LOOP);
    for (int i = 0; i < 18; i++)
        wr(f, UART_THR, (uint8_t)('A' + i));
    assert_int_equal(rd(f, UART_LSR), 0x61 | UART_LSR_OE);
    assert_int_equal(f->u.stats.rx_overruns, 2);
    assert_int_equal(f->u.stats.rx_bytes, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(rd(f, UART_RBR), 'A' + i);
    assert_int_equal(rd(f, UART_LSR), 0x60);
}

static void test_interrupt_priorities(void **state)
{
    struct fixture *f = *state;
    const uint8_t in[] = "abcd";

    wr(f, UART_FCR, 0x41); /* trigger 4 */
    wr(f, UART_IER, 0x0f);
    /* THRE pending (just enabled) and modem deltas (none yet). */
    assert_int_equal(rd(f, UART_IIR), 0xc2);
    assert_int_equal(rd(f, UART_IIR), 0xc1);
    uart_receive(&f->u, in, 4);
    wr(f, UART_THR, 'z'); /* THRE again */
    assert_int_equal(rd(f, UART_IIR), 0xc4);
    /* Drain the receiver: THRE shows next, then nothing. */
    for (int i = 0; i < 4; i++)
        rd(f, UART_RBR);
    assert_int_equal(rd(f, UART_IIR), 0xc2);
    assert_int_equal(rd(f, UART_IIR), 0xc1);
    assert_false(f->r.level);
    /* reset drops everything. */
    uart_receive(&f->u, in, 4);
    assert_true(f->r.level);
    uart_reset(&f->u);
    assert_false(f->r.level);
    assert_int_equal(rd(f, UART_LSR), 0x60);
    assert_int_equal(rd(f, UART_IIR), 0x01);
}

static void test_no_host(void **state)
{
    struct uart_16550 u;

    /* Without a host or an IRQ line the core still behaves. */
    uart_init(&u, NULL, NULL, NULL);
    uart_write(&u, UART_IER, 0x0f);
    uart_write(&u, UART_THR, 'a');
    assert_int_equal(u.stats.tx_bytes, 1);
    assert_int_equal(uart_read(&u, UART_LSR), 0x60);
    assert_int_equal(uart_read(&u, UART_IIR), UART_IIR_THRI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transmit_and_thre, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_host_flow_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_non_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_trigger_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun_character_mode_keeps_new_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_overrun_fifo_mode_keeps_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_priorities, setup, teardown),
        cmocka_unit_test(test_no_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
