/*
 * virtio-blk as a guest sees it: ioreqd serves a virtio-blk disk on a raw
 * file, the guest driver of tools/guest (virtio-pci, split ring, MSI-X)
 * runs in this process on vCPU 0 and keeps a fixed number of requests in
 * flight on one queue for a fixed time:
 *   4 KiB random reads and writes at queue depth 1 and 32 (IOPS), and
 *   1 MiB sequential reads and writes, each 1 MiB being 16 requests of
 *   64 KiB in flight at once (the driver's largest transfer), in MiB/s.
 * The image is written back before each pattern. bench/run.sh runs fio
 * with the same patterns on the same file.
 */
#include "bench-vblk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-blk.h"

#define VBLK_DOMID 11
#define VBLK_MEM   (128ull << 20)

struct vblk_pattern {
    const char *name;
    uint32_t type;
    bool random;
    unsigned bs;
    unsigned qd;
};

static const struct vblk_pattern patterns[] = {
    {.name = "randread.qd1", .type = GVBLK_T_IN, .random = true, .bs = 4096, .qd = 1},
    {.name = "randread.qd32", .type = GVBLK_T_IN, .random = true, .bs = 4096, .qd = 32},
    {.name = "randwrite.qd1", .type = GVBLK_T_OUT, .random = true, .bs = 4096, .qd = 1},
    {.name = "randwrite.qd32", .type = GVBLK_T_OUT, .random = true, .bs = 4096, .qd = 32},
    {.name = "seqread.1m", .type = GVBLK_T_IN, .random = false, .bs = GVBLK_MAX_XFER, .qd = 16},
    {.name = "seqwrite.1m", .type = GVBLK_T_OUT, .random = false, .bs = GVBLK_MAX_XFER, .qd = 16},
};

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The device has returned something we have not taken yet (used.idx). */
static bool used_pending(struct gvblk *b, unsigned q)
{
    struct gvq *vq = b->queues[q].vq;
    uint16_t idx;

    if (mockhv_ram_read(b->dev.hv, vq->used + 2, &idx, sizeof(idx)))
        return false;
    return __atomic_load_n(&idx, __ATOMIC_ACQUIRE) != vq->last_used;
}

/* Whether name contains one of the comma-separated words of `only`. */
static bool pattern_chosen(const char *only, const char *name)
{
    char word[64];

    while (*only) {
        size_t n = strcspn(only, ",");

        if (n && n < sizeof(word)) {
            memcpy(word, only, n);
            word[n] = 0;
            if (strstr(name, word))
                return true;
        }
        only += n + (only[n] == ',');
    }
    return false;
}

static int make_file(const char *path, unsigned size_mib)
{
    static char chunk[1 << 20];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

    if (fd < 0)
        return errno == EEXIST ? 0 : -errno;
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)(i * 131 + (i >> 9));
    for (unsigned i = 0; i < size_mib; i++) {
        if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk)) {
            int rc = -errno;
            close(fd);
            return rc ? rc : -EIO;
        }
    }
    fsync(fd);
    close(fd);
    return 0;
}

/* Writes the image back before a pattern, so that no pattern pays for the
 * dirty page cache the one before it left: a device model that wrote more
 * in the last pattern would otherwise meet more write-back in the next. */
static void settle_image(const char *path)
{
    int fd = open(path, O_RDONLY);

    if (fd < 0)
        bench_die("%s: %s", path, strerror(errno));
    if (fsync(fd))
        bench_die("%s: fsync: %s", path, strerror(errno));
    close(fd);
}

static void run_pattern(struct gvblk *b, const struct vblk_pattern *p, unsigned run_ms,
                        const char *label)
{
    char name[96];
    static struct gvblk_req reqs[GVBLK_MAX_SLOTS];
    static char bufs[GVBLK_MAX_SLOTS][GVBLK_MAX_XFER];
    uint64_t blocks = b->capacity * GVBLK_SECTOR / p->bs, next = 0, rnd = 0x9e3779b97f4a7c15ull;
    uint64_t done = 0, bytes = 0, t0, t_end;
    unsigned inflight = 0;
    int rc;

    for (unsigned i = 0; i < p->qd; i++) {
        reqs[i] = (struct gvblk_req){.type = p->type, .buf = bufs[i], .len = p->bs};
        memset(bufs[i], (int)i, p->bs);
    }
    uint64_t notifies0 = b->queues[0].vq->notifies, irqs0 = b->queues[0].vq->interrupts;
    t0 = bench_now_ns();
    t_end = t0 + (uint64_t)run_ms * 1000000ull;
    for (unsigned i = 0; i < p->qd; i++) {
        uint64_t blk = p->random ? xorshift(&rnd) % blocks : next++ % blocks;
        reqs[i].sector = blk * (p->bs / GVBLK_SECTOR);
        rc = gvblk_submit(b, 0, &reqs[i]);
        if (rc)
            bench_die("vblk %s: submit: %s", p->name, strerror(-rc));
        inflight++;
    }
    if ((rc = gvblk_kick(b, 0)))
        bench_die("vblk %s: kick: %s", p->name, strerror(-rc));
    while (inflight) {
        struct gvblk_req *r;
        unsigned resubmitted = 0;

        /* Like a guest's interrupt handler: take every completion there is,
         * refill the ring, then notify once for the batch. */
        do {
            rc = gvblk_complete(b, 0, &r, BENCH_TIMEOUT_MS);
            if (rc)
                bench_die("vblk %s: complete: %s", p->name, strerror(-rc));
            if (r->status != GVBLK_S_OK)
                bench_die("vblk %s: status %s", p->name, gvblk_status_name(r->status));
            inflight--;
            done++;
            bytes += r->len;
            if (bench_now_ns() >= t_end)
                continue; /* drain what is in flight */
            uint64_t blk = p->random ? xorshift(&rnd) % blocks : next++ % blocks;
            r->sector = blk * (p->bs / GVBLK_SECTOR);
            if ((rc = gvblk_submit(b, 0, r)))
                bench_die("vblk %s: resubmit: %s", p->name, strerror(-rc));
            inflight++;
            resubmitted++;
        } while (inflight && used_pending(b, 0));
        if (resubmitted && (rc = gvblk_kick(b, 0)))
            bench_die("vblk %s: kick: %s", p->name, strerror(-rc));
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    snprintf(name, sizeof(name), "%s%s%s", label ? label : "", label ? "." : "", p->name);
    const struct gvq *vq = b->queues[0].vq;
    bench_resultf((double)(vq->notifies - notifies0) / (double)done, "vblk.%s.kicks_per_req", name);
    bench_resultf((double)(vq->interrupts - irqs0) / (double)done, "vblk.%s.irqs_per_req", name);
    bench_resultf((double)done / secs, "vblk.%s.iops", name);
    bench_resultf((double)bytes / secs / (1 << 20), "vblk.%s.mib_s", name);
}

int bench_vblk(const struct bench_vblk_opts *o)
{
    struct mockhv_config cfg = {
        .domid = VBLK_DOMID, .nr_vcpus = 2, .mem_bytes = VBLK_MEM, .xenstore = true};
    static struct gpci_bus bus;
    static struct gvblk blk;
    struct garena arena;
    struct mockhv *hv;
    struct dmproc dm = {0};
    struct bench_dm dmc = o->dm;
    char spec[4200];
    const char *extra[16];
    unsigned n = 0;
    const char *dm_name = o->dm.qemu ? "qemu" : "ioreqd";
    long rss;
    int rc;

    rc = make_file(o->file, o->size_mib);
    if (rc)
        bench_die("%s: %s", o->file, strerror(-rc));
    for (unsigned i = 0; o->dm.extra && o->dm.extra[i] && n < 10; i++)
        extra[n++] = o->dm.extra[i];
    if (o->dm.qemu) {
        /* QEMU's modern-only virtio-blk-pci (as ioreqd's) on a raw drive;
         * disk_opts are QEMU's -drive options (cache=..., aio=...). */
        snprintf(spec, sizeof(spec), "if=none,id=bench0,format=raw,file=%s%s%s", o->file,
                 o->disk_opts ? "," : "", o->disk_opts ? o->disk_opts : "");
        extra[n++] = "-drive";
        extra[n++] = spec;
        extra[n++] = "-device";
        extra[n++] = "virtio-blk-pci,disable-legacy=on,drive=bench0";
    } else {
        snprintf(spec, sizeof(spec), "virtio-blk,file=%s%s%s", o->file, o->disk_opts ? "," : "",
                 o->disk_opts ? o->disk_opts : "");
        extra[n++] = "--device";
        extra[n++] = "host-bridge";
        extra[n++] = "--device";
        extra[n++] = spec;
    }
    extra[n] = NULL;
    dmc.extra = extra;
    dmc.mem_mib = (unsigned)(VBLK_MEM >> 20);

    if ((rc = mockhv_create(&hv, &cfg)))
        bench_die("mockhv_create: %s", strerror(-rc));
    if ((rc = bench_dm_start(&dm, hv, &dmc, NULL)))
        bench_die("vblk: %s start: %s", dm_name, strerror(-rc));
    if ((rc = gpci_scan(&bus, hv, 0, BENCH_TIMEOUT_MS)))
        bench_die("vblk: PCI scan: %s", strerror(-rc));
    const struct mockhv_pci_func *fn =
        gpci_find(&bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    if (!fn)
        bench_die("vblk: no virtio-blk function");
    garena_init(&arena, 1 << 20, VBLK_MEM - (1 << 20));
    struct gvblk_opts opts = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = BENCH_TIMEOUT_MS, .msi_data_base = 0x40},
        .nr_queues = 1,
        .queue_size = 128,
    };
    if ((rc = gvblk_init(&blk, hv, &arena, &bus, fn, &opts)))
        bench_die("vblk: driver: %s", strerror(-rc));

    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (o->only && !pattern_chosen(o->only, patterns[i].name))
            continue;
        settle_image(o->file);
        run_pattern(&blk, &patterns[i], o->run_ms, o->label);
        if (i == 1 && (rss = bench_rss_kib(dm.pid, "VmRSS")) >= 0)
            bench_resultf((double)rss, "rss.%s.%s%safter_vblk_qd32_kib", dm_name,
                          o->label ? o->label : "", o->label ? "." : "");
    }
    bench_resultf((double)bench_rss_kib(dm.pid, "VmHWM"), "rss.%s.%s%svblk_peak_kib", dm_name,
                  o->label ? o->label : "", o->label ? "." : "");

    gvblk_fini(&blk);
    garena_fini(&arena);
    bench_dm_stop(&dm);
    mockhv_destroy(hv);
    return 0;
}
