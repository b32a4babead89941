/* The devices of one device model (dm-devices.h). */
#include "dm-devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "settings.h"

int dm_devices_take(struct dm_devices *set, struct ioreqd_device_config *cfg, unsigned nr,
                    const struct dm_devices_owner *owner)
{
    memset(set, 0, sizeof(*set));
    set->owner = *owner;
    set->devs = calloc(nr ? nr : 1, sizeof(*set->devs));
    if (!set->devs) {
        log_error("out of memory");
        return IOREQD_EXIT_FAILURE;
    }
    /* Take every spec first, so a failure below frees them in one place. */
    for (unsigned i = 0; i < nr; i++) {
        struct dm_device *dev = &set->devs[i];

        dev->set = set;
        dev->index = i;
        dev->spec = *cfg[i].spec;
        memset(cfg[i].spec, 0, sizeof(*cfg[i].spec));
        dev->origin = strdup(cfg[i].origin);
        set->nr++;
    }
    for (unsigned i = 0; i < nr; i++) {
        struct dm_device *dev = &set->devs[i];

        if (!dev->origin) {
            log_error("out of memory");
            return IOREQD_EXIT_FAILURE;
        }
        dev->type = device_type_find(dev->spec.type);
        if (!dev->type) {
            log_error("%s: unknown device type '%s'", dev->origin, dev->spec.type);
            return IOREQD_EXIT_USAGE;
        }
    }
    return 0;
}

/* The device a function belongs to: the one whose counters it carries. */
static struct dm_device *fn_device(struct pci_dev *pci)
{
    return pci->counters ? container_of(pci->counters, struct dm_device, counters) : NULL;
}

static void on_fn_added(void *opaque, struct pci_dev *pci)
{
    struct dm_device *dev = fn_device(pci);

    if (!dev || dev->nr_fns == DM_DEVICE_FNS)
        return;
    dev->fns[dev->nr_fns++] = pci;
}

static void on_fn_removed(void *opaque, struct pci_dev *pci)
{
    struct dm_device *dev = fn_device(pci);

    for (unsigned f = 0; dev && f < dev->nr_fns; f++) {
        if (dev->fns[f] != pci)
            continue;
        memmove(&dev->fns[f], &dev->fns[f + 1], (dev->nr_fns - f - 1) * sizeof(dev->fns[0]));
        dev->nr_fns--;
        return;
    }
}

static void on_bar_moved(void *opaque, struct pci_dev *pci, unsigned bar, uint64_t old_addr,
                         uint64_t new_addr)
{
    struct dm_devices *set = opaque;
    struct dm_device *dev = fn_device(pci);

    if (!dev)
        return;
    dev->bars_moved = true;
    if (set->owner.bars_moved)
        set->owner.bars_moved(set->owner.opaque, dev);
}

/*
 * env->publish: the owner decides where a key lands (the device's
 * inventory directory in xenstore).
 */
static int device_publish(void *opaque, const char *key, const char *value)
{
    struct dm_device *dev = opaque;
    const struct dm_devices_owner *owner = &dev->set->owner;

    if (!key || !*key || !value)
        return -EINVAL;
    return owner->publish ? owner->publish(owner->opaque, dev, key, value) : -ENOTCONN;
}

static int create_one(struct dm_device *dev, const struct device_env *shared)
{
    struct device_env env = *shared;
    char errbuf[256] = "", id[512];
    const char *unused;
    int rc;

    device_spec_bind(&dev->spec, dev->type);
    env.counters = &dev->counters;
    env.publish = device_publish;
    env.publish_opaque = dev;
    rc = dev->type->create(&env, &dev->spec, &dev->dev, errbuf, sizeof(errbuf));
    if (rc) {
        dev->dev = NULL;
        log_error("%s: cannot create %s device: %s", dev->origin, dev->type->name,
                  errbuf[0] ? errbuf : strerror(-rc));
        /* Bad options and clashes (a taken slot or port) are the spec's fault. */
        return rc == -EINVAL || rc == -EEXIST || rc == -ERANGE ? IOREQD_EXIT_USAGE
                                                               : IOREQD_EXIT_FAILURE;
    }
    unused = device_spec_unused(&dev->spec);
    if (unused) {
        log_error("%s: %s device has no option '%s'", dev->origin, dev->type->name, unused);
        return IOREQD_EXIT_USAGE;
    }
    device_identity(dev->type, dev->dev, id, sizeof(id));
    log_info("device %u: %s%s%s", dev->index, dev->type->name, id[0] ? " " : "", id);
    return 0;
}

int dm_devices_create(struct dm_devices *set, const struct device_env *env)
{
    int code;

    set->pci = env->pci;
    pci_bus_set_listener(set->pci, &(struct pci_bus_listener){
                                       .fn_added = on_fn_added,
                                       .fn_removed = on_fn_removed,
                                       .bar_moved = on_bar_moved,
                                       .opaque = set,
                                   });
    for (unsigned i = 0; i < set->nr; i++) {
        code = create_one(&set->devs[i], env);
        if (code)
            return code;
    }
    return 0;
}

void dm_devices_flush(struct dm_devices *set)
{
    for (unsigned i = set->nr; i-- > 0;) {
        struct dm_device *dev = &set->devs[i];
        int rc;

        if (!dev->dev || !dev->type->flush)
            continue;
        rc = dev->type->flush(dev->dev);
        if (rc)
            log_error("device %u (%s): flush failed: %s", i, dev->type->name, strerror(-rc));
    }
}

void dm_devices_free(struct dm_devices *set)
{
    for (unsigned i = set->nr; i-- > 0;) {
        struct dm_device *dev = &set->devs[i];

        if (dev->dev)
            dev->type->destroy(dev->dev);
        device_spec_free(&dev->spec);
        free(dev->origin);
    }
    /* What the bus still holds is removed without us: the devices go now. */
    if (set->pci)
        pci_bus_set_listener(set->pci, NULL);
    free(set->devs);
    memset(set, 0, sizeof(*set));
}
