/*
 * sched_op and event_channel_op, as common/sched/core.c and
 * common/event_channel.c answer an HVM domU.
 *
 * SCHEDOP_poll (do_poll): at most 128 ports, the list must be readable, a
 * port beyond the domain's allocated buckets is -EINVAL; it returns at once
 * when one of the ports is pending in the shared info page, else sleeps
 * until one becomes pending, the absolute system-time timeout passes
 * (0: none), or hv_hypercalls_interrupt_waits. SCHEDOP_block enables event
 * delivery and sleeps until an event is pending for the vCPU; interrupts
 * of the emulated chipset do not reach this layer, so a block without an
 * event also ends after HC_BLOCK_SLICE_NS for the vCPU to look at them (a
 * spurious wake-up, which every guest's idle loop tolerates).
 * SCHEDOP_shutdown records the first reason (domain_shutdown) and calls
 * the shutdown callback.
 *
 * EVTCHNOP_send: the xenstore port wakes the ring relay; an ioreq server's
 * port notifies the device model; an unbound port drops the event; a free
 * or invalid port is -EINVAL (evtchn_send).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "hc-internal.h"

#include <xen/event_channel.h>
#include <xen/sched.h>

#include "log.h"

#define POLL_MAX_PORTS 128

/* compat struct sched_poll: handle, nr_ports, then the u64 at offset 8 */
struct hc_poll {
    uint32_t ports;
    uint32_t nr_ports;
    uint64_t timeout;
} __attribute__((packed));
_Static_assert(sizeof(struct hc_poll) == 16, "compat sched_poll");

/* Ports the domain has buckets for: port_is_valid(). */
static uint32_t valid_ports(struct hv_hypercalls *h)
{
    uint32_t nr;

    pthread_mutex_lock(&h->hv->lock);
    nr = h->hv->guest_ports.nr;
    pthread_mutex_unlock(&h->hv->lock);
    nr = (nr + HC_PORT_BUCKET - 1) / HC_PORT_BUCKET * HC_PORT_BUCKET;
    return nr ? nr : HC_PORT_BUCKET;
}

/* false: the deadline is beyond what a clock can say, i.e. never */
static bool deadline_of(const struct hv_hypercalls *h, uint64_t system_ns, struct timespec *ts)
{
    uint64_t abs;

    if (system_ns > UINT64_MAX - h->mono0_ns)
        return false;
    abs = h->mono0_ns + system_ns;
    ts->tv_sec = (time_t)(abs / 1000000000ull);
    ts->tv_nsec = (long)(abs % 1000000000ull);
    return true;
}

static long poll(struct hv_hypercalls *h, unsigned vcpu, uint32_t arg)
{
    struct hc_poll p;
    uint32_t ports[POLL_MAX_PORTS], valid;
    struct timespec deadline;
    bool waited = false, timed;
    long rc = hc_read(h, arg, &p, sizeof(p));

    if (rc)
        return rc;
    if (p.nr_ports > POLL_MAX_PORTS)
        return -EINVAL;
    rc = hc_read(h, p.ports, ports, (uint64_t)p.nr_ports * 4);
    if (rc)
        return rc;
    valid = valid_ports(h);
    for (uint32_t i = 0; i < p.nr_ports; i++)
        if (ports[i] >= valid)
            return -EINVAL;
    for (uint32_t i = 0; i < p.nr_ports; i++)
        if (h->xs.port && ports[i] == h->xs.port)
            hc_xs_kick(h);
    timed = p.timeout && deadline_of(h, p.timeout, &deadline);
    pthread_mutex_lock(&h->lock);
    /* a store-port notification the guest lost is given again */
    for (uint32_t i = 0; i < p.nr_ports; i++)
        hc_xs_poll_locked(h, ports[i]);
    for (uint64_t seen = h->events;; seen = h->events) {
        for (uint32_t i = 0; i < p.nr_ports; i++)
            if (hc_evtchn_pending(h, ports[i]))
                goto out;
        if (h->stopping || (p.timeout && hc_system_time(h) >= p.timeout))
            goto out;
        if (!waited) {
            hc_count(h, &h->stats.polls);
            waited = true;
        }
        while (h->events == seen) {
            int w = timed ? pthread_cond_timedwait(&h->cond, &h->lock, &deadline)
                          : pthread_cond_wait(&h->cond, &h->lock);
            if (w == ETIMEDOUT)
                goto out;
        }
        /* polling no port: any event ends it (poll_evtchn -1 in Xen) */
        if (p.nr_ports == 0)
            goto out;
    }
out:
    pthread_mutex_unlock(&h->lock);
    return 0;
}

static long block(struct hv_hypercalls *h, unsigned vcpu)
{
    struct timespec deadline;

    hc_xs_kick(h);
    pthread_mutex_lock(&h->lock);
    hc_upcall_unmask(h, vcpu);
    if (!deadline_of(h, hc_system_time(h) + HC_BLOCK_SLICE_NS, &deadline)) {
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    while (!h->stopping && !hc_upcall_pending(h, vcpu))
        if (pthread_cond_timedwait(&h->cond, &h->lock, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

static long shutdown(struct hv_hypercalls *h, unsigned vcpu, uint32_t arg, bool code_only)
{
    uint32_t reason;
    long rc = hc_read(h, arg, &reason, sizeof(reason));

    if (rc)
        return rc;
    reason &= 0xff; /* domain_shutdown takes a u8 */
    if (code_only) {
        pthread_mutex_lock(&h->lock);
        if (h->shutdown_code == 0)
            h->shutdown_code = reason + 1; /* 0: SHUTDOWN_CODE_INVALID */
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    pthread_mutex_lock(&h->lock);
    if (h->shutdown_code)
        reason = h->shutdown_code - 1;
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_lock(&h->hv->lock);
    if (h->hv->shutdown_reason < 0)
        h->hv->shutdown_reason = (int)reason;
    pthread_mutex_unlock(&h->hv->lock);
    log_info("hypercall: vcpu %u: SCHEDOP_shutdown reason %u", vcpu, reason);
    if (h->cfg.shutdown)
        h->cfg.shutdown(h->cfg.shutdown_opaque, vcpu, reason);
    hv_hypercalls_interrupt_waits(h);
    return 0;
}

long hc_sched_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a)
{
    uint32_t cmd = a[0], arg = a[1];

    switch (cmd) {
    case SCHEDOP_yield:
        sched_yield();
        return 0;
    case SCHEDOP_block:
        return block(h, vcpu);
    case SCHEDOP_shutdown:
        return shutdown(h, vcpu, arg, false);
    case SCHEDOP_shutdown_code:
        return shutdown(h, vcpu, arg, true);
    case SCHEDOP_poll:
        return poll(h, vcpu, arg);
    case SCHEDOP_remote_shutdown: {
        struct sched_remote_shutdown rs;
        long rc = hc_read(h, arg, &rs, sizeof(rs));

        if (rc)
            return rc;
        /* by id, no DOMID_SELF; only a device model may shut a domain down */
        if (rs.domain_id != 0 && rs.domain_id != h->hv->domid)
            return -ESRCH;
        hc_count(h, &h->stats.denied);
        return -EPERM;
    }
    case SCHEDOP_pin_override:
        hc_count(h, &h->stats.denied);
        return -EPERM; /* hardware domain only */
    default:
        hc_count(h, &h->stats.unknown_subop);
        return -ENOSYS;
    }
}

static long send(struct hv_hypercalls *h, uint32_t arg)
{
    struct evtchn_send s;
    struct hv_port *p;
    bool xs = false, ioreq = false, ok = true;
    long rc = hc_read(h, arg, &s, sizeof(s));

    if (rc)
        return rc;
    if (s.port >= valid_ports(h))
        return -EINVAL;
    pthread_mutex_lock(&h->hv->lock);
    p = hv_port_get(&h->hv->guest_ports, s.port);
    if (!p)
        ok = false; /* free (or port 0, reserved): -EINVAL */
    else if (h->xs.port && s.port == h->xs.port)
        xs = true;
    else if (p->state == HV_PORT_INTERDOMAIN)
        ioreq = true;
    if (ioreq)
        hv_guest_fire(h->hv, s.port);
    pthread_mutex_unlock(&h->hv->lock);
    if (!ok)
        return -EINVAL;
    if (xs)
        hc_xs_kick(h);
    /* an unbound port drops the event silently */
    return 0;
}

long hc_event_channel_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a)
{
    uint32_t cmd = a[0], arg = a[1];

    switch (cmd) {
    case EVTCHNOP_send:
        return send(h, arg);
    default:
        /* the other operations are not modelled */
        hc_count(h, &h->stats.unknown_subop);
        return -ENOSYS;
    }
}
