/*
 * Which ioreq server gets a request, as Xen 4.17 chooses: only enabled
 * servers, highest id first; PIO needs [addr, addr+size-1] inside one port
 * range, MMIO every byte a rep touches inside one memory range: with df the
 * items go downwards, so [addr-(count-1)*size, addr+size-1]
 * (ioreq_mmio_first_byte/last_byte); a config data cycle becomes IOREQ_TYPE_PCI_CONFIG for the
 * server that mapped the function and otherwise belongs to nobody.
 */
#include "hv-internal.h"

struct hv_server *hv_route_select(struct mockhv *hv, ioreq_t *p)
{
    uint64_t addr = p->addr, end, pci_addr = 0;
    unsigned type;
    bool pci = hv_pci_decode(hv, p, &pci_addr);

    if (p->type != IOREQ_TYPE_PIO && p->type != IOREQ_TYPE_COPY)
        return NULL;
    if (pci) {
        type = XEN_DMOP_IO_RANGE_PCI;
        addr = end = pci_addr >> 32;
    } else if (p->type == IOREQ_TYPE_PIO) {
        type = XEN_DMOP_IO_RANGE_PORT;
        end = addr + p->size - 1;
    } else {
        type = XEN_DMOP_IO_RANGE_MEMORY;
        if (p->df) {
            addr = p->addr - (uint64_t)(p->count - 1) * p->size;
            end = p->addr + p->size - 1;
        } else {
            end = addr + (uint64_t)p->size * p->count - 1;
        }
    }
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        struct hv_server *s = &hv->servers[id];

        if (!s->used || !s->enabled || end < addr)
            continue;
        if (hv_rangeset_contains(&s->ranges[type], addr, end)) {
            if (pci) {
                p->type = IOREQ_TYPE_PCI_CONFIG;
                p->addr = pci_addr;
            }
            return s;
        }
    }
    return NULL;
}
