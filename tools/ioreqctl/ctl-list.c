/*
 * ioreqctl list: every device model xenstore knows of, with its state and,
 * for ioreqd, the pid and version from its inventory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "control-proto.h"
#include "json.h"
#include "ctl-inventory.h"
#include "ctl-output.h"
#include "ctl.h"

int ctl_cmd_list(struct ctl_opts *opts)
{
    struct xs_handle *xs = NULL;
    struct json_buf b;
    struct ctl_rows rows;
    unsigned *domids = NULL, nr = 0;
    int code = CTL_EXIT_FAILURE;
    int rc;

    json_buf_init(&b, CONTROL_REPLY_MAX);
    ctl_rows_init(&rows, 4);
    rc = ctl_xs_open(&xs);
    if (rc) {
        ctl_err("cannot connect to xenstore: %s", strerror(-rc));
        goto out;
    }
    rc = ctl_inventory_domids(xs, &domids, &nr);
    if (rc) {
        ctl_err("cannot read %s: %s", CTL_DM_DIR, strerror(-rc));
        goto out;
    }
    json_begin_object(&b, NULL);
    json_begin_array(&b, "device_models");
    ctl_rows_add(&rows, "DOMID", "STATE", "PID", "VERSION");
    for (unsigned i = 0; i < nr; i++) {
        struct ctl_inventory inv;
        char domid[16];

        rc = ctl_inventory_read(xs, domids[i], &inv);
        if (rc == -ENOENT)
            continue; /* gone since the directory was listed */
        if (rc) {
            ctl_err("cannot read the device model of domain %u: %s", domids[i], strerror(-rc));
            goto out;
        }
        snprintf(domid, sizeof(domid), "%u", domids[i]);
        ctl_rows_add(&rows, domid, inv.state, inv.pid, inv.version);
        json_begin_object(&b, NULL);
        json_uint(&b, "domid", domids[i]);
        json_string(&b, "state", inv.state);
        if (inv.has_ioreqd) {
            json_begin_object(&b, "ioreqd");
            ctl_json_xs_value(&b, "pid", inv.pid);
            json_string(&b, "version", inv.version);
            json_end_object(&b);
        } else {
            json_null(&b, "ioreqd");
        }
        json_end_object(&b);
        ctl_inventory_free(&inv);
    }
    json_end_array(&b);
    json_end_object(&b);
    if (opts->json) {
        code = ctl_print_json(&b);
    } else if (ctl_rows_print(&rows, stdout, "")) {
        ctl_err("out of memory");
    } else {
        code = CTL_EXIT_OK;
    }
out:
    ctl_rows_free(&rows);
    json_buf_free(&b);
    free(domids);
    if (xs)
        xs_close(xs);
    return code;
}
