/*
 * Hostile requests at the ioreq layer: whatever a slot or the buffered ring
 * holds, ioreqd answers with the exact safe outcome (all-ones for reads,
 * writes dropped, the slot handed back as IORESP_READY), counts what was
 * malformed, and serves the next normal request.
 *
 * Usage: hostile-ioreq /path/to/ioreqd [name-pattern]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hostile-fixture.h"

#define SCR_PORT (HFX_COM1 + HFX_SCR)
#define BUF      0x100000ull /* guest RAM the rep cases use */

static ioreq_t mk(uint8_t type, uint8_t dir, uint32_t size, uint32_t count, uint64_t addr,
                  uint64_t data)
{
    return (ioreq_t){
        .type = type, .dir = dir, .size = size, .count = count, .addr = addr, .data = data};
}

static uint64_t malformed(struct hfx *fx)
{
    struct hfx_stats st;
    hfx_stats(fx, &st);
    return st.malformed;
}

/* The answered slot: handed back, flags as sent. */
static void answered(const ioreq_t *r, uint8_t type, uint8_t dir)
{
    assert_int_equal(r->state, STATE_IORESP_READY);
    assert_int_equal(r->type, type);
    assert_int_equal(r->dir, dir);
}

static struct hfx *up(void **state, const char *const *devs)
{
    struct hfx *fx = *state;

    hfx_start(fx, 2, devs);
    return fx;
}

/* ---- sizes ---- */

static const uint32_t bad_sizes[] = {0, 3, 5, 6, 7, 16, 0xffffffff};

static void test_size_pio_read(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_READ, bad_sizes[i], 1, SCR_PORT, 0x1234);
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PIO, IOREQ_READ);
        /* No size to mask with: the whole data field reads all-ones. */
        assert_int_equal(r.data, ~0ull);
    }
    /* 8 bytes is an MMIO size, never a port size. */
    ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 8, 1, SCR_PORT - 7, 0);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, ~0ull);
    assert_int_equal(malformed(fx), m0 + 8);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

static void test_size_pio_write(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, bad_sizes[i], 1, SCR_PORT, 0x11);
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PIO, IOREQ_WRITE);
        assert_int_equal(r.data, 0x11); /* a write's data is not touched */
    }
    assert_int_equal(malformed(fx), m0 + 7);
    /* Dropped: the scratch register still holds what it had. */
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

static void test_size_mmio(void **state)
{
    static const char *const devs[] = {"xen-platform,bdf=00:03.0", NULL};
    struct hfx *fx = up(state, devs);
    struct mockhv_pci_func fn[4];
    uint64_t m0, bar;

    assert_int_equal(mockhv_firmware_pci_init(fx->hv, 0, fn, 4, HFX_WAIT_MS), 1);
    bar = fn[0].bars[1].base;
    assert_true(bar != 0);
    m0 = malformed(fx);
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        ioreq_t r = mk(IOREQ_TYPE_COPY, IOREQ_READ, bad_sizes[i], 1, bar + 0x100, 0);
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_COPY, IOREQ_READ);
        assert_int_equal(r.data, ~0ull);
    }
    /* The same address with a valid size reads what the BAR holds (zero). */
    ioreq_t r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 8, 1, bar + 0x100, 0x55);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, 0);
    assert_int_equal(malformed(fx), m0 + 7);
    hfx_finish(fx);
}

static void test_size_pci_config(void **state)
{
    static const char *const devs[] = {"host-bridge", NULL};
    struct hfx *fx = up(state, devs);
    uint64_t m0 = malformed(fx);

    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        ioreq_t r = mk(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, bad_sizes[i], 1, 0, 0);
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PCI_CONFIG, IOREQ_READ);
        assert_int_equal(r.data, ~0ull);
        r = mk(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, bad_sizes[i], 1, 0x04, 0);
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE);
    }
    /* 8 bytes is no config size either. */
    ioreq_t r = mk(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, 8, 1, 0, 0);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, ~0ull);
    assert_int_equal(malformed(fx), m0 + 15);
    assert_int_equal(hfx_cfg_rd(fx, 0, 0, 4), 0x12378086);
    hfx_finish(fx);
}

/* ---- count ---- */

static void test_count_zero(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);
    ioreq_t r;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 0, SCR_PORT, 0x99);
    hfx_raw(fx, &r);
    answered(&r, IOREQ_TYPE_PIO, IOREQ_WRITE);
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 0, SCR_PORT, 0);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, 0xff);
    r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 4, 0, 0xfee00000, 0);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, 0xffffffff);
    assert_int_equal(malformed(fx), m0 + 3);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

static void test_count_huge(void **state)
{
    struct hfx *fx = up(state, NULL);
    static uint8_t pat[8192], back[8192];
    uint64_t m0;
    ioreq_t r;

    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (uint8_t)(i * 13 + 1);
    hfx_ram_wr(fx, BUF, pat, sizeof(pat));
    hfx_out(fx, SCR_PORT, 1, 0x3c);
    m0 = malformed(fx);
    /* rep ins of 2^32-1 items, 4097 items: refused before touching RAM. */
    static const uint32_t counts[] = {0xffffffff, 0x80000000, 4097};
    for (size_t i = 0; i < 3; i++) {
        r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, counts[i], SCR_PORT, BUF);
        r.data_is_ptr = 1;
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PIO, IOREQ_READ);
        assert_int_equal(r.data, BUF); /* the pointer is not replaced by all-ones */
        r = mk(IOREQ_TYPE_COPY, IOREQ_WRITE, 8, counts[i], 0xfee00000, 0);
        hfx_raw(fx, &r);
        r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, counts[i], SCR_PORT, 0x77);
        hfx_raw(fx, &r);
    }
    assert_int_equal(malformed(fx), m0 + 9);
    hfx_ram_rd(fx, BUF, back, sizeof(back));
    assert_memory_equal(back, pat, sizeof(pat));
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    /* The bound itself is served: 4096 one-byte items fill exactly a page. */
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 4096, SCR_PORT, BUF);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    hfx_ram_rd(fx, BUF, back, sizeof(back));
    for (size_t i = 0; i < 4096; i++)
        assert_int_equal(back[i], 0x3c);
    assert_memory_equal(back + 4096, pat + 4096, 4096);
    assert_int_equal(malformed(fx), m0 + 9);
    hfx_finish(fx);
}

/* ---- data_is_ptr outside guest RAM ---- */

static const uint64_t bad_gpas[] = {
    HFX_RAM,               /* first frame past RAM */
    0xfee00000ull,         /* the MSI window, not RAM */
    1ull << 40,            /* far beyond */
    0xfffffffffffff000ull, /* the last frame of the address space */
};

static void test_ptr_unmapped_read(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < 4; i++) {
        ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 4, 4, HFX_COM1 + 4, bad_gpas[i]);
        r.data_is_ptr = 1;
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PIO, IOREQ_READ);
        assert_int_equal(r.data, bad_gpas[i]);
    }
    assert_int_equal(malformed(fx), m0 + 4);
    hfx_finish(fx);
}

static void test_ptr_unmapped_write(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < 4; i++) {
        ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 2, SCR_PORT, bad_gpas[i]);
        r.data_is_ptr = 1;
        hfx_raw(fx, &r);
        answered(&r, IOREQ_TYPE_PIO, IOREQ_WRITE);
        r = mk(IOREQ_TYPE_COPY, IOREQ_WRITE, 8, 2, 0xfee00000, bad_gpas[i]);
        r.data_is_ptr = 1;
        hfx_raw(fx, &r);
    }
    assert_int_equal(malformed(fx), m0 + 8);
    /* Nothing was read from nowhere into the device. */
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

/* A buffer that starts in RAM and runs off its end: the items in RAM are done, then it stops. */
static void test_ptr_partial(void **state)
{
    struct hfx *fx = up(state, NULL);
    const uint8_t tail[4] = {0xa1, 0xa2, 0xa3, 0xa4};
    uint8_t back[4];
    uint64_t m0 = malformed(fx);
    ioreq_t r;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    hfx_ram_wr(fx, HFX_RAM - 4, "\0\0\0\0", 4);
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 8, SCR_PORT, HFX_RAM - 4);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    hfx_ram_rd(fx, HFX_RAM - 4, back, 4);
    assert_memory_equal(back, "\x3c\x3c\x3c\x3c", 4);

    hfx_ram_wr(fx, HFX_RAM - 4, tail, 4);
    r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 8, SCR_PORT, HFX_RAM - 4);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    /* The fourth item was the last one in RAM. */
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0xa4);
    assert_int_equal(malformed(fx), m0 + 2);
    hfx_finish(fx);
}

static void test_ptr_wraps(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);
    ioreq_t r;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    /* Upwards past 2^64, and downwards (df) below 0. */
    r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 4, 4, SCR_PORT - 3, 0xfffffffffffffff8ull);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 2, 16, SCR_PORT - 1, 6);
    r.data_is_ptr = 1;
    r.df = 1;
    hfx_raw(fx, &r);
    answered(&r, IOREQ_TYPE_PIO, IOREQ_READ);
    assert_int_equal(r.data, 6);
    assert_int_equal(malformed(fx), m0 + 2);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

/* ---- rep and df ---- */

static void test_rep_page_cross(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint8_t buf[16], want[16];
    uint64_t m0 = malformed(fx);
    ioreq_t r;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    memset(buf, 0, sizeof(buf));
    hfx_ram_wr(fx, BUF + 0xff8, buf, sizeof(buf));
    /* rep insb over a page boundary: every byte, both pages. */
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 16, SCR_PORT, BUF + 0xff8);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    memset(want, 0x3c, sizeof(want));
    hfx_ram_rd(fx, BUF + 0xff8, buf, sizeof(buf));
    assert_memory_equal(buf, want, sizeof(buf));
    /* rep outsw over the boundary: the last item is what stays. */
    for (unsigned i = 0; i < 16; i++)
        buf[i] = (uint8_t)(0x80 + i);
    hfx_ram_wr(fx, BUF + 0x1ff8, buf, sizeof(buf));
    r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 2, 8, SCR_PORT - 1, BUF + 0x1ff8);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x8f);
    assert_int_equal(malformed(fx), m0);
    hfx_finish(fx);
}

/* rep movs over the end of a BAR: items inside read the BAR, items past or across it read all-ones.
 */
static void test_rep_range_cross(void **state)
{
    static const char *const devs[] = {"xen-platform,bdf=00:03.0", NULL};
    struct hfx *fx = up(state, devs);
    struct mockhv_pci_func fn[4];
    uint8_t buf[16];
    uint64_t end;
    struct hfx_stats s0, s1;
    ioreq_t r;

    assert_int_equal(mockhv_firmware_pci_init(fx->hv, 0, fn, 4, HFX_WAIT_MS), 1);
    end = fn[0].bars[1].base + fn[0].bars[1].size;
    hfx_stats(fx, &s0);
    memset(buf, 0x11, sizeof(buf));
    hfx_ram_wr(fx, BUF, buf, sizeof(buf));
    r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 4, 4, end - 8, BUF);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    hfx_ram_rd(fx, BUF, buf, sizeof(buf));
    assert_memory_equal(buf, "\0\0\0\0\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff", 16);
    /* An item straddling the end is no access of that range. */
    memset(buf, 0x11, sizeof(buf));
    hfx_ram_wr(fx, BUF, buf, sizeof(buf));
    r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 4, 2, end - 6, BUF);
    r.data_is_ptr = 1;
    hfx_raw(fx, &r);
    hfx_ram_rd(fx, BUF, buf, 8);
    assert_memory_equal(buf, "\0\0\0\0\xff\xff\xff\xff", 8);
    /* Downwards over the start of the BAR. */
    r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 8, 2, fn[0].bars[1].base, BUF + 8);
    r.data_is_ptr = 1;
    r.df = 1;
    hfx_raw(fx, &r);
    hfx_ram_rd(fx, BUF, buf, 16);
    assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0", 16);
    hfx_stats(fx, &s1);
    assert_int_equal(s1.unclaimed, s0.unclaimed + 3);
    assert_int_equal(s1.malformed, s0.malformed);
    hfx_finish(fx);
}

static void test_rep_df_wrap(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint8_t buf[8];
    uint64_t m0;
    ioreq_t r;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    m0 = malformed(fx);
    /* MMIO addresses stepping down through 0. */
    r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 4, 8, 0x10, 0);
    r.df = 1;
    hfx_raw(fx, &r);
    assert_int_equal(r.data, 0xffffffff);
    r = mk(IOREQ_TYPE_COPY, IOREQ_WRITE, 8, 3, 8, 0);
    r.df = 1;
    hfx_raw(fx, &r);
    /* Upwards through 2^64. */
    r = mk(IOREQ_TYPE_COPY, IOREQ_READ, 8, 2, 0xfffffffffffffff8ull, 0);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, ~0ull);
    assert_int_equal(malformed(fx), m0 + 3);
    /* A df rep that stays above 0 is served: rep outsb backwards ends on the lowest byte. */
    for (unsigned i = 0; i < 8; i++)
        buf[i] = (uint8_t)(0x40 + i);
    hfx_ram_wr(fx, BUF, buf, 8);
    r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 8, SCR_PORT, BUF + 7);
    r.data_is_ptr = 1;
    r.df = 1;
    hfx_raw(fx, &r);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x40);
    /* Exactly down to address 0 is not a wrap. */
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 8, SCR_PORT, 7);
    r.data_is_ptr = 1;
    r.df = 1;
    hfx_raw(fx, &r);
    hfx_ram_rd(fx, 0, buf, 8);
    assert_memory_equal(buf, "\x40\x40\x40\x40\x40\x40\x40\x40", 8);
    assert_int_equal(malformed(fx), m0 + 3);
    hfx_finish(fx);
}

/* Port numbers past 0xffff and accesses running past the last port. */
static void test_rep_port_range(void **state)
{
    struct hfx *fx = up(state, NULL);
    uint64_t m0 = malformed(fx);
    static const uint64_t ports[] = {0x10000, 0xfffe, 0x1000003f8ull, ~0ull};
    ioreq_t r;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < 4; i++) {
        r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 4, 1, ports[i], 0);
        hfx_raw(fx, &r);
        assert_int_equal(r.data, 0xffffffff);
        r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 4, 1, ports[i], 0);
        hfx_raw(fx, &r);
    }
    assert_int_equal(malformed(fx), m0 + 8);
    /* The UART's port with garbage above bit 16 is not the UART. */
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

/* ---- request types ---- */

static void test_type_unknown(void **state)
{
    struct hfx *fx = up(state, NULL);
    static const uint8_t types[] = {3, 4, 5, 6, 9, 10, 0x7f, 0x80, 0xff};
    uint64_t m0 = malformed(fx);

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < sizeof(types); i++) {
        ioreq_t r = mk(types[i], IOREQ_READ, 1, 1, SCR_PORT, 0x12);
        hfx_raw(fx, &r);
        answered(&r, types[i], IOREQ_READ);
        assert_int_equal(r.data, 0xff);
        r = mk(types[i], IOREQ_WRITE, 1, 1, SCR_PORT, 0x12);
        hfx_raw(fx, &r);
        answered(&r, types[i], IOREQ_WRITE);
        assert_int_equal(r.data, 0x12);
    }
    assert_int_equal(malformed(fx), m0 + 2 * sizeof(types));
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

/* INVALIDATE and TIMEOFFSET with garbage in every other field are still answered. */
static void test_type_special_garbage(void **state)
{
    struct hfx *fx = up(state, NULL);
    struct hfx_stats st;
    ioreq_t r;

    r = mk(IOREQ_TYPE_INVALIDATE, IOREQ_READ, 16, 0xffffffff, ~0ull, 0x42);
    r.data_is_ptr = 1;
    r.df = 1;
    hfx_raw(fx, &r);
    answered(&r, IOREQ_TYPE_INVALIDATE, IOREQ_READ);
    r = mk(IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 0, 0, ~0ull, (uint64_t)-3600);
    hfx_raw(fx, &r);
    answered(&r, IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE);
    hfx_stats(fx, &st);
    assert_int_equal(st.timeoffset, -3600);
    /* Guest memory still works after the flush. */
    r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 1, SCR_PORT, BUF);
    r.data_is_ptr = 1;
    hfx_out(fx, SCR_PORT, 1, 0x6b);
    hfx_raw(fx, &r);
    uint8_t b;
    hfx_ram_rd(fx, BUF, &b, 1);
    assert_int_equal(b, 0x6b);
    hfx_finish(fx);
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/*
 * Random slots: every field drawn from values near the edges (sizes 0-16,
 * counts near the bound and 2^32-1, addresses on the UART, the PCI window,
 * RAM's end, 2^64), with a fixed seed (HOSTILE_SEED for others). Each one
 * is answered, and the daemon serves normally after the lot.
 */
static void test_type_random_storm(void **state)
{
    static const char *const devs[] = {"host-bridge,cf8=on", "xen-platform,bdf=00:03.0", NULL};
    static const uint32_t counts[] = {0, 1, 2, 3, 4095, 4096, 4097, 0xffffffff};
    static const uint64_t addrs[] = {SCR_PORT,      HFX_COM1, 0xcf8,  0xcfc,
                                     0x10,          0x12,     0xffff, 0x10000,
                                     0xfee00000ull, 0,        ~0ull,  0x1800000000ull};
    static const uint64_t ptrs[] = {BUF, BUF + 0xfff, HFX_RAM - 1, HFX_RAM,
                                    0,   7,           ~0ull - 6,   1ull << 40};
    struct hfx *fx = up(state, devs);
    const char *seed = getenv("HOSTILE_SEED");
    uint64_t x = seed ? strtoull(seed, NULL, 0) | 1 : 0x2545f4914f6cdd1dull;

    for (unsigned i = 0; i < 3000; i++) {
        uint64_t r = rnd(&x), d = rnd(&x);
        ioreq_t q = {
            .type = (uint8_t)((r & 7) < 6    ? (r & 1)
                              : (r >> 3) & 3 ? 2
                                             : (uint8_t)(r >> 8)),
            .dir = (r >> 16) & 1,
            .size = (uint32_t)((r >> 17) % 17),
            .count = counts[(r >> 22) % 8],
            .df = (r >> 25) & 1,
            .data_is_ptr = (r >> 26) & 1,
        };
        q.addr = q.type == IOREQ_TYPE_PCI_CONFIG ? (d & 0xffff00000fffull) : addrs[(r >> 27) % 12];
        q.data = q.data_is_ptr ? ptrs[(r >> 31) % 8] : d;
        hfx_raw(fx, &q);
        assert_int_equal(q.state, STATE_IORESP_READY);
        if (i % 500 == 0)
            hfx_serving(fx);
    }
    hfx_finish(fx);
}

/* ---- slot state games ---- */

static void flip_loop(struct hfx *fx, uint8_t to)
{
    for (unsigned i = 0; i < 500; i++) {
        ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 1, SCR_PORT, i & 0xff), cur;

        hfx_slot(fx, &cur);
        r.vp_eport = cur.vp_eport;
        r.state = STATE_IOREQ_READY;
        assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, HFX_RAW_VCPU, &r, sizeof(r), true),
                         0);
        /* Taken back at once, before or while ioreqd looks at it. */
        hfx_slot_state(fx, to, (i & 1) != 0);
    }
    /* A request that is waited for: everything before it on this port is done. */
    ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 1, SCR_PORT, 0xc3);
    hfx_raw(fx, &r);
    answered(&r, IOREQ_TYPE_PIO, IOREQ_WRITE);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0xc3);
}

static void test_state_flip_none(void **state)
{
    struct hfx *fx = up(state, NULL);

    flip_loop(fx, STATE_IOREQ_NONE);
    hfx_finish(fx);
}

static void test_state_flip_resp(void **state)
{
    struct hfx *fx = up(state, NULL);

    flip_loop(fx, STATE_IORESP_READY);
    hfx_finish(fx);
}

static void test_state_flip_inprocess(void **state)
{
    struct hfx *fx = up(state, NULL);

    flip_loop(fx, STATE_IOREQ_INPROCESS);
    hfx_finish(fx);
}

struct spurious_wait {
    uint64_t want;
};

static bool spurious_reached(struct hfx *fx, void *arg)
{
    struct spurious_wait *w = arg;
    struct hfx_stats st;

    hfx_stats(fx, &st);
    return st.spurious >= w->want;
}

/* States that hold no request: the slot is left exactly as it is. */
static void test_state_not_ready(void **state)
{
    struct hfx *fx = up(state, NULL);
    static const uint8_t states[] = {
        STATE_IOREQ_NONE, STATE_IOREQ_INPROCESS, STATE_IORESP_READY, 4, 7, 15};
    struct hfx_stats s0;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (size_t i = 0; i < sizeof(states); i++) {
        ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_WRITE, 1, 1, SCR_PORT, 0x99), cur;
        struct spurious_wait w;

        hfx_stats(fx, &s0);
        hfx_slot(fx, &cur);
        r.vp_eport = cur.vp_eport;
        r.state = states[i];
        assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, HFX_RAW_VCPU, &r, sizeof(r), true),
                         0);
        w.want = s0.spurious + 1;
        hfx_wait_until(fx, spurious_reached, &w, "spurious notification counted");
        hfx_slot(fx, &cur);
        assert_int_equal(cur.state, states[i]);
        assert_int_equal(cur.data, 0x99);
        hfx_slot_state(fx, STATE_IOREQ_NONE, false);
    }
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

/* ---- notification floods ---- */

static void test_flood_vcpu_notify(void **state)
{
    struct hfx *fx = up(state, NULL);
    struct hfx_stats s0, s1;
    ioreq_t cur;

    hfx_stats(fx, &s0);
    for (unsigned i = 0; i < 10000; i++)
        assert_int_equal(mockhv_raw_notify(fx->hv, fx->id, HFX_RAW_VCPU), 0);
    /* A waited-for request on the same port comes after the flood. */
    ioreq_t r = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 1, HFX_COM1 + 5, 0);
    hfx_raw(fx, &r);
    assert_int_equal(r.data, 0x60);
    hfx_slot(fx, &cur);
    assert_int_equal(cur.state, STATE_IOREQ_NONE);
    hfx_stats(fx, &s1);
    /* Pending events coalesce: between one and 10000 were seen, none answered anything. */
    assert_true(s1.spurious > s0.spurious);
    assert_true(s1.spurious <= s0.spurious + 10001);
    assert_int_equal(s1.malformed, s0.malformed);
    assert_int_equal(s1.sync, s0.sync + 1);
    hfx_finish(fx);
}

static void test_flood_buffered_notify(void **state)
{
    struct hfx *fx = up(state, NULL);
    struct hfx_stats s0, s1;
    uint32_t rp, wp;

    hfx_stats(fx, &s0);
    for (unsigned i = 0; i < 10000; i++) {
        assert_int_equal(mockhv_raw_notify(fx->hv, fx->id, ~0u), 0);
        if (i % 1000 == 999)
            assert_int_equal(mockhv_raw_notify(fx->hv, fx->id, 0), 0);
    }
    hfx_serving(fx);
    hfx_stats(fx, &s1);
    assert_int_equal(s1.buffered, s0.buffered);
    assert_int_equal(s1.malformed, s0.malformed);
    assert_int_equal(mockhv_raw_buf_pointers_get(fx->hv, fx->id, &rp, &wp), 0);
    assert_int_equal(rp, wp);
    hfx_finish(fx);
}

/*
 * Every one of 128 vCPUs raises a request at once, each notified twice,
 * with nobody waiting in between: each slot is answered exactly once, with
 * its own data, and the answers are the requests' own.
 */
static void test_flood_all_vcpus(void **state)
{
    struct hfx *fx = *state;
    enum { NR = 128 };
    struct hfx_stats s0, s1;

    hfx_start(fx, NR, NULL);
    hfx_out(fx, SCR_PORT, 1, 0x3c);
    hfx_stats(fx, &s0);
    for (unsigned v = 1; v < NR; v++) {
        ioreq_t cur, q = mk(IOREQ_TYPE_PIO, IOREQ_READ, 1, 1, SCR_PORT, 0x1000 + v);

        assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->id, v, &cur, sizeof(cur)), 0);
        q.vp_eport = cur.vp_eport;
        q.state = STATE_IOREQ_READY;
        assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, v, &q, sizeof(q), true), 0);
        assert_int_equal(mockhv_raw_notify(fx->hv, fx->id, v), 0);
    }
    for (unsigned v = 1; v < NR; v++) {
        ioreq_t q;

        assert_int_equal(mockhv_raw_slot_wait(fx->hv, fx->id, v, STATE_IORESP_READY, HFX_WAIT_MS),
                         0);
        assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->id, v, &q, sizeof(q)), 0);
        assert_int_equal(q.data, 0x3c);
        q.state = STATE_IOREQ_NONE;
        assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, v, &q, sizeof(q), false), 0);
    }
    hfx_serving(fx);
    hfx_stats(fx, &s1);
    /* 127 raw requests, the canary's two, the raw vCPU's canary read; the rest spurious. */
    assert_int_equal(s1.sync, s0.sync + (NR - 1) + 3);
    assert_true(s1.spurious >= s0.spurious);
    assert_int_equal(s1.malformed, s0.malformed);
    for (unsigned v = 0; v < NR; v += 9) {
        uint32_t x = 0;
        assert_int_equal(mockhv_pio_in(fx->hv, v, SCR_PORT, 1, &x, HFX_WAIT_MS), 0);
        assert_int_equal(x, fx->scr);
    }
    hfx_finish(fx);
}

/* ---- buffered ring ---- */

static void buf_entry(struct hfx *fx, uint32_t ptr, uint8_t type, uint8_t dir, uint8_t size_log2,
                      uint32_t addr, uint32_t data)
{
    buf_ioreq_t e = {
        .type = type, .dir = dir, .size = size_log2, .addr = addr & 0xfffff, .data = data};

    assert_int_equal(
        mockhv_raw_buf_slot_write(fx->hv, fx->id, ptr % IOREQ_BUFFER_SLOT_NUM, &e, sizeof(e)), 0);
}

struct ptr_wait {
    uint32_t rp;
};

static bool rp_reached(struct hfx *fx, void *arg)
{
    struct ptr_wait *w = arg;
    uint32_t rp, wp;

    return mockhv_raw_buf_pointers_get(fx->hv, fx->id, &rp, &wp) == 0 && rp == w->rp;
}

/* Sets the pointers, notifies, waits until ioreqd moved read_pointer to `expect_rp`. */
static void buf_run(struct hfx *fx, uint32_t rp, uint32_t wp, uint32_t expect_rp)
{
    struct ptr_wait w = {.rp = expect_rp};

    assert_int_equal(mockhv_raw_buf_pointers(fx->hv, fx->id, rp, wp, true), 0);
    hfx_wait_until(fx, rp_reached, &w, "read_pointer moved");
}

/* After raw pointer games, hand the ring back to the mock in a state it can use. */
static void buf_reset(struct hfx *fx)
{
    assert_int_equal(mockhv_raw_buf_pointers(fx->hv, fx->id, 0, 0, false), 0);
}

/*
 * A ring full of writes the guest must never see, then pointer pairs
 * {read, write} that ioreqd must refuse whole: each one is counted as
 * malformed, read_pointer is set to write_pointer, and nothing is delivered.
 */
static void buf_refused(void **state, const uint32_t (*ptrs)[2], size_t n)
{
    struct hfx *fx = up(state, NULL);
    struct hfx_stats s0, s1;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    for (uint32_t i = 0; i < IOREQ_BUFFER_SLOT_NUM; i++)
        buf_entry(fx, i, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, SCR_PORT, 0x77);
    hfx_stats(fx, &s0);
    for (size_t i = 0; i < n; i++)
        buf_run(fx, ptrs[i][0], ptrs[i][1], ptrs[i][1]);
    hfx_stats(fx, &s1);
    /* Nothing in a ring with corrupt pointers is believed. */
    assert_int_equal(s1.malformed, s0.malformed + n);
    assert_int_equal(s1.buffered, s0.buffered);
    buf_reset(fx);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x3c);
    hfx_finish(fx);
}

static void test_buf_write_far_ahead(void **state)
{
    static const uint32_t ptrs[][2] = {
        {0, 100000},
        {5, 5 + IOREQ_BUFFER_SLOT_NUM + 1},
        {0, 0xffffffff},
    };

    buf_refused(state, ptrs, sizeof(ptrs) / sizeof(ptrs[0]));
}

static void test_buf_read_ahead(void **state)
{
    static const uint32_t ptrs[][2] = {
        {60, 50},
        {1, 0},
        {0x80000000u, 0x10},
    };

    buf_refused(state, ptrs, sizeof(ptrs) / sizeof(ptrs[0]));
}

/* Pointers that wrap at 2^32 with a sane distance between them: delivered in order. */
static void test_buf_pointer_wrap(void **state)
{
    struct hfx *fx = up(state, NULL);
    struct hfx_stats s0, s1;
    const uint32_t rp = 0xfffffffeu;

    hfx_stats(fx, &s0);
    for (uint32_t i = 0; i < 4; i++)
        buf_entry(fx, rp + i, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, SCR_PORT, 0xd0 + i);
    buf_run(fx, rp, rp + 4, rp + 4);
    hfx_stats(fx, &s1);
    assert_int_equal(s1.buffered, s0.buffered + 4);
    assert_int_equal(s1.malformed, s0.malformed);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0xd3);
    /* A full ring's worth right below the wrap. */
    for (uint32_t i = 0; i < IOREQ_BUFFER_SLOT_NUM; i++)
        buf_entry(fx, 0xffffff00u + i, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, SCR_PORT, i & 0xff);
    buf_run(fx, 0xffffff00u, 0xffffff00u + IOREQ_BUFFER_SLOT_NUM,
            0xffffff00u + IOREQ_BUFFER_SLOT_NUM);
    hfx_stats(fx, &s0);
    assert_int_equal(s0.buffered, s1.buffered + IOREQ_BUFFER_SLOT_NUM);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), (IOREQ_BUFFER_SLOT_NUM - 1) & 0xff);
    buf_reset(fx);
    hfx_finish(fx);
}

/* Entries Xen never writes: reads, a lone half of an 8-byte write, unknown types, bad sizes. */
static void test_buf_bad_entries(void **state)
{
    struct hfx *fx = up(state, NULL);
    struct hfx_stats s0, s1;

    hfx_out(fx, SCR_PORT, 1, 0x3c);
    hfx_stats(fx, &s0);
    buf_entry(fx, 0, IOREQ_TYPE_PIO, IOREQ_READ, 0, SCR_PORT, 0x01);   /* read: dropped */
    buf_entry(fx, 1, 9, IOREQ_WRITE, 0, SCR_PORT, 0x02);               /* unknown type */
    buf_entry(fx, 2, IOREQ_TYPE_PIO, IOREQ_WRITE, 3, SCR_PORT - 7, 3); /* 8-byte PIO, two slots */
    buf_entry(fx, 3, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0, 0x04);
    buf_entry(fx, 4, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, SCR_PORT, 0x5e); /* the one good write */
    buf_entry(fx, 5, IOREQ_TYPE_COPY, IOREQ_WRITE, 3, 0xfff00, 0x06); /* lone first half */
    buf_run(fx, 0, 6, 6);
    hfx_stats(fx, &s1);
    assert_int_equal(s1.malformed, s0.malformed + 4);
    assert_int_equal(hfx_in(fx, SCR_PORT, 1), 0x5e);
    buf_reset(fx);
    hfx_finish(fx);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(test_##name, hfx_setup, hfx_teardown)
    const struct CMUnitTest tests[] = {
        T(size_pio_read),
        T(size_pio_write),
        T(size_mmio),
        T(size_pci_config),
        T(count_zero),
        T(count_huge),
        T(ptr_unmapped_read),
        T(ptr_unmapped_write),
        T(ptr_partial),
        T(ptr_wraps),
        T(rep_page_cross),
        T(rep_range_cross),
        T(rep_df_wrap),
        T(rep_port_range),
        T(type_unknown),
        T(type_special_garbage),
        T(type_random_storm),
        T(state_flip_none),
        T(state_flip_resp),
        T(state_flip_inprocess),
        T(state_not_ready),
        T(flood_vcpu_notify),
        T(flood_buffered_notify),
        T(flood_all_vcpus),
        T(buf_write_far_ahead),
        T(buf_read_ahead),
        T(buf_pointer_wrap),
        T(buf_bad_entries),
    };
#undef T
    return hfx_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
