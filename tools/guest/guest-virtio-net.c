/*
 * gvnet: virtio-net frames over gvirtio (see guest-virtio-net.h).
 * Configuration offsets are struct virtio_net_config's (virtio 1.2, 5.1.4).
 */
#include "guest-virtio-net.h"

#include <errno.h>
#include <string.h>

#define CFG_MAC       0
#define CFG_STATUS    6
#define CFG_MAX_PAIRS 8
#define CFG_MTU       10

#define MRG_BUF_LEN  1526
#define TX_SLOTS_MAX 16
#define RX_BIG_SLOTS 16
#define CTRL_MAX     1024

#define KNOWN_FEATURES                                                                             \
    (1ull << GVNET_F_CSUM | 1ull << GVNET_F_GUEST_CSUM | 1ull << GVNET_F_MTU |                     \
     1ull << GVNET_F_MAC | 1ull << GVNET_F_GUEST_TSO4 | 1ull << GVNET_F_GUEST_TSO6 |               \
     1ull << GVNET_F_HOST_TSO4 | 1ull << GVNET_F_HOST_TSO6 | 1ull << GVNET_F_MRG_RXBUF |           \
     1ull << GVNET_F_STATUS | 1ull << GVNET_F_CTRL_VQ | 1ull << GVNET_F_CTRL_RX |                  \
     1ull << GVNET_F_MQ | 1ull << GVNET_F_CTRL_MAC_ADDR | 1ull << GVNET_F_GUEST_USO4 |             \
     1ull << GVNET_F_GUEST_USO6 | 1ull << GVNET_F_HOST_USO | 1ull << GVIRTIO_F_EVENT_IDX)

static void *slot_token(unsigned s)
{
    return (void *)(uintptr_t)(s + 1);
}

static unsigned token_slot(void *token)
{
    return (unsigned)((uintptr_t)token - 1);
}

static void hdr_to_bytes(const struct gvnet_hdr *h, uint8_t *b)
{
    const uint16_t v[5] = {h->hdr_len, h->gso_size, h->csum_start, h->csum_offset, h->num_buffers};

    b[0] = h->flags;
    b[1] = h->gso_type;
    for (unsigned i = 0; i < 5; i++) {
        b[2 + 2 * i] = (uint8_t)v[i];
        b[3 + 2 * i] = (uint8_t)(v[i] >> 8);
    }
}

static void hdr_from_bytes(const uint8_t *b, struct gvnet_hdr *h)
{
    h->flags = b[0];
    h->gso_type = b[1];
    h->hdr_len = (uint16_t)(b[2] | b[3] << 8);
    h->gso_size = (uint16_t)(b[4] | b[5] << 8);
    h->csum_start = (uint16_t)(b[6] | b[7] << 8);
    h->csum_offset = (uint16_t)(b[8] | b[9] << 8);
    h->num_buffers = (uint16_t)(b[10] | b[11] << 8);
}

static int post_rx(struct gvnet *n, struct gvnet_queue *q, unsigned s)
{
    struct gvq_buf b = {q->slot[s], q->slot_len};

    (void)n;
    return gvq_add(q->vq, &b, 0, 1, slot_token(s));
}

static int setup_queue(struct gvnet *n, struct gvnet_queue *q, unsigned index, uint16_t size,
                       unsigned slots, uint32_t slot_len, struct garena *arena)
{
    int rc = gvirtio_queue_setup(&n->dev, index, size);

    if (rc)
        return rc;
    q->vq = &n->dev.queues[index];
    q->nr_slots = slots < q->vq->size ? slots : q->vq->size;
    q->slot_len = slot_len;
    for (unsigned s = 0; !rc && s < q->nr_slots; s++)
        rc = garena_alloc(arena, slot_len, 64, &q->slot[s]);
    return rc;
}

int gvnet_init(struct gvnet *n, struct mockhv *hv, struct garena *arena, const struct gpci_bus *bus,
               const struct mockhv_pci_func *fn, const struct gvnet_opts *opts)
{
    uint16_t size = opts->queue_size ? opts->queue_size : 64;
    uint64_t v;
    int rc;

    memset(n, 0, sizeof(*n));
    if (fn->device != GVIRTIO_DEVICE_BASE + GVNET_DEVICE_ID)
        return -ENODEV;
    rc = gvirtio_open(&n->dev, hv, arena, bus, fn, &opts->virtio);
    if (!rc)
        rc = gvirtio_negotiate(&n->dev, opts->features ? opts->features : KNOWN_FEATURES);
    if (rc)
        return rc;
    n->mrg = gvirtio_has(&n->dev, GVNET_F_MRG_RXBUF);
    for (unsigned i = 0; !rc && i < 6; i++) {
        rc = gvirtio_config_read(&n->dev, CFG_MAC + i, 1, &v);
        n->mac[i] = (uint8_t)v;
    }
    n->max_pairs = 1;
    if (!rc && gvirtio_has(&n->dev, GVNET_F_MQ)) {
        rc = gvirtio_config_read(&n->dev, CFG_MAX_PAIRS, 2, &v);
        n->max_pairs = (uint16_t)v;
    }
    if (!rc && gvirtio_has(&n->dev, GVNET_F_MTU)) {
        rc = gvirtio_config_read(&n->dev, CFG_MTU, 2, &v);
        n->mtu = (uint16_t)v;
    }
    if (rc)
        return rc;
    /* 5.1.4.1: 1 .. 0x8000 pairs; the control queue index must fit our table. */
    if (n->max_pairs < 1 || n->max_pairs > GVNET_MAX_PAIRS)
        return -ERANGE;
    for (unsigned p = 0; !rc && p < n->max_pairs; p++) {
        rc = setup_queue(n, &n->rx[p], 2 * p, size, n->mrg ? GVNET_MAX_SLOTS : RX_BIG_SLOTS,
                         n->mrg ? MRG_BUF_LEN : GVNET_HDR_LEN + GVNET_FRAME_MAX, arena);
        if (!rc)
            rc = setup_queue(n, &n->tx[p], 2 * p + 1, size, TX_SLOTS_MAX,
                             GVNET_HDR_LEN + GVNET_FRAME_MAX, arena);
        if (!rc)
            n->nr_pairs++;
    }
    if (!rc && gvirtio_has(&n->dev, GVNET_F_CTRL_VQ)) {
        rc = gvirtio_queue_setup(&n->dev, 2 * n->max_pairs, 16);
        if (!rc) {
            n->ctrl = &n->dev.queues[2 * n->max_pairs];
            rc = garena_alloc(arena, CTRL_MAX + 1, 64, &n->ctrl_buf);
        }
    }
    if (!rc)
        rc = gvirtio_driver_ok(&n->dev);
    for (unsigned p = 0; !rc && p < n->nr_pairs; p++) {
        for (unsigned s = 0; !rc && s < n->rx[p].nr_slots; s++)
            rc = post_rx(n, &n->rx[p], s);
        if (!rc)
            rc = gvq_kick(n->rx[p].vq);
    }
    return rc;
}

void gvnet_fini(struct gvnet *n)
{
    gvirtio_close(&n->dev);
}

void gvnet_forget(struct gvnet *n)
{
    gvirtio_forget(&n->dev);
}

/* A free transmit slot, reclaiming what the device returned; -ETIMEDOUT if none comes. */
static int tx_slot(struct gvnet_queue *q, unsigned *slot, int timeout_ms)
{
    void *token;
    uint32_t len;
    int rc;

    if (gvq_in_flight(q->vq) < q->nr_slots) {
        /* A slot is free when no descriptor in flight carries its token. */
        bool used[GVNET_MAX_SLOTS] = {false};

        for (unsigned i = 0; i < q->vq->size; i++) {
            void *t = q->vq->tokens[i];

            if (t && token_slot(t) < q->nr_slots)
                used[token_slot(t)] = true;
        }
        for (unsigned s = 0; s < q->nr_slots; s++) {
            if (!used[s]) {
                *slot = s;
                return 0;
            }
        }
    }
    for (;;) {
        rc = gvq_get(q->vq, &token, &len);
        if (rc == 0)
            return tx_slot(q, slot, timeout_ms);
        if (rc != -EAGAIN)
            return rc;
        rc = gvq_wait(q->vq, timeout_ms);
        if (rc)
            return rc;
    }
}

int gvnet_send(struct gvnet *n, unsigned p, const struct gvnet_hdr *h, const void *frame,
               size_t len, int timeout_ms)
{
    struct gvnet_hdr zero = {0};
    struct gvnet_queue *q;
    uint8_t hb[GVNET_HDR_LEN];
    struct gvq_buf bufs[2];
    void *token;
    uint32_t ulen;
    unsigned s;
    int rc;

    if (p >= n->nr_pairs || len > GVNET_FRAME_MAX || len == 0)
        return -EINVAL;
    q = &n->tx[p];
    /* Take back what the device has finished with. */
    while (gvq_get(q->vq, &token, &ulen) == 0)
        ;
    rc = tx_slot(q, &s, timeout_ms);
    if (rc)
        return rc;
    hdr_to_bytes(h ? h : &zero, hb);
    rc = mockhv_ram_write(n->dev.hv, q->slot[s], hb, sizeof(hb));
    if (!rc)
        rc = mockhv_ram_write(n->dev.hv, q->slot[s] + GVNET_HDR_LEN, frame, len);
    if (rc)
        return rc;
    bufs[0] = (struct gvq_buf){q->slot[s], GVNET_HDR_LEN};
    bufs[1] = (struct gvq_buf){q->slot[s] + GVNET_HDR_LEN, (uint32_t)len};
    rc = gvq_add(q->vq, bufs, 2, 0, slot_token(s));
    if (!rc)
        rc = gvq_kick(q->vq);
    if (!rc) {
        q->frames++;
        q->bytes += len;
    }
    return rc;
}

/* The next used receive buffer: its slot and length, checked. */
static int rx_next(struct gvnet *n, struct gvnet_queue *q, unsigned *slot, uint32_t *len,
                   int timeout_ms)
{
    void *token;
    int rc;

    for (;;) {
        rc = gvq_get(q->vq, &token, len);
        if (rc == 0)
            break;
        if (rc != -EAGAIN || timeout_ms == 0)
            return rc;
        /* Nothing to read: the buffers given back so far must reach the device first. */
        if (q->reposted) {
            q->reposted = 0;
            rc = gvq_kick(q->vq);
            if (rc)
                return rc;
        }
        rc = gvq_wait(q->vq, timeout_ms);
        if (rc)
            return rc;
    }
    *slot = token_slot(token);
    if (*slot >= q->nr_slots || *len > q->slot_len) {
        n->bad_buffers++;
        return -EIO;
    }
    return 0;
}

int gvnet_recv(struct gvnet *n, unsigned p, struct gvnet_hdr *h, void *buf, size_t len,
               int timeout_ms)
{
    struct gvnet_queue *q;
    uint8_t hb[GVNET_HDR_LEN];
    size_t got = 0;
    bool too_big = false;
    unsigned s, nb;
    uint32_t ulen;
    int rc;

    if (p >= n->nr_pairs)
        return -EINVAL;
    q = &n->rx[p];
    rc = rx_next(n, q, &s, &ulen, timeout_ms);
    if (rc)
        return rc;
    if (ulen < GVNET_HDR_LEN) {
        n->bad_buffers++;
        post_rx(n, q, s);
        gvq_kick(q->vq);
        return -EIO;
    }
    rc = mockhv_ram_read(n->dev.hv, q->slot[s], hb, sizeof(hb));
    if (rc)
        return rc;
    hdr_from_bytes(hb, h);
    nb = n->mrg ? h->num_buffers : 1;
    /* 5.1.6.4: without MRG_RXBUF num_buffers is 1; with it, at least 1. */
    if (nb < 1 || nb > q->nr_slots || (!n->mrg && h->num_buffers != 1)) {
        n->bad_buffers++;
        post_rx(n, q, s);
        gvq_kick(q->vq);
        return -EIO;
    }
    for (unsigned i = 0; i < nb; i++) {
        uint32_t off = i ? 0 : GVNET_HDR_LEN;
        uint32_t take = ulen - off;

        if (i) {
            /* The device published the frame's buffers together: they are all there. */
            rc = rx_next(n, q, &s, &ulen, 0);
            if (rc) {
                n->bad_buffers++;
                return rc == -EAGAIN ? -EIO : rc;
            }
            take = ulen;
        }
        if (got + take > len)
            too_big = true;
        else if (take)
            rc = mockhv_ram_read(n->dev.hv, q->slot[s] + off, (uint8_t *)buf + got, take);
        got += take;
        if (!rc)
            rc = post_rx(n, q, s);
        if (rc)
            return rc;
    }
    /* Like Linux's refill: the device hears of reposted buffers in batches. */
    q->reposted += nb;
    if (q->reposted >= GVNET_RX_KICK_BATCH) {
        q->reposted = 0;
        rc = gvq_kick(q->vq);
        if (rc)
            return rc;
    }
    q->frames++;
    q->bytes += got;
    return too_big ? -EMSGSIZE : (int)got;
}

int gvnet_ctrl(struct gvnet *n, uint8_t cls, uint8_t cmd, const void *data, size_t len,
               uint8_t *ack, int timeout_ms)
{
    uint8_t head[2] = {cls, cmd}, mark = 0xee;
    struct gvq_buf bufs[2];
    void *token;
    uint32_t ulen;
    int rc;

    if (!n->ctrl)
        return -EOPNOTSUPP;
    if (len > CTRL_MAX - 2)
        return -EINVAL;
    rc = mockhv_ram_write(n->dev.hv, n->ctrl_buf, head, 2);
    if (!rc && len)
        rc = mockhv_ram_write(n->dev.hv, n->ctrl_buf + 2, data, len);
    if (!rc)
        rc = mockhv_ram_write(n->dev.hv, n->ctrl_buf + CTRL_MAX, &mark, 1);
    if (rc)
        return rc;
    bufs[0] = (struct gvq_buf){n->ctrl_buf, (uint32_t)(2 + len)};
    bufs[1] = (struct gvq_buf){n->ctrl_buf + CTRL_MAX, 1};
    rc = gvq_add(n->ctrl, bufs, 1, 1, slot_token(0));
    if (!rc)
        rc = gvq_kick(n->ctrl);
    while (!rc && (rc = gvq_get(n->ctrl, &token, &ulen)) == -EAGAIN)
        rc = gvq_wait(n->ctrl, timeout_ms);
    if (!rc && ulen != 1)
        rc = -EIO;
    if (!rc)
        rc = mockhv_ram_read(n->dev.hv, n->ctrl_buf + CTRL_MAX, ack, 1);
    return rc;
}

int gvnet_set_pairs(struct gvnet *n, unsigned pairs, uint8_t *ack, int timeout_ms)
{
    uint8_t v[2] = {(uint8_t)pairs, (uint8_t)(pairs >> 8)};

    return gvnet_ctrl(n, 4, 0, v, sizeof(v), ack, timeout_ms);
}

int gvnet_link_status(struct gvnet *n, uint16_t *status)
{
    uint64_t v;
    int rc = gvirtio_config_read(&n->dev, CFG_STATUS, 2, &v);

    *status = (uint16_t)v;
    return rc;
}
