/* The xenstore inventory (inventory.h). */
#include "inventory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"

/* Moved BARs reach xenstore after this long, so a guest toggling decode costs little. */
#define INVENTORY_BARS_DELAY_MS 100

/* dev's directory: <dm>/ioreqd/devices/<n>. */
static int device_dir(const struct inventory *inv, const struct dm_device *dev, char *buf,
                      size_t len)
{
    int n = snprintf(buf, len, "%s/ioreqd/devices/%u", dmxs_dm_dir(inv->xs), dev->index);

    return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

int inventory_device_key(struct inventory *inv, const struct dm_device *dev, const char *key,
                         const char *value)
{
    char dir[192], path[512];
    int rc;

    if (!inv->xs)
        return -ENOTCONN;
    if (key[0] == '/')
        return dmxs_write(inv->xs, key, value);
    rc = device_dir(inv, dev, dir, sizeof(dir));
    if (rc)
        return rc;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
        return -E2BIG;
    return dmxs_write(inv->xs, path, value);
}

/* "00:03.0" */
static void fn_bdf(const struct pci_dev *pci, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x.%x", PCI_SBDF_BUS(pci->sbdf), PCI_SBDF_DEV(pci->sbdf),
             PCI_SBDF_FN(pci->sbdf));
}

/* The BARs of dev as "bar0=io:0xc000+0x100 ..." ("00:03.0 bar0=..." per function if several). */
static void device_bars(const struct dm_device *dev, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (unsigned f = 0; f < dev->nr_fns && off < len; f++) {
        char id[32], bars[320];
        struct report_line line;
        int n;

        pci_dev_report(dev->fns[f], report_line_init(&line, bars, sizeof(bars), REPORT_PLACEMENT));
        if (!bars[0])
            continue;
        fn_bdf(dev->fns[f], id, sizeof(id));
        n = snprintf(buf + off, len - off, "%s%s%s%s", off ? " " : "", dev->nr_fns > 1 ? id : "",
                     dev->nr_fns > 1 ? " " : "", bars);
        off = n < 0 ? len : off + (size_t)n;
    }
}

static int write_bars(struct inventory *inv, const struct dm_device *dev)
{
    char bars[1024];

    device_bars(dev, bars, sizeof(bars));
    if (!bars[0])
        return 0;
    return inventory_device_key(inv, dev, "bars", bars);
}

static void on_bars_timer(evutil_socket_t fd, short what, void *opaque)
{
    struct inventory *inv = opaque;

    for (unsigned i = 0; i < inv->devs->nr; i++) {
        struct dm_device *dev = &inv->devs->devs[i];
        int rc;

        if (!dev->bars_moved)
            continue;
        dev->bars_moved = false;
        /* Deprivileged since: xenstore is closed, and the key was never written. */
        if (!inv->xs || !inv->publish_bars)
            continue;
        rc = write_bars(inv, dev);
        if (rc)
            log_limited(LOG_LVL_WARN, "device %u: cannot update its BARs in xenstore: %s", i,
                        strerror(-rc));
    }
}

void inventory_bars_moved(struct inventory *inv, struct dm_device *dev)
{
    static const struct timeval delay = {.tv_usec = INVENTORY_BARS_DELAY_MS * 1000};

    if (inv->publish_bars && inv->xs && inv->bars && !evtimer_pending(inv->bars, NULL))
        evtimer_add(inv->bars, &delay);
}

int inventory_init(struct inventory *inv, struct event_base *base, struct dmxs *xs,
                   const struct dm_devices *devs, bool publish_bars)
{
    *inv = (struct inventory){.xs = xs, .devs = devs, .publish_bars = publish_bars};
    inv->bars = evtimer_new(base, on_bars_timer, inv);
    return inv->bars ? 0 : -ENOMEM;
}

void inventory_fini(struct inventory *inv)
{
    if (inv->bars)
        event_free(inv->bars);
    memset(inv, 0, sizeof(*inv));
}

void inventory_detach(struct inventory *inv)
{
    inv->xs = NULL;
}

static int publish_device(struct inventory *inv, const struct dm_device *dev)
{
    char dir[192], path[256], id[512];
    int rc;

    rc = device_dir(inv, dev, dir, sizeof(dir));
    if (rc)
        return rc;
    device_identity(dev->type, dev->dev, id, sizeof(id));
    rc = dmxs_writef(inv->xs, dir, "%s%s%s", dev->type->name, id[0] ? ": " : "", id);
    if (!rc) {
        snprintf(path, sizeof(path), "%s/type", dir);
        rc = dmxs_write(inv->xs, path, dev->type->name);
    }
    if (!rc && inv->publish_bars)
        rc = write_bars(inv, dev);
    return rc;
}

int inventory_publish(struct inventory *inv, const char *version, unsigned nr_vcpus)
{
    const char *dm = dmxs_dm_dir(inv->xs);
    char path[512];
    int rc;

    snprintf(path, sizeof(path), "%s/ioreqd/version", dm);
    rc = dmxs_write(inv->xs, path, version);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/ioreqd/vcpus", dm);
    rc = dmxs_writef(inv->xs, path, "%u", nr_vcpus);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/ioreqd/devices", dm);
    rc = dmxs_writef(inv->xs, path, "%u", inv->devs->nr);
    for (unsigned i = 0; !rc && i < inv->devs->nr; i++)
        rc = publish_device(inv, &inv->devs->devs[i]);
    return rc;
}
