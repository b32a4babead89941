/*
 * A block backend for tests whose operations complete only when the test
 * says so, with the result the test chooses.
 */
#ifndef TESTS_FAKE_BLK_H
#define TESTS_FAKE_BLK_H

#include "blk-backend.h"

#define FAKE_BLK_MAX 64

enum fake_op { FAKE_READ, FAKE_WRITE, FAKE_FLUSH, FAKE_DISCARD, FAKE_WRITE_ZEROES };

struct fake_blk_op {
    enum fake_op op;
    uint64_t offset, len;
    bool may_unmap;
    unsigned iovcnt;
    struct iovec iov[8];
    blk_done_fn done;
    void *opaque;
    bool completed;
};

struct fake_blk {
    struct blk_backend be;
    uint64_t size;
    unsigned nr_ops;
    struct fake_blk_op ops[FAKE_BLK_MAX];
    int drain_ret;  /* result given to operations completed by drain */
    int submit_ret; /* != 0: refuse submissions with this */
    bool freed;
};

/* Not heap-owned: blk_free() only marks it freed. */
void fake_blk_init(struct fake_blk *f, uint64_t size, bool readonly);
/* Completes operation i with ret; reads fill their buffers with 0x5a first. */
void fake_blk_complete(struct fake_blk *f, unsigned i, int ret);
unsigned fake_blk_pending(const struct fake_blk *f);

#endif
