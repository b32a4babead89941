/* virtio-net through ioreqd and the guest driver (bench-vnet.c). */
#ifndef BENCH_VNET_H
#define BENCH_VNET_H

#include "bench-util.h"
#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-net.h"

struct bench_vnet_opts {
    struct bench_dm dm; /* ioreqd; the virtio-net device is added here */
    const char *dir;    /* where the peer's socket is made */
    unsigned run_ms;    /* per stream figure */
    unsigned rtt_count; /* round trips */
    bool qemu;          /* dm.program is QEMU: its own arguments, not ioreqd's */
    const char *label;  /* results are vnet[_tap].<label>.*; NULL: "ioreqd" or "qemu" */
    const char *only;   /* comma-separated figures to run (rtt,tx64,...); NULL: all */
};

/* Whether figure `name` is one of o->only's (all when it is NULL). */
bool bench_vnet_chosen(const struct bench_vnet_opts *o, const char *name);
/* The results' label: o->label, or which device model runs. */
const char *bench_vnet_label(const struct bench_vnet_opts *o);

int bench_vnet(const struct bench_vnet_opts *o);

/* A mock domain (2 vCPUs, 128 MiB) with the device model under test on it and
 * the guest's virtio-net driver brought up on its card; both benches use it. */
struct bench_vnet_guest {
    struct mockhv *hv;
    struct dmproc dm;
    struct gpci_bus bus;
    struct garena arena;
    struct gvnet net;
};

/*
 * Starts it for domid: QEMU with `-netdev <qemu_netdev>` and a modern-only
 * virtio-net-pci at 00:04.0, or ioreqd with a host bridge and
 * `--device virtio-net,<ioreqd_backend>`. Dies (bench_die, prefixed with
 * `what`) on any failure. g must stay at one address while it runs.
 */
void bench_vnet_guest_start(struct bench_vnet_guest *g, const struct bench_vnet_opts *o,
                            uint16_t domid, const char *qemu_netdev, const char *ioreqd_backend,
                            const char *what);
void bench_vnet_guest_stop(struct bench_vnet_guest *g);
/* The same on a tap in a network namespace of the bench's own (root), the kernel as the peer. */
int bench_vnet_tap(const struct bench_vnet_opts *o);

#endif
