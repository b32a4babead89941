/*
 * virtio-net (virtio 1.2, 5.1).
 *
 * Transmit: each chain is a 12-byte virtio_net_hdr and a frame, all
 * device-readable; it goes to the backend's channel for its queue pair and
 * is returned at once. Receive: a frame read from the backend waits in its
 * queue pair's buffer until the guest has posted room for it: one chain
 * without VIRTIO_NET_F_MRG_RXBUF, up to VNET_RX_MAX_BUFFERS with it, all
 * returned by one used idx update. With no room the channel stops polling;
 * the driver's notification resumes it. Each pass moves at most a budget of
 * frames, so one busy queue cannot starve the others.
 *
 * Offloads: the backend's vnet header carries checksum and segmentation
 * state both ways. Transmit offloads are offered when the backend takes
 * them (a tap), receive offloads as far as TUNSETOFFLOAD accepts them, and
 * what the driver chose is given to the backend at FEATURES_OK.
 *
 * The receive filter (promiscuous, all-multicast, MAC tables) is ours: the
 * backend delivers everything and we drop what the driver did not ask for.
 *
 * Ownership: the device owns its backend, the frames it holds and the
 * chains it has popped but not returned (held receive buffers); a reset
 * drops them all. Queue state belongs to the transport. A chain against the
 * rules (no header, receive buffers the device cannot write, a control
 * command without its answer byte) puts the device into NEEDS_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "virtio-net.h"

/* Frames or chains one pass moves per queue before yielding to the loop. */
#define VNET_BUDGET 64
/* The largest control command we read: a full pair of MAC tables, with room to spare. */
#define VNET_CTRL_MAX (2 + 2 * (4 + 6 * 256))
#define VNET_RX_BUF   (VNET_HDR_LEN + NET_FRAME_MAX)
/* Ethernet header with one VLAN tag: what "mtu plus the low level header" allows for. */
#define VNET_L2_HDR_MAX 18

struct vnet_rxq {
    struct vnet *net;
    unsigned pair;
    uint8_t *frame;          /* header + frame waiting for guest buffers */
    size_t frame_len;        /* 0: none waiting */
    struct virtq_req *spare; /* a finished record for the next pop (they are ~6 KiB) */
    bool polling;            /* the backend was last told to poll this channel */
    unsigned nr_held;        /* popped chains not yet used, in pop order */
    uint64_t held_bytes;
    struct virtq_req *held[VNET_RX_MAX_BUFFERS];
};

struct vnet_txq {
    struct vnet *net;
    unsigned pair;
    struct event *kick;     /* a pass that hit its budget continues from the loop */
    struct virtq_req *held; /* popped, waiting for room in the backend; NULL: none */
};

struct vnet_mac_table {
    unsigned n;
    bool overflow; /* the driver gave more than VNET_MAC_TABLE_MAX: accept every such frame */
    uint8_t mac[VNET_MAC_TABLE_MAX][6];
};

struct vnet {
    struct virtio_dev vdev;
    struct net_backend *be;
    unsigned max_pairs;
    uint16_t mtu;
    uint8_t perm_mac[6]; /* from the spec; reset restores it */
    uint64_t offered;
    uint64_t acked;
    bool enabled; /* false after the platform unplugged NICs */

    /* Driver state, back to defaults at reset. */
    uint8_t mac[6];
    unsigned active_pairs;
    bool promisc, allmulti;
    struct vnet_mac_table uni, multi;
    bool broken; /* reported NEEDS_RESET */

    struct vnet_rxq rxq[VNET_MAX_PAIRS];
    struct vnet_txq txq[VNET_MAX_PAIRS];
    struct vnet_queue_stats qstats[VNET_MAX_PAIRS];
    struct vnet_stats stats;
    uint8_t ctrl_cmd[VNET_CTRL_MAX]; /* the control command being answered */
};

static struct vnet *to_net(struct virtio_dev *vdev)
{
    return container_of(vdev, struct vnet, vdev);
}

static bool acked(const struct vnet *net, unsigned bit)
{
    return net->acked & VIRTIO_BIT(bit);
}

static unsigned ctrl_index(const struct vnet *net)
{
    return 2 * net->max_pairs;
}

static void mark_broken(struct vnet *net, const char *why)
{
    net->stats.bad_chains++;
    log_guest("virtio-net: %s; device needs reset", why);
    if (!net->broken) {
        net->broken = true;
        virtio_needs_reset(&net->vdev);
    }
}

/* Returns a chain the device will not use, with nothing written. */
static void give_back(struct vnet *net, struct virtq *vq, struct virtq_req *req)
{
    virtq_req_release(vq, req);
    virtq_push(vq, req->head, 0);
    (void)net;
}

/*
 * After a pop found nothing and notifications went back on: whether the
 * driver posted meanwhile, so the pass goes on. Yes only if a chain was
 * taken since the last yes: a driver fills a slot before it moves avail
 * idx, so the pop after a yes takes a chain, and an index that moves with
 * nothing behind it (rings laid over each other, where our own flag writes
 * move it) must not keep every pass busy to its budget.
 */
static bool posted_meanwhile(struct virtq *vq, uint32_t *last_yes)
{
    if (!virtq_has_avail(vq) || *last_yes == vq->last_avail)
        return false;
    *last_yes = vq->last_avail;
    return true;
}

/* --- receive --- */

static bool mac_in(const struct vnet_mac_table *t, const uint8_t *mac)
{
    if (t->overflow)
        return true;
    for (unsigned i = 0; i < t->n; i++)
        if (!memcmp(t->mac[i], mac, 6))
            return true;
    return false;
}

static bool rx_wanted(const struct vnet *net, const uint8_t *dst)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    if (net->promisc)
        return true;
    if (!memcmp(dst, bcast, 6))
        return true;
    if (dst[0] & 1)
        return net->allmulti || mac_in(&net->multi, dst);
    return !memcmp(dst, net->mac, 6) || mac_in(&net->uni, dst);
}

/* Every poll_rx goes through here, so the device knows whether it waits for frames. */
static void rx_poll(struct vnet *net, unsigned pair, bool on)
{
    net->rxq[pair].polling = on;
    net->be->ops->poll_rx(net->be, pair, on);
}

static struct virtq_req *rxq_req_get(struct vnet_rxq *q)
{
    struct virtq_req *req = q->spare;

    q->spare = NULL;
    return req ? req : malloc(sizeof(*req));
}

static void rxq_req_put(struct vnet_rxq *q, struct virtq_req *req)
{
    if (!q->spare)
        q->spare = req;
    else
        free(req);
}

static void rx_drop_held(struct vnet *net, struct vnet_rxq *q, bool push)
{
    struct virtq *vq = virtio_queue(&net->vdev, 2 * q->pair);

    for (unsigned i = 0; i < q->nr_held; i++) {
        if (vq)
            virtq_req_release(vq, q->held[i]);
        if (push && vq)
            virtq_push(vq, q->held[i]->head, 0);
        free(q->held[i]);
        q->held[i] = NULL;
    }
    q->nr_held = 0;
    q->held_bytes = 0;
}

/* Fix up the header the guest will read: what it negotiated, and how many buffers. */
static void rx_fix_header(struct vnet *net, uint8_t *hdr, uint16_t nr_buffers)
{
    if (!acked(net, VIRTIO_NET_F_GUEST_CSUM))
        hdr[VNET_HDR_FLAGS] = 0;
    hdr[VNET_HDR_NUM_BUFFERS] = (uint8_t)nr_buffers;
    hdr[VNET_HDR_NUM_BUFFERS + 1] = (uint8_t)(nr_buffers >> 8);
}

/*
 * Puts the waiting frame into held chains, popping more as needed: 0 when
 * delivered, -EAGAIN when the guest has no more buffers (the frame keeps
 * waiting), -E2BIG when it cannot fit (in the buffers a frame may span, or
 * in what can be mapped) and was dropped, -EIO when the queue broke.
 */
static int rx_place(struct vnet *net, struct vnet_rxq *q, struct virtq *vq)
{
    bool mrg = acked(net, VIRTIO_NET_F_MRG_RXBUF);
    struct virtq_used_elem used[VNET_RX_MAX_BUFFERS];
    size_t need = q->frame_len, off = 0;
    unsigned n = 0;

    for (;;) {
        struct virtq_req *req;
        int rc;

        if (q->nr_held > 0 && (!mrg || q->held_bytes >= need))
            break;
        if (q->nr_held == VNET_RX_MAX_BUFFERS) {
            q->frame_len = 0;
            net->stats.rx_no_room++;
            return -E2BIG;
        }
        req = rxq_req_get(q);
        if (!req)
            return -EAGAIN;
        rc = virtq_pop(vq, req);
        if (rc) {
            rxq_req_put(q, req);
            if (rc == -EINVAL) {
                mark_broken(net, "receive queue broken");
                return -EIO;
            }
            if (rc == -ENOMEM) {
                /*
                 * No mapping space for another buffer while this frame
                 * holds some (a pop fails so only with chains in flight):
                 * they go back only with a frame, so it would wait for
                 * itself. Drop it; the held chains take the next one.
                 */
                q->frame_len = 0;
                net->stats.rx_no_room++;
                return -E2BIG;
            }
            return -EAGAIN; /* nothing posted */
        }
        if (req->nr_readable || req->writable_bytes < (mrg ? VNET_HDR_LEN : 1)) {
            bool readable = req->nr_readable != 0;

            give_back(net, vq, req);
            rxq_req_put(q, req);
            mark_broken(net, readable ? "receive buffer readable by the device"
                                      : "receive buffer smaller than the header");
            return -EIO;
        }
        q->held[q->nr_held++] = req;
        q->held_bytes += req->writable_bytes;
    }
    if (!mrg && q->held[0]->writable_bytes < need) {
        /* The chain stays held for the next, smaller frame. */
        q->frame_len = 0;
        net->stats.rx_no_room++;
        return -E2BIG;
    }
    while (off < need) {
        struct virtq_req *req = q->held[n];
        size_t take = need - off;

        if (take > req->writable_bytes)
            take = (size_t)req->writable_bytes;
        virtq_req_copy_to(req, 0, q->frame + off, take);
        used[n].head = req->head;
        used[n].written = (uint32_t)take;
        off += take;
        n++;
    }
    /* The header sits in the first chain: fix it there (5.1.6.4: num_buffers). */
    rx_fix_header(net, q->frame, (uint16_t)n);
    virtq_req_copy_to(q->held[0], 0, q->frame, VNET_HDR_LEN);
    for (unsigned i = 0; i < n; i++) {
        virtq_req_release(vq, q->held[i]);
        rxq_req_put(q, q->held[i]);
    }
    memmove(q->held, q->held + n, (q->nr_held - n) * sizeof(q->held[0]));
    q->nr_held -= n;
    q->held_bytes = 0;
    for (unsigned i = 0; i < q->nr_held; i++)
        q->held_bytes += q->held[i]->writable_bytes;
    if (virtq_push_n(vq, used, n))
        log_warn("virtio-net: receive queue %u refused %u used entries", q->pair, n);
    net->qstats[q->pair].rx_frames++;
    net->qstats[q->pair].rx_bytes += need - VNET_HDR_LEN;
    q->frame_len = 0;
    return 0;
}

/*
 * Reads one frame from the backend into q->frame: 0 when the guest wants
 * it, -ENOENT when it was dropped (counted), -EAGAIN when there is none,
 * or another -errno from the backend (counted). One frame per call, so a
 * flood of frames nobody wants still counts against the pass's budget.
 */
static int rx_read(struct vnet *net, struct vnet_rxq *q)
{
    bool hdr = net->be->vnet_hdr;
    uint8_t *buf = hdr ? q->frame : q->frame + VNET_HDR_LEN;
    size_t room = hdr ? VNET_RX_BUF : NET_FRAME_MAX;
    ssize_t len = net->be->ops->recv(net->be, q->pair, buf, room);
    size_t frame;

    if (len == -EAGAIN)
        return -EAGAIN;
    if (len < 0) {
        net->stats.rx_backend_errors++;
        return (int)len;
    }
    if ((size_t)len > room) {
        net->stats.rx_oversize++;
        return -ENOENT;
    }
    if (!hdr) {
        memset(q->frame, 0, VNET_HDR_LEN);
        len += VNET_HDR_LEN;
    }
    if ((size_t)len < VNET_HDR_LEN + 6) {
        net->stats.rx_backend_errors++;
        return -ENOENT;
    }
    frame = (size_t)len - VNET_HDR_LEN;
    /* 5.1.6.3.2: with MTU negotiated, no unsegmented frame over mtu plus its L2 header. */
    if (acked(net, VIRTIO_NET_F_MTU) &&
        (q->frame[VNET_HDR_GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE &&
        frame > (size_t)net->mtu + VNET_L2_HDR_MAX) {
        net->stats.rx_over_mtu++;
        return -ENOENT;
    }
    if (!rx_wanted(net, q->frame + VNET_HDR_LEN)) {
        net->stats.rx_filtered++;
        return -ENOENT;
    }
    q->frame_len = (size_t)len;
    return 0;
}

static bool rx_ready(struct vnet *net, unsigned pair)
{
    struct virtq *vq = virtio_queue(&net->vdev, 2 * pair);

    return net->enabled && !net->broken && pair < net->active_pairs && vq && vq->started;
}

/* Moves up to a budget of frames into receive queue `pair`; decides whether to keep polling. */
static void rx_run(struct vnet *net, unsigned pair)
{
    struct vnet_rxq *q = &net->rxq[pair];
    struct virtq *vq = virtio_queue(&net->vdev, 2 * pair);
    bool delivered = false, poll = true;
    uint32_t last_yes = UINT32_MAX;

    if (!rx_ready(net, pair)) {
        rx_poll(net, pair, false);
        return;
    }
    for (unsigned budget = VNET_BUDGET; budget; budget--) {
        int rc;

        if (!q->frame_len) {
            rc = rx_read(net, q);
            if (rc == -ENOENT)
                continue; /* dropped: it still took a share of the budget */
            if (rc)
                break; /* drained; a backend error is counted and the channel stays polled */
        }
        rc = rx_place(net, q, vq);
        if (rc == 0)
            delivered = true;
        if (rc == -EIO) {
            poll = false;
            break;
        }
        if (rc == -EAGAIN) {
            /* Out of buffers: wait for the driver, unless it posted some meanwhile. */
            virtq_set_notify(vq, true);
            if (posted_meanwhile(vq, &last_yes)) {
                virtq_set_notify(vq, false);
                continue;
            }
            poll = false;
            break;
        }
    }
    /*
     * Notifications only while we wait for buffers (as QEMU's
     * virtio_net_has_buffers): a driver that reposts a buffer per frame
     * would otherwise trap for each while we have plenty.
     */
    if (poll && !virtq_broken(vq))
        virtq_set_notify(vq, false);
    rx_poll(net, pair, poll);
    if (delivered)
        virtio_notify_queue(&net->vdev, vq);
}

static void on_backend_readable(void *opaque, unsigned chan)
{
    struct vnet *net = opaque;

    if (chan < net->max_pairs)
        rx_run(net, chan);
}

/* --- transmit --- */

static bool tx_header_ok(const struct vnet *net, const uint8_t *hdr)
{
    uint8_t gso = hdr[VNET_HDR_GSO_TYPE];

    if ((hdr[VNET_HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !acked(net, VIRTIO_NET_F_CSUM))
        return false;
    if (hdr[VNET_HDR_FLAGS] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
        return false;
    if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !acked(net, VIRTIO_NET_F_HOST_ECN))
        return false;
    switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
        return !(gso & VIRTIO_NET_HDR_GSO_ECN);
    case VIRTIO_NET_HDR_GSO_TCPV4:
        return acked(net, VIRTIO_NET_F_HOST_TSO4);
    case VIRTIO_NET_HDR_GSO_TCPV6:
        return acked(net, VIRTIO_NET_F_HOST_TSO6);
    case VIRTIO_NET_HDR_GSO_UDP:
        return acked(net, VIRTIO_NET_F_HOST_UFO);
    case VIRTIO_NET_HDR_GSO_UDP_L4:
        return acked(net, VIRTIO_NET_F_HOST_USO);
    }
    return false;
}

/* Builds the iovec of a chain's readable part from byte `skip`. */
static unsigned tx_iov(const struct virtq_req *req, size_t skip, struct iovec *iov)
{
    unsigned n = 0;

    for (unsigned i = 0; i < req->nr_readable; i++) {
        const struct virtq_seg *s = &req->seg[i];

        if (skip >= s->len) {
            skip -= s->len;
            continue;
        }
        iov[n].iov_base = (char *)s->ptr + skip;
        iov[n].iov_len = s->len - skip;
        n++;
        skip = 0;
    }
    return n;
}

enum tx_result {
    TX_DONE,   /* sent, or dropped and counted: the chain went back */
    TX_FULL,   /* the backend has no room: the chain is kept for later */
    TX_BROKEN, /* against the rules: the chain went back, the device needs reset */
};

static enum tx_result tx_one(struct vnet *net, unsigned pair, struct virtq *vq,
                             struct virtq_req *req)
{
    struct iovec iov[VIRTQ_MAX_SEGS];
    uint8_t hdr[VNET_HDR_LEN];
    uint64_t frame;
    ssize_t rc;

    if (req->readable_bytes < VNET_HDR_LEN) {
        give_back(net, vq, req);
        mark_broken(net, "transmit chain without a header");
        return TX_BROKEN;
    }
    frame = req->readable_bytes - VNET_HDR_LEN;
    virtq_req_copy_from(req, 0, hdr, sizeof(hdr));
    if (frame > NET_FRAME_MAX) {
        net->stats.tx_oversize++;
    } else if (frame < 14) {
        net->stats.tx_runt++;
    } else if (!tx_header_ok(net, hdr)) {
        net->stats.tx_bad_hdr++;
    } else if (net->enabled) {
        unsigned n = tx_iov(req, net->be->vnet_hdr ? 0 : VNET_HDR_LEN, iov);

        rc = net->be->ops->send(net->be, pair, iov, n);
        if (rc == -EAGAIN) {
            net->stats.tx_backend_full++;
            return TX_FULL;
        }
        if (rc >= 0) {
            net->qstats[pair].tx_frames++;
            net->qstats[pair].tx_bytes += frame;
        } else {
            net->stats.tx_backend_errors++;
        }
    }
    give_back(net, vq, req);
    return TX_DONE;
}

/*
 * Moves up to a budget of chains from transmitq `pair` to the backend. A
 * full backend stops the queue with the chain kept (like a NIC whose wire
 * is busy, nothing is dropped) until the backend says it has room.
 */
static void tx_run(struct vnet *net, unsigned pair)
{
    struct virtq *vq = virtio_queue(&net->vdev, 2 * pair + 1);
    struct vnet_txq *q = &net->txq[pair];
    struct virtq_req *req;
    enum tx_result r;
    bool pushed = false;
    uint32_t last_yes = UINT32_MAX;

    if (!vq || !vq->started || net->broken)
        return;
    if (q->held) {
        r = tx_one(net, pair, vq, q->held);
        if (r == TX_FULL)
            return;
        net->be->ops->poll_tx(net->be, pair, false);
        free(q->held);
        q->held = NULL;
        pushed = true;
        if (r == TX_BROKEN)
            goto out;
    }
    req = malloc(sizeof(*req));
    if (!req)
        goto out;
    virtq_set_notify(vq, false);
    for (unsigned budget = VNET_BUDGET;; budget--) {
        int rc;

        if (budget == 0) {
            if (q->kick)
                event_active(q->kick, 0, 0);
            break;
        }
        rc = virtq_pop(vq, req);
        if (rc == -EAGAIN || rc == -ENOMEM) {
            virtq_set_notify(vq, true);
            if (rc == -EAGAIN && posted_meanwhile(vq, &last_yes)) {
                virtq_set_notify(vq, false);
                continue;
            }
            break;
        }
        if (rc) {
            mark_broken(net, "transmit queue broken");
            break;
        }
        r = tx_one(net, pair, vq, req);
        if (r == TX_FULL) {
            /* Notifications stay off: the backend's room restarts the queue. */
            q->held = req;
            req = NULL;
            net->be->ops->poll_tx(net->be, pair, true);
            break;
        }
        pushed = true;
        if (r == TX_BROKEN)
            break;
    }
    if (net->broken)
        virtq_set_notify(vq, true);
    free(req);
out:
    if (!pushed)
        return;
    /*
     * A request's answer is often in the backend already (a tap's kernel
     * answers an ICMP echo or a TCP segment inside the writev): the guest
     * waits for that more than for its transmit interrupt, so it goes first,
     * without a loop turn in between, and the writes of both rings reach the
     * dirty log in the one report before the first interrupt. This is what
     * the backend's readable event would run, only sooner; a channel the
     * device stopped polling (no buffers, queue not ready) stays as it is.
     */
    if (net->rxq[pair].polling)
        rx_run(net, pair);
    virtio_notify_queue(&net->vdev, vq);
}

/*
 * The driver's transmit notification: the queue runs from the loop, after
 * the vCPU that notified has its answer, with notifications off until then
 * (QEMU's tx=bh does the same), so a driver adding frames meanwhile does
 * not trap again for each. Without a loop, at once.
 */
static void tx_notify(struct vnet *net, unsigned pair)
{
    struct virtq *vq = virtio_queue(&net->vdev, 2 * pair + 1);
    struct vnet_txq *q = &net->txq[pair];

    if (!q->kick || !vq || !vq->started) {
        tx_run(net, pair);
        return;
    }
    if (q->held)
        return; /* waiting for room: the backend restarts the queue */
    virtq_set_notify(vq, false);
    event_active(q->kick, 0, 0);
}

static void on_backend_writable(void *opaque, unsigned chan)
{
    struct vnet *net = opaque;

    if (chan < net->max_pairs)
        tx_run(net, chan);
}

/* Drops a chain kept for a full backend (reset, teardown): nothing is returned. */
static void tx_drop_held(struct vnet *net, unsigned pair)
{
    struct vnet_txq *q = &net->txq[pair];
    struct virtq *vq = virtio_queue(&net->vdev, 2 * pair + 1);

    net->be->ops->poll_tx(net->be, pair, false);
    if (!q->held)
        return;
    if (vq)
        virtq_req_release(vq, q->held);
    free(q->held);
    q->held = NULL;
}

static void on_tx_kick(evutil_socket_t fd, short what, void *opaque)
{
    struct vnet_txq *q = opaque;

    (void)fd;
    (void)what;
    tx_run(q->net, q->pair);
}

/* --- control queue --- */

static uint8_t ctrl_rx(struct vnet *net, uint8_t cmd, const uint8_t *data, size_t len)
{
    if (!acked(net, VIRTIO_NET_F_CTRL_RX) || len != 1)
        return VIRTIO_NET_ERR;
    switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC:
        net->promisc = data[0] != 0;
        return VIRTIO_NET_OK;
    case VIRTIO_NET_CTRL_RX_ALLMULTI:
        net->allmulti = data[0] != 0;
        return VIRTIO_NET_OK;
    }
    return VIRTIO_NET_ERR;
}

/* One table of MAC_TABLE_SET: le32 entries, then 6 bytes each. Bytes used, or 0 if bad. */
static size_t parse_mac_table(const uint8_t *data, size_t len, struct vnet_mac_table *t)
{
    uint32_t n;

    if (len < 4)
        return 0;
    n = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
        (uint32_t)data[3] << 24;
    if (n > (len - 4) / 6)
        return 0;
    memset(t, 0, sizeof(*t));
    if (n > VNET_MAC_TABLE_MAX) {
        t->overflow = true;
    } else {
        t->n = n;
        memcpy(t->mac, data + 4, 6u * n);
    }
    return 4 + 6u * n;
}

static uint8_t ctrl_mac(struct vnet *net, uint8_t cmd, const uint8_t *data, size_t len)
{
    struct vnet_mac_table uni, multi;
    size_t a, b;

    switch (cmd) {
    case VIRTIO_NET_CTRL_MAC_ADDR_SET:
        if (!acked(net, VIRTIO_NET_F_CTRL_MAC_ADDR) || len != 6)
            return VIRTIO_NET_ERR;
        memcpy(net->mac, data, 6);
        return VIRTIO_NET_OK;
    case VIRTIO_NET_CTRL_MAC_TABLE_SET:
        if (!acked(net, VIRTIO_NET_F_CTRL_RX))
            return VIRTIO_NET_ERR;
        a = parse_mac_table(data, len, &uni);
        b = a ? parse_mac_table(data + a, len - a, &multi) : 0;
        /* Both tables, and nothing after them (5.1.6.5.2). */
        if (!a || !b || a + b != len)
            return VIRTIO_NET_ERR;
        net->uni = uni;
        net->multi = multi;
        return VIRTIO_NET_OK;
    }
    return VIRTIO_NET_ERR;
}

static void set_backend_active(struct vnet *net)
{
    if (net->be->ops->set_active)
        net->be->ops->set_active(net->be, net->active_pairs);
}

static uint8_t ctrl_mq(struct vnet *net, uint8_t cmd, const uint8_t *data, size_t len)
{
    unsigned pairs, old = net->active_pairs;

    if (!acked(net, VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || len != 2)
        return VIRTIO_NET_ERR;
    pairs = (unsigned)data[0] | (unsigned)data[1] << 8;
    /* 5.1.6.5.6.1: 1 .. max_virtqueue_pairs, anything else is refused. */
    if (pairs < 1 || pairs > net->max_pairs)
        return VIRTIO_NET_ERR;
    net->active_pairs = pairs;
    set_backend_active(net);
    for (unsigned i = pairs; i < old; i++)
        rx_poll(net, i, false);
    for (unsigned i = old; i < pairs; i++)
        rx_run(net, i);
    return VIRTIO_NET_OK;
}

static void ctrl_run(struct vnet *net)
{
    struct virtq *vq = virtio_queue(&net->vdev, ctrl_index(net));
    uint8_t *cmd = net->ctrl_cmd;
    struct virtq_req *req;
    bool pushed = false;

    if (!vq || !vq->started || net->broken)
        return;
    req = malloc(sizeof(*req));
    if (!req)
        return;
    for (unsigned budget = VNET_BUDGET; budget; budget--) {
        uint8_t ack = VIRTIO_NET_ERR;
        size_t len;
        int rc = virtq_pop(vq, req);

        if (rc == -EAGAIN || rc == -ENOMEM)
            break;
        if (rc) {
            mark_broken(net, "control queue broken");
            break;
        }
        pushed = true;
        if (req->readable_bytes < 2 || req->writable_bytes < 1) {
            give_back(net, vq, req);
            mark_broken(net, "control command without its header or answer byte");
            break;
        }
        cmd[0] = cmd[1] = 0xff;
        if (req->readable_bytes <= VNET_CTRL_MAX) {
            len = virtq_req_copy_from(req, 0, cmd, VNET_CTRL_MAX);
            switch (cmd[0]) {
            case VIRTIO_NET_CTRL_RX:
                ack = ctrl_rx(net, cmd[1], cmd + 2, len - 2);
                break;
            case VIRTIO_NET_CTRL_MAC:
                ack = ctrl_mac(net, cmd[1], cmd + 2, len - 2);
                break;
            case VIRTIO_NET_CTRL_MQ:
                ack = ctrl_mq(net, cmd[1], cmd + 2, len - 2);
                break;
            }
        }
        if (ack == VIRTIO_NET_OK) {
            net->stats.ctrl_ok++;
        } else {
            net->stats.ctrl_err++;
            log_guest("virtio-net: control command %u.%u refused", cmd[0], cmd[1]);
        }
        virtq_req_copy_to(req, 0, &ack, 1);
        virtq_req_release(vq, req);
        virtq_push(vq, req->head, 1);
    }
    free(req);
    if (pushed)
        virtio_notify_queue(&net->vdev, vq);
}

/* --- virtio_dev_ops --- */

static unsigned vnet_num_queues(struct virtio_dev *vdev)
{
    return 2 * to_net(vdev)->max_pairs + 1;
}

static uint16_t vnet_queue_max(struct virtio_dev *vdev)
{
    (void)vdev;
    return VNET_QUEUE_SIZE;
}

static unsigned vnet_cfg_size(struct virtio_dev *vdev)
{
    (void)vdev;
    return VNET_CFG_SIZE;
}

static uint64_t vnet_features(struct virtio_dev *vdev)
{
    return to_net(vdev)->offered;
}

/* 5.1.3.1: feature dependencies a driver must respect; a set that breaks one is refused. */
static int vnet_set_features(struct virtio_dev *vdev, uint64_t features)
{
    struct vnet *net = to_net(vdev);
    static const struct {
        unsigned bit, needs_any[2];
    } deps[] = {
        {VIRTIO_NET_F_GUEST_TSO4, {VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_CSUM}},
        {VIRTIO_NET_F_GUEST_TSO6, {VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_CSUM}},
        {VIRTIO_NET_F_GUEST_ECN, {VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6}},
        {VIRTIO_NET_F_GUEST_UFO, {VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_CSUM}},
        {VIRTIO_NET_F_HOST_TSO4, {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_CSUM}},
        {VIRTIO_NET_F_HOST_TSO6, {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_CSUM}},
        {VIRTIO_NET_F_HOST_ECN, {VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6}},
        {VIRTIO_NET_F_HOST_UFO, {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_CSUM}},
        {VIRTIO_NET_F_HOST_USO, {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_CSUM}},
        {VIRTIO_NET_F_GUEST_USO4, {VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_CSUM}},
        {VIRTIO_NET_F_GUEST_USO6, {VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_CSUM}},
        {VIRTIO_NET_F_CTRL_RX, {VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_VQ}},
        {VIRTIO_NET_F_MQ, {VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_VQ}},
        {VIRTIO_NET_F_CTRL_MAC_ADDR, {VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_VQ}},
    };
    unsigned off = 0;
    int rc;

    for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
        if ((features & VIRTIO_BIT(deps[i].bit)) &&
            !(features & (VIRTIO_BIT(deps[i].needs_any[0]) | VIRTIO_BIT(deps[i].needs_any[1])))) {
            log_guest("virtio-net: driver accepted feature %u without what it depends on",
                      deps[i].bit);
            return -EINVAL;
        }
    }
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM))
        off |= NET_OFF_CSUM;
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
        off |= NET_OFF_TSO4;
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
        off |= NET_OFF_TSO6;
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN))
        off |= NET_OFF_ECN;
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO))
        off |= NET_OFF_UFO;
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO4))
        off |= NET_OFF_USO4;
    if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO6))
        off |= NET_OFF_USO6;
    rc = net->be->ops->set_offloads(net->be, off);
    if (rc) {
        log_warn("virtio-net: backend refused offloads %#x: %s", off, strerror(-rc));
        return -EINVAL;
    }
    net->acked = features;
    return 0;
}

static uint16_t cfg_status(const struct vnet *net)
{
    return net->enabled && net->be->link_up ? VIRTIO_NET_S_LINK_UP : 0;
}

static uint32_t vnet_cfg_read(struct virtio_dev *vdev, unsigned offset, unsigned size)
{
    struct vnet *net = to_net(vdev);
    uint8_t cfg[VNET_CFG_SIZE] = {0};
    uint32_t v = 0;

    memcpy(cfg + VNET_CFG_MAC, net->mac, 6);
    cfg[VNET_CFG_STATUS] = (uint8_t)cfg_status(net);
    cfg[VNET_CFG_MAX_PAIRS] = (uint8_t)net->max_pairs;
    cfg[VNET_CFG_MTU] = (uint8_t)net->mtu;
    cfg[VNET_CFG_MTU + 1] = (uint8_t)(net->mtu >> 8);
    if (offset >= VNET_CFG_SIZE || size > VNET_CFG_SIZE - offset || size > 4)
        return 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)cfg[offset + i] << (8 * i);
    return v;
}

static void vnet_cfg_write(struct virtio_dev *vdev, unsigned offset, unsigned size, uint32_t value)
{
    (void)vdev;
    (void)value;
    /* 5.1.4.2: with VERSION_1 the driver writes nothing here; MAC_ADDR_SET changes the MAC. */
    log_guest("virtio-net: config write of %u bytes at %u ignored", size, offset);
}

static void vnet_queue_notify(struct virtio_dev *vdev, unsigned index)
{
    struct vnet *net = to_net(vdev);

    if (net->broken)
        return;
    if (index == ctrl_index(net))
        ctrl_run(net);
    else if (index % 2)
        tx_notify(net, index / 2);
    else
        rx_run(net, index / 2);
}

/* Nothing of ours is ever in flight (every frame moves on the loop thread at once): DONE. */
static enum virtio_reset vnet_reset(struct virtio_dev *vdev)
{
    struct vnet *net = to_net(vdev);

    for (unsigned i = 0; i < net->max_pairs; i++) {
        rx_poll(net, i, false);
        rx_drop_held(net, &net->rxq[i], false);
        net->rxq[i].frame_len = 0;
        tx_drop_held(net, i);
        if (net->txq[i].kick)
            event_del(net->txq[i].kick);
    }
    net->acked = 0;
    net->broken = false;
    memcpy(net->mac, net->perm_mac, 6);
    net->active_pairs = 1;
    set_backend_active(net);
    /* Until the driver says otherwise, every frame is wanted (as QEMU's default). */
    net->promisc = true;
    net->allmulti = false;
    memset(&net->uni, 0, sizeof(net->uni));
    memset(&net->multi, 0, sizeof(net->multi));
    net->be->ops->set_offloads(net->be, 0);
    return VIRTIO_RESET_DONE;
}

static void vnet_unplug(struct virtio_dev *vdev)
{
    log_info("virtio-net: unplugged by the guest's request");
    vnet_set_enabled(to_net(vdev), false);
}

static const struct virtio_dev_ops vnet_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = vnet_num_queues,
    .queue_max = vnet_queue_max,
    .cfg_size = vnet_cfg_size,
    .features = vnet_features,
    .set_features = vnet_set_features,
    .cfg_read = vnet_cfg_read,
    .cfg_write = vnet_cfg_write,
    .queue_notify = vnet_queue_notify,
    .reset = vnet_reset,
    .unplug = vnet_unplug,
};

static void on_link_changed(void *opaque)
{
    struct vnet *net = opaque;
    const struct virtio_transport *t = net->vdev.transport;

    net->stats.link_changes++;
    log_info("virtio-net: link %s", vnet_link_up(net) ? "up" : "down");
    if (t && (net->offered & VIRTIO_BIT(VIRTIO_NET_F_STATUS)))
        t->notify_config(t->opaque);
}

static uint64_t offer(const struct vnet *net)
{
    const struct net_backend *be = net->be;
    uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
                 VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
                 VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_MAC_ADDR);

    if (net->mtu)
        f |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
    if (net->max_pairs > 1)
        f |= VIRTIO_BIT(VIRTIO_NET_F_MQ);
    if (be->vnet_hdr && be->tx_offloads) {
        f |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
             VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
        if (be->tx_ufo)
            f |= VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO);
        if (be->tx_uso)
            f |= VIRTIO_BIT(VIRTIO_NET_F_HOST_USO);
    }
    if (be->vnet_hdr && (be->offloads & NET_OFF_CSUM)) {
        f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM);
        if (be->offloads & NET_OFF_TSO4)
            f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4);
        if (be->offloads & NET_OFF_TSO6)
            f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
        if ((be->offloads & NET_OFF_ECN) && (be->offloads & (NET_OFF_TSO4 | NET_OFF_TSO6)))
            f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN);
        if (be->offloads & NET_OFF_UFO)
            f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO);
        if (be->offloads & NET_OFF_USO4)
            f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO4);
        if (be->offloads & NET_OFF_USO6)
            f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO6);
    }
    return f;
}

int vnet_new(struct vnet **out, struct net_backend *be, const struct vnet_params *params,
             char *errbuf, size_t errlen)
{
    struct vnet *net;
    int rc = -EINVAL;

    *out = NULL;
    if (params->max_pairs < 1 || params->max_pairs > VNET_MAX_PAIRS ||
        params->max_pairs > be->nr_chans) {
        snprintf(errbuf, errlen, "%u queue pairs: 1 to %u, as many as the backend has (%u)",
                 params->max_pairs, VNET_MAX_PAIRS, be->nr_chans);
        be->ops->free(be);
        return -EINVAL;
    }
    if (params->mtu && params->mtu < VNET_MTU_MIN) {
        snprintf(errbuf, errlen, "mtu %u below %u", params->mtu, VNET_MTU_MIN);
        be->ops->free(be);
        return -EINVAL;
    }
    net = calloc(1, sizeof(*net));
    if (!net) {
        be->ops->free(be);
        return -ENOMEM;
    }
    net->vdev.ops = &vnet_ops;
    net->be = be;
    net->max_pairs = params->max_pairs;
    net->mtu = params->mtu;
    net->enabled = true;
    memcpy(net->perm_mac, params->mac, 6);
    net->offered = offer(net);
    for (unsigned i = 0; i < net->max_pairs; i++) {
        net->rxq[i] = (struct vnet_rxq){.net = net, .pair = i};
        net->rxq[i].frame = malloc(VNET_RX_BUF);
        net->txq[i] = (struct vnet_txq){.net = net, .pair = i};
        if (!net->rxq[i].frame) {
            rc = -ENOMEM;
            goto fail;
        }
        if (params->base) {
            net->txq[i].kick = event_new(params->base, -1, 0, on_tx_kick, &net->txq[i]);
            if (!net->txq[i].kick) {
                rc = -ENOMEM;
                goto fail;
            }
        }
    }
    be->readable = on_backend_readable;
    be->writable = on_backend_writable;
    be->link_changed = on_link_changed;
    be->opaque = net;
    vnet_reset(&net->vdev);
    *out = net;
    return 0;
fail:
    snprintf(errbuf, errlen, "out of memory");
    vnet_free(net);
    return rc;
}

void vnet_free(struct vnet *net)
{
    if (!net)
        return;
    for (unsigned i = 0; i < net->max_pairs; i++) {
        net->be->ops->poll_rx(net->be, i, false);
        rx_drop_held(net, &net->rxq[i], false);
        tx_drop_held(net, i);
        free(net->rxq[i].frame);
        free(net->rxq[i].spare);
        if (net->txq[i].kick)
            event_free(net->txq[i].kick);
    }
    net->be->ops->free(net->be);
    free(net);
}

struct virtio_dev *vnet_vdev(struct vnet *net)
{
    return &net->vdev;
}

struct net_backend *vnet_backend(struct vnet *net)
{
    return net->be;
}

void vnet_get_stats(const struct vnet *net, struct vnet_stats *out)
{
    *out = net->stats;
}

bool vnet_get_queue_stats(const struct vnet *net, unsigned pair, struct vnet_queue_stats *out)
{
    if (pair >= net->max_pairs)
        return false;
    *out = net->qstats[pair];
    return true;
}

unsigned vnet_max_pairs(const struct vnet *net)
{
    return net->max_pairs;
}

unsigned vnet_active_pairs(const struct vnet *net)
{
    return net->active_pairs;
}

void vnet_get_mac(const struct vnet *net, uint8_t mac[6])
{
    memcpy(mac, net->mac, 6);
}

void vnet_set_enabled(struct vnet *net, bool enabled)
{
    if (net->enabled == enabled)
        return;
    net->enabled = enabled;
    if (!enabled)
        for (unsigned i = 0; i < net->max_pairs; i++)
            rx_poll(net, i, false);
    on_link_changed(net);
}

void vnet_set_perm_mac(struct vnet *net, const uint8_t mac[6])
{
    memcpy(net->perm_mac, mac, 6);
    memcpy(net->mac, mac, 6);
}

void vnet_get_perm_mac(const struct vnet *net, uint8_t mac[6])
{
    memcpy(mac, net->perm_mac, 6);
}

uint16_t vnet_mtu(const struct vnet *net)
{
    return net->mtu;
}

bool vnet_link_up(const struct vnet *net)
{
    return cfg_status(net) & VIRTIO_NET_S_LINK_UP;
}

bool vnet_enabled(const struct vnet *net)
{
    return net->enabled;
}
