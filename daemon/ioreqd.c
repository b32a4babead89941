/*
 * The device model's lifetime. Start-up follows docs/DESIGN.md ("Start-up and
 * teardown"): the ioreq server first (it opens the Xen handles, maps the
 * pages, enables the server and binds the ports), then the PCI bus and the
 * devices in the order given, then PCI config routing and the control socket
 * (ioreqctl), and only when all of that works the xenstore inventory and
 * state = running, which tells the toolstack we serve requests.
 *
 * Then, if asked, deprivileging (ioreqd_deprivilege, depriv.c): with --runas
 * the xenstore connection is closed first, because restricting the Xen
 * handles makes libxenstore's socket /dev/null; a restricted daemon then
 * notices its guest's end by polling the hypervisor about that guest, the
 * one thing its restricted handles may still ask.
 *
 * This file composes the parts, each of which has one job: the devices
 * (dm-devices.c), the xenstore inventory (inventory.c), a crashed
 * predecessor's server (predecessor.c), the control socket (control.c)
 * and its replies (replies.c). PCI config cycles go from the ioreq server
 * straight to the PCI bus.
 *
 * Stopping: SIGTERM, SIGINT, SIGHUP (libxl's way of stopping a device model),
 * "stop" on the control socket and the guest's domain disappearing end the
 * loop with status 0; the ioreq server reporting that the hypervisor went away ends it with
 * status 1. Teardown is the same in every case and tolerates a domain that no longer exists. It
 * starts by disabling the server and answering what reached it (ioreq_server_quiesce): Xen wakes a
 * waiting vCPU only by our notification.
 */
#include "ioreqd.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "beside-qemu.h"
#include "control.h"
#include "depriv.h"
#include "dm-devices.h"
#include "dm-xenstore.h"
#include "guest-domain.h"
#include "inventory.h"
#include "io-range.h"
#include "log.h"
#include "predecessor.h"
#include "replies.h"
#include "server.h"
#include "settings.h"

#ifndef IOREQD_VERSION
#define IOREQD_VERSION "unknown"
#endif

_Static_assert(SETTINGS_POLL_US_MAX == IOREQ_POLL_US_MAX, "--poll-us takes what the server does");

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

struct ioreqd {
    unsigned domid;
    struct event_base *base;
    struct event *sig_ev[ARRAY_SIZE(stop_signals)];
    struct dmxs *xs; /* NULL once closed (--runas, or the connection was lost) */
    struct guest_domain *guest;
    struct io_registry *io;
    struct ioreq_server *srv;
    struct pci_bus *pci;
    struct dm_devices devs;
    struct inventory inv;
    struct control_server *ctl;
    struct event *liveness_ev; /* checks xenstore, polls the guest once without it */
    bool beside_qemu; /* QEMU serves the guest too: its keys, lines and ports are off limits */
    int exit_code;
};

/* How often a daemon without xenstore asks whether its guest still exists. */
#define IOREQD_LIVENESS_SEC 2

static void ioreqd_finish(struct ioreqd *d, int exit_code)
{
    /* The first reason wins: a fatal error during a requested stop stays a stop. */
    if (d->exit_code < 0)
        d->exit_code = exit_code;
    event_base_loopbreak(d->base);
}

static void on_signal(evutil_socket_t sig, short what, void *opaque)
{
    struct ioreqd *d = opaque;

    const char *name = sigabbrev_np((int)sig);

    log_info("received SIG%s, shutting down", name ? name : "?");
    ioreqd_finish(d, IOREQD_EXIT_OK);
}

static void on_fatal(void *opaque, int err)
{
    struct ioreqd *d = opaque;

    log_error("the hypervisor connection failed (%s): domain %u can no longer be served, exiting",
              strerror(err < 0 ? -err : err), d->domid);
    ioreqd_finish(d, IOREQD_EXIT_FAILURE);
}

static void on_domain_released(void *opaque)
{
    struct ioreqd *d = opaque;

    /* Xenstore forgets a domain when it is destroyed; the hypervisor confirms. */
    if (dmxs_domain_introduced(d->xs))
        return;
    switch (guest_domain_state(d->guest)) {
    case GUEST_ALIVE:
        log_debug("domain %u left xenstore but the hypervisor still runs it: serving on", d->domid);
        return;
    case GUEST_GONE:
        log_info("domain %u is gone, shutting down", d->domid);
        ioreqd_finish(d, IOREQD_EXIT_OK);
        return;
    case GUEST_UNKNOWN:
        log_error("domain %u was released and the hypervisor cannot be asked about it, exiting",
                  d->domid);
        ioreqd_finish(d, IOREQD_EXIT_FAILURE);
        return;
    }
}

static void on_liveness_tick(evutil_socket_t fd, short what, void *opaque)
{
    struct ioreqd *d = opaque;
    int rc;

    if (d->xs) {
        /* Connected, @releaseDomain tells us; a lost connection only shows here. */
        rc = dmxs_check(d->xs);
        if (!rc || d->exit_code >= 0)
            return;
        log_warn("xenstore connection lost (%s): asking the hypervisor every %d s whether "
                 "domain %u still exists; the keys written stay for the toolstack to remove",
                 strerror(-rc), IOREQD_LIVENESS_SEC, d->domid);
        inventory_detach(&d->inv);
        dmxs_close_keep(d->xs);
        d->xs = NULL;
    }
    /* Unknown is not gone: a hypervisor that went away is reported by the server itself. */
    if (guest_domain_state(d->guest) == GUEST_GONE) {
        log_info("domain %u is gone, shutting down", d->domid);
        ioreqd_finish(d, IOREQD_EXIT_OK);
    }
}

/* ---- the control socket: replies are replies.c's ---- */

static struct reply_sources reply_sources(struct ioreqd *d)
{
    return (struct reply_sources){
        .domid = d->domid,
        .version = IOREQD_VERSION,
        .srv = d->srv,
        .pci = d->pci,
        .devs = &d->devs,
    };
}

static int ctl_status(void *opaque, struct json_buf *out)
{
    struct reply_sources src = reply_sources(opaque);

    return reply_status(&src, out);
}

static int ctl_stats(void *opaque, struct json_buf *out)
{
    struct reply_sources src = reply_sources(opaque);

    return reply_stats(&src, out);
}

static int ctl_stop(void *opaque)
{
    struct ioreqd *d = opaque;

    log_info("stop requested on the control socket, shutting down");
    ioreqd_finish(d, IOREQD_EXIT_OK);
    return 0;
}

/* What libxl asks of QEMU with xen-set-global-dirty-log around a live migration. */
static int ctl_dirty_log(void *opaque, int on)
{
    struct ioreqd *d = opaque;

    if (on >= 0)
        ioreq_server_set_dirty_log(d->srv, on);
    return ioreq_server_dirty_log(d->srv);
}

static const struct control_ops ctl_ops = {
    .status = ctl_status,
    .stats = ctl_stats,
    .stop = ctl_stop,
    .dirty_log = ctl_dirty_log,
};

/* ---- what the devices ask of us: the inventory is inventory.c's ---- */

static int on_device_publish(void *opaque, const struct dm_device *dev, const char *key,
                             const char *value)
{
    struct ioreqd *d = opaque;

    return inventory_device_key(&d->inv, dev, key, value);
}

static void on_device_bars_moved(void *opaque, struct dm_device *dev)
{
    struct ioreqd *d = opaque;

    inventory_bars_moved(&d->inv, dev);
}

/* ---- start-up, in docs/DESIGN.md's order ---- */

static int start_signals(struct ioreqd *d)
{
    for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++) {
        d->sig_ev[i] = evsignal_new(d->base, stop_signals[i], on_signal, d);
        if (!d->sig_ev[i] || evsignal_add(d->sig_ev[i], NULL) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* The loop, and the stop signals on it before anything slow. */
static int start_loop(struct ioreqd *d)
{
    d->base = event_base_new();
    if (!d->base) {
        log_error("cannot create the event loop");
        return IOREQD_EXIT_FAILURE;
    }
    if (start_signals(d) < 0) {
        log_error("cannot install signal handlers");
        return IOREQD_EXIT_FAILURE;
    }
    return 0;
}

/* The role beside-qemu.h and dm-xenstore.h describe, said or found in xenstore. */
static bool decide_beside_qemu(struct dmxs *xs, int said)
{
    bool beside =
        said == IOREQD_QEMU_BESIDE || (said == IOREQD_QEMU_DETECT && dmxs_qemu_state_present(xs));

    if (said == IOREQD_QEMU_DETECT)
        log_info("%s: serving %s", dmxs_state_path(xs),
                 beside ? "beside the device model that wrote it (QEMU)" : "alone");
    dmxs_set_beside_qemu(xs, beside);
    return beside;
}

static void say_conflict(void *opaque, bool refused, const char *msg)
{
    if (refused)
        log_error("beside QEMU: %s", msg);
    else
        log_warn("beside QEMU: %s", msg);
}

/* True (after logging why) when a device takes what QEMU beside it needs. */
static bool takes_from_qemu(struct ioreqd *d)
{
    struct beside_qemu_irqs *irqs = calloc(d->devs.nr + 1, sizeof(*irqs));
    const struct beside_qemu_report report = {.say = say_conflict};
    unsigned nr = 0, refused;

    if (!irqs) {
        log_error("out of memory");
        return true;
    }
    for (unsigned i = 0; i < d->devs.nr; i++) {
        const struct dm_device *dev = &d->devs.devs[i];

        if (dev->dev && dev->type->isa_irqs)
            irqs[nr++] = (struct beside_qemu_irqs){dev->origin, dev->type->isa_irqs(dev->dev)};
    }
    refused = beside_qemu_check(d->io, d->pci, irqs, nr, &report);
    free(irqs);
    if (refused)
        log_error("%u device setting%s would take from QEMU what it needs (ioreqd(8), BESIDE "
                  "QEMU); --beside-qemu=no if QEMU does not serve this guest",
                  refused, refused == 1 ? "" : "s");
    return refused != 0;
}

/* xenstore, the inventory on it, and the guest: it must exist, and we watch for its end. */
static int start_watching(struct ioreqd *d, const struct ioreqd_params *p)
{
    const struct dmxs_callbacks xs_cb = {.domain_released = on_domain_released, .opaque = d};
    const struct timeval liveness_tick = {.tv_sec = IOREQD_LIVENESS_SEC};
    int rc;

    if (dmxs_open(&d->xs, d->domid, d->base, &xs_cb))
        return IOREQD_EXIT_FAILURE;
    d->beside_qemu = decide_beside_qemu(d->xs, p->beside_qemu);
    if (inventory_init(&d->inv, d->base, d->xs, &d->devs, p->xenstore_stays)) {
        log_error("out of memory");
        return IOREQD_EXIT_FAILURE;
    }
    rc = guest_domain_open(&d->guest, d->domid);
    if (rc) {
        log_error("cannot open the hypervisor interface (libxenctrl): %s", strerror(-rc));
        return IOREQD_EXIT_FAILURE;
    }
    if (guest_domain_state(d->guest) == GUEST_GONE) {
        log_error("domain %u does not exist", d->domid);
        return IOREQD_EXIT_FAILURE;
    }
    d->liveness_ev = event_new(d->base, -1, EV_PERSIST, on_liveness_tick, d);
    if (!d->liveness_ev || event_add(d->liveness_ev, &liveness_tick) < 0) {
        log_error("cannot start watching domain %u", d->domid);
        return IOREQD_EXIT_FAILURE;
    }
    return 0;
}

/* The ioreq server, after retiring a crashed predecessor's, and recorded for a successor. */
static int start_server(struct ioreqd *d, const struct ioreqd_params *p)
{
    struct ioreq_server_params params = {
        .domid = (uint16_t)d->domid,
        .on_fatal = on_fatal,
        .fatal_opaque = d,
        .poll_us = p->poll_us,
        .dirty_log = p->dirty_log,
    };
    int rc;

    d->io = io_registry_new();
    if (!d->io) {
        log_error("out of memory");
        return IOREQD_EXIT_FAILURE;
    }
    params.registry = d->io;
    predecessor_retire(d->xs, d->domid, d->beside_qemu);
    rc = ioreq_server_create(&d->srv, &params, d->base);
    if (rc) {
        log_error("cannot set up the ioreq server for domain %u: %s", d->domid, strerror(-rc));
        return IOREQD_EXIT_FAILURE;
    }
    rc = predecessor_record(d->xs, ioreq_server_id(d->srv));
    if (rc) {
        log_error("cannot write to xenstore: %s", strerror(-rc));
        return IOREQD_EXIT_FAILURE;
    }
    guest_domain_watch_server(d->guest, ioreq_server_id(d->srv));
    return 0;
}

/* The PCI bus and the devices, which must leave QEMU beside us what it needs. */
static int start_devices(struct ioreqd *d)
{
    struct device_env env = {
        .domid = (uint16_t)d->domid,
        .io = d->io,
        .gmem = ioreq_server_gmem(d->srv),
        .hv = ioreq_server_hv(d->srv),
        .base = d->base,
    };
    int code;

    d->pci = pci_bus_new(d->io, ioreq_server_hv(d->srv));
    if (!d->pci) {
        log_error("cannot create the PCI bus");
        return IOREQD_EXIT_FAILURE;
    }
    env.pci = d->pci;
    code = dm_devices_create(&d->devs, &env);
    if (code)
        return code;
    return d->beside_qemu && takes_from_qemu(d) ? IOREQD_EXIT_USAGE : 0;
}

/* Config cycles to the bus, the control socket, the inventory, then state = running. */
static int start_serving(struct ioreqd *d, const struct ioreqd_params *p)
{
    int rc;

    ioreq_server_set_pci_handler(d->srv, &(struct ioreq_pci_handler){
                                             .cfg_read = pci_bus_cfg_read,
                                             .cfg_write = pci_bus_cfg_write,
                                             .opaque = d->pci,
                                         });
    if (p->control_socket) {
        rc = control_server_new(&d->ctl, d->base, p->control_socket, &ctl_ops, d);
        if (rc == -EADDRINUSE) {
            log_error("control socket %s is in use: is another ioreqd serving domain %u?",
                      p->control_socket, d->domid);
            return IOREQD_EXIT_FAILURE;
        }
        /* ioreqctl is a convenience; serving the guest is not made to depend on it. */
        if (rc)
            log_warn("no control socket at %s: %s", p->control_socket, strerror(-rc));
    }
    rc = inventory_publish(&d->inv, IOREQD_VERSION, ioreq_server_nr_vcpus(d->srv));
    if (!rc)
        rc = dmxs_write(d->xs, dmxs_state_path(d->xs), "running");
    if (rc) {
        log_error("cannot write to xenstore: %s", strerror(-rc));
        return IOREQD_EXIT_FAILURE;
    }
    return 0;
}

int ioreqd_start(struct ioreqd **out, const struct ioreqd_params *p)
{
    struct ioreqd *d = calloc(1, sizeof(*d));
    int code;

    if (!d) {
        log_error("out of memory");
        return IOREQD_EXIT_FAILURE;
    }
    d->domid = p->domid;
    d->exit_code = -1;
    code = dm_devices_take(&d->devs, p->devs, p->nr_devs,
                           &(struct dm_devices_owner){
                               .publish = on_device_publish,
                               .bars_moved = on_device_bars_moved,
                               .opaque = d,
                           });
    if (!code)
        code = start_loop(d);
    if (!code)
        code = start_watching(d, p);
    if (!code)
        code = start_server(d, p);
    if (!code)
        code = start_devices(d);
    if (!code)
        code = start_serving(d, p);
    if (code) {
        ioreqd_stop(d);
        return code;
    }
    log_info("serving domain %u", d->domid);
    *out = d;
    return 0;
}

/* ---- deprivileging, the loop, teardown ---- */

int ioreqd_deprivilege(struct ioreqd *d, const struct depriv_plan *plan)
{
    int rc;

    if (plan->change_user) {
        dmxs_disconnect(d->xs);
        if (ioreq_server_restrict(d->srv)) {
            /*
             * Nothing was restricted that a new connection would inherit:
             * reconnect, so that stopping removes state = running and the
             * inventory instead of leaving them to claim we serve.
             */
            rc = dmxs_reconnect(d->xs);
            if (rc)
                log_error("cannot reconnect to xenstore to remove %s/state: %s", dmxs_dm_dir(d->xs),
                          strerror(-rc));
            return IOREQD_EXIT_FAILURE;
        }
        inventory_detach(&d->inv);
        dmxs_close_keep(d->xs);
        d->xs = NULL;
        log_info("deprivileging: xenstore closed; state and inventory stay for the toolstack "
                 "to remove");
        /* From here on_liveness_tick asks the hypervisor about the guest. */
        log_info("deprivileging: Xen handles restricted to domain %u", d->domid);
    }
    rc = depriv_apply(plan);
    return rc ? IOREQD_EXIT_FAILURE : 0;
}

int ioreqd_run(struct ioreqd *d)
{
    if (d->exit_code < 0 && event_base_dispatch(d->base) < 0) {
        log_error("event loop failed");
        return IOREQD_EXIT_FAILURE;
    }
    return d->exit_code < 0 ? IOREQD_EXIT_OK : d->exit_code;
}

/*
 * A stop signal arriving during teardown asks for what is already under
 * way. Freeing the signal events gives the signals back their default
 * action, which would kill us half-way (or just before exit 0): block them
 * for the rest of the process's life instead.
 */
static void block_stop_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
        sigaddset(&set, stop_signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL))
        log_warn("cannot block the stop signals during teardown: %s", strerror(errno));
}

void ioreqd_stop(struct ioreqd *d)
{
    if (!d)
        return;
    block_stop_signals();
    control_server_free(d->ctl);
    /*
     * No vCPU may be left waiting: Xen wakes it only by our notification
     * (not by disabling or destroying the server), and it sends INVALIDATE
     * to every enabled server. So the server is disabled and what reached
     * it answered before anything slow.
     */
    ioreq_server_quiesce(d->srv);
    /* Backends next: whatever the guest saw completed must be durable. */
    dm_devices_flush(&d->devs);
    dm_devices_free(&d->devs);
    if (d->pci)
        pci_bus_free(d->pci);
    if (d->srv)
        ioreq_server_destroy(d->srv);
    if (d->io)
        io_registry_free(d->io);
    dmxs_close(d->xs);
    if (d->liveness_ev)
        event_free(d->liveness_ev);
    inventory_fini(&d->inv);
    guest_domain_close(d->guest);
    for (size_t i = 0; i < ARRAY_SIZE(d->sig_ev); i++)
        if (d->sig_ev[i])
            event_free(d->sig_ev[i]);
    if (d->base)
        event_base_free(d->base);
    free(d);
}
