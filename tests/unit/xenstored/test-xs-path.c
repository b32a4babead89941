/* Path syntax, resolution of relative paths and the child relation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "xs-path.h"

static int canon(const char *in, bool special, char *out, bool *rel)
{
    return xs_path_canonical(in, "/local/domain/0", special, out, rel);
}

static void test_absolute_ok(void **state)
{
    char out[XS_PATH_BUF];
    bool rel = true;

    assert_int_equal(canon("/", false, out, &rel), 0);
    assert_string_equal(out, "/");
    assert_false(rel);
    assert_int_equal(canon("/a-b/C_9/x@y", false, out, &rel), 0);
    assert_string_equal(out, "/a-b/C_9/x@y");
}

static void test_bad_syntax(void **state)
{
    char out[XS_PATH_BUF];
    bool rel;

    assert_int_equal(canon("", false, out, &rel), -EINVAL);
    assert_int_equal(canon("/a/", false, out, &rel), -EINVAL);
    assert_int_equal(canon("/a//b", false, out, &rel), -EINVAL);
    assert_int_equal(canon("/a b", false, out, &rel), -EINVAL);
    assert_int_equal(canon("/a.b", false, out, &rel), -EINVAL);
    assert_int_equal(canon("a/", false, out, &rel), -EINVAL);
    assert_int_equal(canon("@introduceDomain", false, out, &rel), -EINVAL);
}

static void test_relative(void **state)
{
    char out[XS_PATH_BUF];
    bool rel = false;

    assert_int_equal(canon("device-model/1/state", false, out, &rel), 0);
    assert_string_equal(out, "/local/domain/0/device-model/1/state");
    assert_true(rel);
}

static void test_special(void **state)
{
    char out[XS_PATH_BUF];
    bool rel = true;

    assert_int_equal(canon("@releaseDomain", true, out, &rel), 0);
    assert_string_equal(out, "@releaseDomain");
    assert_false(rel);
}

static void test_lengths(void **state)
{
    static char p[XENSTORE_ABS_PATH_MAX + 8], out[XS_PATH_BUF];
    bool rel;

    p[0] = '/';
    memset(p + 1, 'a', XENSTORE_ABS_PATH_MAX - 1);
    p[XENSTORE_ABS_PATH_MAX] = '\0';
    assert_int_equal(canon(p, false, out, &rel), 0);
    p[XENSTORE_ABS_PATH_MAX] = 'a';
    p[XENSTORE_ABS_PATH_MAX + 1] = '\0';
    assert_int_equal(canon(p, false, out, &rel), -EINVAL);

    memset(p, 'b', XENSTORE_REL_PATH_MAX);
    p[XENSTORE_REL_PATH_MAX] = '\0';
    assert_int_equal(canon(p, false, out, &rel), 0);
    p[XENSTORE_REL_PATH_MAX] = 'b';
    p[XENSTORE_REL_PATH_MAX + 1] = '\0';
    assert_int_equal(canon(p, false, out, &rel), -EINVAL);
}

static void test_is_child(void **state)
{
    assert_true(xs_path_is_child("/a", "/a"));
    assert_true(xs_path_is_child("/a/b", "/a"));
    assert_true(xs_path_is_child("/a", "/"));
    assert_false(xs_path_is_child("/ab", "/a"));
    assert_false(xs_path_is_child("/a", "/a/b"));
    assert_false(xs_path_is_child("@introduceDomain", "/"));
    assert_true(xs_path_is_child("@introduceDomain", "@introduceDomain"));
    assert_false(xs_path_is_child("@releaseDomain", "@introduceDomain"));
}

static void test_strip_home(void **state)
{
    assert_string_equal(xs_path_strip_home("/local/domain/0/x/y", "/local/domain/0"), "x/y");
    assert_string_equal(xs_path_strip_home("/local/domain/01", "/local/domain/0"),
                        "/local/domain/01");
    assert_string_equal(xs_path_strip_home("/tool", "/local/domain/0"), "/tool");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute_ok), cmocka_unit_test(test_bad_syntax),
        cmocka_unit_test(test_relative),    cmocka_unit_test(test_special),
        cmocka_unit_test(test_lengths),     cmocka_unit_test(test_is_child),
        cmocka_unit_test(test_strip_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
