/*
 * Fuzz target: the virtio-net device (devices/virtio/virtio-net.c) as a
 * hostile driver sees it. The input is a guest memory image, the layout of
 * every queue (1 to 4 queue pairs and the control queue), the features the
 * driver accepts, and a script of driver and backend actions: notifications
 * of any queue (control commands of every class with any length and entry
 * count, transmit chains with any vnet header, receive buffers of any size
 * and direction, looping and truncated chains all come from the RAM image
 * and the rings in it), frames the backend delivers (any length, any
 * destination, any vnet header), a backend that is full or failing, config
 * space reads and writes, link changes, unplug, device resets.
 *
 * The backend is the tests' fake (tests/support/fake-net.c): it touches
 * every byte it is given and counts calls on channels it does not have and
 * frames the device should never send.
 *
 * Checked: the backend saw nothing bad; a receive pass that moved nothing
 * does not keep polling a backend that has frames (a busy loop on a tap);
 * the active pair count stays within 1 .. max_pairs; config reads fit their size and show the MAC
 * the device reports; a chain against the rules means NEEDS_RESET was signalled; every guest
 * mapping taken is given back by the end.
 *
 * Input:
 *   byte 0     bits 0-1 queue pairs - 1, bit 2 the backend has vnet headers,
 *              bit 3 an MTU is offered, bit 4 transmit runs from an event loop,
 *              bit 5 indirect descriptors, bit 6 event index, bit 7 mapping
 *              space runs out (byte 9 says when)
 *   bytes 1-8  the features the driver accepts (le64, masked by the offer)
 *   byte 9     bits 0-5 number of 4-byte actions, bits 6-7: with byte 0 bit 7,
 *              guest mappings beyond the rings' that succeed (1, 4, 16, 64)
 *   per queue  7 bytes: log2 of its size (0-8) and desc, avail, used addresses
 *              (le16 each); receiveq N is 2N, transmitq N is 2N + 1, then the control queue
 *   actions    opcode + 3 operand bytes each
 *   the rest   guest RAM image (zero beyond it)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fuzz-env.h"
#include "fake-net.h"
#include "virtio-net.h"
#include "virtqueue.h"

#define RAM_SIZE   (16u * 1024)
#define MAX_PAIRS  4
#define MAX_QUEUES (2 * MAX_PAIRS + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct queue_layout {
    uint16_t size;
    uint64_t desc, avail, used;
};

struct net_fuzz {
    uint8_t *ram;
    struct gmem *flat;
    struct fz_gmem_count gm;
    struct event_base *base;
    struct vnet *net;
    struct fake_net *be; /* owned by net */
    struct virtio_transport t;
    unsigned pairs, nq;
    unsigned ring_feats;
    uint64_t features; /* what the driver accepts, as given at FEATURES_OK */
    bool features_ok;
    struct virtq vq[MAX_QUEUES];
    struct queue_layout layout[MAX_QUEUES];
    unsigned needs_reset;
};

static struct virtq *t_queue(void *opaque, unsigned index)
{
    struct net_fuzz *f = opaque;

    return index < f->nq ? &f->vq[index] : NULL;
}

static void t_notify_queue(void *opaque, unsigned index)
{
    struct net_fuzz *f = opaque;

    FZ_CHECK(index < f->nq);
}

static void t_notify_config(void *opaque)
{
}

static void t_needs_reset(void *opaque)
{
    struct net_fuzz *f = opaque;

    f->needs_reset++;
}

static struct virtio_dev *vdev_of(struct net_fuzz *f)
{
    return vnet_vdev(f->net);
}

static void start_queues(struct net_fuzz *f)
{
    for (unsigned i = 0; i < f->nq; i++) {
        const struct queue_layout *l = &f->layout[i];

        if (virtq_start(&f->vq[i], l->size, l->desc, l->avail, l->used, f->ring_feats))
            FZ_CHECK(!f->vq[i].started);
    }
}

static void stop_queues(struct net_fuzz *f)
{
    for (unsigned i = 0; i < f->nq; i++)
        virtq_stop(&f->vq[i]);
}

/* FEATURES_OK, then the queues: the driver's bring-up (queues only if the device took the
 * features). */
static void bring_up(struct net_fuzz *f)
{
    int rc = vdev_of(f)->ops->set_features(vdev_of(f), f->features);

    FZ_CHECK(rc == 0 || rc == -EINVAL);
    f->features_ok = rc == 0;
    if (f->features_ok)
        start_queues(f);
}

/* A status write of 0: the device resets (never pending: nothing of it is in flight), queues stop.
 */
static void reset(struct net_fuzz *f, const uint8_t *op)
{
    FZ_CHECK(vdev_of(f)->ops->reset(vdev_of(f)) == VIRTIO_RESET_DONE);
    stop_queues(f);
    FZ_CHECK(vnet_active_pairs(f->net) == 1);
    if (op[1] & 1)
        bring_up(f);
}

/* A frame from the backend: dst picked by op[1], length by op[2..3], the rest from RAM. */
static void inject(struct net_fuzz *f, const uint8_t *op)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    size_t hdr = f->be->be.vnet_hdr ? VNET_HDR_LEN : 0;
    size_t len = (size_t)op[2] | (size_t)op[3] << 8;
    size_t off = (size_t)op[1] * 61 % RAM_SIZE;
    uint8_t *frame;

    /* Scaled up now and then: the largest frames and those past what a backend moves. */
    if (op[1] & 0x80)
        len = hdr + NET_FRAME_MAX - 0x100 + len % 0x200;
    frame = malloc(len ? len : 1);
    if (!frame)
        return;
    for (size_t i = 0; i < len; i++)
        frame[i] = f->ram[(off + i) % RAM_SIZE];
    if (len >= hdr + 6) {
        uint8_t *dst = frame + hdr;

        switch (op[1] & 3) {
        case 0:
            vnet_get_mac(f->net, dst);
            break;
        case 1:
            memcpy(dst, bcast, 6);
            break;
        case 2:
            memcpy(dst, mcast, 6);
            break;
        default:
            break; /* whatever RAM held */
        }
    }
    (void)fake_net_inject(f->be, frame, len);
    free(frame);
}

static uint64_t rx_moved(struct net_fuzz *f)
{
    struct vnet_queue_stats qs;
    struct vnet_stats st;
    uint64_t n = f->be->rx_head;

    vnet_get_stats(f->net, &st);
    for (unsigned i = 0; i < f->pairs; i++)
        if (vnet_get_queue_stats(f->net, i, &qs))
            n += qs.rx_frames;
    return n + st.rx_backend_errors;
}

static void backend_readable(struct net_fuzz *f, const uint8_t *op)
{
    unsigned chan = op[1] % f->pairs;
    uint64_t before;

    inject(f, op);
    /* The backend calls back only for channels the device polls (an event it added). */
    if (!f->be->polling_rx[chan])
        return;
    before = rx_moved(f);
    f->be->be.readable(f->be->be.opaque, chan);
    /*
     * A pass that moved nothing (read no frame, delivered none) must not
     * keep the channel polled while the backend has frames: a tap's fd
     * stays readable, so every turn of the loop would repeat it.
     */
    if (f->be->polling_rx[chan] && fake_net_waiting(f->be) > 0)
        FZ_CHECK(rx_moved(f) != before);
}

static void backend_writable(struct net_fuzz *f, const uint8_t *op)
{
    unsigned chan = op[1] % f->pairs;

    if (f->be->polling_tx[chan])
        f->be->be.writable(f->be->be.opaque, chan);
}

static void backend_answers(struct net_fuzz *f, const uint8_t *op)
{
    static const int send_ret[] = {0, -EAGAIN, -EIO, -EMSGSIZE};
    static const int recv_ret[] = {0, 0, -EIO, -EBADFD};

    f->be->send_ret = send_ret[op[1] & 3];
    f->be->recv_ret = recv_ret[(op[1] >> 2) & 3];
}

static void cfg_read(struct net_fuzz *f, const uint8_t *op)
{
    static const unsigned sizes[] = {1, 2, 4, 4};
    struct virtio_dev *vdev = vdev_of(f);
    unsigned size = sizes[op[2] & 3];
    unsigned offset = op[1] % (VNET_CFG_SIZE + 4);
    uint32_t v;

    /* The transport passes only accesses inside the config space. */
    if (offset + size > vdev->ops->cfg_size(vdev))
        return;
    v = vdev->ops->cfg_read(vdev, offset, size);
    if (size < 4)
        FZ_CHECK(v >> (8 * size) == 0);
    if (offset == VNET_CFG_MAC && size == 4) {
        uint8_t mac[6];

        vnet_get_mac(f->net, mac);
        FZ_CHECK(v == (uint32_t)(mac[0] | mac[1] << 8 | mac[2] << 16 | (uint32_t)mac[3] << 24));
    }
    if (offset == VNET_CFG_MAX_PAIRS && size == 2)
        FZ_CHECK(v == f->pairs);
}

static void cfg_write(struct net_fuzz *f, const uint8_t *op)
{
    struct virtio_dev *vdev = vdev_of(f);
    unsigned size = 1u << (op[2] % 3);
    unsigned offset = op[1] % VNET_CFG_SIZE;
    uint8_t mac[6], after[6];

    if (offset + size > vdev->ops->cfg_size(vdev))
        return;
    vnet_get_mac(f->net, mac);
    vdev->ops->cfg_write(vdev, offset, size, (uint32_t)op[3] * 0x01010101u);
    /* With VERSION_1 the MAC is read-only in config space. */
    vnet_get_mac(f->net, after);
    FZ_CHECK(!memcmp(mac, after, 6));
}

static void notify(struct net_fuzz *f, const uint8_t *op)
{
    unsigned q = op[1] % f->nq;

    /* The transport passes notifications of started queues only. */
    if (f->vq[q].started)
        vdev_of(f)->ops->queue_notify(vdev_of(f), q);
}

static void poke(struct net_fuzz *f, const uint8_t *op)
{
    f->ram[(op[1] | op[2] << 8) % RAM_SIZE] = op[3];
}

static void check(struct net_fuzz *f)
{
    struct vnet_stats st;
    unsigned active = vnet_active_pairs(f->net);

    FZ_CHECK(f->be->nr_bad == 0);
    FZ_CHECK(active >= 1 && active <= f->pairs);
    FZ_CHECK(f->be->active == active);
    vnet_get_stats(f->net, &st);
    /* A chain against the rules is reported to the driver. */
    FZ_CHECK(st.bad_chains == 0 || f->needs_reset > 0);
    FZ_CHECK(f->needs_reset <= st.bad_chains);
    for (unsigned i = 0; i < f->nq; i++)
        FZ_CHECK(f->vq[i].inflight <= f->vq[i].size);
}

static void run(struct net_fuzz *f, const uint8_t *op)
{
    switch (op[0] % 12) {
    case 0:
    case 1:
    case 2:
        notify(f, op);
        break;
    case 3:
        backend_readable(f, op);
        break;
    case 4:
        backend_writable(f, op);
        break;
    case 5:
        backend_answers(f, op);
        break;
    case 6:
        poke(f, op);
        break;
    case 7:
        reset(f, op);
        break;
    case 8:
        if (op[1] & 1)
            cfg_write(f, op);
        else
            cfg_read(f, op);
        break;
    case 9:
        if (f->base)
            event_base_loop(f->base, EVLOOP_NONBLOCK);
        break;
    case 10:
        net_backend_set_link(&f->be->be, op[1] & 1);
        break;
    default:
        /* The Xen platform device's NIC unplug, and what the guest sees back. */
        vnet_set_enabled(f->net, op[1] & 1);
        break;
    }
    check(f);
}

static int setup(struct net_fuzz *f, uint8_t flags)
{
    struct vnet_params p = {
        .mac = {0x02, 0x49, 0x00, 0x01, 0x00, 0x18},
        .max_pairs = f->pairs,
        .mtu = flags & 8 ? 1500 : 0,
    };
    struct net_backend *be;
    char err[128];

    if (flags & 0x10) {
        f->base = event_base_new();
        if (!f->base)
            return -ENOMEM;
        p.base = f->base;
    }
    if (fake_net_new(&be, f->pairs, flags & 4))
        return -ENOMEM;
    f->be = fake_net_of(be);
    if (vnet_new(&f->net, be, &p, err, sizeof(err))) {
        f->be = NULL; /* freed by vnet_new */
        return -ENOMEM;
    }
    f->t = (struct virtio_transport){
        .queue = t_queue,
        .notify_queue = t_notify_queue,
        .notify_config = t_notify_config,
        .needs_reset = t_needs_reset,
        .opaque = f,
    };
    vdev_of(f)->transport = &f->t;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct net_fuzz *f = calloc(1, sizeof(*f));
    uint8_t flags, count, ops[63 * 4];
    unsigned nr_ops;
    uint64_t accept;
    struct fz_in in;

    if (!f)
        return 0;
    fz_log_quiet();
    fz_in_init(&in, data, size);
    flags = fz_u8(&in);
    accept = fz_u64(&in);
    count = fz_u8(&in);
    nr_ops = count & 0x3f;
    f->pairs = 1 + (flags & 3);
    f->nq = 2 * f->pairs + 1;
    f->ring_feats =
        (flags & 0x20 ? VIRTQ_FEAT_INDIRECT : 0) | (flags & 0x40 ? VIRTQ_FEAT_EVENT_IDX : 0);
    for (unsigned i = 0; i < f->nq; i++) {
        struct queue_layout *l = &f->layout[i];

        l->size = (uint16_t)(1u << (fz_u8(&in) % 9));
        l->desc = fz_u16(&in) % (RAM_SIZE + 0x800);
        l->avail = fz_u16(&in) % (RAM_SIZE + 0x800);
        l->used = fz_u16(&in) % (RAM_SIZE + 0x800);
    }
    fz_in_bytes(&in, ops, nr_ops * 4);

    /* Exactly RAM_SIZE bytes: a device touching one byte past guest RAM is caught. */
    f->ram = calloc(1, RAM_SIZE);
    f->flat = f->ram ? gmem_flat_new(f->ram, RAM_SIZE) : NULL;
    if (!f->flat)
        goto out;
    fz_in_bytes(&in, f->ram, RAM_SIZE);
    fz_gmem_count_init(&f->gm, f->flat);
    for (unsigned i = 0; i < f->nq; i++)
        virtq_init(&f->vq[i], i, &f->gm.gm);
    if (setup(f, flags))
        goto out;
    f->features = accept & vdev_of(f)->ops->features(vdev_of(f));
    bring_up(f);
    /* Past the rings' mappings, as many more as the input allows (a reset remaps the rings). */
    if (flags & 0x80)
        f->gm.limit = f->gm.live + (1l << (2 * (count >> 6)));
    check(f);
    for (unsigned i = 0; i < nr_ops; i++)
        run(f, &ops[4 * i]);

out:
    /* Teardown as the transport does it: the device first (it releases what it holds), then the
     * queues. */
    vnet_free(f->net);
    for (unsigned i = 0; i < f->nq; i++)
        virtq_stop(&f->vq[i]);
    if (f->flat) {
        FZ_CHECK(f->gm.live == 0);
        gmem_free(f->flat);
    }
    if (f->base)
        event_base_free(f->base);
    free(f->ram);
    free(f);
    return 0;
}
