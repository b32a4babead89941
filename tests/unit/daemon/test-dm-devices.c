/*
 * The device model's devices (daemon/dm-devices.c): specs taken and their
 * types looked up, each device created with its own counters, its PCI
 * functions learnt from the bus's listener, BAR moves passed on to the
 * owner, and what a device publishes handed to the owner.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dm-devices.h"
#include "fake-hv.h"
#include "settings.h"

struct owner {
    unsigned moves;
    const struct dm_device *moved;
};

static void on_moved(void *opaque, struct dm_device *dev)
{
    struct owner *o = opaque;

    o->moves++;
    o->moved = dev;
}

struct fixture {
    struct fake_hv fh;
    struct io_registry *io;
    struct pci_bus *bus;
    struct owner owner;
    struct dm_devices set;
    struct device_spec specs[3];
    struct ioreqd_device_config cfg[3];
};

static int take(struct fixture *f, const char *const *texts, unsigned nr)
{
    char err[128];

    for (unsigned i = 0; i < nr; i++) {
        assert_int_equal(device_spec_parse(texts[i], &f->specs[i], err, sizeof(err)), 0);
        f->cfg[i] = (struct ioreqd_device_config){.spec = &f->specs[i], .origin = "--device"};
    }
    return dm_devices_take(&f->set, f->cfg, nr,
                           &(struct dm_devices_owner){.bars_moved = on_moved, .opaque = &f->owner});
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->io = io_registry_new();
    f->bus = pci_bus_new(f->io, fake_hv_init(&f->fh));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    dm_devices_free(&f->set);
    pci_bus_free(f->bus);
    /* Every device is gone, and with it every range. */
    assert_int_equal(io_range_count(f->io, IO_SPACE_PIO), 0);
    assert_int_equal(io_range_count(f->io, IO_SPACE_MMIO), 0);
    io_registry_free(f->io);
    free(f);
    return 0;
}

static void test_functions_counters_and_moves(void **state)
{
    struct fixture *f = *state;
    const char *const texts[] = {"uart,com=1,backend=null", "xen-platform,bdf=05.0"};
    struct device_env env = {.domid = 7, .io = f->io, .pci = f->bus, .hv = fake_hv_init(&f->fh)};
    const uint32_t sbdf = PCI_SBDF(0, 0, 5, 0);
    struct dm_device *uart, *xp;
    uint64_t v;

    assert_int_equal(take(f, texts, 2), 0);
    assert_int_equal(dm_devices_create(&f->set, &env), 0);
    uart = &f->set.devs[0];
    xp = &f->set.devs[1];
    /* The platform device's one function is its own; the UART has none. */
    assert_int_equal(uart->nr_fns, 0);
    assert_int_equal(xp->nr_fns, 1);
    assert_int_equal(xp->fns[0]->sbdf, sbdf);

    /* The UART's ports count as the UART's, the unplug ports as the platform device's. */
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x3fd, 1, 0, &v));
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0x10, 2, 0, &v));
    assert_int_equal(uart->counters.io.reads, 1);
    assert_int_equal(xp->counters.io.reads, 1);

    /* Config cycles go to the bus, which counts them for the device; a BAR move reaches the owner.
     */
    pci_bus_cfg_write(f->bus, sbdf, PCI_BASE_ADDRESS_0, 4, 0xc100);
    pci_bus_cfg_write(f->bus, sbdf, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(pci_bus_cfg_read(f->bus, sbdf, PCI_VENDOR_ID, 2), 0x5853);
    assert_int_equal(xp->counters.cfg.writes, 2);
    assert_int_equal(xp->counters.cfg.reads, 1);
    assert_int_equal(uart->counters.cfg.writes, 0);
    assert_int_equal(f->owner.moves, 1);
    assert_ptr_equal(f->owner.moved, xp);
    assert_true(xp->bars_moved);
    assert_true(io_dispatch_read(f->io, IO_SPACE_PIO, 0xc100, 1, 0, &v));
    assert_int_equal(xp->counters.io.reads, 2);
}

static void test_unknown_type_is_the_users(void **state)
{
    struct fixture *f = *state;
    const char *const texts[] = {"uart,backend=null", "no-such-device"};

    assert_int_equal(take(f, texts, 2), IOREQD_EXIT_USAGE);
    /* Both specs were taken: freeing the set frees them. */
    assert_int_equal(f->set.nr, 2);
    assert_null(f->specs[0].type);
}

static void test_option_the_device_lacks(void **state)
{
    struct fixture *f = *state;
    const char *const texts[] = {"uart,backend=null,bogus=1"};
    struct device_env env = {.domid = 7, .io = f->io, .pci = f->bus, .hv = fake_hv_init(&f->fh)};

    assert_int_equal(take(f, texts, 1), 0);
    assert_int_equal(dm_devices_create(&f->set, &env), IOREQD_EXIT_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_functions_counters_and_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type_is_the_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_the_device_lacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
