/*
 * A stand-in for ioreqd's control socket: daemon/control.c with fixed,
 * known answers, so ioreqctl's output can be checked exactly without a
 * running device model.
 *
 *   ctl-test-server --pidfile F [--socket PATH] [--fail-stats]
 *
 * Serves until "stop" or SIGTERM, then frees the server (which removes the
 * socket) and exits 0. The pid file is written once the socket listens.
 * Without --socket it only waits for SIGTERM (a process to stop by pid).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control.h"
#include "dm-faults.h"
#include "server.h"

struct fake {
    struct event_base *base;
    bool fail_stats;
};

static int fake_status(void *opaque, struct control_buf *out)
{
    control_json_uint(out, "domid", 7);
    control_json_int(out, "pid", (int64_t)getpid());
    control_json_string(out, "version", "0.1.0-test");
    control_json_uint(out, "vcpus", 2);
    control_json_uint(out, "server_id", 1);
    control_json_begin_array(out, "devices");
    control_json_begin_object(out, NULL);
    control_json_uint(out, "index", 0);
    control_json_string(out, "type", "uart");
    control_json_string(out, "description", "port=0x3f8 irq=4 backend=null");
    control_json_end_object(out);

    /* A PCI function with INTx, MSI (on) and MSI-X (on, two vectors in use). */
    control_json_begin_object(out, NULL);
    control_json_uint(out, "index", 1);
    control_json_string(out, "type", "virtio-blk");
    control_json_string(out, "description",
                        "00:02.0 1af4:1042 bar1=mem32:0xf0000000+0x1000 file=/d.img queues=2");
    control_json_begin_array(out, "pci");
    control_json_begin_object(out, NULL);
    control_json_string(out, "bdf", "00:02.0");
    control_json_string(out, "id", "1af4:1042");
    control_json_begin_array(out, "bars");
    control_json_begin_object(out, NULL);
    control_json_uint(out, "bar", 1);
    control_json_string(out, "type", "mem32");
    control_json_bool(out, "prefetchable", false);
    control_json_uint(out, "address", 0xf0000000);
    control_json_uint(out, "size", 0x1000);
    control_json_end_object(out);
    control_json_end_array(out);
    control_json_begin_object(out, "intx");
    control_json_string(out, "pin", "INTA#");
    control_json_uint(out, "line", 11);
    control_json_bool(out, "level", true);
    control_json_bool(out, "asserted", false);
    control_json_bool(out, "disabled", true);
    control_json_end_object(out);
    control_json_begin_object(out, "msi");
    control_json_bool(out, "enabled", true);
    control_json_uint(out, "address", 0xfee01000);
    control_json_uint(out, "data", 0x4562);
    control_json_uint(out, "vectors", 2);
    control_json_uint(out, "max_vectors", 4);
    control_json_uint(out, "mask", 2);
    control_json_uint(out, "pending", 0);
    control_json_end_object(out);
    control_json_begin_object(out, "msix");
    control_json_bool(out, "enabled", true);
    control_json_bool(out, "function_mask", false);
    control_json_uint(out, "table_size", 3);
    control_json_begin_array(out, "vectors");
    for (unsigned v = 0; v < 2; v++) {
        control_json_begin_object(out, NULL);
        control_json_uint(out, "vector", v);
        control_json_uint(out, "address", 0xfee00000);
        control_json_uint(out, "data", 0x41 + v);
        control_json_bool(out, "masked", v == 1);
        control_json_bool(out, "pending", false);
        control_json_end_object(out);
    }
    control_json_end_array(out);
    control_json_end_object(out);
    control_json_end_object(out);

    /* A function with no INTx pin, MSI off, no MSI-X. */
    control_json_begin_object(out, NULL);
    control_json_string(out, "bdf", "00:02.1");
    control_json_begin_object(out, "intx");
    control_json_null(out, "pin");
    control_json_uint(out, "line", 0);
    control_json_end_object(out);
    control_json_begin_object(out, "msi");
    control_json_bool(out, "enabled", false);
    control_json_end_object(out);
    control_json_null(out, "msix");
    control_json_end_object(out);
    control_json_end_array(out);
    control_json_end_object(out);
    control_json_end_array(out);
    return 0;
}

static int fake_stats(void *opaque, struct control_buf *out)
{
    struct fake *f = opaque;
    struct ioreq_stats st = {
        .nr_vcpus = 2,
        .sync_requests = 40,
        .buffered_requests = 12,
        .malformed = 3,
        .unclaimed = 5,
        .spurious_notifications = 1,
        .timeoffset = -3600,
        .gmem = {.hits = 100,
                 .misses = 7,
                 .evictions = 2,
                 .invalidations = 1,
                 .faults = 0,
                 .mapped_bytes = 28672,
                 .dirty_reports = 9},
    };
    struct ioreq_vcpu_stats v[2] = {
        {.requests = 30,
         .by_type = {[IOREQ_STAT_PIO] = 25, [IOREQ_STAT_COPY] = 4, [IOREQ_STAT_UNKNOWN] = 1}},
        {.requests = 10,
         .by_type =
             {[IOREQ_STAT_PIO] = 2, [IOREQ_STAT_PCI_CONFIG] = 6, [IOREQ_STAT_INVALIDATE] = 2}},
    };

    struct dm_faults faults = {.count = {[DM_FAULT_PCI_NO_FUNCTION] = 4,
                                         [DM_FAULT_VIRTQ_LOOP] = 1,
                                         [DM_FAULT_VIRTIO_NOTIFY_IGNORED] = 2}};

    if (f->fail_stats)
        return -EIO;
    control_json_ioreq_stats(out, &st, v, 2);
    control_json_faults(out, &faults);
    control_json_begin_array(out, "devices");
    control_json_begin_object(out, NULL);
    control_json_uint(out, "index", 0);
    control_json_string(out, "type", "uart");
    control_json_begin_object(out, "requests");
    control_json_uint(out, "reads", 9);
    control_json_uint(out, "writes", 14);
    control_json_uint(out, "config_reads", 0);
    control_json_uint(out, "config_writes", 0);
    control_json_end_object(out);
    control_json_begin_object(out, "counters");
    control_json_uint(out, "tx_bytes", 6);
    control_json_uint(out, "rx_bytes", 0);
    control_json_uint(out, "dropped", 0);
    control_json_end_object(out);
    control_json_end_object(out);
    /* A device that counts nothing of its own. */
    control_json_begin_object(out, NULL);
    control_json_uint(out, "index", 1);
    control_json_string(out, "type", "host-bridge");
    control_json_begin_object(out, "requests");
    control_json_uint(out, "reads", 0);
    control_json_uint(out, "writes", 0);
    control_json_uint(out, "config_reads", 120);
    control_json_uint(out, "config_writes", 7);
    control_json_end_object(out);
    control_json_end_object(out);
    control_json_end_array(out);
    return 0;
}

static int fake_stop(void *opaque)
{
    struct fake *f = opaque;

    event_base_loopbreak(f->base);
    return 0;
}

static const struct control_ops fake_ops = {
    .status = fake_status,
    .stats = fake_stats,
    .stop = fake_stop,
};

static void on_sigterm(evutil_socket_t sig, short what, void *opaque)
{
    event_base_loopbreak(opaque);
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *pidfile = NULL;
    struct fake f = {0};
    struct control_server *srv = NULL;
    struct event *sig = NULL;
    char tmp[4096];
    FILE *pf;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            sock = argv[++i];
        else if (!strcmp(argv[i], "--pidfile") && i + 1 < argc)
            pidfile = argv[++i];
        else if (!strcmp(argv[i], "--fail-stats"))
            f.fail_stats = true;
        else {
            fprintf(stderr, "usage: %s --pidfile F [--socket PATH] [--fail-stats]\n", argv[0]);
            return 2;
        }
    }
    if (!pidfile) {
        fprintf(stderr, "%s: --pidfile is required\n", argv[0]);
        return 2;
    }
    f.base = event_base_new();
    if (!f.base)
        return 1;
    sig = evsignal_new(f.base, SIGTERM, on_sigterm, f.base);
    if (!sig || evsignal_add(sig, NULL) < 0)
        return 1;
    if (sock) {
        rc = control_server_new(&srv, f.base, sock, &fake_ops, &f);
        if (rc) {
            fprintf(stderr, "control_server_new(%s): %s\n", sock, strerror(-rc));
            return 1;
        }
    }
    /* Written whole, then renamed: whoever sees the file sees the full pid. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
    pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%ld\n", (long)getpid()) < 0 || fclose(pf) != 0 ||
        rename(tmp, pidfile) < 0)
        return 1;
    event_base_dispatch(f.base);
    control_server_free(srv);
    event_free(sig);
    event_base_free(f.base);
    unlink(pidfile);
    return 0;
}
