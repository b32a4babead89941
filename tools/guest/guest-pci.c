/*
 * gpci: bus 0 as the guest sees it after the mock firmware ran (see
 * guest-pci.h). Register offsets are the PCI Local Bus type-0 header.
 */
#include "guest-pci.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define PCI_STATUS          0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAP_PTR         0x34
#define PCI_CAP_MAX         48 /* (256 - 64) / 4 entries fit in config space */

int gpci_scan(struct gpci_bus *bus, struct mockhv *hv, unsigned vcpu, int timeout_ms)
{
    int n;

    memset(bus, 0, sizeof(*bus));
    bus->hv = hv;
    bus->vcpu = vcpu;
    bus->timeout_ms = timeout_ms;
    n = mockhv_firmware_pci_init(hv, vcpu, bus->funcs, GPCI_MAX_FUNCS, timeout_ms);
    if (n < 0)
        return n;
    bus->nr = (size_t)n < GPCI_MAX_FUNCS ? (size_t)n : GPCI_MAX_FUNCS;
    return 0;
}

const struct mockhv_pci_func *gpci_find(const struct gpci_bus *bus, uint16_t vendor,
                                        uint16_t device)
{
    for (size_t i = 0; i < bus->nr; i++) {
        const struct mockhv_pci_func *f = &bus->funcs[i];

        if (f->vendor == vendor && (device == 0xffff || f->device == device))
            return f;
    }
    return NULL;
}

int gpci_cfg_read(const struct gpci_bus *bus, uint16_t bdf, unsigned reg, unsigned size,
                  uint32_t *val)
{
    return mockhv_cfg_read(bus->hv, bus->vcpu, bdf, reg, size, val, bus->timeout_ms);
}

int gpci_cfg_write(const struct gpci_bus *bus, uint16_t bdf, unsigned reg, unsigned size,
                   uint32_t val)
{
    return mockhv_cfg_write(bus->hv, bus->vcpu, bdf, reg, size, val, bus->timeout_ms);
}

int gpci_cap_find(const struct gpci_bus *bus, uint16_t bdf, uint8_t id, uint8_t after, uint8_t *off)
{
    uint32_t v;
    unsigned ptr;
    bool past = !after;
    int rc;

    rc = gpci_cfg_read(bus, bdf, PCI_STATUS, 2, &v);
    if (rc)
        return rc;
    if (!(v & PCI_STATUS_CAP_LIST))
        return -ENOENT;
    rc = gpci_cfg_read(bus, bdf, PCI_CAP_PTR, 1, &v);
    if (rc)
        return rc;
    ptr = v & 0xfc;
    for (unsigned i = 0; i < PCI_CAP_MAX && ptr >= 0x40; i++) {
        rc = gpci_cfg_read(bus, bdf, ptr, 2, &v);
        if (rc)
            return rc;
        if (past && (v & 0xff) == id) {
            *off = (uint8_t)ptr;
            return 0;
        }
        if (ptr == after)
            past = true;
        ptr = (v >> 8) & 0xfc;
    }
    return ptr >= 0x40 ? -ELOOP : -ENOENT;
}

struct gpci_name {
    uint32_t key;
    const char *name;
};

static const char *lookup(const struct gpci_name *t, size_t n, uint32_t key, const char *dflt)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].key == key)
            return t[i].name;
    return dflt;
}

static const struct gpci_name class_names[] = {
    {0x0000, "Non-VGA unclassified device"},
    {0x0100, "SCSI storage controller"},
    {0x0101, "IDE interface"},
    {0x0180, "Mass storage controller"},
    {0x0200, "Ethernet controller"},
    {0x0300, "VGA compatible controller"},
    {0x0600, "Host bridge"},
    {0x0601, "ISA bridge"},
    {0x0680, "Bridge"},
    {0x0700, "Serial controller"},
    {0x0780, "Communication controller"},
    {0x00ff, "Unassigned class"},
    {0xff80, "Unassigned class"},
};

const char *gpci_class_name(uint32_t class_rev)
{
    return lookup(class_names, sizeof(class_names) / sizeof(class_names[0]),
                  (class_rev >> 16) & 0xffff, "Unknown class");
}

static const struct gpci_name vendor_names[] = {
    {0x8086, "Intel Corporation"},
    {0x5853, "XenSource, Inc."},
    {0x1af4, "Red Hat, Inc."},
};

const char *gpci_vendor_name(uint16_t vendor)
{
    return lookup(vendor_names, sizeof(vendor_names) / sizeof(vendor_names[0]), vendor,
                  "Unknown vendor");
}

static const struct gpci_name device_names[] = {
    {0x80861237, "440FX - 82441FX PMC [Natoma]"}, {0x58530001, "Xen Platform Device"},
    {0x1af41041, "Virtio 1.0 network device"},    {0x1af41042, "Virtio 1.0 block device"},
    {0x1af41043, "Virtio 1.0 console"},
};

const char *gpci_device_name(uint16_t vendor, uint16_t device)
{
    return lookup(device_names, sizeof(device_names) / sizeof(device_names[0]),
                  (uint32_t)vendor << 16 | device, "Device");
}

static const struct gpci_name cap_names[] = {
    {0x01, "Power Management"},  {0x05, "MSI"}, {0x09, "Vendor Specific"}, {0x10, "Express"},
    {GPCI_CAP_ID_MSIX, "MSI-X"},
};

const char *gpci_cap_name(uint8_t id)
{
    return lookup(cap_names, sizeof(cap_names) / sizeof(cap_names[0]), id, "Unknown capability");
}

static void print_size(FILE *out, uint64_t size)
{
    static const char units[] = "KMGT";
    unsigned u = 0;

    if (size < 1024) {
        fprintf(out, "%" PRIu64, size);
        return;
    }
    size >>= 10;
    while (size >= 1024 && !(size & 1023) && u < 3) {
        size >>= 10;
        u++;
    }
    fprintf(out, "%" PRIu64 "%c", size, units[u]);
}

static void print_bar(FILE *out, const struct mockhv_pci_bar *b)
{
    if (b->io)
        fprintf(out, "\tRegion %u: I/O ports at %04" PRIx64 " [size=", b->index, b->base);
    else
        fprintf(out, "\tRegion %u: Memory at %08" PRIx64 " (%s, %s) [size=", b->index, b->base,
                b->mem64 ? "64-bit" : "32-bit", b->prefetch ? "prefetchable" : "non-prefetchable");
    print_size(out, b->size);
    fprintf(out, "]%s\n", b->base ? "" : " [unassigned]");
}

/* cfg_type of a virtio vendor capability (virtio 1.2, 4.1.4), its fourth byte. */
static const char *virtio_cap_name(unsigned type)
{
    static const char *const names[] = {"<unknown>", "CommonCfg", "Notify",
                                        "ISR",       "DeviceCfg", "PCICfg",
                                        "<unknown>", "<unknown>", "SharedMemory"};

    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "<unknown>";
}

static int print_caps(const struct gpci_bus *bus, const struct mockhv_pci_func *f, FILE *out)
{
    uint32_t v;
    unsigned ptr;
    int rc;

    rc = gpci_cfg_read(bus, f->bdf, PCI_STATUS, 2, &v);
    if (rc || !(v & PCI_STATUS_CAP_LIST))
        return rc;
    rc = gpci_cfg_read(bus, f->bdf, PCI_CAP_PTR, 1, &v);
    if (rc)
        return rc;
    ptr = v & 0xfc;
    for (unsigned i = 0; i < PCI_CAP_MAX && ptr >= 0x40; i++) {
        rc = gpci_cfg_read(bus, f->bdf, ptr, 4, &v);
        if (rc)
            return rc;
        fprintf(out, "\tCapabilities: [%02x] %s", ptr, gpci_cap_name(v & 0xff));
        if ((v & 0xff) == GPCI_CAP_ID_MSIX)
            fprintf(out, ": Enable%c Count=%u Masked%c", (v >> 31) & 1 ? '+' : '-',
                    ((v >> 16) & 0x7ff) + 1, (v >> 30) & 1 ? '+' : '-');
        else if ((v & 0xff) == GPCI_CAP_ID_MSI)
            fprintf(out, ": Enable%c", (v >> 16) & 1 ? '+' : '-');
        else if ((v & 0xff) == GPCI_CAP_ID_VENDOR && f->vendor == 0x1af4)
            fprintf(out, ": VirtIO: %s", virtio_cap_name((v >> 24) & 0xff));
        fputc('\n', out);
        ptr = (v >> 8) & 0xfc;
    }
    return 0;
}

int gpci_print(const struct gpci_bus *bus, FILE *out, bool verbose)
{
    int rc = 0;

    for (size_t i = 0; i < bus->nr; i++) {
        const struct mockhv_pci_func *f = &bus->funcs[i];
        uint16_t cls = (f->class_rev >> 16) & 0xffff;

        fprintf(out, "%02x:%02x.%u %s [%04x]: %s %s [%04x:%04x] (rev %02x)\n", f->bdf >> 8,
                gpci_bdf_dev(f->bdf), gpci_bdf_fn(f->bdf), gpci_class_name(f->class_rev), cls,
                gpci_vendor_name(f->vendor), gpci_device_name(f->vendor, f->device), f->vendor,
                f->device, f->class_rev & 0xff);
        if (!verbose)
            continue;
        if (f->irq_pin)
            fprintf(out, "\tInterrupt: pin %c\n", 'A' + (f->irq_pin - 1) % 4);
        for (unsigned b = 0; b < f->nr_bars && b < 6; b++)
            print_bar(out, &f->bars[b]);
        rc = print_caps(bus, f, out);
        if (rc)
            break;
    }
    return rc;
}
