/*
 * mockxen --firmware. As libxl does, the guest is unpaused only once its
 * device model is ready: libxl waits for device-model/<domid>/state to
 * read "running"; with several device models (or no xenstore) mockxen
 * also waits until as many ioreq servers as device models are enabled
 * with every vCPU port bound. Then vCPU 0 starts in hvmloader.
 *
 * A device model that dies is not answered for: a vCPU waiting on it is
 * reported stranded (exit 4), as a real guest would hang there.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "firmware.h"

#define POLL_MS           50
#define SHUTDOWN_POWEROFF 0 /* xen/sched.h SHUTDOWN_poweroff */

static const char *const shutdown_names[] = {"poweroff", "reboot",   "suspend",
                                             "crash",    "watchdog", "soft_reset"};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* Reaps what exited; how many device models are still running. */
static unsigned reap(struct firmware_dm *dms, unsigned n)
{
    unsigned alive = 0;

    for (unsigned i = 0; i < n; i++) {
        if (dms[i].pid > 0 && waitpid(dms[i].pid, &dms[i].status, WNOHANG) == dms[i].pid) {
            fprintf(stderr, "mockxen: device model %u (pid %d) exited\n", i + 1, (int)dms[i].pid);
            dms[i].pid = -1;
        }
        alive += dms[i].pid > 0;
    }
    return alive;
}

static unsigned ready_servers(struct mockhv *hv)
{
    uint16_t ids[8];
    int n = mockhv_servers(hv, ids, 8);
    unsigned ready = 0;

    for (int i = 0; i < n && i < 8; i++) {
        struct mockhv_server_info info;

        if (mockhv_server_info(hv, ids[i], &info) == 0 && info.enabled &&
            info.nr_vcpu_ports_bound == info.nr_vcpus)
            ready++;
    }
    return ready;
}

static bool dm_running(struct mockhv *hv)
{
    char path[64], *v = NULL;
    bool running;

    if (!mockhv_xenstored_path(hv))
        return true;
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", mockhv_domid(hv));
    if (mockhv_xenstore_read(hv, path, &v))
        return false;
    running = strcmp(v, "running") == 0;
    free(v);
    return running;
}

/* 0 ready, or the exit status to end with. */
static int wait_ready(struct mockhv *hv, struct firmware_dm *dms, unsigned n, double deadline,
                      volatile sig_atomic_t *got_signal)
{
    for (;;) {
        if (*got_signal) {
            fprintf(stderr, "mockxen: stopped by a signal before the guest started\n");
            return FIRMWARE_FAILED;
        }
        if (reap(dms, n) < n) {
            fprintf(stderr, "mockxen: a device model exited before it was ready\n");
            return FIRMWARE_FAILED;
        }
        if (ready_servers(hv) >= n && dm_running(hv))
            return 0;
        if (deadline > 0 && now_s() >= deadline) {
            fprintf(stderr, "mockxen: timeout: the device models never became ready\n");
            return FIRMWARE_TIMEOUT;
        }
        sleep_ms(POLL_MS);
    }
}

static void print_stats(struct mockhv *hv, double seconds, bool insns)
{
    struct mockhv_hvm_stats st;
    uint64_t calls = 0;

    if (mockhv_hvm_stats(hv, &st))
        return;
    for (unsigned i = 0; i < 64; i++)
        calls += st.hypercalls[i];
    fprintf(stderr,
            "mockxen: %.3f s: ioreqs pio %" PRIu64 " mmio %" PRIu64 " pci-config %" PRIu64
            ", unclaimed %" PRIu64 ", Xen's own pio %" PRIu64 " mmio %" PRIu64
            ", hypercalls %" PRIu64 ", interrupts %" PRIu64 ", exceptions %" PRIu64
            ", exits %" PRIu64 "\n",
            seconds, st.ioreq_pio, st.ioreq_mmio, st.ioreq_pci_config, st.unclaimed, st.xen_pio,
            st.xen_mmio, calls, st.interrupts, st.exceptions, st.exits);
    if (insns)
        fprintf(stderr, "mockxen: %" PRIu64 " instructions, %.1f million per second\n",
                st.instructions, seconds > 0 ? st.instructions / seconds / 1e6 : 0.0);
}

static int verdict(const struct mockhv_hvm_result *r)
{
    switch (r->state) {
    case MOCKHV_HVM_HALTED:
        fprintf(stderr, "mockxen: %s\n", r->reason);
        return FIRMWARE_OK;
    case MOCKHV_HVM_SHUTDOWN:
        fprintf(stderr, "mockxen: the domain shut down: %s\n",
                r->shutdown_reason >= 0 && r->shutdown_reason <= 5
                    ? shutdown_names[r->shutdown_reason]
                    : "unknown reason");
        return r->shutdown_reason == SHUTDOWN_POWEROFF ? FIRMWARE_OK : FIRMWARE_FAILED;
    case MOCKHV_HVM_STRANDED:
        fprintf(stderr, "mockxen: %s\n", r->reason);
        return FIRMWARE_STRANDED;
    case MOCKHV_HVM_CRASHED:
        fprintf(stderr, "mockxen: %s (eip %#" PRIx32 ")\n", r->reason, r->eip);
        return FIRMWARE_FAILED;
    default:
        fprintf(stderr, "mockxen: the guest stopped: %s\n", r->reason);
        return FIRMWARE_FAILED;
    }
}

int firmware_run(struct mockhv *hv, const struct firmware_opts *o, struct firmware_dm *dms,
                 unsigned nr_dms, volatile sig_atomic_t *got_signal)
{
    struct mockhv_hvm_config cfg = {
        .hvmloader = o->hvmloader,
        .bios = o->bios,
        .log_file = o->log,
        .count_instructions = o->count_instructions,
    };
    double start = now_s(), deadline = o->timeout_s ? start + o->timeout_s : 0, powered;
    struct mockhv_hvm_result r;
    int rc;

    rc = wait_ready(hv, dms, nr_dms, deadline, got_signal);
    if (rc)
        return rc;
    rc = mockhv_hvm_start(hv, &cfg);
    if (rc) {
        fprintf(stderr, "mockxen: cannot start the firmware: %s\n", strerror(-rc));
        return FIRMWARE_FAILED;
    }
    powered = now_s();
    for (;;) {
        rc = mockhv_hvm_wait(hv, POLL_MS, &r);
        if (rc == 0)
            break;
        if (rc != -ETIMEDOUT) {
            fprintf(stderr, "mockxen: %s\n", strerror(-rc));
            return FIRMWARE_FAILED;
        }
        reap(dms, nr_dms);
        if (*got_signal) {
            fprintf(stderr, "mockxen: stopped by a signal while the guest ran\n");
            print_stats(hv, now_s() - powered, o->count_instructions);
            return FIRMWARE_FAILED;
        }
        if (deadline > 0 && now_s() >= deadline) {
            fprintf(stderr, "mockxen: timeout: the guest still ran after %u s (%s)\n", o->timeout_s,
                    r.reason);
            print_stats(hv, now_s() - powered, o->count_instructions);
            return FIRMWARE_TIMEOUT;
        }
    }
    rc = verdict(&r);
    print_stats(hv, now_s() - powered, o->count_instructions);
    return rc;
}
