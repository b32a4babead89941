/*
 * xen_version, as common/kernel.c answers a domU of Xen 4.17.0 with the
 * default XSM policy (xsm/dummy.h: everything but the command line and the
 * build id is open to every domain; those two are for dom0).
 */
#include <errno.h>
#include <string.h>

#include "hc-internal.h"

#include <xen/features.h>
#include <xen/version.h>

#define HC_XEN_MAJOR  4
#define HC_XEN_MINOR  17
#define HC_XEN_EXTRA  ".0"
#define HC_XEN_DENIED "<denied>" /* xen_deny() */

/* What XENVER_get_features submap 0 holds for an HVM domU on x86 with HAP:
 * translated (writable page tables, auto-translated physmap), vNUMA memory
 * ops, the HVM bits (safe pvclock, callback vector, and PIRQs because libxl
 * gives HVM guests XEN_X86_EMU_USE_PIRQ), not direct-mapped. */
#define HC_FEATURES                                                                                \
    ((1u << XENFEAT_writable_page_tables) | (1u << XENFEAT_auto_translated_physmap) |              \
     (1u << XENFEAT_hvm_callback_vector) | (1u << XENFEAT_hvm_safe_pvclock) |                      \
     (1u << XENFEAT_hvm_pirqs) | (1u << XENFEAT_memory_op_vnode_supported) |                       \
     (1u << XENFEAT_not_direct_mapped))

/* The handle getdomaininfo reports (hv-xc.c), which XENVER_guest_handle returns. */
static void domain_handle(const struct hv_hypercalls *h, uint8_t out[16])
{
    memset(out, 0, 16);
    out[0] = (uint8_t)(h->hv->domid >> 8);
    out[1] = (uint8_t)h->hv->domid;
    out[15] = 0x5a;
}

static long put_string(struct hv_hypercalls *h, uint32_t gpa, size_t size, const char *s)
{
    char buf[1024];

    memset(buf, 0, size);
    strncpy(buf, s, size - 1);
    return hc_write(h, gpa, buf, size);
}

long hc_xen_version(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a)
{
    uint32_t cmd = a[0], arg = a[1];

    switch (cmd) {
    case XENVER_version:
        return (HC_XEN_MAJOR << 16) | HC_XEN_MINOR;
    case XENVER_extraversion:
        return put_string(h, arg, sizeof(xen_extraversion_t), HC_XEN_EXTRA);
    case XENVER_compile_info: {
        xen_compile_info_t ci;

        memset(&ci, 0, sizeof(ci));
        strncpy(ci.compiler, "gcc (Debian 12.2.0-14) 12.2.0", sizeof(ci.compiler) - 1);
        strncpy(ci.compile_by, "mockxen", sizeof(ci.compile_by) - 1);
        strncpy(ci.compile_domain, "localdomain", sizeof(ci.compile_domain) - 1);
        strncpy(ci.compile_date, "Wed Dec 7 00:00:00 UTC 2022", sizeof(ci.compile_date) - 1);
        return hc_write(h, arg, &ci, sizeof(ci));
    }
    case XENVER_capabilities:
        /* arch_get_xen_caps on x86_64 with HVM */
        return put_string(h, arg, sizeof(xen_capabilities_info_t),
                          "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64");
    case XENVER_changeset:
        return put_string(h, arg, sizeof(xen_changeset_info_t), "unavailable");
    case XENVER_platform_parameters: {
        /* compat: an unsigned long, HYPERVISOR_COMPAT_VIRT_START(d), which
         * only PV domains set (hv_compat_vstart): 0 for an HVM guest */
        uint32_t virt_start = 0;

        return hc_write(h, arg, &virt_start, sizeof(virt_start));
    }
    case XENVER_get_features: {
        xen_feature_info_t fi;
        long rc = hc_read(h, arg, &fi, sizeof(fi));

        if (rc)
            return rc;
        if (fi.submap_idx != 0)
            return -EINVAL;
        fi.submap = HC_FEATURES;
        return hc_write(h, arg, &fi, sizeof(fi));
    }
    case XENVER_pagesize:
        return arg ? -EINVAL : (long)HV_PAGE_SIZE;
    case XENVER_guest_handle: {
        uint8_t hdl[16];

        domain_handle(h, hdl);
        return hc_write(h, arg, hdl, sizeof(hdl));
    }
    case XENVER_commandline:
        /* denied to a domU: the copy is just xen_deny()'s string */
        return hc_write(h, arg, HC_XEN_DENIED, sizeof(HC_XEN_DENIED));
    case XENVER_build_id:
        hc_count(h, &h->stats.denied);
        return -EPERM;
    default:
        hc_count(h, &h->stats.unknown_subop);
        return -ENOSYS;
    }
}
