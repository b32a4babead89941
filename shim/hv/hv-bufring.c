/*
 * The buffered ioreq ring, written as Xen writes it: one 8-byte slot per
 * request (two for 8-byte data, high half in the second), the slots made
 * visible before write_pointer moves, the ring full when write - read would
 * exceed 511 slots, both pointers rebased below 511 with one 64-bit
 * compare-and-swap for HVM_IOREQSRV_BUFIOREQ_ATOMIC servers, and the
 * buffered port fired afterwards. The device model advances read_pointer and
 * never notifies back. A device model may write any read_pointer: the
 * unsigned distance then looks "full" and the mock falls back to a
 * synchronous request, exactly what Xen does.
 *
 * buf_ioreq_t's address is 20 bits and it has no count or pointer flag: a
 * request above 0xfffff, with data_is_ptr or with a count other than 1 is
 * one Xen 4.17's ioreq_send_buffered returns 0 for (IOREQ_STATUS_HANDLED):
 * dropped as done, neither masked into the ring nor sent synchronously.
 * hv_bufring_queue says so with -ERANGE.
 */
#include <errno.h>

#include "hv-internal.h"

_Static_assert(sizeof(buf_ioreq_t) == 8, "buf_ioreq_t layout");
_Static_assert(sizeof(buffered_iopage_t) <= HV_PAGE_SIZE, "buffered page layout");

static void rebase_pointers(buffered_iopage_t *pg, unsigned budget)
{
    uint64_t *both = (uint64_t *)(void *)pg; /* read_pointer low, write_pointer high */

    while (budget++ < IOREQ_BUFFER_SLOT_NUM) {
        uint64_t old = __atomic_load_n(both, __ATOMIC_ACQUIRE);
        uint32_t rp = (uint32_t)old, wp = (uint32_t)(old >> 32);
        uint32_t n = rp / IOREQ_BUFFER_SLOT_NUM;

        if (rp < IOREQ_BUFFER_SLOT_NUM)
            break;
        rp -= n * IOREQ_BUFFER_SLOT_NUM;
        wp -= n * IOREQ_BUFFER_SLOT_NUM;
        __atomic_compare_exchange_n(both, &old, (uint64_t)wp << 32 | rp, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    }
}

int hv_bufring_queue(struct hv_server *s, const ioreq_t *p)
{
    buffered_iopage_t *pg = s->buf;
    buf_ioreq_t bp = {0};
    unsigned qw = 0;
    uint32_t rp, wp;

    if (s->bufioreq == HVM_IOREQSRV_BUFIOREQ_OFF)
        return -EOPNOTSUPP;
    if (p->addr > 0xfffff || p->data_is_ptr || p->count != 1)
        return -ERANGE;
    switch (p->size) {
    case 1:
        bp.size = 0;
        break;
    case 2:
        bp.size = 1;
        break;
    case 4:
        bp.size = 2;
        break;
    case 8:
        bp.size = 3;
        qw = 1;
        break;
    default:
        return -EINVAL;
    }
    bp.type = p->type;
    bp.dir = p->dir;
    bp.addr = (uint32_t)p->addr;
    bp.data = (uint32_t)p->data;

    rp = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
    wp = __atomic_load_n(&pg->write_pointer, __ATOMIC_RELAXED);
    if (wp - rp >= IOREQ_BUFFER_SLOT_NUM - qw)
        return -ENOSPC;
    pg->buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM] = bp;
    if (qw) {
        bp.data = (uint32_t)(p->data >> 32);
        pg->buf_ioreq[(wp + 1) % IOREQ_BUFFER_SLOT_NUM] = bp;
    }
    __atomic_store_n(&pg->write_pointer, wp + 1 + qw, __ATOMIC_RELEASE);
    if (s->bufioreq == HVM_IOREQSRV_BUFIOREQ_ATOMIC)
        rebase_pointers(pg, qw);
    s->buffered_sent += 1 + qw;
    return 0;
}

int hv_bufring_put(struct mockhv *hv, struct hv_server *s, const ioreq_t *p)
{
    int rc = hv_bufring_queue(s, p);

    if (!rc)
        hv_guest_fire(hv, s->buf_port);
    return rc;
}
