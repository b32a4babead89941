/*
 * The adaptive polling window: grows towards the longest window while
 * requests come soon after a poll ended, shrinks to nothing while they come
 * later, starts again at the grow start, never leaves 0..max.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "poll-window.h"

static void test_starts_at_max(void **state)
{
    struct poll_window w;

    poll_window_init(&w, 50000);
    assert_int_equal(w.cur_ns, 50000);
    poll_window_init(&w, 0);
    assert_int_equal(w.cur_ns, 0);
}

static void test_shrinks_to_zero_then_grows_back(void **state)
{
    struct poll_window w;

    poll_window_init(&w, 80000);
    poll_window_missed(&w, 80001); /* later than any window would catch */
    assert_int_equal(w.cur_ns, 40000);
    poll_window_missed(&w, 1000000);
    assert_int_equal(w.cur_ns, 20000);
    poll_window_missed(&w, 1000000);
    assert_int_equal(w.cur_ns, 10000);
    poll_window_missed(&w, 1000000);
    assert_int_equal(w.cur_ns, 0); /* below the grow start: off */
    poll_window_missed(&w, 1000000);
    assert_int_equal(w.cur_ns, 0);

    poll_window_missed(&w, 80000); /* the longest window would have caught it */
    assert_int_equal(w.cur_ns, 10000);
    poll_window_missed(&w, 30000);
    assert_int_equal(w.cur_ns, 20000);
    poll_window_missed(&w, 30000);
    assert_int_equal(w.cur_ns, 40000);
    poll_window_missed(&w, 30000);
    assert_int_equal(w.cur_ns, 80000);
    poll_window_missed(&w, 30000);
    assert_int_equal(w.cur_ns, 80000); /* never above max */
}

static void test_small_max(void **state)
{
    struct poll_window w;

    poll_window_init(&w, 3000); /* below the grow start */
    poll_window_missed(&w, 5000);
    assert_int_equal(w.cur_ns, 0);
    poll_window_missed(&w, 2000);
    assert_int_equal(w.cur_ns, 3000);
}

static void test_off_stays_off(void **state)
{
    struct poll_window w;

    poll_window_init(&w, 0);
    poll_window_missed(&w, 0);
    assert_int_equal(w.cur_ns, 0);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_at_max),
        cmocka_unit_test(test_shrinks_to_zero_then_grows_back),
        cmocka_unit_test(test_small_max),
        cmocka_unit_test(test_off_stays_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
