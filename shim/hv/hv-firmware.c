/*
 * The firmware's PCI pass, done the way Xen 4.17's hvmloader does it
 * (tools/firmware/hvmloader/pci.c, pci_setup), through the same 0xCF8/0xCFC
 * accesses a guest makes:
 *
 * - the PCI-ISA bridge's PIRQ route registers 0x60-0x63 at 00:01.0 get
 *   IRQs 5, 10, 11, 5 (PCI_ISA_IRQ_MASK is IRQs 5, 10 and 11, taken round
 *   robin), and the ELCR (ports 0x4d0/0x4d1) marks those IRQs level;
 * - every devfn 0-255 is probed, whatever the header type says; a function
 *   answers unless vendor and device ID both read 0xffff;
 * - whatever answers at 00:01.0 must be the PIIX3 (8086:7000): hvmloader
 *   asserts it, which stops the guest, and here the pass fails -EPROTO;
 * - by class: the last std (1234:1111) or Cirrus (1013:00b8) VGA, else the
 *   first other VGA, is the primary VGA; an ACPI PM function (0x0680) must
 *   be the PIIX4's (8086:7113, asserted too) and gets hvmloader's set-up (no
 *   SMBus I/O, IRQ 9, PM I/O at ACPI_PM1A_EVT_BLK_ADDRESS_V1 0xb000 and
 *   enabled); an Intel IDE function (0x0101) gets legacy mode on both
 *   channels;
 * - decode is switched off, BARs 0-5 and the ROM are sized (the size is the
 *   lowest set bit of what reads back, so a mask that is not a power of two
 *   still gets a BAR), the INTx line is written from the route of the link
 *   the barber's pole gives ((pin - 1 + slot) & 3);
 * - BARs go in descending size, equal sizes in scan order, I/O from 0xc000
 *   below 0x10000, memory from HVM_BELOW_4G_MMIO_START (0xf0000000) below
 *   PCI_MEM_END (0xfc000000). When they do not fit, the hole grows down
 *   (0xe0000000, 0xc0000000, 0x80000000) but never over low RAM, as
 *   with qemu-xen, for which libxl forbids relocating RAM; if still too
 *   small, 64-bit BARs move above RAM past 4 GiB while the memory left to
 *   place exceeds the window, largest first;
 * - finally bus master for every function, memory or I/O decode where a
 *   BAR of that kind was placed (I/O also for the first VGA function).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-internal.h"

#define PCI_VENDOR_ID      0x00
#define PCI_COMMAND        0x04
#define PCI_CLASS_REV      0x08
#define PCI_CLASS_DEVICE   0x0a
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_ROM_ADDRESS    0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d
#define CMD_IO             0x1
#define CMD_MEMORY         0x2
#define CMD_MASTER         0x4
#define ROM_ADDRESS_MASK   0xfffff800u
#define ROM_ENABLE         0x1u

#define CLASS_VGA         0x0300
#define CLASS_IDE         0x0101
#define CLASS_ACPI_PM     0x0680
#define PIIX4_PM_ID       0x71138086u
#define ACPI_PM1A_EVT_BLK 0xb000 /* ACPI_PM1A_EVT_BLK_ADDRESS_V1, public/hvm/ioreq.h */
#define VGA_STD_ID        0x11111234u
#define VGA_CIRRUS_ID     0x00b81013u

#define ISA_BRIDGE_DEVFN 0x08 /* 00:01.0, hvmloader's PCI_ISA_DEVFN */
#define ISA_BRIDGE_ID    0x70008086u
#define ISA_PIRQ_ROUTE   0x60
#define ISA_IRQ_MASK     0x0c20u /* IRQs 5, 10, 11: hvmloader's PCI_ISA_IRQ_MASK */
#define ELCR_PORT        0x4d0

#define IO_START  0xc000ull
#define IO_END    0x10000ull
#define MEM_START 0xf0000000ull /* HVM_BELOW_4G_MMIO_START */
#define MEM_END   0xfc000000ull /* PCI_MEM_END */
#define PHYS_BITS 48            /* the mock vCPU's address width, for the high window */

struct fw_bar {
    struct mockhv_pci_func *fn;
    struct mockhv_pci_bar *bar;
    unsigned reg;
};

struct fw {
    struct mockhv *hv;
    unsigned vcpu;
    int timeout_ms;
    int vga; /* primary VGA's devfn, -1 for none */
};

static int rd(struct fw *fw, uint16_t bdf, unsigned reg, unsigned size, uint32_t *v)
{
    return mockhv_cfg_read(fw->hv, fw->vcpu, bdf, reg, size, v, fw->timeout_ms);
}

static int wr(struct fw *fw, uint16_t bdf, unsigned reg, unsigned size, uint32_t v)
{
    return mockhv_cfg_write(fw->hv, fw->vcpu, bdf, reg, size, v, fw->timeout_ms);
}

/* Routes PCI links 0-3 to the ISA IRQs of the mask in turn, and marks them level. */
static int route_pirqs(struct fw *fw)
{
    unsigned irq = 0;
    int rc = 0;

    for (unsigned link = 0; link < 4 && !rc; link++) {
        do
            irq = (irq + 1) & 15;
        while (!(ISA_IRQ_MASK & (1u << irq)));
        rc = wr(fw, ISA_BRIDGE_DEVFN, ISA_PIRQ_ROUTE + link, 1, irq);
    }
    rc = rc ? rc
            : mockhv_pio_out(fw->hv, fw->vcpu, ELCR_PORT, 1, ISA_IRQ_MASK & 0xff, fw->timeout_ms);
    rc = rc ? rc
            : mockhv_pio_out(fw->hv, fw->vcpu, ELCR_PORT + 1, 1, ISA_IRQ_MASK >> 8, fw->timeout_ms);
    return rc;
}

/* Sizes the BAR at reg (index 6: the ROM); *skip says a 64-bit BAR used the next register. */
static int size_bar(struct fw *fw, struct mockhv_pci_func *f, unsigned index, bool *skip)
{
    unsigned reg = index == 6 ? PCI_ROM_ADDRESS : PCI_BAR0 + 4 * index;
    struct mockhv_pci_bar *b = &f->bars[f->nr_bars];
    uint32_t data, lo, data_hi, hi = 0;
    bool rom = index == 6, is64 = false;
    uint64_t size;
    int rc;

    *skip = false;
    rc = rd(fw, f->bdf, reg, 4, &data);
    if (!rc && !rom)
        is64 = (data & 0x7) == 0x4;
    rc = rc ? rc : wr(fw, f->bdf, reg, 4, rom ? (data | ROM_ADDRESS_MASK) & ~ROM_ENABLE : ~0u);
    rc = rc ? rc : rd(fw, f->bdf, reg, 4, &lo);
    rc = rc ? rc : wr(fw, f->bdf, reg, 4, data);
    if (rc)
        return rc;
    if (rom)
        lo &= ROM_ADDRESS_MASK;
    else
        lo &= (data & 1) ? 0xfffcu : ~0xfu;
    if (is64) {
        rc = rd(fw, f->bdf, reg + 4, 4, &data_hi);
        rc = rc ? rc : wr(fw, f->bdf, reg + 4, 4, ~0u);
        rc = rc ? rc : rd(fw, f->bdf, reg + 4, 4, &hi);
        rc = rc ? rc : wr(fw, f->bdf, reg + 4, 4, data_hi);
        if (rc)
            return rc;
        *skip = true;
    }
    size = (uint64_t)hi << 32 | lo;
    size &= ~(size - 1);
    if (!size)
        return 0;
    memset(b, 0, sizeof(*b));
    b->index = index;
    b->io = !rom && (data & 1);
    b->mem64 = is64;
    b->prefetch = !rom && !(data & 1) && (data & 8);
    b->size = size;
    f->nr_bars++;
    return 0;
}

/* hvmloader's set-up by class, before the BARs; -EPROTO where it asserts. */
static int class_setup(struct fw *fw, uint16_t bdf, uint32_t cls, uint32_t id)
{
    int rc = 0;

    switch (cls) {
    case CLASS_VGA:
        /* an emulated VGA wins over one passed through, whatever the order */
        if (id == VGA_STD_ID || id == VGA_CIRRUS_ID || fw->vga < 0)
            fw->vga = bdf;
        break;
    case CLASS_ACPI_PM:
        if (id != PIIX4_PM_ID)
            return -EPROTO;
        rc = wr(fw, bdf, 0x20, 2, 0);
        rc = rc ? rc : wr(fw, bdf, 0xd2, 2, 0);
        rc = rc ? rc : wr(fw, bdf, 0x22, 2, 0);
        rc = rc ? rc : wr(fw, bdf, PCI_INTERRUPT_LINE, 2, 0x0009);
        /* hvmloader writes the word 0x0001 at 0x3d; the mock's accesses are aligned */
        rc = rc ? rc : wr(fw, bdf, PCI_INTERRUPT_PIN, 1, 0x01);
        rc = rc ? rc : wr(fw, bdf, PCI_INTERRUPT_PIN + 1, 1, 0x00);
        rc = rc ? rc : wr(fw, bdf, 0x40, 4, ACPI_PM1A_EVT_BLK | 1);
        rc = rc ? rc : wr(fw, bdf, 0x80, 1, 0x01);
        break;
    case CLASS_IDE:
        if ((id & 0xffff) == 0x8086) {
            rc = wr(fw, bdf, 0x40, 2, 0x8000);
            rc = rc ? rc : wr(fw, bdf, 0x42, 2, 0x8000);
        }
        break;
    }
    return rc;
}

/* -ENODEV when nothing answers at bdf. */
static int probe(struct fw *fw, uint16_t bdf, struct mockhv_pci_func *f)
{
    uint32_t cls, vendor, device, id, hdr, pin, cmd, isa_irq;
    int rc;

    rc = rd(fw, bdf, PCI_CLASS_DEVICE, 2, &cls);
    rc = rc ? rc : rd(fw, bdf, PCI_VENDOR_ID, 2, &vendor);
    rc = rc ? rc : rd(fw, bdf, PCI_VENDOR_ID + 2, 2, &device);
    if (rc)
        return rc;
    id = device << 16 | vendor;
    if (id == 0xffffffffu)
        return -ENODEV;
    /* hvmloader's ASSERT: the guest stops there */
    if (bdf == ISA_BRIDGE_DEVFN && id != ISA_BRIDGE_ID)
        return -EPROTO;
    rc = class_setup(fw, bdf, cls, id);
    if (rc)
        return rc;
    memset(f, 0, sizeof(*f));
    f->bdf = bdf;
    f->vendor = (uint16_t)id;
    f->device = (uint16_t)(id >> 16);
    rc = rd(fw, bdf, PCI_CLASS_REV, 4, &f->class_rev);
    rc = rc ? rc : rd(fw, bdf, PCI_HEADER_TYPE, 1, &hdr);
    rc = rc ? rc : rd(fw, bdf, PCI_COMMAND, 2, &cmd);
    rc = rc ? rc : wr(fw, bdf, PCI_COMMAND, 2, cmd & ~(CMD_IO | CMD_MEMORY));
    if (rc)
        return rc;
    f->header_type = (uint8_t)hdr;
    for (unsigned i = 0; i < 7; i++) {
        bool skip;

        rc = size_bar(fw, f, i, &skip);
        if (rc)
            return rc;
        if (skip)
            i++;
    }
    rc = rd(fw, bdf, PCI_INTERRUPT_PIN, 1, &pin);
    if (rc)
        return rc;
    f->irq_pin = (uint8_t)pin;
    if (pin) {
        unsigned link = ((pin - 1) + (bdf >> 3u)) & 3;

        rc = rd(fw, ISA_BRIDGE_DEVFN, ISA_PIRQ_ROUTE + link, 1, &isa_irq);
        rc = rc ? rc : wr(fw, bdf, PCI_INTERRUPT_LINE, 1, isa_irq);
        f->irq_line = (uint8_t)isa_irq;
    }
    return rc;
}

static unsigned bar_reg(const struct mockhv_pci_bar *b)
{
    return b->index == 6 ? PCI_ROM_ADDRESS : PCI_BAR0 + 4 * b->index;
}

/* Inserts after every BAR of the same size or larger: descending, stable, as hvmloader's list. */
static void insert_sorted(struct fw_bar *list, unsigned *n, struct fw_bar item)
{
    unsigned i = 0;

    while (i < *n && list[i].bar->size >= item.bar->size)
        i++;
    memmove(&list[i + 1], &list[i], (*n - i) * sizeof(*list));
    list[i] = item;
    (*n)++;
}

struct window {
    uint64_t base, max;
};

static int assign(struct fw *fw, struct mockhv_pci_func *fns, int nr, uint8_t *decode)
{
    struct fw_bar *list = calloc(7 * 256, sizeof(*list));
    uint64_t ram_above = fw->hv->ram_bytes - fw->hv->low_end;
    uint64_t pci_mem_start = MEM_START, mmio_total = 0;
    struct window io = {IO_START, IO_END}, mem, high;
    bool relocate64;
    unsigned n = 0;
    int rc = 0;

    if (!list)
        return -ENOMEM;
    for (int i = 0; i < nr; i++) {
        for (unsigned j = 0; j < fns[i].nr_bars; j++) {
            struct mockhv_pci_bar *b = &fns[i].bars[j];

            insert_sorted(list, &n, (struct fw_bar){&fns[i], b, bar_reg(b)});
            if (!b->io)
                mmio_total += b->size;
        }
    }
    /* grow the hole down while it is too small, never over low RAM (no relocation) */
    while (mmio_total > MEM_END - pci_mem_start && (uint32_t)(pci_mem_start << 1) &&
           (uint32_t)(pci_mem_start << 1) >= fw->hv->low_end)
        pci_mem_start = (uint32_t)(pci_mem_start << 1);
    relocate64 = mmio_total > MEM_END - pci_mem_start;
    mem = (struct window){pci_mem_start, MEM_END};
    high = (struct window){ram_above ? HV_HIGH_RAM_START + ram_above : HV_HIGH_RAM_START,
                           1ull << PHYS_BITS};

    for (unsigned i = 0; i < n && !rc; i++) {
        struct mockhv_pci_bar *b = list[i].bar;
        uint16_t bdf = list[i].fn->bdf;
        bool high64 = b->mem64 && relocate64 && mmio_total > mem.max - mem.base;
        struct window *w = b->io ? &io : high64 ? &high : &mem;
        uint64_t base, end;
        uint32_t data;

        rc = rd(fw, bdf, list[i].reg, 4, &data);
        if (rc)
            break;
        if (!b->io)
            mmio_total -= b->size;
        data &= b->io ? 0x3u : 0xfu;
        base = (w->base + b->size - 1) & ~(b->size - 1);
        end = base + b->size;
        if (end < w->base || end > w->max)
            continue; /* "no space for resource": left where it was */
        w->base = end;
        b->base = base;
        rc = wr(fw, bdf, list[i].reg, 4, data | (uint32_t)base);
        if (!rc && high64)
            rc = wr(fw, bdf, list[i].reg + 4, 4, (uint32_t)(base >> 32));
        decode[bdf] |= b->io ? CMD_IO : CMD_MEMORY;
    }
    free(list);
    return rc;
}

int mockhv_firmware_pci_init(struct mockhv *hv, unsigned vcpu, struct mockhv_pci_func *out,
                             size_t max, int timeout_ms)
{
    struct fw fw = {.hv = hv, .vcpu = vcpu, .timeout_ms = timeout_ms, .vga = -1};
    struct mockhv_pci_func *fns = calloc(256, sizeof(*fns));
    uint8_t decode[256] = {0};
    int nr = 0, rc;

    if (!fns)
        return -ENOMEM;
    rc = route_pirqs(&fw);
    for (unsigned devfn = 0; devfn < 256 && !rc; devfn++) {
        rc = probe(&fw, (uint16_t)devfn, &fns[nr]);
        if (rc == -ENODEV) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        decode[devfn] = CMD_MASTER;
        nr++;
    }
    if (!rc)
        rc = assign(&fw, fns, nr, decode);
    if (!rc && fw.vga >= 0)
        decode[fw.vga] |= CMD_IO;
    for (unsigned devfn = 0; devfn < 256 && !rc; devfn++) {
        uint32_t cmd;

        if (!decode[devfn])
            continue;
        rc = rd(&fw, (uint16_t)devfn, PCI_COMMAND, 2, &cmd);
        rc = rc ? rc : wr(&fw, (uint16_t)devfn, PCI_COMMAND, 2, cmd | decode[devfn]);
    }
    if (!rc) {
        memcpy(out, fns, (size_t)nr < max ? nr * sizeof(*fns) : max * sizeof(*fns));
        rc = nr;
    }
    free(fns);
    return rc;
}
