/*
 * xc_domain_getinfo() returns the first domain at or after the one asked
 * for, so a missing guest shows up as another domid (or none at all), not
 * as an error.
 *
 * Restricted, the xenctrl handle can ask nothing, and a domain-wide
 * device-model call is no proof of life: Xen keeps a killed domain as
 * "dying" while we map its pages, and dm_op still finds it
 * (xendevicemodel_nr_vcpus answers), so we would hold it as a zombie. But
 * domain_kill destroyed its ioreq servers (hvm_domain_relinquish_resources
 * -> ioreq_server_destroy_all): asking about our own server fails with
 * ENOENT from then on.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>

#include "guest-domain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct guest_domain {
    xc_interface *xch;
    xendevicemodel_handle *dmod;
    unsigned domid;
    bool has_server;
    uint16_t server_id; /* ours, asked about when restricted */
};

int guest_domain_open(struct guest_domain **out, unsigned domid)
{
    struct guest_domain *g = calloc(1, sizeof(*g));

    if (!g)
        return -ENOMEM;
    g->domid = domid;
    g->xch = xc_interface_open(NULL, NULL, 0);
    if (!g->xch) {
        int rc = errno ? -errno : -EIO;
        free(g);
        return rc;
    }
    g->dmod = xendevicemodel_open(NULL, 0);
    if (!g->dmod) {
        int rc = errno ? -errno : -EIO;
        xc_interface_close(g->xch);
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void guest_domain_watch_server(struct guest_domain *g, uint16_t id)
{
    g->has_server = true;
    g->server_id = id;
}

void guest_domain_close(struct guest_domain *g)
{
    if (!g)
        return;
    xc_interface_close(g->xch);
    xendevicemodel_close(g->dmod);
    free(g);
}

enum guest_state guest_domain_state(struct guest_domain *g)
{
    xc_dominfo_t info;
    unsigned nr_vcpus;
    int n;

    memset(&info, 0, sizeof(info));
    n = xc_domain_getinfo(g->xch, g->domid, 1, &info);
    if (n < 0 && errno == ESRCH)
        return GUEST_GONE;
    if (n < 0 && g->has_server) {
        /* Restricted: the xenctrl handle is neutered; our server lives as long as the guest. */
        evtchn_port_t port;

        if (xendevicemodel_get_ioreq_server_info(g->dmod, (domid_t)g->domid, g->server_id, NULL,
                                                 NULL, &port) == 0)
            return GUEST_ALIVE;
        return errno == ENOENT || errno == ESRCH ? GUEST_GONE : GUEST_UNKNOWN;
    }
    if (n < 0) {
        /* No server yet: the device-model handle asks about our guest. */
        if (xendevicemodel_nr_vcpus(g->dmod, (domid_t)g->domid, &nr_vcpus) == 0)
            return GUEST_ALIVE;
        return errno == ESRCH ? GUEST_GONE : GUEST_UNKNOWN;
    }
    if (n == 0 || info.domid != g->domid || info.dying)
        return GUEST_GONE;
    return GUEST_ALIVE;
}
