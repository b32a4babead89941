/*
 * ioreqctl status: the device model's state and ioreqd inventory from
 * xenstore, plus the daemon's own "status" reply when its control socket
 * answers. Either source alone is enough; neither is a failure. The live
 * devices are shown one line each, with a line of interrupt routes per PCI
 * function; --json passes every detail through.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "control-proto.h"
#include "json.h"
#include "ctl-inventory.h"
#include "ctl-output.h"
#include "ctl.h"

static void emit_inventory(struct json_buf *b, const struct ctl_inventory *inv)
{
    json_begin_object(b, "ioreqd");
    ctl_json_xs_value(b, "pid", inv->pid);
    json_string(b, "version", inv->version);
    ctl_json_xs_value(b, "server_id", inv->server_id);
    ctl_json_xs_value(b, "vcpus", inv->vcpus);
    json_begin_array(b, "devices");
    for (unsigned i = 0; i < inv->nr_devs; i++) {
        const struct ctl_inv_device *dev = &inv->devs[i];

        json_begin_object(b, NULL);
        json_uint(b, "index", dev->index);
        json_string(b, "type", dev->type);
        json_string(b, "description", dev->value);
        json_begin_object(b, "keys");
        for (unsigned k = 0; k < dev->nr_keys; k++)
            json_string(b, dev->keys[k].name, dev->keys[k].value);
        json_end_object(b);
        json_end_object(b);
    }
    json_end_array(b);
    json_end_object(b);
}

/* The bool at key of obj (false when absent or not a bool). */
static bool flag(const struct json_value *obj, const char *key)
{
    const struct json_value *v = json_get(obj, key);

    return v && v->type == JSON_BOOL && v->boolean;
}

static uint64_t number(const struct json_value *obj, const char *key)
{
    uint64_t n = 0;

    return json_get_uint(json_get(obj, key), &n) ? n : 0;
}

/*
 * One line for a PCI function of the live status: its interrupt routes in
 * brief, "00:02.0  INTA# line 11 low; MSI-X on: table 3, 3 in use, 0 masked".
 * --json has every detail.
 */
static void pci_summary(const struct json_value *fn, char *buf, size_t len)
{
    const struct json_value *intx = json_get(fn, "intx");
    const struct json_value *msi = json_get(fn, "msi");
    const struct json_value *msix = json_get(fn, "msix");
    const char *pin = json_get_string(json_get(intx, "pin"));
    char bdf[32], part[160];
    size_t off;
    int n;

    json_text(json_get(fn, "bdf"), bdf, sizeof(bdf));
    if (pin)
        n = snprintf(buf, len, "%s  %s line %" PRIu64 " %s%s", bdf, pin, number(intx, "line"),
                     flag(intx, "asserted") ? "high" : "low",
                     flag(intx, "disabled") ? " (disabled)" : "");
    else
        n = snprintf(buf, len, "%s  no INTx", bdf);
    off = n < 0 ? len : (size_t)n;
    if (msi && msi->type == JSON_OBJECT && off < len) {
        if (flag(msi, "enabled"))
            snprintf(part, sizeof(part),
                     "MSI on: %#" PRIx64 "/%#" PRIx64 ", %" PRIu64 " of %" PRIu64
                     " vectors, mask %#" PRIx64,
                     number(msi, "address"), number(msi, "data"), number(msi, "vectors"),
                     number(msi, "max_vectors"), number(msi, "mask"));
        else
            snprintf(part, sizeof(part), "MSI off");
        n = snprintf(buf + off, len - off, "; %s", part);
        off = n < 0 ? len : off + (size_t)n;
    }
    if (msix && msix->type == JSON_OBJECT && off < len) {
        const struct json_value *vecs = json_get(msix, "vectors");
        unsigned used = 0, masked = 0;

        for (const struct json_value *v = vecs && vecs->type == JSON_ARRAY ? vecs->child : NULL; v;
             v = v->next) {
            used++;
            masked += flag(v, "masked");
        }
        snprintf(part, sizeof(part), "MSI-X %s%s: table %" PRIu64 ", %u in use, %u masked",
                 flag(msix, "enabled") ? "on" : "off",
                 flag(msix, "function_mask") ? ", function masked" : "", number(msix, "table_size"),
                 used, masked);
        snprintf(buf + off, len - off, "; %s", part);
    }
}

/* The live devices: "[i]  type: description", and a line per PCI function. */
static void add_live_devices(struct ctl_rows *t, const struct json_value *devs)
{
    for (const struct json_value *d = devs && devs->type == JSON_ARRAY ? devs->child : NULL; d;
         d = d->next) {
        const struct json_value *fns = json_get(d, "pci");
        char num[24], idx[32], type[64], desc[1024], line[1200];

        json_text(json_get(d, "index"), num, sizeof(num));
        snprintf(idx, sizeof(idx), "[%s]", num);
        json_text(json_get(d, "type"), type, sizeof(type));
        json_text(json_get(d, "description"), desc, sizeof(desc));
        snprintf(line, sizeof(line), "%s%s%s", type, desc[0] ? ": " : "", desc);
        ctl_rows_add(t, idx, line);
        for (const struct json_value *f = fns && fns->type == JSON_ARRAY ? fns->child : NULL; f;
             f = f->next) {
            char sum[512];

            pci_summary(f, sum, sizeof(sum));
            snprintf(line, sizeof(line), "  %s", sum);
            ctl_rows_add(t, "", line);
        }
    }
}

static int print_human(const struct ctl_opts *opts, const char *sock,
                       const struct ctl_inventory *inv, bool have_inv,
                       const struct json_value *live, const char *live_err)
{
    static const char *const skip_live[] = {"ok", "devices", NULL};
    struct ctl_rows kv, devs, lv, ldevs;
    char domid[16], control[512], idx[24];
    int rc;

    ctl_rows_init(&kv, 2);
    ctl_rows_init(&devs, 2);
    ctl_rows_init(&lv, 2);
    ctl_rows_init(&ldevs, 2);
    snprintf(domid, sizeof(domid), "%d", opts->domid);
    snprintf(control, sizeof(control), "%s (%s%s)", sock,
             live ? "reachable" : "not reachable: ", live ? "" : live_err);
    ctl_rows_add(&kv, "domid", domid);
    ctl_rows_add(&kv, "state", have_inv ? inv->state : NULL);
    if (have_inv && inv->has_ioreqd) {
        ctl_rows_add(&kv, "pid", inv->pid);
        ctl_rows_add(&kv, "version", inv->version);
        ctl_rows_add(&kv, "server-id", inv->server_id);
        ctl_rows_add(&kv, "vcpus", inv->vcpus);
        ctl_rows_add(&kv, "devices", inv->nr_devices);
    }
    ctl_rows_add(&kv, "control", control);
    for (unsigned i = 0; have_inv && i < inv->nr_devs; i++) {
        const struct ctl_inv_device *dev = &inv->devs[i];

        snprintf(idx, sizeof(idx), "[%lu]", dev->index);
        ctl_rows_add(&devs, idx, dev->value ? dev->value : dev->type);
        for (unsigned k = 0; k < dev->nr_keys; k++) {
            char line[1024];

            snprintf(line, sizeof(line), "  %s = %s", dev->keys[k].name,
                     dev->keys[k].value ? dev->keys[k].value : "");
            ctl_rows_add(&devs, "", line);
        }
    }
    if (live) {
        ctl_rows_flatten(&lv, NULL, live, skip_live);
        add_live_devices(&ldevs, json_get(live, "devices"));
    }

    rc = ctl_rows_print(&kv, stdout, "");
    if (!rc && devs.nr) {
        printf("devices:\n");
        rc = ctl_rows_print(&devs, stdout, "  ");
    }
    if (!rc && live) {
        printf("live status:\n");
        rc = ctl_rows_print(&lv, stdout, "  ");
    }
    if (!rc && ldevs.nr) {
        printf("live devices:\n");
        rc = ctl_rows_print(&ldevs, stdout, "  ");
    }
    ctl_rows_free(&kv);
    ctl_rows_free(&devs);
    ctl_rows_free(&lv);
    ctl_rows_free(&ldevs);
    if (rc)
        ctl_err("out of memory");
    return rc ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

int ctl_cmd_status(struct ctl_opts *opts)
{
    static const char *const skip_ok[] = {"ok", NULL};
    struct xs_handle *xs = NULL;
    struct ctl_inventory inv = {0};
    struct json_value *live = NULL;
    struct json_buf b;
    bool have_inv = false;
    const char *sock = ctl_socket_path(opts);
    char live_err[256];
    int code = CTL_EXIT_FAILURE;
    int rc;

    json_buf_init(&b, CONTROL_REPLY_MAX);
    rc = ctl_xs_open(&xs);
    if (rc) {
        ctl_err("cannot connect to xenstore: %s", strerror(-rc));
    } else {
        rc = ctl_inventory_read(xs, (unsigned)opts->domid, &inv);
        if (rc && rc != -ENOENT)
            ctl_err("cannot read the device model of domain %d: %s", opts->domid, strerror(-rc));
        have_inv = !rc;
    }
    rc = ctl_ask(opts, "status", &live);
    if (rc) {
        ctl_ask_error(rc, live, live_err, sizeof(live_err));
        json_free(live);
        live = NULL;
    }
    if (!have_inv && !live) {
        ctl_err("no device model for domain %d in xenstore, and %s: %s", opts->domid, sock,
                live_err);
        goto out;
    }
    if (!opts->json) {
        code = print_human(opts, sock, &inv, have_inv, live, live_err);
        goto out;
    }
    json_begin_object(&b, NULL);
    json_uint(&b, "domid", (unsigned)opts->domid);
    json_string(&b, "state", have_inv ? inv.state : NULL);
    if (have_inv && inv.has_ioreqd)
        emit_inventory(&b, &inv);
    else
        json_null(&b, "ioreqd");
    json_begin_object(&b, "control");
    json_string(&b, "socket", sock);
    json_bool(&b, "reachable", live != NULL);
    if (live) {
        json_begin_object(&b, "status");
        for (const struct json_value *m = live->child; m; m = m->next)
            if (strcmp(m->key, skip_ok[0]))
                json_emit(&b, m->key, m);
        json_end_object(&b);
    } else {
        json_string(&b, "error", live_err);
    }
    json_end_object(&b);
    json_end_object(&b);
    code = ctl_print_json(&b);
out:
    json_free(live);
    ctl_inventory_free(&inv);
    json_buf_free(&b);
    if (xs)
        xs_close(xs);
    return code;
}
