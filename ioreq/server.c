/*
 * The ioreq server on libxendevicemodel, libxenforeignmemory and
 * libxenevtchn (docs/DESIGN.md, "Start-up and teardown"): the only file of
 * ioreq/ that talks to the hypervisor about the server itself. The request
 * arithmetic lives in request.c, the slot protocol in slot.c, the buffered
 * ring in bufring.c, guest memory in gmem-xen.c.
 *
 * The server owns the three handles, the mapped ioreq pages, the bound
 * ports, the map cache and the event on the libevent base; the registry and
 * the PCI handler belong to the caller. Teardown runs the start-up steps
 * backwards from wherever start-up got to, so one function serves every
 * exit path.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>

#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bufring.h"
#include "gmem-cache.h"
#include "gmem-xen.h"
#include "poll-window.h"
#include "log.h"
#include "request.h"
#include "slot.h"

#define SERVER_PAGE_SIZE 4096u
/* One page of slots (frame 1 of the resource). */
#define SERVER_MAX_VCPUS (SERVER_PAGE_SIZE / sizeof(ioreq_t))
/* port_vcpu entry of a port that is no vCPU's: vCPUs fit in a byte. */
#define SERVER_NO_VCPU 0xffu
/* How often one dirty-log report lets the rest of a loop turn run first. */
#define SERVER_DIRTY_DEFERS 8u
/* Requests one poll serves before it lets the loop turn: a guest that keeps
 * the slots busy must not keep the loop from its other events. */
#define SERVER_POLL_MAX_REQUESTS 256u
_Static_assert(SERVER_MAX_VCPUS < SERVER_NO_VCPU, "a vCPU number fits in port_vcpu");

struct server_port {
    evtchn_port_t local;
    unsigned vcpu;
};

struct ioreq_server {
    domid_t domid;
    ioservid_t id;
    unsigned nr_vcpus;

    xenevtchn_handle *xce;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;

    bool created;  /* exists in Xen: destroy on teardown */
    bool enabled;  /* set_state(1) done: disable on teardown */
    bool quiesced; /* slots answered after disabling: nothing more arrives */
    xenforeignmemory_resource_handle *res;
    buffered_iopage_t *buf_page; /* frame 0 */
    ioreq_t *slots;              /* frame 1: one slot per vCPU */

    evtchn_port_t buf_port; /* local port of the buffered channel */
    bool buf_bound;
    struct server_port *ports; /* bound vCPU ports, in vCPU order */
    unsigned nr_ports;
    uint8_t *port_vcpu;  /* local port -> vCPU, SERVER_NO_VCPU if none */
    unsigned port_limit; /* entries in port_vcpu: highest bound local port + 1 */

    struct event *ev;
    struct event *dirty_ev;       /* reports collected guest-RAM writes, once per loop turn */
    unsigned dirty_defers;        /* times dirty_ev let other callbacks of the turn go first */
    struct io_registry *registry; /* not owned */
    bool listening;
    struct gmem *gmem;
    bool dirty_log; /* writes into guest RAM are reported (ioreq_server_set_dirty_log) */
    struct ioreq_pci_handler pci;
    struct request_ctx rctx;

    struct ioreq_stats stats;
    struct ioreq_vcpu_stats *vstats;

    void (*on_fatal)(void *opaque, int err);
    void *fatal_opaque;
    bool dead; /* the event channel failed: serve nothing more */

    /* --poll-us: after a request, watch the slots and the buffered ring. */
    struct poll_window poll;
    struct event *poll_ev; /* runs a poll once the loop turn has nothing else */
    uint64_t poll_idle_ns; /* when the last poll stopped finding work; 0: none */
    unsigned poll_served;  /* requests the current poll served, across its pauses */
    uint8_t *poll_owed;    /* per vCPU: polling served a request whose notification is to come */
};

/*
 * Teardown calls fail with ESRCH once the toolstack destroyed the domain,
 * and those about the server with ENOENT while it is dying (domain_kill
 * destroyed its servers, xen/common/ioreq.c ioreq_server_destroy_all):
 * that is normal. After a fatal error the hypervisor is known to be gone
 * and that was reported once already.
 */
static void server_teardown_failed(const struct ioreq_server *srv, const char *what)
{
    if (errno == ESRCH || errno == ENOENT || srv->dead)
        log_debug("ioreq: %s: %s", what, strerror(errno));
    else
        log_warn("ioreq: %s failed: %s", what, strerror(errno));
}

/* The port comes from the event channel: anything not ours is -1. */
static int server_find_vcpu(const struct ioreq_server *srv, evtchn_port_t port)
{
    if (port >= srv->port_limit || srv->port_vcpu[port] == SERVER_NO_VCPU)
        return -1;
    return srv->port_vcpu[port];
}

/* A direct index: one load per request instead of a search over the ports. */
static int server_index_ports(struct ioreq_server *srv)
{
    unsigned limit = 0;

    for (unsigned i = 0; i < srv->nr_ports; i++) {
        /* Xen's FIFO ABI has the most ports; more would be a broken hypervisor. */
        if (srv->ports[i].local >= EVTCHN_FIFO_NR_CHANNELS) {
            log_error("ioreq: local port %u out of range", srv->ports[i].local);
            return -ERANGE;
        }
        if (srv->ports[i].local >= limit)
            limit = srv->ports[i].local + 1;
    }
    srv->port_vcpu = malloc(limit ? limit : 1);
    if (!srv->port_vcpu)
        return -ENOMEM;
    memset(srv->port_vcpu, SERVER_NO_VCPU, limit ? limit : 1);
    for (unsigned i = 0; i < srv->nr_ports; i++)
        srv->port_vcpu[srv->ports[i].local] = (uint8_t)srv->ports[i].vcpu;
    srv->port_limit = limit;
    return 0;
}

static void server_buffered_one(void *opaque, ioreq_t *req)
{
    struct ioreq_server *srv = opaque;

    request_handle(&srv->rctx, req, 0, NULL);
}

static const struct bufring_sink *server_sink(struct ioreq_server *srv, struct bufring_sink *sink)
{
    sink->handle = server_buffered_one;
    sink->opaque = srv;
    return sink;
}

/* A spin-wait hint: the sibling hyperthread gets the core meanwhile. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t server_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Serves the vCPU's slot; false if it held no request. */
static bool server_serve_vcpu(struct ioreq_server *srv, unsigned vcpu, evtchn_port_t port)
{
    ioreq_t *slot = &srv->slots[vcpu];
    ioreq_t req;

    if (!slot_take(slot, &req)) {
        /* Polling took the request this notification was sent for. */
        if (srv->poll_owed && srv->poll_owed[vcpu])
            srv->poll_owed[vcpu] = 0;
        else
            srv->stats.spurious_notifications++;
        return false;
    }
    srv->stats.sync_requests++;
    request_handle(&srv->rctx, &req, vcpu, &srv->vstats[vcpu]);
    /*
     * What the request wrote into guest RAM is reported later in this loop
     * turn (server_on_dirty), not before the vCPU resumes: the dirty log
     * only has to hold it before the loop sleeps or an interrupt is raised.
     * A virtio notification writes the ring's avail_event, and the
     * completion that follows in the same turn writes the data and the used
     * ring: one report covers both.
     */
    slot_complete(slot, req.data);
    if (xenevtchn_notify(srv->xce, port))
        log_warn("ioreq: notify vCPU %u: %s", vcpu, strerror(errno));
    return true;
}

static void server_dirty_wake(void *arg)
{
    struct ioreq_server *srv = arg;

    event_active(srv->dirty_ev, EV_TIMEOUT, 0);
}

/*
 * Runs when a write into guest RAM was collected. Callbacks still due in
 * this loop turn (the completions of a virtio queue) go first, so their
 * writes join the same report; at most SERVER_DIRTY_DEFERS times, so a
 * loop kept busy cannot hold the report back.
 */
static void server_on_dirty(evutil_socket_t fd, short what, void *arg)
{
    struct ioreq_server *srv = arg;

    if (srv->dirty_defers < SERVER_DIRTY_DEFERS &&
        event_base_get_num_events(event_get_base(srv->dirty_ev), EVENT_BASE_COUNT_ACTIVE) > 0) {
        srv->dirty_defers++;
        event_active(srv->dirty_ev, EV_TIMEOUT, 0);
        return;
    }
    srv->dirty_defers = 0;
    /* Requests in flight report with their completions (gmem_hold_dirty);
     * the last one's release wakes this again. */
    if (gmem_dirty_held(srv->gmem))
        return;
    gmem_flush_dirty(srv->gmem);
}

static void server_fatal(struct ioreq_server *srv, int err)
{
    srv->dead = true;
    event_del(srv->ev);
    log_error("ioreq: event channel failed: %s", strerror(-err));
    if (srv->on_fatal)
        srv->on_fatal(srv->fatal_opaque, err);
}

/*
 * The poll runs from a timer that expires at once: after what is active in
 * this loop turn, and after the loop has looked at its descriptors again
 * (event_active would run it in the same turn, before any of them).
 */
static void server_poll_later(struct ioreq_server *srv)
{
    static const struct timeval now = {0, 0};

    /* Adding it again would take an expired one off this turn's list. */
    if (event_pending(srv->poll_ev, EV_TIMEOUT, NULL))
        return;
    if (event_add(srv->poll_ev, &now))
        log_warn("ioreq: cannot schedule a poll");
}

static void server_on_event(evutil_socket_t fd, short what, void *arg)
{
    struct ioreq_server *srv = arg;
    struct bufring_sink sink;

    if (srv->dead)
        return;
    xenevtchn_port_or_error_t port = xenevtchn_pending(srv->xce);
    if (port < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        server_fatal(srv, errno ? -errno : -EIO);
        return;
    }
    if (xenevtchn_unmask(srv->xce, (evtchn_port_t)port))
        log_warn("ioreq: unmask port %d: %s", port, strerror(errno));

    /* Buffered writes issued before this request must land first. */
    bufring_drain(srv->buf_page, server_sink(srv, &sink), &srv->stats);
    if (srv->buf_bound && (evtchn_port_t)port == srv->buf_port)
        return;

    int vcpu = server_find_vcpu(srv, (evtchn_port_t)port);
    if (vcpu < 0) {
        srv->stats.spurious_notifications++;
        return;
    }
    /* The notification of a request the poll served already changes nothing. */
    if (server_serve_vcpu(srv, (unsigned)vcpu, (evtchn_port_t)port) && srv->poll_ev) {
        /* A request the last poll did not wait long enough for, or one
         * that came much later: the window adapts. */
        if (srv->poll_idle_ns) {
            poll_window_missed(&srv->poll, server_now_ns() - srv->poll_idle_ns);
            srv->poll_idle_ns = 0;
        }
        srv->poll_served = 0;
        server_poll_later(srv);
    }
}

/* Anything else the loop has to run in this turn (completions, reports). */
static bool server_loop_busy(const struct ioreq_server *srv)
{
    return event_base_get_num_events(event_get_base(srv->poll_ev), EVENT_BASE_COUNT_ACTIVE) > 0;
}

/*
 * The poll (ioreqd --poll-us): instead of sleeping in the loop until the
 * next event-channel notification wakes it, watch the buffered ring and
 * every vCPU's slot for up to the window after the last request served,
 * and serve what appears. Xen sets a slot READY before it notifies, so a
 * request is seen without the wake-up; its notification still arrives
 * later and finds the slot taken (poll_owed). The vCPU is still notified
 * of each answer. Runs only when nothing else is due in the loop turn, and
 * gives the turn back as soon as something is (a request served by the
 * poll may complete through the loop), to resume afterwards; other
 * descriptors (disk completions from worker threads, the control socket)
 * wait at most the window, or SERVER_POLL_MAX_REQUESTS requests.
 */
static void server_on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct ioreq_server *srv = arg;
    struct bufring_sink sink;
    uint64_t now = server_now_ns(), last = now;

    if (srv->dead || srv->poll.cur_ns == 0) {
        srv->poll_idle_ns = now;
        return;
    }
    if (server_loop_busy(srv)) {
        server_poll_later(srv);
        return;
    }
    for (;;) {
        bool found = bufring_drain(srv->buf_page, server_sink(srv, &sink), &srv->stats) > 0;

        for (unsigned i = 0; i < srv->nr_ports; i++) {
            const volatile ioreq_t *slot = &srv->slots[srv->ports[i].vcpu];

            if (slot->state != STATE_IOREQ_READY ||
                !server_serve_vcpu(srv, srv->ports[i].vcpu, srv->ports[i].local))
                continue;
            srv->poll_owed[srv->ports[i].vcpu] = 1;
            srv->stats.polled_requests++;
            srv->poll_served++;
            found = true;
        }
        now = server_now_ns();
        if (found)
            last = now;
        if (srv->dead)
            return;
        /* Enough for one poll: back to sleeping in the loop, which the
         * notifications of these requests wake again. */
        if (srv->poll_served >= SERVER_POLL_MAX_REQUESTS)
            return;
        /* Let the loop run what the requests started, or what else came
         * in; polling resumes after it. */
        if (server_loop_busy(srv)) {
            server_poll_later(srv);
            return;
        }
        if (now - last >= srv->poll.cur_ns)
            break;
        cpu_relax();
    }
    srv->poll_idle_ns = last;
}

static int server_map_range(void *opaque, const struct io_range *range)
{
    struct ioreq_server *srv = opaque;

    if (xendevicemodel_map_io_range_to_ioreq_server(srv->dmod, srv->domid, srv->id,
                                                    range->space == IO_SPACE_MMIO, range->base,
                                                    range->base + (range->len - 1))) {
        int rc = -errno;
        log_error("ioreq: mapping %s 0x%llx+0x%llx: %s", range->name ? range->name : "range",
                  (unsigned long long)range->base, (unsigned long long)range->len, strerror(errno));
        return rc ? rc : -EIO;
    }
    return 0;
}

static void server_unmap_range(void *opaque, const struct io_range *range)
{
    struct ioreq_server *srv = opaque;

    if (xendevicemodel_unmap_io_range_from_ioreq_server(srv->dmod, srv->domid, srv->id,
                                                        range->space == IO_SPACE_MMIO, range->base,
                                                        range->base + (range->len - 1)))
        server_teardown_failed(srv, "unmap io range");
}

/* Mirrors the ranges registered before the server existed, then follows changes. */
static int server_listen(struct ioreq_server *srv)
{
    for (unsigned s = 0; s < IO_SPACE_COUNT; s++) {
        unsigned n = io_range_count(srv->registry, (enum io_space)s);
        for (unsigned i = 0; i < n; i++) {
            int rc = server_map_range(srv, io_range_at(srv->registry, (enum io_space)s, i));
            if (rc)
                return rc;
        }
    }
    struct io_listener l = {
        .map = server_map_range,
        .unmap = server_unmap_range,
        .opaque = srv,
    };
    io_registry_set_listener(srv->registry, &l);
    srv->listening = true;
    return 0;
}

static int server_bind(struct ioreq_server *srv, evtchn_port_t remote, evtchn_port_t *local)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(srv->xce, srv->domid, remote);

    if (p < 0)
        return errno ? -errno : -EIO;
    *local = (evtchn_port_t)p;
    return 0;
}

static int server_bind_all(struct ioreq_server *srv, evtchn_port_t buf_remote)
{
    int rc;

    for (unsigned v = 0; v < srv->nr_vcpus; v++) {
        /* Read once: the page is shared, and only Xen writes vp_eport. */
        evtchn_port_t remote = slot_eport(&srv->slots[v]);
        evtchn_port_t local;

        rc = server_bind(srv, remote, &local);
        if (rc) {
            log_error("ioreq: binding vCPU %u port %u: %s", v, remote, strerror(-rc));
            return rc;
        }
        srv->ports[srv->nr_ports].local = local;
        srv->ports[srv->nr_ports].vcpu = v;
        srv->nr_ports++;
    }
    rc = server_index_ports(srv);
    if (rc)
        return rc;

    rc = server_bind(srv, buf_remote, &srv->buf_port);
    if (rc) {
        log_error("ioreq: binding buffered port %u: %s", buf_remote, strerror(-rc));
        return rc;
    }
    srv->buf_bound = true;
    return 0;
}

/* Step by step, recording what exists so that teardown undoes exactly that. */
static int server_start(struct ioreq_server *srv, const struct ioreq_server_params *p,
                        struct event_base *base)
{
    evtchn_port_t buf_remote;
    void *addr = NULL;
    const char *step;
    int rc;

    step = "opening the Xen handles";
    srv->xce = xenevtchn_open(NULL, 0);
    srv->fmem = xenforeignmemory_open(NULL, 0);
    srv->dmod = xendevicemodel_open(NULL, 0);
    if (!srv->xce || !srv->fmem || !srv->dmod)
        goto fail;

    step = "xendevicemodel_nr_vcpus";
    if (xendevicemodel_nr_vcpus(srv->dmod, srv->domid, &srv->nr_vcpus))
        goto fail;
    if (srv->nr_vcpus == 0 || srv->nr_vcpus > SERVER_MAX_VCPUS) {
        log_error("ioreq: domain %u has %u vCPUs; one page of slots serves 1 to %zu", srv->domid,
                  srv->nr_vcpus, SERVER_MAX_VCPUS);
        return -E2BIG;
    }
    srv->vstats = calloc(srv->nr_vcpus, sizeof(*srv->vstats));
    srv->ports = calloc(srv->nr_vcpus, sizeof(*srv->ports));
    if (!srv->vstats || !srv->ports)
        return -ENOMEM;

    step = "xendevicemodel_create_ioreq_server";
    if (xendevicemodel_create_ioreq_server(srv->dmod, srv->domid, HVM_IOREQSRV_BUFIOREQ_ATOMIC,
                                           &srv->id))
        goto fail;
    srv->created = true;

    step = "xenforeignmemory_map_resource";
    srv->res = xenforeignmemory_map_resource(srv->fmem, srv->domid, XENMEM_resource_ioreq_server,
                                             srv->id, XENMEM_resource_ioreq_server_frame_bufioreq,
                                             2, &addr, PROT_READ | PROT_WRITE, 0);
    if (!srv->res)
        goto fail;
    srv->buf_page = addr;
    srv->slots = (ioreq_t *)((char *)addr + SERVER_PAGE_SIZE);

    step = "xendevicemodel_get_ioreq_server_info";
    if (xendevicemodel_get_ioreq_server_info(srv->dmod, srv->domid, srv->id, NULL, NULL,
                                             &buf_remote))
        goto fail;

    step = "xendevicemodel_set_ioreq_server_state";
    if (xendevicemodel_set_ioreq_server_state(srv->dmod, srv->domid, srv->id, 1))
        goto fail;
    srv->enabled = true;

    rc = server_bind_all(srv, buf_remote);
    if (rc)
        return rc;

    srv->gmem = gmem_xen_new(srv->fmem, srv->dmod, srv->domid, p->mapcache_bytes);
    if (!srv->gmem)
        return -ENOMEM;
    /*
     * Collect writes into guest RAM and report them once the loop has run
     * what was ready: one hypercall for a batch of virtio completions
     * instead of two or three per request.
     */
    srv->dirty_ev = event_new(base, -1, 0, server_on_dirty, srv);
    if (!srv->dirty_ev)
        return -ENOMEM;
    gmem_cache_defer_dirty(srv->gmem, server_dirty_wake, srv);
    ioreq_server_set_dirty_log(srv, p->dirty_log);
    srv->rctx.registry = srv->registry;
    srv->rctx.gmem = srv->gmem;
    srv->rctx.pci = &srv->pci;
    srv->rctx.stats = &srv->stats;

    srv->ev = event_new(base, xenevtchn_fd(srv->xce), EV_READ | EV_PERSIST, server_on_event, srv);
    if (!srv->ev || event_add(srv->ev, NULL))
        return -ENOMEM;
    if (p->poll_us) {
        if (p->poll_us > IOREQ_POLL_US_MAX)
            return -EINVAL;
        poll_window_init(&srv->poll, (uint64_t)p->poll_us * 1000u);
        srv->poll_owed = calloc(srv->nr_vcpus, 1);
        srv->poll_ev = event_new(base, -1, 0, server_on_poll, srv);
        if (!srv->poll_owed || !srv->poll_ev)
            return -ENOMEM;
        log_info("ioreq: polling up to %u us after each request", p->poll_us);
    }

    rc = server_listen(srv);
    if (rc)
        return rc;
    log_info("ioreq: server %u serving domain %u (%u vCPUs)", srv->id, srv->domid, srv->nr_vcpus);
    return 0;

fail:
    rc = errno ? -errno : -EIO;
    log_error("ioreq: %s for domain %u: %s", step, srv->domid, strerror(-rc));
    return rc;
}

int ioreq_server_create(struct ioreq_server **out, const struct ioreq_server_params *params,
                        struct event_base *base)
{
    struct ioreq_server *srv;
    int rc;

    *out = NULL;
    if (!params || !params->registry || !base)
        return -EINVAL;
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->domid = params->domid;
    srv->registry = params->registry;
    srv->pci = params->pci;
    srv->on_fatal = params->on_fatal;
    srv->fatal_opaque = params->fatal_opaque;

    rc = server_start(srv, params, base);
    if (rc) {
        ioreq_server_destroy(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

void ioreq_server_quiesce(struct ioreq_server *srv)
{
    struct bufring_sink sink;
    unsigned answered = 0;

    if (!srv || srv->quiesced)
        return;
    srv->quiesced = true;
    if (srv->enabled && xendevicemodel_set_ioreq_server_state(srv->dmod, srv->domid, srv->id, 0))
        server_teardown_failed(srv, "disable ioreq server");
    srv->enabled = false;
    if (!srv->slots || srv->dead)
        return;
    /* Writes the guest buffered believe done: the devices still take them. */
    if (srv->buf_page && srv->gmem && srv->rctx.registry)
        bufring_drain(srv->buf_page, server_sink(srv, &sink), &srv->stats);
    for (unsigned v = 0; v < srv->nr_vcpus; v++) {
        if (!slot_refuse(&srv->slots[v]))
            continue;
        answered++;
        /* Ports are bound in vCPU order: a start that failed half-way has the first ones. */
        if (v >= srv->nr_ports) {
            log_warn("ioreq: vCPU %u of domain %u has a request and no bound port to wake it", v,
                     srv->domid);
            continue;
        }
        if (xenevtchn_notify(srv->xce, srv->ports[v].local))
            server_teardown_failed(srv, "notify vCPU");
    }
    if (answered)
        log_info("ioreq: answered %u request(s) left in the slots as from no device", answered);
}

void ioreq_server_destroy(struct ioreq_server *srv)
{
    if (!srv)
        return;
    ioreq_server_quiesce(srv);
    if (srv->listening)
        io_registry_set_listener(srv->registry, NULL);
    if (srv->ev)
        event_free(srv->ev);
    gmem_free(srv->gmem); /* reports what is still collected */
    if (srv->dirty_ev)
        event_free(srv->dirty_ev);
    if (srv->poll_ev) {
        log_info("ioreq: %llu of %llu requests found by polling",
                 (unsigned long long)srv->stats.polled_requests,
                 (unsigned long long)srv->stats.sync_requests);
        event_free(srv->poll_ev);
    }
    free(srv->poll_owed);
    if (srv->buf_bound && xenevtchn_unbind(srv->xce, srv->buf_port))
        server_teardown_failed(srv, "unbind buffered port");
    for (unsigned i = 0; i < srv->nr_ports; i++)
        if (xenevtchn_unbind(srv->xce, srv->ports[i].local))
            server_teardown_failed(srv, "unbind vCPU port");
    if (srv->res && xenforeignmemory_unmap_resource(srv->fmem, srv->res))
        server_teardown_failed(srv, "unmap ioreq pages");
    if (srv->created && xendevicemodel_destroy_ioreq_server(srv->dmod, srv->domid, srv->id))
        server_teardown_failed(srv, "destroy ioreq server");
    if (srv->dmod)
        xendevicemodel_close(srv->dmod);
    if (srv->fmem)
        xenforeignmemory_close(srv->fmem);
    if (srv->xce)
        xenevtchn_close(srv->xce);
    free(srv->ports);
    free(srv->port_vcpu);
    free(srv->vstats);
    free(srv);
}

void ioreq_server_set_pci_handler(struct ioreq_server *srv, const struct ioreq_pci_handler *pci)
{
    if (pci)
        srv->pci = *pci;
    else
        memset(&srv->pci, 0, sizeof(srv->pci));
}

struct gmem *ioreq_server_gmem(struct ioreq_server *srv)
{
    return srv->gmem;
}

void ioreq_server_set_dirty_log(struct ioreq_server *srv, bool on)
{
    if (on != srv->dirty_log)
        log_info("ioreq: dirty log %s", on ? "on: writes into guest RAM are reported" : "off");
    srv->dirty_log = on;
    gmem_set_dirty_log(srv->gmem, on);
}

bool ioreq_server_dirty_log(const struct ioreq_server *srv)
{
    return srv->dirty_log;
}

unsigned ioreq_server_nr_vcpus(const struct ioreq_server *srv)
{
    return srv->nr_vcpus;
}

uint16_t ioreq_server_id(const struct ioreq_server *srv)
{
    return srv->id;
}

void ioreq_server_get_stats(const struct ioreq_server *srv, struct ioreq_stats *out,
                            struct ioreq_vcpu_stats *per_vcpu, unsigned nr)
{
    *out = srv->stats;
    out->nr_vcpus = srv->nr_vcpus;
    gmem_get_stats(srv->gmem, &out->gmem);
    for (unsigned v = 0; per_vcpu && v < nr && v < srv->nr_vcpus; v++)
        per_vcpu[v] = srv->vstats[v];
}

/* Wakes vCPU v of a server we do not serve: its port is unbound since its owner died. */
static int retire_notify(xenevtchn_handle *xce, uint16_t domid, ioreq_t *slot, unsigned v)
{
    xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(xce, domid, slot_eport(slot));
    int rc = 0;

    if (local < 0)
        return errno ? -errno : -EIO;
    if (xenevtchn_notify(xce, (evtchn_port_t)local))
        rc = errno ? -errno : -EIO;
    if (xenevtchn_unbind(xce, (evtchn_port_t)local) && !rc)
        rc = errno ? -errno : -EIO;
    if (rc)
        log_warn("ioreq: waking vCPU %u of the old server: %s", v, strerror(-rc));
    return rc;
}

int ioreq_server_retire(uint16_t domid, uint16_t id)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenforeignmemory_resource_handle *res = NULL;
    unsigned nr_vcpus = 0, answered = 0;
    evtchn_port_t buf_port;
    void *addr = NULL;
    int rc = 0;

    if (!dmod || !fmem || !xce) {
        rc = errno ? -errno : -EIO;
        goto out;
    }
    /* No gfns asked for: Xen maps no legacy pages into the guest for this. */
    if (xendevicemodel_get_ioreq_server_info(dmod, domid, id, NULL, NULL, &buf_port) ||
        xendevicemodel_nr_vcpus(dmod, domid, &nr_vcpus)) {
        rc = errno ? -errno : -EIO;
        goto out;
    }
    /* Disabled first: Xen pauses the domain meanwhile, no request is half-sent after it. */
    if (xendevicemodel_set_ioreq_server_state(dmod, domid, id, 0)) {
        rc = errno ? -errno : -EIO;
        goto out;
    }
    res = xenforeignmemory_map_resource(fmem, domid, XENMEM_resource_ioreq_server, id,
                                        XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
                                        PROT_READ | PROT_WRITE, 0);
    if (!res) {
        log_warn("ioreq: mapping the slots of old server %u: %s", id, strerror(errno));
    } else {
        for (unsigned v = 0; v < nr_vcpus && v < SERVER_MAX_VCPUS; v++) {
            ioreq_t *slot = (ioreq_t *)addr + v;

            if (!slot_refuse(slot))
                continue;
            answered++;
            (void)retire_notify(xce, domid, slot, v);
        }
        xenforeignmemory_unmap_resource(fmem, res);
    }
    if (answered)
        log_info("ioreq: answered %u request(s) left in old server %u as from no device", answered,
                 id);
    if (xendevicemodel_destroy_ioreq_server(dmod, domid, id))
        rc = errno ? -errno : -EIO;
out:
    if (xce)
        xenevtchn_close(xce);
    if (fmem)
        xenforeignmemory_close(fmem);
    if (dmod)
        xendevicemodel_close(dmod);
    return rc;
}

int ioreq_server_restrict(struct ioreq_server *srv)
{
    if (xentoolcore_restrict_all(srv->domid)) {
        int rc = errno ? -errno : -EIO;
        log_error("ioreq: xentoolcore_restrict_all(%u): %s", srv->domid, strerror(-rc));
        return rc;
    }
    return 0;
}

/* The hv_services of this server: interrupts and config-cycle routing. */

static int server_errno(void)
{
    return errno ? -errno : -EIO;
}

static int server_set_isa_irq_level(void *opaque, unsigned isa_irq, bool level)
{
    struct ioreq_server *srv = opaque;

    if (isa_irq > 15)
        return -EINVAL;
    if (level)
        gmem_flush_dirty(srv->gmem);
    if (xendevicemodel_set_isa_irq_level(srv->dmod, srv->domid, (uint8_t)isa_irq, level))
        return server_errno();
    return 0;
}

static int server_set_pci_intx_level(void *opaque, uint32_t sbdf, unsigned pin, bool level)
{
    struct ioreq_server *srv = opaque;

    if (pin > 3)
        return -EINVAL;
    if (level)
        gmem_flush_dirty(srv->gmem);
    if (xendevicemodel_set_pci_intx_level(srv->dmod, srv->domid, (uint16_t)PCI_SBDF_SEG(sbdf),
                                          (uint8_t)PCI_SBDF_BUS(sbdf), (uint8_t)PCI_SBDF_DEV(sbdf),
                                          (uint8_t)pin, level))
        return server_errno();
    return 0;
}

static int server_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct ioreq_server *srv = opaque;

    gmem_flush_dirty(srv->gmem);
    if (xendevicemodel_inject_msi(srv->dmod, srv->domid, addr, data))
        return server_errno();
    return 0;
}

static int server_map_pcidev(void *opaque, uint32_t sbdf)
{
    struct ioreq_server *srv = opaque;

    if (xendevicemodel_map_pcidev_to_ioreq_server(
            srv->dmod, srv->domid, srv->id, (uint16_t)PCI_SBDF_SEG(sbdf),
            (uint8_t)PCI_SBDF_BUS(sbdf), (uint8_t)PCI_SBDF_DEV(sbdf), (uint8_t)PCI_SBDF_FN(sbdf)))
        return server_errno();
    return 0;
}

static int server_unmap_pcidev(void *opaque, uint32_t sbdf)
{
    struct ioreq_server *srv = opaque;

    if (xendevicemodel_unmap_pcidev_from_ioreq_server(
            srv->dmod, srv->domid, srv->id, (uint16_t)PCI_SBDF_SEG(sbdf),
            (uint8_t)PCI_SBDF_BUS(sbdf), (uint8_t)PCI_SBDF_DEV(sbdf), (uint8_t)PCI_SBDF_FN(sbdf)))
        return server_errno();
    return 0;
}

/*
 * Interrupts tell the guest that a device wrote its memory: the writes are
 * in the dirty log first, as they are before a vCPU resumes from a request.
 */
static const struct hv_services_ops server_hv_ops = {
    .set_isa_irq_level = server_set_isa_irq_level,
    .set_pci_intx_level = server_set_pci_intx_level,
    .inject_msi = server_inject_msi,
    .map_pcidev = server_map_pcidev,
    .unmap_pcidev = server_unmap_pcidev,
};

struct hv_services ioreq_server_hv(struct ioreq_server *srv)
{
    struct hv_services p = {.ops = &server_hv_ops, .opaque = srv};

    return p;
}
