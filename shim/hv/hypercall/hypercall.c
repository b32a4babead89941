/*
 * The hypercall layer's life cycle and dispatch: hv_hypercall takes the
 * number and arguments the vCPU decoded, cuts them to the 32-bit ABI, and
 * hands them to one handler per hypercall (static table, Xen's numbers).
 * A number Xen's HVM table has no handler for is -ENOSYS, as
 * hvm_hypercall() answers it. Also the hypercall page (vmx_init_hypercall_page)
 * and the guest-memory helpers every handler uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hc-internal.h"

#include <xen/xen.h>

#include "log.h"

typedef long (*hc_handler)(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);

static const hc_handler hc_table[64] = {
    [__HYPERVISOR_memory_op] = hc_memory_op,
    [__HYPERVISOR_xen_version] = hc_xen_version,
    [__HYPERVISOR_console_io] = hc_console_io,
    [__HYPERVISOR_sched_op] = hc_sched_op,
    [__HYPERVISOR_event_channel_op] = hc_event_channel_op,
    [__HYPERVISOR_hvm_op] = hc_hvm_op,
};

void hc_count(struct hv_hypercalls *h, uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static int ram(struct hv_hypercalls *h, uint64_t gpa, void *buf, uint64_t len, enum hv_ram_op op)
{
    struct mockhv *hv = h->hv;
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = hv_ram_access(hv, gpa, buf, len, op);
    /* Xen's copy_to_guest dirties what it writes, as a guest store would */
    if (!rc && op == HV_RAM_WRITE && len)
        hv_vram_mark(hv, gpa >> 12, ((gpa + len - 1) >> 12) - (gpa >> 12) + 1);
    pthread_mutex_unlock(&hv->lock);
    if (rc)
        hc_count(h, &h->stats.efault);
    return rc ? -EFAULT : 0;
}

int hc_read(struct hv_hypercalls *h, uint64_t gpa, void *buf, uint64_t len)
{
    return ram(h, gpa, buf, len, HV_RAM_READ);
}

int hc_write(struct hv_hypercalls *h, uint64_t gpa, const void *buf, uint64_t len)
{
    return ram(h, gpa, (void *)buf, len, HV_RAM_WRITE);
}

int hc_check(struct hv_hypercalls *h, uint64_t gpa, uint64_t len)
{
    return ram(h, gpa, NULL, len, HV_RAM_CHECK);
}

int hc_domain(const struct hv_hypercalls *h, uint16_t domid, int other_rc)
{
    if (domid == DOMID_SELF || domid == h->hv->domid)
        return 0;
    /* rcu_lock_domain_by_any_id: dom0 exists (and the caller may not
     * touch it), any other domain does not */
    return domid == 0 ? other_rc : -ESRCH;
}

int hv_hypercalls_create(struct hv_hypercalls **out, struct mockhv *hv,
                         const struct hv_hypercall_config *cfg)
{
    struct hv_hypercalls *h;
    int rc;

    *out = NULL;
    if (!hv)
        return -EINVAL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->hv = hv;
    if (cfg)
        h->cfg = *cfg;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->console_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    h->xs.fd = -1;
    h->xs.wake_fd = -1;
    /* libxl: RAM plus LIBXL_MAXMEM_CONSTANT */
    h->tot_pages = hv->ram_bytes >> 12;
    h->max_pages = h->tot_pages + HV_SLACK_PAGES;
    rc = hc_shinfo_init(h);
    if (rc) {
        hv_hypercalls_destroy(h);
        return rc;
    }
    *out = h;
    return 0;
}

void hv_hypercalls_destroy(struct hv_hypercalls *h)
{
    if (!h)
        return;
    hv_hypercalls_interrupt_waits(h);
    hc_xs_stop(h);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->console_lock);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void hv_hypercalls_interrupt_waits(struct hv_hypercalls *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    h->events++;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

long hv_hypercall(struct hv_hypercalls *h, unsigned vcpu, unsigned op, const uint64_t args[5])
{
    uint32_t a[5];
    int down;

    if (!h || !args || vcpu >= h->hv->nr_vcpus)
        return -EINVAL;
    hc_count(h, &h->stats.calls);
    pthread_mutex_lock(&h->hv->lock);
    down = hv_guest_down(h->hv);
    pthread_mutex_unlock(&h->hv->lock);
    if (down)
        return down;
    if (op >= 64 || !hc_table[op]) {
        hc_count(h, &h->stats.unknown_op);
        log_guest("hypercall: vcpu %u: unknown hypercall %u", vcpu, op);
        return -ENOSYS;
    }
    /* a 32-bit guest's hypercall sees the low halves of its registers */
    for (unsigned i = 0; i < 5; i++)
        a[i] = (uint32_t)args[i];
    pthread_mutex_lock(&h->lock);
    hc_time_update(h, vcpu);
    pthread_mutex_unlock(&h->lock);
    return hc_table[op](h, vcpu, a);
}

int hv_hypercall_page_fill(struct mockhv *hv, uint64_t gpa)
{
    uint8_t page[HV_PAGE_SIZE];
    int rc;

    if (gpa & (HV_PAGE_SIZE - 1))
        return -EINVAL;
    /* Entries Xen leaves out stay int3, as in a fresh page Xen fills */
    memset(page, 0xcc, sizeof(page));
    for (unsigned i = 0; i < HV_PAGE_SIZE / 32; i++) {
        uint8_t *e = page + i * 32;

        if (i == __HYPERVISOR_iret) {
            /* HYPERVISOR_iret is not available to HVM guests: ud2 */
            e[0] = 0x0f;
            e[1] = 0x0b;
            continue;
        }
        e[0] = 0xb8; /* mov $i, %eax */
        memcpy(e + 1, &i, 4);
        e[5] = 0x0f; /* vmcall */
        e[6] = 0x01;
        e[7] = 0xc1;
        e[8] = 0xc3; /* ret */
    }
    pthread_mutex_lock(&hv->lock);
    rc = hv_ram_access(hv, gpa, page, sizeof(page), HV_RAM_WRITE);
    if (!rc)
        hv_vram_mark(hv, gpa >> 12, 1);
    pthread_mutex_unlock(&hv->lock);
    return rc ? -EFAULT : 0;
}

void hv_hypercalls_get_stats(struct hv_hypercalls *h, struct hv_hypercall_stats *out)
{
    pthread_mutex_lock(&h->lock);
    *out = h->stats;
    pthread_mutex_unlock(&h->lock);
}

uint64_t hv_hypercalls_tsc_hz(const struct hv_hypercalls *h)
{
    return h->tsc_hz;
}

uint32_t hv_hypercalls_store_port(struct hv_hypercalls *h)
{
    uint32_t p;

    pthread_mutex_lock(&h->lock);
    p = h->xs.port;
    pthread_mutex_unlock(&h->lock);
    return p;
}
