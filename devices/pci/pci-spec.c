/*
 * What PCI devices share between their spec parsers and inventories:
 * placement from bdf=, and a one-line description of a placed function.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "pci.h"
#include "registry.h"

int pci_spec_placement(struct device_spec *spec, int *devfn, char *errbuf, size_t errlen)
{
    const char *bdf = device_spec_get(spec, "bdf");

    *devfn = -1;
    if (!bdf)
        return 0;
    if (pci_parse_bdf(bdf, devfn)) {
        snprintf(errbuf, errlen, "%s: bad bdf '%s' (expected [0000:]00:DD.F with DD 00-1f, F 0-7)",
                 spec->type, bdf);
        return -EINVAL;
    }
    return 0;
}

void pci_dev_describe(const struct pci_dev *dev, char *buf, size_t len)
{
    static const char *const kind[] = {
        [PCI_BAR_NONE] = "none",   [PCI_BAR_IO] = "io",   [PCI_BAR_MEM32] = "mem32",
        [PCI_BAR_MEM64] = "mem64", [PCI_BAR_ROM] = "rom",
    };
    size_t off;
    int n;

    n = snprintf(buf, len, "%02x:%02x.%x %04x:%04x", PCI_SBDF_BUS(dev->sbdf),
                 PCI_SBDF_DEV(dev->sbdf), PCI_SBDF_FN(dev->sbdf), pci_cfg_get16(dev, PCI_VENDOR_ID),
                 pci_cfg_get16(dev, PCI_DEVICE_ID));
    off = n < 0 ? len : (size_t)n;
    for (unsigned i = 0; i < PCI_NUM_SLOTS && off < len; i++) {
        const struct pci_bar *b = &dev->bars[i];
        if (b->type == PCI_BAR_NONE)
            continue;
        if (b->mapped == PCI_BAR_UNMAPPED)
            n = snprintf(buf + off, len - off, " bar%u=%s:unmapped+%#" PRIx64, i, kind[b->type],
                         b->size);
        else
            n = snprintf(buf + off, len - off, " bar%u=%s:%#" PRIx64 "+%#" PRIx64, i, kind[b->type],
                         b->mapped, b->size);
        off = n < 0 ? len : off + (size_t)n;
    }
}
