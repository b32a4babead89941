/*
 * The 0xCF8 address latch of the mock's chipset, as Xen keeps it: a 4-byte
 * write to 0xCF8 is remembered (and still forwarded to whoever owns that
 * port), and while bit 31 is set an access to 0xCFC-0xCFF is a config data
 * cycle for the function the latch names: Xen's SBDF in the top half of
 * the request's addr and the register (latched dword | port & 3) below,
 * as xen/hvm/ioreq.h lays out IOREQ_TYPE_PCI_CONFIG.
 */
#include "hv-internal.h"

#define CF8_PORT       0xcf8
#define CFC_PORT       0xcfc
#define CF8_ENABLED(v) (((v) >> 31) & 1)
#define CF8_BDF(v)     (((v) >> 8) & 0xffff)
#define CF8_REG(v)     ((v)&0xfc)

void hv_pci_latch_write(struct mockhv *hv, uint16_t port, unsigned size, uint32_t val)
{
    if (port == CF8_PORT && size == 4)
        hv->pci_cf8 = val;
}

bool hv_pci_decode(struct mockhv *hv, const ioreq_t *p, uint64_t *pci_addr)
{
    uint32_t cf8 = hv->pci_cf8;
    uint64_t sbdf;

    if (p->type != IOREQ_TYPE_PIO || (p->addr & ~3ull) != CFC_PORT || !CF8_ENABLED(cf8))
        return false;
    sbdf = CF8_BDF(cf8); /* segment 0 */
    *pci_addr = sbdf << 32 | CF8_REG(cf8) | (p->addr & 3);
    return true;
}
