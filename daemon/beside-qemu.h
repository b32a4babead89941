/*
 * What ioreqd must leave to QEMU when both serve one guest. Xen keeps one
 * bit per ISA IRQ and per (device, INTx) line, not a count
 * (xen/arch/x86/hvm/irq.c: hvm_isa_irq_assert, __hvm_pci_intx_assert), so
 * two servers driving one line lose interrupts: the first to lower it
 * lowers it for both. A port, MMIO range or PCI function both claim goes
 * to one of them only (Xen picks one server per access), so the other's
 * device vanishes: ioreqd's Xen platform ports would hide the guest's
 * unplug request from QEMU, and a function at 00:01.0 would take QEMU's
 * PIIX3 away from hvmloader.
 *
 * The check looks at what the devices actually claimed (the io-range
 * registry, the PCI bus) and the ISA IRQs they drive, against what QEMU's
 * xenfv machine always has (refused) and what it has when the guest's
 * configuration asks for it (warned: serial ports, the parallel port, the
 * floppy controller, PCI slots 02-0f).
 */
#ifndef IOREQD_BESIDE_QEMU_H
#define IOREQD_BESIDE_QEMU_H

#include <stdbool.h>
#include <stdint.h>

struct io_registry;
struct pci_bus;

/* The ISA IRQs one device drives (bit n: IRQ n). */
struct beside_qemu_irqs {
    const char *device; /* for messages: "uart (--device)" */
    uint16_t isa_irqs;
};

/* Where each finding goes (the daemon logs them; tests collect them). */
struct beside_qemu_report {
    void (*say)(void *opaque, bool refused, const char *msg);
    void *opaque;
};

/* Reports every conflict; returns how many are refusals (0: ioreqd may run beside QEMU). */
unsigned beside_qemu_check(const struct io_registry *io, struct pci_bus *pci,
                           const struct beside_qemu_irqs *irqs, unsigned nr,
                           const struct beside_qemu_report *report);

#endif
