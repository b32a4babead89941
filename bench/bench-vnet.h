/* virtio-net through ioreqd and the guest driver (bench-vnet.c). */
#ifndef BENCH_VNET_H
#define BENCH_VNET_H

#include "bench-util.h"

struct bench_vnet_opts {
    struct bench_dm dm; /* ioreqd; the virtio-net device is added here */
    const char *dir;    /* where the peer's socket is made */
    unsigned run_ms;    /* per stream figure */
    unsigned rtt_count; /* round trips */
    bool qemu;          /* dm.program is QEMU: its own arguments, not ioreqd's */
};

int bench_vnet(const struct bench_vnet_opts *o);
/* The same on a tap in a network namespace of the bench's own (root), the kernel as the peer. */
int bench_vnet_tap(const struct bench_vnet_opts *o);

#endif
