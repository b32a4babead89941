/*
 * The 8254 PIT as xen/arch/x86/emul/i8254.c models it: ports 0x40-0x42 (the
 * three counters), 0x43 (control word, counter latch, read-back) and the
 * port 0x61 bits Xen owns (bit 0: channel 2's gate, bit 1: speaker data,
 * bit 4: refresh toggle, bit 5: channel 2's OUT). Counts are computed from
 * the monotonic clock at 1.193182 MHz since the count was loaded. Channel 0
 * drives ISA IRQ 0 as Xen's periodic timer does: periodic in modes 2 and 3,
 * one-shot in modes 1 and 4, nothing in the other modes. As in Xen's default
 * timer mode (delay_for_missed_ticks), a tick that falls while the previous
 * one is still waiting for a vCPU is kept and raised when that one is taken,
 * so the guest's tick count catches up; at most one second of ticks is kept,
 * the rest is dropped and counted.
 */
#include "chipset-internal.h"

#define PIT_FREQ 1193182ull

enum { RW_STATE_LSB = 1, RW_STATE_MSB, RW_STATE_WORD0, RW_STATE_WORD1 };

/* Input clock ticks between two instants (a*b/c without overflow). */
static uint64_t pit_ticks(uint64_t from, uint64_t now)
{
    uint64_t ns = now > from ? now - from : 0;
    return (ns / NS_PER_SEC) * PIT_FREQ + (ns % NS_PER_SEC) * PIT_FREQ / NS_PER_SEC;
}

uint32_t pit_get_count(const struct cs_pit_channel *c, uint64_t now)
{
    uint64_t d = pit_ticks(c->count_load_time, now);

    switch (c->mode) {
    case 0:
    case 1:
    case 4:
    case 5:
        return (uint32_t)(c->count - d) & 0xffff;
    case 3:
        /* Xen's formula: the count runs down twice per period. */
        return c->count - (uint32_t)((2 * d) % c->count);
    default:
        return c->count - (uint32_t)(d % c->count);
    }
}

bool pit_get_out(const struct cs_pit_channel *c, uint64_t now)
{
    uint64_t d = pit_ticks(c->count_load_time, now);

    switch (c->mode) {
    default:
    case 0:
        return d >= c->count;
    case 1:
        return d < c->count;
    case 2:
        return (d % c->count) == 0 && d != 0;
    case 3:
        return (d % c->count) < ((c->count + 1) >> 1);
    case 4:
    case 5:
        return d == c->count;
    }
}

static void pit_set_gate(struct cs_pit_channel *c, bool gate, uint64_t now)
{
    switch (c->mode) {
    default:
    case 0:
    case 4:
        /* Xen neither stops nor restarts these on the gate. */
        break;
    case 1:
    case 2:
    case 3:
    case 5:
        if (!c->gate && gate) /* a rising edge restarts counting */
            c->count_load_time = now;
        break;
    }
    c->gate = gate;
}

static void pit_load_count(struct hv_chipset *cs, unsigned channel, uint32_t val, uint64_t now)
{
    struct cs_pit_channel *c = &cs->pit.ch[channel];
    uint64_t period;

    if (val == 0)
        val = 0x10000;
    c->count_load_time = now;
    c->count = val;
    if (channel != 0)
        return;
    period = (val * NS_PER_SEC + PIT_FREQ / 2) / PIT_FREQ;
    switch (c->mode) {
    case 2:
    case 3:
        cs->pit.irq0_next = now + period;
        cs->pit.irq0_period = period < CS_MIN_PERIOD_NS ? CS_MIN_PERIOD_NS : period;
        break;
    case 1:
    case 4:
        cs->pit.irq0_next = now + period;
        cs->pit.irq0_period = 0;
        break;
    default:
        cs->pit.irq0_next = CS_NO_DEADLINE;
        cs->pit.irq0_period = 0;
        break;
    }
    cs->pit.irq0_backlog = 0;
    cs->timers_changed = true;
}

static void pit_latch_count(struct cs_pit_channel *c, uint64_t now)
{
    if (!c->count_latched) {
        c->latched_count = (uint16_t)pit_get_count(c, now);
        c->count_latched = c->rw_mode;
    }
}

void pit_reset(struct hv_chipset *cs, uint64_t now)
{
    cs->pit = (struct cs_pit){.irq0_next = CS_NO_DEADLINE};
    for (unsigned i = 0; i < 3; i++) {
        struct cs_pit_channel *c = &cs->pit.ch[i];
        c->mode = 0xff; /* no control word yet */
        c->gate = i != 2;
        pit_load_count(cs, i, 0, now);
    }
}

static void pit_write(struct hv_chipset *cs, unsigned addr, uint8_t val, uint64_t now)
{
    struct cs_pit_channel *c;

    if (addr == 3) {
        unsigned channel = val >> 6;
        if (channel == 3) { /* read-back */
            for (unsigned i = 0; i < 3; i++) {
                c = &cs->pit.ch[i];
                if (!(val & (2u << i)))
                    continue;
                if (!(val & 0x20))
                    pit_latch_count(c, now);
                if (!(val & 0x10) && !c->status_latched) {
                    c->status = (uint8_t)((pit_get_out(c, now) << 7) | (c->rw_mode << 4) |
                                          (c->mode << 1) | c->bcd);
                    c->status_latched = true;
                }
            }
            return;
        }
        c = &cs->pit.ch[channel];
        unsigned access = (val >> 4) & 3;
        if (access == 0) {
            pit_latch_count(c, now);
        } else {
            c->rw_mode = access;
            c->read_state = access;
            c->write_state = access;
            c->mode = (val >> 1) & 7;
            c->bcd = val & 1;
        }
        return;
    }

    c = &cs->pit.ch[addr];
    switch (c->write_state) {
    default:
    case RW_STATE_LSB:
        pit_load_count(cs, addr, val, now);
        break;
    case RW_STATE_MSB:
        pit_load_count(cs, addr, (uint32_t)val << 8, now);
        break;
    case RW_STATE_WORD0:
        c->write_latch = val;
        c->write_state = RW_STATE_WORD1;
        break;
    case RW_STATE_WORD1:
        pit_load_count(cs, addr, c->write_latch | ((uint32_t)val << 8), now);
        c->write_state = RW_STATE_WORD0;
        break;
    }
}

static uint8_t pit_read(struct hv_chipset *cs, unsigned addr, uint64_t now)
{
    struct cs_pit_channel *c = &cs->pit.ch[addr];
    uint32_t count;
    uint8_t ret;

    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->count_latched) {
        switch (c->count_latched) {
        default:
        case RW_STATE_LSB:
            ret = c->latched_count & 0xff;
            c->count_latched = 0;
            break;
        case RW_STATE_MSB:
            ret = c->latched_count >> 8;
            c->count_latched = 0;
            break;
        case RW_STATE_WORD0:
            ret = c->latched_count & 0xff;
            c->count_latched = RW_STATE_MSB;
            break;
        }
        return ret;
    }
    count = pit_get_count(c, now);
    switch (c->read_state) {
    default:
    case RW_STATE_LSB:
        return count & 0xff;
    case RW_STATE_MSB:
        return (count >> 8) & 0xff;
    case RW_STATE_WORD0:
        c->read_state = RW_STATE_WORD1;
        return count & 0xff;
    case RW_STATE_WORD1:
        c->read_state = RW_STATE_WORD0;
        return (count >> 8) & 0xff;
    }
}

bool pit_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val,
             uint64_t now)
{
    if (port == 0x61) {
        if (size != 1) {
            cs_bad_access(cs, "port 0x61", port, size);
            if (!write)
                *val = ~0u;
            return true;
        }
        struct cs_pit_channel *c2 = &cs->pit.ch[2];
        if (write) {
            cs->pit.speaker_data_on = (*val >> 1) & 1;
            pit_set_gate(c2, *val & 1, now);
        } else {
            /* Bit 4 toggles with the DRAM refresh, every 15 us or so. */
            unsigned refresh = (now >> 14) & 1;
            *val = (cs->pit.speaker_data_on << 1) | c2->gate | (pit_get_out(c2, now) << 5) |
                   (refresh << 4);
        }
        return true;
    }
    if (port < 0x40 || port > 0x43)
        return false;
    if (size != 1) {
        cs_bad_access(cs, "pit", port, size);
        if (!write)
            *val = ~0u;
        return true;
    }
    if (write)
        pit_write(cs, port & 3, (uint8_t)*val, now);
    else if ((port & 3) == 3)
        *val = ~0u; /* the control word cannot be read back */
    else
        *val = pit_read(cs, port & 3, now);
    return true;
}

#define RTE_MASKED (1ull << 16)

/* Whether IRQ 0 can reach a vCPU: unmasked at the PIC or at IOAPIC pin 2.
 * While it cannot, ticks are not kept: the PIC's IRR holds one edge. */
static bool pit_irq0_unmasked(const struct hv_chipset *cs)
{
    return !(cs->pic[0].imr & 1) || !(cs->ioapic.redir[2] & RTE_MASKED);
}

/* Whether the last tick still waits to be taken: in the PIC's IRR, or in a
 * local APIC's IRR under IOAPIC pin 2's vector. Asked afresh each tick, so
 * a tick lost to a PIC re-initialisation does not stop the timer. */
static bool pit_irq0_waiting(const struct hv_chipset *cs)
{
    uint64_t pin2 = cs->ioapic.redir[2];

    if ((cs->pic[0].irr & 1) && !(cs->pic[0].imr & 1))
        return true;
    if (pin2 & RTE_MASKED)
        return false;
    for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++)
        if (lapic_irr_has(cs, v, (uint8_t)pin2))
            return true;
    return false;
}

static uint32_t pit_backlog_cap(const struct cs_pit *pit)
{
    uint64_t cap = pit->irq0_period ? NS_PER_SEC / pit->irq0_period : 1;
    return cap < 1 ? 1 : cap > 10000 ? 10000 : (uint32_t)cap;
}

static void pit_tick(struct hv_chipset *cs, uint64_t ticks)
{
    struct cs_pit *pit = &cs->pit;
    uint64_t room;

    if (!pit_irq0_unmasked(cs)) {
        irq_isa_pulse(cs, 0); /* latched for when it is unmasked */
        return;
    }
    if (!pit_irq0_waiting(cs)) {
        irq_isa_pulse(cs, 0);
        ticks--;
    }
    room = pit_backlog_cap(pit) - pit->irq0_backlog;
    if (ticks > room) {
        cs->counters.pit_missed_ticks += ticks - room;
        ticks = room;
    }
    pit->irq0_backlog += (uint32_t)ticks;
}

/* A vCPU took IRQ 0's vector (Xen's pt_intr_post): a kept tick follows. */
void pit_irq0_taken(struct hv_chipset *cs)
{
    struct cs_pit *pit = &cs->pit;

    if (pit->irq0_backlog) {
        pit->irq0_backlog--;
        irq_isa_pulse(cs, 0);
    }
}

uint64_t pit_run_timer(struct hv_chipset *cs, uint64_t now)
{
    struct cs_pit *pit = &cs->pit;
    uint64_t ticks = 1;

    if (pit->irq0_next > now)
        return pit->irq0_next;
    pit->ch[0].count_load_time = now; /* Xen re-phases on each tick */
    if (!pit->irq0_period) {
        pit->irq0_next = CS_NO_DEADLINE;
        pit_tick(cs, 1);
        return CS_NO_DEADLINE;
    }
    /* Late by whole periods (the host was busy): those ticks are owed too. */
    ticks += (now - pit->irq0_next) / pit->irq0_period;
    pit->irq0_next += ticks * pit->irq0_period;
    pit_tick(cs, ticks);
    return pit->irq0_next;
}
