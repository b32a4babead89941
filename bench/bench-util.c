/*
 * Shared benchmark helpers (see bench-util.h).
 */
#include "bench-util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int bench_samples_init(struct bench_samples *s, size_t cap)
{
    s->n = 0;
    s->cap = cap ? cap : 1;
    s->v = malloc(s->cap * sizeof(*s->v));
    return s->v ? 0 : -ENOMEM;
}

void bench_samples_add(struct bench_samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        uint64_t *v = realloc(s->v, 2 * s->cap * sizeof(*v));
        if (!v)
            return; /* keep what fits: a figure from fewer samples beats none */
        s->v = v;
        s->cap *= 2;
    }
    s->v[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

uint64_t bench_samples_quantile(struct bench_samples *s, double q)
{
    size_t i;

    if (!s->n)
        return 0;
    qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
    i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return s->v[i < s->n ? i : s->n - 1];
}

void bench_samples_fini(struct bench_samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void bench_result(const char *key, double value)
{
    printf("RESULT %s %.6g\n", key, value);
    fflush(stdout);
}

void bench_resultf(double value, const char *fmt, ...)
{
    char key[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(key, sizeof(key), fmt, ap);
    va_end(ap);
    bench_result(key, value);
}

long bench_rss_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, field, flen) && line[flen] == ':') {
            kib = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

uint64_t bench_cpu_ns(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long run_ns;
    FILE *s;

    /* The main thread's time on a CPU in ns (the serving thread of both
     * ioreqd and QEMU); clock ticks of the whole process otherwise. */
    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    s = fopen(path, "r");
    if (s) {
        int n = fscanf(s, "%llu", &run_ns);
        fclose(s);
        if (n == 1)
            return run_ns;
    }
    unsigned long long utime = 0, stime = 0;
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
    fclose(f);
    /* After "(comm)": state, then 10 fields, then utime and stime (proc(5)). */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                     &stime) != 2)
        return 0;
    return (utime + stime) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

int bench_dm_start(struct dmproc *p, struct mockhv *hv, const struct bench_dm *dm,
                   uint64_t *startup_ns)
{
    char domid[16], smp[16], mem[16], state_path[96];
    const char *args[80];
    const char *program = dm->prefix ? dm->prefix : dm->program;
    unsigned n = 0;
    uint64_t t0;
    int rc;

    snprintf(domid, sizeof(domid), "%u", mockhv_domid(hv));
    snprintf(state_path, sizeof(state_path), "/local/domain/0/device-model/%u/state",
             mockhv_domid(hv));
    for (unsigned i = 0; dm->prefix && dm->prefix_args && dm->prefix_args[i] && n < 40; i++)
        args[n++] = dm->prefix_args[i];
    if (dm->prefix)
        args[n++] = dm->program;
    if (dm->qemu) {
        snprintf(smp, sizeof(smp), "%u", mockhv_nr_vcpus(hv));
        snprintf(mem, sizeof(mem), "%u", dm->mem_mib);
        static const char *const qemu_args[] = {"-machine", "xenfv", "-nographic",
                                                "-display", "none",  "-nodefaults",
                                                "-monitor", "none",  NULL};
        args[n++] = "-xen-domid";
        args[n++] = domid;
        args[n++] = "-smp";
        args[n++] = smp;
        args[n++] = "-m";
        args[n++] = mem;
        for (unsigned i = 0; qemu_args[i]; i++)
            args[n++] = qemu_args[i];
    } else {
        args[n++] = "--domid";
        args[n++] = domid;
    }
    for (unsigned i = 0; dm->extra && dm->extra[i] && n < 78; i++)
        args[n++] = dm->extra[i];
    args[n] = NULL;

    /* A previous device model may have left "running" behind (the null
     * server does): start from a state nobody is ready in. */
    rc = mockhv_xenstore_write(hv, state_path, "starting");
    if (rc)
        return rc;
    t0 = bench_now_ns();
    rc = dmproc_start(p, hv,
                      &(struct dmproc_config){
                          .program = program,
                          .shim_libdir = dm->shim_libdir,
                          .args = args,
                          .log_path = dm->log_path,
                      });
    if (rc)
        return rc;
    for (;;) {
        char *v = NULL;

        if (mockhv_xenstore_read(hv, state_path, &v) == 0) {
            bool running = !strcmp(v, "running");
            free(v);
            if (running)
                break;
        }
        if (bench_now_ns() - t0 > (uint64_t)BENCH_TIMEOUT_MS * 1000000ull * 3)
            return -ETIMEDOUT;
        if (dmproc_wait_exit(p, 0) == 0)
            return -ECHILD;
        struct timespec ts = {.tv_nsec = 200000};
        nanosleep(&ts, NULL);
    }
    if (startup_ns)
        *startup_ns = bench_now_ns() - t0;
    return 0;
}

void bench_dm_stop(struct dmproc *p)
{
    if (p->pid > 0 && dmproc_stop(p, SIGTERM, 10000))
        fprintf(stderr, "bench: device model did not stop on SIGTERM, killed\n");
    dmproc_fini(p);
}
