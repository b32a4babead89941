/*
 * A block backend whose operations complete only when the caller says so,
 * with the result the caller chooses: unit tests complete operation i and
 * read what was submitted; the fuzzers complete the n-th pending one, so
 * completion order is part of the input.
 *
 * Without a disk image a completed read fills its buffers with 0x5a; with
 * one (fake_blk_new) data moves at completion time, as it would from a
 * worker thread, so buffers a device released too early are caught by the
 * sanitizers, and an operation reaching past the image counts in nr_bad.
 */
#ifndef TESTS_FAKE_BLK_H
#define TESTS_FAKE_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "blk-backend.h"

/* Operations remembered; when full, completed ones are forgotten, oldest first. */
#define FAKE_BLK_MAX 256
/* iovec entries an operation keeps inline; more are copied to the heap. */
#define FAKE_BLK_IOV 8

enum fake_op { FAKE_READ, FAKE_WRITE, FAKE_FLUSH, FAKE_DISCARD, FAKE_WRITE_ZEROES };

struct fake_blk_op {
    enum fake_op op;
    uint64_t offset, len;
    bool may_unmap;
    unsigned iovcnt;
    struct iovec iov[FAKE_BLK_IOV]; /* the entries, when iovcnt <= FAKE_BLK_IOV */
    struct iovec *iov_heap;         /* else all of them */
    blk_done_fn done;
    void *opaque;
    bool completed;
};

struct fake_blk {
    struct blk_backend be; /* first: the ops get this back */
    uint64_t size;
    unsigned nr_ops; /* operations remembered, in submission order */
    struct fake_blk_op ops[FAKE_BLK_MAX];
    int drain_ret;  /* result given to operations completed by drain */
    int submit_ret; /* != 0: refuse submissions with this */
    bool freed;
    uint8_t *data;    /* the disk image, or NULL */
    bool heap;        /* fake_blk_new: blk_free() frees it */
    unsigned nr_bad;  /* operations past the end of the image */
    unsigned batches; /* passes that ran callbacks (batch-done hooks called) */
};

/* Not heap-owned: blk_free() only marks it freed. */
void fake_blk_init(struct fake_blk *f, uint64_t size, bool readonly);
/* On the heap with a zeroed image of `size` bytes, freed by blk_free(). 0 or -ENOMEM. */
int fake_blk_new(struct blk_backend **out, uint64_t size, bool readonly);
struct fake_blk *fake_blk_of(struct blk_backend *be);
/* Completes operation i (in submission order) with ret, or the data move's result,
 * in a pass of its own (the batch-done hook follows). */
void fake_blk_complete(struct fake_blk *f, unsigned i, int ret);
/* Completes operations idx[0..n) in one pass: their callbacks, then the hook once. */
void fake_blk_complete_batch(struct fake_blk *f, const unsigned *idx, unsigned n, int ret);
/* Completes the n-th pending operation (n modulo the number pending); nothing if none is. */
void fake_blk_complete_pending(struct fake_blk *f, unsigned n, int ret);
unsigned fake_blk_pending(const struct fake_blk *f);

#endif
