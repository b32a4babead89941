#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chipset-test.h"

static void record_line(void *opaque, const char *line, size_t len)
{
    struct recorder *rec = opaque;

    if (rec->nr_lines < 8) {
        memcpy(rec->lines[rec->nr_lines], line, len);
        rec->lines[rec->nr_lines][len] = '\0';
        rec->lens[rec->nr_lines++] = len;
    }
}

static void record_kick(void *opaque, unsigned vcpu)
{
    struct recorder *rec = opaque;
    __atomic_add_fetch(&rec->kicks, 1, __ATOMIC_RELAXED);
}

struct hv_chipset *make_chipset(unsigned nr_vcpus, struct recorder *rec)
{
    struct hv_chipset_config cfg = {
        .nr_vcpus = nr_vcpus,
        .pm1a_base = 0xb000,
        .kick = record_kick,
        .kick_opaque = rec,
        .debug_line = record_line,
        .debug_opaque = rec,
    };
    struct hv_chipset *cs = NULL;

    assert_int_equal(hv_chipset_create(&cs, &cfg), 0);
    assert_non_null(cs);
    return cs;
}

struct hv_chipset *make_bare_chipset(unsigned nr_vcpus)
{
    struct hv_chipset *cs = calloc(1, sizeof(*cs));

    assert_non_null(cs);
    cs->cfg.nr_vcpus = nr_vcpus;
    cs->lapic = calloc(nr_vcpus, sizeof(*cs->lapic));
    assert_non_null(cs->lapic);
    pic_reset(cs);
    pit_reset(cs, 1000);
    rtc_reset(cs, 1000);
    pmt_reset(cs, 0xb000, 1000);
    ioapic_reset(cs);
    for (unsigned v = 0; v < nr_vcpus; v++)
        lapic_reset(cs, v);
    return cs;
}

void free_bare_chipset(struct hv_chipset *cs)
{
    free(cs->lapic);
    free(cs);
}

void outb(struct hv_chipset *cs, uint16_t port, uint8_t val)
{
    uint32_t v = val;
    assert_true(hv_chipset_pio(cs, 0, port, 1, true, &v));
}

uint8_t inb(struct hv_chipset *cs, uint16_t port)
{
    uint32_t v = 0x5a5a5a5a;
    assert_true(hv_chipset_pio(cs, 0, port, 1, false, &v));
    assert_true(v <= 0xff);
    return (uint8_t)v;
}

uint32_t mmio_read32(struct hv_chipset *cs, unsigned vcpu, uint64_t addr)
{
    uint64_t v = 0x5a5a5a5a5a5a5a5aull;
    assert_true(hv_chipset_mmio(cs, vcpu, addr, 4, false, &v));
    assert_true(v <= 0xffffffffull);
    return (uint32_t)v;
}

void mmio_write32(struct hv_chipset *cs, unsigned vcpu, uint64_t addr, uint32_t val)
{
    uint64_t v = val;
    assert_true(hv_chipset_mmio(cs, vcpu, addr, 4, true, &v));
}

void ioapic_write(struct hv_chipset *cs, uint32_t reg, uint32_t val)
{
    mmio_write32(cs, 0, 0xfec00000, reg);
    mmio_write32(cs, 0, 0xfec00010, val);
}

uint32_t ioapic_read(struct hv_chipset *cs, uint32_t reg)
{
    mmio_write32(cs, 0, 0xfec00000, reg);
    return mmio_read32(cs, 0, 0xfec00010);
}

void pic_init(struct hv_chipset *cs)
{
    outb(cs, 0x20, 0x11); /* ICW1: edge, cascade, ICW4 */
    outb(cs, 0xa0, 0x11);
    outb(cs, 0x21, 0x08); /* ICW2: vector base */
    outb(cs, 0xa1, 0x70);
    outb(cs, 0x21, 0x04); /* ICW3: slave on IR2 */
    outb(cs, 0xa1, 0x02);
    outb(cs, 0x21, 0x01); /* ICW4: 8086 mode */
    outb(cs, 0xa1, 0x01);
    outb(cs, 0x21, 0xfb); /* OCW1: all masked but the cascade */
    outb(cs, 0xa1, 0xff);
}

void virtual_wire(struct hv_chipset *cs)
{
    mmio_write32(cs, 0, 0xfee000f0, 0x1ff);           /* SPIV: enabled */
    mmio_write32(cs, 0, 0xfee00350, 0x700 | 0x10000); /* LVT0 ExtINT, masked */
    mmio_write32(cs, 0, 0xfee00360, 0x400);           /* LVT1 NMI */
    ioapic_write(cs, 0x10, 0x700);                    /* pin 0: ExtINT */
    ioapic_write(cs, 0x11, 0);                        /* to LAPIC ID 0 */
}

void pic_unmask(struct hv_chipset *cs, unsigned irq)
{
    uint16_t port = irq < 8 ? 0x21 : 0xa1;
    outb(cs, port, inb(cs, port) & ~(1u << (irq & 7)));
}

struct timespec deadline_in(unsigned seconds)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += seconds;
    return ts;
}
