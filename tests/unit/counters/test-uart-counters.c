/*
 * The uart device's counters (device_type.counters), created through the
 * device table on a fake platform: names and order, bytes out through a
 * null backend, loopback input and overruns, bytes dropped by the guest
 * ignoring THRE and by a backend nobody reads, and raised interrupts
 * matching the rising edges the platform saw.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "counter-sink.h"
#include "fake-hv.h"
#include "device-table.h"
#include "uart-16550.h"

#define COM1 0x3f8

static const char *const names[] = {"bytes_out",   "bytes_in",        "tx_dropped",
                                    "rx_overruns", "backend_dropped", "interrupts"};
enum { BYTES_OUT, BYTES_IN, TX_DROPPED, RX_OVERRUNS, BACKEND_DROPPED, INTERRUPTS, NR_COUNTERS };

struct fixture {
    struct fake_hv fp;
    struct io_registry *io;
    struct event_base *base;
    struct device_env env;
    const struct device_type *type;
    void *dev;
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->io = io_registry_new();
    f->base = event_base_new();
    f->env.domid = 3;
    f->env.io = f->io;
    f->env.hv = fake_hv_init(&f->fp);
    f->env.base = f->base;
    f->type = device_type_find("uart");
    assert_non_null(f->type);
    assert_non_null(f->type->report);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test-uart-counters.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    if (f->dev)
        f->type->destroy(f->dev);
    snprintf(path, sizeof(path), "%s/sock", f->dir);
    unlink(path);
    rmdir(f->dir);
    event_base_free(f->base);
    io_registry_free(f->io);
    free(f);
    return 0;
}

static void create(struct fixture *f, const char *text)
{
    struct device_spec spec;
    char err[160];

    assert_int_equal(device_spec_parse(text, &spec, err, sizeof(err)), 0);
    assert_int_equal(f->type->create(&f->env, &spec, &f->dev, err, sizeof(err)), 0);
    device_spec_free(&spec);
}

static void out(struct fixture *f, unsigned reg, uint8_t v)
{
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, COM1 + reg, 1, 0, v));
}

static uint8_t in(struct fixture *f, unsigned reg)
{
    uint64_t v;

    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, COM1 + reg, 1, 0, &v));
    return (uint8_t)v;
}

/* The counters, checked by name and order, into values[]. */
static void take(struct fixture *f, uint64_t values[NR_COUNTERS])
{
    struct counter_log l;

    counter_log_take(&l, f->type, f->dev);
    assert_int_equal(l.overflow, 0);
    assert_int_equal(l.nr, NR_COUNTERS);
    for (unsigned i = 0; i < NR_COUNTERS; i++) {
        assert_string_equal(l.rec[i].name, names[i]);
        values[i] = l.rec[i].value;
    }
}

static unsigned rising_edges(const struct fake_hv *fp, unsigned irq)
{
    unsigned n = 0;

    for (unsigned i = 0; i < fp->nr_isa; i++)
        n += fp->isa[i].line == irq && fp->isa[i].level;
    return n;
}

static void test_fresh_device_counts_nothing(void **state)
{
    struct fixture *f = *state;
    uint64_t c[NR_COUNTERS];

    create(f, "uart,backend=null");
    take(f, c);
    for (unsigned i = 0; i < NR_COUNTERS; i++)
        assert_int_equal(c[i], 0);
}

static void test_bytes_out_and_interrupts(void **state)
{
    struct fixture *f = *state;
    uint64_t c[NR_COUNTERS];

    create(f, "uart,backend=null");
    for (const char *p = "hello, world\n"; *p; p++)
        out(f, UART_THR, (uint8_t)*p);
    take(f, c);
    assert_int_equal(c[BYTES_OUT], 13);
    assert_int_equal(c[BYTES_IN], 0);
    assert_int_equal(c[TX_DROPPED], 0);
    assert_int_equal(c[INTERRUPTS], 0);

    /*
     * Enabling THRE interrupts with THR empty raises one; the first byte is
     * sent while it is still pending; then each byte raises one more, each
     * acknowledged by reading IIR: three rising edges.
     */
    out(f, UART_IER, UART_IER_THRI);
    for (unsigned i = 0; i < 3; i++) {
        out(f, UART_THR, 'x');
        assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_THRI);
        assert_int_equal(in(f, UART_IIR) & 0x0f, UART_IIR_NO_INT);
    }
    take(f, c);
    assert_int_equal(c[BYTES_OUT], 16);
    assert_int_equal(c[INTERRUPTS], 3);
    assert_int_equal(rising_edges(&f->fp, 4), 3);
    assert_int_equal(c[TX_DROPPED] + c[RX_OVERRUNS] + c[BACKEND_DROPPED], 0);
}

static void test_loopback_input_and_overruns(void **state)
{
    struct fixture *f = *state;
    uint64_t c[NR_COUNTERS];

    create(f, "uart,backend=null");
    out(f, UART_FCR, UART_FCR_ENABLE);
    out(f, UART_MCR, UART_MCR_LOOP);
    /* 20 bytes into a 16-byte receive FIFO nobody reads: 4 overrun. */
    for (unsigned i = 0; i < 20; i++)
        out(f, UART_THR, (uint8_t)i);
    take(f, c);
    assert_int_equal(c[BYTES_OUT], 20);
    assert_int_equal(c[BYTES_IN], 16);
    assert_int_equal(c[RX_OVERRUNS], 4);
    assert_int_equal(c[TX_DROPPED], 0);
    assert_int_equal(c[BACKEND_DROPPED], 0);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(in(f, UART_RBR), i);
}

static void test_dropped_bytes(void **state)
{
    struct fixture *f = *state;
    char spec[160], path[100];
    uint64_t c[NR_COUNTERS], written = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    snprintf(path, sizeof(path), "%s/sock", f->dir);
    snprintf(spec, sizeof(spec), "uart,backend=unix:%s", path);
    create(f, spec);
    out(f, UART_FCR, UART_FCR_ENABLE);

    /* Nobody connected: the backend takes the bytes and drops them. */
    for (unsigned i = 0; i < 5; i++)
        out(f, UART_THR, 'a');
    take(f, c);
    assert_int_equal(c[BYTES_OUT], 5);
    assert_int_equal(c[BACKEND_DROPPED], 5);

    /* A reader that never reads: once its buffers are full THRE stays clear... */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    event_base_loop(f->base, EVLOOP_NONBLOCK); /* accept */
    while (written < (8u << 20) && (in(f, UART_LSR) & UART_LSR_THRE)) {
        out(f, UART_THR, 'b');
        written++;
    }
    assert_int_equal(in(f, UART_LSR) & UART_LSR_THRE, 0);
    take(f, c);
    /* ...the transmit FIFO holds what the host has not taken yet... */
    assert_true(c[BYTES_OUT] >= 5 && c[BYTES_OUT] <= 5 + written);
    assert_true(5 + written - c[BYTES_OUT] <= UART_FIFO_SIZE);
    assert_int_equal(c[TX_DROPPED], 0);
    /* ...and a guest ignoring THRE loses what does not fit. */
    uint64_t queued = 5 + written - c[BYTES_OUT];
    for (unsigned i = 0; i < UART_FIFO_SIZE + 3; i++)
        out(f, UART_THR, 'c');
    take(f, c);
    assert_int_equal(c[TX_DROPPED], UART_FIFO_SIZE + 3 - (UART_FIFO_SIZE - queued));
    assert_int_equal(c[BACKEND_DROPPED], 5);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_device_counts_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_out_and_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_input_and_overruns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_bytes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
