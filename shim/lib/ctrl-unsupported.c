/*
 * libxenctrl calls a full device model (Debian's qemu-system-xen) imports
 * but that have no meaning on the mock: PCI passthrough, physical IRQ and
 * MMIO mappings, toolstack shutdown. They exist, with
 * the real prototypes and version, so such programs load; each fails
 * cleanly with ENOSYS, and only when called.
 */
#include <xenctrl.h>

#include <errno.h>

static int unsupported(void)
{
    errno = ENOSYS;
    return -1;
}

int xc_domain_bind_pt_pci_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq, uint8_t bus,
                              uint8_t device, uint8_t intx)
{
    return unsupported();
}

int xc_domain_unbind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq,
                            uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx,
                            uint8_t isa_irq)
{
    return unsupported();
}

int xc_domain_update_msi_irq(xc_interface *xch, uint32_t domid, uint32_t gvec, uint32_t pirq,
                             uint32_t gflags, uint64_t gtable)
{
    return unsupported();
}

int xc_domain_unbind_msi_irq(xc_interface *xch, uint32_t domid, uint32_t gvec, uint32_t pirq,
                             uint32_t gflags)
{
    return unsupported();
}

int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid, unsigned long first_mfn,
                               unsigned long nr_mfns, uint8_t allow_access)
{
    return unsupported();
}

int xc_domain_ioport_mapping(xc_interface *xch, uint32_t domid, uint32_t first_gport,
                             uint32_t first_mport, uint32_t nr_ports, uint32_t add_mapping)
{
    return unsupported();
}

int xc_domain_memory_mapping(xc_interface *xch, uint32_t domid, unsigned long first_gfn,
                             unsigned long first_mfn, unsigned long nr_mfns, uint32_t add_mapping)
{
    return unsupported();
}

int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason)
{
    return unsupported();
}

int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index, int *pirq)
{
    return unsupported();
}

int xc_physdev_map_pirq_msi(xc_interface *xch, uint32_t domid, int index, int *pirq, int devfn,
                            int bus, int entry_nr, uint64_t table_base)
{
    return unsupported();
}

int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq)
{
    return unsupported();
}
