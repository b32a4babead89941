/*
 * Modern virtio-pci transport (virtio 1.2, 4.1). See virtio-pci.h for the
 * BAR layout.
 *
 * Everything here is driven by guest register accesses: feature
 * negotiation through the select/window pairs, the device status state
 * machine (3.1), queue configuration and enabling, notifications, and the
 * ISR. Rules the driver must follow are checked; breaking one that leaves
 * the device unusable sets DEVICE_NEEDS_RESET (2.1.2) and signals a
 * configuration change, anything milder is logged and ignored.
 *
 * Writing 0 to device_status resets the transport state and every queue at
 * once, and the device core without waiting for its backend (2.4.1,
 * 4.1.4.3.2: the driver waits for device_status to read 0 before it
 * reinitialises). While the core still has requests in flight the reset is
 * pending: device_status keeps reading what it read before the write,
 * every other common-configuration write is ignored, and completions of the
 * old requests are discarded; the core's reset_done ends it, and
 * device_status reads 0 from then on. The vCPU's write never waits for the
 * disk, nor does any other device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virtio-pci.h"

/* Transport features we offer on top of the device's. */
#define VPCI_TRANSPORT_FEATURES                                                                    \
    (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |                    \
     VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))

/* Per-queue configuration as the driver programs it (4.1.4.3). */
struct vpci_queue {
    uint16_t size;
    uint16_t msix_vector;
    bool enabled;
    uint64_t desc, driver, device;
};

struct vpci {
    struct pci_dev pci; /* first: the bus hands it back to the ops */
    struct pci_bus *bus;
    struct gmem *gm;
    struct virtio_dev *vdev;
    struct virtio_transport transport;
    unsigned num_queues;
    uint16_t queue_max;
    unsigned cfg_size;
    unsigned pci_cfg_cap; /* config offset of the VIRTIO_PCI_CAP_PCI_CFG window */

    uint64_t offered;
    uint64_t driver_features;
    uint32_t dfselect, gfselect;
    uint16_t config_msix_vector;
    uint8_t status; /* while resetting: what it read before the write of 0 */
    bool resetting; /* a reset waits for the core's requests in flight */
    uint8_t config_generation;
    uint16_t queue_select;
    uint8_t isr;
    struct vpci_queue *queues;
    struct virtq *vqs;
    bool unplugged;     /* off the bus: no interrupt may be raised */
    const uint8_t *rom; /* expansion ROM image, borrowed; NULL: none */
    size_t rom_len;
};

static struct vpci *to_vpci(struct pci_dev *dev)
{
    return container_of(dev, struct vpci, pci);
}

uint32_t vpci_class_code(uint16_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_NET:
        return 0x020000; /* network, ethernet */
    case VIRTIO_ID_BLOCK:
        return 0x010000; /* mass storage, SCSI: what guests expect of virtio-blk */
    default:
        return 0xff0000; /* unassigned class */
    }
}

/* --- interrupts --- */

/*
 * 4.1.4.5.1: the Device Configuration Interrupt bit is set before every
 * configuration change notification, with MSI-X or without; the Queue
 * Interrupt bit only when MSI-X is disabled, where the ISR also drives INTx.
 */
static void raise_irq(struct vpci *vp, uint16_t vector, uint8_t isr_bit)
{
    if (vp->unplugged)
        return;
    if (isr_bit == VIRTIO_PCI_ISR_CONFIG)
        vp->isr |= isr_bit;
    if (pci_msix_enabled(&vp->pci)) {
        /* NO_VECTOR (or a vector the table lacks) means the driver wants none. */
        if (vector != VIRTIO_MSI_NO_VECTOR)
            pci_msix_notify(&vp->pci, vector);
        return;
    }
    vp->isr |= isr_bit;
    pci_set_irq(&vp->pci, true);
}

static void t_notify_queue(void *opaque, unsigned index)
{
    struct vpci *vp = opaque;

    if (index >= vp->num_queues || vp->resetting || !(vp->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    raise_irq(vp, vp->queues[index].msix_vector, VIRTIO_PCI_ISR_QUEUE);
}

static void t_notify_config(void *opaque)
{
    struct vpci *vp = opaque;

    vp->config_generation++;
    if (!vp->resetting && (vp->status & VIRTIO_STATUS_DRIVER_OK))
        raise_irq(vp, vp->config_msix_vector, VIRTIO_PCI_ISR_CONFIG);
}

static void t_needs_reset(void *opaque)
{
    struct vpci *vp = opaque;

    if (vp->resetting || (vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
        return;
    vp->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    log_guest("%s: device needs reset", vp->vdev->ops->name);
    /* 2.1.2: a device that sets NEEDS_RESET after DRIVER_OK sends a config change notification. */
    if (vp->status & VIRTIO_STATUS_DRIVER_OK)
        raise_irq(vp, vp->config_msix_vector, VIRTIO_PCI_ISR_CONFIG);
}

static struct virtq *t_queue(void *opaque, unsigned index)
{
    struct vpci *vp = opaque;

    return index < vp->num_queues ? &vp->vqs[index] : NULL;
}

static void t_reset_done(void *opaque)
{
    struct vpci *vp = opaque;

    if (!vp->resetting)
        return;
    vp->resetting = false;
    vp->status = 0;
}

/* --- reset and status --- */

static void reset_transport(struct vpci *vp)
{
    for (unsigned i = 0; i < vp->num_queues; i++) {
        virtq_stop(&vp->vqs[i]);
        vp->queues[i] = (struct vpci_queue){
            .size = vp->queue_max,
            .msix_vector = VIRTIO_MSI_NO_VECTOR,
        };
    }
    vp->driver_features = 0;
    vp->dfselect = 0;
    vp->gfselect = 0;
    vp->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
    vp->status = 0;
    vp->queue_select = 0;
    vp->isr = 0;
    pci_set_irq(&vp->pci, false);
}

/*
 * Resets the core (never waiting for its backend) and the transport. With
 * requests still in flight device_status keeps its value, or reads
 * NEEDS_RESET if it was 0, until the core's reset_done.
 */
static void reset_state(struct vpci *vp)
{
    uint8_t old = vp->status;
    bool pending = vp->vdev->ops->reset(vp->vdev) == VIRTIO_RESET_PENDING;

    reset_transport(vp);
    if (!pending) {
        vp->resetting = false;
        return;
    }
    vp->resetting = true;
    vp->status = old ? old : VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static bool features_acceptable(struct vpci *vp)
{
    uint64_t f = vp->driver_features;

    if (f & ~vp->offered) {
        log_guest("%s: driver accepted features %#llx never offered", vp->vdev->ops->name,
                  (unsigned long long)(f & ~vp->offered));
        return false;
    }
    if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
        log_guest("%s: driver did not accept VIRTIO_F_VERSION_1", vp->vdev->ops->name);
        return false;
    }
    return vp->vdev->ops->set_features(vp->vdev, f & ~VPCI_TRANSPORT_FEATURES) == 0;
}

static void kick_all(struct vpci *vp)
{
    for (unsigned i = 0; i < vp->num_queues; i++) {
        if (vp->vqs[i].started)
            vp->vdev->ops->queue_notify(vp->vdev, i);
    }
}

static void write_status(struct vpci *vp, uint8_t value)
{
    uint8_t old = vp->status;
    uint8_t added = value & (uint8_t)~old;

    if (vp->resetting) {
        log_guest("%s: status write %#x before the reset completed ignored", vp->vdev->ops->name,
                  value);
        return;
    }
    if (value == 0) {
        reset_state(vp);
        return;
    }
    /* NEEDS_RESET belongs to the device; the driver may not clear bits (2.1.1). */
    value = (uint8_t)((value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
                      (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    if (old & ~value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        log_guest("%s: driver cleared status bits %#x", vp->vdev->ops->name, old & ~value & 0xff);
        t_needs_reset(vp);
        return;
    }
    if (added & VIRTIO_STATUS_FEATURES_OK) {
        /* 3.1.1: only after ACKNOWLEDGE and DRIVER, and only for a feature set we accept. */
        if (!(value & VIRTIO_STATUS_ACKNOWLEDGE) || !(value & VIRTIO_STATUS_DRIVER) ||
            !features_acceptable(vp))
            value &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    }
    if ((added & VIRTIO_STATUS_DRIVER_OK) && !(value & VIRTIO_STATUS_FEATURES_OK)) {
        log_guest("%s: DRIVER_OK without FEATURES_OK", vp->vdev->ops->name);
        vp->status = value & (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
        t_needs_reset(vp);
        return;
    }
    vp->status = value;
    /* Notifications before DRIVER_OK were not acted on (3.1.1): look at every queue now. */
    if ((added & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
        kick_all(vp);
}

static unsigned ring_feats(const struct vpci *vp)
{
    return ((vp->driver_features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC)) ? VIRTQ_FEAT_INDIRECT
                                                                            : 0) |
           ((vp->driver_features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)) ? VIRTQ_FEAT_EVENT_IDX : 0);
}

static void enable_queue(struct vpci *vp, unsigned i)
{
    struct vpci_queue *q = &vp->queues[i];
    int rc;

    /* Ring features are only known once FEATURES_OK is set (3.1.1 step 7). */
    if (!(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
        log_guest("%s: queue %u enabled before FEATURES_OK, ignored", vp->vdev->ops->name, i);
        return;
    }
    if (q->enabled)
        return;
    if (!virtq_size_valid(q->size) || q->size > vp->queue_max) {
        log_guest("%s: queue %u size %u invalid", vp->vdev->ops->name, i, q->size);
        t_needs_reset(vp);
        return;
    }
    rc = virtq_start(&vp->vqs[i], q->size, q->desc, q->driver, q->device, ring_feats(vp));
    if (rc) {
        log_guest("%s: queue %u rings unusable (%s)", vp->vdev->ops->name, i,
                  rc == -EFAULT ? "outside guest RAM" : "misaligned");
        t_needs_reset(vp);
        return;
    }
    q->enabled = true;
}

/* --- common configuration --- */

static uint64_t common_field(struct vpci *vp, unsigned off)
{
    struct vpci_queue *q = vp->queue_select < vp->num_queues ? &vp->queues[vp->queue_select] : NULL;

    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        return vp->dfselect;
    case VIRTIO_PCI_COMMON_DF:
        return vp->dfselect < 2 ? (uint32_t)(vp->offered >> (32 * vp->dfselect)) : 0;
    case VIRTIO_PCI_COMMON_GFSELECT:
        return vp->gfselect;
    case VIRTIO_PCI_COMMON_GF:
        return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
    case VIRTIO_PCI_COMMON_MSIX:
        return vp->config_msix_vector;
    case VIRTIO_PCI_COMMON_NUMQ:
        return vp->num_queues;
    case VIRTIO_PCI_COMMON_STATUS:
        return vp->status;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return vp->config_generation;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return vp->queue_select;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return q ? q->size : 0; /* 0: no such queue (4.1.4.3.2) */
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return q ? q->enabled : 0;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return q ? vp->queue_select : 0;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        return q ? q->desc : 0;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        return q ? q->driver : 0;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        return q ? q->device : 0;
    }
    return 0;
}

/* Field starting at or covering `off`, with its width. */
static unsigned common_width(unsigned off)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_STATUS:
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return 1;
    case VIRTIO_PCI_COMMON_MSIX:
    case VIRTIO_PCI_COMMON_NUMQ:
    case VIRTIO_PCI_COMMON_Q_SELECT:
    case VIRTIO_PCI_COMMON_Q_SIZE:
    case VIRTIO_PCI_COMMON_Q_MSIX:
    case VIRTIO_PCI_COMMON_Q_ENABLE:
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return 2;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        return 8;
    default:
        return 4;
    }
}

/* Reads assemble bytes from the fields, so any size or alignment reads consistently. */
static uint64_t common_read(struct vpci *vp, unsigned off, unsigned size)
{
    uint8_t img[VIRTIO_PCI_COMMON_SIZE];
    uint64_t v = 0;

    if (off >= VIRTIO_PCI_COMMON_SIZE || size > VIRTIO_PCI_COMMON_SIZE - off)
        return 0;
    for (unsigned f = 0; f < VIRTIO_PCI_COMMON_SIZE;) {
        unsigned w = common_width(f);
        uint64_t val = common_field(vp, f);

        for (unsigned b = 0; b < w; b++)
            img[f + b] = (uint8_t)(val >> (8 * b));
        f += w;
    }
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)img[off + i] << (8 * i);
    return v;
}

static uint16_t checked_vector(struct vpci *vp, uint16_t v)
{
    /* A vector the table lacks reads back NO_VECTOR (4.1.5.1.2). */
    return v < vp->pci.msix.nr_vectors ? v : VIRTIO_MSI_NO_VECTOR;
}

static void set_addr(uint64_t *field, unsigned off_in_field, unsigned size, uint64_t value)
{
    if (size == 8) {
        *field = value;
    } else if (off_in_field == 0) {
        *field = (*field & 0xffffffff00000000ull) | (uint32_t)value;
    } else {
        *field = (*field & 0xffffffffull) | (uint64_t)(uint32_t)value << 32;
    }
}

static void common_write(struct vpci *vp, unsigned off, unsigned size, uint64_t value)
{
    struct vpci_queue *q = vp->queue_select < vp->num_queues ? &vp->queues[vp->queue_select] : NULL;
    unsigned base = off, w;

    /* The 64-bit queue addresses take 4-byte halves or one 8-byte access. */
    if (off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < VIRTIO_PCI_COMMON_SIZE)
        base = off & ~7u;
    w = common_width(base);
    if (off >= VIRTIO_PCI_COMMON_SIZE || !(size == w || (w == 8 && size == 4 && (off & 3) == 0)) ||
        (w != 8 && off != base)) {
        log_guest("%s: common config write of %u bytes at %#x ignored", vp->vdev->ops->name, size,
                  off);
        return;
    }

    /* 4.1.4.3.2: the driver waits for device_status to read 0; until then only a status write is
     * looked at (and logged). */
    if (vp->resetting && base != VIRTIO_PCI_COMMON_STATUS) {
        log_guest("%s: common config write at %#x before the reset completed ignored",
                  vp->vdev->ops->name, off);
        return;
    }
    switch (base) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        vp->dfselect = (uint32_t)value;
        return;
    case VIRTIO_PCI_COMMON_GFSELECT:
        vp->gfselect = (uint32_t)value;
        return;
    case VIRTIO_PCI_COMMON_GF:
        if (vp->status & VIRTIO_STATUS_FEATURES_OK) {
            log_guest("%s: feature write after FEATURES_OK ignored", vp->vdev->ops->name);
            return;
        }
        if (vp->gfselect == 0)
            vp->driver_features = (vp->driver_features & 0xffffffff00000000ull) | (uint32_t)value;
        else if (vp->gfselect == 1)
            vp->driver_features = (vp->driver_features & 0xffffffffull) | (uint64_t)(uint32_t)value
                                                                              << 32;
        return;
    case VIRTIO_PCI_COMMON_MSIX:
        vp->config_msix_vector = checked_vector(vp, (uint16_t)value);
        return;
    case VIRTIO_PCI_COMMON_STATUS:
        write_status(vp, (uint8_t)value);
        return;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        vp->queue_select = (uint16_t)value;
        return;
    case VIRTIO_PCI_COMMON_DF:
    case VIRTIO_PCI_COMMON_NUMQ:
    case VIRTIO_PCI_COMMON_CFGGENERATION:
    case VIRTIO_PCI_COMMON_Q_NOFF:
        log_guest("%s: write to read-only common config field %#x ignored", vp->vdev->ops->name,
                  off);
        return;
    default:
        break;
    }

    if (!q) {
        log_guest("%s: write to unselected queue %u ignored", vp->vdev->ops->name,
                  vp->queue_select);
        return;
    }
    if (base == VIRTIO_PCI_COMMON_Q_MSIX) {
        q->msix_vector = checked_vector(vp, (uint16_t)value);
        return;
    }
    if (base == VIRTIO_PCI_COMMON_Q_ENABLE) {
        /* 4.1.4.3.2: the driver writes only 1; there is no disabling but reset. */
        if (value == 1)
            enable_queue(vp, vp->queue_select);
        else
            log_guest("%s: queue_enable write of %llu ignored", vp->vdev->ops->name,
                      (unsigned long long)value);
        return;
    }
    if (q->enabled) {
        log_guest("%s: queue %u reconfigured while enabled, ignored", vp->vdev->ops->name,
                  vp->queue_select);
        return;
    }
    switch (base) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        q->size = (uint16_t)value;
        return;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
        set_addr(&q->desc, off - base, size, value);
        return;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
        set_addr(&q->driver, off - base, size, value);
        return;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
        set_addr(&q->device, off - base, size, value);
        return;
    default:
        return;
    }
}

/* --- BAR --- */

static uint64_t isr_read(struct vpci *vp)
{
    uint8_t v = vp->isr;

    /* 4.1.4.5: reading clears the ISR and de-asserts INTx. */
    vp->isr = 0;
    pci_set_irq(&vp->pci, false);
    return v;
}

/* The ROM image, little-endian, zero past its end. */
static uint64_t rom_read(const struct vpci *vp, uint64_t offset, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size && i < 8; i++)
        if (offset + i < vp->rom_len)
            v |= (uint64_t)vp->rom[offset + i] << (8 * i);
    return v;
}

static uint64_t vpci_bar_read(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size)
{
    struct vpci *vp = to_vpci(dev);
    uint64_t region = offset & ~(uint64_t)(VPCI_REGION_SIZE - 1);
    unsigned off = (unsigned)(offset - region);

    if (bar == PCI_ROM_SLOT && vp->rom)
        return rom_read(vp, offset, size);
    if (bar != VPCI_BAR)
        return io_all_ones(size);
    switch (region) {
    case VPCI_COMMON_OFF:
        return common_read(vp, off, size);
    case VPCI_ISR_OFF:
        return off == 0 ? isr_read(vp) : 0;
    case VPCI_DEVICE_OFF:
        if (size > 4 || off >= vp->cfg_size || size > vp->cfg_size - off)
            return 0;
        return vp->vdev->ops->cfg_read(vp->vdev, off, size);
    case VPCI_NOTIFY_OFF:
        return 0;
    }
    return 0;
}

static void notify(struct vpci *vp, unsigned off)
{
    unsigned index = off / VPCI_NOTIFY_MULT;

    if (index >= vp->num_queues || !vp->queues[index].enabled) {
        pci_dev_fault(&vp->pci, DM_FAULT_VIRTIO_NOTIFY_IGNORED);
        log_guest("%s: notification for queue %u that is not enabled", vp->vdev->ops->name, index);
        return;
    }
    if (!(vp->status & VIRTIO_STATUS_DRIVER_OK) ||
        (vp->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
        pci_dev_fault(&vp->pci, DM_FAULT_VIRTIO_NOTIFY_IGNORED);
        return;
    }
    vp->vdev->ops->queue_notify(vp->vdev, index);
}

static void vpci_bar_write(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size,
                           uint64_t value)
{
    struct vpci *vp = to_vpci(dev);
    uint64_t region = offset & ~(uint64_t)(VPCI_REGION_SIZE - 1);
    unsigned off = (unsigned)(offset - region);

    if (bar != VPCI_BAR)
        return;
    switch (region) {
    case VPCI_COMMON_OFF:
        common_write(vp, off, size, value);
        return;
    case VPCI_DEVICE_OFF:
        if (size <= 4 && off < vp->cfg_size && size <= vp->cfg_size - off)
            vp->vdev->ops->cfg_write(vp->vdev, off, size, (uint32_t)value);
        return;
    case VPCI_NOTIFY_OFF:
        notify(vp, off);
        return;
    default:
        /* The ISR is read-only. */
        return;
    }
}

/* --- the VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9) --- */

static bool window_access(struct vpci *vp, unsigned *size, uint64_t *offset)
{
    unsigned cap = vp->pci_cfg_cap;
    uint8_t bar = pci_cfg_get8(&vp->pci, cap + VIRTIO_PCI_CAP_BAR);
    uint32_t length = pci_cfg_get32(&vp->pci, cap + VIRTIO_PCI_CAP_LENGTH);
    uint32_t off = pci_cfg_get32(&vp->pci, cap + VIRTIO_PCI_CAP_OFFSET);

    if (bar != VPCI_BAR || (length != 1 && length != 2 && length != 4) || off % length ||
        off >= VPCI_BAR_SIZE || off >= VPCI_MSIX_TABLE_OFF)
        return false;
    *size = length;
    *offset = off;
    return true;
}

static enum pci_hook vpci_cfg_read(struct pci_dev *dev, unsigned reg, unsigned size,
                                   uint32_t *value)
{
    struct vpci *vp = to_vpci(dev);
    unsigned data = vp->pci_cfg_cap + VIRTIO_PCI_CFG_DATA;
    unsigned wsize;
    uint64_t off;

    if (reg + size <= data || reg >= data + 4)
        return PCI_HOOK_DEFAULT;
    if (!window_access(vp, &wsize, &off)) {
        *value = 0;
        return PCI_HOOK_HANDLED;
    }
    *value = (uint32_t)(vpci_bar_read(dev, VPCI_BAR, off, wsize) >> (8 * (reg - data)));
    if (size < 4)
        *value &= (uint32_t)io_all_ones(size);
    return PCI_HOOK_HANDLED;
}

static enum pci_hook vpci_cfg_write(struct pci_dev *dev, unsigned reg, unsigned size,
                                    uint32_t value)
{
    struct vpci *vp = to_vpci(dev);
    unsigned data = vp->pci_cfg_cap + VIRTIO_PCI_CFG_DATA;
    unsigned wsize;
    uint64_t off;

    if (reg + size <= data || reg >= data + 4)
        return PCI_HOOK_DEFAULT;
    if (reg == data && window_access(vp, &wsize, &off) && size >= wsize)
        vpci_bar_write(dev, VPCI_BAR, off, wsize, value & io_all_ones(wsize));
    return PCI_HOOK_HANDLED;
}

static void vpci_pci_reset(struct pci_dev *dev)
{
    reset_state(to_vpci(dev));
}

/* Only for cores that can stop for good (virtio-net: the platform's NIC unplug). */
static void vpci_pci_unplug(struct pci_dev *dev)
{
    struct vpci *vp = to_vpci(dev);

    if (vp->unplugged || !vp->vdev->ops->unplug)
        return;
    vp->unplugged = true;
    reset_state(vp);
    vp->vdev->ops->unplug(vp->vdev);
    pci_bus_remove(vp->bus, &vp->pci);
}

static const struct pci_dev_ops vpci_pci_ops = {
    .name = "virtio-pci",
    .cfg_read = vpci_cfg_read,
    .cfg_write = vpci_cfg_write,
    .bar_read = vpci_bar_read,
    .bar_write = vpci_bar_write,
    .reset = vpci_pci_reset,
    .unplug = vpci_pci_unplug,
};

/* --- construction --- */

static int add_cap(struct pci_dev *dev, uint8_t type, unsigned len, uint32_t offset,
                   uint32_t length)
{
    int cap = pci_cap_add(dev, PCI_CAP_ID_VNDR, len);

    if (cap < 0)
        return cap;
    pci_cfg_set8(dev, (unsigned)cap + VIRTIO_PCI_CAP_LEN, (uint8_t)len);
    pci_cfg_set8(dev, (unsigned)cap + VIRTIO_PCI_CAP_CFG_TYPE, type);
    pci_cfg_set8(dev, (unsigned)cap + VIRTIO_PCI_CAP_BAR,
                 type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VPCI_BAR);
    pci_cfg_set32(dev, (unsigned)cap + VIRTIO_PCI_CAP_OFFSET, offset);
    pci_cfg_set32(dev, (unsigned)cap + VIRTIO_PCI_CAP_LENGTH, length);
    return cap;
}

static int build_function(struct vpci *vp, char *errbuf, size_t errlen)
{
    struct pci_dev *dev = &vp->pci;
    uint16_t id = vp->vdev->ops->device_id;
    int cap;

    pci_dev_init(dev, &vpci_pci_ops);
    pci_dev_set_ids(dev, VIRTIO_PCI_VENDOR_ID, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + id),
                    VIRTIO_PCI_REVISION, vpci_class_code(id));
    /* 4.1.2.1: the subsystem IDs may name the environment; we name the device type. */
    pci_dev_set_subsystem(dev, VIRTIO_PCI_VENDOR_ID, id);
    pci_dev_set_intx_pin(dev, 1);
    if (pci_dev_add_mem64_bar(dev, VPCI_BAR, VPCI_BAR_SIZE, true))
        goto fail;
    if (add_cap(dev, VIRTIO_PCI_CAP_COMMON_CFG, 16, VPCI_COMMON_OFF, VIRTIO_PCI_COMMON_SIZE) < 0 ||
        add_cap(dev, VIRTIO_PCI_CAP_ISR_CFG, 16, VPCI_ISR_OFF, 1) < 0 ||
        add_cap(dev, VIRTIO_PCI_CAP_DEVICE_CFG, 16, VPCI_DEVICE_OFF, vp->cfg_size) < 0)
        goto fail;
    cap = add_cap(dev, VIRTIO_PCI_CAP_NOTIFY_CFG, 20, VPCI_NOTIFY_OFF,
                  vp->num_queues * VPCI_NOTIFY_MULT);
    if (cap < 0)
        goto fail;
    pci_cfg_set32(dev, (unsigned)cap + VIRTIO_PCI_NOTIFY_CAP_MULT, VPCI_NOTIFY_MULT);
    cap = add_cap(dev, VIRTIO_PCI_CAP_PCI_CFG, 20, 0, 0);
    if (cap < 0)
        goto fail;
    vp->pci_cfg_cap = (unsigned)cap;
    /* The window's bar, offset and length are the driver's to program. */
    pci_cfg_set_wmask(dev, (unsigned)cap + VIRTIO_PCI_CAP_BAR, 1, 0xff);
    pci_cfg_set_wmask(dev, (unsigned)cap + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
    pci_cfg_set_wmask(dev, (unsigned)cap + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
    if (vp->rom) {
        uint32_t rom_size = 2048; /* the smallest ROM BAR */

        while (rom_size < vp->rom_len)
            rom_size <<= 1;
        if (pci_dev_add_rom_bar(dev, rom_size))
            goto fail;
    }
    if (pci_msix_init(dev, vp->num_queues + 1, VPCI_BAR, VPCI_MSIX_TABLE_OFF, VPCI_BAR,
                      VPCI_MSIX_PBA_OFF) < 0)
        goto fail;
    return 0;
fail:
    snprintf(errbuf, errlen, "%s: cannot build its PCI function", vp->vdev->ops->name);
    return -EINVAL;
}

int vpci_new(struct vpci **out, struct pci_bus *bus, struct gmem *gm, struct virtio_dev *vdev,
             int devfn, char *errbuf, size_t errlen)
{
    return vpci_new_with_rom(out, bus, gm, vdev, devfn, NULL, 0, errbuf, errlen);
}

int vpci_new_with_rom(struct vpci **out, struct pci_bus *bus, struct gmem *gm,
                      struct virtio_dev *vdev, int devfn, const void *rom, size_t rom_len,
                      char *errbuf, size_t errlen)
{
    const struct virtio_dev_ops *ops = vdev->ops;
    struct vpci *vp;
    int rc;

    *out = NULL;
    vp = calloc(1, sizeof(*vp));
    if (!vp) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    vp->bus = bus;
    vp->gm = gm;
    vp->vdev = vdev;
    vp->num_queues = ops->num_queues(vdev);
    vp->queue_max = ops->queue_max(vdev);
    vp->cfg_size = ops->cfg_size(vdev);
    vp->rom = rom;
    vp->rom_len = rom_len;
    vp->offered = ops->features(vdev) | VPCI_TRANSPORT_FEATURES;
    if (vp->num_queues == 0 || vp->num_queues > VPCI_MAX_QUEUES ||
        vp->num_queues + 1 > PCI_MSIX_MAX_VECTORS || !virtq_size_valid(vp->queue_max) ||
        vp->cfg_size > VPCI_REGION_SIZE || rom_len > (16u << 20)) {
        snprintf(errbuf, errlen, "%s: unsupported queue count, queue size, config or ROM size",
                 ops->name);
        rc = -EINVAL;
        goto out;
    }
    vp->queues = calloc(vp->num_queues, sizeof(*vp->queues));
    vp->vqs = calloc(vp->num_queues, sizeof(*vp->vqs));
    if (!vp->queues || !vp->vqs) {
        snprintf(errbuf, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < vp->num_queues; i++) {
        virtq_init(&vp->vqs[i], i, gm);
        vp->vqs[i].faults = pci_bus_faults(bus);
    }
    vp->transport = (struct virtio_transport){
        .queue = t_queue,
        .notify_queue = t_notify_queue,
        .notify_config = t_notify_config,
        .needs_reset = t_needs_reset,
        .reset_done = t_reset_done,
        .opaque = vp,
    };

    rc = build_function(vp, errbuf, errlen);
    if (rc)
        goto out;
    vdev->transport = &vp->transport;
    reset_state(vp);
    rc = pci_bus_add(bus, &vp->pci, devfn, errbuf, errlen);
    if (rc)
        goto out;
    *out = vp;
    return 0;
out:
    vdev->transport = NULL;
    pci_dev_release(&vp->pci);
    free(vp->queues);
    free(vp->vqs);
    free(vp);
    return rc;
}

void vpci_free(struct vpci *vp)
{
    if (!vp)
        return;
    /* Nothing may complete into queues that are about to go: wait for the backend, once. */
    if (vp->vdev->ops->reset(vp->vdev) == VIRTIO_RESET_PENDING)
        vp->vdev->ops->quiesce(vp->vdev);
    for (unsigned i = 0; i < vp->num_queues; i++)
        virtq_stop(&vp->vqs[i]);
    pci_bus_remove(vp->bus, &vp->pci);
    pci_dev_release(&vp->pci);
    vp->vdev->transport = NULL;
    free(vp->queues);
    free(vp->vqs);
    free(vp);
}

struct pci_dev *vpci_pci_dev(struct vpci *vp)
{
    return &vp->pci;
}

uint8_t vpci_status(const struct vpci *vp)
{
    return vp->status;
}

uint64_t vpci_features(const struct vpci *vp)
{
    return vp->driver_features;
}
