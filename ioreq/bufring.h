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
 * Delivers the requests pending in the ring, at most one ring's worth per
 * call, and returns how many were delivered. Entries and pointers that Xen
 * never produces (reads, a lone half of an 8-byte write, a write pointer
 * more than a ring ahead or behind the read pointer) are skipped and counted
 * in stats->malformed; a corrupt pointer pair is resynchronised by dropping
 * everything pending. Delivered requests are counted in
 * stats->buffered_requests.
 */
unsigned bufring_drain(buffered_iopage_t *pg, const struct bufring_sink *sink,
                       struct ioreq_stats *stats);

#endif
