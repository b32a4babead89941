/*
 * Interrupts and exceptions, delivered as the processor would. Unicorn does
 * not deliver them itself: a software INT n or a fault reaches a
 * UC_HOOK_INTR callback and emulation would simply go on. The hook stops
 * the emulator and the run loop delivers the vector here:
 *   real mode: through the IVT (IDTR base, 4-byte cs:ip entries), pushing
 *     FLAGS, CS and IP on SS:SP and clearing IF, TF and AC;
 *   protected mode: through an interrupt or trap gate of the IDT (16- or
 *     32-bit), to a code segment of the same privilege, pushing EFLAGS, CS,
 *     EIP and, for the exceptions that have one, an error code; an
 *     interrupt gate also clears IF.
 * Task gates, privilege changes, virtual-8086 mode and paging are refused.
 * A vector that cannot be delivered becomes #DF, and one more failure a
 * triple fault: the domain crashes with the reason, the mock goes on.
 *
 * What the hook cannot see: unicorn keeps a fault's error code to itself,
 * so 0 is pushed (exact for the #GP(0), #SS(0) and #AC(0) firmware meets),
 * and it does not say whether the event was INT n or a fault; INT n, INT3,
 * INTO and INT1 leave eip past an instruction that encodes the vector, a
 * fault leaves eip on the faulting instruction, and that is what decides.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../hv-internal.h"
#include "cpu-internal.h"

#define CR0_PE (1u << 0)
#define CR0_PG (1u << 31)
#define FL_TF  (1u << 8)
#define FL_IF  (1u << 9)
#define FL_NT  (1u << 14)
#define FL_RF  (1u << 16)
#define FL_VM  (1u << 17)
#define FL_AC  (1u << 18)
#define VEC_DF 8
#define VEC_GP 13

struct desc {
    uint32_t lo, hi;
};

static bool has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

static int read_phys(struct hv_cpu *cpu, uint64_t addr, void *buf, size_t len)
{
    return uc_mem_read(cpu->uc, addr, buf, len) == UC_ERR_OK ? 0 : -EFAULT;
}

static int write_phys(struct hv_cpu *cpu, uint64_t addr, const void *buf, size_t len)
{
    return uc_mem_write(cpu->uc, addr, buf, len) == UC_ERR_OK ? 0 : -EFAULT;
}

static int gdt_desc(struct hv_cpu *cpu, uint16_t sel, struct desc *d)
{
    uc_x86_mmr gdtr;

    if (sel & 4) /* LDT: firmware has none */
        return -EINVAL;
    if (uc_reg_read(cpu->uc, UC_X86_REG_GDTR, &gdtr) != UC_ERR_OK)
        return -EIO;
    if ((sel & ~7u) == 0 || (uint32_t)(sel | 7) > gdtr.limit)
        return -EINVAL;
    return read_phys(cpu, gdtr.base + (sel & ~7u), d, sizeof(*d));
}

static uint32_t desc_base(const struct desc *d)
{
    return d->lo >> 16 | (d->hi & 0xff) << 16 | (d->hi & 0xff000000u);
}

static int seg_base(struct hv_cpu *cpu, int reg, uint32_t *base, bool *big)
{
    uint32_t sel = hv_cpu_reg(cpu, reg);
    struct desc d;
    int rc;

    if (!(hv_cpu_reg(cpu, UC_X86_REG_CR0) & CR0_PE) ||
        (hv_cpu_reg(cpu, UC_X86_REG_EFLAGS) & FL_VM)) {
        *base = (sel & 0xffff) << 4;
        if (big)
            *big = false;
        return 0;
    }
    if ((sel & 0xfffc) == 0) {
        /* Only Xen's initial state has a null CS or SS in protected mode
         * (the guest cannot load one): flat, base 0, 32-bit */
        *base = 0;
        if (big)
            *big = true;
        return 0;
    }
    rc = gdt_desc(cpu, (uint16_t)sel, &d);
    if (rc)
        return rc;
    *base = desc_base(&d);
    if (big)
        *big = (d.hi >> 22) & 1;
    return 0;
}

int hv_cpu_cs_base(struct hv_cpu *cpu, uint32_t *base)
{
    return seg_base(cpu, UC_X86_REG_CS, base, NULL);
}

int hv_cpu_pc(struct hv_cpu *cpu, uint64_t *pc)
{
    uint32_t base;
    int rc = seg_base(cpu, UC_X86_REG_CS, &base, NULL);

    if (rc)
        return rc;
    *pc = (uint32_t)(base + hv_cpu_reg(cpu, UC_X86_REG_EIP));
    return 0;
}

/* Pushes n items of `width` bytes on SS:(E)SP. */
static int push(struct hv_cpu *cpu, const uint32_t *items, unsigned n, unsigned width, char *why,
                size_t why_len)
{
    uint32_t base, sp = hv_cpu_reg(cpu, UC_X86_REG_ESP);
    bool big;
    int rc = seg_base(cpu, UC_X86_REG_SS, &base, &big);

    if (rc) {
        snprintf(why, why_len, "bad stack segment %#x", hv_cpu_reg(cpu, UC_X86_REG_SS));
        return -EFAULT;
    }
    for (unsigned i = 0; i < n; i++) {
        uint32_t v = items[i];

        sp = big ? sp - width : (sp & 0xffff0000u) | ((sp - width) & 0xffff);
        rc = write_phys(cpu, (uint32_t)(base + (big ? sp : sp & 0xffff)), &v, width);
        if (rc) {
            snprintf(why, why_len, "stack at %#x:%#x is not writable",
                     hv_cpu_reg(cpu, UC_X86_REG_SS), sp);
            return -EFAULT;
        }
    }
    hv_cpu_set_reg(cpu, UC_X86_REG_ESP, sp);
    return 0;
}

static int deliver_real(struct hv_cpu *cpu, unsigned vector, char *why, size_t why_len)
{
    uc_x86_mmr idtr;
    uint16_t ent[2];
    uint32_t fl = hv_cpu_reg(cpu, UC_X86_REG_EFLAGS);
    uint32_t frame[3] = {fl & 0xffff, hv_cpu_reg(cpu, UC_X86_REG_CS) & 0xffff,
                         hv_cpu_reg(cpu, UC_X86_REG_EIP) & 0xffff};

    if (uc_reg_read(cpu->uc, UC_X86_REG_IDTR, &idtr) != UC_ERR_OK)
        return -EIO;
    if (vector * 4 + 3 > idtr.limit) {
        snprintf(why, why_len, "vector %u beyond the IVT limit %#x", vector, idtr.limit);
        return -EFAULT;
    }
    if (read_phys(cpu, idtr.base + vector * 4, ent, sizeof(ent))) {
        snprintf(why, why_len, "IVT entry %u is not readable", vector);
        return -EFAULT;
    }
    if (push(cpu, frame, 3, 2, why, why_len))
        return -EFAULT;
    hv_cpu_set_reg(cpu, UC_X86_REG_EFLAGS, fl & ~(FL_IF | FL_TF | FL_AC));
    hv_cpu_set_reg(cpu, UC_X86_REG_CS, ent[1]);
    hv_cpu_set_reg(cpu, UC_X86_REG_EIP, ent[0]);
    return 0;
}

static int deliver_prot(struct hv_cpu *cpu, unsigned vector, bool has_error, uint32_t error,
                        char *why, size_t why_len)
{
    uc_x86_mmr idtr;
    struct desc gate, target;
    uint32_t fl = hv_cpu_reg(cpu, UC_X86_REG_EFLAGS), cs = hv_cpu_reg(cpu, UC_X86_REG_CS) & 0xffff;
    uint32_t frame[4], type, sel, off;
    unsigned n = 0, width;

    if (uc_reg_read(cpu->uc, UC_X86_REG_IDTR, &idtr) != UC_ERR_OK)
        return -EIO;
    if (vector * 8 + 7 > idtr.limit) {
        snprintf(why, why_len, "vector %u beyond the IDT limit %#x", vector, idtr.limit);
        return -EFAULT;
    }
    if (read_phys(cpu, idtr.base + vector * 8, &gate, sizeof(gate))) {
        snprintf(why, why_len, "IDT entry %u is not readable", vector);
        return -EFAULT;
    }
    type = (gate.hi >> 8) & 0x1f;
    if (!(gate.hi & (1u << 15))) {
        snprintf(why, why_len, "IDT entry %u is not present", vector);
        return -EFAULT;
    }
    if (type == 0x05) {
        snprintf(why, why_len, "IDT entry %u is a task gate (not modelled)", vector);
        return -EFAULT;
    }
    if (type != 0x06 && type != 0x07 && type != 0x0e && type != 0x0f) {
        snprintf(why, why_len, "IDT entry %u has gate type %#x", vector, type);
        return -EFAULT;
    }
    width = type & 0x08 ? 4 : 2;
    sel = gate.lo >> 16;
    off = width == 4 ? (gate.lo & 0xffff) | (gate.hi & 0xffff0000u) : gate.lo & 0xffff;
    if (gdt_desc(cpu, (uint16_t)sel, &target) || !(target.hi & (1u << 15)) ||
        (target.hi & (3u << 11)) != (3u << 11)) {
        snprintf(why, why_len, "IDT entry %u names %#x, not a present code segment", vector, sel);
        return -EFAULT;
    }
    if (((target.hi >> 13) & 3) != (cs & 3) && !(target.hi & (1u << 10))) {
        snprintf(why, why_len, "IDT entry %u changes privilege (not modelled)", vector);
        return -EFAULT;
    }
    frame[n++] = fl;
    frame[n++] = cs;
    frame[n++] = hv_cpu_reg(cpu, UC_X86_REG_EIP);
    if (has_error)
        frame[n++] = error;
    if (push(cpu, frame, n, width, why, why_len))
        return -EFAULT;
    fl &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (!(type & 1))
        fl &= ~FL_IF;
    hv_cpu_set_reg(cpu, UC_X86_REG_EFLAGS, fl);
    if ((sel & ~3u) != (cs & ~3u) &&
        uc_reg_write(cpu->uc, UC_X86_REG_CS, &(uint32_t){(sel & ~3u) | (cs & 3)}) != UC_ERR_OK) {
        snprintf(why, why_len, "IDT entry %u: cannot load CS %#x", vector, sel);
        return -EFAULT;
    }
    hv_cpu_set_reg(cpu, UC_X86_REG_EIP, off);
    return 0;
}

int hv_cpu_deliver(struct hv_cpu *cpu, unsigned vector, bool soft, bool has_error, uint32_t error,
                   char *why, size_t why_len)
{
    uint32_t cr0 = hv_cpu_reg(cpu, UC_X86_REG_CR0);

    (void)soft;
    if (!(cr0 & CR0_PE))
        return deliver_real(cpu, vector, why, why_len);
    if (cr0 & CR0_PG) {
        snprintf(why, why_len, "vector %u with paging on (not modelled)", vector);
        return -EFAULT;
    }
    if (hv_cpu_reg(cpu, UC_X86_REG_EFLAGS) & FL_VM) {
        snprintf(why, why_len, "vector %u in virtual-8086 mode (not modelled)", vector);
        return -EFAULT;
    }
    return deliver_prot(cpu, vector, has_error, error, why, why_len);
}

/* Whether the instruction before eip is the one that raises `vector` itself. */
static bool software_int(struct hv_cpu *cpu, unsigned vector)
{
    uint64_t pc;
    uint8_t b[2];

    if (hv_cpu_pc(cpu, &pc) || pc < 2 || uc_mem_read(cpu->uc, pc - 2, b, 2) != UC_ERR_OK)
        return false;
    if (b[0] == 0xcd && b[1] == vector)
        return true;
    return (vector == 3 && b[1] == 0xcc) || (vector == 4 && b[1] == 0xce) ||
           (vector == 1 && b[1] == 0xf1);
}

static void on_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
    struct hv_cpu *cpu = opaque;

    if (intno > 255) { /* unicorn's internal exits (EXCP_HLT and friends) */
        return;
    }
    cpu->exc_vector = intno;
    cpu->exc_soft = software_int(cpu, intno);
    cpu->exit = HV_EXIT_EXCEPTION;
    uc_emu_stop(uc);
}

int hv_cpu_intr_hook(struct hv_cpu *cpu)
{
    if (uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_INTR, (void *)on_intr, cpu, 1,
                    0) != UC_ERR_OK)
        return -EINVAL;
    return 0;
}

/* The exception the hook saw (or one the vCPU raised itself), with #GP,
 * #DF and the triple fault behind it, as the processor escalates a vector
 * it cannot deliver. 0 delivered, -EFAULT the domain crashed. */
int hv_cpu_deliver_exception(struct hv_cpu *cpu)
{
    unsigned vector = cpu->exc_vector;
    bool soft = cpu->exc_soft;
    char why[160], why2[160];

    HV_CPU_STAT(cpu, exceptions);
    if (!hv_cpu_deliver(cpu, vector, soft, !soft && has_error_code(vector), 0, why, sizeof(why)))
        return 0;
    if (vector == VEC_DF) {
        hv_cpu_crash(cpu, "triple fault: %s", why);
        return -EFAULT;
    }
    /* INT n through a bad gate is #GP(vector * 8 + 2) */
    if (soft && !hv_cpu_deliver(cpu, VEC_GP, false, true, vector * 8 + 2, why2, sizeof(why2)))
        return 0;
    if (!hv_cpu_deliver(cpu, VEC_DF, false, true, 0, why2, sizeof(why2)))
        return 0;
    hv_cpu_crash(cpu, "triple fault: vector %u: %s; then #DF: %s", vector, why, why2);
    return -EFAULT;
}
