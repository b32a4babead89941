/*
 * Unit tests of the chardev `stdio` backend on a real libevent loop, with
 * this process's stdin and stdout replaced for the test (dup2) by what an
 * ioreqd meets: pipes, /dev/null as a detached daemon has them, or regular
 * files. epoll refuses the last two (EPERM), which must neither kill input
 * silently nor let libevent complain: /dev/null gives no input, a regular
 * file is read to its end, and each is said once in the log.
 *
 * The log (stderr) is captured into a file; a failing test gets its stdio
 * and stderr back in teardown, with the captured log printed.
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
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "chardev.h"

#define ROOM 16 /* what the client takes at a time, like a 16550's FIFO */

struct fixture {
    struct event_base *base;
    struct chardev *cd;
    int saved[3]; /* our own stdin, stdout, stderr while replaced; -1 if not */
    FILE *log;    /* stderr meanwhile */
    char dir[64];
    /* the client */
    uint8_t in[8192];
    size_t in_len;
    size_t room; /* what can_receive() says */
    unsigned writable_calls;
};

static size_t c_can_receive(void *opaque)
{
    struct fixture *f = opaque;
    return f->room;
}

static void c_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct fixture *f = opaque;

    assert_true(len <= f->room);
    assert_true(f->in_len + len <= sizeof(f->in));
    memcpy(f->in + f->in_len, buf, len);
    f->in_len += len;
    f->room -= len;
}

static void c_writable(void *opaque)
{
    struct fixture *f = opaque;
    f->writable_calls++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    for (int i = 0; i < 3; i++)
        f->saved[i] = -1;
    f->room = ROOM;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test-chardev.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

/* Puts fd in place of our descriptor `which` (0, 1 or 2) until restore_stdio(). */
static void replace_fd(struct fixture *f, int which, int fd)
{
    if (which == STDOUT_FILENO)
        fflush(stdout);
    if (which == STDERR_FILENO)
        fflush(stderr);
    if (f->saved[which] < 0) {
        f->saved[which] = fcntl(which, F_DUPFD_CLOEXEC, 3);
        assert_true(f->saved[which] >= 0);
    }
    assert_true(dup2(fd, which) == which);
}

static void replace_path(struct fixture *f, int which, const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    replace_fd(f, which, fd);
    close(fd);
}

static void capture_log(struct fixture *f)
{
    f->log = tmpfile();
    assert_non_null(f->log);
    replace_fd(f, STDERR_FILENO, fileno(f->log));
}

static void restore_stdio(struct fixture *f)
{
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 3; i++) {
        if (f->saved[i] < 0)
            continue;
        dup2(f->saved[i], i);
        close(f->saved[i]);
        f->saved[i] = -1;
    }
}

/* Everything logged since capture_log(); stdio restored first. Malloc()ed. */
static char *logged(struct fixture *f)
{
    char *text = calloc(1, 16384);
    size_t n;

    restore_stdio(f);
    rewind(f->log);
    n = fread(text, 1, 16383, f->log);
    text[n] = '\0';
    fclose(f->log);
    f->log = NULL;
    return text;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    chardev_close(f->cd);
    if (f->log) {
        char *text = logged(f);
        fprintf(stderr, "---- log of the failed test ----\n%s----\n", text);
        free(text);
    }
    restore_stdio(f);
    event_base_free(f->base);
    for (const char *const *n = (const char *const[]){"in", "out", NULL}; *n; n++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, *n);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void open_stdio(struct fixture *f)
{
    const struct chardev_client client = {
        .can_receive = c_can_receive,
        .receive = c_receive,
        .writable = c_writable,
        .opaque = f,
    };
    char err[160] = "";

    assert_int_equal(chardev_open(&f->cd, "stdio", f->base, &client, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

/* Turns of the loop until the client holds want bytes (bounded: about 10 s). */
static void pump_until_received(struct fixture *f, size_t want)
{
    for (int i = 0; i < 1000 && f->in_len < want; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (f->in_len < want)
            poll(NULL, 0, 10);
    }
    assert_int_equal(f->in_len, want);
}

static void pump(struct fixture *f, unsigned turns)
{
    for (unsigned i = 0; i < turns; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
}

/* Input from a pipe, paced by the client's room; output to a pipe, kept when it is full. */
static void test_stdio_pipes(void **state)
{
    struct fixture *f = *state;
    int in[2], out[2];
    static uint8_t sent[200000], got[sizeof(sent)];
    size_t taken = 0, nread = 0;
    struct chardev_stats st;
    char *log;

    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    capture_log(f);
    replace_fd(f, STDIN_FILENO, in[0]);
    replace_fd(f, STDOUT_FILENO, out[1]);
    close(in[0]);
    close(out[1]);
    open_stdio(f);

    /* 40 bytes of input arrive ROOM at a time: the backend waits for room. */
    assert_int_equal(write(in[1], "0123456789abcdefghijklmnopqrstuvwxyzABCD", 40), 40);
    pump_until_received(f, ROOM);
    pump(f, 5);
    assert_int_equal(f->in_len, ROOM);
    for (size_t want = 2 * ROOM; want <= 40 + ROOM; want += ROOM) {
        f->room = ROOM;
        chardev_accept_input(f->cd);
        pump_until_received(f, want < 40 ? want : 40);
    }
    assert_memory_equal(f->in, "0123456789abcdefghijklmnopqrstuvwxyzABCD", 40);

    /* Output until the pipe and the buffer are full, then all of it, in order. */
    for (size_t i = 0; i < sizeof(sent); i++)
        sent[i] = (uint8_t)(i * 13 + i / 256);
    taken = chardev_write(f->cd, sent, sizeof(sent));
    assert_true(taken > 4096 && taken < sizeof(sent));
    while (nread < sizeof(sent)) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        ssize_t n;

        assert_int_equal(poll(&p, 1, 10000), 1);
        n = read(out[0], got + nread, sizeof(got) - nread);
        assert_true(n > 0);
        nread += (size_t)n;
        pump(f, 1);
        if (taken < sizeof(sent) && f->writable_calls)
            taken += chardev_write(f->cd, sent + taken, sizeof(sent) - taken);
    }
    assert_int_equal(taken, sizeof(sent));
    assert_memory_equal(got, sent, sizeof(sent));

    /* The writer closes stdin: said once, output goes on. */
    close(in[1]);
    pump(f, 5);
    assert_int_equal(chardev_write(f->cd, (const uint8_t *)"end", 3), 3);
    assert_int_equal(read(out[0], got, sizeof(got)), 3);
    assert_memory_equal(got, "end", 3);
    f->room = ROOM;
    chardev_accept_input(f->cd);
    pump(f, 5);
    chardev_get_stats(f->cd, &st);
    assert_int_equal(st.in_bytes, 40);
    assert_int_equal(st.out_bytes, sizeof(sent) + 3);
    assert_int_equal(st.out_dropped, 0);
    assert_true(st.connected);
    chardev_close(f->cd);
    f->cd = NULL;
    close(out[0]);
    log = logged(f);
    assert_string_equal(log, "ioreqd: info: serial backend stdio: end of standard input, no more "
                             "input for the guest\n");
    free(log);
}

/* What a detached ioreqd has: /dev/null both ways. No input, output discarded, said once each. */
static void test_stdio_dev_null(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[300];
    struct chardev_stats st;
    char *log;

    capture_log(f);
    replace_path(f, STDIN_FILENO, "/dev/null", O_RDONLY);
    replace_path(f, STDOUT_FILENO, "/dev/null", O_WRONLY);
    open_stdio(f);
    pump(f, 10);
    assert_int_equal(f->in_len, 0);
    memset(buf, 'x', sizeof(buf));
    for (int i = 0; i < 100; i++)
        assert_int_equal(chardev_write(f->cd, buf, sizeof(buf)), sizeof(buf));
    f->room = ROOM;
    chardev_accept_input(f->cd);
    pump(f, 10);
    assert_int_equal(f->in_len, 0);
    assert_int_equal(chardev_flush(f->cd), 0);
    chardev_get_stats(f->cd, &st);
    assert_int_equal(st.in_bytes, 0);
    assert_int_equal(st.out_bytes, 100 * sizeof(buf));
    assert_int_equal(st.out_dropped, 0);
    chardev_close(f->cd);
    f->cd = NULL;
    log = logged(f);
    /* Nothing from libevent ("Epoll ADD(1) on fd 0 failed"), nothing else from us. */
    assert_string_equal(log, "ioreqd: info: serial backend stdio: standard input is /dev/null: no "
                             "input for the guest\n"
                             "ioreqd: info: serial backend stdio: standard output is /dev/null: "
                             "the guest's output is discarded\n");
    free(log);
}

/* stdin and stdout regular files (`ioreqd ... <in >out`): the file is the input, to its end. */
static void test_stdio_regular_files(void **state)
{
    struct fixture *f = *state;
    char in_path[128], out_path[128], buf[64];
    uint8_t text[100];
    struct chardev_stats st;
    char *log;
    int fd;

    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (uint8_t)('!' + i % 90);
    snprintf(in_path, sizeof(in_path), "%s/in", f->dir);
    snprintf(out_path, sizeof(out_path), "%s/out", f->dir);
    fd = open(in_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text)), sizeof(text));
    close(fd);
    capture_log(f);
    replace_path(f, STDIN_FILENO, in_path, O_RDONLY);
    replace_path(f, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC);
    open_stdio(f);

    /* ROOM bytes a time, waiting while the client is full. */
    pump_until_received(f, ROOM);
    pump(f, 5);
    assert_int_equal(f->in_len, ROOM);
    while (f->in_len < sizeof(text)) {
        size_t had = f->in_len;
        f->room = ROOM;
        chardev_accept_input(f->cd);
        pump_until_received(f, had + ROOM < sizeof(text) ? had + ROOM : sizeof(text));
    }
    assert_memory_equal(f->in, text, sizeof(text));
    f->room = ROOM;
    chardev_accept_input(f->cd);
    pump(f, 5);
    assert_int_equal(f->in_len, sizeof(text));

    assert_int_equal(chardev_write(f->cd, (const uint8_t *)"to the file\n", 12), 12);
    pump(f, 5);
    chardev_get_stats(f->cd, &st);
    assert_int_equal(st.in_bytes, sizeof(text));
    assert_int_equal(st.out_bytes, 12);
    chardev_close(f->cd);
    f->cd = NULL;
    log = logged(f);
    assert_string_equal(log, "ioreqd: info: serial backend stdio: standard input is a regular "
                             "file: read to its end as the guest's input\n"
                             "ioreqd: info: serial backend stdio: end of standard input, no more "
                             "input for the guest\n");
    free(log);
    fd = open(out_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 12);
    assert_memory_equal(buf, "to the file\n", 12);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stdio_pipes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio_dev_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio_regular_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
