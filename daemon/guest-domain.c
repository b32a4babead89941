/*
 * xc_domain_getinfo() returns the first domain at or after the one asked
 * for, so a missing guest shows up as another domid (or none at all), not
 * as an error.
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
    if (n < 0) {
        /* Restricted: the xenctrl handle is neutered, the device-model one asks about our guest. */
        if (xendevicemodel_nr_vcpus(g->dmod, (domid_t)g->domid, &nr_vcpus) == 0)
            return GUEST_ALIVE;
        return errno == ESRCH ? GUEST_GONE : GUEST_UNKNOWN;
    }
    if (n == 0 || info.domid != g->domid || info.dying)
        return GUEST_GONE;
    return GUEST_ALIVE;
}
