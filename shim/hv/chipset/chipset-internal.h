/*
 * The chipset's state, shared by its device files. Every function here is
 * called with cs->lock held; times are CLOCK_MONOTONIC nanoseconds passed in
 * by the caller, so that the device cores can be tested at chosen instants.
 * Callbacks into the mock (kick, debug_line) are queued here and made by
 * chipset.c after the lock is dropped.
 */
#ifndef SHIM_HV_CHIPSET_INTERNAL_H
#define SHIM_HV_CHIPSET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "chipset.h"

#define CS_MAX_VCPUS   128 /* HVM_MAX_VCPUS */
#define CS_NR_GSIS     48  /* VIOAPIC_NUM_PINS in public/arch-x86/hvm/save.h */
#define CS_NR_PCI_DEVS 32
#define CS_NR_LINKS    4
#define CS_NO_DEADLINE UINT64_MAX
#define NS_PER_SEC     1000000000ull
/* Xen's create_periodic_time: a periodic timer runs at most every 0.1 ms. */
#define CS_MIN_PERIOD_NS 100000ull

/* ---- 8259A pair (vpic.c) ---- */
struct cs_pic {
    uint8_t irr, imr, isr; /* request, mask, in-service registers */
    uint8_t irq_base;      /* ICW2 & 0xf8 */
    uint8_t init_state;    /* bits 0-1: next ICW (0 = OCW1), bit 2: ICW4 wanted,
                              bit 3: single (no ICW3) */
    uint8_t priority_add;  /* rotation: IR(priority_add) has highest priority */
    uint8_t elcr;          /* level-triggered inputs (0x4d0/0x4d1) */
    bool is_master;
    bool readsel_isr; /* OCW3 RR/RIS: port 0x20 reads ISR, else IRR */
    bool poll;        /* OCW3 P: the next read is an INTA */
    bool special_mask_mode, auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode;
    bool int_output; /* the INT pin (master: to the CPU; slave: IR2) */
};

/* ---- 8254 PIT (i8254.c) ---- */
struct cs_pit_channel {
    uint32_t count; /* reload value, 1-0x10000 */
    uint16_t latched_count;
    uint8_t count_latched; /* RW state of the latched count, 0: none */
    bool status_latched;
    uint8_t status;
    uint8_t read_state, write_state, write_latch, rw_mode;
    uint8_t mode; /* 0-7 as written; 0xff before any control word, as Xen */
    bool bcd, gate;
    uint64_t count_load_time; /* ns */
};

struct cs_pit {
    struct cs_pit_channel ch[3];
    bool speaker_data_on; /* port 0x61 bit 1 */
    /* channel 0's IRQ0 timer */
    uint64_t irq0_next;   /* ns, CS_NO_DEADLINE when stopped */
    uint64_t irq0_period; /* ns, 0 for one-shot */
    /* Ticks not yet delivered because the last one was not yet taken by a
     * vCPU (Xen's pending_intr_nr in its default delay_for_missed_ticks
     * mode), at most one second's worth. */
    uint32_t irq0_backlog;
};

/* ---- MC146818 RTC (rtc.c) ---- */
#define CS_RTC_REGS 14 /* Xen's RTC_CMOS_SIZE: the rest of CMOS is the DM's */
struct cs_rtc {
    uint8_t index; /* port 0x70 & 0x7f */
    uint8_t regs[CS_RTC_REGS];
    int64_t offset_sec;      /* guest time = host realtime + offset */
    uint64_t period;         /* periodic interrupt period, ns (0: off) */
    uint64_t period_start;   /* ns, the phase of the periodic ticks */
    uint64_t pf_next;        /* next periodic tick, ns */
    int64_t last_update_sec; /* guest second of the last update cycle seen */
};

/* ---- ACPI PM1a event block and PM timer (pmtimer.c) ---- */
struct cs_pmt {
    uint16_t base; /* PM1a_EVT; PM1a_CNT (+4) is the DM's; TMR_VAL at +8 */
    uint16_t sts, en;
    uint64_t start; /* ns at which TMR_VAL was 0 */
    uint32_t last_val;
};

/* ---- IOAPIC (vioapic.c) ---- */
struct cs_ioapic {
    uint32_t ioregsel;
    uint8_t id;
    uint64_t redir[CS_NR_GSIS];
};

/* ---- local APIC (vlapic.c) ---- */
#define CS_IPI_QUEUE 8
struct cs_lapic {
    uint32_t regs[0x400 / 4]; /* the 4 KiB page's registers, indexed by offset / 4 */
    bool sw_disabled;
    uint32_t timer_divisor;
    uint64_t timer_last_update; /* ns; 0: TMCCT reads 0 */
    uint64_t timer_next;        /* ns, CS_NO_DEADLINE when stopped */
    uint64_t timer_period;      /* ns, 0 for one-shot */
    /* INIT and SIPI received, for the vCPU to act on */
    struct {
        uint8_t kind; /* enum hv_chipset_ipi */
        uint8_t vector;
    } ipi[CS_IPI_QUEUE];
    unsigned ipi_head, ipi_count;
};

/* ---- interrupt routing state Xen keeps (hvm/irq.c, struct hvm_irq) ---- */
struct cs_irq {
    uint32_t pci_intx[CS_NR_PCI_DEVS]; /* bit intx: (dev, INTx) asserted */
    uint16_t isa_irq;                  /* bit n: ISA IRQ n asserted */
    uint8_t link_assert_count[CS_NR_LINKS];
    uint8_t gsi_assert_count[CS_NR_GSIS];
    uint8_t link_route[CS_NR_LINKS]; /* ISA IRQ, 0: none */
    unsigned round_robin_prev_vcpu;
};

#define CS_DEBUG_LINE_MAX 200 /* DOMAIN_PBUF_SIZE: a line is flushed at 199 bytes */
struct cs_debug {
    char buf[CS_DEBUG_LINE_MAX];
    size_t len;
};

struct hv_chipset {
    struct hv_chipset_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t timer_cv; /* the timer thread sleeps here */
    pthread_cond_t irq_cv;   /* hv_chipset_wait sleeps here */
    pthread_t thread;
    bool thread_started, stopping;
    bool wake[CS_MAX_VCPUS]; /* hv_chipset_interrupt_waits not yet seen */

    struct cs_pic pic[2];
    struct cs_pit pit;
    struct cs_rtc rtc;
    struct cs_pmt pmt;
    struct cs_ioapic ioapic;
    struct cs_irq irq;
    struct cs_debug debug;
    struct cs_lapic *lapic; /* nr_vcpus */
    unsigned i8259_target;  /* vCPU the PIC's INT reaches */

    bool kick[CS_MAX_VCPUS]; /* queued, made after unlock */
    bool timers_changed;     /* the timer thread must recompute its sleep */
    /* a complete debug line waiting to be handed out after unlock */
    char debug_out[CS_DEBUG_LINE_MAX];
    size_t debug_out_len;
    bool debug_out_ready;

    struct hv_chipset_counters counters;
};

uint64_t cs_now(void);
void cs_kick(struct hv_chipset *cs, unsigned vcpu);
void cs_bad_access(struct hv_chipset *cs, const char *what, uint32_t where, unsigned size);

/* pic.c */
void pic_reset(struct hv_chipset *cs);
void pic_irq_positive_edge(struct hv_chipset *cs, unsigned isa_irq);
void pic_irq_negative_edge(struct hv_chipset *cs, unsigned isa_irq);
int pic_intack(struct hv_chipset *cs); /* vector, -1 if INT is low */
bool pic_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val);

/* pit.c */
void pit_reset(struct hv_chipset *cs, uint64_t now);
bool pit_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val,
             uint64_t now);
uint64_t pit_run_timer(struct hv_chipset *cs, uint64_t now); /* next deadline */
void pit_irq0_taken(struct hv_chipset *cs);                  /* a vCPU took IRQ 0's vector */
uint32_t pit_get_count(const struct cs_pit_channel *c, uint64_t now);
bool pit_get_out(const struct cs_pit_channel *c, uint64_t now);

/* rtc.c */
void rtc_reset(struct hv_chipset *cs, uint64_t now);
bool rtc_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val,
             uint64_t now);
uint64_t rtc_run_timer(struct hv_chipset *cs, uint64_t now);

/* pmtimer.c */
#define PMT_HZ 3579545ull
void pmt_reset(struct hv_chipset *cs, uint16_t base, uint64_t now);
bool pmt_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val,
             uint64_t now);
uint64_t pmt_run_timer(struct hv_chipset *cs, uint64_t now);
uint32_t pmt_ticks(uint64_t elapsed_ns); /* TMR_VAL after elapsed_ns */

/* ioapic.c */
#define IOAPIC_BASE    0xfec00000ull
#define IOAPIC_VERSION 0x11
void ioapic_reset(struct hv_chipset *cs);
bool ioapic_mmio(struct hv_chipset *cs, uint64_t addr, unsigned size, bool write, uint64_t *val);
void ioapic_irq_positive_edge(struct hv_chipset *cs, unsigned gsi);
bool ioapic_is_level(const struct hv_chipset *cs, unsigned gsi);
void ioapic_update_eoi(struct hv_chipset *cs, uint8_t vector);

/* lapic.c */
#define LAPIC_BASE 0xfee00000ull
void lapic_reset(struct hv_chipset *cs, unsigned vcpu);
bool lapic_mmio(struct hv_chipset *cs, unsigned vcpu, uint64_t addr, unsigned size, bool write,
                uint64_t *val, uint64_t now);
void lapic_set_irq(struct hv_chipset *cs, unsigned vcpu, uint8_t vector, bool level);
bool lapic_enabled(const struct hv_chipset *cs, unsigned vcpu);
bool lapic_match_dest(const struct hv_chipset *cs, unsigned vcpu, int source, unsigned short_hand,
                      uint32_t dest, bool logical);
int lapic_lowest_prio(struct hv_chipset *cs, int source, unsigned short_hand, uint32_t dest,
                      bool logical);
int lapic_pending_vector(const struct hv_chipset *cs, unsigned vcpu); /* -1: none */
int lapic_ack(struct hv_chipset *cs, unsigned vcpu);
bool lapic_accept_pic_intr(const struct hv_chipset *cs, unsigned vcpu);
void lapic_adjust_i8259_target(struct hv_chipset *cs);
uint64_t lapic_run_timers(struct hv_chipset *cs, uint64_t now);
bool lapic_irr_has(const struct hv_chipset *cs, unsigned vcpu, uint8_t vector);
enum hv_chipset_ipi lapic_take_ipi(struct hv_chipset *cs, unsigned vcpu, uint8_t *vector);

/* chipset.c: hv_chipset_ack with the lock held */
int cs_ack_locked(struct hv_chipset *cs, unsigned vcpu);

/* irq-route.c */
unsigned irq_isa_to_gsi(unsigned isa_irq);
unsigned irq_pci_intx_gsi(unsigned dev, unsigned intx);
unsigned irq_pci_intx_link(unsigned dev, unsigned intx);
void irq_isa_assert(struct hv_chipset *cs, unsigned isa_irq);
void irq_isa_deassert(struct hv_chipset *cs, unsigned isa_irq);
void irq_isa_pulse(struct hv_chipset *cs, unsigned isa_irq);
void irq_gsi_set(struct hv_chipset *cs, unsigned gsi, bool level);
void irq_pci_intx_set(struct hv_chipset *cs, unsigned dev, unsigned intx, bool level);
void irq_set_link_route(struct hv_chipset *cs, unsigned link, unsigned isa_irq);
int irq_msi(struct hv_chipset *cs, uint64_t addr, uint32_t data);

/* debug-port.c */
bool debug_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val);

#endif
