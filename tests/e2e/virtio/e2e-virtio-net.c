/*
 * virtio-net end to end: the guest virtio-net driver of tools/guest against
 * the real ioreqd on the mock hypervisor.
 *
 * Over the socket backend the test holds the other end of the datagram
 * socket: frames both ways with their IPv4 and UDP checksums verified on
 * arrival, mergeable buffers, the receive filter through the control queue,
 * oversize frames dropped and counted, the link going down and up with the
 * peer (and the configuration-change interrupt each time).
 *
 * Over a tap the test makes a network namespace of its own, puts itself
 * (and so the mock and ioreqd) into it, creates a multi-queue tap with an
 * address there, and lets the kernel answer: ARP and ICMP echo from the
 * guest driver get real replies, checked byte by byte and by checksum; on
 * several queue pairs; and with the checksum left to the host (NEEDS_CSUM).
 * No traffic leaves the namespace, which is deleted afterwards.
 *
 * Usage: e2e-virtio-net IOREQD [TEST-NAME-PATTERN]
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dm-control.h"
#include "dm-process.h"
#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-net.h"
#include "ioreqd-fixture.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define DOMID      11
#define RAM        (64ull << 20)
#define TIMEOUT_MS 10000
#define NET_BDF    (4 << 3) /* bdf=04.0 */
#define MSI_BASE   0x60
#define GUEST_IP   0x0a4d0002u /* 10.77.0.2 */
#define HOST_IP    0x0a4d0001u /* 10.77.0.1, the tap's address in the namespace */

static const char *ioreqd_path;

struct fx_cfg {
    bool tap;
    unsigned queues;
    bool platform;   /* a Xen platform device too */
    bool create_tap; /* the tap does not exist: ioreqd creates it */
};

struct fx {
    struct fx_cfg cfg;
    char dir[256], log[300], ctl[300], peer_path[300];
    char netns[64], tap[16];
    int old_ns;
    int peer; /* socket backend: our end */
    struct sockaddr_un dm_addr;
    socklen_t dm_addr_len;
    struct mockhv *hv;
    struct dmproc dm;
    struct gpci_bus *bus;
    struct garena arena;
    struct gvnet net;
    bool net_up;
};

/* ---- frames ---- */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += be16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    put_be16(f + 12, type);
}

static void ipv4(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst, size_t payload,
                 uint16_t id)
{
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put_be16(ip + 2, (uint16_t)(20 + payload));
    put_be16(ip + 4, id);
    ip[8] = 64;
    ip[9] = proto;
    put_be32(ip + 12, src);
    put_be32(ip + 16, dst);
    put_be16(ip + 10, fold(sum16(ip, 20, 0)));
}

/* An Ethernet/IPv4/UDP frame of `len` bytes with both checksums right. */
static void udp_frame(uint8_t *f, size_t len, const uint8_t *dst, const uint8_t *src, uint32_t seed)
{
    uint8_t *ip = f + 14, *udp = ip + 20;
    size_t ulen = len - 34;
    uint32_t sum;

    eth(f, dst, src, 0x0800);
    ipv4(ip, 17, GUEST_IP, HOST_IP, ulen, (uint16_t)seed);
    put_be16(udp, 4000);
    put_be16(udp + 2, 5000);
    put_be16(udp + 4, (uint16_t)ulen);
    put_be16(udp + 6, 0);
    for (size_t i = 8; i < ulen; i++)
        udp[i] = (uint8_t)(i * 131 + seed);
    sum = sum16(ip + 12, 8, 17 + (uint32_t)ulen);
    sum = sum16(udp, ulen, sum);
    put_be16(udp + 6, fold(sum) ? fold(sum) : 0xffff);
}

/* IPv4 header and UDP checksum both verify. */
static void assert_udp_ok(const uint8_t *f, size_t len)
{
    const uint8_t *ip = f + 14, *udp = ip + 20;
    size_t ulen;

    assert_true(len >= 42);
    assert_int_equal(be16(f + 12), 0x0800);
    assert_int_equal(fold(sum16(ip, 20, 0)), 0);
    ulen = be16(udp + 4);
    assert_int_equal(ulen, len - 34);
    assert_int_equal(fold(sum16(udp, ulen, sum16(ip + 12, 8, 17 + (uint32_t)ulen))), 0);
}

static size_t arp_request(uint8_t *f, const uint8_t *mac)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t *a = f + 14;

    eth(f, bcast, mac, 0x0806);
    put_be16(a, 1);
    put_be16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put_be16(a + 6, 1);
    memcpy(a + 8, mac, 6);
    put_be32(a + 14, GUEST_IP);
    memset(a + 18, 0, 6);
    put_be32(a + 24, HOST_IP);
    memset(f + 42, 0, 18);
    return 60;
}

/* An ICMP echo request; with partial, its checksum is left to the host (0 in the frame). */
static size_t echo_request(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t id,
                           uint16_t seq, size_t payload, bool partial)
{
    uint8_t *ip = f + 14, *icmp = ip + 20;
    size_t ilen = 8 + payload;

    eth(f, dst, src, 0x0800);
    ipv4(ip, 1, GUEST_IP, HOST_IP, ilen, seq);
    icmp[0] = 8;
    icmp[1] = 0;
    put_be16(icmp + 2, 0);
    put_be16(icmp + 4, id);
    put_be16(icmp + 6, seq);
    for (size_t i = 8; i < ilen; i++)
        icmp[i] = (uint8_t)(i ^ seq);
    /* ICMP has no pseudo-header: a partial checksum starts from 0. */
    if (!partial)
        put_be16(icmp + 2, fold(sum16(icmp, ilen, 0)));
    return 34 + ilen;
}

/* ---- fixture ---- */

static void sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0)
        fail_msg("'%s' failed (%d)", cmd, rc);
}

/* A namespace of our own with a multi-queue tap at 10.77.0.1/24; this process moves into it. */
static void netns_enter(struct fx *f, bool make_tap)
{
    char path[128];
    int fd;

    if (geteuid() != 0)
        fail_msg("the tap cases need root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to make a namespace");
    snprintf(f->netns, sizeof(f->netns), "ioreqd-vnet-%d", (int)getpid());
    snprintf(f->tap, sizeof(f->tap), "vnt%d", (int)(getpid() % 100000));
    f->old_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(f->old_ns >= 0);
    sh("ip netns add %s", f->netns);
    snprintf(path, sizeof(path), "/run/netns/%s", f->netns);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(setns(fd, CLONE_NEWNET), 0);
    close(fd);
    sh("ip link set lo up");
    if (!make_tap)
        return;
    sh("ip tuntap add dev %s mode tap vnet_hdr multi_queue", f->tap);
    sh("ip addr add 10.77.0.1/24 dev %s", f->tap);
    sh("ip link set %s up", f->tap);
}

static void netns_leave(struct fx *f)
{
    if (f->old_ns < 0)
        return;
    assert_int_equal(setns(f->old_ns, CLONE_NEWNET), 0);
    close(f->old_ns);
    f->old_ns = -1;
    sh("ip netns del %s", f->netns);
}

static void peer_bind(struct fx *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    f->peer = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(f->peer >= 0);
    assert_true(strlen(f->peer_path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, f->peer_path, strlen(f->peer_path));
    assert_int_equal(bind(f->peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void peer_close(struct fx *f)
{
    if (f->peer >= 0)
        close(f->peer);
    f->peer = -1;
    unlink(f->peer_path);
}

static void expect_step(struct fx *f, int rc, const char *what)
{
    if (rc) {
        dmproc_dump_log(&f->dm);
        fail_msg("%s: %s", what, strerror(-rc));
    }
}

static int setup(void **state)
{
    const struct fx_cfg *cfg = *state;
    struct fx *f = calloc(1, sizeof(*f));
    struct mockhv_config hc = {.domid = DOMID, .nr_vcpus = 2, .mem_bytes = RAM, .xenstore = true};
    struct gvnet_opts opts = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = TIMEOUT_MS, .msi_data_base = MSI_BASE},
        .queue_size = 128,
    };
    char spec[400];
    const char *devices[] = {"host-bridge", spec, NULL, NULL};
    const struct mockhv_pci_func *fn;

    assert_non_null(f);
    f->cfg = *cfg;
    f->peer = -1;
    f->old_ns = -1;
    assert_int_equal(scratch_dir_create(f->dir, sizeof(f->dir), "e2e-virtio-net"), 0);
    assert_int_equal(scratch_path(f->log, sizeof(f->log), f->dir, "ioreqd.log"), 0);
    assert_int_equal(scratch_path(f->ctl, sizeof(f->ctl), f->dir, "ioreqd.sock"), 0);
    assert_int_equal(scratch_path(f->peer_path, sizeof(f->peer_path), f->dir, "peer.sock"), 0);
    if (cfg->tap) {
        netns_enter(f, !cfg->create_tap);
        snprintf(spec, sizeof(spec), "virtio-net,tap=%s,queues=%u,bdf=04.0,mtu=1500", f->tap,
                 cfg->queues);
    } else {
        peer_bind(f);
        snprintf(spec, sizeof(spec), "virtio-net,socket=%s,bdf=04.0,mtu=9000", f->peer_path);
    }
    if (cfg->platform)
        devices[2] = "xen-platform,bdf=03.0";
    assert_int_equal(mockhv_create(&f->hv, &hc), 0);
    e2e_ioreqd_start(&f->dm, f->hv,
                     &(struct e2e_ioreqd){
                         .program = ioreqd_path,
                         .domid = DOMID,
                         .devices = devices,
                         .control_socket = f->ctl,
                         .log = "stderr",
                         .log_path = f->log,
                     },
                     TIMEOUT_MS);
    f->bus = calloc(1, sizeof(*f->bus));
    assert_non_null(f->bus);
    garena_init(&f->arena, 1 << 20, RAM - (1 << 20));
    expect_step(f, gpci_scan(f->bus, f->hv, 0, TIMEOUT_MS), "PCI scan");
    fn = gpci_find(f->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVNET_DEVICE_ID);
    assert_non_null(fn);
    expect_step(f, gvnet_init(&f->net, f->hv, &f->arena, f->bus, fn, &opts), "virtio-net bring-up");
    f->net_up = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = 0;

    if (f->net_up && f->dm.pid)
        gvnet_fini(&f->net);
    else if (f->net_up)
        gvnet_forget(&f->net);
    if (f->dm.pid)
        rc = dmproc_stop_clean(&f->dm, SIGTERM, TIMEOUT_MS);
    dmproc_fini(&f->dm);
    mockhv_destroy(f->hv);
    garena_fini(&f->arena);
    peer_close(f);
    netns_leave(f);
    if (scratch_dir_remove(f->dir) && !rc)
        rc = -1;
    free(f->bus);
    free(f);
    return rc;
}

/* A counter of ioreqctl stats, by name. */
static uint64_t dm_stat(struct fx *f, const char *name)
{
    static char reply[65536];
    char pat[96];
    const char *p;

    assert_int_equal(dmctl_ask(f->ctl, "stats\n", reply, sizeof(reply), TIMEOUT_MS), 0);
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    p = strstr(reply, pat);
    if (!p)
        fail_msg("no %s in stats: %s", name, reply);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* The next datagram the peer gets from ioreqd; remembers where it came from. */
static ssize_t peer_recv(struct fx *f, uint8_t *buf, size_t len)
{
    struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
    ssize_t n;

    assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    f->dm_addr_len = sizeof(f->dm_addr);
    n = recvfrom(f->peer, buf, len, 0, (struct sockaddr *)&f->dm_addr, &f->dm_addr_len);
    if (n < 0)
        fail_msg("peer recv: %s", strerror(errno));
    return n;
}

static void peer_send(struct fx *f, const void *frame, size_t len)
{
    assert_true(f->dm_addr_len > 0);
    assert_int_equal(sendto(f->peer, frame, len, 0, (struct sockaddr *)&f->dm_addr, f->dm_addr_len),
                     (ssize_t)len);
}

/* Learn ioreqd's address: the guest sends one frame. */
static void peer_learn(struct fx *f)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t frame[60], got[100];

    udp_frame(frame, sizeof(frame), bcast, f->net.mac, 1);
    assert_int_equal(gvnet_send(&f->net, 0, NULL, frame, sizeof(frame), TIMEOUT_MS), 0);
    assert_int_equal(peer_recv(f, got, sizeof(got)), sizeof(frame));
}

/* ---- socket backend ---- */

static void test_socket_identity(void **state)
{
    struct fx *f = *state;
    static const uint8_t mac[6] = {0x02, 0x49, 0x00, DOMID, 0x00, NET_BDF};
    char path[128], *inv;
    uint16_t status;

    assert_int_equal(f->net.dev.fn.bdf, NET_BDF);
    assert_int_equal(f->net.dev.fn.class_rev, 0x02000001);
    assert_memory_equal(f->net.mac, mac, 6);
    assert_int_equal(f->net.mtu, 9000);
    assert_int_equal(f->net.max_pairs, 1);
    assert_true(f->net.mrg);
    assert_int_equal(gvnet_link_status(&f->net, &status), 0);
    assert_int_equal(status, GVNET_S_LINK_UP);
    /* No offloads over a socket. */
    assert_false(gvirtio_has(&f->net.dev, GVNET_F_CSUM));
    assert_false(gvirtio_has(&f->net.dev, GVNET_F_GUEST_CSUM));
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/ioreqd/devices/1", DOMID);
    inv = dmproc_xs_read(&f->dm, path);
    assert_non_null(inv);
    assert_non_null(strstr(inv, "virtio-net: 00:04.0 1af4:1041 socket="));
    assert_non_null(strstr(inv, " mac=02:49:00:0b:00:20 queues=1 mtu=9000"));
    free(inv);
}

static void test_socket_frames_both_ways(void **state)
{
    struct fx *f = *state;
    static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    static const size_t out_len[] = {60, 1514, 9014, 65000};
    static const size_t in_len[] = {60, 1514, 4000, 9014};
    static uint8_t frame[70000], got[70000];
    struct gvnet_hdr h;
    uint64_t bytes = 0;

    for (size_t i = 0; i < sizeof(out_len) / sizeof(out_len[0]); i++) {
        udp_frame(frame, out_len[i], host_mac, f->net.mac, (uint32_t)i);
        assert_int_equal(gvnet_send(&f->net, 0, NULL, frame, out_len[i], TIMEOUT_MS), 0);
        assert_int_equal(peer_recv(f, got, sizeof(got)), (ssize_t)out_len[i]);
        assert_memory_equal(got, frame, out_len[i]);
        assert_udp_ok(got, out_len[i]);
        bytes += out_len[i];
    }
    for (size_t i = 0; i < sizeof(in_len) / sizeof(in_len[0]); i++) {
        udp_frame(frame, in_len[i], f->net.mac, host_mac, 100 + (uint32_t)i);
        peer_send(f, frame, in_len[i]);
        assert_int_equal(gvnet_recv(&f->net, 0, &h, got, sizeof(got), TIMEOUT_MS), (int)in_len[i]);
        assert_memory_equal(got, frame, in_len[i]);
        assert_udp_ok(got, in_len[i]);
        /* 1526-byte mergeable buffers: 12 + len bytes over this many. */
        assert_int_equal(h.num_buffers, (12 + in_len[i] + 1525) / 1526);
        assert_int_equal(h.flags, 0);
    }
    assert_int_equal(f->net.bad_buffers, 0);
    assert_int_equal(dm_stat(f, "q0_tx_frames"), 4);
    assert_int_equal(dm_stat(f, "q0_tx_bytes"), bytes);
    assert_int_equal(dm_stat(f, "q0_rx_frames"), 4);
    assert_int_equal(dm_stat(f, "q0_rx_bytes"), 60 + 1514 + 4000 + 9014);
}

static void test_socket_rx_filter(void **state)
{
    struct fx *f = *state;
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x77};
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t frame[100], got[200], off = 0, ack = 0xee;
    struct gvnet_hdr h;

    peer_learn(f);
    assert_int_equal(gvnet_ctrl(&f->net, 0, 0, &off, 1, &ack, TIMEOUT_MS), 0);
    assert_int_equal(ack, 0);
    udp_frame(frame, 100, other, other, 1); /* not for us: filtered */
    peer_send(f, frame, 100);
    udp_frame(frame, 90, bcast, other, 2);
    peer_send(f, frame, 90);
    udp_frame(frame, 80, f->net.mac, other, 3);
    peer_send(f, frame, 80);
    assert_int_equal(gvnet_recv(&f->net, 0, &h, got, sizeof(got), TIMEOUT_MS), 90);
    assert_int_equal(gvnet_recv(&f->net, 0, &h, got, sizeof(got), TIMEOUT_MS), 80);
    assert_memory_equal(got, frame, 80);
    assert_int_equal(dm_stat(f, "rx_drop_filtered"), 1);
    assert_int_equal(dm_stat(f, "ctrl_ok"), 1);
    /* A command the device does not know: an error answer, the device carries on. */
    assert_int_equal(gvnet_ctrl(&f->net, 0, 9, &off, 1, &ack, TIMEOUT_MS), 0);
    assert_int_equal(ack, 1);
    assert_int_equal(dm_stat(f, "ctrl_err"), 1);
}

static void test_socket_oversize_dropped(void **state)
{
    struct fx *f = *state;
    static uint8_t frame[70000], got[2000];
    struct gvnet_hdr h;

    peer_learn(f);
    udp_frame(frame, 1000, f->net.mac, f->net.mac, 9);
    memset(frame + 1000, 0x5a, sizeof(frame) - 1000);
    /* Over 64 KiB plus headers: dropped and counted; the next frame arrives. */
    peer_send(f, frame, 66000);
    /* Over the MTU the driver accepted (9000 + 18): not passed on (5.1.6.3.2). */
    peer_send(f, frame, 9019);
    peer_send(f, frame, 1000);
    assert_int_equal(gvnet_recv(&f->net, 0, &h, got, sizeof(got), TIMEOUT_MS), 1000);
    assert_int_equal(dm_stat(f, "rx_drop_oversize"), 1);
    assert_int_equal(dm_stat(f, "rx_drop_over_mtu"), 1);
    assert_int_equal(dm_stat(f, "q0_rx_frames"), 1);
}

/* Waits (bounded) for the link status to read `want`. */
static void wait_link(struct fx *f, uint16_t want)
{
    uint16_t status = 0xffff;

    for (int i = 0; i < TIMEOUT_MS / 10; i++) {
        assert_int_equal(gvnet_link_status(&f->net, &status), 0);
        if (status == want)
            return;
        usleep(10000);
    }
    fail_msg("link status stayed %#x, expected %#x", status, want);
}

/* Whether an MSI with the configuration vector's data was injected after seq. */
static bool config_msi_after(struct fx *f, uint64_t seq)
{
    struct mockhv_irq_record rec;
    uint32_t want = MSI_BASE + f->net.dev.config_vector;

    while (mockhv_irq_wait(f->hv, seq, &rec, TIMEOUT_MS) == 0) {
        if (rec.kind == MOCKHV_IRQ_MSI && rec.msi_data == want)
            return true;
        seq = rec.seq;
    }
    return false;
}

static void test_socket_link_follows_peer(void **state)
{
    struct fx *f = *state;
    static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    uint8_t frame[200], got[300];
    uint64_t seq;

    assert_int_not_equal(f->net.dev.config_vector, GVIRTIO_NO_VECTOR);
    udp_frame(frame, sizeof(frame), host_mac, f->net.mac, 5);
    /* The peer goes away: the next frame cannot be sent, the link goes down. */
    peer_close(f);
    seq = mockhv_irq_last_seq(f->hv);
    assert_int_equal(gvnet_send(&f->net, 0, NULL, frame, sizeof(frame), TIMEOUT_MS), 0);
    wait_link(f, 0);
    assert_true(config_msi_after(f, seq));
    assert_int_equal(dm_stat(f, "tx_backend_errors"), 1);
    assert_int_equal(dm_stat(f, "link_changes"), 1);
    /* It comes back at the same path: the next frame goes through, the link is up. */
    peer_bind(f);
    seq = mockhv_irq_last_seq(f->hv);
    assert_int_equal(gvnet_send(&f->net, 0, NULL, frame, sizeof(frame), TIMEOUT_MS), 0);
    assert_int_equal(peer_recv(f, got, sizeof(got)), (ssize_t)sizeof(frame));
    assert_memory_equal(got, frame, sizeof(frame));
    wait_link(f, GVNET_S_LINK_UP);
    assert_true(config_msi_after(f, seq));
    assert_int_equal(dm_stat(f, "link_changes"), 2);
}

/* ---- tap in a namespace of our own ---- */

/*
 * The next frame of ethertype `type` (and for IPv4, protocol `proto`) on
 * any of the first `pairs` queues; the kernel's own traffic (IPv6 router
 * solicitations and the like) is skipped, a bounded number of times.
 */
static int tap_recv_rounds(struct fx *f, unsigned pairs, uint16_t type, uint8_t proto, uint8_t *buf,
                           size_t len, struct gvnet_hdr *h, unsigned *pair, int rounds)
{
    for (int tries = 0; tries < rounds; tries++) {
        for (unsigned p = 0; p < pairs; p++) {
            int n = gvnet_recv(&f->net, p, h, buf, len, 50);

            if (n == -ETIMEDOUT)
                continue;
            if (n < 0)
                return n;
            if (n >= 14 && be16(buf + 12) == type && (type != 0x0800 || buf[23] == proto)) {
                if (pair)
                    *pair = p;
                return n;
            }
        }
    }
    return -ETIMEDOUT;
}

static int tap_recv(struct fx *f, unsigned pairs, uint16_t type, uint8_t proto, uint8_t *buf,
                    size_t len, struct gvnet_hdr *h, unsigned *pair)
{
    return tap_recv_rounds(f, pairs, type, proto, buf, len, h, pair, 200);
}

/*
 * ARP for the host; returns its MAC and the pair the reply came on. Asked
 * again each second or so, as a host's ARP does: right after a device
 * model attaches to the tap, the kernel now and then drops what it sends
 * there (the tap's tx_dropped counts it), its answer included.
 */
static unsigned tap_arp(struct fx *f, unsigned pair, uint8_t *host_mac)
{
    unsigned rx_pair = ~0u;
    uint8_t frame[60], got[2000];
    struct gvnet_hdr h;
    int n;

    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            gvnet_send(&f->net, pair, NULL, frame, arp_request(frame, f->net.mac), TIMEOUT_MS), 0);
        n = tap_recv_rounds(f, f->net.nr_pairs, 0x0806, 0, got, sizeof(got), &h, &rx_pair, 20);
        if (n != -ETIMEDOUT)
            break;
    }
    assert_true(n >= 42);
    /* A reply (op 2) to us, from 10.77.0.1. */
    assert_memory_equal(got, f->net.mac, 6);
    assert_int_equal(be16(got + 14 + 6), 2);
    assert_int_equal(be16(got + 14 + 14), 0x0a4d);
    assert_int_equal(be16(got + 14 + 16), 0x0001);
    memcpy(host_mac, got + 14 + 8, 6);
    return rx_pair;
}

/* An echo request on `pair`; the reply is checked byte by byte and by checksum. */
static void tap_ping(struct fx *f, unsigned pair, const uint8_t *host_mac, uint16_t seq,
                     size_t payload, bool partial)
{
    static uint8_t frame[9000], got[9100];
    struct gvnet_hdr h = {0};
    const uint8_t *icmp = got + 34;
    size_t len = echo_request(frame, host_mac, f->net.mac, 0x1234, seq, payload, partial);
    int n;

    if (partial) {
        h.flags = GVNET_HDR_F_NEEDS_CSUM;
        h.csum_start = 34;
        h.csum_offset = 2;
    }
    assert_int_equal(gvnet_send(&f->net, pair, &h, frame, len, TIMEOUT_MS), 0);
    for (;;) {
        n = tap_recv(f, f->net.nr_pairs, 0x0800, 1, got, sizeof(got), &h, NULL);
        assert_int_equal(n, (int)len);
        if (be16(icmp + 6) == seq)
            break;
    }
    assert_memory_equal(got, f->net.mac, 6);
    assert_memory_equal(got + 6, host_mac, 6);
    assert_int_equal(fold(sum16(got + 14, 20, 0)), 0);
    assert_int_equal(icmp[0], 0); /* echo reply */
    assert_int_equal(be16(icmp + 4), 0x1234);
    /* The payload comes back unchanged, and the checksum holds (or is the host's to finish). */
    assert_memory_equal(icmp + 8, frame + 42, payload);
    if (!(h.flags & GVNET_HDR_F_NEEDS_CSUM))
        assert_int_equal(fold(sum16(icmp, len - 34, 0)), 0);
}

static void test_tap_arp_and_ping(void **state)
{
    struct fx *f = *state;
    uint8_t host_mac[6];

    assert_true(gvirtio_has(&f->net.dev, GVNET_F_CSUM));
    assert_true(gvirtio_has(&f->net.dev, GVNET_F_GUEST_CSUM));
    assert_true(gvirtio_has(&f->net.dev, GVNET_F_HOST_TSO4));
    tap_arp(f, 0, host_mac);
    tap_ping(f, 0, host_mac, 1, 56, false);
    tap_ping(f, 0, host_mac, 2, 1472, false);
    tap_ping(f, 0, host_mac, 3, 1000, true); /* checksum offloaded to the host */
    assert_int_equal(f->net.bad_buffers, 0);
    assert_int_equal(dm_stat(f, "q0_tx_frames"), 4);
    assert_int_equal(dm_stat(f, "tx_drop_bad_header"), 0);
}

/* The tap's interface goes down and up: the guest's link follows, with a config interrupt. */
static void test_tap_link_follows_interface(void **state)
{
    struct fx *f = *state;
    uint8_t host_mac[6], frame[60];
    uint64_t seq;

    tap_arp(f, 0, host_mac);
    sh("ip link set %s down", f->tap);
    seq = mockhv_irq_last_seq(f->hv);
    assert_int_equal(
        gvnet_send(&f->net, 0, NULL, frame, arp_request(frame, f->net.mac), TIMEOUT_MS), 0);
    wait_link(f, 0);
    assert_true(config_msi_after(f, seq));
    sh("ip link set %s up", f->tap);
    seq = mockhv_irq_last_seq(f->hv);
    assert_int_equal(
        gvnet_send(&f->net, 0, NULL, frame, arp_request(frame, f->net.mac), TIMEOUT_MS), 0);
    wait_link(f, GVNET_S_LINK_UP);
    assert_true(config_msi_after(f, seq));
    assert_int_equal(dm_stat(f, "link_changes"), 2);
    /* And the kernel answers again. */
    tap_ping(f, 0, host_mac, 9, 100, false);
}

/*
 * The next UDP datagram for the guest (from the namespace's socket), with
 * its header; other frames (IPv6 solicitations, ARP) are skipped.
 */
static int tap_recv_udp(struct fx *f, uint8_t *buf, size_t len, struct gvnet_hdr *h)
{
    return tap_recv(f, f->net.nr_pairs, 0x0800, 17, buf, len, h, NULL);
}

/* The UDP checksum of a frame whose header says NEEDS_CSUM, finished as the guest would. */
static void assert_partial_udp_ok(uint8_t *frame, int len, const struct gvnet_hdr *h)
{
    assert_int_equal(h->flags & GVNET_HDR_F_NEEDS_CSUM, GVNET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h->csum_start, 34);
    assert_int_equal(h->csum_offset, 6);
    /* The field holds the pseudo-header sum; the sum from csum_start completes it. */
    put_be16(frame + 34 + 6, fold(sum16(frame + 34, (size_t)len - 34, 0)));
    assert_udp_ok(frame, (size_t)len);
}

/*
 * Receive offloads: the kernel hands the guest UDP with the checksum left
 * to it (GUEST_CSUM), and a 4000-byte UDP_SEGMENT send either as one
 * GSO_UDP_L4 frame (GUEST_USO4, Linux 6.2 and later) or, without it, cut
 * into four datagrams by the kernel; the payload arrives intact either way.
 */
static void test_tap_guest_offloads(void **state)
{
    struct fx *f = *state;
    struct sockaddr_in to = {
        .sin_family = AF_INET, .sin_port = htons(5000), .sin_addr.s_addr = htonl(GUEST_IP)};
    static uint8_t payload[4000], got[9000];
    uint8_t host_mac[6];
    struct gvnet_hdr h;
    int s, seg = 1000, n;

    assert_true(gvirtio_has(&f->net.dev, GVNET_F_GUEST_CSUM));
    tap_arp(f, 0, host_mac);
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);

    assert_int_equal(sendto(s, payload, 300, 0, (struct sockaddr *)&to, sizeof(to)), 300);
    n = tap_recv_udp(f, got, sizeof(got), &h);
    assert_int_equal(n, 42 + 300);
    assert_int_equal(h.gso_type, 0);
    assert_partial_udp_ok(got, n, &h);
    assert_memory_equal(got + 42, payload, 300);

    assert_int_equal(setsockopt(s, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof(seg)), 0);
    assert_int_equal(sendto(s, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)),
                     (ssize_t)sizeof(payload));
    if (gvirtio_has(&f->net.dev, GVNET_F_GUEST_USO4)) {
        n = tap_recv_udp(f, got, sizeof(got), &h);
        assert_int_equal(n, 42 + (int)sizeof(payload));
        assert_int_equal(h.gso_type, GVNET_GSO_UDP_L4);
        assert_int_equal(h.gso_size, seg);
        assert_memory_equal(got + 42, payload, sizeof(payload));
    } else {
        for (int i = 0; i < 4; i++) {
            n = tap_recv_udp(f, got, sizeof(got), &h);
            assert_int_equal(n, 42 + seg);
            assert_int_equal(h.gso_type, 0);
            assert_memory_equal(got + 42, payload + i * seg, (size_t)seg);
        }
    }
    close(s);
    assert_int_equal(f->net.bad_buffers, 0);
}

/*
 * Transmit segmentation: a 3000-byte TCP segment handed to the host in one
 * frame (HOST_TSO4: gso_size 1000, checksum left to the host) reaches the
 * kernel's TCP, which answers a segment for a closed port with a reset.
 * A header the kernel refused would get no answer at all.
 */
static void test_tap_host_tso(void **state)
{
    struct fx *f = *state;
    static uint8_t frame[4000], got[2000];
    const size_t payload = 3000, len = 54 + payload;
    uint8_t host_mac[6], *ip = frame + 14, *tcp = ip + 20;
    struct gvnet_hdr h = {
        .flags = GVNET_HDR_F_NEEDS_CSUM,
        .gso_type = 1, /* TCPV4 */
        .hdr_len = 54,
        .gso_size = 1000,
        .csum_start = 34,
        .csum_offset = 16,
    };
    int n;

    assert_true(gvirtio_has(&f->net.dev, GVNET_F_HOST_TSO4));
    tap_arp(f, 0, host_mac);
    eth(frame, host_mac, f->net.mac, 0x0800);
    ipv4(ip, 6, GUEST_IP, HOST_IP, 20 + payload, 77);
    memset(tcp, 0, 20);
    put_be16(tcp, 40000);
    put_be16(tcp + 2, 9); /* nothing listens there */
    put_be32(tcp + 4, 1000);
    put_be32(tcp + 8, 0x12345678);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18; /* PSH ACK */
    put_be16(tcp + 14, 8192);
    for (size_t i = 0; i < payload; i++)
        tcp[20 + i] = (uint8_t)i;
    /* The pseudo-header sum, for the host to finish over each segment. */
    put_be16(tcp + 16, (uint16_t)~fold(sum16(ip + 12, 8, 6 + 20 + (uint32_t)payload)));
    assert_int_equal(gvnet_send(&f->net, 0, &h, frame, len, TIMEOUT_MS), 0);
    n = tap_recv(f, 1, 0x0800, 6, got, sizeof(got), &h, NULL);
    assert_true(n >= 54);
    /* A reset, to our port, for the sequence our ACK named. */
    assert_int_equal(got[47] & 0x04, 0x04);
    assert_int_equal(be16(got + 36), 40000);
    assert_int_equal(be16(got + 34), 9);
    assert_int_equal(be16(got + 38) << 16 | be16(got + 40), 0x12345678);
    assert_int_equal(dm_stat(f, "tx_drop_bad_header"), 0);
}

/* A tap name that does not exist: ioreqd creates the interface, and it goes with ioreqd. */
static void test_tap_created_by_ioreqd(void **state)
{
    struct fx *f = *state;
    uint8_t host_mac[6];
    char cmd[128];

    /* The interface exists while ioreqd runs; give it an address and it carries traffic. */
    sh("ip link show %s > /dev/null", f->tap);
    sh("ip addr add 10.77.0.1/24 dev %s", f->tap);
    sh("ip link set %s up", f->tap);
    tap_arp(f, 0, host_mac);
    tap_ping(f, 0, host_mac, 1, 56, false);
    /* ioreqd stops: the interface it made (not persistent) is gone. */
    gvnet_fini(&f->net);
    f->net_up = false;
    assert_int_equal(dmproc_stop_clean(&f->dm, SIGTERM, TIMEOUT_MS), 0);
    snprintf(cmd, sizeof(cmd), "ip link show %s > /dev/null 2>&1", f->tap);
    assert_int_not_equal(system(cmd), 0);
}

static void test_tap_queue_pairs(void **state)
{
    struct fx *f = *state;
    uint8_t host_mac[6], ack = 0xee;

    assert_int_equal(f->net.max_pairs, 2);
    /* One pair until the driver asks for more: the second tap queue is detached. */
    assert_int_equal(tap_arp(f, 0, host_mac), 0);
    assert_int_equal(gvnet_set_pairs(&f->net, 2, &ack, TIMEOUT_MS), 0);
    assert_int_equal(ack, 0);
    tap_arp(f, 1, host_mac);
    for (uint16_t seq = 1; seq <= 4; seq++)
        tap_ping(f, seq % 2, host_mac, seq, 100, false);
    assert_int_equal(dm_stat(f, "q0_tx_frames"), 3);
    assert_int_equal(dm_stat(f, "q1_tx_frames"), 3);
    assert_int_equal(dm_stat(f, "q0_rx_frames") + dm_stat(f, "q1_rx_frames") >= 6, 1);
    /* More pairs than the device has: refused. */
    assert_int_equal(gvnet_set_pairs(&f->net, 3, &ack, TIMEOUT_MS), 0);
    assert_int_equal(ack, 1);
}

/*
 * The guest's PV drivers ask the platform device to unplug emulated NICs
 * (port 0x10, bit 1): the card disappears from the bus and moves no frame,
 * as Xen's QEMU 7.2 removes its ethernet functions.
 */
static void test_socket_platform_unplug(void **state)
{
    struct fx *f = *state;
    static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    uint8_t frame[100], got[200];
    uint32_t v = 0;
    char reply[8192];

    peer_learn(f);
    /* Disks only: the card stays. */
    assert_int_equal(mockhv_pio_out(f->hv, 0, 0x10, 2, 0x1, TIMEOUT_MS), 0);
    assert_int_equal(mockhv_cfg_read(f->hv, 0, NET_BDF, 0, 4, &v, TIMEOUT_MS), 0);
    assert_int_equal(v, 0x10411af4);
    assert_int_equal(mockhv_pio_out(f->hv, 0, 0x10, 2, 0x2, TIMEOUT_MS), 0);
    assert_int_equal(mockhv_cfg_read(f->hv, 0, NET_BDF, 0, 4, &v, TIMEOUT_MS), 0);
    assert_int_equal(v, 0xffffffffu);
    /* The platform device is still there. */
    assert_int_equal(mockhv_cfg_read(f->hv, 0, 3 << 3, 0, 4, &v, TIMEOUT_MS), 0);
    assert_int_equal(v, 0x00015853);
    assert_int_equal(dmctl_ask(f->ctl, "status\n", reply, sizeof(reply), TIMEOUT_MS), 0);
    assert_non_null(strstr(reply, "unplugged"));
    /* A frame for the guest is not taken; ioreqd carries on and stops cleanly (teardown). */
    udp_frame(frame, sizeof(frame), f->net.mac, host_mac, 4);
    peer_send(f, frame, sizeof(frame));
    assert_int_equal(dm_stat(f, "q0_rx_frames"), 0);
    assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), -1);
    /* The driver's device is gone: forget it rather than reset it. */
    gvnet_forget(&f->net);
    f->net_up = false;
}

/* ---- hostile drivers ---- */

/* Waits (bounded) for DEVICE_NEEDS_RESET. */
static void wait_needs_reset(struct fx *f)
{
    uint8_t st = 0;

    for (int i = 0; i < TIMEOUT_MS / 10; i++) {
        assert_int_equal(gvirtio_status(&f->net.dev, &st), 0);
        if (st & GVIRTIO_S_NEEDS_RESET)
            return;
        usleep(10000);
    }
    fail_msg("no NEEDS_RESET (status %#x)", st);
}

/* After a reset, the driver starts again and a frame goes out and one comes in. */
static void reset_and_move_frames(struct fx *f)
{
    static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    const struct mockhv_pci_func *fn =
        gpci_find(f->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVNET_DEVICE_ID);
    struct gvnet_opts opts = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = TIMEOUT_MS, .msi_data_base = MSI_BASE},
        .queue_size = 128,
    };
    uint8_t frame[200], got[300];
    struct gvnet_hdr h;

    gvnet_fini(&f->net);
    f->net_up = false;
    expect_step(f, gvnet_init(&f->net, f->hv, &f->arena, f->bus, fn, &opts), "re-init");
    f->net_up = true;
    udp_frame(frame, sizeof(frame), host_mac, f->net.mac, 77);
    assert_int_equal(gvnet_send(&f->net, 0, NULL, frame, sizeof(frame), TIMEOUT_MS), 0);
    assert_int_equal(peer_recv(f, got, sizeof(got)), (ssize_t)sizeof(frame));
    udp_frame(frame, sizeof(frame), f->net.mac, host_mac, 78);
    peer_send(f, frame, sizeof(frame));
    assert_int_equal(gvnet_recv(&f->net, 0, &h, got, sizeof(got), TIMEOUT_MS), (int)sizeof(frame));
    assert_memory_equal(got, frame, sizeof(frame));
}

static uint64_t scratch(struct fx *f, uint64_t len)
{
    uint64_t gpa;

    assert_int_equal(garena_alloc(&f->arena, len, 4096, &gpa), 0);
    return gpa;
}

/* A receive buffer the device may only read: the device cannot use it and needs a reset. */
static void test_hostile_rx_readable_buffer(void **state)
{
    struct fx *f = *state;
    struct gvq *rx = f->net.rx[0].vq;
    struct gvq_raw_desc d = {.addr = scratch(f, 4096), .len = 2048, .flags = 0};
    uint8_t frame[60];

    peer_learn(f);
    assert_int_equal(gvq_add_raw(rx, &d, 1, (void *)0x1), 0);
    assert_int_equal(gvq_kick(rx), 0);
    /* The driver's good buffers fill first; one more frame reaches the bad one. */
    udp_frame(frame, sizeof(frame), f->net.mac, f->net.mac, 1);
    for (unsigned i = 0; i <= f->net.rx[0].nr_slots; i++)
        peer_send(f, frame, sizeof(frame));
    wait_needs_reset(f);
    assert_int_equal(dm_stat(f, "bad_chains"), 1);
    reset_and_move_frames(f);
}

/* A transmit chain shorter than the virtio-net header. */
static void test_hostile_tx_without_header(void **state)
{
    struct fx *f = *state;
    struct gvq *tx = f->net.tx[0].vq;
    struct gvq_raw_desc d = {.addr = scratch(f, 4096), .len = 4, .flags = 0};

    peer_learn(f);
    assert_int_equal(gvq_add_raw(tx, &d, 1, (void *)0x1), 0);
    assert_int_equal(gvq_kick(tx), 0);
    wait_needs_reset(f);
    assert_int_equal(dm_stat(f, "bad_chains"), 1);
    reset_and_move_frames(f);
}

/* A transmit descriptor that names itself as next: the chain never ends. */
static void test_hostile_tx_loop(void **state)
{
    struct fx *f = *state;
    struct gvq *tx = f->net.tx[0].vq;
    uint64_t buf = scratch(f, 4096);
    uint16_t self;
    struct gvq_raw_desc d;

    peer_learn(f);
    assert_int_equal(gvq_peek_index(tx, 0, &self), 0);
    d = (struct gvq_raw_desc){
        .addr = buf, .len = 64, .flags = 1, .next = self, .literal_next = true};
    assert_int_equal(gvq_add_raw(tx, &d, 1, (void *)0x1), 0);
    assert_int_equal(gvq_kick(tx), 0);
    wait_needs_reset(f);
    assert_int_equal(dm_stat(f, "bad_chains"), 1);
    reset_and_move_frames(f);
}

/* A control command without the byte for its answer. */
static void test_hostile_ctrl_without_ack(void **state)
{
    struct fx *f = *state;
    uint64_t buf = scratch(f, 4096);
    struct gvq_raw_desc d = {.addr = buf, .len = 4, .flags = 0};
    uint8_t cmd[4] = {4, 0, 2, 0}; /* VQ_PAIRS_SET 2 */

    peer_learn(f);
    assert_int_equal(mockhv_ram_write(f->hv, buf, cmd, sizeof(cmd)), 0);
    assert_int_equal(gvq_add_raw(f->net.ctrl, &d, 1, (void *)0x1), 0);
    assert_int_equal(gvq_kick(f->net.ctrl), 0);
    wait_needs_reset(f);
    reset_and_move_frames(f);
}

/* A frame over 64 KiB + headers: dropped and counted, the device carries on. */
static void test_hostile_tx_oversize(void **state)
{
    struct fx *f = *state;
    struct gvq *tx = f->net.tx[0].vq;
    uint64_t buf = scratch(f, 128 * 1024);
    struct gvq_raw_desc d[2] = {
        {.addr = buf, .len = 12, .flags = 1, .next = 1},
        {.addr = buf + 4096, .len = 70000, .flags = 0},
    };
    uint16_t used;

    peer_learn(f);
    assert_int_equal(gvq_add_raw(tx, d, 2, (void *)0x1), 0);
    assert_int_equal(gvq_kick(tx), 0);
    /* peer_learn's frame is used already: wait (bounded) for this one to follow. */
    for (int i = 0; i < TIMEOUT_MS; i++) {
        assert_int_equal(gvq_used_idx(tx, &used), 0);
        if (used == 2)
            break;
        usleep(1000);
    }
    assert_int_equal(used, 2);
    assert_int_equal(dm_stat(f, "tx_drop_oversize"), 1);
    assert_int_equal(dm_stat(f, "bad_chains"), 0);
    reset_and_move_frames(f);
}

/*
 * A peer that stops reading: its socket fills, ioreqd's sends meet EAGAIN,
 * and the transmit queue stops with the frame kept (the driver's ring
 * fills: a send waits for a slot and gives up). ioreqd serves on; once the
 * peer reads again, every frame the driver handed over arrives, none lost.
 */
static void test_hostile_tx_storm_peer_full(void **state)
{
    struct fx *f = *state;
    static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    static uint8_t frame[1514], got[2000];
    unsigned handed = 0, arrived = 0;
    int rc = 0;

    peer_learn(f);
    udp_frame(frame, sizeof(frame), host_mac, f->net.mac, 3);
    for (int i = 0; i < 5000 && rc == 0; i++) {
        rc = gvnet_send(&f->net, 0, NULL, frame, sizeof(frame), 200);
        if (rc == 0)
            handed++;
    }
    /* The ring stalled on the full peer. */
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(dm_stat(f, "tx_backend_full") > 0);
    assert_int_equal(dm_stat(f, "tx_backend_errors"), 0);
    /* Read everything: the kept frame and the rest of the ring follow. */
    while (arrived < handed) {
        assert_int_equal(peer_recv(f, got, sizeof(got)), (ssize_t)sizeof(frame));
        arrived++;
    }
    assert_int_equal(dm_stat(f, "q0_tx_frames"), handed + 1);
    assert_int_equal(gvnet_send(&f->net, 0, NULL, frame, sizeof(frame), TIMEOUT_MS), 0);
    assert_int_equal(peer_recv(f, got, sizeof(got)), (ssize_t)sizeof(frame));
}

static const struct fx_cfg sock1 = {.tap = false, .queues = 1};
static const struct fx_cfg sock1_platform = {.tap = false, .queues = 1, .platform = true};
static const struct fx_cfg tap1 = {.tap = true, .queues = 1};
static const struct fx_cfg tap2 = {.tap = true, .queues = 2};
static const struct fx_cfg tap1_new = {.tap = true, .queues = 1, .create_tap = true};

#define T(fn, cfg) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&cfg)

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        /* clang-format off */
        T(test_socket_identity, sock1),
        T(test_socket_frames_both_ways, sock1),
        T(test_socket_rx_filter, sock1),
        T(test_socket_oversize_dropped, sock1),
        T(test_socket_link_follows_peer, sock1),
        T(test_socket_platform_unplug, sock1_platform),
        T(test_hostile_rx_readable_buffer, sock1),
        T(test_hostile_tx_without_header, sock1),
        T(test_hostile_tx_loop, sock1),
        T(test_hostile_ctrl_without_ack, sock1),
        T(test_hostile_tx_oversize, sock1),
        T(test_hostile_tx_storm_peer_full, sock1),
        T(test_tap_arp_and_ping, tap1),
        T(test_tap_link_follows_interface, tap1),
        T(test_tap_guest_offloads, tap1),
        T(test_tap_host_tso, tap1),
        T(test_tap_created_by_ioreqd, tap1_new),
        T(test_tap_queue_pairs, tap2),
        /* clang-format on */
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s IOREQD [TEST-PATTERN]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    if (argc > 2)
        cmocka_set_test_filter(argv[2]);
    return cmocka_run_group_tests_name("e2e-virtio-net", tests, NULL, NULL);
}
