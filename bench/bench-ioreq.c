/*
 * One device model on one mock domain of 128 vCPUs, guest side in this
 * process: COM1's line status register (0x3fd) read synchronously from
 * vCPU 0 for the round trip, from N vCPU threads at once for throughput,
 * and buffered 1-byte writes to COM1's scratch register (0x3ff) for the
 * buffered ring. The device model's RSS is sampled idle and under load.
 */
#include "bench-ioreq.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_DOMID  9
#define BENCH_VCPUS  128
#define COM1_LSR     0x3fd
#define COM1_SCRATCH 0x3ff

struct tp_worker {
    struct mockhv *hv;
    unsigned vcpu;
    uint16_t port;
    const volatile int *go;
    const volatile int *stop;
    unsigned long done;
    int err;
    pthread_t thr;
};

static void *tp_worker_main(void *arg)
{
    struct tp_worker *w = arg;
    uint32_t v;

    while (!*w->go)
        bench_sleep_ms(1);
    while (!*w->stop) {
        int rc = mockhv_pio_in(w->hv, w->vcpu, w->port, 1, &v, BENCH_TIMEOUT_MS);
        if (rc) {
            w->err = rc;
            break;
        }
        w->done++;
    }
    return NULL;
}

static void bench_rtt(struct mockhv *hv, pid_t dm_pid, const struct bench_ioreq_opts *o)
{
    unsigned long warmup = o->rtt_count / 20 + 100;
    struct bench_samples s;
    uint64_t t_all = 0, cpu0 = 0;
    uint32_t v;

    if (bench_samples_init(&s, o->rtt_count))
        bench_die("out of memory");
    for (unsigned long i = 0; i < o->rtt_count + warmup; i++) {
        uint64_t t0 = bench_now_ns();
        int rc = mockhv_pio_in(hv, 0, COM1_LSR, 1, &v, BENCH_TIMEOUT_MS);

        if (rc)
            bench_die("%s: PIO read: %s", o->label, strerror(-rc));
        if (i >= warmup)
            bench_samples_add(&s, bench_now_ns() - t0);
        else if (i == warmup - 1) {
            cpu0 = bench_cpu_ns(dm_pid);
            t_all = bench_now_ns();
        }
    }
    t_all = bench_now_ns() - t_all;
    /* What serving costs the device model in CPU (user + system), per
     * request: the price of polling (ioreqd --poll-us). */
    bench_resultf((double)(bench_cpu_ns(dm_pid) - cpu0) / (double)s.n, "rtt.%s.dm_cpu_ns_per_req",
                  o->label);
    bench_resultf((double)bench_samples_quantile(&s, 0.5), "rtt.%s.median_ns", o->label);
    bench_resultf((double)bench_samples_quantile(&s, 0.99), "rtt.%s.p99_ns", o->label);
    bench_resultf((double)s.n, "rtt.%s.count", o->label);
    bench_resultf((double)s.n * 1e9 / (double)t_all, "rtt.%s.per_s", o->label);
    bench_samples_fini(&s);
}

/*
 * Round trips with the vCPU busy elsewhere for gap_us between them (a guest
 * that computes between accesses; a spin, as a sleep would oversleep by
 * more than the gap): what a polling device model spends on CPU while
 * nothing comes, and whether its window adapts.
 */
static void bench_rtt_paced(struct mockhv *hv, pid_t dm_pid, const struct bench_ioreq_opts *o)
{
    unsigned long count = o->rtt_count / 10 + 100;
    struct bench_samples s;
    uint64_t cpu0 = bench_cpu_ns(dm_pid), t_all = bench_now_ns();
    uint32_t v;

    if (bench_samples_init(&s, count))
        bench_die("out of memory");
    for (unsigned long i = 0; i < count; i++) {
        uint64_t t0 = bench_now_ns();
        int rc = mockhv_pio_in(hv, 0, COM1_LSR, 1, &v, BENCH_TIMEOUT_MS);

        if (rc)
            bench_die("%s: PIO read: %s", o->label, strerror(-rc));
        uint64_t t1 = bench_now_ns();
        bench_samples_add(&s, t1 - t0);
        while (bench_now_ns() - t1 < (uint64_t)o->gap_us * 1000u)
            ;
    }
    t_all = bench_now_ns() - t_all;
    bench_resultf((double)bench_samples_quantile(&s, 0.5), "rttgap.%s.median_ns", o->label);
    bench_resultf((double)t_all / (double)count, "rttgap.%s.period_ns", o->label);
    bench_resultf((double)(bench_cpu_ns(dm_pid) - cpu0) / (double)count,
                  "rttgap.%s.dm_cpu_ns_per_req", o->label);
    bench_samples_fini(&s);
}

double bench_tp_slice(struct mockhv *hv, uint16_t port, unsigned n, unsigned ms, pid_t rss_pid,
                      long *rss)
{
    struct tp_worker *w = calloc(n, sizeof(*w));
    volatile int go = 0, stop = 0;
    unsigned long total = 0;
    uint64_t t0, t1;

    if (!w)
        bench_die("out of memory");
    for (unsigned i = 0; i < n; i++) {
        w[i] = (struct tp_worker){.hv = hv, .vcpu = i, .port = port, .go = &go, .stop = &stop};
        if (pthread_create(&w[i].thr, NULL, tp_worker_main, &w[i]))
            bench_die("pthread_create failed");
    }
    bench_sleep_ms(20);
    t0 = bench_now_ns();
    go = 1;
    bench_sleep_ms(ms / 2);
    if (rss)
        *rss = bench_rss_kib(rss_pid, "VmRSS");
    bench_sleep_ms(ms - ms / 2);
    stop = 1;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(w[i].thr, NULL);
        if (w[i].err)
            bench_die("port %#x: vCPU %u: %s", port, i, strerror(-w[i].err));
        total += w[i].done;
    }
    /* requests still in flight at `stop` finish before this */
    t1 = bench_now_ns();
    free(w);
    return (double)total * 1e9 / (double)(t1 - t0);
}

static void bench_throughput(struct mockhv *hv, pid_t dm_pid, unsigned n,
                             const struct bench_ioreq_opts *o)
{
    long rss = -1;
    double rate = bench_tp_slice(hv, COM1_LSR, n, o->throughput_ms, dm_pid, &rss);

    bench_resultf(rate, "tp.%s.v%u.per_s", o->label, n);
    if (rss >= 0)
        bench_resultf((double)rss, "rss.%s.load_v%u_kib", o->label, n);
}

/* writes per mockhv_buf_write_batch call */
#define BENCH_BUF_BATCH 256

double bench_buf_slice(struct mockhv *hv, uint16_t port, unsigned long writes, bool wait,
                       uint64_t *fallbacks)
{
    struct mockhv_stats st0, st1;
    uint32_t rp = 0, wp = 1;
    uint64_t t0, t_put;
    int id = mockhv_owner(hv, MOCKHV_RANGE_PIO, port, 1);

    if (id < 0)
        bench_die("port %#x: no ioreq server", port);
    mockhv_get_stats(hv, &st0);
    t0 = bench_now_ns();
    /* What a guest's rep outsb to one port costs Xen: one decision, many
     * slots (mockhv_buf_write_batch); the values are those of single writes.
     * With `wait`, a full ring makes the producer yield until the device
     * model has made room instead of going synchronous: the consumer's rate. */
    for (unsigned long i = 0; i < writes;) {
        uint64_t vals[BENCH_BUF_BATCH];
        size_t n = writes - i < BENCH_BUF_BATCH ? (size_t)(writes - i) : BENCH_BUF_BATCH;
        long rc;

        for (size_t k = 0; k < n; k++)
            vals[k] = (i + k) & 0xff;
        if (wait) {
            rc = mockhv_buf_try_write_batch(hv, false, port, 1, vals, n);
            if (rc == 0) {
                if (bench_now_ns() - t0 > (uint64_t)BENCH_TIMEOUT_MS * 1000000ull * 4)
                    bench_die("port %#x: buffered ring stays full", port);
                sched_yield();
            }
            if (rc > 0)
                i += (unsigned long)rc;
        } else {
            rc = mockhv_buf_write_batch(hv, 0, false, port, 1, vals, n, BENCH_TIMEOUT_MS);
            i += n;
        }
        if (rc < 0)
            bench_die("port %#x: buffered write: %s", port, strerror((int)-rc));
    }
    t_put = bench_now_ns();
    /* Counted done once the device model consumed the whole ring. */
    for (;;) {
        if (mockhv_raw_buf_pointers_get(hv, (uint16_t)id, &rp, &wp))
            bench_die("port %#x: ring pointers", port);
        if (rp == wp)
            break;
        if (bench_now_ns() - t_put > (uint64_t)BENCH_TIMEOUT_MS * 1000000ull)
            bench_die("port %#x: buffered ring not drained", port);
        sched_yield();
    }
    double rate = (double)writes * 1e9 / (double)(bench_now_ns() - t0);
    mockhv_get_stats(hv, &st1);
    if (fallbacks)
        *fallbacks = st1.requests - st0.requests;
    return rate;
}

static void bench_buffered(struct mockhv *hv, const struct bench_ioreq_opts *o)
{
    uint64_t fallbacks = 0;
    double rate = bench_buf_slice(hv, COM1_SCRATCH, o->buffered, false, &fallbacks);

    bench_resultf(rate, "buf.%s.per_s", o->label);
    bench_resultf((double)fallbacks, "buf.%s.sync_fallbacks", o->label);
    rate = bench_buf_slice(hv, COM1_SCRATCH, o->buffered, true, NULL);
    bench_resultf(rate, "buf.%s.wait.per_s", o->label);
}

int bench_ioreq(const struct bench_ioreq_opts *o)
{
    struct mockhv_config cfg = {
        .domid = BENCH_DOMID, .nr_vcpus = BENCH_VCPUS, .mem_bytes = 64 << 20, .xenstore = true};
    struct mockhv *hv;
    struct dmproc dm = {0};
    struct bench_dm dmc = o->dm;
    struct bench_samples startup;
    uint64_t ns;
    int rc;

    dmc.mem_mib = (unsigned)(cfg.mem_bytes >> 20);
    rc = mockhv_create(&hv, &cfg);
    if (rc)
        bench_die("mockhv_create: %s", strerror(-rc));
    if (bench_samples_init(&startup, 8))
        bench_die("out of memory");
    /* Start-up time: every cycle but the last stops the device model again. */
    for (unsigned i = 0;; i++) {
        rc = bench_dm_start(&dm, hv, &dmc, &ns);
        if (rc)
            bench_die("%s: start: %s (log: %s)", o->label, strerror(-rc),
                      o->dm.log_path ? o->dm.log_path : "stderr");
        bench_samples_add(&startup, ns);
        if (i >= o->startups)
            break;
        bench_dm_stop(&dm);
    }
    bench_resultf((double)bench_samples_quantile(&startup, 0.5), "startup.%s.median_ns", o->label);
    bench_samples_fini(&startup);

    bench_sleep_ms(200);
    bench_resultf((double)bench_rss_kib(dm.pid, "VmRSS"), "rss.%s.idle_kib", o->label);

    if (o->rtt_count)
        bench_rtt(hv, dm.pid, o);
    if (o->rtt_count && o->gap_us)
        bench_rtt_paced(hv, dm.pid, o);
    for (unsigned i = 0; o->vcpu_counts && o->vcpu_counts[i]; i++)
        bench_throughput(hv, dm.pid, o->vcpu_counts[i], o);
    if (o->buffered)
        bench_buffered(hv, o);
    bench_resultf((double)bench_rss_kib(dm.pid, "VmHWM"), "rss.%s.peak_kib", o->label);

    bench_dm_stop(&dm);
    mockhv_destroy(hv);
    return 0;
}
