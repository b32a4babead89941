/*
 * Drop-in libxengnttab.so.1. The mock guest grants nothing, so there is
 * nothing to map or share. A gnttab handle still opens (device models open
 * one at start-up to probe features, and a failure there would stop them),
 * is registered for xentoolcore_restrict_all, and accepts set_max_grants;
 * every mapping, copy and dma-buf call fails with ENOSYS, and so does
 * opening a gntshr handle.
 */
#include <xengnttab.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "shim-toolcore.h"

struct xengntdev_handle {
    Xentoolcore__Active_Handle tc_ah;
};

static int restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    return 0; /* grants only ever reach the mock's one guest */
}

static void *null_enosys(void)
{
    errno = ENOSYS;
    return NULL;
}

static int fail_enosys(void)
{
    errno = ENOSYS;
    return -1;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    xengnttab_handle *xgt = calloc(1, sizeof(*xgt));

    if (!xgt)
        return NULL;
    xgt->tc_ah.restrict_callback = restrict_cb;
    xentoolcore__register_active_handle(&xgt->tc_ah);
    return xgt;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    if (!xgt)
        return 0;
    xentoolcore__deregister_active_handle(&xgt->tc_ah);
    free(xgt);
    return 0;
}

int xengnttab_fd(xengnttab_handle *xgt)
{
    return fail_enosys();
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    return null_enosys();
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
                               uint32_t *refs, int prot)
{
    return null_enosys();
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    return null_enosys();
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot,
                                     uint32_t notify_offset, evtchn_port_t notify_port)
{
    return null_enosys();
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    return fail_enosys();
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    return fail_enosys();
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t flags,
                                   uint32_t count, const uint32_t *refs, uint32_t *fd)
{
    return fail_enosys();
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd, uint32_t wait_to_ms)
{
    return fail_enosys();
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t fd, uint32_t count,
                                 uint32_t *refs)
{
    return fail_enosys();
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
    return fail_enosys();
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    return null_enosys();
}

int xengntshr_close(xengntshr_handle *xgs)
{
    return 0;
}

int xengntshr_fd(xengntshr_handle *xgs)
{
    return fail_enosys();
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
                            int writable)
{
    return null_enosys();
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid, uint32_t *ref,
                                  int writable, uint32_t notify_offset, evtchn_port_t notify_port)
{
    return null_enosys();
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count)
{
    return fail_enosys();
}
