/*
 * What PCI devices share between their spec parsers and inventories:
 * placement from bdf=, and one-line descriptions of a placed function (its
 * identity, which never changes, and its BARs, which the guest places).
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

const char *pci_bar_type_name(enum pci_bar_type type)
{
    static const char *const names[] = {
        [PCI_BAR_NONE] = "none",   [PCI_BAR_IO] = "io",   [PCI_BAR_MEM32] = "mem32",
        [PCI_BAR_MEM64] = "mem64", [PCI_BAR_ROM] = "rom",
    };

    return (unsigned)type < ARRAY_SIZE(names) ? names[type] : "none";
}

void pci_dev_identity(const struct pci_dev *dev, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x.%x %04x:%04x", PCI_SBDF_BUS(dev->sbdf), PCI_SBDF_DEV(dev->sbdf),
             PCI_SBDF_FN(dev->sbdf), pci_cfg_get16(dev, PCI_VENDOR_ID),
             pci_cfg_get16(dev, PCI_DEVICE_ID));
}

void pci_dev_bars_describe(const struct pci_dev *dev, char *buf, size_t len)
{
    size_t off = 0;
    int n;

    if (len)
        buf[0] = '\0';
    for (unsigned i = 0; i < PCI_NUM_SLOTS && off < len; i++) {
        const struct pci_bar *b = &dev->bars[i];
        const char *sep = off ? " " : "";

        if (b->type == PCI_BAR_NONE)
            continue;
        if (b->mapped == PCI_BAR_UNMAPPED)
            n = snprintf(buf + off, len - off, "%sbar%u=%s:unmapped+%#" PRIx64, sep, i,
                         pci_bar_type_name(b->type), b->size);
        else
            n = snprintf(buf + off, len - off, "%sbar%u=%s:%#" PRIx64 "+%#" PRIx64, sep, i,
                         pci_bar_type_name(b->type), b->mapped, b->size);
        off = n < 0 ? len : off + (size_t)n;
    }
}

void pci_dev_describe(const struct pci_dev *dev, char *buf, size_t len)
{
    char id[32], bars[320];

    pci_dev_identity(dev, id, sizeof(id));
    pci_dev_bars_describe(dev, bars, sizeof(bars));
    snprintf(buf, len, "%s%s%s", id, bars[0] ? " " : "", bars);
}
