/*
 * ioreqctl stop: asks ioreqd to stop over its control socket and waits
 * until it has left its loop (it closes the connection). Without a control
 * socket it falls back to SIGTERM to the pid ioreqd published in xenstore
 * — only if that pid still runs a program called ioreqd, so a stale pid
 * reused by another process is never signalled — and waits for it to go.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "control-proto.h"
#include "json.h"
#include "ctl-client.h"
#include "ctl-inventory.h"
#include "ctl.h"

enum stop_how { STOP_CONTROL, STOP_SIGTERM };

static int report(const struct ctl_opts *opts, enum stop_how how, long pid)
{
    struct json_buf b;
    int code;

    if (!opts->json) {
        if (how == STOP_CONTROL)
            printf("ioreqd for domain %d stopped\n", opts->domid);
        else
            printf("ioreqd for domain %d (pid %ld) stopped by SIGTERM\n", opts->domid, pid);
        return CTL_EXIT_OK;
    }
    json_buf_init(&b, 4096);
    json_begin_object(&b, NULL);
    json_uint(&b, "domid", (unsigned)opts->domid);
    json_bool(&b, "stopped", true);
    json_string(&b, "via", how == STOP_CONTROL ? "control" : "sigterm");
    if (how == STOP_SIGTERM)
        json_int(&b, "pid", pid);
    json_end_object(&b);
    code = ctl_print_json(&b);
    json_buf_free(&b);
    return code;
}

/* The process's name and state from /proc; false if it does not exist. */
static bool proc_info(long pid, char *comm, size_t len, char *state)
{
    char path[64], buf[512], *open_p, *close_p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ...": comm may hold spaces and parentheses; the last ')' ends it. */
    open_p = strchr(buf, '(');
    close_p = strrchr(buf, ')');
    if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ' || !close_p[2])
        return false;
    *close_p = '\0';
    snprintf(comm, len, "%s", open_p + 1);
    *state = close_p[2];
    return true;
}

static bool proc_gone(long pid)
{
    char comm[64], state;

    /* A zombie has stopped serving; its parent has not collected it yet. */
    return !proc_info(pid, comm, sizeof(comm), &state) || state == 'Z' || state == 'X';
}

static int wait_gone(long pid, int timeout_ms)
{
    struct timespec tick = {.tv_nsec = 20 * 1000 * 1000};

    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (proc_gone(pid))
            return 0;
        nanosleep(&tick, NULL);
    }
    return proc_gone(pid) ? 0 : -ETIMEDOUT;
}

static int stop_by_signal(struct ctl_opts *opts, const char *why)
{
    struct xs_handle *xs = NULL;
    struct ctl_inventory inv = {0};
    char comm[64], state, *end;
    long pid = 0;
    int code = CTL_EXIT_FAILURE;
    int rc;

    rc = ctl_xs_open(&xs);
    if (!rc)
        rc = ctl_inventory_read(xs, (unsigned)opts->domid, &inv);
    if (rc || !inv.pid) {
        ctl_err("cannot stop domain %d: control socket %s: %s; and no ioreqd pid in xenstore%s%s",
                opts->domid, ctl_socket_path(opts), why, rc ? ": " : "", rc ? strerror(-rc) : "");
        goto out;
    }
    errno = 0;
    pid = strtol(inv.pid, &end, 10);
    if (errno || *end || end == inv.pid || pid <= 1) {
        ctl_err("cannot stop domain %d: invalid pid in xenstore", opts->domid);
        goto out;
    }
    if (!proc_info(pid, comm, sizeof(comm), &state) || state == 'Z') {
        ctl_err("cannot stop domain %d: pid %ld from xenstore is not running", opts->domid, pid);
        goto out;
    }
    if (strcmp(comm, "ioreqd")) {
        ctl_err("cannot stop domain %d: pid %ld from xenstore is not ioreqd", opts->domid, pid);
        goto out;
    }
    if (kill((pid_t)pid, SIGTERM) < 0) {
        ctl_err("cannot send SIGTERM to pid %ld: %s", pid, strerror(errno));
        goto out;
    }
    rc = wait_gone(pid, opts->timeout_ms);
    if (rc) {
        ctl_err("ioreqd (pid %ld) did not exit within %d s of SIGTERM", pid,
                opts->timeout_ms / 1000);
        goto out;
    }
    code = report(opts, STOP_SIGTERM, pid);
out:
    ctl_inventory_free(&inv);
    if (xs)
        xs_close(xs);
    return code;
}

int ctl_cmd_stop(struct ctl_opts *opts)
{
    const char *sock = ctl_socket_path(opts);
    struct json_value *reply = NULL;
    const struct json_value *ok;
    struct ctl_client c;
    char err[256];
    int rc;

    rc = ctl_client_connect(&c, sock, opts->timeout_ms);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        ctl_client_close(&c);
        return stop_by_signal(opts, strerror(-rc));
    }
    if (!rc)
        rc = ctl_client_request(&c, "stop", &reply);
    if (!rc) {
        ok = json_get(reply, "ok");
        if (!ok || ok->type != JSON_BOOL)
            rc = -EPROTO;
        else if (!ok->boolean)
            rc = -EREMOTEIO;
    }
    if (rc) {
        ctl_ask_error(rc, reply, err, sizeof(err));
        ctl_err("cannot stop domain %d through %s: %s", opts->domid, sock, err);
        goto fail;
    }
    rc = ctl_client_wait_closed(&c);
    if (rc) {
        ctl_err("ioreqd for domain %d accepted stop but %s", opts->domid,
                rc == -ETIMEDOUT ? "is still running" : strerror(-rc));
        goto fail;
    }
    json_free(reply);
    ctl_client_close(&c);
    return report(opts, STOP_CONTROL, 0);
fail:
    json_free(reply);
    ctl_client_close(&c);
    return CTL_EXIT_FAILURE;
}
