/*
 * Guest memory of a Xen domain: the map cache (gmem-cache.c) over
 * xenforeignmemory_map, with writes reported by
 * xendevicemodel_modified_memory. The handles stay owned by the caller and
 * must outlive the returned gmem.
 */
#ifndef IOREQ_GMEM_XEN_H
#define IOREQ_GMEM_XEN_H

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>

#include "gmem.h"

/* cap_bytes 0 picks GMEM_CACHE_DEFAULT_BYTES. NULL on allocation failure. */
struct gmem *gmem_xen_new(xenforeignmemory_handle *fmem, xendevicemodel_handle *dmod, domid_t domid,
                          size_t cap_bytes);

#endif
