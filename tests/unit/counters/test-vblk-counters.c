/*
 * virtio-blk counters: the core's per-type request counts, bytes counted
 * only for reads and writes the backend completed, I/O errors and
 * unsupported requests (on a fake backend whose results the test chooses);
 * and the device type's counters hook, on a virtio-blk made through the
 * device table and driven over its PCI BAR, reporting them under fixed names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "counter-sink.h"
#include "fake-blk.h"
#include "fake-hv.h"
#include "pci/pci.h"
#include "virtio-blk.h"
#include "virtio-pci.h"
#include "vq-driver.h"

#define MEM_SIZE (1u << 20)
#define QSIZE    64
#define RING     0x1000
#define HDRS     0x10000
#define DATA     0x20000

struct fx {
    uint8_t *mem;
    struct gmem *gm;
    struct virtio_transport t;
    struct virtq vq;
    struct vqd d;
    struct event_base *base;
    struct fake_blk fake;
    struct vblk *blk;
    unsigned slot;
};

static struct virtq *t_queue(void *opaque, unsigned index)
{
    struct fx *f = opaque;
    return index == 0 ? &f->vq : NULL;
}

static void t_notify_queue(void *opaque, unsigned index)
{
}

static void t_notify_config(void *opaque)
{
}

static void t_needs_reset(void *opaque)
{
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vblk_params p = {.serial = "counted", .num_queues = 1};
    char err[160];

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    assert_non_null(f->mem);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->base = event_base_new();
    p.base = f->base;
    fake_blk_init(&f->fake, 1u << 20, false);
    assert_int_equal(vblk_new(&f->blk, &f->fake.be, &p, err, sizeof(err)), 0);
    f->t = (struct virtio_transport){
        .queue = t_queue,
        .notify_queue = t_notify_queue,
        .notify_config = t_notify_config,
        .needs_reset = t_needs_reset,
        .opaque = f,
    };
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    vdev->transport = &f->t;
    vqd_init(&f->d, f->mem, QSIZE, RING, RING + 0x1000, RING + 0x2000);
    virtq_init(&f->vq, 0, f->gm);
    assert_int_equal(virtq_start(&f->vq, QSIZE, RING, RING + 0x1000, RING + 0x2000, 0), 0);
    assert_int_equal(vdev->ops->set_features(vdev, vdev->ops->features(vdev)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    vblk_free(f->blk);
    virtq_stop(&f->vq);
    gmem_free(f->gm);
    event_base_free(f->base);
    free(f->mem);
    free(f);
    return 0;
}

/* header, one data buffer (if len), status; returns the header gpa. */
static uint64_t submit(struct fx *f, uint32_t type, uint64_t sector, uint32_t len, bool writable)
{
    uint64_t h = HDRS + 32u * f->slot++;
    struct vqd_buf bufs[3] = {{h, 16, false}};
    unsigned n = 1;

    put32(f->mem + h, type);
    put32(f->mem + h + 4, 0);
    put64(f->mem + h + 8, sector);
    f->mem[h + 16] = 0xee;
    if (len)
        bufs[n++] = (struct vqd_buf){DATA, len, writable};
    bufs[n++] = (struct vqd_buf){h + 16, 1, true};
    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, n));
    return h;
}

static void kick(struct fx *f)
{
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    vdev->ops->queue_notify(vdev, 0);
}

static void test_counts_by_type_and_outcome(void **state)
{
    struct fx *f = *state;
    struct vblk_stats st;
    uint64_t h[8];

    h[0] = submit(f, VIRTIO_BLK_T_IN, 0, 4096, true);               /* op 0: completes */
    h[1] = submit(f, VIRTIO_BLK_T_IN, 12, 1024, true);              /* op 1: fails */
    h[2] = submit(f, VIRTIO_BLK_T_OUT, 16, 2048, false);            /* op 2: completes */
    h[3] = submit(f, VIRTIO_BLK_T_OUT, 24, 512, false);             /* op 3: fails */
    h[4] = submit(f, VIRTIO_BLK_T_FLUSH, 0, 0, false);              /* op 4: completes */
    h[5] = submit(f, VIRTIO_BLK_T_GET_ID, 0, 20, true);             /* no backend op */
    h[6] = submit(f, 0x7777, 0, 0, false);                          /* unknown type */
    h[7] = submit(f, VIRTIO_BLK_T_IN, (1u << 20) / 512, 512, true); /* past the end */
    kick(f);

    /* Submitted but not completed: counted by type, no bytes yet. */
    vblk_get_stats(f->blk, &st);
    assert_int_equal(f->fake.nr_ops, 5);
    assert_int_equal(st.requests, 8);
    assert_int_equal(st.reads, 3);
    assert_int_equal(st.writes, 2);
    assert_int_equal(st.flushes, 1);
    assert_int_equal(st.get_ids, 1);
    assert_int_equal(st.discards, 0);
    assert_int_equal(st.write_zeroes, 0);
    assert_int_equal(st.read_bytes, 0);
    assert_int_equal(st.write_bytes, 0);
    assert_int_equal(st.ioerr, 1);
    assert_int_equal(st.unsupp, 1);

    fake_blk_complete(&f->fake, 0, 0);
    fake_blk_complete(&f->fake, 1, -EIO);
    fake_blk_complete(&f->fake, 2, 0);
    fake_blk_complete(&f->fake, 3, -ENOSPC);
    fake_blk_complete(&f->fake, 4, 0);
    assert_int_equal(vqd_used_idx(&f->d), 8);
    assert_int_equal(f->mem[h[0] + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[h[1] + 16], VIRTIO_BLK_S_IOERR);
    assert_int_equal(f->mem[h[6] + 16], VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(f->mem[h[7] + 16], VIRTIO_BLK_S_IOERR);

    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.requests, 8);
    assert_int_equal(st.read_bytes, 4096);
    assert_int_equal(st.write_bytes, 2048);
    assert_int_equal(st.ioerr, 3);
    assert_int_equal(st.unsupp, 1);
}

/* ---- the device type's hook, on an instance made through the device table ---- */

#define BAR_ADDR  0xfe000000ull
#define SBDF      PCI_SBDF(0, 0, 5, 0)
#define PCI_RING  0x1000 /* desc; avail +0x400, used +0x800 */
#define PCI_HDR   0x8000
#define PCI_DATA  0x10000
#define PCI_QSIZE 32 /* room for the 19 descriptors below */

struct pfx {
    uint8_t *mem;
    struct gmem *gm;
    struct io_registry *io;
    struct event_base *base;
    struct fake_hv fp;
    struct device_env env;
    const struct device_type *type;
    void *dev;
    struct vqd d;
    char path[40];
};

static void common_wr(struct pfx *f, unsigned off, unsigned size, uint64_t v)
{
    assert_true(
        io_dispatch_write(f->io, IO_SPACE_MMIO, BAR_ADDR + VPCI_COMMON_OFF + off, size, 0, v));
}

/* What a driver does: BAR, features, queue 0, DRIVER_OK. */
static void bring_up(struct pfx *f)
{
    const uint64_t features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
    const uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

    pci_bus_cfg_write(f->env.pci, SBDF, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR, 4, (uint32_t)BAR_ADDR);
    pci_bus_cfg_write(f->env.pci, SBDF, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR + 4, 4,
                      (uint32_t)(BAR_ADDR >> 32));
    pci_bus_cfg_write(f->env.pci, SBDF, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, s);
    common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
    common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    common_wr(f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> 32));
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, s | VIRTIO_STATUS_FEATURES_OK);
    vqd_init(&f->d, f->mem, PCI_QSIZE, PCI_RING, PCI_RING + 0x400, PCI_RING + 0x800);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, PCI_QSIZE);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, PCI_RING);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, PCI_RING + 0x400);
    common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_USEDLO, 8, PCI_RING + 0x800);
    common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1,
              s | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static uint64_t pci_submit(struct pfx *f, unsigned n, uint32_t type, uint64_t sector, uint32_t len,
                           bool writable)
{
    uint64_t h = PCI_HDR + 32u * n;
    struct vqd_buf bufs[3] = {{h, 16, false}};
    unsigned nb = 1;

    put32(f->mem + h, type);
    put32(f->mem + h + 4, 0);
    put64(f->mem + h + 8, sector);
    f->mem[h + 16] = 0xee;
    if (len)
        bufs[nb++] = (struct vqd_buf){PCI_DATA + 0x1000u * n, len, writable};
    bufs[nb++] = (struct vqd_buf){h + 16, 1, true};
    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, nb));
    return h;
}

static int pci_setup(void **state)
{
    struct pfx *f = calloc(1, sizeof(*f));
    struct device_spec spec;
    char text[96], err[200];
    int fd;

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->io = io_registry_new();
    f->base = event_base_new();
    snprintf(f->path, sizeof(f->path), "/tmp/test-vblk-counters-XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    f->env = (struct device_env){.domid = 1, .io = f->io, .gmem = f->gm, .base = f->base};
    f->env.hv = fake_hv_init(&f->fp);
    f->env.pci = pci_bus_new(f->io, f->env.hv);
    assert_non_null(f->env.pci);
    f->type = device_type_find("virtio-blk");
    assert_non_null(f->type);
    assert_non_null(f->type->report);
    snprintf(text, sizeof(text), "virtio-blk,file=%s,bdf=00:05.0,aio=threads", f->path);
    assert_int_equal(device_spec_parse(text, &spec, err, sizeof(err)), 0);
    assert_int_equal(f->type->create(&f->env, &spec, &f->dev, err, sizeof(err)), 0);
    device_spec_free(&spec);
    *state = f;
    return 0;
}

static int pci_teardown(void **state)
{
    struct pfx *f = *state;

    f->type->destroy(f->dev);
    pci_bus_free(f->env.pci);
    io_registry_free(f->io);
    gmem_free(f->gm);
    event_base_free(f->base);
    unlink(f->path);
    free(f->mem);
    free(f);
    return 0;
}

static void test_device_type_counters(void **state)
{
    static const char *const names[] = {"requests",    "reads",        "writes",      "flushes",
                                        "discards",    "write_zeroes", "get_ids",     "read_bytes",
                                        "write_bytes", "io_errors",    "unsupported", "merged"};
    /* After the requests below, in the order of names[]. */
    static const uint64_t expect[] = {7, 3, 1, 1, 0, 0, 1, 1024 + 512, 2048, 1, 1, 1};
    struct pfx *f = *state;
    struct counter_log l;
    char id[512], want[512];

    /* What the inventory holds: where and what, and it does not change with use. */
    snprintf(want, sizeof(want), "00:05.0 1af4:1042 file=%s queues=1 cache=writeback aio=threads",
             f->path);
    device_identity(f->type, f->dev, id, sizeof(id));
    assert_string_equal(id, want);

    /* Fresh: every counter, in order, at zero. */
    counter_log_take(&l, f->type, f->dev);
    assert_int_equal(l.overflow, 0);
    assert_int_equal(l.nr, ARRAY_SIZE(names));
    for (unsigned i = 0; i < l.nr; i++) {
        assert_string_equal(l.rec[i].name, names[i]);
        assert_int_equal(l.rec[i].value, 0);
    }

    bring_up(f);
    pci_submit(f, 0, VIRTIO_BLK_T_OUT, 0, 2048, false);
    pci_submit(f, 1, VIRTIO_BLK_T_IN, 0, 1024, true);
    pci_submit(f, 2, VIRTIO_BLK_T_IN, 2, 512, true); /* continues the read before */
    pci_submit(f, 3, VIRTIO_BLK_T_FLUSH, 0, 0, false);
    pci_submit(f, 4, VIRTIO_BLK_T_GET_ID, 0, 20, true);
    pci_submit(f, 5, 0x7777, 0, 0, false);
    pci_submit(f, 6, VIRTIO_BLK_T_IN, (1u << 20) / 512, 512, true); /* past the end */
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, BAR_ADDR + VPCI_NOTIFY_OFF, 2, 0, 0));
    /* The raw backend completes on its threads, through the loop (bounded). */
    for (unsigned i = 0; i < 10000 && vqd_used_idx(&f->d) < 7; i++)
        assert_true(event_base_loop(f->base, EVLOOP_ONCE) >= 0);
    assert_int_equal(vqd_used_idx(&f->d), 7);

    counter_log_take(&l, f->type, f->dev);
    assert_int_equal(l.nr, ARRAY_SIZE(names));
    for (unsigned i = 0; i < l.nr; i++) {
        assert_string_equal(l.rec[i].name, names[i]);
        if (l.rec[i].value != expect[i])
            fail_msg("%s = %llu, expected %llu", names[i], (unsigned long long)l.rec[i].value,
                     (unsigned long long)expect[i]);
    }
    device_identity(f->type, f->dev, id, sizeof(id));
    assert_string_equal(id, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_by_type_and_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_type_counters, pci_setup, pci_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
