/*
 * Test block backend; see fake-blk.h.
 */
#include <errno.h>
#include <string.h>

#include "fake-blk.h"

static struct fake_blk *to_fake(struct blk_backend *be)
{
    return (struct fake_blk *)be;
}

static int record(struct blk_backend *be, enum fake_op op, uint64_t offset, uint64_t len,
                  bool may_unmap, const struct iovec *iov, unsigned iovcnt, blk_done_fn done,
                  void *opaque)
{
    struct fake_blk *f = to_fake(be);
    struct fake_blk_op *o;

    if (f->submit_ret)
        return f->submit_ret;
    if (f->nr_ops == FAKE_BLK_MAX || iovcnt > 8)
        return -ENOMEM;
    o = &f->ops[f->nr_ops++];
    memset(o, 0, sizeof(*o));
    o->op = op;
    o->offset = offset;
    o->len = len;
    o->may_unmap = may_unmap;
    o->iovcnt = iovcnt;
    for (unsigned i = 0; i < iovcnt; i++) {
        o->iov[i] = iov[i];
        o->len += iov[i].iov_len;
    }
    o->done = done;
    o->opaque = opaque;
    return 0;
}

static int f_read(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                  blk_done_fn done, void *opaque)
{
    return record(be, FAKE_READ, offset, 0, false, iov, iovcnt, done, opaque);
}

static int f_write(struct blk_backend *be, uint64_t offset, const struct iovec *iov,
                   unsigned iovcnt, blk_done_fn done, void *opaque)
{
    return record(be, FAKE_WRITE, offset, 0, false, iov, iovcnt, done, opaque);
}

static int f_flush(struct blk_backend *be, blk_done_fn done, void *opaque)
{
    return record(be, FAKE_FLUSH, 0, 0, false, NULL, 0, done, opaque);
}

static int f_discard(struct blk_backend *be, uint64_t offset, uint64_t len, blk_done_fn done,
                     void *opaque)
{
    return record(be, FAKE_DISCARD, offset, len, false, NULL, 0, done, opaque);
}

static int f_write_zeroes(struct blk_backend *be, uint64_t offset, uint64_t len, bool may_unmap,
                          blk_done_fn done, void *opaque)
{
    return record(be, FAKE_WRITE_ZEROES, offset, len, may_unmap, NULL, 0, done, opaque);
}

static uint64_t f_size(struct blk_backend *be)
{
    return to_fake(be)->size;
}

void fake_blk_complete(struct fake_blk *f, unsigned i, int ret)
{
    struct fake_blk_op *o = &f->ops[i];

    if (o->completed)
        return;
    o->completed = true;
    if (o->op == FAKE_READ && ret == 0) {
        for (unsigned k = 0; k < o->iovcnt; k++)
            memset(o->iov[k].iov_base, 0x5a, o->iov[k].iov_len);
    }
    o->done(o->opaque, ret);
}

unsigned fake_blk_pending(const struct fake_blk *f)
{
    unsigned n = 0;

    for (unsigned i = 0; i < f->nr_ops; i++)
        n += !f->ops[i].completed;
    return n;
}

static void f_drain(struct blk_backend *be)
{
    struct fake_blk *f = to_fake(be);

    for (unsigned i = 0; i < f->nr_ops; i++)
        fake_blk_complete(f, i, f->drain_ret);
}

static void f_free(struct blk_backend *be)
{
    f_drain(be);
    to_fake(be)->freed = true;
}

static const struct blk_backend_ops fake_ops = {
    .name = "fake",
    .read = f_read,
    .write = f_write,
    .flush = f_flush,
    .discard = f_discard,
    .write_zeroes = f_write_zeroes,
    .size = f_size,
    .drain = f_drain,
    .free = f_free,
};

void fake_blk_init(struct fake_blk *f, uint64_t size, bool readonly)
{
    memset(f, 0, sizeof(*f));
    f->be.ops = &fake_ops;
    f->be.readonly = readonly;
    f->size = size;
}
