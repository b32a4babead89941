/*
 * Helpers of the chipset tests: port and MMIO accesses as vCPU 0 makes them,
 * the firmware's set-up steps (PIC initialisation, the virtual wire mode of
 * hvmloader's apic_setup), and a chipset without its timer thread, whose
 * device functions a test calls at chosen instants.
 */
#ifndef TEST_CHIPSET_H
#define TEST_CHIPSET_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "chipset-internal.h"

struct recorder {
    char lines[8][CS_DEBUG_LINE_MAX];
    size_t lens[8];
    unsigned nr_lines;
    unsigned kicks;
};

struct hv_chipset *make_chipset(unsigned nr_vcpus, struct recorder *rec);
/* A chipset with no timer thread: device state only, for the cores. */
struct hv_chipset *make_bare_chipset(unsigned nr_vcpus);
void free_bare_chipset(struct hv_chipset *cs);

void outb(struct hv_chipset *cs, uint16_t port, uint8_t val);
uint8_t inb(struct hv_chipset *cs, uint16_t port);
uint32_t mmio_read32(struct hv_chipset *cs, unsigned vcpu, uint64_t addr);
void mmio_write32(struct hv_chipset *cs, unsigned vcpu, uint64_t addr, uint32_t val);
void ioapic_write(struct hv_chipset *cs, uint32_t reg, uint32_t val);
uint32_t ioapic_read(struct hv_chipset *cs, uint32_t reg);

/* SeaBIOS's pic_setup: vector bases 0x08 and 0x70, cascade on IR2, all but
 * the cascade masked. */
void pic_init(struct hv_chipset *cs);
/* hvmloader's apic_setup: LAPIC 0 enabled, LVT0 ExtINT masked, IOAPIC pin 0
 * ExtINT to LAPIC 0. */
void virtual_wire(struct hv_chipset *cs);
void pic_unmask(struct hv_chipset *cs, unsigned irq);
struct timespec deadline_in(unsigned seconds);

#endif
