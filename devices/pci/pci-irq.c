/*
 * Interrupts of a PCI function: the INTx pin (PCI 3.0, 6.2.2 Interrupt
 * Disable and 6.2.3 Interrupt Status), MSI (PCI 3.0, 6.8.1: 64-bit address,
 * per-vector masking) and MSI-X (6.8.2: table and PBA in memory BARs,
 * function mask, per-vector mask, pending bits). Messages and INTx levels go
 * to the bus's dm_platform; a masked message is remembered as pending and
 * sent when unmasked.
 *
 * On Xen a message with vector 0 is no interrupt vector but a pirq: Xen's
 * hvm_inject_msi takes the pirq from the destination ID and the upper
 * address and raises the event channel the guest bound to it. Guests that
 * take MSIs that way (Linux's xen_hvm_setup_msi_irqs, used unless Xen
 * offers APIC-register virtualisation) mask the event channel instead and
 * never clear a Mask bit, so such a message is never held here, whatever
 * the Mask bits and the function mask say, as QEMU does (msi_is_masked,
 * msix_vector_masked with xen_is_pirq_msi).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pci-internal.h"

/* MSI capability layout with 64-bit address and per-vector masking. */
#define MSI_CTRL           0x02
#define MSI_ADDR_LO        0x04
#define MSI_ADDR_HI        0x08
#define MSI_DATA           0x0c
#define MSI_MASK           0x10
#define MSI_PENDING        0x14
#define MSI_CAP_LEN        0x18
#define MSI_CTRL_ENABLE    0x0001
#define MSI_CTRL_MME_SHIFT 4
#define MSI_CTRL_64BIT     0x0080
#define MSI_CTRL_PVM       0x0100

#define MSIX_CTRL         0x02
#define MSIX_TABLE        0x04
#define MSIX_PBA          0x08
#define MSIX_CAP_LEN      0x0c
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_ENTRY_SIZE   16
#define MSIX_ENTRY_MASKED 0x1

#define MSI_DATA_VECTOR_MASK 0xff

/* A message Xen delivers by pirq (vector 0): its masking is the event channel's. */
static bool msi_data_is_pirq(uint32_t data)
{
    return (data & MSI_DATA_VECTOR_MASK) == 0;
}

static int platform_msi(struct pci_dev *dev, uint64_t addr, uint32_t data)
{
    const struct dm_platform *p;
    int rc;

    if (!dev->bus)
        return -ENODEV;
    p = &dev->bus->platform;
    if (!p->ops || !p->ops->inject_msi)
        return -ENOSYS;
    rc = p->ops->inject_msi(p->opaque, addr, data);
    if (rc)
        log_guest("%s: MSI to %#llx failed: %d", dev->ops ? dev->ops->name : "pci",
                  (unsigned long long)addr, rc);
    return rc;
}

/* --- INTx --- */

void pci_intx_update(struct pci_dev *dev)
{
    unsigned pin = pci_cfg_get8(dev, PCI_INTERRUPT_PIN);
    uint16_t status = pci_cfg_get16(dev, PCI_STATUS);
    bool assert;

    /* Interrupt Status follows the device's request even while disabled. */
    status = dev->intx_level ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT;
    pci_cfg_set16(dev, PCI_STATUS, status);

    assert = dev->intx_level && pin >= 1 && pin <= 4 &&
             !(pci_cfg_get16(dev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) &&
             !pci_msi_enabled(dev) && !pci_msix_enabled(dev);
    if (assert == dev->intx_asserted || !dev->bus)
        return;
    dev->intx_asserted = assert;
    const struct dm_platform *p = &dev->bus->platform;
    if (p->ops && p->ops->set_pci_intx_level) {
        int rc = p->ops->set_pci_intx_level(p->opaque, dev->sbdf, pin - 1, assert);
        if (rc)
            log_warn("%s: INTx level change failed: %d", dev->ops ? dev->ops->name : "pci", rc);
    }
}

void pci_set_irq(struct pci_dev *dev, bool level)
{
    dev->intx_level = level;
    pci_intx_update(dev);
}

/* --- MSI --- */

int pci_msi_init(struct pci_dev *dev, unsigned nr_vectors)
{
    unsigned log2 = 0;
    int off;

    if (dev->msi.cap || nr_vectors == 0 || nr_vectors > PCI_MSI_MAX_VECTORS ||
        (nr_vectors & (nr_vectors - 1)))
        return -EINVAL;
    while ((1u << log2) < nr_vectors)
        log2++;
    off = pci_cap_add(dev, PCI_CAP_ID_MSI, MSI_CAP_LEN);
    if (off < 0)
        return off;
    dev->msi.cap = (unsigned)off;
    dev->msi.nr_vectors = nr_vectors;
    dev->msi.is_64bit = true;
    dev->msi.per_vector_mask = true;
    pci_cfg_set16(dev, off + MSI_CTRL, (uint16_t)(MSI_CTRL_64BIT | MSI_CTRL_PVM | log2 << 1));
    pci_cfg_set_wmask(dev, off + MSI_CTRL, 2, MSI_CTRL_ENABLE | 0x7 << MSI_CTRL_MME_SHIFT);
    pci_cfg_set_wmask(dev, off + MSI_ADDR_LO, 4, 0xfffffffc);
    pci_cfg_set_wmask(dev, off + MSI_ADDR_HI, 4, 0xffffffff);
    pci_cfg_set_wmask(dev, off + MSI_DATA, 2, 0xffff);
    pci_cfg_set_wmask(dev, off + MSI_MASK, 4,
                      nr_vectors == 32 ? 0xffffffffu : (1u << nr_vectors) - 1);
    return off;
}

bool pci_msi_enabled(const struct pci_dev *dev)
{
    return dev->msi.cap && (pci_cfg_get16(dev, dev->msi.cap + MSI_CTRL) & MSI_CTRL_ENABLE);
}

/* Vectors the guest enabled: 2^MME, never more than the function offers. */
static unsigned msi_enabled_vectors(const struct pci_dev *dev)
{
    unsigned mme = (pci_cfg_get16(dev, dev->msi.cap + MSI_CTRL) >> MSI_CTRL_MME_SHIFT) & 7;
    unsigned n = mme > 5 ? 32 : 1u << mme;
    return n < dev->msi.nr_vectors ? n : dev->msi.nr_vectors;
}

static int msi_send(struct pci_dev *dev, unsigned vector)
{
    unsigned cap = dev->msi.cap;
    unsigned n = msi_enabled_vectors(dev);
    uint64_t addr = (uint64_t)pci_cfg_get32(dev, cap + MSI_ADDR_HI) << 32 |
                    pci_cfg_get32(dev, cap + MSI_ADDR_LO);
    uint32_t data = pci_cfg_get16(dev, cap + MSI_DATA);

    /* Multiple messages: the function modifies the low log2(n) data bits (6.8.1.6). */
    data = (data & ~(n - 1)) | vector;
    return platform_msi(dev, addr, data);
}

static void msi_set_pending(struct pci_dev *dev, uint32_t pending)
{
    dev->msi.pending = pending;
    pci_cfg_set32(dev, dev->msi.cap + MSI_PENDING, pending);
}

/* The per-vector Mask bits that hold messages: none while the data names a pirq. */
static uint32_t msi_effective_mask(const struct pci_dev *dev)
{
    if (msi_data_is_pirq(pci_cfg_get16(dev, dev->msi.cap + MSI_DATA)))
        return 0;
    return pci_cfg_get32(dev, dev->msi.cap + MSI_MASK);
}

int pci_msi_notify(struct pci_dev *dev, unsigned vector)
{
    uint32_t bit;

    if (!pci_msi_enabled(dev) || vector >= msi_enabled_vectors(dev))
        return -EINVAL;
    bit = 1u << vector;
    if (msi_effective_mask(dev) & bit) {
        msi_set_pending(dev, dev->msi.pending | bit);
        return 1;
    }
    return msi_send(dev, vector);
}

void pci_msi_cfg_written(struct pci_dev *dev, unsigned reg, unsigned size, uint16_t old_ctrl)
{
    unsigned cap = dev->msi.cap;
    uint16_t ctrl;
    uint32_t unmasked;

    if (!pci_ranges_overlap(reg, size, cap, MSI_CAP_LEN))
        return;
    ctrl = pci_cfg_get16(dev, cap + MSI_CTRL);
    if ((old_ctrl ^ ctrl) & MSI_CTRL_ENABLE)
        pci_intx_update(dev);
    /* Pending vectors go out once nothing holds them: a Mask bit cleared, or the data turned
     * into a pirq message. */
    unmasked = ~msi_effective_mask(dev) & dev->msi.pending;
    if (!unmasked || !(ctrl & MSI_CTRL_ENABLE))
        return;
    for (unsigned v = 0; v < msi_enabled_vectors(dev); v++) {
        if (!(unmasked & (1u << v)))
            continue;
        msi_set_pending(dev, dev->msi.pending & ~(1u << v));
        msi_send(dev, v);
    }
}

/* --- MSI-X --- */

static bool msix_bar_ok(const struct pci_dev *dev, unsigned bar, uint32_t off, uint64_t len)
{
    const struct pci_bar *b;

    if (bar >= PCI_NUM_BARS)
        return false;
    b = &dev->bars[bar];
    if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
        return false;
    return (off & 7) == 0 && off < b->size && len <= b->size - off;
}

static uint64_t msix_pba_len(unsigned n)
{
    return (uint64_t)(n + 63) / 64 * 8;
}

void pci_msix_reset(struct pci_dev *dev)
{
    if (!dev->msix.table)
        return;
    for (unsigned i = 0; i < dev->msix.nr_vectors; i++)
        dev->msix.table[i] = (struct pci_msix_entry){.ctrl = MSIX_ENTRY_MASKED};
    memset(dev->msix.pba, 0, msix_pba_len(dev->msix.nr_vectors));
}

int pci_msix_init(struct pci_dev *dev, unsigned nr_vectors, unsigned table_bar,
                  uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset)
{
    uint64_t tlen = (uint64_t)nr_vectors * MSIX_ENTRY_SIZE;
    uint64_t plen = msix_pba_len(nr_vectors);
    int off;

    if (dev->msix.cap || nr_vectors == 0 || nr_vectors > PCI_MSIX_MAX_VECTORS)
        return -EINVAL;
    if (!msix_bar_ok(dev, table_bar, table_offset, tlen) ||
        !msix_bar_ok(dev, pba_bar, pba_offset, plen))
        return -EINVAL;
    if (table_bar == pba_bar && table_offset < pba_offset + plen &&
        pba_offset < table_offset + tlen)
        return -EINVAL;
    dev->msix.table = calloc(nr_vectors, sizeof(*dev->msix.table));
    dev->msix.pba = calloc(1, plen);
    if (!dev->msix.table || !dev->msix.pba) {
        pci_dev_release(dev);
        return -ENOMEM;
    }
    off = pci_cap_add(dev, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
    if (off < 0) {
        pci_dev_release(dev);
        return off;
    }
    dev->msix.cap = (unsigned)off;
    dev->msix.nr_vectors = nr_vectors;
    dev->msix.table_bar = table_bar;
    dev->msix.table_offset = table_offset;
    dev->msix.pba_bar = pba_bar;
    dev->msix.pba_offset = pba_offset;
    pci_msix_reset(dev);
    pci_cfg_set16(dev, off + MSIX_CTRL, (uint16_t)(nr_vectors - 1));
    pci_cfg_set_wmask(dev, off + MSIX_CTRL, 2, MSIX_CTRL_MASKALL | MSIX_CTRL_ENABLE);
    pci_cfg_set32(dev, off + MSIX_TABLE, table_offset | table_bar);
    pci_cfg_set32(dev, off + MSIX_PBA, pba_offset | pba_bar);
    return off;
}

bool pci_msix_enabled(const struct pci_dev *dev)
{
    return dev->msix.cap && (pci_cfg_get16(dev, dev->msix.cap + MSIX_CTRL) & MSIX_CTRL_ENABLE);
}

static bool msix_function_masked(const struct pci_dev *dev)
{
    return pci_cfg_get16(dev, dev->msix.cap + MSIX_CTRL) & MSIX_CTRL_MASKALL;
}

bool pci_msix_masked(const struct pci_dev *dev, unsigned vector)
{
    const struct pci_msix_entry *e;

    if (!dev->msix.cap || vector >= dev->msix.nr_vectors)
        return true;
    e = &dev->msix.table[vector];
    if (msi_data_is_pirq(e->data))
        return false;
    return msix_function_masked(dev) || (e->ctrl & MSIX_ENTRY_MASKED);
}

static bool msix_pending(const struct pci_dev *dev, unsigned v)
{
    return dev->msix.pba[v / 64] >> (v % 64) & 1;
}

static void msix_set_pending(struct pci_dev *dev, unsigned v, bool on)
{
    uint64_t bit = (uint64_t)1 << (v % 64);
    dev->msix.pba[v / 64] = on ? dev->msix.pba[v / 64] | bit : dev->msix.pba[v / 64] & ~bit;
}

static int msix_send(struct pci_dev *dev, unsigned v)
{
    const struct pci_msix_entry *e = &dev->msix.table[v];
    return platform_msi(dev, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
}

int pci_msix_notify(struct pci_dev *dev, unsigned vector)
{
    if (!pci_msix_enabled(dev) || vector >= dev->msix.nr_vectors)
        return -EINVAL;
    if (pci_msix_masked(dev, vector)) {
        msix_set_pending(dev, vector, true);
        return 1;
    }
    return msix_send(dev, vector);
}

/* Sends what became deliverable (6.8.2.9: pending messages go out once unmasked). */
static void msix_flush(struct pci_dev *dev, unsigned first, unsigned count)
{
    if (!pci_msix_enabled(dev))
        return;
    for (unsigned v = first; v < first + count && v < dev->msix.nr_vectors; v++) {
        if (msix_pending(dev, v) && !pci_msix_masked(dev, v)) {
            msix_set_pending(dev, v, false);
            msix_send(dev, v);
        }
    }
}

void pci_msix_cfg_written(struct pci_dev *dev, unsigned reg, unsigned size, uint16_t old_ctrl)
{
    uint16_t ctrl;

    if (!pci_ranges_overlap(reg, size, dev->msix.cap, MSIX_CAP_LEN))
        return;
    ctrl = pci_cfg_get16(dev, dev->msix.cap + MSIX_CTRL);
    if ((old_ctrl ^ ctrl) & MSIX_CTRL_ENABLE)
        pci_intx_update(dev);
    if ((old_ctrl ^ ctrl) & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL))
        msix_flush(dev, 0, dev->msix.nr_vectors);
}

static uint32_t *entry_word(struct pci_msix_entry *e, unsigned w)
{
    switch (w) {
    case 0:
        return &e->addr_lo;
    case 1:
        return &e->addr_hi;
    case 2:
        return &e->data;
    default:
        return &e->ctrl;
    }
}

/* Writable bits of each entry dword: address is dword aligned, control has only the mask bit. */
static const uint32_t entry_wmask[4] = {0xfffffffc, 0xffffffff, 0xffffffff, MSIX_ENTRY_MASKED};

/*
 * Where [offset, offset+size) falls: 1 wholly inside [base, base+len),
 * 0 outside, -1 straddling an edge.
 */
static int region_hit(uint64_t offset, unsigned size, uint64_t base, uint64_t len)
{
    if (offset + size <= base || offset >= base + len)
        return 0;
    return offset >= base && offset + size <= base + len ? 1 : -1;
}

/*
 * PCI 3.0 6.8.2: software reads and writes the table and the PBA only with
 * aligned full DWORDs or aligned full QWORDs; the result of anything else is
 * undefined. The table and PBA start 8-byte aligned in their BAR and are
 * multiples of 8 bytes long, so BAR offsets tell the alignment, and no
 * access aligned so straddles their edges or a 4 KiB boundary.
 */
static bool msix_access_ok(uint64_t offset, unsigned size)
{
    return (size == 4 || size == 8) && (offset & (size - 1)) == 0;
}

#define MSIX_PAGE_SIZE 4096u

/*
 * 6.8.2 also keeps every other register of the function out of the naturally
 * aligned 4 KiB ranges the table and the PBA reside in: whatever is there
 * besides them is nothing.
 */
static bool msix_pages_hit(uint64_t offset, unsigned size, uint64_t base, uint64_t len)
{
    uint64_t start = base & ~(uint64_t)(MSIX_PAGE_SIZE - 1);
    uint64_t end = (base + len + MSIX_PAGE_SIZE - 1) & ~(uint64_t)(MSIX_PAGE_SIZE - 1);

    return region_hit(offset, size, start, end - start) != 0;
}

enum msix_where {
    MSIX_AT_NONE,  /* not ours: the device's */
    MSIX_AT_TABLE, /* an aligned DWORD or QWORD of the table */
    MSIX_AT_PBA,   /* an aligned DWORD or QWORD of the PBA */
    MSIX_AT_EMPTY, /* aligned, in their 4 KiB ranges, outside both */
    MSIX_AT_BAD,   /* in or across their 4 KiB ranges, not aligned as 6.8.2 asks */
};

static enum msix_where msix_locate(const struct pci_dev *dev, unsigned bar, uint64_t offset,
                                   unsigned size)
{
    uint64_t tlen = (uint64_t)dev->msix.nr_vectors * MSIX_ENTRY_SIZE;
    uint64_t plen = msix_pba_len(dev->msix.nr_vectors);
    bool t = bar == dev->msix.table_bar, p = bar == dev->msix.pba_bar;

    if (!dev->msix.cap)
        return MSIX_AT_NONE;
    if (!(t && msix_pages_hit(offset, size, dev->msix.table_offset, tlen)) &&
        !(p && msix_pages_hit(offset, size, dev->msix.pba_offset, plen)))
        return MSIX_AT_NONE;
    if (!msix_access_ok(offset, size))
        return MSIX_AT_BAD;
    if (t && region_hit(offset, size, dev->msix.table_offset, tlen))
        return MSIX_AT_TABLE;
    if (p && region_hit(offset, size, dev->msix.pba_offset, plen))
        return MSIX_AT_PBA;
    return MSIX_AT_EMPTY;
}

/* Counts and logs an access 6.8.2 leaves undefined; it reads all-ones and writes nothing. */
static void msix_bad_access(struct pci_dev *dev, const char *what, uint64_t offset, unsigned size)
{
    dev->msix.bad_accesses++;
    pci_dev_fault(dev, DM_FAULT_MSIX_ACCESS_DROPPED);
    log_guest("%s: MSI-X %s of %u bytes at %#llx is no aligned DWORD or QWORD, ignored",
              dev->ops ? dev->ops->name : "pci", what, size, (unsigned long long)offset);
}

bool pci_msix_bar_read(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size,
                       uint64_t *value)
{
    enum msix_where at = msix_locate(dev, bar, offset, size);

    switch (at) {
    case MSIX_AT_NONE:
        return false;
    case MSIX_AT_BAD:
        msix_bad_access(dev, "read", offset, size);
        /* fall through */
    case MSIX_AT_EMPTY:
        *value = io_all_ones(size);
        return true;
    case MSIX_AT_TABLE:
    case MSIX_AT_PBA:
        break;
    }
    *value = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t byte;
        if (at == MSIX_AT_TABLE) {
            uint64_t rel = offset + i - dev->msix.table_offset;
            struct pci_msix_entry *e = &dev->msix.table[rel / MSIX_ENTRY_SIZE];
            byte = *entry_word(e, (rel % MSIX_ENTRY_SIZE) / 4) >> (8 * (rel % 4)) & 0xff;
        } else {
            uint64_t rel = offset + i - dev->msix.pba_offset;
            byte = dev->msix.pba[rel / 8] >> (8 * (rel % 8)) & 0xff;
        }
        *value |= byte << (8 * i);
    }
    return true;
}

bool pci_msix_bar_write(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size,
                        uint64_t value)
{
    uint64_t rel;

    switch (msix_locate(dev, bar, offset, size)) {
    case MSIX_AT_NONE:
        return false;
    case MSIX_AT_BAD:
        msix_bad_access(dev, "write", offset, size);
        return true;
    case MSIX_AT_EMPTY:
    case MSIX_AT_PBA: /* read-only */
        return true;
    case MSIX_AT_TABLE:
        break;
    }
    rel = offset - dev->msix.table_offset;
    for (unsigned i = 0; i < size; i++) {
        uint64_t r = rel + i;
        struct pci_msix_entry *e = &dev->msix.table[r / MSIX_ENTRY_SIZE];
        unsigned w = (r % MSIX_ENTRY_SIZE) / 4, sh = 8 * (r % 4);
        uint32_t m = entry_wmask[w] & (0xffu << sh);
        uint32_t *word = entry_word(e, w);
        *word = (*word & ~m) | ((uint32_t)(value >> (8 * i) << sh) & m);
    }
    /* An entry's mask bit may have been cleared, or its data turned into a pirq message: send
     * what was pending. */
    msix_flush(dev, (unsigned)(rel / MSIX_ENTRY_SIZE),
               (unsigned)((rel + size - 1) / MSIX_ENTRY_SIZE - rel / MSIX_ENTRY_SIZE + 1));
    return true;
}

/* --- read-only views, for inventories --- */

void pci_dev_irq_info(const struct pci_dev *dev, struct pci_irq_info *out)
{
    unsigned pin = pci_cfg_get8(dev, PCI_INTERRUPT_PIN);

    memset(out, 0, sizeof(*out));
    out->intx_pin = pin <= 4 ? pin : 0;
    out->intx_line = pci_cfg_get8(dev, PCI_INTERRUPT_LINE);
    out->intx_level = dev->intx_level;
    out->intx_asserted = dev->intx_asserted;
    out->intx_disabled = pci_cfg_get16(dev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
    if (dev->msi.cap) {
        unsigned cap = dev->msi.cap;

        out->has_msi = true;
        out->msi_enabled = pci_msi_enabled(dev);
        out->msi_addr = (uint64_t)pci_cfg_get32(dev, cap + MSI_ADDR_HI) << 32 |
                        pci_cfg_get32(dev, cap + MSI_ADDR_LO);
        out->msi_data = pci_cfg_get16(dev, cap + MSI_DATA);
        out->msi_vectors = msi_enabled_vectors(dev);
        out->msi_max_vectors = dev->msi.nr_vectors;
        out->msi_mask = pci_cfg_get32(dev, cap + MSI_MASK);
        out->msi_pending = dev->msi.pending;
    }
    if (dev->msix.cap) {
        out->has_msix = true;
        out->msix_enabled = pci_msix_enabled(dev);
        out->msix_function_mask = msix_function_masked(dev);
        out->msix_table_size = dev->msix.nr_vectors;
        out->msix_table_bar = dev->msix.table_bar;
        out->msix_table_offset = dev->msix.table_offset;
        out->msix_pba_bar = dev->msix.pba_bar;
        out->msix_pba_offset = dev->msix.pba_offset;
        out->msix_bad_accesses = dev->msix.bad_accesses;
    }
}

int pci_msix_vector_info(const struct pci_dev *dev, unsigned vector,
                         struct pci_msix_vector_info *out)
{
    const struct pci_msix_entry *e;

    /* A function taken off its bus (pci_bus_remove) has no table any more. */
    if (!dev->msix.cap || !dev->msix.table || vector >= dev->msix.nr_vectors)
        return -EINVAL;
    e = &dev->msix.table[vector];
    out->addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
    out->data = e->data;
    out->masked = e->ctrl & MSIX_ENTRY_MASKED;
    out->pending = msix_pending(dev, vector);
    return 0;
}
