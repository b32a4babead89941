/*
 * The xenstore inventory: what a toolstack or ioreqctl reads about a
 * running ioreqd without asking it (ioreqd(8), XENSTORE). Under
 * <dm>/ioreqd: version, vcpus, devices, and per device devices/<n> =
 * "<type>: <identity>", devices/<n>/type, what the device publishes itself,
 * and devices/<n>/bars, where the guest placed its BARs.
 *
 * The inventory holds what stays true (each device's identity, from its
 * report). BARs are published too, and rewritten a little after one moves
 * (off the request path, so a guest toggling decode costs little), but only
 * while xenstore stays connected (not with --runas), so nothing there goes
 * stale. Live state, counters included, comes from the control socket.
 */
#ifndef IOREQD_INVENTORY_H
#define IOREQD_INVENTORY_H

#include <stdbool.h>

#include "dm-devices.h"
#include "dm-xenstore.h"

struct event;
struct event_base;

struct inventory {
    struct dmxs *xs; /* NULL once xenstore is closed */
    const struct dm_devices *devs;
    bool publish_bars;  /* BAR placement is kept current */
    struct event *bars; /* writes moved BARs, off the request path */
};

/* 0 or -ENOMEM. */
int inventory_init(struct inventory *inv, struct event_base *base, struct dmxs *xs,
                   const struct dm_devices *devs, bool publish_bars) must_check;
void inventory_fini(struct inventory *inv);
/* xenstore was closed: nothing is written from now on. */
void inventory_detach(struct inventory *inv);

/*
 * What dev publishes: a relative key lands in its inventory directory; an
 * absolute one must lie in the guest's own tree or ours (dmxs enforces
 * it), which is where the guest's tools look, e.g. a UART's pty at
 * /local/domain/<domid>/serial/<n>/tty for `xl console -t serial`.
 */
int inventory_device_key(struct inventory *inv, const struct dm_device *dev, const char *key,
                         const char *value);
/* A BAR of dev moved: xenstore hears of it soon. */
void inventory_bars_moved(struct inventory *inv, struct dm_device *dev);
/* Writes the whole inventory, version and number of vCPUs included. 0 or -errno. */
int inventory_publish(struct inventory *inv, const char *version, unsigned nr_vcpus);

#endif
