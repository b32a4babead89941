/*
 * The firmware guest (mockhv_hvm_*): Xen's own devices (hvchipset), the
 * hypercalls and the toolstack's boot set-up (shim/hv/hypercall/) and the
 * emulated vCPUs, put together as a Xen HVM domain boots: the toolstack
 * loads hvmloader with the BIOS as a module and builds its tables, then
 * vCPU 0 starts at the ELF entry with ebx = the start info.
 *
 * How it ends, for mockhv_hvm_wait: vCPU 0 halted with interrupts disabled
 * (Xen: the last vCPU down powers the domain off), a shutdown (SCHEDOP_
 * shutdown from the guest or a device model's XEN_DMOP_remote_shutdown),
 * a crash (with the reason), or a vCPU stranded: waiting on an ioreq
 * server whose device-model end of the vCPU's event channel is gone, so
 * that no answer can ever come (its device model exited or closed it).
 * The mock does not answer for a dead device model: Xen would not either.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../chipset/chipset.h"
#include "../hv-internal.h"
#include "../hypercall/hypercall.h"
#include "cpu-internal.h"

#define DEFAULT_HVMLOADER "/usr/lib/xen-4.17/boot/hvmloader"
#define DEFAULT_BIOS      "/usr/share/seabios/bios-256k.bin"
#define PM1A_NEW          0xb000 /* HVM_PARAM_ACPI_IOPORTS_LOCATION = 1 (ACPI_PM1A_EVT_BLK_ADDRESS_V1) */
#define PM1A_OLD          0x1f40 /* = 0, the old location */
#define POLL_MS           10
#define HYPERVISOR_HVM_OP 34

struct hv_hvm {
    struct mockhv *hv;
    struct hv_chipset *cs;
    struct hv_hypercalls *hc;
    struct hv_cpus *cpus; /* set before the first kick can matter */
    void (*log_line)(void *opaque, const char *line, size_t len);
    void *log_opaque;
    FILE *log_file;
    pthread_mutex_t lock; /* the fields below, and log output */
    pthread_cond_t cond;
    bool ended;
    bool shutdown;
    int shutdown_reason;
    struct mockhv_hvm_result result;
    uint64_t acpi_location;
};

static void log_line(struct hv_hvm *h, const char *line, size_t len)
{
    pthread_mutex_lock(&h->lock);
    if (h->log_line) {
        h->log_line(h->log_opaque, line, len);
    } else {
        fprintf(h->log_file, "%.*s\n", (int)len, line);
        fflush(h->log_file);
    }
    pthread_mutex_unlock(&h->lock);
}

static void on_debug_line(void *opaque, const char *line, size_t len)
{
    log_line(opaque, line, len);
}

static void on_console_line(void *opaque, unsigned vcpu, const char *line, size_t len)
{
    (void)vcpu;
    log_line(opaque, line, len);
}

static void on_kick(void *opaque, unsigned vcpu)
{
    struct hv_hvm *h = opaque;
    struct hv_cpus *cpus = __atomic_load_n(&h->cpus, __ATOMIC_ACQUIRE);

    if (cpus)
        hv_cpus_kick(cpus, vcpu);
}

static void on_shutdown(void *opaque, unsigned vcpu, unsigned reason)
{
    struct hv_hvm *h = opaque;

    (void)vcpu;
    pthread_mutex_lock(&h->lock);
    if (!h->shutdown) {
        h->shutdown = true;
        h->shutdown_reason = (int)reason;
    }
    pthread_mutex_unlock(&h->lock);
    /* a shut-down domain runs no more: every vCPU leaves at its next block */
    hv_cpus_request_stop(h->cpus);
}

static void on_ended(void *opaque, unsigned vcpu, const struct mockhv_hvm_result *r)
{
    struct hv_hvm *h = opaque;

    /* vCPU 0's end is the guest's; an AP's only when it crashed the domain
     * or was stranded */
    if (vcpu != 0 && r->state != MOCKHV_HVM_CRASHED && r->state != MOCKHV_HVM_STRANDED)
        return;
    pthread_mutex_lock(&h->lock);
    if (h->ended) {
        pthread_mutex_unlock(&h->lock);
        return;
    }
    h->result = *r;
    if (h->shutdown) {
        h->result.state = MOCKHV_HVM_SHUTDOWN;
        h->result.shutdown_reason = h->shutdown_reason;
        snprintf(h->result.reason, sizeof(h->result.reason), "the domain shut down (reason %d)",
                 h->shutdown_reason);
    }
    h->ended = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* ---- the platform the vCPUs see ---- */

static bool plat_pio(void *o, unsigned vcpu, uint16_t port, unsigned size, bool write,
                     uint32_t *val)
{
    struct hv_hvm *h = o;

    return hv_chipset_pio(h->cs, vcpu, port, size, write, val);
}

static bool plat_mmio(void *o, unsigned vcpu, uint64_t addr, unsigned size, bool write,
                      uint64_t *val)
{
    struct hv_hvm *h = o;

    return hv_chipset_mmio(h->cs, vcpu, addr, size, write, val);
}

static bool plat_pending(void *o, unsigned vcpu)
{
    struct hv_hvm *h = o;

    return hv_chipset_pending(h->cs, vcpu);
}

static int plat_ack(void *o, unsigned vcpu)
{
    struct hv_hvm *h = o;

    return hv_chipset_ack(h->cs, vcpu);
}

static bool plat_wait(void *o, unsigned vcpu, const struct timespec *deadline)
{
    struct hv_hvm *h = o;

    return hv_chipset_wait(h->cs, vcpu, deadline);
}

static uint16_t pm1a_base(uint64_t location)
{
    return location == 1 ? PM1A_NEW : PM1A_OLD;
}

/* HVMOP_set_param may move the ACPI PM1a block (hvmloader asks for the new
 * location): the chipset follows, as Xen's pmtimer does. */
static void follow_acpi_location(struct hv_hvm *h)
{
    struct mockhv *hv = h->hv;
    uint64_t loc;

    pthread_mutex_lock(&hv->lock);
    loc = hv->params[HVM_PARAM_ACPI_IOPORTS_LOCATION];
    pthread_mutex_unlock(&hv->lock);
    if (loc != h->acpi_location) {
        h->acpi_location = loc;
        hv_chipset_set_pm1a_base(h->cs, pm1a_base(loc));
    }
}

static long plat_hypercall(void *o, unsigned vcpu, unsigned op, const uint64_t args[5])
{
    struct hv_hvm *h = o;
    long rc = hv_hypercall(h->hc, vcpu, op, args);

    if (op == HYPERVISOR_HVM_OP)
        follow_acpi_location(h);
    return rc;
}

static int plat_hypercall_page(void *o, uint64_t gpa)
{
    struct hv_hvm *h = o;

    return hv_hypercall_page_fill(h->hv, gpa);
}

static int plat_take_ipi(void *o, unsigned vcpu, uint8_t *vector)
{
    struct hv_hvm *h = o;

    switch (hv_chipset_take_ipi(h->cs, vcpu, vector)) {
    case HV_CHIPSET_IPI_INIT:
        return HV_CPU_IPI_INIT;
    case HV_CHIPSET_IPI_SIPI:
        return HV_CPU_IPI_SIPI;
    default:
        return 0;
    }
}

static void plat_interrupt_waits(void *o)
{
    struct hv_hvm *h = o;

    /* hvm_free stops the vCPUs while both exist, and calls again after the
     * chipset is gone */
    if (h->cs)
        hv_chipset_interrupt_waits(h->cs);
    if (h->hc)
        hv_hypercalls_interrupt_waits(h->hc);
}

static const struct hv_cpu_platform xen_platform = {
    .pio = plat_pio,
    .mmio = plat_mmio,
    .pending = plat_pending,
    .ack = plat_ack,
    .wait = plat_wait,
    .hypercall = plat_hypercall,
    .hypercall_page = plat_hypercall_page,
    .take_ipi = plat_take_ipi,
    .interrupt_waits = plat_interrupt_waits,
};

static void hvm_free(struct hv_hvm *h)
{
    if (!h)
        return;
    /* The vCPU threads first (they wait in the chipset and in hypercalls),
     * then the chipset, whose timer thread kicks vCPUs until it is joined,
     * and only then the vCPUs' memory that a kick touches. */
    if (h->cpus)
        hv_cpus_stop(h->cpus);
    if (h->cs)
        hv_chipset_destroy(h->cs);
    h->cs = NULL;
    if (h->cpus)
        hv_cpus_destroy(h->cpus);
    if (h->hc)
        hv_hypercalls_destroy(h->hc);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int hvm_build(struct hv_hvm *h, const struct mockhv_hvm_config *cfg)
{
    struct mockhv *hv = h->hv;
    struct hv_chipset_config cc = {
        .nr_vcpus = hv->nr_vcpus,
        .pm1a_base = PM1A_OLD,
        .kick = on_kick,
        .kick_opaque = h,
        .debug_line = on_debug_line,
        .debug_opaque = h,
    };
    struct hv_hypercall_config hc = {
        .console_line = on_console_line,
        .console_opaque = h,
        .shutdown = on_shutdown,
        .shutdown_opaque = h,
    };
    struct hv_boot_config boot = {
        .hvmloader = cfg->hvmloader ? cfg->hvmloader : DEFAULT_HVMLOADER,
        .bios_module = cfg->bios ? cfg->bios : DEFAULT_BIOS,
        .bios_name = "seabios",
    };
    struct hv_boot_state st;
    struct hv_cpu_config vc = {
        .nr_vcpus = hv->nr_vcpus,
        .count_instructions = cfg->count_instructions,
        .ended = on_ended,
        .platform = &xen_platform,
        .opaque = h,
    };
    struct hv_cpus *cpus;
    int rc;

    rc = hv_chipset_create(&h->cs, &cc);
    if (rc)
        return rc;
    rc = hv_hypercalls_create(&h->hc, hv, &hc);
    if (rc)
        return rc;
    rc = hv_hypercalls_boot(h->hc, &boot, &st);
    if (rc)
        return rc;
    h->acpi_location = ~0ull;
    follow_acpi_location(h);
    vc.entry = st.entry;
    vc.ebx = st.ebx;
    rc = hv_cpus_create(&cpus, hv, &vc);
    if (rc)
        return rc;
    __atomic_store_n(&h->cpus, cpus, __ATOMIC_RELEASE);
    return 0;
}

int mockhv_hvm_start(struct mockhv *hv, const struct mockhv_hvm_config *cfg)
{
    static const struct mockhv_hvm_config defaults;
    struct hv_hvm *h;
    int rc;

    if (!cfg)
        cfg = &defaults;
    pthread_mutex_lock(&hv->lock);
    rc = hv->hvm ? -EBUSY : hv_guest_down(hv);
    pthread_mutex_unlock(&hv->lock);
    if (rc)
        return rc;
    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->hv = hv;
    h->log_line = cfg->log_line;
    h->log_opaque = cfg->log_opaque;
    h->log_file = cfg->log_file ? cfg->log_file : stderr;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    rc = hvm_build(h, cfg);
    if (!rc) {
        pthread_mutex_lock(&hv->lock);
        if (hv->hvm)
            rc = -EBUSY;
        else
            hv->hvm = h;
        pthread_mutex_unlock(&hv->lock);
    }
    if (!rc) {
        rc = hv_cpus_start(h->cpus);
        if (rc) {
            pthread_mutex_lock(&hv->lock);
            hv->hvm = NULL;
            pthread_mutex_unlock(&hv->lock);
        }
    }
    if (rc)
        hvm_free(h);
    return rc;
}

void hv_hvm_destroy(struct mockhv *hv)
{
    struct hv_hvm *h;

    pthread_mutex_lock(&hv->lock);
    h = hv->hvm;
    hv->hvm = NULL;
    pthread_mutex_unlock(&hv->lock);
    hvm_free(h);
}

struct hv_chipset *hv_hvm_chipset(struct mockhv *hv)
{
    return hv->hvm ? hv->hvm->cs : NULL;
}

void hv_hvm_code_modified(struct mockhv *hv, uint64_t gfn, uint64_t nr)
{
    const uint64_t below_4g = 1ull << 20; /* frames: code runs there, paging off */

    if (!hv->hvm || !hv->hvm->cpus || gfn >= below_4g || nr == 0)
        return;
    if (nr > below_4g - gfn)
        nr = below_4g - gfn;
    hv_cpus_code_modified(hv->hvm->cpus, gfn << 12, nr << 12);
}

/* The server a vCPU waits on with nobody left to answer (hv->lock held). */
static int stranded_locked(struct mockhv *hv, unsigned *vcpu)
{
    for (unsigned v = 0; v < hv->nr_vcpus; v++) {
        int id = hv->vcpus[v].inflight;
        struct hv_server *s;
        struct hv_port *p;

        if (id < 0)
            continue;
        s = hv_server_get(hv, (unsigned)id);
        p = s ? hv_port_get(&hv->guest_ports, s->vcpu_port[v]) : NULL;
        if (!p || p->state != HV_PORT_INTERDOMAIN) {
            *vcpu = v;
            return id;
        }
    }
    return -1;
}

/* What ends the guest besides its vCPU: a device model's shutdown, a
 * stranded vCPU. false: nothing yet. */
static bool ended_outside(struct hv_hvm *h, struct mockhv_hvm_result *out)
{
    struct mockhv *hv = h->hv;
    unsigned vcpu = 0;
    int reason, server;

    pthread_mutex_lock(&hv->lock);
    reason = hv->shutdown_reason;
    server = stranded_locked(hv, &vcpu);
    pthread_mutex_unlock(&hv->lock);
    memset(out, 0, sizeof(*out));
    out->server = -1;
    out->shutdown_reason = -1;
    if (reason >= 0) {
        out->state = MOCKHV_HVM_SHUTDOWN;
        out->shutdown_reason = reason;
        snprintf(out->reason, sizeof(out->reason),
                 "a device model shut the domain down (reason %d)", reason);
        hv_cpus_request_stop(h->cpus);
        return true;
    }
    if (server >= 0) {
        out->state = MOCKHV_HVM_STRANDED;
        out->vcpu = vcpu;
        out->server = server;
        snprintf(out->reason, sizeof(out->reason), "vCPU %u stranded on ioreq server %d", vcpu,
                 server);
        return true;
    }
    return false;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int mockhv_hvm_wait(struct mockhv *hv, int timeout_ms, struct mockhv_hvm_result *out)
{
    struct hv_hvm *h;
    struct timespec end, now;

    pthread_mutex_lock(&hv->lock);
    h = hv->hvm;
    pthread_mutex_unlock(&hv->lock);
    if (!h)
        return -ENOENT;
    deadline_in(&end, timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        struct timespec slice;
        struct mockhv_hvm_result r;

        pthread_mutex_lock(&h->lock);
        if (h->ended) {
            *out = h->result;
            pthread_mutex_unlock(&h->lock);
            return 0;
        }
        pthread_mutex_unlock(&h->lock);
        if (ended_outside(h, &r)) {
            *out = r;
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (timeout_ms >= 0 && !before(&now, &end)) {
            memset(out, 0, sizeof(*out));
            out->state = MOCKHV_HVM_RUNNING;
            out->server = -1;
            out->shutdown_reason = -1;
            out->eip = (uint32_t)hv_cpus_last_block(h->cpus, 0);
            snprintf(out->reason, sizeof(out->reason), "vCPU 0 running, last block at %#x",
                     out->eip);
            return -ETIMEDOUT;
        }
        /* the condition variable uses CLOCK_REALTIME: a short slice is enough */
        clock_gettime(CLOCK_REALTIME, &slice);
        slice.tv_nsec += POLL_MS * 1000000L;
        if (slice.tv_nsec >= 1000000000) {
            slice.tv_sec++;
            slice.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&h->lock);
        if (!h->ended)
            pthread_cond_timedwait(&h->cond, &h->lock, &slice);
        pthread_mutex_unlock(&h->lock);
    }
}

int mockhv_hvm_stats(struct mockhv *hv, struct mockhv_hvm_stats *out)
{
    struct hv_hvm *h;

    pthread_mutex_lock(&hv->lock);
    h = hv->hvm;
    pthread_mutex_unlock(&hv->lock);
    if (!h)
        return -ENOENT;
    hv_cpus_stats(h->cpus, out);
    return 0;
}

int mockhv_vcpu_waiting_on(struct mockhv *hv, unsigned vcpu)
{
    int id;

    if (vcpu >= hv->nr_vcpus)
        return -1;
    pthread_mutex_lock(&hv->lock);
    id = hv->vcpus[vcpu].inflight;
    pthread_mutex_unlock(&hv->lock);
    return id;
}
