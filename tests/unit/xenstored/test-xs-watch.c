/* Watch lists: duplicates, caps, removal, matching and event payloads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xs-watch.h"

static void test_add_remove(void **state)
{
    struct xs_watch_list l = {0};
    struct xs_watch *w;

    assert_int_equal(xs_watch_add(&l, "/a", "t1", false, 4, 1024, &w), 0);
    assert_int_equal(xs_watch_add(&l, "/a", "t2", false, 4, 1024, NULL), 0);
    assert_int_equal(xs_watch_add(&l, "/a", "t1", false, 4, 1024, NULL), -EEXIST);
    assert_int_equal(l.nr, 2);
    assert_int_equal(xs_watch_remove(&l, "/a", "t3"), -ENOENT);
    assert_int_equal(xs_watch_remove(&l, "/a", "t1"), 0);
    assert_int_equal(l.nr, 1);
    assert_string_equal(l.head->token, "t2");
    assert_ptr_equal(l.head, l.tail);
    xs_watch_clear(&l);
    assert_int_equal(l.nr, 0);
    assert_null(l.head);
}

static void test_cap(void **state)
{
    struct xs_watch_list l = {0};
    char tok[16];

    for (int i = 0; i < 3; i++) {
        snprintf(tok, sizeof(tok), "%d", i);
        assert_int_equal(xs_watch_add(&l, "/a", tok, false, 3, 1024, NULL), 0);
    }
    assert_int_equal(xs_watch_add(&l, "/a", "x", false, 3, 1024, NULL), -E2BIG);
    xs_watch_clear(&l);
}

static void test_byte_cap(void **state)
{
    struct xs_watch_list l = {0};
    size_t one = sizeof("/ab") + sizeof("t1") + XS_WATCH_OVERHEAD;

    /* Room for two watches of this size, not three. */
    assert_int_equal(xs_watch_add(&l, "/ab", "t1", false, 8, 2 * one + 1, NULL), 0);
    assert_int_equal(xs_watch_add(&l, "/ab", "t2", false, 8, 2 * one + 1, NULL), 0);
    assert_int_equal(l.bytes, 2 * one);
    assert_int_equal(xs_watch_add(&l, "/ab", "t3", false, 8, 2 * one + 1, NULL), -E2BIG);
    /* Nor does a smaller one: the single byte left is not a watch. */
    assert_int_equal(xs_watch_add(&l, "/", "", false, 8, 2 * one + 1, NULL), -E2BIG);
    assert_int_equal(xs_watch_remove(&l, "/ab", "t1"), 0);
    assert_int_equal(l.bytes, one);
    assert_int_equal(xs_watch_add(&l, "/ab", "t3", false, 8, 2 * one + 1, NULL), 0);
    xs_watch_clear(&l);
    assert_int_equal(l.bytes, 0);
}

static void test_matching(void **state)
{
    struct xs_watch w = {.path = "/a/b", .token = "t"};

    assert_true(xs_watch_matches(&w, "/a/b", false));
    assert_true(xs_watch_matches(&w, "/a/b/c/d", false));
    assert_false(xs_watch_matches(&w, "/a", false));
    assert_false(xs_watch_matches(&w, "/a/bc", false));
    assert_true(xs_watch_matches(&w, "/a/b", true));
    assert_false(xs_watch_matches(&w, "/a/b/c", true));
}

static void test_event_payload(void **state)
{
    struct xs_watch abs = {.path = "/local/domain/0/x", .token = "tok"};
    struct xs_watch rel = {.path = "/local/domain/0/x", .token = "tok", .relative = true};
    char buf[64];
    size_t len;

    assert_int_equal(
        xs_watch_event(&abs, "/local/domain/0/x/y", "/local/domain/0", buf, sizeof(buf), &len), 0);
    assert_int_equal(len, sizeof("/local/domain/0/x/y") + sizeof("tok"));
    assert_memory_equal(buf, "/local/domain/0/x/y\0tok\0", len);
    assert_int_equal(
        xs_watch_event(&rel, "/local/domain/0/x/y", "/local/domain/0", buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(buf, "x/y\0tok\0", 8);
    assert_int_equal(xs_watch_event(&rel, "/local/domain/0/x/y", "/local/domain/0", buf, 6, &len),
                     -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_remove),    cmocka_unit_test(test_cap),
        cmocka_unit_test(test_byte_cap),      cmocka_unit_test(test_matching),
        cmocka_unit_test(test_event_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
