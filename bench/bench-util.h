/*
 * Helpers shared by the benchmark programs: clocks, sample sets with
 * median/p99, result lines, process footprint, and starting a device model
 * (ioreqd or the null server) on a mock domain.
 *
 * Every figure is printed as one line "RESULT <key> <value>" on stdout, so
 * bench/run.sh can turn a run into a table; everything else goes to stderr.
 * Nothing here judges a figure: benchmarks measure, they do not assert.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dm-process.h"
#include "mockhv.h"

#define BENCH_TIMEOUT_MS 20000

uint64_t bench_now_ns(void);
void bench_sleep_ms(unsigned ms);

/* A growable set of samples in nanoseconds. */
struct bench_samples {
    uint64_t *v;
    size_t n, cap;
};

int bench_samples_init(struct bench_samples *s, size_t cap);
void bench_samples_add(struct bench_samples *s, uint64_t ns);
/* Sorts in place; q in [0, 1]. */
uint64_t bench_samples_quantile(struct bench_samples *s, double q);
void bench_samples_fini(struct bench_samples *s);

void bench_result(const char *key, double value);
void bench_resultf(double value, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* VmRSS / VmHWM of a process in KiB, or -1. */
long bench_rss_kib(pid_t pid, const char *field);

/* CPU time a process's main thread has used, in ns (schedstat), or that of
 * the whole process in clock ticks where schedstat is missing; 0 if neither. */
uint64_t bench_cpu_ns(pid_t pid);

/* How to start the device model under test. */
struct bench_dm {
    const char *program;      /* ioreqd or bench-null-server */
    const char *shim_libdir;  /* drop-in libraries */
    const char *const *extra; /* more arguments, NULL-terminated, may be NULL */
    const char *prefix;       /* run under this program (e.g. valgrind), may be NULL */
    const char *const *prefix_args;
    const char *log_path;
    /* Debian's QEMU (qemu-system-xen) instead of ioreqd: started with
     * QEMU's options for a Xen HVM guest (-xen-domid, -machine xenfv, the
     * domain's vCPUs and memory) instead of --domid. */
    bool qemu;
    unsigned mem_mib; /* the mock domain's memory, for QEMU's -m */
};

/*
 * Starts the device model for hv's domain and waits (polling every
 * 200 us) for device-model state = running; *startup_ns gets the time from
 * fork to that point. 0 or -errno.
 */
int bench_dm_start(struct dmproc *p, struct mockhv *hv, const struct bench_dm *dm,
                   uint64_t *startup_ns);
void bench_dm_stop(struct dmproc *p);

/* Fatal set-up error: message and exit(1). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
