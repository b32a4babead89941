/*
 * mockxs_adopt_domain_conn: a socketpair end handed over from another
 * thread becomes domain <domid>'s own connection once the loop runs:
 * unprivileged (dom0's tree is EACCES to it), its relative paths under
 * /local/domain/<domid>. Refusals close the fd: dom0 or a reserved domid
 * (-EINVAL), too many hand-overs waiting (-EAGAIN).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <xen/io/xs_wire.h>

#include "mockxs.h"

struct fx {
    struct event_base *base;
    struct mockxs *xs;
    char path[64];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "/tmp/xs-adopt-%d.sock", (int)getpid());
    fx->base = event_base_new();
    fx->xs = fx->base ? mockxs_new(fx->base, fx->path) : NULL;
    if (!fx->xs)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    mockxs_free(fx->xs);
    event_base_free(fx->base);
    free(fx);
    return 0;
}

/* Runs the loop until fd has a whole reply, or gives up after many turns. */
static void reply(struct fx *fx, int fd, struct xsd_sockmsg *hdr, char *body, size_t max)
{
    size_t got = 0, want = sizeof(*hdr);
    char buf[sizeof(*hdr) + 4096];

    for (int i = 0; i < 10000 && got < want; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        if (poll(&p, 1, 1) <= 0)
            continue;
        n = read(fd, buf + got, sizeof(buf) - got);
        assert_true(n > 0);
        got += (size_t)n;
        if (got >= sizeof(*hdr)) {
            memcpy(hdr, buf, sizeof(*hdr));
            want = sizeof(*hdr) + hdr->len;
        }
    }
    assert_true(got >= want);
    assert_true(hdr->len < max);
    memcpy(body, buf + sizeof(*hdr), hdr->len);
    body[hdr->len] = '\0';
}

static void send_req(int fd, uint32_t type, const char *payload, uint32_t len)
{
    struct xsd_sockmsg hdr = {.type = type, .req_id = 1, .len = len};

    assert_int_equal(write(fd, &hdr, sizeof(hdr)), sizeof(hdr));
    assert_int_equal(write(fd, payload, len), (ssize_t)len);
}

static void test_domain_connection(void **state)
{
    struct fx *fx = *state;
    struct xsd_sockmsg hdr;
    char body[4097];
    int sv[2];

    assert_int_equal(mockxs_introduce_domain(fx->xs, 5), 0);
    assert_int_equal(mockxs_mkdir(fx->xs, "/local/domain/5"), 0);
    {
        const char *perms[] = {"n5"};

        assert_int_equal(mockxs_set_perms(fx->xs, "/local/domain/5", perms, 1), 0);
    }
    assert_int_equal(mockxs_write_str(fx->xs, "/local/domain/0/secret", "x"), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(mockxs_adopt_domain_conn(fx->xs, sv[1], 5), 0);
    /* not dom0's: its tree is out of reach */
    send_req(sv[0], XS_READ, "/local/domain/0/secret", 23);
    reply(fx, sv[0], &hdr, body, sizeof(body));
    assert_int_equal(hdr.type, XS_ERROR);
    assert_string_equal(body, "EACCES");
    /* relative paths are the domain's */
    send_req(sv[0], XS_WRITE, "name\0five", 9);
    reply(fx, sv[0], &hdr, body, sizeof(body));
    assert_int_equal(hdr.type, XS_WRITE);
    {
        char *v = NULL;

        assert_int_equal(mockxs_read(fx->xs, "/local/domain/5/name", &v, NULL), 0);
        assert_string_equal(v, "five");
        free(v);
    }
    close(sv[0]);
}

static void test_refusals(void **state)
{
    struct fx *fx = *state;
    int fds[MOCKXS_ADOPT_MAX + 1], sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(mockxs_adopt_domain_conn(fx->xs, sv[1], 0), -EINVAL);
    assert_int_equal(fcntl(sv[1], F_GETFD), -1); /* closed */
    close(sv[0]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(mockxs_adopt_domain_conn(fx->xs, sv[1], 0x7ff0), -EINVAL);
    close(sv[0]);
    /* the loop does not run: hand-overs pile up to the bound */
    for (unsigned i = 0; i <= MOCKXS_ADOPT_MAX; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        fds[i] = sv[0];
        assert_int_equal(mockxs_adopt_domain_conn(fx->xs, sv[1], 9),
                         i < MOCKXS_ADOPT_MAX ? 0 : -EAGAIN);
    }
    for (unsigned i = 0; i <= MOCKXS_ADOPT_MAX; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_domain_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
