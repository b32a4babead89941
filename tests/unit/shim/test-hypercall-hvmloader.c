/*
 * Xen's real hvmloader runs in a minimal unicorn vCPU on the hypercall
 * layer, from its entry up to the line that reports the CPU speed, and (with
 * the chipset's MMIO stubbed) on to "Invoking SeaBIOS": it finds
 * "XenVMMXenVMM", asks for its hypercall page (WRMSR), reads the extra
 * version, the e820 (XENMEM_memory_map), the xenstore ring and port
 * (HVMOP_get_param), reads hvmloader/bios through the ring (mapping the
 * shared info page and polling the port as it does), and computes the
 * CPU speed from vcpu_time_info; further on it writes its SMBIOS and ACPI
 * tables, moves the PM block, populates a page for its VM86 TSS and resets
 * the ring. The harness is only what that path needs:
 * CPUID leaves 0x40000000-2, WRMSR of the hypercall MSR, VMCALL, port 0xe9;
 * pages outside low RAM are mapped from the p2m when first touched. The
 * full vCPU lives elsewhere (shim/hv/cpu).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "hv-internal.h"
#include "test-hc.h"

#define MAX_LINES 64

struct vm {
    struct hc_fx *fx;
    uc_engine *uc;
    char line[256];
    size_t len;
    unsigned nr_lines;
    char lines[MAX_LINES][256];
    bool done;
    bool stub_mmio;
    const char *stop_at;
};

static int setup(void **state)
{
    return hc_fx_setup((struct hc_fx **)state, true, HC_MEM);
}

static int teardown(void **state)
{
    hc_fx_teardown(*state);
    return 0;
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *opaque)
{
    struct vm *vm = opaque;

    if (port != 0xe9)
        return;
    if ((char)value != '\n' && vm->len < sizeof(vm->line) - 1) {
        vm->line[vm->len++] = (char)value;
        return;
    }
    vm->line[vm->len] = '\0';
    if (vm->nr_lines < MAX_LINES)
        strcpy(vm->lines[vm->nr_lines++], vm->line);
    print_message("hvmloader: %s\n", vm->line);
    vm->len = 0;
    if (!strncmp(vm->line, vm->stop_at, strlen(vm->stop_at)) || strstr(vm->line, "BUG") ||
        strstr(vm->line, "crashed")) {
        vm->done = true;
        uc_emu_stop(uc);
    }
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *opaque)
{
    return 0xffffffffu; /* nothing there */
}

static int on_cpuid(uc_engine *uc, void *opaque)
{
    uint32_t leaf, a = 0, b = 0, c = 0, d = 0;

    uc_reg_read(uc, UC_X86_REG_EAX, &leaf);
    switch (leaf) {
    case 0x40000000:
        a = 0x40000002;
        memcpy(&b, "XenV", 4);
        memcpy(&c, "MMXe", 4);
        memcpy(&d, "nVMM", 4);
        break;
    case 0x40000001:
        a = 0x40011;
        break;
    case 0x40000002:
        a = HV_HYPERCALL_PAGES;
        b = HV_HYPERCALL_MSR;
        break;
    default:
        return 0; /* the emulated CPU's own */
    }
    uc_reg_write(uc, UC_X86_REG_EAX, &a);
    uc_reg_write(uc, UC_X86_REG_EBX, &b);
    uc_reg_write(uc, UC_X86_REG_ECX, &c);
    uc_reg_write(uc, UC_X86_REG_EDX, &d);
    return 1;
}

/* unicorn 2.0 cannot hook WRMSR: look at two-byte instructions */
static void on_code(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
    struct vm *vm = opaque;
    uint8_t op[2];
    uint32_t ecx, eax;

    if (size != 2 || uc_mem_read(uc, addr, op, 2) || op[0] != 0x0f || op[1] != 0x30)
        return;
    uc_reg_read(uc, UC_X86_REG_ECX, &ecx);
    uc_reg_read(uc, UC_X86_REG_EAX, &eax);
    if (ecx == HV_HYPERCALL_MSR)
        assert_int_equal(hv_hypercall_page_fill(vm->fx->hv, eax & ~0xfffu), 0);
}

static bool on_unmapped(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
                        void *opaque)
{
    struct vm *vm = opaque;
    struct mockhv *hv = vm->fx->hv;
    int64_t off;

    pthread_mutex_lock(&hv->lock);
    off = hv_p2m_lookup(hv, addr >> 12);
    pthread_mutex_unlock(&hv->lock);
    if (off < 0) {
        if (!vm->stub_mmio || addr < HC_MEM)
            return false;
        /* the chipset's MMIO (IOAPIC, LAPIC) is not this test's: a scratch page */
        return uc_mem_map(uc, addr & ~0xfffull, 4096, UC_PROT_ALL) == UC_ERR_OK;
    }
    return uc_mem_map_ptr(uc, addr & ~0xfffull, 4096, UC_PROT_ALL, hv->ram + off) == UC_ERR_OK;
}

static void hypercall(struct vm *vm)
{
    static const int regs[5] = {UC_X86_REG_EBX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_ESI,
                                UC_X86_REG_EDI};
    uint64_t args[5];
    uint32_t eax, v;
    long rc;

    uc_reg_read(vm->uc, UC_X86_REG_EAX, &eax);
    for (unsigned i = 0; i < 5; i++) {
        uc_reg_read(vm->uc, regs[i], &v);
        args[i] = v;
    }
    rc = hv_hypercall(vm->fx->h, 0, eax, args);
    eax = (uint32_t)rc;
    uc_reg_write(vm->uc, UC_X86_REG_EAX, &eax);
}

/* Boots hvmloader and runs it until vm->stop_at is printed (or a BUG). */
static void run_hvmloader(struct hc_fx *fx, struct vm *vm)
{
    struct hv_boot_config cfg = {
        .hvmloader = HVMLOADER, .bios_module = SEABIOS, .bios_name = "seabios"};
    struct hv_boot_state bs;
    uc_hook h1, h2, h3, h4, h5;
    uint32_t eip, ebx;
    int steps = 0;

    vm->fx = fx;
    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), 0);
    assert_int_equal(uc_open(UC_ARCH_X86, UC_MODE_32, &vm->uc), UC_ERR_OK);
    assert_int_equal(uc_mem_map_ptr(vm->uc, 0, mockhv_ram_size(fx->hv), UC_PROT_ALL, fx->hv->ram),
                     UC_ERR_OK);
    assert_int_equal(uc_hook_add(vm->uc, &h1, UC_HOOK_INSN, on_out, vm, 1, 0, UC_X86_INS_OUT), 0);
    assert_int_equal(uc_hook_add(vm->uc, &h2, UC_HOOK_INSN, on_in, vm, 1, 0, UC_X86_INS_IN), 0);
    assert_int_equal(uc_hook_add(vm->uc, &h3, UC_HOOK_INSN, on_cpuid, vm, 1, 0, UC_X86_INS_CPUID),
                     0);
    assert_int_equal(uc_hook_add(vm->uc, &h4, UC_HOOK_CODE, on_code, vm, 1, 0), 0);
    assert_int_equal(uc_hook_add(vm->uc, &h5, UC_HOOK_MEM_UNMAPPED, on_unmapped, vm, 1, 0), 0);
    ebx = bs.ebx;
    uc_reg_write(vm->uc, UC_X86_REG_EBX, &ebx);
    eip = bs.entry;
    while (!vm->done && steps++ < 100000) {
        uc_err e = uc_emu_start(vm->uc, eip, 0xffffffffu, 0, 0);
        uint8_t op[3] = {0};

        uc_reg_read(vm->uc, UC_X86_REG_EIP, &eip);
        if (vm->done)
            break;
        /* VMCALL is an invalid instruction to TCG: the hypercall */
        if (e != UC_ERR_INSN_INVALID)
            print_message("stopped at %#x: %s\n", eip, uc_strerror(e));
        assert_int_equal(e, UC_ERR_INSN_INVALID);
        uc_mem_read(vm->uc, eip, op, 3);
        assert_true(op[0] == 0x0f && op[1] == 0x01 && op[2] == 0xc1);
        hypercall(vm);
        eip += 3;
    }
    assert_true(vm->done);
    uc_close(vm->uc);
}

static void test_hvmloader_to_cpu_speed(void **state)
{
    struct hc_fx *fx = *state;
    struct vm vm = {.stop_at = "CPU speed is"};
    char want[64];

    run_hvmloader(fx, &vm);
    /* the lines of the path, in order */
    assert_true(vm.nr_lines >= 5);
    assert_string_equal(vm.lines[0], "HVM Loader");
    assert_string_equal(vm.lines[1], "Detected Xen v4.17.0");
    assert_string_equal(vm.lines[2], "Xenbus rings @0xfeffc000, event channel 1");
    assert_string_equal(vm.lines[3], "System requested SeaBIOS");
    snprintf(want, sizeof(want), "CPU speed is %llu MHz",
             (unsigned long long)((hv_hypercalls_tsc_hz(fx->h) + 500000) / 1000000));
    assert_string_equal(vm.lines[4], want);
}

static void test_hvmloader_to_seabios(void **state)
{
    struct hc_fx *fx;
    struct vm vm = {.stop_at = "Invoking SeaBIOS", .stub_mmio = true};

    /* one vCPU: starting APs is the vCPU's business */
    assert_int_equal(hc_fx_setup_vcpus(&fx, true, HC_MEM, 1), 0);
    run_hvmloader(fx, &vm);
    for (unsigned i = 0; i < vm.nr_lines; i++)
        assert_null(strstr(vm.lines[i], "BUG"));
    assert_string_equal(vm.lines[vm.nr_lines - 1], "Invoking SeaBIOS ...");
    /* what it left with Xen: the PM block moved, its VM86 TSS (in a page
     * XENMEM_populate_physmap gave it), the xenstore ring reset */
    {
        uint64_t v;
        uint16_t self = 0x7ff0;

        assert_int_equal(hc_get_param(fx, 0x7ff0, 19 /* ACPI_IOPORTS_LOCATION */, &v), 0);
        assert_int_equal(v, 1);
        assert_int_equal(hc_get_param(fx, 0x7ff0, 37 /* VM86_TSS_SIZED */, &v), 0);
        assert_int_equal(v, (384ull << 32) | 0xfc100280);
        hc_put(fx, SCRATCH, &self, 2);
        assert_true(hc_call(fx, 0, HC_MEMORY_OP, 3, SCRATCH, 0) > (long)(HC_MEM >> 12) + 8);
        assert_int_equal(hc_get32(fx, 0xfeffc000 + 2048 + 4), 0);  /* req_prod */
        assert_int_equal(hc_get32(fx, 0xfeffc000 + 2048 + 12), 0); /* rsp_prod */
    }
    hc_fx_teardown(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hvmloader_to_cpu_speed, setup, teardown),
        cmocka_unit_test(test_hvmloader_to_seabios),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
