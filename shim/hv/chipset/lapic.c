/*
 * One local APIC per vCPU at 0xfee00000, as xen/arch/x86/hvm/vlapic.c
 * models it in xAPIC mode: ID (vCPU n has APIC ID 2n), version 0x00050014
 * (six LVT entries), TPR/PPR, EOI, LDR/DFR, SVR software enable, the
 * ISR/TMR/IRR bitmaps, ESR, ICR (fixed and lowest-priority IPIs delivered,
 * INIT and SIPI queued for the vCPU to act on), the LVT entries and the timer
 * (one-shot or periodic, counting a 1 GHz bus clock through the divide
 * configuration). Registers are 32-bit on 16-byte boundaries; any access
 * that fits inside one register is allowed, others read 0 and are dropped.
 *
 * The 8259A's INT reaches one vCPU (i8259_target): the first whose LAPIC
 * accepts ExtINT through LVT0, or through IOAPIC pin 0 in ExtINT mode aimed
 * at it (the virtual wire mode hvmloader sets up); vCPU 0 otherwise.
 */
#include <string.h>

#include "chipset-internal.h"

enum {
    APIC_ID = 0x20,
    APIC_LVR = 0x30,
    APIC_TASKPRI = 0x80,
    APIC_PROCPRI = 0xa0,
    APIC_EOI = 0xb0,
    APIC_LDR = 0xd0,
    APIC_DFR = 0xe0,
    APIC_SPIV = 0xf0,
    APIC_ISR = 0x100,
    APIC_TMR = 0x180,
    APIC_IRR = 0x200,
    APIC_ESR = 0x280,
    APIC_ICR = 0x300,
    APIC_ICR2 = 0x310,
    APIC_LVTT = 0x320,
    APIC_LVT0 = 0x350,
    APIC_LVTERR = 0x370,
    APIC_TMICT = 0x380,
    APIC_TMCCT = 0x390,
    APIC_TDCR = 0x3e0,
};

#define VLAPIC_VERSION     0x00050014u
#define LVT_MASKED         (1u << 16)
#define LVT_SEND_PENDING   (1u << 12)
#define LVT_VECTOR         0xffu
#define LVT_MODE_MASK      0x700u
#define LVT_LINT_EXTRA     (0x2000u | 0x4000u | 0x8000u) /* polarity, remote IRR, level */
#define TIMER_MODE_MASK    0x60000u
#define TIMER_PERIODIC     0x20000u
#define TIMER_TSC_DEADLINE 0x40000u
#define DM_EXTINT          0x700u
#define ESR_SENDILL        0x20u
#define ESR_RECVILL        0x40u
#define SPIV_ENABLED       0x100u

enum { SH_NONE, SH_SELF, SH_ALL_INC, SH_ALL_BUT };
enum { DM_FIXED, DM_LOWEST, DM_SMI, DM_REMRD, DM_NMI, DM_INIT, DM_STARTUP, DM_EXT };

static const uint32_t lvt_mask[6] = {
    LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR | TIMER_MODE_MASK,                /* timer */
    LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR | LVT_MODE_MASK,                  /* thermal */
    LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR | LVT_MODE_MASK,                  /* perf */
    LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR | LVT_MODE_MASK | LVT_LINT_EXTRA, /* LINT0 */
    LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR | LVT_MODE_MASK | LVT_LINT_EXTRA, /* LINT1 */
    LVT_MASKED | LVT_SEND_PENDING | LVT_VECTOR,                                  /* error */
};

static uint32_t reg(const struct cs_lapic *l, unsigned off)
{
    return l->regs[off / 4];
}

static void set_reg(struct cs_lapic *l, unsigned off, uint32_t val)
{
    l->regs[off / 4] = val;
}

static bool test_vec(const struct cs_lapic *l, unsigned base, uint8_t vec)
{
    return reg(l, base + (vec / 32) * 0x10) & (1u << (vec % 32));
}

static void set_vec(struct cs_lapic *l, unsigned base, uint8_t vec, bool on)
{
    uint32_t *w = &l->regs[(base + (vec / 32) * 0x10) / 4];
    if (on)
        *w |= 1u << (vec % 32);
    else
        *w &= ~(1u << (vec % 32));
}

static int highest_vec(const struct cs_lapic *l, unsigned base)
{
    for (int i = 7; i >= 0; i--) {
        uint32_t w = reg(l, base + (unsigned)i * 0x10);
        if (w)
            return i * 32 + 31 - __builtin_clz(w);
    }
    return -1;
}

static uint8_t lapic_id(const struct cs_lapic *l)
{
    return reg(l, APIC_ID) >> 24;
}

static bool lvtt_mode(const struct cs_lapic *l, uint32_t mode)
{
    return (reg(l, APIC_LVTT) & TIMER_MODE_MASK) == mode;
}

static bool lvtt_counting(const struct cs_lapic *l)
{
    return lvtt_mode(l, 0) || lvtt_mode(l, TIMER_PERIODIC);
}

static void lapic_set_tdcr(struct cs_lapic *l, uint32_t val)
{
    val &= 0xb; /* bits 0, 1 and 3 */
    set_reg(l, APIC_TDCR, val);
    l->timer_divisor = 1u << ((((val & 3) | ((val & 8) >> 1)) + 1) & 7);
}

/* INIT: everything but the ID back to its reset value (vlapic_do_init). */
static void lapic_do_init(struct cs_lapic *l)
{
    uint32_t id = reg(l, APIC_ID);

    memset(l->regs, 0, sizeof(l->regs));
    set_reg(l, APIC_ID, id);
    set_reg(l, APIC_LVR, VLAPIC_VERSION);
    lapic_set_tdcr(l, 0);
    set_reg(l, APIC_DFR, 0xffffffffu);
    for (unsigned i = 0; i < 6; i++)
        set_reg(l, APIC_LVTT + 0x10 * i, LVT_MASKED);
    set_reg(l, APIC_SPIV, 0xff);
    l->sw_disabled = true;
    l->timer_next = CS_NO_DEADLINE;
    l->timer_period = 0;
    l->timer_last_update = 0;
}

void lapic_reset(struct hv_chipset *cs, unsigned vcpu)
{
    struct cs_lapic *l = &cs->lapic[vcpu];

    memset(l, 0, sizeof(*l));
    set_reg(l, APIC_ID, (vcpu * 2) << 24);
    lapic_do_init(l);
}

bool lapic_enabled(const struct hv_chipset *cs, unsigned vcpu)
{
    return !cs->lapic[vcpu].sw_disabled;
}

static void lapic_error(struct hv_chipset *cs, unsigned vcpu, uint32_t err)
{
    struct cs_lapic *l = &cs->lapic[vcpu];
    uint32_t esr = reg(l, APIC_ESR), lvterr = reg(l, APIC_LVTERR);
    bool inject = false;

    cs->counters.lapic_errors++;
    if ((esr & err) == err)
        return;
    if (!(lvterr & LVT_MASKED)) {
        if ((lvterr & LVT_VECTOR) >= 16)
            inject = true;
        else
            err |= ESR_RECVILL;
    }
    set_reg(l, APIC_ESR, esr | err);
    if (inject)
        lapic_set_irq(cs, vcpu, lvterr & LVT_VECTOR, false);
}

void lapic_set_irq(struct hv_chipset *cs, unsigned vcpu, uint8_t vector, bool level)
{
    struct cs_lapic *l = &cs->lapic[vcpu];

    if (vector < 16) {
        lapic_error(cs, vcpu, ESR_RECVILL);
        return;
    }
    set_vec(l, APIC_TMR, vector, level);
    if (!test_vec(l, APIC_IRR, vector)) {
        set_vec(l, APIC_IRR, vector, true);
        cs_kick(cs, vcpu);
    }
}

bool lapic_irr_has(const struct hv_chipset *cs, unsigned vcpu, uint8_t vector)
{
    return test_vec(&cs->lapic[vcpu], APIC_IRR, vector);
}

static uint32_t lapic_ppr(const struct cs_lapic *l)
{
    uint32_t tpr = reg(l, APIC_TASKPRI);
    int isr = highest_vec(l, APIC_ISR);
    uint32_t isrv = isr >= 0 ? (uint32_t)isr : 0;

    return (tpr & 0xf0) >= (isrv & 0xf0) ? tpr & 0xff : isrv & 0xf0;
}

static bool match_logical(const struct cs_lapic *l, uint32_t mda)
{
    uint8_t ldr = reg(l, APIC_LDR) >> 24;

    mda &= 0xff;
    switch (reg(l, APIC_DFR)) {
    case 0xffffffffu: /* flat */
        return ldr & mda;
    case 0x0fffffffu: /* cluster */
        return (ldr >> 4) == (mda >> 4) && (ldr & mda & 0xf);
    default:
        return false;
    }
}

bool lapic_match_dest(const struct hv_chipset *cs, unsigned vcpu, int source, unsigned short_hand,
                      uint32_t dest, bool logical)
{
    const struct cs_lapic *l = &cs->lapic[vcpu];

    switch (short_hand) {
    case SH_NONE:
        if (logical)
            return match_logical(l, dest);
        return dest == 0xff || dest == lapic_id(l);
    case SH_SELF:
        return (int)vcpu == source;
    case SH_ALL_INC:
        return true;
    default:
        return (int)vcpu != source;
    }
}

int lapic_lowest_prio(struct hv_chipset *cs, int source, unsigned short_hand, uint32_t dest,
                      bool logical)
{
    unsigned n = cs->cfg.nr_vcpus, old = cs->irq.round_robin_prev_vcpu % n, v = old;
    uint32_t best = UINT32_MAX;
    int target = -1;

    do {
        v = (v + 1) % n;
        if (lapic_match_dest(cs, v, source, short_hand, dest, logical) && lapic_enabled(cs, v)) {
            uint32_t ppr = lapic_ppr(&cs->lapic[v]);
            if (ppr < best) {
                best = ppr;
                target = (int)v;
            }
        }
    } while (v != old);
    if (target >= 0)
        cs->irq.round_robin_prev_vcpu = (unsigned)target;
    return target;
}

static bool accepts_extint(const struct hv_chipset *cs, unsigned vcpu)
{
    const struct cs_lapic *l = &cs->lapic[vcpu];
    uint64_t pin0 = cs->ioapic.redir[0];

    /* IOAPIC pin 0 unmasked, ExtINT, aimed at this LAPIC (virtual wire). */
    if (((pin0 >> 8) & 7) == 7 && !(pin0 & (1ull << 16)) && (uint8_t)(pin0 >> 56) == lapic_id(l) &&
        lapic_enabled(cs, vcpu))
        return true;
    /* LVT0 unmasked in ExtINT mode. */
    return (reg(l, APIC_LVT0) & (LVT_MODE_MASK | LVT_MASKED)) == DM_EXTINT;
}

bool lapic_accept_pic_intr(const struct hv_chipset *cs, unsigned vcpu)
{
    return vcpu == cs->i8259_target && accepts_extint(cs, vcpu);
}

void lapic_adjust_i8259_target(struct hv_chipset *cs)
{
    unsigned target = 0;

    for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++) {
        if (accepts_extint(cs, v)) {
            target = v;
            break;
        }
    }
    if (target == cs->i8259_target)
        return;
    cs->i8259_target = target;
    if (cs->pic[0].int_output)
        cs_kick(cs, target);
}

int lapic_pending_vector(const struct hv_chipset *cs, unsigned vcpu)
{
    const struct cs_lapic *l = &cs->lapic[vcpu];
    int irr, isr;

    if (!lapic_enabled(cs, vcpu))
        return -1;
    irr = highest_vec(l, APIC_IRR);
    if (irr < 0)
        return -1;
    isr = highest_vec(l, APIC_ISR);
    if (isr >= 0 && (irr & 0xf0) <= (isr & 0xf0))
        return -1;
    /* The TPR blocks its class and below (hvm_interrupt_blocked). */
    if (((reg(l, APIC_TASKPRI) & 0xf0) >> 4) >= ((unsigned)irr >> 4))
        return -1;
    return irr;
}

int lapic_ack(struct hv_chipset *cs, unsigned vcpu)
{
    struct cs_lapic *l = &cs->lapic[vcpu];
    int vec = lapic_pending_vector(cs, vcpu);

    if (vec < 0)
        return -1;
    set_vec(l, APIC_ISR, (uint8_t)vec, true);
    set_vec(l, APIC_IRR, (uint8_t)vec, false);
    return vec;
}

static void lapic_eoi(struct hv_chipset *cs, unsigned vcpu)
{
    struct cs_lapic *l = &cs->lapic[vcpu];
    int vec = highest_vec(l, APIC_ISR);

    if (vec < 0)
        return; /* an EOI with nothing in service */
    set_vec(l, APIC_ISR, (uint8_t)vec, false);
    if (test_vec(l, APIC_TMR, (uint8_t)vec))
        ioapic_update_eoi(cs, (uint8_t)vec);
    /* A lower-priority request may now be deliverable. */
    if (lapic_pending_vector(cs, vcpu) >= 0)
        cs_kick(cs, vcpu);
}

static void lapic_queue_ipi(struct hv_chipset *cs, unsigned vcpu, enum hv_chipset_ipi kind,
                            uint8_t vector)
{
    struct cs_lapic *l = &cs->lapic[vcpu];

    if (l->ipi_count == CS_IPI_QUEUE) {
        cs->counters.ipis_dropped++;
        return;
    }
    unsigned slot = (l->ipi_head + l->ipi_count++) % CS_IPI_QUEUE;
    l->ipi[slot].kind = (uint8_t)kind;
    l->ipi[slot].vector = vector;
    cs_kick(cs, vcpu);
}

enum hv_chipset_ipi lapic_take_ipi(struct hv_chipset *cs, unsigned vcpu, uint8_t *vector)
{
    struct cs_lapic *l = &cs->lapic[vcpu];

    if (!l->ipi_count)
        return HV_CHIPSET_IPI_NONE;
    enum hv_chipset_ipi kind = l->ipi[l->ipi_head].kind;
    *vector = l->ipi[l->ipi_head].vector;
    l->ipi_head = (l->ipi_head + 1) % CS_IPI_QUEUE;
    l->ipi_count--;
    return kind;
}

static void lapic_accept_irq(struct hv_chipset *cs, unsigned vcpu, uint32_t icr)
{
    switch ((icr >> 8) & 7) {
    case DM_FIXED:
    case DM_LOWEST:
        if (lapic_enabled(cs, vcpu))
            lapic_set_irq(cs, vcpu, (uint8_t)icr, false);
        break;
    default:
        /* NMI, SMI, remote read, ExtINT IPIs: firmware sends none. */
        cs->counters.lapic_unsupported_ipis++;
        break;
    }
}

static void lapic_ipi(struct hv_chipset *cs, unsigned source, uint32_t icr, uint32_t icr2)
{
    unsigned short_hand = (icr >> 18) & 3, mode = (icr >> 8) & 7;
    bool logical = icr & (1u << 11);
    uint32_t dest = icr2 >> 24;
    int target;

    switch (mode) {
    case DM_INIT:
    case DM_STARTUP:
        /* The INIT level de-assert of older APICs does nothing. */
        if (mode == DM_INIT && (icr & 0xc000) == 0x8000)
            break;
        for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++) {
            if (!lapic_match_dest(cs, v, (int)source, short_hand, dest, logical))
                continue;
            if (mode == DM_INIT) {
                lapic_do_init(&cs->lapic[v]);
                lapic_adjust_i8259_target(cs);
                lapic_queue_ipi(cs, v, HV_CHIPSET_IPI_INIT, 0);
            } else {
                lapic_queue_ipi(cs, v, HV_CHIPSET_IPI_SIPI, (uint8_t)icr);
            }
        }
        cs->timers_changed = true;
        break;
    case DM_LOWEST:
        target = lapic_lowest_prio(cs, (int)source, short_hand, dest, logical);
        if ((icr & LVT_VECTOR) < 16)
            lapic_error(cs, source, ESR_SENDILL);
        else if (target >= 0)
            lapic_accept_irq(cs, (unsigned)target, icr);
        break;
    case DM_FIXED:
        if ((icr & LVT_VECTOR) < 16) {
            lapic_error(cs, source, ESR_SENDILL);
            break;
        }
        /* fall through */
    default:
        for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++)
            if (lapic_match_dest(cs, v, (int)source, short_hand, dest, logical))
                lapic_accept_irq(cs, v, icr);
        break;
    }
}

static uint32_t lapic_tmcct(const struct cs_lapic *l, uint64_t now)
{
    uint32_t tmict = reg(l, APIC_TMICT);
    uint64_t passed;

    if (!tmict || !l->timer_last_update)
        return 0;
    passed = (now - l->timer_last_update) / l->timer_divisor;
    if (lvtt_mode(l, TIMER_PERIODIC))
        passed %= tmict;
    return passed < tmict ? tmict - (uint32_t)passed : 0;
}

/* vlapic_update_timer: TMICT already holds its new value; new_lvtt is the
 * LVTT about to be written; the divisor may have changed from old_divisor. */
static void lapic_update_timer(struct hv_chipset *cs, struct cs_lapic *l, uint32_t new_lvtt,
                               bool tmict_updated, uint32_t old_divisor, uint64_t now)
{
    uint64_t tmict = reg(l, APIC_TMICT), period = tmict * old_divisor, delta = 0;
    bool periodic = (new_lvtt & TIMER_MODE_MASK) == TIMER_PERIODIC;
    bool oneshot = (new_lvtt & TIMER_MODE_MASK) == 0;

    if (tmict_updated) {
        delta = period;
    } else if (period && l->timer_last_update) {
        uint64_t passed = now - l->timer_last_update;
        if (lvtt_mode(l, TIMER_PERIODIC))
            passed %= period;
        if (passed < period)
            delta = period - passed;
    }
    cs->timers_changed = true;
    if (delta && (oneshot || periodic)) {
        if (l->timer_divisor != old_divisor) {
            period = tmict * l->timer_divisor;
            delta = delta * l->timer_divisor / old_divisor;
        }
        l->timer_next = now + delta;
        l->timer_period = !periodic ? 0 : period < CS_MIN_PERIOD_NS ? CS_MIN_PERIOD_NS : period;
        l->timer_last_update = now;
        if (!tmict_updated)
            l->timer_last_update -= period - delta;
        return;
    }
    l->timer_next = CS_NO_DEADLINE;
    l->timer_period = 0;
    l->timer_last_update = 0;
}

static uint32_t lapic_read_aligned(const struct hv_chipset *cs, unsigned vcpu, unsigned off,
                                   uint64_t now)
{
    const struct cs_lapic *l = &cs->lapic[vcpu];

    switch (off) {
    case APIC_PROCPRI:
        return lapic_ppr(l);
    case APIC_TMCCT:
        return lvtt_counting(l) ? lapic_tmcct(l, now) : 0;
    case APIC_TMICT:
        return lvtt_counting(l) ? reg(l, APIC_TMICT) : 0;
    default:
        return reg(l, off);
    }
}

static void lapic_reg_write(struct hv_chipset *cs, unsigned vcpu, unsigned off, uint32_t val,
                            uint64_t now)
{
    struct cs_lapic *l = &cs->lapic[vcpu];

    switch (off) {
    case APIC_ID:
        set_reg(l, APIC_ID, val);
        lapic_adjust_i8259_target(cs);
        break;
    case APIC_TASKPRI:
        set_reg(l, APIC_TASKPRI, val & 0xff);
        if (lapic_pending_vector(cs, vcpu) >= 0)
            cs_kick(cs, vcpu);
        break;
    case APIC_EOI:
        lapic_eoi(cs, vcpu);
        break;
    case APIC_LDR:
        set_reg(l, APIC_LDR, val & 0xff000000u);
        break;
    case APIC_DFR:
        set_reg(l, APIC_DFR, val | 0x0fffffffu);
        break;
    case APIC_SPIV:
        set_reg(l, APIC_SPIV, val & 0x3ff);
        if (!(val & SPIV_ENABLED)) {
            l->sw_disabled = true;
            for (unsigned i = 0; i < 6; i++)
                l->regs[(APIC_LVTT + 0x10 * i) / 4] |= LVT_MASKED;
        } else {
            l->sw_disabled = false;
            if (lapic_pending_vector(cs, vcpu) >= 0)
                cs_kick(cs, vcpu);
        }
        break;
    case APIC_ICR:
        val &= ~LVT_SEND_PENDING; /* delivery is instant: never pending */
        lapic_ipi(cs, vcpu, val, reg(l, APIC_ICR2));
        set_reg(l, APIC_ICR, val);
        break;
    case APIC_ICR2:
        set_reg(l, APIC_ICR2, val & 0xff000000u);
        break;
    case APIC_LVTT:
    case APIC_LVTT + 0x10:
    case APIC_LVTT + 0x20:
    case APIC_LVT0:
    case APIC_LVT0 + 0x10:
    case APIC_LVTERR:
        if (off == APIC_LVTT) {
            bool was_tdt = lvtt_mode(l, TIMER_TSC_DEADLINE);
            if (was_tdt != ((val & TIMER_MODE_MASK) == TIMER_TSC_DEADLINE))
                set_reg(l, APIC_TMICT, 0);
            lapic_update_timer(cs, l, val, false, l->timer_divisor, now);
        }
        if (l->sw_disabled)
            val |= LVT_MASKED;
        val &= lvt_mask[(off - APIC_LVTT) >> 4];
        set_reg(l, off, val);
        if (off == APIC_LVT0)
            lapic_adjust_i8259_target(cs);
        break;
    case APIC_TMICT:
        if (!lvtt_counting(l))
            break;
        set_reg(l, APIC_TMICT, val);
        lapic_update_timer(cs, l, reg(l, APIC_LVTT), true, l->timer_divisor, now);
        break;
    case APIC_TDCR: {
        uint32_t old = l->timer_divisor;
        lapic_set_tdcr(l, val);
        lapic_update_timer(cs, l, reg(l, APIC_LVTT), false, old, now);
        break;
    }
    default:
        cs->counters.readonly_writes++;
        break;
    }
}

bool lapic_mmio(struct hv_chipset *cs, unsigned vcpu, uint64_t addr, unsigned size, bool write,
                uint64_t *val, uint64_t now)
{
    if (addr < LAPIC_BASE || addr >= LAPIC_BASE + 0x1000)
        return false;
    unsigned offset = (unsigned)(addr - LAPIC_BASE), align = offset & 0xf;

    if (align + size > 4 || offset > APIC_TDCR + 3) {
        cs_bad_access(cs, "lapic", (uint32_t)addr, size);
        if (!write)
            *val = 0;
        return true;
    }
    uint32_t r = lapic_read_aligned(cs, vcpu, offset & ~0xfu, now);
    uint32_t mask = size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    if (!write) {
        *val = (r >> (align * 8)) & mask;
        return true;
    }
    uint32_t v = (uint32_t)*val & mask;
    if (size < 4)
        v = (r & ~(mask << (align * 8))) | (v << (align * 8));
    lapic_reg_write(cs, vcpu, offset & ~0xfu, v, now);
    return true;
}

uint64_t lapic_run_timers(struct hv_chipset *cs, uint64_t now)
{
    uint64_t next = CS_NO_DEADLINE;

    for (unsigned v = 0; v < cs->cfg.nr_vcpus; v++) {
        struct cs_lapic *l = &cs->lapic[v];
        if (l->timer_next <= now) {
            uint32_t lvtt = reg(l, APIC_LVTT);
            if (!(lvtt & LVT_MASKED))
                lapic_set_irq(cs, v, lvtt & LVT_VECTOR, false);
            if (l->timer_period) {
                l->timer_last_update = now;
                l->timer_next += l->timer_period;
                if (l->timer_next <= now) {
                    cs->counters.lapic_missed_ticks += (now - l->timer_next) / l->timer_period + 1;
                    l->timer_next = now + l->timer_period;
                }
            } else {
                l->timer_next = CS_NO_DEADLINE;
            }
        }
        if (l->timer_next < next)
            next = l->timer_next;
    }
    return next;
}
