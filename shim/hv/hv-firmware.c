/*
 * The firmware's PCI pass, done the way hvmloader does it, through the same
 * 0xCF8/0xCFC accesses a guest would make: scan bus 0 (functions 1-7 only
 * behind a multi-function header), size every BAR of type-0 functions by
 * writing all-ones, sort all BARs largest first, place I/O BARs from 0xc000
 * and memory BARs from 0xf0000000 (up to 0xfc000000; 64-bit BARs that do
 * not fit go above the RAM past 4 GiB), each aligned to its size, then turn
 * on I/O, memory and bus-master decode in the command register.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-internal.h"

#define PCI_VENDOR_ID     0x00
#define PCI_COMMAND       0x04
#define PCI_CLASS_REV     0x08
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_INTERRUPT_PIN 0x3d
#define CMD_IO            0x1
#define CMD_MEMORY        0x2
#define CMD_MASTER        0x4
#define IO_START          0xc000ull
#define IO_END            0x10000ull
#define MEM_START         0xf0000000ull
#define MEM_END           0xfc000000ull

struct fw_bar {
    struct mockhv_pci_func *fn;
    struct mockhv_pci_bar *bar;
};

struct fw {
    struct mockhv *hv;
    unsigned vcpu;
    int timeout_ms;
};

static int rd(struct fw *fw, uint16_t bdf, unsigned reg, unsigned size, uint32_t *v)
{
    return mockhv_cfg_read(fw->hv, fw->vcpu, bdf, reg, size, v, fw->timeout_ms);
}

static int wr(struct fw *fw, uint16_t bdf, unsigned reg, unsigned size, uint32_t v)
{
    return mockhv_cfg_write(fw->hv, fw->vcpu, bdf, reg, size, v, fw->timeout_ms);
}

/* Sizes BAR i; *skip tells the caller a 64-bit BAR used the next register. */
static int size_bar(struct fw *fw, struct mockhv_pci_func *f, unsigned i, bool *skip)
{
    unsigned reg = PCI_BAR0 + 4 * i;
    uint32_t orig, mask, orig_hi = 0, mask_hi = 0;
    struct mockhv_pci_bar *b = &f->bars[f->nr_bars];
    uint64_t m;
    int rc;

    *skip = false;
    rc = rd(fw, f->bdf, reg, 4, &orig);
    rc = rc ? rc : wr(fw, f->bdf, reg, 4, 0xffffffff);
    rc = rc ? rc : rd(fw, f->bdf, reg, 4, &mask);
    rc = rc ? rc : wr(fw, f->bdf, reg, 4, orig);
    if (rc || mask == 0 || mask == 0xffffffff)
        return rc;
    memset(b, 0, sizeof(*b));
    b->index = i;
    if (mask & 1) {
        m = mask & ~3u;
        if (!(m & 0xffff0000))
            m |= 0xffff0000;
        b->io = true;
        b->size = (uint32_t)(~m + 1);
    } else {
        b->prefetch = mask & 8;
        if (((mask >> 1) & 3) == 2 && i < 5) {
            b->mem64 = true;
            *skip = true;
            rc = rd(fw, f->bdf, reg + 4, 4, &orig_hi);
            rc = rc ? rc : wr(fw, f->bdf, reg + 4, 4, 0xffffffff);
            rc = rc ? rc : rd(fw, f->bdf, reg + 4, 4, &mask_hi);
            rc = rc ? rc : wr(fw, f->bdf, reg + 4, 4, orig_hi);
            if (rc)
                return rc;
        }
        m = (uint64_t)mask_hi << 32 | (mask & ~0xfu);
        if (!b->mem64)
            m |= 0xffffffff00000000ull;
        b->size = ~m + 1;
    }
    /* a size that is not a power of two is a broken device: leave it alone */
    if (b->size && !(b->size & (b->size - 1)))
        f->nr_bars++;
    return 0;
}

static int probe(struct fw *fw, uint16_t bdf, struct mockhv_pci_func *f, bool *multi)
{
    uint32_t id, cls, hdr, pin;
    int rc = rd(fw, bdf, PCI_VENDOR_ID, 4, &id);

    if (rc)
        return rc;
    if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
        return -ENODEV;
    memset(f, 0, sizeof(*f));
    f->bdf = bdf;
    f->vendor = (uint16_t)id;
    f->device = (uint16_t)(id >> 16);
    rc = rd(fw, bdf, PCI_CLASS_REV, 4, &cls);
    rc = rc ? rc : rd(fw, bdf, PCI_HEADER_TYPE, 1, &hdr);
    rc = rc ? rc : rd(fw, bdf, PCI_INTERRUPT_PIN, 1, &pin);
    if (rc)
        return rc;
    f->class_rev = cls;
    f->header_type = (uint8_t)hdr;
    f->irq_pin = (uint8_t)pin;
    *multi = hdr & 0x80;
    if ((hdr & 0x7f) != 0)
        return 0;
    for (unsigned i = 0; i < 6; i++) {
        bool skip;
        rc = size_bar(fw, f, i, &skip);
        if (rc)
            return rc;
        if (skip)
            i++;
    }
    return 0;
}

static int by_size_desc(const void *a, const void *b)
{
    const struct fw_bar *x = a, *y = b;

    if (x->bar->size != y->bar->size)
        return x->bar->size < y->bar->size ? 1 : -1;
    return 0;
}

static uint64_t place(uint64_t *next, uint64_t end, uint64_t size)
{
    uint64_t base = (*next + size - 1) & ~(size - 1);

    if (base < *next || base + size > end || base + size < base)
        return 0;
    *next = base + size;
    return base;
}

static int assign(struct fw *fw, struct mockhv_pci_func *fns, int nr)
{
    struct fw_bar list[6 * 256];
    uint64_t io = IO_START, mem = MEM_START;
    uint64_t high = HV_HIGH_RAM_START + (fw->hv->ram_bytes - fw->hv->low_end);
    unsigned n = 0;
    int rc = 0;

    for (int i = 0; i < nr; i++)
        for (unsigned j = 0; j < fns[i].nr_bars; j++)
            list[n++] = (struct fw_bar){&fns[i], &fns[i].bars[j]};
    qsort(list, n, sizeof(list[0]), by_size_desc);
    for (unsigned i = 0; i < n && !rc; i++) {
        struct mockhv_pci_bar *b = list[i].bar;
        unsigned reg = PCI_BAR0 + 4 * b->index;

        if (b->io)
            b->base = place(&io, IO_END, b->size);
        else
            b->base = place(&mem, MEM_END, b->size);
        if (!b->base && b->mem64)
            b->base = place(&high, UINT64_MAX, b->size);
        if (!b->base)
            continue;
        rc = wr(fw, list[i].fn->bdf, reg, 4, (uint32_t)b->base);
        if (!rc && b->mem64)
            rc = wr(fw, list[i].fn->bdf, reg + 4, 4, (uint32_t)(b->base >> 32));
    }
    for (int i = 0; i < nr && !rc; i++) {
        uint32_t cmd;

        if ((fns[i].header_type & 0x7f) != 0)
            continue;
        rc = rd(fw, fns[i].bdf, PCI_COMMAND, 2, &cmd);
        rc = rc ? rc : wr(fw, fns[i].bdf, PCI_COMMAND, 2, cmd | CMD_IO | CMD_MEMORY | CMD_MASTER);
    }
    return rc;
}

int mockhv_firmware_pci_init(struct mockhv *hv, unsigned vcpu, struct mockhv_pci_func *out,
                             size_t max, int timeout_ms)
{
    struct fw fw = {.hv = hv, .vcpu = vcpu, .timeout_ms = timeout_ms};
    struct mockhv_pci_func *fns = calloc(256, sizeof(*fns));
    int nr = 0, rc = 0;

    if (!fns)
        return -ENOMEM;
    for (unsigned dev = 0; dev < 32 && !rc; dev++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            bool multi = false;

            rc = probe(&fw, (uint16_t)(dev << 3 | fn), &fns[nr], &multi);
            if (rc == -ENODEV) {
                rc = 0;
                if (fn == 0)
                    break;
                continue;
            }
            if (rc)
                break;
            nr++;
            if (fn == 0 && !multi)
                break;
        }
    }
    if (!rc)
        rc = assign(&fw, fns, nr);
    if (!rc) {
        memcpy(out, fns, (size_t)nr < max ? nr * sizeof(*fns) : max * sizeof(*fns));
        rc = nr;
    }
    free(fns);
    return rc;
}
