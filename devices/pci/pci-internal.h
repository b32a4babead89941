/*
 * Glue between the files of the PCI bus (pci-bus.c, pci-dev.c, pci-irq.c,
 * pci-legacy.c). Not for devices: they use pci.h.
 */
#ifndef DEVICES_PCI_INTERNAL_H
#define DEVICES_PCI_INTERNAL_H

#include "pci.h"

struct pci_bus {
    struct io_registry *io;
    struct dm_platform platform;
    struct pci_dev *devs[256]; /* by devfn, bus 0 of segment 0 */
    uint32_t cf8;              /* legacy address latch */
    bool legacy_pio;
    struct dm_faults faults; /* what the bus and its devices refused, by cause */
};

static inline bool pci_ranges_overlap(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
    return a < b + blen && b < a + alen;
}

/* pci-bus.c: bring the registry in line with dev's config space. */
void pci_bus_sync_bars(struct pci_dev *dev);

/* pci-irq.c */
void pci_intx_update(struct pci_dev *dev);
/* A config write of [reg, reg+size) happened; old_* are the values before it. */
void pci_msi_cfg_written(struct pci_dev *dev, unsigned reg, unsigned size, uint16_t old_ctrl);
void pci_msix_cfg_written(struct pci_dev *dev, unsigned reg, unsigned size, uint16_t old_ctrl);
void pci_msix_reset(struct pci_dev *dev);
/* MSI-X table/PBA: true if [offset, offset+size) of BAR `bar` touches them (then it is served). */
bool pci_msix_bar_read(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size,
                       uint64_t *value);
bool pci_msix_bar_write(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size,
                        uint64_t value);

#endif
