/*
 * Guest memory: copy to and from guest-physical addresses, or map a range
 * for zero-copy access. Every guest address is hostile: an access succeeds
 * only if every byte of it is valid guest RAM.
 *
 * Two backends share this interface: a bounded map cache (gmem-cache.c,
 * its header in mapcache/ for the server and its tests alone) whose Xen
 * mapper (gmem-xen.c) maps with xenforeignmemory_map and reports writes
 * with xendevicemodel_modified_memory, and a flat buffer for unit tests
 * (gmem-flat.c). Devices see this interface only.
 *
 * Writes into guest RAM go into the dirty log Xen keeps for live migration,
 * while the toolstack has dirty logging on (gmem_set_dirty_log): outside
 * log-dirty mode Xen's modified_memory takes the call and logs nothing, so
 * each report would be a hypercall for nothing. A backend may report them
 * as they happen or collect them until
 * gmem_flush_dirty(); the ioreq server flushes before it raises an
 * interrupt and once the other callbacks of a loop turn have run (before
 * the loop sleeps), so the guest is never told of data that is not in the
 * dirty log yet.
 */
#ifndef IOREQ_GMEM_H
#define IOREQ_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define GMEM_PROT_READ  1
#define GMEM_PROT_WRITE 2

/*
 * Mappings of at most a page each that gmem_map() holds at once without
 * -ENOMEM, on every backend as configured by default (the map cache pins
 * one bucket per mapping). A device that keeps several mappings per request
 * sizes its requests by it.
 */
#define GMEM_MAPS_HELD_MIN 1024u

struct gmem_stats {
    uint64_t hits;          /* lookups answered by an existing mapping */
    uint64_t misses;        /* lookups that had to map */
    uint64_t evictions;     /* mappings dropped to stay under the cap */
    uint64_t invalidations; /* whole-cache flushes (IOREQ_TYPE_INVALIDATE) */
    uint64_t faults;        /* accesses refused: unmapped or invalid frames */
    uint64_t mapped_bytes;  /* bytes currently mapped */
    uint64_t dirty_reports; /* modified-memory calls made to the hypervisor */
    uint64_t dirty_refused; /* frames the hypervisor refused to log, after retrying the rest */
};

struct gmem_ops {
    int (*read)(void *opaque, uint64_t gpa, void *buf, size_t len);
    int (*write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
    int (*map)(void *opaque, uint64_t gpa, size_t len, int prot, void **ptr);
    void (*unmap)(void *opaque, void *ptr, size_t len);
    void (*invalidate)(void *opaque);
    void (*stats)(void *opaque, struct gmem_stats *out);
    void (*free)(void *opaque);
    /* May be NULL: a backend with no dirty log. */
    void (*mark_dirty)(void *opaque, uint64_t gpa, size_t len);
    void (*flush_dirty)(void *opaque);
    /* May be NULL: holds are not counted (gmem_dirty_held is false). */
    void (*hold_dirty)(void *opaque, bool hold);
    bool (*dirty_held)(void *opaque);
    /* May be NULL: the backend has no dirty log to switch. */
    void (*set_dirty_log)(void *opaque, bool on);
};

struct gmem {
    const struct gmem_ops *ops;
    void *opaque;
};

/*
 * 0 or -EFAULT; accesses may cross page and mapping boundaries. The map
 * cache also answers -ENOMEM when every mapping under its cap is held by
 * gmem_map().
 */
int gmem_read(struct gmem *gm, uint64_t gpa, void *buf, size_t len) must_check;
int gmem_write(struct gmem *gm, uint64_t gpa, const void *buf, size_t len) must_check;

/*
 * Maps [gpa, gpa+len) contiguously into *ptr; 0, or -EFAULT if any byte is not
 * guest RAM, or -ENOMEM. The mapping stays valid until gmem_unmap(), even
 * across gmem_invalidate() (the cache drops it when it is unmapped).
 * A writable mapping counts as modified memory when it is unmapped.
 */
int gmem_map(struct gmem *gm, uint64_t gpa, size_t len, int prot, void **ptr) must_check;
void gmem_unmap(struct gmem *gm, void *ptr, size_t len);

/*
 * [gpa, gpa+len) was written through a mapping that stays held (a virtqueue's
 * used ring): it goes into the dirty log now rather than at gmem_unmap().
 */
void gmem_mark_dirty(struct gmem *gm, uint64_t gpa, size_t len);
/* Reports every write collected so far; cheap when there is none. */
void gmem_flush_dirty(struct gmem *gm);

/*
 * Switches the reporting of writes on or off (the map cache starts with it
 * on). Switching off first reports what was collected. A writable
 * gmem_map() is reported at its unmap if the log is on then, so a request
 * in flight when the log goes on is not missed.
 */
void gmem_set_dirty_log(struct gmem *gm, bool on);

/*
 * A device with requests in flight holds the report of collected writes
 * back until they complete: their completion writes into guest RAM again
 * (the used ring) and reports before its interrupt, so what the request's
 * submission wrote (a virtqueue's avail_event) goes out in the same call.
 * The owner's end-of-turn flush skips while gmem_dirty_held(); the last
 * release wakes the owner again if writes are waiting. Holds nest.
 * The report is then as late as the data of the requests in flight, which
 * the toolstack has to wait for anyway before the dirty log's last round.
 */
void gmem_hold_dirty(struct gmem *gm);
void gmem_release_dirty(struct gmem *gm);
bool gmem_dirty_held(struct gmem *gm);

/* Drops every cached mapping not currently held by gmem_map(). */
void gmem_invalidate(struct gmem *gm);
void gmem_get_stats(struct gmem *gm, struct gmem_stats *out);
void gmem_free(struct gmem *gm);

/* Flat backend: guest RAM is [0, size) of `buf` (not owned). */
struct gmem *gmem_flat_new(void *buf, size_t size);

#endif
