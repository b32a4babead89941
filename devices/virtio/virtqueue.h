/*
 * Split virtqueues (virtio 1.2, section 2.7) over guest memory.
 *
 * This module models the device side of one queue: it walks descriptor
 * chains the driver made available, hands them to a device core as lists of
 * device-readable and device-writable segments, and returns them through the
 * used ring, with notification suppression both ways (flags and event
 * indices). It knows nothing of PCI, Xen or any particular device.
 *
 * Ownership: the transport configures a queue (size, ring addresses,
 * negotiated ring features) and starts/stops it; the device core pops and
 * pushes. The driver owns every byte of the rings: each descriptor is copied
 * once and validated, each buffer is checked through gmem over its whole
 * length, and every walk is bounded. A chain that breaks the rules is
 * returned to the driver with zero bytes written and the queue is marked
 * broken, so that the transport can set DEVICE_NEEDS_RESET.
 */
#ifndef DEVICES_VIRTIO_VIRTQUEUE_H
#define DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "dm-faults.h"
#include "gmem.h"

#define VIRTQ_MAX_SIZE 32768u
/* Descriptors in one chain, direct or through an indirect table. */
#define VIRTQ_MAX_SEGS 256u
/* Bytes described by one chain, readable and writable together. */
#define VIRTQ_MAX_BYTES (128u << 20)

/* Descriptor flags and ring flags (2.7.5, 2.7.6, 2.7.8). */
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* Alignment the driver must respect for each part (2.7, table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN  16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN  4

/* Ring features the transport negotiated, as passed to virtq_start(). */
#define VIRTQ_FEAT_INDIRECT  1u
#define VIRTQ_FEAT_EVENT_IDX 2u

/* Why a queue broke; the first reason is kept. */
enum virtq_error {
    VIRTQ_ERR_NONE,
    VIRTQ_ERR_AVAIL_JUMP,  /* avail idx moved more than the queue size */
    VIRTQ_ERR_OVERRUN,     /* more chains in flight than the queue has entries */
    VIRTQ_ERR_HEAD,        /* head index >= queue size */
    VIRTQ_ERR_NEXT,        /* next index outside the queue or table */
    VIRTQ_ERR_CHAIN_LEN,   /* chain longer than its table or VIRTQ_MAX_SEGS: a loop */
    VIRTQ_ERR_CHAIN_BYTES, /* more than VIRTQ_MAX_BYTES */
    VIRTQ_ERR_UNMAPPED,    /* a buffer or indirect table outside guest RAM */
    VIRTQ_ERR_INDIRECT,    /* indirect not negotiated, nested, chained or badly sized */
    VIRTQ_ERR_ORDER,       /* a readable descriptor after a writable one */
};

/* One buffer of a chain; ptr maps [gpa, gpa + len) for the device's use. */
struct virtq_seg {
    uint64_t gpa;
    uint32_t len;
    void *ptr;
};

/*
 * A popped chain: readable segments first (seg[0 .. nr_readable)), then the
 * writable ones. Zero-length descriptors are not listed.
 */
struct virtq_req {
    uint16_t head;
    unsigned nr_readable;
    unsigned nr_writable;
    uint64_t readable_bytes;
    uint64_t writable_bytes;
    struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq_desc;

struct virtq {
    unsigned index; /* queue number, for logs */
    struct gmem *gm;
    uint16_t size;
    bool started;
    bool indirect;       /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
    bool event_idx;      /* VIRTIO_F_RING_EVENT_IDX negotiated */
    bool notify_enabled; /* whether the device currently asks for driver notifications */

    /* Rings, mapped for as long as the queue is started. */
    struct virtq_desc *desc;
    void *avail;       /* flags, idx, ring[size], used_event */
    void *used;        /* flags, idx, ring[size] of {id, len}, avail_event */
    uint64_t used_gpa; /* where used is in the guest: every store to it goes to the dirty log */

    uint16_t last_avail;     /* next avail ring entry to consume */
    uint16_t used_idx;       /* our copy of used->idx */
    uint16_t filled;         /* used elements written after used_idx, not yet published */
    uint16_t signalled_used; /* used_idx when the driver was last notified */
    bool signalled_valid;    /* false until the first notification decision */
    unsigned inflight;       /* popped, not yet pushed */
    enum virtq_error error;  /* != NONE: broken until the next start */

    uint64_t popped, pushed, malformed;
    uint64_t flushes;         /* used idx stores that published elements */
    struct dm_faults *faults; /* where malformed chains are counted by cause; may be NULL */
};

/* A stopped queue with an index and guest memory; no rings yet, no fault counters. */
void virtq_init(struct virtq *vq, unsigned index, struct gmem *gm);

/* size must be a power of two <= VIRTQ_MAX_SIZE. */
bool virtq_size_valid(unsigned size);

/*
 * Start with the rings at these guest addresses: 0, or -EINVAL (bad size or
 * misaligned part) or -EFAULT (a ring outside guest RAM). feats is a mask of
 * VIRTQ_FEAT_*. Indices start at 0.
 */
int virtq_start(struct virtq *vq, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
                unsigned feats) must_check;
/* Unmap the rings. Popped requests keep their own segment mappings. */
void virtq_stop(struct virtq *vq);

/*
 * Take the next available chain: 0 with *req filled (segments mapped; release
 * them with virtq_req_release), -EAGAIN when nothing is available, -ENOMEM
 * when guest memory cannot map the chain while other requests of this queue
 * hold mappings (the chain stays available: pop again once one completes),
 * -EINVAL when the queue is (or just became) broken. A malformed chain whose
 * head is a valid index is pushed back with 0 bytes written before -EINVAL
 * returns.
 */
int virtq_pop(struct virtq *vq, struct virtq_req *req) must_check;
/* Unmap a popped request's segments (before or after pushing it). */
void virtq_req_release(struct virtq *vq, struct virtq_req *req);
/*
 * Return a chain with `written` bytes written into its writable part: 0 or
 * -EINVAL. Publishes it at once, with every chain filled before it.
 */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/*
 * Batched returns: virtq_fill writes a chain's used element without
 * publishing it (0 or -EINVAL); virtq_flush publishes every filled element
 * with one used idx store and returns how many it published. Completions
 * that finish together then cost the driver one look at the ring and at most
 * one notification (virtq_needs_notify after the flush). A filled element is
 * no longer in flight; the driver sees it only after the flush.
 */
int virtq_fill(struct virtq *vq, uint16_t head, uint32_t written);
unsigned virtq_flush(struct virtq *vq);

/*
 * Return several chains at once, published by a single used idx update, so
 * that the driver sees all of them or none (a frame spread over mergeable
 * receive buffers, 5.1.6.4). 0, or -EINVAL with nothing pushed.
 */
struct virtq_used_elem {
    uint16_t head;
    uint32_t written;
};
int virtq_push_n(struct virtq *vq, const struct virtq_used_elem *elems, unsigned n);

/*
 * After pushes: whether the driver wants a used-buffer notification now
 * (NO_INTERRUPT flag, or used_event with EVENT_IDX). Records the decision.
 */
bool virtq_needs_notify(struct virtq *vq);

/*
 * Ask the driver to stop (false) or resume (true) notifying this queue
 * (NO_NOTIFY flag, or avail_event with EVENT_IDX). After enabling, check
 * virtq_has_avail() again: the driver may have added buffers in between.
 */
void virtq_set_notify(struct virtq *vq, bool enable);
bool virtq_has_avail(struct virtq *vq);

static inline bool virtq_broken(const struct virtq *vq)
{
    return vq->error != VIRTQ_ERR_NONE;
}

const char *virtq_error_name(enum virtq_error err);

/* Copy between a request's segments (from `offset` in that part) and a buffer: bytes copied. */
size_t virtq_req_copy_from(const struct virtq_req *req, size_t offset, void *buf, size_t len);
size_t virtq_req_copy_to(const struct virtq_req *req, size_t offset, const void *buf, size_t len);

/* Ring sizes in bytes, for drivers in tests. */
static inline size_t virtq_desc_bytes(unsigned size)
{
    return 16u * size;
}
static inline size_t virtq_avail_bytes(unsigned size)
{
    return 6u + 2u * size;
}
static inline size_t virtq_used_bytes(unsigned size)
{
    return 6u + 8u * size;
}

#endif
