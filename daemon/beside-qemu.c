/*
 * The conflicts beside-qemu.h describes, as tables of what QEMU's xenfv
 * machine (hw/i386/pc_piix.c, the PIIX3 and its ISA devices, hw/i386/xen/
 * xen_platform.c) and the platform hvmloader sets up use.
 */
#include "beside-qemu.h"

#include <inttypes.h>
#include <stdio.h>

#include "io-range.h"
#include "pci/pci.h"

struct qemu_ports {
    uint16_t first, last;
    bool always; /* false: only when the guest's configuration gives QEMU that device */
    const char *what;
};

static const struct qemu_ports qemu_ports[] = {
    {0x0010, 0x001f, true, "the Xen platform device's fixed ports (unplug protocol)"},
    {0x0060, 0x0060, true, "the i8042 keyboard controller"},
    {0x0064, 0x0064, true, "the i8042 keyboard controller"},
    {0x0170, 0x0177, true, "the PIIX3 IDE secondary channel"},
    {0x01f0, 0x01f7, true, "the PIIX3 IDE primary channel"},
    {0x0376, 0x0376, true, "the PIIX3 IDE secondary channel"},
    {0x03f6, 0x03f6, true, "the PIIX3 IDE primary channel"},
    {0x03b0, 0x03df, true, "VGA"},
    {0x0cf8, 0x0cff, true, "the i440FX configuration ports"},
    {0x03f8, 0x03ff, false, "COM1 (serial=)"},
    {0x02f8, 0x02ff, false, "COM2 (serial=)"},
    {0x03e8, 0x03ef, false, "COM3 (serial=)"},
    {0x02e8, 0x02ef, false, "COM4 (serial=)"},
    {0x0378, 0x037f, false, "LPT1 (parallel=)"},
    {0x03f0, 0x03f5, false, "the floppy controller"},
};

struct qemu_irq {
    bool always;
    const char *what;
};

static const struct qemu_irq qemu_irqs[16] = {
    [0] = {true, "the PIT's (Xen's)"},
    [1] = {true, "the i8042 keyboard's"},
    [2] = {true, "the PIC cascade"},
    [3] = {false, "COM2's and COM4's (serial=)"},
    [4] = {false, "COM1's and COM3's (serial=)"},
    [5] = {true, "a PCI interrupt link's (hvmloader routes links to 5, 10 and 11, level)"},
    [6] = {false, "the floppy controller's"},
    [7] = {false, "LPT1's (parallel=)"},
    [8] = {true, "the RTC's (Xen's)"},
    [9] = {true, "the ACPI SCI (hvmloader sets IRQ 9)"},
    [10] = {true, "a PCI interrupt link's (hvmloader routes links to 5, 10 and 11, level)"},
    [11] = {true, "a PCI interrupt link's (hvmloader routes links to 5, 10 and 11, level)"},
    [12] = {true, "the i8042 mouse's"},
    [13] = {true, "the FPU's"},
    [14] = {true, "the PIIX3 IDE primary channel's"},
    [15] = {true, "the PIIX3 IDE secondary channel's"},
};

#define QEMU_LAST_OWN_SLOT   0x01 /* i440FX 00:00.0, PIIX3 00:01.0-00:01.3 */
#define QEMU_LAST_MAYBE_SLOT 0x0f /* VGA, platform device, NICs, USB, passthrough */
#define XEN_PLATFORM_ID      0x00015853u

struct checker {
    const struct beside_qemu_report *report;
    unsigned refused;
};

static void say(struct checker *c, bool refused, const char *msg)
{
    if (refused)
        c->refused++;
    if (c->report && c->report->say)
        c->report->say(c->report->opaque, refused, msg);
}

static void check_ports(struct checker *c, const struct io_registry *io)
{
    char msg[256];

    for (unsigned i = 0; i < io_range_count(io, IO_SPACE_PIO); i++) {
        const struct io_range *r = io_range_at(io, IO_SPACE_PIO, i);
        uint64_t last = r->base + r->len - 1;

        for (unsigned q = 0; q < sizeof(qemu_ports) / sizeof(qemu_ports[0]); q++) {
            const struct qemu_ports *p = &qemu_ports[q];

            if (r->base > p->last || last < p->first)
                continue;
            snprintf(msg, sizeof(msg),
                     "%s: ports %#" PRIx64 "-%#" PRIx64 " overlap %s%s at %#x-%#x: "
                     "Xen sends each access to one server only",
                     r->name ? r->name : "a device", r->base, last,
                     p->always ? "QEMU's " : "what QEMU has beside it when asked for ", p->what,
                     p->first, p->last);
            say(c, p->always, msg);
            break;
        }
    }
}

static void check_irqs(struct checker *c, const struct beside_qemu_irqs *irqs, unsigned nr)
{
    char msg[256];

    for (unsigned i = 0; i < nr; i++) {
        for (unsigned irq = 0; irq < 16; irq++) {
            if (!(irqs[i].isa_irqs & (1u << irq)))
                continue;
            snprintf(msg, sizeof(msg),
                     "%s: ISA IRQ %u is %s%s: Xen keeps one level per ISA IRQ, so two "
                     "servers on it lose interrupts",
                     irqs[i].device, irq, qemu_irqs[irq].always ? "" : "QEMU's when it has ",
                     qemu_irqs[irq].what);
            say(c, qemu_irqs[irq].always, msg);
        }
    }
}

static void check_pci(struct checker *c, struct pci_bus *pci)
{
    char msg[256];

    if (!pci)
        return;
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        struct pci_dev *dev = pci_bus_find(pci, devfn);
        unsigned slot = devfn >> 3;
        uint32_t id;

        if (!dev)
            continue;
        id = (uint32_t)pci_cfg_get16(dev, PCI_DEVICE_ID) << 16 | pci_cfg_get16(dev, PCI_VENDOR_ID);
        if (slot <= QEMU_LAST_OWN_SLOT) {
            snprintf(msg, sizeof(msg),
                     "PCI 00:%02x.%x is QEMU's (i440FX at 00:00.0, PIIX3 at 00:01.x): "
                     "Xen sends its config cycles to one server only",
                     slot, devfn & 7);
            say(c, true, msg);
        } else if (slot <= QEMU_LAST_MAYBE_SLOT) {
            snprintf(msg, sizeof(msg),
                     "PCI 00:%02x.%x is among the slots QEMU gives its VGA, Xen platform "
                     "device, network cards and passed-through devices (00:02-00:0f): make sure "
                     "QEMU has nothing there",
                     slot, devfn & 7);
            say(c, false, msg);
        }
        if (id == XEN_PLATFORM_ID) {
            snprintf(msg, sizeof(msg),
                     "PCI 00:%02x.%x is a second Xen platform device beside QEMU's: "
                     "the guest's PV drivers bind to one of them",
                     slot, devfn & 7);
            say(c, false, msg);
        }
    }
}

unsigned beside_qemu_check(const struct io_registry *io, struct pci_bus *pci,
                           const struct beside_qemu_irqs *irqs, unsigned nr,
                           const struct beside_qemu_report *report)
{
    struct checker c = {.report = report};

    if (io)
        check_ports(&c, io);
    check_irqs(&c, irqs, nr);
    check_pci(&c, pci);
    return c.refused;
}
