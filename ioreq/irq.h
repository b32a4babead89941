/*
 * Interrupt lines handed to device cores, so a device never knows whether it
 * raises an ISA IRQ on Xen, a PCI INTx pin, or a recorder in a unit test.
 * (MSIs are the PCI bus's: pci_msi_notify, pci_msix_notify.)
 */
#ifndef IOREQ_IRQ_H
#define IOREQ_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_line {
    void (*set_level)(void *opaque, bool level);
    void *opaque;
};

static inline void irq_set_level(const struct irq_line *line, bool level)
{
    if (line && line->set_level)
        line->set_level(line->opaque, level);
}

#endif
