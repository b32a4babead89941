/*
 * Round trip of one synchronous PIO read, measured interleaved (bench-compare.c):
 * the transport floor, the null server (no dispatch), the null server with a
 * registry of 1 and of N ranges, and ioreqd, all served in one mock domain
 * at the same time, one request to each in turn. Then throughput and
 * buffered writes of the null server and ioreqd, alternating in rounds.
 */
#ifndef BENCH_COMPARE_H
#define BENCH_COMPARE_H

#include "bench-util.h"

struct bench_compare_opts {
    struct bench_dm ioreqd; /* must serve COM1 (0x3f8) */
    const char *null_program;
    const char *null_log;
    unsigned long count;
    unsigned ranges;
    /* then, null vs ioreqd alternately in 4 rounds: */
    const unsigned *vcpu_counts; /* 0-terminated; throughput for each */
    unsigned tp_ms;              /* per vCPU count and device model */
    unsigned long buffered;      /* writes per device model; 0: skip */
};

int bench_compare(const struct bench_compare_opts *o);

#endif
