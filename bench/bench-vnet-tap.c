/*
 * virtio-net on a tap, as a guest sees it: the bench moves itself into a
 * network namespace of its own (root only), makes a tap there at
 * 10.78.0.1/24, and runs ioreqd (tap=) or Debian's QEMU (-netdev tap) on
 * it with the guest driver of tools/guest at 10.78.0.2. The kernel is the
 * other end:
 *   round trip: ICMP echo of 64 bytes, guest to the kernel and back;
 *   tx: UDP frames of 64 and 1500 bytes to a port nobody listens on,
 *       counted by the tap's rx_packets (what the kernel took);
 *   tso: 64 KiB TCPv4 frames the device hands over for segmentation
 *       (HOST_TSO4 and CSUM), counted by the tap's rx_bytes;
 *   rx: a thread in the namespace sends UDP to the guest as fast as it
 *       can, counted where the guest gets it.
 * Results are vnet_tap.<label>.* (ioreqd or qemu unless --label says
 * otherwise). QEMU runs with vnet_hdr=on, so both device models offer the
 * same transmit offloads on the tap (QEMU 7.2's virtio_net_get_features:
 * CSUM, HOST_TSO4/6, HOST_ECN, HOST_UFO where the tap takes UFO; no USO
 * before QEMU 8.2). The namespace is deleted after.
 */
#define _GNU_SOURCE /* setns */
#include "bench-vnet.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-net.h"

#define TAP_DOMID 13
#define HOST_IP   0x0a4e0001u /* 10.78.0.1 */
#define GUEST_IP  0x0a4e0002u /* 10.78.0.2 */

struct tap_bench {
    char ns[64], tap[16];
    int old_ns;
    struct gvnet *net;
    uint8_t host_mac[6];
    const char *label;
    volatile bool stop;
    size_t rx_payload;
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        bench_die("vnet tap: '%s' failed", cmd);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        s += be16(p + i);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Ethernet + IPv4 to the host; returns the IP payload's offset. */
static size_t ip_frame(struct tap_bench *t, uint8_t *f, uint8_t proto, size_t payload)
{
    uint8_t *ip = f + 14;

    memcpy(f, t->host_mac, 6);
    memcpy(f + 6, t->net->mac, 6);
    put16(f + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + payload));
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, GUEST_IP);
    put32(ip + 16, HOST_IP);
    put16(ip + 10, csum(ip, 20));
    return 34;
}

/* The next frame of this ethertype (and IPv4 protocol), others skipped. */
static int recv_kind(struct tap_bench *t, uint16_t type, uint8_t proto, uint8_t *buf, size_t len,
                     int timeout_ms)
{
    struct gvnet_hdr h;

    for (int i = 0; i < 1000; i++) {
        int n = gvnet_recv(t->net, 0, &h, buf, len, timeout_ms);

        if (n < 0)
            return n;
        if (n >= 34 && be16(buf + 12) == type && (type != 0x0800 || buf[23] == proto))
            return n;
    }
    return -ETIMEDOUT;
}

#define ARP_TRIES 10

static void arp(struct tap_bench *t)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t f[60] = {0}, got[2000];
    uint8_t *a = f + 14;
    bool answered = false;
    int rc = 0;

    memcpy(f, bcast, 6);
    memcpy(f + 6, t->net->mac, 6);
    put16(f + 12, 0x0806);
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1);
    memcpy(a + 8, t->net->mac, 6);
    put32(a + 14, GUEST_IP);
    put32(a + 24, HOST_IP);
    /*
     * Asked again each second, as a host's ARP does: now and then the
     * kernel drops its answer on the way into a tap that was just attached
     * (the tap's tx_dropped counts it), whichever device model serves it.
     */
    for (int i = 0; i < ARP_TRIES && !answered; i++) {
        if (gvnet_send(t->net, 0, NULL, f, sizeof(f), BENCH_TIMEOUT_MS))
            bench_die("vnet tap: arp send");
        rc = recv_kind(t, 0x0806, 0, got, sizeof(got), 1000);
        answered = rc >= 42 && be16(got + 20) == 2;
    }
    if (!answered)
        bench_die("vnet tap: no ARP reply (%s)", rc < 0 ? strerror(-rc) : "no answer");
    memcpy(t->host_mac, got + 22, 6);
}

static void run_rtt(struct tap_bench *t, unsigned count)
{
    struct bench_samples s;
    uint8_t f[98], got[2000];

    bench_samples_init(&s, count);
    for (unsigned i = 0; i < count; i++) {
        size_t off = ip_frame(t, f, 1, 64);
        uint8_t *icmp = f + off;
        uint64_t t0 = bench_now_ns();

        memset(icmp, 0, 64);
        icmp[0] = 8;
        put16(icmp + 4, 0x4242);
        put16(icmp + 6, (uint16_t)i);
        put16(icmp + 2, csum(icmp, 64));
        if (gvnet_send(t->net, 0, NULL, f, off + 64, BENCH_TIMEOUT_MS))
            bench_die("vnet tap: echo send");
        for (;;) {
            if (recv_kind(t, 0x0800, 1, got, sizeof(got), BENCH_TIMEOUT_MS) < 0)
                bench_die("vnet tap: no echo reply");
            if (got[34] == 0 && be16(got + 40) == (uint16_t)i)
                break;
        }
        bench_samples_add(&s, bench_now_ns() - t0);
    }
    bench_resultf((double)bench_samples_quantile(&s, 0.5), "vnet_tap.%s.rtt.median_ns", t->label);
    bench_resultf((double)bench_samples_quantile(&s, 0.99), "vnet_tap.%s.rtt.p99_ns", t->label);
    bench_samples_fini(&s);
}

/* What the tap received (the guest's frames the kernel took), from this namespace's view. */
static void tap_rx_counts(struct tap_bench *t, uint64_t *bytes_out, uint64_t *packets_out)
{
    char line[512], name[32];
    unsigned long long bytes, packets;
    FILE *fp = fopen("/proc/self/net/dev", "r");

    if (!fp)
        bench_die("vnet tap: /proc/self/net/dev: %s", strerror(errno));
    snprintf(name, sizeof(name), "%s:", t->tap);
    while (fgets(line, sizeof(line), fp)) {
        char *p = strstr(line, name);

        if (p && sscanf(p + strlen(name), "%llu %llu", &bytes, &packets) == 2) {
            fclose(fp);
            *bytes_out = bytes;
            *packets_out = packets;
            return;
        }
    }
    fclose(fp);
    bench_die("vnet tap: %s not in /proc/self/net/dev", t->tap);
}

static uint64_t tap_rx_packets(struct tap_bench *t)
{
    uint64_t bytes, packets;

    tap_rx_counts(t, &bytes, &packets);
    return packets;
}

static void run_tx(struct tap_bench *t, size_t len, unsigned run_ms)
{
    uint8_t f[1600];
    size_t off = ip_frame(t, f, 17, len - 34);
    uint64_t t0, t_end, before = tap_rx_packets(t);

    memset(f + off, 0, len - off);
    put16(f + off, 40000);
    put16(f + off + 2, 9);
    put16(f + off + 4, (uint16_t)(len - off));
    t0 = bench_now_ns();
    t_end = t0 + (uint64_t)run_ms * 1000000ull;
    while (bench_now_ns() < t_end)
        if (gvnet_send(t->net, 0, NULL, f, len, BENCH_TIMEOUT_MS))
            bench_die("vnet tap: tx");
    bench_sleep_ms(100);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    uint64_t got = tap_rx_packets(t) - before;
    bench_resultf((double)got / secs, "vnet_tap.%s.tx.%zu.frames_s", t->label, len);
    bench_resultf((double)got * (double)len * 8 / secs / 1e9, "vnet_tap.%s.tx.%zu.gbit_s", t->label,
                  len);
}

/*
 * TCP segmentation offload: 64 KiB TCPv4 frames with a virtio_net_hdr that
 * asks for GSO (gso_type TCPV4, gso_size 1448) and a partial checksum, as
 * Linux's virtio_net sends them with HOST_TSO4 and CSUM negotiated. The
 * tap hands them to the kernel whole (tun_get_user, virtio_net_hdr_to_skb)
 * and its rx_bytes counts every byte of each; nobody listens on the port.
 */
#define TSO_MSS      1448
#define TSO_SEGMENTS 45 /* 65214-byte frames: the IPv4 length stays below 64 KiB */

static void run_tso(struct tap_bench *t, unsigned run_ms)
{
    static uint8_t f[14 + 20 + 20 + TSO_SEGMENTS * TSO_MSS];
    size_t off = ip_frame(t, f, 6, sizeof(f) - 34);
    uint8_t *tcp = f + off;
    struct gvnet_hdr h = {
        .flags = GVNET_HDR_F_NEEDS_CSUM,
        .gso_type = GVNET_GSO_TCPV4,
        .hdr_len = (uint16_t)(off + 20),
        .gso_size = TSO_MSS,
        .csum_start = (uint16_t)off,
        .csum_offset = 16,
    };
    uint64_t bytes0, bytes1, pk0, pk1, sent = 0, t0, t_end;
    uint32_t sum;

    if (!gvirtio_has(&t->net->dev, GVNET_F_HOST_TSO4) || !gvirtio_has(&t->net->dev, GVNET_F_CSUM))
        bench_die("vnet tap: the device model offers no TSO4 with checksum offload");
    memset(tcp, 0, sizeof(f) - off);
    put16(tcp, 40000);
    put16(tcp + 2, 9);
    put32(tcp + 4, 1);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18; /* PSH, ACK */
    put16(tcp + 14, 65535);
    /* A partial checksum holds the pseudo-header's sum, not complemented (5.1.6.2). */
    sum = (GUEST_IP >> 16) + (GUEST_IP & 0xffff) + (HOST_IP >> 16) + (HOST_IP & 0xffff) + 6 +
          (uint32_t)(sizeof(f) - off);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(tcp + 16, (uint16_t)sum);
    tap_rx_counts(t, &bytes0, &pk0);
    t0 = bench_now_ns();
    t_end = t0 + (uint64_t)run_ms * 1000000ull;
    while (bench_now_ns() < t_end) {
        if (gvnet_send(t->net, 0, &h, f, sizeof(f), BENCH_TIMEOUT_MS))
            bench_die("vnet tap: tso");
        sent++;
    }
    bench_sleep_ms(100);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    tap_rx_counts(t, &bytes1, &pk1);
    bench_resultf((double)(pk1 - pk0) / secs, "vnet_tap.%s.tso.frames_s", t->label);
    bench_resultf((double)(bytes1 - bytes0) * 8 / secs / 1e9, "vnet_tap.%s.tso.gbit_s", t->label);
    bench_resultf((double)(sent - (pk1 - pk0)), "vnet_tap.%s.tso.lost", t->label);
}

static void *flood(void *arg)
{
    struct tap_bench *t = arg;
    struct sockaddr_in to = {
        .sin_family = AF_INET, .sin_port = htons(5000), .sin_addr.s_addr = htonl(GUEST_IP)};
    static uint8_t payload[1500];
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    while (!t->stop)
        sendto(s, payload, t->rx_payload, 0, (struct sockaddr *)&to, sizeof(to));
    close(s);
    return NULL;
}

static void run_rx(struct tap_bench *t, size_t len, unsigned run_ms)
{
    static uint8_t buf[70000];
    uint64_t got = 0, t0, t_end;
    struct gvnet_hdr h;
    pthread_t th;

    t->stop = false;
    t->rx_payload = len - 42;
    pthread_create(&th, NULL, flood, t);
    uint64_t irqs0 = t->net->rx[0].vq->interrupts, kicks0 = t->net->rx[0].vq->notifies;
    t0 = bench_now_ns();
    t_end = t0 + (uint64_t)run_ms * 1000000ull;
    while (bench_now_ns() < t_end) {
        int n = gvnet_recv(t->net, 0, &h, buf, sizeof(buf), BENCH_TIMEOUT_MS);

        if (n < 0)
            bench_die("vnet tap: rx: %s", strerror(-n));
        if (n == (int)len && buf[23] == 17)
            got++;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    t->stop = true;
    pthread_join(th, NULL);
    while (gvnet_recv(t->net, 0, &h, buf, sizeof(buf), 100) >= 0)
        ;
    bench_resultf((double)got / secs, "vnet_tap.%s.rx.%zu.frames_s", t->label, len);
    bench_resultf((double)(t->net->rx[0].vq->interrupts - irqs0) / (double)(got ? got : 1),
                  "vnet_tap.%s.rx.%zu.irqs_per_frame", t->label, len);
    bench_resultf((double)(t->net->rx[0].vq->notifies - kicks0) / (double)(got ? got : 1),
                  "vnet_tap.%s.rx.%zu.kicks_per_frame", t->label, len);
    bench_resultf((double)got * (double)len * 8 / secs / 1e9, "vnet_tap.%s.rx.%zu.gbit_s", t->label,
                  len);
}

/* A bench that dies (bench_die exits) still deletes its namespace. */
static char cleanup_ns[64];

static void netns_cleanup(void)
{
    char cmd[128];

    if (!cleanup_ns[0])
        return;
    snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", cleanup_ns);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not delete namespace %s\n", cleanup_ns);
}

static void netns_enter(struct tap_bench *t)
{
    char path[128];
    int fd;

    if (geteuid() != 0)
        bench_die("vnet --tap needs root (a network namespace and a tap of its own)");
    snprintf(t->ns, sizeof(t->ns), "ioreqd-bench-%d", (int)getpid());
    snprintf(t->tap, sizeof(t->tap), "vbt%d", (int)(getpid() % 100000));
    t->old_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    sh("ip netns add %s", t->ns);
    snprintf(cleanup_ns, sizeof(cleanup_ns), "%s", t->ns);
    atexit(netns_cleanup);
    snprintf(path, sizeof(path), "/run/netns/%s", t->ns);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->old_ns < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0)
        bench_die("vnet tap: cannot enter %s", t->ns);
    close(fd);
    sh("ip link set lo up");
    sh("ip tuntap add dev %s mode tap vnet_hdr", t->tap);
    sh("ip addr add 10.78.0.1/24 dev %s", t->tap);
    sh("ip link set %s up", t->tap);
}

static void netns_leave(struct tap_bench *t)
{
    if (setns(t->old_ns, CLONE_NEWNET) < 0)
        bench_die("vnet tap: cannot leave %s", t->ns);
    close(t->old_ns);
    sh("ip netns del %s", t->ns);
    cleanup_ns[0] = '\0';
}

int bench_vnet_tap(const struct bench_vnet_opts *o)
{
    static struct bench_vnet_guest g;
    struct tap_bench t = {.net = &g.net, .label = bench_vnet_label(o)};
    char netdev[200], backend[64];

    netns_enter(&t);
    snprintf(netdev, sizeof(netdev),
             "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=off,vnet_hdr=on", t.tap);
    snprintf(backend, sizeof(backend), "tap=%s", t.tap);
    bench_vnet_guest_start(&g, o, TAP_DOMID, netdev, backend, "vnet tap");

    arp(&t);
    /* The guest answers no ARP: without a permanent entry the kernel gives up on it mid-run. */
    sh("ip neigh replace 10.78.0.2 lladdr %02x:%02x:%02x:%02x:%02x:%02x dev %s nud permanent",
       g.net.mac[0], g.net.mac[1], g.net.mac[2], g.net.mac[3], g.net.mac[4], g.net.mac[5], t.tap);
    if (bench_vnet_chosen(o, "rtt"))
        run_rtt(&t, o->rtt_count);
    if (bench_vnet_chosen(o, "tx64"))
        run_tx(&t, 64, o->run_ms);
    if (bench_vnet_chosen(o, "tx1500"))
        run_tx(&t, 1500, o->run_ms);
    if (bench_vnet_chosen(o, "tso"))
        run_tso(&t, o->run_ms);
    if (bench_vnet_chosen(o, "rx64"))
        run_rx(&t, 64, o->run_ms);
    if (bench_vnet_chosen(o, "rx1500"))
        run_rx(&t, 1500, o->run_ms);

    bench_vnet_guest_stop(&g);
    netns_leave(&t);
    return 0;
}
