/*
 * The checked blk_* entry points every device uses: range and read-only
 * checks live here once, so no backend can forget them.
 */
#include <errno.h>

#include "blk-backend.h"

static bool range_ok(struct blk_backend *be, uint64_t offset, uint64_t len)
{
    uint64_t size = be->ops->size(be);

    return offset <= size && len <= size - offset;
}

static uint64_t iov_bytes(const struct iovec *iov, unsigned iovcnt)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    return n;
}

int blk_read(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
             blk_done_fn done, void *opaque)
{
    if (!range_ok(be, offset, iov_bytes(iov, iovcnt)))
        return -EINVAL;
    return be->ops->read(be, offset, iov, iovcnt, done, opaque);
}

int blk_write(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
              blk_done_fn done, void *opaque)
{
    if (be->readonly)
        return -EROFS;
    if (!range_ok(be, offset, iov_bytes(iov, iovcnt)))
        return -EINVAL;
    return be->ops->write(be, offset, iov, iovcnt, done, opaque);
}

int blk_flush(struct blk_backend *be, blk_done_fn done, void *opaque)
{
    return be->ops->flush(be, done, opaque);
}

int blk_discard(struct blk_backend *be, uint64_t offset, uint64_t len, blk_done_fn done,
                void *opaque)
{
    if (be->readonly)
        return -EROFS;
    if (!range_ok(be, offset, len))
        return -EINVAL;
    return be->ops->discard(be, offset, len, done, opaque);
}

int blk_write_zeroes(struct blk_backend *be, uint64_t offset, uint64_t len, bool may_unmap,
                     blk_done_fn done, void *opaque)
{
    if (be->readonly)
        return -EROFS;
    if (!range_ok(be, offset, len))
        return -EINVAL;
    return be->ops->write_zeroes(be, offset, len, may_unmap, done, opaque);
}

void blk_set_batch_done(struct blk_backend *be, blk_batch_fn fn, void *opaque)
{
    be->batch_done = fn;
    be->batch_opaque = opaque;
}

uint64_t blk_size(struct blk_backend *be)
{
    return be->ops->size(be);
}

void blk_drain(struct blk_backend *be)
{
    if (be)
        be->ops->drain(be);
}

void blk_free(struct blk_backend *be)
{
    if (be)
        be->ops->free(be);
}
