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

static bool already_created(struct dmxs *x, const char *path)
{
    for (unsigned i = 0; i < x->nr_created; i++)
        if (strcmp(path, x->created[i]) == 0 || below(path, x->created[i]))
            return true;
    return false;
}

/* Finds the topmost node of `path` that does not exist yet (or path itself) and remembers it. */
static int remember(struct dmxs *x, const char *path, const char *root)
{
    char buf[DMXS_PATH_MAX + 1];
    size_t len = strlen(path);
    char **grown;
    char *copy;
    size_t cut = strlen(root);

    if (already_created(x, path))
        return 0;
    memcpy(buf, path, len + 1);
    /* Walk down from the root: the first missing prefix is ours. */
    for (;;) {
        char *slash = strchr(buf + cut + 1, '/');
        if (slash)
            *slash = '\0';
        if (!node_exists(x, buf) || !slash)
            break;
        *slash = '/';
        cut = (size_t)(slash - buf);
    }
    copy = strdup(buf);
    grown = realloc(x->created, (x->nr_created + 1) * sizeof(*grown));
    if (!copy || !grown) {
        free(copy);
        if (grown)
            x->created = grown;
        return -ENOMEM;
    }
    x->created = grown;
    x->created[x->nr_created++] = copy;
    return 0;
}

int dmxs_write(struct dmxs *x, const char *path, const char *value)
{
    const char *root;
    int rc;

    if (below(path, x->dm_dir))
        root = x->dm_dir;
    else if (below(path, x->guest_dir))
        root = x->guest_dir;
    else
        return -EPERM;
    if (strlen(path) > DMXS_PATH_MAX || strstr(path, "//"))
        return -EINVAL;
    /* The dm dir itself is ours too when it did not exist before. */
    if (root == x->dm_dir && !already_created(x, x->dm_dir) && !node_exists(x, x->dm_dir)) {
        rc = remember(x, x->dm_dir, "/local/domain/0/device-model");
        if (rc)
            return rc;
    }
    rc = remember(x, path, root);
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

void dmxs_cleanup(struct dmxs *x)
{
    while (x->nr_created) {
        char *path = x->created[--x->nr_created];
        if (!xs_rm(x->xsh, XBT_NULL, path) && errno != ENOENT)
            log_warn("xenstore: cannot remove %s: %s", path, strerror(errno));
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
