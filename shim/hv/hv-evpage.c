/*
 * The event page an evtchn connection shares with the mock (wire.h,
 * shim/PROTOCOL.md "Event channels"): /dev/xen/evtchn's mask and pending
 * bits of the connection's ports, and one notify counter per port that a
 * waiting vCPU sleeps on as a futex. It removes the mock's socket thread
 * from the synchronous round trip: the device model unmasks by clearing a
 * bit and notifies by waking the vCPU itself. The page is the device
 * model's to scribble on, so every value read from it is only a hint that
 * is judged again (the slot state, the mask bits) and no loop on it is
 * unbounded. The mock holds the mapping while the connection or a waiting
 * vCPU uses it (refs, under mockhv.lock).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hv-internal.h"

_Static_assert(HV_MAX_PORTS == WIRE_EVP_PORTS, "one event page entry per dom0 port");

/* A device model flipping bits as fast as it can must not hold us here. */
#define EVP_CAS_TRIES 64

int hv_evpage_new(struct hv_evpage **out, int *fd_out)
{
    size_t len = sizeof(struct wire_evport) * WIRE_EVP_PORTS;
    struct hv_evpage *e = calloc(1, sizeof(*e));
    int fd = -1, rc;

    if (!e)
        return -ENOMEM;
    fd = memfd_create("mockhv-evtchn", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
        rc = -errno;
        goto out;
    }
    e->port = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (e->port == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    e->refs = 1;
    *out = e;
    *fd_out = fd;
    return 0;
out:
    if (fd >= 0)
        close(fd);
    free(e);
    return rc;
}

void hv_evpage_get(struct hv_evpage *e)
{
    e->refs++;
}

void hv_evpage_put(struct hv_evpage *e)
{
    if (!e || --e->refs > 0)
        return;
    munmap(e->port, sizeof(struct wire_evport) * WIRE_EVP_PORTS);
    free(e);
}

void hv_evpage_reset(struct hv_evpage *e, uint32_t port, bool direct)
{
    __atomic_store_n(&e->port[port].state, direct ? WIRE_EVP_DIRECT : 0, __ATOMIC_RELEASE);
}

void hv_evpage_undirect(struct hv_evpage *e, uint32_t port)
{
    __atomic_fetch_and(&e->port[port].state, ~WIRE_EVP_DIRECT, __ATOMIC_ACQ_REL);
}

bool hv_evpage_fire(struct hv_evpage *e, uint32_t port)
{
    uint32_t *st = &e->port[port].state;

    for (int i = 0; i < EVP_CAS_TRIES; i++) {
        uint32_t old = __atomic_load_n(st, __ATOMIC_ACQUIRE);
        bool masked = old & WIRE_EVP_MASKED;
        uint32_t new = masked ? old | WIRE_EVP_PENDING : old | WIRE_EVP_MASKED;

        if (__atomic_compare_exchange_n(st, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return !masked;
    }
    return false;
}

bool hv_evpage_unmask(struct hv_evpage *e, uint32_t port)
{
    uint32_t *st = &e->port[port].state;

    for (int i = 0; i < EVP_CAS_TRIES; i++) {
        uint32_t old = __atomic_load_n(st, __ATOMIC_ACQUIRE);
        bool pending = old & WIRE_EVP_PENDING;
        /* a pending mark becomes one more delivery, and the port stays masked for it */
        uint32_t new =
            pending ? (old & ~WIRE_EVP_PENDING) | WIRE_EVP_MASKED : old & ~WIRE_EVP_MASKED;

        if (__atomic_compare_exchange_n(st, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return pending;
    }
    return false;
}

/* Non-private futex operations: the word may be shared with another process. */
void hv_futex_bump(uint32_t *word)
{
    __atomic_fetch_add(word, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int hv_futex_wait(uint32_t *word, uint32_t seen, const struct timespec *deadline)
{
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline */
    if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET, seen, deadline, NULL, FUTEX_BITSET_MATCH_ANY) <
        0)
        return -errno;
    return 0;
}
