/*
 * The device table: every device type ioreqd can emulate, in one explicit,
 * ordered array (device-table.c), and what needs all of them.
 */
#ifndef DEVICES_DEVICE_TABLE_H
#define DEVICES_DEVICE_TABLE_H

#include <stddef.h>

#include "compiler.h"
#include "device.h"

/* The table, NULL-terminated. */
extern const struct device_type *const device_types[];
const struct device_type *device_type_find(const char *name);
/*
 * Checks a parsed spec against its type before anything is started: every
 * option known, every value valid (type->check, or a scratch creation).
 * 0; -EINVAL with errbuf filled, "uart device has no option 'bogus'" for an
 * option the device does not know; -ENOMEM. The options' used marks are
 * cleared again, so create() can mark them afresh.
 */
int device_spec_check(const struct device_type *type, struct device_spec *spec, char *errbuf,
                      size_t errlen) must_check;

#endif
