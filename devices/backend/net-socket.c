/*
 * The "socket" network backend: a unix datagram socket, one Ethernet frame
 * per datagram and no virtio_net_hdr, for tests and for running without
 * the privileges a tap needs (like QEMU's -netdev dgram).
 *
 * Our socket is made, bound and connected to the peer's path at open time,
 * before ioreqd deprivileges: a connected socket keeps its peer through a
 * chroot, only the peer's datagrams reach it, and it polls writable only
 * when the peer's queue has room (so a full peer is waited for, not spun
 * on). A peer that goes away (ECONNREFUSED: the kernel disconnects us)
 * takes the link down; each later frame tries to connect to the path again
 * (which works unless ioreqd is chrooted away from it), and the first one
 * that goes through brings the link up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "net-backend.h"

struct net_socket {
    struct net_backend be; /* first */
    int fd;
    struct event *ev, *ev_out;
    bool polling, polling_out;
    struct sockaddr_un peer;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct net_socket *to_sock(struct net_backend *be)
{
    return (struct net_socket *)be;
}

static bool peer_gone(int err)
{
    return err == ECONNREFUSED || err == ENOENT || err == ENOTCONN || err == ECONNRESET;
}

static ssize_t sock_send(struct net_backend *be, unsigned chan, const struct iovec *iov, unsigned n)
{
    struct net_socket *s = to_sock(be);
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
    ssize_t rc;

    (void)chan;
    rc = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (rc < 0 && peer_gone(errno)) {
        net_backend_set_link(be, false);
        /* A new peer at the path? One connect per frame while the link is down. */
        if (connect(s->fd, (struct sockaddr *)&s->peer, sizeof(s->peer)) == 0)
            rc = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            errno = ENOTCONN;
    }
    if (rc < 0) {
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;

        if (peer_gone(err))
            net_backend_set_link(be, false);
        return -err;
    }
    net_backend_set_link(be, true);
    return rc;
}

static ssize_t sock_recv(struct net_backend *be, unsigned chan, void *buf, size_t len)
{
    struct net_socket *s = to_sock(be);
    ssize_t rc;

    (void)chan;
    rc = recv(s->fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
    if (rc < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return rc;
}

static void on_readable(evutil_socket_t fd, short what, void *opaque)
{
    struct net_socket *s = opaque;

    (void)fd;
    (void)what;
    if (s->be.readable)
        s->be.readable(s->be.opaque, 0);
}

static void on_writable(evutil_socket_t fd, short what, void *opaque)
{
    struct net_socket *s = opaque;

    (void)fd;
    (void)what;
    if (s->be.writable)
        s->be.writable(s->be.opaque, 0);
}

static void sock_poll_tx(struct net_backend *be, unsigned chan, bool on)
{
    struct net_socket *s = to_sock(be);

    (void)chan;
    if (on == s->polling_out || !s->ev_out)
        return;
    if (on ? event_add(s->ev_out, NULL) : event_del(s->ev_out)) {
        log_warn("net socket %s: cannot %s waiting for room", s->path, on ? "start" : "stop");
        return;
    }
    s->polling_out = on;
}

static void sock_poll_rx(struct net_backend *be, unsigned chan, bool on)
{
    struct net_socket *s = to_sock(be);

    (void)chan;
    if (on == s->polling || !s->ev)
        return;
    if (on ? event_add(s->ev, NULL) : event_del(s->ev)) {
        log_warn("net socket %s: cannot %s polling", s->path, on ? "start" : "stop");
        return;
    }
    s->polling = on;
}

static int sock_set_offloads(struct net_backend *be, unsigned offloads)
{
    (void)be;
    return offloads ? -EOPNOTSUPP : 0;
}

static void sock_describe(struct net_backend *be, char *buf, size_t len)
{
    snprintf(buf, len, "socket=%s", to_sock(be)->path);
}

static void sock_free(struct net_backend *be)
{
    struct net_socket *s = to_sock(be);

    if (!s)
        return;
    if (s->ev)
        event_free(s->ev);
    if (s->ev_out)
        event_free(s->ev_out);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

static const struct net_backend_ops net_socket_ops = {
    .name = "socket",
    .send = sock_send,
    .recv = sock_recv,
    .poll_rx = sock_poll_rx,
    .poll_tx = sock_poll_tx,
    .set_offloads = sock_set_offloads,
    .describe = sock_describe,
    .free = sock_free,
};

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, path, strlen(path));
    return 0;
}

int net_socket_open(struct net_backend **out, const char *path, const char *local,
                    struct event_base *base, char *errbuf, size_t errlen)
{
    struct net_socket *s;
    struct sockaddr_un sa;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->fd = -1;
    s->be = (struct net_backend){.ops = &net_socket_ops, .nr_chans = 1, .link_up = true};
    snprintf(s->path, sizeof(s->path), "%s", path);
    rc = fill_addr(&sa, path);
    if (rc) {
        snprintf(errbuf, errlen, "socket path %s too long", path);
        goto fail;
    }
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    if (local) {
        struct sockaddr_un la;

        rc = fill_addr(&la, local);
        if (!rc && bind(s->fd, (struct sockaddr *)&la, sizeof(la)) < 0)
            rc = -errno;
        if (rc) {
            snprintf(errbuf, errlen, "bind %s: %s", local, strerror(-rc));
            goto fail;
        }
    } else {
        /* Linux autobind: an abstract name the peer sees as our address. */
        struct sockaddr_un la = {.sun_family = AF_UNIX};

        if (bind(s->fd, (struct sockaddr *)&la, sizeof(sa_family_t)) < 0) {
            rc = -errno;
            snprintf(errbuf, errlen, "bind: %s", strerror(errno));
            goto fail;
        }
    }
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "connect %s: %s", path, strerror(errno));
        goto fail;
    }
    s->peer = sa;
    if (base) {
        s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_readable, s);
        s->ev_out = event_new(base, s->fd, EV_WRITE | EV_PERSIST, on_writable, s);
        if (!s->ev || !s->ev_out) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    *out = &s->be;
    return 0;
fail:
    sock_free(&s->be);
    return rc;
}
