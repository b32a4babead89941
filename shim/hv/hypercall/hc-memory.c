/*
 * memory_op, as common/memory.c and arch/x86/mm.c answer an HVM domU, in
 * the compat (32-bit) layouts:
 *  - XENMEM_memory_map: the e820 the toolstack set (libxl's
 *    domain_construct_memmap), -ENOSYS before it did;
 *  - XENMEM_add_to_physmap: the shared info page (idx 0), one frame
 *    (XENMAPSPACE_gmfn) or a run of them (gmfn_range, one frame at a time,
 *    stopping at the first failure) moved as xenmem_add_to_physmap_one
 *    does: the source becomes a hole, RAM at the destination is given back;
 *  - XENMEM_populate_physmap / decrease_reservation: extents of the
 *    domain's headroom (libxl's maximum is RAM + 1 MiB), the count done as
 *    the answer, never an error code; a hole given back counts as done;
 *  - the reservation queries.
 * Where Xen would continue a long call through a continuation, the mock
 * stops at a bound (HC_MEMOP_MAX extents, HC_MEMOP_PAGES pages) and
 * answers the count done, which the ABI allows.
 */
#include <errno.h>
#include <string.h>

#include "hc-internal.h"

#include <xen/memory.h>

#define MEMOP_EXTENT_SHIFT 6 /* cmd = op | start_extent << 6 (xen/include/xen/mm.h) */
#define MEMOP_CMD_MASK     ((1u << MEMOP_EXTENT_SHIFT) - 1)
#define DOMU_MAX_ORDER     9 /* CONFIG_DOMU_MAX_ORDER on x86 */
#define PADDR_FRAMES       (1ull << (HV_PADDR_BITS - 12))
/* the toolstack's memory ops, in memory.h behind __XEN_TOOLS__ */
#ifndef XENMEM_machine_memory_map
#define XENMEM_machine_memory_map 10
#endif
#ifndef XENMEM_set_memory_map
#define XENMEM_set_memory_map 13
#endif

/* compat struct xen_memory_reservation */
struct hc_reservation {
    uint32_t extent_start; /* guest handle of xen_pfn_t (32-bit) */
    uint32_t nr_extents;
    uint32_t extent_order;
    uint32_t mem_flags;
    uint16_t domid;
    uint16_t pad;
};

/* compat struct xen_add_to_physmap */
struct hc_xatp {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint32_t idx;
    uint32_t gpfn;
};

/* compat struct xen_memory_map */
struct hc_memmap {
    uint32_t nr_entries;
    uint32_t buffer;
};

int hc_slack_populate(struct hv_hypercalls *h, uint64_t gfn, bool pinned, int64_t *off)
{
    struct mockhv *hv = h->hv;
    int64_t prev;
    int rc;

    if (h->tot_pages >= h->max_pages)
        return -ENOMEM;
    for (unsigned i = 0; i < HV_SLACK_PAGES; i++) {
        if (h->slack_used[i])
            continue;
        *off = hv_extra_page_offset(hv, HV_XEN_PAGES + i);
        pthread_mutex_lock(&hv->lock);
        prev = hv_p2m_lookup(hv, gfn);
        rc = hv_p2m_map(hv, gfn, *off);
        if (!rc)
            memset(hv->ram + *off, 0, HV_PAGE_SIZE);
        pthread_mutex_unlock(&hv->lock);
        if (rc)
            return rc;
        h->slack_used[i] = true;
        h->slack_pinned[i] = pinned;
        h->tot_pages++;
        /* what was at gfn is freed (guest_physmap_add_page replaces it) */
        if (prev >= 0 && prev < (int64_t)hv->ram_bytes)
            h->tot_pages--;
        else if (prev >= 0 && prev != h->shinfo_off) {
            unsigned j = (unsigned)((prev - (int64_t)hv->ram_bytes) / HV_PAGE_SIZE) - HV_XEN_PAGES;

            if (j < HV_SLACK_PAGES && !h->slack_pinned[j]) {
                h->slack_used[j] = false;
                h->tot_pages--;
            }
        }
        return 0;
    }
    return -ENOMEM;
}

/* guest_remove_page: 0 removed, -ENOENT nothing there (which callers accept). */
static int remove_page(struct hv_hypercalls *h, uint64_t gfn)
{
    struct mockhv *hv = h->hv;
    int64_t off;
    int rc = 0;

    if (gfn >= PADDR_FRAMES)
        return -ENOENT;
    pthread_mutex_lock(&hv->lock);
    off = hv_p2m_lookup(hv, gfn);
    if (off >= 0)
        rc = hv_p2m_map(hv, gfn, -1);
    pthread_mutex_unlock(&hv->lock);
    if (off < 0)
        return -ENOENT;
    if (rc)
        return rc;
    if (off < (int64_t)hv->ram_bytes) {
        h->tot_pages--;
    } else if (off != h->shinfo_off) {
        unsigned j = (unsigned)((off - (int64_t)hv->ram_bytes) / HV_PAGE_SIZE) - HV_XEN_PAGES;

        /* a pinned page stays with whoever maps it (the ring, the console) */
        if (j < HV_SLACK_PAGES && !h->slack_pinned[j]) {
            h->slack_used[j] = false;
            h->tot_pages--;
        }
    }
    return 0;
}

static long reservation(struct hv_hypercalls *h, unsigned op, uint32_t start, uint32_t arg)
{
    struct hc_reservation r;
    uint64_t pages = 0;
    uint32_t i;

    if (hc_read(h, arg, &r, sizeof(r)))
        return start;
    if (r.nr_extents > (UINT32_MAX >> MEMOP_EXTENT_SHIFT) || start >= r.nr_extents)
        return start;
    if (hc_domain(h, r.domid, -EPERM))
        return start;
    /* construct_memop_from_reservation: only the node/address-bits flags
     * and populate-on-demand exist; the mock models neither */
    if (r.mem_flags || r.extent_order > DOMU_MAX_ORDER)
        return start;
    /* guest_handle_subrange_okay over the whole list */
    if (hc_check(h, r.extent_start + (uint64_t)start * 4, (uint64_t)(r.nr_extents - start) * 4))
        return start;
    pthread_mutex_lock(&h->lock);
    for (i = start; i < r.nr_extents; i++) {
        uint32_t gpfn;
        uint64_t n = 1ull << r.extent_order;
        bool failed = false;

        if (i - start >= HC_MEMOP_MAX || pages + n > HC_MEMOP_PAGES) {
            hc_count(h, &h->stats.memop_cut);
            break;
        }
        if (hc_read(h, r.extent_start + (uint64_t)i * 4, &gpfn, 4))
            break;
        pages += n;
        if (op == XENMEM_populate_physmap) {
            int64_t off;

            /* a domU's extent is naturally aligned; headroom pages are not
             * contiguous, so an order > 0 extent is whole pages one by one */
            if ((gpfn & (n - 1)) || gpfn + n > PADDR_FRAMES || h->tot_pages + n > h->max_pages)
                break;
            for (uint64_t j = 0; j < n && !failed; j++)
                failed = hc_slack_populate(h, gpfn + j, false, &off) != 0;
        } else {
            for (uint64_t j = 0; j < n && !failed; j++) {
                int rc = remove_page(h, (uint64_t)gpfn + j);

                failed = rc && rc != -ENOENT;
            }
        }
        if (failed)
            break;
    }
    pthread_mutex_unlock(&h->lock);
    return i;
}

/* XENMAPSPACE_gmfn: frame idx moves to gpfn. */
static int move_frame(struct hv_hypercalls *h, uint64_t idx, uint64_t gpfn)
{
    struct mockhv *hv = h->hv;
    int64_t src, prev;
    int rc;

    if (idx >= PADDR_FRAMES || gpfn >= PADDR_FRAMES)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    src = hv_p2m_lookup(hv, idx);
    prev = hv_p2m_lookup(hv, gpfn);
    if (src < 0)
        rc = -EINVAL; /* get_page_from_mfn found nothing */
    else if (idx == gpfn)
        rc = 0; /* mapped where it is */
    else
        rc = hv_p2m_relocate(hv, idx, gpfn, 1);
    pthread_mutex_unlock(&hv->lock);
    /* RAM that was at the destination is freed */
    if (!rc && idx != gpfn && prev >= 0 && prev < (int64_t)hv->ram_bytes)
        h->tot_pages--;
    return rc;
}

static long add_to_physmap(struct hv_hypercalls *h, uint32_t start, uint32_t arg)
{
    struct hc_xatp x;
    int rc;

    if (start != (uint16_t)start)
        return -EDOM;
    rc = hc_read(h, arg, &x, sizeof(x));
    if (rc)
        return rc;
    if (x.space == XENMAPSPACE_gmfn_foreign)
        return -ENOSYS;
    rc = hc_domain(h, x.domid, -EPERM);
    if (rc)
        return rc;
    pthread_mutex_lock(&h->lock);
    switch (x.space) {
    case XENMAPSPACE_shared_info:
        rc = x.idx == 0 ? hc_shinfo_map(h, x.gpfn) : -EINVAL;
        break;
    case XENMAPSPACE_gmfn:
        rc = move_frame(h, x.idx, x.gpfn);
        break;
    case XENMAPSPACE_gmfn_range:
        if (x.size < start) {
            rc = -EILSEQ;
            break;
        }
        for (uint32_t i = start; i < x.size && !rc; i++)
            rc = move_frame(h, (uint64_t)x.idx + i, (uint64_t)x.gpfn + i);
        break;
    case XENMAPSPACE_grant_table:
        /* no grant table in the mock */
        rc = -EINVAL;
        break;
    default:
        rc = -EINVAL;
        break;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static long memory_map(struct hv_hypercalls *h, uint32_t arg)
{
    struct hc_memmap m;
    struct hc_e820 e[HC_MAX_E820];
    unsigned n;
    int rc = hc_read(h, arg, &m, sizeof(m));

    if (rc)
        return rc;
    pthread_mutex_lock(&h->lock);
    n = h->nr_e820;
    memcpy(e, h->e820, sizeof(e));
    pthread_mutex_unlock(&h->lock);
    if (n == 0)
        return -ENOSYS;
    if (m.nr_entries > n)
        m.nr_entries = n;
    rc = hc_write(h, m.buffer, e, (uint64_t)m.nr_entries * sizeof(e[0]));
    return rc ? rc : hc_write(h, arg, &m, sizeof(m));
}

long hc_memory_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a)
{
    unsigned op = a[0] & MEMOP_CMD_MASK;
    uint32_t start = a[0] >> MEMOP_EXTENT_SHIFT, arg = a[1];
    long rc;

    switch (op) {
    case XENMEM_populate_physmap:
    case XENMEM_decrease_reservation:
        return reservation(h, op, start, arg);
    case XENMEM_add_to_physmap:
        return add_to_physmap(h, start, arg);
    case XENMEM_memory_map:
        return memory_map(h, arg);
    case XENMEM_maximum_ram_page:
        /* the host's highest frame: here, the end of the mock's memory */
        if (start)
            return -EINVAL;
        return (long)((h->hv->ram_bytes >> 12) + HV_EXTRA_PAGES);
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation:
    case XENMEM_maximum_gpfn: {
        uint16_t domid;

        if (start)
            return -EINVAL;
        rc = hc_read(h, arg, &domid, sizeof(domid));
        if (rc)
            return rc;
        rc = hc_domain(h, domid, -EPERM);
        if (rc)
            return rc;
        pthread_mutex_lock(&h->lock);
        if (op == XENMEM_current_reservation)
            rc = (long)h->tot_pages;
        else if (op == XENMEM_maximum_reservation)
            rc = (long)h->max_pages;
        else
            rc = (long)h->hv->max_gfn;
        pthread_mutex_unlock(&h->lock);
        return rc;
    }
    case XENMEM_get_vnumainfo: {
        struct xen_vnuma_topology_info t;

        rc = hc_read(h, arg, &t, sizeof(t));
        if (rc)
            return rc;
        rc = hc_domain(h, t.domid, -EPERM);
        /* no vNUMA configured */
        return rc ? rc : -EOPNOTSUPP;
    }
    case XENMEM_machine_memory_map:
    case XENMEM_set_memory_map:
        hc_count(h, &h->stats.denied);
        return -EPERM;
    default:
        hc_count(h, &h->stats.unknown_subop);
        return -ENOSYS;
    }
}
