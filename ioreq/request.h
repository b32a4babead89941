/*
 * One ioreq, answered: the request arithmetic with no hypervisor in it.
 * The caller hands in a private copy of the slot (never the shared page);
 * request_handle() validates it, performs the accesses and leaves the
 * answer in req->data, which is all the caller writes back.
 */
#ifndef IOREQ_REQUEST_H
#define IOREQ_REQUEST_H

#include <stdint.h>

#include <xen/hvm/ioreq.h>

#include "gmem.h"
#include "io-range.h"
#include "server.h"

/*
 * Bounds on one request. Xen splits rep instructions at page boundaries, so
 * a real request moves at most a page; the limit on items leaves room for
 * 1-byte reps over a whole page with margin, and bounds the work a hostile
 * request can ask for.
 */
#define REQUEST_MAX_COUNT 4096u
#define REQUEST_PIO_LIMIT 0xffffull

/* Per-item outcomes are folded into these; everything is owned by the caller. */
struct request_ctx {
    struct io_registry *registry;
    struct gmem *gmem;
    const struct ioreq_pci_handler *pci; /* NULL or unset hooks: config reads all-ones */
    struct ioreq_stats *stats;           /* malformed, unclaimed, timeoffset */
};

/*
 * Answers one request from vCPU `vcpu` (0 for buffered ones). `vs`, when not
 * NULL, gets the request counted by type. Never fails: malformed requests
 * read all-ones and drop writes, and are counted.
 */
void request_handle(struct request_ctx *ctx, ioreq_t *req, unsigned vcpu,
                    struct ioreq_vcpu_stats *vs);

/* The stats bucket for an ioreq type. */
enum ioreq_stat_type request_stat_type(uint8_t type);

#endif
