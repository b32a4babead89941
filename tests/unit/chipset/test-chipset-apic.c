/*
 * The IOAPIC, the local APICs, MSI delivery, INIT/SIPI, and the routing of
 * ISA, GSI and PCI INTx lines as Xen's hvm/irq.c does it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sched.h>
#include <stddef.h>
#include <cmocka.h>

#include "chipset-test.h"

#define LAPIC 0xfee00000ull

static void lapic_enable(struct hv_chipset *cs, unsigned vcpu)
{
    mmio_write32(cs, vcpu, LAPIC + 0xf0, 0x1ff);
}

static uint32_t lapic_bit(struct hv_chipset *cs, unsigned vcpu, unsigned base, uint8_t vec)
{
    return mmio_read32(cs, vcpu, LAPIC + base + (vec / 32) * 0x10) & (1u << (vec % 32));
}

/* ---- IOAPIC ---- */

static void test_ioapic_registers(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    assert_int_equal(ioapic_read(cs, 0x01), 0x002f0011); /* 48 pins, 0x11 */
    assert_int_equal(ioapic_read(cs, 0x00), 0x00000000);
    ioapic_write(cs, 0x00, 0x01000000); /* hvmloader's IOAPIC_ID */
    assert_int_equal(ioapic_read(cs, 0x00), 0x01000000);
    assert_int_equal(ioapic_read(cs, 0x02), 0x01000000);
    ioapic_write(cs, 0x00, 0xff000000); /* a 4-bit ID */
    assert_int_equal(ioapic_read(cs, 0x00), 0x0f000000);
    ioapic_write(cs, 0x01, 0); /* read-only */
    assert_int_equal(ioapic_read(cs, 0x01), 0x002f0011);
    for (unsigned pin = 0; pin < 48; pin++) {
        assert_int_equal(ioapic_read(cs, 0x10 + 2 * pin), 0x00010000);
        assert_int_equal(ioapic_read(cs, 0x11 + 2 * pin), 0);
    }
    /* Remote IRR and delivery status are read-only. */
    ioapic_write(cs, 0x10 + 2 * 9, 0x0001d0ff | (1u << 12) | (1u << 14));
    ioapic_write(cs, 0x11 + 2 * 9, 0xab000000);
    assert_int_equal(ioapic_read(cs, 0x10 + 2 * 9), 0x000180ff);
    assert_int_equal(ioapic_read(cs, 0x11 + 2 * 9), 0xab000000);
    /* Register select reads back; pins past 47 read 0. */
    mmio_write32(cs, 0, 0xfec00000, 0x70);
    assert_int_equal(mmio_read32(cs, 0, 0xfec00000), 0x70);
    assert_int_equal(mmio_read32(cs, 0, 0xfec00010), 0);
    hv_chipset_destroy(cs);
}

static void test_ioapic_edge_delivery(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    lapic_enable(cs, 0);
    /* ISA IRQ 0 is GSI 2. */
    ioapic_write(cs, 0x10 + 2 * 2, 0x30);
    hv_chipset_isa_irq(cs, 0, true);
    assert_true(hv_chipset_pending(cs, 0));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x30);
    assert_int_not_equal(lapic_bit(cs, 0, 0x100, 0x30), 0); /* ISR */
    assert_int_equal(lapic_bit(cs, 0, 0x180, 0x30), 0);     /* TMR: edge */
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    assert_int_equal(lapic_bit(cs, 0, 0x100, 0x30), 0);
    assert_false(hv_chipset_pending(cs, 0));
    /* Masked: nothing. */
    ioapic_write(cs, 0x10 + 2 * 2, 0x10030);
    hv_chipset_isa_irq(cs, 0, false);
    hv_chipset_isa_irq(cs, 0, true);
    assert_false(hv_chipset_pending(cs, 0));
    hv_chipset_destroy(cs);
}

static void test_ioapic_level_remote_irr(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    lapic_enable(cs, 0);
    ioapic_write(cs, 0x10 + 2 * 5, 0x8035); /* level, vector 0x35, to ID 0 */
    hv_chipset_isa_irq(cs, 5, true);
    assert_int_equal(ioapic_read(cs, 0x10 + 2 * 5), 0xc035); /* remote IRR */
    assert_int_equal(hv_chipset_ack(cs, 0), 0x35);
    assert_int_not_equal(lapic_bit(cs, 0, 0x180, 0x35), 0); /* TMR: level */
    /* EOI with the line still high: delivered again. */
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    assert_int_equal(ioapic_read(cs, 0x10 + 2 * 5), 0xc035);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x35);
    hv_chipset_isa_irq(cs, 5, false);
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    assert_int_equal(ioapic_read(cs, 0x10 + 2 * 5), 0x8035);
    assert_false(hv_chipset_pending(cs, 0));

    /* Unmasking a pin whose line is high delivers it. */
    ioapic_write(cs, 0x10 + 2 * 5, 0x18035);
    hv_chipset_isa_irq(cs, 5, true);
    assert_false(hv_chipset_pending(cs, 0));
    ioapic_write(cs, 0x10 + 2 * 5, 0x8035);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x35);
    hv_chipset_destroy(cs);
}

static void test_gsi_level_and_edge(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    lapic_enable(cs, 0);
    ioapic_write(cs, 0x10 + 2 * 40, 0x8041);
    hv_chipset_gsi(cs, 40, true);
    hv_chipset_gsi(cs, 40, true); /* one line: no second delivery */
    assert_int_equal(hv_chipset_ack(cs, 0), 0x41);
    assert_false(hv_chipset_pending(cs, 0));
    hv_chipset_gsi(cs, 40, false);
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    assert_false(hv_chipset_pending(cs, 0));
    /* Edge GSIs deliver on every assert. */
    ioapic_write(cs, 0x10 + 2 * 41, 0x0042);
    hv_chipset_gsi(cs, 41, true);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x42);
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    hv_chipset_gsi(cs, 41, true);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x42);
    hv_chipset_destroy(cs);
}

/* ---- PCI INTx routing ---- */

static void test_pci_intx_swizzle(void **state)
{
    assert_int_equal(irq_pci_intx_gsi(0, 0), 16);
    assert_int_equal(irq_pci_intx_gsi(3, 0), 28);
    assert_int_equal(irq_pci_intx_gsi(3, 1), 29);
    assert_int_equal(irq_pci_intx_gsi(8, 0), 17);  /* (32 + 1) & 31 */
    assert_int_equal(irq_pci_intx_gsi(31, 3), 18); /* (124 + 3 + 3) & 31 */
    assert_int_equal(irq_pci_intx_link(3, 0), 3);
    assert_int_equal(irq_pci_intx_link(3, 2), 1);
    assert_int_equal(irq_isa_to_gsi(0), 2);
    assert_int_equal(irq_isa_to_gsi(9), 9);
}

static void test_pci_intx_wire_or(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    lapic_enable(cs, 0);
    ioapic_write(cs, 0x10 + 2 * 28, 0x8050); /* dev 3 INTA */
    /* Devices 3 and 7 INTA share link 3; route it to IRQ 11 (level). */
    outb(cs, 0x4d1, 0x08);
    hv_chipset_set_link_route(cs, 3, 11);
    hv_chipset_pci_intx(cs, 3, 0, true);
    hv_chipset_pci_intx(cs, 7, 0, true);
    outb(cs, 0xa0, 0x0a);
    assert_int_equal(inb(cs, 0xa0), 0x08); /* IRQ 11 in the slave's IRR */
    assert_int_equal(hv_chipset_ack(cs, 0), 0x50);
    hv_chipset_pci_intx(cs, 3, 0, false);
    assert_int_equal(inb(cs, 0xa0), 0x08); /* device 7 still holds it */
    hv_chipset_pci_intx(cs, 7, 0, false);
    assert_int_equal(inb(cs, 0xa0), 0x00);
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    assert_false(hv_chipset_pending(cs, 0));
    assert_int_equal(ioapic_read(cs, 0x10 + 2 * 28), 0x8050);

    /* Rerouting an asserted link moves its line. */
    hv_chipset_pci_intx(cs, 3, 0, true);
    outb(cs, 0x4d1, 0x0c);
    hv_chipset_set_link_route(cs, 3, 10);
    assert_int_equal(inb(cs, 0xa0), 0x04);
    hv_chipset_set_link_route(cs, 3, 0);
    assert_int_equal(inb(cs, 0xa0), 0x00);
    hv_chipset_destroy(cs);
}

/* ---- local APIC ---- */

static void test_lapic_reset_values(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(2, &rec);

    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x20), 0x00000000);
    assert_int_equal(mmio_read32(cs, 1, LAPIC + 0x20), 0x02000000); /* ID 2n */
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x30), 0x00050014);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0xe0), 0xffffffff);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0xf0), 0x000000ff);
    for (unsigned lvt = 0x320; lvt <= 0x370; lvt += 0x10)
        assert_int_equal(mmio_read32(cs, 0, LAPIC + lvt), 0x00010000);
    /* Software disabled: LVTs stay masked. */
    mmio_write32(cs, 0, LAPIC + 0x350, 0x700);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x350), 0x10700);
    lapic_enable(cs, 0);
    mmio_write32(cs, 0, LAPIC + 0x350, 0xffffffff); /* reserved bits dropped */
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x350), 0x1f7ff);
    mmio_write32(cs, 0, LAPIC + 0x80, 0x1234);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x80), 0x34);
    mmio_write32(cs, 0, LAPIC + 0xd0, 0x12345678);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0xd0), 0x12000000);
    mmio_write32(cs, 0, LAPIC + 0xe0, 0);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0xe0), 0x0fffffff);
    /* Byte access inside a register. */
    uint64_t v = 0;
    assert_true(hv_chipset_mmio(cs, 1, LAPIC + 0x23, 1, false, &v));
    assert_int_equal(v, 0x02);
    hv_chipset_destroy(cs);
}

static void test_lapic_priority_and_eoi(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    lapic_enable(cs, 0);
    assert_int_equal(hv_chipset_msi(cs, 0xfee00000, 0x41), 0);
    assert_int_equal(hv_chipset_msi(cs, 0xfee00000, 0x62), 0);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x62);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0xa0), 0x60); /* PPR */
    assert_false(hv_chipset_pending(cs, 0));                  /* 0x41 below the class in service */
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    assert_int_equal(lapic_bit(cs, 0, 0x100, 0x62), 0);
    /* TPR blocks its class. */
    mmio_write32(cs, 0, LAPIC + 0x80, 0x40);
    assert_false(hv_chipset_pending(cs, 0));
    mmio_write32(cs, 0, LAPIC + 0x80, 0x30);
    assert_int_equal(hv_chipset_ack(cs, 0), 0x41);
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    mmio_write32(cs, 0, LAPIC + 0xb0, 0); /* EOI with nothing in service */
    assert_int_equal(hv_chipset_ack(cs, 0), -1);
    hv_chipset_destroy(cs);
}

static void test_lapic_timer_one_shot(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);

    lapic_enable(cs, 0);
    mmio_write32(cs, 0, LAPIC + 0x3e0, 0xb);     /* divide by 1 */
    mmio_write32(cs, 0, LAPIC + 0x320, 0x40);    /* one-shot, vector 0x40 */
    mmio_write32(cs, 0, LAPIC + 0x380, 1000000); /* 1 ms at 1 GHz */
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x380), 1000000);
    struct timespec dl = deadline_in(10);
    assert_true(hv_chipset_wait(cs, 0, &dl));
    assert_int_equal(hv_chipset_ack(cs, 0), 0x40);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x390), 0); /* ran out */
    mmio_write32(cs, 0, LAPIC + 0xb0, 0);
    hv_chipset_destroy(cs);
}

static void test_lapic_timer_count(void **state)
{
    struct hv_chipset *cs = make_bare_chipset(1);
    uint64_t v;

    v = 0x1ff;
    lapic_mmio(cs, 0, LAPIC + 0xf0, 4, true, &v, 100);
    v = 0x3; /* divide by 16 */
    lapic_mmio(cs, 0, LAPIC + 0x3e0, 4, true, &v, 100);
    v = 0x20000 | 0x50; /* periodic */
    lapic_mmio(cs, 0, LAPIC + 0x320, 4, true, &v, 100);
    v = 1000;
    lapic_mmio(cs, 0, LAPIC + 0x380, 4, true, &v, 1000);
    lapic_mmio(cs, 0, LAPIC + 0x390, 4, false, &v, 1000 + 1600);
    assert_int_equal(v, 900);
    lapic_mmio(cs, 0, LAPIC + 0x390, 4, false, &v, 1000 + 16000 + 160);
    assert_int_equal(v, 990); /* periodic: wrapped around */
    assert_int_equal(cs->lapic[0].timer_next, 1000 + 16000);
    assert_int_equal(lapic_run_timers(cs, 1000 + 16000), 1000 + 2 * 16000 + 84000);
    assert_int_equal(lapic_pending_vector(cs, 0), 0x50);
    /* The 16 us period ran below Xen's 0.1 ms floor for periodic timers. */
    assert_int_equal(cs->lapic[0].timer_period, 100000);
    free_bare_chipset(cs);
}

/* ---- MSI and IPIs ---- */

static void test_msi_decode(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(2, &rec);
    struct hv_chipset_counters n;

    lapic_enable(cs, 0);
    lapic_enable(cs, 1);
    /* Physical destination 2: vCPU 1. */
    assert_int_equal(hv_chipset_msi(cs, 0xfee02000, 0x0031), 0);
    assert_false(hv_chipset_pending(cs, 0));
    assert_true(hv_chipset_pending(cs, 1));
    assert_int_equal(hv_chipset_ack(cs, 1), 0x31);
    mmio_write32(cs, 1, LAPIC + 0xb0, 0);
    /* Level trigger bit: TMR. */
    assert_int_equal(hv_chipset_msi(cs, 0xfee00000, 0x8033), 0);
    assert_int_not_equal(lapic_bit(cs, 0, 0x180, 0x33), 0);
    /* Logical flat destination: LDR bit 1 on vCPU 1. */
    mmio_write32(cs, 1, LAPIC + 0xd0, 0x02000000);
    assert_int_equal(hv_chipset_msi(cs, 0xfee02004, 0x0044), 0);
    assert_int_equal(hv_chipset_ack(cs, 1), 0x44);
    mmio_write32(cs, 1, LAPIC + 0xb0, 0);
    /* Lowest priority to the logical set. */
    assert_int_equal(hv_chipset_msi(cs, 0xfee02004, 0x0145), 0);
    assert_int_equal(hv_chipset_ack(cs, 1), 0x45);
    assert_int_equal(hv_chipset_msi(cs, 0xfee80004, 0x0146), -ESRCH);
    /* Refused: vector below 16, other delivery modes, not the APIC window. */
    assert_int_equal(hv_chipset_msi(cs, 0xfee00000, 0x000f), -EINVAL);
    assert_int_equal(hv_chipset_msi(cs, 0xfee00000, 0x0420), -EINVAL);
    assert_int_equal(hv_chipset_msi(cs, 0xfec00000, 0x0020), -EINVAL);
    assert_int_equal(hv_chipset_msi(cs, 0x1fee00000ull, 0x0020), -EINVAL);
    hv_chipset_get_counters(cs, &n);
    assert_int_equal(n.msi_refused, 5);
    hv_chipset_destroy(cs);
}

static void test_init_sipi(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(2, &rec);
    uint8_t vector = 0xee;

    lapic_enable(cs, 0);
    lapic_enable(cs, 1);
    /* hvmloader's boot_cpu: INIT, SIPI, SIPI to LAPIC ID 2, then INIT. */
    mmio_write32(cs, 0, LAPIC + 0x310, 2u << 24);
    mmio_write32(cs, 0, LAPIC + 0x300, 0x500);
    mmio_write32(cs, 0, LAPIC + 0x310, 2u << 24);
    mmio_write32(cs, 0, LAPIC + 0x300, 0x600 | 0x10);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x300) & (1u << 12), 0); /* idle */
    struct timespec dl = deadline_in(10);
    assert_true(hv_chipset_wait(cs, 1, &dl));
    assert_int_equal(hv_chipset_take_ipi(cs, 1, &vector), HV_CHIPSET_IPI_INIT);
    assert_int_equal(hv_chipset_take_ipi(cs, 1, &vector), HV_CHIPSET_IPI_SIPI);
    assert_int_equal(vector, 0x10);
    assert_int_equal(hv_chipset_take_ipi(cs, 1, &vector), HV_CHIPSET_IPI_NONE);
    assert_int_equal(hv_chipset_take_ipi(cs, 0, &vector), HV_CHIPSET_IPI_NONE);
    /* The INIT reset vCPU 1's LAPIC to software-disabled. */
    assert_int_equal(mmio_read32(cs, 1, LAPIC + 0xf0), 0xff);

    /* A fixed IPI to all but self. */
    lapic_enable(cs, 1);
    mmio_write32(cs, 0, LAPIC + 0x300, 0xc0000 | 0x77);
    assert_false(hv_chipset_pending(cs, 0));
    assert_int_equal(hv_chipset_ack(cs, 1), 0x77);
    /* Vector below 16: send error in the sender's ESR. */
    mmio_write32(cs, 0, LAPIC + 0x300, 0x40000 | 0x05);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x280), 0x20);
    hv_chipset_destroy(cs);
}

static void test_wait_interrupted(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    struct timespec past = deadline_in(0);

    assert_false(hv_chipset_wait(cs, 0, &past));
    /* A wake-up for a vCPU that was not waiting is kept for its next wait,
     * once: without it this wait would never return. */
    hv_chipset_interrupt_waits(cs);
    assert_false(hv_chipset_wait(cs, 0, NULL));
    past = deadline_in(0);
    assert_false(hv_chipset_wait(cs, 0, &past));
    assert_false(hv_chipset_wait(cs, 5, NULL)); /* no such vCPU */
    hv_chipset_destroy(cs);
}

struct waiter {
    struct hv_chipset *cs;
    bool started, result;
};

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;

    __atomic_store_n(&w->started, true, __ATOMIC_RELEASE);
    w->result = hv_chipset_wait(w->cs, 1, NULL);
    return NULL;
}

static void test_wait_woken_from_another_thread(void **state)
{
    struct recorder rec = {0};
    struct waiter w = {.cs = make_chipset(2, &rec), .result = true};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, wait_forever, &w), 0);
    while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
        sched_yield();
    /* Whether the waiter sleeps already or not, it returns false. */
    hv_chipset_interrupt_waits(w.cs);
    pthread_join(t, NULL);
    assert_false(w.result);

    /* An interrupt for vCPU 1 ends its wait with true. */
    w.result = false;
    w.started = false;
    mmio_write32(w.cs, 1, LAPIC + 0xf0, 0x1ff);
    assert_int_equal(pthread_create(&t, NULL, wait_forever, &w), 0);
    while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
        sched_yield();
    assert_int_equal(hv_chipset_msi(w.cs, 0xfee02000, 0x0051), 0);
    pthread_join(t, NULL);
    assert_true(w.result);
    assert_int_equal(hv_chipset_ack(w.cs, 1), 0x51);
    hv_chipset_destroy(w.cs);
}

/* ---- hostile accesses ---- */

static void test_hostile_accesses(void **state)
{
    struct recorder rec = {0};
    struct hv_chipset *cs = make_chipset(1, &rec);
    struct hv_chipset_counters n;
    uint32_t v;
    uint64_t q;

    /* Sizes x86 cannot make are nobody's. */
    v = 0;
    assert_false(hv_chipset_pio(cs, 0, 0x20, 3, false, &v));
    assert_false(hv_chipset_pio(cs, 0, 0x20, 0, true, &v));
    /* Wide accesses to byte registers: all-ones, counted. */
    assert_true(hv_chipset_pio(cs, 0, 0x20, 2, false, &v));
    assert_int_equal(v, 0xffff);
    assert_true(hv_chipset_pio(cs, 0, 0x40, 4, false, &v));
    assert_int_equal(v, 0xffffffff);
    assert_true(hv_chipset_pio(cs, 0, 0x70, 2, true, &v));
    /* Xen's ELCR is two 1-byte handlers: a 2-byte access is the DM's. */
    assert_false(hv_chipset_pio(cs, 0, 0x4d0, 2, false, &v));
    /* Straddling the end of a range: not Xen's. */
    assert_false(hv_chipset_pio(cs, 0, 0x21, 2, false, &v));
    assert_false(hv_chipset_pio(cs, 0, 0xb00a, 4, false, &v));
    /* A write to TMR_VAL is refused. */
    v = 0;
    assert_true(hv_chipset_pio(cs, 0, 0xb008, 4, true, &v));
    /* Misaligned and oversized LAPIC accesses: 0 and dropped. */
    q = 0x5a;
    assert_true(hv_chipset_mmio(cs, 0, LAPIC + 0x22, 4, false, &q));
    assert_int_equal(q, 0);
    q = 0;
    assert_true(hv_chipset_mmio(cs, 0, LAPIC + 0xf0, 8, true, &q));
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0xf0), 0xff);
    q = 0x5a;
    assert_true(hv_chipset_mmio(cs, 0, LAPIC + 0x800, 4, false, &q)); /* past TDCR */
    assert_int_equal(q, 0);
    /* Writes to read-only LAPIC registers are ignored. */
    mmio_write32(cs, 0, LAPIC + 0x30, 0);
    assert_int_equal(mmio_read32(cs, 0, LAPIC + 0x30), 0x00050014);
    /* IOAPIC: odd offsets read 0, bad register indexes are harmless. */
    q = 0x5a;
    assert_true(hv_chipset_mmio(cs, 0, 0xfec00004, 4, false, &q));
    assert_int_equal(q, 0);
    ioapic_write(cs, 0xffffffff, 0x1234);
    assert_int_equal(ioapic_read(cs, 0xffffffff), 0);
    ioapic_write(cs, 0x03, 0x1234);
    assert_int_equal(ioapic_read(cs, 0x0f), 0);
    /* Another vCPU's number, out of range, reaches no LAPIC. */
    q = 0;
    assert_false(hv_chipset_mmio(cs, 7, LAPIC + 0x20, 4, false, &q));
    assert_false(hv_chipset_pending(cs, 7));
    assert_int_equal(hv_chipset_ack(cs, 7), -1);
    /* Out-of-range interrupt sources are counted and dropped. */
    hv_chipset_isa_irq(cs, 16, true);
    hv_chipset_gsi(cs, 48, true);
    hv_chipset_pci_intx(cs, 32, 0, true);
    hv_chipset_pci_intx(cs, 0, 4, true);
    hv_chipset_set_link_route(cs, 4, 5);
    hv_chipset_set_link_route(cs, 0, 16);
    /* Deasserting what was never asserted, and a level GSI forced low
     * under PCI sources, never drive a count below zero. */
    hv_chipset_pci_intx(cs, 3, 0, false);
    ioapic_write(cs, 0x10 + 2 * 28, 0x18050);
    hv_chipset_pci_intx(cs, 3, 0, true);
    hv_chipset_gsi(cs, 28, false);
    hv_chipset_pci_intx(cs, 3, 0, false);
    hv_chipset_pci_intx(cs, 3, 0, true);
    hv_chipset_pci_intx(cs, 3, 0, false);
    /* A PIC ICW sequence cut short, garbage OCWs. */
    outb(cs, 0x20, 0x13);
    outb(cs, 0x20, 0xff);
    outb(cs, 0x21, 0x00);
    for (unsigned i = 0; i < 256; i++) {
        outb(cs, 0x20, (uint8_t)i);
        outb(cs, 0xa1, (uint8_t)(i * 7));
        outb(cs, 0x43, (uint8_t)i);
        outb(cs, 0x70, (uint8_t)(i % 14));
        outb(cs, 0x71, (uint8_t)(i * 13));
    }
    hv_chipset_get_counters(cs, &n);
    assert_true(n.bad_accesses >= 16);
    hv_chipset_destroy(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioapic_registers),
        cmocka_unit_test(test_ioapic_edge_delivery),
        cmocka_unit_test(test_ioapic_level_remote_irr),
        cmocka_unit_test(test_gsi_level_and_edge),
        cmocka_unit_test(test_pci_intx_swizzle),
        cmocka_unit_test(test_pci_intx_wire_or),
        cmocka_unit_test(test_lapic_reset_values),
        cmocka_unit_test(test_lapic_priority_and_eoi),
        cmocka_unit_test(test_lapic_timer_one_shot),
        cmocka_unit_test(test_lapic_timer_count),
        cmocka_unit_test(test_msi_decode),
        cmocka_unit_test(test_init_sipi),
        cmocka_unit_test(test_wait_interrupted),
        cmocka_unit_test(test_wait_woken_from_another_thread),
        cmocka_unit_test(test_hostile_accesses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
