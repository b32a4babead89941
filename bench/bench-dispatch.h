/* In-process cost of an io-range lookup with 1 vs N ranges (bench-dispatch.c). */
#ifndef BENCH_DISPATCH_H
#define BENCH_DISPATCH_H

int bench_dispatch(unsigned long lookups, unsigned nr_ranges);

#endif
