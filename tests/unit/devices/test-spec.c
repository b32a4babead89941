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
#include "device-table.h"

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

/* device_spec_check(TEXT): its return value, its message in err. */
static int check(const char *text, char *err, size_t len)
{
    struct device_spec s;
    int rc;

    assert_int_equal(device_spec_parse(text, &s, err, len), 0);
    rc = device_spec_check(device_type_find(s.type), &s, err, len);
    /* The marks are cleared either way: create() marks what it reads. */
    for (unsigned i = 0; i < s.nr_opts; i++)
        assert_int_equal(s.opts[i].used, 0);
    device_spec_free(&s);
    return rc;
}

static void expect_check_fails(const char *text, const char *msg)
{
    char err[256] = "";

    assert_int_equal(check(text, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, msg);
}

static void test_check(void **state)
{
    char err[256] = "";

    /* Every option of every type, and nothing opened: the image and the file do not exist. */
    assert_int_equal(
        check("uart,com=2,port=0x2f8,irq=3,index=7,backend=file:/nonexistent/x", err, sizeof(err)),
        0);
    assert_int_equal(check("uart", err, sizeof(err)), 0);
    assert_int_equal(check("uart,backend=", err, sizeof(err)), 0);
    assert_int_equal(check("virtio-blk,file=/nonexistent/d.img,readonly=on,queues=16,"
                           "bdf=00:05.0,serial=12345678901234567890,cache=none,aio=io_uring",
                           err, sizeof(err)),
                     0);
    assert_int_equal(check("host-bridge,cf8=on,bdf=00:00.0", err, sizeof(err)), 0);
    /* xen-platform has no check(): it is created on a scratch bus. */
    assert_null(device_type_find("xen-platform")->check);
    assert_int_equal(check("xen-platform,bdf=00:03.0,unplug-ports=off", err, sizeof(err)), 0);

    expect_check_fails("uart,com=1,bogus=3", "uart device has no option 'bogus'");
    expect_check_fails("uart,com=0", "uart: bad value '0' for com (expected 1..4)");
    expect_check_fails("uart,irq=16", "uart: bad value '16' for irq (expected 0..15)");
    expect_check_fails("uart,port=0xfff9", "uart: bad value '0xfff9' for port (expected 0..65528)");
    expect_check_fails(
        "uart,backend=tty",
        "uart: backend: unknown backend 'tty' (pty, unix:PATH, file:PATH, stdio, null)");
    expect_check_fails(
        "uart,backend=unix:",
        "uart: backend: unknown backend 'unix:' (pty, unix:PATH, file:PATH, stdio, null)");
    expect_check_fails("virtio-blk", "virtio-blk: file=PATH is required");
    expect_check_fails("virtio-blk,file=a,queues=0",
                       "virtio-blk: bad value '0' for queues (expected 1..16)");
    expect_check_fails("virtio-blk,file=a,readonly=2",
                       "virtio-blk: bad value '2' for readonly (expected on or off)");
    expect_check_fails("virtio-blk,file=a,serial=123456789012345678901",
                       "virtio-blk: serial longer than 20 bytes");
    expect_check_fails(
        "virtio-blk,file=a,bdf=00:20.0",
        "virtio-blk: bad bdf '00:20.0' (expected [0000:]00:DD.F with DD 00-1f, F 0-7)");
    expect_check_fails("virtio-blk,file=a,cache=unsafe",
                       "virtio-blk: cache=unsafe: expected writeback or none");
    expect_check_fails("virtio-blk,file=a,aio=native",
                       "virtio-blk: aio=native: expected auto, threads or io_uring");
    expect_check_fails("virtio-blk,file=a,discard=on", "virtio-blk device has no option 'discard'");
    expect_check_fails("host-bridge,cf8=2",
                       "host-bridge: bad value '2' for cf8 (expected on or off)");
    expect_check_fails("host-bridge,x", "host-bridge device has no option 'x'");
    expect_check_fails("xen-platform,unplug-ports=sometimes",
                       "xen-platform: bad value 'sometimes' for unplug-ports (expected on or off)");
    expect_check_fails(
        "xen-platform,bdf=00:03.8",
        "xen-platform: bad bdf '00:03.8' (expected [0000:]00:DD.F with DD 00-1f, F 0-7)");
    expect_check_fails("xen-platform,vendor=1", "xen-platform device has no option 'vendor'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),      cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_typed_options), cmocka_unit_test(test_table),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
