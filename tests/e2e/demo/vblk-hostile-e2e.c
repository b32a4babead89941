/*
 * A guest driver that breaks the rules, against the real ioreqd: chains
 * built by hand (gvq_add_raw) that loop, point outside guest RAM, have no
 * status byte, a short header or data flowing the wrong way, and indirect
 * tables used without negotiation, nested, chained, mis-sized, out of RAM. Each case
 * asserts the answer virtio-blk documents (IOERR for a bad request, the
 * head returned with nothing written and DEVICE_NEEDS_RESET plus a
 * configuration interrupt for a broken chain), that the backing file was
 * not touched, and that after the driver's reset the disk serves again.
 *
 * Usage: vblk-hostile-e2e IOREQD [TEST-NAME-PATTERN]
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

static void expect_broken_chain(struct fx *f, const struct gvq_raw_desc *d, unsigned n)
{
    uint64_t seq = mockhv_irq_last_seq(f->hv);

    assert_int_equal(run_raw(f, d, n), 0);
    assert_int_equal(gvblk_needs_reset(&f->blk), 1);
    assert_true(config_irq_since(f, seq));
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

    expect_broken_chain(f, d, 2);
}

static void test_next_out_of_ring(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 0xffff, .literal_next = true},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 2);
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

    expect_broken_chain(f, d, 3);
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

    expect_broken_chain(f, d, 3);
}

static void test_no_status_byte(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 16, .flags = F_NEXT, .next = 1},
        {.addr = s.data, .len = 512},
    };

    expect_broken_chain(f, d, 2);
}

static void test_short_header_is_ioerr(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_OUT, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = s.hdr, .len = 8, .flags = F_NEXT, .next = 1},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    assert_int_equal(run_raw(f, d, 2), 1);
    assert_int_equal(status_byte(f, &s), GVBLK_S_IOERR);
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);
    expect_recovers(f);
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

    assert_int_equal(run_raw(f, d, 3), 1);
    assert_int_equal(status_byte(f, &s), GVBLK_S_IOERR);
    memset(fill, 0xcc, sizeof(fill));
    assert_int_equal(mockhv_ram_read(f->hv, s.data, buf, sizeof(buf)), 0);
    assert_memory_equal(buf, fill, sizeof(buf));
    expect_recovers(f);
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

    assert_int_equal(run_raw(f, d, 3), 1);
    assert_int_equal(status_byte(f, &s), GVBLK_S_IOERR);
    expect_recovers(f);
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

    assert_int_equal(run_raw(f, d, 3), 1);
    assert_int_equal(status_byte(f, &s), GVBLK_S_IOERR);
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
    expect_broken_chain(f, d, 1);
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

    expect_broken_chain(f, d, 1);
}

static void test_indirect_with_next(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = good_table(f, &s), .len = 48, .flags = F_INDIRECT | F_NEXT, .next = 1},
        {.addr = s.status, .len = 1, .flags = F_WRITE},
    };

    expect_broken_chain(f, d, 2);
}

static void test_indirect_table_length_not_multiple_of_16(void **state)
{
    struct fx *f = *state;
    struct scratch s = scratch(f, GVBLK_T_IN, VICTIM_SECTOR);
    const struct gvq_raw_desc d[] = {
        {.addr = good_table(f, &s), .len = 40, .flags = F_INDIRECT},
    };

    expect_broken_chain(f, d, 1);
}

static void test_indirect_table_outside_guest_ram(void **state)
{
    struct fx *f = *state;
    const struct gvq_raw_desc d[] = {
        {.addr = RAM + (8 << 20), .len = 48, .flags = F_INDIRECT},
    };

    expect_broken_chain(f, d, 1);
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

    expect_broken_chain(f, d, 1);
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
        T(test_next_out_of_ring),
        T(test_buffer_outside_guest_ram),
        T(test_buffer_straddling_end_of_ram),
        T(test_no_status_byte),
        T(test_short_header_is_ioerr),
        T(test_read_into_device_readable_buffer),
        T(test_write_from_device_writable_buffer),
        T(test_unaligned_length_is_ioerr),
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
    return cmocka_run_group_tests_name("vblk-hostile-e2e", tests, NULL, NULL);
}
