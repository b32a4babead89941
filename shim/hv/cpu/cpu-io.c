/*
 * The vCPU's I/O: IN/OUT (UC_HOOK_INSN) and accesses to guest-physical
 * space that is not RAM (uc_mmio_map callbacks). As in Xen, what Xen
 * emulates itself (the platform's pio/mmio: PIC, PIT, RTC, PM timer,
 * IOAPIC, LAPIC, port 0xe9) is answered first and never reaches an ioreq
 * server; the rest goes through hv_guest_pio/mmio, the path the C guest API
 * uses: the 0xCF8 latch, PCI_CONFIG conversion, highest server id first,
 * all-ones for reads nobody claims. The vCPU waits without a deadline.
 *
 * String I/O (rep ins/outs) reaches the IN/OUT hooks one item at a time, so
 * the device model gets count-1 requests where Xen may batch a page's worth
 * into one data_is_ptr request: the same bytes in the same order.
 *
 * A guest access that fails for the mock's own reasons (the domain crashed
 * or is stopping) stops the vCPU; the read then yields all-ones.
 */
#include <errno.h>
#include <string.h>

#include "../hv-internal.h"
#include "cpu-internal.h"

static uint64_t ones(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static void count_ioreq(struct hv_cpu *cpu, bool claimed, bool pci, bool mmio)
{
    if (!claimed)
        HV_CPU_STAT(cpu, unclaimed);
    else if (pci)
        HV_CPU_STAT(cpu, ioreq_pci_config);
    else if (mmio)
        HV_CPU_STAT(cpu, ioreq_mmio);
    else
        HV_CPU_STAT(cpu, ioreq_pio);
}

/* A failed access: the domain went down under us. */
static void access_failed(struct hv_cpu *cpu, int rc)
{
    if (rc == -EIO)
        hv_cpu_crash(cpu, "the domain crashed during an ioreq (bad state from a device model)");
    else if (rc != -ESHUTDOWN)
        hv_cpu_crash(cpu, "ioreq failed: %s", strerror(-rc));
    else
        __atomic_store_n(&cpu->stop, true, __ATOMIC_RELEASE);
    uc_emu_stop(cpu->uc);
}

static bool config_cycle(struct mockhv *hv, uint16_t port)
{
    uint32_t cf8 = __atomic_load_n(&hv->pci_cf8, __ATOMIC_RELAXED);

    return (port & ~3u) == 0xcfc && (cf8 >> 31);
}

static uint32_t port_access(struct hv_cpu *cpu, uint16_t port, unsigned size, bool write,
                            uint32_t val)
{
    struct hv_cpus *set = cpu->set;
    bool claimed = false, pci;
    int rc;

    if (set->plat.pio && set->plat.pio(set->cfg.opaque, cpu->id, port, size, write, &val)) {
        HV_CPU_STAT(cpu, xen_pio);
        return val;
    }
    pci = config_cycle(set->hv, port);
    rc = hv_guest_pio(set->hv, cpu->id, port, size, !write, &val, HV_TIMEOUT_NONE, &claimed);
    if (rc) {
        access_failed(cpu, rc);
        return (uint32_t)ones(size);
    }
    count_ioreq(cpu, claimed, pci, false);
    return val;
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *opaque)
{
    struct hv_cpu *cpu = opaque;

    (void)uc;
    return port_access(cpu, (uint16_t)port, (unsigned)size, false, 0);
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *opaque)
{
    struct hv_cpu *cpu = opaque;

    (void)uc;
    port_access(cpu, (uint16_t)port, (unsigned)size, true, value);
}

static uint64_t mem_access(struct hv_cpu *cpu, uint64_t addr, unsigned size, bool write,
                           uint64_t val)
{
    struct hv_cpus *set = cpu->set;
    bool claimed = false;
    int rc;

    if (set->plat.mmio && set->plat.mmio(set->cfg.opaque, cpu->id, addr, size, write, &val)) {
        HV_CPU_STAT(cpu, xen_mmio);
        return val;
    }
    rc = hv_guest_mmio(set->hv, cpu->id, addr, size, !write, &val, HV_TIMEOUT_NONE, &claimed);
    if (rc) {
        access_failed(cpu, rc);
        return ones(size);
    }
    count_ioreq(cpu, claimed, false, true);
    return val;
}

uint64_t hv_cpu_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
    struct hv_cpu_hole *h = opaque;

    (void)uc;
    return mem_access(h->cpu, h->base + offset, size, false, 0);
}

void hv_cpu_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *opaque)
{
    struct hv_cpu_hole *h = opaque;

    (void)uc;
    mem_access(h->cpu, h->base + offset, size, true, value);
}

int hv_cpu_io_hooks(struct hv_cpu *cpu)
{
    if (uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_INSN, (void *)on_in, cpu, 1, 0,
                    UC_X86_INS_IN) != UC_ERR_OK)
        return -EINVAL;
    if (uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_INSN, (void *)on_out, cpu, 1, 0,
                    UC_X86_INS_OUT) != UC_ERR_OK)
        return -EINVAL;
    return 0;
}
