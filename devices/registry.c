/*
 * The device table: every device type ioreqd can create, in the order
 * --help lists them. Adding a device is its file, one line here, one line in
 * its directory's CMakeLists.txt and its test.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci.h"
#include "registry.h"

extern const struct device_type host_bridge_device_type;
extern const struct device_type xen_platform_device_type;
extern const struct device_type uart_device_type;
extern const struct device_type virtio_blk_device_type;
extern const struct device_type virtio_net_device_type;

/* One device a line, however many there are. */
/* clang-format off */
const struct device_type *const device_types[] = {
    &host_bridge_device_type,
    &xen_platform_device_type,
    &uart_device_type,
    &virtio_blk_device_type,
    &virtio_net_device_type,
    NULL,
};
/* clang-format on */

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
    struct pci_bus *pci = io ? pci_bus_new(io, (struct dm_platform){0}) : NULL;
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
