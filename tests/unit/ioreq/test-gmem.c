/*
 * Guest memory: the flat backend, and the map cache's bookkeeping over a
 * fake mapper that serves frames out of a buffer, with holes, and records
 * every map, unmap and modified-memory report.
 *
 * Cache geometry in these tests: buckets of 4 frames (16 KiB).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gmem-cache.h"
#include "gmem.h"

#define PG        GMEM_PAGE_SIZE
#define SHIFT     2
#define BUCKET    (PG << SHIFT)
#define RAM_PAGES 64 /* frames the fake knows; beyond, nothing maps */

struct fake_mapping {
    void *va;
    size_t nr;
};

struct fake {
    uint8_t *ram;          /* RAM_PAGES frames */
    bool hole[RAM_PAGES];  /* frames that fail to map */
    unsigned maps, unmaps; /* calls */
    struct fake_mapping live[64];
    unsigned nr_live;
    uint64_t mod_gfn[128], mod_nr[128];
    unsigned nr_mod;
    unsigned bulk_calls; /* modified_bulk() calls; their runs land in mod_* too */
    unsigned wakes;      /* the deferred-report hook */
    uint64_t now;        /* the cache's clock, ms: moved by the tests */
};

static void *fake_map(void *opaque, uint64_t gfn, size_t nr, int *err)
{
    struct fake *f = opaque;

    f->maps++;
    if (gfn >= RAM_PAGES || nr > RAM_PAGES - gfn)
        return NULL;
    for (size_t i = 0; i < nr; i++)
        err[i] = f->hole[gfn + i] ? -EFAULT : 0;
    assert_true(f->nr_live < 64);
    f->live[f->nr_live].va = f->ram + gfn * PG;
    f->live[f->nr_live].nr = nr;
    f->nr_live++;
    return f->ram + gfn * PG;
}

static void fake_unmap(void *opaque, void *va, size_t nr)
{
    struct fake *f = opaque;
    unsigned i;

    f->unmaps++;
    for (i = 0; i < f->nr_live; i++)
        if (f->live[i].va == va && f->live[i].nr == nr)
            break;
    assert_true(i < f->nr_live); /* only what was mapped, with its size */
    f->live[i] = f->live[--f->nr_live];
}

static uint64_t fake_modified(void *opaque, uint64_t gfn, uint64_t nr)
{
    struct fake *f = opaque;

    assert_true(f->nr_mod < 128);
    f->mod_gfn[f->nr_mod] = gfn;
    f->mod_nr[f->nr_mod] = nr;
    f->nr_mod++;
    return 0;
}

static uint64_t fake_modified_bulk(void *opaque, const struct gmem_extent *ext, unsigned nr)
{
    struct fake *f = opaque;

    f->bulk_calls++;
    assert_true(nr > 0 && nr <= GMEM_DIRTY_EXTENTS);
    for (unsigned i = 0; i < nr; i++)
        fake_modified(opaque, ext[i].gfn, ext[i].nr);
    return 0;
}

static void fake_wake(void *arg)
{
    ((struct fake *)arg)->wakes++;
}

static uint64_t fake_now_ms(void *opaque)
{
    return ((struct fake *)opaque)->now;
}

static const struct gmem_mapper_ops fake_ops = {
    .map = fake_map,
    .unmap = fake_unmap,
    .modified = fake_modified,
    .now_ms = fake_now_ms,
};

static const struct gmem_mapper_ops fake_bulk_ops = {
    .map = fake_map,
    .unmap = fake_unmap,
    .modified = fake_modified,
    .modified_bulk = fake_modified_bulk,
    .now_ms = fake_now_ms,
};

static struct fake *fake_new(void)
{
    struct fake *f = calloc(1, sizeof(*f));

    f->ram = calloc(RAM_PAGES, PG);
    for (size_t i = 0; i < RAM_PAGES * PG; i++)
        f->ram[i] = (uint8_t)(i * 7);
    return f;
}

static void fake_free(struct fake *f)
{
    free(f->ram);
    free(f);
}

static struct gmem *cache_new(struct fake *f, size_t buckets)
{
    struct gmem_mapper m = {.ops = &fake_ops, .opaque = f};
    struct gmem *gm = gmem_cache_new(&m, buckets * BUCKET, SHIFT);

    assert_non_null(gm);
    return gm;
}

static struct gmem_stats stats_of(struct gmem *gm)
{
    struct gmem_stats s;

    gmem_get_stats(gm, &s);
    return s;
}

static void test_flat(void **state)
{
    uint8_t ram[256];
    uint8_t buf[8];
    void *p;

    for (unsigned i = 0; i < sizeof(ram); i++)
        ram[i] = (uint8_t)i;
    struct gmem *gm = gmem_flat_new(ram, sizeof(ram));

    assert_int_equal(gmem_read(gm, 0xfc, buf, 4), 0);
    assert_int_equal(buf[0], 0xfc);
    assert_int_equal(buf[3], 0xff);
    assert_int_equal(gmem_read(gm, 0xfd, buf, 4), -EFAULT);
    assert_int_equal(gmem_read(gm, 0x100, buf, 1), -EFAULT);
    assert_int_equal(gmem_read(gm, UINT64_MAX - 1, buf, 4), -EFAULT);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(gmem_write(gm, 0x10, buf, 8), 0);
    assert_int_equal(ram[0x10], 0xee);
    assert_int_equal(ram[0x17], 0xee);
    assert_int_equal(ram[0x18], 0x18);
    assert_int_equal(gmem_write(gm, 0xf9, buf, 8), -EFAULT);
    assert_int_equal(ram[0xf9], 0xf9); /* nothing of a refused write lands */
    assert_int_equal(gmem_map(gm, 0, sizeof(ram), GMEM_PROT_READ, &p), 0);
    assert_ptr_equal(p, ram);
    gmem_unmap(gm, p, sizeof(ram));
    assert_int_equal(gmem_map(gm, 1, sizeof(ram), GMEM_PROT_READ, &p), -EFAULT);
    assert_null(p);
    assert_int_equal(gmem_read(gm, 0, buf, 0), 0);

    struct gmem_stats s = stats_of(gm);
    assert_int_equal(s.faults, 5);
    gmem_invalidate(gm);
    assert_int_equal(stats_of(gm).invalidations, 1);
    gmem_free(gm);
}

static void test_cross_bucket(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 4);
    uint8_t in[10], out[10];

    for (unsigned i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(0xa0 + i);
    /* 5 bytes in bucket 0 (frame 3), 5 in bucket 1 (frame 4). */
    assert_int_equal(gmem_write(gm, BUCKET - 5, in, sizeof(in)), 0);
    assert_memory_equal(f->ram + BUCKET - 5, in, sizeof(in));
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], 3);
    assert_int_equal(f->mod_nr[0], 2);
    assert_int_equal(gmem_read(gm, BUCKET - 5, out, sizeof(out)), 0);
    assert_memory_equal(out, in, sizeof(in));
    assert_int_equal(f->nr_mod, 1); /* reads report nothing */

    struct gmem_stats s = stats_of(gm);
    assert_int_equal(s.misses, 2); /* the write's check maps both buckets */
    assert_int_equal(s.hits, 4);   /* the write's copy and the read */
    assert_int_equal(s.mapped_bytes, 2 * BUCKET);
    assert_int_equal(f->maps, 2);

    /* A long copy over many buckets. */
    uint8_t *big = malloc(3 * BUCKET);
    assert_int_equal(gmem_read(gm, 100, big, 3 * BUCKET), 0);
    assert_memory_equal(big, f->ram + 100, 3 * BUCKET);
    free(big);
    gmem_free(gm);
    assert_int_equal(f->nr_live, 0);
    assert_int_equal(f->unmaps, f->maps);
    fake_free(f);
}

static void test_eviction(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 3);
    uint8_t b;

    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(gmem_read(gm, i * BUCKET, &b, 1), 0);
    assert_int_equal(f->maps, 3);
    assert_int_equal(stats_of(gm).mapped_bytes, 3 * BUCKET);

    /* Bucket 0 becomes the most recent; bucket 1 is now the oldest. */
    assert_int_equal(gmem_read(gm, 0, &b, 1), 0);
    assert_int_equal(gmem_read(gm, 3 * BUCKET, &b, 1), 0);
    assert_int_equal(f->maps, 4);
    assert_int_equal(f->unmaps, 1);
    assert_int_equal(stats_of(gm).evictions, 1);
    assert_int_equal(stats_of(gm).mapped_bytes, 3 * BUCKET);
    /* Still cached: 0, 2, 3. */
    assert_int_equal(gmem_read(gm, 2 * BUCKET + 1, &b, 1), 0);
    assert_int_equal(gmem_read(gm, 0, &b, 1), 0);
    assert_int_equal(f->maps, 4);
    /* 1 comes back and pushes out the oldest, 3. */
    assert_int_equal(gmem_read(gm, BUCKET, &b, 1), 0);
    assert_int_equal(f->maps, 5);
    assert_int_equal(gmem_read(gm, 3 * BUCKET, &b, 1), 0);
    assert_int_equal(f->maps, 6);
    assert_int_equal(stats_of(gm).evictions, 3);
    assert_int_equal(f->nr_live, 3);

    struct gmem_stats s = stats_of(gm);
    assert_int_equal(s.misses, 6);
    assert_int_equal(s.hits, 3);
    gmem_free(gm);
    assert_int_equal(f->nr_live, 0);
    fake_free(f);
}

static void test_pins(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 2);
    void *p0, *p1;
    uint8_t b;

    assert_int_equal(gmem_map(gm, 16, 32, GMEM_PROT_READ, &p0), 0);
    assert_ptr_equal(p0, f->ram + 16);
    assert_int_equal(gmem_map(gm, BUCKET + 8, 8, GMEM_PROT_READ | GMEM_PROT_WRITE, &p1), 0);
    assert_ptr_equal(p1, f->ram + BUCKET + 8);

    /* Both buckets are held: nothing can be evicted for a third. */
    assert_int_equal(gmem_read(gm, 2 * BUCKET, &b, 1), -ENOMEM);
    assert_int_equal(f->maps, 2);

    memset(p1, 0x5c, 8);
    gmem_unmap(gm, p1, 8);
    /* A writable mapping is reported when it goes. */
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], 4);
    assert_int_equal(f->mod_nr[0], 1);
    /* Unpinned, it is cached still, and evictable. */
    assert_int_equal(f->unmaps, 0);
    assert_int_equal(gmem_read(gm, 2 * BUCKET, &b, 1), 0);
    assert_int_equal(f->unmaps, 1);
    assert_int_equal(stats_of(gm).evictions, 1);

    gmem_unmap(gm, p0, 32);
    assert_int_equal(f->nr_mod, 1); /* read-only: no report */
    gmem_free(gm);
    fake_free(f);
}

static void test_invalidate_pinned(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 4);
    uint8_t b;
    void *p;

    assert_int_equal(gmem_map(gm, 100, 4, GMEM_PROT_WRITE, &p), 0);
    assert_int_equal(gmem_read(gm, BUCKET, &b, 1), 0);
    assert_int_equal(f->nr_live, 2);

    gmem_invalidate(gm);
    /* The unpinned bucket is gone at once; the pinned one stays usable. */
    assert_int_equal(f->unmaps, 1);
    assert_int_equal(f->nr_live, 1);
    assert_int_equal(stats_of(gm).invalidations, 1);
    assert_int_equal(stats_of(gm).mapped_bytes, BUCKET);
    memcpy(p, "\x01\x02\x03\x04", 4);
    assert_int_equal(f->ram[100], 1);

    /* New lookups no longer see the invalidated bucket: they map afresh. */
    assert_int_equal(gmem_read(gm, 101, &b, 1), 0);
    assert_int_equal(b, 2);
    assert_int_equal(f->maps, 3);
    assert_int_equal(stats_of(gm).mapped_bytes, 2 * BUCKET);

    gmem_unmap(gm, p, 4);
    assert_int_equal(f->unmaps, 2);
    assert_int_equal(f->nr_live, 1);
    assert_int_equal(stats_of(gm).mapped_bytes, BUCKET);
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], 0);
    assert_int_equal(f->mod_nr[0], 1);
    gmem_free(gm);
    assert_int_equal(f->nr_live, 0);
    fake_free(f);
}

static void test_span_map(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 4);
    void *p;

    /* 16 bytes across the bucket 0/1 boundary: one private 2-frame mapping. */
    assert_int_equal(gmem_map(gm, BUCKET - 8, 16, GMEM_PROT_READ | GMEM_PROT_WRITE, &p), 0);
    assert_ptr_equal(p, f->ram + BUCKET - 8);
    assert_int_equal(f->maps, 1);
    assert_int_equal(f->live[0].nr, 2);
    assert_int_equal(stats_of(gm).mapped_bytes, 2 * PG);
    memset(p, 0x11, 16);
    gmem_unmap(gm, p, 16);
    assert_int_equal(f->ram[BUCKET - 8], 0x11);
    assert_int_equal(f->ram[BUCKET + 7], 0x11);
    assert_int_equal(f->unmaps, 1);
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], 3);
    assert_int_equal(f->mod_nr[0], 2);
    assert_int_equal(stats_of(gm).mapped_bytes, 0);

    /* Larger than the cap. */
    assert_int_equal(gmem_map(gm, 0, 4 * BUCKET + 1, GMEM_PROT_READ, &p), -ENOMEM);
    assert_null(p);

    /* A hole inside the span: refused, nothing left mapped. */
    f->hole[5] = true;
    assert_int_equal(gmem_map(gm, BUCKET - 8, 2 * PG, GMEM_PROT_READ, &p), -EFAULT);
    assert_int_equal(f->nr_live, 0);
    assert_int_equal(stats_of(gm).faults, 1);
    gmem_free(gm);
    fake_free(f);
}

static void test_faults(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 4);
    uint8_t buf[PG + 2];
    void *p;

    f->hole[5] = true;
    /* Frames 4 and 6 are fine, 5 is a hole: whole accesses over it fail. */
    assert_int_equal(gmem_read(gm, 5 * PG - 1, buf, 2), -EFAULT);
    memset(buf, 0x99, sizeof(buf));
    assert_int_equal(gmem_write(gm, 4 * PG + 10, buf, sizeof(buf)), -EFAULT);
    assert_int_equal(f->ram[4 * PG + 10], (uint8_t)((4 * PG + 10) * 7));
    assert_int_equal(f->nr_mod, 0);
    assert_int_equal(gmem_map(gm, 5 * PG, 1, GMEM_PROT_READ, &p), -EFAULT);
    assert_int_equal(gmem_read(gm, 4 * PG, buf, PG), 0);
    assert_int_equal(gmem_read(gm, 6 * PG, buf, PG), 0);

    /* Past the end of RAM: the whole bucket is refused, and remembered. */
    assert_int_equal(gmem_read(gm, (uint64_t)RAM_PAGES * PG + 8, buf, 1), -EFAULT);
    unsigned maps = f->maps;
    assert_int_equal(gmem_read(gm, (uint64_t)RAM_PAGES * PG + 16, buf, 1), -EFAULT);
    assert_int_equal(f->maps, maps);
    /* Wrapping the address space never reaches the mapper. */
    assert_int_equal(gmem_read(gm, UINT64_MAX - 1, buf, 4), -EFAULT);
    assert_int_equal(gmem_write(gm, UINT64_MAX, buf, 2), -EFAULT);
    assert_int_equal(gmem_map(gm, UINT64_MAX - 2, 8, GMEM_PROT_READ, &p), -EFAULT);
    /* Far away frames: each bucket tried once. */
    assert_int_equal(gmem_read(gm, 0xfffffffffff00000ull, buf, 4), -EFAULT);
    assert_int_equal(f->maps, maps + 1);

    struct gmem_stats s = stats_of(gm);
    assert_int_equal(s.faults, 9);
    gmem_invalidate(gm);
    /* After an invalidate the hole is asked about again. */
    assert_int_equal(gmem_read(gm, 5 * PG, buf, 1), -EFAULT);
    assert_int_equal(f->maps, maps + 2);
    gmem_free(gm);
    assert_int_equal(f->nr_live, 0);
    fake_free(f);
}

/*
 * A frame that could not be mapped is mapped again once it is back: Xen
 * sends INVALIDATE when guest memory goes away, not when a balloon gives it
 * back. A frame that is still missing is refused.
 */
static void test_repopulated_frame(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 4);
    uint8_t b;
    void *p;

    f->hole[5] = true;
    assert_int_equal(gmem_read(gm, 4 * PG, &b, 1), 0);
    assert_int_equal(gmem_read(gm, 5 * PG, &b, 1), -EFAULT);
    f->hole[5] = false;
    /* Within GMEM_CACHE_RETRY_MS the bucket is believed; after it, asked again. */
    assert_int_equal(gmem_read(gm, 5 * PG + 3, &b, 1), -EFAULT);
    f->now += GMEM_CACHE_RETRY_MS;
    assert_int_equal(gmem_read(gm, 5 * PG + 3, &b, 1), 0);
    assert_int_equal(b, (uint8_t)((5 * PG + 3) * 7));
    f->hole[6] = true;
    gmem_invalidate(gm);
    assert_int_equal(gmem_read(gm, 4 * PG, &b, 1), 0);
    f->hole[6] = false;
    f->now += GMEM_CACHE_RETRY_MS;
    assert_int_equal(gmem_map(gm, 6 * PG, 16, GMEM_PROT_READ, &p), 0);
    assert_int_equal(*(uint8_t *)p, (uint8_t)(6 * PG * 7));
    gmem_unmap(gm, p, 16);
    /* Still missing after the retry: refused. */
    f->hole[7] = true;
    gmem_invalidate(gm);
    assert_int_equal(gmem_read(gm, 7 * PG, &b, 1), -EFAULT);
    f->now += GMEM_CACHE_RETRY_MS;
    assert_int_equal(gmem_map(gm, 7 * PG, 16, GMEM_PROT_READ, &p), -EFAULT);
    gmem_free(gm);
    fake_free(f);
}

/* A cache reporting in bulk, with writes collected until gmem_flush_dirty(). */
static struct gmem *deferred_new(struct fake *f)
{
    struct gmem_mapper m = {.ops = &fake_bulk_ops, .opaque = f};
    struct gmem *gm = gmem_cache_new(&m, 16 * BUCKET, SHIFT);

    assert_non_null(gm);
    gmem_cache_defer_dirty(gm, fake_wake, f);
    return gm;
}

static void test_deferred_dirty_merged(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = deferred_new(f);
    uint8_t b[2 * PG] = {0};
    void *p;

    /* Frames 1 and 2 (one write across them), 3 (adjacent), 10, and 2 again. */
    assert_int_equal(gmem_write(gm, 2 * PG - 8, b, 16), 0);
    assert_int_equal(gmem_write(gm, 3 * PG + 100, b, 4), 0);
    assert_int_equal(gmem_write(gm, 10 * PG, b, 1), 0);
    assert_int_equal(gmem_write(gm, 2 * PG, b, 1), 0);
    /* A held writable mapping marked dirty without being unmapped. */
    assert_int_equal(gmem_map(gm, 12 * PG, 8, GMEM_PROT_READ | GMEM_PROT_WRITE, &p), 0);
    gmem_mark_dirty(gm, 12 * PG + 4, 2);
    assert_int_equal(f->nr_mod, 0); /* nothing reported yet */
    assert_int_equal(f->wakes, 1);  /* the owner was asked once to flush */

    gmem_flush_dirty(gm);
    assert_int_equal(f->bulk_calls, 1);
    assert_int_equal(f->nr_mod, 3);
    assert_int_equal(f->mod_gfn[0], 1);
    assert_int_equal(f->mod_nr[0], 3); /* frames 1-3 */
    assert_int_equal(f->mod_gfn[1], 10);
    assert_int_equal(f->mod_nr[1], 1);
    assert_int_equal(f->mod_gfn[2], 12);
    assert_int_equal(f->mod_nr[2], 1);
    assert_int_equal(stats_of(gm).dirty_reports, 1);

    /* Nothing collected: a flush costs no call; the next write wakes again. */
    gmem_flush_dirty(gm);
    assert_int_equal(f->bulk_calls, 1);
    gmem_unmap(gm, p, 8); /* the writable mapping is reported when it goes */
    assert_int_equal(f->wakes, 2);
    assert_int_equal(f->nr_mod, 3);
    /* Freeing the cache reports what is still collected. */
    gmem_free(gm);
    assert_int_equal(f->bulk_calls, 2);
    assert_int_equal(f->nr_mod, 4);
    assert_int_equal(f->mod_gfn[3], 12);
    fake_free(f);
}

/*
 * With the dirty log off nothing is reported or collected, not even what a
 * writable mapping taken before held; switching off reports what was
 * collected first; a mapping taken while off is reported at its unmap if
 * the log is on by then.
 */
static void test_dirty_log_switch(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = deferred_new(f);
    uint8_t b = 1;
    void *p;

    assert_int_equal(gmem_write(gm, 4 * PG, &b, 1), 0);
    gmem_set_dirty_log(gm, false);
    assert_int_equal(f->bulk_calls, 1); /* frame 4, collected while on */
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], 4);
    assert_int_equal(gmem_map(gm, 6 * PG, 8, GMEM_PROT_READ | GMEM_PROT_WRITE, &p), 0);
    assert_int_equal(gmem_write(gm, 5 * PG, &b, 1), 0);
    gmem_mark_dirty(gm, 6 * PG, 1);
    gmem_flush_dirty(gm);
    assert_int_equal(f->wakes, 1);
    assert_int_equal(f->bulk_calls, 1);

    gmem_set_dirty_log(gm, true);
    gmem_unmap(gm, p, 8);
    gmem_flush_dirty(gm);
    assert_int_equal(f->bulk_calls, 2);
    assert_int_equal(f->nr_mod, 2);
    assert_int_equal(f->mod_gfn[1], 6);
    assert_int_equal(f->mod_nr[1], 1);
    gmem_free(gm);
    fake_free(f);
}

static void test_deferred_dirty_overflow(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = deferred_new(f);
    uint8_t b = 1;

    /* Every other frame: no two runs touch, so each takes a slot. */
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(gmem_write(gm, (uint64_t)i * 2 * PG, &b, 1), 0);
    /* Frames of recent runs again, and one next to a recent run: merged, no new run. */
    assert_int_equal(gmem_write(gm, 62 * PG, &b, 1), 0);
    assert_int_equal(gmem_write(gm, 56 * PG, &b, 1), 0);
    assert_int_equal(gmem_write(gm, 63 * PG, &b, 1), 0);
    assert_int_equal(f->bulk_calls, 0);
    gmem_flush_dirty(gm);
    assert_int_equal(f->bulk_calls, 1);
    assert_int_equal(f->nr_mod, 32);
    f->nr_mod = 0;

    /* More distinct runs than the collection holds: a report goes out early. */
    for (unsigned i = 0; i < GMEM_DIRTY_EXTENTS + 1; i++)
        gmem_mark_dirty(gm, (uint64_t)i * 2 * PG, 1);
    assert_int_equal(f->bulk_calls, 2);
    assert_int_equal(f->wakes, 3); /* after each report, the next write wakes the owner */
    f->nr_mod = 0;
    gmem_flush_dirty(gm);
    assert_int_equal(f->bulk_calls, 3);
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], (uint64_t)GMEM_DIRTY_EXTENTS * 2);
    gmem_free(gm);
    fake_free(f);
}

/* Holds nest; the last release wakes the owner if writes wait, and only then. */
static void test_dirty_holds(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = deferred_new(f);
    uint8_t b = 1;

    assert_false(gmem_dirty_held(gm));
    gmem_hold_dirty(gm);
    gmem_hold_dirty(gm);
    assert_true(gmem_dirty_held(gm));
    assert_int_equal(gmem_write(gm, 5 * PG, &b, 1), 0);
    assert_int_equal(f->wakes, 1); /* collected: the owner hears of it, sees the hold */
    gmem_release_dirty(gm);
    assert_true(gmem_dirty_held(gm));
    assert_int_equal(f->wakes, 1);
    gmem_release_dirty(gm);
    assert_false(gmem_dirty_held(gm));
    assert_int_equal(f->wakes, 2); /* the last release: the report is due */
    assert_int_equal(f->bulk_calls, 0);
    gmem_flush_dirty(gm); /* a flush while held or not reports all the same */
    assert_int_equal(f->bulk_calls, 1);
    assert_int_equal(f->nr_mod, 1);
    assert_int_equal(f->mod_gfn[0], 5);

    /* Nothing waiting at the last release: no wake; an extra release is ignored. */
    gmem_hold_dirty(gm);
    gmem_release_dirty(gm);
    gmem_release_dirty(gm);
    assert_int_equal(f->wakes, 2);
    assert_false(gmem_dirty_held(gm));
    gmem_free(gm);
    fake_free(f);
}

static void test_immediate_dirty_without_defer(void **state)
{
    struct fake *f = fake_new();
    struct gmem *gm = cache_new(f, 4);
    uint8_t b = 1;

    assert_int_equal(gmem_write(gm, 5 * PG, &b, 1), 0);
    assert_int_equal(f->nr_mod, 1); /* reported at once, no flush needed */
    gmem_mark_dirty(gm, 6 * PG, 1);
    assert_int_equal(f->nr_mod, 2);
    assert_int_equal(f->mod_gfn[1], 6);
    gmem_flush_dirty(gm);
    assert_int_equal(f->nr_mod, 2);
    gmem_free(gm);
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_cross_bucket),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_pins),
        cmocka_unit_test(test_invalidate_pinned),
        cmocka_unit_test(test_span_map),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_repopulated_frame),
        cmocka_unit_test(test_deferred_dirty_merged),
        cmocka_unit_test(test_dirty_log_switch),
        cmocka_unit_test(test_deferred_dirty_overflow),
        cmocka_unit_test(test_dirty_holds),
        cmocka_unit_test(test_immediate_dirty_without_defer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
