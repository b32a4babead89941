/*
 * Destroying the domain while its device models still run, as `xl destroy`
 * does on Xen: the hypervisor kills the domain (its ioreq servers are
 * destroyed, its event channels closed, waiting vCPUs stop), then the
 * toolstack releases it in xenstore and removes its keys. The mock's socket
 * server stays up, so device models keep their connections and see what
 * they would see on Xen:
 *
 * - hypercalls naming the domain (device-model ops, foreign memory,
 *   binding its event channels, HVM params) fail with ESRCH, as they do
 *   once Xen can no longer find the domain; xc_domain_getinfo skips it;
 * - a dom0 port that was bound to one of the domain's ports stays
 *   allocated, but its remote end is closed: Xen turns it into an unbound
 *   port, where a notification is silently dropped and closing it still
 *   succeeds (closing concerns only the caller's own port);
 * - mappings already made stay readable and writable (the memfds live on
 *   as long as the mappings, as a dying domain's pages do on Xen).
 *
 * Xen keeps a killed domain as "dying" while another domain still maps
 * its pages (domain_kill relinquishes what it can; the struct domain goes
 * only with its last reference), and rcu_lock_domain_by_id still finds it.
 * So in that window, as on Xen:
 *
 * - xc_domain_getinfo lists it with the dying flag;
 * - dm_op finds it (xen/arch/x86/hvm/dm.c has no is_dying check but in
 *   track_dirty_vram): XEN_DMOP_nr_vcpus still answers, while every call
 *   about an ioreq server fails with ENOENT, since domain_kill ->
 *   hvm_domain_relinquish_resources -> ioreq_server_destroy_all destroyed
 *   them. The mock's simplification: every other call, creating a server
 *   included, fails with ESRCH as it does once the domain is gone.
 *
 * The mock cannot see a device model unmap (its mappings are plain mmaps):
 * it counts a foreign-memory connection that mapped the domain's RAM or
 * ioreq pages as holding it until that connection closes. Once none is
 * left (at once, if none had mapped), the domain is released: nothing
 * finds it any more.
 */
#include <errno.h>
#include <time.h>

#include "hv-internal.h"

static bool any_mapper(const struct mockhv *hv)
{
    for (const struct hv_conn *c = hv->conns; c; c = c->next)
        if (c->maps_domain)
            return true;
    return false;
}

void hv_domain_mapper_closed(struct mockhv *hv, struct hv_conn *c)
{
    c->maps_domain = false;
    if (hv->gone && !hv->released && !any_mapper(hv))
        hv->released = true;
}

int hv_domain_dying_op(const struct mockhv *hv, uint32_t op)
{
    if (!hv->gone || hv->released)
        return -ESRCH;
    switch (op) {
    case WIRE_OP_DM_NR_VCPUS:
    case WIRE_OP_DM_GET_SERVER_INFO:
    case WIRE_OP_DM_MAP_RANGE:
    case WIRE_OP_DM_UNMAP_RANGE:
    case WIRE_OP_DM_MAP_PCIDEV:
    case WIRE_OP_DM_UNMAP_PCIDEV:
    case WIRE_OP_DM_SET_SERVER_STATE:
    case WIRE_OP_DM_DESTROY_SERVER:
        return 0;
    default:
        return -ESRCH;
    }
}

int mockhv_domain_destroy(struct mockhv *hv)
{
    pthread_mutex_lock(&hv->lock);
    if (hv->gone) {
        pthread_mutex_unlock(&hv->lock);
        return -ESRCH;
    }
    /* dying: from here on every hypercall naming it fails */
    __atomic_store_n(&hv->gone, true, __ATOMIC_RELEASE);
    /* waiting vCPUs see `gone` and return -ESHUTDOWN */
    hv_guest_abort_all(hv);
    pthread_cond_broadcast(&hv->irqs.cond);
    /* closes the servers' guest ports: their dom0 peers become unbound */
    hv_servers_fini(hv);
    hv->released = !any_mapper(hv);
    pthread_mutex_unlock(&hv->lock);
    /* the toolstack's part, once the hypervisor no longer knows the domain */
    hv_xenstore_release(hv);
    return 0;
}

bool mockhv_domain_destroyed(const struct mockhv *hv)
{
    return __atomic_load_n(&hv->gone, __ATOMIC_ACQUIRE);
}

int mockhv_domain_wait_released(struct mockhv *hv, int timeout_ms)
{
    const struct timespec step = {.tv_nsec = 1000000};
    long waited = 0;

    if (timeout_ms <= 0)
        timeout_ms = MOCKHV_DEFAULT_TIMEOUT_MS;
    if (!mockhv_domain_destroyed(hv))
        return -EINVAL;
    while (mockhv_domain_dying(hv)) {
        if (waited++ >= timeout_ms)
            return -ETIMEDOUT;
        nanosleep(&step, NULL);
    }
    return 0;
}

bool mockhv_domain_dying(struct mockhv *hv)
{
    bool dying;

    pthread_mutex_lock(&hv->lock);
    dying = hv->gone && !hv->released;
    pthread_mutex_unlock(&hv->lock);
    return dying;
}
