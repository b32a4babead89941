/*
 * Unit tests of the PCI bus core: placement, config space masks, BAR sizing
 * and decoding into the registry, capabilities, MSI, MSI-X, INTx and the
 * legacy 0xCF8/0xCFC path. A test function defined here (never built into
 * ioreqd) declares one BAR of every type.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compiler.h"
#include "fake-platform.h"
#include "pci-conformance.h"
#include "pci.h"

struct tdev {
    struct pci_dev pci;
    unsigned inits, finis, resets;
    unsigned reads, writes;
    unsigned last_bar;
    uint64_t last_offset, last_value;
    unsigned last_size;
    unsigned moves;
    uint64_t moved_old, moved_new;
    unsigned moved_bar;
};

static struct tdev *to_tdev(struct pci_dev *d)
{
    return container_of(d, struct tdev, pci);
}

static int t_init(struct pci_dev *d)
{
    to_tdev(d)->inits++;
    return 0;
}

static void t_fini(struct pci_dev *d)
{
    to_tdev(d)->finis++;
}

static uint64_t t_bar_read(struct pci_dev *d, unsigned bar, uint64_t off, unsigned size)
{
    struct tdev *t = to_tdev(d);
    t->reads++;
    t->last_bar = bar;
    t->last_offset = off;
    t->last_size = size;
    return 0x1000 * bar + off;
}

static void t_bar_write(struct pci_dev *d, unsigned bar, uint64_t off, unsigned size, uint64_t v)
{
    struct tdev *t = to_tdev(d);
    t->writes++;
    t->last_bar = bar;
    t->last_offset = off;
    t->last_size = size;
    t->last_value = v;
}

static void t_bar_moved(struct pci_dev *d, unsigned bar, uint64_t old, uint64_t new_addr)
{
    struct tdev *t = to_tdev(d);
    t->moves++;
    t->moved_bar = bar;
    t->moved_old = old;
    t->moved_new = new_addr;
}

static void t_reset(struct pci_dev *d)
{
    to_tdev(d)->resets++;
}

static const struct pci_dev_ops tdev_ops = {
    .name = "tdev",
    .init = t_init,
    .fini = t_fini,
    .bar_read = t_bar_read,
    .bar_write = t_bar_write,
    .bar_moved = t_bar_moved,
    .reset = t_reset,
};

struct fixture {
    struct fake_platform fp;
    struct io_registry *io;
    struct pci_bus *bus;
    struct tdev *t;
    uint32_t sbdf;
};

/* BAR0 I/O 0x20, BAR1 mem32 4K, BAR2 mem32 prefetchable 64K, BAR3/4 mem64 pf 1M, ROM 64K. */
static void tdev_build(struct tdev *t)
{
    pci_dev_init(&t->pci, &tdev_ops);
    pci_dev_set_ids(&t->pci, 0x1234, 0x5678, 0x09, 0xff0001);
    pci_dev_set_subsystem(&t->pci, 0xaaaa, 0xbbbb);
    pci_dev_set_intx_pin(&t->pci, 1);
    assert_int_equal(pci_dev_add_io_bar(&t->pci, 0, 0x20), 0);
    assert_int_equal(pci_dev_add_mem32_bar(&t->pci, 1, 0x1000, false), 0);
    assert_int_equal(pci_dev_add_mem32_bar(&t->pci, 2, 0x10000, true), 0);
    assert_int_equal(pci_dev_add_mem64_bar(&t->pci, 3, 0x100000, true), 0);
    assert_int_equal(pci_dev_add_rom_bar(&t->pci, 0x10000), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[128];

    f->io = io_registry_new();
    f->bus = pci_bus_new(f->io, fake_platform_init(&f->fp));
    f->t = calloc(1, sizeof(*f->t));
    tdev_build(f->t);
    assert_int_equal(pci_bus_add(f->bus, &f->t->pci, -1, err, sizeof(err)), 0);
    f->sbdf = f->t->pci.sbdf;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    pci_bus_remove(f->bus, &f->t->pci);
    pci_bus_free(f->bus);
    io_registry_free(f->io);
    free(f->t);
    free(f);
    return 0;
}

static uint32_t rd(struct fixture *f, unsigned reg, unsigned size)
{
    return pci_bus_cfg_read(f->bus, f->sbdf, reg, size);
}

static void wr(struct fixture *f, unsigned reg, unsigned size, uint32_t v)
{
    pci_bus_cfg_write(f->bus, f->sbdf, reg, size, v);
}

static void test_conformance(void **state)
{
    struct fixture *f = *state;
    const struct pci_conformance_ids ids = {
        .vendor = 0x1234,
        .device = 0x5678,
        .revision = 0x09,
        .class_code = 0xff0001,
        .subsystem_vendor = 0xaaaa,
        .subsystem_id = 0xbbbb,
        .interrupt_pin = 1,
    };

    pci_conformance_run(f->bus, f->io, f->sbdf, &ids);
    assert_true(f->t->resets >= 2);
}

static void test_placement(void **state)
{
    struct fixture *f = *state;
    struct tdev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));
    char err[128] = "";

    /*
     * The fixture's device took the first free slot, 2, on an empty bus:
     * slot 1 stays the PIIX3's, whose identity Xen's hvmloader asserts at
     * devfn 0x08, and slot 0 the host bridge's. Routed with map_pcidev.
     */
    assert_int_equal(f->sbdf, PCI_SBDF(0, 0, 2, 0));
    assert_int_equal(f->fp.nr_mapped, 1);
    assert_int_equal(f->fp.mapped[0], PCI_SBDF(0, 0, 2, 0));
    assert_int_equal(f->t->inits, 1);

    tdev_build(a);
    assert_int_equal(pci_bus_add(f->bus, &a->pci, 3 << 3, err, sizeof(err)), 0);
    assert_int_equal(a->pci.sbdf, 0x18);
    tdev_build(b);
    assert_int_equal(pci_bus_add(f->bus, &b->pci, 3 << 3 | 1, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "tdev: PCI slot 00:03 is already taken by tdev");
    assert_null(b->pci.bus);
    assert_int_equal(pci_bus_add(f->bus, &b->pci, -1, err, sizeof(err)), 0);
    assert_int_equal(b->pci.sbdf, PCI_SBDF(0, 0, 4, 0));
    /* Slot 1 is still free, and still not taken without being asked for. */
    tdev_build(c);
    assert_int_equal(pci_bus_add(f->bus, &c->pci, -1, err, sizeof(err)), 0);
    assert_int_equal(c->pci.sbdf, PCI_SBDF(0, 0, 5, 0));
    assert_int_equal(f->fp.nr_mapped, 4);
    pci_bus_remove(f->bus, &c->pci);
    tdev_build(c);
    assert_int_equal(pci_bus_add(f->bus, &c->pci, 1 << 3, err, sizeof(err)), 0);
    assert_int_equal(c->pci.sbdf, PCI_SBDF(0, 0, 1, 0));

    /* Unclaimed functions, other buses and other segments read all-ones. */
    assert_int_equal(pci_bus_cfg_read(f->bus, PCI_SBDF(0, 0, 5, 0), 0, 4), 0xffffffff);
    assert_int_equal(pci_bus_cfg_read(f->bus, PCI_SBDF(0, 1, 1, 0), 0, 2), 0xffff);
    assert_int_equal(pci_bus_cfg_read(f->bus, PCI_SBDF(1, 0, 1, 0), 0, 1), 0xff);
    pci_bus_cfg_write(f->bus, PCI_SBDF(0, 0, 5, 0), 4, 2, 0xffff);

    pci_bus_remove(f->bus, &a->pci);
    assert_int_equal(a->finis, 1);
    assert_int_equal(f->fp.nr_unmapped, 2); /* c's first place, then a */
    assert_null(pci_bus_find(f->bus, 0x18));
    pci_bus_remove(f->bus, &b->pci);
    pci_bus_remove(f->bus, &c->pci);
    free(a);
    free(b);
    free(c);
}

static void test_placement_full_and_routing_error(void **state)
{
    struct fixture *f = *state;
    struct tdev *d = calloc(31, sizeof(*d));
    char err[128] = "";
    unsigned placed = 0;

    f->fp.map_error = -EPERM;
    tdev_build(&d[0]);
    assert_int_equal(pci_bus_add(f->bus, &d[0].pci, -1, err, sizeof(err)), -EPERM);
    assert_string_equal(err,
                        "tdev: routing config cycles of 00:03.0 failed: Operation not permitted");
    assert_int_equal(d[0].finis, 1);
    assert_null(pci_bus_find(f->bus, PCI_SBDF(0, 0, 3, 0)));
    f->fp.map_error = 0;

    for (unsigned i = 0; i < 31; i++) {
        tdev_build(&d[i]);
        if (pci_bus_add(f->bus, &d[i].pci, -1, err, sizeof(err)) == 0)
            placed++;
    }
    /* Slots 3..31 were free (2 is the fixture's, 1 never a default); the 30th finds none. */
    assert_int_equal(placed, 29);
    assert_string_equal(err, "tdev: no free PCI slot on bus 00");
    for (unsigned i = 0; i < 31; i++)
        pci_bus_remove(f->bus, &d[i].pci);
    free(d);
}

static void test_parse_bdf(void **state)
{
    int devfn = -1;

    assert_int_equal(pci_parse_bdf("00:03.0", &devfn), 0);
    assert_int_equal(devfn, 0x18);
    assert_int_equal(pci_parse_bdf("0000:00:1f.7", &devfn), 0);
    assert_int_equal(devfn, 0xff);
    assert_int_equal(pci_parse_bdf("04.2", &devfn), 0);
    assert_int_equal(devfn, 0x22);
    assert_int_equal(pci_parse_bdf("5", &devfn), 0);
    assert_int_equal(devfn, 0x28);
    assert_int_equal(pci_parse_bdf("00:20.0", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("01:03.0", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("0001:00:03.0", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("00:03.8", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("00:03.", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("00:03.0x", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("0:0:0:3.0", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("-1", &devfn), -EINVAL);
    assert_int_equal(pci_parse_bdf("00000:00:03.0", &devfn), -EINVAL);
}

static void test_header_values(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(rd(f, 0x00, 4), 0x56781234);
    assert_int_equal(rd(f, 0x04, 4), 0x00000000);
    assert_int_equal(rd(f, 0x08, 4), 0xff000109);
    assert_int_equal(rd(f, 0x0c, 4), 0x00000000);
    assert_int_equal(rd(f, 0x10, 4), 0x00000001);
    assert_int_equal(rd(f, 0x14, 4), 0x00000000);
    assert_int_equal(rd(f, 0x18, 4), 0x00000008);
    assert_int_equal(rd(f, 0x1c, 4), 0x0000000c);
    assert_int_equal(rd(f, 0x20, 4), 0x00000000);
    assert_int_equal(rd(f, 0x24, 4), 0x00000000);
    assert_int_equal(rd(f, 0x2c, 4), 0xbbbbaaaa);
    assert_int_equal(rd(f, 0x30, 4), 0x00000000);
    assert_int_equal(rd(f, 0x34, 4), 0x00000000);
    assert_int_equal(rd(f, 0x3c, 4), 0x00000100);
    /* Writable: cache line, latency, interrupt line; command's implemented bits only. */
    wr(f, 0x0c, 2, 0xffff);
    assert_int_equal(rd(f, 0x0c, 4), 0x0000ffff);
    wr(f, 0x3c, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x3c, 4), 0x000001ff);
    wr(f, 0x04, 2, 0xffff & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    assert_int_equal(rd(f, 0x04, 2), 0x0544);
}

static void test_status_rw1c(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;

    pci_cfg_set16(d, PCI_STATUS, 0xf900 | PCI_STATUS_CAP_LIST);
    /* Writing 0 clears nothing; writing 1 clears only the bit written. */
    wr(f, PCI_STATUS, 2, 0);
    assert_int_equal(rd(f, PCI_STATUS, 2), 0xf910);
    wr(f, PCI_STATUS, 2, 0x2000);
    assert_int_equal(rd(f, PCI_STATUS, 2), 0xd910);
    wr(f, PCI_STATUS + 1, 1, 0x80);
    assert_int_equal(rd(f, PCI_STATUS, 2), 0x5910);
    /* A dword write to command also reaches status. */
    wr(f, PCI_COMMAND, 4, 0xffff0000);
    assert_int_equal(rd(f, PCI_STATUS, 2), 0x0010);
}

static void test_bar_sizing(void **state)
{
    struct fixture *f = *state;

    wr(f, 0x10, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x10, 4), 0xffffffe1);
    wr(f, 0x14, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x14, 4), 0xfffff000);
    wr(f, 0x18, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x18, 4), 0xffff0008);
    wr(f, 0x1c, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x1c, 4), 0xfff0000c);
    wr(f, 0x20, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x20, 4), 0xffffffff);
    wr(f, 0x24, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x24, 4), 0x00000000);
    wr(f, 0x30, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x30, 4), 0xffff0001);
    wr(f, 0x30, 4, 0xfffffffe);
    assert_int_equal(rd(f, 0x30, 4), 0xffff0000);
    /* Byte writes size too. */
    wr(f, 0x14, 4, 0);
    wr(f, 0x15, 1, 0xff);
    assert_int_equal(rd(f, 0x14, 4), 0x0000f000);
}

static void test_bar_declaration_errors(void **state)
{
    struct pci_dev *d = calloc(1, sizeof(*d));

    pci_dev_init(d, &tdev_ops);
    assert_int_equal(pci_dev_add_io_bar(d, 0, 3), -EINVAL);
    assert_int_equal(pci_dev_add_io_bar(d, 0, 2), -EINVAL);
    assert_int_equal(pci_dev_add_mem32_bar(d, 0, 8, false), -EINVAL);
    assert_int_equal(pci_dev_add_mem64_bar(d, 5, 0x1000, false), -EINVAL);
    assert_int_equal(pci_dev_add_bar(d, 6, PCI_BAR_IO, 16, false), -EINVAL);
    assert_int_equal(pci_dev_add_bar(d, 0, PCI_BAR_ROM, 4096, false), -EINVAL);
    assert_int_equal(pci_dev_add_bar(d, 7, PCI_BAR_IO, 16, false), -EINVAL);
    assert_int_equal(pci_dev_add_mem64_bar(d, 0, 0x1000, false), 0);
    assert_int_equal(pci_dev_add_mem32_bar(d, 1, 0x1000, false), -EINVAL);
    assert_int_equal(pci_dev_add_mem32_bar(d, 0, 0x1000, false), -EINVAL);
    assert_int_equal(pci_dev_add_mem32_bar(d, 2, 0x1000, false), 0);
    assert_int_equal(pci_dev_add_mem64_bar(d, 2, 0x1000, false), -EINVAL);
    assert_int_equal(pci_dev_add_rom_bar(d, 1024), -EINVAL);
    free(d);
}

static void program_bars(struct fixture *f)
{
    wr(f, 0x10, 4, 0xc000);
    wr(f, 0x14, 4, 0xe0000000);
    wr(f, 0x18, 4, 0xe0010000);
    wr(f, 0x1c, 4, 0x00000000);
    wr(f, 0x20, 4, 0x00000008);
    wr(f, 0x30, 4, 0xe0020001);
}

static void test_bar_changes_list(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;
    struct pci_range_change ch[2 * PCI_NUM_SLOTS];

    program_bars(f);
    assert_int_equal(pci_dev_bar_changes(d, ch), 0);
    /* Enable memory decode without applying: compute the list by hand. */
    pci_cfg_set16(d, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_int_equal(pci_dev_bar_changes(d, ch), 4);
    assert_int_equal(ch[0].op, PCI_RANGE_MAP);
    assert_int_equal(ch[0].bar, 1);
    assert_int_equal(ch[0].space, IO_SPACE_MMIO);
    assert_int_equal(ch[0].base, 0xe0000000);
    assert_int_equal(ch[0].len, 0x1000);
    assert_int_equal(ch[1].bar, 2);
    assert_int_equal(ch[1].base, 0xe0010000);
    assert_int_equal(ch[2].bar, 3);
    assert_int_equal(ch[2].base, 0x800000000ull);
    assert_int_equal(ch[2].len, 0x100000);
    assert_int_equal(ch[3].bar, PCI_ROM_SLOT);
    assert_int_equal(ch[3].base, 0xe0020000);
    pci_cfg_set16(d, PCI_COMMAND, 0);

    /* Now really: enable both; then move BAR1: one unmap, then one map. */
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    assert_int_equal(d->bars[0].mapped, 0xc000);
    pci_cfg_set32(d, 0x14, 0xe0004000);
    assert_int_equal(pci_dev_bar_changes(d, ch), 2);
    assert_int_equal(ch[0].op, PCI_RANGE_UNMAP);
    assert_int_equal(ch[0].bar, 1);
    assert_int_equal(ch[0].base, 0xe0000000);
    assert_int_equal(ch[1].op, PCI_RANGE_MAP);
    assert_int_equal(ch[1].bar, 1);
    assert_int_equal(ch[1].base, 0xe0004000);
    pci_cfg_set32(d, 0x14, 0xe0000000);
    assert_int_equal(pci_dev_bar_changes(d, ch), 0);
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

static void test_command_maps_bars(void **state)
{
    struct fixture *f = *state;
    struct tdev *t = f->t;
    uint64_t v;

    program_bars(f);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 1);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 0);
    assert_true(registry_has(f->io, IO_SPACE_PIO, 0xc000, 0x20));
    assert_int_equal(t->moves, 1);
    assert_int_equal(t->moved_old, PCI_BAR_UNMAPPED);
    assert_int_equal(t->moved_new, 0xc000);

    wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 4);
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0xe0000000, 0x1000));
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0xe0010000, 0x10000));
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0x800000000ull, 0x100000));
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0xe0020000, 0x10000));

    /* Accesses reach the device with BAR-relative offsets. */
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0x800000010ull, 4, 0, &v));
    assert_int_equal(v, 0x3010);
    assert_int_equal(t->last_bar, 3);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xc004, 2, 0, 0xbeef));
    assert_int_equal(t->last_bar, 0);
    assert_int_equal(t->last_offset, 4);
    assert_int_equal(t->last_size, 2);
    assert_int_equal(t->last_value, 0xbeef);

    /* Move the 64-bit BAR: the high dword write alone moves it. */
    wr(f, 0x20, 4, 0x9);
    assert_false(registry_has(f->io, IO_SPACE_MMIO, 0x800000000ull, 0x100000));
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0x900000000ull, 0x100000));
    assert_int_equal(t->moved_bar, 3);
    assert_int_equal(t->moved_old, 0x800000000ull);
    assert_int_equal(t->moved_new, 0x900000000ull);

    /* ROM enable bit off unmaps only the ROM. */
    wr(f, 0x30, 4, 0xe0020000);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 3);

    wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    assert_false(io_dispatch_read(f->io, IO_SPACE_PIO, 0xc000, 1, 0, &v));
    assert_int_equal(v, 0xff);
    wr(f, PCI_COMMAND, 2, 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 0);
}

static uint64_t other_read(void *opaque, const struct io_access *a)
{
    return 0x77;
}

static void other_write(void *opaque, const struct io_access *a, uint64_t v)
{
}

static const struct io_ops other_ops = {.read = other_read, .write = other_write};

static void test_bad_bars_not_mapped(void **state)
{
    struct fixture *f = *state;
    struct tdev *t = f->t;
    struct io_range other = {
        .space = IO_SPACE_MMIO,
        .base = 0xe0000800,
        .len = 0x100,
        .ops = &other_ops,
        .name = "other",
    };
    uint64_t v;

    assert_int_equal(io_map(f->io, &other), 0);
    program_bars(f);
    /* I/O BAR past 64K; mem64 BAR holding its sizing pattern (the top of the space). */
    wr(f, 0x10, 4, 0x1fff0);
    wr(f, 0x1c, 4, 0xfff00000);
    wr(f, 0x20, 4, 0xffffffff);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    assert_int_equal(t->pci.bars[0].mapped, PCI_BAR_UNMAPPED);
    assert_int_equal(t->pci.bars[3].mapped, PCI_BAR_UNMAPPED);
    /* BAR1 overlaps "other": refused, and "other" still answers. */
    assert_int_equal(t->pci.bars[1].mapped, PCI_BAR_UNMAPPED);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0000800, 1, 0, &v));
    assert_int_equal(v, 0x77);
    assert_int_equal(t->pci.bars[2].mapped, 0xe0010000);
    /* 0xffe00000 in the high half is a valid address below the top: mapped. */
    wr(f, 0x20, 4, 0xffffffef);
    assert_int_equal(t->pci.bars[3].mapped, 0xffffffeffff00000ull);
    /* Once "other" leaves and BAR2 moves (an unmap), the refused BAR1 maps. */
    assert_int_equal(io_unmap(f->io, IO_SPACE_MMIO, 0xe0000800), 0);
    wr(f, 0x18, 4, 0xe0030000);
    assert_int_equal(t->pci.bars[1].mapped, 0xe0000000);
    /* A BAR at address 0 is unassigned. */
    wr(f, 0x14, 4, 0);
    assert_int_equal(t->pci.bars[1].mapped, PCI_BAR_UNMAPPED);
    wr(f, PCI_COMMAND, 2, 0);
}

/*
 * A BAR placed at the very top of its space reads back the same as its size
 * mask: only what the guest wrote tells them apart. A 1 MiB 32-bit BAR at
 * 0xfff00000 and a 64 KiB ROM at 0xffff0000 decode; the same values left by
 * all-ones writes (sizing) do not.
 */
static void test_bar_at_top_of_4g(void **state)
{
    struct fixture *f = *state;
    struct tdev *b = calloc(1, sizeof(*b));
    char err[128];
    uint64_t v;
    uint32_t sb;

    pci_dev_init(&b->pci, &tdev_ops);
    pci_dev_set_ids(&b->pci, 0x1234, 0x5679, 0, 0xff0000);
    assert_int_equal(pci_dev_add_mem32_bar(&b->pci, 0, 0x100000, false), 0);
    assert_int_equal(pci_dev_add_rom_bar(&b->pci, 0x10000), 0);
    assert_int_equal(pci_bus_add(f->bus, &b->pci, -1, err, sizeof(err)), 0);
    sb = b->pci.sbdf;
    pci_bus_cfg_write(f->bus, sb, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

    /* Sizing with decode on: the size mask is never decoded. */
    pci_bus_cfg_write(f->bus, sb, 0x10, 4, 0xffffffff);
    assert_int_equal(pci_bus_cfg_read(f->bus, sb, 0x10, 4), 0xfff00000);
    assert_int_equal(b->pci.bars[0].mapped, PCI_BAR_UNMAPPED);
    pci_bus_cfg_write(f->bus, sb, 0x30, 4, 0xfffffffe);
    assert_int_equal(pci_bus_cfg_read(f->bus, sb, 0x30, 4), 0xffff0000);
    pci_bus_cfg_write(f->bus, sb, 0x30, 4, 0xffffffff);
    assert_int_equal(b->pci.bars[PCI_ROM_SLOT].mapped, PCI_BAR_UNMAPPED);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 0);

    /* The same register values written as addresses: both decode. */
    pci_bus_cfg_write(f->bus, sb, 0x10, 4, 0xfff00000);
    assert_int_equal(pci_bus_cfg_read(f->bus, sb, 0x10, 4), 0xfff00000);
    assert_int_equal(b->pci.bars[0].mapped, 0xfff00000);
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0xfff00000, 0x100000));
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xfffffffc, 4, 0, &v));
    assert_int_equal(b->last_bar, 0);
    assert_int_equal(b->last_offset, 0xffffc);
    /* The ROM overlaps BAR0 there: refused until BAR0 moves away. */
    pci_bus_cfg_write(f->bus, sb, 0x30, 4, 0xffff0001);
    assert_int_equal(b->pci.bars[PCI_ROM_SLOT].mapped, PCI_BAR_UNMAPPED);
    pci_bus_cfg_write(f->bus, sb, 0x10, 4, 0xe0000000);
    assert_int_equal(b->pci.bars[0].mapped, 0xe0000000);
    assert_int_equal(b->pci.bars[PCI_ROM_SLOT].mapped, 0xffff0000);
    assert_true(registry_has(f->io, IO_SPACE_MMIO, 0xffff0000, 0x10000));

    /* Sized again, with byte writes this time: unmapped until an address comes. */
    for (unsigned i = 0; i < 4; i++)
        pci_bus_cfg_write(f->bus, sb, 0x10 + i, 1, 0xff);
    assert_int_equal(b->pci.bars[0].mapped, PCI_BAR_UNMAPPED);
    pci_bus_cfg_write(f->bus, sb, 0x12, 2, 0xfff0);
    assert_int_equal(b->pci.bars[0].mapped, PCI_BAR_UNMAPPED); /* byte 0-1 still all-ones */
    pci_bus_cfg_write(f->bus, sb, 0x10, 2, 0);
    assert_int_equal(b->pci.bars[0].mapped, PCI_BAR_UNMAPPED); /* overlaps the ROM */
    pci_bus_cfg_write(f->bus, sb, 0x30, 4, 0);
    pci_bus_cfg_write(f->bus, sb, 0x10, 4, 0xfff00000);
    assert_int_equal(b->pci.bars[0].mapped, 0xfff00000);

    /* Reset forgets a sizing in progress along with the address. */
    pci_bus_cfg_write(f->bus, sb, 0x10, 4, 0xffffffff);
    pci_dev_reset(&b->pci);
    assert_int_equal(b->pci.bars[0].sizing, 0);
    assert_int_equal(b->pci.bars[0].mapped, PCI_BAR_UNMAPPED);
    pci_bus_remove(f->bus, &b->pci);
    free(b);
}

/*
 * A 64-bit BAR is sized one half at a time and its address restored one
 * half at a time: while either half still holds all-ones the BAR is not
 * decoded, whichever order the halves come in, and no half-written address
 * (0xffffffff00000000, 0x8fff00000) is ever mapped.
 */
static void test_bar64_sized_half_by_half(void **state)
{
    struct fixture *f = *state;
    struct tdev *t = f->t;
    static const unsigned order[2][2] = {{0x1c, 0x20}, {0x20, 0x1c}};

    program_bars(f);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(t->pci.bars[3].mapped, 0x800000000ull);
    for (unsigned o = 0; o < 2; o++) {
        unsigned moves = t->moves;

        wr(f, 0x1c, 4, 0xffffffff);
        assert_int_equal(t->pci.bars[3].mapped, PCI_BAR_UNMAPPED);
        wr(f, 0x20, 4, 0xffffffff);
        assert_int_equal(rd(f, 0x1c, 4), 0xfff0000c);
        assert_int_equal(rd(f, 0x20, 4), 0xffffffff);
        assert_int_equal(t->pci.bars[3].mapped, PCI_BAR_UNMAPPED);
        /* Restore one half: the other still holds its mask. */
        wr(f, order[o][0], 4, order[o][0] == 0x1c ? 0 : 8);
        assert_int_equal(t->pci.bars[3].mapped, PCI_BAR_UNMAPPED);
        wr(f, order[o][1], 4, order[o][1] == 0x1c ? 0 : 8);
        assert_int_equal(t->pci.bars[3].mapped, 0x800000000ull);
        /* One unmap, one map: nothing decoded in between. */
        assert_int_equal(t->moves, moves + 2);
        assert_int_equal(t->moved_old, PCI_BAR_UNMAPPED);
        assert_int_equal(t->moved_new, 0x800000000ull);
    }
    /* A 64-bit BAR right below 4 GiB, written as an address: decoded. */
    wr(f, 0x20, 4, 0);
    assert_int_equal(t->pci.bars[3].mapped, PCI_BAR_UNMAPPED); /* address 0: unassigned */
    wr(f, 0x1c, 4, 0xfff00000);
    assert_int_equal(t->pci.bars[3].mapped, 0xfff00000ull);
    /* Upper half all-ones alone (nothing sits at 2^64 - 4 GiB): not decoded. */
    wr(f, 0x20, 4, 0xffffffff);
    assert_int_equal(t->pci.bars[3].mapped, PCI_BAR_UNMAPPED);
    wr(f, 0x20, 4, 0);
    assert_int_equal(t->pci.bars[3].mapped, 0xfff00000ull);
    wr(f, PCI_COMMAND, 2, 0);
}

static void test_overlap_between_devices(void **state)
{
    struct fixture *f = *state;
    struct tdev *b = calloc(1, sizeof(*b));
    char err[128];
    uint32_t sb;

    tdev_build(b);
    assert_int_equal(pci_bus_add(f->bus, &b->pci, -1, err, sizeof(err)), 0);
    sb = b->pci.sbdf;
    wr(f, 0x14, 4, 0xe0000000);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    pci_bus_cfg_write(f->bus, sb, 0x14, 4, 0xe0000000);
    pci_bus_cfg_write(f->bus, sb, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(f->t->pci.bars[1].mapped, 0xe0000000);
    assert_int_equal(b->pci.bars[1].mapped, PCI_BAR_UNMAPPED);
    /* The first device moves away; the second one's BAR now decodes. */
    wr(f, 0x14, 4, 0xe1000000);
    assert_int_equal(b->pci.bars[1].mapped, 0xe0000000);
    assert_int_equal(f->t->pci.bars[1].mapped, 0xe1000000);
    pci_bus_remove(f->bus, &b->pci);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 1);
    free(b);
}

static void test_beyond_256_and_odd_sizes(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(rd(f, 0x100, 4), 0xffffffff);
    assert_int_equal(rd(f, 0x1fe, 2), 0xffff);
    assert_int_equal(rd(f, 0xfff, 1), 0xff);
    assert_int_equal(rd(f, 0x1000, 4), 0xffffffff);
    assert_int_equal(rd(f, 0x00, 3), 0xffffff);
    assert_int_equal(rd(f, 0x01, 4), 0xffffffff);
    assert_int_equal(rd(f, 0x03, 2), 0xffff);
    assert_int_equal(rd(f, 0x02, 2), 0x5678);
    assert_int_equal(rd(f, 0x01, 2), 0x7812);
    assert_int_equal(rd(f, 0x00, 0), 0);
    wr(f, 0x3b, 2, 0xffff);
    assert_int_equal(rd(f, 0x3c, 1), 0);
    wr(f, 0x3c, 8, 0xff);
    assert_int_equal(rd(f, 0x3c, 1), 0);
    wr(f, 0x3d, 2, 0x2222);
    assert_int_equal(rd(f, 0x3c, 4), 0x00000100);
}

static void test_express_space(void **state)
{
    struct fixture *f = *state;

    /* A function that decodes 4 KiB answers up there; the empty extended list reads 0. */
    f->t->pci.cfg_size = PCI_CFG_SPACE_EXP_SIZE;
    assert_int_equal(rd(f, 0x100, 4), 0);
    assert_int_equal(rd(f, 0xffc, 4), 0);
    wr(f, 0x100, 4, 0xffffffff);
    assert_int_equal(rd(f, 0x100, 4), 0);
    assert_int_equal(rd(f, 0x1000, 1), 0xff);
}

static void test_capabilities(void **state)
{
    struct pci_dev *d = calloc(1, sizeof(*d));
    int a, b, c;

    pci_dev_init(d, &tdev_ops);
    assert_int_equal(pci_cap_find(d, PCI_CAP_ID_VNDR), 0);
    a = pci_cap_add(d, PCI_CAP_ID_VNDR, 6);
    b = pci_cap_add(d, 0x01, 8);
    c = pci_cap_add(d, PCI_CAP_ID_VNDR, 3);
    assert_int_equal(a, 0x40);
    assert_int_equal(b, 0x48);
    assert_int_equal(c, 0x50);
    assert_int_equal(pci_cfg_get8(d, PCI_CAPABILITY_LIST), 0x40);
    assert_int_equal(pci_cfg_get16(d, PCI_STATUS), PCI_STATUS_CAP_LIST);
    assert_int_equal(pci_cfg_get16(d, 0x40), 0x4809);
    assert_int_equal(pci_cfg_get16(d, 0x48), 0x5001);
    assert_int_equal(pci_cfg_get16(d, 0x50), 0x0009);
    assert_int_equal(pci_cap_find(d, 0x01), 0x48);
    assert_int_equal(pci_cap_find(d, PCI_CAP_ID_VNDR), 0x40);
    assert_int_equal(pci_cap_find(d, 0x10), 0);
    assert_int_equal(pci_cap_add(d, 0x02, 0xb0), -ENOSPC);
    assert_int_equal(pci_cap_add(d, 0x02, 1), -ENOSPC);
    assert_int_equal(pci_cap_add(d, 0x02, 0xac), 0x54);
    assert_int_equal(pci_cap_add(d, 0x02, 2), -ENOSPC);
    /* A corrupted (looping) chain still ends the search. */
    pci_cfg_set8(d, 0x49, 0x40);
    assert_int_equal(pci_cap_find(d, 0x10), 0);
    free(d);
}

static void test_intx(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;

    pci_set_irq(d, true);
    assert_int_equal(f->fp.nr_intx, 1);
    assert_int_equal(f->fp.intx[0].sbdf, f->sbdf);
    assert_int_equal(f->fp.intx[0].line, 0);
    assert_true(f->fp.intx[0].level);
    assert_int_equal(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    /* Same level again: no new platform call. */
    pci_set_irq(d, true);
    assert_int_equal(f->fp.nr_intx, 1);
    /* Interrupt Disable drops the pin; status still shows the request. */
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(f->fp.nr_intx, 2);
    assert_false(f->fp.intx[1].level);
    assert_int_equal(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    pci_set_irq(d, false);
    assert_int_equal(f->fp.nr_intx, 2);
    assert_int_equal(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
    pci_set_irq(d, true);
    assert_int_equal(f->fp.nr_intx, 2);
    wr(f, PCI_COMMAND, 2, 0);
    assert_int_equal(f->fp.nr_intx, 3);
    assert_true(f->fp.intx[2].level);
    /* The status Interrupt bit cannot be written. */
    wr(f, PCI_STATUS, 2, 0xffff);
    assert_int_equal(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    /* Reset drops the line. */
    pci_dev_reset(d);
    assert_int_equal(f->fp.nr_intx, 4);
    assert_false(f->fp.intx[3].level);
    assert_int_equal(rd(f, PCI_STATUS, 2), 0);

    /* Pin D, and no pin at all. */
    pci_dev_set_intx_pin(d, 4);
    pci_set_irq(d, true);
    assert_int_equal(f->fp.intx[4].line, 3);
    pci_set_irq(d, false);
    pci_dev_set_intx_pin(d, 0);
    pci_set_irq(d, true);
    assert_int_equal(f->fp.nr_intx, 6);
    assert_int_equal(rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
}

static void test_msi(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;
    int cap = pci_msi_init(d, 4);

    assert_int_equal(cap, 0x40);
    assert_int_equal(pci_msi_init(d, 4), -EINVAL);
    assert_int_equal(rd(f, cap, 4), 0x01840005); /* 64-bit, per-vector mask, MMC=4 */
    wr(f, cap + 2, 2, 0xffff);
    assert_int_equal(rd(f, cap + 2, 2), 0x01f5); /* enable and MME writable */
    wr(f, cap + 2, 2, 0);
    wr(f, cap + 4, 4, 0xfee00003);
    assert_int_equal(rd(f, cap + 4, 4), 0xfee00000);
    wr(f, cap + 8, 4, 0x1);
    wr(f, cap + 0xc, 4, 0xffff4560);
    assert_int_equal(rd(f, cap + 0xc, 4), 0x4560);
    wr(f, cap + 0x10, 4, 0xffffffff);
    assert_int_equal(rd(f, cap + 0x10, 4), 0xf);
    wr(f, cap + 0x10, 4, 0);
    wr(f, cap + 0x14, 4, 0xffffffff);
    assert_int_equal(rd(f, cap + 0x14, 4), 0);

    assert_int_equal(pci_msi_notify(d, 0), -EINVAL);
    /* INTx is silenced while MSI is on. */
    pci_set_irq(d, true);
    assert_int_equal(f->fp.nr_intx, 1);
    wr(f, cap + 2, 2, 0x0011); /* enable, MME = 2 vectors */
    assert_int_equal(f->fp.nr_intx, 2);
    assert_false(f->fp.intx[1].level);
    pci_set_irq(d, false);

    assert_int_equal(pci_msi_notify(d, 1), 0);
    assert_int_equal(f->fp.nr_msi, 1);
    assert_int_equal(f->fp.msi[0].addr, 0x1fee00000ull);
    assert_int_equal(f->fp.msi[0].data, 0x4561);
    assert_int_equal(pci_msi_notify(d, 2), -EINVAL); /* only 2 enabled */

    /* Masked: pending, then sent on unmask. */
    wr(f, cap + 0x10, 4, 0x1);
    assert_int_equal(pci_msi_notify(d, 0), 1);
    assert_int_equal(f->fp.nr_msi, 1);
    assert_int_equal(rd(f, cap + 0x14, 4), 0x1);
    wr(f, cap + 0x10, 4, 0);
    assert_int_equal(f->fp.nr_msi, 2);
    assert_int_equal(f->fp.msi[1].data, 0x4560);
    assert_int_equal(rd(f, cap + 0x14, 4), 0);

    /* MME beyond what is offered is clamped to the offer. */
    wr(f, cap + 2, 2, 0x0071);
    assert_int_equal(pci_msi_notify(d, 3), 0);
    assert_int_equal(f->fp.msi[2].data, 0x4563);
    assert_int_equal(pci_msi_notify(d, 4), -EINVAL);
    assert_int_equal(pci_msi_init(d, 3), -EINVAL);
}

static void test_msix(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;
    struct tdev *t = f->t;
    uint64_t v;
    int cap;

    /* BAR2 (64K): table of 3 at 0x2000, PBA at 0x3000. */
    assert_int_equal(pci_msix_init(d, 3, 0, 0, 2, 0x3000), -EINVAL); /* I/O BAR */
    assert_int_equal(pci_msix_init(d, 3, 2, 0x2004, 2, 0x3000), -EINVAL);
    assert_int_equal(pci_msix_init(d, 3, 2, 0x2000, 2, 0x2010), -EINVAL); /* overlap */
    assert_int_equal(pci_msix_init(d, 3, 2, 0xfff8, 2, 0x3000), -EINVAL); /* past BAR end */
    assert_int_equal(pci_msix_init(d, 0, 2, 0x2000, 2, 0x3000), -EINVAL);
    assert_int_equal(pci_msix_init(d, 2049, 2, 0x2000, 2, 0x3000), -EINVAL);
    cap = pci_msix_init(d, 3, 2, 0x2000, 2, 0x3000);
    assert_int_equal(cap, 0x40);
    assert_int_equal(rd(f, cap, 4), 0x00020011);
    assert_int_equal(rd(f, cap + 4, 4), 0x2002);
    assert_int_equal(rd(f, cap + 8, 4), 0x3002);
    wr(f, cap + 2, 2, 0xffff);
    assert_int_equal(rd(f, cap + 2, 2), 0xc002);
    wr(f, cap + 2, 2, 0);
    wr(f, cap + 4, 4, 0);
    assert_int_equal(rd(f, cap + 4, 4), 0x2002);

    wr(f, 0x18, 4, 0xe0010000);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    /* Power-on table: zero, every vector masked. */
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0012000, 4, 0, &v));
    assert_int_equal(v, 0);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe001200c, 4, 0, &v));
    assert_int_equal(v, 1);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe001202c, 4, 0, &v));
    assert_int_equal(v, 1);

    /* Program entry 1 with an 8-byte write of the address, then data, then unmask later. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe0012010, 8, 0, 0x00000002fee01003ull));
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe0012018, 4, 0, 0x41));
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0012010, 8, 0, &v));
    assert_int_equal(v, 0x00000002fee01000ull);
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe001201c, 4, 0, 0xfffffffe));
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe001201c, 4, 0, &v));
    assert_int_equal(v, 0); /* reserved control bits stay zero */
    assert_true(pci_msix_masked(d, 0));
    assert_false(pci_msix_masked(d, 1));
    assert_true(pci_msix_masked(d, 3));

    assert_int_equal(pci_msix_notify(d, 1), -EINVAL); /* not enabled */
    wr(f, cap + 2, 2, 0xc000);                        /* enabled, function masked */
    assert_int_equal(pci_msix_notify(d, 1), 1);
    assert_int_equal(pci_msix_notify(d, 0), 1);
    assert_int_equal(pci_msix_notify(d, 3), -EINVAL);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0013000, 8, 0, &v));
    assert_int_equal(v, 0x3);
    assert_int_equal(f->fp.nr_msi, 0);
    /* PBA writes are ignored. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe0013000, 8, 0, 0));
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0013000, 4, 0, &v));
    assert_int_equal(v, 0x3);

    /* Function unmask sends vector 1 (unmasked); vector 0 stays pending. */
    wr(f, cap + 2, 2, 0x8000);
    assert_int_equal(f->fp.nr_msi, 1);
    assert_int_equal(f->fp.msi[0].addr, 0x2fee01000ull);
    assert_int_equal(f->fp.msi[0].data, 0x41);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0013000, 4, 0, &v));
    assert_int_equal(v, 0x1);
    /* Unmasking entry 0 sends it. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe001200c, 4, 0, 0));
    assert_int_equal(f->fp.nr_msi, 2);
    assert_int_equal(f->fp.msi[1].addr, 0);
    assert_int_equal(pci_msix_notify(d, 1), 0);
    assert_int_equal(f->fp.nr_msi, 3);

    /* Writes past the table's end go to the device; straddling ones are dropped. */
    t->writes = 0;
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe0012030, 4, 0, 0xdead));
    assert_int_equal(t->writes, 1);
    assert_int_equal(t->last_offset, 0x2030);
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe001202c, 8, 0, 0));
    assert_int_equal(t->writes, 1);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe001202c, 4, 0, &v));
    assert_int_equal(v, 1);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe001202c, 8, 0, &v));
    assert_int_equal(v, 0xffffffffffffffffull);
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0012ffe, 4, 0, &v));
    assert_int_equal(v, 0xffffffff); /* straddles the PBA's start */
    /* Byte access into an entry. */
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xe0012011, 1, 0, &v));
    assert_int_equal(v, 0x10);

    /* INTx is silenced while MSI-X is on. */
    pci_set_irq(d, true);
    assert_int_equal(f->fp.nr_intx, 0);
    wr(f, cap + 2, 2, 0);
    assert_int_equal(f->fp.nr_intx, 1);
    pci_set_irq(d, false);

    /* Reset masks every vector again and clears pending bits. */
    pci_dev_reset(d);
    assert_true(pci_msix_masked(d, 1));
    assert_int_equal(d->msix.pba[0], 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 0);
}

/* pci_dev_irq_info and pci_msix_vector_info read what the guest set, and change nothing. */
static void test_irq_info(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;
    struct pci_msix_vector_info v;
    struct pci_irq_info in;
    uint8_t before[PCI_CFG_SPACE_EXP_SIZE];
    int msi, msix;

    pci_dev_irq_info(d, &in);
    assert_int_equal(in.intx_pin, 1);
    assert_int_equal(in.intx_line, 0);
    assert_false(in.intx_level || in.intx_asserted || in.intx_disabled);
    assert_false(in.has_msi || in.has_msix);
    assert_int_equal(pci_msix_vector_info(d, 0, &v), -EINVAL);

    /* Firmware notes line 11; the device asserts INTA#. */
    wr(f, PCI_INTERRUPT_LINE, 1, 11);
    pci_set_irq(d, true);
    pci_dev_irq_info(d, &in);
    assert_int_equal(in.intx_line, 11);
    assert_true(in.intx_level && in.intx_asserted);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    pci_dev_irq_info(d, &in);
    assert_true(in.intx_level && in.intx_disabled);
    assert_false(in.intx_asserted);
    wr(f, PCI_COMMAND, 2, 0);
    pci_set_irq(d, false);

    msi = pci_msi_init(d, 4);
    msix = pci_msix_init(d, 3, 2, 0x2000, 2, 0x3000);
    assert_true(msi > 0 && msix > 0);
    pci_dev_irq_info(d, &in);
    assert_true(in.has_msi && in.has_msix);
    assert_false(in.msi_enabled || in.msix_enabled || in.msix_function_mask);
    assert_int_equal(in.msi_vectors, 1);
    assert_int_equal(in.msi_max_vectors, 4);
    assert_int_equal(in.msix_table_size, 3);
    assert_int_equal(in.msix_table_bar, 2);
    assert_int_equal(in.msix_table_offset, 0x2000);
    assert_int_equal(in.msix_pba_bar, 2);
    assert_int_equal(in.msix_pba_offset, 0x3000);

    /* MSI: 64-bit address, data, 2 vectors, vector 1 masked and raised. */
    wr(f, msi + 4, 4, 0xfee01000);
    wr(f, msi + 8, 4, 0x1);
    wr(f, msi + 0xc, 2, 0x4562);
    wr(f, msi + 0x10, 4, 0x2);
    wr(f, msi + 2, 2, 0x0011);
    assert_int_equal(pci_msi_notify(d, 1), 1);
    pci_dev_irq_info(d, &in);
    assert_true(in.msi_enabled);
    assert_int_equal(in.msi_addr, 0x1fee01000ull);
    assert_int_equal(in.msi_data, 0x4562);
    assert_int_equal(in.msi_vectors, 2);
    assert_int_equal(in.msi_mask, 0x2);
    assert_int_equal(in.msi_pending, 0x2);
    wr(f, msi + 2, 2, 0);

    /* MSI-X: entry 2 programmed and unmasked, function masked, vector 2 pending. */
    wr(f, 0x18, 4, 0xe0010000);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe0012020, 8, 0, 0x00000000fee02000ull));
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe0012028, 4, 0, 0x51));
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xe001202c, 4, 0, 0));
    wr(f, msix + 2, 2, 0xc000);
    assert_int_equal(pci_msix_notify(d, 2), 1);
    memcpy(before, d->cfg, sizeof(before));
    pci_dev_irq_info(d, &in);
    assert_true(in.msix_enabled && in.msix_function_mask);
    assert_int_equal(pci_msix_vector_info(d, 2, &v), 0);
    assert_int_equal(v.addr, 0xfee02000ull);
    assert_int_equal(v.data, 0x51);
    assert_false(v.masked);
    assert_true(v.pending);
    assert_int_equal(pci_msix_vector_info(d, 0, &v), 0);
    assert_int_equal(v.addr, 0);
    assert_true(v.masked);
    assert_false(v.pending);
    assert_int_equal(pci_msix_vector_info(d, 3, &v), -EINVAL);
    /* Looking sent nothing and changed nothing. */
    assert_memory_equal(before, d->cfg, sizeof(before));
    assert_int_equal(f->fp.nr_msi, 0);
}

static void test_describe(void **state)
{
    struct fixture *f = *state;
    struct pci_dev *d = &f->t->pci;
    char buf[512];

    pci_dev_identity(d, buf, sizeof(buf));
    assert_string_equal(buf, "00:02.0 1234:5678");
    pci_dev_bars_describe(d, buf, sizeof(buf));
    assert_string_equal(buf, "bar0=io:unmapped+0x20 bar1=mem32:unmapped+0x1000 "
                             "bar2=mem32:unmapped+0x10000 bar3=mem64:unmapped+0x100000 "
                             "bar6=rom:unmapped+0x10000");
    wr(f, 0x10, 4, 0xc000);
    wr(f, 0x14, 4, 0xe0000000);
    wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    pci_dev_describe(d, buf, sizeof(buf));
    assert_string_equal(buf, "00:02.0 1234:5678 bar0=io:0xc000+0x20 bar1=mem32:0xe0000000+0x1000 "
                             "bar2=mem32:unmapped+0x10000 bar3=mem64:unmapped+0x100000 "
                             "bar6=rom:unmapped+0x10000");
    /* Truncation keeps the string terminated. */
    pci_dev_bars_describe(d, buf, 10);
    assert_string_equal(buf, "bar0=io:0");
    assert_string_equal(pci_bar_type_name(PCI_BAR_MEM64), "mem64");
    assert_string_equal(pci_bar_type_name((enum pci_bar_type)99), "none");
}

static void test_msix_conformance(void **state)
{
    struct fixture *f = *state;
    const struct pci_conformance_ids ids = {
        .vendor = 0x1234,
        .device = 0x5678,
        .revision = 0x09,
        .class_code = 0xff0001,
        .subsystem_vendor = 0xaaaa,
        .subsystem_id = 0xbbbb,
        .interrupt_pin = 1,
    };

    assert_true(pci_msi_init(&f->t->pci, 1) > 0);
    assert_true(pci_msix_init(&f->t->pci, 64, 1, 0, 1, 0x800) > 0);
    assert_true(pci_cap_add(&f->t->pci, PCI_CAP_ID_VNDR, 16) > 0);
    memcpy(f->t->pci.reset_cfg, f->t->pci.cfg, sizeof(f->t->pci.cfg));
    pci_conformance_run(f->bus, f->io, f->sbdf, &ids);
}

static void test_legacy_pio(void **state)
{
    struct fixture *f = *state;
    uint32_t addr = 0x80000000u | f->sbdf << 8;
    uint64_t v;

    assert_int_equal(pci_bus_claim_legacy_pio(f->bus), 0);
    assert_int_equal(pci_bus_claim_legacy_pio(f->bus), -EEXIST);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, addr | 0x7f000003));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, &v));
    assert_int_equal(v, addr);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfc, 4, 0, &v));
    assert_int_equal(v, 0x56781234);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfe, 2, 0, &v));
    assert_int_equal(v, 0x5678);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfd, 1, 0, &v));
    assert_int_equal(v, 0x12);
    /* Narrow accesses to the latch neither read nor change it. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 1, 0, 0));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcf8, 2, 0, &v));
    assert_int_equal(v, 0xffff);
    /* Interrupt line through the window. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, addr | 0x3c));
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcfc, 1, 0, 0x0b));
    assert_int_equal(rd(f, 0x3c, 1), 0x0b);
    /* Enable bit clear, or an empty slot: all-ones. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, f->sbdf << 8));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfc, 4, 0, &v));
    assert_int_equal(v, 0xffffffff);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, 0x80000000u | 0x1f << 11));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfc, 4, 0, &v));
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conformance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_full_and_routing_error, setup, teardown),
        cmocka_unit_test(test_parse_bdf),
        cmocka_unit_test_setup_teardown(test_header_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_rw1c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_at_top_of_4g, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar64_sized_half_by_half, setup, teardown),
        cmocka_unit_test(test_bar_declaration_errors),
        cmocka_unit_test_setup_teardown(test_bar_changes_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_maps_bars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bars_not_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_between_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beyond_256_and_odd_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_express_space, setup, teardown),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msix_conformance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_pio, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
