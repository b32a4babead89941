/* Unit tests of device spec parsing, typed options and the device table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pci.h"
#include "registry.h"

static void test_parse_ok(void **state)
{
    struct device_spec s;
    char err[128] = "";

    assert_int_equal(device_spec_parse("uart,port=0x3f8,irq=4,backend=unix:/tmp/a,,b,flag", &s, err,
                                       sizeof(err)),
                     0);
    assert_string_equal(s.type, "uart");
    assert_int_equal(s.nr_opts, 4);
    assert_string_equal(s.opts[0].key, "port");
    assert_string_equal(s.opts[0].value, "0x3f8");
    assert_string_equal(s.opts[2].key, "backend");
    assert_string_equal(s.opts[2].value, "unix:/tmp/a,b");
    assert_string_equal(s.opts[3].key, "flag");
    assert_string_equal(s.opts[3].value, "");
    assert_string_equal(device_spec_unused(&s), "port");
    assert_string_equal(device_spec_get(&s, "port"), "0x3f8");
    assert_null(device_spec_get(&s, "nope"));
    assert_string_equal(device_spec_unused(&s), "irq");
    device_spec_get(&s, "irq");
    device_spec_get(&s, "backend");
    device_spec_get(&s, "flag");
    assert_null(device_spec_unused(&s));
    device_spec_free(&s);
    assert_null(s.type);

    assert_int_equal(device_spec_parse("host-bridge", &s, err, sizeof(err)), 0);
    assert_string_equal(s.type, "host-bridge");
    assert_int_equal(s.nr_opts, 0);
    device_spec_free(&s);

    assert_int_equal(device_spec_parse("x,k=", &s, err, sizeof(err)), 0);
    assert_string_equal(s.opts[0].value, "");
    device_spec_free(&s);
    assert_int_equal(device_spec_parse("x,k=a=b", &s, err, sizeof(err)), 0);
    assert_string_equal(s.opts[0].value, "a=b");
    device_spec_free(&s);
}

static void expect_error(const char *text, const char *msg)
{
    struct device_spec s;
    char err[128] = "";

    assert_int_equal(device_spec_parse(text, &s, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, msg);
    assert_null(s.type);
    assert_int_equal(s.nr_opts, 0);
}

static void test_parse_errors(void **state)
{
    char many[512] = "uart";

    expect_error("", "empty device spec");
    expect_error(",a=1", "bad device type '' (expected a name like 'uart')");
    expect_error("UART", "bad device type 'UART' (expected a name like 'uart')");
    expect_error("uart,", "uart: empty option");
    expect_error("uart,a=1,", "uart: empty option");
    expect_error("uart,,a=1", "bad device type 'uart,a=1' (expected a name like 'uart')");
    expect_error("uart,=1", "uart: bad option '=1' (expected key=value)");
    expect_error("uart,a b=1", "uart: bad option 'a b=1' (expected key=value)");
    expect_error("uart,irq=1,irq=2", "uart: option 'irq' given twice");
    for (int i = 0; i < 33; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), ",k%d=1", i);
    expect_error(many, "uart: more than 32 options");
}

static void test_typed_options(void **state)
{
    struct device_spec s;
    char err[160] = "";
    uint64_t v;
    bool b;
    int devfn;

    assert_int_equal(device_spec_parse("t,a=0x10,b=17,c=-1,d=99999999999999999999999,e=12x,f=on,"
                                       "g=off,h,i=maybe,bdf=00:05.0,j=010,k=0x,l=0x-1",
                                       &s, err, sizeof(err)),
                     0);
    assert_int_equal(device_spec_get_uint(&s, "a", 0, 255, 7, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 16);
    assert_int_equal(device_spec_get_uint(&s, "b", 0, 16, 7, &v, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "t: bad value '17' for b (expected 0..16)");
    assert_int_equal(device_spec_get_uint(&s, "c", 0, 16, 7, &v, err, sizeof(err)), -EINVAL);
    assert_int_equal(device_spec_get_uint(&s, "d", 0, UINT64_MAX, 7, &v, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(device_spec_get_uint(&s, "e", 0, 255, 7, &v, err, sizeof(err)), -EINVAL);
    assert_int_equal(device_spec_get_uint(&s, "j", 0, 255, 7, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 10);
    assert_int_equal(device_spec_get_uint(&s, "k", 0, 255, 7, &v, err, sizeof(err)), -EINVAL);
    assert_int_equal(device_spec_get_uint(&s, "l", 0, 255, 7, &v, err, sizeof(err)), -EINVAL);
    assert_int_equal(device_spec_get_uint(&s, "absent", 0, 255, 7, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 7);
    assert_int_equal(device_spec_get_bool(&s, "f", false, &b, err, sizeof(err)), 0);
    assert_true(b);
    assert_int_equal(device_spec_get_bool(&s, "g", true, &b, err, sizeof(err)), 0);
    assert_false(b);
    assert_int_equal(device_spec_get_bool(&s, "h", false, &b, err, sizeof(err)), 0);
    assert_true(b);
    assert_int_equal(device_spec_get_bool(&s, "i", false, &b, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "t: bad value 'maybe' for i (expected on or off)");
    assert_int_equal(device_spec_get_bool(&s, "absent2", true, &b, err, sizeof(err)), 0);
    assert_true(b);
    assert_int_equal(pci_spec_placement(&s, &devfn, err, sizeof(err)), 0);
    assert_int_equal(devfn, 0x28);
    assert_null(device_spec_unused(&s));
    device_spec_free(&s);

    assert_int_equal(device_spec_parse("t,bdf=01:05.0", &s, err, sizeof(err)), 0);
    assert_int_equal(pci_spec_placement(&s, &devfn, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "t: bad bdf '01:05.0' (expected [0000:]00:DD.F with DD 00-1f, F 0-7)");
    device_spec_free(&s);
    assert_int_equal(device_spec_parse("t", &s, err, sizeof(err)), 0);
    assert_int_equal(pci_spec_placement(&s, &devfn, err, sizeof(err)), 0);
    assert_int_equal(devfn, -1);
    device_spec_free(&s);
}

static void test_table(void **state)
{
    unsigned n = 0;

    for (const struct device_type *const *t = device_types; *t; t++) {
        n++;
        assert_non_null((*t)->name);
        assert_non_null((*t)->summary);
        assert_non_null((*t)->create);
        assert_non_null((*t)->destroy);
        assert_ptr_equal(device_type_find((*t)->name), *t);
    }
    assert_true(n >= 3);
    assert_string_equal(device_type_find("host-bridge")->name, "host-bridge");
    assert_string_equal(device_type_find("xen-platform")->name, "xen-platform");
    assert_string_equal(device_type_find("uart")->name, "uart");
    assert_null(device_type_find("nope"));
    assert_null(device_type_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_typed_options),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
