/*
 * Dirty VRAM tracking (XEN_DMOP_track_dirty_vram) as Xen does it with HAP,
 * its usual paging mode: one tracked range per domain, whose RAM frames
 * are write-protected (p2m_ram_logdirty); the guest's first write to one
 * makes it writable again, and each call with the same range reports the
 * frames made writable since the previous one and protects them again
 * (paging_log_dirty_range). A call naming another range moves the
 * tracking there and reports every frame dirty; nr = 0 stops it.
 *
 * What counts is the p2m type, so only the guest's own writes
 * (mockhv_ram_write) and frames newly mapped into the range
 * (relocate_memory) make a frame dirty. Writes that do not go through the
 * guest's p2m do not: a device model's writes through its foreign
 * mapping (rep reads, DMA), Xen's own fill of an unclaimed rep read, and
 * xendevicemodel_modified_memory, which feeds only the log-dirty bitmap
 * used by live migration.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-internal.h"

_Static_assert((HV_VRAM_MAX_FRAMES + 7) / 8 <= WIRE_MAX_MSG - sizeof(struct wire_rep),
               "the largest bitmap fits one reply");

void hv_vram_fini(struct mockhv *hv)
{
    free(hv->vram.dirty);
    hv->vram.dirty = NULL;
    hv->vram.first = hv->vram.nr = 0;
}

/* Frames [gfn, gfn + nr) that are in the tracked range become dirty or clean. */
static void vram_set(struct mockhv *hv, uint64_t gfn, uint64_t nr, bool dirty)
{
    struct hv_vram *v = &hv->vram;
    uint64_t end = gfn + nr < gfn ? UINT64_MAX : gfn + nr, vend = v->first + v->nr;

    /* a tracked range that wraps (Xen does not refuse one) holds no frame */
    if (!v->nr || vend < v->first)
        return;
    for (uint64_t f = gfn > v->first ? gfn : v->first; f < end && f < vend; f++) {
        uint8_t bit = (uint8_t)(1u << ((f - v->first) % 8));

        if (dirty)
            v->dirty[(f - v->first) / 8] |= bit;
        else
            v->dirty[(f - v->first) / 8] &= (uint8_t)~bit;
    }
}

void hv_vram_mark(struct mockhv *hv, uint64_t gfn, uint64_t nr)
{
    vram_set(hv, gfn, nr, true);
}

void hv_vram_forget(struct mockhv *hv, uint64_t gfn, uint64_t nr)
{
    vram_set(hv, gfn, nr, false);
}

int hv_vram_track(struct mockhv *hv, const struct wire_req *req, void *out, uint32_t *out_len)
{
    uint64_t first = req->a[0], nr = req->a[1], bytes = (nr + 7) / 8;
    struct hv_vram *v = &hv->vram;
    uint8_t *dirty;

    /* dm.c: at most 1 GiB of frames, and a caller buffer holding the bitmap */
    if (nr > HV_VRAM_MAX_FRAMES || bytes > req->a[2])
        return -EINVAL;
    if (nr == 0) {
        hv_vram_fini(hv);
        return 0;
    }
    if (!v->dirty || first != v->first || nr != v->nr) {
        dirty = calloc(1, bytes);
        if (!dirty)
            return -ENOMEM;
        free(v->dirty);
        v->dirty = dirty;
        v->first = first;
        v->nr = nr;
        /* the whole bitmap, pad bits of the last byte included */
        memset(out, 0xff, bytes);
    } else {
        memcpy(out, v->dirty, bytes);
        memset(v->dirty, 0, bytes);
    }
    *out_len = (uint32_t)bytes;
    return 0;
}
