/*
 * The mock's rangeset: Xen's merge, split and limit rules for ioreq-server
 * ranges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "hv-internal.h"

static void test_add_merges_adjacent_and_overlapping(void **state)
{
    struct hv_rangeset *r = calloc(1, sizeof(*r));

    assert_int_equal(hv_rangeset_add(r, 10, 19), 0);
    assert_int_equal(hv_rangeset_add(r, 30, 39), 0);
    assert_int_equal(r->nr, 2);
    assert_int_equal(hv_rangeset_add(r, 20, 29), 0); /* touches both */
    assert_int_equal(r->nr, 1);
    assert_int_equal(r->start[0], 10);
    assert_int_equal(r->end[0], 39);
    assert_int_equal(hv_rangeset_add(r, 0, 0), 0);
    assert_int_equal(hv_rangeset_add(r, UINT64_MAX - 1, UINT64_MAX), 0);
    assert_int_equal(r->nr, 3);
    assert_true(hv_rangeset_contains(r, 10, 39));
    assert_false(hv_rangeset_contains(r, 9, 10));
    assert_true(hv_rangeset_overlaps(r, 39, 45));
    assert_false(hv_rangeset_overlaps(r, 40, 45));
    assert_int_equal(hv_rangeset_add(r, 5, 4), -EINVAL);
    free(r);
}

static void test_remove_splits(void **state)
{
    struct hv_rangeset *r = calloc(1, sizeof(*r));

    assert_int_equal(hv_rangeset_add(r, 0x100, 0x1ff), 0);
    assert_int_equal(hv_rangeset_remove(r, 0x140, 0x14f), 0);
    assert_int_equal(r->nr, 2);
    assert_int_equal(r->end[0], 0x13f);
    assert_int_equal(r->start[1], 0x150);
    assert_int_equal(hv_rangeset_remove(r, 0x100, 0x13f), 0);
    assert_int_equal(r->nr, 1);
    assert_int_equal(hv_rangeset_remove(r, 0x1f0, 0x2ff), 0);
    assert_int_equal(r->start[0], 0x150);
    assert_int_equal(r->end[0], 0x1ef);
    free(r);
}

static void test_limit_is_enforced(void **state)
{
    struct hv_rangeset *r = calloc(1, sizeof(*r));

    for (uint64_t i = 0; i < HV_MAX_RANGES; i++)
        assert_int_equal(hv_rangeset_add(r, i * 4, i * 4 + 1), 0);
    assert_int_equal(hv_rangeset_add(r, 0x100000, 0x100001), -ENOSPC);
    /* merging needs no new entry */
    assert_int_equal(hv_rangeset_add(r, 2, 3), 0);
    assert_int_equal(r->nr, HV_MAX_RANGES - 1);
    /* a split at the limit fails and leaves the set as it was */
    assert_int_equal(hv_rangeset_add(r, 0x100000, 0x100009), 0);
    assert_int_equal(hv_rangeset_remove(r, 0x100004, 0x100005), -ENOSPC);
    assert_true(hv_rangeset_contains(r, 0x100000, 0x100009));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_merges_adjacent_and_overlapping),
        cmocka_unit_test(test_remove_splits),
        cmocka_unit_test(test_limit_is_enforced),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
