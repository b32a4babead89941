/*
 * The IOAPIC at 0xfec00000 as xen/arch/x86/hvm/vioapic.c models it for a
 * guest: 48 pins (VIOAPIC_NUM_PINS), version 0x11 (no EOI register), a
 * 4-bit ID in bits 24-27 (Xen reads and writes it through the arbitration
 * field), IOREGSEL at +0x00 and IOWIN at +0x10 of any size; other offsets
 * read 0 and ignore writes. Redirection entries reset masked; remote IRR and
 * delivery status are read-only. A level pin sets remote IRR when it
 * delivers and is delivered again on the local APIC's EOI of its vector
 * while its GSI is still asserted.
 */
#include "chipset-internal.h"

#define REG_SELECT  0x00
#define REG_WINDOW  0x10
#define REG_APIC_ID 0x00
#define REG_VERSION 0x01
#define REG_ARB_ID  0x02
#define REG_RTE0    0x10

#define RTE_VECTOR(e)   ((uint8_t)(e))
#define RTE_DELIV(e)    (((e) >> 8) & 7)
#define RTE_DESTMODE(e) (((e) >> 11) & 1)
#define RTE_STATUS      (1ull << 12)
#define RTE_REMOTE_IRR  (1ull << 14)
#define RTE_LEVEL       (1ull << 15)
#define RTE_MASK        (1ull << 16)
#define RTE_DEST(e)     ((uint8_t)((e) >> 56))

enum { DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_EXTINT = 7 };

void ioapic_reset(struct hv_chipset *cs)
{
    cs->ioapic = (struct cs_ioapic){0};
    for (unsigned i = 0; i < CS_NR_GSIS; i++)
        cs->ioapic.redir[i] = RTE_MASK;
}

bool ioapic_is_level(const struct hv_chipset *cs, unsigned gsi)
{
    return gsi < CS_NR_GSIS && (cs->ioapic.redir[gsi] & RTE_LEVEL);
}

static void ioapic_deliver(struct hv_chipset *cs, unsigned pin)
{
    uint64_t e = cs->ioapic.redir[pin];
    uint8_t vector = RTE_VECTOR(e);
    bool logical = RTE_DESTMODE(e), level = e & RTE_LEVEL;
    uint32_t dest = RTE_DEST(e);
    int target;

    switch (RTE_DELIV(e)) {
    case DM_LOWEST:
        target = lapic_lowest_prio(cs, -1, 0, dest, logical);
        if (target >= 0)
            lapic_set_irq(cs, (unsigned)target, vector, level);
        break;
    case DM_FIXED:
        for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++)
            if (lapic_enabled(cs, v) && lapic_match_dest(cs, v, -1, 0, dest, logical))
                lapic_set_irq(cs, v, vector, level);
        break;
    case DM_EXTINT:
        /* The PIC's INT reaches the CPU through lapic_accept_pic_intr. */
        break;
    default:
        /* NMI, SMI, INIT: not needed by firmware; Xen warns and drops. */
        cs->counters.ioapic_unsupported++;
        break;
    }
}

void ioapic_irq_positive_edge(struct hv_chipset *cs, unsigned gsi)
{
    uint64_t *e;

    if (gsi >= CS_NR_GSIS)
        return;
    e = &cs->ioapic.redir[gsi];
    if (*e & RTE_MASK)
        return;
    if (!(*e & RTE_LEVEL)) {
        ioapic_deliver(cs, gsi);
    } else if (!(*e & RTE_REMOTE_IRR)) {
        *e |= RTE_REMOTE_IRR;
        ioapic_deliver(cs, gsi);
    }
}

void ioapic_update_eoi(struct hv_chipset *cs, uint8_t vector)
{
    for (unsigned pin = 0; pin < CS_NR_GSIS; pin++) {
        uint64_t *e = &cs->ioapic.redir[pin];
        if (RTE_VECTOR(*e) != vector)
            continue;
        *e &= ~RTE_REMOTE_IRR;
        if ((*e & RTE_LEVEL) && !(*e & RTE_MASK) && cs->irq.gsi_assert_count[pin]) {
            *e |= RTE_REMOTE_IRR;
            ioapic_deliver(cs, pin);
        }
    }
}

static void ioapic_write_redirent(struct hv_chipset *cs, unsigned pin, bool top, uint32_t val)
{
    uint64_t *pe = &cs->ioapic.redir[pin], e = *pe;

    if (top) {
        e = (uint32_t)e | ((uint64_t)val << 32); /* the destination only */
    } else {
        e = ((e >> 32) << 32) | val;
        e &= ~(RTE_STATUS | RTE_REMOTE_IRR);
        e |= *pe & RTE_REMOTE_IRR;
    }
    *pe = e;

    if (pin == 0) {
        lapic_adjust_i8259_target(cs);
    } else if (!(e & RTE_LEVEL)) {
        *pe &= ~RTE_REMOTE_IRR;
    } else if (!(e & RTE_MASK) && !(e & RTE_REMOTE_IRR) && cs->irq.gsi_assert_count[pin]) {
        /* Unmasking an asserted level line delivers it. */
        *pe |= RTE_REMOTE_IRR;
        ioapic_deliver(cs, pin);
    }
}

static uint32_t ioapic_read_indirect(struct hv_chipset *cs)
{
    struct cs_ioapic *io = &cs->ioapic;

    switch (io->ioregsel) {
    case REG_VERSION:
        return IOAPIC_VERSION | ((CS_NR_GSIS - 1) << 16);
    case REG_APIC_ID:
    case REG_ARB_ID:
        return (uint32_t)(io->id & 0xf) << 24;
    default: {
        uint32_t index = (io->ioregsel - REG_RTE0) >> 1;
        if (io->ioregsel < REG_RTE0 || index >= CS_NR_GSIS) {
            cs_bad_access(cs, "ioapic register", io->ioregsel, 4);
            return 0;
        }
        uint64_t e = io->redir[index];
        return (io->ioregsel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    }
}

static void ioapic_write_indirect(struct hv_chipset *cs, uint32_t val)
{
    struct cs_ioapic *io = &cs->ioapic;

    switch (io->ioregsel) {
    case REG_VERSION:
    case REG_ARB_ID:
        cs->counters.readonly_writes++;
        break;
    case REG_APIC_ID:
        io->id = (val >> 24) & 0xf;
        break;
    default: {
        uint32_t index = (io->ioregsel - REG_RTE0) >> 1;
        if (io->ioregsel < REG_RTE0 || index >= CS_NR_GSIS) {
            cs_bad_access(cs, "ioapic register", io->ioregsel, 4);
            break;
        }
        ioapic_write_redirent(cs, index, io->ioregsel & 1, val);
        break;
    }
    }
}

bool ioapic_mmio(struct hv_chipset *cs, uint64_t addr, unsigned size, bool write, uint64_t *val)
{
    if (addr < IOAPIC_BASE || addr >= IOAPIC_BASE + 0x100)
        return false;
    switch (addr & 0xff) {
    case REG_SELECT:
        if (write)
            cs->ioapic.ioregsel = (uint32_t)*val;
        else
            *val = cs->ioapic.ioregsel;
        break;
    case REG_WINDOW:
        if (write)
            ioapic_write_indirect(cs, (uint32_t)*val);
        else
            *val = ioapic_read_indirect(cs);
        break;
    default:
        cs_bad_access(cs, "ioapic", (uint32_t)addr, size);
        if (!write)
            *val = 0;
        break;
    }
    return true;
}
