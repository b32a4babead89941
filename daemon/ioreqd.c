/*
 * The device model's lifetime. Start-up follows DESIGN.md ("Start-up and
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
 * The xenstore inventory holds what stays true (each device's identity);
 * where the guest placed the BARs is published too, and rewritten when a
 * config write moves one, but only while xenstore stays connected (not with
 * --runas), so nothing there goes stale. Live state, counters included,
 * comes from the control socket.
 *
 * Counting: every device's ranges count their accesses into the device's
 * io_counter (the registry's owner is set to it around creating the device
 * and around config writes to its PCI functions, which is when BARs are
 * mapped), and config cycles are counted per function's device here.
 *
 * Stopping: SIGTERM, SIGINT, SIGHUP (libxl's way of stopping a device model),
 * "stop" on the control socket and the guest's domain disappearing end the
 * loop with status 0; the ioreq
 * server reporting that the hypervisor went away ends it with status 1.
 * Teardown is the same in every case and tolerates a domain that no longer
 * exists. It starts by disabling the server and answering what reached it
 * (ioreq_server_quiesce): Xen wakes a waiting vCPU only by our notification.
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
#include "dm-xenstore.h"
#include "guest-domain.h"
#include "io-range.h"
#include "log.h"
#include "pci/pci.h"
#include "server.h"
#include "settings.h"

#ifndef IOREQD_VERSION
#define IOREQD_VERSION "unknown"
#endif

_Static_assert(SETTINGS_POLL_US_MAX == IOREQ_POLL_US_MAX, "--poll-us takes what the server does");

/* At most this many PCI functions per device (a multi-function slot has 8). */
#define IOREQD_DEV_FNS 8

/* A PCI function a device put on the bus, and where its BARs were last seen. */
struct ioreqd_fn {
    struct pci_dev *pci;
    uint64_t placed[PCI_NUM_SLOTS];
};

struct ioreqd_device {
    struct ioreqd *d;
    unsigned index;
    const struct device_type *type;
    struct device_spec spec;
    char *origin;
    void *dev;             /* NULL until created */
    char dir[128];         /* this device's inventory directory in xenstore */
    struct io_counter io;  /* port and MMIO accesses dispatched to its ranges */
    struct io_counter cfg; /* config cycles to its PCI functions */
    struct ioreqd_fn fns[IOREQD_DEV_FNS];
    unsigned nr_fns;
    bool bars_dirty; /* placement changed since xenstore was last told */
};

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

struct ioreqd {
    unsigned domid;
    struct event_base *base;
    struct event *sig_ev[ARRAY_SIZE(stop_signals)];
    struct dmxs *xs;
    struct guest_domain *guest;
    struct io_registry *io;
    struct ioreq_server *srv;
    struct pci_bus *pci;
    struct ioreqd_device *devs;
    unsigned nr_devs;
    struct control_server *ctl;
    struct event *liveness_ev;           /* checks xenstore, polls the guest once without it */
    struct ioreqd_device *by_devfn[256]; /* the device owning each PCI function */
    bool beside_qemu;      /* QEMU serves the guest too: its keys, lines and ports are off limits */
    bool publish_bars;     /* BAR placement is kept current in xenstore */
    struct event *bars_ev; /* writes moved BARs to xenstore, off the request path */
    int exit_code;
};

/* How often a daemon without xenstore asks whether its guest still exists. */
#define IOREQD_LIVENESS_SEC 2
/* Moved BARs reach xenstore after this long, so a guest toggling decode costs little. */
#define IOREQD_BARS_DELAY_MS 100

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
        dmxs_close_keep(d->xs);
        d->xs = NULL;
    }
    /* Unknown is not gone: a hypervisor that went away is reported by the server itself. */
    if (guest_domain_state(d->guest) == GUEST_GONE) {
        log_info("domain %u is gone, shutting down", d->domid);
        ioreqd_finish(d, IOREQD_EXIT_OK);
    }
}

/*
 * env->publish: a relative key lands in the device's inventory directory;
 * an absolute one must lie in the guest's own tree or ours (dmxs enforces
 * it), which is where the guest's tools look, e.g. a UART's pty at
 * /local/domain/<domid>/serial/<n>/tty for `xl console -t serial`.
 */
static int device_publish(void *opaque, const char *key, const char *value)
{
    struct ioreqd_device *dev = opaque;
    char path[512];

    if (!key || !*key || !value)
        return -EINVAL;
    if (!dev->d->xs)
        return -ENOTCONN;
    if (key[0] == '/')
        return dmxs_write(dev->d->xs, key, value);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dev->dir, key) >= sizeof(path))
        return -E2BIG;
    return dmxs_write(dev->d->xs, path, value);
}

/* "00:03.0" */
static void fn_bdf(const struct pci_dev *pci, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x.%x", PCI_SBDF_BUS(pci->sbdf), PCI_SBDF_DEV(pci->sbdf),
             PCI_SBDF_FN(pci->sbdf));
}

/* ---- control socket (ioreqctl) ---- */

static void ctl_status_bars(struct control_buf *out, const struct pci_dev *pci)
{
    control_json_begin_array(out, "bars");
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &pci->bars[i];

        if (b->type == PCI_BAR_NONE)
            continue;
        control_json_begin_object(out, NULL);
        control_json_uint(out, "bar", i);
        control_json_string(out, "type", pci_bar_type_name(b->type));
        control_json_bool(out, "prefetchable", b->prefetchable);
        if (b->mapped == PCI_BAR_UNMAPPED)
            control_json_null(out, "address");
        else
            control_json_uint(out, "address", b->mapped);
        control_json_uint(out, "size", b->size);
        control_json_end_object(out);
    }
    control_json_end_array(out);
}

/* One PCI function's BARs and interrupt routes (ioreqctl(1), "status"). */
static void ctl_status_fn(struct control_buf *out, const struct pci_dev *pci)
{
    static const char *const pins[] = {"INTA#", "INTB#", "INTC#", "INTD#"};
    struct pci_irq_info in;
    char text[32];

    pci_dev_irq_info(pci, &in);
    control_json_begin_object(out, NULL);
    fn_bdf(pci, text, sizeof(text));
    control_json_string(out, "bdf", text);
    snprintf(text, sizeof(text), "%04x:%04x", pci_cfg_get16(pci, PCI_VENDOR_ID),
             pci_cfg_get16(pci, PCI_DEVICE_ID));
    control_json_string(out, "id", text);
    ctl_status_bars(out, pci);

    control_json_begin_object(out, "intx");
    control_json_string(out, "pin", in.intx_pin ? pins[in.intx_pin - 1] : NULL);
    control_json_uint(out, "line", in.intx_line);
    control_json_bool(out, "level", in.intx_level);
    control_json_bool(out, "asserted", in.intx_asserted);
    control_json_bool(out, "disabled", in.intx_disabled);
    control_json_end_object(out);

    if (in.has_msi) {
        control_json_begin_object(out, "msi");
        control_json_bool(out, "enabled", in.msi_enabled);
        control_json_uint(out, "address", in.msi_addr);
        control_json_uint(out, "data", in.msi_data);
        control_json_uint(out, "vectors", in.msi_vectors);
        control_json_uint(out, "max_vectors", in.msi_max_vectors);
        control_json_uint(out, "mask", in.msi_mask);
        control_json_uint(out, "pending", in.msi_pending);
        control_json_end_object(out);
    } else {
        control_json_null(out, "msi");
    }

    if (in.has_msix) {
        control_json_begin_object(out, "msix");
        control_json_bool(out, "enabled", in.msix_enabled);
        control_json_bool(out, "function_mask", in.msix_function_mask);
        control_json_uint(out, "table_size", in.msix_table_size);
        control_json_uint(out, "table_bar", in.msix_table_bar);
        control_json_uint(out, "table_offset", in.msix_table_offset);
        control_json_uint(out, "pba_bar", in.msix_pba_bar);
        control_json_uint(out, "pba_offset", in.msix_pba_offset);
        /* The vectors in use: programmed or unmasked; a fresh table has none. */
        control_json_begin_array(out, "vectors");
        for (unsigned v = 0; v < in.msix_table_size; v++) {
            struct pci_msix_vector_info e;

            if (pci_msix_vector_info(pci, v, &e) || (e.masked && !e.addr && !e.data))
                continue;
            control_json_begin_object(out, NULL);
            control_json_uint(out, "vector", v);
            control_json_uint(out, "address", e.addr);
            control_json_uint(out, "data", e.data);
            control_json_bool(out, "masked", e.masked);
            control_json_bool(out, "pending", e.pending);
            control_json_end_object(out);
        }
        control_json_end_array(out);
        control_json_end_object(out);
    } else {
        control_json_null(out, "msix");
    }
    control_json_end_object(out);
}

static int ctl_status(void *opaque, struct control_buf *out)
{
    struct ioreqd *d = opaque;

    control_json_uint(out, "domid", d->domid);
    control_json_uint(out, "pid", (uint64_t)getpid());
    control_json_string(out, "version", IOREQD_VERSION);
    control_json_uint(out, "vcpus", ioreq_server_nr_vcpus(d->srv));
    control_json_uint(out, "server_id", ioreq_server_id(d->srv));
    control_json_begin_array(out, "devices");
    for (unsigned i = 0; i < d->nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];
        char desc[512] = "";

        if (dev->type->describe)
            dev->type->describe(dev->dev, desc, sizeof(desc));
        control_json_begin_object(out, NULL);
        control_json_uint(out, "index", i);
        control_json_string(out, "type", dev->type->name);
        control_json_string(out, "description", desc);
        if (dev->nr_fns) {
            control_json_begin_array(out, "pci");
            for (unsigned f = 0; f < dev->nr_fns; f++)
                ctl_status_fn(out, dev->fns[f].pci);
            control_json_end_array(out);
        }
        control_json_end_object(out);
    }
    control_json_end_array(out);
    return 0;
}

static void ctl_stats_counter(void *opaque, const char *name, uint64_t value)
{
    control_json_uint(opaque, name, value);
}

static int ctl_stats(void *opaque, struct control_buf *out)
{
    struct ioreqd *d = opaque;
    unsigned nr = ioreq_server_nr_vcpus(d->srv);
    struct ioreq_vcpu_stats *per_vcpu = calloc(nr ? nr : 1, sizeof(*per_vcpu));
    const struct device_counter_sink sink = {.counter = ctl_stats_counter, .opaque = out};
    struct ioreq_stats st;
    bool any = false;

    if (!per_vcpu)
        return -ENOMEM;
    ioreq_server_get_stats(d->srv, &st, per_vcpu, nr);
    control_json_ioreq_stats(out, &st, per_vcpu, nr < st.nr_vcpus ? nr : st.nr_vcpus);
    free(per_vcpu);
    control_json_faults(out, d->pci ? pci_bus_faults(d->pci) : NULL);
    /* Every device: what was dispatched to it, and its own counters if it keeps any. */
    for (unsigned i = 0; i < d->nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];

        if (!dev->dev)
            continue;
        if (!any)
            control_json_begin_array(out, "devices");
        any = true;
        control_json_begin_object(out, NULL);
        control_json_uint(out, "index", i);
        control_json_string(out, "type", dev->type->name);
        control_json_begin_object(out, "requests");
        control_json_uint(out, "reads", dev->io.reads);
        control_json_uint(out, "writes", dev->io.writes);
        control_json_uint(out, "config_reads", dev->cfg.reads);
        control_json_uint(out, "config_writes", dev->cfg.writes);
        control_json_end_object(out);
        if (dev->type->counters) {
            control_json_begin_object(out, "counters");
            dev->type->counters(dev->dev, &sink);
            control_json_end_object(out);
        }
        control_json_end_object(out);
    }
    if (any)
        control_json_end_array(out);
    return 0;
}

static int ctl_stop(void *opaque)
{
    struct ioreqd *d = opaque;

    log_info("stop requested on the control socket, shutting down");
    ioreqd_finish(d, IOREQD_EXIT_OK);
    return 0;
}

static const struct control_ops ctl_ops = {
    .status = ctl_status,
    .stats = ctl_stats,
    .stop = ctl_stop,
};

static int start_signals(struct ioreqd *d)
{
    for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++) {
        d->sig_ev[i] = evsignal_new(d->base, stop_signals[i], on_signal, d);
        if (!d->sig_ev[i] || evsignal_add(d->sig_ev[i], NULL) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int create_device(struct ioreqd *d, struct ioreqd_device *dev)
{
    struct device_env env = {
        .domid = (uint16_t)d->domid,
        .io = d->io,
        .gmem = ioreq_server_gmem(d->srv),
        .pci = d->pci,
        .platform = ioreq_server_platform(d->srv),
        .base = d->base,
        .publish = device_publish,
        .publish_opaque = dev,
    };
    char errbuf[256] = "";
    const char *unused;
    int rc;

    /* What it maps now (its ports, say) counts as its own. */
    io_registry_set_owner(d->io, &dev->io);
    rc = dev->type->create(&env, &dev->spec, &dev->dev, errbuf, sizeof(errbuf));
    io_registry_set_owner(d->io, NULL);
    if (rc) {
        dev->dev = NULL;
        log_error("%s: cannot create %s device: %s", dev->origin, dev->type->name,
                  errbuf[0] ? errbuf : strerror(-rc));
        /* Bad options and clashes (a taken slot or port) are the spec's fault. */
        return rc == -EINVAL || rc == -EEXIST || rc == -ERANGE ? IOREQD_EXIT_USAGE
                                                               : IOREQD_EXIT_FAILURE;
    }
    unused = device_spec_unused(&dev->spec);
    if (unused) {
        log_error("%s: %s device has no option '%s'", dev->origin, dev->type->name, unused);
        return IOREQD_EXIT_USAGE;
    }
    /* The PCI functions that appeared are this device's. */
    for (unsigned devfn = 0; devfn < ARRAY_SIZE(d->by_devfn); devfn++) {
        struct pci_dev *pci = pci_bus_find(d->pci, devfn);
        struct ioreqd_fn *fn;

        if (!pci || d->by_devfn[devfn] || dev->nr_fns == IOREQD_DEV_FNS)
            continue;
        d->by_devfn[devfn] = dev;
        fn = &dev->fns[dev->nr_fns++];
        fn->pci = pci;
        for (unsigned b = 0; b < PCI_NUM_SLOTS; b++)
            fn->placed[b] = pci->bars[b].mapped;
    }
    return 0;
}

/* ---- PCI config cycles: counted per device, BAR moves noticed ---- */

/* The BARs of dev as "bar0=io:0xc000+0x100 ..." ("00:03.0 bar0=..." per function if several). */
static void device_bars(const struct ioreqd_device *dev, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (unsigned f = 0; f < dev->nr_fns && off < len; f++) {
        char id[32], bars[320];
        int n;

        pci_dev_bars_describe(dev->fns[f].pci, bars, sizeof(bars));
        if (!bars[0])
            continue;
        fn_bdf(dev->fns[f].pci, id, sizeof(id));
        n = snprintf(buf + off, len - off, "%s%s%s%s", off ? " " : "", dev->nr_fns > 1 ? id : "",
                     dev->nr_fns > 1 ? " " : "", bars);
        off = n < 0 ? len : off + (size_t)n;
    }
}

static int write_bars(struct ioreqd *d, struct ioreqd_device *dev)
{
    char path[192], bars[1024];

    device_bars(dev, bars, sizeof(bars));
    if (!bars[0])
        return 0;
    snprintf(path, sizeof(path), "%s/bars", dev->dir);
    return dmxs_write(d->xs, path, bars);
}

static void on_bars_moved(evutil_socket_t fd, short what, void *opaque)
{
    struct ioreqd *d = opaque;

    for (unsigned i = 0; i < d->nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];
        int rc;

        if (!dev->bars_dirty)
            continue;
        dev->bars_dirty = false;
        /* Deprivileged since: xenstore is closed, and the key was never written. */
        if (!d->xs || !d->publish_bars)
            continue;
        rc = write_bars(d, dev);
        if (rc)
            log_limited(LOG_LVL_WARN, "device %u: cannot update its BARs in xenstore: %s", i,
                        strerror(-rc));
    }
}

/* After a config write: remember BARs that moved, and tell xenstore soon. */
static void note_bar_moves(struct ioreqd *d)
{
    static const struct timeval delay = {.tv_usec = IOREQD_BARS_DELAY_MS * 1000};
    bool moved = false;

    /* Every function: freeing space may let another device's overlapping BAR map. */
    for (unsigned i = 0; i < d->nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];

        for (unsigned f = 0; f < dev->nr_fns; f++) {
            struct ioreqd_fn *fn = &dev->fns[f];

            for (unsigned b = 0; b < PCI_NUM_SLOTS; b++) {
                if (fn->placed[b] == fn->pci->bars[b].mapped)
                    continue;
                fn->placed[b] = fn->pci->bars[b].mapped;
                dev->bars_dirty = true;
                moved = true;
            }
        }
    }
    if (moved && d->publish_bars && d->xs && !evtimer_pending(d->bars_ev, NULL))
        evtimer_add(d->bars_ev, &delay);
}

static uint32_t on_cfg_read(void *opaque, uint32_t sbdf, unsigned reg, unsigned size)
{
    struct ioreqd *d = opaque;

    if (sbdf < ARRAY_SIZE(d->by_devfn) && d->by_devfn[sbdf])
        d->by_devfn[sbdf]->cfg.reads++;
    return pci_bus_cfg_read(d->pci, sbdf, reg, size);
}

static void on_cfg_write(void *opaque, uint32_t sbdf, unsigned reg, unsigned size, uint32_t value)
{
    struct ioreqd *d = opaque;
    struct ioreqd_device *dev = sbdf < ARRAY_SIZE(d->by_devfn) ? d->by_devfn[sbdf] : NULL;

    if (!dev) {
        pci_bus_cfg_write(d->pci, sbdf, reg, size, value);
        return;
    }
    dev->cfg.writes++;
    /*
     * BARs this write maps count as the device's. (A BAR of another device
     * that only now stops overlapping would count here too: firmware does
     * not place BARs that overlap.)
     */
    io_registry_set_owner(d->io, &dev->io);
    pci_bus_cfg_write(d->pci, sbdf, reg, size, value);
    io_registry_set_owner(d->io, NULL);
    note_bar_moves(d);
}

/* What stays true of dev: its own identity line, or its PCI functions'. */
static void device_identity(const struct ioreqd_device *dev, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    if (dev->type->identity) {
        dev->type->identity(dev->dev, buf, len);
        return;
    }
    for (unsigned f = 0; f < dev->nr_fns && off < len; f++) {
        char id[32];
        int n;

        pci_dev_identity(dev->fns[f].pci, id, sizeof(id));
        n = snprintf(buf + off, len - off, "%s%s", off ? " " : "", id);
        off = n < 0 ? len : off + (size_t)n;
    }
}

/* Process pid runs and is an ioreqd (not another program that got its pid). */
static bool ioreqd_runs(long pid)
{
    char path[64], comm[32] = "";
    FILE *f;

    if (pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    f = fopen(path, "re");
    if (!f)
        return true; /* it runs; what it is we cannot tell: assume the worst */
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "ioreqd", 6) == 0;
}

/*
 * Servers belong to the domain, not to the process: one whose ioreqd
 * crashed stays, enabled, with its ranges, and the vCPU that waited on it
 * waits for good. Its id and pid are recorded in xenstore as soon as the
 * server exists (record_server), so a successor (systemd restarts ioreqd
 * after a crash) destroys it first, answering what it left in the slots:
 * the guest's accesses then reach the new server, and the domain's eight
 * server ids do not run out. A predecessor whose process still runs is
 * left alone.
 */
static void retire_predecessor(struct ioreqd *d)
{
    const char *dm = dmxs_dm_dir(d->xs);
    char path[512], *id_text, *pid_text, *end;
    unsigned long id;
    long pid = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/ioreqd/server-id", dm);
    id_text = dmxs_read(d->xs, path);
    if (!id_text)
        return;
    snprintf(path, sizeof(path), "%s/ioreqd/pid", dm);
    pid_text = dmxs_read(d->xs, path);
    if (pid_text)
        pid = strtol(pid_text, NULL, 10);
    free(pid_text);
    errno = 0;
    id = strtoul(id_text, &end, 10);
    if (errno || end == id_text || *end || id > UINT16_MAX) {
        log_warn("%s/ioreqd/server-id is '%.16s', not a server id: ignored", dm, id_text);
    } else if (ioreqd_runs(pid)) {
        log_warn("ioreqd %ld, which created ioreq server %lu for domain %u, still runs: "
                 "leaving that server alone",
                 pid, id, d->domid);
        free(id_text);
        return;
    } else {
        rc = ioreq_server_retire((uint16_t)d->domid, (uint16_t)id);
        if (!rc)
            log_info("destroyed ioreq server %lu left by a previous ioreqd (pid %ld) for domain "
                     "%u: the guest's accesses reach the new server",
                     id, pid, d->domid);
        else if (rc == -ENOENT)
            log_debug("ioreq server %lu of a previous ioreqd no longer exists", id);
        else
            log_warn("cannot destroy ioreq server %lu left by a previous ioreqd: %s", id,
                     strerror(-rc));
    }
    free(id_text);
    /* What it published is stale: ours replaces it, and goes with us. Beside
     * QEMU its state key was under ioreqd/; the plain one is QEMU's. */
    snprintf(path, sizeof(path), "%s/ioreqd", dm);
    rc = dmxs_remove(d->xs, path);
    if (!rc && !d->beside_qemu) {
        snprintf(path, sizeof(path), "%s/state", dm);
        rc = dmxs_remove(d->xs, path);
    }
    if (rc)
        log_warn("cannot remove what a previous ioreqd left in %s: %s", dm, strerror(-rc));
}

/* Written as soon as the server exists: a successor finds it even if we crash now. */
static int record_server(struct ioreqd *d)
{
    const char *dm = dmxs_dm_dir(d->xs);
    char path[512];
    int rc;

    snprintf(path, sizeof(path), "%s/ioreqd/pid", dm);
    rc = dmxs_writef(d->xs, path, "%ld", (long)getpid());
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/ioreqd/server-id", dm);
    return dmxs_writef(d->xs, path, "%u", (unsigned)ioreq_server_id(d->srv));
}

static int publish_inventory(struct ioreqd *d)
{
    const char *dm = dmxs_dm_dir(d->xs);
    char path[512];
    int rc;

    snprintf(path, sizeof(path), "%s/ioreqd/version", dm);
    rc = dmxs_write(d->xs, path, IOREQD_VERSION);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/ioreqd/vcpus", dm);
    rc = dmxs_writef(d->xs, path, "%u", ioreq_server_nr_vcpus(d->srv));
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/ioreqd/devices", dm);
    rc = dmxs_writef(d->xs, path, "%u", d->nr_devs);
    if (rc)
        return rc;
    for (unsigned i = 0; i < d->nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];
        char id[512] = "";

        device_identity(dev, id, sizeof(id));
        rc = dmxs_writef(d->xs, dev->dir, "%s%s%s", dev->type->name, id[0] ? ": " : "", id);
        if (!rc) {
            snprintf(path, sizeof(path), "%s/type", dev->dir);
            rc = dmxs_write(d->xs, path, dev->type->name);
        }
        if (!rc && d->publish_bars)
            rc = write_bars(d, dev);
        if (rc)
            return rc;
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
static bool leaves_qemu_alone(struct ioreqd *d)
{
    struct beside_qemu_irqs *irqs = calloc(d->nr_devs + 1, sizeof(*irqs));
    const struct beside_qemu_report report = {.say = say_conflict};
    unsigned nr = 0, refused;

    if (!irqs) {
        log_error("out of memory");
        return true;
    }
    for (unsigned i = 0; i < d->nr_devs; i++) {
        const struct ioreqd_device *dev = &d->devs[i];

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

int ioreqd_start(struct ioreqd **out, const struct ioreqd_params *p)
{
    unsigned domid = p->domid, nr_devs = p->nr_devs;
    struct ioreqd_device_config *devs = p->devs;
    struct dmxs_callbacks xs_cb = {.domain_released = on_domain_released};
    struct ioreq_server_params params = {
        .domid = (uint16_t)domid, .on_fatal = on_fatal, .poll_us = p->poll_us};
    const struct timeval liveness_tick = {.tv_sec = IOREQD_LIVENESS_SEC};
    struct ioreq_pci_handler pci_handler;
    struct ioreqd *d = calloc(1, sizeof(*d));
    int code = IOREQD_EXIT_FAILURE;
    int rc;

    if (!d) {
        log_error("out of memory");
        return IOREQD_EXIT_FAILURE;
    }
    d->domid = domid;
    d->exit_code = -1;
    d->publish_bars = p->xenstore_stays;
    d->devs = calloc(nr_devs ? nr_devs : 1, sizeof(*d->devs));
    if (!d->devs)
        goto fail;
    /* Take the specs first, so a failure below frees them in one place. */
    for (unsigned i = 0; i < nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];
        dev->d = d;
        dev->index = i;
        dev->spec = *devs[i].spec;
        memset(devs[i].spec, 0, sizeof(*devs[i].spec));
        dev->origin = strdup(devs[i].origin);
        d->nr_devs++;
        dev->type = device_type_find(dev->spec.type);
        if (!dev->origin) {
            log_error("out of memory");
            goto fail;
        }
        if (!dev->type) {
            log_error("%s: unknown device type '%s'", devs[i].origin, dev->spec.type);
            code = IOREQD_EXIT_USAGE;
            goto fail;
        }
    }

    d->base = event_base_new();
    if (!d->base) {
        log_error("cannot create the event loop");
        goto fail;
    }
    /* Before anything slow: a stop request during start-up is served by the loop. */
    if (start_signals(d) < 0) {
        log_error("cannot install signal handlers");
        goto fail;
    }
    d->bars_ev = evtimer_new(d->base, on_bars_moved, d);
    if (!d->bars_ev) {
        log_error("out of memory");
        goto fail;
    }

    xs_cb.opaque = d;
    rc = dmxs_open(&d->xs, domid, d->base, &xs_cb);
    if (rc)
        goto fail;
    d->beside_qemu = decide_beside_qemu(d->xs, p->beside_qemu);
    rc = guest_domain_open(&d->guest, domid);
    if (rc) {
        log_error("cannot open the hypervisor interface (libxenctrl): %s", strerror(-rc));
        goto fail;
    }
    if (guest_domain_state(d->guest) == GUEST_GONE) {
        log_error("domain %u does not exist", domid);
        goto fail;
    }
    d->liveness_ev = event_new(d->base, -1, EV_PERSIST, on_liveness_tick, d);
    if (!d->liveness_ev || event_add(d->liveness_ev, &liveness_tick) < 0) {
        log_error("cannot start watching domain %u", domid);
        goto fail;
    }

    d->io = io_registry_new();
    if (!d->io) {
        log_error("out of memory");
        goto fail;
    }
    params.registry = d->io;
    params.fatal_opaque = d;
    retire_predecessor(d);
    rc = ioreq_server_create(&d->srv, &params, d->base);
    if (rc) {
        log_error("cannot set up the ioreq server for domain %u: %s", domid, strerror(-rc));
        goto fail;
    }
    rc = record_server(d);
    if (rc) {
        log_error("cannot write to xenstore: %s", strerror(-rc));
        goto fail;
    }

    guest_domain_watch_server(d->guest, ioreq_server_id(d->srv));

    d->pci = pci_bus_new(d->io, ioreq_server_platform(d->srv));
    if (!d->pci) {
        log_error("cannot create the PCI bus");
        goto fail;
    }
    for (unsigned i = 0; i < d->nr_devs; i++) {
        struct ioreqd_device *dev = &d->devs[i];
        snprintf(dev->dir, sizeof(dev->dir), "%s/ioreqd/devices/%u", dmxs_dm_dir(d->xs), i);
        code = create_device(d, dev);
        if (code)
            goto fail;
        log_info("device %u: %s", i, dev->type->name);
    }
    if (d->beside_qemu && leaves_qemu_alone(d)) {
        code = IOREQD_EXIT_USAGE;
        goto fail;
    }
    code = IOREQD_EXIT_FAILURE;
    pci_handler = (struct ioreq_pci_handler){
        .cfg_read = on_cfg_read,
        .cfg_write = on_cfg_write,
        .opaque = d,
    };
    ioreq_server_set_pci_handler(d->srv, &pci_handler);

    if (p->control_socket) {
        rc = control_server_new(&d->ctl, d->base, p->control_socket, &ctl_ops, d);
        if (rc == -EADDRINUSE) {
            log_error("control socket %s is in use: is another ioreqd serving domain %u?",
                      p->control_socket, domid);
            goto fail;
        }
        /* ioreqctl is a convenience; serving the guest is not made to depend on it. */
        if (rc)
            log_warn("no control socket at %s: %s", p->control_socket, strerror(-rc));
    }

    rc = publish_inventory(d);
    if (!rc) {
        rc = dmxs_write(d->xs, dmxs_state_path(d->xs), "running");
    }
    if (rc) {
        log_error("cannot write to xenstore: %s", strerror(-rc));
        goto fail;
    }
    log_info("serving domain %u", domid);
    *out = d;
    return 0;
fail:
    ioreqd_stop(d);
    return code;
}

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
    for (unsigned i = d->nr_devs; i-- > 0;) {
        struct ioreqd_device *dev = &d->devs[i];
        if (dev->dev && dev->type->flush) {
            int rc = dev->type->flush(dev->dev);
            if (rc)
                log_error("device %u (%s): flush failed: %s", i, dev->type->name, strerror(-rc));
        }
    }
    for (unsigned i = d->nr_devs; i-- > 0;) {
        struct ioreqd_device *dev = &d->devs[i];
        if (dev->dev)
            dev->type->destroy(dev->dev);
        device_spec_free(&dev->spec);
        free(dev->origin);
    }
    free(d->devs);
    if (d->pci)
        pci_bus_free(d->pci);
    if (d->srv)
        ioreq_server_destroy(d->srv);
    if (d->io)
        io_registry_free(d->io);
    dmxs_close(d->xs);
    if (d->liveness_ev)
        event_free(d->liveness_ev);
    if (d->bars_ev)
        event_free(d->bars_ev);
    guest_domain_close(d->guest);
    for (size_t i = 0; i < ARRAY_SIZE(d->sig_ev); i++)
        if (d->sig_ev[i])
            event_free(d->sig_ev[i]);
    if (d->base)
        event_base_free(d->base);
    free(d);
}
