/*
 * Hostile accesses to the PCI bus and the UART through the real ioreqd:
 * config space past 256 bytes and at odd sizes, read-only registers and
 * capability pointers, BARs moved onto other ranges or to the ends of the
 * address spaces, decode toggled in a storm, and 16550 register abuse.
 * Each case checks the exact safe outcome and that ioreqd serves on.
 *
 * Usage: hostile-devices /path/to/ioreqd [name-pattern]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "hostile-fixture.h"

#define XP      0x18 /* xen-platform at 00:03.0 */
#define COM1    HFX_COM1
#define ISA_IRQ 4

static const char *const platform_devs[] = {"host-bridge", "xen-platform,bdf=00:03.0", NULL};

static uint64_t malformed(struct hfx *fx)
{
    struct hfx_stats st;
    hfx_stats(fx, &st);
    return st.malformed;
}

/* One raw PCI_CONFIG request; returns the answered data. */
static uint64_t raw_cfg(struct hfx *fx, uint32_t sbdf, uint32_t reg, uint32_t size, uint8_t dir,
                        uint64_t data)
{
    ioreq_t r = {.type = IOREQ_TYPE_PCI_CONFIG,
                 .dir = dir,
                 .size = size,
                 .count = 1,
                 .addr = (uint64_t)sbdf << 32 | reg,
                 .data = data};

    hfx_raw(fx, &r);
    assert_int_equal(r.state, STATE_IORESP_READY);
    return r.data;
}

static uint64_t raw_pio(struct hfx *fx, uint64_t port, uint32_t size, uint8_t dir, uint64_t data)
{
    ioreq_t r = {
        .type = IOREQ_TYPE_PIO, .dir = dir, .size = size, .count = 1, .addr = port, .data = data};

    hfx_raw(fx, &r);
    assert_int_equal(r.state, STATE_IORESP_READY);
    return r.data;
}

static bool has_range(struct hfx *fx, enum mockhv_range_type type, uint64_t start, uint64_t end)
{
    struct mockhv_range r[64];
    int n = mockhv_server_ranges(fx->hv, fx->id, r, 64);

    for (int i = 0; i < n && i < 64; i++)
        if (r[i].type == type && r[i].start == start && r[i].end == end)
            return true;
    return false;
}

/* Firmware enumeration; returns the xen-platform's BAR0 (I/O) and BAR1 (memory). */
static void platform_bars(struct hfx *fx, uint64_t *io, uint64_t *mem)
{
    struct mockhv_pci_func fn[8];
    int n = mockhv_firmware_pci_init(fx->hv, 0, fn, 8, HFX_WAIT_MS);

    *io = *mem = 0;
    for (int i = 0; i < n; i++) {
        if (fn[i].bdf != XP)
            continue;
        assert_int_equal(fn[i].nr_bars, 2);
        *io = fn[i].bars[0].base;
        *mem = fn[i].bars[1].base;
    }
    assert_true(*io && *mem);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, *io, *io + 0xff));
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, *mem, *mem + (16u << 20) - 1));
}

/* ---- config space ---- */

static void test_cfg_high_offsets(void **state)
{
    struct hfx *fx = *state;
    static const uint32_t in_ext[] = {0x100, 0x104, 0x400, 0xffc, 0xfff};
    static const uint32_t past[] = {0x1000, 0x1004, 0x80000000u, 0xfffffffcu};
    uint64_t m0;

    hfx_start(fx, 2, platform_devs);
    m0 = malformed(fx);
    /* Inside the 4 KiB extended space but past what a conventional function decodes. */
    for (size_t i = 0; i < sizeof(in_ext) / sizeof(in_ext[0]); i++) {
        uint32_t size = in_ext[i] & 3 ? 1 : 4;
        raw_cfg(fx, XP, in_ext[i], size, IOREQ_WRITE, 0);
        assert_int_equal(raw_cfg(fx, XP, in_ext[i], size, IOREQ_READ, 0),
                         size == 4 ? 0xffffffffu : 0xffu);
    }
    assert_int_equal(malformed(fx), m0);
    /* Past 4 KiB: malformed, all-ones of the size, writes dropped. */
    for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
        raw_cfg(fx, XP, past[i], 4, IOREQ_WRITE, 0);
        assert_int_equal(raw_cfg(fx, XP, past[i], 4, IOREQ_READ, 0), 0xffffffffu);
    }
    assert_int_equal(malformed(fx), m0 + 8);
    /* A register number that aliases a real one modulo 4 KiB does not reach it. */
    raw_cfg(fx, XP, 0x1004, 2, IOREQ_WRITE, 0x0007);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x04, 2), 0x0000);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x00, 4), 0x00015853);
    hfx_finish(fx);
}

static void test_cfg_odd_sizes(void **state)
{
    struct hfx *fx = *state;
    uint32_t line;
    uint64_t m0;

    hfx_start(fx, 2, platform_devs);
    line = hfx_cfg_rd(fx, XP, 0x3c, 4);
    m0 = malformed(fx);
    /* Within one dword any size reads what the bytes say. */
    assert_int_equal(raw_cfg(fx, XP, 0, 1, IOREQ_READ, 0), 0x53);
    assert_int_equal(raw_cfg(fx, XP, 1, 1, IOREQ_READ, 0), 0x58);
    assert_int_equal(raw_cfg(fx, XP, 2, 1, IOREQ_READ, 0), 0x01);
    assert_int_equal(raw_cfg(fx, XP, 3, 1, IOREQ_READ, 0), 0x00);
    assert_int_equal(raw_cfg(fx, XP, 1, 2, IOREQ_READ, 0), 0x0158);
    /* Across a dword boundary: all-ones of the size, writes dropped. */
    assert_int_equal(raw_cfg(fx, XP, 3, 2, IOREQ_READ, 0), 0xffff);
    assert_int_equal(raw_cfg(fx, XP, 1, 4, IOREQ_READ, 0), 0xffffffff);
    assert_int_equal(raw_cfg(fx, XP, 2, 4, IOREQ_READ, 0), 0xffffffff);
    assert_int_equal(raw_cfg(fx, XP, 0xff, 2, IOREQ_READ, 0), 0xffff);
    raw_cfg(fx, XP, 0x3f, 2, IOREQ_WRITE, 0xabab);
    raw_cfg(fx, XP, 0x3d, 4, IOREQ_WRITE, 0xabababab);
    raw_cfg(fx, XP, 0x03, 4, IOREQ_WRITE, 0);
    /* Those are valid ioreq sizes: the bus refuses them, not the request layer. */
    assert_int_equal(malformed(fx), m0);
    /* Sizes no config cycle has: malformed. */
    assert_int_equal(raw_cfg(fx, XP, 0x3c, 3, IOREQ_READ, 0), ~0ull);
    raw_cfg(fx, XP, 0x3c, 3, IOREQ_WRITE, 0xababab);
    raw_cfg(fx, XP, 0x3c, 0, IOREQ_WRITE, 0xab);
    assert_int_equal(malformed(fx), m0 + 3);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x3c, 4), line);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x00, 4), 0x00015853);
    hfx_finish(fx);
}

/* Identification, header type and the capability pointer are read-only: no chain can be built. */
static void test_cfg_readonly(void **state)
{
    struct hfx *fx = *state;
    static const unsigned regs[] = {0x00, 0x08, 0x0c, 0x2c, 0x34, 0x3d};
    uint32_t before[6];

    hfx_start(fx, 2, platform_devs);
    for (size_t i = 0; i < 6; i++)
        before[i] = hfx_cfg_rd(fx, XP, regs[i] & ~3u, 4);
    assert_int_equal(before[4] & 0xff, 0); /* no capabilities */
    for (size_t i = 0; i < 6; i++) {
        hfx_cfg_wr(fx, XP, regs[i] & ~3u, 4, 0x40404040);
        hfx_cfg_wr(fx, XP, regs[i], 1, 0x40);
    }
    /* The status register's capability-list bit cannot be set either. */
    hfx_cfg_wr(fx, XP, 0x06, 2, 0xffff);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x06, 2) & 0x10, 0);
    for (size_t i = 0; i < 6; i++) {
        uint32_t now = hfx_cfg_rd(fx, XP, regs[i] & ~3u, 4);
        if (regs[i] == 0x0c) /* cache line size and latency timer are writable */
            assert_int_equal(now & 0xffff0000, before[i] & 0xffff0000);
        else if (regs[i] == 0x3d) /* so is the interrupt line */
            assert_int_equal(now & 0xffffff00, before[i] & 0xffffff00);
        else
            assert_int_equal(now, before[i]);
    }
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x34, 1), 0);
    /* The host bridge's too. */
    hfx_cfg_wr(fx, 0, 0x00, 4, 0);
    hfx_cfg_wr(fx, 0, 0x34, 1, 0x40);
    assert_int_equal(hfx_cfg_rd(fx, 0, 0x00, 4), 0x12378086);
    assert_int_equal(hfx_cfg_rd(fx, 0, 0x34, 1), 0);
    hfx_finish(fx);
}

/* Functions, buses and segments nobody has. */
static void test_cfg_absent(void **state)
{
    struct hfx *fx = *state;
    static const uint32_t sbdfs[] = {0x20, 0x19, 0x1f, 0x118, 0x10018, 0xffffffff};

    hfx_start(fx, 2, platform_devs);
    for (size_t i = 0; i < sizeof(sbdfs) / sizeof(sbdfs[0]); i++) {
        raw_cfg(fx, sbdfs[i], 0x04, 2, IOREQ_WRITE, 0);
        assert_int_equal(raw_cfg(fx, sbdfs[i], 0x00, 4, IOREQ_READ, 0), 0xffffffff);
        assert_int_equal(raw_cfg(fx, sbdfs[i], 0x02, 2, IOREQ_READ, 0), 0xffff);
        assert_int_equal(raw_cfg(fx, sbdfs[i], 0x0e, 1, IOREQ_READ, 0), 0xff);
    }
    assert_int_equal(hfx_cfg_rd(fx, 0xf8, 0x00, 4), 0xffffffff);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x00, 4), 0x00015853);
    hfx_finish(fx);
}

/* The 0xCF8/0xCFC window owned by ioreqd, hit at every size and offset. */
static void test_cfg_cf8_window(void **state)
{
    struct hfx *fx = *state;
    static const char *const devs[] = {"host-bridge,cf8=on", "xen-platform,bdf=00:03.0", NULL};
    uint32_t cmd;

    hfx_start(fx, 2, devs);
    cmd = hfx_cfg_rd(fx, XP, 0x04, 2);
    /* Reserved latch bits do not stick; narrow latch accesses are not the latch. */
    hfx_out(fx, 0xcf8, 4, 0xffffffff);
    assert_int_equal(hfx_in(fx, 0xcf8, 4), 0x80fffffc);
    hfx_out(fx, 0xcf8, 1, 0x00);
    hfx_out(fx, 0xcf9, 2, 0x0000);
    assert_int_equal(hfx_in(fx, 0xcf8, 4), 0x80fffffc);
    assert_int_equal(hfx_in(fx, 0xcf8, 2), 0xffff);
    assert_int_equal(hfx_in(fx, 0xcfb, 1), 0xff);
    /* Latch pointing at xen-platform's vendor dword: every way through the window. */
    hfx_out(fx, 0xcf8, 4, 0x80001800);
    assert_int_equal(hfx_in(fx, 0xcfc, 4), 0x00015853);
    assert_int_equal(hfx_in(fx, 0xcfd, 2), 0x0158);
    assert_int_equal(hfx_in(fx, 0xcff, 1), 0x00);
    assert_int_equal(hfx_in(fx, 0xcfe, 2), 0x0001);
    /* Disabled latch: all-ones, writes dropped. */
    hfx_out(fx, 0xcf8, 4, 0x00001804);
    assert_int_equal(hfx_in(fx, 0xcfc, 4), 0xffffffff);
    hfx_out(fx, 0xcfc, 2, cmd ^ 0x3);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x04, 2), cmd);
    hfx_finish(fx);
}

/* ---- BARs ---- */

static void test_bar_overlap_uart(void **state)
{
    struct hfx *fx = *state;
    uint64_t io, mem;
    uint32_t b0;

    hfx_start(fx, 2, platform_devs);
    platform_bars(fx, &io, &mem);
    b0 = hfx_in(fx, (uint16_t)io, 1);
    /* 0x300-0x3ff would swallow COM1's 0x3f8-0x3ff: not mapped. */
    hfx_cfg_wr(fx, XP, 0x10, 4, 0x300);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x10, 4), 0x301);
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, 0x300, 0x3ff));
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, COM1, COM1 + 7));
    assert_int_equal(hfx_in(fx, 0x300, 1), 0xff);
    hfx_serving(fx);
    /* Moved back, it maps and answers as before. */
    hfx_cfg_wr(fx, XP, 0x10, 4, (uint32_t)io);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    assert_int_equal(hfx_in(fx, (uint16_t)io, 1), b0);
    hfx_finish(fx);
}

static void test_bar_overlap_cf8(void **state)
{
    struct hfx *fx = *state;
    static const char *const devs[] = {"host-bridge,cf8=on", "xen-platform,bdf=00:03.0", NULL};
    uint64_t io, mem;

    hfx_start(fx, 2, devs);
    platform_bars(fx, &io, &mem);
    /* Onto the config window ioreqd itself owns, and onto the platform's fixed ports. */
    hfx_cfg_wr(fx, XP, 0x10, 4, 0xc00);
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, 0xc00, 0xcff));
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x00, 4), 0x00015853);
    hfx_cfg_wr(fx, XP, 0x10, 4, 0x000);
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, 0x000, 0x0ff));
    assert_int_equal(hfx_in(fx, 0x10, 2), 0x49d2);
    hfx_cfg_wr(fx, XP, 0x10, 4, (uint32_t)io);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    hfx_finish(fx);
}

/* I/O BARs past the 64 KiB port space, memory BARs at the top of 4 GiB. */
static void test_bar_address_space_ends(void **state)
{
    struct hfx *fx = *state;
    uint64_t io, mem;

    hfx_start(fx, 2, platform_devs);
    platform_bars(fx, &io, &mem);
    hfx_cfg_wr(fx, XP, 0x10, 4, 0xffffff00);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x10, 4), 0xffffff01);
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    hfx_cfg_wr(fx, XP, 0x10, 4, 0x10000);
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, 0x0000, 0x00ff));
    /* The last 256 ports exactly: fits, maps. */
    hfx_cfg_wr(fx, XP, 0x10, 4, 0xff00);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, 0xff00, 0xffff));
    assert_int_equal(hfx_in(fx, 0xffff, 1), hfx_in(fx, (uint16_t)0xff01, 1));
    /*
     * The last 16 MiB below 4 GiB reads back the same as this BAR's size
     * mask. Left there by a sizing write (all-ones), mid-probe: not mapped.
     * Written there as an address: mapped, reading zero to its last byte;
     * so does the 16 MiB below it.
     */
    hfx_cfg_wr(fx, XP, 0x14, 4, 0xffffffff);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x14, 4), 0xff000008);
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, 0xff000000, 0xffffffff));
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, mem, mem + (16u << 20) - 1));
    assert_int_equal(hfx_mmio_rd(fx, 0xfffffff8, 8), ~0ull);
    hfx_cfg_wr(fx, XP, 0x14, 4, 0xff000000);
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, 0xff000000, 0xffffffff));
    assert_int_equal(hfx_mmio_rd(fx, 0xfffffff8, 8), 0);
    assert_int_equal(hfx_mmio_rd(fx, 0xffffffff, 1), 0);
    hfx_cfg_wr(fx, XP, 0x14, 4, 0xfe000000);
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, 0xff000000, 0xffffffff));
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, 0xfe000000, 0xfeffffff));
    assert_int_equal(hfx_mmio_rd(fx, 0xfefffff8, 8), 0);
    assert_int_equal(hfx_mmio_rd(fx, 0xfeffffff, 1), 0);
    hfx_mmio_wr(fx, 0xfefffffc, 4, 0xffffffff);
    hfx_cfg_wr(fx, XP, 0x10, 4, (uint32_t)io);
    hfx_cfg_wr(fx, XP, 0x14, 4, (uint32_t)mem);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, mem, mem + (16u << 20) - 1));
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, 0xfe000000, 0xfeffffff));
    hfx_finish(fx);
}

/* Every BAR register all-ones, dword and byte-wise; then restored. */
static void test_bar_sizing_everything(void **state)
{
    struct hfx *fx = *state;
    uint64_t io, mem;

    hfx_start(fx, 2, platform_devs);
    platform_bars(fx, &io, &mem);
    for (unsigned reg = 0x10; reg <= 0x30; reg += 4)
        hfx_cfg_wr(fx, XP, reg, 4, 0xffffffff);
    for (unsigned reg = 0x10; reg < 0x34; reg++)
        hfx_cfg_wr(fx, XP, reg, 1, 0xff);
    for (unsigned reg = 0x10; reg < 0x34; reg += 2)
        hfx_cfg_wr(fx, XP, reg, 2, 0xffff);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x10, 4), 0xffffff01);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x14, 4), 0xff000008);
    for (unsigned reg = 0x18; reg <= 0x28; reg += 4)
        assert_int_equal(hfx_cfg_rd(fx, XP, reg, 4), 0);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x2c, 4), 0x00015853); /* subsystem IDs: read-only */
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x30, 4), 0);          /* no ROM */
    assert_false(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    assert_false(has_range(fx, MOCKHV_RANGE_MMIO, mem, mem + (16u << 20) - 1));
    hfx_serving(fx);
    hfx_cfg_wr(fx, XP, 0x10, 4, (uint32_t)io);
    hfx_cfg_wr(fx, XP, 0x14, 4, (uint32_t)mem);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, mem, mem + (16u << 20) - 1));
    assert_int_equal(hfx_mmio_rd(fx, mem + 8, 8), 0);
    hfx_finish(fx);
}

/* Decode toggled and BARs moved in a storm: every mapping follows, none leaks. */
static void test_bar_decode_storm(void **state)
{
    struct hfx *fx = *state;
    uint64_t io, mem;
    struct mockhv_range r[64];
    int n0;

    hfx_start(fx, 2, platform_devs);
    platform_bars(fx, &io, &mem);
    n0 = mockhv_server_ranges(fx->hv, fx->id, r, 64);
    for (unsigned i = 0; i < 300; i++) {
        hfx_cfg_wr(fx, XP, 0x04, 2, i & 3);
        hfx_cfg_wr(fx, XP, 0x14, 4, (uint32_t)mem + ((i % 3) << 24));
        hfx_cfg_wr(fx, XP, 0x10, 1, (uint8_t)(i << 2) | 1);
    }
    hfx_cfg_wr(fx, XP, 0x04, 2, 0x7);
    hfx_cfg_wr(fx, XP, 0x10, 4, (uint32_t)io);
    hfx_cfg_wr(fx, XP, 0x14, 4, (uint32_t)mem);
    assert_int_equal(mockhv_server_ranges(fx->hv, fx->id, r, 64), n0);
    assert_true(has_range(fx, MOCKHV_RANGE_PIO, io, io + 0xff));
    assert_true(has_range(fx, MOCKHV_RANGE_MMIO, mem, mem + (16u << 20) - 1));
    assert_int_equal(hfx_mmio_rd(fx, mem, 4), 0);
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
 * Random config writes to every function - BARs, both halves of a 64-bit
 * BAR, the command register, ROM, capabilities - mixed with accesses where
 * BARs may now be; fixed seed (HOSTILE_SEED for others). Afterwards the
 * firmware assigns everything again and every device answers.
 */
static void test_bar_random_storm(void **state)
{
    struct hfx *fx = *state;
    static const uint16_t fns[] = {0x00, XP, 0x28};
    static const uint32_t vals[] = {0xffffffff, 0,          0x300, 0xc000, 0xff00,     0xfe000000,
                                    0xf0000000, 0xfee00000, 0x3f8, 0x10,   0x80000000, 0xcf8};
    char spec[200];
    const char *devs[] = {"host-bridge", "xen-platform,bdf=00:03.0", spec, NULL};
    const char *seed = getenv("HOSTILE_SEED");
    uint64_t x = seed ? strtoull(seed, NULL, 0) | 1 : 0x8a5cd789635d2dffull;
    struct mockhv_pci_func fn[8];
    char img[128];
    int fd;

    snprintf(img, sizeof(img), "%s/disk.img", fx->dir);
    fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    snprintf(spec, sizeof(spec), "virtio-blk,file=%s,bdf=00:05.0", img);
    struct hfx_stats s0, s1;

    hfx_start(fx, 2, devs);
    assert_int_equal(mockhv_firmware_pci_init(fx->hv, 0, fn, 8, HFX_WAIT_MS), 3);
    hfx_stats(fx, &s0);
    for (unsigned i = 0; i < 3000; i++) {
        uint64_t r = rnd(&x), d = rnd(&x);
        uint16_t bdf = fns[r % 3];
        unsigned size = 1u << ((r >> 4) % 3);
        unsigned reg = (unsigned)(((r >> 8) & 1) ? 0x04 + ((r >> 9) % 12) * 4 : (r >> 9) % 256);
        uint32_t val = ((r >> 20) & 1) ? vals[(r >> 21) % 12] : (uint32_t)d;

        reg &= ~(size - 1);
        switch ((r >> 28) & 3) {
        case 0:
        case 1:
            hfx_cfg_wr(fx, bdf, reg, size, val);
            break;
        case 2:
            (void)hfx_mmio_rd(fx, (uint64_t)vals[(d >> 8) % 12] + (d % 0x8000), 4);
            break;
        default:
            (void)hfx_in(fx, (uint16_t)(vals[(d >> 8) % 12] + (d & 0xff)), 1);
            break;
        }
        if (i % 500 == 0)
            hfx_serving(fx);
    }
    hfx_serving(fx);
    /* Every config write reached ioreqd as a request of its own. */
    hfx_stats(fx, &s1);
    fprintf(stderr, "storm: %llu synchronous requests\n", (unsigned long long)(s1.sync - s0.sync));
    assert_true(s1.sync - s0.sync >= 1000);
    /* Firmware again: IDs and BARs as on first boot, every device answers. */
    for (unsigned i = 0; i < 3; i++)
        hfx_cfg_wr(fx, fns[i], 0x04, 2, 0);
    assert_int_equal(mockhv_firmware_pci_init(fx->hv, 0, fn, 8, HFX_WAIT_MS), 3);
    assert_int_equal(hfx_cfg_rd(fx, XP, 0x00, 4), 0x00015853);
    assert_int_equal(hfx_cfg_rd(fx, 0x28, 0x00, 4), 0x10421af4);
    assert_int_equal(hfx_in(fx, 0x10, 2), 0x49d2);
    assert_int_equal(hfx_mmio_rd(fx, fn[1].bars[1].base, 8), 0);
    hfx_finish(fx);
}

/* ---- UART ---- */

static void test_uart_every_port_and_size(void **state)
{
    struct hfx *fx = *state;
    uint8_t reg[8];
    uint64_t m0;

    hfx_start(fx, 2, NULL);
    hfx_out(fx, COM1 + 7, 1, 0x3c);
    reg[0] = 0;    /* RBR, nothing received */
    reg[1] = 0;    /* IER */
    reg[2] = 0x01; /* IIR: no interrupt */
    reg[3] = 0;    /* LCR */
    reg[4] = 0;    /* MCR */
    reg[5] = 0x60; /* LSR: THRE | TEMT */
    reg[6] = (uint8_t)hfx_in(fx, COM1 + 6, 1);
    reg[7] = 0x3c;
    assert_int_equal(reg[6] & 0x0f, 0); /* no deltas pending */
    for (unsigned off = 0; off < 8; off++) {
        static const unsigned sizes[] = {1, 2, 4};
        for (unsigned s = 0; s < 3; s++) {
            unsigned size = sizes[s];
            uint32_t want = 0;

            if (off + size > 8) {
                want = size == 4 ? 0xffffffff : 0xffff; /* runs past the UART */
            } else {
                for (unsigned b = 0; b < size; b++)
                    want |= (uint32_t)reg[off + b] << (8 * b);
            }
            assert_int_equal(hfx_in(fx, (uint16_t)(COM1 + off), size), want);
        }
    }
    /* Sizes no port access has, on every register: all-ones, nothing written. */
    m0 = malformed(fx);
    static const uint32_t bad[] = {0, 3, 5, 8, 16};
    for (unsigned off = 0; off < 8; off++) {
        for (unsigned s = 0; s < 5; s++) {
            assert_int_equal(raw_pio(fx, COM1 + off, bad[s], IOREQ_READ, 0), ~0ull);
            raw_pio(fx, COM1 + off, bad[s], IOREQ_WRITE, 0x83838383);
        }
    }
    assert_int_equal(malformed(fx), m0 + 80);
    for (unsigned off = 0; off < 8; off++)
        assert_int_equal(hfx_in(fx, (uint16_t)(COM1 + off), 1), reg[off]);
    /* Writes straddling the end are dropped whole: LCR keeps DLAB clear. */
    hfx_out(fx, COM1 + 6, 4, 0x83838383);
    hfx_out(fx, COM1 + 7, 2, 0x8383);
    assert_int_equal(hfx_in(fx, COM1 + 3, 1), 0);
    assert_int_equal(hfx_in(fx, COM1 + 7, 1), 0x3c);
    hfx_finish(fx);
}

static void test_uart_divisor_zero(void **state)
{
    struct hfx *fx = *state;

    hfx_start(fx, 2, NULL);
    hfx_out(fx, COM1 + 3, 1, 0x83);
    hfx_out(fx, COM1 + 0, 1, 0);
    hfx_out(fx, COM1 + 1, 1, 0);
    assert_int_equal(hfx_in(fx, COM1 + 0, 2), 0);
    hfx_out(fx, COM1 + 3, 1, 0x03);
    for (unsigned i = 0; i < 64; i++)
        hfx_out(fx, COM1, 1, 'a' + (i % 26));
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x60);
    /* The widest divisor, written as one 2-byte access. */
    hfx_out(fx, COM1 + 3, 1, 0x83);
    hfx_out(fx, COM1 + 0, 2, 0xffff);
    assert_int_equal(hfx_in(fx, COM1 + 0, 1), 0xff);
    assert_int_equal(hfx_in(fx, COM1 + 1, 1), 0xff);
    hfx_out(fx, COM1 + 3, 1, 0x03);
    hfx_out(fx, COM1, 1, 'z');
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x60);
    hfx_finish(fx);
}

/* Loopback with the FIFO on: 16 bytes kept in order, the rest overruns. */
static void test_uart_loopback_flood_fifo(void **state)
{
    struct hfx *fx = *state;

    hfx_start(fx, 2, NULL);
    hfx_out(fx, COM1 + 2, 1, 0x07);
    hfx_out(fx, COM1 + 4, 1, 0x10);
    for (unsigned i = 0; i < 3000; i++)
        hfx_out(fx, COM1, 1, i & 0xff);
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x63); /* DR | OE | THRE | TEMT */
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x61); /* OE cleared by the read */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(hfx_in(fx, COM1, 1), i);
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x60);
    assert_int_equal(hfx_in(fx, COM1, 1), 0); /* empty receiver */
    hfx_out(fx, COM1 + 4, 1, 0x00);
    hfx_out(fx, COM1 + 2, 1, 0x00);
    assert_int_equal(mockhv_isa_irq_level(fx->hv, ISA_IRQ), 0);
    hfx_finish(fx);
}

/* Loopback without FIFO: one byte held, the last (each overrun overwrites the RBR). */
static void test_uart_loopback_flood_nofifo(void **state)
{
    struct hfx *fx = *state;

    hfx_start(fx, 2, NULL);
    hfx_out(fx, COM1 + 4, 1, 0x10);
    /* 4-byte writes hit THR, IER, FCR (clearing the receiver) and LCR at once. */
    for (unsigned i = 0; i < 1000; i++)
        hfx_out(fx, COM1, 4, 0x41424344 + i);
    assert_int_equal(hfx_in(fx, COM1 + 3, 1), 0x41);
    hfx_out(fx, COM1 + 1, 1, 0);
    hfx_out(fx, COM1 + 2, 1, 0x06);
    hfx_out(fx, COM1 + 3, 1, 0);
    for (unsigned i = 0; i < 100; i++)
        hfx_out(fx, COM1, 1, 'A' + (i % 26));
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x63);
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x61);
    assert_int_equal(hfx_in(fx, COM1, 1), 'A' + 99 % 26);
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x60);
    hfx_out(fx, COM1 + 4, 1, 0x00);
    assert_int_equal(mockhv_isa_irq_level(fx->hv, ISA_IRQ), 0);
    hfx_finish(fx);
}

/* Reserved bits, read-only registers, and an interrupt-enable storm. */
static void test_uart_reserved_and_irq_storm(void **state)
{
    struct hfx *fx = *state;

    hfx_start(fx, 2, NULL);
    hfx_out(fx, COM1 + 1, 1, 0xff);
    assert_int_equal(hfx_in(fx, COM1 + 1, 1), 0x0f);
    assert_int_equal(hfx_in(fx, COM1 + 2, 1), 0x02); /* THRE pending, acknowledged by this read */
    assert_int_equal(hfx_in(fx, COM1 + 2, 1), 0x01);
    hfx_out(fx, COM1 + 1, 1, 0x00);
    hfx_out(fx, COM1 + 4, 1, 0xe0);
    assert_int_equal(hfx_in(fx, COM1 + 4, 1), 0x00);
    hfx_out(fx, COM1 + 5, 1, 0xff); /* LSR and MSR are read-only */
    hfx_out(fx, COM1 + 6, 1, 0xff);
    assert_int_equal(hfx_in(fx, COM1 + 5, 1), 0x60);
    hfx_out(fx, COM1 + 2, 1, 0xff);
    assert_int_equal(hfx_in(fx, COM1 + 2, 1), 0xc1);
    hfx_out(fx, COM1 + 2, 1, 0x00);
    assert_int_equal(hfx_in(fx, COM1 + 2, 1), 0x01);
    for (unsigned i = 0; i < 500; i++)
        hfx_out(fx, COM1 + 1, 1, (i & 1) ? 0x02 : 0x00);
    hfx_out(fx, COM1 + 1, 1, 0x00);
    assert_int_equal(hfx_in(fx, COM1 + 2, 1), 0x01);
    assert_int_equal(mockhv_isa_irq_level(fx->hv, ISA_IRQ), 0);
    hfx_finish(fx);
}

/*
 * A guest that ignores THRE and pours 100 KB into a pty nobody reads:
 * ioreqd must not block on the terminal, and what it did send comes out in
 * order once someone reads.
 */
static void test_uart_pty_unread_flood(void **state)
{
    struct hfx *fx = *state;
    static const char *const devs[] = {"uart,com=2,backend=pty", NULL};
    char *tty = NULL;
    uint8_t got[64];
    size_t n = 0;
    int fd;

    hfx_start(fx, 2, devs);
    assert_int_equal(mockhv_xenstore_read(fx->hv, "/local/domain/7/serial/1/tty", &tty), 0);
    for (unsigned i = 0; i < 100000; i++) {
        hfx_out(fx, 0x2f8, 1, i & 0xff);
        if (i % 20000 == 0)
            hfx_serving(fx);
    }
    hfx_serving(fx);
    fd = open(tty, O_RDWR | O_NOCTTY | O_NONBLOCK);
    assert_true(fd >= 0);
    {
        struct termios t;
        assert_int_equal(tcgetattr(fd, &t), 0);
        cfmakeraw(&t);
        assert_int_equal(tcsetattr(fd, TCSANOW, &t), 0);
    }
    while (n < sizeof(got)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        assert_int_equal(poll(&pfd, 1, HFX_WAIT_MS), 1);
        r = read(fd, got + n, sizeof(got) - n);
        assert_true(r > 0);
        n += (size_t)r;
    }
    for (unsigned i = 0; i < sizeof(got); i++)
        assert_int_equal(got[i], i & 0xff);
    close(fd);
    free(tty);
    hfx_finish(fx);
}

/* A backend that fails every write: the guest's bytes are dropped, nothing spins or stops. */
static void test_uart_backend_write_errors(void **state)
{
    struct hfx *fx = *state;
    static const char *const devs[] = {"uart,com=2,backend=file:/dev/full", NULL};

    hfx_start(fx, 2, devs);
    for (unsigned i = 0; i < 5000; i++)
        hfx_out(fx, 0x2f8, 1, 'x');
    hfx_out(fx, 0x2f8 + 7, 1, 0x42);
    assert_int_equal(hfx_in(fx, 0x2f8 + 7, 1), 0x42);
    hfx_finish(fx);
}

/*
 * A unix-socket client pours input into a guest that never reads: the
 * receiver takes 16 bytes (FIFO on), the rest waits in the socket, nothing
 * is lost or buffered without bound; the guest then reads it in order.
 */
static void test_uart_unix_input_flood(void **state)
{
    struct hfx *fx = *state;
    char spec[160], path[100];
    const char *devs[] = {spec, NULL};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    static uint8_t out[1 << 20];
    size_t sent = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/com2.sock", fx->dir);
    snprintf(spec, sizeof(spec), "uart,com=2,backend=unix:%s", path);
    hfx_start(fx, 2, devs);
    hfx_out(fx, 0x2f8 + 2, 1, 0x07);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + (i >> 8));
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    for (;;) {
        ssize_t n = write(fd, out + sent, sizeof(out) - sent);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    assert_true(sent > 16);
    hfx_serving(fx);
    /* Everything sent arrives, in order, as fast as the guest reads it. */
    for (size_t i = 0; i < sent; i++) {
        unsigned guard = 0;
        while (!(hfx_in(fx, 0x2f8 + 5, 1) & 0x01)) {
            assert_true(++guard < 1000000);
            if (guard % 64 == 0)
                hfx_serving(fx);
        }
        uint8_t c = (uint8_t)hfx_in(fx, 0x2f8, 1);
        if (c != out[i])
            fail_msg("byte %zu of %zu: got %#x, sent %#x", i, sent, c, out[i]);
        if (i >= 30000)
            break; /* the receiver has been refilled from the socket ~2000 times */
    }
    close(fd);
    hfx_finish(fx);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(test_##name, hfx_setup, hfx_teardown)
    const struct CMUnitTest tests[] = {
        T(cfg_high_offsets),
        T(cfg_odd_sizes),
        T(cfg_readonly),
        T(cfg_absent),
        T(cfg_cf8_window),
        T(bar_overlap_uart),
        T(bar_overlap_cf8),
        T(bar_address_space_ends),
        T(bar_sizing_everything),
        T(bar_decode_storm),
        T(bar_random_storm),
        T(uart_every_port_and_size),
        T(uart_divisor_zero),
        T(uart_loopback_flood_fifo),
        T(uart_loopback_flood_nofifo),
        T(uart_reserved_and_irq_storm),
        T(uart_pty_unread_flood),
        T(uart_backend_write_errors),
        T(uart_unix_input_flood),
    };
#undef T
    return hfx_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
