/*
 * virtio-net as a guest sees it: ioreqd serves a virtio-net card on its
 * datagram socket backend, the guest driver of tools/guest (virtio-pci,
 * split rings, MSI-X, mergeable receive buffers) runs in this process on
 * vCPU 0, and a thread of this process is the peer at the socket's other
 * end. Figures:
 *   tx: frames the guest sends for run_ms, counted where the peer gets
 *       them, at 64 and 1500 bytes (frames/s, Gbit/s);
 *   rx: frames the peer sends as fast as the socket takes them (a full
 *       socket blocks the peer: no drops), counted where the guest gets
 *       them, at 64 and 1500 bytes;
 *   round trip: a 64-byte frame from the guest, echoed by the peer, back
 *       in the guest (median and p99).
 * With qemu set, the device model is Debian's QEMU (-device
 * virtio-net-pci,disable-legacy=on on -netdev dgram) instead, driven by
 * the same guest driver on the same mock; results are vnet.qemu.*, and
 * vnet.ioreqd.* for ioreqd.
 */
#include "bench-vnet.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-net.h"

#define VNET_DOMID 12
#define VNET_MEM   (128ull << 20)

struct peer {
    int fd;
    struct sockaddr_un dm; /* ioreqd's end, learnt from its first frame */
    socklen_t dm_len;
    size_t frame_len;
    volatile bool stop;
    uint64_t frames, bytes;
};

static void frame_fill(uint8_t *f, size_t len, const uint8_t *dst)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
    f[12] = 0x88;
    f[13] = 0xb5; /* local experimental ethertype */
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)i;
}

static void *peer_drain(void *arg)
{
    struct peer *p = arg;
    static uint8_t buf[70000];

    while (!p->stop) {
        ssize_t n = recv(p->fd, buf, sizeof(buf), 0);

        if (n > 0) {
            p->frames++;
            p->bytes += (uint64_t)n;
        }
    }
    return NULL;
}

static void *peer_flood(void *arg)
{
    struct peer *p = arg;
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t frame[1600];

    frame_fill(frame, p->frame_len, bcast);
    while (!p->stop) {
        if (sendto(p->fd, frame, p->frame_len, 0, (struct sockaddr *)&p->dm, p->dm_len) > 0)
            p->frames++;
    }
    return NULL;
}

static void run_tx(struct gvnet *n, struct peer *p, size_t len, unsigned run_ms, const char *L)
{
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
    uint8_t frame[1600];
    uint64_t sent = 0, t0, t_end;
    pthread_t th;
    int rc;

    frame_fill(frame, len, dst);
    p->stop = false;
    p->frames = p->bytes = 0;
    pthread_create(&th, NULL, peer_drain, p);
    t0 = bench_now_ns();
    t_end = t0 + (uint64_t)run_ms * 1000000ull;
    while (bench_now_ns() < t_end) {
        if ((rc = gvnet_send(n, 0, NULL, frame, len, BENCH_TIMEOUT_MS)))
            bench_die("vnet tx: %s", strerror(-rc));
        sent++;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    bench_sleep_ms(200); /* what is still in the socket */
    p->stop = true;
    pthread_join(th, NULL);
    bench_resultf((double)p->frames / secs, "vnet.%s.tx.%zu.frames_s", L, len);
    bench_resultf((double)p->bytes * 8 / secs / 1e9, "vnet.%s.tx.%zu.gbit_s", L, len);
    bench_resultf((double)(sent - p->frames), "vnet.%s.tx.%zu.dropped", L, len);
}

static void run_rx(struct gvnet *n, struct peer *p, size_t len, unsigned run_ms, const char *L)
{
    static uint8_t buf[70000];
    uint64_t got = 0, bytes = 0, t0, t_end;
    struct gvnet_hdr h;
    pthread_t th;

    p->stop = false;
    p->frames = 0;
    p->frame_len = len;
    pthread_create(&th, NULL, peer_flood, p);
    uint64_t irqs0 = n->rx[0].vq->interrupts, kicks0 = n->rx[0].vq->notifies;
    t0 = bench_now_ns();
    t_end = t0 + (uint64_t)run_ms * 1000000ull;
    while (bench_now_ns() < t_end) {
        int rc = gvnet_recv(n, 0, &h, buf, sizeof(buf), BENCH_TIMEOUT_MS);

        if (rc < 0)
            bench_die("vnet rx: %s", strerror(-rc));
        got++;
        bytes += (uint64_t)rc;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    p->stop = true;
    /* A blocked send gives up within SO_SNDTIMEO; then take what is left. */
    pthread_join(th, NULL);
    while (gvnet_recv(n, 0, &h, buf, sizeof(buf), 50) >= 0)
        ;
    bench_resultf((double)got / secs, "vnet.%s.rx.%zu.frames_s", L, len);
    bench_resultf((double)(n->rx[0].vq->interrupts - irqs0) / (double)(got ? got : 1),
                  "vnet.%s.rx.%zu.irqs_per_frame", L, len);
    bench_resultf((double)(n->rx[0].vq->notifies - kicks0) / (double)(got ? got : 1),
                  "vnet.%s.rx.%zu.kicks_per_frame", L, len);
    bench_resultf((double)bytes * 8 / secs / 1e9, "vnet.%s.rx.%zu.gbit_s", L, len);
}

static void run_rtt(struct gvnet *n, struct peer *p, unsigned count, const char *L)
{
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
    struct bench_samples s;
    uint8_t frame[64], buf[2000];
    struct gvnet_hdr h;
    int rc;

    frame_fill(frame, sizeof(frame), dst);
    bench_samples_init(&s, count);
    for (unsigned i = 0; i < count; i++) {
        uint64_t t0 = bench_now_ns();
        ssize_t m;

        frame[20] = (uint8_t)i;
        if ((rc = gvnet_send(n, 0, NULL, frame, sizeof(frame), BENCH_TIMEOUT_MS)))
            bench_die("vnet rtt send: %s", strerror(-rc));
        m = recv(p->fd, buf, sizeof(buf), 0);
        if (m != (ssize_t)sizeof(frame))
            bench_die("vnet rtt: peer got %zd bytes", m);
        memcpy(buf, n->mac, 6);
        if (sendto(p->fd, buf, (size_t)m, 0, (struct sockaddr *)&p->dm, p->dm_len) != m)
            bench_die("vnet rtt: echo: %s", strerror(errno));
        rc = gvnet_recv(n, 0, &h, buf, sizeof(buf), BENCH_TIMEOUT_MS);
        if (rc != (int)sizeof(frame) || buf[20] != (uint8_t)i)
            bench_die("vnet rtt: guest got %d", rc);
        bench_samples_add(&s, bench_now_ns() - t0);
    }
    bench_resultf((double)bench_samples_quantile(&s, 0.5), "vnet.%s.rtt.median_ns", L);
    bench_resultf((double)bench_samples_quantile(&s, 0.99), "vnet.%s.rtt.p99_ns", L);
    bench_samples_fini(&s);
}

void bench_vnet_guest_start(struct bench_vnet_guest *g, const struct bench_vnet_opts *o,
                            uint16_t domid, const char *qemu_netdev, const char *ioreqd_backend,
                            const char *what)
{
    struct mockhv_config cfg = {
        .domid = domid, .nr_vcpus = 2, .mem_bytes = VNET_MEM, .xenstore = true};
    struct gvnet_opts opts = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = BENCH_TIMEOUT_MS, .msi_data_base = 0x40},
        .queue_size = 256,
    };
    /* bench_dm_start passes ioreqd's --domid N first: a shell drops it for QEMU. */
    static const char *const drop_domid[] = {"-c", "shift 2; exec \"$0\" \"$@\"", NULL};
    char domid_text[16], spec[600];
    const char *extra[32];
    struct bench_dm dmc = o->dm;
    const struct mockhv_pci_func *fn;
    unsigned n = 0;
    int rc;

    memset(g, 0, sizeof(*g));
    if (o->qemu) {
        /* QEMU's modern-only virtio-net-pci on the given netdev. */
        snprintf(domid_text, sizeof(domid_text), "%u", domid);
        snprintf(spec, sizeof(spec), "%s", qemu_netdev);
        const char *q[] = {
            "-xen-domid", domid_text,
            "-machine",   "xenfv",
            "-m",         "128",
            "-smp",       "2",
            "-nographic", "-display",
            "none",       "-nodefaults",
            "-serial",    "null",
            "-monitor",   "none",
            "-netdev",    spec,
            "-device",    "virtio-net-pci,netdev=n0,disable-legacy=on,addr=04.0,romfile=",
            NULL};
        for (unsigned i = 0; q[i]; i++)
            extra[n++] = q[i];
        dmc.prefix = "/bin/sh";
        dmc.prefix_args = drop_domid;
    } else {
        snprintf(spec, sizeof(spec), "virtio-net,%s", ioreqd_backend);
        for (unsigned i = 0; o->dm.extra && o->dm.extra[i] && n < 10; i++)
            extra[n++] = o->dm.extra[i];
        /* bench_dm_start leaves a state key behind: ioreqd would take it for QEMU's. */
        extra[n++] = "--beside-qemu";
        extra[n++] = "no";
        extra[n++] = "--device";
        extra[n++] = "host-bridge";
        extra[n++] = "--device";
        extra[n++] = spec;
    }
    extra[n] = NULL;
    dmc.extra = extra;

    if ((rc = mockhv_create(&g->hv, &cfg)))
        bench_die("%s: mockhv_create: %s", what, strerror(-rc));
    if ((rc = bench_dm_start(&g->dm, g->hv, &dmc, NULL)))
        bench_die("%s: device model start: %s", what, strerror(-rc));
    if ((rc = gpci_scan(&g->bus, g->hv, 0, BENCH_TIMEOUT_MS)))
        bench_die("%s: PCI scan: %s", what, strerror(-rc));
    fn = gpci_find(&g->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVNET_DEVICE_ID);
    if (!fn)
        bench_die("%s: no virtio-net function", what);
    garena_init(&g->arena, 1 << 20, VNET_MEM - (1 << 20));
    if ((rc = gvnet_init(&g->net, g->hv, &g->arena, &g->bus, fn, &opts)))
        bench_die("%s: driver: %s", what, strerror(-rc));
}

bool bench_vnet_chosen(const struct bench_vnet_opts *o, const char *name)
{
    const char *w = o->only;
    size_t len = strlen(name);

    if (!w)
        return true;
    while (*w) {
        size_t n = strcspn(w, ",");

        if (n == len && !memcmp(w, name, n))
            return true;
        w += n + (w[n] == ',');
    }
    return false;
}

const char *bench_vnet_label(const struct bench_vnet_opts *o)
{
    return o->label ? o->label : o->qemu ? "qemu" : "ioreqd";
}

void bench_vnet_guest_stop(struct bench_vnet_guest *g)
{
    gvnet_fini(&g->net);
    garena_fini(&g->arena);
    bench_dm_stop(&g->dm);
    mockhv_destroy(g->hv);
}

int bench_vnet(const struct bench_vnet_opts *o)
{
    static struct bench_vnet_guest g;
    struct gvnet *net = &g.net;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    struct peer p = {0};
    char netdev[600], backend[220], path[200], local[200];
    uint8_t buf[100];
    const char *L = bench_vnet_label(o);
    int rc;

    snprintf(path, sizeof(path), "%s/vnet-peer.sock", o->dir);
    unlink(path);
    p.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p.fd < 0 || strlen(path) >= sizeof(sa.sun_path))
        bench_die("vnet: peer socket");
    memcpy(sa.sun_path, path, strlen(path));
    if (bind(p.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        bench_die("vnet: bind %s: %s", path, strerror(errno));
    /* Big enough for bursts; a send or receive that waits wakes to check for the end. */
    int sz = 4 << 20;
    setsockopt(p.fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* QEMU's unix datagram netdev (7.2 and later), or ioreqd's socket backend */
    snprintf(local, sizeof(local), "%s/vnet-qemu.sock", o->dir);
    if (o->qemu)
        unlink(local);
    snprintf(netdev, sizeof(netdev),
             "dgram,id=n0,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s", local,
             path);
    snprintf(backend, sizeof(backend), "socket=%s", path);
    bench_vnet_guest_start(&g, o, VNET_DOMID, netdev, backend, "vnet");

    /* The peer learns ioreqd's address from a first frame. */
    frame_fill(buf, 64, (const uint8_t *)"\x02\x00\x00\x00\x00\x01");
    if ((rc = gvnet_send(net, 0, NULL, buf, 64, BENCH_TIMEOUT_MS)))
        bench_die("vnet: first frame: %s", strerror(-rc));
    p.dm_len = sizeof(p.dm);
    if (recvfrom(p.fd, buf, sizeof(buf), 0, (struct sockaddr *)&p.dm, &p.dm_len) != 64)
        bench_die("vnet: the peer got no first frame");

    if (bench_vnet_chosen(o, "rtt"))
        run_rtt(net, &p, o->rtt_count, L);
    if (bench_vnet_chosen(o, "tx64"))
        run_tx(net, &p, 64, o->run_ms, L);
    if (bench_vnet_chosen(o, "tx1500"))
        run_tx(net, &p, 1500, o->run_ms, L);
    if (bench_vnet_chosen(o, "rx64"))
        run_rx(net, &p, 64, o->run_ms, L);
    if (bench_vnet_chosen(o, "rx1500"))
        run_rx(net, &p, 1500, o->run_ms, L);
    bench_resultf((double)bench_rss_kib(g.dm.pid, "VmHWM"), "rss.%s.vnet_peak_kib", L);

    bench_vnet_guest_stop(&g);
    close(p.fd);
    unlink(path);
    if (o->qemu)
        unlink(local);
    return 0;
}
