/*
 * Hypercalls. The hypercall page Xen writes for an HVM guest holds, per
 * entry, `mov $op, %eax; vmcall; ret` (vmmcall on AMD). Unicorn knows
 * neither instruction: it raises an invalid-instruction event, which is
 * where the call is made (op in eax, arguments in ebx, ecx, edx, esi, edi
 * for a 32-bit guest, the result back in eax) and the instruction skipped.
 * Any other invalid instruction is left to become #UD for the guest.
 *
 * The hypercall MSR. A guest asks for the page by writing gpa | index to
 * the MSR CPUID leaf 0x40000002 named. Unicorn 2.0.1 cannot hook WRMSR
 * (uc_hook_add with UC_X86_INS_WRMSR fails with UC_ERR_HOOK) and its TCG
 * ignores a write to an MSR it does not know, so that write would vanish.
 * Instead, once the guest has read leaf 0x40000002, the vCPU leaves the
 * emulator at the next block boundary (a hook cannot stop mid-block with
 * a consistent eip) and then runs with a code hook (before every
 * instruction, its blocks translated anew) for at most MSR_WATCH_INSNS
 * instructions; a WRMSR with ecx = the MSR is emulated there before
 * unicorn sees it, and the hook goes again. (uc_emu_start's instruction
 * count would do the same but unicorn then drops its whole translation
 * cache on the way back, which costs seconds.)
 * hvmloader's init_hypercalls() loops over the pages, so a branch ends the
 * block between its CPUID and its WRMSR and this is exact. A WRMSR in the
 * very block of the CPUID has already run (as a no-op) at the boundary:
 * it is then taken with the registers the block ended with, which are
 * the ones it used unless the block changed eax, edx or ecx after it.
 * Normal running keeps no per-instruction hook.
 */
#include <errno.h>

#include "../hv-internal.h"
#include "../hypercall/hypercall.h"
#include "cpu-internal.h"

#define NR_HYPERCALL_OPS 64
#define WRMSR_WINDOW     256 /* bytes after the CPUID searched for its WRMSR */

static bool read_insn(struct hv_cpu *cpu, uint8_t *bytes, size_t len)
{
    uint64_t pc;

    return hv_cpu_pc(cpu, &pc) == 0 && uc_mem_read(cpu->uc, pc, bytes, len) == UC_ERR_OK;
}

static void skip(struct hv_cpu *cpu, uint32_t len)
{
    hv_cpu_set_reg(cpu, UC_X86_REG_EIP, hv_cpu_reg(cpu, UC_X86_REG_EIP) + len);
}

static bool on_invalid(uc_engine *uc, void *opaque)
{
    struct hv_cpu *cpu = opaque;
    struct hv_cpus *set = cpu->set;
    uint8_t b[3];
    uint64_t args[5];
    uint32_t op;
    long ret = -ENOSYS;

    (void)uc;
    if (!read_insn(cpu, b, sizeof(b)) || b[0] != 0x0f || b[1] != 0x01 ||
        (b[2] != 0xc1 && b[2] != 0xd9))
        return false; /* #UD, delivered by the run loop */
    op = hv_cpu_reg(cpu, UC_X86_REG_EAX);
    args[0] = hv_cpu_reg(cpu, UC_X86_REG_EBX);
    args[1] = hv_cpu_reg(cpu, UC_X86_REG_ECX);
    args[2] = hv_cpu_reg(cpu, UC_X86_REG_EDX);
    args[3] = hv_cpu_reg(cpu, UC_X86_REG_ESI);
    args[4] = hv_cpu_reg(cpu, UC_X86_REG_EDI);
    if (op < NR_HYPERCALL_OPS) {
        __atomic_add_fetch(&set->stats.hypercalls[op], 1, __ATOMIC_RELAXED);
        if (set->plat.hypercall)
            ret = set->plat.hypercall(set->cfg.opaque, cpu->id, op, args);
    }
    hv_cpu_set_reg(cpu, UC_X86_REG_EAX, (uint32_t)ret);
    skip(cpu, 3);
    /* unicorn leaves the emulator after a hook moved eip; say it was us */
    cpu->exit = HV_EXIT_RESUME;
    return true;
}

/* The hypercall MSR write with the current registers. back: how many
 * bytes eip is past the WRMSR (0: eip is on it and it is skipped). */
static bool emulate_wrmsr(struct hv_cpu *cpu, uint32_t back)
{
    struct hv_cpus *set = cpu->set;
    uint64_t val;
    int rc = -EINVAL;

    if (hv_cpu_reg(cpu, UC_X86_REG_ECX) != HV_HYPERCALL_MSR)
        return false;
    val = (uint64_t)hv_cpu_reg(cpu, UC_X86_REG_EDX) << 32 | hv_cpu_reg(cpu, UC_X86_REG_EAX);
    cpu->msr_watch = 0;
    /* Xen's guest_wrmsr_xen(): an index past the advertised pages, or a
     * frame that is not writable RAM, is X86EMUL_EXCEPTION: #GP(0) */
    if ((val & 0xfff) < HV_HYPERCALL_PAGES && set->plat.hypercall_page)
        rc = set->plat.hypercall_page(set->cfg.opaque, val & ~0xfffull);
    if (rc) {
        skip(cpu, (uint32_t)-back); /* a fault leaves eip on the instruction */
        cpu->exc_vector = 13;
        cpu->exc_soft = false;
        cpu->exit = HV_EXIT_EXCEPTION;
        return true;
    }
    if (!back)
        skip(cpu, 2);
    return true;
}

bool hv_cpu_wrmsr_at(struct hv_cpu *cpu, uint64_t addr)
{
    uint8_t b[2];

    if (uc_mem_read(cpu->uc, addr, b, sizeof(b)) != UC_ERR_OK || b[0] != 0x0f || b[1] != 0x30 ||
        !emulate_wrmsr(cpu, 0))
        return false;
    if (cpu->exit == HV_EXIT_EXCEPTION) {
        /* not run: stop at the WRMSR itself (an eip write restarts there) */
        hv_cpu_set_reg(cpu, UC_X86_REG_EIP, hv_cpu_reg(cpu, UC_X86_REG_EIP));
        cpu->want_exit = true;
    }
    return true;
}

bool hv_cpu_wrmsr_passed(struct hv_cpu *cpu, uint64_t cpuid_pc)
{
    uint8_t code[WRMSR_WINDOW];
    uint64_t pc;

    if (hv_cpu_pc(cpu, &pc) || pc <= cpuid_pc + 2 || pc - cpuid_pc > sizeof(code) ||
        uc_mem_read(cpu->uc, cpuid_pc, code, pc - cpuid_pc) != UC_ERR_OK)
        return false;
    /* the last 0f 30 between the CPUID and here: the block's WRMSR */
    for (uint64_t i = pc - cpuid_pc - 2; i >= 2; i--)
        if (code[i] == 0x0f && code[i + 1] == 0x30)
            return emulate_wrmsr(cpu, (uint32_t)(pc - cpuid_pc - i));
    return false;
}

int hv_cpu_vmcall_hook(struct hv_cpu *cpu)
{
    if (uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_INSN_INVALID, (void *)on_invalid,
                    cpu, 1, 0) != UC_ERR_OK)
        return -EINVAL;
    return 0;
}
