/*
 * Device counters through `ioreqctl --json stats` against the real ioreqd
 * on the mock hypervisor: the UART's bytes_out grows by exactly the bytes
 * the guest wrote to THR, and by nothing for other registers.
 *
 * Also the device-level faults a hostile guest causes, by cause.
 *
 * Usage: e2e-counters IOREQD IOREQCTL [TEST-PATTERN]
 *
 * Waits are bounded; nothing asserts on how long anything took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xen/hvm/ioreq.h>

#include "ctl-json.h"
#include "dm-process.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define DOMID     7
#define WAIT_MS   20000
#define COM1      0x3f8
#define UART_SCR  7
#define UART_SPEC "uart,port=0x3f8,irq=4,backend=null"
#define UART_THR  0
#define UART_LSR  5
#define DM_DIR    "/local/domain/0/device-model/7"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static const char *ioreqd_path, *ioreqctl_path;

struct fixture {
    struct mockhv *hv;
    struct dmproc dm; /* ioreqd */
    char dir[64];
    char sock[128];
    char path_out[128];
    char path_err[128];
    char path_log[128];
};

/* The whole file (at most 64 KiB); static storage, one at a time per slot. */
static char *read_all(const char *path, int slot)
{
    static char buf[3][65536];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf[slot], sizeof(buf[slot]) - 1);

    if (fd >= 0)
        close(fd);
    buf[slot][n > 0 ? n : 0] = '\0';
    return buf[slot];
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {
        .domid = DOMID, .nr_vcpus = 2, .mem_bytes = 64 << 20, .xenstore = true};

    if (!fx || scratch_dir_create(fx->dir, sizeof(fx->dir), "counters-e2e") ||
        scratch_path(fx->sock, sizeof(fx->sock), fx->dir, "ctl.sock") ||
        scratch_path(fx->path_out, sizeof(fx->path_out), fx->dir, "out") ||
        scratch_path(fx->path_err, sizeof(fx->path_err), fx->dir, "err") ||
        scratch_path(fx->path_log, sizeof(fx->path_log), fx->dir, "ioreqd.log") ||
        mockhv_create(&fx->hv, &cfg))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    int rc;

    dmproc_fini(&fx->dm);
    mockhv_destroy(fx->hv);
    rc = scratch_dir_remove(fx->dir);
    free(fx);
    return rc;
}

/* ioreqctl ARGS...: exit status; stdout in *out, stderr in *err. */
static int ctl(struct fixture *fx, char **out, char **err, ...)
{
    const char *args[16];
    struct dmproc p;
    size_t n = 0;
    va_list ap;
    int rc;

    unlink(fx->path_err);
    va_start(ap, err);
    while (n < 15 && (args[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    args[n] = NULL;
    /* ioreqctl finds the mock's xenstored through the same environment. */
    assert_int_equal(dmproc_start(&p, fx->hv,
                                  &(struct dmproc_config){
                                      .program = ioreqctl_path,
                                      .args = args,
                                      .log_path = fx->path_err,
                                      .stdout_path = fx->path_out,
                                      .stdin_null = true,
                                  }),
                     0);
    rc = dmproc_wait_exit(&p, WAIT_MS);
    dmproc_fini(&p);
    if (rc)
        fail_msg("ioreqctl did not exit; ioreqd log:\n%s", read_all(fx->path_log, 2));
    *out = read_all(fx->path_out, 0);
    *err = read_all(fx->path_err, 1);
    if (**err)
        fprintf(stderr, "ioreqctl %s: stderr: %s", args[0], *err);
    assert_true(WIFEXITED(p.wstatus));
    return WEXITSTATUS(p.wstatus);
}

/* ioreqd serving domain 7 with one UART and `more` devices; control socket at `sock`. */
static void start_ioreqd_with(struct fixture *fx, const char *sock, const char *const *more)
{
    const char *args[24] = {"--domid", "7",        "--foreground", "--control-socket",
                            sock,      "--device", UART_SPEC};
    size_t n = 7;

    for (; more && *more && n < ARRAY_SIZE(args) - 3; more++) {
        args[n++] = "--device";
        args[n++] = *more;
    }
    args[n] = NULL;

    if (dmproc_run(&fx->dm, fx->hv,
                   &(struct dmproc_config){
                       .program = ioreqd_path,
                       .shim_libdir = getenv("IOREQD_SHIM_LIBDIR"),
                       .args = args,
                       .log_path = fx->path_log,
                       .stdin_null = true,
                   },
                   WAIT_MS))
        fail_msg("ioreqd never reached running");
}

/* ioreqd serving domain 7 with one UART; control socket at `sock`. */
static void start_ioreqd(struct fixture *fx, const char *sock)
{
    start_ioreqd_with(fx, sock, NULL);
}

static void stop_expected(struct fixture *fx)
{
    char *state;

    if (dmproc_wait_exit(&fx->dm, WAIT_MS))
        fail_msg("ioreqd did not exit; its log:\n%s", read_all(fx->path_log, 2));
    assert_true(WIFEXITED(fx->dm.wstatus));
    assert_int_equal(WEXITSTATUS(fx->dm.wstatus), 0);
    state = dmproc_xs_read(&fx->dm, DM_DIR "/state");
    assert_null(state);
    assert_int_equal(access(fx->sock, F_OK), -1);
}

static struct ctl_json *parse(const char *text)
{
    struct ctl_json *v = NULL;
    size_t len = strlen(text);

    assert_true(len > 0 && text[len - 1] == '\n');
    assert_int_equal(ctl_json_parse(text, len - 1, &v), 0);
    return v;
}

/* The counter at a path of keys and indices: counter(v, "per_vcpu", "1", "pio", NULL). */
static uint64_t counter_value(const struct ctl_json *v)
{
    uint64_t n;

    if (!ctl_json_uint(v, &n))
        fail_msg("no counter there");
    return n;
}
#define counter(...) counter_value(ctl_json_at(__VA_ARGS__))

/* The uart's counter `name` in a stats reply. */
static uint64_t uart_counter(const struct ctl_json *st, const char *name)
{
    const struct ctl_json *devs = ctl_json_get(st, "devices");

    assert_non_null(devs);
    assert_int_equal(devs->type, CTL_JSON_ARRAY);
    for (const struct ctl_json *d = devs->child; d; d = d->next) {
        const struct ctl_json *type = ctl_json_get(d, "type");
        char text[32];

        ctl_json_text(type, text, sizeof(text));
        if (!strcmp(text, "uart"))
            return counter(d, "counters", name, NULL);
    }
    fail_msg("no uart in the stats' devices");
    return 0;
}

static struct ctl_json *stats(struct fixture *fx)
{
    char *out, *err;

    assert_int_equal(
        ctl(fx, &out, &err, "--json", "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_string_equal(err, "");
    return parse(out);
}

static void test_uart_bytes_out(void **state)
{
    static const char msg[] = "counted bytes from the guest\r\n";
    struct fixture *fx = *state;
    struct ctl_json *before, *mid, *after;
    char *out, *err;
    uint32_t lsr;

    start_ioreqd(fx, fx->sock);
    before = stats(fx);
    assert_int_equal(counter(before, "devices", "0", "index", NULL), 0);

    /* The guest sends msg on vCPU 1, one byte per THR write. */
    for (size_t i = 0; i < sizeof(msg) - 1; i++)
        assert_int_equal(mockhv_pio_out(fx->hv, 1, COM1 + UART_THR, 1, (uint8_t)msg[i], WAIT_MS),
                         0);
    mid = stats(fx);
    assert_int_equal(uart_counter(mid, "bytes_out") - uart_counter(before, "bytes_out"),
                     sizeof(msg) - 1);
    assert_int_equal(uart_counter(mid, "tx_dropped"), 0);

    /* Reading LSR and writing the scratch register send nothing. */
    assert_int_equal(mockhv_pio_in(fx->hv, 0, COM1 + UART_LSR, 1, &lsr, WAIT_MS), 0);
    assert_int_equal(lsr & 0x60, 0x60); /* THRE and TEMT: everything left */
    assert_int_equal(mockhv_pio_out(fx->hv, 0, COM1 + UART_SCR, 1, 0x5a, WAIT_MS), 0);
    after = stats(fx);
    assert_int_equal(uart_counter(after, "bytes_out"), uart_counter(mid, "bytes_out"));
    assert_int_equal(uart_counter(after, "bytes_in"), 0);
    ctl_json_free(before);
    ctl_json_free(mid);
    ctl_json_free(after);

    /* The table form lists the same counter. */
    assert_int_equal(ctl(fx, &out, &err, "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_non_null(strstr(out, "\ndevices:\n  DEVICE  TYPE  COUNTER"));
    assert_non_null(strstr(out, "bytes_out"));

    assert_int_equal(ctl(fx, &out, &err, "stop", "--domid", "7", "--socket", fx->sock, NULL), 0);
    stop_expected(fx);
}

/* Every fault cause in a stats reply is `want` of its name, or 0. */
static void expect_faults(const struct ctl_json *st, const char *const *names, const uint64_t *want,
                          size_t n)
{
    const struct ctl_json *faults = ctl_json_get(st, "faults");
    unsigned seen = 0;

    assert_non_null(faults);
    assert_int_equal(faults->type, CTL_JSON_OBJECT);
    for (const struct ctl_json *c = faults->child; c; c = c->next, seen++) {
        uint64_t expect = 0;

        for (size_t i = 0; i < n; i++)
            if (!strcmp(c->key, names[i]))
                expect = want[i];
        if (counter_value(c) != expect)
            fail_msg("faults.%s is %llu, expected %llu", c->key,
                     (unsigned long long)counter_value(c), (unsigned long long)expect);
    }
    assert_int_equal(seen, 11);
}

/*
 * One PCI_CONFIG request put straight into vCPU 1's slot, as Xen never
 * sends it (a function ioreqd did not register, a register past 256 bytes):
 * the answered data.
 */
static uint64_t raw_cfg(struct fixture *fx, uint32_t sbdf, uint32_t reg, uint32_t size, uint8_t dir)
{
    ioreq_t r = {.type = IOREQ_TYPE_PCI_CONFIG,
                 .dir = dir,
                 .size = size,
                 .count = 1,
                 .addr = (uint64_t)sbdf << 32 | reg};
    uint16_t id;
    ioreq_t cur;

    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_int_equal(mockhv_raw_slot_read(fx->hv, id, 1, &cur, sizeof(cur)), 0);
    r.vp_eport = cur.vp_eport;
    r.state = STATE_IOREQ_READY;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, id, 1, &r, sizeof(r), true), 0);
    assert_int_equal(mockhv_raw_slot_wait(fx->hv, id, 1, STATE_IORESP_READY, WAIT_MS), 0);
    assert_int_equal(mockhv_raw_slot_read(fx->hv, id, 1, &r, sizeof(r)), 0);
    /* The slot back to the mock, as Xen takes it after reading the answer. */
    cur = r;
    cur.state = STATE_IOREQ_NONE;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, id, 1, &cur, sizeof(cur), false), 0);
    return r.data;
}

#define XP_BDF   0x18 /* xen-platform at 00:03.0 */
#define VIO_BDF  0x20 /* virtio-blk at 00:04.0 */
#define VIO_BAR  0xf0000000ull
#define VIO_MSIX (VIO_BAR + 0x4000) /* 2 entries: one queue and config */

/*
 * A hostile guest's device-level mistakes, each refused safely and counted
 * by cause in `ioreqctl --json stats`: a config cycle through the legacy
 * window to a function nothing is at, an I/O BAR placed over the UART's
 * ports, a read across the MSI-X table's end, notifications before any
 * queue is enabled.
 */
static void test_device_faults(void **state)
{
    static const char *const names[] = {"pci_no_function", "pci_config_past_end", "pci_bar_refused",
                                        "msix_access_dropped", "virtio_notify_ignored"};
    static const uint64_t none[5], want[5] = {2, 1, 1, 1, 2};
    struct fixture *fx = *state;
    char disk[160], vblk[200], *out, *err;
    const char *devs[] = {"host-bridge,cf8=on", "xen-platform,bdf=00:03.0", vblk, NULL};
    struct ctl_json *st;
    uint64_t v64 = 0;
    uint32_t v = 0;
    int fd;

    assert_int_equal(scratch_path(disk, sizeof(disk), fx->dir, "disk.img"), 0);
    fd = open(disk, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    snprintf(vblk, sizeof(vblk), "virtio-blk,file=%s,bdf=00:04.0", disk);
    start_ioreqd_with(fx, fx->sock, devs);
    st = stats(fx);
    expect_faults(st, names, none, 5);
    ctl_json_free(st);

    /* Config cycles for 00:09.0, where nothing is (all-ones, a write dropped), and past 256. */
    assert_int_equal(raw_cfg(fx, 0x48, 0x00, 4, IOREQ_READ), 0xffffffff);
    raw_cfg(fx, 0x48, 0x04, 2, IOREQ_WRITE);
    assert_int_equal(raw_cfg(fx, XP_BDF, 0x100, 4, IOREQ_READ), 0xffffffff);

    /* xen-platform's I/O BAR at 0x300: over COM1 (0x3f8-0x3ff), so it is not mapped. */
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, XP_BDF, 0x10, 4, 0x300, WAIT_MS), 0);
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, XP_BDF, 0x04, 2, 0x0001, WAIT_MS), 0);
    assert_int_equal(mockhv_pio_out(fx->hv, 0, COM1 + UART_SCR, 1, 0xa5, WAIT_MS), 0);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, COM1 + UART_SCR, 1, &v, WAIT_MS), 0);
    assert_int_equal(v, 0xa5);

    /* virtio-blk's BAR placed and decoded; a read across the MSI-X table's end. */
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, VIO_BDF, 0x20, 4, (uint32_t)VIO_BAR, WAIT_MS), 0);
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, VIO_BDF, 0x24, 4, 0, WAIT_MS), 0);
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, VIO_BDF, 0x04, 2, 0x0006, WAIT_MS), 0);
    assert_int_equal(mockhv_mmio_read(fx->hv, 1, VIO_MSIX + 2 * 16 - 4, 8, &v64, WAIT_MS), 0);
    assert_int_equal(v64, 0xffffffffffffffffull);
    /* Notifications for queue 0, never enabled, and queue 7, absent. */
    assert_int_equal(mockhv_mmio_write(fx->hv, 1, VIO_BAR + 0x3000, 2, 0, WAIT_MS), 0);
    assert_int_equal(mockhv_mmio_write(fx->hv, 1, VIO_BAR + 0x3000 + 7 * 4, 2, 7, WAIT_MS), 0);

    st = stats(fx);
    expect_faults(st, names, want, 5);
    ctl_json_free(st);
    /* The table form lists them too. */
    assert_int_equal(ctl(fx, &out, &err, "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_non_null(strstr(out, "\ndevice faults:\n  pci_no_function        2\n"));
    assert_non_null(strstr(out, "\n  virtio_notify_ignored  2\n"));

    assert_int_equal(ctl(fx, &out, &err, "stop", "--domid", "7", "--socket", fx->sock, NULL), 0);
    stop_expected(fx);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uart_bytes_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_faults, setup, teardown),
    };

    if (argc < 3) {
        fprintf(stderr, "usage: %s IOREQD IOREQCTL\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    ioreqctl_path = argv[2];
    if (argc > 3)
        cmocka_set_test_filter(argv[3]);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
