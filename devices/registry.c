/*
 * The device table: every device type ioreqd can create, in the order
 * --help lists them. Adding a device is its file, one line here, one line in
 * its directory's CMakeLists.txt and its test.
 */
#include <string.h>

#include "registry.h"

extern const struct device_type host_bridge_device_type;
extern const struct device_type xen_platform_device_type;
extern const struct device_type uart_device_type;
extern const struct device_type virtio_blk_device_type;

const struct device_type *const device_types[] = {
    &host_bridge_device_type,
    &xen_platform_device_type,
    &uart_device_type,
    &virtio_blk_device_type,
    NULL,
};

const struct device_type *device_type_find(const char *name)
{
    for (const struct device_type *const *t = device_types; *t; t++)
        if (name && !strcmp((*t)->name, name))
            return *t;
    return NULL;
}
