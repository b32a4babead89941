/*
 * The hypercalls an HVM guest makes, answered as Xen 4.17 answers a 32-bit
 * domU: exact values read back from guest memory, Xen's permission checks
 * and error numbers, and hostile arguments (bad pointers, bad ops, huge
 * counts) answered safely and counted. No vCPU: the tests put arguments
 * into guest RAM and call hv_hypercall directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "test-hc.h"

#define BAD_GPA 0xf0000000ull /* MMIO hole: not RAM */
#define SELF    0x7ff0

static int setup(void **state)
{
    return hc_fx_setup((struct hc_fx **)state, false, HC_MEM);
}

static int teardown(void **state)
{
    hc_fx_teardown(*state);
    return 0;
}

static struct hv_hypercall_stats stats(struct hc_fx *fx)
{
    struct hv_hypercall_stats s;

    hv_hypercalls_get_stats(fx->h, &s);
    return s;
}

static void test_xen_version(void **state)
{
    struct hc_fx *fx = *state;
    char extra[16];
    uint32_t fi[2] = {0, 0xffffffff};
    uint8_t handle[16], want[16] = {0, HC_DOMID, [15] = 0x5a};
    char cmdline[16];

    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 0, 0, 0), 0x40011); /* 4.17 */
    memset(extra, 'x', sizeof(extra));
    hc_put(fx, SCRATCH, extra, sizeof(extra));
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 1, SCRATCH, 0), 0);
    hc_get(fx, SCRATCH, extra, sizeof(extra));
    assert_string_equal(extra, ".0");
    for (unsigned i = 3; i < sizeof(extra); i++)
        assert_int_equal(extra[i], 0);
    /* XENVER_get_features submap 0 of an HVM domU */
    hc_put(fx, SCRATCH, fi, sizeof(fi));
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 6, SCRATCH, 0), 0);
    hc_get(fx, SCRATCH, fi, sizeof(fi));
    assert_int_equal(fi[1], (1u << 0) | (1u << 2) | (1u << 8) | (1u << 9) | (1u << 10) |
                                (1u << 13) | (1u << 16));
    fi[0] = 1;
    hc_put(fx, SCRATCH, fi, sizeof(fi));
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 6, SCRATCH, 0), -EINVAL);
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 7, 0, 0), 4096);    /* pagesize */
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 7, 1, 0), -EINVAL); /* handle not null */
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 8, SCRATCH, 0), 0); /* guest_handle */
    hc_get(fx, SCRATCH, handle, sizeof(handle));
    assert_memory_equal(handle, want, sizeof(want));
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 9, SCRATCH, 0), 0); /* commandline */
    hc_get(fx, SCRATCH, cmdline, 9);
    assert_string_equal(cmdline, "<denied>");
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 10, SCRATCH, 0), -EPERM); /* build_id */
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 99, SCRATCH, 0), -ENOSYS);
    /* hostile pointers */
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 1, BAD_GPA, 0), -EFAULT);
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 6, BAD_GPA, 0), -EFAULT);
    /* straddling the end of RAM: nothing written */
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 1, HC_MEM - 8, 0), -EFAULT);
    assert_int_equal(stats(fx).efault, 3);
}

static void test_unknown_ops(void **state)
{
    struct hc_fx *fx = *state;
    uint64_t args[5] = {0};

    assert_int_equal(hc_call(fx, 0, 0, 0, 0, 0), -ENOSYS); /* set_trap_table: PV only */
    assert_int_equal(hc_call(fx, 0, 63, 0, 0, 0), -ENOSYS);
    assert_int_equal(hc_call(fx, 0, 64, 0, 0, 0), -ENOSYS);
    assert_int_equal(hc_call(fx, 0, 0xffffffffu, 0, 0, 0), -ENOSYS);
    assert_int_equal(stats(fx).unknown_op, 4);
    /* not a vCPU of the domain, no arguments */
    assert_int_equal(hv_hypercall(fx->h, HC_VCPUS, HC_XEN_VERSION, args), -EINVAL);
    assert_int_equal(hv_hypercall(fx->h, 0, HC_XEN_VERSION, NULL), -EINVAL);
    /* the upper halves of 64-bit registers are not a 32-bit guest's */
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 0xffffffff00000000ull, 0, 0), 0x40011);
}

static void test_hypercall_page(void **state)
{
    struct hc_fx *fx = *state;
    uint8_t page[4096];
    static const uint8_t e0[9] = {0xb8, 0, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3};
    static const uint8_t e34[9] = {0xb8, 34, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3};
    static const uint8_t e127[9] = {0xb8, 127, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3};

    assert_int_equal(hv_hypercall_page_fill(fx->hv, 0x80000), 0);
    hc_get(fx, 0x80000, page, sizeof(page));
    assert_memory_equal(page, e0, sizeof(e0));
    assert_memory_equal(page + 34 * 32, e34, sizeof(e34));
    assert_memory_equal(page + 127 * 32, e127, sizeof(e127));
    assert_int_equal(page[23 * 32], 0x0f); /* iret: ud2 */
    assert_int_equal(page[23 * 32 + 1], 0x0b);
    assert_int_equal(page[9], 0xcc);
    assert_int_equal(hv_hypercall_page_fill(fx->hv, BAD_GPA), -EFAULT);
    assert_int_equal(hv_hypercall_page_fill(fx->hv, 0x80010), -EINVAL);
}

static void test_hvm_params(void **state)
{
    struct hc_fx *fx = *state;
    uint64_t v;

    /* the mock's default until the toolstack allocates the port */
    assert_int_equal(hc_get_param(fx, SELF, 2 /* STORE_EVTCHN */, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(hc_get_param(fx, HC_DOMID, 2, &v), 0);
    assert_int_equal(v, 1);
    /* not for the guest's eyes, deprecated, out of range, other domains */
    assert_int_equal(hc_get_param(fx, SELF, 12 /* IDENT_PT */, NULL), -EPERM);
    assert_int_equal(hc_get_param(fx, SELF, 4 /* PAE_ENABLED */, NULL), -EINVAL);
    assert_int_equal(hc_get_param(fx, SELF, 39 /* HVM_NR_PARAMS */, NULL), -EINVAL);
    assert_int_equal(hc_get_param(fx, SELF, 0xffffffff, NULL), -EINVAL);
    assert_int_equal(hc_get_param(fx, 0, 2, NULL), -EINVAL);
    assert_int_equal(hc_get_param(fx, 99, 2, NULL), -ESRCH);
    assert_int_equal(hc_set_param(fx, SELF, 2 /* STORE_EVTCHN */, 5), 0);
    assert_int_equal(hc_get_param(fx, SELF, 2, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(hc_set_param(fx, SELF, 1 /* STORE_PFN */, 0x1234), -EPERM);
    assert_int_equal(hc_set_param(fx, SELF, 12 /* IDENT_PT */, 0x1000), -EPERM);
    assert_int_equal(hc_set_param(fx, SELF, 4 /* PAE_ENABLED */, 1), -EINVAL);
    /* ACPI_IOPORTS_LOCATION: 0 <-> 1 only */
    assert_int_equal(hc_set_param(fx, SELF, 19, 1), 0);
    assert_int_equal(hc_get_param(fx, SELF, 19, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(hc_set_param(fx, SELF, 19, 1), 0);
    assert_int_equal(hc_set_param(fx, SELF, 19, 3), -EINVAL);
    /* VM86_TSS_SIZED as hvmloader sets it: the updated flag stays Xen's */
    assert_int_equal(hc_set_param(fx, SELF, 37, (384ull << 32) | 0xfc100000), 0);
    assert_int_equal(hc_get_param(fx, SELF, 37, &v), 0);
    assert_int_equal(v, (384ull << 32) | 0xfc100000);
    assert_int_equal(hc_get_param(fx, SELF, 15 /* VM86_TSS */, &v), 0);
    assert_int_equal(v, 0xfc100000);
    /* bigger than any useful TSS: capped */
    assert_int_equal(hc_set_param(fx, SELF, 37, (100000ull << 32) | 0x1000), 0);
    assert_int_equal(hc_get_param(fx, SELF, 37, &v), 0);
    assert_int_equal(v, (8329ull << 32) | 0x1000);
    assert_int_equal(hc_set_param(fx, SELF, 36 /* X87_FIP_WIDTH */, 3), -EINVAL);
    assert_int_equal(hc_set_param(fx, SELF, 36, 4), 0);
    /* a bad pointer */
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 1, BAD_GPA, 0), -EFAULT);
    assert_false(mockhv_domain_crashed(fx->hv));
}

static void test_hvm_param_crash(void **state)
{
    struct hc_fx *fx = *state;

    /* a TSS smaller than struct tss32: Xen crashes the guest */
    assert_int_equal(hc_set_param(fx, SELF, 37, (50ull << 32) | 0x1000), -EINVAL);
    assert_true(mockhv_domain_crashed(fx->hv));
    assert_int_equal(hc_call(fx, 0, HC_XEN_VERSION, 0, 0, 0), -EIO);
}

static void test_hvm_ops(void **state)
{
    struct hc_fx *fx = *state;
    uint64_t t0, t1;
    uint8_t pd[16] = {0xf0, 0x7f};

    t0 = hc_now(fx);
    t1 = hc_now(fx);
    assert_true(t1 >= t0);
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 5 /* flush_tlbs */, 0, 0), 0);
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 5, SCRATCH, 0), -EINVAL);
    hc_put(fx, SCRATCH, pd, sizeof(pd));
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 9 /* pagetable_dying */, SCRATCH, 0), -EINVAL);
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 9, BAD_GPA, 0), -EFAULT);
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 10, BAD_GPA, 0), -EFAULT);
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 99, SCRATCH, 0), -ENOSYS);
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 0x80000000u, SCRATCH, 0), -ENOSYS);
}

static void test_shared_info(void **state)
{
    struct hc_fx *fx = *state;
    uint64_t base = HOLE_GFN << 12, base2 = (HOLE_GFN - 1) << 12;
    uint8_t b;
    uint32_t mul, version;
    int8_t shift;
    uint64_t khz;

    /* not there before it is mapped */
    assert_int_equal(mockhv_ram_read(fx->hv, base, &b, 1), -EFAULT);
    assert_int_equal(hc_map_shinfo(fx, HOLE_GFN), 0);
    version = hc_get32(fx, base + 32);
    assert_int_equal(version & 1, 0);
    assert_true(version >= 2);
    hc_get(fx, base + 32 + 24, &mul, 4);
    hc_get(fx, base + 32 + 28, &shift, 1);
    /* hvmloader's get_cpu_mhz() */
    khz = (1000000ull << 32) / mul;
    khz = shift < 0 ? khz << -shift : khz >> shift;
    assert_true(khz * 1000 <= hv_hypercalls_tsc_hz(fx->h) * 1001 / 1000 + 1000);
    assert_true(khz * 1000 >= hv_hypercalls_tsc_hz(fx->h) * 999 / 1000);
    /* vCPU 0 and 1 start masked (evtchn_upcall_mask) */
    hc_get(fx, base + 1, &b, 1);
    assert_int_equal(b, 1);
    hc_get(fx, base + 64 + 1, &b, 1);
    assert_int_equal(b, 1);
    /* the wallclock: version even, seconds set */
    assert_int_equal(hc_get32(fx, base + 2304) & 1, 0);
    assert_true(hc_get32(fx, base + 2308) > 1600000000u);
    /* moved: gone from the old frame, the same page at the new one */
    hc_put32(fx, base + 3000, 0x5a5aa5a5);
    assert_int_equal(hc_map_shinfo(fx, HOLE_GFN - 1), 0);
    assert_int_equal(mockhv_ram_read(fx->hv, base, &b, 1), -EFAULT);
    assert_int_equal(hc_get32(fx, base2 + 3000), 0x5a5aa5a5);
    /* over RAM: the RAM frame is given back */
    {
        uint16_t self = SELF;
        long before;

        hc_put(fx, SCRATCH, &self, 2);
        before = hc_call(fx, 0, HC_MEMORY_OP, 3 /* current_reservation */, SCRATCH, 0);
        assert_int_equal(hc_map_shinfo(fx, 0x1000), 0);
        assert_int_equal(hc_get32(fx, 0x1000000 + 3000), 0x5a5aa5a5);
        assert_int_equal(mockhv_ram_read(fx->hv, base2, &b, 1), -EFAULT);
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 3, SCRATCH, 0), before - 1);
    }
    {
        struct c_xatp x = {.domid = SELF, .space = 0, .idx = 1, .gpfn = HOLE_GFN};

        hc_put(fx, SCRATCH2, &x, sizeof(x));
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 7, SCRATCH2, 0), -EINVAL);
    }
}

static long xatp(struct hc_fx *fx, uint32_t space, uint32_t idx, uint32_t gpfn, uint16_t size,
                 uint32_t start)
{
    struct c_xatp x = {.domid = SELF, .size = size, .space = space, .idx = idx, .gpfn = gpfn};

    hc_put(fx, SCRATCH2, &x, sizeof(x));
    return hc_call(fx, 0, HC_MEMORY_OP, 7 | ((uint64_t)start << 6), SCRATCH2, 0);
}

static void test_add_to_physmap(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t v;

    /* one RAM frame into the hole, as hvmloader relocates memory */
    hc_put32(fx, 0x3000000, 0x11223344);
    assert_int_equal(xatp(fx, 2 /* gmfn */, 0x3000, 0xfd000, 0, 0), 0);
    assert_int_equal(hc_get32(fx, 0xfd000000), 0x11223344);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x3000000, &v, 4), -EFAULT);
    /* the source is a hole now: nothing to move */
    assert_int_equal(xatp(fx, 2, 0x3000, 0xfd001, 0, 0), -EINVAL);
    /* onto itself: stays */
    assert_int_equal(xatp(fx, 2, 0x3001, 0x3001, 0, 0), 0);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x3001000, &v, 4), 0);
    /* a range; it stops at the first frame that is not RAM */
    hc_put32(fx, 0x3010000 + 3 * 4096, 0x55667788);
    assert_int_equal(xatp(fx, 3 /* gmfn_range */, 0x3010, 0xfd100, 4, 0), 0);
    assert_int_equal(hc_get32(fx, 0xfd103000), 0x55667788);
    assert_int_equal(xatp(fx, 3, 0x3ffe, 0xfd200, 4, 0), -EINVAL); /* 0x4000 is past RAM */
    assert_int_equal(hc_get32(fx, 0xfd201000), 0);
    assert_int_equal(mockhv_ram_read(fx->hv, 0xfd202000, &v, 4), -EFAULT);
    /* a continuation index past the size, or too big for the size field */
    assert_int_equal(xatp(fx, 3, 0x3020, 0xfd300, 4, 5), -EILSEQ);
    assert_int_equal(xatp(fx, 3, 0x3020, 0xfd300, 4, 0x10000), -EDOM);
    assert_int_equal(xatp(fx, 4 /* gmfn_foreign */, 0x3020, 0xfd300, 0, 0), -ENOSYS);
    assert_int_equal(xatp(fx, 1 /* grant_table */, 0, 0xfd300, 0, 0), -EINVAL);
    assert_int_equal(xatp(fx, 77, 0, 0xfd300, 0, 0), -EINVAL);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 7, BAD_GPA, 0), -EFAULT);
    {
        struct c_xatp x = {.domid = 0, .space = 2, .idx = 0x3020, .gpfn = 0xfd300};

        hc_put(fx, SCRATCH2, &x, sizeof(x));
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 7, SCRATCH2, 0), -EPERM);
        x.domid = 3;
        hc_put(fx, SCRATCH2, &x, sizeof(x));
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 7, SCRATCH2, 0), -ESRCH);
    }
}

static long reservation(struct hc_fx *fx, unsigned op, uint32_t list, uint32_t nr, uint32_t order)
{
    struct c_reservation r = {
        .extent_start = list, .nr_extents = nr, .extent_order = order, .domid = SELF};

    hc_put(fx, SCRATCH2, &r, sizeof(r));
    return hc_call(fx, 0, HC_MEMORY_OP, op, SCRATCH2, 0);
}

static void test_reservation(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t gfns[300];
    uint16_t self = SELF;
    uint32_t v = 0xffffffff;
    long pages = (long)(HC_MEM >> 12);

    hc_put(fx, SCRATCH, &self, 2);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 3, SCRATCH, 0), pages);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 4, SCRATCH, 0), pages + 256);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 3 | (1 << 6), SCRATCH, 0), -EINVAL);
    /* hvmloader's mem_hole_populate_ram: one page in the hole */
    gfns[0] = 0xfc100;
    hc_put(fx, SCRATCH, gfns, 4);
    hc_put32(fx, SCRATCH2 + 64, 0);
    assert_int_equal(reservation(fx, 6, SCRATCH, 1, 0), 1);
    assert_int_equal(hc_get32(fx, 0xfc100000), 0);
    hc_put32(fx, 0xfc100000, 0xabcdef01);
    hc_put(fx, SCRATCH + 64, &self, 2);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 3, SCRATCH + 64, 0), pages + 1);
    /* the headroom runs out after 256 pages: the count done */
    for (unsigned i = 0; i < 300; i++)
        gfns[i] = 0xfc200 + i;
    hc_put(fx, SCRATCH, gfns, sizeof(gfns));
    assert_int_equal(reservation(fx, 6, SCRATCH, 300, 0), 255);
    /* given back, then the space is there again */
    gfns[0] = 0xfc100;
    gfns[1] = HOLE_GFN; /* a hole given back counts as done */
    hc_put(fx, SCRATCH, gfns, 8);
    assert_int_equal(reservation(fx, 1 /* decrease */, SCRATCH, 2, 0), 2);
    assert_int_equal(mockhv_ram_read(fx->hv, 0xfc100000, &v, 4), -EFAULT);
    gfns[0] = 0xfc100;
    hc_put(fx, SCRATCH, gfns, 4);
    assert_int_equal(reservation(fx, 6, SCRATCH, 1, 0), 1);
    assert_int_equal(hc_get32(fx, 0xfc100000), 0); /* a fresh, zeroed page */
    /* hostile: no list, a count too big to continue, an order too big,
     * a continuation past the end, flags the mock does not model */
    assert_int_equal(reservation(fx, 6, (uint32_t)BAD_GPA, 1, 0), 0);
    assert_int_equal(reservation(fx, 6, SCRATCH, (UINT32_MAX >> 6) + 1, 0), 0);
    assert_int_equal(reservation(fx, 1, SCRATCH, UINT32_MAX >> 6, 0), 0); /* list not all RAM */
    assert_int_equal(reservation(fx, 6, SCRATCH, 1, 10), 0);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 6 | (5 << 6), SCRATCH2, 0), 5);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 6, BAD_GPA, 0), 0);
    /* RAM given back: a hole, one page less */
    gfns[0] = 0x2000;
    hc_put(fx, SCRATCH, gfns, 4);
    assert_int_equal(reservation(fx, 1, SCRATCH, 1, 0), 1);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x2000000, &v, 4), -EFAULT);
    /* many extents of holes: stopped at the per-call bound, counted */
    {
        uint32_t big = 0x100000; /* 1 MiB of extents at SCRATCH..: all RAM, gfn 0 */

        assert_int_equal(reservation(fx, 1, 0x1000000, big / 4, 0), 65536);
        assert_int_equal(stats(fx).memop_cut, 1);
    }
}

static void test_populate_whole_extents(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t gfns[256], v;

    for (unsigned i = 0; i < 255; i++)
        gfns[i] = 0xfc200 + i;
    hc_put(fx, SCRATCH, gfns, 255 * 4);
    assert_int_equal(reservation(fx, 6, SCRATCH, 255, 0), 255);
    /* RAM given back: the budget has room for two, the headroom for one */
    gfns[0] = 0x2000;
    hc_put(fx, SCRATCH, gfns, 4);
    assert_int_equal(reservation(fx, 1, SCRATCH, 1, 0), 1);
    gfns[0] = 0xfc400;
    hc_put(fx, SCRATCH, gfns, 4);
    assert_int_equal(reservation(fx, 6, SCRATCH, 1, 1), 0); /* an order-1 extent: none of it */
    assert_int_equal(mockhv_ram_read(fx->hv, 0xfc400000, &v, 4), -EFAULT);
    assert_int_equal(reservation(fx, 6, SCRATCH, 1, 0), 1);
    assert_int_equal(hc_get32(fx, 0xfc400000), 0);
    /* misaligned extents are refused */
    gfns[0] = 0xfc501;
    hc_put(fx, SCRATCH, gfns, 4);
    assert_int_equal(reservation(fx, 6, SCRATCH, 1, 1), 0);
}

static void test_memory_misc(void **state)
{
    struct hc_fx *fx = *state;
    struct c_memmap m = {.nr_entries = 8, .buffer = SCRATCH};
    uint8_t vnuma[48] = {0xf0, 0x7f};

    /* no e820 from the toolstack yet */
    hc_put(fx, SCRATCH2, &m, sizeof(m));
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 9, SCRATCH2, 0), -ENOSYS);
    hc_put(fx, SCRATCH, vnuma, sizeof(vnuma));
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 26, SCRATCH, 0), -EOPNOTSUPP);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 10, SCRATCH, 0), -EPERM);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 13, SCRATCH, 0), -EPERM);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 2, 0, 0), (long)(HC_MEM >> 12) + 257);
    assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 40, SCRATCH, 0), -ENOSYS);
}

static void test_console(void **state)
{
    struct hc_fx *fx = *state;
    char buf[400];

    hc_put(fx, SCRATCH, "hello\nwor", 9);
    assert_int_equal(hc_call(fx, 1, HC_CONSOLE_IO, 0, 9, SCRATCH), 0);
    assert_int_equal(fx->nr_lines, 1);
    assert_string_equal(fx->lines[0].text, "hello");
    assert_int_equal(fx->lines[0].vcpu, 1);
    hc_put(fx, SCRATCH,
           "l\x01\x7f"
           "d\t!\n",
           7);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 0, 7, SCRATCH), 0);
    assert_int_equal(fx->nr_lines, 2);
    assert_string_equal(fx->lines[1].text, "world\t!");
    /* no newline: Xen's 200-byte buffer goes out with the chunk that
     * would not fit (127 buffered, then 127 + 127 as one line) */
    memset(buf, 'a', 300);
    hc_put(fx, SCRATCH, buf, 300);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 0, 300, SCRATCH), 0);
    assert_int_equal(fx->nr_lines, 3);
    assert_int_equal(strlen(fx->lines[2].text), 254);
    hc_put(fx, SCRATCH, "\n", 1);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 0, 1, SCRATCH), 0);
    assert_int_equal(strlen(fx->lines[3].text), 46);
    /* dom0's commands, bad buffers, and 4 GiB: bounded and counted */
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 1, 10, SCRATCH), -EPERM);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 7, 10, SCRATCH), -EPERM);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 0, 10, BAD_GPA), -EFAULT);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 0, 0, BAD_GPA), 0);
    assert_int_equal(hc_call(fx, 0, HC_CONSOLE_IO, 0, 0xffffffffu, 0x1000000), 0);
    assert_int_equal(stats(fx).console_cut, 0xffffffffull - 65536);
}

static void test_shutdown(void **state)
{
    struct hc_fx *fx = *state;

    assert_int_equal(mockhv_shutdown_reason(fx->hv), -1);
    hc_put32(fx, SCRATCH, 0x101); /* a u8 in Xen: reboot */
    assert_int_equal(hc_call(fx, 1, HC_SCHED_OP, 2 /* shutdown */, SCRATCH, 0), 0);
    assert_int_equal(fx->shutdowns, 1);
    assert_int_equal(fx->shutdown_vcpu, 1);
    assert_int_equal(fx->shutdown_reason, 1);
    assert_int_equal(mockhv_shutdown_reason(fx->hv), 1);
    /* the first reason stays */
    hc_put32(fx, SCRATCH, 2);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 2, SCRATCH, 0), 0);
    assert_int_equal(mockhv_shutdown_reason(fx->hv), 1);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 2, BAD_GPA, 0), -EFAULT);
}

static void test_shutdown_code(void **state)
{
    struct hc_fx *fx = *state;

    hc_put32(fx, SCRATCH, 3 /* crash */);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 5 /* shutdown_code */, SCRATCH, 0), 0);
    assert_int_equal(fx->shutdowns, 0);
    hc_put32(fx, SCRATCH, 0 /* poweroff */);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 2, SCRATCH, 0), 0);
    assert_int_equal(fx->shutdown_reason, 3); /* the code set before wins */
    assert_int_equal(mockhv_shutdown_reason(fx->hv), 3);
}

static long poll_ports(struct hc_fx *fx, const uint32_t *ports, uint32_t nr, uint64_t timeout)
{
    struct c_poll p = {.ports = SCRATCH, .nr_ports = nr, .timeout = timeout};

    if (nr && nr <= 256)
        hc_put(fx, SCRATCH, ports, nr * 4);
    hc_put(fx, SCRATCH2, &p, sizeof(p));
    return hc_call(fx, 0, HC_SCHED_OP, 3 /* poll */, SCRATCH2, 0);
}

struct poller {
    struct hc_fx *fx;
    long rc;
};

static void *poll_forever(void *arg)
{
    struct poller *p = arg;
    struct c_poll cp = {.ports = SCRATCH + 1024, .nr_ports = 1, .timeout = 0};
    uint64_t args[5] = {3, SCRATCH2 + 64, 0, 0, 0};

    mockhv_ram_write(p->fx->hv, SCRATCH2 + 64, &cp, sizeof(cp));
    p->rc = hv_hypercall(p->fx->h, 1, HC_SCHED_OP, args);
    return NULL;
}

static void test_poll(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t ports[130] = {3};
    uint64_t base = HOLE_GFN << 12;
    struct poller p = {.fx = fx, .rc = 99};
    uint64_t polls;
    pthread_t t;

    assert_int_equal(hc_map_shinfo(fx, HOLE_GFN), 0);
    /* timeout in the past (absolute system time): at once */
    assert_int_equal(poll_ports(fx, ports, 1, 1), 0);
    /* a short timeout: returns when it passes */
    assert_int_equal(poll_ports(fx, ports, 1, hc_now(fx) + 1000000), 0);
    /* a pending port: at once, even without a timeout */
    hc_put32(fx, base + 2048, 1u << 3);
    assert_int_equal(poll_ports(fx, ports, 1, 0), 0);
    assert_int_equal(poll_ports(fx, ports, 1, UINT64_MAX), 0); /* a deadline past any clock */
    assert_int_equal(hc_get32(fx, base + 2048), 1u << 3);      /* poll does not clear it */
    hc_put32(fx, base + 2048, 0);
    /* hostile */
    assert_int_equal(poll_ports(fx, ports, 129, 1), -EINVAL);
    assert_int_equal(poll_ports(fx, ports, 0xffffffffu, 0), -EINVAL);
    ports[0] = 64; /* beyond the first bucket of ports */
    assert_int_equal(poll_ports(fx, ports, 1, 1), -EINVAL);
    ports[0] = 0xffffffffu;
    assert_int_equal(poll_ports(fx, ports, 1, 1), -EINVAL);
    {
        struct c_poll cp = {.ports = (uint32_t)BAD_GPA, .nr_ports = 4, .timeout = 1};

        hc_put(fx, SCRATCH2, &cp, sizeof(cp));
        assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 3, SCRATCH2, 0), -EFAULT);
    }
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 3, BAD_GPA, 0), -EFAULT);
    polls = stats(fx).polls;
    assert_int_equal(polls, 1); /* only the short timeout waited */
    /* no timeout, nothing pending: only interrupt_waits ends it */
    hc_put32(fx, SCRATCH + 1024, 5);
    assert_int_equal(pthread_create(&t, NULL, poll_forever, &p), 0);
    while (stats(fx).polls == polls)
        sched_yield();
    hv_hypercalls_interrupt_waits(fx->h);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(p.rc, 0);
    /* and nothing blocks afterwards */
    assert_int_equal(poll_ports(fx, ports, 0, 0), 0);
}

static void test_sched_misc(void **state)
{
    struct hc_fx *fx = *state;
    uint8_t rs[8] = {HC_DOMID, 0, 0, 0, 1, 0, 0, 0};

    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 0 /* yield */, 0, 0), 0);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 1 /* block */, 0, 0), 0);
    hc_put(fx, SCRATCH, rs, sizeof(rs));
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 4 /* remote_shutdown */, SCRATCH, 0), -EPERM);
    rs[0] = 9;
    hc_put(fx, SCRATCH, rs, sizeof(rs));
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 4, SCRATCH, 0), -ESRCH);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 7 /* pin_override */, SCRATCH, 0), -EPERM);
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 99, SCRATCH, 0), -ENOSYS);
    assert_int_equal(fx->shutdowns, 0);
}

static void test_evtchn(void **state)
{
    struct hc_fx *fx = *state;

    hc_put32(fx, SCRATCH, 0); /* port 0: reserved */
    assert_int_equal(hc_call(fx, 0, HC_EVTCHN_OP, 4 /* send */, SCRATCH, 0), -EINVAL);
    hc_put32(fx, SCRATCH, 10); /* free */
    assert_int_equal(hc_call(fx, 0, HC_EVTCHN_OP, 4, SCRATCH, 0), -EINVAL);
    hc_put32(fx, SCRATCH, 4000); /* no such bucket */
    assert_int_equal(hc_call(fx, 0, HC_EVTCHN_OP, 4, SCRATCH, 0), -EINVAL);
    assert_int_equal(hc_call(fx, 0, HC_EVTCHN_OP, 4, BAD_GPA, 0), -EFAULT);
    assert_int_equal(hc_call(fx, 0, HC_EVTCHN_OP, 99, SCRATCH, 0), -ENOSYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_xen_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypercall_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hvm_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hvm_param_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hvm_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_to_physmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_populate_whole_extents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_misc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_misc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
