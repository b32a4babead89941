/*
 * Configuration mechanism #1 (PCI 3.0, 3.2.2.3.2): the address latch at
 * 0xCF8 and the data window at 0xCFC-0xCFF, decoded only when ioreqd is told
 * to own those ports (host-bridge,cf8=on). Accesses end in the same
 * pci_bus_cfg_read/write the IOREQ_TYPE_PCI_CONFIG path uses.
 */
#include <errno.h>

#include "log.h"
#include "pci-internal.h"

#define CF8_ENABLE 0x80000000u
/* Enable, bus, device, function and dword register; bits 30:24 and 1:0 are reserved. */
#define CF8_WRITABLE 0x80fffffcu

static uint64_t cf8_read(void *opaque, const struct io_access *a)
{
    struct pci_bus *bus = opaque;

    /* Only dword accesses reach the latch; narrower ones hit other chipset registers. */
    return a->size == 4 ? bus->cf8 : io_all_ones(a->size);
}

static void cf8_write(void *opaque, const struct io_access *a, uint64_t value)
{
    struct pci_bus *bus = opaque;

    if (a->size == 4)
        bus->cf8 = (uint32_t)value & CF8_WRITABLE;
}

static bool cfc_target(const struct pci_bus *bus, const struct io_access *a, uint32_t *sbdf,
                       unsigned *reg)
{
    if (!(bus->cf8 & CF8_ENABLE) || a->size > 4 || a->offset + a->size > 4)
        return false;
    *sbdf = (bus->cf8 >> 8) & 0xffff; /* bus << 8 | devfn */
    *reg = (bus->cf8 & 0xfc) + (unsigned)a->offset;
    return true;
}

static uint64_t cfc_read(void *opaque, const struct io_access *a)
{
    struct pci_bus *bus = opaque;
    uint32_t sbdf;
    unsigned reg;

    if (!cfc_target(bus, a, &sbdf, &reg))
        return io_all_ones(a->size);
    return pci_bus_cfg_read(bus, sbdf, reg, a->size);
}

static void cfc_write(void *opaque, const struct io_access *a, uint64_t value)
{
    struct pci_bus *bus = opaque;
    uint32_t sbdf;
    unsigned reg;

    if (cfc_target(bus, a, &sbdf, &reg))
        pci_bus_cfg_write(bus, sbdf, reg, a->size, (uint32_t)value);
}

static const struct io_ops cf8_ops = {
    .read = cf8_read,
    .write = cf8_write,
};

static const struct io_ops cfc_ops = {
    .read = cfc_read,
    .write = cfc_write,
};

int pci_bus_claim_legacy_pio(struct pci_bus *bus)
{
    struct io_range addr = {
        .space = IO_SPACE_PIO,
        .base = 0xcf8,
        .len = 4,
        .ops = &cf8_ops,
        .opaque = bus,
        .name = "pci.cf8",
    };
    struct io_range data = {
        .space = IO_SPACE_PIO,
        .base = 0xcfc,
        .len = 4,
        .ops = &cfc_ops,
        .opaque = bus,
        .name = "pci.cfc",
    };
    int rc;

    if (bus->legacy_pio)
        return -EEXIST;
    rc = io_map(bus->io, &addr);
    if (rc)
        goto out;
    rc = io_map(bus->io, &data);
    if (rc) {
        io_unmap(bus->io, IO_SPACE_PIO, 0xcf8);
        goto out;
    }
    bus->legacy_pio = true;
out:
    return rc;
}
