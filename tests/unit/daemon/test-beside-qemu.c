/*
 * What ioreqd refuses and warns about beside QEMU, on real devices of the
 * table placed on a scratch bus: the Xen platform device's ports, QEMU's
 * slots, a second platform device, ISA IRQs QEMU always or sometimes
 * drives, a UART on QEMU's COM1 ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "beside-qemu.h"
#include "io-range.h"
#include "pci/pci.h"
#include "registry.h"

struct said {
    unsigned refused, warned;
    char last[256];
    char all[2048];
};

static void collect(void *opaque, bool refused, const char *msg)
{
    struct said *s = opaque;
    size_t n = strlen(s->all);

    if (refused)
        s->refused++;
    else
        s->warned++;
    snprintf(s->last, sizeof(s->last), "%s", msg);
    snprintf(s->all + n, sizeof(s->all) - n, "%s\n", msg);
}

/* Creates the devices of specs on a fresh bus and checks them with irqs. */
static unsigned check(const char *const *specs, const struct beside_qemu_irqs *irqs, unsigned nr,
                      struct said *s)
{
    struct io_registry *io = io_registry_new();
    struct pci_bus *pci = pci_bus_new(io, (struct dm_platform){0});
    struct device_env env = {.io = io, .pci = pci};
    const struct beside_qemu_report report = {.say = collect, .opaque = s};
    void *devs[4] = {0};
    const struct device_type *types[4] = {0};
    unsigned n = 0, refused;
    char err[256];

    memset(s, 0, sizeof(*s));
    assert_non_null(pci);
    for (; specs && specs[n]; n++) {
        struct device_spec spec;

        assert_int_equal(device_spec_parse(specs[n], &spec, err, sizeof(err)), 0);
        types[n] = device_type_find(spec.type);
        assert_non_null(types[n]);
        assert_int_equal(types[n]->create(&env, &spec, &devs[n], err, sizeof(err)), 0);
        device_spec_free(&spec);
    }
    refused = beside_qemu_check(io, pci, irqs, nr, &report);
    assert_int_equal(refused, s->refused);
    while (n--)
        types[n]->destroy(devs[n]);
    pci_bus_free(pci);
    io_registry_free(io);
    return refused;
}

static void test_nothing_claimed(void **state)
{
    struct said s;

    assert_int_equal(check(NULL, NULL, 0, &s), 0);
    assert_int_equal(s.warned, 0);
}

static void test_xen_platform(void **state)
{
    const char *with_ports[] = {"xen-platform", NULL};
    const char *without[] = {"xen-platform,unplug-ports=off", NULL};
    struct said s;

    /* Its unplug ports 0x10-0x13 hide the guest's unplug from QEMU's */
    assert_int_equal(check(with_ports, NULL, 0, &s), 1);
    assert_non_null(strstr(s.all, "xen-platform.unplug: ports 0x10-0x13 overlap QEMU's the Xen "
                                  "platform device's fixed ports (unplug protocol) at 0x10-0x1f"));
    assert_int_equal(s.warned, 1);
    assert_non_null(strstr(s.last, "PCI 00:10.0 is a second Xen platform device"));
    assert_int_equal(check(without, NULL, 0, &s), 0);
    assert_int_equal(s.warned, 1);
}

static void test_slots(void **state)
{
    const char *host_bridge[] = {"host-bridge", NULL};
    const char *isa_slot[] = {"xen-platform,unplug-ports=off,bdf=01.2", NULL};
    const char *low_slot[] = {"xen-platform,unplug-ports=off,bdf=05.0", NULL};
    const char *default_slot[] = {"xen-platform,unplug-ports=off", NULL};
    struct said s;

    assert_int_equal(check(host_bridge, NULL, 0, &s), 1);
    assert_non_null(strstr(s.all, "PCI 00:00.0 is QEMU's (i440FX at 00:00.0, PIIX3 at 00:01.x)"));
    assert_int_equal(check(isa_slot, NULL, 0, &s), 1);
    assert_non_null(strstr(s.all, "PCI 00:01.2 is QEMU's"));
    assert_int_equal(check(low_slot, NULL, 0, &s), 0);
    assert_int_equal(s.warned, 2); /* the slot, and a second platform device */
    assert_non_null(strstr(s.all, "PCI 00:05.0 is among the slots QEMU gives"));
    assert_int_equal(check(default_slot, NULL, 0, &s), 0);
    assert_int_equal(s.warned, 1);
    assert_null(strstr(s.all, "among the slots"));
}

static void test_isa_irqs(void **state)
{
    const struct beside_qemu_irqs com1[] = {{"uart (--device)", 1u << 4}};
    const struct beside_qemu_irqs mouse_ide[] = {{"a", 1u << 12}, {"b", 1u << 3 | 1u << 14}};
    const struct beside_qemu_irqs pci_link[] = {{"c", 1u << 10}};
    struct said s;

    assert_int_equal(check(NULL, com1, 1, &s), 0);
    assert_int_equal(s.warned, 1);
    assert_string_equal(s.last, "uart (--device): ISA IRQ 4 is QEMU's when it has COM1's and "
                                "COM3's (serial=): Xen keeps one level per ISA IRQ, so two "
                                "servers on it lose interrupts");
    assert_int_equal(check(NULL, mouse_ide, 2, &s), 2);
    assert_int_equal(s.warned, 1);
    assert_non_null(strstr(s.all, "a: ISA IRQ 12 is the i8042 mouse's"));
    assert_non_null(strstr(s.all, "b: ISA IRQ 14 is the PIIX3 IDE primary channel's"));
    assert_int_equal(check(NULL, pci_link, 1, &s), 1);
}

static void test_uart_ports(void **state)
{
    const char *com1[] = {"uart,com=1,backend=null", NULL};
    const char *far[] = {"uart,port=0x4000,irq=4,backend=null", NULL};
    struct said s;

    assert_int_equal(check(com1, NULL, 0, &s), 0);
    assert_int_equal(s.warned, 1);
    assert_non_null(strstr(s.last, "ports 0x3f8-0x3ff overlap what QEMU has beside it when asked "
                                   "for COM1 (serial=)"));
    assert_int_equal(check(far, NULL, 0, &s), 0);
    assert_int_equal(s.warned, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_claimed), cmocka_unit_test(test_xen_platform),
        cmocka_unit_test(test_slots),           cmocka_unit_test(test_isa_irqs),
        cmocka_unit_test(test_uart_ports),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
