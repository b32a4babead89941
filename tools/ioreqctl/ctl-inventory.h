/*
 * What xenstore says about one device model:
 *
 *   /local/domain/0/device-model/<domid>/state            "running", ...
 *   /local/domain/0/device-model/<domid>/ioreqd/pid        the daemon's pid
 *                                              /version    its version
 *                                              /server-id  ioreq server id
 *                                              /vcpus      vCPUs served
 *                                              /devices    number of devices
 *                                              /devices/<i>       "type: identity"
 *                                              /devices/<i>/type  device type
 *                                              /devices/<i>/bars  BAR placement (not with --runas)
 *                                              /devices/<i>/<key> what the device published
 *
 * An empty value counts as absent (xenstore creates missing parents empty).
 * Values are copied as found: another process wrote them, so they are only
 * ever printed (made safe for a terminal) or written out as JSON strings.
 */
#ifndef IOREQCTL_CTL_INVENTORY_H
#define IOREQCTL_CTL_INVENTORY_H

#include <stdbool.h>

#include "compiler.h"

struct xs_handle;

#define CTL_DM_DIR "/local/domain/0/device-model"

struct ctl_inv_key {
    char *name;
    char *value;
};

struct ctl_inv_device {
    unsigned long index;
    char *value; /* "type: identity" */
    char *type;
    struct ctl_inv_key *keys; /* other keys below the device, sorted by name */
    unsigned nr_keys;
};

struct ctl_inventory {
    unsigned domid;
    char *state;     /* NULL if absent, as all of these */
    bool has_ioreqd; /* an ioreqd/ directory exists */
    char *pid;
    char *version;
    char *server_id;
    char *vcpus;
    char *nr_devices;
    struct ctl_inv_device *devs; /* sorted by index */
    unsigned nr_devs;
};

/* 0, -ENOENT if there is no device-model directory for domid, -errno. */
int ctl_inventory_read(struct xs_handle *xs, unsigned domid, struct ctl_inventory *inv) must_check;
void ctl_inventory_free(struct ctl_inventory *inv);

/*
 * Domids below CTL_DM_DIR, sorted; entries that are not domids are
 * skipped. 0 (with *nr possibly 0) or -errno.
 */
int ctl_inventory_domids(struct xs_handle *xs, unsigned **domids, unsigned *nr) must_check;

/* xs_open() with errno turned into -errno. */
int ctl_xs_open(struct xs_handle **out) must_check;

/* Parses a domid: decimal, below DOMID_FIRST_RESERVED. */
bool ctl_parse_domid(const char *text, unsigned *domid);

#endif
