/*
 * Application processors, brought up as on Xen by the local APIC's INIT
 * and Startup IPIs (hvmloader's smp.c sends INIT, SIPI, SIPI, then INIT
 * again to park the AP when it is done). An AP starts down, waiting for a
 * SIPI; INIT puts it back there (Xen's vlapic_init_sipi_action: the vCPU
 * goes down); a SIPI to a waiting AP starts it in real mode at
 * CS = vector << 8, IP = 0 (hvm_vcpu_reset_state). A SIPI to a running
 * vCPU is ignored, as by the processor.
 *
 * Real mode cannot be set from outside in unicorn 2.0.1: writing CR0 does
 * not update the translator's mode flags (a segment load then still takes
 * the protected-mode path and faults; measured). So the AP gets a fresh
 * engine in flat 32-bit protected mode and runs a stub on a page of its
 * own, lent from an MMIO stretch for those few instructions: it loads a
 * 16-bit code segment, clears CR0.PE and jumps to vector << 8 : 0, which
 * leaves unicorn's state exactly as the processor's after a SIPI.
 */
#include <errno.h>
#include <string.h>

#include "../hv-internal.h"
#include "cpu-internal.h"

#define STUB_CODE16 0x10 /* offset of the 16-bit part */
#define STUB_GDTR   0x40
#define STUB_GDT    0x48
#define STUB_TRIES  8 /* emulator runs to reach the target (kicks may stop one early) */

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void build_stub(uint8_t *page, uint32_t base, uint8_t vector)
{
    uint8_t *c = page;

    memset(page, 0, 4096);
    /* lgdtl base + STUB_GDTR; ljmp $0x08, $STUB_CODE16 */
    c[0] = 0x0f, c[1] = 0x01, c[2] = 0x15;
    put32(c + 3, base + STUB_GDTR);
    c[7] = 0xea;
    put32(c + 8, STUB_CODE16);
    c[12] = 0x08, c[13] = 0x00;
    /* 16-bit: mov %cr0,%eax; and $0xfffe,%ax; mov %eax,%cr0; ljmp $vector<<8, $0 */
    c = page + STUB_CODE16;
    c[0] = 0x0f, c[1] = 0x20, c[2] = 0xc0;
    c[3] = 0x83, c[4] = 0xe0, c[5] = 0xfe;
    c[6] = 0x0f, c[7] = 0x22, c[8] = 0xc0;
    c[9] = 0xea, c[10] = 0x00, c[11] = 0x00, c[12] = 0x00, c[13] = vector;
    /* GDT: null, then a 16-bit code segment based at the stub, 64 KiB */
    page[STUB_GDTR] = 15;
    put32(page + STUB_GDTR + 2, base + STUB_GDT);
    put32(page + STUB_GDT + 8, (base & 0xffff) << 16 | 0xffff);
    put32(page + STUB_GDT + 12, (base & 0xff000000u) | 0x9a00 | ((base >> 16) & 0xff));
}

static int run_stub(struct hv_cpu *cpu, uint32_t base, uint8_t vector)
{
    uint8_t page[4096];
    uint64_t target = (uint64_t)vector << 12, pc = base;

    build_stub(page, base, vector);
    if (uc_mem_map(cpu->uc, base, sizeof(page), UC_PROT_ALL) != UC_ERR_OK)
        return -ENOMEM;
    if (uc_mem_write(cpu->uc, base, page, sizeof(page)) != UC_ERR_OK) {
        uc_mem_unmap(cpu->uc, base, sizeof(page));
        return -EIO;
    }
    hv_cpu_set_reg(cpu, UC_X86_REG_EIP, base);
    for (unsigned i = 0; i < STUB_TRIES && pc != target; i++) {
        cpu->exit = HV_EXIT_NONE;
        /* a kick is for the guest's code, which comes after the stub */
        __atomic_store_n(&cpu->kicked, false, __ATOMIC_RELEASE);
        if (uc_emu_start(cpu->uc, hv_cpu_reg(cpu, UC_X86_REG_EIP), target, 0, 0) != UC_ERR_OK ||
            hv_cpu_pc(cpu, &pc))
            break;
    }
    uc_mem_unmap(cpu->uc, base, sizeof(page));
    return pc == target && (hv_cpu_reg(cpu, UC_X86_REG_CR0) & 1) == 0 ? 0 : -EIO;
}

/* A SIPI: the AP starts in real mode at vector << 8 : 0. */
static int start_ap(struct hv_cpu *cpu, uint8_t vector)
{
    static const int regs[] = {UC_X86_REG_EAX, UC_X86_REG_EBX, UC_X86_REG_ECX, UC_X86_REG_EDX,
                               UC_X86_REG_ESI, UC_X86_REG_EDI, UC_X86_REG_EBP, UC_X86_REG_ESP,
                               UC_X86_REG_DS,  UC_X86_REG_ES,  UC_X86_REG_SS,  UC_X86_REG_FS,
                               UC_X86_REG_GS};
    unsigned index;
    uint64_t base;
    int rc = hv_cpu_engine_open(cpu);

    if (rc)
        return rc;
    base = hv_cpu_borrow_hole(cpu, &index);
    if (!base)
        return -ENOSPC;
    rc = run_stub(cpu, (uint32_t)base, vector);
    if (hv_cpu_return_hole(cpu, index) && !rc)
        rc = -ENOMEM;
    if (rc)
        return rc;
    /* real mode now: these are real-mode loads */
    for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
        hv_cpu_set_reg(cpu, regs[i], 0);
    hv_cpu_set_reg(cpu, UC_X86_REG_EFLAGS, 2);
    return 0;
}

void hv_cpu_reset(struct hv_cpu *cpu)
{
    cpu->halted = false;
    cpu->waiting_sipi = true;
}

void hv_cpu_take_ipis(struct hv_cpu *cpu)
{
    struct hv_cpus *set = cpu->set;
    uint8_t vector = 0;
    int ipi, rc;

    if (!set->plat.take_ipi)
        return;
    while ((ipi = set->plat.take_ipi(set->cfg.opaque, cpu->id, &vector)) != 0) {
        if (ipi == HV_CPU_IPI_INIT) {
            hv_cpu_reset(cpu);
        } else if (ipi == HV_CPU_IPI_SIPI && cpu->waiting_sipi) {
            rc = start_ap(cpu, vector);
            if (rc) {
                hv_cpu_crash(cpu, "cannot start at SIPI vector %#x: %s", vector, strerror(-rc));
                return;
            }
            cpu->waiting_sipi = false;
        }
    }
}
