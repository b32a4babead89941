/*
 * virtio-pci with a virtio-blk core on a fake backend, driven the way a
 * guest drives it: config cycles through pci_bus_cfg_read/write and BAR
 * accesses through io_dispatch_* on a test registry. Interrupts are recorded
 * by a fake hv_services.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-blk.h"
#include "fake-hv.h"
#include "io-range.h"
#include "pci-conformance.h"
#include "virtio-blk.h"
#include "virtio-pci.h"
#include "vq-driver.h"

#define MEM_SIZE (2u << 20)
#define BAR_ADDR 0xfe000000ull
#define SBDF     PCI_SBDF(0, 0, 5, 0)
#define NQ       2
#define QSIZE    8
#define RING(q)  (0x1000u + (q)*0x1000u) /* desc; avail +0x400, used +0x800 */
#define HDR      0x20000
#define DATA     0x30000

struct fx {
    uint8_t *mem;
    struct gmem *gm;
    struct io_registry *io;
    struct fake_hv fp;
    struct pci_bus *bus;
    struct fake_blk fb;
    struct vblk *blk;
    struct vpci *vp;
    struct vqd d[NQ];
};

static uint32_t cfg_rd(struct fx *f, unsigned reg, unsigned size)
{
    return pci_bus_cfg_read(f->bus, SBDF, reg, size);
}

static void cfg_wr(struct fx *f, unsigned reg, unsigned size, uint32_t v)
{
    pci_bus_cfg_write(f->bus, SBDF, reg, size, v);
}

static uint64_t mmio_rd(struct fx *f, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    io_dispatch_read(f->io, IO_SPACE_MMIO, BAR_ADDR + off, size, 0, &v);
    return v;
}

static void mmio_wr(struct fx *f, uint64_t off, unsigned size, uint64_t v)
{
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, BAR_ADDR + off, size, 0, v));
}

static uint64_t common_rd(struct fx *f, unsigned off, unsigned size)
{
    return mmio_rd(f, VPCI_COMMON_OFF + off, size);
}

static void common_wr(struct fx *f, unsigned off, unsigned size, uint64_t v)
{
    mmio_wr(f, VPCI_COMMON_OFF + off, size, v);
}

static uint8_t status(struct fx *f)
{
    return (uint8_t)common_rd(f, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void set_status(struct fx *f, uint8_t s)
{
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, s);
}

static void place_bar(struct fx *f)
{
    cfg_wr(f, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR, 4, (uint32_t)BAR_ADDR);
    cfg_wr(f, PCI_BASE_ADDRESS_0 + 4 * VPCI_BAR + 4, 4, (uint32_t)(BAR_ADDR >> 32));
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static struct fx *fx_new(unsigned queues)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vblk_params p = {.serial = "vpci", .num_queues = queues};
    char err[256];

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->io = io_registry_new();
    f->bus = pci_bus_new(f->io, fake_hv_init(&f->fp));
    assert_non_null(f->bus);
    fake_blk_init(&f->fb, 1u << 20, false);
    assert_int_equal(vblk_new(&f->blk, &f->fb.be, &p, err, sizeof(err)), 0);
    assert_int_equal(
        vpci_new(&f->vp, f->bus, f->gm, vblk_vdev(f->blk), 5 << 3, NULL, err, sizeof(err)), 0);
    return f;
}

static int setup(void **state)
{
    *state = fx_new(NQ);
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

static void negotiate(struct fx *f, uint64_t features)
{
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
    common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    common_wr(f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> 32));
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(struct fx *f, unsigned q, uint16_t vector)
{
    vqd_init(&f->d[q], f->mem, QSIZE, RING(q), RING(q) + 0x400, RING(q) + 0x800);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, RING(q));
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, RING(q) + 0x400);
    common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_USEDLO, 8, RING(q) + 0x800);
    common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static const uint64_t base_features =
    VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
    VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_MQ);

/* A read of one sector from queue q; returns the header address (status at +16). */
static uint64_t submit_read(struct fx *f, unsigned q, unsigned n)
{
    uint64_t h = HDR + 32u * n;
    struct vqd_buf bufs[3] = {{h, 16, false}, {DATA + 512u * n, 512, true}, {h + 16, 1, true}};

    put32(f->mem + h, VIRTIO_BLK_T_IN);
    put64(f->mem + h + 8, n);
    f->mem[h + 16] = 0xee;
    vqd_publish(&f->d[q], vqd_add_chain(&f->d[q], bufs, 3));
    return h;
}

static void notify_queue(struct fx *f, unsigned q)
{
    mmio_wr(f, VPCI_NOTIFY_OFF + q * VPCI_NOTIFY_MULT, 2, q);
}

static void test_conformance(void **state)
{
    struct fx *f = *state;
    const struct pci_conformance_ids ids = {
        .vendor = 0x1af4,
        .device = 0x1042,
        .revision = 1,
        .class_code = 0x010000,
        .subsystem_vendor = 0x1af4,
        .subsystem_id = 2,
        .interrupt_pin = 1,
    };

    pci_conformance_run(f->bus, f->io, SBDF, &ids);
}

static void test_capabilities(void **state)
{
    struct fx *f = *state;
    unsigned seen[6] = {0};
    unsigned cap = cfg_rd(f, PCI_CAPABILITY_LIST, 1);
    unsigned msix = 0, guard = 0;

    assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    while (cap && guard++ < 48) {
        unsigned id = cfg_rd(f, cap, 1);

        if (id == PCI_CAP_ID_MSIX)
            msix = cap;
        if (id == PCI_CAP_ID_VNDR) {
            unsigned type = cfg_rd(f, cap + 3, 1);

            assert_true(type >= 1 && type <= 5);
            seen[type]++;
            switch (type) {
            case VIRTIO_PCI_CAP_COMMON_CFG:
                assert_int_equal(cfg_rd(f, cap + 2, 1), 16);
                assert_int_equal(cfg_rd(f, cap + 4, 1), 4);
                assert_int_equal(cfg_rd(f, cap + 8, 4), 0x0000);
                assert_int_equal(cfg_rd(f, cap + 12, 4), 0x38);
                break;
            case VIRTIO_PCI_CAP_ISR_CFG:
                assert_int_equal(cfg_rd(f, cap + 4, 1), 4);
                assert_int_equal(cfg_rd(f, cap + 8, 4), 0x1000);
                assert_int_equal(cfg_rd(f, cap + 12, 4), 1);
                break;
            case VIRTIO_PCI_CAP_DEVICE_CFG:
                assert_int_equal(cfg_rd(f, cap + 8, 4), 0x2000);
                assert_int_equal(cfg_rd(f, cap + 12, 4), 60);
                break;
            case VIRTIO_PCI_CAP_NOTIFY_CFG:
                assert_int_equal(cfg_rd(f, cap + 2, 1), 20);
                assert_int_equal(cfg_rd(f, cap + 4, 1), 4);
                assert_int_equal(cfg_rd(f, cap + 8, 4), 0x3000);
                assert_int_equal(cfg_rd(f, cap + 12, 4), NQ * 4);
                assert_int_equal(cfg_rd(f, cap + 16, 4), 4);
                break;
            case VIRTIO_PCI_CAP_PCI_CFG:
                assert_int_equal(cfg_rd(f, cap + 2, 1), 20);
                break;
            }
        }
        cap = cfg_rd(f, cap + 1, 1);
    }
    assert_int_equal(cap, 0);
    for (unsigned t = 1; t <= 5; t++)
        assert_int_equal(seen[t], 1);
    /* MSI-X: NQ + 1 vectors, table and PBA in BAR 4. */
    assert_true(msix != 0);
    assert_int_equal(cfg_rd(f, msix + 2, 2) & 0x7ff, NQ);
    assert_int_equal(cfg_rd(f, msix + 4, 4), VPCI_MSIX_TABLE_OFF | 4);
    assert_int_equal(cfg_rd(f, msix + 8, 4), VPCI_MSIX_PBA_OFF | 4);
    /* BAR 4: 64-bit prefetchable memory of 32 KiB. */
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_0 + 16, 4), 0xc);
    cfg_wr(f, PCI_BASE_ADDRESS_0 + 16, 4, 0xffffffff);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_0 + 16, 4), 0xffff8000 | 0xc);
}

static void test_feature_negotiation(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    assert_int_equal(status(f), 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
    common_wr(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    /* blk: SIZE_MAX SEG_MAX BLK_SIZE FLUSH MQ DISCARD WRITE_ZEROES; ring: INDIRECT EVENT_IDX */
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DF, 4), 0x30007246);
    common_wr(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DF, 4), 1);
    common_wr(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DF, 4), 0);

    /* Without VERSION_1: FEATURES_OK does not stick. */
    negotiate(f, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    /* With a feature never offered: refused too. */
    set_status(f, 0);
    negotiate(f, base_features | VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY));
    assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    /* FEATURES_OK before DRIVER: refused. */
    set_status(f, 0);
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE);

    set_status(f, 0);
    negotiate(f, base_features | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
    assert_int_equal(status(f),
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(vpci_features(f->vp), base_features | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
    common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_GF, 4),
                     (uint32_t)(base_features | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)));
    /* No renegotiation after FEATURES_OK. */
    common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0);
    assert_int_equal(vpci_features(f->vp), base_features | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
}

static void test_status_machine(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    /* DRIVER_OK without FEATURES_OK breaks the rules. */
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                    VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* The driver cannot clear NEEDS_RESET except by resetting. */
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    set_status(f, 0);
    assert_int_equal(status(f), 0);

    /* Clearing a bit that was set. */
    negotiate(f, base_features);
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    set_status(f, 0);

    /* The normal path, and FAILED is just recorded. */
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                      VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(status(f), 0x0f);
    set_status(f, 0x8f);
    assert_int_equal(status(f), 0x8f);
    set_status(f, 0);
    assert_int_equal(status(f), 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
}

static void test_queue_setup(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    /* A queue that does not exist reads size 0 and ignores writes. */
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 7);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);

    /* Enabling before FEATURES_OK is ignored. */
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);

    negotiate(f, base_features);
    setup_queue(f, 0, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QSIZE);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), RING(0));
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 8), RING(0));
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_USEDLO, 4), RING(0) + 0x800);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
    /* Vector 3 does not exist (NQ + 1 = 3 vectors: 0..2). */
    common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 3);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    /* Reconfiguring an enabled queue is ignored. */
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x5000);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QSIZE);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), RING(0));
    /* A byte read in the middle of a field. */
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO + 1, 1), RING(0) >> 8);
    assert_int_equal(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

static void test_queue_bad_size(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    negotiate(f, base_features);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 6);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_queue_outside_ram(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    negotiate(f, base_features);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x10); /* 64 GiB up */
    common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x2000);
    common_wr(f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0x3000);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_io_with_intx(void **state)
{
    struct fx *f = *state;
    uint64_t h;

    place_bar(f);
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    h = submit_read(f, 0, 3);
    /* A notification before DRIVER_OK is not acted on... */
    notify_queue(f, 0);
    assert_int_equal(f->fb.nr_ops, 0);
    /* ...until DRIVER_OK, when every queue is looked at. */
    set_status(f, 0x0f);
    assert_int_equal(f->fb.nr_ops, 1);
    assert_int_equal(f->fb.ops[0].offset, 3 * 512);
    assert_int_equal(f->fp.nr_intx, 0);

    fake_blk_complete(&f->fb, 0, 0);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    /* INTA# asserted, ISR says "queue"; reading the ISR clears it and deasserts. */
    assert_int_equal(f->fp.nr_intx, 1);
    assert_int_equal(f->fp.intx[0].sbdf, SBDF);
    assert_int_equal(f->fp.intx[0].line, 0);
    assert_true(f->fp.intx[0].level);
    assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
    assert_int_equal(f->fp.nr_intx, 2);
    assert_false(f->fp.intx[1].level);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), 0);

    /* The next request, through an explicit notification. */
    h = submit_read(f, 0, 4);
    notify_queue(f, 0);
    assert_int_equal(f->fb.nr_ops, 2);
    fake_blk_complete(&f->fb, 1, -EIO);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_IOERR);
    assert_int_equal(f->fp.nr_intx, 3);
    assert_int_equal(f->fp.nr_msi, 0);
}

static void msix_program(struct fx *f, unsigned vector, uint64_t addr, uint32_t data)
{
    uint64_t e = VPCI_MSIX_TABLE_OFF + 16u * vector;

    mmio_wr(f, e, 4, (uint32_t)addr);
    mmio_wr(f, e + 4, 4, (uint32_t)(addr >> 32));
    mmio_wr(f, e + 8, 4, data);
    mmio_wr(f, e + 12, 4, 0);
}

static unsigned find_cap(struct fx *f, unsigned id, unsigned vndr_type)
{
    unsigned cap = cfg_rd(f, PCI_CAPABILITY_LIST, 1);

    for (unsigned guard = 0; cap && guard < 48; guard++) {
        if (cfg_rd(f, cap, 1) == id && (!vndr_type || cfg_rd(f, cap + 3, 1) == vndr_type))
            return cap;
        cap = cfg_rd(f, cap + 1, 1);
    }
    return 0;
}

static void test_io_with_msix(void **state)
{
    struct fx *f = *state;
    unsigned msix = find_cap(f, PCI_CAP_ID_MSIX, 0);

    place_bar(f);
    cfg_wr(f, msix + 2, 2, 0x8000);
    msix_program(f, 0, 0xfee00000, 0x40);
    msix_program(f, 1, 0xfee00000, 0x41);
    msix_program(f, 2, 0xfee01000, 0x42);
    negotiate(f, base_features);
    common_wr(f, VIRTIO_PCI_COMMON_MSIX, 2, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_MSIX, 2), 0);
    setup_queue(f, 0, 1);
    setup_queue(f, 1, 2);
    set_status(f, 0x0f);

    submit_read(f, 1, 1);
    submit_read(f, 0, 2);
    notify_queue(f, 1);
    notify_queue(f, 0);
    assert_int_equal(f->fb.nr_ops, 2);
    fake_blk_complete(&f->fb, 1, 0);
    fake_blk_complete(&f->fb, 0, 0);
    assert_int_equal(f->fp.nr_msi, 2);
    assert_int_equal(f->fp.msi[0].addr, 0xfee00000);
    assert_int_equal(f->fp.msi[0].data, 0x41);
    assert_int_equal(f->fp.msi[1].addr, 0xfee01000);
    assert_int_equal(f->fp.msi[1].data, 0x42);
    /* No INTx, and queue interrupts through MSI-X leave the ISR clear (4.1.4.5.1). */
    assert_int_equal(f->fp.nr_intx, 0);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), 0);

    /* A broken queue: NEEDS_RESET and a configuration interrupt on vector 0. */
    vqd_set_desc(&f->d[0], 5, HDR, 16, VIRTQ_DESC_F_NEXT, 5);
    vqd_publish(&f->d[0], 5);
    notify_queue(f, 0);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(f->fp.nr_msi, 4);
    assert_int_equal(f->fp.msi[2].data, 0x41); /* the returned chain */
    assert_int_equal(f->fp.msi[3].data, 0x40); /* config change */
    /* 4.1.4.5.1: the configuration bit is set with MSI-X too; reading clears it, no INTx. */
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), 0);
    assert_int_equal(f->fp.nr_intx, 0);
    /* Further notifications are not acted on until reset. */
    submit_read(f, 1, 3);
    notify_queue(f, 1);
    assert_int_equal(f->fb.nr_ops, 2);
}

/*
 * 4.1.4.5.1: the Device Configuration Interrupt bit is set before a
 * configuration change notification whether or not MSI-X is used, also when
 * the driver asked for no configuration vector; queue interrupts through
 * MSI-X do not set the Queue Interrupt bit.
 */
static void test_config_isr_with_msix(void **state)
{
    struct fx *f = *state;
    unsigned msix = find_cap(f, PCI_CAP_ID_MSIX, 0);

    place_bar(f);
    cfg_wr(f, msix + 2, 2, 0x8000);
    msix_program(f, 1, 0xfee00000, 0x41);
    negotiate(f, base_features);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    setup_queue(f, 0, 1);
    set_status(f, 0x0f);
    submit_read(f, 0, 1);
    notify_queue(f, 0);
    fake_blk_complete(&f->fb, 0, 0);
    assert_int_equal(f->fp.nr_msi, 1);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), 0);

    /* A looping chain: NEEDS_RESET, a configuration change without a vector to send it on. */
    vqd_set_desc(&f->d[0], 5, HDR, 16, VIRTQ_DESC_F_NEXT, 5);
    vqd_publish(&f->d[0], 5);
    notify_queue(f, 0);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(f->fp.nr_msi, 2);
    assert_int_equal(f->fp.msi[1].data, 0x41); /* the returned chain, on the queue's vector */
    assert_int_equal(f->fp.nr_intx, 0);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), 0);
    assert_int_equal(f->fp.nr_intx, 0);
}

/* Without MSI-X a configuration change sets its bit and asserts INTx. */
static void test_config_isr_with_intx(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    set_status(f, 0x0f);
    vqd_set_desc(&f->d[0], 5, HDR, 16, VIRTQ_DESC_F_NEXT, 5);
    vqd_publish(&f->d[0], 5);
    notify_queue(f, 0);
    assert_true(status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(f->fp.nr_msi, 0);
    assert_true(f->fp.nr_intx >= 1);
    assert_true(f->fp.intx[f->fp.nr_intx - 1].level);
    /* The returned chain and the configuration change, both in one read. */
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG);
    assert_false(f->fp.intx[f->fp.nr_intx - 1].level);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF, 1), 0);
}

static void test_pci_cfg_window(void **state)
{
    struct fx *f = *state;
    unsigned cap = find_cap(f, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_PCI_CFG);

    assert_true(cap != 0);
    place_bar(f);
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
    /* Read device_status (1 byte at 0x14) and num_queues (2 at 0x12) through config space. */
    cfg_wr(f, cap + 4, 1, 4);
    cfg_wr(f, cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);
    cfg_wr(f, cap + 12, 4, 1);
    assert_int_equal(cfg_rd(f, cap + 16, 1), VIRTIO_STATUS_ACKNOWLEDGE);
    cfg_wr(f, cap + 8, 4, VIRTIO_PCI_COMMON_NUMQ);
    cfg_wr(f, cap + 12, 4, 2);
    assert_int_equal(cfg_rd(f, cap + 16, 4), NQ);
    /* Write through the window. */
    cfg_wr(f, cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);
    cfg_wr(f, cap + 12, 4, 1);
    cfg_wr(f, cap + 16, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    assert_int_equal(status(f), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    /* Device config capacity, low dword. */
    cfg_wr(f, cap + 8, 4, VPCI_DEVICE_OFF);
    cfg_wr(f, cap + 12, 4, 4);
    assert_int_equal(cfg_rd(f, cap + 16, 4), (1u << 20) / 512);
    /* Hostile windows: bad length, misaligned, another BAR, the MSI-X table. */
    cfg_wr(f, cap + 12, 4, 3);
    assert_int_equal(cfg_rd(f, cap + 16, 4), 0);
    cfg_wr(f, cap + 12, 4, 4);
    cfg_wr(f, cap + 8, 4, 2);
    assert_int_equal(cfg_rd(f, cap + 16, 4), 0);
    cfg_wr(f, cap + 8, 4, VPCI_MSIX_TABLE_OFF);
    assert_int_equal(cfg_rd(f, cap + 16, 4), 0);
    cfg_wr(f, cap + 8, 4, 0);
    cfg_wr(f, cap + 4, 1, 0);
    assert_int_equal(cfg_rd(f, cap + 16, 4), 0);
    cfg_wr(f, cap + 8, 4, 0xfffffffc);
    cfg_wr(f, cap + 4, 1, 4);
    assert_int_equal(cfg_rd(f, cap + 16, 4), 0);
}

/*
 * Reset with requests in flight is asynchronous (virtio 1.2, 2.4.1 and
 * 4.1.4.3.2): the write of 0 completes at once, device_status reads what
 * it read before until the backend gave back every request, and the
 * driver, which must wait for a 0, is ignored meanwhile. Completions of
 * requests from before the reset touch neither the rings nor the status
 * bytes, and raise no interrupt.
 */
static void test_reset_in_flight(void **state)
{
    struct fx *f = *state;
    unsigned msix = find_cap(f, PCI_CAP_ID_MSIX, 0);
    uint64_t h0, h1;

    place_bar(f);
    cfg_wr(f, msix + 2, 2, 0x8000);
    negotiate(f, base_features);
    setup_queue(f, 0, 1);
    set_status(f, 0x0f);
    h0 = submit_read(f, 0, 0);
    h1 = submit_read(f, 0, 4); /* not adjacent: two backend operations */
    notify_queue(f, 0);
    assert_int_equal(fake_blk_pending(&f->fb), 2);

    set_status(f, 0);
    /* Nothing was waited for: both reads are still with the backend. */
    assert_int_equal(fake_blk_pending(&f->fb), 2);
    assert_int_equal(status(f), 0x0f);
    assert_int_equal(vpci_status(f->vp), 0x0f);
    /* A driver that does not wait for 0 is ignored until the reset is done. */
    set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(status(f), 0x0f);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    submit_read(f, 0, 2);
    notify_queue(f, 0);
    assert_int_equal(f->fb.nr_ops, 2);

    fake_blk_complete(&f->fb, 1, 0);
    assert_int_equal(status(f), 0x0f);
    fake_blk_complete(&f->fb, 0, -EIO);
    assert_int_equal(status(f), 0);
    assert_int_equal(vpci_features(f->vp), 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
    /* Nothing was returned, written or signalled for the discarded requests. */
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    assert_int_equal(f->mem[h0 + 16], 0xee);
    assert_int_equal(f->mem[h1 + 16], 0xee);
    assert_int_equal(f->fp.nr_msi, 0);

    /* The device works again after a fresh set-up. */
    negotiate(f, base_features);
    setup_queue(f, 0, 1);
    set_status(f, 0x0f);
    submit_read(f, 0, 3);
    notify_queue(f, 0);
    assert_int_equal(f->fb.nr_ops, 3);
    fake_blk_complete(&f->fb, 2, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
}

/* With nothing in flight a reset is done when the write of 0 returns. */
static void test_reset_idle_is_immediate(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    set_status(f, 0x0f);
    set_status(f, 0);
    assert_int_equal(status(f), 0);
    negotiate(f, base_features);
    assert_int_equal(status(f), 0x0b);
}

/* Tearing the transport down during a reset waits for the backend once, then frees. */
static void test_free_during_reset(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    set_status(f, 0x0f);
    submit_read(f, 0, 0);
    notify_queue(f, 0);
    set_status(f, 0);
    assert_int_equal(fake_blk_pending(&f->fb), 1);
    f->fb.drain_ret = 0;
    vpci_free(f->vp);
    f->vp = NULL;
    assert_int_equal(fake_blk_pending(&f->fb), 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
}

static void test_hostile_accesses(void **state)
{
    struct fx *f = *state;

    place_bar(f);
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    set_status(f, 0x0f);
    /* Wrong-size writes to common config are ignored. */
    common_wr(f, VIRTIO_PCI_COMMON_STATUS, 4, 0);
    assert_int_equal(status(f), 0x0f);
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 1, 1);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO + 2, 4, 0x1234);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), RING(0));
    /* Read-only fields stay. */
    common_wr(f, VIRTIO_PCI_COMMON_NUMQ, 2, 9);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
    common_wr(f, VIRTIO_PCI_COMMON_DF, 4, 0);
    common_wr(f, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DF, 4), 0x30007246);
    /* Past the structures: zero, writes dropped. */
    assert_int_equal(common_rd(f, 0x38, 4), 0);
    assert_int_equal(common_rd(f, 0xffc, 4), 0);
    common_wr(f, 0x100, 4, 0xffffffff);
    assert_int_equal(mmio_rd(f, VPCI_DEVICE_OFF + 60, 4), 0);
    assert_int_equal(mmio_rd(f, VPCI_DEVICE_OFF + 58, 4), 0);
    assert_int_equal(mmio_rd(f, VPCI_DEVICE_OFF, 8), 0);
    assert_int_equal(mmio_rd(f, VPCI_ISR_OFF + 4, 4), 0);
    /* Notifications for queues that are not there or not enabled. */
    notify_queue(f, 1);
    notify_queue(f, 1023);
    mmio_wr(f, VPCI_NOTIFY_OFF + 0xfff, 1, 0);
    assert_int_equal(f->fb.nr_ops, 0);
    assert_int_equal(status(f), 0x0f);
    /* queue_enable = 0 is not a way to disable. */
    common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
    assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
}

static void test_function_reset(void **state)
{
    struct fx *f = *state;
    struct pci_dev *dev = vpci_pci_dev(f->vp);

    place_bar(f);
    negotiate(f, base_features);
    setup_queue(f, 0, VIRTIO_MSI_NO_VECTOR);
    set_status(f, 0x0f);
    pci_dev_reset(dev);
    assert_int_equal(vpci_status(f->vp), 0);
    assert_int_equal(cfg_rd(f, PCI_COMMAND, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conformance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_setup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bad_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_outside_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_with_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_with_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_isr_with_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_isr_with_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_idle_is_immediate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_during_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_reset, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
