/*
 * One synchronous request from a vCPU, as Xen's ioreq_send and
 * wait-for-io do it: the request goes into the vCPU's slot of the chosen
 * server with state READY after a release barrier, the vCPU's port fires,
 * and the vCPU sleeps until the device model notifies that port. Then the
 * state is judged as Xen judges it: IORESP_READY completes (data taken,
 * state back to NONE), READY/INPROCESS keep waiting, NONE means the emulator
 * vanished (all-ones), anything going backwards or unknown crashes the domain.
 * Only a notification wakes the vCPU: a device model that forgets to notify
 * hangs a real guest, so here it times out. The vCPU sleeps on a futex
 * counter: its port's notify word in the device model's event page
 * (hv-evpage.c), which the library bumps directly, or its own word, which
 * notifications arriving as messages bump; mockhv.lock is dropped meanwhile.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "hv-internal.h"

_Static_assert(sizeof(ioreq_t) == 32, "ioreq_t layout");
_Static_assert(offsetof(ioreq_t, _pad0) == 28, "ioreq_t layout");
_Static_assert(offsetof(ioreq_t, type) == 31, "ioreq_t layout");

/* byte 30 holds state:4 in its low bits, then data_is_ptr, dir, df */
#define SLOT_FLAGS_BYTE 30

static uint8_t slot_state(ioreq_t *slot)
{
    return __atomic_load_n((uint8_t *)slot + SLOT_FLAGS_BYTE, __ATOMIC_ACQUIRE) & 0xf;
}

static void slot_set_state(ioreq_t *slot, uint8_t state)
{
    uint8_t *b = (uint8_t *)slot + SLOT_FLAGS_BYTE;

    __atomic_store_n(b, (uint8_t)((*b & 0xf0) | state), __ATOMIC_RELEASE);
}

static uint64_t size_mask(uint32_t size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* NULL (no deadline) for HV_TIMEOUT_NONE: an emulated vCPU waits as long as
 * a real one, until the answer or until the mock stops. */
static const struct timespec *deadline_after(struct timespec *ts, int timeout_ms)
{
    if (timeout_ms == HV_TIMEOUT_NONE)
        return NULL;
    if (timeout_ms <= 0)
        timeout_ms = MOCKHV_DEFAULT_TIMEOUT_MS;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
    return ts;
}

static void crash(struct mockhv *hv)
{
    hv->crashed = true;
}

/* Unclaimed: reads are all-ones (also into guest RAM for rep reads). */
static void complete_unclaimed(struct mockhv *hv, ioreq_t *p)
{
    if (p->dir == IOREQ_READ) {
        hv->stats.unclaimed_reads++;
        if (p->data_is_ptr) {
            uint64_t len = (uint64_t)p->size * p->count;
            uint64_t start = p->df ? p->data - len + p->size : p->data;
            hv_ram_access(hv, start, NULL, len, HV_RAM_FILL_ONES);
        } else {
            p->data = size_mask(p->size);
        }
    } else {
        hv->stats.unclaimed_writes++;
    }
}

/* The word a request to vcpu's port of s will be notified on: the device
 * model's event page entry for the dom0 end, if it has one (referenced). */
static void pick_wait_word(struct mockhv *hv, struct hv_vcpu *vc, struct hv_server *s,
                           unsigned vcpu)
{
    struct hv_port *gp = hv_port_get(&hv->guest_ports, s->vcpu_port[vcpu]), *dp = NULL;

    vc->wait_word = &vc->word;
    vc->wait_evp = NULL;
    if (gp && gp->state == HV_PORT_INTERDOMAIN && !gp->peer_is_guest)
        dp = hv_port_get(&hv->dom0_ports, gp->peer);
    if (dp && dp->conn && dp->conn->evp) {
        vc->wait_evp = dp->conn->evp;
        hv_evpage_get(vc->wait_evp);
        vc->wait_word = &vc->wait_evp->port[gp->peer].notify;
    }
}

/* Sleeps until *word moves on from `seen` or the deadline, mockhv.lock dropped meanwhile. */
static bool sleep_locked(struct mockhv *hv, uint32_t *word, uint32_t seen,
                         const struct timespec *deadline)
{
    int rc = 0;

    pthread_mutex_unlock(&hv->lock);
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == seen) {
        rc = hv_futex_wait(word, seen, deadline);
        if (rc == -ETIMEDOUT)
            break;
    }
    pthread_mutex_lock(&hv->lock);
    return rc != -ETIMEDOUT;
}

static int wait_locked(struct mockhv *hv, unsigned vcpu, struct hv_server *s, ioreq_t *p,
                       uint32_t seen, int timeout_ms)
{
    struct hv_vcpu *vc = &hv->vcpus[vcpu];
    ioreq_t *slot = &s->slots->vcpu_ioreq[vcpu];
    uint8_t prev = STATE_IOREQ_NONE;
    struct timespec ts;
    const struct timespec *deadline = deadline_after(&ts, timeout_ms);

    for (;;) {
        uint32_t now = __atomic_load_n(vc->wait_word, __ATOMIC_ACQUIRE);

        if (hv->stopping || hv->gone)
            return -ESHUTDOWN;
        if (vc->aborted) {
            if (p->dir == IOREQ_READ && !p->data_is_ptr)
                p->data = size_mask(p->size);
            return 0;
        }
        if (now != seen) {
            /* notified (at least once since we last looked): judge the slot */
            uint8_t state = slot_state(slot);

            seen = now;
            if (state == STATE_IOREQ_NONE) {
                if (p->dir == IOREQ_READ && !p->data_is_ptr)
                    p->data = size_mask(p->size);
                return 0;
            }
            if (state < prev || state > STATE_IORESP_READY) {
                crash(hv);
                return -EIO;
            }
            prev = state;
            if (state == STATE_IORESP_READY) {
                if (p->dir == IOREQ_READ && !p->data_is_ptr)
                    p->data = __atomic_load_n(&slot->data, __ATOMIC_ACQUIRE) & size_mask(p->size);
                slot_set_state(slot, STATE_IOREQ_NONE);
                hv->stats.requests++;
                return 0;
            }
        }
        if (!sleep_locked(hv, vc->wait_word, seen, deadline) &&
            __atomic_load_n(vc->wait_word, __ATOMIC_ACQUIRE) == seen && !vc->aborted &&
            !hv->stopping && !hv->gone) {
            vc->stuck = s->id;
            hv->stats.timeouts++;
            return -ETIMEDOUT;
        }
    }
}

static int send_to_locked(struct mockhv *hv, unsigned vcpu, struct hv_server *s, ioreq_t *p,
                          int timeout_ms)
{
    struct hv_vcpu *vc = &hv->vcpus[vcpu];
    ioreq_t *slot = &s->slots->vcpu_ioreq[vcpu];
    ioreq_t q = *p;
    uint32_t seen;
    int rc;

    if (slot_state(slot) != STATE_IOREQ_NONE) {
        /* Xen: "device model set bad IO state" */
        crash(hv);
        return -EIO;
    }
    q.vp_eport = slot->vp_eport;
    q.state = STATE_IOREQ_NONE;
    memcpy(slot, &q, sizeof(q));
    pick_wait_word(hv, vc, s, vcpu);
    /* only notifications from here on count */
    seen = __atomic_load_n(vc->wait_word, __ATOMIC_ACQUIRE);
    slot_set_state(slot, STATE_IOREQ_READY);
    vc->inflight = s->id;
    vc->aborted = false;
    s->requests_sent++;
    hv_guest_fire(hv, s->vcpu_port[vcpu]);
    rc = wait_locked(hv, vcpu, s, p, seen, timeout_ms);
    vc->inflight = -1;
    vc->aborted = false;
    vc->wait_word = &vc->word;
    hv_evpage_put(vc->wait_evp);
    vc->wait_evp = NULL;
    return rc;
}

/* A vCPU that timed out stays busy until its slot is answered. */
static int vcpu_ready_locked(struct mockhv *hv, unsigned vcpu)
{
    struct hv_vcpu *vc = &hv->vcpus[vcpu];
    struct hv_server *s;
    int rc;

    rc = hv_guest_down(hv);
    if (rc)
        return rc;
    if (vc->stuck < 0)
        return 0;
    s = hv_server_get(hv, (unsigned)vc->stuck);
    if (s && slot_state(&s->slots->vcpu_ioreq[vcpu]) != STATE_IORESP_READY)
        return -EBUSY;
    if (s)
        slot_set_state(&s->slots->vcpu_ioreq[vcpu], STATE_IOREQ_NONE);
    vc->stuck = -1;
    return 0;
}

static int lock_vcpu(struct mockhv *hv, unsigned vcpu)
{
    int rc;

    if (vcpu >= hv->nr_vcpus)
        return -EINVAL;
    pthread_mutex_lock(&hv->vcpus[vcpu].use);
    pthread_mutex_lock(&hv->lock);
    rc = vcpu_ready_locked(hv, vcpu);
    if (rc) {
        pthread_mutex_unlock(&hv->lock);
        pthread_mutex_unlock(&hv->vcpus[vcpu].use);
    }
    return rc;
}

static void unlock_vcpu(struct mockhv *hv, unsigned vcpu)
{
    pthread_mutex_unlock(&hv->lock);
    pthread_mutex_unlock(&hv->vcpus[vcpu].use);
}

int hv_guest_send(struct mockhv *hv, unsigned vcpu, ioreq_t *p, int timeout_ms)
{
    return hv_guest_send_claimed(hv, vcpu, p, timeout_ms, NULL);
}

int hv_guest_send_claimed(struct mockhv *hv, unsigned vcpu, ioreq_t *p, int timeout_ms,
                          bool *claimed)
{
    struct hv_server *s;
    int rc = lock_vcpu(hv, vcpu);

    if (rc)
        return rc;
    if (p->type == IOREQ_TYPE_PIO && p->dir == IOREQ_WRITE)
        hv_pci_latch_write(hv, (uint16_t)p->addr, p->size, (uint32_t)p->data);
    s = hv_route_select(hv, p);
    if (claimed)
        *claimed = s != NULL;
    if (s)
        rc = send_to_locked(hv, vcpu, s, p, timeout_ms);
    else
        complete_unclaimed(hv, p);
    unlock_vcpu(hv, vcpu);
    return rc;
}

int mockhv_invalidate(struct mockhv *hv, unsigned vcpu, int timeout_ms)
{
    int rc = lock_vcpu(hv, vcpu);

    if (timeout_ms == HV_TIMEOUT_NONE) /* no infinite wait through the public API */
        timeout_ms = 0;
    if (rc)
        return rc;
    for (int id = HV_MAX_SERVERS - 1; id >= 0 && !rc; id--) {
        struct hv_server *s = &hv->servers[id];
        ioreq_t p = {
            .type = IOREQ_TYPE_INVALIDATE,
            .size = 4,
            .count = 1,
            .dir = IOREQ_WRITE,
            .data = ~0ull,
        };

        if (s->used && s->enabled)
            rc = send_to_locked(hv, vcpu, s, &p, timeout_ms);
    }
    unlock_vcpu(hv, vcpu);
    return rc;
}

void hv_guest_notified(struct mockhv *hv, struct hv_server *s, int vcpu)
{
    struct hv_vcpu *vc;

    if (!s || vcpu < 0 || (unsigned)vcpu >= hv->nr_vcpus)
        return;
    vc = &hv->vcpus[vcpu];
    if (vc->inflight == s->id) {
        hv_futex_bump(vc->wait_word);
    } else if (vc->stuck == s->id &&
               slot_state(&s->slots->vcpu_ioreq[vcpu]) == STATE_IORESP_READY) {
        slot_set_state(&s->slots->vcpu_ioreq[vcpu], STATE_IOREQ_NONE);
        vc->stuck = -1;
    }
}

void hv_guest_abort_server(struct mockhv *hv, struct hv_server *s)
{
    for (unsigned v = 0; v < hv->nr_vcpus; v++) {
        struct hv_vcpu *vc = &hv->vcpus[v];
        if (vc->inflight == s->id) {
            vc->aborted = true;
            hv_futex_bump(vc->wait_word);
        }
        if (vc->stuck == s->id)
            vc->stuck = -1;
    }
}

/* Wakes every waiting vCPU (the mock is stopping). */
void hv_guest_abort_all(struct mockhv *hv)
{
    for (unsigned v = 0; v < hv->nr_vcpus; v++) {
        hv->vcpus[v].aborted = hv->vcpus[v].inflight >= 0;
        if (hv->vcpus[v].aborted)
            hv_futex_bump(hv->vcpus[v].wait_word);
    }
}

int hv_guest_down(const struct mockhv *hv)
{
    if (hv->crashed)
        return -EIO;
    return hv->stopping || hv->gone ? -ESHUTDOWN : 0;
}

bool mockhv_domain_crashed(struct mockhv *hv)
{
    bool c;

    pthread_mutex_lock(&hv->lock);
    c = hv->crashed;
    pthread_mutex_unlock(&hv->lock);
    return c;
}
