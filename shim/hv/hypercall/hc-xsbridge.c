/*
 * The guest's xenstore ring, relayed to the embedded xenstored the way
 * xenstored serves a domain: requests the guest puts in the ring page
 * (struct xenstore_domain_interface, its page pinned like xenstored's
 * mapping of it) go to mockxs as domain <domid>'s own connection
 * (mockxs_adopt_domain_conn, over a socketpair; the byte stream on it is
 * the ring's), and replies and watch events come back into the response
 * ring, after which the guest's port is set pending in the shared info page
 * (the vCPU wakes from SCHEDOP_poll/block). Bytes move only as far as the
 * ring or the socket takes them, so nothing is buffered here.
 *
 * A relay thread pumps both ways when xenstored sends and when the guest
 * notifies its port or waits on it. Ring indexes that claim more than a
 * ring's worth of data are corrupt: they are counted, the connection is
 * reset (a fresh one when the guest next notifies or waits, as xenstored
 * would treat a reintroduced domain) and the relay's own indexes
 * (req_cons, rsp_prod) resynchronised so the ring is empty again. A message
 * longer than XENSTORE_PAYLOAD_MAX makes mockxs drop the connection: that
 * is a reset too.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hc-internal.h"

#include <xen/io/xs_wire.h>

#include "log.h"

#ifdef MOCKHV_HAVE_MOCKXS
#include "mockxs.h"
#endif

#define RING_REQ 0
#define RING_RSP XENSTORE_RING_SIZE
#define REQ_CONS offsetof(struct xenstore_domain_interface, req_cons)
#define REQ_PROD offsetof(struct xenstore_domain_interface, req_prod)
#define RSP_CONS offsetof(struct xenstore_domain_interface, rsp_cons)
#define RSP_PROD offsetof(struct xenstore_domain_interface, rsp_prod)

static uint32_t idx_load(struct hc_xsbridge *b, size_t off)
{
    return __atomic_load_n((uint32_t *)(void *)(b->ring + off), __ATOMIC_ACQUIRE);
}

static void idx_store(struct hc_xsbridge *b, size_t off, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)(b->ring + off), v, __ATOMIC_RELEASE);
}

static int xs_connect(struct hv_hypercalls *h)
{
#ifdef MOCKHV_HAVE_MOCKXS
    int sv[2], rc;

    if (!h->hv->xs)
        return -ENODEV;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    rc = mockxs_adopt_domain_conn(h->hv->xs, sv[1], h->hv->domid);
    if (rc) {
        close(sv[0]);
        return rc;
    }
    h->xs.fd = sv[0];
    return 0;
#else
    return -ENODEV;
#endif
}

/* Drops the connection; lock held. The fresh one is made when the guest
 * next notifies or waits (xs_pump), so a xenstored that keeps refusing
 * costs one attempt per guest hypercall, never a loop. */
static void xs_reset(struct hv_hypercalls *h, const char *why)
{
    struct hc_xsbridge *b = &h->xs;

    hc_count(h, &h->stats.xs_resets);
    log_guest("hypercall: xenstore ring of domain %u: %s, connection reset", h->hv->domid, why);
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    b->want_write = false;
    b->want_read = true;
}

static void xs_corrupt(struct hv_hypercalls *h, const char *why)
{
    struct hc_xsbridge *b = &h->xs;

    hc_count(h, &h->stats.xs_ring_corrupt);
    /* our indexes follow the guest's: both rings read as empty */
    idx_store(b, REQ_CONS, idx_load(b, REQ_PROD));
    idx_store(b, RSP_PROD, idx_load(b, RSP_CONS));
    xs_reset(h, why);
}

/* Moves what fits both ways; lock held. */
static void xs_pump(struct hv_hypercalls *h)
{
    struct hc_xsbridge *b = &h->xs;
    bool moved = false;
    uint32_t cons, prod;

    if (!b->ring)
        return;
    if (b->fd < 0 && xs_connect(h)) {
        log_guest("hypercall: xenstore connection of domain %u not restored", h->hv->domid);
        return;
    }
    cons = idx_load(b, REQ_CONS);
    prod = idx_load(b, REQ_PROD);
    if (prod - cons > XENSTORE_RING_SIZE) {
        xs_corrupt(h, "request indexes out of bounds");
        return;
    }
    b->want_write = false;
    while (prod != cons) {
        uint32_t off = MASK_XENSTORE_IDX(cons), n = prod - cons;
        ssize_t w;

        if (n > XENSTORE_RING_SIZE - off)
            n = XENSTORE_RING_SIZE - off;
        w = send(b->fd, b->ring + RING_REQ + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            b->want_write = true;
            break;
        }
        if (w <= 0) {
            xs_reset(h, "xenstored closed the connection");
            return;
        }
        cons += (uint32_t)w;
        idx_store(b, REQ_CONS, cons);
        __atomic_fetch_add(&h->stats.xs_requests, (uint64_t)w, __ATOMIC_RELAXED);
        moved = true;
    }
    cons = idx_load(b, RSP_CONS);
    prod = idx_load(b, RSP_PROD);
    if (prod - cons > XENSTORE_RING_SIZE) {
        xs_corrupt(h, "response indexes out of bounds");
        return;
    }
    while (prod - cons < XENSTORE_RING_SIZE) {
        uint32_t off = MASK_XENSTORE_IDX(prod), n = XENSTORE_RING_SIZE - (prod - cons);
        ssize_t r;

        if (n > XENSTORE_RING_SIZE - off)
            n = XENSTORE_RING_SIZE - off;
        r = recv(b->fd, b->ring + RING_RSP + off, n, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0) {
            xs_reset(h, "xenstored closed the connection");
            break;
        }
        prod += (uint32_t)r;
        idx_store(b, RSP_PROD, prod);
        __atomic_fetch_add(&h->stats.xs_replies, (uint64_t)r, __ATOMIC_RELAXED);
        moved = true;
    }
    /* a full response ring: xenstored's output waits until the guest reads */
    b->want_read = prod - cons < XENSTORE_RING_SIZE;
    /* xenstored notifies after consuming requests and after replying */
    if (moved)
        hc_evtchn_set_pending(h, b->port);
}

/*
 * Lock held; called when the guest polls the store port. A guest takes the
 * port's pending bit with a locked read-modify-write (hvmloader's ring_wait:
 * lock btr). Xen's evtchn_2l_set_pending is atomic against it; here the
 * emulated vCPU does the locked operation as a plain load and store, so a
 * bit this relay sets between the two is overwritten and the guest, having
 * seen an empty ring just before, polls for a reply that is already in the
 * ring: nothing moves any more, and nothing sets the bit again. Unread
 * bytes in the response ring while the guest waits for the port mean such
 * a notification was lost (a guest polls only once it has read everything),
 * so the port is set pending again, as the relay set it when it put them
 * there. A guest never loses a notification this way on Xen, and one more
 * pending event is what every event-channel client tolerates.
 */
void hc_xs_poll_locked(struct hv_hypercalls *h, uint32_t port)
{
    struct hc_xsbridge *b = &h->xs;
    uint32_t unread;

    if (!b->ring || !b->port || port != b->port)
        return;
    unread = idx_load(b, RSP_PROD) - idx_load(b, RSP_CONS);
    /* corrupt indexes are the pump's to handle */
    if (unread && unread <= XENSTORE_RING_SIZE && !hc_evtchn_pending(h, b->port)) {
        hc_count(h, &h->stats.xs_renotify);
        hc_evtchn_set_pending(h, b->port);
    }
}

static void *xs_main(void *arg)
{
    struct hv_hypercalls *h = arg;
    struct hc_xsbridge *b = &h->xs;

    for (;;) {
        struct pollfd pf[2] = {{.fd = b->wake_fd, .events = POLLIN}, {.fd = -1}};
        uint64_t v;

        pthread_mutex_lock(&h->lock);
        if (b->stop) {
            pthread_mutex_unlock(&h->lock);
            break;
        }
        pf[1].fd = b->fd;
        pf[1].events = (b->want_read ? POLLIN : 0) | (b->want_write ? POLLOUT : 0);
        pthread_mutex_unlock(&h->lock);
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLIN) {
            ssize_t n = read(b->wake_fd, &v, sizeof(v));

            (void)n;
        }
        pthread_mutex_lock(&h->lock);
        if (!b->stop)
            xs_pump(h);
        pthread_mutex_unlock(&h->lock);
    }
    return NULL;
}

int hc_xs_start(struct hv_hypercalls *h, uint8_t *ring, uint32_t port)
{
    struct hc_xsbridge *b = &h->xs;
    int rc;

    b->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->wake_fd < 0)
        return -errno;
    pthread_mutex_lock(&h->lock);
    b->ring = ring;
    b->port = port;
    b->want_read = true;
    rc = xs_connect(h);
    pthread_mutex_unlock(&h->lock);
    if (rc)
        goto fail;
    rc = -pthread_create(&b->thread, NULL, xs_main, h);
    if (rc)
        goto fail;
    b->running = true;
    return 0;
fail:
    pthread_mutex_lock(&h->lock);
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    b->ring = NULL;
    b->port = 0;
    pthread_mutex_unlock(&h->lock);
    close(b->wake_fd);
    b->wake_fd = -1;
    return rc;
}

void hc_xs_kick(struct hv_hypercalls *h)
{
    uint64_t one = 1;

    if (h->xs.wake_fd >= 0 && write(h->xs.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("hypercall: xenstore relay wake-up: %s", strerror(errno));
}

void hc_xs_stop(struct hv_hypercalls *h)
{
    struct hc_xsbridge *b = &h->xs;

    if (b->running) {
        pthread_mutex_lock(&h->lock);
        b->stop = true;
        pthread_mutex_unlock(&h->lock);
        hc_xs_kick(h);
        pthread_join(b->thread, NULL);
        b->running = false;
    }
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    if (b->wake_fd >= 0)
        close(b->wake_fd);
    b->wake_fd = -1;
}
