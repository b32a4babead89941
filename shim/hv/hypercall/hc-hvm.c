/*
 * hvm_op, as arch/x86/hvm/hvm.c answers the guest itself: HVM params with
 * hvm_allow_get_param / hvm_allow_set_param (what a guest may read or
 * write of its own params; deprecated ones are -EINVAL, the rest -EPERM),
 * the per-param checks of hvm_set_param that matter to firmware, and the
 * small ops (get_time, flush_tlbs, pagetable_dying, get_mem_type).
 */
#include <errno.h>
#include <string.h>

#include "hc-internal.h"

#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#include "log.h"

#define VM86_TSS_UPDATED (1ull << 63)
#define TSS32_SIZE       104 /* sizeof(struct tss32) */
#define TSS_SIZE_MAX     (TSS32_SIZE + 0x100 / 8 + 0x10000 / 8 + 1)

/* struct xen_hvm_param: the same in both layouts */
struct hc_param {
    uint16_t domid;
    uint16_t pad;
    uint32_t index;
    uint64_t value;
};
_Static_assert(sizeof(struct hc_param) == sizeof(struct xen_hvm_param), "xen_hvm_param");

/* What a guest may neither read nor write: -EINVAL for the parameters Xen
 * refuses outright, -EPERM for those only the toolstack may touch. */
static int param_refused(uint32_t index)
{
    switch (index) {
    case HVM_PARAM_PAE_ENABLED:
    case HVM_PARAM_DM_DOMAIN:
    case HVM_PARAM_MEMORY_EVENT_CR0:
    case HVM_PARAM_MEMORY_EVENT_CR3:
    case HVM_PARAM_MEMORY_EVENT_CR4:
    case HVM_PARAM_MEMORY_EVENT_INT3:
    case HVM_PARAM_NESTEDHVM:
    case HVM_PARAM_MEMORY_EVENT_SINGLE_STEP:
    case HVM_PARAM_BUFIOREQ_EVTCHN:
    case HVM_PARAM_MEMORY_EVENT_MSR:
        return -EINVAL;
    default:
        return -EPERM;
    }
}

static int allow_get(uint32_t index)
{
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
    case HVM_PARAM_VM86_TSS:
    case HVM_PARAM_VM86_TSS_SIZED:
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
    case HVM_PARAM_VM_GENERATION_ID_ADDR:
    case HVM_PARAM_STORE_PFN:
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_PFN:
    case HVM_PARAM_CONSOLE_EVTCHN:
    case HVM_PARAM_ALTP2M:
    case HVM_PARAM_X87_FIP_WIDTH:
        return 0;
    default:
        return param_refused(index);
    }
}

static int allow_set(uint32_t index)
{
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
    case HVM_PARAM_VM86_TSS:
    case HVM_PARAM_VM86_TSS_SIZED:
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
    case HVM_PARAM_VM_GENERATION_ID_ADDR:
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_EVTCHN:
    case HVM_PARAM_X87_FIP_WIDTH:
        return 0;
    default:
        return param_refused(index);
    }
}

/* domain_crash() of the calling domain: the mock's crashed state. */
static void crash(struct hv_hypercalls *h, const char *why)
{
    pthread_mutex_lock(&h->hv->lock);
    h->hv->crashed = true;
    hv_guest_abort_all(h->hv);
    pthread_mutex_unlock(&h->hv->lock);
    log_guest("hypercall: domain crashed: %s", why);
}

/* hvm_set_param with the caller's permission already checked; hv->lock held. */
static int set_param(struct hv_hypercalls *h, uint32_t index, uint64_t value, bool *crashed)
{
    uint64_t *params = h->hv->params;

    switch (index) {
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
        /* pmtimer_change_ioport: only between versions 0 and 1 */
        if (value == params[index])
            return 0;
        if ((value ^ params[index]) != 1)
            return -EINVAL;
        break;
    case HVM_PARAM_X87_FIP_WIDTH:
        if (value != 0 && value != 4 && value != 8)
            return -EINVAL;
        break;
    case HVM_PARAM_VM86_TSS:
        /* hardware would truncate: Xen crashes a guest that tries */
        if (value != (uint32_t)value) {
            *crashed = true;
            return -EINVAL;
        }
        /* old hvmloaders set the 128-byte TSS this way */
        if (value)
            value |= (128ull << 32) | VM86_TSS_UPDATED;
        index = HVM_PARAM_VM86_TSS_SIZED;
        break;
    case HVM_PARAM_VM86_TSS_SIZED:
        if ((value >> 32) < TSS32_SIZE) {
            *crashed = true;
            return -EINVAL;
        }
        if ((value >> 32) > TSS_SIZE_MAX)
            value = (uint32_t)value | ((uint64_t)TSS_SIZE_MAX << 32);
        value |= VM86_TSS_UPDATED;
        break;
    default:
        break;
    }
    params[index] = value;
    return 0;
}

static long param_op(struct hv_hypercalls *h, uint32_t gpa, bool set)
{
    struct hc_param p;
    bool crashed = false;
    int rc = hc_read(h, gpa, &p, sizeof(p));

    if (rc)
        return rc;
    if (p.index >= HVM_NR_PARAMS)
        return -EINVAL;
    /* dom0 is a PV domain: "not an HVM domain" is -EINVAL */
    rc = hc_domain(h, p.domid, -EINVAL);
    if (!rc)
        rc = set ? allow_set(p.index) : allow_get(p.index);
    if (rc) {
        hc_count(h, &h->stats.denied);
        return rc;
    }
    pthread_mutex_lock(&h->hv->lock);
    if (set) {
        rc = set_param(h, p.index, p.value, &crashed);
    } else {
        uint64_t *params = h->hv->params;

        switch (p.index) {
        case HVM_PARAM_VM86_TSS:
            p.value = (uint32_t)params[HVM_PARAM_VM86_TSS_SIZED];
            break;
        case HVM_PARAM_VM86_TSS_SIZED:
            p.value = params[HVM_PARAM_VM86_TSS_SIZED] & ~VM86_TSS_UPDATED;
            break;
        default:
            p.value = params[p.index];
            break;
        }
    }
    pthread_mutex_unlock(&h->hv->lock);
    if (crashed)
        crash(h, "VM86 TSS parameter out of range");
    if (!rc && !set)
        rc = hc_write(h, gpa, &p, sizeof(p));
    return rc;
}

long hc_hvm_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a)
{
    uint32_t op = a[0], arg = a[1];

    switch (op) {
    case HVMOP_set_param:
        return param_op(h, arg, true);
    case HVMOP_get_param:
        return param_op(h, arg, false);
    case HVMOP_flush_tlbs:
        return arg ? -EINVAL : 0;
    case HVMOP_pagetable_dying: {
        struct xen_hvm_pagetable_dying pd;
        int rc = hc_read(h, arg, &pd, sizeof(pd));

        if (rc)
            return rc;
        rc = hc_domain(h, pd.domid, -EOPNOTSUPP);
        /* only shadow paging cares; with HAP it is -EINVAL */
        return rc ? rc : -EINVAL;
    }
    case HVMOP_get_time: {
        uint64_t now = hc_system_time(h);

        return hc_write(h, arg, &now, sizeof(now));
    }
    case HVMOP_get_mem_type: {
        struct xen_hvm_get_mem_type mt;
        int rc = hc_read(h, arg, &mt, sizeof(mt));

        if (rc)
            return rc;
        rc = hc_domain(h, mt.domid, -EINVAL);
        if (rc)
            return rc;
        pthread_mutex_lock(&h->hv->lock);
        if (hv_p2m_lookup(h->hv, mt.pfn) < 0)
            mt.mem_type = HVMMEM_mmio_dm;
        else
            mt.mem_type = (uint16_t)hv_memtype_of(h->hv, mt.pfn);
        pthread_mutex_unlock(&h->hv->lock);
        return hc_write(h, arg, &mt, sizeof(mt));
    }
    case HVMOP_guest_request_vm_event:
        /* no monitor listens */
        return arg ? -EINVAL : 0;
    default:
        hc_count(h, &h->stats.unknown_subop);
        return -ENOSYS;
    }
}
