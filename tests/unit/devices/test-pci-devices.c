/*
 * Unit tests of the PCI devices in the table, created through their
 * device_type exactly as the daemon does: host-bridge and xen-platform. Each
 * also runs the shared PCI conformance suite.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake-platform.h"
#include "log.h"
#include "pci-conformance.h"
#include "pci.h"
#include "registry.h"

struct fixture {
    struct fake_platform fp;
    struct io_registry *io;
    struct pci_bus *bus;
    struct device_env env;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->io = io_registry_new();
    f->env.platform = fake_platform_init(&f->fp);
    f->bus = pci_bus_new(f->io, f->env.platform);
    f->env.domid = 7;
    f->env.io = f->io;
    f->env.pci = f->bus;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    pci_bus_free(f->bus);
    /* Every device was destroyed: nothing may be left registered. */
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 0);
    io_registry_free(f->io);
    free(f);
    return 0;
}

/* Creates a device from a spec; returns 0 or the create error, with err filled. */
static int create(struct fixture *f, const char *text, void **dev, const struct device_type **type,
                  char *err, size_t errlen)
{
    struct device_spec spec;
    int rc;

    assert_int_equal(device_spec_parse(text, &spec, err, errlen), 0);
    *type = device_type_find(spec.type);
    assert_non_null(*type);
    err[0] = '\0';
    rc = (*type)->create(&f->env, &spec, dev, err, errlen);
    if (!rc)
        assert_null(device_spec_unused(&spec));
    device_spec_free(&spec);
    return rc;
}

static uint32_t rd(struct fixture *f, uint32_t sbdf, unsigned reg, unsigned size)
{
    return pci_bus_cfg_read(f->bus, sbdf, reg, size);
}

static void wr(struct fixture *f, uint32_t sbdf, unsigned reg, unsigned size, uint32_t v)
{
    pci_bus_cfg_write(f->bus, sbdf, reg, size, v);
}

static void test_host_bridge(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t, *t2;
    void *hb, *hb2;
    char err[160], desc[256];
    const uint32_t sbdf = PCI_SBDF(0, 0, 0, 0);
    const struct pci_conformance_ids ids = {
        .vendor = 0x8086,
        .device = 0x1237,
        .revision = 0x02,
        .class_code = 0x060000,
    };

    assert_int_equal(create(f, "host-bridge", &hb, &t, err, sizeof(err)), 0);
    assert_int_equal(f->fp.mapped[0], sbdf);
    assert_int_equal(rd(f, sbdf, 0x00, 4), 0x12378086);
    assert_int_equal(rd(f, sbdf, 0x08, 4), 0x06000002);
    assert_int_equal(rd(f, sbdf, 0x0c, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x2c, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x3c, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x72, 1), 0x02);
    wr(f, sbdf, 0x72, 1, 0x4a);
    assert_int_equal(rd(f, sbdf, 0x72, 1), 0x02);
    wr(f, sbdf, 0x58, 4, 0xffffffff);
    assert_int_equal(rd(f, sbdf, 0x58, 4), 0x33333000);
    wr(f, sbdf, 0x5c, 4, 0xffffffff);
    assert_int_equal(rd(f, sbdf, 0x5c, 4), 0x33333333);
    wr(f, sbdf, 0x60, 4, 0xffffffff);
    assert_int_equal(rd(f, sbdf, 0x60, 4), 0);
    /* No legacy ports unless asked. */
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    t->describe(hb, desc, sizeof(desc));
    assert_string_equal(desc, "00:00.0 8086:1237");
    t->identity(hb, desc, sizeof(desc));
    assert_string_equal(desc, "00:00.0 8086:1237");

    pci_conformance_run(f->bus, f->io, sbdf, &ids);
    /* Reset brought the PAM registers back. */
    assert_int_equal(rd(f, sbdf, 0x5c, 4), 0);

    /* A second bridge in the same slot is refused, and says why. */
    assert_int_equal(create(f, "host-bridge,cf8=on", &hb2, &t2, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "host-bridge: PCI slot 00:00 is already taken by host-bridge");
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    t->destroy(hb);
    assert_null(pci_bus_find(f->bus, sbdf));
}

static void test_host_bridge_cf8(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t;
    void *hb, *hb2;
    char err[160], desc[256];
    uint64_t v;

    assert_int_equal(create(f, "host-bridge,cf8=on", &hb, &t, err, sizeof(err)), 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 2);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, 0x80000000));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfc, 4, 0, &v));
    assert_int_equal(v, 0x12378086);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xcf8, 4, 0, 0x80000070));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xcfe, 1, 0, &v));
    assert_int_equal(v, 0x02);
    t->describe(hb, desc, sizeof(desc));
    assert_string_equal(desc, "00:00.0 8086:1237 cf8");
    t->identity(hb, desc, sizeof(desc));
    assert_string_equal(desc, "00:00.0 8086:1237 cf8");
    /* Another owner of 0xCF8 elsewhere on the bus is refused. */
    assert_int_equal(create(f, "host-bridge,bdf=00:1f.0,cf8=on", &hb2, &t, err, sizeof(err)),
                     -EEXIST);
    assert_string_equal(err, "host-bridge: cannot own ports 0xcf8-0xcff: already claimed");
    assert_null(pci_bus_find(f->bus, PCI_SBDF(0, 0, 0x1f, 0)));
    assert_int_equal(create(f, "host-bridge,cf8=maybe", &hb2, &t, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "host-bridge: bad value 'maybe' for cf8 (expected on or off)");
    t->destroy(hb);
    /* The bus keeps decoding 0xCF8 until it goes. */
    pci_bus_free(f->bus);
    f->bus = pci_bus_new(f->io, f->env.platform);
}

static void test_xen_platform_config(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t;
    void *xp;
    char err[160], desc[256];
    const uint32_t sbdf = PCI_SBDF(0, 0, 3, 0);
    const struct pci_conformance_ids ids = {
        .vendor = 0x5853,
        .device = 0x0001,
        .revision = 0x01,
        .class_code = 0xff8000,
        .subsystem_vendor = 0x5853,
        .subsystem_id = 0x0001,
        .interrupt_pin = 1,
    };

    assert_int_equal(create(f, "xen-platform,bdf=00:03.0", &xp, &t, err, sizeof(err)), 0);
    assert_int_equal(rd(f, sbdf, 0x00, 4), 0x00015853);
    assert_int_equal(rd(f, sbdf, 0x04, 4), 0x00000003);
    assert_int_equal(rd(f, sbdf, 0x08, 4), 0xff800001);
    assert_int_equal(rd(f, sbdf, 0x0c, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x10, 4), 0x00000001);
    assert_int_equal(rd(f, sbdf, 0x14, 4), 0x00000008);
    assert_int_equal(rd(f, sbdf, 0x18, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x2c, 4), 0x00015853);
    assert_int_equal(rd(f, sbdf, 0x30, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x34, 4), 0x00000000);
    assert_int_equal(rd(f, sbdf, 0x3c, 4), 0x00000100);
    /* BAR sizing: 256 bytes of I/O, 16 MiB prefetchable memory. */
    wr(f, sbdf, 0x10, 4, 0xffffffff);
    assert_int_equal(rd(f, sbdf, 0x10, 4), 0xffffff01);
    wr(f, sbdf, 0x14, 4, 0xffffffff);
    assert_int_equal(rd(f, sbdf, 0x14, 4), 0xff000008);
    t->describe(xp, desc, sizeof(desc));
    assert_string_equal(desc,
                        "00:03.0 5853:0001 bar0=io:unmapped+0x100 bar1=mem32:unmapped+0x1000000"
                        " unplug=0 product=0 build=0 log-lines=0");
    /* No identity of its own: the inventory gives its function's (pci_dev_identity). */
    assert_null(t->identity);
    pci_conformance_run(f->bus, f->io, sbdf, &ids);
    /* Reset restored power-on decode (command = I/O | memory). */
    assert_int_equal(rd(f, sbdf, 0x04, 2), 0x0003);
    t->destroy(xp);
}

static void test_xen_platform_ports(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t;
    void *xp;
    char err[160], desc[256];
    uint64_t v;
    const char *msg = "hello\tlog\n";

    assert_int_equal(create(f, "xen-platform", &xp, &t, err, sizeof(err)), 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 1);
    /* Step 1-2 of the protocol: magic, then version. */
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x10, 2, 0, &v));
    assert_int_equal(v, 0x49d2);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x12, 1, 0, &v));
    assert_int_equal(v, 1);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x10, 1, 0, &v));
    assert_int_equal(v, 0);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x11, 1, 0, &v));
    assert_int_equal(v, 0xff);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x12, 2, 0, &v));
    assert_int_equal(v, 0xffff);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x10, 4, 0, &v));
    assert_int_equal(v, 0xffffffff);
    assert_false(io_dispatch_read(f->io, IO_SPACE_PIO, 0x14, 1, 0, &v));
    /* Steps 3-6: product, build, magic again, unplug. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x12, 2, 0, 1));
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 4, 0, 1234));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x10, 2, 0, &v));
    assert_int_equal(v, 0x49d2);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 2, 0, 0x3));
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 2, 0, 0x8));
    /* The ROM lock cannot be honoured: the flag stays clear. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 1, 0, 1));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x10, 1, 0, &v));
    assert_int_equal(v, 0);
    /* Log port, a byte at a time; odd writes are ignored. */
    for (const char *p = msg; *p; p++)
        assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x12, 1, 0, (uint8_t)*p));
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x13, 1, 0, 'x'));
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x11, 2, 0, 0xffff));
    for (int i = 0; i < 600; i++)
        assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x12, 1, 0, 'a'));
    t->describe(xp, desc, sizeof(desc));
    assert_string_equal(strstr(desc, " unplug="), " unplug=0xb product=1 build=1234 log-lines=3");

    /* BAR0: flags at offset 0, log at offset 8; BAR1 reads 0. */
    uint32_t sbdf = PCI_SBDF(0, 0, 2, 0);
    wr(f, sbdf, 0x10, 4, 0xc100);
    wr(f, sbdf, 0x14, 4, 0xf0000000);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 2);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 1);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xc100, 2, 0, &v));
    assert_int_equal(v, 0xff00);
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xc108, 1, 0, 'z'));
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0xc107, 2, 0, 0x0a00));
    assert_true(io_dispatch_read(f->io, IO_SPACE_MMIO, 0xf0fffff8, 8, 0, &v));
    assert_int_equal(v, 0);
    assert_true(io_dispatch_write(f->io, IO_SPACE_MMIO, 0xf0000004, 4, 0, 1));
    t->describe(xp, desc, sizeof(desc));
    assert_string_equal(desc,
                        "00:02.0 5853:0001 bar0=io:0xc100+0x100 bar1=mem32:0xf0000000+0x1000000"
                        " unplug=0xb product=1 build=1234 log-lines=4");
    t->destroy(xp);
}

static void test_xen_platform_conflicts(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t;
    void *a, *b;
    char err[160];

    assert_int_equal(create(f, "xen-platform,bdf=00:02.0", &a, &t, err, sizeof(err)), 0);
    assert_int_equal(create(f, "xen-platform", &b, &t, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "xen-platform: ports 0x10-0x13 are taken: File exists");
    assert_int_equal(
        create(f, "xen-platform,unplug-ports=off,bdf=00:02.1", &b, &t, err, sizeof(err)), -EEXIST);
    assert_string_equal(err, "xen-platform: PCI slot 00:02 is already taken by xen-platform");
    assert_int_equal(create(f, "xen-platform,bdf=00:02", &b, &t, err, sizeof(err)), -EEXIST);
    assert_int_equal(create(f, "xen-platform,bdf=junk", &b, &t, err, sizeof(err)), -EINVAL);
    assert_string_equal(
        err, "xen-platform: bad bdf 'junk' (expected [0000:]00:DD.F with DD 00-1f, F 0-7)");
    /* Routing refused by the hypervisor: the fixed ports are given back. */
    t->destroy(a);
    f->fp.map_error = -EPERM;
    assert_int_equal(create(f, "xen-platform", &b, &t, err, sizeof(err)), -EPERM);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    f->fp.map_error = 0;
    assert_int_equal(create(f, "xen-platform,unplug-ports=off", &b, &t, err, sizeof(err)), 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    t->destroy(b);
}

static void test_no_bus(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t;
    void *d;
    char err[160];

    f->env.pci = NULL;
    assert_int_equal(create(f, "xen-platform", &d, &t, err, sizeof(err)), -ENODEV);
    assert_string_equal(err, "xen-platform: no PCI bus");
    assert_int_equal(create(f, "host-bridge", &d, &t, err, sizeof(err)), -ENODEV);
}

/* A guest hammering the unplug, product and build ports cannot flood dom0's log. */
static void test_xen_platform_log_flood(void **state)
{
    struct fixture *f = *state;
    const struct device_type *t;
    void *xp;
    char err[160], line[512];
    FILE *out = tmpfile();
    int saved = dup(STDERR_FILENO);
    unsigned lines = 0;

    assert_non_null(out);
    assert_true(saved >= 0);
    assert_int_equal(create(f, "xen-platform", &xp, &t, err, sizeof(err)), 0);
    fflush(stderr);
    assert_true(dup2(fileno(out), STDERR_FILENO) >= 0);
    for (unsigned i = 0; i < 20000; i++) {
        io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 2, 0, 1u << (i % 16));
        io_dispatch_write(f->io, IO_SPACE_PIO, 0x12, 2, 0, i);
        io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 4, 0, i);
    }
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(out);
    while (fgets(line, sizeof(line), out))
        lines++;
    fclose(out);
    /* 16 new unplug bits at most, and each call site's burst of 10 (plus a "suppressed" line). */
    assert_in_range(lines, 3, 3 * 11 + 16);
    t->destroy(xp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_bridge_cf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xen_platform_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xen_platform_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xen_platform_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xen_platform_log_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_bus, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
