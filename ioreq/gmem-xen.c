/*
 * The map cache's mapper on Xen: buckets come from xenforeignmemory_map
 * with a per-frame error array, so holes in guest RAM become invalid frames
 * rather than a failed bucket, and writes go to the dirty log with
 * xendevicemodel_modified_memory (migration would otherwise miss them).
 */
#include "gmem-xen.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "gmem-cache.h"
#include "log.h"

struct gmem_xen {
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    domid_t domid;
};

static void *xen_map(void *opaque, uint64_t gfn, size_t nr, int *err)
{
    struct gmem_xen *x = opaque;
    xen_pfn_t *pfns = malloc(nr * sizeof(*pfns));
    void *va;

    if (!pfns)
        return NULL;
    for (size_t i = 0; i < nr; i++)
        pfns[i] = (xen_pfn_t)(gfn + i);
    va = xenforeignmemory_map(x->fmem, x->domid, PROT_READ | PROT_WRITE, nr, pfns, err);
    if (!va)
        log_debug("gmem: mapping %zu frames at gfn 0x%llx failed: errno %d", nr,
                  (unsigned long long)gfn, errno);
    free(pfns);
    return va;
}

static void xen_unmap(void *opaque, void *addr, size_t nr)
{
    struct gmem_xen *x = opaque;

    if (xenforeignmemory_unmap(x->fmem, addr, nr))
        log_warn("gmem: unmapping %zu frames failed: errno %d", nr, errno);
}

/*
 * Calls a report may spend on retries after Xen refused part of it. Halving
 * a refused run finds a single bad frame in about 2 * 32 calls; a run that
 * is bad throughout would otherwise cost a call per frame.
 */
#define DIRTY_RETRY_CALLS 128

/*
 * Reports [gfn, gfn + nr). Xen refuses a run with EINVAL when it reaches its
 * highest mapped frame or beyond (dm.c, modified_memory: end_pfn >
 * domain_get_maximum_gpfn, so that frame itself too) and logs none of it:
 * halve a refused run, within *calls, so the frames it does take are still
 * logged. Returns the frames left unlogged.
 */
static uint64_t report_run(struct gmem_xen *x, uint64_t gfn, uint32_t nr, unsigned *calls)
{
    uint32_t half;

    if (*calls == 0)
        return nr;
    (*calls)--;
    if (!xendevicemodel_modified_memory(x->dmod, x->domid, gfn, nr) || errno == ESRCH)
        return 0; /* logged, or the domain is gone and with it the log */
    if (errno != EINVAL || nr == 1) {
        log_guest("gmem: modified_memory(0x%llx, %u) refused: errno %d", (unsigned long long)gfn,
                  nr, errno);
        return nr;
    }
    half = nr / 2;
    return report_run(x, gfn, half, calls) + report_run(x, gfn + half, nr - half, calls);
}

static uint64_t xen_modified(void *opaque, uint64_t gfn, uint64_t nr)
{
    struct gmem_xen *x = opaque;
    unsigned calls = DIRTY_RETRY_CALLS;
    uint64_t refused = 0;

    /* The hypercall takes a 32-bit count; a single call never covers that much. */
    while (nr) {
        uint32_t n = nr > UINT32_MAX ? UINT32_MAX : (uint32_t)nr;

        refused += report_run(x, gfn, n, &calls);
        gfn += n;
        nr -= n;
    }
    return refused;
}

/*
 * Several runs in one call. Xen takes them last to first and stops at the
 * first it refuses without saying which (dm.c, modified_memory; the
 * continuation state stays inside the hypervisor), so the runs before that
 * one went unlogged: report each again on its own. Runs logged twice cost
 * nothing; runs lost cost a migrated guest its data.
 */
static uint64_t xen_modified_bulk(void *opaque, const struct gmem_extent *ext, unsigned nr)
{
    struct gmem_xen *x = opaque;
    struct xen_dm_op_modified_memory_extent xe[GMEM_DIRTY_EXTENTS];
    uint64_t refused = 0;

    while (nr) {
        unsigned n = nr < GMEM_DIRTY_EXTENTS ? nr : GMEM_DIRTY_EXTENTS;
        unsigned calls = DIRTY_RETRY_CALLS;

        for (unsigned i = 0; i < n; i++)
            xe[i] =
                (struct xen_dm_op_modified_memory_extent){.first_pfn = ext[i].gfn, .nr = ext[i].nr};
        if (xendevicemodel_modified_memory_bulk(x->dmod, x->domid, xe, n) && errno != ESRCH) {
            log_guest("gmem: modified_memory_bulk(%u runs from 0x%llx) failed: errno %d; "
                      "reporting them one by one",
                      n, (unsigned long long)ext[0].gfn, errno);
            for (unsigned i = 0; i < n; i++)
                refused += report_run(x, ext[i].gfn, ext[i].nr, &calls);
        }
        ext += n;
        nr -= n;
    }
    return refused;
}

static void xen_free(void *opaque)
{
    free(opaque);
}

static const struct gmem_mapper_ops xen_mapper_ops = {
    .map = xen_map,
    .unmap = xen_unmap,
    .modified = xen_modified,
    .modified_bulk = xen_modified_bulk,
    .free = xen_free,
};

struct gmem *gmem_xen_new(xenforeignmemory_handle *fmem, xendevicemodel_handle *dmod, domid_t domid,
                          size_t cap_bytes)
{
    struct gmem_xen *x = calloc(1, sizeof(*x));
    struct gmem *gm;

    if (!x)
        return NULL;
    x->fmem = fmem;
    x->dmod = dmod;
    x->domid = domid;
    struct gmem_mapper mapper = {.ops = &xen_mapper_ops, .opaque = x};
    gm = gmem_cache_new(&mapper, cap_bytes, 0);
    if (!gm)
        free(x);
    return gm;
}
