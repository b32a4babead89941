/*
 * Emulated x86 vCPUs (unicorn) that run real firmware in the mock's domain:
 * guest RAM is the mock's memfd seen through the p2m, IN/OUT and MMIO that
 * are not RAM go first to what Xen emulates itself (the platform's pio/mmio)
 * and then through the very path of the C guest API (hv_guest_pio/mmio:
 * server selection, the 0xCF8 latch, all-ones when nobody claims it), and
 * the vCPU thread blocks until the device model answers, as a real vCPU.
 *
 * What Xen does beneath the guest and unicorn does not, is done here:
 * CPUID's hypervisor leaves, VMCALL into hypercalls, the hypercall MSR,
 * delivery of interrupts and exceptions through the IVT or the IDT, and HLT.
 *
 * The platform (Xen's chipset, the hypercalls) is a table of operations, so
 * the vCPU can be tested alone; any operation may be NULL.
 */
#ifndef SHIM_HV_CPU_H
#define SHIM_HV_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mockhv.h"

struct mockhv;
struct hv_cpus;

struct hv_cpu_platform {
    /* Xen's own devices: true if handled (*val the result of a read). */
    bool (*pio)(void *opaque, unsigned vcpu, uint16_t port, unsigned size, bool write,
                uint32_t *val);
    bool (*mmio)(void *opaque, unsigned vcpu, uint64_t addr, unsigned size, bool write,
                 uint64_t *val);
    /* Interrupts: as hv_chipset_pending/ack/wait. */
    bool (*pending)(void *opaque, unsigned vcpu);
    int (*ack)(void *opaque, unsigned vcpu);
    bool (*wait)(void *opaque, unsigned vcpu, const struct timespec *deadline);
    /* Hypercall op with args (32-bit ABI: ebx, ecx, edx, esi, edi). */
    long (*hypercall)(void *opaque, unsigned vcpu, unsigned op, const uint64_t args[5]);
    /* The guest wrote gpa | index to the hypercall MSR. */
    int (*hypercall_page)(void *opaque, uint64_t gpa);
    /* The next INIT or SIPI queued for vcpu (HV_CPU_IPI_*, 0 none). */
    int (*take_ipi)(void *opaque, unsigned vcpu, uint8_t *vector);
    /* Wakes every wait and blocked hypercall: the domain is stopping. */
    void (*interrupt_waits)(void *opaque);
};

enum { HV_CPU_IPI_INIT = 1, HV_CPU_IPI_SIPI = 2 };

struct hv_cpu_config {
    unsigned nr_vcpus;
    uint32_t entry; /* eip, 32-bit flat protected mode, paging off */
    uint32_t ebx;   /* start info address, as Xen passes it to hvmloader */
    bool count_instructions;
    /* Where a vCPU ends (halted, crashed, stopped): called once per vCPU
     * from its thread, no lock held. */
    void (*ended)(void *opaque, unsigned vcpu, const struct mockhv_hvm_result *r);
    const struct hv_cpu_platform *platform;
    void *opaque;
};

int hv_cpus_create(struct hv_cpus **out, struct mockhv *hv, const struct hv_cpu_config *cfg);
/* Starts the vCPUs: vCPU 0 (the BSP) at the entry, the others down until
 * INIT and SIPI bring them up. */
int hv_cpus_start(struct hv_cpus *c);
/* The platform has an interrupt for vcpu: it leaves emulation to take it. */
void hv_cpus_kick(struct hv_cpus *c, unsigned vcpu);
/* Guest memory [gpa, gpa + len) changed behind the vCPUs' back (a device
 * model's DMA): each drops what it translated from there before it enters
 * another block. Any thread. */
void hv_cpus_code_modified(struct hv_cpus *c, uint64_t gpa, uint64_t len);
/* Asks every vCPU to stop at its next block (or wake-up); returns at once. */
void hv_cpus_request_stop(struct hv_cpus *c);
/* Stops every vCPU (interrupting its waits) and joins the threads. */
void hv_cpus_stop(struct hv_cpus *c);
void hv_cpus_destroy(struct hv_cpus *c);
void hv_cpus_stats(struct hv_cpus *c, struct mockhv_hvm_stats *out);
/* Linear address of the last block vcpu entered (0 before it ran). */
uint64_t hv_cpus_last_block(struct hv_cpus *c, unsigned vcpu);
/* How vCPU vcpu ended (state MOCKHV_HVM_RUNNING while it runs); only
 * stable once its `ended` callback ran. */
const struct mockhv_hvm_result *hv_cpus_result(struct hv_cpus *c, unsigned vcpu);

#endif
