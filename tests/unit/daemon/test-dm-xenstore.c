/*
 * ioreqd's xenstore module against an in-process mock xenstored (on its own
 * loop thread), through the real libxenstore: what is written where, that
 * cleanup removes exactly what ioreqd created, and the @releaseDomain watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dm-xenstore.h"
#include "mockxs.h"

#define DOMID 7

struct fixture {
    char dir[64];
    char sock[96];
    struct event_base *xs_base; /* the mock's loop, on its own thread */
    struct event *stop_ev;      /* stops the mock's loop from its own thread */
    int stop_pipe[2];
    pthread_t thread;
    struct mockxs *mock;
    struct event_base *base; /* the daemon side */
    struct dmxs *x;
    unsigned released;
};

static void *mock_loop(void *opaque)
{
    struct fixture *fx = opaque;
    event_base_dispatch(fx->xs_base);
    return NULL;
}

static void stop_mock(evutil_socket_t fd, short what, void *opaque)
{
    struct fixture *fx = opaque;
    event_base_loopbreak(fx->xs_base);
}

static void on_released(void *opaque)
{
    struct fixture *fx = opaque;
    fx->released++;
    event_base_loopbreak(fx->base);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct dmxs_callbacks cb = {.domain_released = on_released};

    if (!fx)
        return -1;
    strcpy(fx->dir, "/tmp/ioreqd-xs-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->sock, sizeof(fx->sock), "%s/socket", fx->dir);
    fx->xs_base = event_base_new();
    fx->mock = mockxs_new(fx->xs_base, fx->sock);
    if (!fx->mock)
        return -1;
    if (pipe(fx->stop_pipe))
        return -1;
    fx->stop_ev = event_new(fx->xs_base, fx->stop_pipe[0], EV_READ, stop_mock, fx);
    event_add(fx->stop_ev, NULL);
    if (pthread_create(&fx->thread, NULL, mock_loop, fx))
        return -1;
    setenv("XENSTORED_PATH", fx->sock, 1);
    fx->base = event_base_new();
    cb.opaque = fx;
    if (dmxs_open(&fx->x, DOMID, fx->base, &cb))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[96];

    dmxs_close(fx->x);
    event_base_free(fx->base);
    if (write(fx->stop_pipe[1], "x", 1) != 1)
        return -1;
    pthread_join(fx->thread, NULL);
    event_free(fx->stop_ev);
    close(fx->stop_pipe[0]);
    close(fx->stop_pipe[1]);
    mockxs_free(fx->mock);
    event_base_free(fx->xs_base);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd))
        return -1;
    free(fx);
    return 0;
}

static char *get(struct fixture *fx, const char *path)
{
    static char value[256];
    char *v = NULL;

    if (mockxs_read(fx->mock, path, &v, NULL))
        return NULL;
    snprintf(value, sizeof(value), "%s", v);
    free(v);
    return value;
}

static void test_paths(void **state)
{
    struct fixture *fx = *state;

    assert_string_equal(dmxs_dm_dir(fx->x), "/local/domain/0/device-model/7");
    assert_string_equal(dmxs_guest_dir(fx->x), "/local/domain/7");
}

static void test_write_and_cleanup_new_dir(void **state)
{
    struct fixture *fx = *state;

    assert_null(get(fx, "/local/domain/0/device-model"));
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/state", "running"), 0);
    assert_int_equal(dmxs_writef(fx->x, "/local/domain/0/device-model/7/ioreqd/pid", "%d", 42), 0);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/ioreqd/devices/0", "uart"),
                     0);
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/state"), "running");
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/ioreqd/pid"), "42");
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/ioreqd/devices/0"), "uart");
    dmxs_cleanup(fx->x);
    /* The dm dir was ours; its parent (shared by every device model) stays. */
    assert_null(get(fx, "/local/domain/0/device-model/7"));
    assert_non_null(get(fx, "/local/domain/0/device-model"));
}

static void test_cleanup_spares_others(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/other", "qemu"), 0);
    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/7/name", "guest"), 0);
    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/7/serial/1/tty", "/dev/pts/9"), 0);

    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/state", "running"), 0);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7/serial/0/tty", "/dev/pts/3"), 0);
    /* Overwriting an existing key: it was not ours, so it stays (with the value written). */
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7/serial/1/tty", "/dev/pts/4"), 0);
    assert_string_equal(get(fx, "/local/domain/7/serial/0/tty"), "/dev/pts/3");
    dmxs_cleanup(fx->x);

    assert_null(get(fx, "/local/domain/0/device-model/7/state"));
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/other"), "qemu");
    assert_null(get(fx, "/local/domain/7/serial/0"));
    assert_string_equal(get(fx, "/local/domain/7/serial/1/tty"), "/dev/pts/4");
    assert_string_equal(get(fx, "/local/domain/7/name"), "guest");
}

/*
 * ioreqd started first and created the device-model directory; QEMU then
 * wrote its keys into it (libxl waits on state; backends is QEMU's). Cleanup
 * removes ioreqd's nodes only, and the directory stays while others use it.
 */
static void test_cleanup_spares_what_others_wrote_later(void **state)
{
    struct fixture *fx = *state;

    assert_null(get(fx, "/local/domain/0/device-model/7"));
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/ioreqd/pid", "42"), 0);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7/serial/0/tty", "/dev/pts/3"), 0);
    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/state", "running"),
                     0);
    assert_int_equal(
        mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/backends/console", "x"), 0);
    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/7/serial/0/limit", "65536"), 0);
    dmxs_cleanup(fx->x);

    assert_null(get(fx, "/local/domain/0/device-model/7/ioreqd"));
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/state"), "running");
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/backends/console"), "x");
    assert_null(get(fx, "/local/domain/7/serial/0/tty"));
    assert_string_equal(get(fx, "/local/domain/7/serial/0/limit"), "65536");
}

/* Beside QEMU: its state key is detected, ioreqd's state moves under ioreqd/, QEMU's keys are off
 * limits */
static void test_beside_qemu(void **state)
{
    struct fixture *fx = *state;

    assert_string_equal(dmxs_state_path(fx->x), "/local/domain/0/device-model/7/state");
    assert_false(dmxs_qemu_state_present(fx->x));
    /* ioreqd's own state key alone is not QEMU's */
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/state", "running"), 0);
    assert_false(dmxs_qemu_state_present(fx->x));
    dmxs_cleanup(fx->x);

    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/state", "running"),
                     0);
    assert_true(dmxs_qemu_state_present(fx->x));
    dmxs_set_beside_qemu(fx->x, true);
    assert_string_equal(dmxs_state_path(fx->x), "/local/domain/0/device-model/7/ioreqd/state");
    assert_int_equal(dmxs_write(fx->x, dmxs_state_path(fx->x), "running"), 0);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/state", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/backends/x", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/ioreqd", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7/serial/1/tty", "/dev/pts/1"), 0);
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/state"), "running");
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/ioreqd/state"), "running");
    dmxs_cleanup(fx->x);
    assert_null(get(fx, "/local/domain/0/device-model/7/ioreqd"));
    assert_null(get(fx, "/local/domain/7/serial"));
    assert_string_equal(get(fx, "/local/domain/0/device-model/7/state"), "running");
    /* an earlier ioreqd beside QEMU left its keys: the state key is still QEMU's */
    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/ioreqd/pid", "9"),
                     0);
    assert_int_equal(
        mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/ioreqd/state", "running"), 0);
    assert_true(dmxs_qemu_state_present(fx->x));
}

/* What an earlier ioreqd alone left behind (its state beside its inventory) is not QEMU. */
static void test_stale_own_state_is_not_qemu(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/state", "running"),
                     0);
    assert_int_equal(mockxs_write_str(fx->mock, "/local/domain/0/device-model/7/ioreqd/pid", "9"),
                     0);
    assert_false(dmxs_qemu_state_present(fx->x));
}

static void test_write_refused_outside(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(dmxs_write(fx->x, "/local/domain/8/serial/0/tty", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/70/state", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7/", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/tool/x", "x"), -EPERM);
    assert_int_equal(dmxs_write(fx->x, "/local/domain/7//x", "x"), -EINVAL);
    assert_null(get(fx, "/local/domain/8"));
    assert_null(get(fx, "/local/domain/0/device-model/70"));
}

static void test_close_cleans_up(void **state)
{
    struct fixture *fx = *state;
    struct dmxs_callbacks cb = {0};

    assert_int_equal(dmxs_write(fx->x, "/local/domain/0/device-model/7/state", "running"), 0);
    dmxs_close(fx->x);
    assert_null(get(fx, "/local/domain/0/device-model/7"));
    assert_int_equal(dmxs_open(&fx->x, DOMID, fx->base, &cb), 0);
}

static void test_release_watch(void **state)
{
    struct fixture *fx = *state;
    struct timeval limit = {.tv_sec = 20};

    assert_int_equal(mockxs_introduce_domain(fx->mock, DOMID), 0);
    assert_true(dmxs_domain_introduced(fx->x));
    /* The watch's initial event arrives first; then the release. */
    event_base_loopexit(fx->base, &limit);
    event_base_dispatch(fx->base);
    assert_int_equal(fx->released, 1);
    fx->released = 0;

    assert_int_equal(mockxs_release_domain(fx->mock, DOMID), 0);
    event_base_loopexit(fx->base, &limit);
    event_base_dispatch(fx->base);
    assert_int_equal(fx->released, 1);
    assert_false(dmxs_domain_introduced(fx->x));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_and_cleanup_new_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_spares_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_spares_what_others_wrote_later, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_beside_qemu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_own_state_is_not_qemu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refused_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cleans_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_watch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
