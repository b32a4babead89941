/*
 * ioreqd-bench: the benchmark programs of bench/ behind one command line.
 * bench/run.sh runs them and turns the "RESULT key value" lines into
 * BENCHMARKS.md; see there for what each figure means.
 *
 *   ioreqd-bench floor    [--count N]
 *   ioreqd-bench compare  [--count N] [--ranges N] [--vcpus A,B,..] [--tp-ms MS]
 *                         [--buffered N] [--dm PATH] [--null PATH] [--log FILE]
 *                         [--null-log FILE] [-- IOREQD-ARGS...]
 *   ioreqd-bench ioreq    --label L [--dm PATH] [--rtt N] [--tp-ms MS] [--vcpus A,B,..]
 *                         [--buffered N] [--startups N] [--gap-us US] [--log FILE]
 *                         [--prefix PROG [--prefix-arg ARG]...] [-- DM-ARGS...]
 *   ioreqd-bench dispatch [--lookups N] [--ranges N]
 *   ioreqd-bench consumer [--count N]
 *   ioreqd-bench vblk     --file F [--size-mib N] [--run-ms MS] [--dm PATH] [--log FILE]
 *                         [--disk-opts OPTS] [--label L] [--patterns P,..] [-- DM-ARGS...]
 *     OPTS are appended to the virtio-blk spec (cache=none,aio=threads, ...);
 *     with --label, results are named vblk.L.<pattern>.*
 *   --qemu (ioreq, vblk): the device model (--dm) is Debian's QEMU Xen device
 *     model, started with QEMU's options; DM-ARGS are QEMU's (-serial null);
 *     for vblk, OPTS are QEMU's -drive options (cache=writeback,aio=threads).
 *   ioreqd-bench vnet     [--tap] [--file DIR] [--run-ms MS] [--rtt N] [--dm PATH]
 *                         [--label L] [--patterns P,..] [--log FILE] [-- DM-ARGS...]
 *     results are vnet[_tap].L.* (L: ioreqd or qemu by default); --patterns
 *     picks figures among rtt, tx64, tx1500, tso (tap only), rx64, rx1500
 *     virtio-net on its socket backend; the peer's socket is made in DIR (/tmp);
 *     with --dm naming a QEMU, QEMU's virtio-net-pci on -netdev dgram instead;
 *     --tap: on a tap in a namespace of its own instead (root), the kernel as the peer
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-compare.h"
#include "bench-consumer.h"
#include "bench-dispatch.h"
#include "bench-floor.h"
#include "bench-ioreq.h"
#include "bench-util.h"
#include "bench-vblk.h"
#include "bench-vnet.h"

#define MAX_VCPU_COUNTS 16
#define MAX_PREFIX_ARGS 16

enum {
    OPT_COUNT = 256,
    OPT_DM,
    OPT_LABEL,
    OPT_RTT,
    OPT_TP_MS,
    OPT_VCPUS,
    OPT_BUFFERED,
    OPT_STARTUPS,
    OPT_LOG,
    OPT_PREFIX,
    OPT_PREFIX_ARG,
    OPT_LOOKUPS,
    OPT_RANGES,
    OPT_FILE,
    OPT_SIZE_MIB,
    OPT_RUN_MS,
    OPT_SHIM,
    OPT_NULL,
    OPT_NULL_LOG,
    OPT_DISK_OPTS,
    OPT_QEMU,
    OPT_PATTERNS,
    OPT_GAP_US,
    OPT_TAP,
};

static const struct option long_opts[] = {
    {"count", required_argument, NULL, OPT_COUNT},
    {"dm", required_argument, NULL, OPT_DM},
    {"label", required_argument, NULL, OPT_LABEL},
    {"rtt", required_argument, NULL, OPT_RTT},
    {"tp-ms", required_argument, NULL, OPT_TP_MS},
    {"vcpus", required_argument, NULL, OPT_VCPUS},
    {"buffered", required_argument, NULL, OPT_BUFFERED},
    {"startups", required_argument, NULL, OPT_STARTUPS},
    {"log", required_argument, NULL, OPT_LOG},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"prefix-arg", required_argument, NULL, OPT_PREFIX_ARG},
    {"lookups", required_argument, NULL, OPT_LOOKUPS},
    {"ranges", required_argument, NULL, OPT_RANGES},
    {"file", required_argument, NULL, OPT_FILE},
    {"size-mib", required_argument, NULL, OPT_SIZE_MIB},
    {"run-ms", required_argument, NULL, OPT_RUN_MS},
    {"shim-libdir", required_argument, NULL, OPT_SHIM},
    {"null", required_argument, NULL, OPT_NULL},
    {"null-log", required_argument, NULL, OPT_NULL_LOG},
    {"disk-opts", required_argument, NULL, OPT_DISK_OPTS},
    {"qemu", no_argument, NULL, OPT_QEMU},
    {"patterns", required_argument, NULL, OPT_PATTERNS},
    {"gap-us", required_argument, NULL, OPT_GAP_US},
    {"tap", no_argument, NULL, OPT_TAP},
    {0},
};

static void usage(FILE *out)
{
    fputs("Usage: ioreqd-bench floor|ioreq|dispatch|vblk|vnet [options] [-- DM-ARGS...]\n"
          "See the comment at the top of bench/bench-main.c and BENCHMARKS.md.\n",
          out);
}

static unsigned long num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);

    if (!*s || *end)
        bench_die("not a number: '%s'", s);
    return v;
}

static void parse_vcpus(const char *s, unsigned *out)
{
    char *copy = strdup(s), *save = NULL;
    unsigned n = 0;

    if (!copy)
        bench_die("out of memory");
    if (!strcmp(s, "none")) {
        out[0] = 0;
        free(copy);
        return;
    }
    for (char *t = strtok_r(copy, ",", &save); t && n + 1 < MAX_VCPU_COUNTS;
         t = strtok_r(NULL, ",", &save)) {
        unsigned long v = num(t);
        if (v == 0 || v > MOCKHV_MAX_VCPUS)
            bench_die("vCPU count %lu out of 1..%d", v, MOCKHV_MAX_VCPUS);
        out[n++] = (unsigned)v;
    }
    out[n] = 0;
    free(copy);
}

int main(int argc, char **argv)
{
    static unsigned vcpu_counts[MAX_VCPU_COUNTS] = {1, 2, 8, 32, 128, 0};
    static const char *prefix_args[MAX_PREFIX_ARGS + 1];
    unsigned nprefix = 0;
    const char *cmd;
    const char *shim = getenv("IOREQD_SHIM_LIBDIR");
    struct bench_dm dm = {.program = BENCH_IOREQD_PATH};
    struct bench_ioreq_opts io = {.label = "ioreqd",
                                  .rtt_count = 100000,
                                  .throughput_ms = 2000,
                                  .buffered = 2000000,
                                  .startups = 4};
    struct bench_vblk_opts vb = {.size_mib = 256, .run_ms = 3000};
    struct bench_vnet_opts vn = {.dir = "/tmp", .run_ms = 2000, .rtt_count = 20000};
    struct bench_compare_opts cmp = {.null_program = BENCH_NULL_PATH};
    unsigned long count = 100000, lookups = 2000000, ranges = 1000;
    bool vn_tap = false;
    int c;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_COUNT:
            count = num(optarg);
            break;
        case OPT_DM:
            dm.program = optarg;
            break;
        case OPT_LABEL:
            io.label = optarg;
            vb.label = optarg;
            vn.label = optarg;
            break;
        case OPT_TAP:
            vn_tap = true;
            break;
        case OPT_DISK_OPTS:
            vb.disk_opts = optarg;
            break;
        case OPT_RTT:
            io.rtt_count = num(optarg);
            vn.rtt_count = (unsigned)io.rtt_count;
            break;
        case OPT_TP_MS:
            io.throughput_ms = (unsigned)num(optarg);
            break;
        case OPT_VCPUS:
            parse_vcpus(optarg, vcpu_counts);
            break;
        case OPT_BUFFERED:
            io.buffered = num(optarg);
            break;
        case OPT_STARTUPS:
            io.startups = (unsigned)num(optarg);
            break;
        case OPT_LOG:
            dm.log_path = optarg;
            break;
        case OPT_PREFIX:
            dm.prefix = optarg;
            break;
        case OPT_PREFIX_ARG:
            if (nprefix < MAX_PREFIX_ARGS)
                prefix_args[nprefix++] = optarg;
            break;
        case OPT_LOOKUPS:
            lookups = num(optarg);
            break;
        case OPT_RANGES:
            ranges = num(optarg);
            break;
        case OPT_FILE:
            vb.file = optarg;
            vn.dir = optarg;
            break;
        case OPT_SIZE_MIB:
            vb.size_mib = (unsigned)num(optarg);
            break;
        case OPT_RUN_MS:
            vb.run_ms = (unsigned)num(optarg);
            vn.run_ms = vb.run_ms;
            break;
        case OPT_NULL:
            cmp.null_program = optarg;
            break;
        case OPT_NULL_LOG:
            cmp.null_log = optarg;
            break;
        case OPT_GAP_US:
            io.gap_us = (unsigned)num(optarg);
            if (io.gap_us >= 1000000)
                bench_die("--gap-us must be below 1000000");
            break;
        case OPT_PATTERNS:
            vb.only = optarg;
            vn.only = optarg;
            break;
        case OPT_QEMU:
            dm.qemu = true;
            break;
        case OPT_SHIM:
            shim = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    dm.shim_libdir = shim ? shim : BENCH_SHIM_LIBDIR;
    dm.prefix_args = prefix_args;
    dm.extra = (const char *const *)&argv[optind];

    if (!strcmp(cmd, "floor"))
        return bench_floor(count, count / 20 + 100);
    if (!strcmp(cmd, "compare")) {
        cmp.ioreqd = dm;
        cmp.count = count;
        cmp.ranges = ranges < 1 ? 1 : (unsigned)ranges;
        cmp.vcpu_counts = vcpu_counts;
        cmp.tp_ms = io.throughput_ms;
        cmp.buffered = io.buffered;
        return bench_compare(&cmp);
    }
    if (!strcmp(cmd, "consumer"))
        return bench_consumer(count * 20);
    if (!strcmp(cmd, "dispatch"))
        return bench_dispatch(lookups, ranges < 1 ? 1 : (unsigned)ranges);
    if (!strcmp(cmd, "ioreq")) {
        io.dm = dm;
        io.vcpu_counts = vcpu_counts;
        return bench_ioreq(&io);
    }
    if (!strcmp(cmd, "vblk")) {
        if (!vb.file)
            bench_die("vblk needs --file");
        vb.dm = dm;
        return bench_vblk(&vb);
    }
    if (!strcmp(cmd, "vnet")) {
        vn.dm = dm;
        vn.qemu = strstr(dm.program, "qemu") != NULL;
        if (vn_tap)
            return bench_vnet_tap(&vn);
        return bench_vnet(&vn);
    }
    usage(stderr);
    return 2;
}
