/*
 * What PCI devices share between their spec parsers and reports:
 * placement from bdf=, and a placed function's report (its address and IDs,
 * which never change, and its BARs, which the guest places).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "pci.h"
#include "device.h"

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

const char *pci_bar_type_name(enum pci_bar_type type)
{
    static const char *const names[] = {
        [PCI_BAR_NONE] = "none",   [PCI_BAR_IO] = "io",   [PCI_BAR_MEM32] = "mem32",
        [PCI_BAR_MEM64] = "mem64", [PCI_BAR_ROM] = "rom",
    };

    return (unsigned)type < ARRAY_SIZE(names) ? names[type] : "none";
}

void pci_dev_report(const struct pci_dev *dev, const struct report_sink *sink)
{
    report_itemf(sink, REPORT_IDENTITY, NULL, "%02x:%02x.%x", PCI_SBDF_BUS(dev->sbdf),
                 PCI_SBDF_DEV(dev->sbdf), PCI_SBDF_FN(dev->sbdf));
    report_itemf(sink, REPORT_IDENTITY, NULL, "%04x:%04x", pci_cfg_get16(dev, PCI_VENDOR_ID),
                 pci_cfg_get16(dev, PCI_DEVICE_ID));
    for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
        const struct pci_bar *b = &dev->bars[i];
        char key[8];

        if (b->type == PCI_BAR_NONE)
            continue;
        snprintf(key, sizeof(key), "bar%u", i);
        if (b->mapped == PCI_BAR_UNMAPPED)
            report_itemf(sink, REPORT_PLACEMENT, key, "%s:unmapped+%#" PRIx64,
                         pci_bar_type_name(b->type), b->size);
        else
            report_itemf(sink, REPORT_PLACEMENT, key, "%s:%#" PRIx64 "+%#" PRIx64,
                         pci_bar_type_name(b->type), b->mapped, b->size);
    }
}
