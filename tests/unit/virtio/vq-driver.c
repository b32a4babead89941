/*
 * Test-side virtqueue driver; see vq-driver.h.
 */
#include <errno.h>
#include <string.h>

#include "virtqueue.h"
#include "vq-driver.h"

void vqd_init(struct vqd *d, uint8_t *mem, uint16_t size, uint64_t desc, uint64_t avail,
              uint64_t used)
{
    d->mem = mem;
    d->size = size;
    d->desc = desc;
    d->avail = avail;
    d->used = used;
    d->avail_idx = 0;
    d->next_free = 0;
    memset(mem + desc, 0, virtq_desc_bytes(size));
    memset(mem + avail, 0, virtq_avail_bytes(size));
    memset(mem + used, 0, virtq_used_bytes(size));
}

void vqd_set_desc_at(uint8_t *mem, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t *p = mem + table + 16u * i;

    put64(p, addr);
    put32(p + 8, len);
    put16(p + 12, flags);
    put16(p + 14, next);
}

void vqd_set_desc(struct vqd *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next)
{
    vqd_set_desc_at(d->mem, d->desc, i, addr, len, flags, next);
}

uint16_t vqd_add_chain(struct vqd *d, const struct vqd_buf *bufs, unsigned n)
{
    uint16_t head = d->next_free;

    for (unsigned k = 0; k < n; k++) {
        uint16_t i = d->next_free;
        uint16_t next = (uint16_t)((i + 1) % d->size);
        uint16_t flags = (uint16_t)((bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

        vqd_set_desc(d, i, bufs[k].addr, bufs[k].len, flags, next);
        d->next_free = next;
    }
    return head;
}

void vqd_set_avail_ring(struct vqd *d, uint16_t slot, uint16_t head)
{
    put16(d->mem + d->avail + 4 + 2u * (slot % d->size), head);
}

void vqd_set_avail_idx(struct vqd *d, uint16_t idx)
{
    d->avail_idx = idx;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    put16(d->mem + d->avail + 2, idx);
}

void vqd_publish(struct vqd *d, uint16_t head)
{
    vqd_set_avail_ring(d, d->avail_idx, head);
    vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
}

void vqd_set_avail_flags(struct vqd *d, uint16_t flags)
{
    put16(d->mem + d->avail, flags);
}

void vqd_set_used_event(struct vqd *d, uint16_t ev)
{
    put16(d->mem + d->avail + 4 + 2u * d->size, ev);
}

uint16_t vqd_used_idx(const struct vqd *d)
{
    return get16(d->mem + d->used + 2);
}

uint16_t vqd_used_flags(const struct vqd *d)
{
    return get16(d->mem + d->used);
}

uint16_t vqd_avail_event(const struct vqd *d)
{
    return get16(d->mem + d->used + 4 + 8u * d->size);
}

void vqd_used_elem(const struct vqd *d, uint16_t slot, uint32_t *id, uint32_t *len)
{
    const uint8_t *p = d->mem + d->used + 4 + 8u * (slot % d->size);

    *id = get32(p);
    *len = get32(p + 4);
}

static int c_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct gmem_count *c = opaque;
    return gmem_read(c->inner, gpa, buf, len);
}

static int c_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct gmem_count *c = opaque;
    return gmem_write(c->inner, gpa, buf, len);
}

static int c_map(void *opaque, uint64_t gpa, size_t len, int prot, void **ptr)
{
    struct gmem_count *c = opaque;
    int rc;

    if (c->max_live && c->maps - c->unmaps >= c->max_live)
        return -ENOMEM;
    rc = gmem_map(c->inner, gpa, len, prot, ptr);
    if (!rc)
        c->maps++;
    return rc;
}

static void c_unmap(void *opaque, void *ptr, size_t len)
{
    struct gmem_count *c = opaque;

    c->unmaps++;
    gmem_unmap(c->inner, ptr, len);
}

static void c_invalidate(void *opaque)
{
    struct gmem_count *c = opaque;
    gmem_invalidate(c->inner);
}

static void c_stats(void *opaque, struct gmem_stats *out)
{
    struct gmem_count *c = opaque;
    gmem_get_stats(c->inner, out);
}

static void c_free(void *opaque)
{
}

static void c_mark_dirty(void *opaque, uint64_t gpa, size_t len)
{
    struct gmem_count *c = opaque;

    if (c->nr_dirty < GMEM_COUNT_DIRTY) {
        c->dirty_gpa[c->nr_dirty] = gpa;
        c->dirty_len[c->nr_dirty] = len;
    }
    c->nr_dirty++;
}

bool gmem_count_dirty(const struct gmem_count *c, uint64_t gpa, size_t len)
{
    for (unsigned i = 0; i < c->nr_dirty && i < GMEM_COUNT_DIRTY; i++)
        if (c->dirty_gpa[i] <= gpa && gpa + len <= c->dirty_gpa[i] + c->dirty_len[i])
            return true;
    return false;
}

static const struct gmem_ops count_ops = {
    .read = c_read,
    .write = c_write,
    .map = c_map,
    .unmap = c_unmap,
    .invalidate = c_invalidate,
    .stats = c_stats,
    .free = c_free,
    .mark_dirty = c_mark_dirty,
};

void gmem_count_init(struct gmem_count *c, struct gmem *inner)
{
    c->gm.ops = &count_ops;
    c->gm.opaque = c;
    c->inner = inner;
    c->maps = 0;
    c->unmaps = 0;
    c->max_live = 0;
    c->nr_dirty = 0;
}
