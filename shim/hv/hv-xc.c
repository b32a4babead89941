/*
 * The xenctrl view of the mock: domain information (dom0 and the one HVM
 * guest), HVM parameters, checked like Xen checks them (index range,
 * unknown domain), and populate_physmap (hv-memory.c).
 */
#include <errno.h>
#include <string.h>

#include "hv-internal.h"

static void fill_info(struct mockhv *hv, uint16_t domid, struct wire_dominfo *d)
{
    memset(d, 0, sizeof(*d));
    d->domid = domid;
    if (domid == 0) {
        d->flags = WIRE_DOMINFO_RUNNING;
        d->nr_vcpus = 1;
        d->nr_pages = d->max_pages = 0x40000;
        return;
    }
    d->flags = WIRE_DOMINFO_HVM | WIRE_DOMINFO_RUNNING;
    if (hv->shutdown_reason >= 0) {
        d->flags = (d->flags & ~WIRE_DOMINFO_RUNNING) | WIRE_DOMINFO_SHUTDOWN;
        d->shutdown_reason = (uint32_t)hv->shutdown_reason;
    }
    if (hv->crashed)
        d->flags = (d->flags & ~WIRE_DOMINFO_RUNNING) | WIRE_DOMINFO_CRASHED;
    if (hv->gone) /* killed, still held by a mapping: hv-domain-destroy.c */
        d->flags = (d->flags & ~WIRE_DOMINFO_RUNNING) | WIRE_DOMINFO_DYING;
    d->nr_vcpus = hv->nr_vcpus;
    d->nr_pages = d->max_pages = hv->ram_bytes >> 12;
    d->handle[0] = (uint8_t)(domid >> 8);
    d->handle[1] = (uint8_t)domid;
    d->handle[15] = 0x5a;
}

int hv_xc_handle(struct hv_conn *c, const struct wire_req *req, size_t len, struct wire_rep *rep,
                 void *payload, uint32_t *payload_len)
{
    struct mockhv *hv = c->hv;
    struct wire_dominfo *out = payload;
    uint64_t idx = req->a[0];
    uint32_t n = 0;
    int rc;

    switch (req->op) {
    case WIRE_OP_XC_DOMAIN_INFO:
        /* domains at or after first, in domid order: 0 and ours */
        for (unsigned i = 0; i < 2; i++) {
            uint32_t d = i == 0 ? 0 : hv->domid;
            if (d < req->a[0] || n >= req->a[1] || (d && hv->released))
                continue;
            if (c->restrict_domid >= 0 && d != (uint32_t)c->restrict_domid)
                continue;
            fill_info(hv, (uint16_t)d, &out[n++]);
        }
        *payload_len = n * sizeof(*out);
        return (int)n;
    case WIRE_OP_XC_HVM_PARAM_GET:
    case WIRE_OP_XC_HVM_PARAM_SET:
        rc = hv_check_domid(c, req->domid);
        if (rc)
            return rc;
        if (idx >= HV_NR_HVM_PARAMS)
            return -EINVAL;
        if (req->op == WIRE_OP_XC_HVM_PARAM_GET)
            rep->r[0] = hv->params[idx];
        else
            hv->params[idx] = req->a[1];
        return 0;
    case WIRE_OP_XC_POPULATE_PHYSMAP:
        rc = hv_check_domid(c, req->domid);
        return rc ? rc : hv_populate_physmap(hv, req, len);
    }
    return -ENOSYS;
}

int mockhv_hvm_param_get(struct mockhv *hv, unsigned index, uint64_t *val)
{
    if (index >= HV_NR_HVM_PARAMS)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    *val = hv->params[index];
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

int mockhv_hvm_param_set(struct mockhv *hv, unsigned index, uint64_t val)
{
    if (index >= HV_NR_HVM_PARAMS)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    hv->params[index] = val;
    pthread_mutex_unlock(&hv->lock);
    return 0;
}
