/*
 * Is the guest still there? Asked when xenstore fires @releaseDomain, which
 * it does for every domain that goes away, not just ours, and, once the
 * daemon restricted its Xen handles (no xenstore, a libxenctrl handle that
 * can ask nothing), on a timer: a device-model operation about our own
 * ioreq server is still allowed, and fails with ENOENT once the domain is
 * dying (its servers destroyed) and ESRCH once it is gone.
 */
#ifndef IOREQD_GUEST_DOMAIN_H
#define IOREQD_GUEST_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

struct guest_domain;

/* Opens a libxenctrl and a libxendevicemodel handle. 0 or -errno. */
int guest_domain_open(struct guest_domain **out, unsigned domid) must_check;
void guest_domain_close(struct guest_domain *g);

enum guest_state {
    GUEST_ALIVE,
    GUEST_GONE,    /* no such domain, or it is dying */
    GUEST_UNKNOWN, /* the hypervisor could not be asked */
};

enum guest_state guest_domain_state(struct guest_domain *g);

/*
 * From now on, when xenctrl cannot answer (restricted), the guest counts
 * as alive while ioreq server `id` exists: a dying domain still answers
 * domain-wide calls, its servers are gone.
 */
void guest_domain_watch_server(struct guest_domain *g, uint16_t id);

#endif
