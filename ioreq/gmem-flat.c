/*
 * Flat guest memory: guest RAM is [0, size) of a caller-owned buffer. For
 * unit tests of everything that touches guest memory; it enforces the same
 * all-or-nothing rule as the map cache, so a test of a hostile address
 * means the same thing on both.
 */
#include "gmem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct gmem_flat {
    struct gmem gm; /* first: gmem_free() hands us back the opaque */
    uint8_t *buf;   /* not owned */
    size_t size;
    unsigned pins; /* live gmem_map()s */
    struct gmem_stats stats;
};

static bool flat_ok(struct gmem_flat *f, uint64_t gpa, size_t len)
{
    if (gpa > f->size || len > f->size - gpa) {
        f->stats.faults++;
        return false;
    }
    f->stats.hits++;
    return true;
}

static int flat_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct gmem_flat *f = opaque;

    if (!flat_ok(f, gpa, len))
        return -EFAULT;
    memcpy(buf, f->buf + gpa, len);
    return 0;
}

static int flat_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct gmem_flat *f = opaque;

    if (!flat_ok(f, gpa, len))
        return -EFAULT;
    memcpy(f->buf + gpa, buf, len);
    return 0;
}

static int flat_map(void *opaque, uint64_t gpa, size_t len, int prot, void **ptr)
{
    struct gmem_flat *f = opaque;

    if (!flat_ok(f, gpa, len))
        return -EFAULT;
    f->pins++;
    *ptr = f->buf + gpa;
    return 0;
}

static void flat_unmap(void *opaque, void *ptr, size_t len)
{
    struct gmem_flat *f = opaque;

    if (f->pins)
        f->pins--;
}

static void flat_invalidate(void *opaque)
{
    struct gmem_flat *f = opaque;

    f->stats.invalidations++;
}

static void flat_stats(void *opaque, struct gmem_stats *out)
{
    struct gmem_flat *f = opaque;

    *out = f->stats;
    out->mapped_bytes = f->size;
}

static void flat_free(void *opaque)
{
    free(opaque);
}

static const struct gmem_ops flat_ops = {
    .read = flat_read,
    .write = flat_write,
    .map = flat_map,
    .unmap = flat_unmap,
    .invalidate = flat_invalidate,
    .stats = flat_stats,
    .free = flat_free,
};

struct gmem *gmem_flat_new(void *buf, size_t size)
{
    struct gmem_flat *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->buf = buf;
    f->size = size;
    f->gm.ops = &flat_ops;
    f->gm.opaque = f;
    return &f->gm;
}
