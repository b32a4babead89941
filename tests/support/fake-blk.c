/* Block backend for tests and fuzzers; see fake-blk.h. */
#include "fake-blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct fake_blk *to_fake(struct blk_backend *be)
{
    return (struct fake_blk *)be;
}

struct fake_blk *fake_blk_of(struct blk_backend *be)
{
    return to_fake(be);
}

static const struct iovec *op_iov(const struct fake_blk_op *o)
{
    return o->iovcnt <= FAKE_BLK_IOV ? o->iov : o->iov_heap;
}

/* Makes room by forgetting completed operations, oldest first. */
static void forget_completed(struct fake_blk *f)
{
    unsigned kept = 0;

    for (unsigned i = 0; i < f->nr_ops; i++) {
        if (f->ops[i].completed) {
            free(f->ops[i].iov_heap);
            continue;
        }
        f->ops[kept++] = f->ops[i];
    }
    f->nr_ops = kept;
}

static int record(struct blk_backend *be, enum fake_op op, uint64_t offset, uint64_t len,
                  bool may_unmap, const struct iovec *iov, unsigned iovcnt, blk_done_fn done,
                  void *opaque)
{
    struct fake_blk *f = to_fake(be);
    struct fake_blk_op *o;

    if (f->submit_ret)
        return f->submit_ret;
    if (f->nr_ops == FAKE_BLK_MAX)
        forget_completed(f);
    if (f->nr_ops == FAKE_BLK_MAX)
        return -ENOMEM;
    o = &f->ops[f->nr_ops];
    memset(o, 0, sizeof(*o));
    if (iovcnt > FAKE_BLK_IOV) {
        o->iov_heap = malloc(iovcnt * sizeof(*iov));
        if (!o->iov_heap)
            return -ENOMEM;
        memcpy(o->iov_heap, iov, iovcnt * sizeof(*iov));
    } else if (iovcnt) {
        memcpy(o->iov, iov, iovcnt * sizeof(*iov));
    }
    f->nr_ops++;
    o->op = op;
    o->offset = offset;
    o->len = len;
    o->may_unmap = may_unmap;
    o->iovcnt = iovcnt;
    for (unsigned i = 0; i < iovcnt; i++)
        o->len += iov[i].iov_len;
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

/* The completed operation's data, moved now; 0, or -EIO past the image (counted). */
static int move_data(struct fake_blk *f, const struct fake_blk_op *o)
{
    const struct iovec *iov = op_iov(o);
    uint64_t off = o->offset;

    if (!f->data) {
        for (unsigned k = 0; o->op == FAKE_READ && k < o->iovcnt; k++)
            memset(iov[k].iov_base, 0x5a, iov[k].iov_len);
        return 0;
    }
    if (o->op == FAKE_FLUSH)
        return 0;
    if (off > f->size || o->len > f->size - off) {
        f->nr_bad++;
        return -EIO;
    }
    if (o->op == FAKE_DISCARD || o->op == FAKE_WRITE_ZEROES) {
        memset(f->data + off, 0, o->len);
        return 0;
    }
    for (unsigned k = 0; k < o->iovcnt; k++) {
        if (o->op == FAKE_READ)
            memcpy(iov[k].iov_base, f->data + off, iov[k].iov_len);
        else
            memcpy(f->data + off, iov[k].iov_base, iov[k].iov_len);
        off += iov[k].iov_len;
    }
    return 0;
}

/* One callback, without ending the pass. */
static void complete_one(struct fake_blk *f, unsigned i, int ret)
{
    struct fake_blk_op *o;

    if (i >= f->nr_ops || f->ops[i].completed)
        return;
    o = &f->ops[i];
    o->completed = true;
    if (ret == 0)
        ret = move_data(f, o);
    /* The callback may submit more: this entry stays where it is until then. */
    o->done(o->opaque, ret);
}

void fake_blk_complete(struct fake_blk *f, unsigned i, int ret)
{
    fake_blk_complete_batch(f, &i, 1, ret);
}

void fake_blk_complete_batch(struct fake_blk *f, const unsigned *idx, unsigned n, int ret)
{
    bool ran = false;

    for (unsigned k = 0; k < n; k++) {
        if (idx[k] < f->nr_ops && !f->ops[idx[k]].completed) {
            complete_one(f, idx[k], ret);
            ran = true;
        }
    }
    if (ran) {
        f->batches++;
        blk_batch_done(&f->be);
    }
}

unsigned fake_blk_pending(const struct fake_blk *f)
{
    unsigned n = 0;

    for (unsigned i = 0; i < f->nr_ops; i++)
        n += !f->ops[i].completed;
    return n;
}

void fake_blk_complete_pending(struct fake_blk *f, unsigned n, int ret)
{
    unsigned pending = fake_blk_pending(f);

    if (!pending)
        return;
    n %= pending;
    for (unsigned i = 0; i < f->nr_ops; i++) {
        if (f->ops[i].completed)
            continue;
        if (!n--) {
            fake_blk_complete(f, i, ret);
            return;
        }
    }
}

static void f_drain(struct blk_backend *be)
{
    struct fake_blk *f = to_fake(be);

    /* Completions may submit more; drain until nothing is left. */
    while (fake_blk_pending(f))
        fake_blk_complete_pending(f, 0, f->drain_ret);
}

static void f_free(struct blk_backend *be)
{
    struct fake_blk *f = to_fake(be);

    f_drain(be);
    for (unsigned i = 0; i < f->nr_ops; i++) {
        free(f->ops[i].iov_heap);
        f->ops[i].iov_heap = NULL;
    }
    f->freed = true;
    if (f->heap) {
        free(f->data);
        free(f);
    }
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

int fake_blk_new(struct blk_backend **out, uint64_t size, bool readonly)
{
    struct fake_blk *f = malloc(sizeof(*f));

    *out = NULL;
    if (!f)
        return -ENOMEM;
    fake_blk_init(f, size, readonly);
    f->heap = true;
    f->data = calloc(1, size ? size : 1);
    if (!f->data) {
        free(f);
        return -ENOMEM;
    }
    *out = &f->be;
    return 0;
}
