/*
 * The embeddable server: a listening unix socket, the connections, the
 * store, one mutex over all of them, and an eventfd by which a thread
 * other than the loop's asks the loop to send the watch events its direct
 * calls produced.
 */
#include "mockxs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "xs-conn.h"
#include "xs-store.h"

struct mockxs {
    pthread_mutex_t lock; /* over store and conns */
    struct event_base *base;
    struct xs_store store;
    struct xs_conn_set conns;
    int listen_fd;
    struct event *ev_accept;
    struct event *ev_retry; /* re-arms accepting after EMFILE */
    int wake_fd;
    struct event *ev_wake;
    char *path;
    /* Domain connections handed over by other threads (mockxs_adopt_domain_conn),
     * taken over by the loop thread at its next wake-up. */
    unsigned int nr_adopt;
    struct {
        int fd;
        unsigned int domid;
    } adopt[MOCKXS_ADOPT_MAX];
};

static const struct xs_caller xs_dom0 = {.domid = 0, .privileged = true};

static void mockxs_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mockxs *xs = arg;

    for (int i = 0; i < 64; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop polling a socket we cannot drain, retry later. */
                struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
                log_guest("xenstore: accept: %s", strerror(errno));
                event_del(xs->ev_accept);
                event_add(xs->ev_retry, &tv);
            }
            return;
        }
        pthread_mutex_lock(&xs->lock);
        /* Socket clients are dom0's tools: privileged, as on xenstored's socket. */
        if (xs_conn_accept(&xs->conns, c, 0, true) < 0)
            log_debug("xenstore: client refused");
        pthread_mutex_unlock(&xs->lock);
    }
}

static void mockxs_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mockxs *xs = arg;

    event_add(xs->ev_accept, NULL);
}

static void mockxs_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mockxs *xs = arg;
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_warn("xenstore: wake-up read: %s", strerror(errno));
    pthread_mutex_lock(&xs->lock);
    for (unsigned int i = 0; i < xs->nr_adopt; i++)
        if (xs_conn_accept(&xs->conns, xs->adopt[i].fd, xs->adopt[i].domid, false) < 0)
            log_guest("xenstore: domain %u's connection refused", xs->adopt[i].domid);
    xs->nr_adopt = 0;
    xs_conns_flush(&xs->conns);
    pthread_mutex_unlock(&xs->lock);
}

/* Asks the loop thread to send what direct calls queued. */
static void mockxs_kick(struct mockxs *xs)
{
    uint64_t one = 1;

    if (write(xs->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("xenstore: wake-up write: %s", strerror(errno));
}

/* Binds path, replacing a socket file nobody listens on any more. */
static int mockxs_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, err;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            err = -EADDRINUSE;
            goto fail;
        }
        unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
        err = -errno;
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return err;
}

struct mockxs *mockxs_new(struct event_base *base, const char *socket_path)
{
    struct mockxs *xs = calloc(1, sizeof(*xs));
    int err = -ENOMEM;

    if (!xs)
        goto out;
    xs->listen_fd = -1;
    xs->wake_fd = -1;
    pthread_mutex_init(&xs->lock, NULL);
    xs->base = base;
    xs->path = strdup(socket_path);
    if (!xs->path)
        goto fail;
    err = xs_store_init(&xs->store);
    if (err < 0) {
        xs->store.tree.root = NULL;
        goto fail;
    }
    xs->conns.base = base;
    xs->conns.store = &xs->store;
    xs->conns.lock = &xs->lock;
    xs->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (xs->wake_fd < 0) {
        err = -errno;
        goto fail;
    }
    xs->listen_fd = mockxs_listen(socket_path);
    if (xs->listen_fd < 0) {
        err = xs->listen_fd;
        goto fail;
    }
    xs->ev_accept = event_new(base, xs->listen_fd, EV_READ | EV_PERSIST, mockxs_accept_cb, xs);
    xs->ev_retry = evtimer_new(base, mockxs_retry_cb, xs);
    xs->ev_wake = event_new(base, xs->wake_fd, EV_READ | EV_PERSIST, mockxs_wake_cb, xs);
    err = -ENOMEM;
    if (!xs->ev_accept || !xs->ev_retry || !xs->ev_wake || event_add(xs->ev_accept, NULL) < 0 ||
        event_add(xs->ev_wake, NULL) < 0)
        goto fail;
    return xs;
fail:
    mockxs_free(xs);
out:
    errno = -err;
    return NULL;
}

void mockxs_free(struct mockxs *xs)
{
    if (!xs)
        return;
    pthread_mutex_lock(&xs->lock);
    xs_conns_close_all(&xs->conns);
    for (unsigned int i = 0; i < xs->nr_adopt; i++)
        close(xs->adopt[i].fd);
    xs->nr_adopt = 0;
    pthread_mutex_unlock(&xs->lock);
    if (xs->ev_accept)
        event_free(xs->ev_accept);
    if (xs->ev_retry)
        event_free(xs->ev_retry);
    if (xs->ev_wake)
        event_free(xs->ev_wake);
    if (xs->listen_fd >= 0) {
        close(xs->listen_fd);
        unlink(xs->path);
    }
    if (xs->wake_fd >= 0)
        close(xs->wake_fd);
    xs_store_destroy(&xs->store);
    pthread_mutex_destroy(&xs->lock);
    free(xs->path);
    free(xs);
}

const char *mockxs_socket_path(const struct mockxs *xs)
{
    return xs->path;
}

/* Runs a direct call under the lock, then lets the loop send its events. */
#define MOCKXS_LOCKED(xs, expr)                                                                    \
    ({                                                                                             \
        pthread_mutex_lock(&(xs)->lock);                                                           \
        __typeof__(expr) r_ = (expr);                                                              \
        xs_store_trim(&(xs)->store);                                                               \
        pthread_mutex_unlock(&(xs)->lock);                                                         \
        mockxs_kick(xs);                                                                           \
        r_;                                                                                        \
    })

int mockxs_introduce_domain(struct mockxs *xs, unsigned int domid)
{
    return MOCKXS_LOCKED(xs, xs_store_introduce(&xs->store, domid));
}

int mockxs_release_domain(struct mockxs *xs, unsigned int domid)
{
    return MOCKXS_LOCKED(xs, xs_store_release(&xs->store, domid));
}

int mockxs_adopt_domain_conn(struct mockxs *xs, int fd, unsigned int domid)
{
    int rc = 0;

    if (domid == 0 || domid >= 0x7ff0) {
        close(fd);
        return -EINVAL;
    }
    pthread_mutex_lock(&xs->lock);
    if (xs->nr_adopt == MOCKXS_ADOPT_MAX) {
        rc = -EAGAIN;
    } else {
        xs->adopt[xs->nr_adopt].fd = fd;
        xs->adopt[xs->nr_adopt].domid = domid;
        xs->nr_adopt++;
    }
    pthread_mutex_unlock(&xs->lock);
    if (rc)
        close(fd);
    else
        mockxs_kick(xs);
    return rc;
}

bool mockxs_domain_introduced(struct mockxs *xs, unsigned int domid)
{
    bool r;

    pthread_mutex_lock(&xs->lock);
    r = xs_store_domain_introduced(&xs->store, domid);
    pthread_mutex_unlock(&xs->lock);
    return r;
}

static int direct_path(const char *path, char *out)
{
    char home[XS_HOME_BUF];
    bool relative;

    xs_path_home(0, home);
    return path ? xs_path_canonical(path, home, false, out, &relative) : -EINVAL;
}

static int direct_read(struct mockxs *xs, const char *path, char **value, size_t *len)
{
    char p[XS_PATH_BUF];
    const struct xs_node *n;
    int rc = direct_path(path, p);

    if (rc == 0)
        rc = xs_tree_get(&xs->store.tree, &xs_dom0, p, &n);
    if (rc < 0)
        return rc;
    *value = malloc(n->len + 1);
    if (!*value)
        return -ENOMEM;
    memcpy(*value, n->value, n->len + 1);
    if (len)
        *len = n->len;
    return 0;
}

int mockxs_read(struct mockxs *xs, const char *path, char **value, size_t *len)
{
    int rc;

    pthread_mutex_lock(&xs->lock);
    rc = direct_read(xs, path, value, len);
    pthread_mutex_unlock(&xs->lock);
    return rc;
}

static int direct_write(struct mockxs *xs, const char *path, const void *value, size_t len)
{
    char p[XS_PATH_BUF];
    int rc = direct_path(path, p);

    /* The same bound a client's WRITE has: path and value in one payload. */
    if (rc == 0 && strlen(path) + 1 + len > XENSTORE_PAYLOAD_MAX)
        rc = -E2BIG;
    if (rc == 0)
        rc = xs_tree_write(&xs->store.tree, &xs_dom0, p, value, len);
    return rc;
}

int mockxs_write(struct mockxs *xs, const char *path, const void *value, size_t len)
{
    return MOCKXS_LOCKED(xs, direct_write(xs, path, value, len));
}

int mockxs_write_str(struct mockxs *xs, const char *path, const char *value)
{
    return mockxs_write(xs, path, value, strlen(value));
}

static int direct_mkdir(struct mockxs *xs, const char *path)
{
    char p[XS_PATH_BUF];
    bool created;
    int rc = direct_path(path, p);

    return rc < 0 ? rc : xs_tree_mkdir(&xs->store.tree, &xs_dom0, p, &created);
}

int mockxs_mkdir(struct mockxs *xs, const char *path)
{
    return MOCKXS_LOCKED(xs, direct_mkdir(xs, path));
}

static int direct_rm(struct mockxs *xs, const char *path)
{
    char p[XS_PATH_BUF];
    bool removed;
    int rc = direct_path(path, p);

    return rc < 0 ? rc : xs_tree_rm(&xs->store.tree, &xs_dom0, p, &removed);
}

int mockxs_rm(struct mockxs *xs, const char *path)
{
    return MOCKXS_LOCKED(xs, direct_rm(xs, path));
}

static int direct_set_perms(struct mockxs *xs, const char *path, const char *const *text,
                            unsigned int nr)
{
    char p[XS_PATH_BUF];
    struct xs_perms perms = {0};
    int rc = direct_path(path, p);

    if (rc == 0 && (nr == 0 || nr > XENSTORE_PAYLOAD_MAX / 3))
        rc = -EINVAL;
    if (rc < 0)
        return rc;
    perms.p = calloc(nr, sizeof(*perms.p));
    if (!perms.p)
        return -ENOMEM;
    perms.nr = nr;
    for (unsigned int i = 0; i < nr && rc == 0; i++)
        rc = text[i] ? xs_perm_parse(text[i], &perms.p[i]) : -EINVAL;
    if (rc == 0)
        rc = xs_tree_set_perms(&xs->store.tree, &xs_dom0, p, &perms);
    xs_perms_free(&perms);
    return rc;
}

int mockxs_set_perms(struct mockxs *xs, const char *path, const char *const *perms,
                     unsigned int nr_perms)
{
    return MOCKXS_LOCKED(xs, direct_set_perms(xs, path, perms, nr_perms));
}

static int direct_directory(struct mockxs *xs, const char *path, char ***names, unsigned int *nr)
{
    char p[XS_PATH_BUF];
    const struct xs_node *n;
    char **v;
    int rc = direct_path(path, p);

    if (rc == 0)
        rc = xs_tree_get(&xs->store.tree, &xs_dom0, p, &n);
    if (rc < 0)
        return rc;
    v = calloc(n->nr_children ? n->nr_children : 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (unsigned int i = 0; i < n->nr_children; i++) {
        v[i] = strdup(n->children[i]->name);
        if (!v[i]) {
            while (i--)
                free(v[i]);
            free(v);
            return -ENOMEM;
        }
    }
    *names = v;
    *nr = n->nr_children;
    return 0;
}

int mockxs_directory(struct mockxs *xs, const char *path, char ***names, unsigned int *nr_names)
{
    int rc;

    pthread_mutex_lock(&xs->lock);
    rc = direct_directory(xs, path, names, nr_names);
    pthread_mutex_unlock(&xs->lock);
    return rc;
}
