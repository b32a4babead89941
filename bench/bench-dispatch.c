/*
 * The registry's share of dispatch, without any transport: io_dispatch_read
 * on ioreq-core's registry holding 1 range, then nr_ranges ranges of 8
 * ports, looking up COM1 (in the middle of the set) and a spread of other
 * registered ports. Reported as nanoseconds per lookup.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench-dispatch.h"
#include "bench-util.h"
#include "io-range.h"

static uint64_t sink_read(void *opaque, const struct io_access *a)
{
    return a->offset + (uint64_t)(uintptr_t)opaque;
}

static void sink_write(void *opaque, const struct io_access *a, uint64_t v)
{
    (void)opaque;
    (void)a;
    (void)v;
}

static const struct io_ops sink_ops = {
    .read = sink_read,
    .write = sink_write,
};

static struct io_registry *make_registry(unsigned n)
{
    struct io_registry *reg = io_registry_new();
    struct io_range com1 = {
        .space = IO_SPACE_PIO, .base = 0x3f8, .len = 8, .ops = &sink_ops, .name = "com1"};

    if (!reg || io_map(reg, &com1))
        bench_die("registry set-up failed");
    for (unsigned i = 0; i + 1 < n; i++) {
        struct io_range r = {.space = IO_SPACE_PIO,
                             .base = 0x1000 + 8 * (uint64_t)i,
                             .len = 8,
                             .ops = &sink_ops,
                             .name = "bench"};
        if (io_map(reg, &r))
            bench_die("registry set-up failed at range %u", i);
    }
    return reg;
}

/* ns per lookup, best of 5 passes (the least disturbed by other load) */
static double time_lookups(struct io_registry *reg, unsigned n, unsigned long lookups)
{
    double best = 1e18;
    uint64_t acc = 0, v;

    for (int pass = 0; pass < 5; pass++) {
        uint64_t t0 = bench_now_ns();
        for (unsigned long i = 0; i < lookups; i++) {
            /* COM1 on even steps, another registered range on odd ones */
            uint64_t addr = (i & 1) && n > 1 ? 0x1000 + 8 * ((i * 7919) % (n - 1)) : 0x3fd;
            io_dispatch_read(reg, IO_SPACE_PIO, addr, 1, 0, &v);
            acc += v;
        }
        double ns = (double)(bench_now_ns() - t0) / (double)lookups;
        if (ns < best)
            best = ns;
    }
    if (acc == 42)
        fputs("", stderr); /* keeps the loop from being optimised away */
    return best;
}

int bench_dispatch(unsigned long lookups, unsigned nr_ranges)
{
    struct io_registry *one = make_registry(1), *many = make_registry(nr_ranges);

    bench_result("dispatch.inproc.r1.ns", time_lookups(one, 1, lookups));
    bench_resultf(time_lookups(many, nr_ranges, lookups), "dispatch.inproc.r%u.ns", nr_ranges);
    io_registry_free(one);
    io_registry_free(many);
    return 0;
}
