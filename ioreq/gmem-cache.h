/*
 * The guest-memory map cache, apart from what maps the frames: guest RAM is
 * mapped in aligned buckets of 2^bucket_shift frames, kept in LRU order
 * under a cap on mapped bytes. The mapper is xenforeignmemory on Xen
 * (gmem-xen.c) and a fake in unit tests, so the bookkeeping is tested on its
 * own.
 *
 * The cache may be used from several threads; each call takes its lock.
 */
#ifndef IOREQ_GMEM_CACHE_H
#define IOREQ_GMEM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

#define GMEM_PAGE_SHIFT 12
#define GMEM_PAGE_SIZE  ((size_t)1 << GMEM_PAGE_SHIFT)

/*
 * 256 frames: 1 MiB buckets, up to 1024 of them by default, so several
 * maximal virtio-blk requests (each segment pins its own bucket) fit at once.
 */
#define GMEM_CACHE_DEFAULT_SHIFT 8
#define GMEM_CACHE_DEFAULT_BYTES ((size_t)1 << 30)
#define GMEM_CACHE_MAX_SHIFT     16
/*
 * A bucket that says a frame is missing is mapped again when it is at least
 * this old: memory a balloon gives back comes with no INVALIDATE, but a
 * guest hammering a hole costs at most one remap per bucket per interval.
 */
#define GMEM_CACHE_RETRY_MS 10

/* A run of guest frames for the dirty log. */
struct gmem_extent {
    uint64_t gfn;
    uint32_t nr;
};

/* Distinct runs collected before a deferred report is forced out. */
#define GMEM_DIRTY_EXTENTS 64

struct gmem_mapper_ops {
    /*
     * Maps `nr` consecutive guest frames from `gfn`, read-write, and stores 0
     * or -errno per frame in err[]. Returns the address of the first frame,
     * or NULL when nothing at all could be mapped.
     */
    void *(*map)(void *opaque, uint64_t gfn, size_t nr, int *err);
    void (*unmap)(void *opaque, void *addr, size_t nr);
    /*
     * Guest frames [gfn, gfn + nr) were written (dirty log for migration).
     * Returns how many of them the hypervisor refused to log.
     */
    uint64_t (*modified)(void *opaque, uint64_t gfn, uint64_t nr);
    /* The same for several runs in one call; NULL: one modified() per run. */
    uint64_t (*modified_bulk)(void *opaque, const struct gmem_extent *ext, unsigned nr);
    /* Releases the mapper itself; called by gmem_free(). May be NULL. */
    void (*free)(void *opaque);
    /* Milliseconds of a monotonic clock; NULL: CLOCK_MONOTONIC. Tests set it. */
    uint64_t (*now_ms)(void *opaque);
};

struct gmem_mapper {
    const struct gmem_mapper_ops *ops;
    void *opaque;
};

/*
 * cap_bytes: at most this much guest memory mapped at once (0 = default;
 * raised to one bucket if smaller). bucket_shift: log2 of frames per bucket
 * (0 = default, at most GMEM_CACHE_MAX_SHIFT). Reads, writes and maps also
 * fail with -ENOMEM when every mapping under the cap is held by gmem_map().
 */
struct gmem *gmem_cache_new(const struct gmem_mapper *mapper, size_t cap_bytes,
                            unsigned bucket_shift);

/*
 * From now on, writes are collected (adjacent frames merged, up to
 * GMEM_DIRTY_EXTENTS runs) and reported by gmem_flush_dirty() instead of one
 * modified() call per write. `wake` runs when the first write is collected
 * after a flush, so the owner can schedule one; it is called with the
 * cache's lock held and must not call back into the cache.
 */
void gmem_cache_defer_dirty(struct gmem *gm, void (*wake)(void *arg), void *arg);

#endif
