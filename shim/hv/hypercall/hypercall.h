/*
 * What an HVM guest asks of Xen through its hypercall page, and what the
 * toolstack puts into its memory before the first instruction: the guest's
 * half of the mock for a vCPU that runs real firmware (shim/hv/cpu/).
 *
 * Hypercalls follow the x86 HVM ABI: number in eax, arguments in
 * ebx/ecx/edx/esi/edi (32-bit guests) or rdi/rsi/rdx/r10/r8 (64-bit), the
 * result in eax as a long; errors are -errno values with Xen's numbers
 * (xen/include/public/errno.h, the same as Linux's on x86). Argument
 * pointers are guest-physical addresses here (the firmware runs with paging
 * off), read and written through the p2m with hv_ram_access; a bad pointer
 * is -EFAULT, never a crash of the mock.
 */
#ifndef SHIM_HV_HYPERCALL_H
#define SHIM_HV_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

struct mockhv;
struct hv_hypercalls;

/* What the vCPU needs in order to start the firmware, in Xen's HVM layout:
 * hvmloader is entered in 32-bit flat protected mode, paging off, with ebx
 * the guest-physical address of the struct hvm_start_info (version 1) that
 * lists the BIOS module, as libxl builds it. */
struct hv_boot_state {
    uint32_t entry; /* eip */
    uint32_t ebx;
};

struct hv_boot_config {
    const char *hvmloader;   /* ELF image, e.g. /usr/lib/xen-4.17/boot/hvmloader */
    const char *bios_module; /* e.g. /usr/share/seabios/bios-256k.bin */
    const char *bios_name;   /* xenstore hvmloader/bios: "seabios" */
};

struct hv_hypercall_config {
    /* A line the guest printed through console_io (CONSOLEIO_write). */
    void (*console_line)(void *opaque, unsigned vcpu, const char *line, size_t len);
    void *console_opaque;
    /* SCHEDOP_shutdown: reason SHUTDOWN_*. The domain's shutdown state is
     * already set when this runs. */
    void (*shutdown)(void *opaque, unsigned vcpu, unsigned reason);
    void *shutdown_opaque;
};

int hv_hypercalls_create(struct hv_hypercalls **out, struct mockhv *hv,
                         const struct hv_hypercall_config *cfg);
void hv_hypercalls_destroy(struct hv_hypercalls *h);

/* Loads the firmware and builds what the toolstack builds (hvm_info table,
 * start info with the BIOS module, e820 for XENMEM_memory_map, the xenstore
 * ring page and its event channel, HVM params). */
int hv_hypercalls_boot(struct hv_hypercalls *h, const struct hv_boot_config *cfg,
                       struct hv_boot_state *out);

/* One hypercall from vcpu: op in [0, 64), args as the ABI passes them. May
 * block the calling vCPU thread (SCHEDOP_block, SCHEDOP_poll), bounded by
 * the call's own timeout and woken by hv_hypercalls_interrupt_waits. */
long hv_hypercall(struct hv_hypercalls *h, unsigned vcpu, unsigned op, const uint64_t args[5]);
/* Wakes every blocked hypercall (the domain is stopping). */
void hv_hypercalls_interrupt_waits(struct hv_hypercalls *h);

/* The MSR and page count CPUID leaf 0x40000002 reports (ebx, eax): a write
 * of gpa | page_index to the MSR asks for hypercall page page_index at gpa. */
#define HV_HYPERCALL_MSR   0x40000000u
#define HV_HYPERCALL_PAGES 1u
/* Fills the 4 KiB page at gpa as Xen's hypercall page: entry i at i * 32
 * is `mov $i, %eax; vmcall; ret`. -EFAULT if gpa is not RAM. */
int hv_hypercall_page_fill(struct mockhv *hv, uint64_t gpa);

#endif
