/*
 * ioreqctl stats: the daemon's counters from its control socket ("stats",
 * members listed in daemon/control.h), as tables or passed through as
 * JSON. Members this version does not know are shown under "other".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "ctl-json.h"
#include "ctl-output.h"
#include "ctl.h"

static const char *const type_keys[] = {"pio",        "copy",       "pci_config",
                                        "timeoffset", "invalidate", "unknown"};

static void text_of(const struct ctl_json *obj, const char *key, char *buf, size_t len)
{
    ctl_json_text(ctl_json_get(obj, key), buf, len);
}

/* key/value rows for the listed members of obj, under their display names. */
static void add_members(struct ctl_rows *t, const struct ctl_json *obj, const char *const *keys,
                        const char *const *names, unsigned n)
{
    char val[64];

    for (unsigned i = 0; i < n; i++) {
        text_of(obj, keys[i], val, sizeof(val));
        ctl_rows_add(t, names[i], val);
    }
}

static void add_vcpu_row(struct ctl_rows *t, const char *label, const struct ctl_json *o,
                         const char *requests)
{
    char c[ARRAY_SIZE(type_keys)][32], req[32];

    if (requests) {
        size_t len = strnlen(requests, sizeof(req) - 1);
        memcpy(req, requests, len);
        req[len] = '\0';
    } else
        text_of(o, "requests", req, sizeof(req));
    for (size_t i = 0; i < ARRAY_SIZE(type_keys); i++)
        text_of(o, type_keys[i], c[i], sizeof(c[i]));
    ctl_rows_add(t, label, req, c[0], c[1], c[2], c[3], c[4], c[5]);
}

static int print_human(const struct ctl_json *st)
{
    static const char *const req_keys[] = {"sync", "buffered", "malformed", "unclaimed",
                                           "spurious_notifications"};
    static const char *const req_names[] = {"sync", "buffered", "malformed", "unclaimed",
                                            "spurious notifications"};
    static const char *const mc_keys[] = {"hits",   "misses",       "evictions",    "invalidations",
                                          "faults", "mapped_bytes", "dirty_reports"};
    static const char *const mc_names[] = {
        "hits",   "misses",       "evictions",        "invalidations",
        "faults", "mapped bytes", "dirty-log reports"};
    static const char *const known[] = {"ok",       "vcpus",      "requests", "by_type", "per_vcpu",
                                        "mapcache", "timeoffset", "faults",   "devices", NULL};
    const struct ctl_json *per_vcpu = ctl_json_get(st, "per_vcpu");
    const struct ctl_json *devices = ctl_json_get(st, "devices");
    const struct ctl_json *faults = ctl_json_get(st, "faults");
    struct ctl_rows head, req, vc, mc, flt, dreq, dev, other;
    uint64_t total = 0, n;
    bool total_ok = true;
    char buf[64];
    int rc;

    ctl_rows_init(&head, 2);
    ctl_rows_init(&req, 2);
    ctl_rows_init(&vc, 8);
    ctl_rows_init(&mc, 2);
    ctl_rows_init(&flt, 2);
    ctl_rows_init(&dreq, 6);
    ctl_rows_init(&dev, 4);
    ctl_rows_init(&other, 2);

    text_of(st, "vcpus", buf, sizeof(buf));
    ctl_rows_add(&head, "vcpus", buf);
    text_of(st, "timeoffset", buf, sizeof(buf));
    ctl_rows_add(&head, "timeoffset", buf);
    add_members(&req, ctl_json_get(st, "requests"), req_keys, req_names, ARRAY_SIZE(req_keys));
    ctl_rows_add(&vc, "VCPU", "REQUESTS", "PIO", "COPY", "PCI_CONFIG", "TIMEOFFSET", "INVALIDATE",
                 "UNKNOWN");
    for (const struct ctl_json *v = per_vcpu && per_vcpu->type == CTL_JSON_ARRAY ? per_vcpu->child
                                                                                 : NULL;
         v; v = v->next) {
        text_of(v, "vcpu", buf, sizeof(buf));
        add_vcpu_row(&vc, buf, v, NULL);
        if (ctl_json_uint(ctl_json_get(v, "requests"), &n))
            total += n;
        else
            total_ok = false;
    }
    snprintf(buf, sizeof(buf), "%" PRIu64, total);
    add_vcpu_row(&vc, "all", ctl_json_get(st, "by_type"), total_ok ? buf : "-");
    add_members(&mc, ctl_json_get(st, "mapcache"), mc_keys, mc_names, ARRAY_SIZE(mc_keys));
    /* Every cause the daemon counts, under its own name: a newer daemon's too. */
    for (const struct ctl_json *c = faults && faults->type == CTL_JSON_OBJECT ? faults->child
                                                                              : NULL;
         c; c = c->next) {
        ctl_json_text(c, buf, sizeof(buf));
        ctl_rows_add(&flt, c->key, buf);
    }

    ctl_rows_add(&dreq, "DEVICE", "TYPE", "READS", "WRITES", "CONFIG_READS", "CONFIG_WRITES");
    ctl_rows_add(&dev, "DEVICE", "TYPE", "COUNTER", "VALUE");
    for (const struct ctl_json *d = devices && devices->type == CTL_JSON_ARRAY ? devices->child
                                                                               : NULL;
         d; d = d->next) {
        const struct ctl_json *counters = ctl_json_get(d, "counters");
        const struct ctl_json *dr = ctl_json_get(d, "requests");
        char idx[32], type[64], val[64], r[4][32];

        text_of(d, "index", idx, sizeof(idx));
        text_of(d, "type", type, sizeof(type));
        if (dr) {
            text_of(dr, "reads", r[0], sizeof(r[0]));
            text_of(dr, "writes", r[1], sizeof(r[1]));
            text_of(dr, "config_reads", r[2], sizeof(r[2]));
            text_of(dr, "config_writes", r[3], sizeof(r[3]));
            ctl_rows_add(&dreq, idx, type, r[0], r[1], r[2], r[3]);
        }
        if (!counters)
            continue;
        if (counters->type != CTL_JSON_OBJECT || !counters->child) {
            ctl_rows_add(&dev, idx, type, "-", "-");
            continue;
        }
        for (const struct ctl_json *c = counters->child; c; c = c->next) {
            ctl_json_text(c, val, sizeof(val));
            ctl_rows_add(&dev, idx, type, c->key, val);
        }
    }
    ctl_rows_flatten(&other, NULL, st, known);

    rc = ctl_rows_print(&head, stdout, "");
    if (!rc) {
        printf("requests:\n");
        rc = ctl_rows_print(&req, stdout, "  ");
    }
    if (!rc) {
        printf("per vCPU:\n");
        rc = ctl_rows_print(&vc, stdout, "  ");
    }
    if (!rc) {
        printf("map cache:\n");
        rc = ctl_rows_print(&mc, stdout, "  ");
    }
    if (!rc && flt.nr) {
        printf("device faults:\n");
        rc = ctl_rows_print(&flt, stdout, "  ");
    }
    if (!rc && dreq.nr > 1) {
        printf("requests per device:\n");
        rc = ctl_rows_print(&dreq, stdout, "  ");
    }
    if (!rc && dev.nr > 1) {
        printf("devices:\n");
        rc = ctl_rows_print(&dev, stdout, "  ");
    }
    if (!rc && other.nr) {
        printf("other:\n");
        rc = ctl_rows_print(&other, stdout, "  ");
    }
    ctl_rows_free(&head);
    ctl_rows_free(&req);
    ctl_rows_free(&vc);
    ctl_rows_free(&mc);
    ctl_rows_free(&flt);
    ctl_rows_free(&dreq);
    ctl_rows_free(&dev);
    ctl_rows_free(&other);
    if (rc)
        ctl_err("out of memory");
    return rc ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

int ctl_cmd_stats(struct ctl_opts *opts)
{
    struct ctl_json *st = NULL;
    struct control_buf b;
    char err[256];
    int code;
    int rc;

    rc = ctl_ask(opts, "stats", &st);
    if (rc) {
        ctl_ask_error(rc, st, err, sizeof(err));
        ctl_err("cannot get stats of domain %d from %s: %s", opts->domid, ctl_socket_path(opts),
                err);
        ctl_json_free(st);
        return CTL_EXIT_FAILURE;
    }
    if (!opts->json) {
        code = print_human(st);
        ctl_json_free(st);
        return code;
    }
    control_buf_init(&b, CONTROL_REPLY_MAX + 4096);
    control_json_begin_object(&b, NULL);
    if (!ctl_json_get(st, "domid"))
        control_json_uint(&b, "domid", (unsigned)opts->domid);
    for (const struct ctl_json *m = st->child; m; m = m->next)
        if (strcmp(m->key, "ok"))
            ctl_json_emit(&b, m->key, m);
    control_json_end_object(&b);
    code = ctl_print_json(&b);
    control_buf_free(&b);
    ctl_json_free(st);
    return code;
}
