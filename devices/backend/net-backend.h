/*
 * Network backends: where a virtual NIC's frames go and come from.
 *
 * A backend has one channel per queue pair (a tap has one fd per queue with
 * IFF_MULTI_QUEUE; a datagram socket has one channel only). Every call is
 * non-blocking and runs on the event-loop thread. The device asks for
 * readable events per channel only while its guest has posted receive
 * buffers, and is called back with `readable` when a channel has frames.
 *
 * Frames carry a 12-byte virtio_net_hdr (virtio 1.2, 5.1.6) in front when
 * `vnet_hdr` is set (a tap opened with IFF_VNET_HDR); otherwise they are
 * bare Ethernet frames and the device adds or strips the header itself.
 *
 * Errors are per frame: a refused frame is counted by the caller and the
 * backend stays usable. A full channel (-EAGAIN) is not an error: the
 * device keeps the frame and asks for a writable event. `link` reports what the backend last saw of
 * its peer (a tap that is down, a socket whose peer went away).
 */
#ifndef DEVICES_NET_BACKEND_H
#define DEVICES_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "compiler.h"

struct event_base;
struct net_backend;

/* Receive offloads a backend can be told to hand the device (TUNSETOFFLOAD). */
#define NET_OFF_CSUM 0x01u /* partial checksums: VIRTIO_NET_F_GUEST_CSUM */
#define NET_OFF_TSO4 0x02u
#define NET_OFF_TSO6 0x04u
#define NET_OFF_ECN  0x08u
#define NET_OFF_UFO  0x10u
#define NET_OFF_USO4 0x20u
#define NET_OFF_USO6 0x40u

/* Largest frame a backend moves, virtio_net_hdr excluded: a 64 KiB GSO frame plus its L2 header. */
#define NET_FRAME_MAX (65536u + 14u + 4u)

struct net_backend_ops {
    const char *name;
    /* Send one frame: bytes sent, or -errno (-EAGAIN: the channel is full). */
    ssize_t (*send)(struct net_backend *be, unsigned chan, const struct iovec *iov, unsigned n);
    /* Receive one frame into buf: its length (bytes past len are cut off; the
     * return says how long it really was), -EAGAIN when none, or -errno. */
    ssize_t (*recv)(struct net_backend *be, unsigned chan, void *buf, size_t len);
    /* Start or stop calling be->readable for a channel. */
    void (*poll_rx)(struct net_backend *be, unsigned chan, bool on);
    /* Start or stop calling be->writable for a channel (after send said -EAGAIN). */
    void (*poll_tx)(struct net_backend *be, unsigned chan, bool on);
    /*
     * Optional: only channels [0, n) carry traffic now (VQ_PAIRS_SET), so the
     * backend should not queue frames on the others (a tap detaches their
     * queues). 0 or -errno.
     */
    int (*set_active)(struct net_backend *be, unsigned n);
    /* Tell the backend which NET_OFF_* receive offloads the guest takes: 0 or -errno. */
    int (*set_offloads)(struct net_backend *be, unsigned offloads);
    /* "tap=NAME queues=N" and the like, for status lines. */
    void (*describe)(struct net_backend *be, char *buf, size_t len);
    void (*free)(struct net_backend *be);
};

struct net_backend {
    const struct net_backend_ops *ops;
    unsigned nr_chans; /* channels (queue pairs) it serves, >= 1 */
    bool vnet_hdr;     /* frames carry a 12-byte virtio_net_hdr */
    unsigned offloads; /* NET_OFF_* set_offloads() accepts */
    bool tx_offloads;  /* takes frames with partial checksums and GSO from the guest */
    bool tx_ufo;       /* ... and UDP fragmentation offload */
    bool tx_uso;       /* ... and UDP segmentation offload (GSO_UDP_L4) */
    bool link_up;      /* what the backend last saw of its peer */
    /* Set by the device: a channel has frames or room again, or the link state changed. */
    void (*readable)(void *opaque, unsigned chan);
    void (*writable)(void *opaque, unsigned chan);
    void (*link_changed)(void *opaque);
    void *opaque;
};

static inline void net_backend_set_link(struct net_backend *be, bool up)
{
    if (be->link_up == up)
        return;
    be->link_up = up;
    if (be->link_changed)
        be->link_changed(be->opaque);
}

/*
 * An existing tap interface by name, or a new one (needs CAP_NET_ADMIN):
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, IFF_MULTI_QUEUE with one fd per queue
 * pair when nr_chans > 1 (or when the interface was made multi-queue).
 * 0 or -errno with errbuf filled.
 */
int net_tap_open(struct net_backend **out, const char *ifname, unsigned nr_chans,
                 struct event_base *base, char *errbuf, size_t errlen) must_check;

/*
 * A unix datagram socket, one frame per datagram, sent to the socket bound
 * at `path`; our end is bound at `local` (NULL: an autobound abstract name,
 * so the peer learns it from the first frame). One channel. 0 or -errno
 * with errbuf filled.
 */
int net_socket_open(struct net_backend **out, const char *path, const char *local,
                    struct event_base *base, char *errbuf, size_t errlen) must_check;

#endif
