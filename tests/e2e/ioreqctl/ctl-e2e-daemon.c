/*
 * ioreqctl against the real ioreqd serving a domain of the mock
 * hypervisor: list and status agree with what ioreqd published, status
 * shows each PCI function's BARs and interrupt routes as the firmware and
 * the guest's driver set them, stats count exactly the guest accesses made
 * between two samples (per vCPU, per device, buffered, through the map
 * cache, to the disk and the UART), and stop ends the daemon in order —
 * over the control socket, and by SIGTERM when there is none.
 *
 * Usage: ctl-e2e-daemon IOREQD IOREQCTL VERSION [test-name]
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
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "dm-process.h"
#include "ioreqd-fixture.h"
#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-blk.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define DOMID      7
#define WAIT_MS    20000
#define RAM        (64u << 20)
#define DISK_BYTES (1u << 20)
#define COM1       0x3f8
#define UART_THR   0
#define UART_LSR   5
#define UART_SCR   7
#define UART_SPEC  "uart,port=0x3f8,irq=4,backend=null"
#define UART_DESC  "port=0x3f8 irq=4 backend=null"
#define DM_DIR     "/local/domain/0/device-model/7"
#define PCI_LINE   0x3c

extern char **environ;

static const char *ioreqd_path, *ioreqctl_path, *version;

struct fixture {
    struct mockhv *hv;
    struct dmproc dm; /* ioreqd */
    char dir[256];
    char sock[300];
    char path_out[300];
    char path_err[300];
    char path_log[300];
    char disk[300];
};

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The whole file (at most 64 KiB); static storage, one at a time per slot. */
static char *read_all(const char *path, int slot)
{
    static char buf[2][65536];
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
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 2, .mem_bytes = RAM, .xenstore = true};

    if (!fx || scratch_dir_create(fx->dir, sizeof(fx->dir), "ioreqctl-e2e") ||
        scratch_path(fx->sock, sizeof(fx->sock), fx->dir, "ctl.sock") ||
        scratch_path(fx->path_out, sizeof(fx->path_out), fx->dir, "out") ||
        scratch_path(fx->path_err, sizeof(fx->path_err), fx->dir, "err") ||
        scratch_path(fx->path_log, sizeof(fx->path_log), fx->dir, "ioreqd.log") ||
        scratch_path(fx->disk, sizeof(fx->disk), fx->dir, "disk.img"))
        return -1;
    /* ioreqctl finds the mock's xenstored through the environment. */
    if (mockhv_create(&fx->hv, &cfg) || mockhv_setenv(fx->hv))
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

/* Runs prog with argv, stdout and stderr into files; returns its pid. */
static pid_t run(const char *prog, const char *const *argv, const char *out, const char *err)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);

        if (o < 0 || e < 0 || null < 0)
            _exit(126);
        dup2(null, STDIN_FILENO);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execve(prog, (char **)argv, environ);
        _exit(127);
    }
    return pid;
}

static int wait_exit(struct fixture *fx, pid_t pid)
{
    long deadline = now_ms() + WAIT_MS;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            return status;
        assert_int_equal(r, 0);
        if (now_ms() > deadline) {
            dmproc_dump_log(&fx->dm);
            fail_msg("pid %ld did not exit", (long)pid);
        }
        pause_ms(10);
    }
}

/* ioreqctl ARGS...: exit status; stdout in *out, stderr in *err. */
static int ctl(struct fixture *fx, char **out, char **err, ...)
{
    const char *argv[16] = {ioreqctl_path};
    size_t n = 1;
    va_list ap;
    int status;

    unlink(fx->path_err);
    va_start(ap, err);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    status = wait_exit(fx, run(ioreqctl_path, argv, fx->path_out, fx->path_err));
    *out = read_all(fx->path_out, 0);
    *err = read_all(fx->path_err, 1);
    if (**err)
        fprintf(stderr, "ioreqctl %s: stderr: %s", argv[1], *err);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A xenstore value, in static storage; NULL when absent. */
static char *xs_get(struct fixture *fx, const char *path)
{
    static char value[1024];
    char *v = dmproc_xs_read(&fx->dm, path);

    if (!v)
        return NULL;
    snprintf(value, sizeof(value), "%s", v);
    free(v);
    return value;
}

/* ioreqd serving domain 7 with these devices; control socket at `sock` ("none": without). */
static void start_ioreqd_with(struct fixture *fx, const char *sock, const char *const *devices)
{
    e2e_ioreqd_start(&fx->dm, fx->hv,
                     &(struct e2e_ioreqd){
                         .program = ioreqd_path,
                         .domid = 7,
                         .devices = devices,
                         .control_socket = sock,
                         .log_path = fx->path_log,
                     },
                     WAIT_MS);
}

/* ioreqd serving domain 7 with one UART. */
static void start_ioreqd(struct fixture *fx, const char *sock)
{
    const char *devices[] = {UART_SPEC, NULL};

    start_ioreqd_with(fx, sock, devices);
}

/* A disk image of DISK_BYTES zeroes at fx->disk. */
static void make_disk(struct fixture *fx)
{
    int fd = open(fx->disk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_BYTES), 0);
    close(fd);
}

/* A guest-side step that must work; ioreqd's log says why when it does not. */
static void guest_step(struct fixture *fx, int rc, const char *what)
{
    if (rc) {
        dmproc_dump_log(&fx->dm);
        fail_msg("%s: %s", what, strerror(rc < 0 ? -rc : rc));
    }
}

/* ioreqd, stopped by ioreqctl, exits 0 cleanly and takes its state key and socket along. */
static void stop_expected(struct fixture *fx)
{
    assert_int_equal(dmproc_stop_clean(&fx->dm, 0, WAIT_MS), 0);
    assert_null(xs_get(fx, DM_DIR "/state"));
    assert_int_equal(access(fx->sock, F_OK), -1);
}

/* ioreqctl CMD (stop), then what stop_expected() checks. */
static void stop_expected_after(struct fixture *fx, const char *cmd)
{
    char *out, *err;

    assert_int_equal(ctl(fx, &out, &err, cmd, "--domid", "7", "--socket", fx->sock, NULL), 0);
    stop_expected(fx);
}

static struct json_value *parse(const char *text)
{
    struct json_value *v = NULL;
    size_t len = strlen(text);

    assert_true(len > 0 && text[len - 1] == '\n');
    assert_int_equal(json_parse(text, len - 1, &v), 0);
    return v;
}

/* The counter at a path of keys and indices: counter(v, "per_vcpu", "1", "pio", NULL). */
static uint64_t counter_value(const struct json_value *v)
{
    uint64_t n;

    if (!json_get_uint(v, &n))
        fail_msg("no counter there");
    return n;
}
#define counter(...) counter_value(json_at(__VA_ARGS__))
/* How much the counter at a path grew from `before` to `after`. */
#define delta(after, before, ...) (counter(after, __VA_ARGS__) - counter(before, __VA_ARGS__))

static bool flag_value(const struct json_value *v)
{
    if (!v || v->type != JSON_BOOL)
        fail_msg("no boolean there");
    return v->boolean;
}
#define flag(...) flag_value(json_at(__VA_ARGS__))

static const char *text_value(const struct json_value *v)
{
    if (!json_get_string(v))
        fail_msg("no string there");
    return json_get_string(v);
}
#define text(...) text_value(json_at(__VA_ARGS__))

static bool is_null(const struct json_value *v)
{
    return v && v->type == JSON_NULL;
}

static unsigned nr_elements(const struct json_value *v)
{
    unsigned n = 0;

    assert_non_null(v);
    assert_int_equal(v->type, JSON_ARRAY);
    for (const struct json_value *e = v->child; e; e = e->next)
        n++;
    return n;
}

static struct json_value *stats_json(struct fixture *fx)
{
    char *out, *err;

    assert_int_equal(
        ctl(fx, &out, &err, "--json", "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_string_equal(err, "");
    return parse(out);
}

/* The daemon's status as ioreqctl --json status passes it through: control.status. */
static struct json_value *status_json(struct fixture *fx)
{
    char *out, *err;

    assert_int_equal(
        ctl(fx, &out, &err, "--json", "status", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_string_equal(err, "");
    return parse(out);
}

static void test_list_status(void **state)
{
    struct fixture *fx = *state;
    char expect[4096], desc[1024], *out, *err;
    const char *dev0;

    /* The toolstack (the mock, as libxl) made the directory; no device model runs yet. */
    assert_int_equal(ctl(fx, &out, &err, "--json", "list", NULL), 0);
    assert_string_equal(out,
                        "{\"device_models\":[{\"domid\":7,\"state\":null,\"ioreqd\":null}]}\n");

    start_ioreqd(fx, fx->sock);
    assert_int_equal(ctl(fx, &out, &err, "--json", "list", NULL), 0);
    snprintf(expect, sizeof(expect),
             "{\"device_models\":[{\"domid\":7,\"state\":\"running\",\"ioreqd\":{\"pid\":%ld,"
             "\"version\":\"%s\"}}]}\n",
             (long)fx->dm.pid, version);
    assert_string_equal(out, expect);

    /* What ioreqd published (what the UART is, no counters), shown as published. */
    dev0 = xs_get(fx, DM_DIR "/ioreqd/devices/0");
    assert_non_null(dev0);
    snprintf(desc, sizeof(desc), "%s", dev0);
    assert_string_equal(desc, "uart: " UART_DESC);
    assert_int_equal(ctl(fx, &out, &err, "status", "--domid", "7", "--socket", fx->sock, NULL), 0);
    snprintf(expect, sizeof(expect),
             "domid      7\n"
             "state      running\n"
             "pid        %ld\n"
             "version    %s\n"
             "server-id  %s\n"
             "vcpus      2\n"
             "devices    1\n"
             "control    %s (reachable)\n"
             "devices:\n"
             "  [0]  %s\n",
             (long)fx->dm.pid, version, xs_get(fx, DM_DIR "/ioreqd/server-id"), fx->sock, desc);
    assert_true(strncmp(out, expect, strlen(expect)) == 0);
    out += strlen(expect);
    /* Keys the UART published, if any, then the daemon's own view, counters and all. */
    out = strstr(out, "live status:\n");
    assert_non_null(out);
    snprintf(expect, sizeof(expect),
             "live status:\n"
             "  domid      7\n"
             "  pid        %ld\n"
             "  version    %s\n"
             "  vcpus      2\n"
             "  server_id  %s\n"
             "  dirty_log  false\n"
             "live devices:\n"
             "  [0]  uart: " UART_DESC " tx=0 rx=0 tx-dropped=0 out-dropped=0\n",
             (long)fx->dm.pid, version, xs_get(fx, DM_DIR "/ioreqd/server-id"));
    assert_string_equal(out, expect);
    assert_string_equal(err, "");

    assert_int_equal(ctl(fx, &out, &err, "stop", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_string_equal(out, "ioreqd for domain 7 stopped\n");
    stop_expected(fx);
    /* ioreqd took back what it wrote, and only that. */
    assert_int_equal(ctl(fx, &out, &err, "list", NULL), 0);
    assert_string_equal(out, "DOMID  STATE  PID  VERSION\n"
                             "7      -      -    -\n");
}

static void test_stats_count_guest_accesses(void **state)
{
    struct fixture *fx = *state;
    struct json_value *before, *after;
    uint32_t v;
    char *out, *err;

    start_ioreqd(fx, fx->sock);
    assert_int_equal(
        ctl(fx, &out, &err, "--json", "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    before = parse(out);
    assert_int_equal(counter(before, "domid", NULL), 7);
    assert_int_equal(counter(before, "vcpus", NULL), 2);

    for (int i = 0; i < 3; i++)
        assert_int_equal(mockhv_pio_out(fx->hv, 1, COM1 + UART_SCR, 1, 0x40 + i, WAIT_MS), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mockhv_pio_in(fx->hv, 0, COM1 + UART_SCR, 1, &v, WAIT_MS), 0);
        assert_int_equal(v, 0x42);
    }

    assert_int_equal(
        ctl(fx, &out, &err, "--json", "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    after = parse(out);
    assert_int_equal(counter(after, "per_vcpu", "1", "pio", NULL) -
                         counter(before, "per_vcpu", "1", "pio", NULL),
                     3);
    assert_int_equal(counter(after, "per_vcpu", "0", "pio", NULL) -
                         counter(before, "per_vcpu", "0", "pio", NULL),
                     2);
    assert_int_equal(counter(after, "per_vcpu", "1", "requests", NULL) -
                         counter(before, "per_vcpu", "1", "requests", NULL),
                     3);
    assert_int_equal(
        counter(after, "by_type", "pio", NULL) - counter(before, "by_type", "pio", NULL), 5);
    assert_int_equal(
        counter(after, "requests", "sync", NULL) - counter(before, "requests", "sync", NULL), 5);
    assert_int_equal(counter(after, "requests", "malformed", NULL), 0);
    assert_int_equal(counter(after, "requests", "unclaimed", NULL), 0);
    json_free(before);
    json_free(after);

    /* The table form of the same. */
    assert_int_equal(ctl(fx, &out, &err, "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_true(strncmp(out, "vcpus       2\n", 14) == 0);
    assert_non_null(strstr(out, "\nper vCPU:\n  VCPU  REQUESTS  PIO  COPY  PCI_CONFIG  "
                                "TIMEOFFSET  INVALIDATE  UNKNOWN\n"));
    assert_non_null(strstr(out, "\nmap cache:\n  hits "));

    assert_int_equal(
        ctl(fx, &out, &err, "stop", "--domid", "7", "--socket", fx->sock, "--json", NULL), 0);
    assert_string_equal(out, "{\"domid\":7,\"stopped\":true,\"via\":\"control\"}\n");
    stop_expected(fx);
    /* Nothing left to ask. */
    assert_int_equal(ctl(fx, &out, &err, "stats", "--domid", "7", "--socket", fx->sock, NULL), 1);
}

/* The BAR `bar` of a function in a status reply; fails if it is not listed. */
static const struct json_value *status_bar(const struct json_value *fn, unsigned bar)
{
    const struct json_value *bars = json_get(fn, "bars");

    nr_elements(bars);
    for (const struct json_value *b = bars->child; b; b = b->next)
        if (counter(b, "bar", NULL) == bar)
            return b;
    fail_msg("BAR %u not listed", bar);
    return NULL;
}

/* The "live devices:" section of `ioreqctl status`, in static storage. */
static const char *live_devices(struct fixture *fx)
{
    static char copy[8192];
    char *out, *err, *live;

    assert_int_equal(ctl(fx, &out, &err, "status", "--domid", "7", "--socket", fx->sock, NULL), 0);
    live = strstr(out, "live devices:\n");
    assert_non_null(live);
    snprintf(copy, sizeof(copy), "%s", live);
    return copy;
}

/*
 * Every PCI function's BARs and interrupt routes, before the firmware ran,
 * once it assigned BARs and interrupt lines and the virtio driver enabled
 * MSI-X, and as the guest masks vectors.
 */
static void test_status_pci_routes(void **state)
{
    struct fixture *fx = *state;
    char blk[400], xp_desc[512], vb_desc[512], expect[4096];
    const char *devices[] = {"host-bridge", "xen-platform", UART_SPEC, blk, NULL};
    struct gpci_bus *bus = calloc(1, sizeof(*bus));
    struct gvblk_opts bo = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = WAIT_MS, .msi_data_base = 0x40},
        .nr_queues = 2,
        .queue_size = 64,
    };
    const struct mockhv_pci_func *vfn, *xfn;
    const struct json_value *fn, *vecs;
    struct garena arena;
    struct gvblk vb;
    struct json_value *st;
    uint32_t ctrl;
    uint8_t cap;
    unsigned v;

    assert_non_null(bus);
    make_disk(fx);
    snprintf(blk, sizeof(blk), "virtio-blk,file=%s,queues=2", fx->disk);
    start_ioreqd_with(fx, fx->sock, devices);

    /* Before the firmware: nothing decoded, no line, MSI-X off with no vector in use. */
    st = status_json(fx);
    fn = json_at(st, "control", "status", "devices", "0", "pci", "0", NULL);
    assert_string_equal(text(fn, "bdf", NULL), "00:00.0");
    assert_string_equal(text(fn, "id", NULL), "8086:1237");
    assert_int_equal(nr_elements(json_get(fn, "bars")), 0);
    assert_true(is_null(json_at(fn, "intx", "pin", NULL)));
    assert_true(is_null(json_get(fn, "msi")));
    assert_true(is_null(json_get(fn, "msix")));
    fn = json_at(st, "control", "status", "devices", "1", "pci", "0", NULL);
    assert_string_equal(text(fn, "bdf", NULL), "00:10.0");
    assert_string_equal(text(fn, "id", NULL), "5853:0001");
    assert_string_equal(text(fn, "intx", "pin", NULL), "INTA#");
    assert_true(is_null(json_get(status_bar(fn, 0), "address")));
    assert_int_equal(counter(status_bar(fn, 0), "size", NULL), 0x100);
    assert_string_equal(text(status_bar(fn, 0), "type", NULL), "io");
    assert_true(is_null(json_get(status_bar(fn, 1), "address")));
    assert_int_equal(counter(status_bar(fn, 1), "size", NULL), 0x1000000);
    assert_null(json_at(st, "control", "status", "devices", "2", "pci", NULL));
    fn = json_at(st, "control", "status", "devices", "3", "pci", "0", NULL);
    assert_string_equal(text(fn, "bdf", NULL), "00:11.0");
    assert_string_equal(text(fn, "id", NULL), "1af4:1042");
    assert_string_equal(text(fn, "intx", "pin", NULL), "INTA#");
    assert_int_equal(counter(fn, "intx", "line", NULL), 0);
    assert_false(flag(fn, "intx", "level", NULL));
    assert_false(flag(fn, "intx", "asserted", NULL));
    assert_false(flag(fn, "intx", "disabled", NULL));
    assert_true(is_null(json_get(fn, "msi")));
    assert_false(flag(fn, "msix", "enabled", NULL));
    assert_false(flag(fn, "msix", "function_mask", NULL));
    assert_int_equal(counter(fn, "msix", "table_size", NULL), 3); /* a vector per queue + config */
    assert_int_equal(nr_elements(json_at(fn, "msix", "vectors", NULL)), 0);
    json_free(st);

    /* The firmware assigns BARs and notes interrupt lines; the driver brings the disk up. */
    guest_step(fx, gpci_scan(bus, fx->hv, 0, WAIT_MS), "PCI scan");
    assert_int_equal(bus->nr, 3);
    vfn = gpci_find(bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    xfn = gpci_find(bus, 0x5853, 0x0001);
    assert_non_null(vfn);
    assert_non_null(xfn);
    guest_step(fx, gpci_cfg_write(bus, xfn->bdf, PCI_LINE, 1, 10), "interrupt line");
    guest_step(fx, gpci_cfg_write(bus, vfn->bdf, PCI_LINE, 1, 11), "interrupt line");
    garena_init(&arena, 1 << 20, RAM - (1 << 20));
    guest_step(fx, gvblk_init(&vb, fx->hv, &arena, bus, vfn, &bo), "virtio-blk bring-up");

    st = status_json(fx);
    fn = json_at(st, "control", "status", "devices", "1", "pci", "0", NULL);
    assert_int_equal(counter(fn, "intx", "line", NULL), 10);
    for (unsigned i = 0; i < xfn->nr_bars; i++)
        assert_int_equal(counter(status_bar(fn, xfn->bars[i].index), "address", NULL),
                         xfn->bars[i].base);
    fn = json_at(st, "control", "status", "devices", "3", "pci", "0", NULL);
    for (unsigned i = 0; i < vfn->nr_bars; i++) {
        assert_int_equal(counter(status_bar(fn, vfn->bars[i].index), "address", NULL),
                         vfn->bars[i].base);
        assert_int_equal(counter(status_bar(fn, vfn->bars[i].index), "size", NULL),
                         vfn->bars[i].size);
    }
    assert_int_equal(counter(fn, "intx", "line", NULL), 11);
    assert_false(flag(fn, "intx", "asserted", NULL));
    /* The driver turned INTx off along with turning MSI-X on. */
    assert_true(flag(fn, "intx", "disabled", NULL));
    assert_true(flag(fn, "msix", "enabled", NULL));
    assert_false(flag(fn, "msix", "function_mask", NULL));
    vecs = json_at(fn, "msix", "vectors", NULL);
    assert_int_equal(nr_elements(vecs), 3);
    v = 0;
    for (const struct json_value *e = vecs->child; e; e = e->next, v++) {
        assert_int_equal(counter(e, "vector", NULL), v);
        assert_int_equal(counter(e, "address", NULL), 0xfee00000);
        assert_int_equal(counter(e, "data", NULL), 0x40 + v);
        assert_false(flag(e, "masked", NULL));
        assert_false(flag(e, "pending", NULL));
    }
    snprintf(xp_desc, sizeof(xp_desc), "%s",
             text(st, "control", "status", "devices", "1", "description", NULL));
    snprintf(vb_desc, sizeof(vb_desc), "%s",
             text(st, "control", "status", "devices", "3", "description", NULL));
    json_free(st);

    /* The table: a line of routes under each PCI function. */
    snprintf(
        expect, sizeof(expect),
        "live devices:\n"
        "  [0]  host-bridge: 00:00.0 8086:1237\n"
        "         00:00.0  no INTx\n"
        "  [1]  xen-platform: %s\n"
        "         00:10.0  INTA# line 10 low\n"
        "  [2]  uart: " UART_DESC " tx=0 rx=0 tx-dropped=0 out-dropped=0\n"
        "  [3]  virtio-blk: %s\n"
        "         00:11.0  INTA# line 11 low (disabled); MSI-X on: table 3, 3 in use, 0 masked\n",
        xp_desc, vb_desc);
    assert_string_equal(live_devices(fx), expect);

    /* The guest masks the whole function, then vector 1 alone. */
    guest_step(fx, gpci_cap_find(bus, vfn->bdf, GPCI_CAP_ID_MSIX, 0, &cap), "MSI-X capability");
    guest_step(fx, gpci_cfg_read(bus, vfn->bdf, cap + 2u, 2, &ctrl), "MSI-X control");
    guest_step(fx, gpci_cfg_write(bus, vfn->bdf, cap + 2u, 2, ctrl | 0x4000), "function mask");
    assert_non_null(strstr(live_devices(fx),
                           "\n         00:11.0  INTA# line 11 low (disabled); MSI-X on, "
                           "function masked: table 3, 3 in use, 0 masked\n"));
    guest_step(fx, gpci_cfg_write(bus, vfn->bdf, cap + 2u, 2, ctrl), "function unmask");
    guest_step(fx, gvirtio_mmio_write(&vb.dev, 0, vb.dev.msix_table + 16 + 12, 4, 1), "mask");
    assert_non_null(
        strstr(live_devices(fx),
               "\n         00:11.0  INTA# line 11 low (disabled); MSI-X on: table 3, 3 in use, "
               "1 masked\n"));
    st = status_json(fx);
    fn = json_at(st, "control", "status", "devices", "3", "pci", "0", NULL);
    assert_false(flag(fn, "msix", "vectors", "0", "masked", NULL));
    assert_true(flag(fn, "msix", "vectors", "1", "masked", NULL));
    assert_false(flag(fn, "msix", "vectors", "2", "masked", NULL));
    json_free(st);
    guest_step(fx, gvirtio_mmio_write(&vb.dev, 0, vb.dev.msix_table + 16 + 12, 4, 0), "unmask");

    gvblk_fini(&vb);
    garena_fini(&arena);
    free(bus);
    stop_expected_after(fx, "stop");
}

/*
 * Stats after known guest actions, each between two samples: exact deltas
 * of the request counts (per vCPU, per type, per device, buffered), the map
 * cache, the disk's and the UART's bytes.
 */
static void test_stats_after_guest_actions(void **state)
{
    struct fixture *fx = *state;
    static uint8_t wbuf[65536], rbuf[16384];
    char blk[400], *out, *err;
    const char *devices[] = {UART_SPEC, blk, NULL};
    struct gpci_bus *bus = calloc(1, sizeof(*bus));
    struct gvblk_opts bo = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = WAIT_MS, .msi_data_base = 0x40},
        .nr_queues = 1,
        .queue_size = 64,
    };
    const struct mockhv_pci_func *vfn;
    struct json_value *s0, *s1;
    struct garena arena;
    struct gvblk vb;
    uint64_t gpa, notifies;
    uint8_t scr[8], st;
    uint32_t v;

    assert_non_null(bus);
    make_disk(fx);
    snprintf(blk, sizeof(blk), "virtio-blk,file=%s", fx->disk);
    start_ioreqd_with(fx, fx->sock, devices);
    guest_step(fx, gpci_scan(bus, fx->hv, 0, WAIT_MS), "PCI scan");
    assert_int_equal(bus->nr, 1);
    vfn = gpci_find(bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    assert_non_null(vfn);
    garena_init(&arena, 1 << 20, RAM - (1 << 20));
    guest_step(fx, gvblk_init(&vb, fx->hv, &arena, bus, vfn, &bo), "virtio-blk bring-up");

    /* UART: 5 bytes out from vCPU 1, 2 LSR reads from vCPU 0. */
    s0 = stats_json(fx);
    for (int i = 0; i < 5; i++)
        guest_step(fx, mockhv_pio_out(fx->hv, 1, COM1 + UART_THR, 1, 'a' + i, WAIT_MS), "outb");
    for (int i = 0; i < 2; i++)
        guest_step(fx, mockhv_pio_in(fx->hv, 0, COM1 + UART_LSR, 1, &v, WAIT_MS), "inb");
    s1 = stats_json(fx);
    assert_int_equal(delta(s1, s0, "requests", "sync", NULL), 7);
    assert_int_equal(delta(s1, s0, "requests", "buffered", NULL), 0);
    assert_int_equal(delta(s1, s0, "by_type", "pio", NULL), 7);
    assert_int_equal(delta(s1, s0, "per_vcpu", "1", "pio", NULL), 5);
    assert_int_equal(delta(s1, s0, "per_vcpu", "0", "pio", NULL), 2);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "writes", NULL), 5);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "reads", NULL), 2);
    assert_int_equal(delta(s1, s0, "devices", "0", "counters", "bytes_out", NULL), 5);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "reads", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "writes", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "config_reads", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "config_writes", NULL), 0);
    json_free(s0);

    /*
     * Buffered: 4 writes to the scratch register and a TIMEOFFSET, which
     * reach no vCPU's count; the synchronous read after them sees the last
     * write (the ring is drained first).
     */
    s0 = s1;
    for (int i = 0; i < 4; i++)
        guest_step(fx, mockhv_buf_write(fx->hv, 0, false, COM1 + UART_SCR, 1, 0x10 + i, WAIT_MS),
                   "buffered write");
    assert_int_equal(mockhv_timeoffset(fx->hv, -3600), 1);
    guest_step(fx, mockhv_pio_in(fx->hv, 0, COM1 + UART_SCR, 1, &v, WAIT_MS), "inb");
    assert_int_equal(v, 0x13);
    s1 = stats_json(fx);
    assert_int_equal(delta(s1, s0, "requests", "buffered", NULL), 5);
    assert_int_equal(delta(s1, s0, "requests", "sync", NULL), 1);
    assert_int_equal(delta(s1, s0, "per_vcpu", "0", "requests", NULL), 1);
    assert_int_equal(delta(s1, s0, "by_type", "timeoffset", NULL), 0);
    assert_int_equal(json_at(s1, "timeoffset", NULL)->i, -3600);
    assert_true(json_at(s1, "timeoffset", NULL)->negative);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "writes", NULL), 4);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "reads", NULL), 1);
    assert_int_equal(delta(s1, s0, "devices", "0", "counters", "bytes_out", NULL), 0);
    json_free(s0);

    /*
     * The map cache: INVALIDATE empties it; a rep outsb of 10 bytes from one
     * page then misses once and hits 9 times, and a rep insb of 8 bytes into
     * the same page hits twice per byte (checked, then copied).
     */
    s0 = s1;
    assert_int_equal(garena_alloc(&arena, 4096, 4096, &gpa), 0);
    assert_int_equal(mockhv_ram_write(fx->hv, gpa, "map cache\n", 10), 0);
    guest_step(fx, mockhv_invalidate(fx->hv, 0, WAIT_MS), "invalidate");
    guest_step(fx,
               mockhv_rep(fx->hv, 1,
                          &(struct mockhv_rep){
                              .size = 1, .addr = COM1 + UART_THR, .gpa = gpa, .count = 10},
                          WAIT_MS),
               "rep outsb");
    guest_step(fx,
               mockhv_rep(fx->hv, 1,
                          &(struct mockhv_rep){.dir_read = true,
                                               .size = 1,
                                               .addr = COM1 + UART_SCR,
                                               .gpa = gpa + 2048,
                                               .count = 8},
                          WAIT_MS),
               "rep insb");
    assert_int_equal(mockhv_ram_read(fx->hv, gpa + 2048, scr, sizeof(scr)), 0);
    for (size_t i = 0; i < sizeof(scr); i++)
        assert_int_equal(scr[i], 0x13);
    s1 = stats_json(fx);
    assert_int_equal(delta(s1, s0, "mapcache", "invalidations", NULL), 1);
    assert_int_equal(delta(s1, s0, "mapcache", "misses", NULL), 1);
    assert_int_equal(delta(s1, s0, "mapcache", "hits", NULL), 9 + 2 * 8);
    assert_int_equal(delta(s1, s0, "mapcache", "evictions", NULL), 0);
    assert_int_equal(delta(s1, s0, "mapcache", "faults", NULL), 0);
    assert_int_equal(delta(s1, s0, "requests", "sync", NULL), 3);
    assert_int_equal(delta(s1, s0, "by_type", "invalidate", NULL), 1);
    assert_int_equal(delta(s1, s0, "per_vcpu", "1", "pio", NULL), 2);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "writes", NULL), 10);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "reads", NULL), 8);
    assert_int_equal(delta(s1, s0, "devices", "0", "counters", "bytes_out", NULL), 10);
    assert_int_equal(delta(s1, s0, "requests", "malformed", NULL), 0);
    json_free(s0);

    /* The disk: a 64 KiB write, a 16 KiB read of its start, a flush; MMIO writes are the kicks. */
    s0 = s1;
    notifies = vb.queues[0].vq->notifies;
    for (size_t i = 0; i < sizeof(wbuf); i++)
        wbuf[i] = (uint8_t)(i * 13 + 1);
    guest_step(fx, gvblk_write(&vb, 0, 8, wbuf, sizeof(wbuf), &st), "disk write");
    assert_int_equal(st, GVBLK_S_OK);
    guest_step(fx, gvblk_read(&vb, 0, 8, rbuf, sizeof(rbuf), &st), "disk read");
    assert_int_equal(st, GVBLK_S_OK);
    assert_memory_equal(rbuf, wbuf, sizeof(rbuf));
    guest_step(fx, gvblk_flush(&vb, 0, &st), "flush");
    assert_int_equal(st, GVBLK_S_OK);
    s1 = stats_json(fx);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "requests", NULL), 3);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "writes", NULL), 1);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "reads", NULL), 1);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "flushes", NULL), 1);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "write_bytes", NULL), 65536);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "read_bytes", NULL), 16384);
    assert_int_equal(delta(s1, s0, "devices", "1", "counters", "io_errors", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "writes", NULL),
                     vb.queues[0].vq->notifies - notifies);
    assert_true(vb.queues[0].vq->notifies > notifies);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "reads", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "writes", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "0", "requests", "reads", NULL), 0);
    json_free(s0);

    /* Config cycles to the disk's function: 3 reads of its vendor ID, a write of its line. */
    s0 = s1;
    for (int i = 0; i < 3; i++) {
        guest_step(fx, mockhv_cfg_read(fx->hv, 0, vfn->bdf, 0, 2, &v, WAIT_MS), "cfg read");
        assert_int_equal(v, GVIRTIO_VENDOR);
    }
    guest_step(fx, mockhv_cfg_write(fx->hv, 0, vfn->bdf, PCI_LINE, 1, 5, WAIT_MS), "cfg write");
    s1 = stats_json(fx);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "config_reads", NULL), 3);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "config_writes", NULL), 1);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "reads", NULL), 0);
    assert_int_equal(delta(s1, s0, "devices", "1", "requests", "writes", NULL), 0);
    assert_int_equal(delta(s1, s0, "by_type", "pci_config", NULL), 4);
    assert_int_equal(delta(s1, s0, "requests", "sync", NULL), 4);
    assert_int_equal(counter(s1, "requests", "unclaimed", NULL), 0);
    assert_int_equal(counter(s1, "requests", "malformed", NULL), 0);
    json_free(s0);
    json_free(s1);

    /* The table form has the same per-device counts. */
    assert_int_equal(ctl(fx, &out, &err, "stats", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_non_null(strstr(out, "\nrequests per device:\n  DEVICE  TYPE        READS  WRITES  "
                                "CONFIG_READS  CONFIG_WRITES\n  0       uart        "));
    assert_non_null(strstr(out, "\n  1       virtio-blk  "));

    gvblk_fini(&vb);
    garena_fini(&arena);
    free(bus);
    stop_expected_after(fx, "stop");
}

static void test_stop_by_sigterm(void **state)
{
    struct fixture *fx = *state;
    char expect[256], *out, *err;
    pid_t pid;

    start_ioreqd(fx, "none");
    pid = fx->dm.pid;
    assert_int_equal(ctl(fx, &out, &err, "stop", "--domid", "7", "--socket", fx->sock, NULL), 0);
    snprintf(expect, sizeof(expect), "ioreqd for domain 7 (pid %ld) stopped by SIGTERM\n",
             (long)pid);
    assert_string_equal(out, expect);
    stop_expected(fx);
}

/*
 * ioreqctl dirty-log: off from the start, switched on and off as a
 * toolstack does around a live migration, shown by status; a bad argument
 * is a usage error that never reaches the daemon.
 */
static void test_dirty_log(void **state)
{
    struct fixture *fx = *state;
    struct json_value *st;
    char *out, *err;

    start_ioreqd(fx, fx->sock);
    assert_int_equal(ctl(fx, &out, &err, "dirty-log", "--domid", "7", "--socket", fx->sock, NULL),
                     0);
    assert_string_equal(out, "dirty log of ioreqd for domain 7: off\n");
    assert_int_equal(
        ctl(fx, &out, &err, "dirty-log", "on", "--domid", "7", "--socket", fx->sock, NULL), 0);
    assert_string_equal(out, "dirty log of ioreqd for domain 7: on\n");
    st = status_json(fx);
    assert_true(json_get(json_get(json_get(st, "control"), "status"), "dirty_log")->boolean);
    json_free(st);
    assert_int_equal(ctl(fx, &out, &err, "--json", "dirty-log", "off", "--domid", "7", "--socket",
                         fx->sock, NULL),
                     0);
    assert_string_equal(out, "{\"domid\":7,\"dirty_log\":false}\n");
    assert_int_equal(
        ctl(fx, &out, &err, "dirty-log", "maybe", "--domid", "7", "--socket", fx->sock, NULL), 2);
    assert_string_equal(out, "");
    assert_string_equal(err, "ioreqctl: dirty-log takes on or off, not 'maybe'\n");
    assert_int_equal(ctl(fx, &out, &err, "dirty-log", "on", "now", "--domid", "7", NULL), 2);
    assert_int_equal(ctl(fx, &out, &err, "stop", "--domid", "7", "--socket", fx->sock, NULL), 0);
    stop_expected(fx);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_count_guest_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_pci_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_after_guest_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_by_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_log, setup, teardown),
    };

    if (argc < 4) {
        fprintf(stderr, "usage: %s IOREQD IOREQCTL VERSION [test-name]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    ioreqctl_path = argv[2];
    version = argv[3];
    if (argc > 4)
        cmocka_set_test_filter(argv[4]);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
