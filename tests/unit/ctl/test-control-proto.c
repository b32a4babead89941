/*
 * The control socket's line protocol, driven over a socketpair (and, for
 * the listening side, a socket in a temporary directory) with fake ops:
 * exact replies, request framing, errors that keep or close the
 * connection, output back-pressure, client limits, socket file handling.
 * The loop is run without blocking until the expected bytes arrive, so no
 * test depends on timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "control.h"

struct fake {
    int status_calls;
    int stats_calls;
    int stop_calls;
    int stats_rc;
    int stop_rc;
    size_t stats_pad; /* bytes of padding in each stats reply */
    bool stats_open;  /* leave an object open: a buggy op */
    bool stats_huge;  /* more than CONTROL_REPLY_MAX */
};

static int fake_status(void *opaque, struct json_buf *out)
{
    struct fake *f = opaque;

    f->status_calls++;
    json_uint(out, "domid", 7);
    json_string(out, "name", "a\"b");
    return 0;
}

static int fake_stats(void *opaque, struct json_buf *out)
{
    struct fake *f = opaque;
    static char chunk[4096];

    f->stats_calls++;
    if (f->stats_rc)
        return f->stats_rc;
    json_uint(out, "n", (uint64_t)f->stats_calls);
    if (f->stats_pad) {
        char *pad = malloc(f->stats_pad);
        assert_non_null(pad);
        memset(pad, 'p', f->stats_pad);
        json_stringn(out, "pad", pad, f->stats_pad);
        free(pad);
    }
    if (f->stats_open)
        json_begin_object(out, "open");
    if (f->stats_huge) {
        memset(chunk, 'h', sizeof(chunk));
        json_begin_array(out, "huge");
        for (unsigned i = 0; i < CONTROL_REPLY_MAX / sizeof(chunk) + 2; i++)
            json_stringn(out, NULL, chunk, sizeof(chunk));
        json_end_array(out);
    }
    return 0;
}

static int fake_stop(void *opaque)
{
    struct fake *f = opaque;

    f->stop_calls++;
    return f->stop_rc;
}

static const struct control_ops fake_ops = {
    .status = fake_status,
    .stats = fake_stats,
    .stop = fake_stop,
};

static const struct control_ops no_ops = {0};

struct env {
    struct event_base *base;
    struct control_server *srv;
    struct fake fake;
    int peer; /* the client's end */
    char buf[1 << 16];
    size_t len;
};

static void spin(struct env *e)
{
    for (int i = 0; i < 8; i++)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
}

static int setup_ops(void **state, const struct control_ops *ops)
{
    struct env *e = calloc(1, sizeof(*e));
    int sv[2];

    assert_non_null(e);
    e->base = event_base_new();
    assert_non_null(e->base);
    assert_int_equal(control_server_new(&e->srv, e->base, NULL, ops, &e->fake), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    e->peer = sv[0];
    assert_int_equal(control_server_adopt(e->srv, sv[1]), 0);
    assert_int_equal(control_server_nr_clients(e->srv), 1);
    *state = e;
    return 0;
}

static int setup(void **state)
{
    return setup_ops(state, &fake_ops);
}

static int setup_no_ops(void **state)
{
    return setup_ops(state, &no_ops);
}

static int teardown(void **state)
{
    struct env *e = *state;

    if (e->peer >= 0)
        close(e->peer);
    control_server_free(e->srv);
    event_base_free(e->base);
    free(e);
    return 0;
}

static void send_str(struct env *e, const char *s, size_t n)
{
    assert_int_equal(send(e->peer, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads into e->buf until a full line is there (or EOF); returns it without "\n", or NULL at EOF.
 */
static char *read_line(struct env *e)
{
    static char line[sizeof(e->buf)];

    for (int spins = 0; spins < 10000; spins++) {
        char *nl = memchr(e->buf, '\n', e->len);
        ssize_t n;

        if (nl) {
            size_t l = (size_t)(nl - e->buf);
            memcpy(line, e->buf, l);
            line[l] = '\0';
            memmove(e->buf, nl + 1, e->len - l - 1);
            e->len -= l + 1;
            return line;
        }
        spin(e);
        n = recv(e->peer, e->buf + e->len, sizeof(e->buf) - e->len, MSG_DONTWAIT);
        if (n == 0)
            return NULL;
        if (n > 0)
            e->len += (size_t)n;
    }
    fail_msg("no reply line (have %zu bytes)", e->len);
    return NULL;
}

static const char *ask(struct env *e, const char *req)
{
    send_str(e, req, strlen(req));
    return read_line(e);
}

/* True once the server has closed the connection, after all its output. */
static bool closed_by_server(struct env *e)
{
    char c;

    for (int spins = 0; spins < 10000; spins++) {
        ssize_t n;

        spin(e);
        n = recv(e->peer, &c, 1, MSG_DONTWAIT);
        if (n == 0)
            return true;
        if (n > 0)
            return false;
    }
    return false;
}

static void test_status(void **state)
{
    struct env *e = *state;

    assert_string_equal(ask(e, "status\n"), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
    assert_int_equal(e->fake.status_calls, 1);
    /* The connection stays open for more. */
    assert_string_equal(ask(e, "status\n"), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
    assert_int_equal(e->fake.status_calls, 2);
    assert_int_equal(control_server_nr_clients(e->srv), 1);
}

static void test_trimmed_and_crlf(void **state)
{
    struct env *e = *state;

    assert_string_equal(ask(e, " \tstats \r\n"), "{\"ok\":true,\"n\":1}");
    assert_string_equal(ask(e, "stats\r\n"), "{\"ok\":true,\"n\":2}");
}

static void test_pipelined_and_split(void **state)
{
    struct env *e = *state;

    send_str(e, "stats\nstatus\nstats\n", 19);
    assert_string_equal(read_line(e), "{\"ok\":true,\"n\":1}");
    assert_string_equal(read_line(e), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
    assert_string_equal(read_line(e), "{\"ok\":true,\"n\":2}");
    /* One request in three pieces. */
    send_str(e, "st", 2);
    spin(e);
    send_str(e, "at", 2);
    spin(e);
    assert_int_equal(e->fake.stats_calls, 2);
    assert_string_equal(ask(e, "s\n"), "{\"ok\":true,\"n\":3}");
}

static void test_errors_keep_connection(void **state)
{
    struct env *e = *state;

    assert_string_equal(ask(e, "frobnicate\n"), "{\"ok\":false,\"error\":\"unknown command\"}");
    assert_string_equal(ask(e, "STATUS\n"), "{\"ok\":false,\"error\":\"unknown command\"}");
    assert_string_equal(ask(e, "\n"), "{\"ok\":false,\"error\":\"empty request\"}");
    assert_string_equal(ask(e, "  \r\n"), "{\"ok\":false,\"error\":\"empty request\"}");
    send_str(e, "sta\0tus\n", 8);
    assert_string_equal(read_line(e), "{\"ok\":false,\"error\":\"malformed request\"}");
    assert_string_equal(ask(e, "\xff\xfe\x1b[2J\n"),
                        "{\"ok\":false,\"error\":\"unknown command\"}");
    assert_int_equal(e->fake.status_calls, 0);
    assert_string_equal(ask(e, "status\n"), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
}

static void test_op_errors(void **state)
{
    struct env *e = *state;

    e->fake.stats_rc = -EIO;
    assert_string_equal(ask(e, "stats\n"), "{\"ok\":false,\"error\":\"Input/output error\"}");
    e->fake.stats_rc = 0;
    e->fake.stats_open = true;
    assert_string_equal(ask(e, "stats\n"), "{\"ok\":false,\"error\":\"internal error\"}");
    e->fake.stats_open = false;
    e->fake.stats_huge = true;
    assert_string_equal(ask(e, "stats\n"), "{\"ok\":false,\"error\":\"reply too large\"}");
    e->fake.stats_huge = false;
    e->fake.stop_rc = -EBUSY;
    assert_string_equal(ask(e, "stop\n"), "{\"ok\":false,\"error\":\"Device or resource busy\"}");
    assert_string_equal(ask(e, "stats\n"), "{\"ok\":true,\"n\":4}");
}

static void test_not_supported(void **state)
{
    struct env *e = *state;

    assert_string_equal(ask(e, "status\n"), "{\"ok\":false,\"error\":\"not supported\"}");
    assert_string_equal(ask(e, "stats\n"), "{\"ok\":false,\"error\":\"not supported\"}");
    assert_string_equal(ask(e, "stop\n"), "{\"ok\":false,\"error\":\"not supported\"}");
}

static void test_stop(void **state)
{
    struct env *e = *state;

    assert_string_equal(ask(e, "stop\n"), "{\"ok\":true}");
    assert_int_equal(e->fake.stop_calls, 1);
}

static void test_too_long_closes(void **state)
{
    struct env *e = *state;
    char line[CONTROL_LINE_MAX + 10];

    memset(line, 'a', sizeof(line));
    send_str(e, line, sizeof(line));
    assert_string_equal(read_line(e), "{\"ok\":false,\"error\":\"request too long\"}");
    assert_true(closed_by_server(e));
    assert_int_equal(control_server_nr_clients(e->srv), 0);
}

static void test_longest_line_accepted(void **state)
{
    struct env *e = *state;
    char line[CONTROL_LINE_MAX];

    /* CONTROL_LINE_MAX bytes with the "\n": blanks, the word, "\n". */
    memset(line, ' ', sizeof(line));
    memcpy(line + sizeof(line) - 7, "status\n", 7);
    send_str(e, line, sizeof(line));
    assert_string_equal(read_line(e), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
}

static void test_eof_after_request(void **state)
{
    struct env *e = *state;

    /* Requests, then the client's end of writing: all answered, then closed. */
    send_str(e, "stats\nstats\nsta", 15);
    shutdown(e->peer, SHUT_WR);
    assert_string_equal(read_line(e), "{\"ok\":true,\"n\":1}");
    assert_string_equal(read_line(e), "{\"ok\":true,\"n\":2}");
    assert_true(closed_by_server(e));
    assert_int_equal(e->fake.stats_calls, 2);
    assert_int_equal(control_server_nr_clients(e->srv), 0);
}

static void test_abrupt_disconnect(void **state)
{
    struct env *e = *state;

    send_str(e, "stats\nstats\n", 12);
    close(e->peer);
    e->peer = -1;
    for (int i = 0; i < 100 && control_server_nr_clients(e->srv); i++)
        spin(e);
    assert_int_equal(control_server_nr_clients(e->srv), 0);
}

static void test_backpressure(void **state)
{
    struct env *e = *state;
    enum { REQUESTS = 400 };
    static char reqs[REQUESTS * 6];
    int replies = 0, calls_unread;
    char *line;

    /* 16 KiB replies nobody reads: the server must stop answering. */
    e->fake.stats_pad = 16 * 1024;
    for (int i = 0; i < REQUESTS; i++)
        memcpy(reqs + i * 6, "stats\n", 6);
    send_str(e, reqs, sizeof(reqs));
    for (int i = 0; i < 50; i++)
        spin(e);
    calls_unread = e->fake.stats_calls;
    assert_true(calls_unread < REQUESTS);
    assert_true(calls_unread > 0);
    /* Reading lets it go on; every request gets its reply, in order. */
    while (replies < REQUESTS && (line = read_line(e))) {
        char want[32];

        snprintf(want, sizeof(want), "{\"ok\":true,\"n\":%d,", replies + 1);
        assert_memory_equal(line, want, strlen(want));
        replies++;
    }
    if (replies != REQUESTS)
        fail_msg("%d replies, %d calls", replies, e->fake.stats_calls);
    assert_int_equal(e->fake.stats_calls, REQUESTS);
}

static void test_garbage(void **state)
{
    struct env *e = *state;
    unsigned seed = 12345;
    char chunk[97];

    /* Random bytes in odd-sized pieces: errors or a close, never a crash. */
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(chunk); i++) {
            seed = seed * 1103515245u + 12345u;
            chunk[i] = (char)(seed >> 16);
        }
        if (send(e->peer, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            break;
        spin(e);
        /* Drain whatever came back. */
        while (recv(e->peer, e->buf, sizeof(e->buf), MSG_DONTWAIT) > 0)
            ;
    }
    assert_true(control_server_nr_clients(e->srv) <= 1);
}

/* ---- the listening socket ---- */

struct sock_env {
    char dir[64];
    char path[128];
    struct event_base *base;
    struct fake fake;
};

static int sock_setup(void **state)
{
    struct sock_env *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    snprintf(s->dir, sizeof(s->dir), "/tmp/ctl-test-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof(s->path), "%s/run/7.sock", s->dir);
    s->base = event_base_new();
    assert_non_null(s->base);
    *state = s;
    return 0;
}

static int sock_teardown(void **state)
{
    struct sock_env *s = *state;
    char p[160];

    unlink(s->path);
    snprintf(p, sizeof(p), "%s/run", s->dir);
    rmdir(p);
    rmdir(s->dir);
    event_base_free(s->base);
    free(s);
    return 0;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -errno;
    }
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static void test_socket_file(void **state)
{
    struct sock_env *s = *state;
    struct control_server *srv, *other;
    struct stat st;
    char parent[160];

    assert_int_equal(control_server_new(&srv, s->base, s->path, &fake_ops, &s->fake), 0);
    assert_int_equal(lstat(s->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(parent, sizeof(parent), "%s/run", s->dir);
    assert_int_equal(lstat(parent, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    /* A second server on a live socket is refused, and does not remove it. */
    assert_int_equal(control_server_new(&other, s->base, s->path, &fake_ops, &s->fake),
                     -EADDRINUSE);
    assert_null(other);
    assert_int_equal(lstat(s->path, &st), 0);

    control_server_free(srv);
    assert_int_equal(lstat(s->path, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_stale_socket_replaced(void **state)
{
    struct sock_env *s = *state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct control_server *srv;
    struct env e = {0};
    char parent[160];
    int fd;

    /* A socket file nobody listens on, as a crashed daemon leaves it. */
    snprintf(parent, sizeof(parent), "%s/run", s->dir);
    assert_int_equal(mkdir(parent, 0700), 0);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(strlen(s->path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    assert_int_equal(connect_to(s->path), -ECONNREFUSED);

    assert_int_equal(control_server_new(&srv, s->base, s->path, &fake_ops, &s->fake), 0);
    e.base = s->base;
    e.srv = srv;
    e.peer = connect_to(s->path);
    assert_true(e.peer >= 0);
    assert_string_equal(ask(&e, "status\n"), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
    close(e.peer);
    control_server_free(srv);
}

static void test_not_a_socket(void **state)
{
    struct sock_env *s = *state;
    struct control_server *srv;
    char parent[160];
    FILE *f;

    snprintf(parent, sizeof(parent), "%s/run", s->dir);
    assert_int_equal(mkdir(parent, 0700), 0);
    f = fopen(s->path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(control_server_new(&srv, s->base, s->path, &fake_ops, &s->fake), -EEXIST);
    /* The file is left alone. */
    assert_int_equal(access(s->path, F_OK), 0);
}

static void test_path_too_long(void **state)
{
    struct sock_env *s = *state;
    struct control_server *srv;
    char path[200];

    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(control_server_new(&srv, s->base, path, &fake_ops, &s->fake), -ENAMETOOLONG);
    assert_int_equal(control_server_new(&srv, s->base, "", &fake_ops, &s->fake), -EINVAL);
}

static void test_client_limit(void **state)
{
    struct sock_env *s = *state;
    struct control_server *srv;
    int fds[CONTROL_MAX_CLIENTS];
    struct env e = {0};

    assert_int_equal(control_server_new(&srv, s->base, s->path, &fake_ops, &s->fake), 0);
    e.base = s->base;
    e.srv = srv;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        fds[i] = connect_to(s->path);
        assert_true(fds[i] >= 0);
        for (int k = 0; k < 100 && control_server_nr_clients(srv) < (unsigned)i + 1; k++)
            spin(&e);
        assert_int_equal(control_server_nr_clients(srv), i + 1);
    }
    /* One more: told why, then closed. */
    e.peer = connect_to(s->path);
    assert_true(e.peer >= 0);
    assert_string_equal(read_line(&e), "{\"ok\":false,\"error\":\"too many clients\"}");
    assert_true(closed_by_server(&e));
    close(e.peer);
    assert_int_equal(control_server_nr_clients(srv), CONTROL_MAX_CLIENTS);

    /* The others are still served; closing one makes room. */
    e.peer = fds[0];
    assert_string_equal(ask(&e, "stats\n"), "{\"ok\":true,\"n\":1}");
    close(fds[0]);
    for (int k = 0; k < 100 && control_server_nr_clients(srv) == CONTROL_MAX_CLIENTS; k++)
        spin(&e);
    assert_int_equal(control_server_nr_clients(srv), CONTROL_MAX_CLIENTS - 1);
    e.peer = connect_to(s->path);
    assert_true(e.peer >= 0);
    assert_string_equal(ask(&e, "stats\n"), "{\"ok\":true,\"n\":2}");
    close(e.peer);
    for (int i = 1; i < CONTROL_MAX_CLIENTS; i++)
        close(fds[i]);
    /* Freed with clients still connected: no leak, socket removed. */
    control_server_free(srv);
    assert_int_equal(access(s->path, F_OK), -1);
}

static void test_out_of_descriptors(void **state)
{
    struct sock_env *s = *state;
    struct control_server *srv;
    struct rlimit old, low;
    struct env e = {0};
    int probe;

    assert_int_equal(control_server_new(&srv, s->base, s->path, &fake_ops, &s->fake), 0);
    e.base = s->base;
    e.srv = srv;
    /* Room for the client's socket and not one descriptor more. */
    probe = dup(0);
    assert_true(probe >= 0);
    close(probe);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)probe + 1;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    e.peer = connect_to(s->path);
    assert_true(e.peer >= 0);
    spin(&e);
    assert_int_equal(control_server_nr_clients(srv), 0);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* The server paused accepting instead of spinning; the pause ends and the client is served. */
    while (control_server_nr_clients(srv) == 0)
        assert_int_equal(event_base_loop(s->base, EVLOOP_ONCE), 0);
    assert_string_equal(ask(&e, "status\n"), "{\"ok\":true,\"domid\":7,\"name\":\"a\\\"b\"}");
    close(e.peer);
    control_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trimmed_and_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_and_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_keep_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_supported, setup_no_ops, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longest_line_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_after_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abrupt_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_file, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_socket, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_path_too_long, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_client_limit, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_descriptors, sock_setup, sock_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
