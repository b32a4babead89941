/*
 * xc_domain_getinfo() returns the first domain at or after the one asked
 * for, so a missing guest shows up as another domid (or none at all), not
 * as an error.
 */
#include <xenctrl.h>

#include "guest-domain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct guest_domain {
    xc_interface *xch;
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
    *out = g;
    return 0;
}

void guest_domain_close(struct guest_domain *g)
{
    if (!g)
        return;
    xc_interface_close(g->xch);
    free(g);
}

enum guest_state guest_domain_state(struct guest_domain *g)
{
    xc_dominfo_t info;
    int n;

    memset(&info, 0, sizeof(info));
    n = xc_domain_getinfo(g->xch, g->domid, 1, &info);
    if (n < 0)
        return errno == ESRCH ? GUEST_GONE : GUEST_UNKNOWN;
    if (n == 0 || info.domid != g->domid || info.dying)
        return GUEST_GONE;
    return GUEST_ALIVE;
}
