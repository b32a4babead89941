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
 * Xen keeps a destroyed domain around as "dying" while another domain
 * still maps its pages, and xc_domain_getinfo reports it with the dying
 * flag until then. The mock cannot see a device model unmap (its mappings
 * are plain mmaps), so it goes from dying to gone at once: nothing in the
 * dying state is observable from outside.
 */
#include <errno.h>

#include "hv-internal.h"

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
    pthread_mutex_unlock(&hv->lock);
    /* the toolstack's part, once the hypervisor no longer knows the domain */
    hv_xenstore_release(hv);
    return 0;
}

bool mockhv_domain_destroyed(const struct mockhv *hv)
{
    return __atomic_load_n(&hv->gone, __ATOMIC_ACQUIRE);
}
