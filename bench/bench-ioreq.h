/*
 * Benchmarks of one device model on the mock (bench-ioreq.c): synchronous
 * round trip, throughput with many vCPUs, buffered writes, footprint.
 * `label` names the device model in the result keys (ioreqd, null, ...).
 */
#ifndef BENCH_IOREQ_H
#define BENCH_IOREQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench-util.h"

struct bench_ioreq_opts {
    const char *label;
    struct bench_dm dm;
    unsigned long rtt_count;     /* synchronous round trips timed one by one */
    unsigned throughput_ms;      /* per vCPU count */
    const unsigned *vcpu_counts; /* 0-terminated */
    unsigned long buffered;      /* buffered writes; 0: skip */
    unsigned startups;           /* extra start-stop cycles timed; 0: only the first */
    unsigned gap_us;             /* also round trips this far apart (rttgap.*); 0: not */
};

int bench_ioreq(const struct bench_ioreq_opts *o);

/* n vCPU threads (vCPUs 0..n-1) reading `port` back to back for ms;
 * requests/s. *rss (if not NULL): VmRSS of rss_pid half-way. */
double bench_tp_slice(struct mockhv *hv, uint16_t port, unsigned n, unsigned ms, pid_t rss_pid,
                      long *rss);
/* `writes` buffered 1-byte writes to `port` from vCPU 0, until the owner
 * consumed the ring; writes/s, and the writes that found the ring full. */
/* Buffered writes/s until consumed; wait: the producer waits for ring space
 * instead of Xen's synchronous fallback (then *fallbacks is not counted). */
double bench_buf_slice(struct mockhv *hv, uint16_t port, unsigned long writes, bool wait,
                       uint64_t *fallbacks);

#endif
