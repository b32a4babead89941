/*
 * Event channels of the mock: two port tables (dom0's and the guest's).
 * Guest ends are created by ioreq servers (one per vCPU plus the buffered
 * port), unbound and waiting for dom0 to bind them. dom0 ends belong to an
 * evtchn connection (one library handle) and are delivered the way
 * /dev/xen/evtchn does it: a firing port is masked and its number written
 * to the handle's event pipe; while masked, further firings only set
 * `pending`, which unmask turns into one more delivery. A connection with an
 * event page (hv-evpage.c) keeps those two bits there instead, so that its
 * library can unmask without a message.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv-internal.h"

/* the libraries keep per-port state in arrays of this size */
_Static_assert(HV_MAX_PORTS <= WIRE_EVP_PORTS, "dom0 ports must fit the event page");

int hv_port_alloc(struct hv_porttable *t, uint32_t *port)
{
    /* port 0 is never valid in Xen */
    for (uint32_t i = 1; i < HV_MAX_PORTS; i++) {
        if (t->port[i].state == HV_PORT_FREE) {
            memset(&t->port[i], 0, sizeof(t->port[i]));
            t->port[i].server = -1;
            t->port[i].vcpu = -1;
            t->port[i].state = HV_PORT_UNBOUND;
            if (i >= t->nr)
                t->nr = i + 1;
            *port = i;
            return 0;
        }
    }
    return -ENOSPC;
}

struct hv_port *hv_port_get(struct hv_porttable *t, uint32_t port)
{
    if (port == 0 || port >= t->nr || t->port[port].state == HV_PORT_FREE)
        return NULL;
    return &t->port[port];
}

static void port_free(struct hv_porttable *t, uint32_t port)
{
    memset(&t->port[port], 0, sizeof(t->port[port]));
    t->port[port].state = HV_PORT_FREE;
    while (t->nr > 1 && t->port[t->nr - 1].state == HV_PORT_FREE)
        t->nr--;
}

static void deliver(struct hv_conn *c, uint32_t port)
{
    /* Every port is queued at most once while masked, and the table is
     * smaller than a pipe, so this cannot fill it; a client that clears the
     * mask bits in its event page early can, and then only it loses events:
     * the send never blocks. */
    ssize_t n = send(c->event_wr, &port, sizeof(port), MSG_NOSIGNAL | MSG_DONTWAIT);

    (void)n;
}

void hv_dom0_fire(struct mockhv *hv, uint32_t port)
{
    struct hv_port *p = hv_port_get(&hv->dom0_ports, port);

    if (!p || !p->conn || p->conn->event_wr < 0)
        return;
    if (p->conn->evp) {
        if (hv_evpage_fire(p->conn->evp, port))
            deliver(p->conn, port);
        return;
    }
    if (p->masked) {
        p->pending = true;
        return;
    }
    p->masked = true;
    deliver(p->conn, port);
}

void hv_guest_fire(struct mockhv *hv, uint32_t port)
{
    struct hv_port *p = hv_port_get(&hv->guest_ports, port);

    if (p && p->state == HV_PORT_INTERDOMAIN && !p->peer_is_guest)
        hv_dom0_fire(hv, p->peer);
}

/* The peer of a closed end falls back to "unbound, for the same domain". */
static void unbind_peer(struct mockhv *hv, struct hv_port *p, uint16_t peer_domid)
{
    struct hv_port *peer;

    if (p->state != HV_PORT_INTERDOMAIN)
        return;
    peer = hv_port_get(p->peer_is_guest ? &hv->guest_ports : &hv->dom0_ports, p->peer);
    if (!peer)
        return;
    peer->state = HV_PORT_UNBOUND;
    peer->remote_domid = peer_domid;
    peer->peer = 0;
    if (!p->peer_is_guest && peer->conn && peer->conn->evp)
        hv_evpage_undirect(peer->conn->evp, p->peer);
}

void hv_guest_port_close(struct mockhv *hv, uint32_t port)
{
    struct hv_port *p = hv_port_get(&hv->guest_ports, port);

    if (!p)
        return;
    unbind_peer(hv, p, hv->domid);
    port_free(&hv->guest_ports, port);
}

static void dom0_close(struct mockhv *hv, uint32_t port)
{
    struct hv_port *p = hv_port_get(&hv->dom0_ports, port);

    if (p->conn && p->conn->evp)
        hv_evpage_reset(p->conn->evp, port, false);
    unbind_peer(hv, p, 0);
    port_free(&hv->dom0_ports, port);
}

void hv_evtchn_conn_closed(struct mockhv *hv, struct hv_conn *c)
{
    for (uint32_t i = 1; i < hv->dom0_ports.nr; i++)
        if (hv->dom0_ports.port[i].state != HV_PORT_FREE && hv->dom0_ports.port[i].conn == c)
            dom0_close(hv, i);
    if (c->event_wr >= 0)
        close(c->event_wr);
    c->event_wr = -1;
    hv_evpage_put(c->evp);
    c->evp = NULL;
}

/* A vCPU's port: the guest end of a server's per-vCPU channel. */
static bool direct_peer(const struct hv_port *rp, bool guest)
{
    return guest && rp->server >= 0 && rp->vcpu >= 0;
}

int hv_evtchn_shared(struct hv_conn *c, struct wire_rep *rep, int *fd_out)
{
    struct mockhv *hv = c->hv;
    int rc;

    if (c->evp)
        return -EEXIST;
    rc = hv_evpage_new(&c->evp, fd_out);
    if (rc)
        return rc;
    /* ports bound before the page existed carry their state over */
    for (uint32_t i = 1; i < hv->dom0_ports.nr; i++) {
        struct hv_port *p = &hv->dom0_ports.port[i];
        struct hv_port *rp;
        bool direct = false;

        if (p->state == HV_PORT_FREE || p->conn != c)
            continue;
        if (p->state == HV_PORT_INTERDOMAIN && p->peer_is_guest) {
            rp = hv_port_get(&hv->guest_ports, p->peer);
            direct = rp && direct_peer(rp, true);
        }
        hv_evpage_reset(c->evp, i, direct);
        __atomic_fetch_or(&c->evp->port[i].state,
                          (p->masked ? WIRE_EVP_MASKED : 0) | (p->pending ? WIRE_EVP_PENDING : 0),
                          __ATOMIC_RELEASE);
    }
    rep->r[0] = sizeof(struct wire_evport) * WIRE_EVP_PORTS;
    return 0;
}

int hv_bound_ports_locked(struct mockhv *hv)
{
    int n = 0;

    for (uint32_t i = 1; i < hv->dom0_ports.nr; i++) {
        const struct hv_port *p = &hv->dom0_ports.port[i];
        if (p->state == HV_PORT_INTERDOMAIN && p->peer_is_guest)
            n++;
    }
    return n;
}

static int bind_interdomain(struct mockhv *hv, struct hv_conn *c, uint16_t domid, uint32_t remote)
{
    struct hv_porttable *rt;
    struct hv_port *rp, *lp;
    uint32_t local;
    int rc;

    if (domid == hv->domid && !hv->gone)
        rt = &hv->guest_ports;
    else if (domid == 0)
        rt = &hv->dom0_ports;
    else
        return -ESRCH;
    rp = hv_port_get(rt, remote);
    if (!rp || rp->state != HV_PORT_UNBOUND || rp->remote_domid != 0)
        return -EINVAL;
    rc = hv_port_alloc(&hv->dom0_ports, &local);
    if (rc)
        return rc;
    lp = &hv->dom0_ports.port[local];
    lp->state = HV_PORT_INTERDOMAIN;
    lp->remote_domid = domid;
    lp->peer_is_guest = domid != 0;
    lp->peer = remote;
    lp->conn = c;
    rp->state = HV_PORT_INTERDOMAIN;
    rp->peer_is_guest = false;
    rp->peer = local;
    if (c->evp)
        hv_evpage_reset(c->evp, local, direct_peer(rp, lp->peer_is_guest));
    /* Notifications sent to the unbound end were lost: Xen marks the new
     * local end pending, and so do we. */
    hv_dom0_fire(hv, local);
    return (int)local;
}

static void notify(struct mockhv *hv, struct hv_conn *c, uint32_t port)
{
    struct hv_port *p = hv_port_get(&hv->dom0_ports, port), *gp;

    if (!p || p->conn != c || p->state != HV_PORT_INTERDOMAIN)
        return;
    if (!p->peer_is_guest) {
        hv_dom0_fire(hv, p->peer);
        return;
    }
    gp = hv_port_get(&hv->guest_ports, p->peer);
    if (gp && gp->server >= 0 && gp->vcpu >= 0)
        hv_guest_notified(hv, hv_server_get(hv, (unsigned)gp->server), gp->vcpu);
}

int hv_evtchn_handle(struct hv_conn *c, const struct wire_req *req, struct wire_rep *rep)
{
    struct mockhv *hv = c->hv;
    struct hv_port *p;
    uint32_t port;
    int rc;

    switch (req->op) {
    /* A restricted /dev/xen/evtchn refuses with EACCES (privcmd says EPERM):
     * interdomain binds to another domain, and every unbound-port and virq
     * bind, whatever the domain. */
    case WIRE_OP_EVTCHN_BIND_INTERDOMAIN:
        if (c->restrict_domid >= 0 && req->domid != c->restrict_domid)
            return -EACCES;
        return bind_interdomain(hv, c, req->domid, (uint32_t)req->a[0]);
    case WIRE_OP_EVTCHN_BIND_UNBOUND:
        if (c->restrict_domid >= 0)
            return -EACCES;
        if ((req->domid != hv->domid || hv->gone) && req->domid != 0)
            return -ESRCH;
        rc = hv_port_alloc(&hv->dom0_ports, &port);
        if (rc)
            return rc;
        hv->dom0_ports.port[port].remote_domid = req->domid;
        hv->dom0_ports.port[port].conn = c;
        if (c->evp)
            hv_evpage_reset(c->evp, port, false);
        return (int)port;
    case WIRE_OP_EVTCHN_BIND_VIRQ:
        if (c->restrict_domid >= 0)
            return -EACCES;
        rc = hv_port_alloc(&hv->dom0_ports, &port);
        if (rc)
            return rc;
        hv->dom0_ports.port[port].state = HV_PORT_VIRQ;
        hv->dom0_ports.port[port].conn = c;
        if (c->evp)
            hv_evpage_reset(c->evp, port, false);
        return (int)port;
    case WIRE_OP_EVTCHN_UNBIND:
        p = req->a[0] < HV_MAX_PORTS ? hv_port_get(&hv->dom0_ports, (uint32_t)req->a[0]) : NULL;
        if (!p || p->conn != c)
            return -ENOTCONN;
        dom0_close(hv, (uint32_t)req->a[0]);
        return 0;
    case WIRE_OP_EVTCHN_NOTIFY:
        if (req->a[0] < HV_MAX_PORTS)
            notify(hv, c, (uint32_t)req->a[0]);
        return 0;
    case WIRE_OP_EVTCHN_UNMASK:
        p = req->a[0] < HV_MAX_PORTS ? hv_port_get(&hv->dom0_ports, (uint32_t)req->a[0]) : NULL;
        if (!p || p->conn != c)
            return 0;
        if (c->evp) {
            if (hv_evpage_unmask(c->evp, (uint32_t)req->a[0]) && c->event_wr >= 0)
                deliver(c, (uint32_t)req->a[0]);
            return 0;
        }
        p->masked = false;
        if (p->pending) {
            p->pending = false;
            hv_dom0_fire(hv, (uint32_t)req->a[0]);
        }
        return 0;
    }
    (void)rep;
    return -ENOSYS;
}
