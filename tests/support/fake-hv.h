/*
 * A hv_services that records what devices ask of the hypervisor: ISA IRQ
 * and INTx level changes, MSIs, and routed PCI functions. Unit tests read
 * the records; the fuzzers check that no call was out of range (nr_bad).
 */
#ifndef TESTS_FAKE_HV_H
#define TESTS_FAKE_HV_H

#include <stdbool.h>
#include <stdint.h>

#include "hv-services.h"

#define FAKE_HV_MAX 256

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
    struct fake_irq_event isa[FAKE_HV_MAX];
    unsigned nr_isa;
    bool isa_level[16]; /* current level per ISA IRQ */
    struct fake_irq_event intx[FAKE_HV_MAX];
    unsigned nr_intx;
    struct fake_msi msi[FAKE_HV_MAX];
    unsigned nr_msi;
    uint32_t mapped[FAKE_HV_MAX]; /* routed SBDFs, in order */
    unsigned nr_mapped;
    unsigned nr_unmapped;
    int map_error; /* returned by map_pcidev when nonzero */
    /* Calls Xen would refuse: ISA IRQ >= 16, INTx pin > INTD#, a function beyond bus 0. */
    unsigned nr_bad;
};

/* Zeroes fp and returns a hv_services recording into it. */
struct hv_services fake_hv_init(struct fake_hv *fp);

#endif
