/*
 * The PCI conformance suite (see pci-conformance.h). Everything goes through
 * pci_bus_cfg_read/pci_bus_cfg_write, the entry points a guest reaches, and
 * is checked against what the function declared in its struct pci_dev.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pci-conformance.h"

#define CAP_WALK_MAX 48

struct conf_ctx {
    struct pci_bus *bus;
    struct io_registry *io;
    uint32_t sbdf;
    struct pci_dev *dev;
};

static uint32_t rd(const struct conf_ctx *c, unsigned reg, unsigned size)
{
    return pci_bus_cfg_read(c->bus, c->sbdf, reg, size);
}

static void wr(const struct conf_ctx *c, unsigned reg, unsigned size, uint32_t v)
{
    pci_bus_cfg_write(c->bus, c->sbdf, reg, size, v);
}

static void snapshot(const struct conf_ctx *c, uint32_t out[64])
{
    for (unsigned i = 0; i < 64; i++)
        out[i] = rd(c, i * 4, 4);
}

static void check_ids(const struct conf_ctx *c, const struct pci_conformance_ids *ids)
{
    assert_int_equal(rd(c, PCI_VENDOR_ID, 2), ids->vendor);
    assert_int_equal(rd(c, PCI_DEVICE_ID, 2), ids->device);
    assert_int_equal(rd(c, PCI_VENDOR_ID, 4), (uint32_t)ids->device << 16 | ids->vendor);
    assert_int_equal(rd(c, PCI_VENDOR_ID, 1), ids->vendor & 0xff);
    assert_int_equal(rd(c, PCI_VENDOR_ID + 1, 1), ids->vendor >> 8);
    assert_int_equal(rd(c, PCI_REVISION_ID, 1), ids->revision);
    assert_int_equal(rd(c, PCI_REVISION_ID, 4) >> 8, ids->class_code);
    assert_int_equal(rd(c, PCI_SUBSYSTEM_VENDOR_ID, 2), ids->subsystem_vendor);
    assert_int_equal(rd(c, PCI_SUBSYSTEM_ID, 2), ids->subsystem_id);
    assert_int_equal(rd(c, PCI_INTERRUPT_PIN, 1), ids->interrupt_pin);
    assert_int_equal(rd(c, PCI_HEADER_TYPE, 1) & 0x7f, 0); /* type 0 */
}

static void check_readonly(const struct conf_ctx *c)
{
    static const struct {
        unsigned reg, size;
    } ro[] = {
        {PCI_VENDOR_ID, 4},     {PCI_REVISION_ID, 4},         {PCI_HEADER_TYPE, 1},
        {PCI_BIST, 1},          {PCI_SUBSYSTEM_VENDOR_ID, 4}, {PCI_CAPABILITY_LIST, 1},
        {PCI_INTERRUPT_PIN, 1},
    };

    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        uint32_t before = rd(c, ro[i].reg, ro[i].size);
        wr(c, ro[i].reg, ro[i].size, ~before);
        assert_int_equal(rd(c, ro[i].reg, ro[i].size), before);
        wr(c, ro[i].reg, ro[i].size, 0);
        assert_int_equal(rd(c, ro[i].reg, ro[i].size), before);
    }

    /* Status: writes never set a bit; Capabilities List and Interrupt Status are read-only. */
    uint32_t status = rd(c, PCI_STATUS, 2);
    wr(c, PCI_STATUS, 2, 0xffff);
    assert_int_equal(rd(c, PCI_STATUS, 2) & ~status, 0);
    assert_int_equal(rd(c, PCI_STATUS, 2) & (PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT),
                     status & (PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT));

    /* Command: reserved bits 15:11 stay zero. */
    wr(c, PCI_COMMAND, 2, 0xffff);
    assert_int_equal(rd(c, PCI_COMMAND, 2) & 0xf800, 0);
    wr(c, PCI_COMMAND, 2, 0);
    assert_int_equal(rd(c, PCI_COMMAND, 2) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY), 0);
}

static void check_bar_sizing(const struct conf_ctx *c)
{
    const struct pci_dev *dev = c->dev;

    wr(c, PCI_COMMAND, 2, 0);
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
        uint32_t orig = rd(c, reg, 4), v;

        wr(c, reg, 4, 0xffffffff);
        v = rd(c, reg, 4);
        switch (b->type) {
        case PCI_BAR_IO:
            assert_int_equal(v & 3, PCI_BAR_IO_FLAG);
            assert_int_equal((uint32_t)(~(v & ~3u) + 1), (uint32_t)b->size);
            break;
        case PCI_BAR_MEM32:
            assert_int_equal(v & 0xf, b->prefetchable ? PCI_BAR_MEM_PREFETCH : 0);
            assert_int_equal((uint32_t)(~(v & ~0xfu) + 1), (uint32_t)b->size);
            break;
        case PCI_BAR_MEM64: {
            uint32_t orig_hi = rd(c, reg + 4, 4);
            assert_int_equal(v & 0xf,
                             PCI_BAR_MEM_TYPE_64 | (b->prefetchable ? PCI_BAR_MEM_PREFETCH : 0));
            wr(c, reg + 4, 4, 0xffffffff);
            uint64_t full = (uint64_t)rd(c, reg + 4, 4) << 32 | (v & ~0xfu);
            assert_int_equal(~full + 1, b->size);
            wr(c, reg + 4, 4, orig_hi);
            i++;
            break;
        }
        default:
            /* An unimplemented BAR is hardwired to zero. */
            assert_int_equal(v, 0);
            break;
        }
        wr(c, reg, 4, orig);
        assert_int_equal(rd(c, reg, 4), orig);
    }

    uint32_t orig = rd(c, PCI_ROM_ADDRESS, 4);
    wr(c, PCI_ROM_ADDRESS, 4, 0xfffffffe);
    if (dev->bars[PCI_ROM_SLOT].type == PCI_BAR_ROM)
        assert_int_equal(rd(c, PCI_ROM_ADDRESS, 4),
                         (uint32_t) ~(dev->bars[PCI_ROM_SLOT].size - 1) & 0xfffff800u);
    else
        assert_int_equal(rd(c, PCI_ROM_ADDRESS, 4), 0);
    wr(c, PCI_ROM_ADDRESS, 4, orig);
}

static bool registry_has(struct io_registry *io, enum io_space space, uint64_t base, uint64_t len)
{
    for (unsigned i = 0; i < io_range_count(io, space); i++) {
        const struct io_range *r = io_range_at(io, space, i);
        if (r->base == base && r->len == len)
            return true;
    }
    return false;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void check_decode(const struct conf_ctx *c)
{
    const struct pci_dev *dev = c->dev;
    unsigned pio0 = io_range_count(c->io, IO_SPACE_PIO);
    unsigned mmio0 = io_range_count(c->io, IO_SPACE_MMIO);
    uint64_t io_next = 0xc000, mem_next = 0xe0000000ull, mem64_next = 0x800000000ull;
    uint64_t addr[PCI_NUM_SLOTS] = {0};
    unsigned want_pio = 0, want_mmio = 0;

    wr(c, PCI_COMMAND, 2, 0);
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        unsigned reg = i == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * i;
        switch (b->type) {
        case PCI_BAR_IO:
            addr[i] = align_up(io_next, b->size);
            if (addr[i] + b->size > 0x10000)
                continue; /* too big to place in this test */
            io_next = addr[i] + b->size;
            wr(c, reg, 4, (uint32_t)addr[i]);
            want_pio++;
            break;
        case PCI_BAR_MEM32:
        case PCI_BAR_ROM:
            addr[i] = align_up(mem_next, b->size);
            if (addr[i] + b->size > 0x100000000ull)
                continue;
            mem_next = addr[i] + b->size;
            wr(c, reg, 4, (uint32_t)addr[i] | (b->type == PCI_BAR_ROM ? PCI_ROM_ENABLE : 0));
            want_mmio++;
            break;
        case PCI_BAR_MEM64:
            addr[i] = align_up(mem64_next, b->size);
            mem64_next = addr[i] + b->size;
            wr(c, reg, 4, (uint32_t)addr[i]);
            wr(c, reg + 4, 4, (uint32_t)(addr[i] >> 32));
            want_mmio++;
            break;
        default:
            break;
        }
    }
    /* Nothing is decoded before the command register says so. */
    assert_int_equal(io_range_count(c->io, IO_SPACE_PIO), pio0);
    assert_int_equal(io_range_count(c->io, IO_SPACE_MMIO), mmio0);

    wr(c, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    assert_int_equal(io_range_count(c->io, IO_SPACE_PIO), pio0 + want_pio);
    assert_int_equal(io_range_count(c->io, IO_SPACE_MMIO), mmio0 + want_mmio);
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        if (b->type == PCI_BAR_NONE || !addr[i] ||
            (b->type == PCI_BAR_IO && addr[i] + b->size > 0x10000) ||
            ((b->type == PCI_BAR_MEM32 || b->type == PCI_BAR_ROM) &&
             addr[i] + b->size > 0x100000000ull))
            continue;
        assert_true(registry_has(c->io, b->type == PCI_BAR_IO ? IO_SPACE_PIO : IO_SPACE_MMIO,
                                 addr[i], b->size));
        assert_int_equal(b->mapped, addr[i]);
    }

    /* Memory decode off leaves I/O BARs alone, and the reverse. */
    wr(c, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(io_range_count(c->io, IO_SPACE_PIO), pio0 + want_pio);
    assert_int_equal(io_range_count(c->io, IO_SPACE_MMIO), mmio0);
    wr(c, PCI_COMMAND, 2, 0);
    assert_int_equal(io_range_count(c->io, IO_SPACE_PIO), pio0);
    assert_int_equal(io_range_count(c->io, IO_SPACE_MMIO), mmio0);
}

/* Walks the chain as a careful OS would; asserts it is well formed and ends. */
static unsigned walk_caps(const struct conf_ctx *c, unsigned offs[CAP_WALK_MAX])
{
    bool seen[256] = {false};
    unsigned n = 0, off;

    if (!(rd(c, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) {
        assert_int_equal(rd(c, PCI_CAPABILITY_LIST, 1), 0);
        return 0;
    }
    off = rd(c, PCI_CAPABILITY_LIST, 1);
    while (off) {
        assert_int_equal(off & 3, 0);
        assert_true(off >= PCI_CFG_HEADER_END && off <= 0xfc);
        assert_false(seen[off]);
        assert_true(n < CAP_WALK_MAX);
        seen[off] = true;
        offs[n++] = off;
        off = rd(c, off + 1, 1);
    }
    return n;
}

static void check_caps(const struct conf_ctx *c)
{
    unsigned offs[CAP_WALK_MAX];
    unsigned n = walk_caps(c, offs);

    for (unsigned i = 0; i < n; i++) {
        uint32_t hdr = rd(c, offs[i], 2);
        /* A guest pointing the chain at itself must not change it. */
        wr(c, offs[i] + 1, 1, offs[i]);
        wr(c, offs[i], 2, 0xffff);
        wr(c, offs[i], 1, 0);
        assert_int_equal(rd(c, offs[i], 2), hdr);
    }
    uint32_t ptr = rd(c, PCI_CAPABILITY_LIST, 1);
    wr(c, PCI_CAPABILITY_LIST, 1, PCI_CAPABILITY_LIST);
    assert_int_equal(rd(c, PCI_CAPABILITY_LIST, 1), ptr);
    assert_int_equal(walk_caps(c, offs), n);
}

static void check_hostile_accesses(const struct conf_ctx *c)
{
    uint32_t before[64], after[64];
    static const unsigned sizes[] = {0, 3, 5, 8, 16};

    snapshot(c, before);
    if (c->dev->cfg_size == PCI_CFG_SPACE_SIZE) {
        assert_int_equal(rd(c, 0x100, 4), 0xffffffff);
        assert_int_equal(rd(c, 0x100, 1), 0xff);
        assert_int_equal(rd(c, 0xffc, 4), 0xffffffff);
        assert_int_equal(rd(c, 0xfff, 1), 0xff);
        wr(c, 0x100, 4, 0);
        wr(c, 0xffc, 4, 0);
    }
    /* Beyond 4 KiB, odd sizes, and accesses crossing a dword edge. */
    assert_int_equal(rd(c, 0x1000, 4), 0xffffffff);
    assert_int_equal(rd(c, 0xffffffff, 1), 0xff);
    assert_int_equal(rd(c, PCI_VENDOR_ID + 3, 2), 0xffff);
    assert_int_equal(rd(c, PCI_VENDOR_ID + 2, 4), 0xffffffff);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint32_t v = rd(c, PCI_VENDOR_ID, sizes[i]);
        assert_int_equal(v, sizes[i] == 0 ? 0 : sizes[i] == 3 ? 0xffffff : 0xffffffff);
        wr(c, PCI_COMMAND, sizes[i], 0xffffffff);
        wr(c, PCI_BASE_ADDRESS_0, sizes[i], 0xffffffff);
    }
    wr(c, PCI_COMMAND + 1, 4, 0xffffffff);
    wr(c, PCI_COMMAND + 3, 2, 0xffffffff);
    wr(c, 0x1000, 4, 0xffffffff);
    wr(c, 0xffffffff, 1, 0xff);
    snapshot(c, after);
    assert_memory_equal(before, after, sizeof(before));
}

/* All-ones into every byte and dword: IDs survive, the chain still ends, nothing decodes. */
static void check_all_ones(const struct conf_ctx *c, const struct pci_conformance_ids *ids,
                           unsigned pio0, unsigned mmio0)
{
    unsigned offs[CAP_WALK_MAX];

    for (unsigned reg = 0; reg < PCI_CFG_SPACE_SIZE; reg += 4)
        wr(c, reg, 4, 0xffffffff);
    for (unsigned reg = 0; reg < PCI_CFG_SPACE_SIZE; reg++)
        wr(c, reg, 1, 0xff);
    for (unsigned reg = 0; reg < PCI_CFG_SPACE_SIZE; reg += 2)
        wr(c, reg, 2, 0xffff);
    assert_int_equal(rd(c, PCI_VENDOR_ID, 2), ids->vendor);
    assert_int_equal(rd(c, PCI_DEVICE_ID, 2), ids->device);
    assert_int_equal(rd(c, PCI_REVISION_ID, 4) >> 8, ids->class_code);
    walk_caps(c, offs);
    /* Every BAR now holds its sizing pattern: none may be decoded. */
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
        assert_int_equal(c->dev->bars[i].mapped, PCI_BAR_UNMAPPED);
    assert_int_equal(io_range_count(c->io, IO_SPACE_PIO), pio0);
    assert_int_equal(io_range_count(c->io, IO_SPACE_MMIO), mmio0);
}

void pci_conformance_run(struct pci_bus *bus, struct io_registry *io, uint32_t sbdf,
                         const struct pci_conformance_ids *ids)
{
    struct conf_ctx c = {.bus = bus, .io = io, .sbdf = sbdf, .dev = pci_bus_find(bus, sbdf)};
    unsigned pio0, mmio0;

    assert_non_null(c.dev);
    pci_dev_reset(c.dev);
    pio0 = io_range_count(io, IO_SPACE_PIO);
    mmio0 = io_range_count(io, IO_SPACE_MMIO);

    check_ids(&c, ids);
    check_readonly(&c);
    check_bar_sizing(&c);
    check_decode(&c);
    check_caps(&c);
    check_hostile_accesses(&c);
    check_all_ones(&c, ids, pio0, mmio0);

    pci_dev_reset(c.dev);
    check_ids(&c, ids);
    assert_int_equal(io_range_count(io, IO_SPACE_PIO), pio0);
    assert_int_equal(io_range_count(io, IO_SPACE_MMIO), mmio0);
}
