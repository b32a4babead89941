/*
 * The map cache's Xen mapper (gmem-xen.c) against the mock hypervisor, in
 * one process: what reaches Xen's dirty log when modified_memory refuses
 * part of a batch. Xen takes a batch's extents last to first and stops at
 * the first it refuses (dm.c, modified_memory), without saying which; its
 * check also refuses a range holding the highest mapped frame, which is
 * guest RAM a device may well write.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>

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
#include "gmem-xen.h"
#include "mockhv.h"

#define DOMID 9
#define RAM   (16ull << 20)
#define LAST  ((RAM >> 12) - 1) /* the highest mapped frame */
#define PAGE  4096ull

struct env {
    struct mockhv *hv;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    struct gmem *gm;
    unsigned wakes;
};

static void on_wake(void *arg)
{
    ((struct env *)arg)->wakes++;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 1, .mem_bytes = RAM};

    assert_non_null(e);
    assert_int_equal(mockhv_create(&e->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(e->hv), 0);
    e->fmem = xenforeignmemory_open(NULL, 0);
    e->dmod = xendevicemodel_open(NULL, 0);
    assert_non_null(e->fmem);
    assert_non_null(e->dmod);
    e->gm = gmem_xen_new(e->fmem, e->dmod, DOMID, 0);
    assert_non_null(e->gm);
    /* As the ioreq server: writes collected, one report per flush. */
    gmem_cache_defer_dirty(e->gm, on_wake, e);
    mockhv_set_log_dirty(e->hv, true);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    gmem_free(e->gm);
    xendevicemodel_close(e->dmod);
    xenforeignmemory_close(e->fmem);
    mockhv_destroy(e->hv);
    free(e);
    return 0;
}

/* Whether a modified-memory record after `seq` covers frame `gfn`. */
static bool logged(struct env *e, uint64_t seq, uint64_t gfn)
{
    uint64_t last = mockhv_modified_last_seq(e->hv);
    struct mockhv_modified m;

    for (uint64_t s = seq + 1; s <= last; s++)
        if (mockhv_modified_get(e->hv, s, &m) == 0 && m.first_pfn <= gfn &&
            gfn < m.first_pfn + m.nr)
            return true;
    return false;
}

static struct gmem_stats stats(struct env *e)
{
    struct gmem_stats st;

    gmem_get_stats(e->gm, &st);
    return st;
}

/* A refused run in the middle of a batch does not cost the runs before it. */
static void test_refused_run_keeps_the_others(void **state)
{
    struct env *e = *state;
    uint64_t seq = mockhv_modified_last_seq(e->hv);
    uint8_t byte = 0x5a;

    assert_int_equal(gmem_write(e->gm, 0x10 * PAGE, &byte, 1), 0);
    assert_int_equal(gmem_write(e->gm, LAST * PAGE, &byte, 1), 0);
    assert_int_equal(gmem_write(e->gm, 0x20 * PAGE, &byte, 1), 0);
    gmem_flush_dirty(e->gm);
    assert_true(logged(e, seq, 0x10));
    assert_true(logged(e, seq, 0x20));
    assert_false(logged(e, seq, LAST));
    assert_int_equal(stats(e).dirty_refused, 1);
}

/* A run Xen refuses for its last frame still gets the frames before that one logged. */
static void test_refused_run_is_split(void **state)
{
    struct env *e = *state;
    uint64_t seq = mockhv_modified_last_seq(e->hv);
    static uint8_t buf[3 * PAGE];

    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(gmem_write(e->gm, (LAST - 2) * PAGE, buf, sizeof(buf)), 0);
    gmem_flush_dirty(e->gm);
    assert_true(logged(e, seq, LAST - 2));
    assert_true(logged(e, seq, LAST - 1));
    assert_false(logged(e, seq, LAST));
    assert_int_equal(stats(e).dirty_refused, 1);
}

/* Outside log-dirty mode Xen takes everything and logs nothing: nothing is refused. */
static void test_no_log_dirty_nothing_refused(void **state)
{
    struct env *e = *state;
    uint64_t seq;
    uint8_t byte = 1;

    mockhv_set_log_dirty(e->hv, false);
    seq = mockhv_modified_last_seq(e->hv);
    assert_int_equal(gmem_write(e->gm, LAST * PAGE, &byte, 1), 0);
    assert_int_equal(gmem_write(e->gm, 0x30 * PAGE, &byte, 1), 0);
    gmem_flush_dirty(e->gm);
    assert_int_equal(mockhv_modified_last_seq(e->hv), seq);
    assert_int_equal(stats(e).dirty_refused, 0);
    assert_int_equal(stats(e).dirty_reports, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_run_keeps_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_run_is_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_log_dirty_nothing_refused, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
