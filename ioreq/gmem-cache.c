/*
 * The map cache. Guest RAM is seen through aligned buckets of frames mapped
 * by the mapper on first use; a bucket records which of its frames mapped,
 * because a hostile guest points at holes and past the end of RAM and those
 * frames must fail with -EFAULT instead of faulting the daemon.
 *
 * Entries:
 *  - cached buckets live in a hash (by bucket index) and an LRU list; each
 *    costs its size against the cap, mapped or not (a bucket where nothing
 *    mapped is kept as a negative entry so a guest cannot make us retry the
 *    mapping on every access);
 *  - gmem_map() pins the entry it returns a pointer into; a range crossing
 *    buckets gets a private "span" mapping of exactly its frames;
 *  - pinned entries are never evicted; gmem_invalidate() drops every cached
 *    entry, and those still pinned move to the held list and are unmapped
 *    when their last pin goes.
 *
 * While the dirty log is on (gmem_set_dirty_log), every write into guest
 * RAM is reported to the mapper's modified() hook, once per call for the
 * frames it covered; writable gmem_map()s are reported when they are
 * unmapped. With gmem_cache_defer_dirty() the reports
 * are collected instead and go out in one bulk call per gmem_flush_dirty():
 * on the mock, as on Xen, each report is a round trip to the hypervisor,
 * and a virtio-blk request makes two or three of them.
 */
#include "gmem-cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "spare-list.h"

_Static_assert((GMEM_CACHE_DEFAULT_BYTES >> (GMEM_PAGE_SHIFT + GMEM_CACHE_DEFAULT_SHIFT)) >=
                   GMEM_MAPS_HELD_MIN,
               "the default map cache holds the mappings gmem.h promises");

#define CACHE_HASH_HEADS 64
/* Live gmem_map()s are found by their pointer at unmap: a virtio queue holds
 * hundreds of them, so a list would be walked end to end for each. */
#define PIN_HASH_HEADS 256
/* Pin records kept for reuse rather than freed: one per mapped segment. */
#define PIN_POOL_MAX 256
/* A written run is merged into one of the last few collected, or added:
 * overlapping runs are harmless, a long scan per write is not. */
#define DIRTY_MERGE_SCAN 8

struct cache_entry {
    uint64_t gfn;       /* first frame */
    size_t nr;          /* frames */
    uint8_t *va;        /* NULL: nothing mapped (negative entry) */
    uint64_t *valid;    /* bitmap: frame i mapped */
    unsigned pins;      /* live gmem_map()s into this entry */
    bool cached;        /* in the hash and the LRU list; otherwise on the held list */
    uint64_t mapped_ms; /* when it was mapped (GMEM_CACHE_RETRY_MS) */
    struct cache_entry *hnext;
    struct cache_entry *prev, *next; /* LRU (most recent first) or held list */
};

struct cache_pin {
    uint8_t *ptr;
    size_t len;
    uint64_t gpa;
    int prot;
    struct cache_entry *entry;
    struct cache_pin *next;
};

struct cache_list {
    struct cache_entry *head, *tail;
};

struct gmem_cache {
    struct gmem gm;
    struct gmem_mapper mapper;
    pthread_mutex_t lock;
    unsigned shift;      /* frames per bucket = 1 << shift */
    size_t bucket_bytes; /* bytes per bucket */
    size_t cap;          /* on cost */
    size_t cost;         /* bytes accounted to every entry, mapped or not */
    struct cache_entry *hash[CACHE_HASH_HEADS];
    struct cache_list lru;
    struct cache_list held;
    struct cache_pin *pins[PIN_HASH_HEADS];
    unsigned nr_pins;
    struct spare_list spare_pins;
    struct gmem_stats stats;

    bool dirty_log;                /* writes are reported (gmem_set_dirty_log) */
    void (*dirty_wake)(void *arg); /* NULL: report each write at once */
    void *dirty_arg;
    struct gmem_extent dirty[GMEM_DIRTY_EXTENTS];
    unsigned nr_dirty;
    unsigned dirty_holds; /* gmem_hold_dirty() not yet released */
};

static void list_del(struct cache_list *l, struct cache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push(struct cache_list *l, struct cache_entry *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    else
        l->tail = e;
    l->head = e;
}

static unsigned hash_of(uint64_t bidx)
{
    return (unsigned)((bidx * 0x9e3779b97f4a7c15ull) >> 58) & (CACHE_HASH_HEADS - 1);
}

static void hash_del(struct gmem_cache *c, struct cache_entry *e)
{
    struct cache_entry **pp = &c->hash[hash_of(e->gfn >> c->shift)];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
}

static size_t entry_bytes(const struct cache_entry *e)
{
    return e->nr * GMEM_PAGE_SIZE;
}

static void entry_destroy(struct gmem_cache *c, struct cache_entry *e)
{
    if (e->va) {
        c->mapper.ops->unmap(c->mapper.opaque, e->va, e->nr);
        c->stats.mapped_bytes -= entry_bytes(e);
    }
    c->cost -= entry_bytes(e);
    free(e->valid);
    free(e);
}

/* Drops a cached entry: unmapped now, or once its last pin goes. */
static void entry_uncache(struct gmem_cache *c, struct cache_entry *e)
{
    hash_del(c, e);
    list_del(&c->lru, e);
    e->cached = false;
    if (e->pins)
        list_push(&c->held, e);
    else
        entry_destroy(c, e);
}

static uint64_t cache_now_ms(const struct gmem_cache *c)
{
    struct timespec ts;

    if (c->mapper.ops->now_ms)
        return c->mapper.ops->now_ms(c->mapper.opaque);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Evicts least recently used, unpinned buckets until `need` more bytes fit. */
static int make_room(struct gmem_cache *c, size_t need)
{
    if (need > c->cap)
        return -ENOMEM;
    struct cache_entry *e = c->lru.tail;
    while (c->cost + need > c->cap) {
        while (e && e->pins)
            e = e->prev;
        if (!e)
            return -ENOMEM;
        struct cache_entry *victim = e;
        e = e->prev;
        entry_uncache(c, victim);
        c->stats.evictions++;
    }
    return 0;
}

/* Maps [gfn, gfn + nr) into a new entry, or returns NULL (-ENOMEM). */
static struct cache_entry *entry_map(struct gmem_cache *c, uint64_t gfn, size_t nr)
{
    struct cache_entry *e = calloc(1, sizeof(*e));
    int *err = calloc(nr, sizeof(*err));
    size_t words = (nr + 63) / 64;

    if (!e || !err)
        goto fail;
    e->valid = calloc(words, sizeof(*e->valid));
    if (!e->valid)
        goto fail;
    e->gfn = gfn;
    e->nr = nr;
    e->va = c->mapper.ops->map(c->mapper.opaque, gfn, nr, err);
    if (e->va) {
        for (size_t i = 0; i < nr; i++)
            if (err[i] == 0)
                e->valid[i / 64] |= 1ull << (i % 64);
        c->stats.mapped_bytes += entry_bytes(e);
    }
    c->cost += entry_bytes(e);
    free(err);
    return e;
fail:
    if (e)
        free(e->valid);
    free(e);
    free(err);
    return NULL;
}

static bool entry_valid(const struct cache_entry *e, size_t first, size_t nr)
{
    if (!e->va)
        return false;
    for (size_t i = first; i < first + nr; i++)
        if (!(e->valid[i / 64] & (1ull << (i % 64))))
            return false;
    return true;
}

/* The bucket with index bidx, mapped if needed: 0 or -ENOMEM. */
static int bucket_get(struct gmem_cache *c, uint64_t bidx, struct cache_entry **out)
{
    unsigned h = hash_of(bidx);

    for (struct cache_entry *e = c->hash[h]; e; e = e->hnext) {
        if (e->gfn >> c->shift == bidx) {
            c->stats.hits++;
            list_del(&c->lru, e);
            list_push(&c->lru, e);
            *out = e;
            return 0;
        }
    }

    c->stats.misses++;
    int rc = make_room(c, c->bucket_bytes);
    if (rc)
        return rc;
    struct cache_entry *e = entry_map(c, bidx << c->shift, (size_t)1 << c->shift);
    if (!e)
        return -ENOMEM;
    e->cached = true;
    e->mapped_ms = cache_now_ms(c);
    e->hnext = c->hash[h];
    c->hash[h] = e;
    list_push(&c->lru, e);
    *out = e;
    return 0;
}

/*
 * The bucket holding frames [first, first + nr) of bucket bidx, all of them
 * mapped: 0, -EFAULT or -ENOMEM. Xen sends INVALIDATE when guest memory goes
 * away but not when it is populated again (a balloon giving pages back), so
 * a cached bucket that says a frame is missing is mapped once more before
 * the access is refused, if it is old enough (GMEM_CACHE_RETRY_MS); a held
 * (pinned) bucket stays, and its frames were valid when it was pinned.
 */
static int bucket_get_valid(struct gmem_cache *c, uint64_t bidx, size_t first, size_t nr,
                            struct cache_entry **out)
{
    struct cache_entry *e;
    int rc = bucket_get(c, bidx, &e);

    if (rc)
        return rc;
    if (!entry_valid(e, first, nr) && e->cached && !e->pins &&
        cache_now_ms(c) - e->mapped_ms >= GMEM_CACHE_RETRY_MS) {
        entry_uncache(c, e);
        rc = bucket_get(c, bidx, &e);
        if (rc)
            return rc;
    }
    if (!entry_valid(e, first, nr)) {
        c->stats.faults++;
        return -EFAULT;
    }
    *out = e;
    return 0;
}

static bool range_ok(uint64_t gpa, size_t len)
{
    return len != 0 && gpa + (len - 1) >= gpa;
}

/*
 * Walks [gpa, gpa + len) bucket by bucket. With `copy_to_guest` NULL and
 * `copy_from_guest` NULL it only checks that every frame is mapped.
 */
static int cache_walk(struct gmem_cache *c, uint64_t gpa, size_t len, void *copy_from_guest,
                      const void *copy_to_guest)
{
    size_t done = 0;

    while (done < len) {
        uint64_t at = gpa + done;
        uint64_t bidx = at >> (GMEM_PAGE_SHIFT + c->shift);
        size_t off = (size_t)(at - (bidx << (GMEM_PAGE_SHIFT + c->shift)));
        size_t chunk = c->bucket_bytes - off;
        struct cache_entry *e;

        if (chunk > len - done)
            chunk = len - done;
        size_t first = off >> GMEM_PAGE_SHIFT;
        size_t last = (off + chunk - 1) >> GMEM_PAGE_SHIFT;
        int rc = bucket_get_valid(c, bidx, first, last - first + 1, &e);
        if (rc)
            return rc;
        if (copy_from_guest)
            memcpy((uint8_t *)copy_from_guest + done, e->va + off, chunk);
        if (copy_to_guest)
            memcpy(e->va + off, (const uint8_t *)copy_to_guest + done, chunk);
        done += chunk;
    }
    return 0;
}

static void dirty_flush_locked(struct gmem_cache *c)
{
    const struct gmem_mapper_ops *ops = c->mapper.ops;

    if (!c->nr_dirty)
        return;
    if (ops->modified_bulk) {
        c->stats.dirty_refused += ops->modified_bulk(c->mapper.opaque, c->dirty, c->nr_dirty);
        c->stats.dirty_reports++;
    } else if (ops->modified) {
        for (unsigned i = 0; i < c->nr_dirty; i++)
            c->stats.dirty_refused +=
                ops->modified(c->mapper.opaque, c->dirty[i].gfn, c->dirty[i].nr);
        c->stats.dirty_reports += c->nr_dirty;
    }
    c->nr_dirty = 0;
}

/* Joins [first, first + nr) to a collected run it touches, or adds a run. */
static void dirty_collect(struct gmem_cache *c, uint64_t first, uint64_t nr)
{
    uint64_t end = first + nr;

    for (unsigned i = c->nr_dirty, scanned = 0; i-- > 0 && scanned++ < DIRTY_MERGE_SCAN;) {
        struct gmem_extent *x = &c->dirty[i];
        uint64_t xend = x->gfn + x->nr;

        if (first > xend || end < x->gfn)
            continue;
        uint64_t lo = first < x->gfn ? first : x->gfn;
        uint64_t hi = end > xend ? end : xend;
        if (hi - lo > UINT32_MAX)
            continue; /* the hypercall's count is 32-bit: keep a run of its own */
        x->gfn = lo;
        x->nr = (uint32_t)(hi - lo);
        return;
    }
    while (nr) {
        uint32_t n = nr > UINT32_MAX ? UINT32_MAX : (uint32_t)nr;

        if (c->nr_dirty == GMEM_DIRTY_EXTENTS)
            dirty_flush_locked(c);
        if (c->nr_dirty == 0)
            c->dirty_wake(c->dirty_arg);
        c->dirty[c->nr_dirty++] = (struct gmem_extent){.gfn = first, .nr = n};
        first += n;
        nr -= n;
    }
}

static void report_modified(struct gmem_cache *c, uint64_t gpa, size_t len)
{
    uint64_t first = gpa >> GMEM_PAGE_SHIFT;
    uint64_t last = (gpa + (len - 1)) >> GMEM_PAGE_SHIFT;

    if (!c->dirty_log)
        return;
    if (c->dirty_wake) {
        dirty_collect(c, first, last - first + 1);
    } else if (c->mapper.ops->modified) {
        c->stats.dirty_refused +=
            c->mapper.ops->modified(c->mapper.opaque, first, last - first + 1);
        c->stats.dirty_reports++;
    }
}

static int cache_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct gmem_cache *c = opaque;
    int rc;

    pthread_mutex_lock(&c->lock);
    if (!range_ok(gpa, len)) {
        c->stats.faults++;
        rc = -EFAULT;
        goto out;
    }
    rc = cache_walk(c, gpa, len, buf, NULL);
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int cache_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct gmem_cache *c = opaque;
    int rc;

    pthread_mutex_lock(&c->lock);
    if (!range_ok(gpa, len)) {
        c->stats.faults++;
        rc = -EFAULT;
        goto out;
    }
    /* All or nothing: check every frame before the first byte lands. */
    rc = cache_walk(c, gpa, len, NULL, NULL);
    if (rc)
        goto out;
    rc = cache_walk(c, gpa, len, NULL, buf);
    /* A second walk can only fail if a tiny cap evicted and the remap failed. */
    report_modified(c, gpa, len);
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static unsigned pin_hash(const void *ptr)
{
    return (unsigned)(((uintptr_t)ptr * 0x9e3779b97f4a7c15ull) >> 56) & (PIN_HASH_HEADS - 1);
}

static struct cache_pin *pin_alloc(struct gmem_cache *c)
{
    struct cache_pin *pin = spare_get(&c->spare_pins);

    if (!pin)
        return calloc(1, sizeof(*pin));
    memset(pin, 0, sizeof(*pin));
    return pin;
}

static int cache_map(void *opaque, uint64_t gpa, size_t len, int prot, void **ptr)
{
    struct gmem_cache *c = opaque;
    struct cache_entry *e = NULL;
    struct cache_pin *pin = NULL;
    int rc;

    pthread_mutex_lock(&c->lock);
    if (!range_ok(gpa, len)) {
        c->stats.faults++;
        rc = -EFAULT;
        goto out;
    }
    pin = pin_alloc(c);
    if (!pin) {
        rc = -ENOMEM;
        goto out;
    }

    unsigned bshift = GMEM_PAGE_SHIFT + c->shift;
    uint64_t first_gfn = gpa >> GMEM_PAGE_SHIFT;
    uint64_t last_gfn = (gpa + (len - 1)) >> GMEM_PAGE_SHIFT;
    if (gpa >> bshift == (gpa + (len - 1)) >> bshift) {
        uint64_t bucket_gfn = (gpa >> bshift) << c->shift;
        rc = bucket_get_valid(c, gpa >> bshift, (size_t)(first_gfn - bucket_gfn),
                              (size_t)(last_gfn - first_gfn + 1), &e);
        if (rc)
            goto out;
    } else {
        /* Crosses buckets: a private mapping of exactly these frames. */
        size_t nr = (size_t)(last_gfn - first_gfn + 1);
        if (last_gfn - first_gfn >= c->cap / GMEM_PAGE_SIZE) {
            rc = -ENOMEM;
            goto out;
        }
        c->stats.misses++;
        rc = make_room(c, nr * GMEM_PAGE_SIZE);
        if (rc)
            goto out;
        e = entry_map(c, first_gfn, nr);
        if (!e) {
            rc = -ENOMEM;
            goto out;
        }
        if (!entry_valid(e, 0, nr)) {
            entry_destroy(c, e);
            c->stats.faults++;
            rc = -EFAULT;
            goto out;
        }
        list_push(&c->held, e);
    }

    e->pins++;
    pin->ptr = e->va + ((first_gfn - e->gfn) << GMEM_PAGE_SHIFT) + (gpa & (GMEM_PAGE_SIZE - 1));
    pin->len = len;
    pin->gpa = gpa;
    pin->prot = prot;
    pin->entry = e;
    unsigned h = pin_hash(pin->ptr);
    pin->next = c->pins[h];
    c->pins[h] = pin;
    c->nr_pins++;
    *ptr = pin->ptr;
    pin = NULL;
    rc = 0;
out:
    if (pin)
        spare_put(&c->spare_pins, pin);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void cache_unmap(void *opaque, void *ptr, size_t len)
{
    struct gmem_cache *c = opaque;
    struct cache_pin **pp;

    pthread_mutex_lock(&c->lock);
    for (pp = &c->pins[pin_hash(ptr)]; *pp; pp = &(*pp)->next)
        if ((*pp)->ptr == ptr && (*pp)->len == len)
            break;
    struct cache_pin *pin = *pp;
    if (!pin) {
        log_error("gmem: unmap of %p (%zu bytes) that was not mapped", ptr, len);
        goto out;
    }
    *pp = pin->next;
    c->nr_pins--;

    struct cache_entry *e = pin->entry;
    if (pin->prot & GMEM_PROT_WRITE)
        report_modified(c, pin->gpa, pin->len);
    if (--e->pins == 0 && !e->cached) {
        list_del(&c->held, e);
        entry_destroy(c, e);
    }
    spare_put(&c->spare_pins, pin);
out:
    pthread_mutex_unlock(&c->lock);
}

static void cache_mark_dirty(void *opaque, uint64_t gpa, size_t len)
{
    struct gmem_cache *c = opaque;

    if (!range_ok(gpa, len))
        return;
    pthread_mutex_lock(&c->lock);
    report_modified(c, gpa, len);
    pthread_mutex_unlock(&c->lock);
}

static void cache_flush_dirty(void *opaque)
{
    struct gmem_cache *c = opaque;

    pthread_mutex_lock(&c->lock);
    dirty_flush_locked(c);
    pthread_mutex_unlock(&c->lock);
}

static void cache_hold_dirty(void *opaque, bool hold)
{
    struct gmem_cache *c = opaque;

    pthread_mutex_lock(&c->lock);
    if (hold) {
        c->dirty_holds++;
    } else if (c->dirty_holds && --c->dirty_holds == 0 && c->nr_dirty && c->dirty_wake) {
        /* The owner skipped its flush while held: it is due now. */
        c->dirty_wake(c->dirty_arg);
    }
    pthread_mutex_unlock(&c->lock);
}

static void cache_set_dirty_log(void *opaque, bool on)
{
    struct gmem_cache *c = opaque;

    pthread_mutex_lock(&c->lock);
    if (!on)
        dirty_flush_locked(c);
    c->dirty_log = on;
    pthread_mutex_unlock(&c->lock);
}

static bool cache_dirty_held(void *opaque)
{
    struct gmem_cache *c = opaque;
    bool held;

    pthread_mutex_lock(&c->lock);
    held = c->dirty_holds > 0;
    pthread_mutex_unlock(&c->lock);
    return held;
}

static void cache_invalidate(void *opaque)
{
    struct gmem_cache *c = opaque;

    pthread_mutex_lock(&c->lock);
    while (c->lru.head)
        entry_uncache(c, c->lru.head);
    c->stats.invalidations++;
    pthread_mutex_unlock(&c->lock);
}

static void cache_stats(void *opaque, struct gmem_stats *out)
{
    struct gmem_cache *c = opaque;

    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

static void cache_free(void *opaque)
{
    struct gmem_cache *c = opaque;

    dirty_flush_locked(c);
    while (c->lru.head)
        entry_uncache(c, c->lru.head);
    if (c->nr_pins)
        log_error("gmem: freed with guest memory still mapped");
    for (unsigned h = 0; h < PIN_HASH_HEADS; h++) {
        while (c->pins[h]) {
            struct cache_pin *pin = c->pins[h];
            c->pins[h] = pin->next;
            free(pin);
        }
    }
    spare_free_all(&c->spare_pins);
    while (c->held.head) {
        struct cache_entry *e = c->held.head;
        list_del(&c->held, e);
        entry_destroy(c, e);
    }
    if (c->mapper.ops->free)
        c->mapper.ops->free(c->mapper.opaque);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static const struct gmem_ops cache_ops = {
    .read = cache_read,
    .write = cache_write,
    .map = cache_map,
    .unmap = cache_unmap,
    .invalidate = cache_invalidate,
    .stats = cache_stats,
    .free = cache_free,
    .mark_dirty = cache_mark_dirty,
    .flush_dirty = cache_flush_dirty,
    .hold_dirty = cache_hold_dirty,
    .dirty_held = cache_dirty_held,
    .set_dirty_log = cache_set_dirty_log,
};

struct gmem *gmem_cache_new(const struct gmem_mapper *mapper, size_t cap_bytes,
                            unsigned bucket_shift)
{
    if (!mapper || !mapper->ops || !mapper->ops->map || !mapper->ops->unmap)
        return NULL;
    if (bucket_shift == 0)
        bucket_shift = GMEM_CACHE_DEFAULT_SHIFT;
    if (bucket_shift > GMEM_CACHE_MAX_SHIFT)
        return NULL;

    struct gmem_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return NULL;
    }
    c->mapper = *mapper;
    c->dirty_log = true;
    c->spare_pins.max = PIN_POOL_MAX;
    c->shift = bucket_shift;
    c->bucket_bytes = GMEM_PAGE_SIZE << bucket_shift;
    c->cap = cap_bytes ? cap_bytes : GMEM_CACHE_DEFAULT_BYTES;
    if (c->cap < c->bucket_bytes)
        c->cap = c->bucket_bytes;
    c->gm.ops = &cache_ops;
    c->gm.opaque = c;
    return &c->gm;
}

void gmem_cache_defer_dirty(struct gmem *gm, void (*wake)(void *arg), void *arg)
{
    struct gmem_cache *c = gm->opaque;

    pthread_mutex_lock(&c->lock);
    dirty_flush_locked(c);
    c->dirty_wake = wake;
    c->dirty_arg = arg;
    pthread_mutex_unlock(&c->lock);
}
