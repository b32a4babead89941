/*
 * Guest RAM of the mock domain and its p2m. RAM is one memfd, mapped here and
 * (through xenforeignmemory_map) in every device model. The default layout
 * is an HVM guest's without hvmloader's relocation: RAM from 0 up to at most
 * 0xe0000000, the rest from 4 GiB, leaving the MMIO hole where the firmware
 * helper puts BARs. xendevicemodel_relocate_memory changes it as Xen's
 * XENMAPSPACE_gmfn_range does: each page moves from its source frame to its
 * destination frame, the source becomes a hole and whatever the destination
 * held is dropped. Those changes are kept as per-frame overrides (sorted,
 * bounded), consulted before the default layout. All p2m users hold
 * mockhv.lock.
 *
 * The memfd holds HV_EXTRA_PAGES more pages after the RAM: Xen's own pages
 * a guest can map (the shared info page) and the headroom libxl leaves
 * between a domain's RAM and its maximum (XENMEM_populate_physmap takes
 * from it). None of them is in the default layout: hv_p2m_map puts them
 * at a frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv-internal.h"

#define PAGE_SHIFT 12

static uint64_t memfd_bytes(uint64_t ram_bytes)
{
    return ram_bytes + (uint64_t)HV_EXTRA_PAGES * HV_PAGE_SIZE;
}

int hv_memory_init(struct mockhv *hv, uint64_t bytes)
{
    int rc;

    hv->ram_fd = memfd_create("mockxen-ram", MFD_CLOEXEC);
    if (hv->ram_fd < 0)
        return -errno;
    if (ftruncate(hv->ram_fd, (off_t)memfd_bytes(bytes)) < 0) {
        rc = -errno;
        goto out;
    }
    hv->ram = mmap(NULL, memfd_bytes(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, hv->ram_fd, 0);
    if (hv->ram == MAP_FAILED) {
        rc = -errno;
        hv->ram = NULL;
        goto out;
    }
    hv->ram_bytes = bytes;
    hv->low_end = bytes < HV_LOW_RAM_LIMIT ? bytes : HV_LOW_RAM_LIMIT;
    hv->max_gfn = bytes > hv->low_end
                      ? ((HV_HIGH_RAM_START + bytes - hv->low_end) >> PAGE_SHIFT) - 1
                      : (hv->low_end >> PAGE_SHIFT) - 1;
    return 0;
out:
    close(hv->ram_fd);
    hv->ram_fd = -1;
    return rc;
}

void hv_memory_fini(struct mockhv *hv)
{
    if (hv->ram)
        munmap(hv->ram, memfd_bytes(hv->ram_bytes));
    if (hv->ram_fd >= 0)
        close(hv->ram_fd);
    free(hv->p2m.e);
    hv->p2m.e = NULL;
    hv_vram_fini(hv);
    hv_memtype_fini(hv);
    hv->p2m.nr = hv->p2m.cap = 0;
    hv->ram = NULL;
    hv->ram_fd = -1;
}

static int64_t default_offset(const struct mockhv *hv, uint64_t gfn)
{
    uint64_t high_frames = (hv->ram_bytes - hv->low_end) >> PAGE_SHIFT;

    if (gfn < hv->low_end >> PAGE_SHIFT)
        return (int64_t)(gfn << PAGE_SHIFT);
    gfn -= HV_HIGH_RAM_START >> PAGE_SHIFT;
    if (gfn < high_frames) /* wraps to huge for frames below 4 GiB */
        return (int64_t)(hv->low_end + (gfn << PAGE_SHIFT));
    return -1;
}

/* Index of the first override with gfn >= `gfn`. */
static unsigned p2m_find(const struct hv_p2m *p, uint64_t gfn)
{
    unsigned lo = 0, hi = p->nr;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (p->e[mid].gfn < gfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t hv_p2m_lookup(const struct mockhv *hv, uint64_t gfn)
{
    unsigned i = p2m_find(&hv->p2m, gfn);

    if (i < hv->p2m.nr && hv->p2m.e[i].gfn == gfn)
        return hv->p2m.e[i].off;
    return default_offset(hv, gfn);
}

static int p2m_set(struct mockhv *hv, uint64_t gfn, int64_t off)
{
    struct hv_p2m *p = &hv->p2m;
    unsigned i = p2m_find(p, gfn);

    /* emulated vCPUs map RAM themselves: they re-map when this moves on */
    __atomic_add_fetch(&hv->p2m_gen, 1, __ATOMIC_RELEASE);
    if (i < p->nr && p->e[i].gfn == gfn) {
        p->e[i].off = off;
        return 0;
    }
    if (p->nr == p->cap) {
        unsigned cap = p->cap ? p->cap * 2 : 256;
        struct hv_p2m_entry *e;

        if (cap > HV_MAX_P2M_OVERRIDES)
            return -ENOSPC;
        e = realloc(p->e, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        p->e = e;
        p->cap = cap;
    }
    memmove(&p->e[i + 1], &p->e[i], (p->nr - i) * sizeof(p->e[0]));
    p->e[i].gfn = gfn;
    p->e[i].off = off;
    p->nr++;
    return 0;
}

int hv_p2m_relocate(struct mockhv *hv, uint64_t src, uint64_t dst, uint64_t nr)
{
    /* a guest-physical address must fit 52 bits */
    const uint64_t max_gfn = (1ull << 40) - 1;

    if (nr == 0)
        return 0;
    if (src > max_gfn || dst > max_gfn || nr > max_gfn - src || nr > max_gfn - dst)
        return -EINVAL;
    if (nr > HV_MAX_P2M_OVERRIDES / 2)
        return -ENOSPC;
    /* check first, so a failed relocation changes nothing */
    for (uint64_t i = 0; i < nr; i++)
        if (hv_p2m_lookup(hv, src + i) < 0)
            return -EINVAL;
    for (uint64_t i = 0; i < nr; i++) {
        int64_t off = hv_p2m_lookup(hv, src + i);
        int rc = p2m_set(hv, dst + i, off);

        rc = rc ? rc : p2m_set(hv, src + i, -1);
        if (rc)
            return rc;
        if (dst + i > hv->max_gfn)
            hv->max_gfn = dst + i;
        /* a frame mapped into tracked VRAM is writable, so dirty; a hole never
         * is; both lose any memory type set on them (plain RAM, a hole) */
        hv_vram_mark(hv, dst + i, 1);
        hv_vram_forget(hv, src + i, 1);
        hv_memtype_forget(hv, dst + i, 1);
        hv_memtype_forget(hv, src + i, 1);
    }
    return 0;
}

int hv_p2m_map(struct mockhv *hv, uint64_t gfn, int64_t off)
{
    const uint64_t max_gfn = (1ull << (HV_PADDR_BITS - PAGE_SHIFT)) - 1;
    int rc;

    if (gfn > max_gfn || off >= (int64_t)memfd_bytes(hv->ram_bytes) || (off > 0 && (off & 0xfff)))
        return -EINVAL;
    rc = p2m_set(hv, gfn, off < 0 ? -1 : off);
    if (rc)
        return rc;
    if (off >= 0 && gfn > hv->max_gfn)
        hv->max_gfn = gfn;
    if (off >= 0)
        hv_vram_mark(hv, gfn, 1);
    else
        hv_vram_forget(hv, gfn, 1);
    hv_memtype_forget(hv, gfn, 1);
    return 0;
}

int64_t hv_extra_page_offset(const struct mockhv *hv, unsigned index)
{
    return index < HV_EXTRA_PAGES ? (int64_t)(hv->ram_bytes + (uint64_t)index * HV_PAGE_SIZE) : -1;
}

int hv_ram_access(struct mockhv *hv, uint64_t gpa, void *buf, uint64_t len, enum hv_ram_op op)
{
    uint8_t *b = buf;

    if (len == 0)
        return 0;
    if (gpa + len < gpa)
        return -EFAULT;
    /* all or nothing: check every page before touching one */
    for (uint64_t a = gpa & ~0xfffull; a < gpa + len; a += HV_PAGE_SIZE)
        if (hv_p2m_lookup(hv, a >> PAGE_SHIFT) < 0)
            return -EFAULT;
    if (op == HV_RAM_CHECK)
        return 0;
    while (len) {
        uint64_t in_page = HV_PAGE_SIZE - (gpa & (HV_PAGE_SIZE - 1));
        uint64_t n = len < in_page ? len : in_page;
        uint8_t *p = hv->ram + hv_p2m_lookup(hv, gpa >> PAGE_SHIFT) + (gpa & (HV_PAGE_SIZE - 1));

        if (op == HV_RAM_READ)
            memcpy(b, p, n);
        else if (op == HV_RAM_WRITE)
            memcpy(p, b, n);
        else
            memset(p, 0xff, n);
        if (b)
            b += n;
        gpa += n;
        len -= n;
    }
    return 0;
}

int mockhv_ram_read(struct mockhv *hv, uint64_t gpa, void *buf, size_t len)
{
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = hv->gone ? -ESHUTDOWN : hv_ram_access(hv, gpa, buf, len, HV_RAM_READ);
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int mockhv_ram_write(struct mockhv *hv, uint64_t gpa, const void *buf, size_t len)
{
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = hv->gone ? -ESHUTDOWN : hv_ram_access(hv, gpa, (void *)buf, len, HV_RAM_WRITE);
    /* the guest's own writes: what dirty VRAM tracking sees */
    if (!rc && len)
        hv_vram_mark(hv, gpa >> PAGE_SHIFT,
                     ((gpa + len - 1) >> PAGE_SHIFT) - (gpa >> PAGE_SHIFT) + 1);
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

uint64_t mockhv_ram_size(const struct mockhv *hv)
{
    return hv->ram_bytes;
}

int hv_fmem_translate(struct mockhv *hv, const struct wire_req *req, size_t len, void *out,
                      uint32_t *out_len)
{
    const uint64_t *gfns = (const void *)(req + 1);
    int64_t *offs = out;
    uint64_t n = req->a[0];

    if (n == 0 || n > WIRE_MAX_TRANSLATE || len < sizeof(*req) + n * sizeof(uint64_t))
        return -EINVAL;
    for (uint64_t i = 0; i < n; i++)
        offs[i] = gfns[i] > (UINT64_MAX >> PAGE_SHIFT) ? -1 : hv_p2m_lookup(hv, gfns[i]);
    *out_len = (uint32_t)(n * sizeof(int64_t));
    return 0;
}
