/*
 * The vCPU's guest-physical space, built from the mock's p2m: every run of
 * RAM frames that are contiguous in the memfd is mapped straight into
 * unicorn (uc_mem_map_ptr on hv->ram), so the firmware sees exactly the
 * memory a device model maps through libxenforeignmemory; every stretch
 * below 4 GiB that is not RAM is MMIO that ends in hv_cpu_mmio_read/write.
 * RAM above 4 GiB is mapped too; MMIO there is not, as firmware running
 * 32-bit without PAE cannot reach it (an access would crash the domain
 * with a reason).
 *
 * A p2m change (hvmloader moving RAM or mapping the shared info page with
 * XENMEM_add_to_physmap, a device model's relocate_memory) bumps
 * hv->p2m_gen and the vCPU rebuilds the map before it runs on. Unicorn
 * flushes its TLB page by page over whatever is mapped or unmapped (a
 * whole 4 GiB sweep costs about a second), so regions never cross a
 * CHUNK boundary and only regions that changed are unmapped and mapped.
 */
#include <errno.h>
#include <stdlib.h>

#include "../hv-internal.h"
#include "cpu-internal.h"

#define FOUR_GIB (1ull << 32)
#define CHUNK    (16ull << 20)

static int add_region(struct hv_cpu_map *m, uint64_t base, uint64_t size, int64_t off)
{
    if (m->nr == m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : 512;
        struct hv_cpu_region *r = realloc(m->r, cap * sizeof(*r));

        if (!r)
            return -ENOMEM;
        m->r = r;
        m->cap = cap;
    }
    m->r[m->nr++] = (struct hv_cpu_region){.base = base, .size = size, .off = off};
    return 0;
}

/* Runs of frames [gfn, end): RAM contiguous in the memfd, or not RAM
 * (off -1), none crossing a CHUNK boundary. */
static int plan_range(struct mockhv *hv, struct hv_cpu_map *m, uint64_t gfn, uint64_t end,
                      bool holes)
{
    int rc = 0;

    while (gfn < end && !rc) {
        int64_t off = hv_p2m_lookup(hv, gfn);
        uint64_t limit = ((gfn << 12) / CHUNK + 1) * CHUNK >> 12, n = 1;

        if (limit > end)
            limit = end;
        if (off >= 0) {
            while (gfn + n < limit && hv_p2m_lookup(hv, gfn + n) == off + (int64_t)(n << 12))
                n++;
        } else {
            while (gfn + n < limit && hv_p2m_lookup(hv, gfn + n) < 0)
                n++;
        }
        if (off >= 0 || holes)
            rc = add_region(m, gfn << 12, n << 12, off < 0 ? -1 : off);
        gfn += n;
    }
    return rc;
}

static bool same(const struct hv_cpu_region *a, const struct hv_cpu_region *b)
{
    return a->base == b->base && a->size == b->size && a->off == b->off;
}

/* Whether r is in the sorted map m (exactly). */
static bool contains(const struct hv_cpu_map *m, const struct hv_cpu_region *r)
{
    unsigned lo = 0, hi = m->nr;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;

        if (m->r[mid].base < r->base)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->nr && same(&m->r[lo], r);
}

static int map_region(struct hv_cpu *cpu, struct hv_cpu_region *r)
{
    struct mockhv *hv = cpu->set->hv;

    if (r->off >= 0)
        return uc_mem_map_ptr(cpu->uc, r->base, r->size, UC_PROT_ALL, hv->ram + r->off) == UC_ERR_OK
                   ? 0
                   : -ENOMEM;
    r->hole = malloc(sizeof(*r->hole));
    if (!r->hole)
        return -ENOMEM;
    r->hole->cpu = cpu;
    r->hole->base = r->base;
    if (uc_mmio_map(cpu->uc, r->base, r->size, hv_cpu_mmio_read, r->hole, hv_cpu_mmio_write,
                    r->hole) != UC_ERR_OK) {
        free(r->hole);
        r->hole = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void unmap_region(struct hv_cpu *cpu, struct hv_cpu_region *r)
{
    uc_mem_unmap(cpu->uc, r->base, r->size);
    free(r->hole);
    r->hole = NULL;
}

void hv_cpu_unmap_memory(struct hv_cpu *cpu)
{
    for (unsigned i = 0; i < cpu->map.nr; i++)
        unmap_region(cpu, &cpu->map.r[i]);
    cpu->map.nr = 0;
}

void hv_cpu_free_memory(struct hv_cpu *cpu)
{
    /* uc_close releases the mappings themselves */
    for (unsigned i = 0; i < cpu->map.nr; i++)
        free(cpu->map.r[i].hole);
    free(cpu->map.r);
    cpu->map = (struct hv_cpu_map){0};
}

uint64_t hv_cpu_borrow_hole(struct hv_cpu *cpu, unsigned *index)
{
    for (unsigned i = cpu->map.nr; i-- > 0;) {
        struct hv_cpu_region *r = &cpu->map.r[i];

        if (r->off < 0 && r->base && r->base + r->size <= FOUR_GIB) {
            unmap_region(cpu, r);
            *index = i;
            return r->base;
        }
    }
    return 0;
}

int hv_cpu_return_hole(struct hv_cpu *cpu, unsigned index)
{
    return map_region(cpu, &cpu->map.r[index]);
}

int hv_cpu_map_memory(struct hv_cpu *cpu)
{
    struct mockhv *hv = cpu->set->hv;
    struct hv_cpu_map next = {0};
    uint64_t top, gen;
    int rc;

    pthread_mutex_lock(&hv->lock);
    gen = __atomic_load_n(&hv->p2m_gen, __ATOMIC_ACQUIRE);
    top = HV_HIGH_RAM_START + (hv->ram_bytes - hv->low_end);
    if ((hv->max_gfn + 1) << 12 > top)
        top = (hv->max_gfn + 1) << 12;
    if (hv->p2m.nr && (hv->p2m.e[hv->p2m.nr - 1].gfn + 1) << 12 > top)
        top = (hv->p2m.e[hv->p2m.nr - 1].gfn + 1) << 12;
    rc = plan_range(hv, &next, 0, FOUR_GIB >> 12, true);
    if (!rc)
        rc = plan_range(hv, &next, FOUR_GIB >> 12, top >> 12, false);
    pthread_mutex_unlock(&hv->lock);
    if (rc) {
        free(next.r);
        return rc;
    }
    /* what went or changed first, then what is new; the rest stays */
    for (unsigned i = 0; i < cpu->map.nr; i++)
        if (!contains(&next, &cpu->map.r[i]))
            unmap_region(cpu, &cpu->map.r[i]);
    for (unsigned i = 0; i < next.nr && !rc; i++) {
        struct hv_cpu_region *old = NULL;
        unsigned lo = 0, hi = cpu->map.nr;

        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;

            if (cpu->map.r[mid].base < next.r[i].base)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < cpu->map.nr && same(&cpu->map.r[lo], &next.r[i]))
            old = &cpu->map.r[lo];
        if (old) {
            next.r[i].hole = old->hole;
            old->hole = NULL;
        } else {
            rc = map_region(cpu, &next.r[i]);
        }
    }
    free(cpu->map.r);
    cpu->map = next;
    if (rc) {
        hv_cpu_unmap_memory(cpu);
        return rc;
    }
    cpu->p2m_gen = gen;
    return 0;
}
