/*
 * The synchronous ioreq slot of one vCPU, in the page shared with Xen.
 *
 * Ownership follows the state field: Xen owns the slot in NONE and
 * IORESP_READY, the device model from IOREQ_READY (which Xen publishes after
 * a write barrier) until it sets IORESP_READY (after its own write barrier).
 * The page is guest-influenced: the device model copies the slot once and
 * never reads it again, and writes back only data and state.
 */
#ifndef IOREQ_SLOT_H
#define IOREQ_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/hvm/ioreq.h>

/*
 * If the slot holds a request (state IOREQ_READY), copies it into *req,
 * marks the slot INPROCESS and returns true. Any other state means the
 * notification was spurious: false, the slot untouched.
 */
bool slot_take(ioreq_t *slot, ioreq_t *req);

/* Publishes the answer: data, write barrier, state = IORESP_READY. */
void slot_complete(ioreq_t *slot, uint64_t data);

/*
 * A server going away answers what its slot holds without serving it:
 * Xen wakes a waiting vCPU only by a notification, never by disabling or
 * destroying the server. A request (IOREQ_READY, or INPROCESS left by a
 * previous device model) is completed as from no device: reads all-ones,
 * writes dropped. Returns true if there was one; the caller then notifies
 * the vCPU's port.
 */
bool slot_refuse(ioreq_t *slot);

/* The vCPU's event channel port as Xen wrote it (valid once the server is enabled). */
uint32_t slot_eport(const ioreq_t *slot);

#endif
