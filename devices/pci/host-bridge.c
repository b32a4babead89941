/*
 * host-bridge: an i440FX-compatible PCI host bridge (Intel 82441FX PMC,
 * 8086:1237, revision 02, class 06/00/00) at 00:00.0, for when ioreqd is the
 * guest's only device model. With cf8=on it also owns configuration
 * mechanism #1 at 0xCF8-0xCFF.
 *
 * The PAM registers (0x59-0x5F) keep what the guest writes, so firmware that
 * programs them reads back its values; the attributes of the legacy BIOS
 * area themselves belong to Xen, so writing them changes nothing here. SMRAM
 * (0x72) reads its reset value 0x02 and is read-only: there is no SMM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pci.h"
#include "device.h"

#define I440FX_PAM0  0x59
#define I440FX_NPAM  7
#define I440FX_SMRAM 0x72

struct host_bridge {
    struct pci_dev pci;
    struct pci_bus *bus;
    bool cf8; /* owns 0xCF8-0xCFF */
};

static const struct pci_dev_ops host_bridge_pci_ops = {
    .name = "host-bridge",
};

static void host_bridge_destroy(void *opaque)
{
    struct host_bridge *hb = opaque;

    if (!hb)
        return;
    pci_bus_remove(hb->bus, &hb->pci);
    pci_dev_release(&hb->pci);
    free(hb);
}

static int host_bridge_parse(struct device_spec *spec, int *devfn, bool *cf8, char *errbuf,
                             size_t errlen)
{
    int rc = pci_spec_placement(spec, devfn, errbuf, errlen);

    return rc ? rc : device_spec_get_bool(spec, "cf8", false, cf8, errbuf, errlen);
}

static int host_bridge_check(struct device_spec *spec, char *errbuf, size_t errlen)
{
    int devfn;
    bool cf8;

    return host_bridge_parse(spec, &devfn, &cf8, errbuf, errlen);
}

static int host_bridge_create(const struct device_env *env, struct device_spec *spec, void **out,
                              char *errbuf, size_t errlen)
{
    struct host_bridge *hb;
    int devfn, rc;
    bool cf8;

    if (!env->pci) {
        snprintf(errbuf, errlen, "host-bridge: no PCI bus");
        return -ENODEV;
    }
    rc = host_bridge_parse(spec, &devfn, &cf8, errbuf, errlen);
    if (rc)
        return rc;
    hb = calloc(1, sizeof(*hb));
    if (!hb)
        return -ENOMEM;
    hb->bus = env->pci;
    pci_dev_init(&hb->pci, &host_bridge_pci_ops);
    pci_dev_set_counters(&hb->pci, env->counters);
    pci_dev_set_ids(&hb->pci, 0x8086, 0x1237, 0x02, 0x060000);
    /* PAM0 has only the BIOS-area nibble; every nibble has RE (bit 0) and WE (bit 1). */
    pci_cfg_set_wmask(&hb->pci, I440FX_PAM0, 1, 0x30);
    for (unsigned i = 1; i < I440FX_NPAM; i++)
        pci_cfg_set_wmask(&hb->pci, I440FX_PAM0 + i, 1, 0x33);
    pci_cfg_set8(&hb->pci, I440FX_SMRAM, 0x02);

    rc = pci_bus_add(env->pci, &hb->pci, devfn < 0 ? 0 : devfn, errbuf, errlen);
    if (rc)
        goto out;
    if (cf8) {
        rc = pci_bus_claim_legacy_pio(env->pci);
        if (rc) {
            snprintf(errbuf, errlen, "host-bridge: cannot own ports 0xcf8-0xcff: %s",
                     rc == -EEXIST ? "already claimed" : "registration failed");
            pci_bus_remove(env->pci, &hb->pci);
            goto out;
        }
        hb->cf8 = true;
    }
    *out = hb;
    return 0;
out:
    pci_dev_release(&hb->pci);
    free(hb);
    return rc;
}

static void host_bridge_report(void *opaque, const struct report_sink *sink)
{
    struct host_bridge *hb = opaque;

    pci_dev_report(&hb->pci, sink);
    if (hb->cf8)
        report_item(sink, REPORT_IDENTITY, "cf8", NULL);
}

const struct device_type host_bridge_device_type = {
    .name = "host-bridge",
    .summary = "i440FX-compatible PCI host bridge at 00:00.0, optionally owning ports 0xcf8-0xcff",
    .options =
        (const struct device_option[]){
            PCI_BDF_OPTION,
            {.key = "cf8", .value = "on"},
            {0},
        },
    .create = host_bridge_create,
    .check = host_bridge_check,
    .destroy = host_bridge_destroy,
    .report = host_bridge_report,
};
