/*
 * The buffered ioreq ring (frame 0 of the server's resource): Xen produces
 * fire-and-forget writes at write_pointer, the device model consumes them
 * and acknowledges by advancing read_pointer, with no notification back.
 *
 * Layout facts (xen/hvm/ioreq.h): IOREQ_BUFFER_SLOT_NUM 8-byte slots, the
 * pointers count slots modulo 2^32 and index the array modulo the slot
 * number; an 8-byte write takes two consecutive slots, the high half in the
 * second. With HVM_IOREQSRV_BUFIOREQ_ATOMIC Xen rebases both pointers
 * together with a 64-bit compare-and-swap, so the consumer only ever adds to
 * read_pointer atomically.
 */
#ifndef IOREQ_BUFRING_H
#define IOREQ_BUFRING_H

#include <stdint.h>

#include <xen/hvm/ioreq.h>

#include "server.h"

struct bufring_sink {
    /* One decoded write; req is a private copy the sink may modify. */
    void (*handle)(void *opaque, ioreq_t *req);
    void *opaque;
};

/*
 * How many slots one bufring_drain call consumes at most: the ring may
 * refill while it is drained, and a guest that keeps it full must not keep
 * the loop from its other events. Four rings.
 */
#define BUFRING_DRAIN_MAX_SLOTS (4u * IOREQ_BUFFER_SLOT_NUM)

/*
 * Consumed slots are handed back in runs of at most this many: one atomic
 * add on the producer's cache line per run instead of per slot, while a
 * producer that finds the ring full waits for 64 slots at most.
 */
#define BUFRING_RUN_SLOTS 64u

/*
 * Delivers the requests pending in the ring, going on while the ring
 * refills, and returns how many were delivered. Consumes at most
 * BUFRING_DRAIN_MAX_SLOTS slots; what is left fired the buffered port
 * again, so the caller comes back to it from its loop. Consumed slots are
 * handed back once per run of BUFRING_RUN_SLOTS, not one by one. Entries and pointers
 * that Xen never produces (reads, a lone half of an 8-byte write, a write
 * pointer more than a ring ahead or behind the read pointer) are skipped
 * and counted in stats->malformed; a corrupt pointer pair is resynchronised
 * by dropping everything pending. Delivered requests are counted in
 * stats->buffered_requests.
 */
unsigned bufring_drain(buffered_iopage_t *pg, const struct bufring_sink *sink,
                       struct ioreq_stats *stats);

#endif
