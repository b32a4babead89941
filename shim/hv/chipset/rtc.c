/*
 * The MC146818 RTC as xen/arch/x86/hvm/rtc.c models it: port 0x70 selects a
 * register (bit 7, the NMI mask, is dropped), port 0x71 reads or writes it.
 * Xen keeps only the 14 clock registers (RTC_CMOS_SIZE); an index of 14 or
 * more, and the data port while such an index is selected, are passed on to
 * the device model, which owns the CMOS RAM. Reading the index port gives
 * 0xff.
 *
 * Time: host wall-clock time (UTC) plus an offset the guest changes by
 * writing the time registers, shown in BCD or binary and 12 or 24 hour
 * format as register B says. UIP reads as set during the last 244 us of
 * every second. Register C's flags are computed when it is read (a second
 * boundary passed: UF; the alarm matched: AF; a periodic tick passed: PF)
 * and raised as ISA IRQ 8 when enabled in register B; the timer thread
 * raises them on time while PIE, UIE or AIE is set.
 */
#include <string.h>
#include <time.h>

#include "chipset-internal.h"

enum {
    RTC_SECONDS,
    RTC_SECONDS_ALARM,
    RTC_MINUTES,
    RTC_MINUTES_ALARM,
    RTC_HOURS,
    RTC_HOURS_ALARM,
    RTC_DAY_OF_WEEK,
    RTC_DAY_OF_MONTH,
    RTC_MONTH,
    RTC_YEAR,
    RTC_REG_A,
    RTC_REG_B,
    RTC_REG_C,
    RTC_REG_D,
};

#define RTC_UIP       0x80 /* A */
#define RTC_DIV_CTL   0x70
#define RTC_RATE      0x0f
#define RTC_SET       0x80 /* B */
#define RTC_PIE       0x40
#define RTC_AIE       0x20
#define RTC_UIE       0x10
#define RTC_DM_BINARY 0x04
#define RTC_24H       0x02
#define RTC_IRQF      0x80 /* C */
#define RTC_PF        0x40
#define RTC_AF        0x20
#define RTC_UF        0x10
#define RTC_VRT       0x80 /* D */
#define RTC_IRQ       8
#define UIP_WINDOW_NS 244000ull

static void rtc_host_time(int64_t *sec, uint64_t *nsec)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (uint64_t)ts.tv_nsec;
}

static uint8_t to_bcd(const struct cs_rtc *r, int v)
{
    if (r->regs[RTC_REG_B] & RTC_DM_BINARY)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_bcd(const struct cs_rtc *r, uint8_t v)
{
    if (r->regs[RTC_REG_B] & RTC_DM_BINARY)
        return v;
    return (v >> 4) * 10 + (v & 0x0f);
}

static int64_t rtc_guest_sec(const struct cs_rtc *r, uint64_t *nsec)
{
    int64_t sec;
    uint64_t ns;

    rtc_host_time(&sec, &ns);
    if (nsec)
        *nsec = ns;
    return sec + r->offset_sec;
}

/* The time registers as they read at guest second sec. */
static void rtc_copy_date(struct cs_rtc *r, int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm = {.tm_mday = 1, .tm_year = 100}; /* if gmtime_r fails */

    gmtime_r(&t, &tm);
    r->regs[RTC_SECONDS] = to_bcd(r, tm.tm_sec);
    r->regs[RTC_MINUTES] = to_bcd(r, tm.tm_min);
    if (r->regs[RTC_REG_B] & RTC_24H) {
        r->regs[RTC_HOURS] = to_bcd(r, tm.tm_hour);
    } else {
        int h12 = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
        r->regs[RTC_HOURS] = to_bcd(r, h12) | (tm.tm_hour >= 12 ? 0x80 : 0);
    }
    r->regs[RTC_DAY_OF_WEEK] = to_bcd(r, tm.tm_wday + 1);
    r->regs[RTC_DAY_OF_MONTH] = to_bcd(r, tm.tm_mday);
    r->regs[RTC_MONTH] = to_bcd(r, tm.tm_mon + 1);
    r->regs[RTC_YEAR] = to_bcd(r, tm.tm_year % 100);
}

static int rtc_convert_hour(const struct cs_rtc *r, uint8_t raw)
{
    if (r->regs[RTC_REG_B] & RTC_24H)
        return from_bcd(r, raw);
    int h = from_bcd(r, raw & 0x7f) % 12;
    return (raw & 0x80) ? h + 12 : h;
}

/* The guest set the clock: keep the registers' time as an offset. */
static void rtc_set_time(struct cs_rtc *r)
{
    struct tm tm = {
        .tm_sec = from_bcd(r, r->regs[RTC_SECONDS]),
        .tm_min = from_bcd(r, r->regs[RTC_MINUTES]),
        .tm_hour = rtc_convert_hour(r, r->regs[RTC_HOURS]),
        .tm_mday = from_bcd(r, r->regs[RTC_DAY_OF_MONTH]),
        .tm_mon = from_bcd(r, r->regs[RTC_MONTH]) - 1,
        .tm_year = from_bcd(r, r->regs[RTC_YEAR]) + 100,
    };
    int64_t host_sec;
    uint64_t ns;

    /* Nonsense (BCD digits above 9, month 0) still gives some time: timegm
     * normalises it, as Xen's mktime does. */
    rtc_host_time(&host_sec, &ns);
    r->offset_sec = (int64_t)timegm(&tm) - host_sec;
}

static void rtc_update_irq(struct hv_chipset *cs)
{
    struct cs_rtc *r = &cs->rtc;

    if (!(r->regs[RTC_REG_B] & r->regs[RTC_REG_C] & (RTC_PF | RTC_AF | RTC_UF)))
        return;
    r->regs[RTC_REG_C] |= RTC_IRQF;
    irq_isa_pulse(cs, RTC_IRQ); /* Xen's default "no ack" mode */
}

static bool rtc_alarm_matches(struct cs_rtc *r, int64_t sec)
{
    uint8_t saved[RTC_REG_A];
    bool match = true;

    memcpy(saved, r->regs, sizeof(saved));
    rtc_copy_date(r, sec);
    for (unsigned i = RTC_SECONDS; i <= RTC_HOURS; i += 2) {
        uint8_t alarm = saved[i + 1];
        if ((alarm & 0xc0) != 0xc0 && alarm != r->regs[i]) /* 0xc0-0xff: any */
            match = false;
    }
    memcpy(r->regs, saved, sizeof(saved));
    return match;
}

/* Register C's flags for the time that passed; returns those newly set. */
static uint8_t rtc_check_flags(struct hv_chipset *cs, uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;
    uint8_t before = r->regs[RTC_REG_C];

    if (r->period && now >= r->pf_next) {
        r->regs[RTC_REG_C] |= RTC_PF;
        r->pf_next += ((now - r->pf_next) / r->period + 1) * r->period;
    }
    if (!(r->regs[RTC_REG_B] & RTC_SET)) {
        int64_t sec = rtc_guest_sec(r, NULL);
        if (sec != r->last_update_sec) {
            r->last_update_sec = sec;
            r->regs[RTC_REG_C] |= RTC_UF;
            if (rtc_alarm_matches(r, sec))
                r->regs[RTC_REG_C] |= RTC_AF;
        }
    }
    return r->regs[RTC_REG_C] & ~before;
}

/* Register A chose the periodic rate (rtc_timer_update). */
static void rtc_timer_update(struct hv_chipset *cs, uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;
    unsigned code = r->regs[RTC_REG_A] & RTC_RATE;
    uint64_t period = 0;

    switch (r->regs[RTC_REG_A] & RTC_DIV_CTL) {
    case 0x20: /* 32.768 kHz time base */
        if (code != 0 && code <= 2)
            code += 7;
        /* fall through */
    case 0x00:
    case 0x10:
        if (code)
            period = ((1ull << (code - 1)) * NS_PER_SEC + 16384) / 32768;
        if (period && period < CS_MIN_PERIOD_NS)
            period = CS_MIN_PERIOD_NS;
        break;
    default: /* divider held in reset */
        break;
    }
    if (period == r->period)
        return;
    r->period = period;
    if (period)
        r->pf_next = now + period - (now - r->period_start) % period;
    cs->timers_changed = true;
}

void rtc_reset(struct hv_chipset *cs, uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;

    *r = (struct cs_rtc){.period_start = now};
    r->regs[RTC_REG_A] = 0x26; /* 32.768 kHz, 1024 Hz rate */
    r->regs[RTC_REG_B] = RTC_24H;
    r->regs[RTC_REG_D] = RTC_VRT;
    r->last_update_sec = rtc_guest_sec(r, NULL);
    rtc_copy_date(r, r->last_update_sec);
    rtc_timer_update(cs, now);
}

static void rtc_write(struct hv_chipset *cs, uint8_t data, uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;
    uint8_t orig = r->regs[r->index];

    switch (r->index) {
    case RTC_SECONDS_ALARM:
    case RTC_MINUTES_ALARM:
    case RTC_HOURS_ALARM:
        r->regs[r->index] = data;
        cs->timers_changed = true;
        break;
    case RTC_SECONDS:
    case RTC_MINUTES:
    case RTC_HOURS:
    case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH:
    case RTC_MONTH:
    case RTC_YEAR:
        if (r->regs[RTC_REG_B] & RTC_SET) {
            r->regs[r->index] = data;
        } else {
            /* Change one field of the running time. */
            rtc_copy_date(r, rtc_guest_sec(r, NULL));
            r->regs[r->index] = data;
            rtc_set_time(r);
        }
        break;
    case RTC_REG_A:
        r->regs[RTC_REG_A] = data & ~RTC_UIP; /* UIP is read-only */
        rtc_timer_update(cs, now);
        break;
    case RTC_REG_B:
        if ((data & RTC_SET) && !(orig & RTC_SET))
            rtc_copy_date(r, rtc_guest_sec(r, NULL)); /* freeze the time */
        else if (!(data & RTC_SET) && (orig & RTC_SET))
            rtc_set_time(r);
        rtc_check_flags(cs, now);
        r->regs[RTC_REG_B] = data;
        /* An enabled source whose flag is already set interrupts now. */
        rtc_update_irq(cs);
        cs->timers_changed = true;
        break;
    default: /* C and D are read-only */
        cs->counters.readonly_writes++;
        break;
    }
}

static uint8_t rtc_read(struct hv_chipset *cs, uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;
    uint64_t ns;
    uint8_t ret;

    switch (r->index) {
    case RTC_SECONDS:
    case RTC_MINUTES:
    case RTC_HOURS:
    case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH:
    case RTC_MONTH:
    case RTC_YEAR:
        if (!(r->regs[RTC_REG_B] & RTC_SET))
            rtc_copy_date(r, rtc_guest_sec(r, NULL));
        return r->regs[r->index];
    case RTC_REG_A:
        ret = r->regs[RTC_REG_A];
        rtc_guest_sec(r, &ns);
        if (!(r->regs[RTC_REG_B] & RTC_SET) && ns >= NS_PER_SEC - UIP_WINDOW_NS)
            ret |= RTC_UIP;
        return ret;
    case RTC_REG_C:
        rtc_check_flags(cs, now);
        ret = r->regs[RTC_REG_C];
        r->regs[RTC_REG_C] = 0;
        if (ret & RTC_IRQF)
            irq_isa_deassert(cs, RTC_IRQ);
        return ret;
    default:
        return r->regs[r->index];
    }
}

bool rtc_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val,
             uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;

    if (port != 0x70 && port != 0x71)
        return false;
    if (size != 1) {
        cs_bad_access(cs, "rtc", port, size);
        if (!write)
            *val = ~0u;
        return true;
    }
    if (port == 0x70) {
        if (!write) {
            *val = 0xff;
            return true;
        }
        r->index = *val & 0x7f;
        /* CMOS RAM beyond the clock: the device model sees the index too. */
        return r->index < CS_RTC_REGS;
    }
    if (r->index >= CS_RTC_REGS)
        return false;
    if (write)
        rtc_write(cs, (uint8_t)*val, now);
    else
        *val = rtc_read(cs, now);
    return true;
}

uint64_t rtc_run_timer(struct hv_chipset *cs, uint64_t now)
{
    struct cs_rtc *r = &cs->rtc;
    uint8_t b = r->regs[RTC_REG_B];
    uint64_t next = CS_NO_DEADLINE, ns;

    if (rtc_check_flags(cs, now))
        rtc_update_irq(cs);
    if (r->period && (b & RTC_PIE))
        next = r->pf_next;
    if ((b & (RTC_UIE | RTC_AIE)) && !(b & RTC_SET)) {
        rtc_guest_sec(r, &ns);
        uint64_t update = now + (NS_PER_SEC - ns) + 1000; /* just past the boundary */
        if (update < next)
            next = update;
    }
    return next;
}
