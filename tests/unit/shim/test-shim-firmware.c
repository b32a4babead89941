/*
 * The firmware pass against small emulated buses, checked against what
 * Xen 4.17's hvmloader (pci_setup) does: PIRQ routes written to the PIIX3 at
 * 00:01.0 and INTx lines from them, the assertion on 00:01.0, every devfn
 * probed, BAR sizing (I/O, 32-bit, 64-bit prefetchable, ROM, a mask that is
 * not a power of two), placement largest first in scan order, the hole
 * growing down, 64-bit BARs moved above 4 GiB, decode enabled per kind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mockhv.h"
#include "test-dm.h"

#define DOMID 8
#define T     10000

struct fake_fn {
    uint16_t bdf;
    uint32_t id, class_rev;
    uint8_t header, pin, line;
    uint64_t bar_size[6]; /* 0: none; a 64-bit BAR uses the next slot too */
    uint32_t bar_flags[6];
    uint32_t bar[6];
    uint32_t rom_size, rom;
    uint16_t command;
    uint8_t pirq[4];    /* 0x60-0x63 of the ISA bridge */
    uint8_t other[256]; /* what was written to any other register */
};

struct fake_bus {
    struct fake_fn *fns;
    size_t nr;
};

static struct fake_fn *lookup(struct fake_bus *bus, uint32_t sbdf)
{
    for (size_t i = 0; i < bus->nr; i++)
        if (bus->fns[i].bdf == sbdf)
            return &bus->fns[i];
    return NULL;
}

static uint32_t bar_read(struct fake_fn *f, unsigned i)
{
    bool hi = i > 0 && (f->bar_flags[i - 1] & 0x6) == 0x4;
    uint64_t size = hi ? f->bar_size[i - 1] : f->bar_size[i];
    uint64_t mask = ~(size - 1);

    if (!size)
        return 0;
    if (hi)
        return f->bar[i] & (uint32_t)(mask >> 32);
    return (f->bar[i] & (uint32_t)mask & ~0xfu) | f->bar_flags[i];
}

static uint32_t cfg_read(struct fake_fn *f, unsigned reg)
{
    switch (reg & ~3u) {
    case 0x00:
        return f->id;
    case 0x04:
        return f->command;
    case 0x08:
        return f->class_rev;
    case 0x0c:
        return (uint32_t)f->header << 16;
    case 0x10 ... 0x24:
        return bar_read(f, ((reg & ~3u) - 0x10) / 4);
    case 0x30:
        return f->rom_size ? (f->rom & ~(f->rom_size - 1)) : 0;
    case 0x3c:
        return (uint32_t)f->pin << 8 | f->line;
    case 0x60:
        return f->pirq[0] | f->pirq[1] << 8 | f->pirq[2] << 16 | (uint32_t)f->pirq[3] << 24;
    }
    return 0;
}

static uint64_t handler(void *opaque, unsigned vcpu, const ioreq_t *q)
{
    struct fake_bus *bus = opaque;
    struct fake_fn *f;
    unsigned reg = q->addr & 0xfff, shift = (reg & 3) * 8;

    if (q->type != IOREQ_TYPE_PCI_CONFIG || !(f = lookup(bus, (uint32_t)(q->addr >> 32))))
        return ~0ull;
    if (q->dir == IOREQ_READ)
        return cfg_read(f, reg) >> shift;
    if (reg == 0x04)
        f->command = (uint16_t)q->data;
    else if (reg >= 0x10 && reg < 0x28 && q->size == 4)
        f->bar[(reg - 0x10) / 4] = (uint32_t)q->data;
    else if (reg == 0x30 && q->size == 4)
        f->rom = (uint32_t)q->data;
    else if (reg == 0x3c && q->size == 1)
        f->line = (uint8_t)q->data;
    else if (reg >= 0x60 && reg < 0x64 && q->size == 1)
        f->pirq[reg - 0x60] = (uint8_t)q->data;
    else
        for (unsigned i = 0; i < q->size && reg + i < 256; i++)
            f->other[reg + i] = (uint8_t)(q->data >> (8 * i));
    return 0;
}

static int run(struct fake_bus *bus, struct mockhv_pci_func *out, size_t max)
{
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 1, .mem_bytes = 16 << 20};
    struct mockhv *hv;
    struct test_dm dm;
    int n;

    assert_int_equal(mockhv_create(&hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(hv), 0);
    assert_int_equal(test_dm_start_with(&dm, DOMID, 0, handler, bus), 0);
    for (size_t i = 0; i < bus->nr; i++)
        assert_int_equal(xendevicemodel_map_pcidev_to_ioreq_server(dm.dmod, DOMID, dm.id, 0, 0,
                                                                   bus->fns[i].bdf >> 3,
                                                                   bus->fns[i].bdf & 7),
                         0);
    n = mockhv_firmware_pci_init(hv, 0, out, max, T);
    test_dm_stop(&dm, true);
    mockhv_destroy(hv);
    return n;
}

static void test_firmware_assigns_bars(void **state)
{
    struct fake_fn fns[] = {
        {.bdf = 0x08, .id = 0x70008086, .class_rev = 0x06010000, .header = 0x80},
        {.bdf = 0x18,
         .id = 0x11111af4,
         .class_rev = 0x01000001,
         .pin = 1,
         .bar_size = {0x100, 0x1000, 0x100000, 0},
         .bar_flags = {0x1, 0x0, 0xc},
         .rom_size = 0x10000}, /* io, mem32, mem64 prefetchable, ROM */
        {.bdf = 0x20, .id = 0x22225853, .class_rev = 0xff800001, .pin = 1, .bar_size = {0x4000}},
        {.bdf = 0x28, .id = 0x33338086, .header = 0x80, .bar_size = {0x3000}}, /* mask 0xffffd000 */
        {.bdf = 0x2b, .id = 0x44448086, .pin = 2},                             /* 00:05.3 */
        {.bdf = 0x32, .id = 0x55558086}, /* 00:06.2, function 0 absent */
    };
    struct fake_bus bus = {fns, sizeof(fns) / sizeof(fns[0])};
    struct mockhv_pci_func out[8];

    assert_int_equal(run(&bus, out, 8), 6);
    /* PIRQ links 0-3 routed to IRQs 5, 10, 11, 5 at 00:01.0 */
    assert_memory_equal(fns[0].pirq, ((uint8_t[]){5, 10, 11, 5}), 4);
    /* the barber's pole: link = (pin - 1 + slot) & 3 */
    assert_int_equal(fns[1].line, 5);  /* slot 3, INTA: link 3 */
    assert_int_equal(fns[2].line, 5);  /* slot 4, INTA: link 0 */
    assert_int_equal(fns[4].line, 11); /* slot 5, INTB: link 2 */
    assert_int_equal(out[4].irq_line, 11);
    assert_int_equal(fns[5].line, 0); /* no pin: untouched */

    assert_int_equal(out[1].bdf, 0x18);
    assert_int_equal(out[1].vendor, 0x1af4);
    assert_int_equal(out[1].device, 0x1111);
    assert_int_equal(out[1].nr_bars, 4);
    assert_true(out[1].bars[0].io && out[1].bars[0].size == 0x100);
    assert_true(!out[1].bars[1].io && !out[1].bars[1].mem64 && out[1].bars[1].size == 0x1000);
    assert_true(out[1].bars[2].mem64 && out[1].bars[2].prefetch);
    assert_true(out[1].bars[2].size == 0x100000);
    assert_int_equal(out[1].bars[3].index, 6);
    assert_true(out[1].bars[3].size == 0x10000);
    /* largest first, equal sizes in scan order, each aligned to its size */
    assert_true(out[1].bars[2].base == 0xf0000000);
    assert_true(out[1].bars[3].base == 0xf0100000);
    assert_true(out[2].bars[0].base == 0xf0110000);
    assert_true(out[1].bars[1].base == 0xf0114000);
    assert_true(out[3].bars[0].base == 0xf0115000);
    assert_true(out[1].bars[0].base == 0xc000);
    /* what the device now holds: base | the type bits read back */
    assert_int_equal(fns[1].bar[0], 0xc001);
    assert_int_equal(fns[1].bar[1], 0xf0114000);
    assert_int_equal(fns[1].bar[2], 0xf000000c);
    assert_int_equal(fns[1].bar[3], 0);
    assert_int_equal(fns[1].rom, 0xf0100000);
    assert_int_equal(fns[2].bar[0], 0xf0110000);
    /* a mask that is not a power of two is sized by its lowest set bit */
    assert_int_equal(out[3].bdf, 0x28);
    assert_int_equal(out[3].nr_bars, 1);
    assert_true(out[3].bars[0].size == 0x1000);
    /* decode: bus master for all, memory or I/O where such a BAR was placed */
    assert_int_equal(fns[0].command & 7, 4);
    assert_int_equal(fns[1].command & 7, 7);
    assert_int_equal(fns[2].command & 7, 6);
    assert_int_equal(fns[4].command & 7, 4);
    /* every devfn is probed: 00:06.2 without a function 0 is found */
    assert_int_equal(out[4].bdf, 0x2b);
    assert_int_equal(out[5].bdf, 0x32);
}

/* hvmloader asserts that 00:01.0, when it answers, is the PIIX3 8086:7000 */
static void test_firmware_isa_bridge_asserted(void **state)
{
    struct fake_fn fns[] = {
        {.bdf = 0x00, .id = 0x12378086, .class_rev = 0x06000002},
        {.bdf = 0x08, .id = 0x00015853, .class_rev = 0xff800001, .bar_size = {0x100}},
    };
    struct fake_bus bus = {fns, 2};
    struct mockhv_pci_func out[4];

    assert_int_equal(run(&bus, out, 4), -EPROTO);
    /* with nothing at 00:01.0, the routes go nowhere and INTx lines read 0xff */
    bus.nr = 1;
    fns[0].pin = 1;
    assert_int_equal(run(&bus, out, 4), 1);
    assert_int_equal(fns[0].line, 0xff);
}

/* Too much for 0xf0000000-0xfc000000: the hole grows; 64-bit BARs go above 4 GiB */
static void test_firmware_hole_grows(void **state)
{
    struct fake_fn fns[] = {
        {.bdf = 0x18, .id = 0x11111af4, .bar_size = {0x20000000}}, /* 512 MiB, 32-bit */
        {.bdf = 0x20, .id = 0x22221af4, .bar_size = {0x10000}},
    };
    struct fake_fn big[] = {
        {.bdf = 0x18, .id = 0x11111af4, .bar_size = {0x80000000}, .bar_flags = {0x4}}, /* 2 GiB */
        {.bdf = 0x20, .id = 0x22221af4, .bar_size = {0x10000}},
    };
    struct fake_bus bus = {fns, 2};
    struct mockhv_pci_func out[4];

    /* 0xe0000000 leaves 448 MiB: too small; 0xc0000000 fits */
    assert_int_equal(run(&bus, out, 4), 2);
    assert_true(out[0].bars[0].base == 0xc0000000);
    assert_true(out[1].bars[0].base == 0xe0000000);
    /* 0x80000000 leaves 1984 MiB: the 64-bit BAR goes to 4 GiB (no RAM above) */
    bus.fns = big;
    assert_int_equal(run(&bus, out, 4), 2);
    assert_true(out[0].bars[0].base == 0x100000000ull);
    assert_int_equal(big[0].bar[0], 0x4);
    assert_int_equal(big[0].bar[1], 1);
    assert_true(out[1].bars[0].base == 0x80000000);
}

/* hvmloader's set-up by class: PIIX3 IDE, PIIX4 ACPI (asserted), the primary VGA */
static void test_firmware_class_setup(void **state)
{
    struct fake_fn fns[] = {
        {.bdf = 0x08, .id = 0x70008086, .class_rev = 0x06010000, .header = 0x80},
        {.bdf = 0x09, .id = 0x70108086, .class_rev = 0x01018000},
        {.bdf = 0x0b, .id = 0x71138086, .class_rev = 0x06800003},
        {.bdf = 0x10,
         .id = 0x11111234,
         .class_rev = 0x03000002,
         .bar_size = {0x1000000},
         .bar_flags = {0x8}},
        {.bdf = 0x18, .id = 0x0000abcd, .class_rev = 0x03000000},
    };
    struct fake_bus bus = {fns, sizeof(fns) / sizeof(fns[0])};
    struct mockhv_pci_func out[8];

    assert_int_equal(run(&bus, out, 8), 5);
    /* IDE legacy mode on both channels */
    assert_int_equal(fns[1].other[0x41], 0x80);
    assert_int_equal(fns[1].other[0x43], 0x80);
    /* ACPI: SCI on IRQ 9, PM I/O at 0xb000 enabled, no SMBus I/O */
    assert_int_equal(fns[2].other[0x3c], 9); /* a word write */
    assert_int_equal(fns[2].other[0x40], 0x01);
    assert_int_equal(fns[2].other[0x41], 0xb0);
    assert_int_equal(fns[2].other[0x80], 0x01);
    /* the std VGA is the primary one: I/O decode although it has no I/O BAR */
    assert_int_equal(fns[3].command & 7, 7);
    assert_int_equal(fns[4].command & 7, 4);
    /* hvmloader asserts the ACPI function is the PIIX4's */
    fns[2].id = 0x12348086;
    assert_int_equal(run(&bus, out, 8), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firmware_assigns_bars),
        cmocka_unit_test(test_firmware_isa_bridge_asserted),
        cmocka_unit_test(test_firmware_hole_grows),
        cmocka_unit_test(test_firmware_class_setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
