/*
 * A network backend for tests and fuzzers: frames to receive are queued in
 * memory by the caller (fake_net_inject), frames sent are checked and
 * counted, and the caller decides what send answers (a full channel, an
 * error). Calls naming a channel the backend does not have, and frames the
 * device should never send (shorter than a vnet header and an Ethernet
 * header, longer than NET_FRAME_MAX), count in nr_bad instead of failing,
 * so a fuzzer checks one number.
 */
#ifndef TESTS_FAKE_NET_H
#define TESTS_FAKE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net-backend.h"

/* Frames waiting to be received; more are refused by fake_net_inject. */
#define FAKE_NET_RX  64
#define FAKE_NET_MAX 16 /* channels */

struct fake_net {
    struct net_backend be; /* first: the ops get this back */
    uint8_t *rx[FAKE_NET_RX];
    size_t rx_len[FAKE_NET_RX];
    unsigned rx_head, rx_tail;
    int send_ret; /* != 0: send answers this */
    int recv_ret; /* != 0: recv answers this (when a frame waits, it stays) */
    uint64_t nr_sent, bytes_sent;
    unsigned last_chan;
    bool polling_rx[FAKE_NET_MAX], polling_tx[FAKE_NET_MAX];
    unsigned active;
    unsigned offloads_set;
    unsigned nr_bad;
    bool freed;
    bool heap; /* fake_net_new: the free op frees it */
};

/*
 * On the heap, freed by its free op (the device owns it): nr_chans channels
 * (1..FAKE_NET_MAX), with a vnet header, transmit offloads and every receive
 * offload when vnet_hdr. 0 or -ENOMEM / -EINVAL.
 */
int fake_net_new(struct net_backend **out, unsigned nr_chans, bool vnet_hdr);
struct fake_net *fake_net_of(struct net_backend *be);
/* Queues a frame (with the vnet header in front if be.vnet_hdr): 0 or -ENOSPC / -ENOMEM. */
int fake_net_inject(struct fake_net *f, const void *frame, size_t len);
unsigned fake_net_waiting(const struct fake_net *f);

#endif
