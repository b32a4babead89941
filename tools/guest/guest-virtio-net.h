/*
 * gvnet: a guest virtio-net driver (virtio 1.2, 5.1) on gvirtio.
 *
 * Every queue pair and the control queue are set up (queues go in order,
 * and the control queue comes after all pairs); VQ_PAIRS_SET chooses how
 * many pairs carry traffic. Receive queues are kept full of buffers of
 * rx_buf_len bytes: 1526 with mergeable buffers (a frame spans several,
 * num_buffers says how many), or one buffer big enough for any frame
 * without; buffers given back are announced to the device 16 at a time, or
 * before the driver waits for more. Transmit slots hold the 12-byte header and the frame, in two
 * descriptors. The device is not trusted: lengths and num_buffers are
 * checked before the driver believes them.
 */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include <stdint.h>

#include "guest-virtio.h"

#define GVNET_DEVICE_ID 1

/* Feature bits (5.1.3). */
#define GVNET_F_CSUM          0
#define GVNET_F_GUEST_CSUM    1
#define GVNET_F_MTU           3
#define GVNET_F_MAC           5
#define GVNET_F_GUEST_TSO4    7
#define GVNET_F_GUEST_TSO6    8
#define GVNET_F_HOST_TSO4     11
#define GVNET_F_HOST_TSO6     12
#define GVNET_F_MRG_RXBUF     15
#define GVNET_F_STATUS        16
#define GVNET_F_CTRL_VQ       17
#define GVNET_F_CTRL_RX       18
#define GVNET_F_MQ            22
#define GVNET_F_CTRL_MAC_ADDR 23
#define GVNET_F_GUEST_USO4    54
#define GVNET_F_GUEST_USO6    55
#define GVNET_F_HOST_USO      56

#define GVNET_HDR_LEN          12
#define GVNET_HDR_F_NEEDS_CSUM 1
#define GVNET_HDR_F_DATA_VALID 2
#define GVNET_GSO_TCPV4        1
#define GVNET_GSO_UDP_L4       5
#define GVNET_S_LINK_UP        1
#define GVNET_FRAME_MAX        (65536 + 18)
#define GVNET_MAX_PAIRS        7 /* 2 * pairs + 1 queues within GVIRTIO_MAX_QUEUES */
#define GVNET_MAX_SLOTS        64
#define GVNET_RX_KICK_BATCH    16 /* reposted receive buffers per kick, unless the ring runs dry */

/* struct virtio_net_hdr, host byte order. */
struct gvnet_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

struct gvnet_opts {
    struct gvirtio_opts virtio;
    uint64_t features;   /* wanted on top of VERSION_1; 0: every feature this driver knows */
    uint16_t queue_size; /* wanted, per queue */
};

struct gvnet_queue {
    struct gvq *vq;
    unsigned nr_slots;
    uint64_t slot[GVNET_MAX_SLOTS]; /* guest-physical buffer of each slot */
    uint32_t slot_len;
    unsigned reposted; /* receive buffers given back since the last kick */
    uint64_t frames, bytes;
};

struct gvnet {
    struct gvirtio dev;
    uint8_t mac[6];
    uint16_t max_pairs, mtu;
    bool mrg;
    unsigned nr_pairs; /* set up (all the device has, up to GVNET_MAX_PAIRS) */
    struct gvnet_queue rx[GVNET_MAX_PAIRS], tx[GVNET_MAX_PAIRS];
    struct gvq *ctrl;     /* NULL without CTRL_VQ */
    uint64_t ctrl_buf;    /* command and answer byte */
    uint64_t bad_buffers; /* used entries the driver could not believe */
};

int gvnet_init(struct gvnet *n, struct mockhv *hv, struct garena *arena, const struct gpci_bus *bus,
               const struct mockhv_pci_func *fn, const struct gvnet_opts *opts);
void gvnet_fini(struct gvnet *n);
void gvnet_forget(struct gvnet *n);

/*
 * Sends one frame on pair p with header h (NULL: all zero). Waits up to
 * timeout_ms for a free slot. 0 or -errno.
 */
int gvnet_send(struct gvnet *n, unsigned p, const struct gvnet_hdr *h, const void *frame,
               size_t len, int timeout_ms);
/*
 * Receives one frame on pair p into buf (len bytes), its header into *h:
 * the frame's length, -ETIMEDOUT, -EMSGSIZE (longer than len; dropped), or
 * -EIO when the device returned buffers the driver cannot believe.
 */
int gvnet_recv(struct gvnet *n, unsigned p, struct gvnet_hdr *h, void *buf, size_t len,
               int timeout_ms);
/* One control command; *ack is the device's answer (0 OK, 1 ERR). */
int gvnet_ctrl(struct gvnet *n, uint8_t cls, uint8_t cmd, const void *data, size_t len,
               uint8_t *ack, int timeout_ms);
/* VQ_PAIRS_SET. */
int gvnet_set_pairs(struct gvnet *n, unsigned pairs, uint8_t *ack, int timeout_ms);
/* The status field (GVNET_S_LINK_UP). */
int gvnet_link_status(struct gvnet *n, uint16_t *status);

#endif
