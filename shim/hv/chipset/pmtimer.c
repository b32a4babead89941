/*
 * The part of the ACPI PM1a blocks Xen emulates (xen/arch/x86/hvm/pmtimer.c):
 * PM1a_STS and PM1a_EN (base .. base+3) and the PM timer TMR_VAL (base+8,
 * 4-byte reads only), a 32-bit counter at 3.579545 MHz (the FADT Xen's
 * hvmloader builds sets TMR_VAL_EXT). PM1a_CNT at base+4 is not Xen's: it
 * belongs to the device model. TMR_STS is set when the counter's top bit
 * flips; the SCI (ISA IRQ 9) is asserted while a status bit that can raise
 * it is both set and enabled.
 */
#include "chipset-internal.h"

#define TMR_STS     (1u << 0)
#define GBL_STS     (1u << 5)
#define PWRBTN_STS  (1u << 8)
#define SLPBTN_STS  (1u << 9)
#define SCI_MASK    (TMR_STS | PWRBTN_STS | SLPBTN_STS | GBL_STS)
#define SCI_IRQ     9
#define TMR_VAL_MSB 0x80000000u

uint32_t pmt_ticks(uint64_t elapsed_ns)
{
    /* elapsed * 3579545 / 1e9 without overflowing 64 bits */
    uint64_t whole = elapsed_ns / NS_PER_SEC, part = elapsed_ns % NS_PER_SEC;
    return (uint32_t)(whole * PMT_HZ + part * PMT_HZ / NS_PER_SEC);
}

static void pmt_update_sci(struct hv_chipset *cs)
{
    if (cs->pmt.en & cs->pmt.sts & SCI_MASK)
        irq_isa_assert(cs, SCI_IRQ);
    else
        irq_isa_deassert(cs, SCI_IRQ);
}

static uint32_t pmt_update_time(struct hv_chipset *cs, uint64_t now)
{
    struct cs_pmt *p = &cs->pmt;
    uint32_t val = pmt_ticks(now - p->start);

    if ((val ^ p->last_val) & TMR_VAL_MSB) {
        p->sts |= TMR_STS;
        pmt_update_sci(cs);
    }
    p->last_val = val;
    return val;
}

void pmt_reset(struct hv_chipset *cs, uint16_t base, uint64_t now)
{
    cs->pmt = (struct cs_pmt){.base = base, .start = now};
}

static bool pmt_within(uint16_t port, unsigned size, uint32_t start, unsigned len)
{
    return port >= start && (uint32_t)port + size <= start + len;
}

bool pmt_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val,
             uint64_t now)
{
    struct cs_pmt *p = &cs->pmt;

    if (pmt_within(port, size, p->base + 8u, 4)) {
        if (size != 4 || write) {
            cs_bad_access(cs, "pm timer", port, size);
            if (!write)
                *val = ~0u;
            return true;
        }
        *val = pmt_update_time(cs, now);
        return true;
    }
    if (!pmt_within(port, size, p->base, 4))
        return false;

    unsigned addr = port - p->base;
    if (write) {
        uint32_t data = *val;
        for (unsigned i = 0; i < size; i++, addr++, data >>= 8) {
            uint16_t byte = data & 0xff;
            switch (addr) {
            case 0: /* PM1a_STS: write 1 to clear */
                p->sts &= ~byte;
                break;
            case 1:
                p->sts &= ~(byte << 8);
                break;
            case 2: /* PM1a_EN */
                p->en = (p->en & 0xff00) | byte;
                break;
            case 3:
                p->en = (p->en & 0x00ff) | (byte << 8);
                break;
            }
        }
        pmt_update_sci(cs);
        cs->timers_changed = true;
        return true;
    }
    pmt_update_time(cs, now);
    uint32_t data = (p->sts | ((uint32_t)p->en << 16)) >> (8 * addr);
    if (size == 1)
        data &= 0xff;
    else if (size == 2)
        data &= 0xffff;
    *val = data;
    return true;
}

uint64_t pmt_run_timer(struct hv_chipset *cs, uint64_t now)
{
    struct cs_pmt *p = &cs->pmt;
    uint32_t val = pmt_update_time(cs, now);

    if (!(p->en & TMR_STS))
        return CS_NO_DEADLINE;
    /* Wake when the top bit flips next. */
    uint64_t left = TMR_VAL_MSB - (val & (TMR_VAL_MSB - 1));
    return now + left * NS_PER_SEC / PMT_HZ + 1000;
}
