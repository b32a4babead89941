/*
 * bench-null-server: the smallest ioreq server that is still correct, the
 * baseline ioreqd's request path is measured against.
 *
 * Built against Debian's real libxen* (run it on the mock with
 * LD_LIBRARY_PATH=<build>/shim/lib), it does the start-up sequence of
 * docs/DESIGN.md, claims COM1's eight ports (0x3f8-0x3ff) and then answers every
 * synchronous request without dispatch: reads get all-ones, writes are
 * dropped; the buffered ring is consumed by moving read_pointer. --base
 * moves the eight ports (below 0x1000), so several servers share a domain.
 * --batch makes the event fd non-blocking and serves every pending port per
 * wake-up instead of one (what ioreqd does), to measure what that is worth. It writes
 * device-model state = running like ioreqd, so both are started and timed
 * the same way.
 *
 * --ranges N (N >= 1) puts an io-range registry (ioreq-core's) on the path:
 * N ranges of 8 ports are registered locally, its own eight among them, and
 * every request is looked up there. The hypervisor gets as many of them as
 * it holds for one server (Xen's MAX_NR_IO_RANGES, 256 port ranges): its own
 * and the first 255 others, 8 ports every 16 from 0x1000 so that none merge,
 * so the figure has both the hypervisor's routing and the registry's lookup
 * growing with the number of ranges.
 *
 * It trusts the guest more than ioreqd does (it never looks at a request's
 * fields beyond the state, and with --ranges only at addr and size) and is
 * for benchmarks only: it is not installed.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/ioreq.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "io-range.h"

#define NULL_PAGE      4096u
#define NULL_MAX_PORTS 4096u
#define COM1_BASE      0x3f8u
#define NULL_HV_RANGES 256u /* port ranges Xen holds per server (MAX_NR_IO_RANGES) */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t null_read(void *opaque, const struct io_access *a)
{
    (void)opaque;
    return io_all_ones(a->size);
}

static void null_write(void *opaque, const struct io_access *a, uint64_t v)
{
    (void)opaque;
    (void)a;
    (void)v;
}

static const struct io_ops null_ops = {
    .read = null_read,
    .write = null_write,
};

struct null_server {
    uint16_t domid;
    unsigned nr_vcpus;
    ioservid_t id;
    xenevtchn_handle *xce;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    xenforeignmemory_resource_handle *res;
    buffered_iopage_t *buf;
    ioreq_t *slots;
    evtchn_port_t buf_port;
    int port_vcpu[NULL_MAX_PORTS]; /* local port -> vCPU, -1 none */
    struct io_registry *reg;       /* NULL: answer without lookup */
    uint16_t base;                 /* the 8 ports claimed, COM1 by default */
    bool batch;                    /* take every pending port per wake-up */
    uint64_t served, buffered;
};

static void drain_buffered(struct null_server *s)
{
    uint32_t rp = __atomic_load_n(&s->buf->read_pointer, __ATOMIC_ACQUIRE);
    uint32_t wp = __atomic_load_n(&s->buf->write_pointer, __ATOMIC_ACQUIRE);

    if (wp != rp) {
        s->buffered += wp - rp;
        __atomic_fetch_add(&s->buf->read_pointer, wp - rp, __ATOMIC_RELEASE);
    }
}

static void serve(struct null_server *s, unsigned vcpu, evtchn_port_t port)
{
    volatile ioreq_t *slot = &s->slots[vcpu];
    uint64_t data = ~0ull;

    if (slot->state != STATE_IOREQ_READY)
        return;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    slot->state = STATE_IOREQ_INPROCESS;
    if (s->reg && slot->type == IOREQ_TYPE_PIO) {
        uint64_t addr = slot->addr;
        unsigned size = slot->size;

        if (slot->dir == IOREQ_READ)
            io_dispatch_read(s->reg, IO_SPACE_PIO, addr, size, vcpu, &data);
        else
            io_dispatch_write(s->reg, IO_SPACE_PIO, addr, size, vcpu, slot->data);
    }
    if (slot->dir == IOREQ_READ)
        slot->data = data;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = STATE_IORESP_READY;
    s->served++;
    xenevtchn_notify(s->xce, port);
}

static int start(struct null_server *s, unsigned nr_ranges)
{
    evtchn_port_t buf_remote;
    void *addr = NULL;
    xentoollog_logger *log = NULL;

    s->xce = xenevtchn_open(log, 0);
    s->fmem = xenforeignmemory_open(log, 0);
    s->dmod = xendevicemodel_open(log, 0);
    if (!s->xce || !s->fmem || !s->dmod)
        return -errno;
    if (xendevicemodel_nr_vcpus(s->dmod, s->domid, &s->nr_vcpus))
        return -errno;
    if (s->nr_vcpus == 0 || s->nr_vcpus > NULL_PAGE / sizeof(ioreq_t))
        return -E2BIG;
    if (xendevicemodel_create_ioreq_server(s->dmod, s->domid, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &s->id))
        return -errno;
    s->res = xenforeignmemory_map_resource(s->fmem, s->domid, XENMEM_resource_ioreq_server, s->id,
                                           XENMEM_resource_ioreq_server_frame_bufioreq, 2, &addr,
                                           PROT_READ | PROT_WRITE, 0);
    if (!s->res)
        return -errno;
    s->buf = addr;
    s->slots = (ioreq_t *)((char *)addr + NULL_PAGE);
    if (xendevicemodel_get_ioreq_server_info(s->dmod, s->domid, s->id, NULL, NULL, &buf_remote))
        return -errno;
    if (xendevicemodel_set_ioreq_server_state(s->dmod, s->domid, s->id, 1))
        return -errno;
    for (unsigned i = 0; i < NULL_MAX_PORTS; i++)
        s->port_vcpu[i] = -1;
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(
            s->xce, s->domid, ((volatile ioreq_t *)&s->slots[v])->vp_eport);
        if (p < 0)
            return -errno;
        if ((unsigned)p >= NULL_MAX_PORTS)
            return -ERANGE;
        s->port_vcpu[p] = (int)v;
    }
    xenevtchn_port_or_error_t bp = xenevtchn_bind_interdomain(s->xce, s->domid, buf_remote);
    if (bp < 0)
        return -errno;
    s->buf_port = (evtchn_port_t)bp;

    if (nr_ranges) {
        /* 8 ports every 16 from 0x1000 up; ours (below 0x1000) joins them. */
        s->reg = io_registry_new();
        if (!s->reg)
            return -ENOMEM;
        for (unsigned i = 0; i + 1 < nr_ranges; i++) {
            struct io_range r = {.space = IO_SPACE_PIO,
                                 .base = 0x1000 + 16 * (uint64_t)i,
                                 .len = 8,
                                 .ops = &null_ops,
                                 .name = "bench"};
            int rc = io_map(s->reg, &r);
            if (rc)
                return rc;
            if (i + 1 < NULL_HV_RANGES && xendevicemodel_map_io_range_to_ioreq_server(
                                              s->dmod, s->domid, s->id, 0, r.base, r.base + 7u))
                return -errno;
        }
        struct io_range own = {
            .space = IO_SPACE_PIO, .base = s->base, .len = 8, .ops = &null_ops, .name = "own"};
        int rc = io_map(s->reg, &own);
        if (rc)
            return rc;
    }
    if (xendevicemodel_map_io_range_to_ioreq_server(s->dmod, s->domid, s->id, 0, s->base,
                                                    s->base + 7u))
        return -errno;
    return 0;
}

static int publish_running(uint16_t domid)
{
    struct xs_handle *xs = xs_open(0);
    char path[96];
    bool ok;

    if (!xs)
        return -errno;
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", domid);
    ok = xs_write(xs, XBT_NULL, path, "running", 7);
    xs_close(xs);
    return ok ? 0 : -EIO;
}

static int loop(struct null_server *s)
{
    struct pollfd pfd = {.fd = xenevtchn_fd(s->xce), .events = POLLIN};

    if (s->batch && fcntl(pfd.fd, F_SETFL, fcntl(pfd.fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
    while (!stop_requested) {
        /* poll first, as an event loop does, so SIGTERM is noticed */
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        /* one port per wake-up, as ioreqd does; --batch: all that are pending */
        for (unsigned n = 0; n < NULL_MAX_PORTS; n++) {
            xenevtchn_port_or_error_t port = xenevtchn_pending(s->xce);
            if (port < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                return -errno;
            }
            xenevtchn_unmask(s->xce, (evtchn_port_t)port);
            drain_buffered(s);
            if ((evtchn_port_t)port != s->buf_port && (unsigned)port < NULL_MAX_PORTS &&
                s->port_vcpu[port] >= 0)
                serve(s, (unsigned)s->port_vcpu[port], (evtchn_port_t)port);
            if (!s->batch)
                break;
        }
    }
    return 0;
}

static void teardown(struct null_server *s)
{
    if (s->dmod && s->res) {
        xendevicemodel_set_ioreq_server_state(s->dmod, s->domid, s->id, 0);
        xendevicemodel_destroy_ioreq_server(s->dmod, s->domid, s->id);
    }
    if (s->res)
        xenforeignmemory_unmap_resource(s->fmem, s->res);
    if (s->reg)
        io_registry_free(s->reg);
    if (s->xce)
        xenevtchn_close(s->xce);
    if (s->fmem)
        xenforeignmemory_close(s->fmem);
    if (s->dmod)
        xendevicemodel_close(s->dmod);
}

static void usage(FILE *out)
{
    fputs("Usage: bench-null-server --domid N [--base PORT] [--ranges N] [--batch] [--foreground] "
          "[--log stderr]\n"
          "A null ioreq server for benchmarks: answers every request without dispatch.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"domid", required_argument, NULL, 'd'},
        {"ranges", required_argument, NULL, 'r'},
        {"base", required_argument, NULL, 'b'},
        {"batch", no_argument, NULL, 'B'},
        {"foreground", no_argument, NULL, 'F'}, /* accepted for ioreqd's command line */
        {"log", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct null_server *s = calloc(1, sizeof(*s));
    unsigned long domid = 0, ranges = 0, base = COM1_BASE;
    int c, rc;

    if (!s)
        return 1;
    while ((c = getopt_long(argc, argv, "d:r:b:BFl:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            domid = strtoul(optarg, NULL, 0);
            break;
        case 'r':
            ranges = strtoul(optarg, NULL, 0);
            break;
        case 'b':
            base = strtoul(optarg, NULL, 0);
            break;
        case 'B':
            s->batch = true;
            break;
        case 'F':
        case 'l':
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (domid == 0 || domid > 0x7fef || ranges > 3840 || base > 0x1000 - 8) {
        usage(stderr);
        return 2;
    }
    s->domid = (uint16_t)domid;
    s->base = (uint16_t)base;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, on_signal);
    rc = start(s, (unsigned)ranges);
    if (!rc)
        rc = publish_running(s->domid);
    if (!rc)
        rc = loop(s);
    if (rc)
        fprintf(stderr, "bench-null-server: %s\n", strerror(-rc));
    else
        fprintf(stderr, "bench-null-server: served %llu, buffered %llu\n",
                (unsigned long long)s->served, (unsigned long long)s->buffered);
    teardown(s);
    free(s);
    return rc ? 1 : 0;
}
