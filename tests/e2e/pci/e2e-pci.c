/*
 * The PCI bus and its first devices, end to end: the real ioreqd on the mock
 * hypervisor, with the test playing firmware and guest. The firmware helper
 * enumerates the bus and assigns BARs; the guest reads IDs back, talks to the
 * Xen platform device's ports and BARs, moves and breaks BARs and watches
 * the hypervisor's range table follow, sends hostile config requests, and
 * writes to and reads from a UART whose pty the test opens as `xl console`
 * would, with its interrupt recorded by the mock.
 *
 * Usage: e2e-pci /path/to/ioreqd [test-name-pattern]
 * Waits are bounded (a hung daemon fails the test) but nothing is timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <xenctrl.h>
#include <xen/hvm/ioreq.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "dm-process.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define DOMID   7
#define WAIT_MS 20000
#define COM1    0x3f8

static const char *ioreqd_path;

struct fixture {
    struct mockhv *hv;
    struct dmproc dm;
    char dir[256];
    char errpath[300];
    char control[300]; /* our own: tests of the same domain may run in parallel */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {
        .domid = DOMID,
        .nr_vcpus = 2,
        .mem_bytes = 64 << 20,
        .xenstore = true,
    };

    if (!fx || scratch_dir_create(fx->dir, sizeof(fx->dir), "ioreqd-e2e-pci") ||
        scratch_path(fx->errpath, sizeof(fx->errpath), fx->dir, "stderr") ||
        scratch_path(fx->control, sizeof(fx->control), fx->dir, "control.sock") ||
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

/* ioreqd for domain 7 with these devices, its output in errpath. */
static int spawn(struct fixture *fx, const char *const *devices)
{
    const char *args[40] = {"--domid",          "7",        "--foreground", "--log-level", "debug",
                            "--control-socket", fx->control};
    size_t a = 7;

    for (; *devices && a < 38; devices++) {
        args[a++] = "--device";
        args[a++] = *devices;
    }
    args[a] = NULL;
    return dmproc_start(&fx->dm, fx->hv,
                        &(struct dmproc_config){
                            .program = ioreqd_path,
                            .shim_libdir = getenv("IOREQD_SHIM_LIBDIR"),
                            .args = args,
                            .log_path = fx->errpath,
                        });
}

/* Starts ioreqd and waits (bounded) for state = running. */
static void start_ioreqd(struct fixture *fx, const char *const *devices)
{
    assert_int_equal(spawn(fx, devices), 0);
    if (dmproc_wait_running(&fx->dm, WAIT_MS)) {
        dmproc_dump_log(&fx->dm);
        fail_msg("ioreqd did not reach state running");
    }
}

/* SIGTERM: an orderly exit 0, with nothing from the sanitizers in the log. */
static void stop_ioreqd(struct fixture *fx)
{
    assert_int_equal(dmproc_stop_clean(&fx->dm, SIGTERM, WAIT_MS), 0);
}

/* Whether ioreqd's log holds `text`. */
static bool log_has(struct fixture *fx, const char *text)
{
    char *log = dmproc_log(&fx->dm);
    bool found = log && strstr(log, text);

    free(log);
    return found;
}

static uint32_t cfg_rd(struct fixture *fx, uint16_t bdf, unsigned reg, unsigned size)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(mockhv_cfg_read(fx->hv, 0, bdf, reg, size, &v, WAIT_MS), 0);
    return v;
}

static void cfg_wr(struct fixture *fx, uint16_t bdf, unsigned reg, unsigned size, uint32_t v)
{
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, bdf, reg, size, v, WAIT_MS), 0);
}

static uint32_t pio_in(struct fixture *fx, uint16_t port, unsigned size)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(mockhv_pio_in(fx->hv, 0, port, size, &v, WAIT_MS), 0);
    return v;
}

static void pio_out(struct fixture *fx, uint16_t port, unsigned size, uint32_t v)
{
    assert_int_equal(mockhv_pio_out(fx->hv, 0, port, size, v, WAIT_MS), 0);
}

static uint16_t server_id(struct fixture *fx)
{
    uint16_t ids[4];
    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 1);
    return ids[0];
}

/* Whether ioreqd's server has exactly this range registered with the hypervisor. */
static bool has_range(struct fixture *fx, enum mockhv_range_type type, uint64_t start, uint64_t end)
{
    struct mockhv_range r[64];
    int n = mockhv_server_ranges(fx->hv, server_id(fx), r, 64);

    assert_true(n >= 0 && n <= 64);
    for (int i = 0; i < n; i++)
        if (r[i].type == type && r[i].start == start && r[i].end == end)
            return true;
    return false;
}

static void test_enumerate_and_xen_platform(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {"host-bridge", "xen-platform", "uart,backend=null", NULL};
    struct mockhv_pci_func fn[8];
    uint64_t io_base, mem_base, v = 0;

    start_ioreqd(fx, devs);
    /* Each function's config cycles are routed to ioreqd. */
    assert_true(has_range(fx, MOCKHV_RANGE_PCI, 0x00, 0x00));
    assert_true(has_range(fx, MOCKHV_RANGE_PCI, 0x10, 0x10));
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, 0x10, 0x13));

    assert_int_equal(mockhv_firmware_pci_init(fx->hv, 0, fn, 8, WAIT_MS), 2);
    assert_int_equal(fn[0].bdf, 0x00);
    assert_int_equal(fn[0].vendor, 0x8086);
    assert_int_equal(fn[0].device, 0x1237);
    assert_int_equal(fn[0].class_rev, 0x06000002);
    assert_int_equal(fn[0].nr_bars, 0);
    assert_int_equal(fn[1].bdf, 0x10);
    assert_int_equal(fn[1].vendor, 0x5853);
    assert_int_equal(fn[1].device, 0x0001);
    assert_int_equal(fn[1].class_rev, 0xff800001);
    assert_int_equal(fn[1].header_type, 0);
    assert_int_equal(fn[1].irq_pin, 1);
    assert_int_equal(fn[1].nr_bars, 2);
    assert_int_equal(fn[1].bars[0].index, 0);
    assert_true(fn[1].bars[0].io);
    assert_int_equal(fn[1].bars[0].size, 0x100);
    assert_int_equal(fn[1].bars[1].index, 1);
    assert_false(fn[1].bars[1].io);
    assert_false(fn[1].bars[1].mem64);
    assert_true(fn[1].bars[1].prefetch);
    assert_int_equal(fn[1].bars[1].size, 16u << 20);
    io_base = fn[1].bars[0].base;
    mem_base = fn[1].bars[1].base;
    assert_true(io_base != 0 && mem_base != 0);

    /* The guest reads the IDs back, and the firmware's assignments. */
    assert_int_equal(cfg_rd(fx, 0x10, 0x00, 4), 0x00015853);
    assert_int_equal(cfg_rd(fx, 0x10, 0x2c, 4), 0x00015853);
    assert_int_equal(cfg_rd(fx, 0x10, 0x10, 4), io_base | 1);
    assert_int_equal(cfg_rd(fx, 0x10, 0x14, 4), mem_base | 8);
    assert_int_equal(cfg_rd(fx, 0x00, 0x00, 4), 0x12378086);
    /* Decoding made the BARs the hypervisor's business: ranges registered. */
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io_base, io_base + 0xff));
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, mem_base, mem_base + (16u << 20) - 1));

    /* The unplug protocol, as PV drivers run it. */
    assert_int_equal(pio_in(fx, 0x10, 2), 0x49d2);
    assert_int_equal(pio_in(fx, 0x12, 1), 1);
    pio_out(fx, 0x12, 2, 1);
    pio_out(fx, 0x10, 4, 0x1234);
    assert_int_equal(pio_in(fx, 0x10, 2), 0x49d2);
    pio_out(fx, 0x10, 2, 0x3);
    for (const char *p = "pv drivers up\n"; *p; p++)
        pio_out(fx, 0x12, 1, (uint8_t)*p);
    /* BAR0: flags byte at 0; BAR1 reads zero. */
    assert_int_equal(pio_in(fx, (uint16_t)io_base, 1), 0);
    assert_int_equal(pio_in(fx, (uint16_t)io_base + 1, 1), 0xff);
    assert_int_equal(mockhv_mmio_read(fx->hv, 1, mem_base + 0x100, 8, &v, WAIT_MS), 0);
    assert_int_equal(v, 0);

    /* Memory decode off: the MMIO BAR leaves the hypervisor; back on: it returns. */
    uint32_t cmd = cfg_rd(fx, 0x10, 0x04, 2);
    assert_int_equal(cmd & 0x3, 0x3);
    cfg_wr(fx, 0x10, 0x04, 2, cmd & ~0x2u);
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, mem_base, mem_base + (16u << 20) - 1));
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io_base, io_base + 0xff));
    cfg_wr(fx, 0x10, 0x04, 2, cmd);
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, mem_base, mem_base + (16u << 20) - 1));

    /* A BAR set to all-ones while decoding is sized, not mapped; restored, it maps again. */
    cfg_wr(fx, 0x10, 0x14, 4, 0xffffffff);
    assert_int_equal(cfg_rd(fx, 0x10, 0x14, 4), 0xff000008);
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, mem_base, mem_base + (16u << 20) - 1));
    cfg_wr(fx, 0x10, 0x14, 4, (uint32_t)mem_base);
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, mem_base, mem_base + (16u << 20) - 1));
    /* A BAR moved onto the UART's ports is refused: the UART keeps answering. */
    cfg_wr(fx, 0x10, 0x10, 4, 0x300);
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, 0x300, 0x3ff));
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, COM1, COM1 + 7));
    pio_out(fx, COM1 + 7, 1, 0x5a);
    assert_int_equal(pio_in(fx, COM1 + 7, 1), 0x5a);
    cfg_wr(fx, 0x10, 0x10, 4, (uint32_t)io_base);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io_base, io_base + 0xff));

    /* The log line and the unplug request reached ioreqd's log. */
    stop_ioreqd(fx);
    if (!log_has(fx, "xen-platform: guest: pv drivers up") || !log_has(fx, "unplug of disks nics"))
        dmproc_dump_log(&fx->dm);
    assert_true(log_has(fx, "xen-platform: guest: pv drivers up"));
    assert_true(log_has(fx, "unplug of disks nics"));
}

/* One raw PCI_CONFIG request in vCPU 1's slot; returns the answer's data. */
static uint64_t raw_cfg(struct fixture *fx, uint32_t sbdf, uint32_t reg, uint32_t size, int dir,
                        uint64_t data)
{
    ioreq_t req = {
        .addr = (uint64_t)sbdf << 32 | reg,
        .data = data,
        .count = 1,
        .size = size,
        .state = STATE_IOREQ_READY,
        .dir = (uint8_t)dir,
        .type = IOREQ_TYPE_PCI_CONFIG,
    };
    uint16_t id = server_id(fx);

    assert_int_equal(mockhv_raw_slot_write(fx->hv, id, 1, &req, sizeof(req), true), 0);
    assert_int_equal(mockhv_raw_slot_wait(fx->hv, id, 1, STATE_IORESP_READY, WAIT_MS), 0);
    assert_int_equal(mockhv_raw_slot_read(fx->hv, id, 1, &req, sizeof(req)), 0);
    return req.data;
}

static void test_hostile_config(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {"xen-platform,bdf=00:03.0", NULL};
    const uint32_t sbdf = 0x18;

    start_ioreqd(fx, devs);
    assert_int_equal(raw_cfg(fx, sbdf, 0x00, 4, IOREQ_READ, 0), 0x00015853);
    /* Offsets past 256, odd sizes, dword-crossing accesses: all-ones, writes dropped. */
    assert_int_equal(raw_cfg(fx, sbdf, 0x100, 4, IOREQ_READ, 0) & 0xffffffff, 0xffffffff);
    assert_int_equal(raw_cfg(fx, sbdf, 0xffc, 4, IOREQ_READ, 0) & 0xffffffff, 0xffffffff);
    assert_int_equal(raw_cfg(fx, sbdf, 0x00, 3, IOREQ_READ, 0) & 0xffffff, 0xffffff);
    assert_int_equal(raw_cfg(fx, sbdf, 0x03, 2, IOREQ_READ, 0) & 0xffff, 0xffff);
    raw_cfg(fx, sbdf, 0x02, 4, IOREQ_WRITE, 0xffffffff);
    raw_cfg(fx, sbdf, 0x3c, 8, IOREQ_WRITE, 0xffffffff);
    raw_cfg(fx, sbdf, 0x104, 4, IOREQ_WRITE, 0xffffffff);
    /* A function nobody has, another bus, another segment: all-ones. */
    assert_int_equal(raw_cfg(fx, 0x20, 0x00, 4, IOREQ_READ, 0) & 0xffffffff, 0xffffffff);
    assert_int_equal(raw_cfg(fx, 0x118, 0x00, 2, IOREQ_READ, 0) & 0xffff, 0xffff);
    assert_int_equal(raw_cfg(fx, 0x10018, 0x00, 1, IOREQ_READ, 0) & 0xff, 0xff);
    /* Read-only registers and the capability pointer stay put. */
    cfg_wr(fx, sbdf, 0x00, 4, 0);
    cfg_wr(fx, sbdf, 0x34, 1, 0x40);
    cfg_wr(fx, sbdf, 0x08, 4, 0);
    cfg_wr(fx, sbdf, 0x06, 2, 0xffff);
    assert_int_equal(cfg_rd(fx, sbdf, 0x00, 4), 0x00015853);
    assert_int_equal(cfg_rd(fx, sbdf, 0x34, 1), 0);
    assert_int_equal(cfg_rd(fx, sbdf, 0x08, 4), 0xff800001);
    assert_int_equal(cfg_rd(fx, sbdf, 0x06, 2), 0);
    /* Every BAR register all-ones, byte by byte too: sized, not mapped, daemon alive. */
    for (unsigned reg = 0x10; reg < 0x28; reg += 4)
        cfg_wr(fx, sbdf, reg, 4, 0xffffffff);
    for (unsigned reg = 0x10; reg < 0x40; reg++)
        cfg_wr(fx, sbdf, reg, 1, 0xff);
    assert_int_equal(cfg_rd(fx, sbdf, 0x10, 4), 0xffffff01);
    assert_int_equal(cfg_rd(fx, sbdf, 0x30, 4), 0);
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, 0xff000000, 0xffffffff));
    /* Still serving normally afterwards. */
    assert_int_equal(pio_in(fx, 0x10, 2), 0x49d2);
    assert_int_equal(cfg_rd(fx, sbdf, 0x02, 2), 0x0001);
    stop_ioreqd(fx);
}

static void test_legacy_cf8(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {"host-bridge,cf8=on", "xen-platform", NULL};

    start_ioreqd(fx, devs);
    /* The latch and the data window, merged by the hypervisor's rangeset as Xen does. */
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, 0xcf8, 0xcff));
    /* Through the 0xCF8/0xCFC window, either path reaches the same config space. */
    assert_int_equal(cfg_rd(fx, 0x00, 0x00, 4), 0x12378086);
    assert_int_equal(cfg_rd(fx, 0x10, 0x00, 2), 0x5853);
    cfg_wr(fx, 0x10, 0x3c, 1, 0x0b);
    assert_int_equal(cfg_rd(fx, 0x10, 0x3c, 1), 0x0b);
    assert_int_equal(cfg_rd(fx, 0xf8, 0x00, 4), 0xffffffff);
    /* The latch reads back as written. */
    pio_out(fx, 0xcf8, 4, 0x80000810);
    assert_int_equal(pio_in(fx, 0xcf8, 4), 0x80000810);
    stop_ioreqd(fx);
}

static void test_uart_pty(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {"uart,com=1,backend=pty", NULL};
    struct mockhv_irq_record rec;
    char buf[64], *tty;
    struct termios t;
    uint64_t seq;
    int s, got = 0;

    start_ioreqd(fx, devs);
    tty = dmproc_xs_read(&fx->dm, "/local/domain/7/serial/0/tty");
    assert_non_null(tty);
    s = open(tty, O_RDWR | O_NOCTTY);
    free(tty);
    assert_true(s >= 0);
    assert_int_equal(tcgetattr(s, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(s, TCSANOW, &t), 0);

    /* The guest prints "hello" the way a polling console driver does. */
    pio_out(fx, COM1 + 3, 1, 0x03);
    for (const char *p = "hello\n"; *p; p++) {
        for (int i = 0; i < 100000 && !(pio_in(fx, COM1 + 5, 1) & 0x20); i++)
            ;
        pio_out(fx, COM1, 1, (uint8_t)*p);
    }
    while (got < 6) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        assert_int_equal(poll(&p, 1, WAIT_MS), 1);
        ssize_t n = read(s, buf + got, sizeof(buf) - (size_t)got);
        assert_true(n > 0);
        got += (int)n;
    }
    assert_memory_equal(buf, "hello\n", 6);

    /* Input with an interrupt: IRQ 4 rises, reading the byte lowers it. */
    pio_out(fx, COM1 + 4, 1, 0x0b); /* DTR, RTS, OUT2 */
    pio_out(fx, COM1 + 1, 1, 0x01); /* received data interrupt */
    seq = mockhv_irq_last_seq(fx->hv);
    assert_int_equal(write(s, "k", 1), 1);
    assert_int_equal(mockhv_irq_wait(fx->hv, seq, &rec, WAIT_MS), 0);
    assert_int_equal(rec.kind, MOCKHV_IRQ_ISA);
    assert_int_equal(rec.irq, 4);
    assert_true(rec.level);
    assert_int_equal(mockhv_isa_irq_level(fx->hv, 4), 1);
    assert_int_equal(pio_in(fx, COM1 + 2, 1), 0x04);
    assert_int_equal(pio_in(fx, COM1, 1), 'k');
    assert_int_equal(mockhv_irq_wait(fx->hv, rec.seq, &rec, WAIT_MS), 0);
    assert_int_equal(rec.irq, 4);
    assert_false(rec.level);
    assert_int_equal(mockhv_isa_irq_level(fx->hv, 4), 0);
    close(s);
    stop_ioreqd(fx);
}

static void test_slot_clash(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {"xen-platform,bdf=00:03.0", "host-bridge,bdf=00:03.1", NULL};

    assert_int_equal(spawn(fx, devs), 0);
    if (dmproc_wait_exit(&fx->dm, WAIT_MS))
        fail_msg("ioreqd kept running with two devices in one slot");
    assert_true(WIFEXITED(fx->dm.wstatus));
    assert_int_equal(WEXITSTATUS(fx->dm.wstatus), 2);
    assert_true(log_has(fx, "host-bridge: PCI slot 00:03 is already taken by xen-platform"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enumerate_and_xen_platform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_cf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uart_pty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_clash, setup, teardown),
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
