/*
 * Slot access with the barriers of the ioreq protocol. The copy is done
 * with volatile word loads so that the compiler cannot turn later uses of
 * the copy back into reads of the shared page.
 */
#include "slot.h"

#include <string.h>

_Static_assert(sizeof(ioreq_t) == 32, "ioreq_t is four 64-bit words");

bool slot_take(ioreq_t *slot, ioreq_t *req)
{
    volatile ioreq_t *s = slot;
    const volatile uint64_t *src = (const volatile uint64_t *)slot;
    uint64_t words[sizeof(ioreq_t) / sizeof(uint64_t)];

    if (s->state != STATE_IOREQ_READY)
        return false;
    /* Pairs with Xen's write barrier before it set READY. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        words[i] = src[i];
    memcpy(req, words, sizeof(*req));
    /* The copy may have caught a later state; ours is the one we checked. */
    req->state = STATE_IOREQ_READY;
    s->state = STATE_IOREQ_INPROCESS;
    return true;
}

void slot_complete(ioreq_t *slot, uint64_t data)
{
    volatile ioreq_t *s = slot;

    s->data = data;
    /* Xen must see the data before the state that hands the slot back. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->state = STATE_IORESP_READY;
}

bool slot_refuse(ioreq_t *slot)
{
    volatile ioreq_t *s = slot;
    const volatile uint64_t *src = (const volatile uint64_t *)slot;
    uint64_t words[sizeof(ioreq_t) / sizeof(uint64_t)];
    uint8_t state = s->state;
    ioreq_t req;

    if (state != STATE_IOREQ_READY && state != STATE_IOREQ_INPROCESS)
        return false;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        words[i] = src[i];
    memcpy(&req, words, sizeof(req));
    s->state = STATE_IOREQ_INPROCESS;
    slot_complete(slot, req.dir == IOREQ_READ && !req.data_is_ptr ? ~0ull : req.data);
    return true;
}

uint32_t slot_eport(const ioreq_t *slot)
{
    const volatile ioreq_t *s = slot;

    return s->vp_eport;
}
