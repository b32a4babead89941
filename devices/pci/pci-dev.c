/*
 * One PCI function's configuration space as data: the bytes, a write mask and
 * a write-1-to-clear mask per byte, the BAR declarations and the capability
 * list. Guest writes go through pci_dev_cfg_write_default(), which applies the
 * masks byte by byte and then the side effects (BAR decoding, INTx, MSI and
 * MSI-X control). The power-on image is kept for reset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pci-internal.h"

/* Command bits a type-0 function implements (PCI 3.0, 6.2.2). */
#define PCI_COMMAND_WMASK                                                                          \
    (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |               \
     PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Status error bits are RW1C (PCI 3.0, 6.2.3). */
#define PCI_STATUS_W1C                                                                             \
    (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |               \
     PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

#define PCI_MAX_CAP_WALK 48 /* (256 - 64) / 4: more hops than that is a loop */

uint8_t pci_cfg_get8(const struct pci_dev *dev, unsigned off)
{
    return off < PCI_CFG_SPACE_EXP_SIZE ? dev->cfg[off] : 0xff;
}

uint16_t pci_cfg_get16(const struct pci_dev *dev, unsigned off)
{
    return (uint16_t)(pci_cfg_get8(dev, off) | pci_cfg_get8(dev, off + 1) << 8);
}

uint32_t pci_cfg_get32(const struct pci_dev *dev, unsigned off)
{
    return (uint32_t)pci_cfg_get16(dev, off) | (uint32_t)pci_cfg_get16(dev, off + 2) << 16;
}

static void cfg_set_bytes(uint8_t *arr, unsigned off, unsigned len, uint32_t v)
{
    for (unsigned i = 0; i < len && off + i < PCI_CFG_SPACE_EXP_SIZE; i++)
        arr[off + i] = (uint8_t)(v >> (8 * i));
}

void pci_cfg_set8(struct pci_dev *dev, unsigned off, uint8_t v)
{
    cfg_set_bytes(dev->cfg, off, 1, v);
}

void pci_cfg_set16(struct pci_dev *dev, unsigned off, uint16_t v)
{
    cfg_set_bytes(dev->cfg, off, 2, v);
}

void pci_cfg_set32(struct pci_dev *dev, unsigned off, uint32_t v)
{
    cfg_set_bytes(dev->cfg, off, 4, v);
}

void pci_cfg_set_wmask(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask)
{
    cfg_set_bytes(dev->wmask, off, len, mask);
}

void pci_cfg_set_w1cmask(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask)
{
    cfg_set_bytes(dev->w1cmask, off, len, mask);
}

void pci_dev_init(struct pci_dev *dev, const struct pci_dev_ops *ops)
{
    memset(dev, 0, sizeof(*dev));
    dev->ops = ops;
    dev->cfg_size = PCI_CFG_SPACE_SIZE;
    dev->cap_end = PCI_CFG_HEADER_END;
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        dev->bars[i].mapped = PCI_BAR_UNMAPPED;
        dev->bars[i].dev = dev;
        dev->bars[i].index = i;
    }
    pci_cfg_set_wmask(dev, PCI_COMMAND, 2, PCI_COMMAND_WMASK);
    pci_cfg_set_w1cmask(dev, PCI_STATUS, 2, PCI_STATUS_W1C);
    pci_cfg_set_wmask(dev, PCI_CACHE_LINE_SIZE, 1, 0xff);
    pci_cfg_set_wmask(dev, PCI_LATENCY_TIMER, 1, 0xff);
    pci_cfg_set_wmask(dev, PCI_INTERRUPT_LINE, 1, 0xff);
}

void pci_dev_release(struct pci_dev *dev)
{
    free(dev->msix.table);
    free(dev->msix.pba);
    dev->msix.table = NULL;
    dev->msix.pba = NULL;
}

void pci_dev_set_ids(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint8_t revision,
                     uint32_t class_code)
{
    pci_cfg_set16(dev, PCI_VENDOR_ID, vendor);
    pci_cfg_set16(dev, PCI_DEVICE_ID, device);
    pci_cfg_set8(dev, PCI_REVISION_ID, revision);
    pci_cfg_set8(dev, PCI_CLASS_PROG, (uint8_t)class_code);
    pci_cfg_set16(dev, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
}

void pci_dev_set_subsystem(struct pci_dev *dev, uint16_t vendor, uint16_t id)
{
    pci_cfg_set16(dev, PCI_SUBSYSTEM_VENDOR_ID, vendor);
    pci_cfg_set16(dev, PCI_SUBSYSTEM_ID, id);
}

void pci_dev_set_intx_pin(struct pci_dev *dev, unsigned pin)
{
    pci_cfg_set8(dev, PCI_INTERRUPT_PIN, pin <= 4 ? (uint8_t)pin : 0);
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static unsigned bar_reg(unsigned bar)
{
    return bar == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * bar;
}

int pci_dev_add_bar(struct pci_dev *dev, unsigned bar, enum pci_bar_type type, uint64_t size,
                    bool prefetchable)
{
    uint64_t mask = ~(size - 1);
    unsigned reg = bar_reg(bar < PCI_NUM_SLOTS ? bar : 0);

    /* A nonzero size on an untyped slot is the upper half of a 64-bit BAR. */
    if (bar >= PCI_NUM_SLOTS || !is_pow2(size) || dev->bars[bar].type != PCI_BAR_NONE ||
        dev->bars[bar].size)
        return -EINVAL;
    if ((type == PCI_BAR_ROM) != (bar == PCI_ROM_SLOT))
        return -EINVAL;
    switch (type) {
    case PCI_BAR_IO:
        if (size < 4 || size > 0x10000 || prefetchable)
            return -EINVAL;
        pci_cfg_set32(dev, reg, PCI_BAR_IO_FLAG);
        pci_cfg_set_wmask(dev, reg, 4, (uint32_t)mask & ~3u);
        break;
    case PCI_BAR_MEM32:
        if (size < 16 || size > (1ull << 31))
            return -EINVAL;
        pci_cfg_set32(dev, reg, prefetchable ? PCI_BAR_MEM_PREFETCH : 0);
        pci_cfg_set_wmask(dev, reg, 4, (uint32_t)mask & ~0xfu);
        break;
    case PCI_BAR_MEM64:
        if (size < 16 || size > (1ull << 62) || bar + 1 >= PCI_NUM_BARS ||
            dev->bars[bar + 1].type != PCI_BAR_NONE || dev->bars[bar + 1].size)
            return -EINVAL;
        pci_cfg_set32(dev, reg, PCI_BAR_MEM_TYPE_64 | (prefetchable ? PCI_BAR_MEM_PREFETCH : 0));
        pci_cfg_set_wmask(dev, reg, 4, (uint32_t)mask & ~0xfu);
        pci_cfg_set_wmask(dev, reg + 4, 4, (uint32_t)(mask >> 32));
        /* The upper half belongs to this BAR: mark it taken. */
        dev->bars[bar + 1].size = size;
        break;
    case PCI_BAR_ROM:
        if (size < 2048 || size > (1ull << 31))
            return -EINVAL;
        pci_cfg_set_wmask(dev, reg, 4, ((uint32_t)mask & ~0x7ffu) | PCI_ROM_ENABLE);
        break;
    default:
        return -EINVAL;
    }
    dev->bars[bar].type = type;
    dev->bars[bar].size = size;
    dev->bars[bar].prefetchable = prefetchable;
    return 0;
}

/*
 * The sizing protocol (PCI 3.0, 6.2.5.1): the guest writes all-ones to a BAR
 * register, reads the size mask back, then writes an address. What it wrote
 * is remembered per byte, since the value read back cannot tell a BAR being
 * sized from one placed at the top of its space (a 1 MiB BAR at 0xfff00000
 * reads the same). The ROM's enable bit is not part of its address: sizing
 * writes 0xfffffffe there.
 */
static void bar_track_sizing(struct pci_dev *dev, unsigned reg, unsigned size, uint32_t value)
{
    for (unsigned i = 0; i < size; i++) {
        unsigned off = reg + i, slot;
        uint8_t b = (uint8_t)(value >> (8 * i));

        if (off >= PCI_BASE_ADDRESS_0 && off < PCI_BASE_ADDRESS_0 + 4 * PCI_NUM_BARS) {
            slot = (off - PCI_BASE_ADDRESS_0) / 4;
        } else if (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4) {
            slot = PCI_ROM_SLOT;
            if (off == PCI_ROM_ADDRESS)
                b |= PCI_ROM_ENABLE;
        } else {
            continue;
        }
        if (b == 0xff)
            dev->bars[slot].sizing |= (uint8_t)(1u << (off & 3));
        else
            dev->bars[slot].sizing &= (uint8_t) ~(1u << (off & 3));
    }
}

/* Sized and not yet given an address since; for a 64-bit BAR, either half. */
static bool bar_being_sized(const struct pci_dev *dev, unsigned bar)
{
    if (dev->bars[bar].sizing == 0xf)
        return true;
    return dev->bars[bar].type == PCI_BAR_MEM64 && dev->bars[bar + 1].sizing == 0xf;
}

uint64_t pci_dev_bar_addr(const struct pci_dev *dev, unsigned bar)
{
    const struct pci_bar *b;
    uint16_t cmd = pci_cfg_get16(dev, PCI_COMMAND);
    uint64_t addr, limit;
    uint32_t lo;

    if (bar >= PCI_NUM_SLOTS)
        return PCI_BAR_UNMAPPED;
    b = &dev->bars[bar];
    lo = pci_cfg_get32(dev, bar_reg(bar));
    switch (b->type) {
    case PCI_BAR_IO:
        if (!(cmd & PCI_COMMAND_IO))
            return PCI_BAR_UNMAPPED;
        addr = lo & ~3u;
        limit = 0x10000; /* x86 port space */
        break;
    case PCI_BAR_MEM32:
        if (!(cmd & PCI_COMMAND_MEMORY))
            return PCI_BAR_UNMAPPED;
        addr = lo & ~0xfu;
        limit = 1ull << 32;
        break;
    case PCI_BAR_MEM64:
        if (!(cmd & PCI_COMMAND_MEMORY))
            return PCI_BAR_UNMAPPED;
        addr = (uint64_t)pci_cfg_get32(dev, bar_reg(bar) + 4) << 32 | (lo & ~0xfu);
        limit = 0;
        break;
    case PCI_BAR_ROM:
        if (!(cmd & PCI_COMMAND_MEMORY) || !(lo & PCI_ROM_ENABLE))
            return PCI_BAR_UNMAPPED;
        addr = lo & ~0x7ffu;
        limit = 1ull << 32;
        break;
    default:
        return PCI_BAR_UNMAPPED;
    }
    /* 0 is "unassigned"; mid-probe the register holds a size mask, not an address. */
    if (addr == 0 || bar_being_sized(dev, bar))
        return PCI_BAR_UNMAPPED;
    if (addr + b->size - 1 < addr)
        return PCI_BAR_UNMAPPED; /* wraps */
    if (limit && addr + b->size > limit)
        return PCI_BAR_UNMAPPED;
    return addr;
}

unsigned pci_dev_bar_changes(const struct pci_dev *dev, struct pci_range_change *out)
{
    uint64_t want[PCI_NUM_SLOTS];
    unsigned n = 0;

    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
        want[i] = pci_dev_bar_addr(dev, i);
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        if (b->mapped != PCI_BAR_UNMAPPED && b->mapped != want[i])
            out[n++] = (struct pci_range_change){
                .op = PCI_RANGE_UNMAP,
                .bar = i,
                .space = b->type == PCI_BAR_IO ? IO_SPACE_PIO : IO_SPACE_MMIO,
                .base = b->mapped,
                .len = b->size,
            };
    }
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        if (want[i] != PCI_BAR_UNMAPPED && b->mapped != want[i])
            out[n++] = (struct pci_range_change){
                .op = PCI_RANGE_MAP,
                .bar = i,
                .space = b->type == PCI_BAR_IO ? IO_SPACE_PIO : IO_SPACE_MMIO,
                .base = want[i],
                .len = b->size,
            };
    }
    return n;
}

int pci_cap_add(struct pci_dev *dev, uint8_t cap_id, unsigned len)
{
    unsigned off = (dev->cap_end + 3) & ~3u;
    unsigned prev, hops = 0;

    if (len < 2 || off + len > PCI_CFG_SPACE_SIZE)
        return -ENOSPC;
    pci_cfg_set8(dev, off, cap_id);
    pci_cfg_set8(dev, off + 1, 0);
    if (!(pci_cfg_get16(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        pci_cfg_set16(dev, PCI_STATUS, pci_cfg_get16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
        pci_cfg_set8(dev, PCI_CAPABILITY_LIST, (uint8_t)off);
    } else {
        prev = pci_cfg_get8(dev, PCI_CAPABILITY_LIST);
        while (pci_cfg_get8(dev, prev + 1) && hops++ < PCI_MAX_CAP_WALK)
            prev = pci_cfg_get8(dev, prev + 1);
        pci_cfg_set8(dev, prev + 1, (uint8_t)off);
    }
    dev->cap_end = off + len;
    return (int)off;
}

unsigned pci_cap_find(const struct pci_dev *dev, uint8_t cap_id)
{
    unsigned off, hops = 0;

    if (!(pci_cfg_get16(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return 0;
    off = pci_cfg_get8(dev, PCI_CAPABILITY_LIST) & ~3u;
    while (off >= PCI_CFG_HEADER_END && hops++ < PCI_MAX_CAP_WALK) {
        if (pci_cfg_get8(dev, off) == cap_id)
            return off;
        off = pci_cfg_get8(dev, off + 1) & ~3u;
    }
    return 0;
}

void pci_dev_cfg_write_default(struct pci_dev *dev, unsigned reg, unsigned size, uint32_t value)
{
    uint16_t old_cmd = pci_cfg_get16(dev, PCI_COMMAND);
    uint16_t old_msi_ctrl = dev->msi.cap ? pci_cfg_get16(dev, dev->msi.cap + 2) : 0;
    uint16_t old_msix_ctrl = dev->msix.cap ? pci_cfg_get16(dev, dev->msix.cap + 2) : 0;

    if (size > 4 || reg >= dev->cfg_size || size > dev->cfg_size - reg)
        return;
    for (unsigned i = 0; i < size; i++) {
        unsigned off = reg + i;
        uint8_t b = (uint8_t)(value >> (8 * i));
        dev->cfg[off] = (uint8_t)((dev->cfg[off] & ~dev->wmask[off]) | (b & dev->wmask[off]));
        dev->cfg[off] &= (uint8_t) ~(b & dev->w1cmask[off]);
    }
    bar_track_sizing(dev, reg, size, value);

    if (pci_ranges_overlap(reg, size, PCI_COMMAND, 2) ||
        pci_ranges_overlap(reg, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS) ||
        pci_ranges_overlap(reg, size, PCI_ROM_ADDRESS, 4))
        pci_bus_sync_bars(dev);
    if ((old_cmd ^ pci_cfg_get16(dev, PCI_COMMAND)) & PCI_COMMAND_INTX_DISABLE)
        pci_intx_update(dev);
    if (dev->msi.cap)
        pci_msi_cfg_written(dev, reg, size, old_msi_ctrl);
    if (dev->msix.cap)
        pci_msix_cfg_written(dev, reg, size, old_msix_ctrl);
}

void pci_dev_reset(struct pci_dev *dev)
{
    memcpy(dev->cfg, dev->reset_cfg, sizeof(dev->cfg));
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
        dev->bars[i].sizing = 0;
    dev->msi.pending = 0;
    pci_msix_reset(dev);
    dev->intx_level = false;
    pci_intx_update(dev);
    pci_bus_sync_bars(dev);
    if (dev->ops && dev->ops->reset)
        dev->ops->reset(dev);
}
