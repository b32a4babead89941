/*
 * The ceiling of ioreqd's buffered path with no transport and no producer
 * cost: a buffered_iopage_t in this process is filled with 1-byte PIO
 * writes as Xen lays them out, and drained by ioreq-core's own
 * bufring_drain -> request_handle -> io-range dispatch, into a device that
 * does nothing (the UART's register write is left out). One thread fills
 * and drains in turn, so this is the daemon's instruction cost per write.
 */
#include <stdlib.h>
#include <string.h>

#include "bench-consumer.h"
#include "bench-util.h"
#include "bufring.h"
#include "io-range.h"
#include "request.h"

static uint64_t nothing_read(void *opaque, const struct io_access *a)
{
    (void)opaque;
    return io_all_ones(a->size);
}

static void nothing_write(void *opaque, const struct io_access *a, uint64_t v)
{
    uint64_t *sum = opaque;

    *sum += v + a->offset;
}

static const struct io_ops nothing_ops = {
    .read = nothing_read,
    .write = nothing_write,
};

struct consumer {
    struct request_ctx rctx;
};

static void consume_one(void *opaque, ioreq_t *req)
{
    struct consumer *c = opaque;

    request_handle(&c->rctx, req, 0, NULL);
}

int bench_consumer(unsigned long writes)
{
    static _Alignas(4096) buffered_iopage_t page;
    static struct ioreq_stats stats;
    struct io_registry *reg = io_registry_new();
    uint64_t sum = 0;
    struct io_range r = {
        .space = IO_SPACE_PIO, .base = 0x3f8, .len = 8, .ops = &nothing_ops, .name = "null"};
    struct consumer c = {.rctx = {.registry = reg, .stats = &stats}};
    struct bufring_sink sink = {.handle = consume_one, .opaque = &c};
    unsigned long done = 0;
    double best = 0;

    r.opaque = &sum;
    if (!reg || io_map(reg, &r))
        bench_die("registry set-up failed");
    for (int pass = 0; pass < 5; pass++) {
        uint64_t busy = 0;

        done = 0;
        while (done < writes) {
            uint32_t wp = page.write_pointer;

            for (unsigned i = 0; i < IOREQ_BUFFER_SLOT_NUM - 1; i++, wp++) {
                buf_ioreq_t e = {.type = IOREQ_TYPE_PIO,
                                 .dir = IOREQ_WRITE,
                                 .size = 0,
                                 .addr = 0x3ff,
                                 .data = (uint32_t)(done + i) & 0xff};
                page.buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM] = e;
            }
            __atomic_store_n(&page.write_pointer, wp, __ATOMIC_RELEASE);
            uint64_t t0 = bench_now_ns();
            done += bufring_drain(&page, &sink, &stats);
            busy += bench_now_ns() - t0;
        }
        double per_s = (double)done * 1e9 / (double)busy;
        if (per_s > best)
            best = per_s;
    }
    bench_result("consumer.inproc.per_s", best);
    bench_result("consumer.inproc.ns_per_write", 1e9 / best);
    if (sum == 42)
        bench_die("unreachable");
    io_registry_free(reg);
    return 0;
}
