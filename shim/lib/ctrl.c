/*
 * Drop-in libxenctrl.so.4.17, the part a device model uses: opening the
 * interface, domain information and HVM parameters. The real library's
 * hypercall handle is neutered by xentoolcore_restrict_all (its privcmd fd
 * becomes /dev/null), so after a restriction every call here fails with
 * ENOTTY, as the real ioctl on /dev/null does.
 */
#include <xenctrl.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shim-toolcore.h"
#include "shim-transport.h"

struct xc_interface_core {
    Xentoolcore__Active_Handle tc_ah;
    struct shim_conn conn;
    bool neutered;
};

#define HANDLE_OF(ah) ((xc_interface *)((char *)(ah)-offsetof(xc_interface, tc_ah)))

static int restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    HANDLE_OF(ah)->neutered = true;
    return 0;
}

static bool usable(xc_interface *xch)
{
    if (xch->neutered)
        errno = ENOTTY;
    return !xch->neutered;
}

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    xc_interface *xch = calloc(1, sizeof(*xch));
    int err;

    if (!xch)
        return NULL;
    xch->tc_ah.restrict_callback = restrict_cb;
    xentoolcore__register_active_handle(&xch->tc_ah);
    if (shim_conn_open(&xch->conn, WIRE_KIND_XC, true, NULL) < 0) {
        err = errno;
        xentoolcore__deregister_active_handle(&xch->tc_ah);
        free(xch);
        errno = err;
        return NULL;
    }
    return xch;
}

int xc_interface_close(xc_interface *xch)
{
    if (!xch)
        return 0;
    xentoolcore__deregister_active_handle(&xch->tc_ah);
    shim_conn_close(&xch->conn);
    free(xch);
    return 0;
}

/* Domains at or after first, up to max (at most 2 exist: dom0 and the guest). */
static int dominfo(xc_interface *xch, uint32_t first, unsigned max, struct wire_dominfo out[2])
{
    struct wire_req req = {.op = WIRE_OP_XC_DOMAIN_INFO, .a = {first, max < 2 ? max : 2}};
    struct wire_rep rep;
    size_t len = 0;
    int n;

    if (!usable(xch))
        return -1;
    n = shim_call(&xch->conn, &req, NULL, 0, &rep, out, 2 * sizeof(out[0]), &len, NULL);
    if (n < 0)
        return -1;
    if ((size_t)n > len / sizeof(out[0]))
        n = (int)(len / sizeof(out[0]));
    return n;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t *info)
{
    struct wire_dominfo d[2];
    int n = dominfo(xch, first_domid, max_doms, d);

    for (int i = 0; i < n; i++) {
        memset(&info[i], 0, sizeof(info[i]));
        info[i].domid = d[i].domid;
        info[i].ssidref = d[i].ssidref;
        info[i].hvm = !!(d[i].flags & WIRE_DOMINFO_HVM);
        info[i].hap = info[i].hvm;
        info[i].running = !!(d[i].flags & WIRE_DOMINFO_RUNNING);
        info[i].shutdown = !!(d[i].flags & WIRE_DOMINFO_SHUTDOWN);
        info[i].crashed = !!(d[i].flags & WIRE_DOMINFO_CRASHED);
        info[i].dying = !!(d[i].flags & WIRE_DOMINFO_DYING);
        info[i].shutdown_reason = d[i].shutdown_reason;
        info[i].nr_pages = d[i].nr_pages;
        info[i].max_memkb = d[i].max_pages << 2;
        info[i].nr_online_vcpus = d[i].nr_vcpus;
        info[i].max_vcpu_id = d[i].nr_vcpus ? d[i].nr_vcpus - 1 : 0;
        memcpy(info[i].handle, d[i].handle, sizeof(info[i].handle));
    }
    return n;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t *info)
{
    struct wire_dominfo d[2];
    int n = dominfo(xch, first_domain, max_domains, d);

    for (int i = 0; i < n; i++) {
        memset(&info[i], 0, sizeof(info[i]));
        info[i].domain = (domid_t)d[i].domid;
        info[i].flags =
            (d[i].flags & WIRE_DOMINFO_HVM ? XEN_DOMINF_hvm_guest | XEN_DOMINF_hap : 0) |
            (d[i].flags & WIRE_DOMINFO_RUNNING ? XEN_DOMINF_running : 0) |
            (d[i].flags & WIRE_DOMINFO_SHUTDOWN ? XEN_DOMINF_shutdown : 0) |
            (d[i].flags & WIRE_DOMINFO_DYING ? XEN_DOMINF_dying : 0) |
            (d[i].shutdown_reason & XEN_DOMINF_shutdownmask) << XEN_DOMINF_shutdownshift;
        info[i].tot_pages = d[i].nr_pages;
        info[i].max_pages = d[i].max_pages;
        info[i].nr_online_vcpus = d[i].nr_vcpus;
        info[i].max_vcpu_id = d[i].nr_vcpus ? d[i].nr_vcpus - 1 : 0;
        info[i].ssidref = d[i].ssidref;
        memcpy(info[i].handle, d[i].handle, sizeof(info[i].handle));
    }
    return n;
}

int xc_hvm_param_get(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t *value)
{
    struct wire_rep rep;
    uint64_t a = param;

    if (!usable(handle))
        return -1;
    if (dom > 0xffff) {
        errno = ESRCH;
        return -1;
    }
    if (shim_simple(&handle->conn, WIRE_OP_XC_HVM_PARAM_GET, (uint16_t)dom, &a, 1, &rep) < 0)
        return -1;
    *value = rep.r[0];
    return 0;
}

int xc_hvm_param_set(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t value)
{
    uint64_t a[2] = {param, value};

    if (!usable(handle))
        return -1;
    if (dom > 0xffff) {
        errno = ESRCH;
        return -1;
    }
    return shim_simple(&handle->conn, WIRE_OP_XC_HVM_PARAM_SET, (uint16_t)dom, a, 2, NULL) < 0 ? -1
                                                                                               : 0;
}

int xc_get_hvm_param(xc_interface *handle, uint32_t dom, int param, unsigned long *value)
{
    uint64_t v;
    int rc = xc_hvm_param_get(handle, dom, (uint32_t)param, &v);

    if (!rc)
        *value = (unsigned long)v;
    return rc;
}

int xc_set_hvm_param(xc_interface *handle, uint32_t dom, int param, unsigned long value)
{
    return xc_hvm_param_set(handle, dom, (uint32_t)param, value);
}

/*
 * XENMEM_populate_physmap for another domain (QEMU's VRAM and ROMs): the
 * extents go in batches; as in Xen, a failure leaves the batches before it
 * done. mem_flags (NUMA node, address bits) mean nothing on the mock.
 */
int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t domid, unsigned long nr_extents,
                                     unsigned int extent_order, unsigned int mem_flags,
                                     xen_pfn_t *extent_start)
{
    if (!usable(xch))
        return -1;
    if (domid > 0xffff) {
        errno = ESRCH;
        return -1;
    }
    if (nr_extents && !extent_start) {
        errno = EFAULT;
        return -1;
    }
    for (unsigned long done = 0; done < nr_extents;) {
        unsigned long n =
            nr_extents - done < WIRE_MAX_POPULATE ? nr_extents - done : WIRE_MAX_POPULATE;
        struct wire_req req = {
            .op = WIRE_OP_XC_POPULATE_PHYSMAP, .domid = (uint16_t)domid, .a = {n, extent_order}};
        uint64_t *gfns = malloc(n * sizeof(*gfns));
        struct wire_rep rep;
        int rc;

        if (!gfns)
            return -1;
        for (unsigned long i = 0; i < n; i++)
            gfns[i] = extent_start[done + i];
        rc = shim_call(&xch->conn, &req, gfns, n * sizeof(*gfns), &rep, NULL, 0, NULL, NULL);
        free(gfns);
        if (rc < 0)
            return -1;
        done += n;
    }
    return 0;
}
