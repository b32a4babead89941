/*
 * ioreq servers of the mock domain: creation (ports allocated, pages zeroed),
 * the enable quirk (vp_eport written only when a server is enabled), range
 * and PCI-function registration with Xen's rangeset rules, destruction, and
 * the map_resource view of the pages: frame 0 = buffered ring (ENOENT
 * without buffered ioreqs), frame 1 = the per-vCPU slots.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv-internal.h"

struct hv_server *hv_server_get(struct mockhv *hv, unsigned id)
{
    if (id >= HV_MAX_SERVERS || !hv->servers[id].used)
        return NULL;
    return &hv->servers[id];
}

static void server_free(struct mockhv *hv, struct hv_server *s)
{
    hv_memtype_server_gone(hv, s->id);
    for (unsigned v = 0; v < hv->nr_vcpus; v++)
        if (s->vcpu_port[v])
            hv_guest_port_close(hv, s->vcpu_port[v]);
    if (s->buf_port)
        hv_guest_port_close(hv, s->buf_port);
    if (s->buf)
        munmap(s->buf, 2 * HV_PAGE_SIZE);
    if (s->memfd >= 0)
        close(s->memfd);
    memset(s, 0, sizeof(*s));
    s->memfd = -1;
}

static int alloc_guest_port(struct mockhv *hv, struct hv_server *s, int vcpu, uint32_t *port)
{
    int rc = hv_port_alloc(&hv->guest_ports, port);

    if (rc)
        return rc;
    hv->guest_ports.port[*port].remote_domid = 0;
    hv->guest_ports.port[*port].server = s->id;
    hv->guest_ports.port[*port].vcpu = vcpu;
    return 0;
}

static int server_create(struct mockhv *hv, int bufioreq)
{
    struct hv_server *s = NULL;
    void *pages;
    int rc;

    if (bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF && bufioreq != HVM_IOREQSRV_BUFIOREQ_LEGACY &&
        bufioreq != HVM_IOREQSRV_BUFIOREQ_ATOMIC)
        return -EINVAL;
    for (unsigned i = 0; i < HV_MAX_SERVERS; i++) {
        if (!hv->servers[i].used) {
            s = &hv->servers[i];
            memset(s, 0, sizeof(*s));
            s->id = (uint16_t)i;
            break;
        }
    }
    if (!s)
        return -ENOSPC;
    s->used = true;
    s->bufioreq = bufioreq;
    s->memfd = memfd_create("mockxen-ioreq", MFD_CLOEXEC);
    if (s->memfd < 0) {
        rc = -errno;
        goto out;
    }
    if (ftruncate(s->memfd, 2 * HV_PAGE_SIZE) < 0) {
        rc = -errno;
        goto out;
    }
    pages = mmap(NULL, 2 * HV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
    if (pages == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    s->buf = pages;
    s->slots = (shared_iopage_t *)((uint8_t *)pages + HV_PAGE_SIZE);
    for (unsigned v = 0; v < hv->nr_vcpus; v++) {
        rc = alloc_guest_port(hv, s, (int)v, &s->vcpu_port[v]);
        if (rc)
            goto out;
    }
    if (bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        rc = alloc_guest_port(hv, s, -1, &s->buf_port);
        if (rc)
            goto out;
    }
    return s->id;
out:
    server_free(hv, s);
    return rc;
}

static void server_set_state(struct mockhv *hv, struct hv_server *s, bool enabled)
{
    if (enabled && !s->enabled) {
        for (unsigned v = 0; v < hv->nr_vcpus; v++)
            s->slots->vcpu_ioreq[v].vp_eport = s->vcpu_port[v];
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
    s->enabled = enabled;
}

static int range_op(struct hv_server *s, uint64_t type, uint64_t start, uint64_t end, bool map)
{
    struct hv_rangeset *r;

    if (type >= HV_RANGE_TYPES || start > end)
        return -EINVAL;
    r = &s->ranges[type];
    if (map) {
        if (hv_rangeset_overlaps(r, start, end))
            return -EEXIST;
        return hv_rangeset_add(r, start, end);
    }
    if (!hv_rangeset_contains(r, start, end))
        return -ENOENT;
    return hv_rangeset_remove(r, start, end);
}

static int pcidev_op(struct hv_server *s, const uint64_t *a, bool map)
{
    uint64_t sbdf;

    if (a[1] > 0xffff || a[2] > 0xff || a[3] > 0x1f || a[4] > 7)
        return -EINVAL;
    sbdf = a[1] << 16 | a[2] << 8 | a[3] << 3 | a[4];
    return range_op(s, XEN_DMOP_IO_RANGE_PCI, sbdf, sbdf, map);
}

int hv_server_handle(struct hv_conn *c, const struct wire_req *req, struct wire_rep *rep)
{
    struct mockhv *hv = c->hv;
    struct hv_server *s = NULL;

    switch (req->op) {
    case WIRE_OP_DM_CREATE_SERVER:
    case WIRE_OP_DM_NR_VCPUS:
    case WIRE_OP_DM_GET_SERVER_INFO:
    case WIRE_OP_DM_MAP_RANGE:
    case WIRE_OP_DM_UNMAP_RANGE:
    case WIRE_OP_DM_MAP_PCIDEV:
    case WIRE_OP_DM_UNMAP_PCIDEV:
    case WIRE_OP_DM_SET_SERVER_STATE:
    case WIRE_OP_DM_DESTROY_SERVER:
        break;
    case WIRE_OP_DM_MAP_MEM_TYPE:
        /* checks its arguments before looking the server up, as Xen */
        return hv_map_mem_type(hv, req->a[0], req->a[1], req->a[2]);
    default:
        return -ENOSYS; /* not a server operation */
    }
    if (req->op != WIRE_OP_DM_CREATE_SERVER && req->op != WIRE_OP_DM_NR_VCPUS) {
        s = req->a[0] < HV_MAX_SERVERS ? hv_server_get(hv, (unsigned)req->a[0]) : NULL;
        if (!s)
            return -ENOENT;
    }
    switch (req->op) {
    case WIRE_OP_DM_CREATE_SERVER:
        return server_create(hv, (int)req->a[0]);
    case WIRE_OP_DM_NR_VCPUS:
        rep->r[0] = hv->nr_vcpus;
        return 0;
    case WIRE_OP_DM_GET_SERVER_INFO:
        rep->r[0] = s->buf_port;
        rep->r[1] = s->bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF;
        return 0;
    case WIRE_OP_DM_MAP_RANGE:
    case WIRE_OP_DM_UNMAP_RANGE:
        return range_op(s, req->a[1], req->a[2], req->a[3], req->op == WIRE_OP_DM_MAP_RANGE);
    case WIRE_OP_DM_MAP_PCIDEV:
    case WIRE_OP_DM_UNMAP_PCIDEV:
        return pcidev_op(s, req->a, req->op == WIRE_OP_DM_MAP_PCIDEV);
    case WIRE_OP_DM_SET_SERVER_STATE:
        server_set_state(hv, s, req->a[1] != 0);
        return 0;
    case WIRE_OP_DM_DESTROY_SERVER:
        /* ioreq_server_destroy: nothing wakes a vCPU still waiting on it */
        hv_guest_strand_server(hv, s);
        server_free(hv, s);
        return 0;
    }
    return -ENOSYS;
}

int hv_fmem_resource(struct mockhv *hv, const struct wire_req *req, struct wire_rep *rep, int *fd)
{
    uint64_t type = req->a[0], frame = req->a[2], nr = req->a[3];
    struct hv_server *s;

    if (type != XENMEM_resource_ioreq_server)
        return -EOPNOTSUPP;
    s = req->a[1] < HV_MAX_SERVERS ? hv_server_get(hv, (unsigned)req->a[1]) : NULL;
    if (!s)
        return -ENOENT;
    if (req->op == WIRE_OP_FMEM_RESOURCE_SIZE) {
        rep->r[0] = 2;
        return 0;
    }
    if (frame == XENMEM_resource_ioreq_server_frame_bufioreq &&
        s->bufioreq == HVM_IOREQSRV_BUFIOREQ_OFF)
        return -ENOENT;
    if (nr == 0 || frame > 1 || nr > 2 - frame)
        return -EINVAL;
    rep->r[0] = frame * HV_PAGE_SIZE;
    *fd = s->memfd;
    return 0;
}

void hv_servers_fini(struct mockhv *hv)
{
    for (unsigned i = 0; i < HV_MAX_SERVERS; i++)
        if (hv->servers[i].used)
            server_free(hv, &hv->servers[i]);
}
