/*
 * virtio-net on a fake transport with flat guest memory and a fake network
 * backend that queues frames in memory: feature negotiation and offloads,
 * configuration space, transmit with and without the backend's vnet header,
 * receive into one buffer and into mergeable buffers, the receive filter,
 * the control queue, link changes, and hostile chains.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "virtio-net.h"
#include "vq-driver.h"

#define MEM_SIZE  (4u << 20)
#define PAIRS     2
#define NQ        (2 * PAIRS + 1)
#define CTRLQ     (2 * PAIRS)
#define QSIZE     256
#define BUFS      0x100000 /* guest buffers from here */
#define FAKE_RX   128
#define FRAME_MAX 70000

/* --- a network backend for tests --- */

struct fake_net {
    struct net_backend be;
    uint8_t *rx[FAKE_RX]; /* frames waiting, as the backend hands them over */
    size_t rx_len[FAKE_RX];
    unsigned rx_head, rx_tail;
    uint8_t tx[FRAME_MAX]; /* the last frame sent */
    size_t tx_len;
    unsigned tx_chan;
    unsigned nr_tx;
    int send_ret; /* != 0: refuse frames with this */
    bool echo; /* every frame sent comes straight back, as a tap's kernel answers inside writev */
    bool polling[PAIRS];
    bool polling_tx[PAIRS];
    unsigned active; /* channels the device said carry traffic */
    unsigned offloads_set;
    bool freed;
};

static void fake_inject(struct fake_net *f, const void *frame, size_t len);

static ssize_t fake_send(struct net_backend *be, unsigned chan, const struct iovec *iov, unsigned n)
{
    struct fake_net *f = (struct fake_net *)be;
    size_t len = 0;

    if (f->send_ret)
        return f->send_ret;
    for (unsigned i = 0; i < n; i++) {
        assert_true(len + iov[i].iov_len <= sizeof(f->tx));
        memcpy(f->tx + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    f->tx_len = len;
    f->tx_chan = chan;
    f->nr_tx++;
    if (f->echo)
        fake_inject(f, f->tx, len);
    return (ssize_t)len;
}

static ssize_t fake_recv(struct net_backend *be, unsigned chan, void *buf, size_t len)
{
    struct fake_net *f = (struct fake_net *)be;
    unsigned i;
    size_t n;

    (void)chan;
    if (f->rx_head == f->rx_tail)
        return -EAGAIN;
    i = f->rx_head++ % FAKE_RX;
    n = f->rx_len[i] < len ? f->rx_len[i] : len;
    memcpy(buf, f->rx[i], n);
    free(f->rx[i]);
    return (ssize_t)f->rx_len[i];
}

static void fake_poll_rx(struct net_backend *be, unsigned chan, bool on)
{
    struct fake_net *f = (struct fake_net *)be;

    assert_true(chan < PAIRS);
    f->polling[chan] = on;
}

static void fake_poll_tx(struct net_backend *be, unsigned chan, bool on)
{
    struct fake_net *f = (struct fake_net *)be;

    assert_true(chan < PAIRS);
    f->polling_tx[chan] = on;
}

static int fake_set_active(struct net_backend *be, unsigned n)
{
    struct fake_net *f = (struct fake_net *)be;

    f->active = n;
    return 0;
}

static int fake_set_offloads(struct net_backend *be, unsigned offloads)
{
    struct fake_net *f = (struct fake_net *)be;

    if (offloads & ~be->offloads)
        return -EOPNOTSUPP;
    f->offloads_set = offloads;
    return 0;
}

static void fake_describe(struct net_backend *be, char *buf, size_t len)
{
    (void)be;
    snprintf(buf, len, "fake");
}

static void fake_free(struct net_backend *be)
{
    struct fake_net *f = (struct fake_net *)be;

    while (f->rx_head != f->rx_tail)
        free(f->rx[f->rx_head++ % FAKE_RX]);
    f->freed = true;
}

static const struct net_backend_ops fake_net_ops = {
    .name = "fake",
    .send = fake_send,
    .recv = fake_recv,
    .poll_rx = fake_poll_rx,
    .poll_tx = fake_poll_tx,
    .set_active = fake_set_active,
    .set_offloads = fake_set_offloads,
    .describe = fake_describe,
    .free = fake_free,
};

/* Queue a frame for the device to receive (with the vnet header in front if be.vnet_hdr). */
static void fake_inject(struct fake_net *f, const void *frame, size_t len)
{
    unsigned i = f->rx_tail++ % FAKE_RX;

    f->rx[i] = malloc(len);
    assert_non_null(f->rx[i]);
    memcpy(f->rx[i], frame, len);
    f->rx_len[i] = len;
}

/* --- fixture --- */

static const uint8_t our_mac[6] = {0x02, 0x49, 0x00, 0x07, 0x00, 0x28};

struct fx {
    uint8_t *mem;
    struct gmem *gm;
    struct virtio_transport t;
    struct virtq vqs[NQ];
    struct vqd d[NQ];
    unsigned notified[NQ];
    unsigned order[16]; /* queues notified, in order (the first 16) */
    unsigned nr_order;
    unsigned config_changes;
    unsigned needs_reset;
    struct fake_net fake;
    struct vnet *net;
    uint64_t next_buf;
    struct event_base *base; /* NULL: the device works without a loop */
};

static struct virtq *t_queue(void *opaque, unsigned index)
{
    struct fx *f = opaque;
    return index < NQ ? &f->vqs[index] : NULL;
}

static void t_notify_queue(void *opaque, unsigned index)
{
    struct fx *f = opaque;
    f->notified[index]++;
    if (f->nr_order < 16)
        f->order[f->nr_order++] = index;
}

static void t_notify_config(void *opaque)
{
    struct fx *f = opaque;
    f->config_changes++;
}

static void t_needs_reset(void *opaque)
{
    struct fx *f = opaque;
    f->needs_reset++;
}

static struct vnet_params params(void)
{
    struct vnet_params p = {.max_pairs = PAIRS, .mtu = 9000};

    memcpy(p.mac, our_mac, 6);
    return p;
}

/* A device on a fake backend with (tap-like) or without (socket-like) vnet headers. */
static struct fx *fx_new_loop(bool vnet_hdr, bool loop)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vnet_params p = params();
    char err[256];

    assert_non_null(f);
    if (loop) {
        f->base = event_base_new();
        assert_non_null(f->base);
        p.base = f->base;
    }
    f->mem = calloc(1, MEM_SIZE);
    assert_non_null(f->mem);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->fake.be = (struct net_backend){
        .ops = &fake_net_ops,
        .nr_chans = PAIRS,
        .vnet_hdr = vnet_hdr,
        .offloads = vnet_hdr ? NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN : 0,
        .tx_offloads = vnet_hdr,
        .link_up = true,
    };
    assert_int_equal(vnet_new(&f->net, &f->fake.be, &p, err, sizeof(err)), 0);
    f->t = (struct virtio_transport){
        .queue = t_queue,
        .notify_queue = t_notify_queue,
        .notify_config = t_notify_config,
        .needs_reset = t_needs_reset,
        .opaque = f,
    };
    vnet_vdev(f->net)->transport = &f->t;
    f->next_buf = BUFS;
    return f;
}

static struct fx *fx_new(bool vnet_hdr)
{
    return fx_new_loop(vnet_hdr, false);
}

static void fx_start(struct fx *f, uint64_t features)
{
    struct virtio_dev *vdev = vnet_vdev(f->net);

    assert_int_equal(vdev->ops->set_features(vdev, features), 0);
    for (unsigned q = 0; q < NQ; q++) {
        uint64_t base = 0x1000 + q * 0x4000;

        vqd_init(&f->d[q], f->mem, QSIZE, base, base + 0x1000, base + 0x2000);
        virtq_init(&f->vqs[q], q, f->gm);
        assert_int_equal(virtq_start(&f->vqs[q], QSIZE, base, base + 0x1000, base + 0x2000, 0), 0);
    }
}

static void fx_free(struct fx *f)
{
    vnet_free(f->net);
    assert_true(f->fake.freed);
    for (unsigned q = 0; q < NQ; q++)
        virtq_stop(&f->vqs[q]);
    gmem_free(f->gm);
    if (f->base)
        event_base_free(f->base);
    free(f->mem);
    free(f);
}

static uint64_t all_features(struct fx *f)
{
    struct virtio_dev *vdev = vnet_vdev(f->net);
    return vdev->ops->features(vdev);
}

static int setup_tap(void **state)
{
    struct fx *f = fx_new(true);

    fx_start(f, all_features(f));
    *state = f;
    return 0;
}

/* A tap on a kernel with UDP segmentation offload (6.2 and later). */
static int setup_tap_uso(void **state)
{
    struct fx *f = fx_new(true);

    f->fake.be.offloads |= NET_OFF_USO4 | NET_OFF_USO6;
    f->fake.be.tx_uso = true;
    vnet_free(f->net);
    f->fake.freed = false;
    {
        struct vnet_params p = params();
        char err[256];

        assert_int_equal(vnet_new(&f->net, &f->fake.be, &p, err, sizeof(err)), 0);
        vnet_vdev(f->net)->transport = &f->t;
    }
    fx_start(f, all_features(f));
    *state = f;
    return 0;
}

static int setup_sock(void **state)
{
    struct fx *f = fx_new(false);

    fx_start(f, all_features(f));
    *state = f;
    return 0;
}

static int setup_sock_no_mrg(void **state)
{
    struct fx *f = fx_new(false);

    fx_start(f, all_features(f) & ~VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    *state = f;
    return 0;
}

static int setup_sock_loop(void **state)
{
    struct fx *f = fx_new_loop(false, true);

    fx_start(f, all_features(f));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static void kick(struct fx *f, unsigned q)
{
    struct virtio_dev *vdev = vnet_vdev(f->net);
    vdev->ops->queue_notify(vdev, q);
}

static uint64_t alloc_buf(struct fx *f, size_t len)
{
    uint64_t a = f->next_buf;

    f->next_buf += (len + 63) & ~(uint64_t)63;
    assert_true(f->next_buf <= MEM_SIZE);
    return a;
}

/* Transmit: header + frame in guest memory, as one or two descriptors. */
static void post_tx(struct fx *f, unsigned pair, const uint8_t *hdr, const uint8_t *frame,
                    size_t len, bool split)
{
    uint64_t a = alloc_buf(f, VNET_HDR_LEN + len);
    struct vqd_buf bufs[2];
    unsigned q = 2 * pair + 1;

    memcpy(f->mem + a, hdr, VNET_HDR_LEN);
    memcpy(f->mem + a + VNET_HDR_LEN, frame, len);
    if (split) {
        bufs[0] = (struct vqd_buf){a, VNET_HDR_LEN, false};
        bufs[1] = (struct vqd_buf){a + VNET_HDR_LEN, (uint32_t)len, false};
        vqd_publish(&f->d[q], vqd_add_chain(&f->d[q], bufs, 2));
    } else {
        bufs[0] = (struct vqd_buf){a, (uint32_t)(VNET_HDR_LEN + len), false};
        vqd_publish(&f->d[q], vqd_add_chain(&f->d[q], bufs, 1));
    }
}

/* Receive buffer of len bytes: returns its address. */
static uint64_t post_rx(struct fx *f, unsigned pair, uint32_t len)
{
    uint64_t a = alloc_buf(f, len);
    struct vqd_buf b = {a, len, true};

    memset(f->mem + a, 0xcc, len);
    vqd_publish(&f->d[2 * pair], vqd_add_chain(&f->d[2 * pair], &b, 1));
    return a;
}

static void make_frame(uint8_t *frame, size_t len, const uint8_t dst[6], uint8_t seed)
{
    memcpy(frame, dst, 6);
    memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    for (size_t i = 14; i < len; i++)
        frame[i] = (uint8_t)(i * 7 + seed);
}

static void inject_frame(struct fx *f, const uint8_t *frame, size_t len)
{
    if (f->fake.be.vnet_hdr) {
        uint8_t *buf = calloc(1, VNET_HDR_LEN + len);

        memcpy(buf + VNET_HDR_LEN, frame, len);
        fake_inject(&f->fake, buf, VNET_HDR_LEN + len);
        free(buf);
    } else {
        fake_inject(&f->fake, frame, len);
    }
}

static void readable(struct fx *f, unsigned chan)
{
    f->fake.be.readable(f->fake.be.opaque, chan);
}

static uint32_t cfg(struct fx *f, unsigned off, unsigned size)
{
    struct virtio_dev *vdev = vnet_vdev(f->net);
    return vdev->ops->cfg_read(vdev, off, size);
}

static void used_elem(struct fx *f, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
    vqd_used_elem(&f->d[q], slot, id, len);
}

/* Control command: class, cmd, data; returns the ack byte's address. */
static uint64_t post_ctrl(struct fx *f, uint8_t cls, uint8_t cmd, const void *data, size_t len)
{
    uint64_t a = alloc_buf(f, 2 + len + 1);
    struct vqd_buf bufs[2] = {
        {a, (uint32_t)(2 + len), false},
        {a + 2 + len, 1, true},
    };

    f->mem[a] = cls;
    f->mem[a + 1] = cmd;
    memcpy(f->mem + a + 2, data, len);
    f->mem[a + 2 + len] = 0xee;
    vqd_publish(&f->d[CTRLQ], vqd_add_chain(&f->d[CTRLQ], bufs, 2));
    return a + 2 + len;
}

static uint8_t ctrl(struct fx *f, uint8_t cls, uint8_t cmd, const void *data, size_t len)
{
    uint64_t ack = post_ctrl(f, cls, cmd, data, len);

    kick(f, CTRLQ);
    return f->mem[ack];
}

/* --- tests --- */

static void test_features_and_config(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vnet_vdev(f->net);
    uint64_t want = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
                    VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
                    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
                    VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
                    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) |
                    VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
                    VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) |
                    VIRTIO_BIT(VIRTIO_NET_F_MQ) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_MAC_ADDR);

    assert_string_equal(vdev->ops->name, "virtio-net");
    assert_int_equal(vdev->ops->device_id, 1);
    assert_int_equal(vdev->ops->num_queues(vdev), NQ);
    assert_int_equal(vdev->ops->cfg_size(vdev), 12);
    assert_int_equal(vdev->ops->features(vdev), want);
    /* The guest took every receive offload: the backend was told. */
    assert_int_equal(f->fake.offloads_set,
                     NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN);

    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(cfg(f, i, 1), our_mac[i]);
    assert_int_equal(cfg(f, 0, 4), 0x07004902u);
    assert_int_equal(cfg(f, 6, 2), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(cfg(f, 8, 2), PAIRS);
    assert_int_equal(cfg(f, 10, 2), 9000);
    assert_int_equal(cfg(f, 11, 4), 0); /* crosses the end: nothing */
    /* The driver cannot write the MAC through config space (VERSION_1). */
    vdev->ops->cfg_write(vdev, 0, 4, 0xffffffff);
    assert_int_equal(cfg(f, 0, 1), 0x02);
}

static void test_feature_dependencies(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vnet_vdev(f->net);

    /* TSO without checksum offload, MQ without the control queue: refused. */
    assert_int_equal(vdev->ops->set_features(vdev, VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)), -EINVAL);
    assert_int_equal(vdev->ops->set_features(vdev, VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6)), -EINVAL);
    assert_int_equal(vdev->ops->set_features(vdev, VIRTIO_BIT(VIRTIO_NET_F_MQ)), -EINVAL);
    assert_int_equal(vdev->ops->set_features(vdev, VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) |
                                                       VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)),
                     -EINVAL);
    /* Checksum only: the backend gets TUN_F_CSUM alone. */
    assert_int_equal(vdev->ops->set_features(vdev, VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)), 0);
    assert_int_equal(f->fake.offloads_set, NET_OFF_CSUM);
    assert_int_equal(vdev->ops->set_features(vdev, 0), 0);
    assert_int_equal(f->fake.offloads_set, 0);
}

static void test_uso_offered_and_negotiated(void **state)
{
    struct fx *f = *state;
    uint64_t uso = VIRTIO_BIT(VIRTIO_NET_F_HOST_USO) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO4) |
                   VIRTIO_BIT(VIRTIO_NET_F_GUEST_USO6);
    uint8_t hdr[VNET_HDR_LEN] = {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4};
    uint8_t frame[3000];

    assert_int_equal(all_features(f) & uso, uso);
    assert_int_equal(f->fake.offloads_set, NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 |
                                               NET_OFF_ECN | NET_OFF_USO4 | NET_OFF_USO6);
    /* A UDP segmentation frame goes to the tap as the guest wrote it. */
    make_frame(frame, sizeof(frame), our_mac, 1);
    post_tx(f, 0, hdr, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 1);
    assert_memory_equal(f->fake.tx, hdr, VNET_HDR_LEN);
}

static void test_uso_needs_negotiation(void **state)
{
    struct fx *f = *state;
    uint8_t hdr[VNET_HDR_LEN] = {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4};
    uint8_t frame[3000];
    struct vnet_stats st;

    /* The tap fixture without USO: the device offers none, and refuses such frames. */
    assert_int_equal(all_features(f) & VIRTIO_BIT(VIRTIO_NET_F_HOST_USO), 0);
    make_frame(frame, sizeof(frame), our_mac, 1);
    post_tx(f, 0, hdr, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.tx_bad_hdr, 1);
}

static void test_socket_backend_offers_no_offloads(void **state)
{
    struct fx *f = *state;
    uint64_t off = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
                   VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
                   VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO);

    assert_int_equal(all_features(f) & off, 0);
    assert_true(all_features(f) & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
}

static void test_tx_tap_keeps_header(void **state)
{
    struct fx *f = *state;
    uint8_t hdr[VNET_HDR_LEN] = {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
    uint8_t frame[3000];
    struct vnet_queue_stats qs;
    uint32_t id, len;

    make_frame(frame, sizeof(frame), (const uint8_t *)"\x02\x00\x00\x00\x00\x01", 1);
    post_tx(f, 1, hdr, frame, sizeof(frame), true);
    kick(f, 3);
    assert_int_equal(f->fake.nr_tx, 1);
    assert_int_equal(f->fake.tx_chan, 1);
    /* A tap takes the header as the guest wrote it, then the frame. */
    assert_int_equal(f->fake.tx_len, VNET_HDR_LEN + sizeof(frame));
    assert_memory_equal(f->fake.tx, hdr, VNET_HDR_LEN);
    assert_memory_equal(f->fake.tx + VNET_HDR_LEN, frame, sizeof(frame));
    assert_int_equal(vqd_used_idx(&f->d[3]), 1);
    used_elem(f, 3, 0, &id, &len);
    assert_int_equal(len, 0);
    assert_int_equal(f->notified[3], 1);
    assert_true(vnet_get_queue_stats(f->net, 1, &qs));
    assert_int_equal(qs.tx_frames, 1);
    assert_int_equal(qs.tx_bytes, sizeof(frame));
    assert_false(vnet_get_queue_stats(f->net, PAIRS, &qs));
}

static void test_tx_socket_strips_header(void **state)
{
    struct fx *f = *state;
    uint8_t hdr[VNET_HDR_LEN] = {0};
    uint8_t frame[60];

    make_frame(frame, sizeof(frame), (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 2);
    post_tx(f, 0, hdr, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 1);
    assert_int_equal(f->fake.tx_len, sizeof(frame));
    assert_memory_equal(f->fake.tx, frame, sizeof(frame));
}

static void test_tx_drops(void **state)
{
    struct fx *f = *state;
    uint8_t plain[VNET_HDR_LEN] = {0};
    uint8_t csum[VNET_HDR_LEN] = {VIRTIO_NET_HDR_F_NEEDS_CSUM};
    uint8_t gso[VNET_HDR_LEN] = {0, VIRTIO_NET_HDR_GSO_TCPV6};
    uint8_t *big = calloc(1, NET_FRAME_MAX + 1);
    struct vnet_stats st;

    /* Socket-like backend: no checksum offload was offered, so none may be asked for. */
    make_frame(big, NET_FRAME_MAX + 1, our_mac, 3);
    post_tx(f, 0, csum, big, 100, false);
    post_tx(f, 0, gso, big, 100, false);
    post_tx(f, 0, plain, big, 10, false);                /* runt */
    post_tx(f, 0, plain, big, NET_FRAME_MAX + 1, false); /* over 64 KiB + headers */
    post_tx(f, 0, plain, big, NET_FRAME_MAX, false);     /* the largest that goes */
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 1);
    assert_int_equal(f->fake.tx_len, NET_FRAME_MAX);
    post_tx(f, 0, plain, big, 100, false);
    f->fake.send_ret = -EIO;
    kick(f, 1);
    f->fake.send_ret = -EIO;
    post_tx(f, 0, plain, big, 100, false);
    kick(f, 1);
    /* Every chain came back; the device is still usable. */
    assert_int_equal(vqd_used_idx(&f->d[1]), 7);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.tx_bad_hdr, 2);
    assert_int_equal(st.tx_runt, 1);
    assert_int_equal(st.tx_oversize, 1);
    assert_int_equal(st.tx_backend_errors, 2);
    assert_int_equal(st.tx_backend_full, 0);
    assert_int_equal(st.bad_chains, 0);
    assert_int_equal(f->needs_reset, 0);
    free(big);
}

/* A full backend stops the queue with the frame kept; room restarts it, nothing is lost. */
static void test_tx_backend_full(void **state)
{
    struct fx *f = *state;
    uint8_t plain[VNET_HDR_LEN] = {0}, frame[100];
    struct vnet_stats st;
    struct vnet_queue_stats qs;

    make_frame(frame, sizeof(frame), our_mac, 1);
    f->fake.send_ret = -EAGAIN;
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(vqd_used_idx(&f->d[1]), 0);
    assert_true(f->fake.polling_tx[0]);
    /* A notification meanwhile changes nothing. */
    kick(f, 1);
    assert_int_equal(vqd_used_idx(&f->d[1]), 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.tx_backend_full, 2);
    /* Room: both frames go, in order, and the wait ends. */
    f->fake.send_ret = 0;
    f->fake.be.writable(f->fake.be.opaque, 0);
    assert_int_equal(vqd_used_idx(&f->d[1]), 2);
    assert_int_equal(f->fake.nr_tx, 2);
    assert_false(f->fake.polling_tx[0]);
    assert_int_equal(f->notified[1], 1);
    assert_true(vnet_get_queue_stats(f->net, 0, &qs));
    assert_int_equal(qs.tx_frames, 2);
}

/* With a loop, a transmit notification is served from it, notifications off meanwhile. */
static void test_tx_deferred_to_loop(void **state)
{
    struct fx *f = *state;
    uint8_t plain[VNET_HDR_LEN] = {0}, frame[100];

    make_frame(frame, sizeof(frame), our_mac, 1);
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 0);
    assert_int_equal(vqd_used_flags(&f->d[1]), VIRTQ_USED_F_NO_NOTIFY);
    /* Frames added before the loop runs go in the same pass. */
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    event_base_loop(f->base, EVLOOP_NONBLOCK); /* 1: nothing is left registered */
    assert_int_equal(f->fake.nr_tx, 2);
    assert_int_equal(vqd_used_idx(&f->d[1]), 2);
    assert_int_equal(vqd_used_flags(&f->d[1]), 0);
    assert_int_equal(f->notified[1], 1);
}

/*
 * An answer the backend has by the time a transmit pass ends (a tap's
 * kernel answers inside writev) reaches the guest in that pass, without
 * waiting for the backend's readable event, and its interrupt comes before
 * the transmit one.
 */
static void test_tx_pass_delivers_waiting_answer(void **state)
{
    struct fx *f = *state;
    uint8_t plain[VNET_HDR_LEN] = {0}, frame[100];
    uint64_t b;
    uint32_t id, len;

    make_frame(frame, sizeof(frame), our_mac, 1);
    b = post_rx(f, 0, 1526);
    kick(f, 0);
    assert_true(f->fake.polling[0]);
    f->fake.echo = true;
    f->nr_order = 0;
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    used_elem(f, 0, 0, &id, &len);
    assert_int_equal(len, VNET_HDR_LEN + sizeof(frame));
    assert_memory_equal(f->mem + b + VNET_HDR_LEN, frame, sizeof(frame));
    assert_int_equal(f->nr_order, 2);
    assert_int_equal(f->order[0], 0);
    assert_int_equal(f->order[1], 1);
}

/*
 * Without receive buffers the answer waits in the device, as it would after
 * the readable event: no receive interrupt, the channel stops polling, and
 * the buffer the driver posts next takes it.
 */
static void test_tx_pass_answer_waits_for_buffers(void **state)
{
    struct fx *f = *state;
    uint8_t plain[VNET_HDR_LEN] = {0}, frame[100];
    uint64_t b;

    make_frame(frame, sizeof(frame), our_mac, 1);
    f->fake.echo = true;
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    assert_int_equal(f->notified[0], 0);
    assert_int_equal(f->notified[1], 1);
    assert_false(f->fake.polling[0]);
    b = post_rx(f, 0, 1526);
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_memory_equal(f->mem + b + VNET_HDR_LEN, frame, sizeof(frame));
    assert_int_equal(f->notified[0], 1);
}

/* A reset while a frame waits for room drops it without touching the rings. */
static void test_tx_full_then_reset(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vnet_vdev(f->net);
    uint8_t plain[VNET_HDR_LEN] = {0}, frame[100];

    make_frame(frame, sizeof(frame), our_mac, 1);
    f->fake.send_ret = -EAGAIN;
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    kick(f, 1);
    assert_true(f->fake.polling_tx[0]);
    vdev->ops->reset(vdev);
    assert_false(f->fake.polling_tx[0]);
    assert_int_equal(vqd_used_idx(&f->d[1]), 0);
}

static void test_rx_mergeable(void **state)
{
    struct fx *f = *state;
    uint8_t frame[3000];
    uint64_t b[3];
    uint32_t id, len;
    struct vnet_queue_stats qs;

    make_frame(frame, sizeof(frame), our_mac, 4);
    inject_frame(f, frame, sizeof(frame));
    /* No buffers yet: the frame waits and the channel stops polling. */
    kick(f, 0);
    readable(f, 0);
    assert_false(f->fake.polling[0]);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    for (unsigned i = 0; i < 3; i++)
        b[i] = post_rx(f, 0, 1526);
    kick(f, 0);
    /* 12 + 3000 bytes over two 1526-byte buffers, published together. */
    assert_int_equal(vqd_used_idx(&f->d[0]), 2);
    used_elem(f, 0, 0, &id, &len);
    assert_int_equal(len, 1526);
    used_elem(f, 0, 1, &id, &len);
    assert_int_equal(len, 12 + 3000 - 1526);
    assert_int_equal(get16(f->mem + b[0] + VNET_HDR_NUM_BUFFERS), 2);
    assert_int_equal(f->mem[b[0]], 0); /* flags */
    assert_memory_equal(f->mem + b[0] + VNET_HDR_LEN, frame, 1526 - VNET_HDR_LEN);
    assert_memory_equal(f->mem + b[1], frame + 1526 - VNET_HDR_LEN, 3000 - (1526 - VNET_HDR_LEN));
    assert_int_equal(f->notified[0], 1);
    /* One buffer left: polling again. */
    assert_true(f->fake.polling[0]);
    assert_true(vnet_get_queue_stats(f->net, 0, &qs));
    assert_int_equal(qs.rx_frames, 1);
    assert_int_equal(qs.rx_bytes, 3000);

    /* A small frame takes the third buffer, num_buffers 1. */
    inject_frame(f, frame, 60);
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 3);
    assert_int_equal(get16(f->mem + b[2] + VNET_HDR_NUM_BUFFERS), 1);
    used_elem(f, 0, 2, &id, &len);
    assert_int_equal(len, 72);
}

static void test_rx_single_buffer(void **state)
{
    struct fx *f = *state;
    uint8_t frame[1514];
    struct vnet_stats st;
    uint64_t small, big;
    uint32_t id, len;

    make_frame(frame, sizeof(frame), our_mac, 5);
    /* Without MRG_RXBUF a frame needs one chain big enough: 1000 is not. */
    small = post_rx(f, 0, 1000);
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_no_room, 1);
    /* The small buffer stays for a small frame. */
    inject_frame(f, frame, 100);
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    used_elem(f, 0, 0, &id, &len);
    assert_int_equal(len, 112);
    assert_int_equal(get16(f->mem + small + VNET_HDR_NUM_BUFFERS), 1);
    big = post_rx(f, 0, 1526);
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 2);
    assert_memory_equal(f->mem + big + VNET_HDR_LEN, frame, sizeof(frame));
}

static void test_rx_too_big_for_merge_limit(void **state)
{
    struct fx *f = *state;
    uint8_t *frame = malloc(9000);
    struct vnet_stats st;

    make_frame(frame, 9000, our_mac, 6);
    /* 100 buffers of 64 bytes hold 6400 bytes: more than VNET_RX_MAX_BUFFERS would be needed. */
    for (unsigned i = 0; i < 100; i++)
        post_rx(f, 0, 64);
    inject_frame(f, frame, 9000);
    kick(f, 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_no_room, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    /* The buffers held are used by the next frame. */
    inject_frame(f, frame, 100);
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 2);
    assert_int_equal(f->needs_reset, 0);
    free(frame);
}

/*
 * Mapping space runs out while a frame needs a second mergeable buffer: the
 * held first buffer goes back only with a frame, so the frame would wait
 * for itself, and every readable event of a backend with more frames would
 * repeat the pass (a busy loop). The frame is dropped and counted instead;
 * the held buffer takes the next frame that fits it.
 */
static void test_rx_mergeable_out_of_mappings(void **state)
{
    /* Static: the queue unmaps through it at teardown, after this returns. */
    static struct gmem_count c;
    struct fx *f = *state;
    uint8_t frame[3000];
    struct vnet_stats st;
    uint32_t id, len;
    uint64_t b;

    /* Receive queue 0 again, on guest memory with room for its rings and one buffer. */
    virtq_stop(&f->vqs[0]);
    gmem_count_init(&c, f->gm);
    virtq_init(&f->vqs[0], 0, &c.gm);
    assert_int_equal(virtq_start(&f->vqs[0], QSIZE, 0x1000, 0x2000, 0x3000, 0), 0);
    c.max_live = c.maps - c.unmaps + 1;
    b = post_rx(f, 0, 1526);
    post_rx(f, 0, 1526);
    make_frame(frame, sizeof(frame), our_mac, 9);
    inject_frame(f, frame, sizeof(frame));
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_no_room, 2);
    assert_int_equal(f->fake.rx_head, f->fake.rx_tail);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    assert_int_equal(f->needs_reset, 0);
    /* A frame that fits the held buffer takes it. */
    inject_frame(f, frame, 100);
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    used_elem(f, 0, 0, &id, &len);
    assert_int_equal(len, VNET_HDR_LEN + 100);
    assert_memory_equal(f->mem + b + VNET_HDR_LEN, frame, 100);
}

/*
 * Queue q again, with avail idx laid over the used ring's flags (avail at
 * used - 2): the device's own notification-suppression writes move the
 * index, up with notifications off and down with them on. Descriptor 0 is
 * one buffer of len bytes at buf, made available (idx 1).
 */
#define FLAP_DESC 0x1000u
#define FLAP_USED 0x3000u
static void flapping_queue(struct fx *f, unsigned q, uint64_t buf, uint32_t len, bool writable)
{
    virtq_stop(&f->vqs[q]);
    memset(f->mem + FLAP_DESC, 0, 0x3000);
    vqd_set_desc_at(f->mem, FLAP_DESC, 0, buf, len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
    virtq_init(&f->vqs[q], q, f->gm);
    assert_int_equal(virtq_start(&f->vqs[q], 8, FLAP_DESC, FLAP_USED - 2, FLAP_USED, 0), 0);
    put16(f->mem + FLAP_USED, 1); /* used flags = avail idx */
}

/*
 * A receive pass whose driver's avail idx moves with nothing behind it
 * stops polling instead of retrying to its budget: otherwise every readable
 * event of a backend with frames repeats the pass (a busy loop).
 */
static void test_hostile_rx_avail_idx_flaps(void **state)
{
    struct fx *f = *state;
    uint8_t frame[3000];
    struct vnet_stats st;

    flapping_queue(f, 0, alloc_buf(f, 64), 64, true);
    make_frame(frame, sizeof(frame), our_mac, 10);
    inject_frame(f, frame, sizeof(frame));
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    /* One 64-byte buffer held for a 3000-byte frame, no more to be had: not polling. */
    assert_int_equal(f->vqs[0].inflight, 1);
    assert_false(f->fake.polling[0]);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.bad_chains, 0);
}

static void on_break(evutil_socket_t fd, short what, void *base)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(base);
}

/* The same on a transmit queue: the pass does not reschedule itself for ever. */
static void test_hostile_tx_avail_idx_flaps(void **state)
{
    struct fx *f = *state;
    uint8_t hdr[VNET_HDR_LEN] = {0}, frame[60];
    uint64_t a = alloc_buf(f, sizeof(hdr) + sizeof(frame));

    make_frame(frame, sizeof(frame), our_mac, 11);
    memcpy(f->mem + a, hdr, sizeof(hdr));
    memcpy(f->mem + a + sizeof(hdr), frame, sizeof(frame));
    flapping_queue(f, 1, a, sizeof(hdr) + sizeof(frame), false);
    struct event *brk = event_new(f->base, -1, 0, on_break, f->base);

    assert_non_null(brk);
    kick(f, 1);
    /* The loop stops after the transmit pass, which it would otherwise run for ever. */
    event_active(brk, 0, 0);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    event_free(brk);
    assert_int_equal(f->fake.nr_tx, 1);
    /* Nothing left for the loop to run: the queue waits for the driver. */
    assert_int_equal(event_base_get_num_events(f->base, EVENT_BASE_COUNT_ACTIVE), 0);
}

/* 5.1.6.3.2: with MTU negotiated, an unsegmented frame over mtu + L2 header is not passed on. */
static void test_rx_over_mtu(void **state)
{
    struct fx *f = *state;
    static uint8_t buf[VNET_HDR_LEN + 20000];
    struct vnet_stats st;

    for (unsigned i = 0; i < 40; i++)
        post_rx(f, 0, 1526);
    make_frame(buf + VNET_HDR_LEN, 9019, our_mac, 1);
    fake_inject(&f->fake, buf, VNET_HDR_LEN + 9019); /* 9000 + 18 + 1: dropped */
    fake_inject(&f->fake, buf, VNET_HDR_LEN + 9018); /* with a VLAN tag: passed */
    buf[1] = VIRTIO_NET_HDR_GSO_TCPV4;               /* segmented: any size */
    buf[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    fake_inject(&f->fake, buf, VNET_HDR_LEN + 15000);
    kick(f, 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_over_mtu, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]),
                     6 + 10); /* 9030 and 15012 bytes over 1526-byte buffers */
}

static void test_rx_tap_header_and_offloads(void **state)
{
    struct fx *f = *state;
    uint8_t buf[VNET_HDR_LEN + 200] = {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE};
    uint64_t b = post_rx(f, 0, 2048);

    buf[6] = 34; /* csum_start */
    buf[8] = 16; /* csum_offset */
    make_frame(buf + VNET_HDR_LEN, 200, our_mac, 7);
    fake_inject(&f->fake, buf, sizeof(buf));
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    /* The kernel's header reaches the guest (GUEST_CSUM was negotiated), num_buffers set. */
    assert_int_equal(f->mem[b], VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(get16(f->mem + b + 6), 34);
    assert_int_equal(get16(f->mem + b + 8), 16);
    assert_int_equal(get16(f->mem + b + VNET_HDR_NUM_BUFFERS), 1);
}

static void test_rx_filter_and_ctrl_rx(void **state)
{
    struct fx *f = *state;
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x99};
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t frame[60], off = 0, on = 1;
    uint8_t table[4 + 4 + 6] = {0, 0, 0, 0, 1, 0, 0, 0};
    struct vnet_stats st;

    for (unsigned i = 0; i < 8; i++)
        post_rx(f, 0, 1526);
    /* Promiscuous at reset: a frame for another MAC is delivered. */
    make_frame(frame, sizeof(frame), other, 0);
    inject_frame(f, frame, sizeof(frame));
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);

    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
                     VIRTIO_NET_OK);
    inject_frame(f, frame, sizeof(frame)); /* other: dropped */
    make_frame(frame, sizeof(frame), mcast, 0);
    inject_frame(f, frame, sizeof(frame)); /* multicast, not listed: dropped */
    make_frame(frame, sizeof(frame), bcast, 0);
    inject_frame(f, frame, sizeof(frame)); /* broadcast: delivered */
    make_frame(frame, sizeof(frame), our_mac, 0);
    inject_frame(f, frame, sizeof(frame)); /* ours: delivered */
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 3);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_filtered, 2);

    /* The multicast table lists the group: delivered; allmulti takes any group. */
    memcpy(table + 8, mcast, 6);
    assert_int_equal(
        ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, sizeof(table)),
        VIRTIO_NET_OK);
    make_frame(frame, sizeof(frame), mcast, 0);
    inject_frame(f, frame, sizeof(frame));
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 4);
    frame[5] = 2;
    inject_frame(f, frame, sizeof(frame));
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 4);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
                     VIRTIO_NET_OK);
    inject_frame(f, frame, sizeof(frame));
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 5);

    /* A table whose count runs past the data, or with bytes after it: refused, unchanged. */
    table[4] = 2;
    assert_int_equal(
        ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, sizeof(table)),
        VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, table, 2),
                     VIRTIO_NET_ERR);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.ctrl_ok, 3);
    assert_int_equal(st.ctrl_err, 2);
    assert_int_equal(f->needs_reset, 0);
}

/* A flood of frames nobody wants is read a budget at a time, so other queues get their turn. */
static void test_rx_filtered_flood_is_bounded(void **state)
{
    struct fx *f = *state;
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x99};
    uint8_t frame[60], off = 0;
    struct vnet_stats st;

    post_rx(f, 0, 1526);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
                     VIRTIO_NET_OK);
    make_frame(frame, sizeof(frame), other, 0);
    for (unsigned i = 0; i < 100; i++)
        inject_frame(f, frame, sizeof(frame));
    readable(f, 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_filtered, 64);
    assert_true(f->fake.polling[0]); /* more to read: the loop comes back */
    readable(f, 0);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.rx_filtered, 100);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
}

static void test_ctrl_mac_and_mq(void **state)
{
    struct fx *f = *state;
    static const uint8_t newmac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    uint8_t mac[6], pairs[2] = {2, 0}, zero[2] = {0, 0}, three[2] = {3, 0};
    uint8_t frame[60];

    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, newmac, 6),
                     VIRTIO_NET_OK);
    vnet_get_mac(f->net, mac);
    assert_memory_equal(mac, newmac, 6);
    assert_int_equal(cfg(f, 5, 1), 0x55);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, newmac, 5),
                     VIRTIO_NET_ERR);

    /* One pair until the driver asks for more; 0 and more than max are refused. */
    assert_int_equal(vnet_active_pairs(f->net), 1);
    assert_int_equal(f->fake.active, 1);
    post_rx(f, 1, 1526);
    make_frame(frame, sizeof(frame), newmac, 0);
    inject_frame(f, frame, sizeof(frame));
    readable(f, 1);
    assert_int_equal(vqd_used_idx(&f->d[2]), 0);
    assert_false(f->fake.polling[1]);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, zero, 2),
                     VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, three, 2),
                     VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
                     VIRTIO_NET_OK);
    assert_int_equal(vnet_active_pairs(f->net), 2);
    assert_int_equal(f->fake.active, 2);
    /* The second pair's frame is delivered as soon as it is enabled. */
    assert_int_equal(vqd_used_idx(&f->d[2]), 1);
    /* Unknown class: an error answer, nothing else. */
    assert_int_equal(ctrl(f, 9, 0, zero, 2), VIRTIO_NET_ERR);
    assert_int_equal(f->needs_reset, 0);
    assert_int_equal(vqd_used_idx(&f->d[CTRLQ]), 6);
}

static void test_reset_restores_defaults(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vnet_vdev(f->net);
    static const uint8_t newmac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    uint8_t frame[3000], mac[6], pairs[2] = {2, 0};

    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, newmac, 6),
                     VIRTIO_NET_OK);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2),
                     VIRTIO_NET_OK);
    /* A frame half placed: one buffer held, waiting for a second. */
    post_rx(f, 0, 1526);
    make_frame(frame, sizeof(frame), newmac, 0);
    inject_frame(f, frame, sizeof(frame));
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    vdev->ops->reset(vdev);
    vnet_get_mac(f->net, mac);
    assert_memory_equal(mac, our_mac, 6);
    assert_int_equal(vnet_active_pairs(f->net), 1);
    assert_int_equal(f->fake.active, 1);
    assert_false(f->fake.polling[0]);
    assert_int_equal(f->fake.offloads_set, 0);
}

static void test_link_change(void **state)
{
    struct fx *f = *state;
    struct vnet_stats st;

    net_backend_set_link(&f->fake.be, false);
    assert_int_equal(cfg(f, 6, 2), 0);
    assert_int_equal(f->config_changes, 1);
    net_backend_set_link(&f->fake.be, false); /* no change, no interrupt */
    assert_int_equal(f->config_changes, 1);
    net_backend_set_link(&f->fake.be, true);
    assert_int_equal(cfg(f, 6, 2), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(f->config_changes, 2);
    /* Unplugged by the platform: link down, nothing sent. */
    vnet_set_enabled(f->net, false);
    assert_int_equal(cfg(f, 6, 2), 0);
    assert_int_equal(f->config_changes, 3);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.link_changes, 3);
}

static void test_unplugged_serves_nothing(void **state)
{
    struct fx *f = *state;
    uint8_t hdr[VNET_HDR_LEN] = {0}, frame[60];

    vnet_set_enabled(f->net, false);
    make_frame(frame, sizeof(frame), our_mac, 0);
    post_tx(f, 0, hdr, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->fake.nr_tx, 0);
    assert_int_equal(vqd_used_idx(&f->d[1]), 1); /* returned, not sent */
    post_rx(f, 0, 1526);
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    assert_false(f->fake.polling[0]);
}

/* --- hostile chains --- */

static void test_hostile_rx_readable_buffer(void **state)
{
    struct fx *f = *state;
    struct vqd_buf b = {BUFS, 1526, false};
    uint8_t frame[60];
    struct vnet_stats st;
    uint32_t id, len;

    vqd_publish(&f->d[0], vqd_add_chain(&f->d[0], &b, 1));
    make_frame(frame, sizeof(frame), our_mac, 0);
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    /* Returned with nothing written; the device needs a reset and stops serving. */
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    used_elem(f, 0, 0, &id, &len);
    assert_int_equal(len, 0);
    assert_int_equal(f->needs_reset, 1);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.bad_chains, 1);
    assert_false(f->fake.polling[0]);
    post_rx(f, 0, 1526);
    readable(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
}

/*
 * A receive buffer against the rules met by a transmit pass's answer: the
 * device needs a reset and stops polling, and the transmitted chain still
 * goes back to the driver.
 */
static void test_hostile_rx_buffer_met_by_tx_pass(void **state)
{
    struct fx *f = *state;
    struct vqd_buf b = {BUFS + 0x10000, 1526, false};
    uint8_t plain[VNET_HDR_LEN] = {0}, frame[60];
    struct vnet_stats st;

    vqd_publish(&f->d[0], vqd_add_chain(&f->d[0], &b, 1));
    kick(f, 0);
    assert_true(f->fake.polling[0]);
    make_frame(frame, sizeof(frame), our_mac, 0);
    f->fake.echo = true;
    post_tx(f, 0, plain, frame, sizeof(frame), false);
    kick(f, 1);
    assert_int_equal(f->needs_reset, 1);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.bad_chains, 1);
    assert_false(f->fake.polling[0]);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(vqd_used_idx(&f->d[1]), 1);
    assert_int_equal(f->fake.nr_tx, 1);
}

static void test_hostile_rx_tiny_mergeable_buffer(void **state)
{
    struct fx *f = *state;
    uint8_t frame[60];

    post_rx(f, 0, 8); /* smaller than the header, with MRG_RXBUF */
    make_frame(frame, sizeof(frame), our_mac, 0);
    inject_frame(f, frame, sizeof(frame));
    kick(f, 0);
    assert_int_equal(f->needs_reset, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
}

static void test_hostile_tx_short_header(void **state)
{
    struct fx *f = *state;
    struct vqd_buf b = {BUFS, 10, false};
    struct vqd_buf w = {BUFS, 100, true};
    struct vnet_stats st;

    vqd_publish(&f->d[1], vqd_add_chain(&f->d[1], &b, 1));
    kick(f, 1);
    assert_int_equal(f->needs_reset, 1);
    assert_int_equal(vqd_used_idx(&f->d[1]), 1);
    /* Broken: later chains wait for the reset. */
    vqd_publish(&f->d[1], vqd_add_chain(&f->d[1], &w, 1));
    kick(f, 1);
    assert_int_equal(vqd_used_idx(&f->d[1]), 1);
    vnet_get_stats(f->net, &st);
    assert_int_equal(st.bad_chains, 1);
    assert_int_equal(f->fake.nr_tx, 0);
}

static void test_hostile_tx_loop(void **state)
{
    struct fx *f = *state;

    /* A descriptor that names itself as next: the virtqueue layer stops it. */
    vqd_set_desc(&f->d[1], 0, BUFS, 64, VIRTQ_DESC_F_NEXT, 0);
    vqd_publish(&f->d[1], 0);
    kick(f, 1);
    assert_int_equal(f->needs_reset, 1);
    assert_int_equal(f->fake.nr_tx, 0);
}

static void test_hostile_ctrl_without_ack(void **state)
{
    struct fx *f = *state;
    struct vqd_buf b = {BUFS, 4, false};

    f->mem[BUFS] = VIRTIO_NET_CTRL_MQ;
    vqd_publish(&f->d[CTRLQ], vqd_add_chain(&f->d[CTRLQ], &b, 1));
    kick(f, CTRLQ);
    assert_int_equal(f->needs_reset, 1);
    assert_int_equal(vqd_used_idx(&f->d[CTRLQ]), 1);
    assert_int_equal(vnet_active_pairs(f->net), 1);
}

static void test_hostile_ctrl_huge(void **state)
{
    struct fx *f = *state;
    uint8_t *big = calloc(1, 8192);
    uint64_t ack;

    big[0] = 1;
    ack = post_ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, big, 8192);
    kick(f, CTRLQ);
    /* Larger than any command: an error answer, not a reset. */
    assert_int_equal(f->mem[ack], VIRTIO_NET_ERR);
    assert_int_equal(f->needs_reset, 0);
    free(big);
}

static void test_bad_params(void **state)
{
    struct fake_net fake = {.be = {.ops = &fake_net_ops, .nr_chans = 1}};
    struct vnet_params p = params();
    struct vnet *net;
    char err[200];

    (void)state;
    /* Two pairs on a one-channel backend: refused, the backend freed. */
    assert_int_equal(vnet_new(&net, &fake.be, &p, err, sizeof(err)), -EINVAL);
    assert_true(fake.freed);
    fake.freed = false;
    p.max_pairs = 1;
    p.mtu = 40;
    assert_int_equal(vnet_new(&net, &fake.be, &p, err, sizeof(err)), -EINVAL);
    assert_true(fake.freed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_features_and_config, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_feature_dependencies, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_uso_offered_and_negotiated, setup_tap_uso, teardown),
        cmocka_unit_test_setup_teardown(test_uso_needs_negotiation, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_socket_backend_offers_no_offloads, setup_sock,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tx_tap_keeps_header, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_tx_socket_strips_header, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_tx_drops, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_tx_backend_full, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_tx_full_then_reset, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_tx_deferred_to_loop, setup_sock_loop, teardown),
        cmocka_unit_test_setup_teardown(test_tx_pass_delivers_waiting_answer, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_tx_pass_answer_waits_for_buffers, setup_sock,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rx_mergeable, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_rx_single_buffer, setup_sock_no_mrg, teardown),
        cmocka_unit_test_setup_teardown(test_rx_too_big_for_merge_limit, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_rx_mergeable_out_of_mappings, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_rx_avail_idx_flaps, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_tx_avail_idx_flaps, setup_sock_loop, teardown),
        cmocka_unit_test_setup_teardown(test_rx_tap_header_and_offloads, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_rx_over_mtu, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_rx_filter_and_ctrl_rx, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_rx_filtered_flood_is_bounded, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_mac_and_mq, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_reset_restores_defaults, setup_tap, teardown),
        cmocka_unit_test_setup_teardown(test_link_change, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_unplugged_serves_nothing, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_rx_readable_buffer, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_rx_buffer_met_by_tx_pass, setup_sock,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostile_rx_tiny_mergeable_buffer, setup_sock,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostile_tx_short_header, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_tx_loop, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_ctrl_without_ack, setup_sock, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_ctrl_huge, setup_sock, teardown),
        cmocka_unit_test(test_bad_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
