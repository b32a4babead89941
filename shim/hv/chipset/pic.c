/*
 * The 8259A pair as xen/arch/x86/hvm/vpic.c models it: ports 0x20/0x21
 * (master) and 0xa0/0xa1 (slave), the ELCR at 0x4d0/0x4d1. The slave's INT
 * drives the master's IR2 (always level, as the ELCR hard-wires it); the
 * master's INT reaches the vCPU that accepts PIC interrupts through its local
 * APIC (lapic_accept_pic_intr). Level inputs keep IRR set while the line is
 * high; edge inputs lose IRR on the INTA cycle.
 */
#include "chipset-internal.h"

#define PIC_PRIO_NONE 8

/* Inputs that may be level-triggered: master IR0-2 and slave IR0 (IRQ8) and
 * IR5 (IRQ13) are always edge (vpic_elcr_mask). */
static uint8_t elcr_mask(const struct cs_pic *p)
{
    return p->is_master ? 0xf8 : 0xde;
}

/* Priority (0 highest) of the highest-priority bit of mask, with rotation. */
static int pic_get_priority(const struct cs_pic *p, uint8_t mask)
{
    if (!mask)
        return PIC_PRIO_NONE;
    for (int prio = 0; prio < 8; prio++)
        if (mask & (1u << ((prio + p->priority_add) & 7)))
            return prio;
    return PIC_PRIO_NONE;
}

static int pic_highest_irq(const struct cs_pic *p)
{
    uint8_t mask = p->irr & ~p->imr;
    int prio = pic_get_priority(p, mask), cur;

    if (prio == PIC_PRIO_NONE)
        return -1;
    int irq = (prio + p->priority_add) & 7;

    /* In-service interrupts block lower priorities, except the cascade in
     * special fully nested mode and masked ones in special mask mode. */
    mask = p->isr;
    if (p->special_fully_nested_mode && p->is_master && irq == 2)
        mask &= (uint8_t) ~(1u << 2);
    if (p->special_mask_mode)
        mask &= ~p->imr;
    cur = pic_get_priority(p, mask);
    return prio < cur ? irq : -1;
}

static void pic_update_int_output(struct hv_chipset *cs, struct cs_pic *p)
{
    int irq = pic_highest_irq(p);
    bool out = !p->init_state && irq >= 0;

    if (p->int_output == out)
        return;
    p->int_output = out;
    if (p->is_master) {
        if (out)
            cs_kick(cs, cs->i8259_target);
        return;
    }
    /* The slave's INT is the master's IR2. */
    struct cs_pic *master = &cs->pic[0];
    if (out)
        master->irr |= 1u << 2;
    else
        master->irr &= (uint8_t) ~(1u << 2);
    pic_update_int_output(cs, master);
}

void pic_reset(struct hv_chipset *cs)
{
    for (int i = 0; i < 2; i++) {
        struct cs_pic *p = &cs->pic[i];
        *p = (struct cs_pic){.is_master = i == 0, .elcr = i == 0 ? 1u << 2 : 0};
    }
}

void pic_irq_positive_edge(struct hv_chipset *cs, unsigned isa_irq)
{
    struct cs_pic *p = &cs->pic[(isa_irq >> 3) & 1];
    uint8_t mask = 1u << (isa_irq & 7);

    if (isa_irq == 2 || isa_irq > 15)
        return;
    p->irr |= mask;
    if (!(p->imr & mask))
        pic_update_int_output(cs, p);
}

void pic_irq_negative_edge(struct hv_chipset *cs, unsigned isa_irq)
{
    struct cs_pic *p = &cs->pic[(isa_irq >> 3) & 1];
    uint8_t mask = 1u << (isa_irq & 7);

    if (isa_irq == 2 || isa_irq > 15)
        return;
    p->irr &= ~mask;
    if (!(p->imr & mask))
        pic_update_int_output(cs, p);
}

static void pic_intack_one(struct hv_chipset *cs, struct cs_pic *p, int irq)
{
    uint8_t mask = 1u << irq;

    if (!(p->elcr & mask))
        p->irr &= ~mask; /* edge: the INTA cycle forgets the edge */
    if (!p->auto_eoi)
        p->isr |= mask;
    else if (p->rotate_on_auto_eoi)
        p->priority_add = (irq + 1) & 7;
    pic_update_int_output(cs, p);
}

/* The INTA cycle on p: the IRQ taken (0-15 through the master, 0-7 when
 * polling the slave alone), 7 or 15 when the request went away meanwhile
 * (the spurious IRQ of real hardware), -1 if INT was low. */
static int pic_intack_irq(struct hv_chipset *cs, struct cs_pic *p)
{
    struct cs_pic *slave = &cs->pic[1];
    int irq;

    if (!p->int_output)
        return -1;
    irq = pic_highest_irq(p);
    if (irq < 0) {
        cs->counters.pic_spurious++;
        return 7;
    }
    pic_intack_one(cs, p, irq);
    if (irq == 2 && p->is_master) {
        irq = pic_highest_irq(slave);
        if (irq < 0) {
            cs->counters.pic_spurious++;
            return 15;
        }
        pic_intack_one(cs, slave, irq);
        irq += 8;
    } else if (irq == 0 && p->is_master) {
        pit_irq0_taken(cs); /* the timer's tick was taken */
    }
    return irq;
}

int pic_intack(struct hv_chipset *cs)
{
    int irq = pic_intack_irq(cs, &cs->pic[0]);

    if (irq < 0)
        return -1;
    return cs->pic[irq >> 3].irq_base + (irq & 7);
}

static void pic_write_command(struct hv_chipset *cs, struct cs_pic *p, uint8_t val)
{
    if (val & 0x10) {      /* ICW1 */
        p->irr &= p->elcr; /* clear the edge-sensing logic */
        p->imr = p->isr = 0;
        p->priority_add = 0;
        p->rotate_on_auto_eoi = false;
        p->special_mask_mode = false;
        p->readsel_isr = false;
        p->poll = false;
        if (!(val & 1)) { /* no ICW4: its features are cleared */
            p->auto_eoi = false;
            p->special_fully_nested_mode = false;
        }
        p->init_state = ((val & 3) << 2) | 1;
        pic_update_int_output(cs, p);
        return;
    }
    if (val & 0x08) { /* OCW3 */
        if (val & 0x04)
            p->poll = true;
        if (val & 0x02)
            p->readsel_isr = val & 1;
        if (val & 0x40)
            p->special_mask_mode = (val >> 5) & 1;
        pic_update_int_output(cs, p);
        return;
    }
    /* OCW2 */
    unsigned cmd = val >> 5, pin;
    uint8_t mask;
    int prio;
    switch (cmd) {
    case 0: /* rotate in automatic EOI mode: clear */
    case 4: /* set */
        p->rotate_on_auto_eoi = cmd >> 2;
        break;
    case 1: /* non-specific EOI */
    case 5: /* non-specific EOI and rotate */
        mask = p->isr;
        if (p->special_mask_mode)
            mask &= ~p->imr;
        prio = pic_get_priority(p, mask);
        if (prio == PIC_PRIO_NONE)
            break;
        pin = (prio + p->priority_add) & 7;
        p->isr &= (uint8_t) ~(1u << pin);
        if (cmd == 5)
            p->priority_add = (pin + 1) & 7;
        break;
    case 3: /* specific EOI */
    case 7: /* specific EOI and rotate */
        pin = val & 7;
        p->isr &= (uint8_t) ~(1u << pin);
        if (cmd == 7)
            p->priority_add = (pin + 1) & 7;
        break;
    case 6: /* set priority: IR(val & 7) becomes the lowest */
        p->priority_add = (val + 1) & 7;
        break;
    default: /* 2: no operation */
        break;
    }
    pic_update_int_output(cs, p);
}

static void pic_write_data(struct hv_chipset *cs, struct cs_pic *p, uint8_t val)
{
    switch (p->init_state & 3) {
    case 0: /* OCW1 */
        p->imr = val;
        break;
    case 1: /* ICW2 */
        p->irq_base = val & 0xf8;
        p->init_state++;
        if (!(p->init_state & 8))
            break; /* cascade: ICW3 follows */
        /* single: no ICW3 */
        /* fall through */
    case 2: /* ICW3: the cascade wiring is fixed, nothing to keep */
        p->init_state++;
        if (!(p->init_state & 4))
            p->init_state = 0; /* no ICW4 */
        break;
    case 3: /* ICW4 */
        p->special_fully_nested_mode = (val >> 4) & 1;
        p->auto_eoi = (val >> 1) & 1;
        p->init_state = 0;
        break;
    }
    pic_update_int_output(cs, p);
}

static bool elcr_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct cs_pic *p = &cs->pic[port & 1];

    if (size != 1) {
        /* chipset.c passes only accesses inside one of the two 1-byte
         * handlers Xen registers; kept for a direct caller. */
        cs_bad_access(cs, "elcr", port, size);
        if (!write)
            *val = ~0u;
        return true;
    }
    if (write) {
        p->elcr = (uint8_t)*val & elcr_mask(p);
        if (p->is_master)
            p->elcr |= 1u << 2; /* the cascade input is level */
    } else {
        *val = p->elcr & elcr_mask(p);
    }
    return true;
}

bool pic_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct cs_pic *p;

    if (port == 0x4d0 || port == 0x4d1)
        return elcr_pio(cs, port, size, write, val);
    if (port != 0x20 && port != 0x21 && port != 0xa0 && port != 0xa1)
        return false;
    if (size != 1) {
        cs_bad_access(cs, "pic", port, size);
        if (!write)
            *val = ~0u;
        return true;
    }
    p = &cs->pic[port >> 7];
    if (write) {
        if (port & 1)
            pic_write_data(cs, p, (uint8_t)*val);
        else
            pic_write_command(cs, p, (uint8_t)*val);
        return true;
    }
    if (p->poll) {
        /* Poll mode: the read is the INTA cycle. Xen answers with the IRQ
         * number of vpic_intack, or 0xff for none. */
        p->poll = false;
        int irq = pic_intack_irq(cs, p);
        *val = (uint8_t)irq;
        return true;
    }
    if (port & 1)
        *val = p->imr;
    else
        *val = p->readsel_isr ? p->isr : p->irr;
    return true;
}
