/*
 * In-memory block backend (see mem-blk.h). Pending operations are a list in
 * submission order; each owns a copy of its iovec array, as the backend
 * contract requires.
 */
#include "mem-blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-env.h"

enum mem_op { MEM_READ, MEM_WRITE, MEM_FLUSH, MEM_DISCARD, MEM_WRITE_ZEROES };

struct mem_job {
    struct mem_job *next;
    enum mem_op op;
    uint64_t offset, len;
    struct iovec *iov;
    unsigned iovcnt;
    blk_done_fn done;
    void *opaque;
};

struct mem_blk {
    struct blk_backend be; /* first: the ops get this back */
    uint8_t *data;
    uint64_t size;
    struct mem_job *head;
    unsigned pending;
};

static struct mem_blk *to_mem(struct blk_backend *be)
{
    return (struct mem_blk *)be;
}

static int queue(struct blk_backend *be, enum mem_op op, uint64_t offset, uint64_t len,
                 const struct iovec *iov, unsigned iovcnt, blk_done_fn done, void *opaque)
{
    struct mem_blk *m = to_mem(be);
    struct mem_job *j = calloc(1, sizeof(*j)), **tail;

    if (!j)
        return -ENOMEM;
    if (iovcnt) {
        j->iov = malloc(iovcnt * sizeof(*iov));
        if (!j->iov) {
            free(j);
            return -ENOMEM;
        }
        memcpy(j->iov, iov, iovcnt * sizeof(*iov));
    }
    j->op = op;
    j->offset = offset;
    j->len = len;
    j->iovcnt = iovcnt;
    j->done = done;
    j->opaque = opaque;
    for (tail = &m->head; *tail; tail = &(*tail)->next)
        ;
    *tail = j;
    m->pending++;
    return 0;
}

static int mem_read(struct blk_backend *be, uint64_t offset, const struct iovec *iov,
                    unsigned iovcnt, blk_done_fn done, void *opaque)
{
    return queue(be, MEM_READ, offset, 0, iov, iovcnt, done, opaque);
}

static int mem_write(struct blk_backend *be, uint64_t offset, const struct iovec *iov,
                     unsigned iovcnt, blk_done_fn done, void *opaque)
{
    return queue(be, MEM_WRITE, offset, 0, iov, iovcnt, done, opaque);
}

static int mem_flush(struct blk_backend *be, blk_done_fn done, void *opaque)
{
    return queue(be, MEM_FLUSH, 0, 0, NULL, 0, done, opaque);
}

static int mem_discard(struct blk_backend *be, uint64_t offset, uint64_t len, blk_done_fn done,
                       void *opaque)
{
    return queue(be, MEM_DISCARD, offset, len, NULL, 0, done, opaque);
}

static int mem_write_zeroes(struct blk_backend *be, uint64_t offset, uint64_t len, bool may_unmap,
                            blk_done_fn done, void *opaque)
{
    return queue(be, MEM_WRITE_ZEROES, offset, len, NULL, 0, done, opaque);
}

static uint64_t mem_size(struct blk_backend *be)
{
    return to_mem(be)->size;
}

/* Moves the data: the checked entry points promised the range is inside the disk. */
static int run(struct mem_blk *m, struct mem_job *j)
{
    uint64_t off = j->offset;

    switch (j->op) {
    case MEM_READ:
    case MEM_WRITE:
        for (unsigned i = 0; i < j->iovcnt; i++) {
            size_t len = j->iov[i].iov_len;

            FZ_CHECK(off <= m->size && len <= m->size - off);
            if (j->op == MEM_READ)
                memcpy(j->iov[i].iov_base, m->data + off, len);
            else
                memcpy(m->data + off, j->iov[i].iov_base, len);
            off += len;
        }
        return 0;
    case MEM_DISCARD:
    case MEM_WRITE_ZEROES:
        FZ_CHECK(j->offset <= m->size && j->len <= m->size - j->offset);
        memset(m->data + j->offset, 0, j->len);
        return 0;
    case MEM_FLUSH:
        return 0;
    }
    return -EINVAL;
}

void mem_blk_complete(struct blk_backend *be, unsigned index, int ret)
{
    struct mem_blk *m = to_mem(be);
    struct mem_job **pp = &m->head, *j;

    if (!m->pending)
        return;
    index %= m->pending;
    while (index--)
        pp = &(*pp)->next;
    j = *pp;
    *pp = j->next;
    m->pending--;
    if (ret == 0)
        ret = run(m, j);
    /* The callback may submit more: the job is off the list already. */
    j->done(j->opaque, ret);
    free(j->iov);
    free(j);
}

unsigned mem_blk_pending(const struct blk_backend *be)
{
    return ((const struct mem_blk *)be)->pending;
}

static void mem_drain(struct blk_backend *be)
{
    while (to_mem(be)->pending)
        mem_blk_complete(be, 0, 0);
}

static void mem_free(struct blk_backend *be)
{
    struct mem_blk *m = to_mem(be);

    mem_drain(be);
    free(m->data);
    free(m);
}

static const struct blk_backend_ops mem_ops = {
    .name = "mem",
    .read = mem_read,
    .write = mem_write,
    .flush = mem_flush,
    .discard = mem_discard,
    .write_zeroes = mem_write_zeroes,
    .size = mem_size,
    .drain = mem_drain,
    .free = mem_free,
};

int mem_blk_new(struct blk_backend **out, uint64_t size, bool readonly)
{
    struct mem_blk *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (!m)
        return -ENOMEM;
    m->data = calloc(1, size ? size : 1);
    if (!m->data) {
        free(m);
        return -ENOMEM;
    }
    m->be.ops = &mem_ops;
    m->be.readonly = readonly;
    m->size = size;
    *out = &m->be;
    return 0;
}
