/*
 * Interrupt routing as xen/arch/x86/hvm/irq.c does it, with the state Xen
 * keeps (struct hvm_irq): one assert bit per ISA IRQ and per (PCI device,
 * INTx), an assert count per GSI and per PCI link. A GSI's line is the
 * wired OR of its sources: the IOAPIC and the PIC see an edge when its count
 * leaves 0 and the PIC sees the line fall when it returns to 0. ISA IRQ n is
 * GSI n, except IRQ 0 which is GSI 2 (hvm_isa_irq_to_gsi). PCI INTx reaches
 * GSI 16-47 by Xen's swizzle (hvm_pci_intx_gsi) and, through the PCI link
 * it maps to (hvm_pci_intx_link), the ISA IRQ that link is routed to.
 */
#include <errno.h>

#include "chipset-internal.h"

unsigned irq_isa_to_gsi(unsigned isa_irq)
{
    return isa_irq ? isa_irq : 2;
}

unsigned irq_pci_intx_gsi(unsigned dev, unsigned intx)
{
    return (((dev << 2) + (dev >> 3) + intx) & 31) + 16;
}

unsigned irq_pci_intx_link(unsigned dev, unsigned intx)
{
    return (dev + intx) & 3;
}

/* A count the guest can drive out of step (hv_chipset_gsi forces a level
 * GSI's count to 0 or 1) never wraps: true when it reached 0. */
static bool count_drop(uint8_t *count)
{
    if (!*count)
        return false;
    return --*count == 0;
}

/* Both controllers see a rising ISA/GSI line. */
static void assert_irq(struct hv_chipset *cs, unsigned gsi, unsigned isa_irq)
{
    ioapic_irq_positive_edge(cs, gsi);
    pic_irq_positive_edge(cs, isa_irq);
}

void irq_isa_assert(struct hv_chipset *cs, unsigned isa_irq)
{
    unsigned gsi = irq_isa_to_gsi(isa_irq);

    if (cs->irq.isa_irq & (1u << isa_irq))
        return;
    cs->irq.isa_irq |= 1u << isa_irq;
    if (cs->irq.gsi_assert_count[gsi]++ == 0)
        assert_irq(cs, gsi, isa_irq);
}

void irq_isa_deassert(struct hv_chipset *cs, unsigned isa_irq)
{
    unsigned gsi = irq_isa_to_gsi(isa_irq);

    if (!(cs->irq.isa_irq & (1u << isa_irq)))
        return;
    cs->irq.isa_irq &= (uint16_t) ~(1u << isa_irq);
    if (count_drop(&cs->irq.gsi_assert_count[gsi]))
        pic_irq_negative_edge(cs, isa_irq);
}

/* An edge from a timer (the vpt's deassert then assert). */
void irq_isa_pulse(struct hv_chipset *cs, unsigned isa_irq)
{
    irq_isa_deassert(cs, isa_irq);
    irq_isa_assert(cs, isa_irq);
}

/* hvm_gsi_assert/deassert: a level GSI is one line (count 0 or 1); an edge
 * GSI delivers on each assert. Only the IOAPIC sees it, as in Xen. */
void irq_gsi_set(struct hv_chipset *cs, unsigned gsi, bool level)
{
    bool lvl_trig = ioapic_is_level(cs, gsi);

    if (!level) {
        if (lvl_trig)
            cs->irq.gsi_assert_count[gsi] = 0;
        return;
    }
    if (!lvl_trig || !cs->irq.gsi_assert_count[gsi]) {
        if (lvl_trig)
            cs->irq.gsi_assert_count[gsi] = 1;
        ioapic_irq_positive_edge(cs, gsi);
    }
}

void irq_pci_intx_set(struct hv_chipset *cs, unsigned dev, unsigned intx, bool level)
{
    struct cs_irq *irq = &cs->irq;
    unsigned gsi = irq_pci_intx_gsi(dev, intx), link = irq_pci_intx_link(dev, intx);
    unsigned isa_irq = irq->link_route[link];
    uint32_t bit = 1u << intx;

    if (level) {
        if (irq->pci_intx[dev] & bit)
            return;
        irq->pci_intx[dev] |= bit;
        if (irq->gsi_assert_count[gsi]++ == 0)
            ioapic_irq_positive_edge(cs, gsi);
        if (irq->link_assert_count[link]++ == 0 && isa_irq && irq->gsi_assert_count[isa_irq]++ == 0)
            assert_irq(cs, isa_irq, isa_irq);
        return;
    }
    if (!(irq->pci_intx[dev] & bit))
        return;
    irq->pci_intx[dev] &= ~bit;
    count_drop(&irq->gsi_assert_count[gsi]);
    if (count_drop(&irq->link_assert_count[link]) && isa_irq &&
        count_drop(&irq->gsi_assert_count[isa_irq]))
        pic_irq_negative_edge(cs, isa_irq);
}

void irq_set_link_route(struct hv_chipset *cs, unsigned link, unsigned isa_irq)
{
    struct cs_irq *irq = &cs->irq;
    unsigned old = irq->link_route[link];

    if (old == isa_irq)
        return;
    irq->link_route[link] = (uint8_t)isa_irq;
    if (!irq->link_assert_count[link])
        return;
    /* The link is asserted: move its line from the old IRQ to the new. */
    if (old && count_drop(&irq->gsi_assert_count[old]))
        pic_irq_negative_edge(cs, old);
    if (isa_irq && irq->gsi_assert_count[isa_irq]++ == 0)
        assert_irq(cs, isa_irq, isa_irq);
}

/* hvm_inject_msi/vmsi_deliver: address 0xfeexxxxx, destination in bits
 * 12-19, logical destination mode in bit 2; data: vector in bits 0-7,
 * delivery mode in 8-10, level trigger in bit 15. */
int irq_msi(struct hv_chipset *cs, uint64_t addr, uint32_t data)
{
    uint8_t vector = (uint8_t)data, dest = (addr >> 12) & 0xff;
    unsigned mode = (data >> 8) & 7;
    bool logical = (addr >> 2) & 1, level = (data >> 15) & 1;
    int target;

    if ((addr & ~0xfffffull) != 0xfee00000ull || vector < 16 || mode > 1) {
        cs->counters.msi_refused++;
        return -EINVAL;
    }
    if (mode == 1) { /* lowest priority */
        target = lapic_lowest_prio(cs, -1, 0, dest, logical);
        if (target < 0) {
            cs->counters.msi_refused++;
            return -ESRCH;
        }
        lapic_set_irq(cs, (unsigned)target, vector, level);
        return 0;
    }
    for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++)
        if (lapic_match_dest(cs, v, -1, 0, dest, logical))
            lapic_set_irq(cs, v, vector, level);
    return 0;
}
