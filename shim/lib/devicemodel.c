/*
 * Drop-in libxendevicemodel.so.1: every dm_op is one request to the mock,
 * which checks it as Xen does (domain, restriction, server id, ranges) and
 * answers with Xen's errors. Legacy ioreq pages mapped into guest frames
 * (non-NULL gfn pointers to get_ioreq_server_info) are not offered: the
 * mock only has the resource-mapping interface, and says EOPNOTSUPP.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shim-toolcore.h"
#include "shim-transport.h"

struct xendevicemodel_handle {
    Xentoolcore__Active_Handle tc_ah;
    struct shim_conn conn;
};

#define HANDLE_OF(ah)                                                                              \
    ((xendevicemodel_handle *)((char *)(ah)-offsetof(xendevicemodel_handle, tc_ah)))

#define CALL(dmod, op, domid, ...)                                                                 \
    ({                                                                                             \
        uint64_t args_[] = {__VA_ARGS__};                                                          \
        shim_simple(&(dmod)->conn, op, domid, args_, sizeof(args_) / sizeof(args_[0]), NULL) < 0   \
            ? -1                                                                                   \
            : 0;                                                                                   \
    })

static int restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    return xendevicemodel_restrict(HANDLE_OF(ah), domid);
}

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    xendevicemodel_handle *dmod = calloc(1, sizeof(*dmod));
    int err;

    if (!dmod)
        return NULL;
    dmod->tc_ah.restrict_callback = restrict_cb;
    xentoolcore__register_active_handle(&dmod->tc_ah);
    if (shim_conn_open(&dmod->conn, WIRE_KIND_DM, true, NULL) < 0) {
        err = errno;
        xentoolcore__deregister_active_handle(&dmod->tc_ah);
        free(dmod);
        errno = err;
        return NULL;
    }
    return dmod;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    if (!dmod)
        return 0;
    xentoolcore__deregister_active_handle(&dmod->tc_ah);
    shim_conn_close(&dmod->conn);
    free(dmod);
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    return CALL(dmod, WIRE_OP_RESTRICT, 0, domid);
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    uint64_t a = (uint64_t)(unsigned)handle_bufioreq;
    int rc = shim_simple(&dmod->conn, WIRE_OP_DM_CREATE_SERVER, domid, &a, 1, NULL);

    if (rc < 0)
        return -1;
    *id = (ioservid_t)rc;
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
                                         xen_pfn_t *ioreq_gfn, xen_pfn_t *bufioreq_gfn,
                                         evtchn_port_t *bufioreq_port)
{
    struct wire_rep rep;
    uint64_t a = id;

    if (ioreq_gfn || bufioreq_gfn) {
        errno = EOPNOTSUPP;
        return -1;
    }
    if (shim_simple(&dmod->conn, WIRE_OP_DM_GET_SERVER_INFO, domid, &a, 1, &rep) < 0)
        return -1;
    if (bufioreq_port)
        *bufioreq_port = (evtchn_port_t)rep.r[0];
    return 0;
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    return CALL(dmod, WIRE_OP_DM_MAP_RANGE, domid, id,
                is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                    ioservid_t id, int is_mmio, uint64_t start,
                                                    uint64_t end)
{
    return CALL(dmod, WIRE_OP_DM_UNMAP_RANGE, domid, id,
                is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end);
}

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, uint16_t type, uint32_t flags)
{
    return CALL(dmod, WIRE_OP_DM_MAP_MEM_TYPE, domid, id, type, flags);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    return CALL(dmod, WIRE_OP_DM_MAP_PCIDEV, domid, id, segment, bus, device, function);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function)
{
    return CALL(dmod, WIRE_OP_DM_UNMAP_PCIDEV, domid, id, segment, bus, device, function);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id)
{
    return CALL(dmod, WIRE_OP_DM_DESTROY_SERVER, domid, id);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
                                          int enabled)
{
    return CALL(dmod, WIRE_OP_DM_SET_SERVER_STATE, domid, id, enabled != 0);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod, domid_t domid, uint16_t segment,
                                      uint8_t bus, uint8_t device, uint8_t intx, unsigned int level)
{
    return CALL(dmod, WIRE_OP_DM_SET_PCI_INTX, domid, segment, bus, device, intx, level);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    return CALL(dmod, WIRE_OP_DM_SET_ISA_IRQ, domid, irq, level);
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid, unsigned int irq,
                                 unsigned int level)
{
    return CALL(dmod, WIRE_OP_DM_SET_IRQ_LEVEL, domid, irq, level);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod, domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    return CALL(dmod, WIRE_OP_DM_SET_LINK_ROUTE, domid, link, irq);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid, uint64_t msi_addr,
                              uint32_t msi_data)
{
    return CALL(dmod, WIRE_OP_DM_INJECT_MSI, domid, msi_addr, msi_data);
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod, domid_t domid, uint64_t first_pfn,
                                    uint32_t nr, unsigned long *dirty_bitmap)
{
    /* libxendevicemodel hands Xen a buffer of (nr + 7) / 8 bytes, and Xen
     * writes exactly that many, whatever the unsigned long rounding */
    size_t bytes = ((size_t)nr + 7) / 8, got = 0;
    struct wire_req req = {
        .op = WIRE_OP_DM_TRACK_DIRTY_VRAM, .domid = domid, .a = {first_pfn, nr, bytes}};
    struct wire_rep rep;

    if (bytes && !dirty_bitmap) {
        errno = EFAULT; /* privcmd cannot lock the buffer */
        return -1;
    }
    if (shim_call(&dmod->conn, &req, NULL, 0, &rep, dirty_bitmap, bytes, &got, NULL) < 0)
        return -1;
    if (got != bytes) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int xendevicemodel_modified_memory_bulk(xendevicemodel_handle *dmod, domid_t domid,
                                        struct xen_dm_op_modified_memory_extent extents[],
                                        uint32_t nr)
{
    struct wire_req req = {.op = WIRE_OP_DM_MODIFIED_MEMORY, .domid = domid, .a = {nr}};
    struct wire_extent *ext;
    struct wire_rep rep;
    int rc;

    /* As libxendevicemodel: one call with whatever the caller passed (Xen judges the count and
     * each extent, pad included); only the mock's message size is a limit of its own. */
    if (nr > WIRE_MAX_EXTENTS) {
        errno = E2BIG;
        return -1;
    }
    if (nr && !extents) {
        errno = EFAULT;
        return -1;
    }
    ext = calloc(nr ? nr : 1, sizeof(*ext));
    if (!ext)
        return -1;
    for (uint32_t i = 0; i < nr; i++) {
        ext[i].first_pfn = extents[i].first_pfn;
        ext[i].nr = extents[i].nr;
        ext[i].pad = extents[i].pad;
    }
    rc = shim_call(&dmod->conn, &req, ext, nr * sizeof(*ext), &rep, NULL, 0, NULL, NULL);
    free(ext);
    return rc < 0 ? -1 : 0;
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod, domid_t domid, uint64_t first_pfn,
                                   uint32_t nr)
{
    struct xen_dm_op_modified_memory_extent ext = {.first_pfn = first_pfn, .nr = nr};

    return xendevicemodel_modified_memory_bulk(dmod, domid, &ext, 1);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid, hvmmem_type_t mem_type,
                                uint64_t first_pfn, uint32_t nr)
{
    return CALL(dmod, WIRE_OP_DM_SET_MEM_TYPE, domid, (uint64_t)mem_type, first_pfn, nr);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid, int vcpu,
                                uint8_t vector, uint8_t type, uint32_t error_code, uint8_t insn_len,
                                uint64_t extra)
{
    return CALL(dmod, WIRE_OP_DM_INJECT_EVENT, domid, (uint64_t)(unsigned)vcpu, vector, type,
                error_code, insn_len, extra);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid, unsigned int reason)
{
    return CALL(dmod, WIRE_OP_DM_SHUTDOWN, domid, reason);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod, domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    return CALL(dmod, WIRE_OP_DM_RELOCATE_MEMORY, domid, size, src_gfn, dst_gfn);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod, domid_t domid, uint64_t start,
                                        uint64_t end, uint32_t type)
{
    return CALL(dmod, WIRE_OP_DM_PIN_CACHEATTR, domid, start, end, type);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    struct wire_rep rep;

    if (shim_simple(&dmod->conn, WIRE_OP_DM_NR_VCPUS, domid, NULL, 0, &rep) < 0)
        return -1;
    *vcpus = (unsigned int)rep.r[0];
    return 0;
}
