/*
 * The vCPU's guest-physical space, built from the mock's p2m: every run of
 * RAM frames that are contiguous in the memfd is mapped straight into
 * unicorn (uc_mem_map_ptr on hv->ram), so the firmware sees exactly the
 * memory a device model maps through libxenforeignmemory; every stretch
 * that is not RAM, below 4 GiB and above RAM up to HOLE_TOP, is MMIO that
 * ends in hv_cpu_mmio_read/write. A p2m change (hvmloader moving RAM with
 * XENMEM_add_to_physmap, a device model's relocate_memory) bumps
 * hv->p2m_gen and the vCPU rebuilds the whole map before it runs on.
 */
#include <errno.h>
#include <stdlib.h>

#include "../hv-internal.h"
#include "cpu-internal.h"

#define FOUR_GIB (1ull << 32)
#define HOLE_TOP (1ull << 36) /* the high MMIO window ends here (64 GiB) */

static int add_map(struct hv_cpu *cpu, uint64_t base, uint64_t size)
{
    if (cpu->nr_maps == cpu->cap_maps) {
        unsigned cap = cpu->cap_maps ? cpu->cap_maps * 2 : 64;
        struct hv_cpu_mapping *m = realloc(cpu->maps, cap * sizeof(*m));

        if (!m)
            return -ENOMEM;
        cpu->maps = m;
        cpu->cap_maps = cap;
    }
    cpu->maps[cpu->nr_maps].base = base;
    cpu->maps[cpu->nr_maps].size = size;
    cpu->nr_maps++;
    return 0;
}

static int map_ram(struct hv_cpu *cpu, uint64_t gfn, uint64_t nr, int64_t off)
{
    struct mockhv *hv = cpu->set->hv;
    uc_err e = uc_mem_map_ptr(cpu->uc, gfn << 12, nr << 12, UC_PROT_ALL, hv->ram + off);

    if (e != UC_ERR_OK)
        return -ENOMEM;
    return add_map(cpu, gfn << 12, nr << 12);
}

static int map_hole(struct hv_cpu *cpu, uint64_t base, uint64_t size)
{
    struct hv_cpu_hole *h;
    uc_err e;

    if (cpu->nr_holes == cpu->cap_holes)
        return -ENOSPC; /* sized for the worst case in hv_cpu_map_memory */
    h = &cpu->holes[cpu->nr_holes];
    h->cpu = cpu;
    h->base = base;
    e = uc_mmio_map(cpu->uc, base, size, hv_cpu_mmio_read, h, hv_cpu_mmio_write, h);
    if (e != UC_ERR_OK)
        return -ENOMEM;
    cpu->nr_holes++;
    return add_map(cpu, base, size);
}

void hv_cpu_unmap_memory(struct hv_cpu *cpu)
{
    for (unsigned i = 0; i < cpu->nr_maps; i++)
        uc_mem_unmap(cpu->uc, cpu->maps[i].base, cpu->maps[i].size);
    cpu->nr_maps = 0;
    cpu->nr_holes = 0;
}

/* Runs of frames [gfn, end): RAM contiguous in the memfd, or not RAM. */
static int map_range(struct hv_cpu *cpu, uint64_t gfn, uint64_t end)
{
    struct mockhv *hv = cpu->set->hv;
    int rc = 0;

    while (gfn < end && !rc) {
        int64_t off = hv_p2m_lookup(hv, gfn);
        uint64_t n = 1;

        if (off >= 0) {
            while (gfn + n < end && hv_p2m_lookup(hv, gfn + n) == off + (int64_t)(n << 12))
                n++;
            rc = map_ram(cpu, gfn, n, off);
        } else {
            while (gfn + n < end && hv_p2m_lookup(hv, gfn + n) < 0)
                n++;
            rc = map_hole(cpu, gfn << 12, n << 12);
        }
        gfn += n;
    }
    return rc;
}

int hv_cpu_map_memory(struct hv_cpu *cpu)
{
    struct mockhv *hv = cpu->set->hv;
    uint64_t top, gen;
    unsigned worst;
    int rc;

    hv_cpu_unmap_memory(cpu);
    pthread_mutex_lock(&hv->lock);
    gen = __atomic_load_n(&hv->p2m_gen, __ATOMIC_ACQUIRE);
    top = HV_HIGH_RAM_START + (hv->ram_bytes - hv->low_end);
    if ((hv->max_gfn + 1) << 12 > top)
        top = (hv->max_gfn + 1) << 12;
    if (top > HOLE_TOP) {
        pthread_mutex_unlock(&hv->lock);
        return -E2BIG;
    }
    /* each override can split a run in two, plus the fixed stretches */
    worst = 2 * hv->p2m.nr + 8;
    if (worst > cpu->cap_holes) {
        struct hv_cpu_hole *h = realloc(cpu->holes, worst * sizeof(*h));

        if (!h) {
            pthread_mutex_unlock(&hv->lock);
            return -ENOMEM;
        }
        /* hooks still point at the old array only while nothing is mapped */
        cpu->holes = h;
        cpu->cap_holes = worst;
    }
    rc = map_range(cpu, 0, FOUR_GIB >> 12);
    if (!rc)
        rc = map_range(cpu, FOUR_GIB >> 12, top >> 12);
    if (!rc && top < HOLE_TOP)
        rc = map_hole(cpu, top, HOLE_TOP - top);
    pthread_mutex_unlock(&hv->lock);
    if (rc) {
        hv_cpu_unmap_memory(cpu);
        return rc;
    }
    cpu->p2m_gen = gen;
    return 0;
}
