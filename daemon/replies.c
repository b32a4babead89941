/*
 * The control socket's status and stats replies (their layout is
 * control-proto.h's): what ioreqd says about itself, its devices and their
 * PCI functions, and its counters.
 */
#include "replies.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "control-proto.h"
#include "dm-faults.h"
#include "server.h"

/* The names of enum ioreq_stat_type are control_stats_type_keys, in enum order. */
_Static_assert(IOREQ_STAT_TYPES == CONTROL_STATS_TYPES, "one name per request type");
_Static_assert(IOREQ_STAT_PIO == 0 && IOREQ_STAT_COPY == 1 && IOREQ_STAT_PCI_CONFIG == 2 &&
                   IOREQ_STAT_TIMEOFFSET == 3 && IOREQ_STAT_INVALIDATE == 4 &&
                   IOREQ_STAT_UNKNOWN == 5,
               "control_stats_type_keys follows enum ioreq_stat_type");

/* An object of unsigned members, names and values side by side. */
static void reply_uints(struct json_buf *b, const char *key, const char *const *names,
                        const uint64_t *values, unsigned n)
{
    json_begin_object(b, key);
    for (unsigned i = 0; i < n; i++)
        json_uint(b, names[i], values[i]);
    json_end_object(b);
}

void reply_ioreq_stats(struct json_buf *b, const struct ioreq_stats *st,
                       const struct ioreq_vcpu_stats *per_vcpu, unsigned nr)
{
    uint64_t total[IOREQ_STAT_TYPES] = {0};

    json_uint(b, "vcpus", st->nr_vcpus);
    reply_uints(b, "requests", control_stats_request_keys,
                (const uint64_t[CONTROL_STATS_REQUESTS]){
                    st->sync_requests,
                    st->buffered_requests,
                    st->malformed,
                    st->unclaimed,
                    st->spurious_notifications,
                },
                CONTROL_STATS_REQUESTS);

    for (unsigned v = 0; v < nr; v++)
        for (unsigned t = 0; t < IOREQ_STAT_TYPES; t++)
            total[t] += per_vcpu[v].by_type[t];
    reply_uints(b, "by_type", control_stats_type_keys, total, CONTROL_STATS_TYPES);

    json_begin_array(b, "per_vcpu");
    for (unsigned v = 0; v < nr; v++) {
        json_begin_object(b, NULL);
        json_uint(b, "vcpu", v);
        json_uint(b, "requests", per_vcpu[v].requests);
        for (unsigned t = 0; t < IOREQ_STAT_TYPES; t++)
            json_uint(b, control_stats_type_keys[t], per_vcpu[v].by_type[t]);
        json_end_object(b);
    }
    json_end_array(b);

    reply_uints(b, "mapcache", control_stats_mapcache_keys,
                (const uint64_t[CONTROL_STATS_MAPCACHE]){
                    st->gmem.hits,
                    st->gmem.misses,
                    st->gmem.evictions,
                    st->gmem.invalidations,
                    st->gmem.faults,
                    st->gmem.mapped_bytes,
                    st->gmem.dirty_reports,
                },
                CONTROL_STATS_MAPCACHE);
    json_int(b, "timeoffset", st->timeoffset);
}

void reply_faults(struct json_buf *b, const struct dm_faults *faults)
{
    json_begin_object(b, "faults");
    for (unsigned c = 0; c < DM_FAULT_COUNT; c++)
        json_uint(b, dm_fault_name((enum dm_fault)c), faults ? faults->count[c] : 0);
    json_end_object(b);
}

/* "00:03.0" */
static void fn_bdf(const struct pci_dev *pci, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x.%x", PCI_SBDF_BUS(pci->sbdf), PCI_SBDF_DEV(pci->sbdf),
             PCI_SBDF_FN(pci->sbdf));
}

static void ctl_status_bars(struct json_buf *out, const struct pci_dev *pci)
{
    json_begin_array(out, "bars");
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &pci->bars[i];

        if (b->type == PCI_BAR_NONE)
            continue;
        json_begin_object(out, NULL);
        json_uint(out, "bar", i);
        json_string(out, "type", pci_bar_type_name(b->type));
        json_bool(out, "prefetchable", b->prefetchable);
        if (b->mapped == PCI_BAR_UNMAPPED)
            json_null(out, "address");
        else
            json_uint(out, "address", b->mapped);
        json_uint(out, "size", b->size);
        json_end_object(out);
    }
    json_end_array(out);
}

/* One PCI function's BARs and interrupt routes (ioreqctl(1), "status"). */
static void ctl_status_fn(struct json_buf *out, const struct pci_dev *pci)
{
    static const char *const pins[] = {"INTA#", "INTB#", "INTC#", "INTD#"};
    struct pci_irq_info in;
    char text[32];

    pci_dev_irq_info(pci, &in);
    json_begin_object(out, NULL);
    fn_bdf(pci, text, sizeof(text));
    json_string(out, "bdf", text);
    snprintf(text, sizeof(text), "%04x:%04x", pci_cfg_get16(pci, PCI_VENDOR_ID),
             pci_cfg_get16(pci, PCI_DEVICE_ID));
    json_string(out, "id", text);
    ctl_status_bars(out, pci);

    json_begin_object(out, "intx");
    json_string(out, "pin", in.intx_pin ? pins[in.intx_pin - 1] : NULL);
    json_uint(out, "line", in.intx_line);
    json_bool(out, "level", in.intx_level);
    json_bool(out, "asserted", in.intx_asserted);
    json_bool(out, "disabled", in.intx_disabled);
    json_end_object(out);

    if (in.has_msi) {
        json_begin_object(out, "msi");
        json_bool(out, "enabled", in.msi_enabled);
        json_uint(out, "address", in.msi_addr);
        json_uint(out, "data", in.msi_data);
        json_uint(out, "vectors", in.msi_vectors);
        json_uint(out, "max_vectors", in.msi_max_vectors);
        json_uint(out, "mask", in.msi_mask);
        json_uint(out, "pending", in.msi_pending);
        json_end_object(out);
    } else {
        json_null(out, "msi");
    }

    if (in.has_msix) {
        json_begin_object(out, "msix");
        json_bool(out, "enabled", in.msix_enabled);
        json_bool(out, "function_mask", in.msix_function_mask);
        json_uint(out, "table_size", in.msix_table_size);
        json_uint(out, "table_bar", in.msix_table_bar);
        json_uint(out, "table_offset", in.msix_table_offset);
        json_uint(out, "pba_bar", in.msix_pba_bar);
        json_uint(out, "pba_offset", in.msix_pba_offset);
        /* The vectors in use: programmed or unmasked; a fresh table has none. */
        json_begin_array(out, "vectors");
        for (unsigned v = 0; v < in.msix_table_size; v++) {
            struct pci_msix_vector_info e;

            if (pci_msix_vector_info(pci, v, &e) || (e.masked && !e.addr && !e.data))
                continue;
            json_begin_object(out, NULL);
            json_uint(out, "vector", v);
            json_uint(out, "address", e.addr);
            json_uint(out, "data", e.data);
            json_bool(out, "masked", e.masked);
            json_bool(out, "pending", e.pending);
            json_end_object(out);
        }
        json_end_array(out);
        json_end_object(out);
    } else {
        json_null(out, "msix");
    }
    json_end_object(out);
}

int reply_status(const struct reply_sources *d, struct json_buf *out)
{
    json_uint(out, "domid", d->domid);
    json_uint(out, "pid", (uint64_t)getpid());
    json_string(out, "version", d->version);
    json_uint(out, "vcpus", ioreq_server_nr_vcpus(d->srv));
    json_uint(out, "server_id", ioreq_server_id(d->srv));
    json_bool(out, "dirty_log", ioreq_server_dirty_log(d->srv));
    json_begin_array(out, "devices");
    for (unsigned i = 0; i < d->devs->nr; i++) {
        const struct dm_device *dev = &d->devs->devs[i];
        char desc[512];

        device_describe(dev->type, dev->dev, desc, sizeof(desc));
        json_begin_object(out, NULL);
        json_uint(out, "index", i);
        json_string(out, "type", dev->type->name);
        json_string(out, "description", desc);
        if (dev->nr_fns) {
            json_begin_array(out, "pci");
            for (unsigned f = 0; f < dev->nr_fns; f++)
                ctl_status_fn(out, dev->fns[f]);
            json_end_array(out);
        }
        json_end_object(out);
    }
    json_end_array(out);
    return 0;
}

/* A device's counters as the "counters" object, opened at the first. */
struct ctl_counters {
    struct json_buf *out;
    bool any;
};

static void ctl_stats_counter(void *opaque, const char *name, uint64_t value)
{
    struct ctl_counters *c = opaque;

    if (!c->any)
        json_begin_object(c->out, "counters");
    c->any = true;
    json_uint(c->out, name, value);
}

int reply_stats(const struct reply_sources *d, struct json_buf *out)
{
    unsigned nr = ioreq_server_nr_vcpus(d->srv);
    struct ioreq_vcpu_stats *per_vcpu = calloc(nr ? nr : 1, sizeof(*per_vcpu));
    struct ioreq_stats st;
    bool any = false;

    if (!per_vcpu)
        return -ENOMEM;
    ioreq_server_get_stats(d->srv, &st, per_vcpu, nr);
    reply_ioreq_stats(out, &st, per_vcpu, nr < st.nr_vcpus ? nr : st.nr_vcpus);
    free(per_vcpu);
    reply_faults(out, d->pci ? pci_bus_faults(d->pci) : NULL);
    /* Every device: what was dispatched to it, and its own counters if it keeps any. */
    for (unsigned i = 0; i < d->devs->nr; i++) {
        const struct dm_device *dev = &d->devs->devs[i];

        if (!dev->dev)
            continue;
        if (!any)
            json_begin_array(out, "devices");
        any = true;
        json_begin_object(out, NULL);
        json_uint(out, "index", i);
        json_string(out, "type", dev->type->name);
        reply_uints(out, "requests", control_device_request_keys,
                    (const uint64_t[CONTROL_DEVICE_REQUESTS]){
                        dev->counters.io.reads,
                        dev->counters.io.writes,
                        dev->counters.cfg.reads,
                        dev->counters.cfg.writes,
                    },
                    CONTROL_DEVICE_REQUESTS);
        if (dev->type->report) {
            struct ctl_counters c = {.out = out};
            const struct report_sink sink = {.counter = ctl_stats_counter, .opaque = &c};

            dev->type->report(dev->dev, &sink);
            if (c.any)
                json_end_object(out);
        }
        json_end_object(out);
    }
    if (any)
        json_end_array(out);
    return 0;
}
