/* Permission text form and the access decision. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "xs-perms.h"

static void test_parse(void **state)
{
    struct xs_perm p;

    assert_int_equal(xs_perm_parse("n0", &p), 0);
    assert_int_equal(p.domid, 0);
    assert_int_equal(p.access, XS_PERM_NONE);
    assert_int_equal(xs_perm_parse("r5", &p), 0);
    assert_int_equal(p.domid, 5);
    assert_int_equal(p.access, XS_PERM_READ);
    assert_int_equal(xs_perm_parse("w65535", &p), 0);
    assert_int_equal(p.domid, 65535);
    assert_int_equal(p.access, XS_PERM_WRITE);
    assert_int_equal(xs_perm_parse("b7", &p), 0);
    assert_int_equal(p.access, XS_PERM_READ | XS_PERM_WRITE);
}

static void test_parse_bad(void **state)
{
    struct xs_perm p;

    assert_int_equal(xs_perm_parse("", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("x1", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r1a", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r-1", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r65536", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r99999999999999999999", &p), -EINVAL);
}

static void test_format(void **state)
{
    struct xs_perm p = {.domid = 12, .access = XS_PERM_READ | XS_PERM_WRITE};
    char buf[8];

    assert_int_equal(xs_perm_format(&p, buf), 3);
    assert_string_equal(buf, "b12");
    p.access = XS_PERM_NONE;
    p.domid = 0;
    xs_perm_format(&p, buf);
    assert_string_equal(buf, "n0");
}

static void test_access(void **state)
{
    /* Owned by 3, nobody else by default, 5 may read, 6 may write. */
    struct xs_perm list[] = {
        {.domid = 3, .access = XS_PERM_NONE},
        {.domid = 5, .access = XS_PERM_READ},
        {.domid = 6, .access = XS_PERM_WRITE},
    };
    struct xs_perms perms = {.p = list, .nr = 3};
    struct xs_caller owner = {3, false}, d5 = {5, false}, d6 = {6, false}, d7 = {7, false},
                     dom0 = {0, true};
    const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;

    assert_int_equal(xs_perms_access(&perms, &owner), all);
    assert_int_equal(xs_perms_access(&perms, &dom0), all);
    assert_int_equal(xs_perms_access(&perms, &d5), XS_PERM_READ);
    assert_int_equal(xs_perms_access(&perms, &d6), XS_PERM_WRITE);
    assert_int_equal(xs_perms_access(&perms, &d7), XS_PERM_NONE);
    list[0].access = XS_PERM_READ;
    assert_int_equal(xs_perms_access(&perms, &d7), XS_PERM_READ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
