/*
 * Unit tests of the xen-platform device's I/O BAR beyond the log port: the
 * unofficial unplug protocols of Xen's docs/misc/hvm-emulated-unplug.pandoc
 * ("Unplug protocol for old SUSE PVonHVM", "... for old Novell VMDP"), as
 * QEMU decodes them in BAR0 a byte at a time. Each request is recorded as
 * the port 0x10 protocol records it (bits of its unplug mask) and logged
 * once; none of it is taken for log text.
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
#include "pci.h"
#include "registry.h"

#define BAR0 0xc100u /* where the tests put the I/O BAR */

struct fixture {
    struct fake_platform fp;
    struct io_registry *io;
    struct pci_bus *bus;
    struct device_env env;
    const struct device_type *type;
    void *xp;
    FILE *log;      /* stderr while a test captures it */
    int saved_fd;   /* the real stderr meanwhile */
    char desc[256]; /* the device's last description */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct device_spec spec;
    char err[160];

    assert_non_null(f);
    f->io = io_registry_new();
    f->env.platform = fake_platform_init(&f->fp);
    f->bus = pci_bus_new(f->io, f->env.platform);
    f->env.domid = 7;
    f->env.io = f->io;
    f->env.pci = f->bus;
    f->type = device_type_find("xen-platform");
    assert_non_null(f->type);
    assert_int_equal(device_spec_parse("xen-platform,bdf=00:03.0", &spec, err, sizeof(err)), 0);
    assert_int_equal(f->type->create(&f->env, &spec, &f->xp, err, sizeof(err)), 0);
    device_spec_free(&spec);
    /* Placing BAR0 and turning I/O decode on, as the firmware does, maps it. */
    pci_bus_cfg_write(f->bus, PCI_SBDF(0, 0, 3, 0), PCI_BASE_ADDRESS_0, 4, BAR0);
    pci_bus_cfg_write(f->bus, PCI_SBDF(0, 0, 3, 0), PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 2);
    f->saved_fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    f->type->destroy(f->xp);
    pci_bus_free(f->bus);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    io_registry_free(f->io);
    free(f);
    return 0;
}

/* Sends stderr (ioreqd's log) to a temporary file until capture_end(). */
static void capture_start(struct fixture *f)
{
    fflush(stderr);
    f->log = tmpfile();
    assert_non_null(f->log);
    f->saved_fd = dup(STDERR_FILENO);
    assert_true(f->saved_fd >= 0);
    assert_true(dup2(fileno(f->log), STDERR_FILENO) >= 0);
}

/* Restores stderr; returns what was logged meanwhile (malloc()ed). */
static char *capture_end(struct fixture *f)
{
    char *text = calloc(1, 8192);
    size_t n;

    fflush(stderr);
    assert_true(dup2(f->saved_fd, STDERR_FILENO) >= 0);
    close(f->saved_fd);
    f->saved_fd = -1;
    rewind(f->log);
    n = fread(text, 1, 8191, f->log);
    text[n] = '\0';
    fclose(f->log);
    f->log = NULL;
    return text;
}

static unsigned count(const char *text, const char *what)
{
    unsigned n = 0;

    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

static void bar0_out(struct fixture *f, unsigned offset, unsigned size, uint32_t v)
{
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, BAR0 + offset, size, 0, v));
}

static const char *describe(struct fixture *f)
{
    f->type->describe(f->xp, f->desc, sizeof(f->desc));
    return strstr(f->desc, " unplug=");
}

/*
 * The command register comes up 0 and a reset clears it again, as QEMU's
 * xen-platform does (its PCI reset clears every writable command bit):
 * nothing is decoded until the firmware turns decoding on.
 */
static void test_command_register_after_reset(void **state)
{
    struct fixture *f = *state;
    const uint32_t sbdf = PCI_SBDF(0, 0, 3, 0);
    struct pci_dev *dev = pci_bus_find(f->bus, sbdf);

    assert_non_null(dev);
    pci_bus_cfg_write(f->bus, sbdf, PCI_COMMAND, 2,
                      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    assert_int_equal(pci_bus_cfg_read(f->bus, sbdf, PCI_COMMAND, 2), 0x0007);
    pci_dev_reset(dev);
    assert_int_equal(pci_bus_cfg_read(f->bus, sbdf, PCI_COMMAND, 2), 0x0000);
    /* BAR0 is 0 again and not decoded: only the fixed ports remain. */
    assert_int_equal(pci_bus_cfg_read(f->bus, sbdf, PCI_BASE_ADDRESS_0, 4), 0x00000001);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 1);
    /* An address alone decodes nothing while the command register is 0. */
    pci_bus_cfg_write(f->bus, sbdf, PCI_BASE_ADDRESS_0, 4, BAR0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 1);
    pci_bus_cfg_write(f->bus, sbdf, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 2);
}

/* Old SUSE PVonHVM: an unconditional outl(1, ioaddr + 4) unplugs NICs, IDE and SCSI disks. */
static void test_suse_unplug(void **state)
{
    struct fixture *f = *state;
    char *log;

    capture_start(f);
    /* Other values at offset 4 mean nothing. */
    bar0_out(f, 4, 1, 0);
    bar0_out(f, 4, 1, 2);
    bar0_out(f, 4, 1, 0xff);
    assert_string_equal(describe(f), " unplug=0 product=0 build=0 log-lines=0");
    bar0_out(f, 4, 4, 1);
    assert_string_equal(describe(f), " unplug=0x3 product=0 build=0 log-lines=0");
    /* Again, and as a byte: already recorded, not logged twice. */
    bar0_out(f, 4, 4, 1);
    bar0_out(f, 4, 1, 1);
    assert_string_equal(describe(f), " unplug=0x3 product=0 build=0 log-lines=0");
    log = capture_end(f);
    assert_int_equal(count(log, "\n"), 1);
    assert_string_equal(log, "ioreqd: info: xen-platform: guest requests unplug of disks nics"
                             " through the old SUSE/VMDP port (none emulated here)\n");
    free(log);
}

/* Old Novell VMDP: 1 at offset 8 unplugs disks, 2 unplugs NICs; neither is log text. */
static void test_vmdp_unplug(void **state)
{
    struct fixture *f = *state;
    char *log;

    capture_start(f);
    bar0_out(f, 8, 1, 1);
    assert_string_equal(describe(f), " unplug=0x1 product=0 build=0 log-lines=0");
    bar0_out(f, 8, 1, 2);
    assert_string_equal(describe(f), " unplug=0x3 product=0 build=0 log-lines=0");
    /* A word write reaches offset 8 with its low byte: NICs again, nothing new. */
    bar0_out(f, 8, 2, 0x0a02);
    bar0_out(f, 7, 2, 0x0200);
    assert_string_equal(describe(f), " unplug=0x3 product=0 build=0 log-lines=0");
    log = capture_end(f);
    assert_int_equal(count(log, "\n"), 2);
    assert_int_equal(
        count(log, "ioreqd: info: xen-platform: guest requests unplug of disks through the old "
                   "VMDP port (none emulated here)\n"),
        1);
    assert_int_equal(
        count(log, "ioreqd: info: xen-platform: guest requests unplug of nics through the old "
                   "VMDP port (none emulated here)\n"),
        1);
    assert_int_equal(count(log, "guest:"), 0);
    free(log);
}

/* Storage-only VMDP: only the disks bit, as port 0x10's mask would have it. */
static void test_vmdp_storage_only(void **state)
{
    struct fixture *f = *state;
    uint64_t v;

    capture_start(f);
    bar0_out(f, 8, 1, 1);
    free(capture_end(f));
    assert_string_equal(describe(f), " unplug=0x1 product=0 build=0 log-lines=0");
    /* The same request through the official protocol changes nothing more. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 2, 0, 0x1));
    assert_string_equal(describe(f), " unplug=0x1 product=0 build=0 log-lines=0");
    /* Reads of BAR0 are unchanged: flags at 0, 0xff elsewhere. */
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, BAR0 + 4, 1, 0, &v));
    assert_int_equal(v, 0xff);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, BAR0 + 8, 1, 0, &v));
    assert_int_equal(v, 0xff);
}

/* Offset 8 is still the log port for every other byte, around unplug requests too. */
static void test_log_port_around_unplug(void **state)
{
    struct fixture *f = *state;
    const uint8_t bytes[] = {'a', 1, 'b', '\t', 2, 'c', '\n'};
    char *log;

    capture_start(f);
    for (size_t i = 0; i < sizeof(bytes); i++)
        bar0_out(f, 8, 1, bytes[i]);
    log = capture_end(f);
    assert_string_equal(describe(f), " unplug=0x3 product=0 build=0 log-lines=1");
    assert_int_equal(count(log, "ioreqd: info: xen-platform: guest: ab?c\n"), 1);
    assert_int_equal(count(log, "guest requests unplug of disks through the old VMDP port"), 1);
    assert_int_equal(count(log, "guest requests unplug of nics through the old VMDP port"), 1);
    assert_int_equal(count(log, "\n"), 3);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_command_register_after_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suse_unplug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmdp_unplug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmdp_storage_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_port_around_unplug, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
