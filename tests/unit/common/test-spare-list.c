/*
 * The spare list: last kept is first reused, at most max kept (the rest are
 * freed, which the sanitizer build's leak check would catch otherwise), and
 * everything kept freed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "spare-list.h"

struct rec {
    void *link; /* first: the list's while kept */
    int value;
};

static void test_reuse_order_and_cap(void **state)
{
    struct spare_list l = {.max = 2};
    struct rec *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *c = malloc(sizeof(*c));

    assert_null(spare_get(&l));
    spare_put(&l, a);
    spare_put(&l, b);
    spare_put(&l, c); /* over the cap: freed */
    assert_int_equal(l.count, 2);
    assert_ptr_equal(spare_get(&l), b);
    assert_ptr_equal(spare_get(&l), a);
    assert_null(spare_get(&l));
    assert_int_equal(l.count, 0);
    spare_put(&l, a);
    spare_put(&l, b);
    spare_free_all(&l);
    assert_int_equal(l.count, 0);
    assert_null(l.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_order_and_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
