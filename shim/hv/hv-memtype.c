/*
 * Memory types and pinned cache attributes device models set, kept with
 * the checks Xen makes (dm.c set_mem_type, mtrr.c
 * hvm_set_mem_pinned_cacheattr, ioreq.c map_mem_type_to_ioreq_server),
 * for tests to read back. They are records: guest accesses through the
 * mock do not change with them (a ram_ro frame still takes the guest's
 * writes, an mmio_dm frame is not routed to a device model).
 *
 * A frame's type is HVMMEM_ram_rw for RAM and HVMMEM_mmio_dm for anything
 * else (Xen's p2m reports an empty entry as p2m_mmio_dm) until
 * set_mem_type changes it. The changed frames are kept as sorted,
 * disjoint ranges, neighbours of one type merged. relocate_memory gives
 * the frames it touches their default type back, as Xen's physmap
 * changes make them plain RAM or empty again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-internal.h"

#define TYPE_DEFAULT UINT32_MAX /* memtype_assign: drop the record */

void hv_memtype_fini(struct mockhv *hv)
{
    free(hv->mem_types.r);
    memset(&hv->mem_types, 0, sizeof(hv->mem_types));
}

/* Index of the first range ending at or after gfn. */
static unsigned memtype_find(const struct hv_mem_types *m, uint64_t gfn)
{
    unsigned lo = 0, hi = m->nr;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (m->r[mid].last < gfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t hv_memtype_of(const struct mockhv *hv, uint64_t gfn)
{
    const struct hv_mem_types *m = &hv->mem_types;
    unsigned i = memtype_find(m, gfn);

    if (i < m->nr && m->r[i].first <= gfn)
        return m->r[i].type;
    return hv_p2m_lookup(hv, gfn) >= 0 ? HVMMEM_ram_rw : HVMMEM_mmio_dm;
}

/* Merges neighbours of one type in [from, to] (indices, clamped). */
static void memtype_merge(struct hv_mem_types *m, unsigned from, unsigned to)
{
    unsigned i = from;

    while (i + 1 < m->nr && i < to) {
        struct hv_mem_range *a = &m->r[i], *b = &m->r[i + 1];

        if (a->last + 1 == b->first && a->type == b->type) {
            a->last = b->last;
            memmove(b, b + 1, (m->nr - i - 2) * sizeof(*b));
            m->nr--;
            to--;
        } else {
            i++;
        }
    }
}

/* Frames [first, last] get `type` (TYPE_DEFAULT: their default type). */
static int memtype_assign(struct mockhv *hv, uint64_t first, uint64_t last, uint32_t type)
{
    struct hv_mem_types *m = &hv->mem_types;
    unsigned lo = memtype_find(m, first), hi = lo, n = 0;
    struct hv_mem_range add[3];

    while (hi < m->nr && m->r[hi].first <= last)
        hi++;
    if (lo == hi && type == TYPE_DEFAULT)
        return 0; /* no record to drop */
    /* the parts of the first and last overlapped ranges that stick out stay */
    if (lo < hi && m->r[lo].first < first)
        add[n++] = (struct hv_mem_range){m->r[lo].first, first - 1, m->r[lo].type};
    if (type != TYPE_DEFAULT)
        add[n++] = (struct hv_mem_range){first, last, type};
    if (lo < hi && m->r[hi - 1].last > last)
        add[n++] = (struct hv_mem_range){last + 1, m->r[hi - 1].last, m->r[hi - 1].type};
    if (m->nr - (hi - lo) + n > m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : 64;
        struct hv_mem_range *r = realloc(m->r, cap * sizeof(*r));

        if (!r)
            return -ENOMEM;
        m->r = r;
        m->cap = cap;
    }
    memmove(&m->r[lo + n], &m->r[hi], (m->nr - hi) * sizeof(m->r[0]));
    memcpy(&m->r[lo], add, n * sizeof(add[0]));
    m->nr = m->nr - (hi - lo) + n;
    memtype_merge(m, lo ? lo - 1 : 0, lo + n);
    return 0;
}

void hv_memtype_forget(struct mockhv *hv, uint64_t gfn, uint64_t nr)
{
    /* splitting a record may need memory; without it the record stays */
    if (nr)
        memtype_assign(hv, gfn, gfn + nr - 1, TYPE_DEFAULT);
}

/* dm.c allow_p2m_type_change(), in HVMMEM_* terms */
static bool type_change_ok(uint32_t from, uint32_t to)
{
    if (to == HVMMEM_ioreq_server)
        return from == HVMMEM_ram_rw;
    if (from == HVMMEM_ioreq_server)
        return to == HVMMEM_ram_rw;
    return from == HVMMEM_ram_rw || from == HVMMEM_ram_ro ||
           (from == HVMMEM_mmio_dm && to == HVMMEM_mmio_dm);
}

int hv_set_mem_type(struct mockhv *hv, uint64_t type, uint64_t first, uint64_t nr)
{
    uint64_t last = first + nr - 1, done;
    int rc;

    if (first > last || last > hv->max_gfn)
        return -EINVAL;
    if (type > HVMMEM_ioreq_server || type == HVMMEM_unused)
        return -EINVAL;
    /* only once a server claimed the type (map_mem_type_to_ioreq_server) */
    if (type == HVMMEM_ioreq_server && !hv->ioreq_mem.claimed)
        return -EINVAL;
    /* frame by frame: Xen stops at the first refused one, and the frames
     * before it keep their new type */
    for (done = 0; done < nr; done++)
        if (!type_change_ok(hv_memtype_of(hv, first + done), (uint32_t)type))
            break;
    if (done && hv->mem_types.nr + 2 > HV_MAX_MEM_TYPE_RANGES)
        return -ENOSPC;
    if (done) {
        rc = memtype_assign(hv, first, first + done - 1, (uint32_t)type);
        if (rc)
            return rc;
    }
    if (done < nr)
        return -EINVAL;
    hv->mem_type_calls++;
    return 0;
}

/* Frames of the ioreq-server type go back to RAM once no server claims it. */
static void ioreq_frames_released(struct mockhv *hv)
{
    struct hv_mem_types *m = &hv->mem_types;

    for (unsigned i = 0; i < m->nr; i++)
        if (m->r[i].type == HVMMEM_ioreq_server)
            m->r[i].type = HVMMEM_ram_rw;
    memtype_merge(m, 0, m->nr);
}

int hv_map_mem_type(struct mockhv *hv, uint64_t id, uint64_t type, uint64_t flags)
{
    if (type != HVMMEM_ioreq_server || (flags & ~(uint64_t)XEN_DMOP_IOREQ_MEM_ACCESS_WRITE))
        return -EINVAL;
    if (id >= HV_MAX_SERVERS || !hv_server_get(hv, (unsigned)id))
        return -ENOENT;
    if (flags == 0) {
        /* only the claiming server lets go */
        if (!hv->ioreq_mem.claimed || hv->ioreq_mem.server != id)
            return -EINVAL;
        hv->ioreq_mem.claimed = false;
        hv->ioreq_mem.flags = 0;
        ioreq_frames_released(hv);
        return 0;
    }
    if (hv->ioreq_mem.claimed)
        return -EBUSY;
    hv->ioreq_mem.claimed = true;
    hv->ioreq_mem.server = (uint16_t)id;
    hv->ioreq_mem.flags = (uint32_t)flags;
    return 0;
}

void hv_memtype_server_gone(struct mockhv *hv, uint16_t id)
{
    if (hv->ioreq_mem.claimed && hv->ioreq_mem.server == id) {
        hv->ioreq_mem.claimed = false;
        hv->ioreq_mem.flags = 0;
        ioreq_frames_released(hv);
    }
}

/* mtrr.c: the PAT types a range can be pinned to */
static bool cacheattr_valid(uint32_t type)
{
    switch (type) {
    case XEN_DMOP_MEM_CACHEATTR_UC:
    case XEN_DMOP_MEM_CACHEATTR_WC:
    case XEN_DMOP_MEM_CACHEATTR_WT:
    case XEN_DMOP_MEM_CACHEATTR_WP:
    case XEN_DMOP_MEM_CACHEATTR_WB:
    case XEN_DMOP_MEM_CACHEATTR_UCM:
        return true;
    }
    return false;
}

int hv_pin_cacheattr(struct mockhv *hv, uint64_t start, uint64_t end, uint64_t type)
{
    struct hv_mem_range *r = hv->cacheattr;
    unsigned i;

    /* Xen compares frame numbers with the address width, as here */
    if (end < start || (start | end) >> HV_PADDR_BITS || type > UINT32_MAX)
        return -EINVAL;
    if (type == XEN_DMOP_DELETE_MEM_CACHEATTR) {
        /* only a range pinned exactly so */
        for (i = 0; i < hv->nr_cacheattr; i++) {
            if (r[i].first == start && r[i].last == end) {
                memmove(&r[i], &r[i + 1], (hv->nr_cacheattr - i - 1) * sizeof(r[0]));
                hv->nr_cacheattr--;
                return 0;
            }
        }
        return -ENOENT;
    }
    if (!cacheattr_valid((uint32_t)type))
        return -EINVAL;
    for (i = 0; i < hv->nr_cacheattr; i++) {
        if (r[i].first == start && r[i].last == end) {
            r[i].type = (uint32_t)type;
            return 0;
        }
        if (r[i].first <= end && start <= r[i].last)
            return -EBUSY;
    }
    if (hv->nr_cacheattr >= HV_MAX_CACHEATTR)
        return -ENOSPC;
    /* kept in frame order (disjoint, so the order is total) */
    for (i = hv->nr_cacheattr; i > 0 && r[i - 1].first > start; i--)
        r[i] = r[i - 1];
    r[i] = (struct hv_mem_range){start, end, (uint32_t)type};
    hv->nr_cacheattr++;
    return 0;
}

/* ---- inspection ---- */

int mockhv_mem_types(struct mockhv *hv, struct mockhv_mem_range *out, size_t max)
{
    int n;

    pthread_mutex_lock(&hv->lock);
    n = (int)hv->mem_types.nr;
    for (size_t i = 0; i < max && i < hv->mem_types.nr; i++)
        out[i] = (struct mockhv_mem_range){hv->mem_types.r[i].first, hv->mem_types.r[i].last,
                                           hv->mem_types.r[i].type};
    pthread_mutex_unlock(&hv->lock);
    return n;
}

int mockhv_mem_type(struct mockhv *hv, uint64_t gfn)
{
    int t;

    pthread_mutex_lock(&hv->lock);
    t = (int)hv_memtype_of(hv, gfn);
    pthread_mutex_unlock(&hv->lock);
    return t;
}

int mockhv_ioreq_mem_claim(struct mockhv *hv, uint16_t *id, uint32_t *flags)
{
    int rc = -ENOENT;

    pthread_mutex_lock(&hv->lock);
    if (hv->ioreq_mem.claimed) {
        *id = hv->ioreq_mem.server;
        *flags = hv->ioreq_mem.flags;
        rc = 0;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_cacheattrs(struct mockhv *hv, struct mockhv_mem_range *out, size_t max)
{
    int n;

    pthread_mutex_lock(&hv->lock);
    n = (int)hv->nr_cacheattr;
    for (size_t i = 0; i < max && i < hv->nr_cacheattr; i++)
        out[i] = (struct mockhv_mem_range){hv->cacheattr[i].first, hv->cacheattr[i].last,
                                           hv->cacheattr[i].type};
    pthread_mutex_unlock(&hv->lock);
    return n;
}
