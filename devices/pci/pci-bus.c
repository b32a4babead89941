/*
 * The PCI bus: bus 0 of segment 0, 32 slots of up to 8 functions. It places
 * functions, routes their config cycles (IOREQ_TYPE_PCI_CONFIG and the legacy
 * 0xCF8/0xCFC path alike) and is the only code that maps BARs into the
 * io-range registry: a config write computes the range changes
 * (pci_dev_bar_changes), then this file applies them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pci-internal.h"

static const char *dev_name(const struct pci_dev *dev)
{
    return dev->ops && dev->ops->name ? dev->ops->name : "pci";
}

static uint64_t bar_io_read(void *opaque, const struct io_access *a)
{
    struct pci_bar *bar = opaque;
    struct pci_dev *dev = bar->dev;
    uint64_t value;

    if (pci_msix_bar_read(dev, bar->index, a->offset, a->size, &value))
        return value;
    if (!dev->ops->bar_read)
        return io_all_ones(a->size);
    return dev->ops->bar_read(dev, bar->index, a->offset, a->size);
}

static void bar_io_write(void *opaque, const struct io_access *a, uint64_t value)
{
    struct pci_bar *bar = opaque;
    struct pci_dev *dev = bar->dev;

    if (pci_msix_bar_write(dev, bar->index, a->offset, a->size, value))
        return;
    if (dev->ops->bar_write)
        dev->ops->bar_write(dev, bar->index, a->offset, a->size, value);
}

static const struct io_ops bar_io_ops = {
    .read = bar_io_read,
    .write = bar_io_write,
};

/* Applies changes; returns true if anything was unmapped (others may now fit). */
static bool apply_changes(struct pci_dev *dev, const struct pci_range_change *ch, unsigned n)
{
    uint64_t old[PCI_NUM_SLOTS];
    bool unmapped = false;

    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
        old[i] = dev->bars[i].mapped;
    for (unsigned i = 0; i < n; i++) {
        struct pci_bar *bar = &dev->bars[ch[i].bar];
        if (ch[i].op == PCI_RANGE_UNMAP) {
            if (io_unmap(dev->bus->io, ch[i].space, ch[i].base))
                log_warn("%s: %s at %#" PRIx64 " was not in the registry", dev_name(dev), bar->name,
                         ch[i].base);
            bar->mapped = PCI_BAR_UNMAPPED;
            unmapped = true;
            continue;
        }
        struct io_range r = {
            .space = ch[i].space,
            .base = ch[i].base,
            .len = ch[i].len,
            .ops = &bar_io_ops,
            .opaque = bar,
            .name = bar->name,
        };
        int rc = io_map(dev->bus->io, &r);
        if (rc) {
            log_guest("%s: %s at %#" PRIx64 "+%#" PRIx64 " not mapped: %s", dev_name(dev),
                      bar->name, ch[i].base, ch[i].len, strerror(-rc));
            continue;
        }
        bar->mapped = ch[i].base;
    }
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
        if (old[i] != dev->bars[i].mapped && dev->ops && dev->ops->bar_moved)
            dev->ops->bar_moved(dev, i, old[i], dev->bars[i].mapped);
    return unmapped;
}

static bool sync_one(struct pci_dev *dev)
{
    struct pci_range_change ch[2 * PCI_NUM_SLOTS];
    unsigned n;

    if (!dev->bus)
        return false;
    n = pci_dev_bar_changes(dev, ch);
    return n ? apply_changes(dev, ch, n) : false;
}

void pci_bus_sync_bars(struct pci_dev *dev)
{
    struct pci_bus *bus = dev->bus;

    if (!sync_one(dev) || !bus)
        return;
    /* Freed space may let BARs refused earlier for overlapping map now. */
    for (unsigned i = 0; i < ARRAY_SIZE(bus->devs); i++)
        if (bus->devs[i] && bus->devs[i] != dev)
            sync_one(bus->devs[i]);
}

struct pci_bus *pci_bus_new(struct io_registry *io, struct dm_platform platform)
{
    struct pci_bus *bus = calloc(1, sizeof(*bus));

    if (!bus)
        return NULL;
    bus->io = io;
    bus->platform = platform;
    return bus;
}

void pci_bus_free(struct pci_bus *bus)
{
    if (!bus)
        return;
    for (unsigned i = 0; i < ARRAY_SIZE(bus->devs); i++)
        if (bus->devs[i])
            pci_bus_remove(bus, bus->devs[i]);
    if (bus->legacy_pio) {
        io_unmap(bus->io, IO_SPACE_PIO, 0xcf8);
        io_unmap(bus->io, IO_SPACE_PIO, 0xcfc);
    }
    free(bus);
}

static struct pci_dev *slot_owner(const struct pci_bus *bus, unsigned slot)
{
    for (unsigned fn = 0; fn < 8; fn++)
        if (bus->devs[slot << 3 | fn])
            return bus->devs[slot << 3 | fn];
    return NULL;
}

int pci_bus_add(struct pci_bus *bus, struct pci_dev *dev, int devfn, char *errbuf, size_t errlen)
{
    struct pci_dev *owner;
    int rc;

    if (devfn < 0) {
        /*
         * Slot 0 is the host bridge's and slot 1 the PIIX3's: Xen's hvmloader
         * programs its PCI-ISA links at devfn 0x08 and asserts that whatever
         * answers there is 8086:7000 (PCI_ISA_DEVFN, pci_setup() in
         * tools/firmware/hvmloader/pci.c), as QEMU's xenfv machine puts it.
         * Without bdf= a device never lands on either.
         */
        for (unsigned slot = PCI_FIRST_FREE_SLOT; slot < 32 && devfn < 0; slot++)
            if (!slot_owner(bus, slot))
                devfn = (int)(slot << 3);
        if (devfn < 0) {
            snprintf(errbuf, errlen, "%s: no free PCI slot on bus 00", dev_name(dev));
            return -ENOSPC;
        }
    }
    if (devfn > 255) {
        snprintf(errbuf, errlen, "%s: devfn %#x out of range", dev_name(dev), devfn);
        return -EINVAL;
    }
    owner = slot_owner(bus, (unsigned)devfn >> 3);
    if (owner) {
        snprintf(errbuf, errlen, "%s: PCI slot 00:%02x is already taken by %s", dev_name(dev),
                 (unsigned)devfn >> 3, dev_name(owner));
        return -EEXIST;
    }

    dev->bus = bus;
    dev->sbdf = PCI_SBDF(0, 0, (unsigned)devfn >> 3, (unsigned)devfn & 7);
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
        snprintf(dev->bars[i].name, sizeof(dev->bars[i].name), "%s.%s%u", dev_name(dev),
                 i == PCI_ROM_SLOT ? "rom" : "bar", i == PCI_ROM_SLOT ? 0 : i);
    if (dev->ops && dev->ops->init) {
        rc = dev->ops->init(dev);
        if (rc) {
            snprintf(errbuf, errlen, "%s: init failed: %s", dev_name(dev), strerror(-rc));
            goto out;
        }
    }
    /* The power-on image includes whatever init set up. */
    memcpy(dev->reset_cfg, dev->cfg, sizeof(dev->cfg));
    if (bus->platform.ops && bus->platform.ops->map_pcidev) {
        rc = bus->platform.ops->map_pcidev(bus->platform.opaque, dev->sbdf);
        if (rc) {
            snprintf(errbuf, errlen, "%s: routing config cycles of 00:%02x.%x failed: %s",
                     dev_name(dev), (unsigned)devfn >> 3, (unsigned)devfn & 7, strerror(-rc));
            if (dev->ops && dev->ops->fini)
                dev->ops->fini(dev);
            goto out;
        }
    }
    bus->devs[devfn] = dev;
    return 0;
out:
    dev->bus = NULL;
    return rc;
}

void pci_bus_remove(struct pci_bus *bus, struct pci_dev *dev)
{
    unsigned devfn = PCI_SBDF_DEVFN(dev->sbdf);

    if (dev->bus != bus || bus->devs[devfn] != dev)
        return;
    /* Stop decoding: clear the command register's decode bits, then sync. */
    pci_cfg_set16(dev, PCI_COMMAND,
                  pci_cfg_get16(dev, PCI_COMMAND) & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    sync_one(dev);
    dev->intx_level = false;
    pci_intx_update(dev);
    if (bus->platform.ops && bus->platform.ops->unmap_pcidev)
        bus->platform.ops->unmap_pcidev(bus->platform.opaque, dev->sbdf);
    bus->devs[devfn] = NULL;
    if (dev->ops && dev->ops->fini)
        dev->ops->fini(dev);
    dev->bus = NULL;
    pci_dev_release(dev);
}

struct pci_dev *pci_bus_find(struct pci_bus *bus, uint32_t sbdf)
{
    if (!bus || sbdf > 0xff)
        return NULL; /* only segment 0, bus 0 */
    return bus->devs[sbdf];
}

/* A config access we serve: size 1, 2 or 4 within one dword and the decoded space. */
static bool cfg_access_ok(const struct pci_dev *dev, unsigned reg, unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        return false;
    if ((reg & 3) + size > 4)
        return false;
    return reg < dev->cfg_size && size <= dev->cfg_size - reg;
}

uint32_t pci_bus_cfg_read(void *opaque, uint32_t sbdf, unsigned reg, unsigned size)
{
    struct pci_dev *dev = pci_bus_find(opaque, sbdf);
    uint32_t value = 0;

    if (!dev)
        return (uint32_t)io_all_ones(size > 4 ? 4 : size);
    if (!cfg_access_ok(dev, reg, size)) {
        if (reg < PCI_CFG_SPACE_EXP_SIZE && (size == 1 || size == 2 || size == 4) &&
            (reg & 3) + size <= 4)
            return (uint32_t)io_all_ones(size); /* beyond the decoded space: no log */
        log_guest("%s: config read of %u bytes at %#x refused", dev_name(dev), size, reg);
        return (uint32_t)io_all_ones(size > 4 ? 4 : size);
    }
    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)dev->cfg[reg + i] << (8 * i);
    if (dev->ops && dev->ops->cfg_read) {
        uint32_t v = value;
        if (dev->ops->cfg_read(dev, reg, size, &v) == PCI_HOOK_HANDLED)
            value = v & (uint32_t)io_all_ones(size);
    }
    return value;
}

void pci_bus_cfg_write(void *opaque, uint32_t sbdf, unsigned reg, unsigned size, uint32_t value)
{
    struct pci_dev *dev = pci_bus_find(opaque, sbdf);

    if (!dev)
        return;
    if (!cfg_access_ok(dev, reg, size)) {
        if (reg >= dev->cfg_size && reg < PCI_CFG_SPACE_EXP_SIZE)
            return;
        log_guest("%s: config write of %u bytes at %#x dropped", dev_name(dev), size, reg);
        return;
    }
    value &= (uint32_t)io_all_ones(size);
    if (dev->ops && dev->ops->cfg_write &&
        dev->ops->cfg_write(dev, reg, size, value) == PCI_HOOK_HANDLED)
        return;
    pci_dev_cfg_write_default(dev, reg, size, value);
}

int pci_parse_bdf(const char *text, int *devfn)
{
    unsigned v[4], n = 0, slot, fn = 0;
    const char *p = text;
    char *end;

    if (!text || !*text)
        return -EINVAL;
    /* Up to three ':'-separated hex fields, the last optionally ".F". */
    for (;;) {
        unsigned long x;
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return -EINVAL;
        x = strtoul(p, &end, 16);
        if (end - p > 4 || x > 0xffff || n >= 3)
            return -EINVAL;
        v[n++] = (unsigned)x;
        p = end;
        if (*p != ':')
            break;
        p++;
    }
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '7' || p[2])
            return -EINVAL;
        fn = (unsigned)(p[1] - '0');
    } else if (*p) {
        return -EINVAL;
    }
    slot = v[n - 1];
    if (slot > 0x1f)
        return -EINVAL;
    if (n >= 2 && v[n - 2] != 0)
        return -EINVAL; /* bus */
    if (n == 3 && v[0] != 0)
        return -EINVAL; /* segment */
    *devfn = (int)(slot << 3 | fn);
    return 0;
}
