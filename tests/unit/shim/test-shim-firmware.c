/*
 * The firmware helper against a small emulated bus: BAR sizing (I/O,
 * 32-bit, 64-bit prefetchable), placement largest first with natural
 * alignment from hvmloader's bases, multi-function scanning, decode enabled,
 * and broken BARs left alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mockhv.h"
#include "test-dm.h"

#define DOMID 8
#define T     10000

struct fake_fn {
    uint16_t bdf;
    uint32_t id, class_rev;
    uint8_t header;
    uint64_t bar_size[6]; /* 0: none; a 64-bit BAR uses the next slot too */
    uint32_t bar_flags[6];
    uint32_t bar[6];
    uint16_t command;
};

static struct fake_fn fns[] = {
    {.bdf = 0x18,
     .id = 0x11111af4,
     .class_rev = 0x01000001,
     .bar_size = {0x100, 0x1000, 0x100000, 0},
     .bar_flags = {0x1, 0x0, 0xc}}, /* io, mem32, mem64 prefetchable */
    {.bdf = 0x20, .id = 0x22225853, .class_rev = 0xff800001, .bar_size = {0x4000}},
    {.bdf = 0x28, .id = 0x33338086, .header = 0x80, .bar_size = {0x3000}}, /* not 2^n */
    {.bdf = 0x2b, .id = 0x44448086},                                       /* 00:05.3 */
};

static struct fake_fn *lookup(uint32_t sbdf)
{
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        if (fns[i].bdf == sbdf)
            return &fns[i];
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
    }
    return 0;
}

static uint64_t handler(void *opaque, unsigned vcpu, const ioreq_t *q)
{
    struct fake_fn *f;
    unsigned reg = q->addr & 0xfff, shift = (reg & 3) * 8;

    if (q->type != IOREQ_TYPE_PCI_CONFIG || !(f = lookup((uint32_t)(q->addr >> 32))))
        return ~0ull;
    if (q->dir == IOREQ_READ)
        return cfg_read(f, reg) >> shift;
    if ((reg & ~3u) == 0x04)
        f->command = (uint16_t)q->data;
    else if (reg >= 0x10 && reg < 0x28 && q->size == 4)
        f->bar[(reg - 0x10) / 4] = (uint32_t)q->data;
    return 0;
}

static void test_firmware_assigns_bars(void **state)
{
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 1, .mem_bytes = 16 << 20};
    struct mockhv_pci_func out[8];
    struct mockhv *hv;
    struct test_dm dm;
    int n;

    assert_int_equal(mockhv_create(&hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(hv), 0);
    assert_int_equal(test_dm_start_with(&dm, DOMID, 0, handler, NULL), 0);
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        assert_int_equal(xendevicemodel_map_pcidev_to_ioreq_server(dm.dmod, DOMID, dm.id, 0, 0,
                                                                   fns[i].bdf >> 3, fns[i].bdf & 7),
                         0);

    n = mockhv_firmware_pci_init(hv, 0, out, 8, T);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].bdf, 0x18);
    assert_int_equal(out[0].vendor, 0x1af4);
    assert_int_equal(out[0].device, 0x1111);
    assert_int_equal(out[0].nr_bars, 3);
    assert_true(out[0].bars[0].io && out[0].bars[0].size == 0x100);
    assert_true(!out[0].bars[1].io && !out[0].bars[1].mem64 && out[0].bars[1].size == 0x1000);
    assert_true(out[0].bars[2].mem64 && out[0].bars[2].prefetch);
    assert_true(out[0].bars[2].size == 0x100000);
    /* largest first, each aligned to its size */
    assert_true(out[0].bars[2].base == 0xf0000000);
    assert_true(out[1].bars[0].base == 0xf0100000);
    assert_true(out[0].bars[1].base == 0xf0104000);
    assert_true(out[0].bars[0].base == 0xc000);
    /* what the device now holds */
    assert_int_equal(fns[0].bar[0], 0xc000);
    assert_int_equal(fns[0].bar[1], 0xf0104000);
    assert_int_equal(fns[0].bar[2], 0xf0000000);
    assert_int_equal(fns[0].bar[3], 0);
    assert_int_equal(fns[1].bar[0], 0xf0100000);
    assert_int_equal(fns[0].command & 7, 7);
    assert_int_equal(fns[1].command & 7, 7);
    /* a BAR whose size is not a power of two is not placed */
    assert_int_equal(out[2].bdf, 0x28);
    assert_int_equal(out[2].nr_bars, 0);
    assert_int_equal(fns[2].bar[0], 0);
    /* function 3 of a multi-function device is found */
    assert_int_equal(out[3].bdf, 0x2b);

    test_dm_stop(&dm, true);
    mockhv_destroy(hv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firmware_assigns_bars),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
