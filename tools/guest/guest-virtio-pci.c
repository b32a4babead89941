/*
 * gvirtio: device discovery, status, features and queue set-up over the
 * modern virtio-pci transport (virtio 1.2, 4.1.4). The rings themselves are
 * in guest-virtqueue.c.
 */
#include "guest-virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio structures are little-endian");

/* struct virtio_pci_cap (4.1.4). */
#define CAP_CFG_TYPE    3
#define CAP_BAR         4
#define CAP_OFFSET      8
#define CAP_LENGTH      12
#define CAP_NOTIFY_MULT 16

#define CFG_TYPE_COMMON 1
#define CFG_TYPE_NOTIFY 2
#define CFG_TYPE_ISR    3
#define CFG_TYPE_DEVICE 4
#define CFG_TYPE_PCI    5

/* MSI-X capability (PCI Local Bus 3.0, 6.8.2). */
#define MSIX_CTRL         2
#define MSIX_TABLE        4
#define MSIX_PBA          8
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_SIZE   16
#define MSI_ADDR_BASE     0xfee00000u

#define PCI_COMMAND          0x04
#define PCI_COMMAND_INTX_OFF 0x400

int gvirtio_mmio_read(struct gvirtio *d, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val)
{
    return mockhv_mmio_read(d->hv, vcpu, addr, size, val, d->opts.timeout_ms);
}

int gvirtio_mmio_write(struct gvirtio *d, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val)
{
    return mockhv_mmio_write(d->hv, vcpu, addr, size, val, d->opts.timeout_ms);
}

int gvirtio_common_read(struct gvirtio *d, unsigned off, unsigned size, uint64_t *val)
{
    return gvirtio_mmio_read(d, d->opts.vcpu, d->common.addr + off, size, val);
}

int gvirtio_common_write(struct gvirtio *d, unsigned off, unsigned size, uint64_t val)
{
    return gvirtio_mmio_write(d, d->opts.vcpu, d->common.addr + off, size, val);
}

int gvirtio_wait_status(struct gvirtio *d, uint8_t bits, int timeout_ms)
{
    struct timespec start, now, pause = {.tv_nsec = 1000000};
    uint8_t s;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        rc = gvirtio_status(d, &s);
        if (rc || (s & bits) == bits)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
            timeout_ms)
            return -ETIMEDOUT;
        nanosleep(&pause, NULL);
    }
}

int gvirtio_wait_reset(struct gvirtio *d, int timeout_ms)
{
    struct timespec start, now, pause = {.tv_nsec = 100000};
    uint8_t s;
    int rc;

    /* 4.1.4.3.2: the device may take its time (requests still in flight); Linux sleeps 1 ms. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        rc = gvirtio_status(d, &s);
        if (rc || s == 0)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
            timeout_ms)
            return -ETIMEDOUT;
        nanosleep(&pause, NULL);
    }
}

/* 64-bit fields as two 32-bit halves, low first: what 4.1.3.1 lets a driver do. */
static int common_write64(struct gvirtio *d, unsigned off, uint64_t val)
{
    int rc = gvirtio_common_write(d, off, 4, val & 0xffffffffu);

    return rc ? rc : gvirtio_common_write(d, off + 4, 4, val >> 32);
}

static const struct mockhv_pci_bar *find_bar(const struct mockhv_pci_func *fn, unsigned index)
{
    for (unsigned i = 0; i < fn->nr_bars && i < 6; i++)
        if (fn->bars[i].index == index && !fn->bars[i].io && fn->bars[i].base)
            return &fn->bars[i];
    return NULL;
}

/* Fills one region from a vendor capability, the first usable one of each type (4.1.4.1). */
static int read_vendor_cap(struct gvirtio *d, uint8_t off)
{
    const struct gpci_bus *bus = d->bus;
    uint16_t bdf = d->fn.bdf;
    const struct mockhv_pci_bar *bar;
    struct gvirtio_region *r;
    uint32_t type, barno, offset, length, mult = 0;
    int rc;

    rc = gpci_cfg_read(bus, bdf, off + CAP_CFG_TYPE, 1, &type);
    if (!rc)
        rc = gpci_cfg_read(bus, bdf, off + CAP_BAR, 1, &barno);
    if (!rc)
        rc = gpci_cfg_read(bus, bdf, off + CAP_OFFSET, 4, &offset);
    if (!rc)
        rc = gpci_cfg_read(bus, bdf, off + CAP_LENGTH, 4, &length);
    if (!rc && type == CFG_TYPE_NOTIFY)
        rc = gpci_cfg_read(bus, bdf, off + CAP_NOTIFY_MULT, 4, &mult);
    if (rc)
        return rc;

    switch (type) {
    case CFG_TYPE_COMMON:
        r = &d->common;
        break;
    case CFG_TYPE_NOTIFY:
        r = &d->notify;
        break;
    case CFG_TYPE_ISR:
        r = &d->isr;
        break;
    case CFG_TYPE_DEVICE:
        r = &d->device;
        break;
    case CFG_TYPE_PCI:
        if (!d->pci_cfg_cap)
            d->pci_cfg_cap = off;
        return 0;
    default:
        return 0; /* types this driver does not use */
    }
    bar = find_bar(&d->fn, barno);
    if (r->addr || !bar || offset > bar->size || length > bar->size - offset)
        return 0;
    r->addr = bar->base + offset;
    r->len = length;
    if (type == CFG_TYPE_NOTIFY)
        d->notify_mult = mult;
    return 0;
}

static int find_caps(struct gvirtio *d)
{
    uint8_t off = 0;
    int rc;

    for (;;) {
        rc = gpci_cap_find(d->bus, d->fn.bdf, GPCI_CAP_ID_VENDOR, off, &off);
        if (rc == -ENOENT)
            break;
        if (rc)
            return rc;
        rc = read_vendor_cap(d, off);
        if (rc)
            return rc;
    }
    if (!d->common.addr || d->common.len < GVIRTIO_COMMON_MIN_LEN || !d->notify.addr ||
        !d->isr.addr)
        return -ENODEV;
    return 0;
}

int gvirtio_status(struct gvirtio *d, uint8_t *status)
{
    uint64_t v;
    int rc = gvirtio_common_read(d, GVIRTIO_COMMON_STATUS, 1, &v);

    *status = (uint8_t)v;
    return rc;
}

int gvirtio_set_status(struct gvirtio *d, uint8_t status)
{
    return gvirtio_common_write(d, GVIRTIO_COMMON_STATUS, 1, status);
}

static int add_status(struct gvirtio *d, uint8_t bits)
{
    uint8_t s;
    int rc = gvirtio_status(d, &s);

    return rc ? rc : gvirtio_set_status(d, s | bits);
}

static int reset(struct gvirtio *d)
{
    int rc = gvirtio_set_status(d, 0);

    /* 4.1.4.3.2: the driver waits for the status to read back 0. */
    return rc ? rc : gvirtio_wait_reset(d, d->opts.timeout_ms);
}

/* Where the MSI-X table and PBA are (PCI Local Bus 3.0, 6.8.2); -ENODEV without a usable one. */
static int find_msix(struct gvirtio *d)
{
    const struct gpci_bus *bus = d->bus;
    const struct mockhv_pci_bar *bar, *pba_bar;
    uint32_t ctrl, table, pba;
    int rc;

    rc = gpci_cap_find(bus, d->fn.bdf, GPCI_CAP_ID_MSIX, 0, &d->msix_cap);
    if (rc)
        return rc == -ENOENT ? -ENODEV : rc;
    rc = gpci_cfg_read(bus, d->fn.bdf, d->msix_cap + MSIX_CTRL, 2, &ctrl);
    if (!rc)
        rc = gpci_cfg_read(bus, d->fn.bdf, d->msix_cap + MSIX_TABLE, 4, &table);
    if (!rc)
        rc = gpci_cfg_read(bus, d->fn.bdf, d->msix_cap + MSIX_PBA, 4, &pba);
    if (rc)
        return rc;
    d->msix_vectors = (ctrl & 0x7ff) + 1;
    bar = find_bar(&d->fn, table & 7);
    if (!bar || (table & ~7u) + (uint64_t)d->msix_vectors * MSIX_ENTRY_SIZE > bar->size)
        return -ENODEV;
    d->msix_table = bar->base + (table & ~7u);
    pba_bar = find_bar(&d->fn, pba & 7);
    if (pba_bar && (pba & ~7u) + (uint64_t)(d->msix_vectors + 63) / 64 * 8 <= pba_bar->size)
        d->msix_pba = pba_bar->base + (pba & ~7u);
    return 0;
}

uint64_t gvirtio_pirq_msi_addr(unsigned pirq)
{
    /* Destination ID (bits 12-19) holds the pirq's low byte, address bits 40-63 the rest. */
    return (uint64_t)(pirq & 0xffffff00u) << 32 | MSI_ADDR_BASE | (pirq & 0xffu) << 12;
}

bool gvirtio_irq_uses_msix(enum gvirtio_irq_mode mode)
{
    return mode == GVIRTIO_IRQ_MSIX || mode == GVIRTIO_IRQ_XEN_PIRQ;
}

/*
 * As Linux on Xen HVM with event-channel MSIs: MSI-X enabled with the
 * function masked (msix_capability_init), each entry's address and data
 * written for its pirq (xen_msi_compose_msg) and the pirq bound
 * (EVTCHNOP_bind_pirq), the function mask cleared. Mask bits are never
 * written: with pci_msi_ignore_mask, masking is the event channel's.
 */
static int setup_msix_pirqs(struct gvirtio *d, uint32_t ctrl)
{
    const struct gpci_bus *bus = d->bus;
    int rc;

    ctrl |= MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL;
    rc = gpci_cfg_write(bus, d->fn.bdf, d->msix_cap + MSIX_CTRL, 2, ctrl);
    for (unsigned v = 0; !rc && v < d->msix_vectors; v++) {
        uint64_t e = d->msix_table + (uint64_t)v * MSIX_ENTRY_SIZE;
        unsigned pirq = d->opts.pirq_base + v;
        uint64_t addr = gvirtio_pirq_msi_addr(pirq);

        rc = gvirtio_mmio_write(d, d->opts.vcpu, e, 4, (uint32_t)addr);
        if (!rc)
            rc = gvirtio_mmio_write(d, d->opts.vcpu, e + 4, 4, addr >> 32);
        if (!rc)
            rc = gvirtio_mmio_write(d, d->opts.vcpu, e + 8, 4, GVIRTIO_PIRQ_MSI_DATA);
        if (!rc)
            rc = mockhv_pirq_bind(d->hv, pirq, true);
    }
    if (rc)
        return rc;
    ctrl &= ~MSIX_CTRL_MASKALL;
    return gpci_cfg_write(bus, d->fn.bdf, d->msix_cap + MSIX_CTRL, 2, ctrl);
}

static int setup_msix(struct gvirtio *d)
{
    const struct gpci_bus *bus = d->bus;
    uint32_t ctrl;
    int rc;

    rc = find_msix(d);
    if (!rc)
        rc = gpci_cfg_read(bus, d->fn.bdf, d->msix_cap + MSIX_CTRL, 2, &ctrl);
    if (rc)
        return rc;
    if (d->opts.irq == GVIRTIO_IRQ_XEN_PIRQ)
        return setup_msix_pirqs(d, ctrl);

    for (unsigned v = 0; v < d->msix_vectors; v++) {
        uint64_t e = d->msix_table + (uint64_t)v * MSIX_ENTRY_SIZE;

        rc = gvirtio_mmio_write(d, d->opts.vcpu, e, 4, MSI_ADDR_BASE);
        if (!rc)
            rc = gvirtio_mmio_write(d, d->opts.vcpu, e + 4, 4, 0);
        if (!rc)
            rc = gvirtio_mmio_write(d, d->opts.vcpu, e + 8, 4, d->opts.msi_data_base + v);
        if (!rc)
            rc = gvirtio_mmio_write(d, d->opts.vcpu, e + 12, 4, 0); /* unmasked */
        if (rc)
            return rc;
    }
    ctrl = (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL;
    return gpci_cfg_write(bus, d->fn.bdf, d->msix_cap + MSIX_CTRL, 2, ctrl);
}

static int set_vector(struct gvirtio *d, unsigned off, uint16_t want, uint16_t *got)
{
    uint64_t v;
    int rc = gvirtio_common_write(d, off, 2, want);

    if (!rc)
        rc = gvirtio_common_read(d, off, 2, &v);
    if (rc)
        return rc;
    *got = (uint16_t)v;
    /* 4.1.5.1.2: a device out of vectors answers NO_VECTOR. */
    return want != GVIRTIO_NO_VECTOR && *got != want ? -ENOSPC : 0;
}

/* What gvirtio_open and gvirtio_probe share: the function checked, its capabilities found. */
static int find_device(struct gvirtio *d, struct mockhv *hv, struct garena *arena,
                       const struct gpci_bus *bus, const struct mockhv_pci_func *fn,
                       const struct gvirtio_opts *opts)
{
    memset(d, 0, sizeof(*d));
    d->hv = hv;
    d->arena = arena;
    d->bus = bus;
    d->fn = *fn;
    d->opts = *opts;
    d->config_vector = GVIRTIO_NO_VECTOR;
    if (fn->vendor != GVIRTIO_VENDOR || fn->device < GVIRTIO_DEVICE_BASE ||
        fn->device > GVIRTIO_DEVICE_BASE + 0x3f)
        return -ENODEV;
    return find_caps(d);
}

int gvirtio_probe(struct gvirtio *d, struct mockhv *hv, const struct gpci_bus *bus,
                  const struct mockhv_pci_func *fn, const struct gvirtio_opts *opts)
{
    int rc = find_device(d, hv, NULL, bus, fn, opts);

    if (rc)
        return rc;
    /* Without (usable) MSI-X, msix_cap or msix_table stays 0; that is for the caller to judge. */
    rc = find_msix(d);
    return rc == -ENODEV ? 0 : rc;
}

int gvirtio_open(struct gvirtio *d, struct mockhv *hv, struct garena *arena,
                 const struct gpci_bus *bus, const struct mockhv_pci_func *fn,
                 const struct gvirtio_opts *opts)
{
    uint64_t v;
    uint32_t cmd;
    int rc;

    rc = find_device(d, hv, arena, bus, fn, opts);
    if (!rc)
        rc = reset(d);
    if (!rc)
        rc = add_status(d, GVIRTIO_S_ACKNOWLEDGE);
    if (!rc)
        rc = add_status(d, GVIRTIO_S_DRIVER);
    if (!rc)
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_NUMQ, 2, &v);
    if (rc)
        return rc;
    d->num_queues = (uint16_t)v;

    /* INTx is the fallback only while MSI-X is off; mask it otherwise. */
    rc = gpci_cfg_read(bus, fn->bdf, PCI_COMMAND, 2, &cmd);
    if (rc)
        return rc;
    if (opts->irq == GVIRTIO_IRQ_INTX)
        cmd &= ~PCI_COMMAND_INTX_OFF;
    else
        cmd |= PCI_COMMAND_INTX_OFF;
    rc = gpci_cfg_write(bus, fn->bdf, PCI_COMMAND, 2, cmd);
    if (rc)
        return rc;

    if (gvirtio_irq_uses_msix(opts->irq)) {
        rc = setup_msix(d);
        if (!rc)
            rc = set_vector(d, GVIRTIO_COMMON_MSIX, 0, &d->config_vector);
    }
    return rc;
}

void gvirtio_close(struct gvirtio *d)
{
    if (d->common.addr)
        (void)reset(d);
    gvirtio_forget(d);
}

void gvirtio_forget(struct gvirtio *d)
{
    for (unsigned q = 0; q < d->nr_queues; q++) {
        struct gvq *vq = &d->queues[q];

        pthread_mutex_destroy(&vq->lock);
        free(vq->next);
        free(vq->chain_len);
        free(vq->tokens);
    }
    d->nr_queues = 0;
}

int gvirtio_negotiate(struct gvirtio *d, uint64_t wanted)
{
    uint64_t lo, hi;
    uint8_t s;
    int rc;

    rc = gvirtio_common_write(d, GVIRTIO_COMMON_DFSELECT, 4, 0);
    if (!rc)
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_DF, 4, &lo);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_DFSELECT, 4, 1);
    if (!rc)
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_DF, 4, &hi);
    if (rc)
        return rc;
    d->device_features = (hi << 32) | (lo & 0xffffffffu);
    if (!((d->device_features >> GVIRTIO_F_VERSION_1) & 1)) {
        (void)add_status(d, GVIRTIO_S_FAILED);
        return -ENODEV;
    }
    d->features = d->device_features & (wanted | 1ull << GVIRTIO_F_VERSION_1);

    rc = gvirtio_common_write(d, GVIRTIO_COMMON_GFSELECT, 4, 0);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_GF, 4, d->features & 0xffffffffu);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_GFSELECT, 4, 1);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_GF, 4, d->features >> 32);
    if (!rc)
        rc = add_status(d, GVIRTIO_S_FEATURES_OK);
    if (!rc)
        rc = gvirtio_status(d, &s);
    if (rc)
        return rc;
    /* 3.1.1 step 6: FEATURES_OK reads back clear when the device refuses the subset. */
    if (!(s & GVIRTIO_S_FEATURES_OK)) {
        (void)add_status(d, GVIRTIO_S_FAILED);
        return -EPROTO;
    }
    return 0;
}

static int zero_ram(struct gvirtio *d, uint64_t gpa, uint64_t len)
{
    static const uint8_t zeroes[4096];
    int rc = 0;

    while (!rc && len) {
        size_t n = len < sizeof(zeroes) ? (size_t)len : sizeof(zeroes);

        rc = mockhv_ram_write(d->hv, gpa, zeroes, n);
        gpa += n;
        len -= n;
    }
    return rc;
}

static int alloc_ring(struct gvirtio *d, struct gvq *vq)
{
    uint64_t n = vq->size;
    int rc;

    /* 2.7: alignment 16 for descriptors, 2 for the available ring, 4 for the used ring. */
    rc = garena_alloc(d->arena, 16 * n, 4096, &vq->desc);
    if (!rc)
        rc = garena_alloc(d->arena, 6 + 2 * n, 2, &vq->avail);
    if (!rc)
        rc = garena_alloc(d->arena, 6 + 8 * n, 4, &vq->used);
    if (!rc)
        rc = zero_ram(d, vq->desc, 16 * n);
    if (!rc)
        rc = zero_ram(d, vq->avail, 6 + 2 * n);
    if (!rc)
        rc = zero_ram(d, vq->used, 6 + 8 * n);
    return rc;
}

static int init_host_state(struct gvq *vq)
{
    vq->next = calloc(vq->size, sizeof(*vq->next));
    vq->chain_len = calloc(vq->size, sizeof(*vq->chain_len));
    vq->tokens = calloc(vq->size, sizeof(*vq->tokens));
    if (!vq->next || !vq->chain_len || !vq->tokens) {
        free(vq->next);
        free(vq->chain_len);
        free(vq->tokens);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < vq->size; i++)
        vq->next[i] = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->nr_free = vq->size;
    pthread_mutex_init(&vq->lock, NULL);
    return 0;
}

int gvirtio_queue_setup(struct gvirtio *d, unsigned q, uint16_t size)
{
    struct gvq *vq;
    uint64_t max, noff;
    uint16_t want_vec = GVIRTIO_NO_VECTOR;
    int rc;

    if (q >= GVIRTIO_MAX_QUEUES || q >= d->num_queues || q != d->nr_queues)
        return q < d->num_queues ? -EINVAL : -ENOENT;
    vq = &d->queues[q];
    memset(vq, 0, sizeof(*vq));
    vq->dev = d;
    vq->index = q;
    vq->vcpu = d->opts.vcpu;

    rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_SELECT, 2, q);
    if (!rc)
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_Q_SIZE, 2, &max);
    if (rc)
        return rc;
    if (!max)
        return -ENOENT;
    if (size > max)
        size = (uint16_t)max;
    while (size & (size - 1))
        size &= (uint16_t)(size - 1);
    if (!size)
        return -EINVAL;
    vq->size = size;

    rc = alloc_ring(d, vq);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_SIZE, 2, size);
    if (!rc)
        rc = common_write64(d, GVIRTIO_COMMON_Q_DESC, vq->desc);
    if (!rc)
        rc = common_write64(d, GVIRTIO_COMMON_Q_DRIVER, vq->avail);
    if (!rc)
        rc = common_write64(d, GVIRTIO_COMMON_Q_DEVICE, vq->used);
    if (rc)
        return rc;
    if (gvirtio_irq_uses_msix(d->opts.irq) && d->msix_vectors > 1)
        want_vec = (uint16_t)(1 + q % (d->msix_vectors - 1));
    rc = set_vector(d, GVIRTIO_COMMON_Q_MSIX, want_vec, &vq->vector);
    if (!rc)
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_Q_NOFF, 2, &noff);
    if (rc)
        return rc;
    vq->notify = d->notify.addr + noff * d->notify_mult;
    if (noff * d->notify_mult + 2 > d->notify.len)
        return -ENODEV;
    rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_ENABLE, 2, 1);
    if (!rc)
        rc = init_host_state(vq);
    if (!rc)
        d->nr_queues++;
    return rc;
}

int gvirtio_queue_setup_raw(struct gvirtio *d, unsigned q, uint16_t size, uint64_t desc,
                            uint64_t avail, uint64_t used)
{
    struct gvq *vq;
    uint64_t noff;
    int rc;

    if (q >= GVIRTIO_MAX_QUEUES)
        return -ENOENT;
    if (q < d->nr_queues)
        return -EBUSY;
    vq = &d->queues[q];
    memset(vq, 0, sizeof(*vq));
    vq->dev = d;
    vq->index = q;
    vq->vcpu = d->opts.vcpu;
    vq->size = size;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    vq->vector = GVIRTIO_NO_VECTOR;

    rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_SELECT, 2, q);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_SIZE, 2, size);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_DESC, 8, desc);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_DRIVER, 8, avail);
    if (!rc)
        rc = gvirtio_common_write(d, GVIRTIO_COMMON_Q_DEVICE, 8, used);
    if (!rc)
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_Q_NOFF, 2, &noff);
    if (rc)
        return rc;
    vq->notify = d->notify.addr + noff * d->notify_mult;
    if (noff * d->notify_mult + 2 > d->notify.len)
        return -ENODEV;
    return gvirtio_common_write(d, GVIRTIO_COMMON_Q_ENABLE, 2, 1);
}

int gvirtio_driver_ok(struct gvirtio *d)
{
    uint8_t s;
    int rc = add_status(d, GVIRTIO_S_DRIVER_OK);

    if (!rc)
        rc = gvirtio_status(d, &s);
    if (rc)
        return rc;
    return s & (GVIRTIO_S_NEEDS_RESET | GVIRTIO_S_FAILED) ? -EIO : 0;
}

int gvirtio_isr(struct gvirtio *d, uint8_t *isr)
{
    uint64_t v;
    int rc = gvirtio_mmio_read(d, d->opts.vcpu, d->isr.addr, 1, &v);

    *isr = (uint8_t)v;
    return rc;
}

int gvirtio_config_read(struct gvirtio *d, unsigned off, unsigned size, uint64_t *val)
{
    uint64_t g0, g1;
    int rc;

    if (!d->device.addr || off > d->device.len || size > d->device.len - off)
        return -ERANGE;
    /* 4.1.4.3.1: re-read when config_generation changed under us. */
    for (unsigned i = 0; i < 16; i++) {
        rc = gvirtio_common_read(d, GVIRTIO_COMMON_CFGGEN, 1, &g0);
        if (!rc)
            rc = gvirtio_mmio_read(d, d->opts.vcpu, d->device.addr + off, size, val);
        if (!rc)
            rc = gvirtio_common_read(d, GVIRTIO_COMMON_CFGGEN, 1, &g1);
        if (rc || g0 == g1)
            return rc;
    }
    return -EAGAIN;
}
