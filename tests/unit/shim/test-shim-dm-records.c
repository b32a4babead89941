/*
 * Device-model operations whose effect the mock keeps and tests read back:
 * dirty VRAM tracking, with Xen's (HAP) semantics and limits.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dirty_vram_guest_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_what_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_range_change_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_vram_limits, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
