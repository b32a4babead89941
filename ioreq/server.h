/*
 * The ioreq server client: one per daemon, serving one domain.
 *
 * ioreq_server_create() performs the start-up sequence every working ioreq
 * server uses (see docs/DESIGN.md, "Start-up and teardown"): open the handles,
 * create the server with atomic buffered ioreqs, map its pages with
 * xenforeignmemory_map_resource, enable it, bind every vCPU's port and the
 * buffered port, and hook the event channel fd into the libevent loop.
 * From then on requests are served from the loop: PIO and COPY through the
 * io-range registry, PCI_CONFIG through the pci handler, INVALIDATE flushes
 * the map cache, TIMEOFFSET is recorded.
 */
#ifndef IOREQ_SERVER_H
#define IOREQ_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "gmem.h"
#include "io-range.h"
#include "hv-services.h"

struct event_base;
struct ioreq_server;

/* Config cycles routed to this server (IOREQ_TYPE_PCI_CONFIG). */
struct ioreq_pci_handler {
    /* reg: 0..4095; size: 1, 2 or 4. Unclaimed functions read all-ones. */
    uint32_t (*cfg_read)(void *opaque, uint32_t sbdf, unsigned reg, unsigned size);
    void (*cfg_write)(void *opaque, uint32_t sbdf, unsigned reg, unsigned size, uint32_t value);
    void *opaque;
};

/* The longest poll window (ioreqd --poll-us), in microseconds. */
#define IOREQ_POLL_US_MAX 1000u

struct ioreq_server_params {
    uint16_t domid;
    struct io_registry *registry; /* not owned */
    struct ioreq_pci_handler pci; /* may be set later with ioreq_server_set_pci_handler */
    size_t mapcache_bytes;        /* cap on mapped guest memory; 0 picks the default */
    /* Poll the slots and the buffered ring for up to this long after each
     * request before sleeping (0: off; at most IOREQ_POLL_US_MAX). */
    unsigned poll_us;
    /* Report writes into guest RAM to Xen's dirty log from the start (see
     * ioreq_server_set_dirty_log). */
    bool dirty_log;
    /* Called from the loop when the server cannot go on (hypervisor gone, evtchn EOF). */
    void (*on_fatal)(void *opaque, int err);
    void *fatal_opaque;
};

enum ioreq_stat_type {
    IOREQ_STAT_PIO,
    IOREQ_STAT_COPY,
    IOREQ_STAT_PCI_CONFIG,
    IOREQ_STAT_TIMEOFFSET,
    IOREQ_STAT_INVALIDATE,
    IOREQ_STAT_UNKNOWN,
    IOREQ_STAT_TYPES,
};

struct ioreq_vcpu_stats {
    uint64_t requests;
    uint64_t by_type[IOREQ_STAT_TYPES];
};

struct ioreq_stats {
    unsigned nr_vcpus;
    uint64_t sync_requests;
    uint64_t buffered_requests;
    uint64_t malformed; /* answered safely, not dispatched */
    uint64_t unclaimed; /* no device at that address */
    uint64_t spurious_notifications;
    uint64_t polled_requests; /* synchronous requests found by polling (--poll-us) */
    int64_t timeoffset;       /* last TIMEOFFSET, seconds */
    struct gmem_stats gmem;
};

int ioreq_server_create(struct ioreq_server **out, const struct ioreq_server_params *params,
                        struct event_base *base) must_check;
/*
 * Stops serving without leaving a vCPU waiting: disables the server (Xen
 * pauses the domain around it, so no request is half-sent afterwards and
 * new ones go elsewhere), serves what the buffered ring holds, answers
 * every request still in a slot as from no device (reads all-ones) and
 * notifies its vCPU. Xen wakes a vCPU waiting on a server only by that
 * notification: disabling or destroying the server does not. The server
 * and its ports stay, so that devices can still finish their work.
 * Idempotent; ioreq_server_destroy() does it first if not done yet.
 */
void ioreq_server_quiesce(struct ioreq_server *srv);
/* Quiesce, then unbind, unmap, destroy the server, close; ESRCH (domain gone) is not an error. */
void ioreq_server_destroy(struct ioreq_server *srv);

void ioreq_server_set_pci_handler(struct ioreq_server *srv, const struct ioreq_pci_handler *pci);
struct gmem *ioreq_server_gmem(struct ioreq_server *srv);
/*
 * Whether writes into guest RAM are reported with modified_memory. Xen logs
 * them only in log-dirty mode, which the toolstack turns on for a live
 * migration and tells the device model about (libxl sends QEMU
 * xen-set-global-dirty-log); outside it every report is a hypercall Xen
 * ignores (dm.c, modified_memory), so it is off until asked for.
 */
void ioreq_server_set_dirty_log(struct ioreq_server *srv, bool on);
bool ioreq_server_dirty_log(const struct ioreq_server *srv);
struct hv_services ioreq_server_hv(struct ioreq_server *srv);
unsigned ioreq_server_nr_vcpus(const struct ioreq_server *srv);
uint16_t ioreq_server_id(const struct ioreq_server *srv);
/* Per-vCPU stats are copied for min(nr, nr_vcpus) vCPUs. */
void ioreq_server_get_stats(const struct ioreq_server *srv, struct ioreq_stats *out,
                            struct ioreq_vcpu_stats *per_vcpu, unsigned nr);

/*
 * Destroys server `id` of domain `domid` that a previous device-model
 * process left behind (it crashed: servers belong to the domain, not to
 * the process), without stranding a vCPU: disables it, answers every
 * request in its slots as from no device, binds each such vCPU's port just
 * long enough to notify it, then destroys the server, its ranges with it.
 * 0, -ENOENT if there is no such server, or -errno.
 */
int ioreq_server_retire(uint16_t domid, uint16_t id) must_check;

/* xentoolcore_restrict_all(domid): afterwards only this domain can be touched. */
int ioreq_server_restrict(struct ioreq_server *srv) must_check;

#endif
