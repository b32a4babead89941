/*
 * Device-level fault counters (dm-faults.h), one cause at a time with
 * exact counts: config accesses to an absent function, past a function's
 * config space or of a bad size, a BAR placed over another range, MSI-X
 * accesses across the table or PBA edge, notifications the virtio-pci
 * transport ignores (on a virtio-blk with a fake backend, driven through
 * the bus and BAR as a guest would), and each virtqueue error on a queue
 * over flat guest memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dm-faults.h"
#include "fake-blk.h"
#include "fake-platform.h"
#include "io-range.h"
#include "pci/pci.h"
#include "virtio-blk.h"
#include "virtio-pci.h"
#include "virtqueue.h"
#include "vq-driver.h"

#define MEM_SIZE (4u << 20)
#define BAR_ADDR 0xfe000000ull
#define SBDF     PCI_SBDF(0, 0, 5, 0)
#define QSIZE    8
#define RING     0x1000 /* desc; avail +0x400, used +0x800 */
#define HDR      0x8000
#define TABLE    0x9000

struct fx {
    uint8_t *mem;
    struct gmem *gm;
    struct io_registry *io;
    struct fake_platform fp;
    struct pci_bus *bus;
    struct fake_blk fb;
    struct vblk *blk;
    struct vpci *vp;
    struct vqd d;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vblk_params p = {.serial = "faults", .num_queues = 2};
    char err[256];

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    assert_non_null(f->mem);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->io = io_registry_new();
    f->bus = pci_bus_new(f->io, fake_platform_init(&f->fp));
    assert_non_null(f->bus);
    fake_blk_init(&f->fb, 1u << 20, false);
    assert_int_equal(vblk_new(&f->blk, &f->fb.be, &p, err, sizeof(err)), 0);
    assert_int_equal(vpci_new(&f->vp, f->bus, f->gm, vblk_vdev(f->blk), 5 << 3, err, sizeof(err)),
                     0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    vpci_free(f->vp);
    vblk_free(f->blk);
    pci_bus_free(f->bus);
    io_registry_free(f->io);
    gmem_free(f->gm);
    free(f->mem);
    free(f);
    return 0;
}

static const struct dm_faults *faults(struct fx *f)
{
    return pci_bus_faults(f->bus);
}

/* Every counter but `cause` is still 0, and `cause` is `n`. */
static void expect_only(struct fx *f, enum dm_fault cause, uint64_t n)
{
    for (unsigned c = 0; c < DM_FAULT_COUNT; c++)
        assert_int_equal(faults(f)->count[c], c == cause ? n : 0);
}

static void place_bar(struct fx *f)
{
    pci_bus_cfg_write(f->bus, SBDF, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR, 4, (uint32_t)BAR_ADDR);
    pci_bus_cfg_write(f->bus, SBDF, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR + 4, 4,
                      (uint32_t)(BAR_ADDR >> 32));
    pci_bus_cfg_write(f->bus, SBDF, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static uint64_t mmio_rd(struct fx *f, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, BAR_ADDR + off, size, 0, &v));
    return v;
}

static void mmio_wr(struct fx *f, uint64_t off, unsigned size, uint64_t v)
{
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, BAR_ADDR + off, size, 0, v));
}

static void test_names(void **state)
{
    static const char *const want[DM_FAULT_COUNT] = {
        "pci_no_function",     "pci_config_past_end", "pci_config_bad_size",  "pci_bar_refused",
        "msix_access_dropped", "virtq_loop",          "virtq_bad_index",      "virtq_bad_length",
        "virtq_outside_ram",   "virtq_bad_layout",    "virtio_notify_ignored"};

    (void)state;
    for (unsigned c = 0; c < DM_FAULT_COUNT; c++)
        assert_string_equal(dm_fault_name((enum dm_fault)c), want[c]);
    assert_string_equal(dm_fault_name(DM_FAULT_COUNT), "unknown");
    /* No counters: nothing happens. */
    dm_fault_count(NULL, DM_FAULT_VIRTQ_LOOP);
}

static void test_pci_no_function(void **state)
{
    struct fx *f = *state;

    assert_int_equal(pci_bus_cfg_read(f->bus, PCI_SBDF(0, 0, 9, 0), 0, 4), 0xffffffff);
    assert_int_equal(pci_bus_cfg_read(f->bus, PCI_SBDF(0, 0, 5, 1), 0, 2), 0xffff);
    pci_bus_cfg_write(f->bus, PCI_SBDF(0, 0, 9, 0), PCI_COMMAND, 2, 3);
    /* Another segment or bus: no function there either. */
    assert_int_equal(pci_bus_cfg_read(f->bus, PCI_SBDF(0, 1, 5, 0), 0, 4), 0xffffffff);
    expect_only(f, DM_FAULT_PCI_NO_FUNCTION, 4);
}

static void test_pci_config_past_end_and_bad_size(void **state)
{
    struct fx *f = *state;

    /* A conventional function decodes 256 bytes. */
    assert_int_equal(pci_bus_cfg_read(f->bus, SBDF, 0x100, 4), 0xffffffff);
    assert_int_equal(pci_bus_cfg_read(f->bus, SBDF, 0xffc, 4), 0xffffffff);
    pci_bus_cfg_write(f->bus, SBDF, 0x1000, 4, 0);
    expect_only(f, DM_FAULT_PCI_CONFIG_PAST_END, 3);
    /* Sizes other than 1, 2, 4, and accesses across a dword. */
    assert_int_equal(pci_bus_cfg_read(f->bus, SBDF, 0x00, 3), 0xffffff);
    assert_int_equal(pci_bus_cfg_read(f->bus, SBDF, 0x03, 2), 0xffff);
    pci_bus_cfg_write(f->bus, SBDF, 0x02, 4, 0);
    assert_int_equal(faults(f)->count[DM_FAULT_PCI_CONFIG_BAD_SIZE], 3);
    assert_int_equal(faults(f)->count[DM_FAULT_PCI_CONFIG_PAST_END], 3);
    /* Good accesses count nothing. */
    assert_int_equal(pci_bus_cfg_read(f->bus, SBDF, 0x00, 4), 0x10421af4);
    assert_int_equal(faults(f)->count[DM_FAULT_PCI_CONFIG_BAD_SIZE], 3);
    assert_int_equal(faults(f)->count[DM_FAULT_PCI_NO_FUNCTION], 0);
}

static uint64_t other_read(void *opaque, const struct io_access *a)
{
    return 0;
}

static void other_write(void *opaque, const struct io_access *a, uint64_t v)
{
}

static const struct io_ops other_ops = {.read = other_read, .write = other_write};

static void test_pci_bar_refused(void **state)
{
    struct fx *f = *state;
    struct io_range other = {.space = IO_SPACE_MMIO,
                             .base = BAR_ADDR + 0x1000,
                             .len = 0x1000,
                             .ops = &other_ops,
                             .name = "other"};

    assert_int_equal(io_map(f->io, &other), 0);
    place_bar(f);
    expect_only(f, DM_FAULT_PCI_BAR_REFUSED, 1);
    assert_int_equal(pci_dev_bar_addr(vpci_pci_dev(f->vp), VPCI_BAR), BAR_ADDR);
    assert_int_equal(vpci_pci_dev(f->vp)->bars[VPCI_BAR].mapped, PCI_BAR_UNMAPPED);
    /* Moved clear of it: mapped, nothing more counted. */
    pci_bus_cfg_write(f->bus, SBDF, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR, 4,
                      (uint32_t)BAR_ADDR + 0x10000);
    assert_int_equal(vpci_pci_dev(f->vp)->bars[VPCI_BAR].mapped, BAR_ADDR + 0x10000);
    expect_only(f, DM_FAULT_PCI_BAR_REFUSED, 1);
    io_unmap(f->io, IO_SPACE_MMIO, other.base);
}

static void test_msix_access_dropped(void **state)
{
    struct fx *f = *state;
    /* 2 queues + config: 3 entries of 16 bytes; the PBA is one qword. */
    const uint64_t table_end = VPCI_MSIX_TABLE_OFF + 3 * 16;

    place_bar(f);
    assert_int_equal(mmio_rd(f, table_end - 4, 8), 0xffffffffffffffffull);
    mmio_wr(f, table_end - 4, 8, 0);
    assert_int_equal(mmio_rd(f, VPCI_MSIX_PBA_OFF + 4, 8), 0xffffffffffffffffull);
    expect_only(f, DM_FAULT_MSIX_ACCESS_DROPPED, 3);
    /* Inside the table: served, not counted. */
    mmio_wr(f, VPCI_MSIX_TABLE_OFF, 4, 0xfee00000);
    assert_int_equal(mmio_rd(f, VPCI_MSIX_TABLE_OFF, 4), 0xfee00000);
    expect_only(f, DM_FAULT_MSIX_ACCESS_DROPPED, 3);
}

static void notify(struct fx *f, unsigned q)
{
    mmio_wr(f, VPCI_NOTIFY_OFF + q * VPCI_NOTIFY_MULT, 2, q);
}

static void common_wr(struct fx *f, unsigned off, unsigned size, uint64_t v)
{
    mmio_wr(f, VPCI_COMMON_OFF + off, size, v);
}

static void test_virtio_notify_ignored(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    /* Before any queue is enabled, and for queues the device does not have. */
    notify(f, 0);
    notify(f, 2);
    notify(f, 1023);
    expect_only(f, DM_FAULT_VIRTIO_NOTIFY_IGNORED, 3);
    /* An enabled queue before DRIVER_OK. */
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 1); /* VERSION_1 */
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1,
              VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    vqd_init(&f->d, f->mem, QSIZE, RING, RING + 0x400, RING + 0x800);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 8, RING);
    common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, RING + 0x400);
    common_wr(f, VIRTIO_PCI_COMMON_Q_USEDLO, 8, RING + 0x800);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    notify(f, 0);
    expect_only(f, DM_FAULT_VIRTIO_NOTIFY_IGNORED, 4);
    /* Live: acted on, not counted. */
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
    notify(f, 0);
    expect_only(f, DM_FAULT_VIRTIO_NOTIFY_IGNORED, 4);
    /* A malformed chain: the queue breaks (counted as its cause), later notifications ignored. */
    vqd_set_desc(&f->d, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 0);
    vqd_publish(&f->d, 0);
    notify(f, 0);
    assert_int_equal(faults(f)->count[DM_FAULT_VIRTQ_LOOP], 1);
    assert_true(vpci_status(f->vp) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    notify(f, 0);
    assert_int_equal(faults(f)->count[DM_FAULT_VIRTIO_NOTIFY_IGNORED], 5);
    assert_int_equal(f->fb.nr_ops, 0);
}

/* ---- virtqueue errors, on a queue of its own over flat memory ---- */

struct vfx {
    uint8_t *mem;
    struct gmem *gm;
    struct dm_faults faults;
    struct virtq vq;
    struct vqd d;
    struct virtq_req req;
};

static int vsetup(void **state)
{
    struct vfx *v = calloc(1, sizeof(*v));

    assert_non_null(v);
    v->mem = calloc(1, MEM_SIZE);
    assert_non_null(v->mem);
    v->gm = gmem_flat_new(v->mem, MEM_SIZE);
    virtq_init(&v->vq, 0, v->gm);
    v->vq.faults = &v->faults;
    *state = v;
    return 0;
}

static int vteardown(void **state)
{
    struct vfx *v = *state;

    virtq_stop(&v->vq);
    gmem_free(v->gm);
    free(v->mem);
    free(v);
    return 0;
}

/* A fresh start of the queue (as after a reset), with or without indirect descriptors. */
static void vstart(struct vfx *v, unsigned feats)
{
    memset(v->mem + RING, 0, 0x1000);
    vqd_init(&v->d, v->mem, QSIZE, RING, RING + 0x400, RING + 0x800);
    assert_int_equal(virtq_start(&v->vq, QSIZE, RING, RING + 0x400, RING + 0x800, feats), 0);
}

/* Publishes head, pops: the queue refuses it; returns the counters. */
static const struct dm_faults *vrefuse(struct vfx *v, uint16_t head)
{
    vqd_publish(&v->d, head);
    assert_int_equal(virtq_pop(&v->vq, &v->req), -EINVAL);
    /* Broken now: later pops count nothing more. */
    assert_int_equal(virtq_pop(&v->vq, &v->req), -EINVAL);
    return &v->faults;
}

static void vexpect(struct vfx *v, const uint64_t want[DM_FAULT_COUNT])
{
    for (unsigned c = 0; c < DM_FAULT_COUNT; c++)
        assert_int_equal(v->faults.count[c], want[c]);
}

static void test_virtq_errors(void **state)
{
    struct vfx *v = *state;
    uint64_t want[DM_FAULT_COUNT] = {0};

    /* A loop: 0 -> 1 -> 0. */
    vstart(v, 0);
    vqd_set_desc(&v->d, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&v->d, 1, HDR + 16, 16, VIRTQ_DESC_F_NEXT, 0);
    vrefuse(v, 0);
    want[DM_FAULT_VIRTQ_LOOP] = 1;
    vexpect(v, want);

    /* Bad indices: a head past the queue, a next past it, avail idx far ahead. */
    vstart(v, 0);
    vrefuse(v, QSIZE);
    vstart(v, 0);
    vqd_set_desc(&v->d, 0, HDR, 16, VIRTQ_DESC_F_NEXT, QSIZE + 3);
    vrefuse(v, 0);
    vstart(v, 0);
    vqd_set_avail_idx(&v->d, QSIZE + 1);
    assert_int_equal(virtq_pop(&v->vq, &v->req), -EINVAL);
    want[DM_FAULT_VIRTQ_BAD_INDEX] = 3;
    vexpect(v, want);

    /* Outside guest RAM, directly and as an indirect table. */
    vstart(v, VIRTQ_FEAT_INDIRECT);
    vqd_set_desc(&v->d, 0, MEM_SIZE - 8, 16, 0, 0);
    vrefuse(v, 0);
    vstart(v, VIRTQ_FEAT_INDIRECT);
    vqd_set_desc(&v->d, 0, 1ull << 40, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vrefuse(v, 0);
    want[DM_FAULT_VIRTQ_OUTSIDE_RAM] = 2;
    vexpect(v, want);

    /* Bad length: 65 descriptors of 2 MiB are more than a chain may describe (128 MiB). */
    vstart(v, VIRTQ_FEAT_INDIRECT);
    for (uint16_t i = 0; i < 65; i++)
        vqd_set_desc_at(v->mem, TABLE, i, 0, 2u << 20, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
    vqd_set_desc_at(v->mem, TABLE, 65, HDR, 1, VIRTQ_DESC_F_WRITE, 0);
    vqd_set_desc(&v->d, 0, TABLE, 66 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    vrefuse(v, 0);
    want[DM_FAULT_VIRTQ_BAD_LENGTH] = 1;
    vexpect(v, want);

    /* Bad layout: indirect not negotiated, and a readable buffer after a writable one. */
    vstart(v, 0);
    vqd_set_desc_at(v->mem, TABLE, 0, HDR, 16, 0, 0);
    vqd_set_desc(&v->d, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vrefuse(v, 0);
    vstart(v, 0);
    vqd_set_desc(&v->d, 0, HDR, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    vqd_set_desc(&v->d, 1, HDR + 16, 16, 0, 0);
    vrefuse(v, 0);
    want[DM_FAULT_VIRTQ_BAD_LAYOUT] = 2;
    vexpect(v, want);

    /* A good chain counts nothing. */
    vstart(v, 0);
    vqd_set_desc(&v->d, 0, HDR, 16, 0, 0);
    vqd_publish(&v->d, 0);
    assert_int_equal(virtq_pop(&v->vq, &v->req), 0);
    virtq_req_release(&v->vq, &v->req);
    vexpect(v, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_pci_no_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_config_past_end_and_bad_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_bar_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msix_access_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_virtio_notify_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_virtq_errors, vsetup, vteardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
