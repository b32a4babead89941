/*
 * What only the hypervisor can do for a device model: raise interrupts and
 * route a PCI function's config cycles to us. The ioreq server implements it
 * with libxendevicemodel; unit tests implement it with recorders.
 *
 * SBDF layout is Xen's (xen/hvm/ioreq.h): segment << 16 | bus << 8 | devfn.
 */
#ifndef IOREQ_HV_SERVICES_H
#define IOREQ_HV_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_SBDF(seg, bus, dev, fn)                                                                \
    ((uint32_t)(seg) << 16 | (uint32_t)(bus) << 8 | (uint32_t)(dev) << 3 | (uint32_t)(fn))
#define PCI_SBDF_SEG(sbdf)   ((sbdf) >> 16)
#define PCI_SBDF_BUS(sbdf)   (((sbdf) >> 8) & 0xff)
#define PCI_SBDF_DEV(sbdf)   (((sbdf) >> 3) & 0x1f)
#define PCI_SBDF_FN(sbdf)    ((sbdf)&0x7)
#define PCI_SBDF_DEVFN(sbdf) ((sbdf)&0xff)

struct hv_services_ops {
    /* Each returns 0 or -errno. */
    int (*set_isa_irq_level)(void *opaque, unsigned isa_irq, bool level);
    /* pin: 0 = INTA# … 3 = INTD# */
    int (*set_pci_intx_level)(void *opaque, uint32_t sbdf, unsigned pin, bool level);
    int (*inject_msi)(void *opaque, uint64_t addr, uint32_t data);
    int (*map_pcidev)(void *opaque, uint32_t sbdf);
    int (*unmap_pcidev)(void *opaque, uint32_t sbdf);
};

struct hv_services {
    const struct hv_services_ops *ops;
    void *opaque;
};

#endif
