/* Network backend for tests and fuzzers; see fake-net.h. */
#include "fake-net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_net *fake_net_of(struct net_backend *be)
{
    return (struct fake_net *)be;
}

static bool chan_ok(struct fake_net *f, unsigned chan)
{
    if (chan < f->be.nr_chans && chan < FAKE_NET_MAX)
        return true;
    f->nr_bad++;
    return false;
}

static ssize_t fake_send(struct net_backend *be, unsigned chan, const struct iovec *iov, unsigned n)
{
    struct fake_net *f = fake_net_of(be);
    size_t len = 0, min = 14 + (be->vnet_hdr ? 12 : 0);

    if (!chan_ok(f, chan))
        return -EINVAL;
    if (f->send_ret)
        return f->send_ret;
    for (unsigned i = 0; i < n; i++) {
        /* Touch every byte, so a segment past guest memory is caught by the sanitizers. */
        const volatile uint8_t *p = iov[i].iov_base;

        for (size_t j = 0; j < iov[i].iov_len; j += 64)
            (void)p[j];
        if (iov[i].iov_len)
            (void)p[iov[i].iov_len - 1];
        len += iov[i].iov_len;
    }
    if (len < min || len > min - 14 + NET_FRAME_MAX)
        f->nr_bad++;
    f->nr_sent++;
    f->bytes_sent += len;
    f->last_chan = chan;
    return (ssize_t)len;
}

static ssize_t fake_recv(struct net_backend *be, unsigned chan, void *buf, size_t len)
{
    struct fake_net *f = fake_net_of(be);
    unsigned i;
    size_t n, frame;

    if (!chan_ok(f, chan))
        return -EINVAL;
    if (f->recv_ret)
        return f->recv_ret;
    if (f->rx_head == f->rx_tail)
        return -EAGAIN;
    i = f->rx_head++ % FAKE_NET_RX;
    frame = f->rx_len[i];
    n = frame < len ? frame : len;
    memcpy(buf, f->rx[i], n);
    free(f->rx[i]);
    f->rx[i] = NULL;
    return (ssize_t)frame;
}

static void fake_poll_rx(struct net_backend *be, unsigned chan, bool on)
{
    struct fake_net *f = fake_net_of(be);

    if (chan_ok(f, chan))
        f->polling_rx[chan] = on;
}

static void fake_poll_tx(struct net_backend *be, unsigned chan, bool on)
{
    struct fake_net *f = fake_net_of(be);

    if (chan_ok(f, chan))
        f->polling_tx[chan] = on;
}

static int fake_set_active(struct net_backend *be, unsigned n)
{
    struct fake_net *f = fake_net_of(be);

    if (n < 1 || n > be->nr_chans) {
        f->nr_bad++;
        return -EINVAL;
    }
    f->active = n;
    return 0;
}

static int fake_set_offloads(struct net_backend *be, unsigned offloads)
{
    struct fake_net *f = fake_net_of(be);

    if (offloads & ~be->offloads)
        return -EOPNOTSUPP;
    f->offloads_set = offloads;
    return 0;
}

static void fake_describe(struct net_backend *be, char *buf, size_t len)
{
    snprintf(buf, len, "fake channels=%u", be->nr_chans);
}

static void fake_free(struct net_backend *be)
{
    struct fake_net *f = fake_net_of(be);

    while (f->rx_head != f->rx_tail)
        free(f->rx[f->rx_head++ % FAKE_NET_RX]);
    f->freed = true;
    if (f->heap)
        free(f);
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

int fake_net_new(struct net_backend **out, unsigned nr_chans, bool vnet_hdr)
{
    struct fake_net *f;

    *out = NULL;
    if (nr_chans < 1 || nr_chans > FAKE_NET_MAX)
        return -EINVAL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->heap = true;
    f->be = (struct net_backend){
        .ops = &fake_net_ops,
        .nr_chans = nr_chans,
        .vnet_hdr = vnet_hdr,
        .offloads = vnet_hdr ? NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6 | NET_OFF_ECN |
                                   NET_OFF_UFO | NET_OFF_USO4 | NET_OFF_USO6
                             : 0,
        .tx_offloads = vnet_hdr,
        .tx_ufo = vnet_hdr,
        .tx_uso = vnet_hdr,
        .link_up = true,
    };
    *out = &f->be;
    return 0;
}

int fake_net_inject(struct fake_net *f, const void *frame, size_t len)
{
    unsigned i;

    if (f->rx_tail - f->rx_head == FAKE_NET_RX)
        return -ENOSPC;
    i = f->rx_tail % FAKE_NET_RX;
    f->rx[i] = malloc(len ? len : 1);
    if (!f->rx[i])
        return -ENOMEM;
    memcpy(f->rx[i], frame, len);
    f->rx_len[i] = len;
    f->rx_tail++;
    return 0;
}

unsigned fake_net_waiting(const struct fake_net *f)
{
    return f->rx_tail - f->rx_head;
}
