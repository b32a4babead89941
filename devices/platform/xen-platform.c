/*
 * xen-platform: the Xen platform PCI device (5853:0001, subsystem
 * 5853:0001, revision 1, class ff/80/00, INTA#) that Xen PV drivers in an
 * HVM guest bind to. BAR0 is 256 bytes of I/O, BAR1 16 MiB of prefetchable
 * memory the drivers use as space to map grant tables and shared pages into
 * (it reads 0 and ignores writes).
 *
 * It also answers the fixed I/O ports of the emulated-device unplug protocol
 * (Xen docs/misc/hvm-emulated-unplug.pandoc) at 0x10-0x13:
 *   0x10 read  16 bits  magic 0x49d2 (drivers check it before anything else)
 *   0x10 read   8 bits  platform flags
 *   0x12 read   8 bits  protocol version (1)
 *   0x12 write 16 bits  product number (1: the Citrix/XenServer drivers)
 *   0x10 write 32 bits  driver build number
 *   0x10 write 16 bits  unplug mask: bit 0 IDE/SCSI disks, 1 NICs,
 *                       2 IDE disks but the primary master, 3 NVMe disks
 *   0x10 write  8 bits  platform flags (bit 0 asks to lock the BIOS area read-only)
 *   0x12 write  8 bits  log port: one character at a time, lines end in '\n'
 * BAR0 mirrors the flags byte at offset 0 and the log port at offset 8. It
 * also takes the two unofficial unplug protocols the same document
 * describes, from drivers of the Xen 3.0 era, which wrote to the device's
 * I/O BAR (QEMU decodes them there, one byte at a time):
 *   offset 4 = 1  unplug NICs and IDE/SCSI disks: old SUSE PVonHVM drivers
 *                 (unconditionally), and Novell VMDP before 1.7 controlling
 *                 every device
 *   offset 8 = 1  unplug IDE/SCSI disks: VMDP controlling storage only
 *   offset 8 = 2  unplug NICs: VMDP controlling NICs only
 * Any other byte at offset 8 is log text; other values at offset 4 do
 * nothing.
 *
 * Unplug requests of every protocol are recorded (as bits of the port 0x10
 * mask) and logged. ioreqd emulates no IDE, SCSI or NVMe disks; NICs are
 * unplugged as Xen's QEMU (hw/i386/xen/xen_platform.c, unplug_nic) does for
 * every PCI function of class ethernet: the function leaves the bus and
 * stops moving frames (virtio-net; a function whose ops have no unplug
 * hook stays). The ROM lock needs a memory-type change ioreqd cannot make; the flag
 * stays clear so the guest sees it was not applied. No build is
 * blacklisted: the magic always reads 0x49d2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pci.h"
#include "registry.h"

#define XP_VENDOR   0x5853
#define XP_DEVICE   0x0001
#define XP_REVISION 0x01
#define XP_CLASS    0xff8000

#define XP_FIXED_BASE 0x10
#define XP_FIXED_LEN  4
#define XP_MAGIC      0x49d2
#define XP_VERSION    1
#define XP_BAR0_SIZE  0x100
#define XP_BAR1_SIZE  (16u << 20)
#define XP_BAR0_LOG   8
#define XP_BAR0_SUSE  4 /* old SUSE / VMDP "unplug everything" */

/* Bits of the unplug mask written to port 0x10. */
#define XP_UNPLUG_DISKS 0x1 /* IDE and SCSI disks */
#define XP_UNPLUG_NICS  0x2

#define XP_CLASS_ETHERNET 0x0200 /* base class 02, subclass 00 */

#define XP_LOG_LINE 256

struct xen_platform {
    struct pci_dev pci;
    struct pci_bus *bus;
    struct io_registry *io;
    bool fixed_mapped;
    uint8_t flags;    /* platform flags byte as the guest reads it */
    uint16_t product; /* last product number registered */
    uint32_t build;   /* last build number registered */
    uint16_t unplug;  /* union of the unplug masks requested */
    char line[XP_LOG_LINE];
    size_t line_len;
    struct log_ratelimit rl; /* the guest log is guest-controlled volume */
    uint64_t log_lines;
    uint64_t log_suppressed;
};

static struct xen_platform *to_xp(struct pci_dev *d)
{
    return container_of(d, struct xen_platform, pci);
}

static void xp_log_flush(struct xen_platform *xp)
{
    uint32_t dropped;

    if (!xp->line_len)
        return;
    xp->line[xp->line_len] = '\0';
    xp->line_len = 0;
    xp->log_lines++;
    if (!log_ratelimit_allow(&xp->rl, &dropped)) {
        xp->log_suppressed++;
        return;
    }
    if (dropped)
        log_info("xen-platform: (%u guest log lines suppressed)", dropped);
    log_info("xen-platform: guest: %s", xp->line);
}

static void xp_log_byte(struct xen_platform *xp, uint8_t c)
{
    if (c == '\n') {
        xp_log_flush(xp);
        return;
    }
    if (c == '\r')
        return;
    /* Only printable ASCII reaches dom0's log. */
    xp->line[xp->line_len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    if (xp->line_len == XP_LOG_LINE - 1)
        xp_log_flush(xp);
}

static void xp_write_flags(struct xen_platform *xp, uint8_t v)
{
    if (v & 1)
        log_guest("xen-platform: guest asks to lock the BIOS area read-only: not supported");
}

/* Every ethernet function on the bus that can be unplugged: how many went. */
static unsigned xp_unplug_nics(struct xen_platform *xp)
{
    unsigned n = 0;

    for (uint32_t devfn = 0; devfn < 256; devfn++) {
        struct pci_dev *dev = pci_bus_find(xp->bus, devfn);

        if (!dev || dev == &xp->pci || !dev->ops || !dev->ops->unplug)
            continue;
        if (pci_cfg_get16(dev, PCI_CLASS_DEVICE) != XP_CLASS_ETHERNET)
            continue;
        dev->ops->unplug(dev);
        n++;
    }
    return n;
}

/* via: which protocol asked, for the log. */
static void xp_unplug(struct xen_platform *xp, uint16_t mask, const char *via)
{
    uint16_t added = (uint16_t)(mask & ~xp->unplug);
    unsigned nics = 0;
    char what[32] = "none emulated here";

    /* Guest-triggered: said once per new request, and rate-limited. */
    if (!added)
        return;
    xp->unplug |= mask;
    if (added & XP_UNPLUG_NICS)
        nics = xp_unplug_nics(xp);
    if (nics)
        snprintf(what, sizeof(what), "%u NIC%s unplugged", nics, nics > 1 ? "s" : "");
    log_limited(LOG_LVL_INFO, "xen-platform: guest requests unplug of%s%s%s%s%s%s (%s)",
                mask & 1 ? " disks" : "", mask & 2 ? " nics" : "", mask & 4 ? " aux-ide-disks" : "",
                mask & 8 ? " nvme-disks" : "", mask & ~0xfu ? " unknown-bits" : "", via, what);
}

static uint64_t fixed_read(void *opaque, const struct io_access *a)
{
    struct xen_platform *xp = opaque;

    if (a->offset == 0 && a->size == 2)
        return XP_MAGIC;
    if (a->offset == 0 && a->size == 1)
        return xp->flags;
    if (a->offset == 2 && a->size == 1)
        return XP_VERSION;
    return io_all_ones(a->size);
}

static void fixed_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct xen_platform *xp = opaque;

    if (a->offset == 0 && a->size == 4) {
        if (xp->build != (uint32_t)v)
            log_limited(LOG_LVL_INFO, "xen-platform: guest PV drivers build %u", (uint32_t)v);
        xp->build = (uint32_t)v;
    } else if (a->offset == 0 && a->size == 2) {
        xp_unplug(xp, (uint16_t)v, "");
    } else if (a->offset == 0 && a->size == 1) {
        xp_write_flags(xp, (uint8_t)v);
    } else if (a->offset == 2 && a->size == 2) {
        if (xp->product != (uint16_t)v)
            log_limited(LOG_LVL_INFO, "xen-platform: guest PV drivers product %u%s", (unsigned)v,
                        v == 1 ? " (XenServer/Citrix)" : "");
        xp->product = (uint16_t)v;
    } else if (a->offset == 2 && a->size == 1) {
        xp_log_byte(xp, (uint8_t)v);
    } else {
        log_guest("xen-platform: %u-byte write to port %#x ignored", a->size, (unsigned)a->addr);
    }
}

static const struct io_ops fixed_ops = {
    .read = fixed_read,
    .write = fixed_write,
};

static uint64_t xp_bar_read(struct pci_dev *d, unsigned bar, uint64_t offset, unsigned size)
{
    struct xen_platform *xp = to_xp(d);
    uint64_t v = 0;

    if (bar != 0)
        return 0;
    /* Byte registers: wider accesses see each byte on its own. */
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)(offset + i == 0 ? xp->flags : 0xff) << (8 * i);
    return v;
}

static void xp_bar_write(struct pci_dev *d, unsigned bar, uint64_t offset, unsigned size,
                         uint64_t v)
{
    struct xen_platform *xp = to_xp(d);

    if (bar != 0) {
        log_guest("xen-platform: write to its memory BAR at %#llx ignored",
                  (unsigned long long)offset);
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(v >> (8 * i));
        if (offset + i == 0)
            xp_write_flags(xp, b);
        else if (offset + i == XP_BAR0_SUSE && b == 1)
            xp_unplug(xp, XP_UNPLUG_DISKS | XP_UNPLUG_NICS, " through the old SUSE/VMDP port");
        else if (offset + i == XP_BAR0_LOG && b == 1)
            xp_unplug(xp, XP_UNPLUG_DISKS, " through the old VMDP port");
        else if (offset + i == XP_BAR0_LOG && b == 2)
            xp_unplug(xp, XP_UNPLUG_NICS, " through the old VMDP port");
        else if (offset + i == XP_BAR0_LOG)
            xp_log_byte(xp, b);
    }
}

static void xp_reset(struct pci_dev *d)
{
    struct xen_platform *xp = to_xp(d);

    xp->flags = 0;
    xp->line_len = 0;
}

static const struct pci_dev_ops xen_platform_pci_ops = {
    .name = "xen-platform",
    .bar_read = xp_bar_read,
    .bar_write = xp_bar_write,
    .reset = xp_reset,
};

static void xen_platform_destroy(void *opaque)
{
    struct xen_platform *xp = opaque;

    if (!xp)
        return;
    xp_log_flush(xp);
    if (xp->fixed_mapped)
        io_unmap(xp->io, IO_SPACE_PIO, XP_FIXED_BASE);
    pci_bus_remove(xp->bus, &xp->pci);
    pci_dev_release(&xp->pci);
    free(xp);
}

static int xen_platform_create(const struct device_env *env, struct device_spec *spec, void **out,
                               char *errbuf, size_t errlen)
{
    struct xen_platform *xp;
    struct io_range fixed = {
        .space = IO_SPACE_PIO,
        .base = XP_FIXED_BASE,
        .len = XP_FIXED_LEN,
        .ops = &fixed_ops,
        .name = "xen-platform.unplug",
    };
    bool want_fixed;
    int devfn, rc;

    if (!env->pci) {
        snprintf(errbuf, errlen, "xen-platform: no PCI bus");
        return -ENODEV;
    }
    rc = pci_spec_placement(spec, &devfn, errbuf, errlen);
    if (rc)
        return rc;
    rc = device_spec_get_bool(spec, "unplug-ports", true, &want_fixed, errbuf, errlen);
    if (rc)
        return rc;
    xp = calloc(1, sizeof(*xp));
    if (!xp)
        return -ENOMEM;
    xp->bus = env->pci;
    xp->io = env->io;
    pci_dev_init(&xp->pci, &xen_platform_pci_ops);
    pci_dev_set_ids(&xp->pci, XP_VENDOR, XP_DEVICE, XP_REVISION, XP_CLASS);
    pci_dev_set_subsystem(&xp->pci, XP_VENDOR, XP_DEVICE);
    pci_dev_set_intx_pin(&xp->pci, 1);
    /*
     * The command register comes up 0, as QEMU's does after its PCI reset
     * (which clears every writable command bit): the firmware turns decoding
     * on when it places the BARs, and a reset turns it off again.
     */
    if (pci_dev_add_io_bar(&xp->pci, 0, XP_BAR0_SIZE) ||
        pci_dev_add_mem32_bar(&xp->pci, 1, XP_BAR1_SIZE, true)) {
        rc = -EINVAL;
        goto out;
    }
    if (want_fixed) {
        fixed.opaque = xp;
        rc = io_map(env->io, &fixed);
        if (rc) {
            snprintf(errbuf, errlen, "xen-platform: ports 0x10-0x13 are taken: %s", strerror(-rc));
            goto out;
        }
        xp->fixed_mapped = true;
    }
    rc = pci_bus_add(env->pci, &xp->pci, devfn, errbuf, errlen);
    if (rc) {
        if (xp->fixed_mapped)
            io_unmap(env->io, IO_SPACE_PIO, XP_FIXED_BASE);
        goto out;
    }
    *out = xp;
    return 0;
out:
    pci_dev_release(&xp->pci);
    free(xp);
    return rc;
}

static void xen_platform_describe(void *opaque, char *buf, size_t len)
{
    struct xen_platform *xp = opaque;
    char pci[128];

    pci_dev_describe(&xp->pci, pci, sizeof(pci));
    snprintf(buf, len, "%s unplug=%#x product=%u build=%u log-lines=%llu", pci, xp->unplug,
             xp->product, xp->build, (unsigned long long)xp->log_lines);
}

const struct device_type xen_platform_device_type = {
    .name = "xen-platform",
    .summary = "Xen platform PCI device 5853:0001 with the unplug and log ports 0x10-0x13",
    .create = xen_platform_create,
    .destroy = xen_platform_destroy,
    .describe = xen_platform_describe,
};
