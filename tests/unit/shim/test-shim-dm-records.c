/*
 * Device-model operations whose effect the mock keeps and tests read back:
 * PCI link routes; dirty VRAM tracking, with Xen's (HAP) semantics and
 * limits; memory types and the ioreq-server type claim; pinned cache
 * attributes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mockhv.h"

#define DOMID    3
#define RAM      (8u << 20)
#define PAGE     4096u
#define VRAM_PFN 0x100u /* 1 MiB in */

struct fixture {
    struct mockhv *hv;
    xendevicemodel_handle *dmod;
};

static int setup(void **state)
{
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 1, .mem_bytes = RAM};
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(fx->hv), 0);
    fx->dmod = xendevicemodel_open(NULL, 0);
    assert_non_null(fx->dmod);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    xendevicemodel_close(fx->dmod);
    mockhv_destroy(fx->hv);
    free(fx);
    return 0;
}

/* The route of each PCI link is kept and each change recorded, as irq_record. */
static void test_pci_link_route(void **state)
{
    struct fixture *fx = *state;
    uint64_t seq = mockhv_irq_last_seq(fx->hv);
    struct mockhv_irq_record rec;

    for (unsigned link = 0; link < 4; link++)
        assert_int_equal(mockhv_pci_link_route(fx->hv, link), 0);
    assert_int_equal(mockhv_pci_link_route(fx->hv, 4), -EINVAL);
    assert_int_equal(xendevicemodel_set_pci_link_route(fx->dmod, DOMID, 2, 11), 0);
    assert_int_equal(xendevicemodel_set_pci_link_route(fx->dmod, DOMID, 3, 15), 0);
    assert_int_equal(mockhv_pci_link_route(fx->hv, 2), 11);
    assert_int_equal(mockhv_pci_link_route(fx->hv, 3), 15);
    assert_int_equal(mockhv_pci_link_route(fx->hv, 1), 0);
    assert_int_equal(mockhv_irq_last_seq(fx->hv), seq + 2);
    assert_int_equal(mockhv_irq_get(fx->hv, seq + 1, &rec), 0);
    assert_int_equal(rec.kind, MOCKHV_IRQ_LINK_ROUTE);
    assert_int_equal(rec.intx, 2);
    assert_int_equal(rec.irq, 11);
    /* irq 0 unroutes the link */
    assert_int_equal(xendevicemodel_set_pci_link_route(fx->dmod, DOMID, 2, 0), 0);
    assert_int_equal(mockhv_pci_link_route(fx->hv, 2), 0);

    /* refused: nothing changes, nothing recorded */
    seq = mockhv_irq_last_seq(fx->hv);
    assert_int_equal(xendevicemodel_set_pci_link_route(fx->dmod, DOMID, 4, 5), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_set_pci_link_route(fx->dmod, DOMID, 3, 16), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_set_pci_link_route(fx->dmod, DOMID + 1, 3, 5), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(mockhv_pci_link_route(fx->hv, 3), 15);
    assert_int_equal(mockhv_irq_last_seq(fx->hv), seq);
}

/* xendevicemodel_track_dirty_vram into bm (filled with 0x5a first); 0 or errno. */
static int track(struct fixture *fx, uint64_t first, uint32_t nr, unsigned long *bm, size_t size)
{
    if (bm)
        memset(bm, 0x5a, size);
    return xendevicemodel_track_dirty_vram(fx->dmod, DOMID, first, nr, bm) ? errno : 0;
}

static void guest_write(struct fixture *fx, uint64_t gpa, size_t len)
{
    static const uint8_t data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    assert_true(len <= sizeof(data));
    assert_int_equal(mockhv_ram_write(fx->hv, gpa, data, len), 0);
}

/* bytes [from, size) still hold the 0x5a filler: Xen writes (nr + 7) / 8 bytes, no more */
static void assert_untouched(const unsigned long *bm, size_t from, size_t size)
{
    for (size_t i = from; i < size; i++)
        assert_int_equal(((const uint8_t *)bm)[i], 0x5a);
}

/* The next interrupt record, which must be an MSI. */
static struct mockhv_irq_record next_msi(struct fixture *fx, uint64_t *seq)
{
    struct mockhv_irq_record r;

    assert_int_equal(mockhv_irq_get(fx->hv, ++*seq, &r), 0);
    assert_int_equal(r.kind, MOCKHV_IRQ_MSI);
    return r;
}

/*
 * MSIs with vector 0 name a pirq, as Xen's hvm_inject_msi decodes them:
 * destination ID | upper address bits 8-31; not positive is -ERANGE, at or
 * past nr_pirqs -EINVAL, and a pirq without an event channel is lost though
 * the call succeeds.
 */
static void test_inject_msi_pirq(void **state)
{
    struct fixture *fx = *state;
    uint64_t seq = mockhv_irq_last_seq(fx->hv);
    struct mockhv_irq_record r;

    assert_int_equal(mockhv_pirq_bind(fx->hv, 0, true), -EINVAL);
    assert_int_equal(mockhv_pirq_bind(fx->hv, 80, true), -EINVAL);
    assert_int_equal(mockhv_pirq_bind(fx->hv, 79, true), 0);
    assert_int_equal(mockhv_pirq_bind(fx->hv, 0x30, true), 0);

    /* An ordinary vector: delivered, no pirq. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0xfee01000, 0x4041), 0);
    r = next_msi(fx, &seq);
    assert_int_equal(r.pirq, 0);
    assert_false(r.dropped);
    assert_int_equal(r.error, 0);

    /* pirq 0x30 in the destination ID, bound: delivered. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0xfee30000, 0x700), 0);
    r = next_msi(fx, &seq);
    assert_int_equal(r.pirq, 0x30);
    assert_false(r.dropped);
    /* pirq 79 is 0x4f: the low byte of the upper address is not part of it. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0x000000fffee4f000ull, 0), 0);
    r = next_msi(fx, &seq);
    assert_int_equal(r.pirq, 79);
    assert_false(r.dropped);
    /* pirq 5: valid, never bound: lost, yet the call succeeds. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0xfee05000, 0x700), 0);
    r = next_msi(fx, &seq);
    assert_int_equal(r.pirq, 5);
    assert_true(r.dropped);
    assert_int_equal(r.error, 0);
    /* Unbinding stops delivery. */
    assert_int_equal(mockhv_pirq_bind(fx->hv, 0x30, false), 0);
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0xfee30000, 0x700), 0);
    assert_true(next_msi(fx, &seq).dropped);

    /* Vector 0 and pirq 0: -ERANGE. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0xfee00000, 0x700), -1);
    assert_int_equal(errno, ERANGE);
    r = next_msi(fx, &seq);
    assert_true(r.dropped);
    assert_int_equal(r.error, -ERANGE);
    /* Negative as an int: -ERANGE. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0x80000000fee01000ull, 0), -1);
    assert_int_equal(errno, ERANGE);
    r = next_msi(fx, &seq);
    assert_int_equal(r.pirq, 0x80000001u);
    assert_int_equal(r.error, -ERANGE);
    /* pirq 0x150 (large: 0x100 in the upper address) is past nr_pirqs: -EINVAL. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0x00000100fee50000ull, 0x700), -1);
    assert_int_equal(errno, EINVAL);
    r = next_msi(fx, &seq);
    assert_int_equal(r.pirq, 0x150);
    assert_true(r.dropped);
    assert_int_equal(r.error, -EINVAL);
    /* pirq 80, the first past nr_pirqs. */
    assert_int_equal(xendevicemodel_inject_msi(fx->dmod, DOMID, 0xfee50000, 0x700), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(next_msi(fx, &seq).error, -EINVAL);
}

/* The modified-memory records after `seq`, as (first_pfn, nr) pairs; their count. */
static unsigned modified_since(struct fixture *fx, uint64_t seq, uint64_t *pairs, unsigned max)
{
    uint64_t last = mockhv_modified_last_seq(fx->hv);
    unsigned n = 0;

    for (uint64_t s = seq + 1; s <= last && n < max; s++, n++) {
        struct mockhv_modified m;

        assert_int_equal(mockhv_modified_get(fx->hv, s, &m), 0);
        pairs[2 * n] = m.first_pfn;
        pairs[2 * n + 1] = m.nr;
    }
    return n;
}

#define EXT(first, count)                                                                          \
    {                                                                                              \
        .nr = (count), .first_pfn = (first)                                                        \
    }

/*
 * XEN_DMOP_modified_memory as Xen's dm.c: nothing at all outside log-dirty
 * mode; in it, extents last to first, EINVAL at the first bad one (those
 * after it in the array are marked by then), and a range holding the
 * highest frame (max_mapped_pfn) refused as one past it.
 */
static void test_modified_memory_as_xen(void **state)
{
    struct fixture *fx = *state;
    const uint64_t max_gfn = (RAM >> 12) - 1;
    struct xen_dm_op_modified_memory_extent bad_middle[] = {EXT(0x10, 1), EXT(max_gfn, 1),
                                                            EXT(0x20, 2)};
    struct xen_dm_op_modified_memory_extent good[] = {EXT(0x30, 3), EXT(max_gfn - 4, 4)};
    struct xen_dm_op_modified_memory_extent bad;
    uint64_t seq = mockhv_modified_last_seq(fx->hv);
    uint64_t p[8];

    /* Off: success, nothing recorded, nothing checked. */
    assert_int_equal(xendevicemodel_modified_memory_bulk(fx->dmod, DOMID, bad_middle, 3), 0);
    assert_int_equal(xendevicemodel_modified_memory(fx->dmod, DOMID, ~0ull - 1, 4), 0);
    assert_int_equal(mockhv_modified_last_seq(fx->hv), seq);

    mockhv_set_log_dirty(fx->hv, true);
    /* Last to first. */
    assert_int_equal(xendevicemodel_modified_memory_bulk(fx->dmod, DOMID, good, 2), 0);
    assert_int_equal(modified_since(fx, seq, p, 4), 2);
    assert_true(p[0] == max_gfn - 4 && p[1] == 4 && p[2] == 0x30 && p[3] == 3);
    seq = mockhv_modified_last_seq(fx->hv);
    /* The bad extent stops the call: the one after it is marked, the one before is not. */
    assert_int_equal(xendevicemodel_modified_memory_bulk(fx->dmod, DOMID, bad_middle, 3), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(modified_since(fx, seq, p, 4), 1);
    assert_true(p[0] == 0x20 && p[1] == 2);
    seq = mockhv_modified_last_seq(fx->hv);
    /* The highest frame itself is refused; the one below it is not. */
    assert_int_equal(xendevicemodel_modified_memory(fx->dmod, DOMID, max_gfn, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_modified_memory(fx->dmod, DOMID, max_gfn - 1, 1), 0);
    /* Empty, wrapping, or with pad set. */
    assert_int_equal(xendevicemodel_modified_memory(fx->dmod, DOMID, 0x10, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_modified_memory(fx->dmod, DOMID, ~0ull - 1, 4), -1);
    assert_int_equal(errno, EINVAL);
    bad = (struct xen_dm_op_modified_memory_extent){.nr = 1, .pad = 1, .first_pfn = 0x10};
    assert_int_equal(xendevicemodel_modified_memory_bulk(fx->dmod, DOMID, &bad, 1), -1);
    assert_int_equal(errno, EINVAL);
    /* No extents at all: nothing to do. */
    assert_int_equal(xendevicemodel_modified_memory_bulk(fx->dmod, DOMID, good, 0), 0);
    assert_int_equal(modified_since(fx, seq, p, 4), 1);
    assert_true(p[0] == max_gfn - 1 && p[1] == 1);
    /* Off again: nothing recorded. */
    mockhv_set_log_dirty(fx->hv, false);
    seq = mockhv_modified_last_seq(fx->hv);
    assert_int_equal(xendevicemodel_modified_memory_bulk(fx->dmod, DOMID, good, 2), 0);
    assert_int_equal(mockhv_modified_last_seq(fx->hv), seq);
}

/*
 * The first call on a range reports every frame dirty (the pad bits of the
 * last byte too); later calls report the frames the guest wrote since the
 * previous call, and clear them.
 */
static void test_dirty_vram_guest_writes(void **state)
{
    struct fixture *fx = *state;
    unsigned long bm[4];
    const uint8_t *b = (const uint8_t *)bm;

    assert_int_equal(track(fx, VRAM_PFN, 10, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(b[1], 0xff);
    assert_untouched(bm, 2, sizeof(bm));
    assert_int_equal(track(fx, VRAM_PFN, 10, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[1], 0x00);
    assert_untouched(bm, 2, sizeof(bm));

    /* frames 0 and 3, one write across frames 8 and 9, one past the range */
    guest_write(fx, (uint64_t)VRAM_PFN * PAGE, 1);
    guest_write(fx, (uint64_t)(VRAM_PFN + 3) * PAGE + 100, 4);
    guest_write(fx, (uint64_t)(VRAM_PFN + 9) * PAGE - 2, 4);
    guest_write(fx, (uint64_t)(VRAM_PFN + 10) * PAGE, 4);
    guest_write(fx, (uint64_t)VRAM_PFN * PAGE - 1, 1);
    assert_int_equal(track(fx, VRAM_PFN, 10, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x09);
    assert_int_equal(b[1], 0x03);
    assert_untouched(bm, 2, sizeof(bm));
    /* collected: clean again */
    assert_int_equal(track(fx, VRAM_PFN, 10, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[1], 0x00);
    /* a write that fails (not RAM) marks nothing */
    assert_int_equal(mockhv_ram_write(fx->hv, RAM - 2, "abcd", 4), -EFAULT);
    assert_int_equal(track(fx, RAM / PAGE - 1, 1, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(mockhv_ram_write(fx->hv, RAM - 2, "abcd", 4), -EFAULT);
    assert_int_equal(track(fx, RAM / PAGE - 1, 1, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x00);
    assert_untouched(bm, 1, sizeof(bm));
}

/*
 * Only writes through the guest's p2m count: not modified_memory (Xen's
 * log-dirty bitmap for migration) and not a device model's writes through
 * its foreign mapping. A frame relocated into the range is new, so dirty;
 * the frame it left is a hole, never dirty.
 */
static void test_dirty_vram_what_counts(void **state)
{
    struct fixture *fx = *state;
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xen_pfn_t pfn = VRAM_PFN + 2;
    unsigned long bm[2];
    const uint8_t *b = (const uint8_t *)bm;
    uint64_t seq = mockhv_modified_last_seq(fx->hv);
    uint8_t *p;

    assert_non_null(fmem);
    assert_int_equal(track(fx, VRAM_PFN, 8, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0xff);
    mockhv_set_log_dirty(fx->hv, true); /* else modified_memory records nothing */
    assert_int_equal(xendevicemodel_modified_memory(fx->dmod, DOMID, VRAM_PFN + 1, 2), 0);
    assert_int_equal(mockhv_modified_last_seq(fx->hv), seq + 1);
    p = xenforeignmemory_map(fmem, DOMID, PROT_READ | PROT_WRITE, 1, &pfn, NULL);
    assert_non_null(p);
    p[0] = 0x77;
    assert_int_equal(xenforeignmemory_unmap(fmem, p, 1), 0);
    assert_int_equal(track(fx, VRAM_PFN, 8, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x00);

    guest_write(fx, (uint64_t)(VRAM_PFN + 5) * PAGE, 1);
    assert_int_equal(xendevicemodel_relocate_memory(fx->dmod, DOMID, 1, VRAM_PFN + 5, VRAM_PFN + 6),
                     0);
    assert_int_equal(track(fx, VRAM_PFN, 8, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x40);
    assert_untouched(bm, 1, sizeof(bm));
    xenforeignmemory_close(fmem);
}

/* Another range moves the tracking (all dirty again); nr = 0 stops it. */
static void test_dirty_vram_range_change_and_stop(void **state)
{
    struct fixture *fx = *state;
    unsigned long bm[2];
    const uint8_t *b = (const uint8_t *)bm;

    assert_int_equal(track(fx, VRAM_PFN, 16, bm, sizeof(bm)), 0);
    assert_int_equal(track(fx, VRAM_PFN, 16, bm, sizeof(bm)), 0);
    assert_int_equal(b[0] | b[1], 0);
    /* same first frame, another length: a new range */
    assert_int_equal(track(fx, VRAM_PFN, 12, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(b[1], 0xff);
    guest_write(fx, (uint64_t)(VRAM_PFN + 13) * PAGE, 1); /* outside it now */
    guest_write(fx, (uint64_t)(VRAM_PFN + 11) * PAGE, 1);
    assert_int_equal(track(fx, VRAM_PFN, 12, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[1], 0x08);
    /* stop: no bitmap needed, nothing written */
    assert_int_equal(track(fx, VRAM_PFN, 0, NULL, 0), 0);
    assert_int_equal(track(fx, VRAM_PFN, 0, NULL, 0), 0);
    guest_write(fx, (uint64_t)VRAM_PFN * PAGE, 1);
    /* the next call starts over: everything dirty, then clean */
    assert_int_equal(track(fx, VRAM_PFN, 12, bm, sizeof(bm)), 0);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(b[1], 0xff);
    assert_int_equal(track(fx, VRAM_PFN, 12, bm, sizeof(bm)), 0);
    assert_int_equal(b[0] | b[1], 0);
}

/* Xen's bound, 1 GiB of frames: the largest bitmap (32 KiB) and one frame more. */
static void test_dirty_vram_limits(void **state)
{
    struct fixture *fx = *state;
    const uint32_t max = 1u << 18;
    size_t size = max / 8 + 64;
    unsigned long *bm = malloc(size);
    const uint8_t *b = (const uint8_t *)bm;

    assert_non_null(bm);
    assert_int_equal(track(fx, 0, max, bm, size), 0);
    for (size_t i = 0; i < max / 8; i++)
        assert_int_equal(b[i], 0xff);
    assert_untouched(bm, max / 8, size);
    guest_write(fx, RAM - 1, 1); /* the last frame of RAM */
    assert_int_equal(track(fx, 0, max, bm, size), 0);
    for (size_t i = 0; i < max / 8; i++)
        assert_int_equal(b[i], i == RAM / PAGE / 8 - 1 ? 0x80 : 0x00);
    assert_untouched(bm, max / 8, size);

    /* refused before anything changes: the tracked range stays */
    assert_int_equal(track(fx, 0, max + 1, bm, size), EINVAL);
    assert_untouched(bm, 0, size);
    assert_int_equal(track(fx, 0, UINT32_MAX, bm, size), EINVAL);
    assert_int_equal(track(fx, 0, 1, NULL, 0), EFAULT);
    assert_int_equal(xendevicemodel_track_dirty_vram(fx->dmod, DOMID + 1, 0, 1, bm), -1);
    assert_int_equal(errno, ESRCH);
    guest_write(fx, 0, 1);
    assert_int_equal(track(fx, 0, max, bm, size), 0);
    assert_int_equal(b[0], 0x01);
    for (size_t i = 1; i < max / 8; i++)
        assert_int_equal(b[i], 0x00);
    free(bm);
}

static void assert_range(const struct mockhv_mem_range *r, uint64_t first, uint64_t last,
                         uint32_t type)
{
    assert_int_equal(r->first, first);
    assert_int_equal(r->last, last);
    assert_int_equal(r->type, type);
}

/* set_mem_type through the library: 0 or errno */
static int set_type(struct fixture *fx, hvmmem_type_t type, uint64_t first, uint32_t nr)
{
    return xendevicemodel_set_mem_type(fx->dmod, DOMID, type, first, nr) ? errno : 0;
}

/*
 * Types are recorded per frame (shown as merged ranges) with Xen's rules:
 * RAM may take any type, a frame that is not RAM (mmio_dm) only mmio_dm;
 * a refused frame stops the call with EINVAL, the frames before it keep
 * their new type.
 */
static void test_set_mem_type_recorded(void **state)
{
    struct fixture *fx = *state;
    struct mockhv_mem_range r[8];

    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 0);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x100), HVMMEM_ram_rw);
    assert_int_equal(mockhv_mem_type(fx->hv, RAM / PAGE), HVMMEM_mmio_dm);

    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x100, 16), 0);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 1);
    assert_range(&r[0], 0x100, 0x10f, HVMMEM_ram_ro);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x10f), HVMMEM_ram_ro);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x110), HVMMEM_ram_rw);
    /* a neighbour of the same type merges, another type splits */
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x110, 4), 0);
    assert_int_equal(set_type(fx, HVMMEM_ram_rw, 0x104, 2), 0);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 3);
    assert_range(&r[0], 0x100, 0x103, HVMMEM_ram_ro);
    assert_range(&r[1], 0x104, 0x105, HVMMEM_ram_rw);
    assert_range(&r[2], 0x106, 0x113, HVMMEM_ram_ro);
    /* and back to one run */
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x104, 2), 0);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 1);
    assert_range(&r[0], 0x100, 0x113, HVMMEM_ram_ro);
    assert_int_equal(mockhv_mem_type_calls(fx->hv), 4);

    /* RAM can become mmio_dm, which cannot become RAM again */
    assert_int_equal(set_type(fx, HVMMEM_mmio_dm, 0x200, 1), 0);
    assert_int_equal(set_type(fx, HVMMEM_ram_rw, 0x200, 1), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x200, 1), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_mmio_dm, 0x200, 1), 0);
    /* stopped at the first refused frame: 0x1fe and 0x1ff changed */
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x1fe, 4), EINVAL);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 3);
    assert_range(&r[1], 0x1fe, 0x1ff, HVMMEM_ram_ro);
    assert_range(&r[2], 0x200, 0x200, HVMMEM_mmio_dm);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x201), HVMMEM_ram_rw);
    assert_int_equal(mockhv_mem_type_calls(fx->hv), 6);

    /* a hole (relocated away) is mmio_dm: only mmio_dm is allowed there */
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x300, 1), 0);
    assert_int_equal(xendevicemodel_relocate_memory(fx->dmod, DOMID, 1, 0x300, 0x301), 0);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x300), HVMMEM_mmio_dm);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x301), HVMMEM_ram_rw);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 3); /* 0x300's record went */
    assert_int_equal(set_type(fx, HVMMEM_ram_rw, 0x300, 1), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_mmio_dm, 0x300, 1), 0);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 8), 4);
    assert_range(&r[3], 0x300, 0x300, HVMMEM_mmio_dm);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 1), 4); /* count beyond max */
}

/* Xen's argument checks: nothing recorded, nothing counted. */
static void test_set_mem_type_errors(void **state)
{
    struct fixture *fx = *state;
    const uint64_t last = RAM / PAGE - 1;

    assert_int_equal(set_type(fx, HVMMEM_unused, 0x100, 1), EINVAL);
    assert_int_equal(set_type(fx, (hvmmem_type_t)5, 0x100, 1), EINVAL);
    assert_int_equal(set_type(fx, (hvmmem_type_t)-1, 0x100, 1), EINVAL);
    /* nr 0, and ranges past the last frame ever mapped or wrapping */
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x100, 0), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0, 0), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, last, 2), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, last + 1, 1), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, UINT64_MAX, 2), EINVAL);
    /* the ioreq-server type before any server claimed it */
    assert_int_equal(set_type(fx, HVMMEM_ioreq_server, 0x100, 1), EINVAL);
    assert_int_equal(xendevicemodel_set_mem_type(fx->dmod, DOMID + 1, HVMMEM_ram_ro, 0x100, 1), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(mockhv_mem_types(fx->hv, NULL, 0), 0);
    assert_int_equal(mockhv_mem_type_calls(fx->hv), 0);
    /* the last frame itself is fine; relocating past it raises the bound */
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, last, 1), 0);
    assert_int_equal(xendevicemodel_relocate_memory(fx->dmod, DOMID, 1, 0x10, last + 8), 0);
    assert_int_equal(set_type(fx, HVMMEM_mmio_dm, last + 1, 7), 0);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, last + 8, 1), 0);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, last + 9, 1), EINVAL);
    assert_int_equal(mockhv_mem_type_calls(fx->hv), 3);
}

/*
 * HVMMEM_ioreq_server frames need a server's claim
 * (map_mem_type_to_ioreq_server, write accesses only, one server at a
 * time); only ram_rw frames take the type and they only go back to
 * ram_rw; when the claim goes (flags 0, or the server is destroyed) the
 * frames are ram_rw again.
 */
static void test_ioreq_server_mem_type(void **state)
{
    struct fixture *fx = *state;
    const uint32_t w = XEN_DMOP_IOREQ_MEM_ACCESS_WRITE;
    struct mockhv_mem_range r[4];
    ioservid_t a, b;
    uint32_t flags = 0;
    uint16_t id = 0;

    assert_int_equal(xendevicemodel_create_ioreq_server(fx->dmod, DOMID, 0, &a), 0);
    assert_int_equal(xendevicemodel_create_ioreq_server(fx->dmod, DOMID, 0, &b), 0);
    assert_int_equal(mockhv_ioreq_mem_claim(fx->hv, &id, &flags), -ENOENT);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, a, HVMMEM_ram_rw, w), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_map_mem_type_to_ioreq_server(
                         fx->dmod, DOMID, a, HVMMEM_ioreq_server, XEN_DMOP_IOREQ_MEM_ACCESS_READ),
                     -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, 7, HVMMEM_ioreq_server, w),
        -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, a, HVMMEM_ioreq_server, 0),
        -1);
    assert_int_equal(errno, EINVAL); /* nothing to let go of */

    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, a, HVMMEM_ioreq_server, w), 0);
    assert_int_equal(mockhv_ioreq_mem_claim(fx->hv, &id, &flags), 0);
    assert_int_equal(id, a);
    assert_int_equal(flags, w);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, b, HVMMEM_ioreq_server, w),
        -1);
    assert_int_equal(errno, EBUSY);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, a, HVMMEM_ioreq_server, w),
        -1);
    assert_int_equal(errno, EBUSY);

    assert_int_equal(set_type(fx, HVMMEM_ioreq_server, 0x100, 2), 0);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x100, 1), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_mmio_dm, 0x100, 1), EINVAL);
    assert_int_equal(set_type(fx, HVMMEM_ram_rw, 0x101, 1), 0);
    assert_int_equal(set_type(fx, HVMMEM_ram_ro, 0x180, 1), 0);
    assert_int_equal(set_type(fx, HVMMEM_ioreq_server, 0x180, 1), EINVAL);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 4), 3);
    assert_range(&r[0], 0x100, 0x100, HVMMEM_ioreq_server);
    assert_range(&r[1], 0x101, 0x101, HVMMEM_ram_rw);
    assert_range(&r[2], 0x180, 0x180, HVMMEM_ram_ro);

    /* only the claiming server lets go; its frames become ram_rw */
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, b, HVMMEM_ioreq_server, 0),
        -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, a, HVMMEM_ioreq_server, 0), 0);
    assert_int_equal(mockhv_ioreq_mem_claim(fx->hv, &id, &flags), -ENOENT);
    assert_int_equal(mockhv_mem_types(fx->hv, r, 4), 2);
    assert_range(&r[0], 0x100, 0x101, HVMMEM_ram_rw);
    assert_int_equal(set_type(fx, HVMMEM_ioreq_server, 0x100, 1), EINVAL);

    /* destroying the claiming server lets go too */
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, b, HVMMEM_ioreq_server, w), 0);
    assert_int_equal(set_type(fx, HVMMEM_ioreq_server, 0x120, 1), 0);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x120), HVMMEM_ioreq_server);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(fx->dmod, DOMID, b), 0);
    assert_int_equal(mockhv_ioreq_mem_claim(fx->hv, &id, &flags), -ENOENT);
    assert_int_equal(mockhv_mem_type(fx->hv, 0x120), HVMMEM_ram_rw);
    assert_int_equal(
        xendevicemodel_map_mem_type_to_ioreq_server(fx->dmod, DOMID, a, HVMMEM_ioreq_server, w), 0);
}

static int pin(struct fixture *fx, uint64_t start, uint64_t end, uint32_t type)
{
    return xendevicemodel_pin_memory_cacheattr(fx->dmod, DOMID, start, end, type) ? errno : 0;
}

/*
 * Pinned cache attributes as mtrr.c keeps them: disjoint ranges of frames
 * (any frames below the address width: Xen does not look at the guest's
 * memory), PAT types only, the same range re-pinned to another type,
 * removed only as pinned, at most 64.
 */
static void test_pin_cacheattr(void **state)
{
    struct fixture *fx = *state;
    struct mockhv_mem_range r[70];

    assert_int_equal(mockhv_cacheattrs(fx->hv, r, 70), 0);
    assert_int_equal(pin(fx, 0x100, 0x1ff, XEN_DMOP_MEM_CACHEATTR_WC), 0);
    assert_int_equal(pin(fx, 0x300, 0x300, XEN_DMOP_MEM_CACHEATTR_WB), 0);
    assert_int_equal(pin(fx, 0x50, 0x60, XEN_DMOP_MEM_CACHEATTR_UCM), 0);
    assert_int_equal(pin(fx, 0xfffff000, 0xffffffff, XEN_DMOP_MEM_CACHEATTR_UC), 0);
    assert_int_equal(pin(fx, 0x100, 0x1ff, XEN_DMOP_MEM_CACHEATTR_UC), 0); /* re-pinned */
    assert_int_equal(mockhv_cacheattrs(fx->hv, r, 70), 4);
    assert_range(&r[0], 0x50, 0x60, XEN_DMOP_MEM_CACHEATTR_UCM);
    assert_range(&r[1], 0x100, 0x1ff, XEN_DMOP_MEM_CACHEATTR_UC);
    assert_range(&r[2], 0x300, 0x300, XEN_DMOP_MEM_CACHEATTR_WB);
    assert_range(&r[3], 0xfffff000, 0xffffffff, XEN_DMOP_MEM_CACHEATTR_UC);

    /* overlapping a pinned range without being it */
    assert_int_equal(pin(fx, 0x1ff, 0x2ff, XEN_DMOP_MEM_CACHEATTR_WB), EBUSY);
    assert_int_equal(pin(fx, 0x0, 0x100, XEN_DMOP_MEM_CACHEATTR_WB), EBUSY);
    assert_int_equal(pin(fx, 0x101, 0x1fe, XEN_DMOP_MEM_CACHEATTR_WB), EBUSY);
    /* arguments */
    assert_int_equal(pin(fx, 0x401, 0x400, XEN_DMOP_MEM_CACHEATTR_WB), EINVAL);
    assert_int_equal(pin(fx, 1ull << 52, 1ull << 52, XEN_DMOP_MEM_CACHEATTR_WB), EINVAL);
    assert_int_equal(pin(fx, 0x400, 1ull << 52, XEN_DMOP_MEM_CACHEATTR_WB), EINVAL);
    assert_int_equal(pin(fx, 0x400, 0x400, 2), EINVAL);
    assert_int_equal(pin(fx, 0x400, 0x400, 3), EINVAL);
    assert_int_equal(pin(fx, 0x400, 0x400, 8), EINVAL);
    assert_int_equal(xendevicemodel_pin_memory_cacheattr(fx->dmod, DOMID + 1, 0x400, 0x400, 0), -1);
    assert_int_equal(errno, ESRCH);
    /* removal: exactly a pinned range */
    assert_int_equal(pin(fx, 0x100, 0x1fe, XEN_DMOP_DELETE_MEM_CACHEATTR), ENOENT);
    assert_int_equal(pin(fx, 0x301, 0x300, XEN_DMOP_DELETE_MEM_CACHEATTR), EINVAL);
    assert_int_equal(pin(fx, 0x300, 0x300, XEN_DMOP_DELETE_MEM_CACHEATTR), 0);
    assert_int_equal(pin(fx, 0x300, 0x300, XEN_DMOP_DELETE_MEM_CACHEATTR), ENOENT);
    assert_int_equal(mockhv_cacheattrs(fx->hv, r, 70), 3);
    assert_range(&r[2], 0xfffff000, 0xffffffff, XEN_DMOP_MEM_CACHEATTR_UC);

    /* at most 64; re-pinning one still works when full */
    for (uint64_t i = 0; i < 61; i++)
        assert_int_equal(pin(fx, 0x1000 + 2 * i, 0x1000 + 2 * i, XEN_DMOP_MEM_CACHEATTR_WT), 0);
    assert_int_equal(mockhv_cacheattrs(fx->hv, r, 70), 64);
    assert_int_equal(pin(fx, 0x2000, 0x2000, XEN_DMOP_MEM_CACHEATTR_WT), ENOSPC);
    assert_int_equal(pin(fx, 0x1000, 0x1000, XEN_DMOP_MEM_CACHEATTR_WP), 0);
    assert_int_equal(pin(fx, 0x1001, 0x1001, XEN_DMOP_MEM_CACHEATTR_WT), ENOSPC);
    assert_int_equal(pin(fx, 0x1000, 0x1001, XEN_DMOP_MEM_CACHEATTR_WT), EBUSY);
    assert_int_equal(mockhv_cacheattrs(fx->hv, r, 70), 64);
    assert_range(&r[2], 0x1000, 0x1000, XEN_DMOP_MEM_CACHEATTR_WP);
    assert_range(&r[62], 0x1000 + 2 * 60, 0x1000 + 2 * 60, XEN_DMOP_MEM_CACHEATTR_WT);
    assert_int_equal(pin(fx, 0x50, 0x60, XEN_DMOP_DELETE_MEM_CACHEATTR), 0);
    assert_int_equal(pin(fx, 0x2000, 0x2000, XEN_DMOP_MEM_CACHEATTR_WT), 0);
    assert_int_equal(mockhv_cacheattrs(fx->hv, r, 2), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pci_link_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inject_msi_pirq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modified_memory_as_xen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_guest_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_what_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_range_change_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_mem_type_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_mem_type_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioreq_server_mem_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_cacheattr, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
