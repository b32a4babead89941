/*
 * ioreqctl dirty-log: switches ioreqd's reporting of writes into guest RAM
 * to Xen's dirty log on or off ("dirty-log on|off" on the control socket),
 * or asks whether it is on. A toolstack running a live migration turns it
 * on after enabling log-dirty mode and off at the end, as libxl does with
 * QEMU's xen-set-global-dirty-log.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "ctl.h"

int ctl_cmd_dirty_log(struct ctl_opts *opts)
{
    struct json_value *reply = NULL;
    const struct json_value *on;
    char cmd[32], why[256];
    struct json_buf b;
    int rc, code;

    if (opts->arg && strcmp(opts->arg, "on") && strcmp(opts->arg, "off")) {
        ctl_err("dirty-log takes on or off, not '%s'", opts->arg);
        return CTL_EXIT_USAGE;
    }
    snprintf(cmd, sizeof(cmd), "dirty-log%s%s", opts->arg ? " " : "", opts->arg ? opts->arg : "");
    rc = ctl_ask(opts, cmd, &reply);
    if (rc) {
        ctl_ask_error(rc, reply, why, sizeof(why));
        ctl_err("domain %d: %s", opts->domid, why);
        json_free(reply);
        return CTL_EXIT_FAILURE;
    }
    on = json_get(reply, "dirty_log");
    if (!on || on->type != JSON_BOOL) {
        ctl_err("domain %d: malformed reply", opts->domid);
        json_free(reply);
        return CTL_EXIT_FAILURE;
    }
    if (!opts->json) {
        printf("dirty log of ioreqd for domain %d: %s\n", opts->domid, on->boolean ? "on" : "off");
        json_free(reply);
        return CTL_EXIT_OK;
    }
    json_buf_init(&b, 256);
    json_begin_object(&b, NULL);
    json_uint(&b, "domid", (unsigned)opts->domid);
    json_bool(&b, "dirty_log", on->boolean);
    json_end_object(&b);
    code = ctl_print_json(&b);
    json_buf_free(&b);
    json_free(reply);
    return code;
}
