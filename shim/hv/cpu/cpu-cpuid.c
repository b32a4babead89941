/*
 * CPUID as an HVM guest sees it on Xen 4.17: the hypervisor leaves of
 * xen/arch/x86/traps.c cpuid_hypervisor_leaves() at 0x40000000 (no
 * viridian, so no shift to 0x40000100), and the "hypervisor" bit (leaf 1
 * ecx bit 31) that Xen sets for every HVM guest. Leaf 1 also carries the
 * vCPU's initial APIC id in ebx[31:24], as Xen's policy does. Every other
 * leaf is unicorn's CPU model's.
 *
 * Leaf 0x40000002 also arms the hypercall-MSR watch (cpu-vmcall.c): the
 * guest learns the MSR there and writes it within a few instructions.
 */
#include <errno.h>
#include <string.h>

#include "../hv-internal.h"
#include <xen/arch-x86/cpuid.h>
#include "../hypercall/hypercall.h"
#include "cpu-internal.h"

#define XEN_MAJOR      4
#define XEN_MINOR      17
#define HYPERVISOR_BIT (1u << 31)
/* What the guest may run between CPUID and WRMSR: SeaBIOS's
 * xen_hypercall_setup() allocates the page and prints a line in between. */
#define MSR_WATCH_INSNS 1000000

/* Leaf 1 as unicorn's CPU model answers it, taken once from a scratch
 * engine: the hook runs before the instruction, so the model's own values
 * cannot be adjusted afterwards. */
int hv_cpu_probe_leaf1(struct hv_cpu_leaf *out)
{
    static const uint8_t code[] = {0x0f, 0xa2}; /* cpuid */
    uc_engine *uc;
    uint32_t eax = 1, ecx = 0;
    int rc = -EIO;

    if (uc_open(UC_ARCH_X86, UC_MODE_32, &uc) != UC_ERR_OK)
        return -ENOMEM;
    if (uc_mem_map(uc, 0x1000, 0x1000, UC_PROT_ALL) == UC_ERR_OK &&
        uc_mem_write(uc, 0x1000, code, sizeof(code)) == UC_ERR_OK &&
        uc_reg_write(uc, UC_X86_REG_EAX, &eax) == UC_ERR_OK &&
        uc_reg_write(uc, UC_X86_REG_ECX, &ecx) == UC_ERR_OK &&
        uc_emu_start(uc, 0x1000, 0x1000 + sizeof(code), 0, 1) == UC_ERR_OK) {
        uc_reg_read(uc, UC_X86_REG_EAX, &out->a);
        uc_reg_read(uc, UC_X86_REG_EBX, &out->b);
        uc_reg_read(uc, UC_X86_REG_ECX, &out->c);
        uc_reg_read(uc, UC_X86_REG_EDX, &out->d);
        rc = 0;
    }
    uc_close(uc);
    return rc;
}

static bool xen_leaf(struct hv_cpu *cpu, uint32_t leaf, uint32_t subleaf, struct hv_cpu_leaf *r)
{
    memset(r, 0, sizeof(*r));
    switch (leaf - XEN_CPUID_FIRST_LEAF) {
    case 0:
        r->a = XEN_CPUID_FIRST_LEAF + XEN_CPUID_MAX_NUM_LEAVES;
        r->b = XEN_CPUID_SIGNATURE_EBX;
        r->c = XEN_CPUID_SIGNATURE_ECX;
        r->d = XEN_CPUID_SIGNATURE_EDX;
        return true;
    case 1:
        r->a = XEN_MAJOR << 16 | XEN_MINOR;
        return true;
    case 2:
        r->a = HV_HYPERCALL_PAGES;
        r->b = HV_HYPERCALL_MSR;
        /* leave free running at the next block: the instructions after it
         * are single-stepped (stopping from this hook would leave a stale
         * eip: unicorn 2.0.1 stops mid-block without syncing it) */
        cpu->msr_watch = MSR_WATCH_INSNS;
        cpu->msr_watch_first = true;
        if (hv_cpu_pc(cpu, &cpu->cpuid_pc)) /* eip is synced for CPUID's helper */
            cpu->msr_watch_first = false;
        cpu->want_exit = true;
        return true;
    case 3: /* TSC: default mode, nothing emulated, frequency not advertised */
        return true;
    case 4:
        /* No APIC-access or x2APIC virtualisation (as on AMD hosts), no
         * IOMMU; vCPU id, domain id and per-vCPU upcall vectors present. */
        if (subleaf == 0) {
            r->a = XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT |
                   XEN_HVM_CPUID_UPCALL_VECTOR;
            r->b = cpu->id;
            r->c = cpu->set->hv->domid;
        }
        return true;
    case 5: /* PV-specific: empty for HVM */
        return true;
    default:
        return leaf >= XEN_CPUID_FIRST_LEAF && leaf < XEN_CPUID_FIRST_LEAF + 0x10000;
    }
}

static int on_cpuid(uc_engine *uc, void *opaque)
{
    struct hv_cpu *cpu = opaque;
    uint32_t leaf = hv_cpu_reg(cpu, UC_X86_REG_EAX), subleaf = hv_cpu_reg(cpu, UC_X86_REG_ECX);
    struct hv_cpu_leaf r;

    (void)uc;
    if (leaf == 1) {
        r = cpu->set->leaf1;
        r.b = (r.b & 0x00ffffffu) | (uint32_t)(cpu->id * 2) << 24; /* Xen: APIC id 2 * vcpu */
        r.c |= HYPERVISOR_BIT;
    } else if (!xen_leaf(cpu, leaf, subleaf, &r)) {
        return 0; /* the CPU model's */
    }
    hv_cpu_set_reg(cpu, UC_X86_REG_EAX, r.a);
    hv_cpu_set_reg(cpu, UC_X86_REG_EBX, r.b);
    hv_cpu_set_reg(cpu, UC_X86_REG_ECX, r.c);
    hv_cpu_set_reg(cpu, UC_X86_REG_EDX, r.d);
    return 1;
}

int hv_cpu_cpuid_hook(struct hv_cpu *cpu)
{
    if (uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_INSN, (void *)on_cpuid, cpu, 1,
                    0, UC_X86_INS_CPUID) != UC_ERR_OK)
        return -EINVAL;
    return 0;
}
