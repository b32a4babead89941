/*
 * The chipset object: one lock over all devices, the dispatch of guest port
 * and MMIO accesses to the device Xen would give them to, the vCPU side
 * (pending, ack, wait, INIT/SIPI) and the timer thread that fires the PIT,
 * RTC, PM timer and local APIC timers and kicks vCPUs whose interrupts wait.
 * Callbacks into the mock are made after the lock is dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chipset-internal.h"

#define REKICK_NS      1000000ull /* kick again every 1 ms while pending */
#define BAD_ACCESS_LOG 20         /* log this many, then only count */

uint64_t cs_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void cs_kick(struct hv_chipset *cs, unsigned vcpu)
{
    if (vcpu < cs->cfg.nr_vcpus)
        cs->kick[vcpu] = true;
}

void cs_bad_access(struct hv_chipset *cs, const char *what, uint32_t where, unsigned size)
{
    if (cs->counters.bad_accesses++ < BAD_ACCESS_LOG)
        fprintf(stderr, "hvchipset: bad %s access at %#x size %u\n", what, where, size);
}

static void cs_lock(struct hv_chipset *cs)
{
    pthread_mutex_lock(&cs->lock);
}

/* Drops the lock, then makes the queued callbacks. */
static void cs_unlock(struct hv_chipset *cs)
{
    bool kicks[CS_MAX_VCPUS];
    bool any = false, line = false;
    char text[CS_DEBUG_LINE_MAX];
    size_t len = 0;
    unsigned n = cs->cfg.nr_vcpus;

    for (unsigned v = 0; v < n; v++) {
        kicks[v] = cs->kick[v];
        any |= kicks[v];
        cs->kick[v] = false;
    }
    if (any)
        pthread_cond_broadcast(&cs->irq_cv);
    if (cs->timers_changed)
        pthread_cond_signal(&cs->timer_cv);
    if (cs->debug_out_ready) {
        len = cs->debug_out_len;
        memcpy(text, cs->debug_out, len);
        text[len] = '\0';
        cs->debug_out_ready = false;
        line = true;
    }
    pthread_mutex_unlock(&cs->lock);

    if (line && cs->cfg.debug_line)
        cs->cfg.debug_line(cs->cfg.debug_opaque, text, len);
    if (any && cs->cfg.kick)
        for (unsigned v = 0; v < n; v++)
            if (kicks[v])
                cs->cfg.kick(cs->cfg.kick_opaque, v);
}

static bool cs_pending(struct hv_chipset *cs, unsigned vcpu)
{
    return (lapic_accept_pic_intr(cs, vcpu) && cs->pic[0].int_output) ||
           lapic_pending_vector(cs, vcpu) >= 0;
}

static bool cs_has_work(struct hv_chipset *cs, unsigned vcpu)
{
    return cs_pending(cs, vcpu) || cs->lapic[vcpu].ipi_count;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void *cs_timer_thread(void *arg)
{
    struct hv_chipset *cs = arg;

    cs_lock(cs);
    while (!cs->stopping) {
        uint64_t now = cs_now(), next;

        cs->timers_changed = false;
        next = pit_run_timer(cs, now);
        next = min_u64(next, rtc_run_timer(cs, now));
        next = min_u64(next, pmt_run_timer(cs, now));
        next = min_u64(next, lapic_run_timers(cs, now));
        for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++) {
            if (cs_has_work(cs, v)) {
                cs_kick(cs, v);
                next = min_u64(next, now + REKICK_NS);
            }
        }
        cs_unlock(cs);
        cs_lock(cs);
        if (cs->stopping || cs->timers_changed || next <= cs_now())
            continue;
        if (next == CS_NO_DEADLINE) {
            pthread_cond_wait(&cs->timer_cv, &cs->lock);
        } else {
            struct timespec ts = {.tv_sec = (time_t)(next / NS_PER_SEC),
                                  .tv_nsec = (long)(next % NS_PER_SEC)};
            pthread_cond_timedwait(&cs->timer_cv, &cs->lock, &ts);
        }
    }
    pthread_mutex_unlock(&cs->lock);
    return NULL;
}

int hv_chipset_create(struct hv_chipset **out, const struct hv_chipset_config *cfg)
{
    struct hv_chipset *cs;
    pthread_condattr_t attr;
    uint64_t now = cs_now();
    int rc;

    *out = NULL;
    if (!cfg || cfg->nr_vcpus == 0 || cfg->nr_vcpus > CS_MAX_VCPUS)
        return -EINVAL;
    cs = calloc(1, sizeof(*cs));
    if (!cs)
        return -ENOMEM;
    cs->cfg = *cfg;
    if (!cs->cfg.pm1a_base)
        cs->cfg.pm1a_base = 0xb000;
    cs->lapic = calloc(cfg->nr_vcpus, sizeof(*cs->lapic));
    if (!cs->lapic) {
        free(cs);
        return -ENOMEM;
    }
    pthread_mutex_init(&cs->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cs->timer_cv, &attr);
    pthread_cond_init(&cs->irq_cv, &attr);
    pthread_condattr_destroy(&attr);

    pic_reset(cs);
    pit_reset(cs, now);
    rtc_reset(cs, now);
    pmt_reset(cs, cs->cfg.pm1a_base, now);
    ioapic_reset(cs);
    for (unsigned v = 0; v < cfg->nr_vcpus; v++)
        lapic_reset(cs, v);
    cs->i8259_target = 0;
    memset(cs->kick, 0, sizeof(cs->kick));

    rc = -pthread_create(&cs->thread, NULL, cs_timer_thread, cs);
    if (rc) {
        hv_chipset_destroy(cs);
        return rc;
    }
    cs->thread_started = true;
    *out = cs;
    return 0;
}

void hv_chipset_destroy(struct hv_chipset *cs)
{
    if (!cs)
        return;
    cs_lock(cs);
    cs->stopping = true;
    pthread_cond_broadcast(&cs->timer_cv);
    pthread_cond_broadcast(&cs->irq_cv);
    pthread_mutex_unlock(&cs->lock);
    if (cs->thread_started)
        pthread_join(cs->thread, NULL);
    pthread_cond_destroy(&cs->timer_cv);
    pthread_cond_destroy(&cs->irq_cv);
    pthread_mutex_destroy(&cs->lock);
    free(cs->lapic);
    free(cs);
}

/* Xen claims an access only when it lies wholly inside a handler's range
 * (hvm_portio_accept). */
static bool fits(uint16_t port, unsigned size, unsigned start, unsigned len)
{
    return port >= start && (unsigned)port + size <= start + len;
}

static bool cs_pio_locked(struct hv_chipset *cs, uint16_t port, unsigned size, bool write,
                          uint32_t *val, uint64_t now)
{
    uint16_t pm = cs->pmt.base;

    if (fits(port, size, 0x20, 2) || fits(port, size, 0xa0, 2) || fits(port, size, 0x4d0, 1) ||
        fits(port, size, 0x4d1, 1))
        return pic_pio(cs, port, size, write, val);
    if (fits(port, size, 0x40, 4) || fits(port, size, 0x61, 1))
        return pit_pio(cs, port, size, write, val, now);
    if (fits(port, size, 0x70, 2))
        return rtc_pio(cs, port, size, write, val, now);
    if (fits(port, size, pm, 4) || fits(port, size, pm + 8u, 4))
        return pmt_pio(cs, port, size, write, val, now);
    if (fits(port, size, 0xe9, 1))
        return debug_pio(cs, port, size, write, val);
    return false;
}

bool hv_chipset_pio(struct hv_chipset *cs, unsigned vcpu, uint16_t port, unsigned size, bool write,
                    uint32_t *val)
{
    uint32_t mask;
    bool mine;

    if (size != 1 && size != 2 && size != 4)
        return false; /* no such x86 port access: nothing of Xen's takes it */
    mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    if (write)
        *val &= mask;
    cs_lock(cs);
    mine = cs_pio_locked(cs, port, size, write, val, cs_now());
    cs_unlock(cs);
    if (mine && !write)
        *val &= mask;
    return mine;
}

bool hv_chipset_mmio(struct hv_chipset *cs, unsigned vcpu, uint64_t addr, unsigned size, bool write,
                     uint64_t *val)
{
    uint64_t mask;
    bool mine;

    if (size != 1 && size != 2 && size != 4 && size != 8)
        return false;
    mask = size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
    if (write)
        *val &= mask;
    cs_lock(cs);
    if (addr >= IOAPIC_BASE && addr < IOAPIC_BASE + 0x100)
        mine = ioapic_mmio(cs, addr, size, write, val);
    else if (addr >= LAPIC_BASE && addr < LAPIC_BASE + 0x1000 && vcpu < cs->cfg.nr_vcpus)
        mine = lapic_mmio(cs, vcpu, addr, size, write, val, cs_now());
    else
        mine = false;
    cs_unlock(cs);
    if (mine && !write)
        *val &= mask;
    return mine;
}

void hv_chipset_set_pm1a_base(struct hv_chipset *cs, uint16_t base)
{
    cs_lock(cs);
    cs->pmt.base = base;
    cs_unlock(cs);
}

void hv_chipset_isa_irq(struct hv_chipset *cs, unsigned isa_irq, bool level)
{
    cs_lock(cs);
    if (isa_irq > 15)
        cs->counters.bad_accesses++;
    else if (level)
        irq_isa_assert(cs, isa_irq);
    else
        irq_isa_deassert(cs, isa_irq);
    cs_unlock(cs);
}

void hv_chipset_gsi(struct hv_chipset *cs, unsigned gsi, bool level)
{
    cs_lock(cs);
    if (gsi >= CS_NR_GSIS)
        cs->counters.bad_accesses++;
    else
        irq_gsi_set(cs, gsi, level);
    cs_unlock(cs);
}

void hv_chipset_pci_intx(struct hv_chipset *cs, unsigned dev, unsigned intx, bool level)
{
    cs_lock(cs);
    if (dev >= CS_NR_PCI_DEVS || intx > 3)
        cs->counters.bad_accesses++;
    else
        irq_pci_intx_set(cs, dev, intx, level);
    cs_unlock(cs);
}

void hv_chipset_set_link_route(struct hv_chipset *cs, unsigned link, unsigned isa_irq)
{
    cs_lock(cs);
    if (link >= CS_NR_LINKS || isa_irq > 15)
        cs->counters.bad_accesses++;
    else
        irq_set_link_route(cs, link, isa_irq);
    cs_unlock(cs);
}

int hv_chipset_msi(struct hv_chipset *cs, uint64_t addr, uint32_t data)
{
    int rc;

    cs_lock(cs);
    rc = irq_msi(cs, addr, data);
    cs_unlock(cs);
    return rc;
}

bool hv_chipset_pending(struct hv_chipset *cs, unsigned vcpu)
{
    bool pending;

    if (vcpu >= cs->cfg.nr_vcpus)
        return false;
    cs_lock(cs);
    pending = cs_pending(cs, vcpu);
    cs_unlock(cs);
    return pending;
}

int cs_ack_locked(struct hv_chipset *cs, unsigned vcpu)
{
    int vector = -1;
    uint64_t pin2 = cs->ioapic.redir[2];

    /* The PIC first, as hvm_vcpu_has_pending_irq orders them. */
    if (lapic_accept_pic_intr(cs, vcpu) && cs->pic[0].int_output) {
        vector = pic_intack(cs);
        if (vector >= 0)
            return vector;
    }
    vector = lapic_ack(cs, vcpu);
    if (vector >= 0 && !(pin2 & (1ull << 16)) && vector == (uint8_t)pin2)
        pit_irq0_taken(cs); /* IRQ 0 through IOAPIC pin 2 */
    return vector;
}

int hv_chipset_ack(struct hv_chipset *cs, unsigned vcpu)
{
    int vector;

    if (vcpu >= cs->cfg.nr_vcpus)
        return -1;
    cs_lock(cs);
    vector = cs_ack_locked(cs, vcpu);
    cs_unlock(cs);
    return vector;
}

bool hv_chipset_wait(struct hv_chipset *cs, unsigned vcpu, const struct timespec *deadline)
{
    bool ready = false;

    if (vcpu >= cs->cfg.nr_vcpus)
        return false;
    cs_lock(cs);
    for (;;) {
        if (cs_has_work(cs, vcpu)) {
            ready = true;
            break;
        }
        if (cs->stopping)
            break;
        if (cs->wake[vcpu]) {
            cs->wake[vcpu] = false;
            break;
        }
        if (!deadline)
            pthread_cond_wait(&cs->irq_cv, &cs->lock);
        else if (pthread_cond_timedwait(&cs->irq_cv, &cs->lock, deadline) == ETIMEDOUT) {
            ready = cs_has_work(cs, vcpu);
            break;
        }
    }
    cs_unlock(cs);
    return ready;
}

void hv_chipset_interrupt_waits(struct hv_chipset *cs)
{
    cs_lock(cs);
    for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++)
        cs->wake[v] = true;
    pthread_cond_broadcast(&cs->irq_cv);
    cs_unlock(cs);
}

enum hv_chipset_ipi hv_chipset_take_ipi(struct hv_chipset *cs, unsigned vcpu, uint8_t *vector)
{
    enum hv_chipset_ipi kind;

    *vector = 0;
    if (vcpu >= cs->cfg.nr_vcpus)
        return HV_CHIPSET_IPI_NONE;
    cs_lock(cs);
    kind = lapic_take_ipi(cs, vcpu, vector);
    cs_unlock(cs);
    return kind;
}

void hv_chipset_get_counters(struct hv_chipset *cs, struct hv_chipset_counters *out)
{
    cs_lock(cs);
    *out = cs->counters;
    cs_unlock(cs);
}
