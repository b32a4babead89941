/*
 * The io-range registry: refusals, ordering and bisection over many ranges,
 * listener mirroring and rollback, and ranges changed from inside a
 * device's own callback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "io-range.h"

struct dev {
    uint64_t read_value;
    unsigned reads, writes;
    struct io_access last;
    uint64_t last_value;
    /* For the callback tests. */
    struct io_registry *reg;
    int action;
};

static uint64_t dev_read(void *opaque, const struct io_access *a)
{
    struct dev *d = opaque;

    d->reads++;
    d->last = *a;
    return d->read_value;
}

static void dev_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct dev *d = opaque;

    d->writes++;
    d->last = *a;
    d->last_value = v;
}

static const struct io_ops dev_ops = {
    .read = dev_read,
    .write = dev_write,
};

static struct io_range rng(enum io_space s, uint64_t base, uint64_t len, void *opaque)
{
    struct io_range r = {
        .space = s, .base = base, .len = len, .ops = &dev_ops, .opaque = opaque, .name = "t"};
    return r;
}

static void test_refusals(void **state)
{
    struct io_registry *reg = io_registry_new();
    struct dev d = {0};
    struct io_range r;

    r = rng(IO_SPACE_PIO, 0x3f8, 0, &d);
    assert_int_equal(io_map(reg, &r), -EINVAL);
    r = rng(IO_SPACE_MMIO, 0xffffffffffffff00ull, 0x200, &d);
    assert_int_equal(io_map(reg, &r), -EINVAL);
    r = rng(IO_SPACE_PIO, 0xfff0, 0x20, &d);
    assert_int_equal(io_map(reg, &r), -EINVAL);
    r = rng(IO_SPACE_COUNT, 0, 1, &d);
    assert_int_equal(io_map(reg, &r), -EINVAL);
    r = rng(IO_SPACE_PIO, 0x10, 1, &d);
    r.ops = NULL;
    assert_int_equal(io_map(reg, &r), -EINVAL);

    /* A range ending on the last address does not wrap. */
    r = rng(IO_SPACE_MMIO, 0xfffffffffffff000ull, 0x1000, &d);
    assert_int_equal(io_map(reg, &r), 0);
    r = rng(IO_SPACE_PIO, 0xfff0, 0x10, &d);
    assert_int_equal(io_map(reg, &r), 0);

    r = rng(IO_SPACE_PIO, 0x3f8, 8, &d);
    assert_int_equal(io_map(reg, &r), 0);
    /* Identical, overlapping left, right, containing, contained. */
    uint64_t bad[][2] = {{0x3f8, 8}, {0x3f0, 9}, {0x3ff, 4}, {0x300, 0x200}, {0x3f9, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = rng(IO_SPACE_PIO, bad[i][0], bad[i][1], &d);
        assert_int_equal(io_map(reg, &r), -EEXIST);
    }
    /* Adjacent on both sides is fine, and spaces are separate. */
    r = rng(IO_SPACE_PIO, 0x3f0, 8, &d);
    assert_int_equal(io_map(reg, &r), 0);
    r = rng(IO_SPACE_PIO, 0x400, 8, &d);
    assert_int_equal(io_map(reg, &r), 0);
    r = rng(IO_SPACE_MMIO, 0x3f8, 8, &d);
    assert_int_equal(io_map(reg, &r), 0);

    assert_int_equal(io_range_count(reg, IO_SPACE_PIO), 4);
    assert_int_equal(io_range_count(reg, IO_SPACE_MMIO), 2);
    assert_int_equal(io_range_at(reg, IO_SPACE_PIO, 0)->base, 0x3f0);
    assert_int_equal(io_range_at(reg, IO_SPACE_PIO, 1)->base, 0x3f8);
    assert_int_equal(io_range_at(reg, IO_SPACE_PIO, 2)->base, 0x400);
    assert_int_equal(io_range_at(reg, IO_SPACE_PIO, 3)->base, 0xfff0);
    assert_null(io_range_at(reg, IO_SPACE_PIO, 4));

    assert_int_equal(io_unmap(reg, IO_SPACE_PIO, 0x3f9), -ENOENT);
    assert_int_equal(io_unmap(reg, IO_SPACE_MMIO, 0x3f0), -ENOENT);
    assert_int_equal(io_unmap(reg, IO_SPACE_PIO, 0x3f8), 0);
    assert_int_equal(io_unmap(reg, IO_SPACE_PIO, 0x3f8), -ENOENT);
    assert_int_equal(io_range_count(reg, IO_SPACE_PIO), 3);
    io_registry_free(reg);
}

static void test_dispatch(void **state)
{
    struct io_registry *reg = io_registry_new();
    struct dev d = {.read_value = 0x1122334455667788ull};
    struct io_range r = rng(IO_SPACE_MMIO, 0x1000, 0x10, &d);
    uint64_t v;

    assert_int_equal(io_map(reg, &r), 0);

    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0x1004, 2, 3, &v));
    assert_int_equal(v, 0x7788);
    assert_int_equal(d.last.addr, 0x1004);
    assert_int_equal(d.last.offset, 4);
    assert_int_equal(d.last.size, 2);
    assert_int_equal(d.last.vcpu, 3);

    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0x1008, 8, 0, &v));
    assert_int_equal(v, 0x1122334455667788ull);
    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0x100f, 1, 0, &v));
    assert_int_equal(v, 0x88);
    assert_int_equal(d.reads, 3);

    /* Straddling the end, outside, odd sizes: nothing reaches the device. */
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0x100e, 4, 0, &v));
    assert_int_equal(v, 0xffffffff);
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0xfff, 2, 0, &v));
    assert_int_equal(v, 0xffff);
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0x1000, 3, 0, &v));
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0x1000, 16, 0, &v));
    assert_int_equal(v, UINT64_MAX);
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0x1000, 0, 0, &v));
    assert_false(io_dispatch_read(reg, IO_SPACE_PIO, 0x1000, 1, 0, &v));
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, UINT64_MAX, 2, 0, &v));
    assert_int_equal(d.reads, 3);

    assert_true(io_dispatch_write(reg, IO_SPACE_MMIO, 0x1002, 2, 1, 0xabcdef));
    assert_int_equal(d.last_value, 0xcdef);
    assert_int_equal(d.last.offset, 2);
    assert_false(io_dispatch_write(reg, IO_SPACE_MMIO, 0x1010, 1, 1, 0));
    assert_int_equal(d.writes, 1);
    io_registry_free(reg);
}

/* 1000 ranges mapped in a scrambled order, each found by its first and last byte. */
static void test_thousand_ranges(void **state)
{
    enum { N = 1000 };
    struct io_registry *reg = io_registry_new();
    static struct dev devs[N];
    uint64_t v;

    for (unsigned k = 0; k < N; k++) {
        unsigned i = (k * 617u) % N; /* 617 is prime to 1000: a permutation */
        devs[i].read_value = i;
        struct io_range r = rng(IO_SPACE_MMIO, 0x100000ull + i * 0x1000ull, 0x800, &devs[i]);
        assert_int_equal(io_map(reg, &r), 0);
    }
    assert_int_equal(io_range_count(reg, IO_SPACE_MMIO), N);
    for (unsigned i = 0; i < N; i++) {
        const struct io_range *r = io_range_at(reg, IO_SPACE_MMIO, i);
        assert_int_equal(r->base, 0x100000ull + i * 0x1000ull);
        assert_ptr_equal(r->opaque, &devs[i]);
    }
    for (unsigned i = 0; i < N; i++) {
        uint64_t base = 0x100000ull + i * 0x1000ull;
        assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, base, 4, 0, &v));
        assert_int_equal(v, i);
        assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, base + 0x7fc, 4, 0, &v));
        assert_int_equal(v, i);
        assert_int_equal(devs[i].last.offset, 0x7fc);
        /* The gap after each range is nobody's. */
        assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, base + 0x800, 4, 0, &v));
        assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, base + 0x7fe, 4, 0, &v));
    }
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0xfffff, 1, 0, &v));
    for (unsigned i = 0; i < N; i += 2)
        assert_int_equal(io_unmap(reg, IO_SPACE_MMIO, 0x100000ull + i * 0x1000ull), 0);
    assert_int_equal(io_range_count(reg, IO_SPACE_MMIO), N / 2);
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0x100000, 1, 0, &v));
    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0x101000, 1, 0, &v));
    assert_int_equal(v, 1);
    io_registry_free(reg);
}

/* A BAR moving under its own access: the handler unmaps itself and maps many more. */
enum { ACT_NONE, ACT_MOVE_SELF, ACT_UNMAP_ALL };

static uint64_t mover_read(void *opaque, const struct io_access *a)
{
    struct dev *d = opaque;

    d->reads++;
    d->last = *a;
    if (d->action == ACT_MOVE_SELF) {
        assert_int_equal(io_unmap(d->reg, IO_SPACE_MMIO, 0x2000), 0);
        /* Enough new ranges that the table is reallocated. */
        for (unsigned i = 0; i < 100; i++) {
            struct io_range r = rng(IO_SPACE_MMIO, 0x100000 + i * 0x10, 0x10, d);
            assert_int_equal(io_map(d->reg, &r), 0);
        }
    } else if (d->action == ACT_UNMAP_ALL) {
        while (io_range_count(d->reg, IO_SPACE_MMIO))
            assert_int_equal(
                io_unmap(d->reg, IO_SPACE_MMIO, io_range_at(d->reg, IO_SPACE_MMIO, 0)->base), 0);
    }
    return 0x5a5a;
}

static void mover_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct dev *d = opaque;

    d->writes++;
    d->last_value = v;
    if (d->action == ACT_UNMAP_ALL)
        while (io_range_count(d->reg, IO_SPACE_MMIO))
            assert_int_equal(
                io_unmap(d->reg, IO_SPACE_MMIO, io_range_at(d->reg, IO_SPACE_MMIO, 0)->base), 0);
}

static const struct io_ops mover_ops = {.read = mover_read, .write = mover_write};

static void test_unmap_in_callback(void **state)
{
    struct io_registry *reg = io_registry_new();
    struct dev d = {0};
    uint64_t v;

    d.reg = reg;
    struct io_range r = rng(IO_SPACE_MMIO, 0x2000, 0x100, &d);
    r.ops = &mover_ops;
    assert_int_equal(io_map(reg, &r), 0);

    d.action = ACT_MOVE_SELF;
    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0x2010, 4, 2, &v));
    assert_int_equal(v, 0x5a5a);
    assert_int_equal(d.last.offset, 0x10);
    assert_int_equal(io_range_count(reg, IO_SPACE_MMIO), 100);
    d.action = ACT_NONE;
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0x2010, 4, 2, &v));
    assert_int_equal(d.reads, 1);

    d.action = ACT_UNMAP_ALL;
    struct io_range r2 = rng(IO_SPACE_MMIO, 0x3000, 0x10, &d);
    r2.ops = &mover_ops;
    assert_int_equal(io_map(reg, &r2), 0);
    assert_true(io_dispatch_write(reg, IO_SPACE_MMIO, 0x3000, 8, 0, 42));
    assert_int_equal(d.last_value, 42);
    assert_int_equal(io_range_count(reg, IO_SPACE_MMIO), 0);
    io_registry_free(reg);
}

struct recorder {
    unsigned maps, unmaps;
    int fail_with;
    struct io_range last;
};

static int rec_map(void *opaque, const struct io_range *r)
{
    struct recorder *rec = opaque;

    if (rec->fail_with)
        return rec->fail_with;
    rec->maps++;
    rec->last = *r;
    return 0;
}

static void rec_unmap(void *opaque, const struct io_range *r)
{
    struct recorder *rec = opaque;

    rec->unmaps++;
    rec->last = *r;
}

static void test_listener(void **state)
{
    struct io_registry *reg = io_registry_new();
    struct recorder rec = {0};
    struct io_listener l = {.map = rec_map, .unmap = rec_unmap, .opaque = &rec};
    struct dev d = {0};
    uint64_t v;

    io_registry_set_listener(reg, &l);
    struct io_range r = rng(IO_SPACE_PIO, 0x60, 1, &d);
    assert_int_equal(io_map(reg, &r), 0);
    assert_int_equal(rec.maps, 1);
    assert_int_equal(rec.last.space, IO_SPACE_PIO);
    assert_int_equal(rec.last.base, 0x60);
    assert_int_equal(rec.last.len, 1);

    /* Refused by the registry: the listener never hears of it. */
    assert_int_equal(io_map(reg, &r), -EEXIST);
    assert_int_equal(rec.maps, 1);

    /* Refused by the listener: the registry stays as it was. */
    rec.fail_with = -EPERM;
    struct io_range r2 = rng(IO_SPACE_MMIO, 0xe0000000, 0x1000, &d);
    assert_int_equal(io_map(reg, &r2), -EPERM);
    assert_int_equal(io_range_count(reg, IO_SPACE_MMIO), 0);
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0xe0000000, 4, 0, &v));
    rec.fail_with = 0;
    assert_int_equal(io_map(reg, &r2), 0);
    assert_int_equal(rec.maps, 2);

    assert_int_equal(io_unmap(reg, IO_SPACE_MMIO, 0xe0000000), 0);
    assert_int_equal(rec.unmaps, 1);
    assert_int_equal(rec.last.base, 0xe0000000);
    assert_int_equal(rec.last.len, 0x1000);
    assert_int_equal(rec.last.space, IO_SPACE_MMIO);
    assert_int_equal(io_unmap(reg, IO_SPACE_MMIO, 0xe0000000), -ENOENT);
    assert_int_equal(rec.unmaps, 1);

    io_registry_set_listener(reg, NULL);
    assert_int_equal(io_unmap(reg, IO_SPACE_PIO, 0x60), 0);
    assert_int_equal(rec.unmaps, 1);
    io_registry_free(reg);
}

static void test_counters(void **state)
{
    struct io_registry *reg = io_registry_new();
    struct io_counter a = {0}, b = {0}, own = {0};
    struct dev d = {0};
    uint64_t v;
    struct io_range r;

    /* Each range names its counter, or counts as nobody's. */
    r = rng(IO_SPACE_PIO, 0x3f8, 8, &d);
    r.counter = &own;
    assert_int_equal(io_map(reg, &r), 0);
    r = rng(IO_SPACE_MMIO, 0xf0000000, 0x1000, &d);
    r.counter = &a;
    assert_int_equal(io_map(reg, &r), 0);
    r = rng(IO_SPACE_MMIO, 0xf0001000, 0x1000, &d);
    r.counter = &b;
    assert_int_equal(io_map(reg, &r), 0);
    r = rng(IO_SPACE_PIO, 0x60, 1, &d);
    assert_int_equal(io_map(reg, &r), 0);
    /* The entry says where it counts. */
    assert_ptr_equal(io_range_at(reg, IO_SPACE_MMIO, 0)->counter, &a);
    assert_ptr_equal(io_range_at(reg, IO_SPACE_PIO, 0)->counter, io_registry_unowned(reg));

    assert_true(io_dispatch_write(reg, IO_SPACE_PIO, 0x3f8, 1, 0, 1));
    assert_true(io_dispatch_read(reg, IO_SPACE_PIO, 0x3fd, 1, 1, &v));
    assert_true(io_dispatch_read(reg, IO_SPACE_PIO, 0x3fd, 1, 1, &v));
    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0xf0000ffc, 4, 0, &v));
    assert_true(io_dispatch_write(reg, IO_SPACE_MMIO, 0xf0001000, 8, 0, 7));
    assert_true(io_dispatch_write(reg, IO_SPACE_MMIO, 0xf0001008, 8, 0, 7));
    assert_true(io_dispatch_write(reg, IO_SPACE_MMIO, 0xf0001010, 8, 0, 7));
    assert_true(io_dispatch_read(reg, IO_SPACE_PIO, 0x60, 1, 0, &v));
    /* Nothing reached, nothing counted: no range, straddling, bad size. */
    assert_false(io_dispatch_read(reg, IO_SPACE_PIO, 0x3f0, 1, 0, &v));
    assert_false(io_dispatch_read(reg, IO_SPACE_MMIO, 0xf0000ffe, 4, 0, &v));
    assert_false(io_dispatch_write(reg, IO_SPACE_PIO, 0x3f8, 3, 0, 1));

    assert_int_equal(own.reads, 2);
    assert_int_equal(own.writes, 1);
    assert_int_equal(a.reads, 1);
    assert_int_equal(a.writes, 0);
    assert_int_equal(b.reads, 0);
    assert_int_equal(b.writes, 3);
    assert_int_equal(io_registry_unowned(reg)->reads, 1);
    assert_int_equal(io_registry_unowned(reg)->writes, 0);

    /* A range that moves keeps counting where it did: the device keeps the count. */
    assert_int_equal(io_unmap(reg, IO_SPACE_MMIO, 0xf0001000), 0);
    r = rng(IO_SPACE_MMIO, 0xe0000000, 0x1000, &d);
    r.counter = &b;
    assert_int_equal(io_map(reg, &r), 0);
    assert_true(io_dispatch_read(reg, IO_SPACE_MMIO, 0xe0000000, 2, 0, &v));
    assert_int_equal(b.reads, 1);
    assert_int_equal(b.writes, 3);
    assert_int_equal(d.reads + d.writes, 9);
    io_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_thousand_ranges), cmocka_unit_test(test_unmap_in_callback),
        cmocka_unit_test(test_listener),        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
