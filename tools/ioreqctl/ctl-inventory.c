/*
 * Reads a device model's state and ioreqd inventory from xenstore (layout
 * in ctl-inventory.h) through Debian's libxenstore; XENSTORED_PATH points
 * it at a mock xenstored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "ctl-inventory.h"

/* DOMID_FIRST_RESERVED */
#define CTL_DOMID_LIMIT 0x7ff0u

bool ctl_parse_domid(const char *text, unsigned *domid)
{
    unsigned long v = 0;

    if (!text || !*text || strlen(text) > 5)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v >= CTL_DOMID_LIMIT || (text[0] == '0' && text[1]))
        return false;
    *domid = (unsigned)v;
    return true;
}

int ctl_xs_open(struct xs_handle **out)
{
    *out = xs_open(0);
    return *out ? 0 : (errno ? -errno : -EIO);
}

/*
 * The value at path, NUL-terminated, or NULL: absent, out of memory, or
 * empty (xenstore creates missing parents with empty values).
 */
static char *xs_get(struct xs_handle *xs, const char *path)
{
    unsigned int len;
    char *v = xs_read(xs, XBT_NULL, path, &len);

    if (v && !*v) {
        free(v);
        v = NULL;
    }
    return v;
}

static char *xs_getf(struct xs_handle *xs, const char *dir, const char *leaf)
{
    char path[512];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, leaf) >= sizeof(path))
        return NULL;
    return xs_get(xs, path);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct ctl_inv_key *)a)->name, ((const struct ctl_inv_key *)b)->name);
}

static int cmp_dev(const void *a, const void *b)
{
    unsigned long x = ((const struct ctl_inv_device *)a)->index;
    unsigned long y = ((const struct ctl_inv_device *)b)->index;

    return x < y ? -1 : x > y;
}

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

    return x < y ? -1 : x > y;
}

static bool parse_index(const char *s, unsigned long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return !*end && !errno;
}

static int read_device(struct xs_handle *xs, const char *devdir, const char *name,
                       struct ctl_inv_device *dev)
{
    char dir[512];
    char **children;
    unsigned int n = 0;

    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", devdir, name) >= sizeof(dir))
        return -ENAMETOOLONG;
    dev->value = xs_get(xs, dir);
    dev->type = xs_getf(xs, dir, "type");
    children = xs_directory(xs, XBT_NULL, dir, &n);
    if (!children)
        return 0;
    dev->keys = calloc(n ? n : 1, sizeof(*dev->keys));
    if (!dev->keys) {
        free(children);
        return -ENOMEM;
    }
    for (unsigned int i = 0; i < n; i++) {
        struct ctl_inv_key *k = &dev->keys[dev->nr_keys];

        if (!strcmp(children[i], "type"))
            continue;
        k->name = strdup(children[i]);
        k->value = xs_getf(xs, dir, children[i]);
        if (!k->name) {
            free(k->value);
            free(children);
            return -ENOMEM;
        }
        dev->nr_keys++;
    }
    free(children);
    qsort(dev->keys, dev->nr_keys, sizeof(*dev->keys), cmp_key);
    return 0;
}

static int read_devices(struct xs_handle *xs, const char *ioreqd_dir, struct ctl_inventory *inv)
{
    char devdir[512];
    char **children;
    unsigned int n = 0;
    int rc = 0;

    snprintf(devdir, sizeof(devdir), "%s/devices", ioreqd_dir);
    children = xs_directory(xs, XBT_NULL, devdir, &n);
    if (!children)
        return 0;
    inv->devs = calloc(n ? n : 1, sizeof(*inv->devs));
    if (!inv->devs) {
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned int i = 0; i < n; i++) {
        struct ctl_inv_device *dev = &inv->devs[inv->nr_devs];

        if (!parse_index(children[i], &dev->index))
            continue;
        inv->nr_devs++;
        rc = read_device(xs, devdir, children[i], dev);
        if (rc)
            goto out;
    }
    qsort(inv->devs, inv->nr_devs, sizeof(*inv->devs), cmp_dev);
out:
    free(children);
    return rc;
}

int ctl_inventory_read(struct xs_handle *xs, unsigned domid, struct ctl_inventory *inv)
{
    char dir[128], idir[160];
    char **children;
    unsigned int n = 0;

    memset(inv, 0, sizeof(*inv));
    inv->domid = domid;
    snprintf(dir, sizeof(dir), CTL_DM_DIR "/%u", domid);
    children = xs_directory(xs, XBT_NULL, dir, &n);
    if (!children)
        return errno ? -errno : -EIO;
    free(children);
    inv->state = xs_getf(xs, dir, "state");
    snprintf(idir, sizeof(idir), "%s/ioreqd", dir);
    children = xs_directory(xs, XBT_NULL, idir, &n);
    if (!children)
        return 0;
    free(children);
    inv->has_ioreqd = true;
    inv->pid = xs_getf(xs, idir, "pid");
    inv->version = xs_getf(xs, idir, "version");
    inv->server_id = xs_getf(xs, idir, "server-id");
    inv->vcpus = xs_getf(xs, idir, "vcpus");
    inv->nr_devices = xs_getf(xs, idir, "devices");
    return read_devices(xs, idir, inv);
}

void ctl_inventory_free(struct ctl_inventory *inv)
{
    for (unsigned i = 0; i < inv->nr_devs; i++) {
        struct ctl_inv_device *dev = &inv->devs[i];

        for (unsigned k = 0; k < dev->nr_keys; k++) {
            free(dev->keys[k].name);
            free(dev->keys[k].value);
        }
        free(dev->keys);
        free(dev->value);
        free(dev->type);
    }
    free(inv->devs);
    free(inv->state);
    free(inv->pid);
    free(inv->version);
    free(inv->server_id);
    free(inv->vcpus);
    free(inv->nr_devices);
    memset(inv, 0, sizeof(*inv));
}

int ctl_inventory_domids(struct xs_handle *xs, unsigned **domids, unsigned *nr)
{
    char **children;
    unsigned int n = 0;

    *domids = NULL;
    *nr = 0;
    children = xs_directory(xs, XBT_NULL, CTL_DM_DIR, &n);
    if (!children)
        return errno == ENOENT ? 0 : (errno ? -errno : -EIO);
    *domids = calloc(n ? n : 1, sizeof(**domids));
    if (!*domids) {
        free(children);
        return -ENOMEM;
    }
    for (unsigned int i = 0; i < n; i++)
        if (ctl_parse_domid(children[i], &(*domids)[*nr]))
            (*nr)++;
    free(children);
    qsort(*domids, *nr, sizeof(**domids), cmp_uint);
    return 0;
}
