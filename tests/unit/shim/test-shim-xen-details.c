/*
 * Details where the mock follows Xen 4.17's xen/common/ioreq.c to the
 * letter: MMIO server selection of a rep with df (ioreq_server_select with
 * ioreq_mmio_first_byte/last_byte), the vp_eport check of ioreq_send,
 * INVALIDATE as send_invalidate_ioreq fills it, and what the buffered path
 * (ioreq_send_buffered) does with a write its 20-bit address cannot hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mockhv.h"
#include "test-dm.h"

#define DOMID 6
#define T     10000

struct fx {
    struct mockhv *hv;
    struct test_dm dm;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 2, .mem_bytes = 16 << 20};

    assert_non_null(fx);
    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(fx->hv), 0);
    assert_int_equal(test_dm_start(&fx->dm, DOMID, HVM_IOREQSRV_BUFIOREQ_ATOMIC), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    test_dm_stop(&fx->dm, true);
    mockhv_destroy(fx->hv);
    free(fx);
    return 0;
}

/* A rep with df covers [addr - (count - 1) * size, addr + size - 1]. */
static void test_df_rep_selects_by_the_bytes_it_touches(void **state)
{
    struct fx *fx = *state;
    struct mockhv_rep down_from_top = {
        .mmio = true, .df = true, .size = 4, .addr = 0xe0000ffc, .gpa = 0x2ffc, .count = 4};
    struct mockhv_rep down_past_start = {
        .mmio = true, .df = true, .size = 4, .addr = 0xe0000008, .gpa = 0x2ffc, .count = 4};
    ioreq_t q;

    assert_int_equal(xendevicemodel_map_io_range_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 1,
                                                                 0xe0000000, 0xe0000fff),
                     0);
    /* 0xe0000ff0-0xe0000fff: inside, though addr + count * size is not */
    assert_int_equal(mockhv_rep(fx->hv, 0, &down_from_top, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    q = test_dm_get(&fx->dm, 0);
    assert_int_equal(q.df, 1);
    assert_int_equal(q.count, 4);
    assert_true(q.addr == 0xe0000ffc);
    /* 0xdffffffc-0xe000000b: starts below the range, so nobody's */
    assert_int_equal(mockhv_rep(fx->hv, 0, &down_past_start, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
}

/* A device model that rewrites vp_eport in its slot: Xen refuses the request. */
static void test_changed_vp_eport_is_refused(void **state)
{
    struct fx *fx = *state;
    ioreq_t slot;

    assert_int_equal(
        xendevicemodel_map_io_range_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 0, 0x60, 0x64),
        0);
    assert_int_equal(mockhv_pio_in(fx->hv, 1, 0x60, 1, &(uint32_t){0}, T), 0);
    assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->dm.id, 1, &slot, sizeof(slot)), 0);
    assert_true(slot.vp_eport != 0);
    slot.vp_eport += 1;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->dm.id, 1, &slot, sizeof(slot), false), 0);
    /* vCPU 0's slot is intact and served */
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &(uint32_t){0}, T), 0);
    assert_false(mockhv_domain_crashed(fx->hv));
    /* "device model set bad event channel": unhandleable, the domain crashes */
    assert_int_equal(mockhv_pio_in(fx->hv, 1, 0x60, 1, &(uint32_t){0}, T), -EIO);
    assert_true(mockhv_domain_crashed(fx->hv));
    assert_int_equal(test_dm_count(&fx->dm), 2);
}

/* send_invalidate_ioreq: size 4, write, data ~0, count left 0. */
static void test_invalidate_fields(void **state)
{
    struct fx *fx = *state;
    ioreq_t q;

    assert_int_equal(mockhv_invalidate(fx->hv, 1, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    q = test_dm_get(&fx->dm, 0);
    assert_int_equal(q.type, IOREQ_TYPE_INVALIDATE);
    assert_int_equal(q.size, 4);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.dir, IOREQ_WRITE);
    assert_int_equal(q.data_is_ptr, 0);
    assert_true(q.data == ~0ull);
}

/*
 * ioreq_send_buffered returns 0 (IOREQ_STATUS_HANDLED, X86EMUL_OKAY) for an
 * address above 0xfffff: the write is neither masked into the ring nor sent
 * synchronously, it is dropped as done.
 */
static void test_buffered_write_above_1mib_dropped(void **state)
{
    struct fx *fx = *state;
    const uint64_t vals[3] = {1, 2, 3};
    struct mockhv_stats st;
    uint32_t rp, wp;

    assert_int_equal(xendevicemodel_map_io_range_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 1,
                                                                 0xa0000, 0x10ffff),
                     0);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 0x100010, 4, 0x12345678, T), 0);
    assert_int_equal(mockhv_buf_write_batch(fx->hv, 0, true, 0x100020, 2, vals, 3, T), 0);
    assert_int_equal(mockhv_raw_buf_pointers_get(fx->hv, fx->dm.id, &rp, &wp), 0);
    assert_int_equal(wp, rp);
    /* below 1 MiB the ring carries it, at its own address (nothing masked) */
    assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 0xa0010, 4, 0x9abc, T), 0);
    assert_int_equal(mockhv_mmio_read(fx->hv, 0, 0xa0000, 4, &(uint64_t){0}, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1); /* the read alone went synchronously */
    assert_int_equal(mockhv_raw_buf_pointers_get(fx->hv, fx->dm.id, &rp, &wp), 0);
    assert_int_equal(wp, 1);
    mockhv_get_stats(fx->hv, &st);
    assert_int_equal(st.buffered_dropped, 4);
}

/* The guest's decrease_reservation: holes, then INVALIDATE from that vCPU on return. */
static void test_decrease_reservation_invalidates(void **state)
{
    struct fx *fx = *state;
    uint8_t b;

    assert_int_equal(mockhv_ram_read(fx->hv, 0x5000, &b, 1), 0);
    /* frames 5 and 6 become holes */
    assert_int_equal(mockhv_decrease_reservation(fx->hv, 1, 5, 2, T), 2);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x5000, &b, 1), -EFAULT);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x6fff, &b, 1), -EFAULT);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x7000, &b, 1), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    assert_int_equal(test_dm_get(&fx->dm, 0).type, IOREQ_TYPE_INVALIDATE);
    assert_int_equal(test_dm_get(&fx->dm, 0).count, 0);
    /* holes only: nothing removed, nothing sent */
    assert_int_equal(mockhv_decrease_reservation(fx->hv, 0, 5, 1, T), 0);
    assert_int_equal(mockhv_decrease_reservation(fx->hv, 0, (16 << 20) >> 12, 1, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    assert_int_equal(mockhv_decrease_reservation(fx->hv, 2, 5, 1, T), -EINVAL);
}

/* QEMU's VRAM: xc_domain_populate_physmap_exact adds RAM where there was none. */
static void test_populate_physmap(void **state)
{
    struct fx *fx = *state;
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xen_pfn_t vram[4] = {0x8000, 0x8001, 0x8002, 0x8003}, big[1] = {0x9000}, odd[1] = {0x9001};
    int err[4] = {1, 1, 1, 1};
    uint8_t b = 0;
    uint8_t *p;

    assert_non_null(xch);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x8000000, &b, 1), -EFAULT);
    assert_int_equal(xc_domain_populate_physmap_exact(xch, DOMID, 4, 0, 0, vram), 0);
    /* the device model maps it, the guest sees what it wrote */
    p = xenforeignmemory_map(fx->dm.fmem, DOMID, PROT_READ | PROT_WRITE, 4, vram, err);
    assert_non_null(p);
    assert_int_equal(err[0] | err[1] | err[2] | err[3], 0);
    assert_int_equal(p[0x3fff], 0);
    p[0x3fff] = 0xa5;
    assert_int_equal(mockhv_ram_read(fx->hv, 0x8003fff, &b, 1), 0);
    assert_int_equal(b, 0xa5);
    xenforeignmemory_unmap(fx->dm.fmem, p, 4);
    /* a 2 MiB extent must start on a 2 MiB frame; orders above 9 are refused */
    assert_int_equal(xc_domain_populate_physmap_exact(xch, DOMID, 1, 9, 0, odd), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xc_domain_populate_physmap_exact(xch, DOMID, 1, 10, 0, big), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xc_domain_populate_physmap_exact(xch, DOMID + 1, 4, 0, 0, vram), -1);
    assert_int_equal(errno, ESRCH);
    xc_interface_close(xch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_df_rep_selects_by_the_bytes_it_touches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_vp_eport_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidate_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_write_above_1mib_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decrease_reservation_invalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_populate_physmap, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
