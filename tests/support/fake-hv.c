/* Recording hv_services for unit tests and fuzzers; see fake-hv.h. */
#include <errno.h>
#include <string.h>

#include "fake-hv.h"

static int fake_isa(void *opaque, unsigned irq, bool level)
{
    struct fake_hv *fp = opaque;

    if (irq < 16)
        fp->isa_level[irq] = level;
    else
        fp->nr_bad++;
    if (fp->nr_isa < FAKE_HV_MAX)
        fp->isa[fp->nr_isa] = (struct fake_irq_event){.line = irq, .level = level};
    fp->nr_isa++;
    return irq < 16 ? 0 : -EINVAL;
}

static int fake_intx(void *opaque, uint32_t sbdf, unsigned pin, bool level)
{
    struct fake_hv *fp = opaque;

    if (pin > 3 || sbdf > 0xff)
        fp->nr_bad++;
    if (fp->nr_intx < FAKE_HV_MAX)
        fp->intx[fp->nr_intx] = (struct fake_irq_event){.sbdf = sbdf, .line = pin, .level = level};
    fp->nr_intx++;
    return 0;
}

static int fake_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct fake_hv *fp = opaque;

    if (fp->nr_msi < FAKE_HV_MAX)
        fp->msi[fp->nr_msi] = (struct fake_msi){.addr = addr, .data = data};
    fp->nr_msi++;
    return 0;
}

static int fake_map(void *opaque, uint32_t sbdf)
{
    struct fake_hv *fp = opaque;

    if (sbdf > 0xff)
        fp->nr_bad++;
    if (fp->map_error)
        return fp->map_error;
    if (fp->nr_mapped < FAKE_HV_MAX)
        fp->mapped[fp->nr_mapped] = sbdf;
    fp->nr_mapped++;
    return 0;
}

static int fake_unmap(void *opaque, uint32_t sbdf)
{
    struct fake_hv *fp = opaque;

    fp->nr_unmapped++;
    return 0;
}

static const struct hv_services_ops fake_hv_ops = {
    .set_isa_irq_level = fake_isa,
    .set_pci_intx_level = fake_intx,
    .inject_msi = fake_msi,
    .map_pcidev = fake_map,
    .unmap_pcidev = fake_unmap,
};

struct hv_services fake_hv_init(struct fake_hv *fp)
{
    memset(fp, 0, sizeof(*fp));
    return (struct hv_services){.ops = &fake_hv_ops, .opaque = fp};
}
