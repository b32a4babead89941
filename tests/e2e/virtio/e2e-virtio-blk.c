/*
 * virtio-blk end to end: the real ioreqd binary serves a domain of the mock
 * hypervisor, and this program plays the guest - firmware (enumeration and
 * BAR assignment) and a small virtio-pci/virtio-blk driver written from the
 * specification: it finds the virtio capabilities, negotiates features,
 * sets up two queues with MSI-X, and moves data, checked against the
 * backing file. Also hostile chains, and SIGKILL right after a flush.
 *
 * Usage: e2e-virtio-blk /path/to/ioreqd [test-name]
 *
 * Waits are bounded (a hung daemon fails the test) but nothing asserts on
 * how long anything took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "mockhv.h"

#define DOMID    7
#define WAIT_MS  20000
#define BDF      (5 << 3) /* 00:05.0 */
#define IMG_SIZE (4u << 20)
#define NQ       2
#define QSIZE    64
#define RINGS    0x100000ull /* queue q: desc +q*0x10000, avail +0x2000, used +0x4000 */
#define HDRS     0x200000ull /* queue q, slot r: +q*0x10000 + r*32; status at +16 */
#define DATA     0x400000ull
#define MSI_ADDR 0xfee00000ull
#define MSI_DATA 0x40 /* + vector */

/* virtio facts (virtio 1.2). */
#define ST_ACK             1
#define ST_DRIVER          2
#define ST_DRIVER_OK       4
#define ST_FEATURES_OK     8
#define ST_NEEDS_RESET     64
#define CAP_COMMON         1
#define CAP_NOTIFY         2
#define CAP_ISR            3
#define CAP_DEVICE         4
#define C_DFSELECT         0x00
#define C_DF               0x04
#define C_GFSELECT         0x08
#define C_GF               0x0c
#define C_MSIX             0x10
#define C_NUMQ             0x12
#define C_STATUS           0x14
#define C_QSELECT          0x16
#define C_QSIZE            0x18
#define C_QMSIX            0x1a
#define C_QENABLE          0x1c
#define C_QNOFF            0x1e
#define C_QDESC            0x20
#define C_QAVAIL           0x28
#define C_QUSED            0x30
#define F_VERSION_1        32
#define F_EVENT_IDX        29
#define BLK_F_SEG_MAX      2
#define BLK_F_BLK_SIZE     6
#define BLK_F_FLUSH        9
#define BLK_F_MQ           12
#define BLK_F_DISCARD      13
#define BLK_F_WRITE_ZEROES 14
#define T_IN               0
#define T_OUT              1
#define T_FLUSH            4
#define T_GET_ID           8
#define T_DISCARD          11
#define T_WRITE_ZEROES     13
#define S_OK               0
#define S_IOERR            1
#define DESC_NEXT          1
#define DESC_WRITE         2

extern char **environ;
static const char *ioreqd_path;

struct gq {
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx;
    uint16_t noff;
};

struct fixture {
    struct mockhv *hv;
    struct xs_handle *xs;
    pid_t pid;
    char dir[64];
    char errpath[96];
    char img[96];
    /* the guest driver */
    uint64_t common, notify, isr, device;
    uint32_t notify_mult;
    uint64_t msix_table;
    unsigned msix_cap;
    struct gq q[NQ];
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 31 + (off >> 12));
}

static void dump_stderr(struct fixture *fx)
{
    char buf[16384];
    int fd = open(fx->errpath, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = 0;
    fprintf(stderr, "---- ioreqd stderr ----\n%s-----------------------\n", buf);
}

/* ---- daemon and mock ---- */

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {
        .domid = DOMID, .nr_vcpus = 2, .mem_bytes = 64 << 20, .xenstore = true};
    uint8_t *img;
    int fd;

    if (!fx)
        return -1;
    strcpy(fx->dir, "/tmp/ioreqd-vblk-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->errpath, sizeof(fx->errpath), "%s/stderr", fx->dir);
    snprintf(fx->img, sizeof(fx->img), "%s/disk.img", fx->dir);
    img = malloc(IMG_SIZE);
    if (!img)
        return -1;
    for (uint64_t i = 0; i < IMG_SIZE; i++)
        img[i] = pattern(i);
    fd = open(fx->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, img, IMG_SIZE) != (ssize_t)IMG_SIZE)
        return -1;
    close(fd);
    free(img);
    if (mockhv_create(&fx->hv, &cfg))
        return -1;
    setenv("XENSTORED_PATH", mockhv_xenstored_path(fx->hv), 1);
    fx->xs = xs_open(0);
    if (!fx->xs)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    if (fx->pid > 0) {
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
    }
    xs_close(fx->xs);
    mockhv_destroy(fx->hv);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static char **child_env(struct fixture *fx)
{
    static char libpath[1024];
    static char *env[512];
    const char *shim = getenv("IOREQD_SHIM_LIBDIR");
    const char *old = getenv("LD_LIBRARY_PATH");
    size_t n = 0;

    for (char **e = environ; *e && n < 400; e++)
        if (strncmp(*e, "LD_LIBRARY_PATH=", 16) && strncmp(*e, "MOCKXEN_SOCKET=", 15) &&
            strncmp(*e, "XENSTORED_PATH=", 15))
            env[n++] = *e;
    snprintf(libpath, sizeof(libpath), "LD_LIBRARY_PATH=%s%s%s", shim ? shim : "", old ? ":" : "",
             old ? old : "");
    env[n++] = libpath;
    for (const char *const *e = mockhv_environ(fx->hv); *e && n < 510; e++)
        env[n++] = (char *)*e;
    env[n] = NULL;
    return env;
}

static void wait_running(struct fixture *fx)
{
    char path[64];
    long deadline = now_ms() + WAIT_MS;

    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", DOMID);
    for (;;) {
        unsigned len;
        char *v = xs_read(fx->xs, XBT_NULL, path, &len);
        bool running = v && strcmp(v, "running") == 0;
        int status;

        free(v);
        if (running)
            return;
        if (waitpid(fx->pid, &status, WNOHANG) == fx->pid) {
            dump_stderr(fx);
            fx->pid = 0;
            fail_msg("ioreqd exited (status 0x%x) before it was running", status);
        }
        if (now_ms() > deadline) {
            dump_stderr(fx);
            fail_msg("ioreqd never became running");
        }
        sleep_ms(10);
    }
}

static void start_ioreqd(struct fixture *fx, const char *extra)
{
    char spec[256];
    /* No control socket: tests run in parallel and would share the default path. */
    const char *argv[] = {ioreqd_path, "--domid",          "7",    "--foreground", "--log-level",
                          "info",      "--control-socket", "none", "--device",     spec,
                          NULL};

    snprintf(spec, sizeof(spec), "virtio-blk,file=%s,queues=%u,bdf=00:05.0,serial=e2e-disk%s",
             fx->img, NQ, extra ? extra : "");
    fx->pid = fork();
    assert_true(fx->pid >= 0);
    if (fx->pid == 0) {
        int fd = open(fx->errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        if (fd < 0 || null < 0)
            _exit(126);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execve(ioreqd_path, (char **)argv, child_env(fx));
        _exit(127);
    }
    wait_running(fx);
}

static void assert_alive(struct fixture *fx)
{
    int status;
    pid_t r = waitpid(fx->pid, &status, WNOHANG);

    if (r != 0)
        dump_stderr(fx);
    assert_int_equal(r, 0);
}

/* ---- guest accesses ---- */

static uint32_t cfg_rd(struct fixture *fx, unsigned reg, unsigned size)
{
    uint32_t v = 0;
    assert_int_equal(mockhv_cfg_read(fx->hv, 0, BDF, reg, size, &v, WAIT_MS), 0);
    return v;
}

static void cfg_wr(struct fixture *fx, unsigned reg, unsigned size, uint32_t v)
{
    assert_int_equal(mockhv_cfg_write(fx->hv, 0, BDF, reg, size, v, WAIT_MS), 0);
}

static uint64_t mm_rd(struct fixture *fx, uint64_t addr, unsigned size)
{
    uint64_t v = 0;
    assert_int_equal(mockhv_mmio_read(fx->hv, 0, addr, size, &v, WAIT_MS), 0);
    return v;
}

static void mm_wr(struct fixture *fx, uint64_t addr, unsigned size, uint64_t v)
{
    assert_int_equal(mockhv_mmio_write(fx->hv, 0, addr, size, v, WAIT_MS), 0);
}

static void ram_wr(struct fixture *fx, uint64_t gpa, const void *buf, size_t len)
{
    assert_int_equal(mockhv_ram_write(fx->hv, gpa, buf, len), 0);
}

static void ram_rd(struct fixture *fx, uint64_t gpa, void *buf, size_t len)
{
    assert_int_equal(mockhv_ram_read(fx->hv, gpa, buf, len), 0);
}

static void ram_w16(struct fixture *fx, uint64_t gpa, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    ram_wr(fx, gpa, b, 2);
}

static uint16_t ram_r16(struct fixture *fx, uint64_t gpa)
{
    uint8_t b[2];
    ram_rd(fx, gpa, b, 2);
    return (uint16_t)(b[0] | b[1] << 8);
}

static uint8_t status(struct fixture *fx)
{
    return (uint8_t)mm_rd(fx, fx->common + C_STATUS, 1);
}

/* ---- the driver ---- */

/* Firmware enumeration, then the virtio capabilities (4.1.4). */
static void probe(struct fixture *fx)
{
    struct mockhv_pci_func funcs[32];
    const struct mockhv_pci_func *vf = NULL;
    uint64_t bar_base[6] = {0};
    int n = mockhv_firmware_pci_init(fx->hv, 0, funcs, 32, WAIT_MS);
    unsigned cap;

    assert_true(n >= 1);
    for (int i = 0; i < n; i++)
        if (funcs[i].bdf == BDF)
            vf = &funcs[i];
    assert_non_null(vf);
    assert_int_equal(vf->vendor, 0x1af4);
    assert_int_equal(vf->device, 0x1042);
    assert_int_equal(vf->class_rev, 0x01000001);
    for (unsigned i = 0; i < vf->nr_bars; i++)
        bar_base[vf->bars[i].index] = vf->bars[i].base;
    assert_true(bar_base[4] != 0);

    cap = cfg_rd(fx, 0x34, 1);
    for (unsigned guard = 0; cap && guard < 48; guard++) {
        unsigned id = cfg_rd(fx, cap, 1);

        if (id == 0x09) {
            unsigned type = cfg_rd(fx, cap + 3, 1);
            unsigned bar = cfg_rd(fx, cap + 4, 1);
            uint64_t addr = bar < 6 ? bar_base[bar] + cfg_rd(fx, cap + 8, 4) : 0;

            if (type == CAP_COMMON)
                fx->common = addr;
            else if (type == CAP_ISR)
                fx->isr = addr;
            else if (type == CAP_DEVICE)
                fx->device = addr;
            else if (type == CAP_NOTIFY) {
                fx->notify = addr;
                fx->notify_mult = cfg_rd(fx, cap + 16, 4);
            }
        } else if (id == 0x11) {
            uint32_t t = cfg_rd(fx, cap + 4, 4);
            fx->msix_cap = cap;
            fx->msix_table = bar_base[t & 7] + (t & ~7u);
        }
        cap = cfg_rd(fx, cap + 1, 1);
    }
    assert_true(fx->common && fx->notify && fx->isr && fx->device && fx->msix_cap);
}

static uint64_t wanted_features(void)
{
    return (1ull << F_VERSION_1) | (1ull << F_EVENT_IDX) | (1ull << BLK_F_SEG_MAX) |
           (1ull << BLK_F_BLK_SIZE) | (1ull << BLK_F_FLUSH) | (1ull << BLK_F_MQ) |
           (1ull << BLK_F_DISCARD) | (1ull << BLK_F_WRITE_ZEROES);
}

/* 3.1.1 initialisation, two queues with MSI-X vectors 1 and 2, config on 0. */
static void driver_init(struct fixture *fx)
{
    uint64_t offered, want = wanted_features();

    cfg_wr(fx, fx->msix_cap + 2, 2, 0x8000);
    for (unsigned v = 0; v <= NQ; v++) {
        mm_wr(fx, fx->msix_table + 16 * v, 4, (uint32_t)MSI_ADDR);
        mm_wr(fx, fx->msix_table + 16 * v + 4, 4, 0);
        mm_wr(fx, fx->msix_table + 16 * v + 8, 4, MSI_DATA + v);
        mm_wr(fx, fx->msix_table + 16 * v + 12, 4, 0);
    }

    mm_wr(fx, fx->common + C_STATUS, 1, 0);
    assert_int_equal(status(fx), 0);
    mm_wr(fx, fx->common + C_STATUS, 1, ST_ACK);
    mm_wr(fx, fx->common + C_STATUS, 1, ST_ACK | ST_DRIVER);
    mm_wr(fx, fx->common + C_DFSELECT, 4, 0);
    offered = mm_rd(fx, fx->common + C_DF, 4);
    mm_wr(fx, fx->common + C_DFSELECT, 4, 1);
    offered |= mm_rd(fx, fx->common + C_DF, 4) << 32;
    assert_int_equal(offered & want, want);
    mm_wr(fx, fx->common + C_GFSELECT, 4, 0);
    mm_wr(fx, fx->common + C_GF, 4, (uint32_t)want);
    mm_wr(fx, fx->common + C_GFSELECT, 4, 1);
    mm_wr(fx, fx->common + C_GF, 4, (uint32_t)(want >> 32));
    mm_wr(fx, fx->common + C_STATUS, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    assert_int_equal(status(fx), ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    mm_wr(fx, fx->common + C_MSIX, 2, 0);
    assert_int_equal(mm_rd(fx, fx->common + C_NUMQ, 2), NQ);

    for (unsigned q = 0; q < NQ; q++) {
        struct gq *g = &fx->q[q];
        uint8_t zero[0x6000] = {0};

        g->size = QSIZE;
        g->desc = RINGS + q * 0x10000;
        g->avail = g->desc + 0x2000;
        g->used = g->desc + 0x4000;
        g->avail_idx = 0;
        ram_wr(fx, g->desc, zero, sizeof(zero));
        mm_wr(fx, fx->common + C_QSELECT, 2, q);
        assert_true(mm_rd(fx, fx->common + C_QSIZE, 2) >= QSIZE);
        mm_wr(fx, fx->common + C_QSIZE, 2, QSIZE);
        mm_wr(fx, fx->common + C_QDESC, 4, (uint32_t)g->desc);
        mm_wr(fx, fx->common + C_QDESC + 4, 4, 0);
        mm_wr(fx, fx->common + C_QAVAIL, 4, (uint32_t)g->avail);
        mm_wr(fx, fx->common + C_QAVAIL + 4, 4, 0);
        mm_wr(fx, fx->common + C_QUSED, 4, (uint32_t)g->used);
        mm_wr(fx, fx->common + C_QUSED + 4, 4, 0);
        mm_wr(fx, fx->common + C_QMSIX, 2, q + 1);
        assert_int_equal(mm_rd(fx, fx->common + C_QMSIX, 2), q + 1);
        g->noff = (uint16_t)mm_rd(fx, fx->common + C_QNOFF, 2);
        /* EVENT_IDX: used_event 0 asks for an interrupt once the first entry is used. */
        ram_w16(fx, g->avail + 4 + 2 * QSIZE, 0);
        mm_wr(fx, fx->common + C_QENABLE, 2, 1);
        assert_int_equal(mm_rd(fx, fx->common + C_QENABLE, 2), 1);
    }
    mm_wr(fx, fx->common + C_STATUS, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    assert_int_equal(status(fx), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

static void put_desc(struct fixture *fx, struct gq *g, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t d[16];

    for (int b = 0; b < 8; b++)
        d[b] = (uint8_t)(addr >> (8 * b));
    for (int b = 0; b < 4; b++)
        d[8 + b] = (uint8_t)(len >> (8 * b));
    d[12] = (uint8_t)flags;
    d[13] = (uint8_t)(flags >> 8);
    d[14] = (uint8_t)next;
    d[15] = (uint8_t)(next >> 8);
    ram_wr(fx, g->desc + 16u * i, d, 16);
}

static uint64_t hdr_addr(unsigned q, unsigned slot)
{
    return HDRS + q * 0x10000ull + slot * 32ull;
}

/*
 * Request `slot` (0..20) on queue q: header, an optional data buffer, status.
 * Descriptors 3*slot .. 3*slot+2; published but not notified.
 */
static void submit(struct fixture *fx, unsigned q, unsigned slot, uint32_t type, uint64_t sector,
                   uint64_t data, uint32_t len, bool writable)
{
    struct gq *g = &fx->q[q];
    uint64_t h = hdr_addr(q, slot);
    uint16_t d0 = (uint16_t)(3 * slot);
    uint8_t hdr[17] = {0};

    for (int b = 0; b < 4; b++)
        hdr[b] = (uint8_t)(type >> (8 * b));
    for (int b = 0; b < 8; b++)
        hdr[8 + b] = (uint8_t)(sector >> (8 * b));
    hdr[16] = 0xee;
    ram_wr(fx, h, hdr, sizeof(hdr));
    if (len) {
        put_desc(fx, g, d0, h, 16, DESC_NEXT, d0 + 1);
        put_desc(fx, g, d0 + 1, data, len, DESC_NEXT | (writable ? DESC_WRITE : 0), d0 + 2);
        put_desc(fx, g, d0 + 2, h + 16, 1, DESC_WRITE, 0);
    } else {
        put_desc(fx, g, d0, h, 16, DESC_NEXT, d0 + 1);
        put_desc(fx, g, d0 + 1, h + 16, 1, DESC_WRITE, 0);
    }
    ram_w16(fx, g->avail + 4 + 2u * (g->avail_idx % g->size), d0);
    g->avail_idx++;
    ram_w16(fx, g->avail + 2, g->avail_idx);
}

static void kick(struct fixture *fx, unsigned q)
{
    mm_wr(fx, fx->notify + (uint64_t)fx->q[q].noff * fx->notify_mult, 2, q);
}

static void wait_used(struct fixture *fx, unsigned q, uint16_t n)
{
    long deadline = now_ms() + WAIT_MS;

    while (ram_r16(fx, fx->q[q].used + 2) != n) {
        if (now_ms() > deadline) {
            dump_stderr(fx);
            fail_msg("queue %u: used idx %u, expected %u", q, ram_r16(fx, fx->q[q].used + 2), n);
        }
        assert_alive(fx);
        sleep_ms(1);
    }
}

static uint8_t req_status(struct fixture *fx, unsigned q, unsigned slot)
{
    uint8_t s;
    ram_rd(fx, hdr_addr(q, slot) + 16, &s, 1);
    return s;
}

/* Runs one request to completion on queue q and returns its status. */
static uint8_t run(struct fixture *fx, unsigned q, uint32_t type, uint64_t sector, uint64_t data,
                   uint32_t len, bool writable)
{
    uint16_t next = (uint16_t)(ram_r16(fx, fx->q[q].used + 2) + 1);

    submit(fx, q, 0, type, sector, data, len, writable);
    kick(fx, q);
    wait_used(fx, q, next);
    return req_status(fx, q, 0);
}

static void file_read(struct fixture *fx, uint64_t off, void *buf, size_t len)
{
    int fd = open(fx->img, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* Whether an MSI with this data was recorded; waits (bounded) for it to arrive. */
static bool msi_seen(struct fixture *fx, uint32_t data)
{
    struct mockhv_irq_record r;
    uint64_t seq = 0;

    /* The mock records injections as they come: earlier ones first, then wait for more. */
    while (mockhv_irq_wait(fx->hv, seq, &r, WAIT_MS) == 0) {
        if (r.kind == MOCKHV_IRQ_MSI && r.msi_addr == MSI_ADDR && r.msi_data == data)
            return true;
        seq = r.seq;
    }
    for (uint64_t i = 1; i <= mockhv_irq_last_seq(fx->hv); i++)
        if (mockhv_irq_get(fx->hv, i, &r) == 0)
            fprintf(stderr, "irq %llu: kind %d sbdf %x intx %u level %d msi %llx/%x\n",
                    (unsigned long long)i, r.kind, r.sbdf, r.intx, r.level,
                    (unsigned long long)r.msi_addr, r.msi_data);
    fprintf(stderr, "msix ctrl %#x\n", cfg_rd(fx, fx->msix_cap + 2, 2));
    dump_stderr(fx);
    return false;
}

static void bring_up(struct fixture *fx)
{
    start_ioreqd(fx, NULL);
    probe(fx);
    driver_init(fx);
}

/* ---- tests ---- */

static void test_identity(void **state)
{
    struct fixture *fx = *state;
    char id[21] = {0};

    bring_up(fx);
    /* capacity (le64 at 0), seg_max (12), blk_size (20), num_queues (34) */
    assert_int_equal(mm_rd(fx, fx->device, 4), IMG_SIZE / 512);
    assert_int_equal(mm_rd(fx, fx->device + 4, 4), 0);
    assert_int_equal(mm_rd(fx, fx->device + 12, 4), 254);
    assert_int_equal(mm_rd(fx, fx->device + 20, 4), 512);
    assert_int_equal(mm_rd(fx, fx->device + 34, 2), NQ);
    assert_int_equal(run(fx, 0, T_GET_ID, 0, DATA, 20, true), S_OK);
    ram_rd(fx, DATA, id, 20);
    assert_string_equal(id, "e2e-disk");
    assert_true(msi_seen(fx, MSI_DATA + 1));
}

static void test_read_write_verify(void **state)
{
    struct fixture *fx = *state;
    static uint8_t buf[65536], back[65536], file[65536];

    bring_up(fx);
    /* What the image holds. */
    assert_int_equal(run(fx, 0, T_IN, 0, DATA, 4096, true), S_OK);
    ram_rd(fx, DATA, buf, 4096);
    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(buf[i], pattern(i));

    /* 64 KiB written at sector 100, flushed, read back on the other queue. */
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    ram_wr(fx, DATA + 0x10000, buf, sizeof(buf));
    assert_int_equal(run(fx, 0, T_OUT, 100, DATA + 0x10000, sizeof(buf), false), S_OK);
    assert_int_equal(run(fx, 0, T_FLUSH, 0, 0, 0, false), S_OK);
    assert_int_equal(run(fx, 1, T_IN, 100, DATA + 0x20000, sizeof(buf), true), S_OK);
    ram_rd(fx, DATA + 0x20000, back, sizeof(back));
    assert_memory_equal(back, buf, sizeof(buf));
    file_read(fx, 100 * 512, file, sizeof(file));
    assert_memory_equal(file, buf, sizeof(buf));
    /* The neighbours are untouched. */
    file_read(fx, 100 * 512 - 1, file, 1);
    assert_int_equal(file[0], pattern(100 * 512 - 1));
    file_read(fx, 100 * 512 + sizeof(buf), file, 1);
    assert_int_equal(file[0], pattern(100 * 512 + sizeof(buf)));
    assert_true(msi_seen(fx, MSI_DATA + 1));
    assert_true(msi_seen(fx, MSI_DATA + 2));
    assert_alive(fx);
}

static void test_queues_in_flight(void **state)
{
    struct fixture *fx = *state;
    uint8_t buf[1024], file[1024];

    bring_up(fx);
    /* 16 writes on each queue, all published before either queue is notified. */
    for (unsigned q = 0; q < NQ; q++) {
        for (unsigned r = 0; r < 16; r++) {
            uint64_t data = DATA + (q * 16 + r) * 1024ull;

            memset(buf, (int)(0x10 * q + r + 1), sizeof(buf));
            ram_wr(fx, data, buf, sizeof(buf));
            submit(fx, q, r, T_OUT, 1000 + (q * 16 + r) * 2, data, sizeof(buf), false);
        }
    }
    kick(fx, 0);
    kick(fx, 1);
    wait_used(fx, 0, 16);
    wait_used(fx, 1, 16);
    for (unsigned q = 0; q < NQ; q++)
        for (unsigned r = 0; r < 16; r++)
            assert_int_equal(req_status(fx, q, r), S_OK);
    for (unsigned q = 0; q < NQ; q++) {
        for (unsigned r = 0; r < 16; r++) {
            memset(buf, (int)(0x10 * q + r + 1), sizeof(buf));
            file_read(fx, (1000 + (q * 16 + r) * 2) * 512ull, file, sizeof(file));
            assert_memory_equal(file, buf, sizeof(buf));
        }
    }
}

static void test_discard_write_zeroes(void **state)
{
    struct fixture *fx = *state;
    uint8_t seg[16] = {0}, file[4096], zero[4096] = {0};

    bring_up(fx);
    seg[0] = 50; /* sector 50, 8 sectors, no flags */
    seg[8] = 8;
    ram_wr(fx, DATA, seg, sizeof(seg));
    assert_int_equal(run(fx, 0, T_WRITE_ZEROES, 0, DATA, 16, false), S_OK);
    file_read(fx, 50 * 512, file, sizeof(file));
    assert_memory_equal(file, zero, sizeof(file));
    file_read(fx, 58 * 512, file, 1);
    assert_int_equal(file[0], pattern(58 * 512));

    seg[0] = 200;
    ram_wr(fx, DATA, seg, sizeof(seg));
    assert_int_equal(run(fx, 1, T_DISCARD, 0, DATA, 16, false), S_OK);
    file_read(fx, 199 * 512, file, 512);
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(file[i], pattern(199 * 512 + i));
}

static void test_hostile(void **state)
{
    struct fixture *fx = *state;
    struct gq *g = &fx->q[0];
    uint8_t buf[512];

    bring_up(fx);
    /* Content errors: status IOERR, the device goes on. */
    assert_int_equal(run(fx, 0, T_IN, IMG_SIZE / 512, DATA, 512, true), S_IOERR);
    assert_int_equal(run(fx, 0, T_OUT, 0, DATA, 100, false), S_IOERR);
    assert_int_equal(status(fx) & ST_NEEDS_RESET, 0);

    /* A buffer outside guest RAM: the device needs a reset and says so on vector 0. */
    submit(fx, 0, 1, T_IN, 0, 1ull << 40, 512, true);
    kick(fx, 0);
    {
        long deadline = now_ms() + WAIT_MS;
        while (!(status(fx) & ST_NEEDS_RESET)) {
            assert_true(now_ms() < deadline);
            sleep_ms(1);
        }
    }
    assert_true(msi_seen(fx, MSI_DATA + 0));
    assert_int_equal(req_status(fx, 0, 1), 0xee);
    assert_alive(fx);

    /* Reset, set up again, and work. */
    driver_init(fx);
    assert_int_equal(run(fx, 1, T_IN, 1, DATA, 512, true), S_OK);
    ram_rd(fx, DATA, buf, sizeof(buf));
    assert_int_equal(buf[0], pattern(512));

    /* A descriptor loop. */
    put_desc(fx, g, 10, hdr_addr(0, 2), 16, DESC_NEXT, 11);
    put_desc(fx, g, 11, hdr_addr(0, 2) + 16, 1, DESC_NEXT | DESC_WRITE, 11);
    ram_w16(fx, g->avail + 4, 10);
    g->avail_idx++;
    ram_w16(fx, g->avail + 2, g->avail_idx);
    kick(fx, 0);
    {
        long deadline = now_ms() + WAIT_MS;
        while (!(status(fx) & ST_NEEDS_RESET)) {
            assert_true(now_ms() < deadline);
            sleep_ms(1);
        }
    }
    /* The chain came back with nothing written. */
    wait_used(fx, 0, 1);
    assert_alive(fx);
    driver_init(fx);
    assert_int_equal(run(fx, 0, T_IN, 2, DATA, 512, true), S_OK);
}

static void wait_needs_reset(struct fixture *fx)
{
    long deadline = now_ms() + WAIT_MS;

    while (!(status(fx) & ST_NEEDS_RESET)) {
        if (now_ms() > deadline) {
            dump_stderr(fx);
            fail_msg("device never reported NEEDS_RESET");
        }
        assert_alive(fx);
        sleep_ms(1);
    }
}

/* Rings the driver gets wrong: each ends in NEEDS_RESET, and a reset recovers. */
static void test_hostile_rings(void **state)
{
    struct fixture *fx = *state;
    struct gq *g = &fx->q[1];

    bring_up(fx);
    /* avail idx far ahead of anything the queue could hold. */
    ram_w16(fx, g->avail + 2, QSIZE + 5);
    kick(fx, 1);
    wait_needs_reset(fx);
    assert_int_equal(ram_r16(fx, g->used + 2), 0);

    /* A status buffer of size 0 and nothing else writable. */
    driver_init(fx);
    put_desc(fx, g, 0, hdr_addr(1, 0), 16, DESC_NEXT, 1);
    put_desc(fx, g, 1, hdr_addr(1, 0) + 16, 0, DESC_WRITE, 0);
    ram_w16(fx, g->avail + 4, 0);
    ram_w16(fx, g->avail + 2, 1);
    kick(fx, 1);
    wait_needs_reset(fx);
    wait_used(fx, 1, 1);

    /* A queue size that is not a power of two. */
    driver_init(fx);
    mm_wr(fx, fx->common + C_STATUS, 1, 0);
    mm_wr(fx, fx->common + C_STATUS, 1, ST_ACK | ST_DRIVER);
    mm_wr(fx, fx->common + C_GFSELECT, 4, 1);
    mm_wr(fx, fx->common + C_GF, 4, 1);
    mm_wr(fx, fx->common + C_STATUS, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    mm_wr(fx, fx->common + C_QSELECT, 2, 0);
    mm_wr(fx, fx->common + C_QSIZE, 2, 48);
    mm_wr(fx, fx->common + C_QENABLE, 2, 1);
    wait_needs_reset(fx);
    assert_int_equal(mm_rd(fx, fx->common + C_QENABLE, 2), 0);

    /* Still serving. */
    driver_init(fx);
    assert_int_equal(run(fx, 0, T_IN, 0, DATA, 512, true), S_OK);
}

static void test_sigkill_after_flush(void **state)
{
    struct fixture *fx = *state;
    static uint8_t buf[256 << 10], file[256 << 10];
    int status;

    bring_up(fx);
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5c);
    ram_wr(fx, DATA, buf, sizeof(buf));
    assert_int_equal(run(fx, 0, T_OUT, 3000, DATA, 128 << 10, false), S_OK);
    assert_int_equal(run(fx, 1, T_OUT, 3000 + 256, DATA + (128 << 10), 128 << 10, false), S_OK);
    assert_int_equal(run(fx, 0, T_FLUSH, 0, 0, 0, false), S_OK);
    /* The flush completed: kill at once, no chance to tidy up. */
    kill(fx->pid, SIGKILL);
    assert_int_equal(waitpid(fx->pid, &status, 0), fx->pid);
    fx->pid = 0;
    assert_true(WIFSIGNALED(status));
    file_read(fx, 3000 * 512, file, sizeof(file));
    assert_memory_equal(file, buf, sizeof(buf));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_write_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queues_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_rings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_after_flush, setup, teardown),
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
