/*
 * What the hypercall layer counts: the guest's mistakes and hostile input
 * it answered safely, and where the mock bounds work that Xen would spread
 * over hypercall continuations. For tests and diagnostics.
 */
#ifndef SHIM_HV_HC_STATS_H
#define SHIM_HV_HC_STATS_H

#include <stdint.h>

struct hv_hypercalls;

struct hv_hypercall_stats {
    uint64_t calls;         /* every hv_hypercall */
    uint64_t unknown_op;    /* -ENOSYS for the hypercall number itself */
    uint64_t unknown_subop; /* a known hypercall with a sub-op Xen does not have, or the mock does
                               not model */
    uint64_t efault;        /* a guest pointer that was not RAM */
    uint64_t denied; /* -EPERM/-EINVAL from Xen's permission checks (params, other domains) */
    uint64_t console_lines;   /* lines handed to console_line */
    uint64_t console_cut;     /* bytes of CONSOLEIO_write beyond the per-call bound, dropped */
    uint64_t memop_cut;       /* reservation calls stopped at the per-call bound */
    uint64_t polls;           /* SCHEDOP_poll calls that waited */
    uint64_t xs_requests;     /* bytes taken from the xenstore request ring */
    uint64_t xs_replies;      /* bytes put into the xenstore response ring */
    uint64_t xs_ring_corrupt; /* ring indexes or a header out of bounds: connection reset */
    uint64_t xs_resets;       /* xenstore connections reset for any reason */
    uint64_t xs_renotify; /* store port set pending again: the guest polled with replies unread */
};

void hv_hypercalls_get_stats(struct hv_hypercalls *h, struct hv_hypercall_stats *out);

/* Tests and tools: the TSC rate the shared info describes, and the guest's
 * xenstore event channel port (0 before hv_hypercalls_boot). */
uint64_t hv_hypercalls_tsc_hz(const struct hv_hypercalls *h);
uint32_t hv_hypercalls_store_port(struct hv_hypercalls *h);

#endif
