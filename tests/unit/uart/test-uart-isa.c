/*
 * Unit tests of the uart device (ISA glue + chardev backends) created through
 * the device table: COM defaults, ISA IRQ levels, port clashes, the pty path
 * published for `xl console`, and lossless flow through pty, unix socket,
 * file and stdio backends, with output counted when nobody reads it. The
 * stdio cases put pipes or /dev/null (a detached daemon's) in place of this
 * process's stdin and stdout for their duration. Waits for the kernel are
 * bounded (poll with a timeout), never timed assertions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "fake-hv.h"
#include "device-table.h"
#include "uart-16550.h"

struct fixture {
    struct fake_hv fp;
    struct io_registry *io;
    struct event_base *base;
    struct device_env env;
    char published_key[128];
    char published_value[128];
    unsigned publishes;
    char dir[64];
};

static int record_publish(void *opaque, const char *key, const char *value)
{
    struct fixture *f = opaque;

    snprintf(f->published_key, sizeof(f->published_key), "%s", key);
    snprintf(f->published_value, sizeof(f->published_value), "%s", value);
    f->publishes++;
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->io = io_registry_new();
    f->base = event_base_new();
    f->env.domid = 5;
    f->env.io = f->io;
    f->env.hv = fake_hv_init(&f->fp);
    f->env.base = f->base;
    f->env.publish = record_publish;
    f->env.publish_opaque = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test-uart-isa.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    snprintf(path, sizeof(path), "%s/out.log", f->dir);
    unlink(path);
    rmdir(f->dir);
    event_base_free(f->base);
    io_registry_free(f->io);
    free(f);
    return 0;
}

static int create(struct fixture *f, const char *text, void **dev, char *err, size_t errlen)
{
    struct device_spec spec;
    int rc;

    assert_int_equal(device_spec_parse(text, &spec, err, errlen), 0);
    err[0] = '\0';
    rc = device_type_find("uart")->create(&f->env, &spec, dev, err, errlen);
    if (!rc)
        assert_null(device_spec_unused(&spec));
    device_spec_free(&spec);
    return rc;
}

static void destroy(void *dev)
{
    device_type_find("uart")->destroy(dev);
}

static void out(struct fixture *f, uint16_t port, uint8_t v)
{
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, port, 1, 0, v));
}

static uint8_t in(struct fixture *f, uint16_t port)
{
    uint64_t v;
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, port, 1, 0, &v));
    return (uint8_t)v;
}

/* Runs the daemon's loop until fd is readable (bounded: about 10 s), then once more. */
static void pump_until_readable(struct fixture *f, int fd)
{
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (poll(&p, 1, 10) == 1) {
            event_base_loop(f->base, EVLOOP_NONBLOCK);
            return;
        }
    }
    fail_msg("fd %d never became readable", fd);
}

/* Runs the loop until the UART at port has received data (bounded: about 10 s). */
static void wait_rx(struct fixture *f, uint16_t port)
{
    for (int i = 0; i < 1000; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (in(f, port + UART_LSR) & UART_LSR_DR)
            return;
        poll(NULL, 0, 10); /* give the pty's line discipline time to move the bytes */
    }
    fail_msg("no input reached the UART at %#x", port);
}

static void test_com_defaults(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *spec;
        uint16_t port;
        unsigned irq;
    } coms[] = {
        {"uart,backend=null", 0x3f8, 4},
        {"uart,com=2,backend=null", 0x2f8, 3},
        {"uart,com=3,backend=null", 0x3e8, 4},
        {"uart,com=4,backend=null", 0x2e8, 3},
        {"uart,port=0x100,irq=9,backend=null", 0x100, 9},
    };
    char err[160];

    for (unsigned i = 0; i < sizeof(coms) / sizeof(coms[0]); i++) {
        void *d;
        char desc[256], want[256];
        assert_int_equal(create(f, coms[i].spec, &d, err, sizeof(err)), 0);
        const struct io_range *r = io_range_at(f->io, IO_SPACE_PIO, 0);
        assert_int_equal(r->base, coms[i].port);
        assert_int_equal(r->len, 8);
        /* Scratch register round trip through the ports, and IRQ line use. */
        out(f, coms[i].port + UART_SCR, 0xa5);
        assert_int_equal(in(f, coms[i].port + UART_SCR), 0xa5);
        unsigned before = f->fp.nr_isa;
        out(f, coms[i].port + UART_IER, UART_IER_THRI);
        assert_int_equal(f->fp.nr_isa, before + 1);
        assert_int_equal(f->fp.isa[before].line, coms[i].irq);
        assert_true(f->fp.isa_level[coms[i].irq]);
        device_describe(device_type_find("uart"), d, desc, sizeof(desc));
        snprintf(want, sizeof(want),
                 "port=%#x irq=%u backend=null tx=0 rx=0 tx-dropped=0 out-dropped=0", coms[i].port,
                 coms[i].irq);
        assert_string_equal(desc, want);
        device_identity(device_type_find("uart"), d, desc, sizeof(desc));
        snprintf(want, sizeof(want), "port=%#x irq=%u backend=null", coms[i].port, coms[i].irq);
        assert_string_equal(desc, want);
        destroy(d);
        /* Destroy lowered the line it had raised. */
        assert_false(f->fp.isa_level[coms[i].irq]);
    }
    assert_int_equal(f->publishes, 0);
}

static void test_bad_specs(void **state)
{
    struct fixture *f = *state;
    char err[160];
    void *a, *b;

    assert_int_equal(create(f, "uart,com=5", &a, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "uart: bad value '5' for com (expected 1..4)");
    assert_int_equal(create(f, "uart,irq=16", &a, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "uart: bad value '16' for irq (expected 0..15)");
    assert_int_equal(create(f, "uart,port=0xfffc", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(create(f, "uart,backend=tcp:1", &a, err, sizeof(err)), -EINVAL);
    assert_string_equal(
        err, "uart: backend: unknown backend 'tcp:1' (pty, unix:PATH, file:PATH, stdio, null)");
    assert_int_equal(create(f, "uart,backend=file:/nonexistent/dir/x", &a, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err,
                        "uart: backend: cannot open /nonexistent/dir/x: No such file or directory");
    assert_int_equal(create(f, "uart,backend=null", &a, err, sizeof(err)), 0);
    assert_int_equal(create(f, "uart,port=0x3fc,backend=null", &b, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "uart: ports 0x3fc-0x403 are already taken");
    destroy(a);
}

static void test_pty(void **state)
{
    struct fixture *f = *state;
    char err[160], buf[64], desc[256], want[256];
    struct termios t;
    void *d;
    int s;

    assert_int_equal(create(f, "uart,com=2,backend=pty", &d, err, sizeof(err)), 0);
    assert_int_equal(f->publishes, 1);
    assert_string_equal(f->published_key, "/local/domain/5/serial/1/tty");
    assert_memory_equal(f->published_value, "/dev/pts/", 9);
    s = open(f->published_value, O_RDWR | O_NOCTTY);
    assert_true(s >= 0);
    assert_int_equal(tcgetattr(s, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(s, TCSANOW, &t), 0);

    /* Guest → reader. */
    for (const char *p = "hello\n"; *p; p++)
        out(f, 0x2f8, (uint8_t)*p);
    /* The line discipline may hand the bytes over in pieces. */
    for (size_t got = 0; got < 6;) {
        pump_until_readable(f, s);
        ssize_t n = read(s, buf + got, sizeof(buf) - got);
        assert_true(n > 0);
        got += (size_t)n;
        assert_true(got <= 6);
    }
    assert_memory_equal(buf, "hello\n", 6);

    /* Reader → guest, with a data interrupt on IRQ 3. */
    out(f, 0x2f8 + UART_IER, UART_IER_RDI);
    assert_false(f->fp.isa_level[3]);
    assert_int_equal(write(s, "ok", 2), 2);
    wait_rx(f, 0x2f8);
    assert_true(f->fp.isa_level[3]);
    assert_int_equal(in(f, 0x2f8), 'o');
    wait_rx(f, 0x2f8);
    assert_int_equal(in(f, 0x2f8), 'k');
    assert_false(f->fp.isa_level[3]);

    device_describe(device_type_find("uart"), d, desc, sizeof(desc));
    snprintf(want, sizeof(want),
             "port=0x2f8 irq=3 backend=pty:%s tx=6 rx=2 tx-dropped=0 out-dropped=0",
             f->published_value);
    assert_string_equal(desc, want);
    /* What the inventory holds: what the port is, with none of the traffic. */
    device_identity(device_type_find("uart"), d, desc, sizeof(desc));
    snprintf(want, sizeof(want), "port=0x2f8 irq=3 backend=pty:%s", f->published_value);
    assert_string_equal(desc, want);
    assert_int_equal(device_type_find("uart")->flush(d), 0);
    destroy(d);
    close(s);
}

static void test_pty_reader_leaves(void **state)
{
    struct fixture *f = *state;
    char err[160], desc[256], buf[8];
    void *d;
    int s;

    assert_int_equal(create(f, "uart,backend=pty", &d, err, sizeof(err)), 0);
    s = open(f->published_value, O_RDWR | O_NOCTTY);
    assert_true(s >= 0);
    out(f, 0x3f8, 'a');
    pump_until_readable(f, s);
    assert_int_equal(read(s, buf, sizeof(buf)), 1);

    /* The reader closes its end: the daemon notices (EOF/EIO) and counts what follows. */
    close(s);
    for (int i = 0; i < 1000; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        out(f, 0x3f8, 'b');
        device_describe(device_type_find("uart"), d, desc, sizeof(desc));
        if (!strstr(desc, "out-dropped=0"))
            break;
        poll(NULL, 0, 10);
    }
    assert_null(strstr(desc, "out-dropped=0"));
    /* The guest was never held up: THRE is set. */
    assert_int_equal(in(f, 0x3f8 + UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);

    /* Someone opens it again: output flows once the periodic check sees them. */
    s = open(f->published_value, O_RDWR | O_NOCTTY);
    assert_true(s >= 0);
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        out(f, 0x3f8, 'c');
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (poll(&p, 1, 10) == 1)
            break;
    }
    /* Bytes the kernel kept from before the reader left may come first. */
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        pump_until_readable(f, s);
        ssize_t n = read(s, buf, sizeof(buf));
        assert_true(n >= 1);
        seen = memchr(buf, 'c', (size_t)n) != NULL;
    }
    assert_true(seen);
    close(s);
    destroy(d);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int c = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return c;
}

static void test_unix_flow_control(void **state)
{
    struct fixture *f = *state;
    char err[160], spec[160], path[100], desc[256];
    uint8_t buf[65536];
    uint64_t written = 0, got = 0;
    void *d;
    int c, c2;

    snprintf(path, sizeof(path), "%s/sock", f->dir);
    snprintf(spec, sizeof(spec), "uart,backend=unix:%s", path);
    assert_int_equal(create(f, spec, &d, err, sizeof(err)), 0);
    assert_int_equal(f->publishes, 0);

    /* Nobody connected: output is accepted, dropped and counted. */
    for (const char *p = "lost"; *p; p++)
        out(f, 0x3f8, (uint8_t)*p);
    device_describe(device_type_find("uart"), d, desc, sizeof(desc));
    assert_non_null(strstr(desc, "tx=4 rx=0 tx-dropped=0 out-dropped=4"));

    c = connect_unix(path);
    event_base_loop(f->base, EVLOOP_NONBLOCK); /* accept */

    /* A guest that honours THRE writes until the reader's buffers are full... */
    while (written < (8u << 20) && (in(f, 0x3f8 + UART_LSR) & UART_LSR_THRE))
        out(f, 0x3f8, (uint8_t)(written++ * 7));
    assert_true(written > 4096);
    assert_int_equal(in(f, 0x3f8 + UART_LSR) & UART_LSR_THRE, 0);
    /* ...and the daemon kept every byte: the reader gets them all, in order. */
    while (got < written) {
        pump_until_readable(f, c);
        ssize_t n = read(c, buf, sizeof(buf));
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            assert_int_equal(buf[i], (uint8_t)((got + (uint64_t)i) * 7));
        got += (uint64_t)n;
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(got, written);
    assert_int_equal(in(f, 0x3f8 + UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
    device_describe(device_type_find("uart"), d, desc, sizeof(desc));
    assert_non_null(strstr(desc, "tx-dropped=0 out-dropped=4"));

    /* A second client is turned away. */
    c2 = connect_unix(path);
    pump_until_readable(f, c2);
    pump_until_readable(f, c2);
    assert_int_equal(read(c2, buf, 1), 0);
    close(c2);

    /* Input reaches the guest. */
    assert_int_equal(write(c, "in", 2), 2);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(in(f, 0x3f8 + UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    assert_int_equal(in(f, 0x3f8), 'i');
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(in(f, 0x3f8), 'n');

    /* The client leaves: output is dropped and counted again. */
    close(c);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    out(f, 0x3f8, 'x');
    device_describe(device_type_find("uart"), d, desc, sizeof(desc));
    assert_non_null(strstr(desc, "tx-dropped=0 out-dropped=5"));
    destroy(d);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_file_backend(void **state)
{
    struct fixture *f = *state;
    char err[160], spec[160], path[100], buf[32];
    void *d;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/out.log", f->dir);
    snprintf(spec, sizeof(spec), "uart,com=3,backend=file:%s", path);
    assert_int_equal(create(f, spec, &d, err, sizeof(err)), 0);
    for (const char *p = "to file\n"; *p; p++)
        out(f, 0x3e8, (uint8_t)*p);
    /* No input from a file: the receiver stays empty. */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(in(f, 0x3e8 + UART_LSR), 0x60);
    assert_int_equal(device_type_find("uart")->flush(d), 0);
    destroy(d);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    assert_string_equal(buf, "to file\n");
    fclose(fp);
}

/* This process's stdin, stdout and stderr while a test replaces them. */
static int saved_stdio[3] = {-1, -1, -1};

static void replace_stdio(int which, int fd)
{
    fflush(which == STDOUT_FILENO ? stdout : stderr);
    if (saved_stdio[which] < 0)
        saved_stdio[which] = fcntl(which, F_DUPFD_CLOEXEC, 3);
    assert_true(saved_stdio[which] >= 0);
    assert_true(dup2(fd, which) == which);
}

static void restore_stdio(void)
{
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 3; i++) {
        if (saved_stdio[i] >= 0) {
            dup2(saved_stdio[i], i);
            close(saved_stdio[i]);
            saved_stdio[i] = -1;
        }
    }
}

static int teardown_stdio(void **state)
{
    restore_stdio();
    return teardown(state);
}

/* backend=stdio on pipes: input reaches RBR with an interrupt, output comes out on stdout. */
static void test_stdio_backend(void **state)
{
    struct fixture *f = *state;
    char err[160], desc[256], buf[16];
    int host_in[2], host_out[2];
    void *d;

    assert_int_equal(pipe2(host_in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(host_out, O_CLOEXEC), 0);
    replace_stdio(STDIN_FILENO, host_in[0]);
    replace_stdio(STDOUT_FILENO, host_out[1]);
    close(host_in[0]);
    close(host_out[1]);
    assert_int_equal(create(f, "uart,com=2,backend=stdio", &d, err, sizeof(err)), 0);
    assert_int_equal(f->publishes, 0);

    /* Host → guest, with a data interrupt on IRQ 3. */
    out(f, 0x2f8 + UART_IER, UART_IER_RDI);
    assert_false(f->fp.isa_level[3]);
    assert_int_equal(write(host_in[1], "hi", 2), 2);
    wait_rx(f, 0x2f8);
    assert_true(f->fp.isa_level[3]);
    assert_int_equal(in(f, 0x2f8 + UART_IIR) & 0x0f, 0x04); /* received data available */
    assert_int_equal(in(f, 0x2f8), 'h');
    wait_rx(f, 0x2f8);
    assert_int_equal(in(f, 0x2f8), 'i');
    assert_false(f->fp.isa_level[3]);
    assert_int_equal(in(f, 0x2f8 + UART_LSR) & UART_LSR_DR, 0);

    /* Guest → stdout. */
    for (const char *p = "ok\r\n"; *p; p++)
        out(f, 0x2f8, (uint8_t)*p);
    assert_int_equal(device_type_find("uart")->flush(d), 0);
    pump_until_readable(f, host_out[0]);
    assert_int_equal(read(host_out[0], buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ok\r\n", 4);

    device_describe(device_type_find("uart"), d, desc, sizeof(desc));
    assert_string_equal(desc,
                        "port=0x2f8 irq=3 backend=stdio tx=4 rx=2 tx-dropped=0 out-dropped=0");
    destroy(d);
    restore_stdio();
    close(host_in[1]);
    close(host_out[0]);
}

/*
 * backend=stdio in a detached daemon: stdin and stdout are /dev/null. The
 * port comes up, never receives, takes output without holding the guest up,
 * and the log says so once (libevent's "Epoll ADD(1) on fd 0 failed" never).
 */
static void test_stdio_dev_null(void **state)
{
    struct fixture *f = *state;
    char err[160], desc[256], log[1024];
    FILE *cap = tmpfile();
    int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int null_out = open("/dev/null", O_WRONLY | O_CLOEXEC);
    size_t n;
    void *d;

    assert_non_null(cap);
    assert_true(null_in >= 0 && null_out >= 0);
    replace_stdio(STDERR_FILENO, fileno(cap));
    replace_stdio(STDIN_FILENO, null_in);
    replace_stdio(STDOUT_FILENO, null_out);
    close(null_in);
    close(null_out);
    assert_int_equal(create(f, "uart,backend=stdio", &d, err, sizeof(err)), 0);
    out(f, 0x3f8 + UART_IER, UART_IER_RDI);
    for (int i = 0; i < 20; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        assert_int_equal(in(f, 0x3f8 + UART_LSR) & UART_LSR_DR, 0);
    }
    assert_false(f->fp.isa_level[4]);
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(in(f, 0x3f8 + UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
        out(f, 0x3f8, (uint8_t)i);
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    }
    device_describe(device_type_find("uart"), d, desc, sizeof(desc));
    assert_string_equal(desc,
                        "port=0x3f8 irq=4 backend=stdio tx=5000 rx=0 tx-dropped=0 out-dropped=0");
    destroy(d);
    restore_stdio();
    rewind(cap);
    n = fread(log, 1, sizeof(log) - 1, cap);
    log[n] = '\0';
    fclose(cap);
    assert_string_equal(log, "ioreqd: info: serial backend stdio: standard input is /dev/null: no "
                             "input for the guest\n"
                             "ioreqd: info: serial backend stdio: standard output is /dev/null: "
                             "the guest's output is discarded\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_com_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty_reader_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_flow_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio_backend, setup, teardown_stdio),
        cmocka_unit_test_setup_teardown(test_stdio_dev_null, setup, teardown_stdio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
