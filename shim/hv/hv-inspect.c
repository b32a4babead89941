/*
 * Read-only views of the mock's ioreq servers and event channels, for tests
 * asserting what a device model registered, bound and left behind.
 */
#include <errno.h>
#include <string.h>

#include "hv-internal.h"

int mockhv_servers(struct mockhv *hv, uint16_t *ids, size_t max)
{
    int n = 0;

    pthread_mutex_lock(&hv->lock);
    for (unsigned i = 0; i < HV_MAX_SERVERS; i++) {
        if (!hv->servers[i].used)
            continue;
        if ((size_t)n < max)
            ids[n] = (uint16_t)i;
        n++;
    }
    pthread_mutex_unlock(&hv->lock);
    return n;
}

static bool port_bound(struct mockhv *hv, uint32_t port)
{
    struct hv_port *p = port ? hv_port_get(&hv->guest_ports, port) : NULL;

    return p && p->state == HV_PORT_INTERDOMAIN;
}

int mockhv_server_info(struct mockhv *hv, uint16_t id, struct mockhv_server_info *out)
{
    struct hv_server *s;
    int rc = 0;

    pthread_mutex_lock(&hv->lock);
    s = hv_server_get(hv, id);
    if (!s) {
        rc = -ENOENT;
        goto out;
    }
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->enabled = s->enabled;
    out->bufioreq_handling = s->bufioreq;
    out->bufioreq_port = s->buf_port;
    out->bufioreq_port_bound = port_bound(hv, s->buf_port);
    out->nr_vcpus = hv->nr_vcpus;
    for (unsigned v = 0; v < hv->nr_vcpus; v++)
        out->nr_vcpu_ports_bound += port_bound(hv, s->vcpu_port[v]);
    for (unsigned t = 0; t < HV_RANGE_TYPES; t++)
        out->nr_ranges += s->ranges[t].nr;
    out->requests_sent = s->requests_sent;
    out->buffered_sent = s->buffered_sent;
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_server_ranges(struct mockhv *hv, uint16_t id, struct mockhv_range *out, size_t max)
{
    struct hv_server *s;
    int n = 0;

    pthread_mutex_lock(&hv->lock);
    s = hv_server_get(hv, id);
    if (!s) {
        pthread_mutex_unlock(&hv->lock);
        return -ENOENT;
    }
    for (unsigned t = 0; t < HV_RANGE_TYPES; t++) {
        for (unsigned i = 0; i < s->ranges[t].nr; i++, n++) {
            if ((size_t)n >= max)
                continue;
            out[n].type = (enum mockhv_range_type)t;
            out[n].start = s->ranges[t].start[i];
            out[n].end = s->ranges[t].end[i];
        }
    }
    pthread_mutex_unlock(&hv->lock);
    return n;
}

int mockhv_server_vcpu_port(struct mockhv *hv, uint16_t id, unsigned vcpu, uint32_t *port)
{
    struct hv_server *s;
    int rc = 0;

    pthread_mutex_lock(&hv->lock);
    s = hv_server_get(hv, id);
    if (!s || vcpu >= hv->nr_vcpus)
        rc = -ENOENT;
    else
        *port = s->vcpu_port[vcpu];
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_bound_ports(struct mockhv *hv)
{
    int n;

    pthread_mutex_lock(&hv->lock);
    n = hv_bound_ports_locked(hv);
    pthread_mutex_unlock(&hv->lock);
    return n;
}

int mockhv_owner(struct mockhv *hv, enum mockhv_range_type type, uint64_t addr, unsigned size)
{
    uint64_t end = type == MOCKHV_RANGE_PCI || size == 0 ? addr : addr + size - 1;
    int id = -ENOENT;

    if ((unsigned)type >= HV_RANGE_TYPES || end < addr)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    for (int i = HV_MAX_SERVERS - 1; i >= 0 && id < 0; i--) {
        const struct hv_server *s = &hv->servers[i];
        if (s->used && s->enabled && hv_rangeset_contains(&s->ranges[type], addr, end))
            id = i;
    }
    pthread_mutex_unlock(&hv->lock);
    return id;
}
