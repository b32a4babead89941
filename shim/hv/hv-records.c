/*
 * What device models ask the hypervisor to do to the guest, recorded for
 * tests: interrupt levels and MSIs (with a wait), modified-memory ranges,
 * shutdown requests; dirty VRAM is hv-dirty-vram.c's, memory types and
 * cache attributes hv-memtype.c's. Argument checks follow Xen's
 * dm.c, so a device model sees the errors real Xen would give it.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "chipset/chipset.h"
#include "hv-internal.h"

#include <xen/sched.h>

void hv_records_init(struct mockhv *hv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hv->irqs.cond, &ca);
    pthread_condattr_destroy(&ca);
    hv->shutdown_reason = -1;
}

void hv_records_fini(struct mockhv *hv)
{
    pthread_cond_destroy(&hv->irqs.cond);
}

static void irq_record(struct mockhv *hv, const struct mockhv_irq_record *r)
{
    uint64_t seq = ++hv->irqs.last_seq;
    struct mockhv_irq_record *slot = &hv->irqs.rec[seq % HV_IRQ_HISTORY];

    *slot = *r;
    slot->seq = seq;
    pthread_cond_broadcast(&hv->irqs.cond);
}

static int modified(struct mockhv *hv, const struct wire_req *req, size_t len)
{
    const struct wire_extent *ext = (const void *)(req + 1);
    uint64_t nr = req->a[0];
    uint64_t max_pfn = (HV_HIGH_RAM_START + hv->ram_bytes) >> 12;

    if (nr == 0 || nr > WIRE_MAX_EXTENTS || len < sizeof(*req) + nr * sizeof(*ext))
        return -EINVAL;
    for (uint64_t i = 0; i < nr; i++) {
        /* Xen: -EINVAL for ranges that wrap or pass the domain's max gfn */
        if (ext[i].first_pfn + ext[i].nr < ext[i].first_pfn ||
            ext[i].first_pfn + ext[i].nr > max_pfn)
            return -EINVAL;
    }
    for (uint64_t i = 0; i < nr; i++) {
        uint64_t seq = ++hv->modified.last_seq;
        struct mockhv_modified *m = &hv->modified.rec[seq % HV_MOD_HISTORY];

        m->seq = seq;
        m->first_pfn = ext[i].first_pfn;
        m->nr = ext[i].nr;
        /* code the device model wrote must be translated anew */
        hv_hvm_code_modified(hv, ext[i].first_pfn, ext[i].nr);
    }
    return 0;
}

int hv_records_handle(struct hv_conn *c, const struct wire_req *req, size_t len,
                      struct wire_rep *rep, void *out, uint32_t *out_len)
{
    struct mockhv *hv = c->hv;
    struct mockhv_irq_record r = {0};
    const uint64_t *a = req->a;

    switch (req->op) {
    case WIRE_OP_DM_SET_PCI_INTX:
        /* Xen: only segment 0 bus 0, device < 32, intx < 4 */
        if (a[0] != 0 || a[1] != 0 || a[2] > 31 || a[3] > 3)
            return -EINVAL;
        r.kind = MOCKHV_IRQ_INTX;
        r.sbdf = (uint32_t)(a[2] << 3);
        r.intx = (uint8_t)a[3];
        r.level = a[4] != 0;
        hv->irqs.intx_level[a[2]][a[3]] = r.level;
        irq_record(hv, &r);
        if (hv_hvm_chipset(hv))
            hv_chipset_pci_intx(hv_hvm_chipset(hv), (unsigned)a[2], (unsigned)a[3], r.level);
        return 0;
    case WIRE_OP_DM_SET_ISA_IRQ:
    case WIRE_OP_DM_SET_IRQ_LEVEL:
        /* ISA IRQs 0-15; set_irq_level names a GSI of the 48 the vIOAPIC has */
        if (a[0] > (req->op == WIRE_OP_DM_SET_ISA_IRQ ? 15u : 47u) || a[1] > 1)
            return -EINVAL;
        r.kind = MOCKHV_IRQ_ISA;
        r.irq = (uint8_t)a[0];
        r.level = a[1] != 0;
        if (a[0] < 16)
            hv->irqs.isa_level[a[0]] = r.level;
        irq_record(hv, &r);
        if (hv_hvm_chipset(hv) && req->op == WIRE_OP_DM_SET_ISA_IRQ)
            hv_chipset_isa_irq(hv_hvm_chipset(hv), (unsigned)a[0], r.level);
        else if (hv_hvm_chipset(hv))
            hv_chipset_gsi(hv_hvm_chipset(hv), (unsigned)a[0], r.level);
        return 0;
    case WIRE_OP_DM_SET_LINK_ROUTE:
        if (a[0] > 3 || a[1] > 15)
            return -EINVAL;
        r.kind = MOCKHV_IRQ_LINK_ROUTE;
        r.intx = (uint8_t)a[0];
        r.irq = (uint8_t)a[1];
        hv->pci_link_route[a[0]] = a[1];
        irq_record(hv, &r);
        if (hv_hvm_chipset(hv))
            hv_chipset_set_link_route(hv_hvm_chipset(hv), (unsigned)a[0], (unsigned)a[1]);
        return 0;
    case WIRE_OP_DM_INJECT_MSI:
        r.kind = MOCKHV_IRQ_MSI;
        r.msi_addr = a[0];
        r.msi_data = (uint32_t)a[1];
        irq_record(hv, &r);
        /* recorded either way; what the local APICs cannot take is dropped */
        if (hv_hvm_chipset(hv))
            hv_chipset_msi(hv_hvm_chipset(hv), a[0], (uint32_t)a[1]);
        return 0;
    case WIRE_OP_DM_MODIFIED_MEMORY:
        return modified(hv, req, len);
    case WIRE_OP_DM_TRACK_DIRTY_VRAM:
        return hv_vram_track(hv, req, out, out_len);
    case WIRE_OP_DM_SET_MEM_TYPE:
        return hv_set_mem_type(hv, a[0], a[1], a[2]);
    case WIRE_OP_DM_SHUTDOWN:
        if (a[0] > SHUTDOWN_MAX)
            return -EINVAL;
        if (hv->shutdown_reason < 0)
            hv->shutdown_reason = (int)a[0];
        return 0;
    case WIRE_OP_DM_RELOCATE_MEMORY:
        return hv_p2m_relocate(hv, a[1], a[2], a[0]);
    case WIRE_OP_DM_PIN_CACHEATTR:
        return hv_pin_cacheattr(hv, a[0], a[1], a[2]);
    case WIRE_OP_DM_INJECT_EVENT:
        return a[0] >= hv->nr_vcpus ? -EINVAL : 0;
    }
    (void)rep;
    return -ENOSYS;
}

uint64_t mockhv_irq_last_seq(struct mockhv *hv)
{
    uint64_t s;

    pthread_mutex_lock(&hv->lock);
    s = hv->irqs.last_seq;
    pthread_mutex_unlock(&hv->lock);
    return s;
}

static int irq_get_locked(struct mockhv *hv, uint64_t seq, struct mockhv_irq_record *out)
{
    if (seq == 0 || seq > hv->irqs.last_seq ||
        (hv->irqs.last_seq >= HV_IRQ_HISTORY && seq <= hv->irqs.last_seq - HV_IRQ_HISTORY))
        return -ENOENT;
    *out = hv->irqs.rec[seq % HV_IRQ_HISTORY];
    return 0;
}

int mockhv_irq_get(struct mockhv *hv, uint64_t seq, struct mockhv_irq_record *out)
{
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = irq_get_locked(hv, seq, out);
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_irq_wait(struct mockhv *hv, uint64_t after_seq, struct mockhv_irq_record *out,
                    int timeout_ms)
{
    struct timespec ts;
    int rc = 0;

    if (timeout_ms <= 0)
        timeout_ms = MOCKHV_DEFAULT_TIMEOUT_MS;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&hv->lock);
    while (hv->irqs.last_seq <= after_seq && !hv->stopping && !hv->gone && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&hv->irqs.cond, &hv->lock, &ts);
    if (hv->irqs.last_seq > after_seq) {
        uint64_t seq = after_seq + 1;
        /* the oldest record still kept, if after_seq was dropped */
        if (hv->irqs.last_seq >= HV_IRQ_HISTORY && seq <= hv->irqs.last_seq - HV_IRQ_HISTORY)
            seq = hv->irqs.last_seq - HV_IRQ_HISTORY + 1;
        rc = irq_get_locked(hv, seq, out);
    } else {
        rc = hv->stopping || hv->gone ? -ESHUTDOWN : -ETIMEDOUT;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_isa_irq_level(struct mockhv *hv, unsigned irq)
{
    int l;

    if (irq > 15)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    l = hv->irqs.isa_level[irq];
    pthread_mutex_unlock(&hv->lock);
    return l;
}

int mockhv_intx_level(struct mockhv *hv, uint32_t sbdf, unsigned intx)
{
    int l;

    if (intx > 3 || (sbdf & ~0xf8u))
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    l = hv->irqs.intx_level[(sbdf >> 3) & 31][intx];
    pthread_mutex_unlock(&hv->lock);
    return l;
}

uint64_t mockhv_modified_last_seq(struct mockhv *hv)
{
    uint64_t s;

    pthread_mutex_lock(&hv->lock);
    s = hv->modified.last_seq;
    pthread_mutex_unlock(&hv->lock);
    return s;
}

int mockhv_modified_get(struct mockhv *hv, uint64_t seq, struct mockhv_modified *out)
{
    int rc = -ENOENT;

    pthread_mutex_lock(&hv->lock);
    if (seq && seq <= hv->modified.last_seq &&
        (hv->modified.last_seq < HV_MOD_HISTORY || seq > hv->modified.last_seq - HV_MOD_HISTORY)) {
        *out = hv->modified.rec[seq % HV_MOD_HISTORY];
        rc = 0;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_pci_link_route(struct mockhv *hv, unsigned link)
{
    int irq;

    if (link > 3)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    irq = (int)hv->pci_link_route[link];
    pthread_mutex_unlock(&hv->lock);
    return irq;
}

int mockhv_shutdown_reason(struct mockhv *hv)
{
    int r;

    pthread_mutex_lock(&hv->lock);
    r = hv->shutdown_reason;
    pthread_mutex_unlock(&hv->lock);
    return r;
}

uint64_t mockhv_mem_type_calls(struct mockhv *hv)
{
    uint64_t n;

    pthread_mutex_lock(&hv->lock);
    n = hv->mem_type_calls;
    pthread_mutex_unlock(&hv->lock);
    return n;
}
