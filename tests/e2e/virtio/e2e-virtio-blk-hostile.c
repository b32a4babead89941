/*
 * A guest driver that breaks the rules, against the real ioreqd: chains
 * built by hand (gvq_add_raw) that loop, point outside guest RAM, have no
 * or an empty status byte, a short header or data flowing the wrong way,
 * and indirect tables used without negotiation, nested, chained, mis-sized,
 * out of RAM; an available index far ahead of the ring, and a queue size
 * that is no power of two. Each case asserts the answer virtio-blk
 * documents (IOERR for a bad request, the head returned with nothing
 * written and DEVICE_NEEDS_RESET plus a configuration interrupt for a
 * broken chain), that the backing file was not touched, and that after the
 * driver's reset the disk serves again.
 *
 * Usage: e2e-virtio-blk-hostile IOREQD [TEST-NAME-PATTERN]
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vblk-fixture.h"

#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

#define VICTIM_SECTOR 77 /* what a broken write would have hit */

struct scratch {
    uint64_t hdr, data, status;
};

static struct scratch scratch(struct fx *f, uint32_t type, uint64_t sector)
{
    struct scratch s;
    struct {
        uint32_t type, reserved;
        uint64_t sector;
    } hdr = {.type = type, .sector = sector};
    uint8_t fill[512], st = 0xee;

    memset(fill, 0xcc, sizeof(fill));
    assert_int_equal(garena_alloc(&f->arena, 16, 16, &s.hdr), 0);
    assert_int_equal(garena_alloc(&f->arena, 512, 512, &s.data), 0);
    assert_int_equal(garena_alloc(&f->arena, 1, 1, &s.status), 0);
    assert_int_equal(mockhv_ram_write(f->hv, s.hdr, &hdr, sizeof(hdr)), 0);
    assert_int_equal(mockhv_ram_write(f->hv, s.data, fill, sizeof(fill)), 0);
    assert_int_equal(mockhv_ram_write(f->hv, s.status, &st, 1), 0);
    return s;
}

/* Publishes the chain on queue 0 and returns the used length of its head. */
static uint32_t run_raw(struct fx *f, const struct gvq_raw_desc *d, unsigned n)
{
    struct gvq *vq = f->blk.queues[0].vq;
    int token;
    void *got;
    uint32_t len = 0xffffffff;
    int rc;

    assert_int_equal(gvq_add_raw(vq, d, n, &token), 0);
    assert_int_equal(gvq_kick(vq), 0);
    while ((rc = gvq_get(vq, &got, &len)) == -EAGAIN)
        assert_int_equal(gvq_wait(vq, TIMEOUT_MS), 0);
    assert_int_equal(rc, 0);
    assert_ptr_equal(got, &token);
    return len;
}

static uint8_t status_byte(struct fx *f, const struct scratch *s)
{
    uint8_t st;

    assert_int_equal(mockhv_ram_read(f->hv, s->status, &st, 1), 0);
    return st;
}

/* The configuration-change MSI a device sends when it sets NEEDS_RESET (2.1.2). */
static bool config_irq_since(struct fx *f, uint64_t seq)
{
    struct mockhv_irq_record r;
    uint32_t want = f->blk.dev.opts.msi_data_base + f->blk.dev.config_vector;

    for (uint64_t s = seq + 1; s <= mockhv_irq_last_seq(f->hv); s++)
        if (!mockhv_irq_get(f->hv, s, &r) && r.kind == MOCKHV_IRQ_MSI && r.msi_data == want)
            return true;
    return false;
}

/* The disk was not written, and serves normally once the driver reset it. */
static void expect_recovers(struct fx *f)
{
    uint8_t buf[512], want[512];
    uint8_t st = 0xff;

    file_read(f, VICTIM_SECTOR * 512, buf, sizeof(buf));
    initial_sectors(want, VICTIM_SECTOR, 1);
    assert_memory_equal(buf, want, sizeof(buf));
    if (gvblk_needs_reset(&f->blk) == 1)
        assert_int_equal(gvblk_reinit(&f->blk), 0);
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);
    expect_ok(gvblk_read(&f->blk, 0, VICTIM_SECTOR, buf, sizeof(buf), &st), st);
    assert_memory_equal(buf, want, sizeof(buf));
}

/* s: the request's scratch buffers, whose status byte must stay unwritten; NULL: none. */
static void expect_broken_chain(struct fx *f, const struct gvq_raw_desc *d, unsigned n,
                                const struct scratch *s)
{
    uint64_t seq = mockhv_irq_last_seq(f->hv);

    assert_int_equal(run_raw(f, d, n), 0);
    assert_int_equal(gvblk_needs_reset(&f->blk), 1);
    assert_true(config_irq_since(f, seq));
    if (s)
        assert_int_equal(status_byte(f, s), 0xee);
    expect_recovers(f);
}

/* A bad request, not a broken chain: IOERR in its status byte, no reset asked for. */
static void expect_ioerr(struct fx *f, const struct gvq_raw_desc *d, unsigned n,
                         const struct scratch *s)
{
    assert_int_equal(run_raw(f, d, n), 1);
    assert_int_equal(status_byte(f, s), GVBLK_S_IOERR);
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);
    expect_recovers(f);
}

static void test_looping_chain(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.data, .len = 512, .flags = F_WRITE | F_NEXT, .next = 0},
    };

    expect_broken_chain(f, d, 2, &s);
}

static void test_descriptor_next_is_itself(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.status, .len = 1, .flags = F_WRITE | F_NEXT, .next = 1},
    };

    expect_broken_chain(f, d, 2, &s);
}

static void test_next_out_of_ring(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 0xffff, .literal_next = true},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 2, &s);
}

static void test_buffer_outside_guest_ram(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = RAM + (1 << 20), .len = 512, .flags = F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 3, &s);
}

/* A buffer the device would write a terabyte past guest RAM. */
static void test_read_into_buffer_far_outside_ram(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = 1ull << 40, .len = 512, .flags = F_WRITE | F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 3, &s);
}

static void test_buffer_straddling_end_of_ram(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = RAM - 256, .len = 512, .flags = F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 3, &s);
}

static void test_no_status_byte(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.data, .len = 512},
    };

    expect_broken_chain(f, d, 2, &s);
}

/* The status buffer has length 0, and nothing else is device-writable. */
static void test_zero_length_status_buffer(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.status, .len = 0, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 2, &s);
}

static void test_short_header_is_ioerr(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 8, .flags = F_NEXT, .next = 1},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_ioerr(f, d, 2, &s);
}

static void test_read_into_device_readable_buffer(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.data, .len = 512, .flags = F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };
    uint8_t buf[512], fill[512];

    expect_ioerr(f, d, 3, &s);
    /* The device did not write into a buffer it may only read. */
    memset(fill, 0xcc, sizeof(fill));
    assert_int_equal(mockhv_ram_read(f->hv, s.data, buf, sizeof(buf)), 0);
    assert_memory_equal(buf, fill, sizeof(buf));
}

static void test_write_from_device_writable_buffer(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.data, .len = 512, .flags = F_WRITE | F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_ioerr(f, d, 3, &s);
}

static void test_unaligned_length_is_ioerr(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.data, .len = 300, .flags = F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_ioerr(f, d, 3, &s);
}

/* An available index far ahead of anything the ring could hold (2.7.6): nothing is used. */
static void test_avail_idx_far_ahead(void **state)
{
    struct fx *f = *state;
    struct gvq *vq = f->blk.queues[1].vq;
    uint64_t seq = mockhv_irq_last_seq(f->hv);
    uint16_t used = 0xffff;

    assert_int_equal(gvq_set_avail_idx_raw(vq, (uint16_t)(vq->size + 5)), 0);
    assert_int_equal(gvq_notify(vq), 0);
    assert_int_equal(gvirtio_wait_status(&f->blk.dev, GVIRTIO_S_NEEDS_RESET, TIMEOUT_MS), 0);
    assert_int_equal(gvq_used_idx(vq, &used), 0);
    assert_int_equal(used, 0);
    assert_true(config_irq_since(f, seq));
    expect_recovers(f);
}

/* Queue 0 set up by hand with 48 entries (2.7: a power of two): enabling it is refused. */
static void test_queue_size_not_power_of_two(void **state)
{
    struct fx *f = *state;
    struct gvirtio *d = &f->blk.dev;
    uint64_t enabled = 0xffff;

    assert_int_equal(gvirtio_set_status(d, 0), 0);
    assert_int_equal(gvirtio_set_status(d, GVIRTIO_S_ACKNOWLEDGE | GVIRTIO_S_DRIVER), 0);
    assert_int_equal(gvirtio_negotiate(d, 0), 0);
    assert_int_equal(gvirtio_common_write(d, GVIRTIO_COMMON_Q_SELECT, 2, 0), 0);
    assert_int_equal(gvirtio_common_write(d, GVIRTIO_COMMON_Q_SIZE, 2, 48), 0);
    assert_int_equal(gvirtio_common_write(d, GVIRTIO_COMMON_Q_ENABLE, 2, 1), 0);
    assert_int_equal(gvirtio_wait_status(d, GVIRTIO_S_NEEDS_RESET, TIMEOUT_MS), 0);
    assert_int_equal(gvirtio_common_read(d, GVIRTIO_COMMON_Q_ENABLE, 2, &enabled), 0);
    assert_int_equal(enabled, 0);
    expect_recovers(f);
}

/* Writes an indirect table of n entries (next fields index the table) into guest RAM. */
static uint64_t put_table(struct fx *f, const struct gvq_raw_desc *d, unsigned n)
{
    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
    } e;
    uint64_t table;

    assert_int_equal(garena_alloc(&f->arena, 16 * (uint64_t)n, 16, &table), 0);
    for (unsigned i = 0; i < n; i++) {
        e.addr = d[i].addr;
        e.len = d[i].len;
        e.flags = d[i].flags;
        e.next = d[i].next;
        assert_int_equal(mockhv_ram_write(f->hv, table + 16 * (uint64_t)i, &e, sizeof(e)), 0);
    }
    return table;
}

/* A well-formed IN request in a table: only the head descriptor varies. */
static uint64_t good_table(struct fx *f, struct scratch *s)
{
    const struct gvq_raw_desc t[] = {
        {.addr = s->hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s->data, .len = 512, .flags = F_WRITE | F_NEXT, .next = 2},
        {.addr = s->status, .len = 1, .flags = F_WRITE},
    };

    return put_table(f, t, 3);
}

static void test_indirect_not_negotiated(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = good_table(f, &s), .len = 48, .flags = F_INDIRECT},
    };

    assert_false(gvirtio_has(&f->blk.dev, GVIRTIO_F_INDIRECT_DESC));
    expect_broken_chain(f, d, 1, &s);
}

/* The same table is fine as the head of a chain once negotiated: the control case. */
static void test_indirect_good_table_reads(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = good_table(f, &s), .len = 48, .flags = F_INDIRECT},
    };
    uint8_t buf[512], want[512];

    assert_true(gvirtio_has(&f->blk.dev, GVIRTIO_F_INDIRECT_DESC));
    assert_int_equal(run_raw(f, d, 1), 513);
    assert_int_equal(status_byte(f, &s), GVBLK_S_OK);
    assert_int_equal(mockhv_ram_read(f->hv, s.data, buf, sizeof(buf)), 0);
    initial_sectors(want, VICTIM_SECTOR, 1);
    assert_memory_equal(buf, want, sizeof(buf));
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);
}

static void test_indirect_inside_indirect(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc inner[] = {
        {.addr = good_table(f, &s), .len = 48, .flags = F_INDIRECT},
    };
    const struct gvq_raw_desc d[] = {
        {.addr = put_table(f, inner, 1), .len = 16, .flags = F_INDIRECT},
    };

    expect_broken_chain(f, d, 1, &s);
}

static void test_indirect_with_next(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = good_table(f, &s), .len = 48, .flags = F_INDIRECT | F_NEXT, .next = 1},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 2, &s);
}

static void test_indirect_table_length_not_multiple_of_16(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = good_table(f, &s), .len = 40, .flags = F_INDIRECT},
    };

    expect_broken_chain(f, d, 1, &s);
}

static void test_indirect_table_outside_guest_ram(void **state)
{
    struct fx *f = *state;
    const struct gvq_raw_desc d[] = {
        {.addr = RAM + (8 << 20), .len = 48, .flags = F_INDIRECT},
    };

    expect_broken_chain(f, d, 1, NULL);
}

static void test_indirect_next_past_table(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc t[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 3},
        {.addr = s.data, .len = 512, .flags = F_WRITE | F_NEXT, .next = 2},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };
    const struct gvq_raw_desc d[] = {
        {.addr = put_table(f, t, 3), .len = 48, .flags = F_INDIRECT},
    };

    expect_broken_chain(f, d, 1, &s);
}

static struct fx_cfg msix2 = {.vcpus = 2, .queues = 2, .irq = GVIRTIO_IRQ_MSIX};

static struct fx_cfg indirect2 = {
    .vcpus = 2, .queues = 2, .irq = GVIRTIO_IRQ_MSIX, .indirect = true};

#define T(fn)  cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &msix2)
#define TI(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &indirect2)

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        T(test_looping_chain),
        T(test_descriptor_next_is_itself),
        T(test_next_out_of_ring),
        T(test_buffer_outside_guest_ram),
        T(test_read_into_buffer_far_outside_ram),
        T(test_buffer_straddling_end_of_ram),
        T(test_no_status_byte),
        T(test_zero_length_status_buffer),
        T(test_short_header_is_ioerr),
        T(test_read_into_device_readable_buffer),
        T(test_write_from_device_writable_buffer),
        T(test_unaligned_length_is_ioerr),
        T(test_avail_idx_far_ahead),
        T(test_queue_size_not_power_of_two),
        T(test_indirect_not_negotiated),
        TI(test_indirect_good_table_reads),
        TI(test_indirect_inside_indirect),
        TI(test_indirect_with_next),
        TI(test_indirect_table_length_not_multiple_of_16),
        TI(test_indirect_table_outside_guest_ram),
        TI(test_indirect_next_past_table),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s IOREQD [TEST-PATTERN]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    if (argc > 2)
        cmocka_set_test_filter(argv[2]);
    return cmocka_run_group_tests_name("e2e-virtio-blk-hostile", tests, NULL, NULL);
}
