/*
 * virtio-net device core (virtio 1.2, 5.1): frames between the guest's
 * queue pairs and a network backend. Transport independent: plug
 * vnet_vdev() into a transport.
 *
 * Queues: receiveq N is 2N, transmitq N is 2N + 1, the control queue comes
 * last (2 * max_pairs).
 */
#ifndef DEVICES_VIRTIO_NET_H
#define DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "net-backend.h"
#include "virtio.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM          0
#define VIRTIO_NET_F_GUEST_CSUM    1
#define VIRTIO_NET_F_MTU           3
#define VIRTIO_NET_F_MAC           5
#define VIRTIO_NET_F_GUEST_TSO4    7
#define VIRTIO_NET_F_GUEST_TSO6    8
#define VIRTIO_NET_F_GUEST_ECN     9
#define VIRTIO_NET_F_GUEST_UFO     10
#define VIRTIO_NET_F_HOST_TSO4     11
#define VIRTIO_NET_F_HOST_TSO6     12
#define VIRTIO_NET_F_HOST_ECN      13
#define VIRTIO_NET_F_HOST_UFO      14
#define VIRTIO_NET_F_MRG_RXBUF     15
#define VIRTIO_NET_F_STATUS        16
#define VIRTIO_NET_F_CTRL_VQ       17
#define VIRTIO_NET_F_CTRL_RX       18
#define VIRTIO_NET_F_MQ            22
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23
#define VIRTIO_NET_F_GUEST_USO4    54
#define VIRTIO_NET_F_GUEST_USO6    55
#define VIRTIO_NET_F_HOST_USO      56

/* Configuration layout (5.1.4). */
#define VNET_CFG_MAC         0
#define VNET_CFG_STATUS      6
#define VNET_CFG_MAX_PAIRS   8
#define VNET_CFG_MTU         10
#define VNET_CFG_SIZE        12
#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr (5.1.6), always 12 bytes with VERSION_1. */
#define VNET_HDR_LEN                12
#define VNET_HDR_FLAGS              0
#define VNET_HDR_GSO_TYPE           1
#define VNET_HDR_NUM_BUFFERS        10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP      3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_UDP_L4   5
#define VIRTIO_NET_HDR_GSO_ECN      0x80

/* Control queue (5.1.6.5): classes, commands, answers. */
#define VIRTIO_NET_CTRL_RX              0
#define VIRTIO_NET_CTRL_RX_PROMISC      0
#define VIRTIO_NET_CTRL_RX_ALLMULTI     1
#define VIRTIO_NET_CTRL_MAC             1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET   0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET    1
#define VIRTIO_NET_CTRL_MQ              4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_OK                   0
#define VIRTIO_NET_ERR                  1

#define VNET_MAX_PAIRS     16
#define VNET_QUEUE_SIZE    256
#define VNET_MAC_TABLE_MAX 64 /* entries per table; more means "accept that kind" */
#define VNET_MTU_MIN       68
#define VNET_MTU_MAX       65535
/* Chains one received frame may span with MRG_RXBUF; a frame needing more is dropped. */
#define VNET_RX_MAX_BUFFERS 64

struct event_base;
struct vnet;

struct vnet_params {
    uint8_t mac[6];
    unsigned max_pairs;      /* 1 .. VNET_MAX_PAIRS, <= the backend's channels */
    uint16_t mtu;            /* 0: VIRTIO_NET_F_MTU not offered */
    struct event_base *base; /* deferred transmit when a pass hit its budget; may be NULL */
};

/* Per queue pair; every frame counted once, in the direction it travelled. */
struct vnet_queue_stats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
};

/* Frames not delivered, by cause, and control queue answers. */
struct vnet_stats {
    uint64_t rx_filtered;       /* not for our MAC, multicast list or broadcast */
    uint64_t rx_oversize;       /* the backend had a frame over NET_FRAME_MAX */
    uint64_t rx_no_room;        /* did not fit the guest's buffers */
    uint64_t rx_over_mtu;       /* unsegmented and over the MTU the driver accepted */
    uint64_t rx_backend_errors; /* the backend failed a read */
    uint64_t tx_oversize;       /* over 64 KiB + headers */
    uint64_t tx_runt;           /* shorter than an Ethernet header */
    uint64_t tx_bad_hdr;        /* offloads the guest did not negotiate */
    uint64_t tx_backend_full;   /* times a frame waited for room in the backend (EAGAIN) */
    uint64_t tx_backend_errors; /* the backend refused it otherwise */
    uint64_t bad_chains;        /* chains against the rules: the device needs reset */
    uint64_t ctrl_ok, ctrl_err;
    uint64_t link_changes;
};

/* Takes ownership of `be` (also on failure). 0 or -errno with errbuf filled. */
int vnet_new(struct vnet **out, struct net_backend *be, const struct vnet_params *params,
             char *errbuf, size_t errlen) must_check;
void vnet_free(struct vnet *net);
struct virtio_dev *vnet_vdev(struct vnet *net);
struct net_backend *vnet_backend(struct vnet *net);
void vnet_get_stats(const struct vnet *net, struct vnet_stats *out);
/* Pair `pair`'s counters; false past max_pairs. */
bool vnet_get_queue_stats(const struct vnet *net, unsigned pair, struct vnet_queue_stats *out);
unsigned vnet_max_pairs(const struct vnet *net);
/* Pairs the driver enabled (VQ_PAIRS_SET), 1 without MQ. */
unsigned vnet_active_pairs(const struct vnet *net);
/* The MAC the driver uses now (MAC_ADDR_SET may change it). */
void vnet_get_mac(const struct vnet *net, uint8_t mac[6]);
/* The MAC the card has at reset (before the guest runs: set it once its PCI address is known). */
void vnet_set_perm_mac(struct vnet *net, const uint8_t mac[6]);
void vnet_get_perm_mac(const struct vnet *net, uint8_t mac[6]);
uint16_t vnet_mtu(const struct vnet *net);
/* What the status field says (VIRTIO_NET_S_LINK_UP). */
bool vnet_link_up(const struct vnet *net);
bool vnet_enabled(const struct vnet *net);
/*
 * Stop (false) or resume serving frames: the Xen platform device's NIC
 * unplug. Stopped, nothing is sent or received and the link reads down.
 */
void vnet_set_enabled(struct vnet *net, bool enabled);

#endif
