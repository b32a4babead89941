/*
 * libxenstore glue. libxenstore runs a reader thread once a watch exists and
 * signals watch events through xs_fileno(); the loop drains them with
 * xs_check_watch() until EAGAIN. Writes happen at start-up and teardown
 * only, so plain synchronous calls are fine.
 */
#include "dm-xenstore.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <xenstore.h>

#include "log.h"

#define DMXS_PATH_MAX   3072 /* XENSTORE_ABS_PATH_MAX */
#define DMXS_RELEASE_TK "ioreqd-release"

struct dmxs {
    struct xs_handle *xsh;
    unsigned domid;
    char dm_dir[64];
    char guest_dir[64];
    char own_dir[80];    /* dm_dir/ioreqd: ioreqd's own keys */
    char state_path[96]; /* dm_dir/state alone, own_dir/state beside QEMU */
    bool beside_qemu;    /* writes kept to own_dir and guest_dir */
    /* Topmost nodes created by us, in creation order. */
    char **created;
    unsigned nr_created;
    struct event *watch_ev;
    bool watching;
    struct dmxs_callbacks cb;
};

const char *dmxs_dm_dir(const struct dmxs *x)
{
    return x->dm_dir;
}

const char *dmxs_guest_dir(const struct dmxs *x)
{
    return x->guest_dir;
}

const char *dmxs_state_path(const struct dmxs *x)
{
    return x->state_path;
}

void dmxs_set_beside_qemu(struct dmxs *x, bool beside)
{
    x->beside_qemu = beside;
    snprintf(x->state_path, sizeof(x->state_path), "%s/state", beside ? x->own_dir : x->dm_dir);
}

/* Hands the queued watch events on; -errno once the connection is unusable. */
static int dmxs_drain(struct dmxs *x)
{
    bool released = false;
    char **vec;
    int rc;

    while ((vec = xs_check_watch(x->xsh))) {
        if (strcmp(vec[XS_WATCH_TOKEN], DMXS_RELEASE_TK) == 0)
            released = true;
        free(vec);
    }
    rc = errno == EAGAIN ? 0 : errno ? -errno : -EIO;
    /* One check per batch: the domain list is the same for every event in it. */
    if (released && x->cb.domain_released)
        x->cb.domain_released(x->cb.opaque);
    return rc;
}

static void dmxs_watch_cb(evutil_socket_t fd, short what, void *opaque)
{
    struct dmxs *x = opaque;
    int rc = dmxs_drain(x);

    if (rc)
        log_warn("xenstore: reading watch events: %s", strerror(-rc));
}

/*
 * libxenstore's reader thread closes the socket when xenstored goes and
 * wakes only callers waiting for a reply: the watch descriptor stays
 * silent. xs_check_watch() then fails with something other than EAGAIN.
 */
int dmxs_check(struct dmxs *x)
{
    return x->xsh ? dmxs_drain(x) : -ENOTCONN;
}

int dmxs_open(struct dmxs **out, unsigned domid, struct event_base *base,
              const struct dmxs_callbacks *cb)
{
    struct dmxs *x = calloc(1, sizeof(*x));
    int rc, fd;

    if (!x)
        return -ENOMEM;
    x->domid = domid;
    x->cb = *cb;
    snprintf(x->dm_dir, sizeof(x->dm_dir), "/local/domain/0/device-model/%u", domid);
    snprintf(x->guest_dir, sizeof(x->guest_dir), "/local/domain/%u", domid);
    snprintf(x->own_dir, sizeof(x->own_dir), "%s/ioreqd", x->dm_dir);
    dmxs_set_beside_qemu(x, false);
    x->xsh = xs_open(0);
    if (!x->xsh) {
        rc = -errno;
        log_error("cannot connect to xenstore: %s", strerror(errno));
        goto out;
    }
    if (!xs_watch(x->xsh, "@releaseDomain", DMXS_RELEASE_TK)) {
        rc = -errno;
        log_error("cannot watch @releaseDomain in xenstore: %s", strerror(errno));
        goto out;
    }
    x->watching = true;
    fd = xs_fileno(x->xsh);
    if (fd < 0) {
        rc = -errno;
        log_error("xenstore watch descriptor: %s", strerror(errno));
        goto out;
    }
    x->watch_ev = event_new(base, fd, EV_READ | EV_PERSIST, dmxs_watch_cb, x);
    if (!x->watch_ev || event_add(x->watch_ev, NULL) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    *out = x;
    return 0;
out:
    dmxs_close(x);
    return rc;
}

static bool node_exists(struct dmxs *x, const char *path)
{
    unsigned len;
    void *v = xs_read(x->xsh, XBT_NULL, path, &len);

    free(v);
    return v != NULL || errno != ENOENT;
}

static bool below(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

static bool created_by_us(const struct dmxs *x, const char *path)
{
    for (unsigned i = 0; i < x->nr_created; i++)
        if (strcmp(path, x->created[i]) == 0)
            return true;
    return false;
}

static int add_created(struct dmxs *x, const char *path)
{
    char *copy = strdup(path);
    char **grown = copy ? realloc(x->created, (x->nr_created + 1) * sizeof(*grown)) : NULL;

    if (!grown) {
        free(copy);
        return -ENOMEM;
    }
    x->created = grown;
    x->created[x->nr_created++] = copy;
    return 0;
}

/*
 * Remembers each node of `path` below `root` that does not exist yet, top
 * down, before the write creates them. A node that exists (someone else's,
 * or ours already) is not remembered: cleanup never removes what ioreqd did
 * not create, whatever ioreqd later wrote into it.
 */
static int remember(struct dmxs *x, const char *path, size_t root_len)
{
    char buf[DMXS_PATH_MAX + 1];
    bool missing = false;
    char *slash;
    int rc;

    snprintf(buf, sizeof(buf), "%s", path);
    slash = buf + root_len;
    while (slash) {
        slash = strchr(slash + 1, '/');
        if (slash)
            *slash = '\0';
        /* Below a missing node everything is missing: no need to ask. */
        if (!created_by_us(x, buf) && (missing || !node_exists(x, buf))) {
            missing = true;
            rc = add_created(x, buf);
            if (rc)
                return rc;
        }
        if (slash)
            *slash = '/';
    }
    return 0;
}

bool dmxs_qemu_state_present(struct dmxs *x)
{
    char path[96], pid[96], own_state[96];

    snprintf(path, sizeof(path), "%s/state", x->dm_dir);
    snprintf(pid, sizeof(pid), "%s/pid", x->own_dir);
    snprintf(own_state, sizeof(own_state), "%s/state", x->own_dir);
    if (created_by_us(x, path) || !node_exists(x, path))
        return false;
    /*
     * An earlier ioreqd that ran alone and could not clean up (--runas
     * leaves its keys, SIGKILL leaves everything) wrote that state key
     * beside its inventory; beside QEMU it would have written its own
     * ioreqd/state instead.
     */
    return !node_exists(x, pid) || node_exists(x, own_state);
}

int dmxs_write(struct dmxs *x, const char *path, const char *value)
{
    size_t root_len;
    int rc;

    /* Beside QEMU the device-model directory is QEMU's, except ioreqd/ */
    if (x->beside_qemu && below(path, x->dm_dir) && !below(path, x->own_dir))
        return -EPERM;
    /* The dm dir itself is ours too when it did not exist before. */
    if (below(path, x->dm_dir))
        root_len = strlen("/local/domain/0/device-model");
    else if (below(path, x->guest_dir))
        root_len = strlen(x->guest_dir);
    else
        return -EPERM;
    if (strlen(path) > DMXS_PATH_MAX || strstr(path, "//"))
        return -EINVAL;
    rc = remember(x, path, root_len);
    if (rc)
        return rc;
    if (!xs_write(x->xsh, XBT_NULL, path, value, (unsigned)strlen(value)))
        return -errno;
    return 0;
}

int dmxs_writef(struct dmxs *x, const char *path, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return -E2BIG;
    return dmxs_write(x, path, value);
}

char *dmxs_read(struct dmxs *x, const char *path)
{
    unsigned len;

    return xs_read(x->xsh, XBT_NULL, path, &len);
}

int dmxs_remove(struct dmxs *x, const char *path)
{
    if (!below(path, x->dm_dir))
        return -EPERM;
    if (!xs_rm(x->xsh, XBT_NULL, path) && errno != ENOENT)
        return errno ? -errno : -EIO;
    return 0;
}

/*
 * Removes one node ioreqd created unless someone else wrote below it since
 * (QEMU's keys in a device-model directory ioreqd happened to create
 * first): the check and the removal are one transaction, retried while
 * others commit in between. 0, or -errno of the last attempt.
 */
static int remove_if_ours_alone(struct dmxs *x, const char *path)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        xs_transaction_t t = xs_transaction_start(x->xsh);
        unsigned nr = 0;
        char **kids;
        bool keep;

        if (t == XBT_NULL)
            return -errno;
        kids = xs_directory(x->xsh, t, path, &nr);
        keep = kids && nr > 0;
        free(kids);
        if (keep) {
            xs_transaction_end(x->xsh, t, true);
            log_info("xenstore: leaving %s, which others wrote into", path);
            return 0;
        }
        if (!xs_rm(x->xsh, t, path) && errno != ENOENT) {
            int err = errno;

            xs_transaction_end(x->xsh, t, true);
            return -err;
        }
        if (xs_transaction_end(x->xsh, t, false))
            return 0;
        if (errno != EAGAIN)
            return -errno;
    }
    return -EAGAIN;
}

void dmxs_cleanup(struct dmxs *x)
{
    /* Newest first: a node's own children are gone before it is looked at. */
    while (x->nr_created) {
        char *path = x->created[--x->nr_created];
        int rc = remove_if_ours_alone(x, path);

        if (rc)
            log_warn("xenstore: cannot remove %s: %s", path, strerror(-rc));
        free(path);
    }
}

bool dmxs_domain_introduced(struct dmxs *x)
{
    errno = 0;
    if (xs_is_domain_introduced(x->xsh, x->domid))
        return true;
    /* libxenstore reports "not introduced" and "could not ask" alike; errno tells them apart. */
    return errno != 0 && errno != ENOENT;
}

void dmxs_disconnect(struct dmxs *x)
{
    if (x->watch_ev)
        event_free(x->watch_ev);
    x->watch_ev = NULL;
    if (x->xsh) {
        if (x->watching)
            xs_unwatch(x->xsh, "@releaseDomain", DMXS_RELEASE_TK);
        xs_close(x->xsh);
    }
    x->watching = false;
    x->xsh = NULL;
}

int dmxs_reconnect(struct dmxs *x)
{
    if (x->xsh)
        return 0;
    x->xsh = xs_open(0);
    return x->xsh ? 0 : errno ? -errno : -EIO;
}

void dmxs_close_keep(struct dmxs *x)
{
    if (!x)
        return;
    for (unsigned i = 0; i < x->nr_created; i++)
        free(x->created[i]);
    x->nr_created = 0;
    dmxs_close(x);
}

void dmxs_close(struct dmxs *x)
{
    if (!x)
        return;
    if (x->watch_ev)
        event_free(x->watch_ev);
    if (x->xsh) {
        dmxs_cleanup(x);
        if (x->watching)
            xs_unwatch(x->xsh, "@releaseDomain", DMXS_RELEASE_TK);
        xs_close(x->xsh);
    }
    for (unsigned i = 0; i < x->nr_created; i++)
        free(x->created[i]);
    free(x->created);
    free(x);
}
