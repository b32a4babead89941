/*
 * The devices of one device model: taken from their specs, created in the
 * order given, each with its own counters, and torn down in reverse. The PCI
 * bus tells the set (through its listener) which functions each device put
 * on it and when a BAR moved; a function belongs to the device whose
 * counters it carries.
 */
#ifndef IOREQD_DM_DEVICES_H
#define IOREQD_DM_DEVICES_H

#include <stdbool.h>

#include "device-table.h"
#include "pci/pci.h"

/* At most this many PCI functions per device (a multi-function slot has 8). */
#define DM_DEVICE_FNS 8

struct dm_devices;

/* One device as configured. */
struct ioreqd_device_config {
    struct device_spec *spec; /* parsed; ioreqd takes ownership of its contents */
    const char *origin;       /* "FILE:LINE" or "--device", for error messages */
};

struct dm_device {
    struct dm_devices *set;
    unsigned index;
    const struct device_type *type;
    struct device_spec spec;
    char *origin;                       /* "FILE:LINE" or "--device" */
    void *dev;                          /* NULL until created */
    struct io_counters counters;        /* its accesses and config cycles */
    struct pci_dev *fns[DM_DEVICE_FNS]; /* its PCI functions, as the bus added them */
    unsigned nr_fns;
    bool bars_moved; /* a BAR moved since dm_devices_take_moved() last asked */
};

/* What the set tells its owner. */
struct dm_devices_owner {
    /* A device publishes key = value (device_env.publish). */
    int (*publish)(void *opaque, const struct dm_device *dev, const char *key, const char *value);
    /* A BAR of dev moved (dev->bars_moved is set). */
    void (*bars_moved)(void *opaque, struct dm_device *dev);
    void *opaque;
};

struct dm_devices {
    struct dm_device *devs;
    unsigned nr;
    struct pci_bus *pci; /* listened to while set */
    struct dm_devices_owner owner;
};

/*
 * Takes the specs' contents (ownership moves even on failure) and looks up
 * their types. 0, or an enum ioreqd_exit value after logging why.
 */
int dm_devices_take(struct dm_devices *set, struct ioreqd_device_config *cfg, unsigned nr,
                    const struct dm_devices_owner *owner);
/*
 * Creates every device in env (its counters and publish hook are filled
 * per device) and listens to env->pci. 0, or an enum ioreqd_exit value
 * after logging why (USAGE for a spec the device rejected).
 */
int dm_devices_create(struct dm_devices *set, const struct device_env *env);
/* Makes every completed write durable, in reverse order; logs failures. */
void dm_devices_flush(struct dm_devices *set);
/* Destroys the devices in reverse order, stops listening, frees the specs. */
void dm_devices_free(struct dm_devices *set);

#endif
