/*
 * The legacy devices Xen emulates itself: the 8259A pair with its ELCR, the
 * 8254 PIT and port 0x61, the RTC, the ACPI PM1a event block and PM timer,
 * and the debug port 0xe9. Register values are checked exactly; anything
 * timed waits on hv_chipset_wait with a generous deadline and checks what
 * arrived, never how fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chipset-test.h"

/* ---- PIC ---- */

static void test_pic_init_and_vector(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    pic_init(cs);
    assert_int_equal(inb(cs, 0x21), 0xfb);
    assert_int_equal(inb(cs, 0xa1), 0xff);
    assert_false(hv_chipset_pending(cs, 0));

    hv_chipset_isa_irq(cs, 1, true); /* masked: in IRR, not delivered */
    outb(cs, 0x20, 0x0a);            /* OCW3: read IRR */
    assert_int_equal(inb(cs, 0x20), 0x02);
    assert_false(hv_chipset_pending(cs, 0));

    pic_unmask(cs, 1);
    assert_true(hv_chipset_pending(cs, 0));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x09);
    assert_false(hv_chipset_pending(cs, 0));
    outb(cs, 0x20, 0x0b); /* OCW3: read ISR */
    assert_int_equal(inb(cs, 0x20), 0x02);
    outb(cs, 0x20, 0x0a);
    assert_int_equal(inb(cs, 0x20), 0x00); /* edge: IRR forgotten on INTA */

    outb(cs, 0x20, 0x20); /* non-specific EOI */
    outb(cs, 0x20, 0x0b);
    assert_int_equal(inb(cs, 0x20), 0x00);
    assert_false(hv_chipset_pending(cs, 0)); /* the edge was taken once */

    /* A new edge after the line fell. */
    hv_chipset_isa_irq(cs, 1, false);
    hv_chipset_isa_irq(cs, 1, true);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x09);
    outb(cs, 0x20, 0x61); /* specific EOI of IR1 */
    outb(cs, 0x20, 0x0b);
    assert_int_equal(inb(cs, 0x20), 0x00);
    assert_true(rec.kicks > 0);
    hv_chipset_destroy(cs);
}

static void test_pic_priority_and_nesting(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    pic_init(cs);
    pic_unmask(cs, 3);
    pic_unmask(cs, 4);
    hv_chipset_isa_irq(cs, 4, true);
    hv_chipset_isa_irq(cs, 3, true);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x0b); /* IR3 before IR4 */
    assert_false(hv_chipset_pending(cs, 0));       /* IR4 waits for IR3's EOI */
    outb(cs, 0x20, 0x20);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x0c);
    outb(cs, 0x20, 0x20);
    assert_false(hv_chipset_pending(cs, 0));
    hv_chipset_destroy(cs);
}

static void test_pic_elcr_level(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    /* Some inputs cannot be level: master IR0-2, slave IR0 and IR5. */
    outb(cs, 0x4d0, 0xff);
    assert_int_equal(inb(cs, 0x4d0), 0xf8);
    outb(cs, 0x4d1, 0xff);
    assert_int_equal(inb(cs, 0x4d1), 0xde);
    outb(cs, 0x4d0, 0x00);
    outb(cs, 0x4d1, 0x00);
    assert_int_equal(inb(cs, 0x4d0), 0x00);

    virtual_wire(cs);
    pic_init(cs);
    outb(cs, 0x4d1, 0x04); /* IRQ 10 level */
    pic_unmask(cs, 10);
    hv_chipset_isa_irq(cs, 10, true);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x72);
    outb(cs, 0xa0, 0x20);
    outb(cs, 0x20, 0x20);
    /* Still high: delivered again after the EOI. */
    assert_true(hv_chipset_pending(cs, 0));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x72);
    hv_chipset_isa_irq(cs, 10, false);
    outb(cs, 0xa0, 0x20);
    outb(cs, 0x20, 0x20);
    assert_false(hv_chipset_pending(cs, 0));
    outb(cs, 0xa0, 0x0a);
    assert_int_equal(inb(cs, 0xa0), 0x00);
    hv_chipset_destroy(cs);
}

static void test_pic_cascade(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    pic_init(cs);
    pic_unmask(cs, 12);
    hv_chipset_isa_irq(cs, 12, true);
    outb(cs, 0x20, 0x0a);
    assert_int_equal(inb(cs, 0x20), 0x04); /* the slave's INT on IR2 */
    assert_int_equal(hv_chipset_ack(cs, 0), 0x74);
    outb(cs, 0x20, 0x0b);
    assert_int_equal(inb(cs, 0x20), 0x04);
    outb(cs, 0xa0, 0x0b);
    assert_int_equal(inb(cs, 0xa0), 0x10);
    outb(cs, 0xa0, 0x20);
    outb(cs, 0x20, 0x20);
    outb(cs, 0x20, 0x0b);
    assert_int_equal(inb(cs, 0x20), 0x00);
    outb(cs, 0xa0, 0x0b);
    assert_int_equal(inb(cs, 0xa0), 0x00);
    hv_chipset_destroy(cs);
}

static void test_pic_auto_eoi_and_poll(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    outb(cs, 0x20, 0x11);
    outb(cs, 0x21, 0x20);
    outb(cs, 0x21, 0x04);
    outb(cs, 0x21, 0x03); /* ICW4: auto EOI */
    outb(cs, 0x21, 0x00);
    hv_chipset_isa_irq(cs, 5, true);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x25);
    outb(cs, 0x20, 0x0b);
    assert_int_equal(inb(cs, 0x20), 0x00); /* nothing left in service */

    /* Poll mode: the read is the acknowledge. */
    hv_chipset_isa_irq(cs, 6, true);
    outb(cs, 0x20, 0x0c);
    assert_int_equal(inb(cs, 0x20), 0x06);
    assert_false(hv_chipset_pending(cs, 0));
    outb(cs, 0x20, 0x0c);
    assert_int_equal(inb(cs, 0x20), 0xff); /* Xen: nothing to poll */
    hv_chipset_destroy(cs);
}

static void test_pic_needs_virtual_wire(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    /* At reset the LAPIC takes no ExtINT (Xen's __vlapic_accept_pic_intr):
     * hvmloader's apic_setup opens the way. */
    pic_init(cs);
    pic_unmask(cs, 1);
    hv_chipset_isa_irq(cs, 1, true);
    assert_false(hv_chipset_pending(cs, 0));
    assert_int_equal(hv_chipset_ack(cs, 0), -1);
    virtual_wire(cs);
    assert_true(hv_chipset_pending(cs, 0));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x09);
    hv_chipset_destroy(cs);
}

/* ---- PIT ---- */

static void test_pit_counter_modes(void **state)
{
    struct cs_pit_channel c = {.count = 1000, .mode = 2, .count_load_time = 0};

    /* 1000 ns is 1.19 ticks: the count has moved by one. */
    assert_int_equal(pit_get_count(&c, 0), 1000);
    assert_int_equal(pit_get_count(&c, 1000), 999);
    assert_int_equal(pit_get_count(&c, NS_PER_SEC / 1000), 1000 - 1193 % 1000);
    c.mode = 0;
    assert_int_equal(pit_get_count(&c, 0), 1000);
    assert_false(pit_get_out(&c, 0));
    assert_int_equal(pit_get_count(&c, 837500), 1); /* 999.3 ticks */
    assert_false(pit_get_out(&c, 837500));
    assert_true(pit_get_out(&c, 839000)); /* 1001 ticks: terminal count */
    assert_int_equal(pit_get_count(&c, 839000), 0xffff);
    c.mode = 3;
    assert_true(pit_get_out(&c, 0));
    assert_false(pit_get_out(&c, 420000));            /* 501 ticks: second half */
    assert_int_equal(pit_get_count(&c, 420000), 998); /* (2 * 501) mod 1000 down */
}

static void test_pit_latch_and_readback(void **state)
{
    struct hv_chipset *cs = make_bare_chipset(1);
    uint32_t v;

    /* Channel 2, lo/hi, mode 0, count 0x1234 loaded at t=1000. */
    v = 0xb0;
    assert_true(pit_pio(cs, 0x43, 1, true, &v, 1000));
    v = 0x34;
    assert_true(pit_pio(cs, 0x42, 1, true, &v, 1000));
    v = 0x12;
    assert_true(pit_pio(cs, 0x42, 1, true, &v, 1000));
    /* Latch at 1000 + 10 ticks; read later: the latched value. */
    v = 0x80;
    assert_true(pit_pio(cs, 0x43, 1, true, &v, 1000 + 8400));
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 5000000));
    assert_int_equal(v, 0x2a); /* 0x1234 - 10 */
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 5000000));
    assert_int_equal(v, 0x12);
    /* Unlatched: the live count, low then high byte. */
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 1000 + 838));
    assert_int_equal(v, 0x34);
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 1000 + 838));
    assert_int_equal(v, 0x12);

    /* Read-back of channel 2's status (not its count): OUT low, lo/hi,
     * mode 0, binary. */
    v = 0xe8;
    assert_true(pit_pio(cs, 0x43, 1, true, &v, 2000));
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 2000));
    assert_int_equal(v, 0x30);
    /* Read-back of count and status: status first, then the count. */
    v = 0xc8;
    assert_true(pit_pio(cs, 0x43, 1, true, &v, 1000));
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 9000000));
    assert_int_equal(v, 0x30);
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 9000000));
    assert_int_equal(v, 0x34);
    assert_true(pit_pio(cs, 0x42, 1, false, &v, 9000000));
    assert_int_equal(v, 0x12);
    free_bare_chipset(cs);
}

static void test_pit_port61(void **state)
{
    struct hv_chipset *cs = make_bare_chipset(1);
    uint32_t v;

    assert_true(pit_pio(cs, 0x61, 1, false, &v, 0));
    assert_int_equal(v & 0x23, 0x00); /* gate 2 low, speaker off, OUT low */
    v = 0x03;
    assert_true(pit_pio(cs, 0x61, 1, true, &v, 1000));
    /* SeaBIOS's TSC calibration: channel 2 mode 0, then poll bit 5. */
    v = 0xb0;
    pit_pio(cs, 0x43, 1, true, &v, 1000);
    v = 100;
    pit_pio(cs, 0x42, 1, true, &v, 1000);
    v = 0;
    pit_pio(cs, 0x42, 1, true, &v, 1000);
    assert_true(pit_pio(cs, 0x61, 1, false, &v, 1000 + 83000)); /* 99 ticks */
    assert_int_equal(v & 0x23, 0x03);
    assert_true(pit_pio(cs, 0x61, 1, false, &v, 1000 + 84000)); /* 100 ticks */
    assert_int_equal(v & 0x23, 0x23);
    free_bare_chipset(cs);
}

static void test_pit_port61_live(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    unsigned polls = 0;

    outb(cs, 0x61, (inb(cs, 0x61) & ~0x02) | 0x01);
    outb(cs, 0x43, 0xb0);
    outb(cs, 0x42, 0x00);
    outb(cs, 0x42, 0x01); /* 256 ticks, 215 us */
    while (!(inb(cs, 0x61) & 0x20)) {
        struct timespec pause = {.tv_nsec = 10000};
        nanosleep(&pause, NULL);
        assert_true(++polls < 1000000); /* the loop ends */
    }
    hv_chipset_destroy(cs);
}

static void bare_out(struct hv_chipset *cs, uint16_t port, uint32_t v, uint64_t now)
{
    if (port >= 0x40 && port <= 0x43)
        assert_true(pit_pio(cs, port, 1, true, &v, now));
    else
        assert_true(pic_pio(cs, port, 1, true, &v));
}

static void bare_virtual_wire(struct hv_chipset *cs)
{
    uint64_t v = 0x1ff;
    assert_true(lapic_mmio(cs, 0, 0xfee000f0, 4, true, &v, 0));
    v = 0x10;
    assert_true(ioapic_mmio(cs, 0xfec00000, 4, true, &v));
    v = 0x700;
    assert_true(ioapic_mmio(cs, 0xfec00010, 4, true, &v));
}

static void test_pit_ticks_kept_until_taken(void **state)
{
    struct hv_chipset *cs = make_bare_chipset(1);
    const uint64_t t0 = 1000000, period = 999847; /* 1193 input clocks */

    bare_virtual_wire(cs);
    bare_out(cs, 0x20, 0x11, 0);
    bare_out(cs, 0x21, 0x08, 0);
    bare_out(cs, 0x21, 0x04, 0);
    bare_out(cs, 0x21, 0x01, 0);
    bare_out(cs, 0x21, 0xfe, 0);
    bare_out(cs, 0x43, 0x34, t0);
    bare_out(cs, 0x40, 0xa9, t0);
    bare_out(cs, 0x40, 0x04, t0);
    assert_int_equal(cs->pit.irq0_period, period);

    assert_int_equal(pit_run_timer(cs, t0 + period), t0 + 2 * period);
    assert_int_equal(cs->pic[0].irr & 1, 1);
    /* Woken a period late, the tick not yet taken: two ticks kept. */
    assert_int_equal(pit_run_timer(cs, t0 + 3 * period), t0 + 4 * period);
    assert_int_equal(cs->pit.irq0_backlog, 2);
    /* Each one taken lets the next follow, after the EOI. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cs_ack_locked(cs, 0), 0x08);
        assert_int_equal(cs_ack_locked(cs, 0), -1);
        bare_out(cs, 0x20, 0x20, 0);
    }
    assert_int_equal(cs->pit.irq0_backlog, 0);
    assert_int_equal(cs_ack_locked(cs, 0), -1);

    /* Ten seconds behind: one second of ticks kept, the rest dropped. */
    assert_int_equal(pit_run_timer(cs, t0 + 4 * period), t0 + 5 * period);
    uint64_t late = t0 + 5 * period + 10 * NS_PER_SEC;
    uint64_t ticks = 1 + 10 * NS_PER_SEC / period;
    pit_run_timer(cs, late);
    assert_int_equal(cs->pit.irq0_backlog, 1000);
    assert_int_equal(cs->counters.pit_missed_ticks, ticks - 1000);

    /* Masked everywhere: nothing kept; reprogramming forgets the backlog. */
    bare_out(cs, 0x21, 0xff, 0);
    bare_out(cs, 0x40, 0xa9, late);
    bare_out(cs, 0x40, 0x04, late);
    assert_int_equal(cs->pit.irq0_backlog, 0);
    pit_run_timer(cs, late + 3 * period);
    assert_int_equal(cs->pit.irq0_backlog, 0);
    free_bare_chipset(cs);
}

static void test_pit_mode2_irq0(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    pic_init(cs);
    pic_unmask(cs, 0);
    outb(cs, 0x43, 0x34); /* channel 0, lo/hi, mode 2 */
    outb(cs, 0x40, 0xa9);
    outb(cs, 0x40, 0x04); /* 1193: 1 ms */
    for (int i = 0; i < 3; i++) {
        struct timespec dl = deadline_in(10);
        assert_true(hv_chipset_wait(cs, 0, &dl));
        assert_int_equal(hv_chipset_ack(cs, 0), 0x08);
        outb(cs, 0x20, 0x20);
    }
    /* Mode 0 on channel 0 raises nothing (Xen destroys the timer). */
    outb(cs, 0x43, 0x30);
    outb(cs, 0x40, 0x01);
    outb(cs, 0x40, 0x00);
    hv_chipset_destroy(cs);
}

/* ---- RTC ---- */

static uint8_t cmos_read(struct hv_chipset *cs, uint8_t index)
{
    outb(cs, 0x70, index);
    return inb(cs, 0x71);
}

static void cmos_write(struct hv_chipset *cs, uint8_t index, uint8_t val)
{
    outb(cs, 0x70, index);
    outb(cs, 0x71, val);
}

static unsigned bcd(unsigned v)
{
    return ((v / 10) << 4) | (v % 10);
}

/* Reads the 7 time registers and the host time around them, until a read
 * did not straddle a second. */
static void read_rtc_time(struct hv_chipset *cs, uint8_t regs[10], struct tm *tm)
{
    for (int tries = 0; tries < 100; tries++) {
        time_t before = time(NULL), after;
        for (unsigned i = 0; i < 10; i++)
            regs[i] = cmos_read(cs, (uint8_t)i);
        after = time(NULL);
        if (before == after) {
            gmtime_r(&before, tm);
            return;
        }
    }
    fail_msg("the clock never held still for a read");
}

static void test_rtc_time_formats(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    uint8_t r[10];
    struct tm tm;

    assert_int_equal(cmos_read(cs, 0x0a), 0x26 | (cmos_read(cs, 0x0a) & 0x80));
    assert_int_equal(cmos_read(cs, 0x0b), 0x02);
    assert_int_equal(cmos_read(cs, 0x0d), 0x80);

    /* BCD, 24 hour (the reset state). */
    read_rtc_time(cs, r, &tm);
    assert_int_equal(r[0], bcd(tm.tm_sec));
    assert_int_equal(r[2], bcd(tm.tm_min));
    assert_int_equal(r[4], bcd(tm.tm_hour));
    assert_int_equal(r[6], bcd(tm.tm_wday + 1));
    assert_int_equal(r[7], bcd(tm.tm_mday));
    assert_int_equal(r[8], bcd(tm.tm_mon + 1));
    assert_int_equal(r[9], bcd(tm.tm_year % 100));

    /* Binary, 24 hour. */
    cmos_write(cs, 0x0b, 0x06);
    read_rtc_time(cs, r, &tm);
    assert_int_equal(r[0], tm.tm_sec);
    assert_int_equal(r[4], tm.tm_hour);
    assert_int_equal(r[9], tm.tm_year % 100);

    /* Binary, 12 hour: bit 7 is PM. */
    cmos_write(cs, 0x0b, 0x04);
    read_rtc_time(cs, r, &tm);
    unsigned h12 = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
    assert_int_equal(r[4], h12 | (tm.tm_hour >= 12 ? 0x80 : 0));
    hv_chipset_destroy(cs);
}

static void test_rtc_set_time(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    cmos_write(cs, 0x0b, 0x82); /* SET: the clock stops for writing */
    cmos_write(cs, 0x09, 0x31); /* 2031 */
    cmos_write(cs, 0x08, 0x12);
    cmos_write(cs, 0x07, 0x24);
    cmos_write(cs, 0x04, 0x23);
    cmos_write(cs, 0x02, 0x59);
    cmos_write(cs, 0x00, 0x30);
    assert_int_equal(cmos_read(cs, 0x00), 0x30);     /* frozen */
    assert_int_equal(cmos_read(cs, 0x0a) & 0x80, 0); /* no UIP while SET */
    cmos_write(cs, 0x0b, 0x02);
    assert_int_equal(cmos_read(cs, 0x09), 0x31);
    assert_int_equal(cmos_read(cs, 0x08), 0x12);
    assert_int_equal(cmos_read(cs, 0x07), 0x24);
    assert_int_equal(cmos_read(cs, 0x04), 0x23);
    hv_chipset_destroy(cs);
}

static void test_rtc_uip_ends(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    unsigned polls = 0;

    /* The "wait while updating" loop of SeaBIOS's rtc_updating ends. */
    while (cmos_read(cs, 0x0a) & 0x80)
        assert_true(++polls < 10000000);
    hv_chipset_destroy(cs);
}

static void test_rtc_reg_c_and_periodic(void **state)
{
    struct hv_chipset *cs = make_bare_chipset(1);
    uint32_t v;

    /* SET keeps the update flag out of the way: only PF is left. */
    v = 0x0b;
    rtc_pio(cs, 0x70, 1, true, &v, 1000);
    v = 0x82;
    rtc_pio(cs, 0x71, 1, true, &v, 1000);
    v = 0x0c;
    rtc_pio(cs, 0x70, 1, true, &v, 1000);
    rtc_pio(cs, 0x71, 1, false, &v, 1000);
    assert_int_equal(v, 0x00);
    rtc_pio(cs, 0x71, 1, false, &v, 1000 + 2000000); /* 2 ms: a 1024 Hz tick */
    assert_int_equal(v, 0x40);
    rtc_pio(cs, 0x71, 1, false, &v, 1000 + 2000000); /* cleared on read */
    assert_int_equal(v, 0x00);
    /* Enabling PIE later: the next tick keeps the phase of the first. */
    v = 0x0b;
    rtc_pio(cs, 0x70, 1, true, &v, 1000);
    v = 0xc2;
    rtc_pio(cs, 0x71, 1, true, &v, 1000 + 5000000);
    assert_int_equal(cs->rtc.pf_next, 1000 + 6 * 976563);
    assert_int_equal(rtc_run_timer(cs, 1000 + 5000000), 1000 + 6 * 976563);
    free_bare_chipset(cs);
}

static void test_rtc_periodic_irq8(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    pic_init(cs);
    pic_unmask(cs, 8);
    cmos_write(cs, 0x0b, 0x42); /* PIE */
    struct timespec dl = deadline_in(10);
    assert_true(hv_chipset_wait(cs, 0, &dl));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x70);
    assert_int_equal(cmos_read(cs, 0x0c) & 0xc0, 0xc0); /* IRQF | PF */
    hv_chipset_destroy(cs);
}

static void test_rtc_update_and_alarm_irq8(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    virtual_wire(cs);
    pic_init(cs);
    pic_unmask(cs, 8);
    cmos_read(cs, 0x0c);
    cmos_write(cs, 0x0b, 0x12); /* UIE: an interrupt after each update */
    struct timespec dl = deadline_in(10);
    assert_true(hv_chipset_wait(cs, 0, &dl));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x70);
    assert_int_equal(cmos_read(cs, 0x0c) & 0x90, 0x90); /* IRQF | UF */
    outb(cs, 0xa0, 0x20);
    outb(cs, 0x20, 0x20);

    /* An alarm of "any" hour, minute and second rings every second. */
    cmos_write(cs, 0x01, 0xff);
    cmos_write(cs, 0x03, 0xc0);
    cmos_write(cs, 0x05, 0xff);
    cmos_write(cs, 0x0b, 0x22); /* AIE only */
    cmos_read(cs, 0x0c);
    dl = deadline_in(10);
    assert_true(hv_chipset_wait(cs, 0, &dl));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x70);
    assert_int_equal(cmos_read(cs, 0x0c) & 0xa0, 0xa0); /* IRQF | AF */
    hv_chipset_destroy(cs);
}

static void test_rtc_cmos_ram_is_the_dm(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    uint32_t v = 0x10;

    /* Index 14 and up: Xen passes the index write and the data on. */
    assert_false(hv_chipset_pio(cs, 0, 0x70, 1, true, &v));
    assert_false(hv_chipset_pio(cs, 0, 0x71, 1, false, &v));
    v = 0x8d; /* NMI mask bit dropped: register D */
    assert_true(hv_chipset_pio(cs, 0, 0x70, 1, true, &v));
    assert_int_equal(inb(cs, 0x71), 0x80);
    assert_int_equal(inb(cs, 0x70), 0xff);
    cmos_write(cs, 0x0d, 0x00); /* read-only */
    assert_int_equal(cmos_read(cs, 0x0d), 0x80);
    hv_chipset_destroy(cs);
}

/* ---- PM timer and PM1a ---- */

static void test_pmt_ticks_and_wrap(void **state)
{
    assert_int_equal(pmt_ticks(0), 0);
    assert_int_equal(pmt_ticks(NS_PER_SEC), 3579545);
    assert_int_equal(pmt_ticks(1000), 3);
    /* 2^32 ticks after the start the 32-bit counter wraps to 0. */
    uint64_t wrap_ns = ((1ull << 32) * NS_PER_SEC + PMT_HZ - 1) / PMT_HZ;
    assert_int_equal(pmt_ticks(wrap_ns), 0);
    assert_int_equal(pmt_ticks(wrap_ns - 280), 0xffffffffu);
    assert_int_equal(pmt_ticks(wrap_ns + NS_PER_SEC), 3579545);
}

static void test_pmt_status_and_sci(void **state)
{
    struct hv_chipset *cs = make_bare_chipset(1);
    uint32_t v;
    uint64_t msb_ns = ((1ull << 31) * NS_PER_SEC + PMT_HZ - 1) / PMT_HZ;

    pmt_reset(cs, 0xb000, 0);
    v = 0x1; /* TMR_EN */
    assert_true(pmt_pio(cs, 0xb002, 2, true, &v, 10));
    assert_true(pmt_pio(cs, 0xb000, 4, false, &v, 20));
    assert_int_equal(v, 0x00010000);
    assert_true(pmt_pio(cs, 0xb008, 4, false, &v, msb_ns + 10));
    assert_int_equal(v, 0x80000000u);
    assert_true(pmt_pio(cs, 0xb000, 2, false, &v, msb_ns + 20));
    assert_int_equal(v, 0x0001);                            /* TMR_STS */
    assert_int_equal(cs->irq.isa_irq & (1u << 9), 1u << 9); /* SCI */
    v = 0x1;                                                /* write 1 to clear */
    assert_true(pmt_pio(cs, 0xb000, 1, true, &v, msb_ns + 30));
    assert_true(pmt_pio(cs, 0xb000, 2, false, &v, msb_ns + 40));
    assert_int_equal(v, 0x0000);
    assert_int_equal(cs->irq.isa_irq & (1u << 9), 0);
    /* The TMR_VAL is 4-byte reads only. */
    assert_true(pmt_pio(cs, 0xb008, 2, false, &v, msb_ns));
    assert_int_equal(v, 0xffffffffu);
    free_bare_chipset(cs);
}

static void test_pmt_live(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    uint32_t a = 0, b = 0, c = 0;

    assert_true(hv_chipset_pio(cs, 0, 0xb008, 4, false, &a));
    struct timespec pause = {.tv_nsec = 1000000};
    nanosleep(&pause, NULL);
    assert_true(hv_chipset_pio(cs, 0, 0xb008, 4, false, &b));
    assert_true(b - a >= 3579); /* at least 1 ms of ticks, modulo 2^32 */
    /* Never backwards, read after read (differences modulo 2^32). */
    for (int i = 0; i < 10000; i++) {
        assert_true(hv_chipset_pio(cs, 0, 0xb008, 4, false, &c));
        assert_true(c - b < 0x80000000u);
        b = c;
    }
    /* PM1a_CNT is the device model's; the block moves. */
    assert_false(hv_chipset_pio(cs, 0, 0xb004, 2, false, &c));
    hv_chipset_set_pm1a_base(cs, 0x1f40);
    assert_false(hv_chipset_pio(cs, 0, 0xb008, 4, false, &c));
    assert_true(hv_chipset_pio(cs, 0, 0x1f48, 4, false, &c));
    assert_true(c - b < 0x80000000u);
    hv_chipset_destroy(cs);
}

/* ---- debug port ---- */

static void test_debug_port_lines(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    uint32_t v = 0;

    for (const char *p = "hello\x01 e9\n"; *p; p++)
        outb(cs, 0xe9, (uint8_t)*p);
    assert_int_equal(rec.nr_lines, 1);
    assert_string_equal(rec.lines[0], "hello e9");
    for (int i = 0; i < 250; i++)
        outb(cs, 0xe9, 'a' + i % 26);
    assert_int_equal(rec.nr_lines, 2);
    assert_int_equal(rec.lens[1], 199);
    outb(cs, 0xe9, '\n');
    assert_int_equal(rec.nr_lines, 3);
    assert_int_equal(rec.lens[2], 51);
    /* Reads and wider writes are not Xen's. */
    assert_false(hv_chipset_pio(cs, 0, 0xe9, 1, false, &v));
    assert_false(hv_chipset_pio(cs, 0, 0xe9, 2, true, &v));
    struct hv_chipset_counters n;
    hv_chipset_get_counters(cs, &n);
    assert_int_equal(n.debug_dropped, 1);
    hv_chipset_destroy(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pic_init_and_vector),
        cmocka_unit_test(test_pic_priority_and_nesting),
        cmocka_unit_test(test_pic_elcr_level),
        cmocka_unit_test(test_pic_cascade),
        cmocka_unit_test(test_pic_auto_eoi_and_poll),
        cmocka_unit_test(test_pic_needs_virtual_wire),
        cmocka_unit_test(test_pit_counter_modes),
        cmocka_unit_test(test_pit_latch_and_readback),
        cmocka_unit_test(test_pit_port61),
        cmocka_unit_test(test_pit_port61_live),
        cmocka_unit_test(test_pit_ticks_kept_until_taken),
        cmocka_unit_test(test_pit_mode2_irq0),
        cmocka_unit_test(test_rtc_time_formats),
        cmocka_unit_test(test_rtc_set_time),
        cmocka_unit_test(test_rtc_uip_ends),
        cmocka_unit_test(test_rtc_reg_c_and_periodic),
        cmocka_unit_test(test_rtc_periodic_irq8),
        cmocka_unit_test(test_rtc_update_and_alarm_irq8),
        cmocka_unit_test(test_rtc_cmos_ram_is_the_dm),
        cmocka_unit_test(test_pmt_ticks_and_wrap),
        cmocka_unit_test(test_pmt_status_and_sci),
        cmocka_unit_test(test_pmt_live),
        cmocka_unit_test(test_debug_port_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
