/*
 * The shared fixture of the virtio-blk e2e tests (see vblk-fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vblk-fixture.h"

#include "ioreqd-fixture.h"

const char *ioreqd_path;

/* The disk's initial content: sector s holds bytes of a stream seeded by s. */
void initial_sectors(uint8_t *buf, uint64_t sector, size_t nr)
{
    for (size_t i = 0; i < nr; i++)
        gvblk_fill_pattern(buf + i * GVBLK_SECTOR, GVBLK_SECTOR, DISK_SEED + sector + i);
}

void file_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->disk, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void make_disk(struct fx *f)
{
    size_t nr = DISK_BYTES / GVBLK_SECTOR;
    uint8_t *img = malloc(DISK_BYTES);
    int fd;

    assert_non_null(img);
    initial_sectors(img, 0, nr);
    fd = open(f->disk, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, DISK_BYTES), (ssize_t)DISK_BYTES);
    close(fd);
    free(img);
}

/* The two FIFOs of sync-trace.c's hold, opened here first so that ioreqd's opens do not wait. */
static void make_hold(struct fx *f)
{
    char entered[340], release[340];

    assert_int_equal(scratch_path(f->hold, sizeof(f->hold), f->dir, "hold"), 0);
    assert_int_equal(mkdir(f->hold, 0700), 0);
    snprintf(entered, sizeof(entered), "%s/entered", f->hold);
    snprintf(release, sizeof(release), "%s/release", f->hold);
    assert_int_equal(mkfifo(entered, 0600), 0);
    assert_int_equal(mkfifo(release, 0600), 0);
    f->hold_entered = open(entered, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    f->hold_release = open(release, O_RDWR | O_CLOEXEC);
    assert_true(f->hold_entered >= 0);
    assert_true(f->hold_release >= 0);
}

int fx_hold_wait(struct fx *f)
{
    struct pollfd p = {.fd = f->hold_entered, .events = POLLIN};
    char c;

    if (poll(&p, 1, TIMEOUT_MS) != 1)
        return -ETIMEDOUT;
    return read(f->hold_entered, &c, 1) == 1 ? 0 : -EIO;
}

void fx_hold_release(struct fx *f)
{
    assert_int_equal(write(f->hold_release, "r", 1), 1);
}

void fx_hold_end(struct fx *f)
{
    /* Closing the last writer: the library's reads see end-of-file and hold nothing more. */
    if (f->hold_release >= 0)
        close(f->hold_release);
    f->hold_release = -1;
}

static void start_ioreqd(struct fx *f)
{
    char blk[400], poll[16];
    const char *devices[] = {"host-bridge", blk, f->cfg.uart ? "uart,com=1,backend=null" : NULL,
                             NULL};
    const char *more[] = {"--poll-us", poll, NULL};
    const char *asan = getenv("ASAN_OPTIONS");
    char preload[512], file[340], log[340], delay[64], asan_opts[512], hold[340];
    /* A sanitizer runtime must accept a preloaded library ahead of it. */
    const char *trace_env[] = {preload, file, log, asan_opts, delay, NULL};

    if (f->cfg.sync_trace) {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", VBLK_SYNC_TRACE_LIB);
        snprintf(file, sizeof(file), "IOREQD_SYNC_TRACE_FILE=%s", f->disk);
        snprintf(log, sizeof(log), "IOREQD_SYNC_TRACE_LOG=%s", f->trace);
        snprintf(delay, sizeof(delay), "IOREQD_SYNC_TRACE_DELAY_MS=%d", SYNC_TRACE_DELAY_MS);
        snprintf(asan_opts, sizeof(asan_opts), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                 asan ? asan : "", asan && *asan ? ":" : "");
        if (f->cfg.sync_hold) {
            make_hold(f);
            snprintf(hold, sizeof(hold), "IOREQD_SYNC_TRACE_HOLD=%s", f->hold);
            trace_env[4] = hold; /* instead of the delay */
        }
    }

    snprintf(poll, sizeof(poll), "%u", f->cfg.poll_us);
    snprintf(blk, sizeof(blk), "virtio-blk,file=%s,queues=%u,serial=%s%s%s", f->disk, f->cfg.queues,
             SERIAL, f->cfg.readonly ? ",readonly=on" : "",
             f->cfg.spec_extra ? f->cfg.spec_extra : "");
    e2e_ioreqd_start(&f->dm, f->hv,
                     &(struct e2e_ioreqd){
                         .program = ioreqd_path,
                         .domid = DOMID,
                         .devices = devices,
                         .control_socket = f->ctl,
                         .log = "stderr",
                         .more = more,
                         .log_path = f->log,
                         .env = f->cfg.sync_trace ? trace_env : NULL,
                     },
                     TIMEOUT_MS);
}

/* A guest-side step that failed: ioreqd's log says why, or whether it is gone. */
static void expect_step(struct fx *f, int rc, const char *what)
{
    if (rc) {
        dmproc_dump_log(&f->dm);
        fail_msg("%s: %s", what, strerror(-rc));
    }
}

int setup(void **state)
{
    const struct fx_cfg *cfg = *state;
    const struct mockhv_pci_func *fn;
    struct fx *f = calloc(1, sizeof(*f));
    struct mockhv_config hc = {
        .domid = DOMID,
        .nr_vcpus = cfg->vcpus,
        .mem_bytes = RAM,
        .xenstore = true,
    };
    struct gvblk_opts opts = {
        .virtio = {.irq = cfg->irq,
                   .timeout_ms = TIMEOUT_MS,
                   .msi_data_base = 0x50,
                   .pirq_base = 48},
        .nr_queues = cfg->queues,
        .queue_size = 64,
        .indirect = cfg->indirect,
    };

    assert_non_null(f);
    f->cfg = *cfg;
    f->hold_entered = f->hold_release = -1;
    assert_int_equal(scratch_dir_create(f->dir, sizeof(f->dir), "e2e-virtio-blk"), 0);
    assert_int_equal(scratch_path(f->disk, sizeof(f->disk), f->dir, "disk.img"), 0);
    assert_int_equal(scratch_path(f->log, sizeof(f->log), f->dir, "ioreqd.log"), 0);
    assert_int_equal(scratch_path(f->ctl, sizeof(f->ctl), f->dir, "ioreqd.sock"), 0);
    assert_int_equal(scratch_path(f->trace, sizeof(f->trace), f->dir, "sync-trace.log"), 0);
    make_disk(f);
    assert_int_equal(mockhv_create(&f->hv, &hc), 0);
    start_ioreqd(f);

    f->bus = calloc(1, sizeof(*f->bus));
    assert_non_null(f->bus);
    garena_init(&f->arena, 1 << 20, RAM - (1 << 20));
    expect_step(f, gpci_scan(f->bus, f->hv, 0, TIMEOUT_MS), "PCI scan");
    fn = gpci_find(f->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    assert_non_null(fn);
    expect_step(f, gvblk_init(&f->blk, f->hv, &f->arena, f->bus, fn, &opts), "virtio-blk bring-up");
    f->blk_up = true;
    for (unsigned q = 0; q < f->blk.nr_queues; q++)
        f->blk.queues[q].vq->vcpu = q % cfg->vcpus;
    assert_int_equal(f->blk.nr_queues, cfg->queues);
    assert_int_equal(f->blk.capacity, DISK_BYTES / GVBLK_SECTOR);
    *state = f;
    return 0;
}

int teardown(void **state)
{
    struct fx *f = *state;
    int rc = 0;

    /* A sync still held would keep ioreqd from stopping. */
    fx_hold_end(f);
    if (f->blk_up && f->dm.pid)
        gvblk_fini(&f->blk);
    else if (f->blk_up)
        gvblk_forget(&f->blk);
    if (f->dm.pid)
        rc = dmproc_stop_clean(&f->dm, SIGTERM, TIMEOUT_MS);
    dmproc_fini(&f->dm);
    if (f->hold_entered >= 0)
        close(f->hold_entered);
    mockhv_destroy(f->hv);
    garena_fini(&f->arena);
    if (scratch_dir_remove(f->dir) && !rc)
        rc = -1;
    free(f->bus);
    free(f);
    return rc;
}
