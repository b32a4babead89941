/*
 * The devices Xen emulates inside the hypervisor for an HVM guest, so that no
 * ioreq server ever sees their accesses: the 8259A pair (vpic.c) with its
 * ELCR, the 8254 PIT (i8254.c) with port 0x61's gate and speaker bits, the
 * MC146818 RTC/CMOS (rtc.c), the ACPI PM1a block with its 3.579545 MHz
 * timer (pmtimer.c), the IOAPIC (vioapic.c), one local APIC per vCPU
 * (vlapic.c) and the debug port 0xe9 (hvm.c). Interrupts from the device
 * models (set_isa_irq_level, set_pci_intx_level, set_pci_link_route,
 * inject_msi) are routed through them as xen/arch/x86/hvm/irq.c does, and
 * the emulated vCPUs take their vectors from here.
 *
 * Thread safety: every call may come from any thread (vCPU threads, the
 * mock's socket thread); the chipset has a lock of its own and never calls
 * back into the mock with it held.
 */
#ifndef SHIM_HV_CHIPSET_H
#define SHIM_HV_CHIPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct hv_chipset;

struct hv_chipset_config {
    unsigned nr_vcpus;
    uint16_t pm1a_base; /* ACPI PM1a event block (Xen: 0xb000, or 0x1f40 with
                           HVM_PARAM_ACPI_IOPORTS_LOCATION = 0); timer at +8 */
    /* Called (without the chipset's lock) when vcpu has an interrupt it may
     * take: the vCPU stops emulating to deliver it. May be called again while
     * the interrupt stays pending and undelivered (the vCPU had IF clear). */
    void (*kick)(void *opaque, unsigned vcpu);
    void *kick_opaque;
    /* Bytes the guest wrote to port 0xe9, a line at a time (without '\n'). */
    void (*debug_line)(void *opaque, const char *line, size_t len);
    void *debug_opaque;
};

int hv_chipset_create(struct hv_chipset **out, const struct hv_chipset_config *cfg);
/* Stops its timer thread; wakes every hv_chipset_wait. */
void hv_chipset_destroy(struct hv_chipset *cs);

/* ---- guest accesses Xen handles itself ---- */
/* true: Xen's own device, *val is the read result (or was written); false:
 * not Xen's, the access goes on to the ioreq servers. size 1/2/4. */
bool hv_chipset_pio(struct hv_chipset *cs, unsigned vcpu, uint16_t port, unsigned size, bool write,
                    uint32_t *val);
/* The same for MMIO (IOAPIC at 0xfec00000, the local APIC at 0xfee00000). size 1/2/4/8. */
bool hv_chipset_mmio(struct hv_chipset *cs, unsigned vcpu, uint64_t addr, unsigned size, bool write,
                     uint64_t *val);
/* The ACPI PM1a block moved (HVM_PARAM_ACPI_IOPORTS_LOCATION). */
void hv_chipset_set_pm1a_base(struct hv_chipset *cs, uint16_t base);

/* ---- interrupt sources ---- */
void hv_chipset_isa_irq(struct hv_chipset *cs, unsigned isa_irq, bool level); /* 0-15 */
void hv_chipset_gsi(struct hv_chipset *cs, unsigned gsi, bool level);         /* 0-47 */
/* A PCI INTx line of bus 0 device `dev` (0-31), intx 0-3 = INTA-INTD: asserts
 * GSI hvm_pci_intx_gsi(dev, intx) and, through the PCI link it maps to, the
 * routed ISA IRQ, as hvm_pci_intx_assert() does. */
void hv_chipset_pci_intx(struct hv_chipset *cs, unsigned dev, unsigned intx, bool level);
/* PCI link 0-3 now routes to ISA IRQ isa_irq (0: none). */
void hv_chipset_set_link_route(struct hv_chipset *cs, unsigned link, unsigned isa_irq);
/* An MSI write to the local APICs (address 0xfeexxxxx): fixed or lowest-priority
 * delivery of a vector >= 16. -EINVAL (nothing delivered) for anything else;
 * -ESRCH for lowest priority with no enabled local APIC matching (vmsi_deliver). */
int hv_chipset_msi(struct hv_chipset *cs, uint64_t addr, uint32_t data);

/* ---- the vCPU side ---- */
/* Whether vcpu has an interrupt to take when its IF is set. */
bool hv_chipset_pending(struct hv_chipset *cs, unsigned vcpu);
/* Takes the highest-priority pending interrupt (PIC INTA cycle through the
 * local APIC's ExtINT/virtual wire, or the local APIC's IRR to ISR): its
 * vector, or -1 if there was none after all. */
int hv_chipset_ack(struct hv_chipset *cs, unsigned vcpu);
/* A halted vCPU: sleeps until it has a pending interrupt (true), or until
 * the deadline, or hv_chipset_interrupt_waits (false). Timers keep firing
 * meanwhile. The deadline is CLOCK_MONOTONIC; NULL waits without limit. */
bool hv_chipset_wait(struct hv_chipset *cs, unsigned vcpu, const struct timespec *deadline);
/* Wakes every hv_chipset_wait (the domain is stopping). A vCPU that was not
 * waiting gets the wake-up at its next hv_chipset_wait, which returns false at
 * once, so that a wake-up is not lost between a check and the wait. */
void hv_chipset_interrupt_waits(struct hv_chipset *cs);

/* INIT and Startup IPIs other vCPUs sent to vcpu through their ICR
 * (hvmloader's smp.c: INIT, SIPI, SIPI, and INIT again to park the AP),
 * oldest first. The chipset has already reset vcpu's local APIC for an INIT;
 * the vCPU resets its registers and waits for a SIPI, which starts it in
 * real mode at CS = vector << 8, IP = 0. A queued IPI also ends
 * hv_chipset_wait (true) and calls kick. */
enum hv_chipset_ipi { HV_CHIPSET_IPI_NONE, HV_CHIPSET_IPI_INIT, HV_CHIPSET_IPI_SIPI };
enum hv_chipset_ipi hv_chipset_take_ipi(struct hv_chipset *cs, unsigned vcpu, uint8_t *vector);

/* What the guest did wrong or the chipset dropped, counted. */
struct hv_chipset_counters {
    uint64_t bad_accesses;           /* wrong size, offset or register index */
    uint64_t readonly_writes;        /* writes to read-only or absent registers */
    uint64_t msi_refused;            /* hv_chipset_msi errors */
    uint64_t lapic_errors;           /* ESR raised: illegal vectors sent or received */
    uint64_t lapic_unsupported_ipis; /* NMI, SMI, ExtINT IPIs */
    uint64_t ioapic_unsupported;     /* NMI, SMI, INIT delivery modes */
    uint64_t ipis_dropped;           /* INIT/SIPI queue full */
    uint64_t pic_spurious;           /* INTA with no request left: IRQ 7 or 15 */
    uint64_t pit_missed_ticks;       /* IRQ0 ticks dropped: over a second behind */
    uint64_t lapic_missed_ticks;
    uint64_t debug_dropped; /* unprintable bytes to port 0xe9 */
};
void hv_chipset_get_counters(struct hv_chipset *cs, struct hv_chipset_counters *out);

#endif
