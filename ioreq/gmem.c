/*
 * The gmem_* entry points: thin wrappers over a backend's ops table, so that
 * callers never care whether guest memory is a map cache or a test buffer.
 */
#include "gmem.h"

#include <errno.h>
#include <string.h>

int gmem_read(struct gmem *gm, uint64_t gpa, void *buf, size_t len)
{
    if (!gm)
        return -EFAULT;
    if (len == 0)
        return 0;
    return gm->ops->read(gm->opaque, gpa, buf, len);
}

int gmem_write(struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
{
    if (!gm)
        return -EFAULT;
    if (len == 0)
        return 0;
    return gm->ops->write(gm->opaque, gpa, buf, len);
}

int gmem_map(struct gmem *gm, uint64_t gpa, size_t len, int prot, void **ptr)
{
    *ptr = NULL;
    if (!gm || len == 0)
        return -EFAULT;
    if (prot & ~(GMEM_PROT_READ | GMEM_PROT_WRITE))
        return -EINVAL;
    return gm->ops->map(gm->opaque, gpa, len, prot, ptr);
}

void gmem_unmap(struct gmem *gm, void *ptr, size_t len)
{
    if (gm && ptr)
        gm->ops->unmap(gm->opaque, ptr, len);
}

void gmem_mark_dirty(struct gmem *gm, uint64_t gpa, size_t len)
{
    if (gm && len && gm->ops->mark_dirty)
        gm->ops->mark_dirty(gm->opaque, gpa, len);
}

void gmem_flush_dirty(struct gmem *gm)
{
    if (gm && gm->ops->flush_dirty)
        gm->ops->flush_dirty(gm->opaque);
}

void gmem_set_dirty_log(struct gmem *gm, bool on)
{
    if (gm && gm->ops->set_dirty_log)
        gm->ops->set_dirty_log(gm->opaque, on);
}

void gmem_hold_dirty(struct gmem *gm)
{
    if (gm && gm->ops->hold_dirty)
        gm->ops->hold_dirty(gm->opaque, true);
}

void gmem_release_dirty(struct gmem *gm)
{
    if (gm && gm->ops->hold_dirty)
        gm->ops->hold_dirty(gm->opaque, false);
}

bool gmem_dirty_held(struct gmem *gm)
{
    return gm && gm->ops->dirty_held && gm->ops->dirty_held(gm->opaque);
}

void gmem_invalidate(struct gmem *gm)
{
    if (gm && gm->ops->invalidate)
        gm->ops->invalidate(gm->opaque);
}

void gmem_get_stats(struct gmem *gm, struct gmem_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (gm && gm->ops->stats)
        gm->ops->stats(gm->opaque, out);
}

void gmem_free(struct gmem *gm)
{
    if (gm)
        gm->ops->free(gm->opaque);
}
