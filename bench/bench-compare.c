/*
 * Interleaved round trips (see bench-compare.h). The machines are shared
 * and noisy; a figure that drifts with the load of the moment drifts for
 * every variant alike when their samples alternate, so the ratios hold
 * even when the absolute numbers do not. The starting variant rotates
 * each round so none always runs right after the same neighbour.
 *
 * Ports: ioreqd's UART at COM1 (LSR 0x3fd); null servers at COM2 0x2f8
 * (no registry), COM4 0x2e8 (registry of 1 range), COM3 0x3e8 (registry
 * of N ranges); reads of offset 5 of each, so the mock's routing does the
 * same work for all of them.
 */
#include "bench-compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-floor.h"
#include "bench-ioreq.h"

#define CMP_DOMID 13

enum cmp_variant { CMP_FLOOR, CMP_NULL, CMP_NULL_R1, CMP_NULL_RN, CMP_IOREQD, CMP_COUNT };

static const char *const cmp_names[CMP_COUNT] = {
    [CMP_FLOOR] = "floor",     [CMP_NULL] = "null",     [CMP_NULL_R1] = "null_r1",
    [CMP_NULL_RN] = "null_rN", [CMP_IOREQD] = "ioreqd",
};

static const uint16_t cmp_port[CMP_COUNT] = {
    [CMP_NULL] = 0x2f8 + 5,
    [CMP_NULL_R1] = 0x2e8 + 5,
    [CMP_NULL_RN] = 0x3e8 + 5,
    [CMP_IOREQD] = 0x3f8 + 5,
};

int bench_compare(const struct bench_compare_opts *o)
{
    struct mockhv_config cfg = {
        .domid = CMP_DOMID, .nr_vcpus = MOCKHV_MAX_VCPUS, .mem_bytes = 64 << 20, .xenstore = true};
    char nranges[16];
    const char *null_args[3][8] = {
        {"--base", "0x2f8", NULL},
        {"--base", "0x2e8", "--ranges", "1", NULL},
        {"--base", "0x3e8", "--ranges", nranges, NULL},
    };
    struct dmproc dms[4] = {{0}};
    struct bench_samples s[CMP_COUNT];
    struct bench_floor *floor;
    struct mockhv *hv;
    unsigned long warmup = o->count / 20 + 100;
    int rc;

    snprintf(nranges, sizeof(nranges), "%u", o->ranges);
    if ((rc = mockhv_create(&hv, &cfg)))
        bench_die("mockhv_create: %s", strerror(-rc));
    for (unsigned i = 0; i < 3; i++) {
        struct bench_dm dm = {.program = o->null_program,
                              .shim_libdir = o->ioreqd.shim_libdir,
                              .extra = null_args[i],
                              .log_path = o->null_log};
        if ((rc = bench_dm_start(&dms[i], hv, &dm, NULL)))
            bench_die("null server %u: %s", i, strerror(-rc));
    }
    if ((rc = bench_dm_start(&dms[3], hv, &o->ioreqd, NULL)))
        bench_die("ioreqd: %s", strerror(-rc));
    floor = bench_floor_new();

    for (unsigned v = 0; v < CMP_COUNT; v++)
        if (bench_samples_init(&s[v], o->count))
            bench_die("out of memory");
    for (unsigned long i = 0; i < o->count + warmup; i++) {
        for (unsigned k = 0; k < CMP_COUNT; k++) {
            unsigned v = (unsigned)((i + k) % CMP_COUNT);
            uint64_t ns;
            uint32_t val;

            if (v == CMP_FLOOR) {
                ns = bench_floor_once(floor);
            } else {
                uint64_t t0 = bench_now_ns();
                rc = mockhv_pio_in(hv, 0, cmp_port[v], 1, &val, BENCH_TIMEOUT_MS);
                ns = bench_now_ns() - t0;
                if (rc)
                    bench_die("%s: PIO read: %s", cmp_names[v], strerror(-rc));
            }
            if (i >= warmup)
                bench_samples_add(&s[v], ns);
        }
    }
    for (unsigned v = 0; v < CMP_COUNT; v++) {
        const char *name = v == CMP_NULL_RN ? NULL : cmp_names[v];
        char label[32];

        if (!name) {
            snprintf(label, sizeof(label), "null_r%u", o->ranges);
            name = label;
        }
        bench_resultf((double)bench_samples_quantile(&s[v], 0.5), "cmp.%s.median_ns", name);
        bench_resultf((double)bench_samples_quantile(&s[v], 0.99), "cmp.%s.p99_ns", name);
        bench_resultf((double)s[v].n, "cmp.%s.count", name);
        bench_samples_fini(&s[v]);
    }

    /* Throughput and buffered: null and ioreqd alternate, 4 rounds each. */
    static const enum cmp_variant pair[2] = {CMP_NULL, CMP_IOREQD};
    for (unsigned k = 0; o->vcpu_counts && o->vcpu_counts[k]; k++) {
        double sum[2] = {0, 0};
        for (unsigned r = 0; r < 4; r++)
            for (unsigned j = 0; j < 2; j++) {
                unsigned v = (r + j) % 2;
                sum[v] += bench_tp_slice(hv, cmp_port[pair[v]], o->vcpu_counts[k], o->tp_ms / 4,
                                         dms[3].pid, NULL);
            }
        for (unsigned v = 0; v < 2; v++)
            bench_resultf(sum[v] / 4, "cmp.tp.%s.v%u.per_s", cmp_names[pair[v]], o->vcpu_counts[k]);
    }
    if (o->buffered) {
        double sum[2][2] = {{0, 0}, {0, 0}};
        uint64_t fb[2] = {0, 0};
        for (unsigned r = 0; r < 4; r++)
            for (unsigned j = 0; j < 2; j++) {
                unsigned v = (r + j) % 2;
                uint64_t f = 0;
                /* offset 7 of the eight ports: the UART's scratch register */
                uint16_t port = (uint16_t)(cmp_port[pair[v]] + 2);

                sum[v][0] += bench_buf_slice(hv, port, o->buffered / 4, false, &f);
                sum[v][1] += bench_buf_slice(hv, port, o->buffered / 4, true, NULL);
                fb[v] += f;
            }
        for (unsigned v = 0; v < 2; v++) {
            bench_resultf(sum[v][0] / 4, "cmp.buf.%s.per_s", cmp_names[pair[v]]);
            bench_resultf((double)fb[v], "cmp.buf.%s.sync_fallbacks", cmp_names[pair[v]]);
            bench_resultf(sum[v][1] / 4, "cmp.buf.%s.wait.per_s", cmp_names[pair[v]]);
        }
    }

    bench_floor_free(floor);
    for (unsigned i = 0; i < 4; i++)
        bench_dm_stop(&dms[i]);
    mockhv_destroy(hv);
    return 0;
}
