/*
 * The real ioreqd binary serving a domain of the mock hypervisor: register
 * accesses through a UART, concurrent vCPUs, buffered and synchronous
 * requests in order, the xenstore contract with the toolstack (an
 * inventory that does not go stale, BAR placement kept current), teardown on
 * every stop signal, daemonizing, and the hypervisor going away.
 *
 * Usage: e2e-daemon /path/to/ioreqd [test-name-pattern]
 *
 * Waits are bounded (a hung daemon fails the test instead of hanging it) but
 * nothing asserts on how long anything took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "daemon-fixture.h"
#include "guest-pci.h"
#include "scratch-dir.h"

#define DOMID     7
#define WAIT_MS   20000
#define COM1      0x3f8
#define UART_SCR  7 /* scratch register */
#define UART_LSR  5
#define UART_IIR  2
#define UART_LCR  3
#define UART_DLL  0
#define UART_DLM  1
#define UART_SPEC "uart,port=0x3f8,irq=4,backend=null"

static const char *ioreqd_path;

static void start_hv(struct dfx *fx, unsigned nr_vcpus)
{
    dfx_start_hv(fx, DOMID, nr_vcpus, 64 << 20);
}

static int setup(void **state)
{
    struct dfx *fx = calloc(1, sizeof(*fx));

    if (!fx || dfx_init(fx, "ioreqd-e2e"))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct dfx *fx = *state;
    int rc = dfx_fini(fx);

    free(fx);
    return rc;
}

static void spawn(struct dfx *fx, struct dmproc *p, const char *const *args)
{
    dfx_spawn(fx, p, ioreqd_path, args, NULL);
}

static char *xs_getf(struct dfx *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *xs_getf(struct dfx *fx, const char *fmt, ...)
{
    static char value[1024];
    char path[256];
    unsigned len;
    va_list ap;
    char *v;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    v = xs_read(fx->xs, XBT_NULL, path, &len);
    if (!v)
        return NULL;
    snprintf(value, sizeof(value), "%s", v);
    free(v);
    return value;
}

static bool xs_exists(struct dfx *fx, const char *path)
{
    unsigned len;
    void *v = xs_read(fx->xs, XBT_NULL, path, &len);

    free(v);
    return v != NULL;
}

static const char *state_path(void)
{
    static char path[64];
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", DOMID);
    return path;
}

/* ioreqd in the foreground with these devices, serving once this returns. */
static void start_ioreqd(struct dfx *fx, const char *const *devices)
{
    const char *args[24] = {"--domid",          "7",        "--foreground", "--log-level", "debug",
                            "--control-socket", fx->ctlpath};
    size_t n = 7;

    for (; devices && *devices && n < 22; devices++) {
        args[n++] = "--device";
        args[n++] = *devices;
    }
    args[n] = NULL;
    spawn(fx, &fx->dm, args);
    if (dmproc_wait_running(&fx->dm, WAIT_MS)) {
        dmproc_dump_log(&fx->dm);
        fail_msg("ioreqd did not reach state running");
    }
}

/* ---- tests ---- */

static void test_uart_registers(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    struct mockhv_range ranges[16];
    uint16_t ids[4];
    int nr;

    start_hv(fx, 1);
    start_ioreqd(fx, devs);

    /* The UART's eight ports are routed to ioreqd's one server. */
    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 1);
    nr = mockhv_server_ranges(fx->hv, ids[0], ranges, 16);
    assert_true(nr >= 1);
    bool found = false;
    for (int i = 0; i < nr; i++)
        if (ranges[i].type == MOCKHV_RANGE_PIO && ranges[i].start == COM1 &&
            ranges[i].end == COM1 + 7)
            found = true;
    assert_true(found);

    /* Power-on state of a 16550A: transmitter empty, no interrupt pending. */
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_LSR), 0x60);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_IIR), 0x01);
    /* Scratch register keeps what it is given. */
    dfx_pio_out(fx, 0, COM1 + UART_SCR, 0xa5);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_SCR), 0xa5);
    dfx_pio_out(fx, 0, COM1 + UART_SCR, 0x5a);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_SCR), 0x5a);
    /* Divisor latch behind DLAB. */
    dfx_pio_out(fx, 0, COM1 + UART_LCR, 0x83);
    dfx_pio_out(fx, 0, COM1 + UART_DLL, 0x0c);
    dfx_pio_out(fx, 0, COM1 + UART_DLM, 0x01);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_DLL), 0x0c);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_DLM), 0x01);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_LCR), 0x83);
    dfx_pio_out(fx, 0, COM1 + UART_LCR, 0x03);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_LCR), 0x03);
    /* A port nobody claimed is answered by the mock with all-ones. */
    assert_int_equal(dfx_pio_in(fx, 0, 0x3f0), 0xff);
}

struct vcpu_job {
    struct dfx *fx;
    unsigned vcpu;
    uint16_t base;
    unsigned iterations;
    unsigned mismatches;
    int error;
};

static void *vcpu_thread(void *opaque)
{
    struct vcpu_job *job = opaque;

    for (unsigned k = 0; k < job->iterations; k++) {
        uint32_t want = (job->vcpu * 37 + k * 11) & 0xff, got = 0;
        int rc = mockhv_pio_out(job->fx->hv, job->vcpu, job->base + UART_SCR, 1, want, WAIT_MS);
        if (!rc)
            rc = mockhv_pio_in(job->fx->hv, job->vcpu, job->base + UART_SCR, 1, &got, WAIT_MS);
        if (rc) {
            job->error = rc;
            break;
        }
        if (got != want)
            job->mismatches++;
    }
    return NULL;
}

static void test_concurrent_vcpus(void **state)
{
    struct dfx *fx = *state;
    static const uint16_t bases[] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
    const char *devs[] = {
        "uart,port=0x3f8,irq=4,backend=null", "uart,port=0x2f8,irq=3,backend=null",
        "uart,port=0x3e8,irq=5,backend=null", "uart,port=0x2e8,irq=6,backend=null", NULL};
    struct vcpu_job jobs[4];
    pthread_t threads[4];
    struct mockhv_server_info info;
    uint16_t id;

    start_hv(fx, 4);
    start_ioreqd(fx, devs);
    /* Each vCPU owns one UART's scratch register, so every value read is exact. */
    for (unsigned i = 0; i < 4; i++) {
        jobs[i] = (struct vcpu_job){.fx = fx, .vcpu = i, .base = bases[i], .iterations = 500};
        assert_int_equal(pthread_create(&threads[i], NULL, vcpu_thread, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].error, 0);
        assert_int_equal(jobs[i].mismatches, 0);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(dfx_pio_in(fx, i, bases[i] + UART_SCR), (i * 37 + 499 * 11) & 0xff);
    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_int_equal(mockhv_server_info(fx->hv, id, &info), 0);
    assert_int_equal(info.nr_vcpus, 4);
    assert_int_equal(info.nr_vcpu_ports_bound, 4);
    assert_true(info.requests_sent >= 4 * 500 * 2 + 4);
}

static void test_buffered_then_sync_ordering(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    struct mockhv_server_info info;
    uint16_t id;

    start_hv(fx, 2);
    start_ioreqd(fx, devs);
    /*
     * Buffered writes to the scratch register, a synchronous read every few:
     * it must see the last buffered value, because ioreqd drains the ring
     * before serving a synchronous request.
     */
    for (unsigned i = 0; i < 2000; i++) {
        assert_int_equal(
            mockhv_buf_write(fx->hv, i & 1, false, COM1 + UART_SCR, 1, i & 0xff, WAIT_MS), 0);
        if (i % 7 == 6)
            assert_int_equal(dfx_pio_in(fx, (i >> 3) & 1, COM1 + UART_SCR), i & 0xff);
    }
    /* A synchronous write, then buffered ones, then a read: program order holds. */
    dfx_pio_out(fx, 0, COM1 + UART_SCR, 0x11);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, false, COM1 + UART_SCR, 1, 0x22, WAIT_MS), 0);
    assert_int_equal(mockhv_buf_write(fx->hv, 1, false, COM1 + UART_SCR, 1, 0x33, WAIT_MS), 0);
    assert_int_equal(dfx_pio_in(fx, 1, COM1 + UART_SCR), 0x33);
    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_int_equal(mockhv_server_info(fx->hv, id, &info), 0);
    assert_true(info.buffered_sent > 0);
}

static void test_xenstore_inventory(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    const char *dm = "/local/domain/0/device-model/7";
    char pid[16];
    uint16_t id;

    start_hv(fx, 3);
    start_ioreqd(fx, devs);
    snprintf(pid, sizeof(pid), "%ld", (long)fx->dm.pid);
    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_string_equal(xs_getf(fx, "%s/state", dm), "running");
    assert_string_equal(xs_getf(fx, "%s/ioreqd/pid", dm), pid);
    assert_string_equal(xs_getf(fx, "%s/ioreqd/version", dm), "0.1.0");
    assert_string_equal(xs_getf(fx, "%s/ioreqd/vcpus", dm), "3");
    char sid[16];
    snprintf(sid, sizeof(sid), "%u", (unsigned)id);
    assert_string_equal(xs_getf(fx, "%s/ioreqd/server-id", dm), sid);
    assert_string_equal(xs_getf(fx, "%s/ioreqd/devices", dm), "1");
    assert_string_equal(xs_getf(fx, "%s/ioreqd/devices/0/type", dm), "uart");
    /* What the device is, without counters; no BARs to place. */
    assert_string_equal(xs_getf(fx, "%s/ioreqd/devices/0", dm),
                        "uart: port=0x3f8 irq=4 backend=null");
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd/devices/0/bars"));
}

/* Polls (bounded) until path holds want; fails with what it holds otherwise. */
static void xs_wait_for(struct dfx *fx, const char *path, const char *want)
{
    for (int i = 0; i < WAIT_MS / 10; i++) {
        const char *v = xs_getf(fx, "%s", path);
        if (v && !strcmp(v, want))
            return;
        poll(NULL, 0, 10);
    }
    fail_msg("%s: '%s', expected '%s'", path, xs_getf(fx, "%s", path), want);
}

/*
 * The inventory in xenstore says what each device is, which does not go
 * stale, and where the guest placed the BARs, kept current: the firmware's
 * assignment reaches xenstore, and so does a driver turning decoding off.
 * The UART's traffic changes nothing there.
 */
static void test_xenstore_bars_follow_the_guest(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {"host-bridge", "xen-platform", UART_SPEC, NULL};
    const char *dir = "/local/domain/0/device-model/7/ioreqd/devices";
    struct gpci_bus *bus = calloc(1, sizeof(*bus));
    const struct mockhv_pci_func *xfn;
    char path[128], want[160];

    assert_non_null(bus);
    start_hv(fx, 1);
    start_ioreqd(fx, devs);
    assert_string_equal(xs_getf(fx, "%s/0", dir), "host-bridge: 00:00.0 8086:1237");
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd/devices/0/bars"));
    assert_string_equal(xs_getf(fx, "%s/1", dir), "xen-platform: 00:02.0 5853:0001");
    assert_string_equal(xs_getf(fx, "%s/1/bars", dir),
                        "bar0=io:unmapped+0x100 bar1=mem32:unmapped+0x1000000");
    assert_string_equal(xs_getf(fx, "%s/2", dir), "uart: port=0x3f8 irq=4 backend=null");

    /* hvmloader's work: I/O from 0xc000, memory from 0xf0000000, largest first. */
    assert_int_equal(gpci_scan(bus, fx->hv, 0, WAIT_MS), 0);
    xfn = gpci_find(bus, 0x5853, 0x0001);
    assert_non_null(xfn);
    assert_int_equal(xfn->nr_bars, 2);
    assert_int_equal(xfn->bars[0].base, 0xc000);
    assert_int_equal(xfn->bars[1].base, 0xf0000000);
    snprintf(path, sizeof(path), "%s/1/bars", dir);
    xs_wait_for(fx, path, "bar0=io:0xc000+0x100 bar1=mem32:0xf0000000+0x1000000");
    assert_string_equal(xs_getf(fx, "%s/1", dir), "xen-platform: 00:02.0 5853:0001");

    /* Guest output: the UART's entry stays what it was, counters live elsewhere. */
    for (const char *p = "hello\r\n"; *p; p++)
        dfx_pio_out(fx, 0, COM1, (uint8_t)*p);
    assert_string_equal(xs_getf(fx, "%s/2", dir), "uart: port=0x3f8 irq=4 backend=null");

    /* The guest stops memory decoding: BAR1 is unmapped, and xenstore says so. */
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, xfn->bdf, 0x04, 2, 0x1, WAIT_MS), 0);
    snprintf(want, sizeof(want), "bar0=io:0xc000+0x100 bar1=mem32:unmapped+0x1000000");
    xs_wait_for(fx, path, want);
    /* And it moves BAR0 and turns memory on again. */
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, xfn->bdf, 0x10, 4, 0xd000, WAIT_MS), 0);
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, xfn->bdf, 0x04, 2, 0x3, WAIT_MS), 0);
    xs_wait_for(fx, path, "bar0=io:0xd000+0x100 bar1=mem32:0xf0000000+0x1000000");
    free(bus);

    /* Stopping takes the keys along. */
    assert_int_equal(WEXITSTATUS(dfx_signal_and_wait(fx, SIGTERM)), 0);
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd"));
}

/* Stop with `sig`; everything ioreqd set up must be gone, and nothing else. */
static void stop_and_check_clean(struct dfx *fx, int sig)
{
    const char *devs[] = {UART_SPEC, NULL};
    const char *dm = "/local/domain/0/device-model/7";
    char path[128];
    uint16_t ids[4];
    int status;

    start_hv(fx, 2);
    /* Something another tool wrote before: it must survive ioreqd's cleanup. */
    snprintf(path, sizeof(path), "%s/other-tool", dm);
    assert_true(xs_write(fx->xs, XBT_NULL, path, "keep", 4));
    start_ioreqd(fx, devs);
    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 1);
    assert_true(mockhv_bound_ports(fx->hv) >= 3);

    status = dfx_signal_and_wait(fx, sig);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        dmproc_dump_log(&fx->dm);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 0);
    assert_int_equal(mockhv_bound_ports(fx->hv), 0);
    snprintf(path, sizeof(path), "%s/state", dm);
    assert_false(xs_exists(fx, path));
    snprintf(path, sizeof(path), "%s/ioreqd", dm);
    assert_false(xs_exists(fx, path));
    assert_string_equal(xs_getf(fx, "%s/other-tool", dm), "keep");
    assert_true(dfx_log_has(fx, "shutting down"));
}

static void test_sigterm_teardown(void **state)
{
    stop_and_check_clean(*state, SIGTERM);
}

static void test_sighup_teardown(void **state)
{
    stop_and_check_clean(*state, SIGHUP);
}

static void test_sigint_teardown(void **state)
{
    stop_and_check_clean(*state, SIGINT);
}

static void test_no_keys_left_when_dir_was_new(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    int status;

    start_hv(fx, 1);
    /* libxl (and the mock) create the directory; a toolstack that does not leaves it to us. */
    assert_true(xs_rm(fx->xs, XBT_NULL, "/local/domain/0/device-model/7"));
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7"));
    start_ioreqd(fx, devs);
    assert_true(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd/pid"));
    status = dfx_signal_and_wait(fx, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7"));
}

static void test_uart_pty_published(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {"uart,port=0x3f8,irq=4,backend=pty", NULL};
    char tty[128], buf[8];
    struct termios raw;
    size_t got = 0;
    int fd, status;

    start_hv(fx, 1);
    start_ioreqd(fx, devs);
    /* Where `xl console -t serial` looks, and in the device's inventory line. */
    assert_non_null(xs_getf(fx, "/local/domain/7/serial/0/tty"));
    snprintf(tty, sizeof(tty), "%s", xs_getf(fx, "/local/domain/7/serial/0/tty"));
    assert_true(strncmp(tty, "/dev/pts/", 9) == 0);
    assert_non_null(strstr(xs_getf(fx, "/local/domain/0/device-model/7/ioreqd/devices/0"), tty));

    /* The guest's bytes come out of that terminal. */
    fd = open(tty, O_RDWR | O_NOCTTY);
    assert_true(fd >= 0);
    assert_int_equal(tcgetattr(fd, &raw), 0);
    cfmakeraw(&raw);
    assert_int_equal(tcsetattr(fd, TCSANOW, &raw), 0);
    dfx_pio_out(fx, 0, COM1, 'h');
    dfx_pio_out(fx, 0, COM1, 'i');
    while (got < 2) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "hi", 2);
    close(fd);

    status = dfx_signal_and_wait(fx, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(xs_exists(fx, "/local/domain/7/serial/0"));
    /* The toolstack's own keys for the guest are untouched. */
    assert_true(xs_exists(fx, "/local/domain/7/name"));
}

/*
 * @releaseDomain fires for every domain that goes; ioreqd must only stop when
 * the hypervisor agrees its own guest is gone. Xenstore forgetting the
 * domain while the hypervisor still runs it is not enough.
 */
static void test_release_of_live_domain_keeps_serving(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};

    start_hv(fx, 1);
    start_ioreqd(fx, devs);
    dfx_pio_out(fx, 0, COM1 + UART_SCR, 0x42);
    assert_true(xs_release_domain(fx->xs, DOMID));
    if (dmproc_wait_log(&fx->dm, "still runs it: serving on", WAIT_MS)) {
        dmproc_dump_log(&fx->dm);
        fail_msg("ioreqd did not react to @releaseDomain");
    }
    assert_true(dmproc_running(&fx->dm));
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_SCR), 0x42);
    assert_string_equal(xs_getf(fx, "%s", state_path()), "running");
}

static void test_control_socket(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    const char *second[] = {"--domid", "7", "--foreground", "--control-socket", fx->ctlpath, NULL};
    struct dmproc other;
    struct stat st;
    char expect[64];
    char *reply;
    int status;

    start_hv(fx, 2);
    start_ioreqd(fx, devs);
    /* Only root (the owner) may talk to it. */
    assert_int_equal(stat(fx->ctlpath, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    reply = dfx_control_ask(fx, "status\n");
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    assert_non_null(strstr(reply, "\"domid\":7"));
    snprintf(expect, sizeof(expect), "\"pid\":%ld", (long)fx->dm.pid);
    assert_non_null(strstr(reply, expect));
    assert_non_null(strstr(reply, "\"vcpus\":2"));
    assert_non_null(strstr(reply, "\"type\":\"uart\""));

    dfx_pio_out(fx, 1, COM1 + UART_SCR, 1);
    reply = dfx_control_ask(fx, "stats\n");
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    assert_non_null(strstr(reply, "\"per_vcpu\""));

    /* A second daemon for the same socket refuses to start. */
    spawn(fx, &other, second);
    status = dfx_wait_exit(&other);
    dmproc_fini(&other);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(dfx_log_has(fx, "is in use"));
    assert_string_equal(xs_getf(fx, "%s", state_path()), "running");

    /* ioreqctl stop: an orderly exit, socket removed. */
    reply = dfx_control_ask(fx, "stop\n");
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    status = dfx_wait_exit(&fx->dm);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(access(fx->ctlpath, F_OK), -1);
    assert_false(xs_exists(fx, state_path()));
}

static void test_hypervisor_gone(void **state)
{
    struct dfx *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    int status;

    start_hv(fx, 2);
    start_ioreqd(fx, devs);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_LSR), 0x60);
    dfx_destroy_hv(fx);

    status = dfx_wait_exit(&fx->dm);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
        dmproc_dump_log(&fx->dm);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(dfx_log_has(fx, "hypervisor connection failed"));
}

static void test_daemonized(void **state)
{
    struct dfx *fx = *state;
    char pidfile[300], pidtext[16];
    const char *args[] = {"--domid",          "7",         "--device", UART_SPEC,
                          "--pidfile",        pidfile,     "--log",    "stderr",
                          "--control-socket", fx->ctlpath, NULL};
    pid_t launcher, daemon_pid;
    FILE *pf;
    long pid;
    int status;

    assert_int_equal(scratch_path(pidfile, sizeof(pidfile), fx->dir, "ioreqd.pid"), 0);
    start_hv(fx, 1);
    /* The detached daemon is re-parented to us, so its exit status can be checked. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    spawn(fx, &fx->dm, args);
    launcher = fx->dm.pid;
    status = dfx_wait_exit(&fx->dm);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        dmproc_dump_log(&fx->dm);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The launcher returns only once the daemon serves: no waiting here. */
    assert_string_equal(xs_getf(fx, "%s", state_path()), "running");
    pf = fopen(pidfile, "re");
    assert_non_null(pf);
    assert_int_equal(fscanf(pf, "%ld", &pid), 1);
    fclose(pf);
    daemon_pid = (pid_t)pid;
    assert_true(daemon_pid > 0);
    assert_true(daemon_pid != launcher);
    snprintf(pidtext, sizeof(pidtext), "%ld", (long)daemon_pid);
    assert_string_equal(xs_getf(fx, "/local/domain/0/device-model/7/ioreqd/pid"), pidtext);
    assert_int_equal(dfx_pio_in(fx, 0, COM1 + UART_LSR), 0x60);
    /* A session of its own, which it does not lead: it can never get a controlling tty. */
    assert_true(getsid(daemon_pid) > 0);
    assert_true(getsid(daemon_pid) != getsid(0));
    assert_true(getsid(daemon_pid) != daemon_pid);

    dmproc_adopt(&fx->dm, daemon_pid);
    status = dfx_signal_and_wait(fx, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(access(pidfile, F_OK), -1);
    assert_false(xs_exists(fx, state_path()));
    /* --log stderr kept the launcher's stderr open for the daemon's later messages. */
    assert_true(dfx_log_has(fx, "shutting down"));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_daemonized_start_failure(void **state)
{
    struct dfx *fx = *state;
    const char *bad_option[] = {
        "--domid",          "7",         "--device", "uart,port=0x3f8,bogus-option=1",
        "--control-socket", fx->ctlpath, NULL};
    const char *no_domain[] = {"--domid",          "9",         "--device", UART_SPEC,
                               "--control-socket", fx->ctlpath, NULL};
    int status;

    start_hv(fx, 1);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    /* A spec the device rejects: usage error, reported by the launcher. */
    spawn(fx, &fx->dm, bad_option);
    status = dfx_wait_exit(&fx->dm);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 2)
        dmproc_dump_log(&fx->dm);
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_true(dfx_log_has(fx, "bogus-option"));
    /* A domain the hypervisor does not have: run-time failure. */
    dmproc_fini(&fx->dm);
    spawn(fx, &fx->dm, no_domain);
    status = dfx_wait_exit(&fx->dm);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 1)
        dmproc_dump_log(&fx->dm);
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(dfx_log_has(fx, "domain 9"));
    /* The daemons that failed are gone (reaped by us as subreaper). */
    while (waitpid(-1, &status, WNOHANG) > 0)
        ;
    uint16_t ids[2];
    assert_int_equal(mockhv_servers(fx->hv, ids, 2), 0);
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/state"));
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd"));
    assert_false(xs_exists(fx, "/local/domain/0/device-model/9"));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uart_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_vcpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_then_sync_ordering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xenstore_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xenstore_bars_follow_the_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_keys_left_when_dir_was_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uart_pty_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_of_live_domain_keeps_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypervisor_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemonized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemonized_start_failure, setup, teardown),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/ioreqd [test-name]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    if (argc > 2)
        cmocka_set_test_filter(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
