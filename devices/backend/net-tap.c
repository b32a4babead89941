/*
 * The "tap" network backend: a Linux tap interface, opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR so that every frame carries the 12-byte
 * virtio_net_hdr (TUNSETVNETHDRSZ, the VERSION_1 layout with num_buffers),
 * and with IFF_MULTI_QUEUE one fd per queue pair.
 *
 * Every fd is opened at create time, before ioreqd deprivileges; at run time
 * only read, writev, ioctl(TUNSETOFFLOAD) and the loop touch them. The
 * receive offloads the kernel accepts are probed at open (TUNSETOFFLOAD),
 * and the guest's choice is applied when it sets FEATURES_OK.
 *
 * A tap whose interface is down refuses frames (EIO): the link goes down,
 * and the first frame it takes again brings it up. A tap that goes away
 * (the interface deleted: EBADFD) takes the link down for good and its
 * channels stop polling, so a dead fd cannot spin the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include <event2/event.h>

#include "log.h"
#include "net-backend.h"

/* Linux 6.2 (UDP segmentation offload); the ABI values, for headers that predate them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

_Static_assert(NET_OFF_USO4 == TUN_F_USO4 && NET_OFF_USO6 == TUN_F_USO6,
               "NET_OFF_USO* are the TUN_F_USO* bits");
_Static_assert(NET_OFF_CSUM == TUN_F_CSUM && NET_OFF_TSO4 == TUN_F_TSO4 &&
                   NET_OFF_TSO6 == TUN_F_TSO6 && NET_OFF_ECN == TUN_F_TSO_ECN &&
                   NET_OFF_UFO == TUN_F_UFO,
               "NET_OFF_* are the TUN_F_* bits");

#define TAP_VNET_HDR_LEN 12
#define TAP_MAX_CHANS    16

struct net_tap_chan {
    struct net_tap *tap;
    unsigned index;
    int fd;
    struct event *ev, *ev_out;
    bool polling, polling_out;
    bool attached; /* the kernel may queue frames here */
};

struct net_tap {
    struct net_backend be; /* first */
    char ifname[IFNAMSIZ];
    bool multi; /* IFF_MULTI_QUEUE: queues can be detached */
    bool dead;  /* the interface went away: nothing polls any more */
    struct net_tap_chan chans[TAP_MAX_CHANS];
};

static struct net_tap *to_tap(struct net_backend *be)
{
    return (struct net_tap *)be;
}

/* The interface was deleted (our queue detached from it): nothing will come back. */
static bool tap_gone(int err)
{
    return err == EBADFD || err == ENXIO;
}

static void chan_poll(struct net_tap_chan *c, bool on)
{
    if (on == c->polling || !c->ev)
        return;
    if (on ? event_add(c->ev, NULL) : event_del(c->ev)) {
        log_warn("tap %s: cannot %s polling queue %u", c->tap->ifname, on ? "start" : "stop",
                 c->index);
        return;
    }
    c->polling = on;
}

static void tap_poll_tx(struct net_backend *be, unsigned chan, bool on);

static void tap_died(struct net_tap *t, int err)
{
    if (t->dead)
        return;
    t->dead = true;
    log_warn("tap %s: %s: link down", t->ifname, strerror(err));
    for (unsigned i = 0; i < t->be.nr_chans; i++) {
        chan_poll(&t->chans[i], false);
        tap_poll_tx(&t->be, i, false);
    }
    net_backend_set_link(&t->be, false);
}

static ssize_t tap_send(struct net_backend *be, unsigned chan, const struct iovec *iov, unsigned n)
{
    struct net_tap *t = to_tap(be);
    ssize_t rc;

    if (chan >= be->nr_chans)
        chan = 0;
    rc = writev(t->chans[chan].fd, iov, (int)n);
    if (rc < 0) {
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;

        if (tap_gone(err))
            tap_died(t, err);
        else if (err == EIO) /* tun_get_user: the interface is down */
            net_backend_set_link(be, false);
        return -err;
    }
    net_backend_set_link(be, true);
    return rc;
}

static ssize_t tap_recv(struct net_backend *be, unsigned chan, void *buf, size_t len)
{
    struct net_tap *t = to_tap(be);
    ssize_t rc;

    if (chan >= be->nr_chans)
        return -EINVAL;
    rc = read(t->chans[chan].fd, buf, len);
    if (rc < 0) {
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;

        if (tap_gone(err))
            tap_died(t, err);
        return -err;
    }
    return rc;
}

static void on_readable(evutil_socket_t fd, short what, void *opaque)
{
    struct net_tap_chan *c = opaque;

    (void)fd;
    (void)what;
    if (c->tap->be.readable)
        c->tap->be.readable(c->tap->be.opaque, c->index);
}

static void on_writable(evutil_socket_t fd, short what, void *opaque)
{
    struct net_tap_chan *c = opaque;

    (void)fd;
    (void)what;
    if (c->tap->be.writable)
        c->tap->be.writable(c->tap->be.opaque, c->index);
}

static void tap_poll_tx(struct net_backend *be, unsigned chan, bool on)
{
    struct net_tap *t = to_tap(be);
    struct net_tap_chan *c;

    if (chan >= be->nr_chans || (on && t->dead))
        return;
    c = &t->chans[chan];
    if (on == c->polling_out || !c->ev_out)
        return;
    if (on ? event_add(c->ev_out, NULL) : event_del(c->ev_out)) {
        log_warn("tap %s: cannot %s waiting for room on queue %u", t->ifname, on ? "start" : "stop",
                 chan);
        return;
    }
    c->polling_out = on;
}

static void tap_poll_rx(struct net_backend *be, unsigned chan, bool on)
{
    struct net_tap *t = to_tap(be);

    if (chan >= be->nr_chans || (on && t->dead))
        return;
    chan_poll(&t->chans[chan], on);
}

/* The kernel steers frames only to attached queues (TUNSETQUEUE), so inactive pairs strand none. */
static int tap_set_active(struct net_backend *be, unsigned n)
{
    struct net_tap *t = to_tap(be);
    int rc = 0;

    if (!t->multi || t->dead)
        return 0;
    for (unsigned i = 0; i < be->nr_chans; i++) {
        bool attach = i < n;
        struct ifreq ifr = {.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};

        if (attach == t->chans[i].attached)
            continue;
        if (ioctl(t->chans[i].fd, TUNSETQUEUE, &ifr) < 0) {
            rc = -errno;
            log_warn("tap %s: cannot %s queue %u: %s", t->ifname, attach ? "attach" : "detach", i,
                     strerror(errno));
            continue;
        }
        t->chans[i].attached = attach;
    }
    return rc;
}

static int tap_set_offloads(struct net_backend *be, unsigned offloads)
{
    struct net_tap *t = to_tap(be);

    if (offloads & ~be->offloads)
        return -EOPNOTSUPP;
    /* The offloads belong to the interface: one fd sets them for every queue. */
    if (ioctl(t->chans[0].fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0)
        return -errno;
    return 0;
}

static void tap_describe(struct net_backend *be, char *buf, size_t len)
{
    snprintf(buf, len, "tap=%s", to_tap(be)->ifname);
}

static void tap_free(struct net_backend *be)
{
    struct net_tap *t = to_tap(be);

    for (unsigned i = 0; i < TAP_MAX_CHANS; i++) {
        if (t->chans[i].ev)
            event_free(t->chans[i].ev);
        if (t->chans[i].ev_out)
            event_free(t->chans[i].ev_out);
        if (t->chans[i].fd >= 0)
            close(t->chans[i].fd);
    }
    free(t);
}

static const struct net_backend_ops net_tap_ops = {
    .name = "tap",
    .send = tap_send,
    .recv = tap_recv,
    .poll_rx = tap_poll_rx,
    .poll_tx = tap_poll_tx,
    .set_active = tap_set_active,
    .set_offloads = tap_set_offloads,
    .describe = tap_describe,
    .free = tap_free,
};

/* One fd attached to the interface: 0 or -errno. */
static int attach(const char *ifname, bool multi, int *fd_out)
{
    struct ifreq ifr = {0};
    int hdr = TAP_VNET_HDR_LEN;
    int fd, rc;

    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi ? IFF_MULTI_QUEUE : 0);
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* The receive offloads the kernel takes: each alone, TSO's companions with TSO. */
static unsigned probe_offloads(int fd)
{
    static const unsigned tries[] = {
        TUN_F_CSUM,
        TUN_F_CSUM | TUN_F_TSO4,
        TUN_F_CSUM | TUN_F_TSO6,
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN,
        TUN_F_CSUM | TUN_F_UFO,
        TUN_F_CSUM | TUN_F_USO4 | TUN_F_USO6,
    };
    unsigned ok = 0;

    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0)
            ok |= tries[i];
    /* Until the guest says otherwise it takes plain frames only. */
    if (ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
        return 0;
    return ok;
}

int net_tap_open(struct net_backend **out, const char *ifname, unsigned nr_chans,
                 struct event_base *base, char *errbuf, size_t errlen)
{
    struct net_tap *t;
    bool multi = nr_chans > 1;
    int rc;

    *out = NULL;
    if (!ifname[0] || strlen(ifname) >= IFNAMSIZ) {
        snprintf(errbuf, errlen, "tap name '%s' is not a valid interface name", ifname);
        return -EINVAL;
    }
    if (nr_chans == 0 || nr_chans > TAP_MAX_CHANS) {
        snprintf(errbuf, errlen, "tap: 1 to %u queue pairs", TAP_MAX_CHANS);
        return -EINVAL;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (unsigned i = 0; i < TAP_MAX_CHANS; i++)
        t->chans[i].fd = -1;
    snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
    t->be = (struct net_backend){
        .ops = &net_tap_ops,
        .nr_chans = nr_chans,
        .vnet_hdr = true,
        .tx_offloads = true,
        .link_up = true,
    };
    rc = attach(ifname, multi, &t->chans[0].fd);
    /* An interface made with multi_queue takes only multi-queue fds, even one. */
    if (rc == -EINVAL && !multi) {
        multi = true;
        rc = attach(ifname, multi, &t->chans[0].fd);
    }
    for (unsigned i = 1; !rc && i < nr_chans; i++)
        rc = attach(ifname, multi, &t->chans[i].fd);
    if (rc) {
        snprintf(errbuf, errlen, "tap %s: %s%s", ifname, strerror(-rc),
                 rc == -EPERM ? " (needs CAP_NET_ADMIN, or a tap this user owns)" : "");
        goto fail;
    }
    t->be.offloads = probe_offloads(t->chans[0].fd);
    /* A kernel that takes UFO or USO frames from us also takes them written to it (QEMU's
     * tap_probe_has_ufo / has_uso reason the same way). */
    t->be.tx_ufo = t->be.offloads & NET_OFF_UFO;
    t->be.tx_uso =
        (t->be.offloads & (NET_OFF_USO4 | NET_OFF_USO6)) == (NET_OFF_USO4 | NET_OFF_USO6);
    t->multi = multi;
    for (unsigned i = 0; i < nr_chans; i++) {
        t->chans[i].tap = t;
        t->chans[i].index = i;
        t->chans[i].attached = true;
        if (!base)
            continue;
        t->chans[i].ev =
            event_new(base, t->chans[i].fd, EV_READ | EV_PERSIST, on_readable, &t->chans[i]);
        t->chans[i].ev_out =
            event_new(base, t->chans[i].fd, EV_WRITE | EV_PERSIST, on_writable, &t->chans[i]);
        if (!t->chans[i].ev || !t->chans[i].ev_out) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    *out = &t->be;
    return 0;
fail:
    tap_free(&t->be);
    return rc;
}
