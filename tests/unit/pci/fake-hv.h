/*
 * A hv_services that records what devices ask of the hypervisor: ISA IRQ
 * and INTx level changes, MSIs, and routed PCI functions. For unit tests.
 */
#ifndef TESTS_FAKE_HV_H
#define TESTS_FAKE_HV_H

#include <stdbool.h>
#include <stdint.h>

#include "hv-services.h"

#define FAKE_PLATFORM_MAX 256

struct fake_irq_event {
    uint32_t sbdf; /* INTx only */
    unsigned line; /* ISA IRQ, or INTx pin (0 = INTA#) */
    bool level;
};

struct fake_msi {
    uint64_t addr;
    uint32_t data;
};

struct fake_hv {
    struct fake_irq_event isa[FAKE_PLATFORM_MAX];
    unsigned nr_isa;
    bool isa_level[16]; /* current level per ISA IRQ */
    struct fake_irq_event intx[FAKE_PLATFORM_MAX];
    unsigned nr_intx;
    struct fake_msi msi[FAKE_PLATFORM_MAX];
    unsigned nr_msi;
    uint32_t mapped[FAKE_PLATFORM_MAX]; /* routed SBDFs, in order */
    unsigned nr_mapped;
    unsigned nr_unmapped;
    int map_error; /* returned by map_pcidev when nonzero */
};

/* Zeroes fp and returns a hv_services recording into it. */
struct hv_services fake_hv_init(struct fake_hv *fp);

#endif
