/*
 * The device table: every device type ioreqd can create, in the order
 * --help lists them. Adding a device is its file (which devices/CMakeLists.txt
 * finds by its struct device_type), one line in DEVICE_TABLE, its test
 * (tests/unit/devices/test-*.c) and its entry in ioreqd(8), which
 * test-device-table checks along with the PCI conformance of its functions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci.h"
#include "device-table.h"

/* X(name): the device type defined as `const struct device_type name##_device_type`. */
#define DEVICE_TABLE(X)                                                                            \
    X(host_bridge)                                                                                 \
    X(xen_platform)                                                                                \
    X(uart)                                                                                        \
    X(virtio_blk)                                                                                  \
    X(virtio_net)

#define DEVICE_TYPE_DECLARE(name) extern const struct device_type name##_device_type;
#define DEVICE_TYPE_ENTRY(name)   &name##_device_type,

DEVICE_TABLE(DEVICE_TYPE_DECLARE)

const struct device_type *const device_types[] = {DEVICE_TABLE(DEVICE_TYPE_ENTRY) NULL};

const struct device_type *device_type_find(const char *name)
{
    for (const struct device_type *const *t = device_types; *t; t++)
        if (name && !strcmp((*t)->name, name))
            return *t;
    return NULL;
}

/*
 * A type without check(): create it where nothing leaves the process, a
 * registry and a PCI bus of its own with no hypervisor behind them.
 */
static int check_by_creating(const struct device_type *type, struct device_spec *spec, char *errbuf,
                             size_t errlen)
{
    struct io_registry *io = io_registry_new();
    struct pci_bus *pci = io ? pci_bus_new(io, (struct hv_services){0}) : NULL;
    struct device_env env = {.io = io, .pci = pci};
    void *dev = NULL;
    int rc = -ENOMEM;

    if (pci)
        rc = type->create(&env, spec, &dev, errbuf, errlen);
    if (!rc)
        type->destroy(dev);
    else if (rc == -ENOMEM)
        snprintf(errbuf, errlen, "out of memory");
    else if (!errbuf[0])
        snprintf(errbuf, errlen, "%s: %s", type->name, strerror(-rc));
    pci_bus_free(pci);
    io_registry_free(io);
    return rc == -ENOMEM ? rc : rc ? -EINVAL : 0;
}

int device_spec_check(const struct device_type *type, struct device_spec *spec, char *errbuf,
                      size_t errlen)
{
    const char *unused;
    int rc;

    errbuf[0] = '\0';
    device_spec_bind(spec, type);
    if (type->check) {
        rc = type->check(spec, errbuf, errlen);
        if (rc && !errbuf[0])
            snprintf(errbuf, errlen, "%s: %s", type->name, strerror(-rc));
    } else {
        rc = check_by_creating(type, spec, errbuf, errlen);
    }
    if (!rc) {
        unused = device_spec_unused(spec);
        if (unused) {
            snprintf(errbuf, errlen, "%s device has no option '%s'", type->name, unused);
            rc = -EINVAL;
        }
    }
    for (unsigned i = 0; i < spec->nr_opts; i++)
        spec->opts[i].used = 0;
    return rc;
}
