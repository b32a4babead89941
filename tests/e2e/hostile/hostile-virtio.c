/*
 * Hostile virtio drivers against the real ioreqd's virtio-blk: descriptor
 * chains that loop, run too long, leave guest RAM, nest indirect tables or
 * break their rules; rings and queue sizes the device cannot use; status
 * and common-config abuse; MSI-X table and capability writes where nothing
 * may change. Rule-breaking ends in DEVICE_NEEDS_RESET with the chain
 * returned untouched (content errors get IOERR/UNSUPP instead), and after a
 * reset the device moves data again; ioreqd serves on throughout.
 *
 * The driver is mockguest's, used by hand: gvirtio_probe finds the device
 * and its capabilities without touching it, and the raw helpers write
 * descriptors and ring fields exactly as a case needs them, with the rings at
 * fixed places (virtio 1.2, 2.7 and 4.1).
 *
 * Usage: hostile-virtio /path/to/ioreqd [name-pattern]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-pci.h"
#include "guest-virtio-blk.h"
#include "guest-virtio.h"
#include "hostile-fixture.h"

#define VBDF     (5 << 3) /* 00:05.0 */
#define XPBDF    (3 << 3) /* 00:03.0 */
#define IMG_SIZE (1u << 20)
#define QSIZE    64
#define DESC     0x100000ull
#define AVAIL    0x102000ull
#define USED     0x104000ull
#define HDR      0x200000ull /* request header; status byte at +16 */
#define DATA     0x400000ull
#define ITABLE   0x300000ull /* indirect tables */

/* virtio 1.2 facts. */
#define ST_ACK         1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 64
#define C_DF           0x04
#define C_GFSELECT     0x08
#define C_GF           0x0c
#define C_MSIX         0x10
#define C_NUMQ         0x12
#define C_STATUS       0x14
#define C_QSELECT      0x16
#define C_QSIZE        0x18
#define C_QMSIX        0x1a
#define C_QENABLE      0x1c
#define C_QDESC        0x20
#define F_INDIRECT     28
#define F_VERSION_1    32
#define D_NEXT         1
#define D_WRITE        2
#define D_INDIRECT     4
#define T_IN           0
#define T_OUT          1
#define S_OK           0
#define S_IOERR        1
#define S_UNSUPP       2
#define UNTOUCHED      0xee

struct vdev {
    struct hfx *fx;
    struct gpci_bus bus;
    struct gvirtio dev; /* found by gvirtio_probe, then driven by hand */
    struct gvq *vq;     /* queue 0, always at DESC, AVAIL, USED once set up */
    uint64_t bar;
    uint16_t avail_idx;
    uint16_t used_seen;
    char img[128];
};

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 31 + (off >> 12));
}

static void make_image(struct hfx *fx, struct vdev *v)
{
    uint8_t *img = malloc(IMG_SIZE);
    int fd;

    assert_non_null(img);
    for (uint64_t i = 0; i < IMG_SIZE; i++)
        img[i] = pattern(i);
    snprintf(v->img, sizeof(v->img), "%s/disk.img", fx->dir);
    fd = open(v->img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, IMG_SIZE), IMG_SIZE);
    close(fd);
    free(img);
}

static void ok(struct vdev *v, int rc)
{
    hfx_ok(v->fx, rc);
}

static uint8_t status(struct vdev *v)
{
    uint8_t s = 0;

    ok(v, gvirtio_status(&v->dev, &s));
    return s;
}

static void cwr(struct vdev *v, unsigned off, unsigned size, uint64_t val)
{
    ok(v, gvirtio_common_write(&v->dev, off, size, val));
}

static uint64_t crd(struct vdev *v, unsigned off, unsigned size)
{
    uint64_t val = 0xdeadbeef;

    ok(v, gvirtio_common_read(&v->dev, off, size, &val));
    return val;
}

static uint16_t used_idx(struct vdev *v)
{
    uint16_t idx;

    ok(v, gvq_used_idx(v->vq, &idx));
    return idx;
}

/* Used-ring entry pos: id and written length. */
static void used_elem(struct vdev *v, uint16_t pos, uint32_t *id, uint32_t *len)
{
    ok(v, gvq_used_elem_raw(v->vq, pos, id, len));
}

static void notify(struct vdev *v)
{
    ok(v, gvq_notify(v->vq));
}

/* Firmware, then the vendor capabilities (4.1.4). */
static void probe(struct vdev *v)
{
    const struct gvirtio_opts opts = {
        .irq = GVIRTIO_IRQ_POLL, .vcpu = 0, .timeout_ms = HFX_WAIT_MS};
    const struct mockhv_pci_func *fn;

    ok(v, gpci_scan(&v->bus, v->fx->hv, 0, HFX_WAIT_MS));
    fn = gpci_find(&v->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    assert_non_null(fn);
    assert_int_equal(fn->bdf, VBDF);
    for (unsigned b = 0; b < fn->nr_bars; b++)
        if (fn->bars[b].index == 4)
            v->bar = fn->bars[b].base;
    assert_true(v->bar != 0);
    ok(v, gvirtio_probe(&v->dev, v->fx->hv, &v->bus, fn, &opts));
    assert_true(v->dev.common.addr && v->dev.notify.addr && v->dev.isr.addr && v->dev.device.addr &&
                v->dev.msix_cap && v->dev.msix_table && v->dev.msix_pba && v->dev.pci_cfg_cap);
    v->vq = &v->dev.queues[0];
}

/* 3.1.1 up to FEATURES_OK with these features; true if FEATURES_OK stuck. */
static bool negotiate(struct vdev *v, uint64_t features)
{
    cwr(v, C_STATUS, 1, 0);
    assert_int_equal(status(v), 0);
    cwr(v, C_STATUS, 1, ST_ACK);
    cwr(v, C_STATUS, 1, ST_ACK | ST_DRIVER);
    cwr(v, C_GFSELECT, 4, 0);
    cwr(v, C_GF, 4, (uint32_t)features);
    cwr(v, C_GFSELECT, 4, 1);
    cwr(v, C_GF, 4, (uint32_t)(features >> 32));
    cwr(v, C_STATUS, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    return status(v) & ST_FEATURES_OK;
}

static void queue_setup(struct vdev *v, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
    uint8_t zero[0x6000] = {0};

    hfx_ram_wr(v->fx, DESC, zero, sizeof(zero));
    ok(v, gvirtio_queue_setup_raw(&v->dev, 0, size, desc, avail, used));
    v->avail_idx = 0;
    v->used_seen = 0;
}

static void driver_init_features(struct vdev *v, uint64_t features)
{
    assert_true(negotiate(v, features));
    queue_setup(v, QSIZE, DESC, AVAIL, USED);
    assert_int_equal(crd(v, C_QENABLE, 2), 1);
    cwr(v, C_STATUS, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    assert_int_equal(status(v), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

static void driver_init(struct vdev *v)
{
    driver_init_features(v, 1ull << F_VERSION_1 | 1ull << F_INDIRECT);
}

static void put_desc_at(struct vdev *v, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                        uint16_t flags, uint16_t next)
{
    const struct gvq_raw_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

    ok(v, gvq_desc_write(v->vq, table, i, &d));
}

static void put_desc(struct vdev *v, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    put_desc_at(v, DESC, i, addr, len, flags, next);
}

static void put_hdr(struct vdev *v, uint32_t type, uint64_t sector)
{
    uint8_t h[17] = {0};

    for (int b = 0; b < 4; b++)
        h[b] = (uint8_t)(type >> (8 * b));
    for (int b = 0; b < 8; b++)
        h[8 + b] = (uint8_t)(sector >> (8 * b));
    h[16] = UNTOUCHED;
    hfx_ram_wr(v->fx, HDR, h, sizeof(h));
}

static uint8_t req_status(struct vdev *v)
{
    uint8_t s;
    hfx_ram_rd(v->fx, HDR + 16, &s, 1);
    return s;
}

/* Publishes head `head` and notifies. */
static void publish(struct vdev *v, uint16_t head)
{
    ok(v, gvq_avail_write_raw(v->vq, v->avail_idx, head));
    v->avail_idx++;
    ok(v, gvq_set_avail_idx_raw(v->vq, v->avail_idx));
    notify(v);
}

struct used_wait {
    struct vdev *v;
    uint16_t idx;
};

static bool used_reached(struct hfx *fx, void *arg)
{
    struct used_wait *w = arg;
    (void)fx;
    return used_idx(w->v) == w->idx;
}

static void wait_used(struct vdev *v, uint16_t idx)
{
    struct used_wait w = {.v = v, .idx = idx};
    hfx_wait_until(v->fx, used_reached, &w, "used index reached");
}

static bool needs_reset(struct hfx *fx, void *arg)
{
    (void)fx;
    return status(arg) & ST_NEEDS_RESET;
}

/* The chain came back (if `returned`), with 0 bytes written, and the device wants a reset. */
static void expect_reset(struct vdev *v, bool returned, uint16_t head)
{
    hfx_wait_until(v->fx, needs_reset, v, "DEVICE_NEEDS_RESET");
    if (returned) {
        uint32_t id, len;

        wait_used(v, (uint16_t)(v->used_seen + 1));
        used_elem(v, v->used_seen, &id, &len);
        assert_int_equal(id, head);
        assert_int_equal(len, 0);
        v->used_seen++;
    } else {
        /* Nothing to return: the used index has not moved. */
        hfx_serving(v->fx);
        assert_int_equal(used_idx(v), v->used_seen);
    }
    assert_int_equal(req_status(v), UNTOUCHED);
    /* The device stays stopped: a later notification does nothing. */
    notify(v);
    assert_true(status(v) & ST_NEEDS_RESET);
}

/* A well-formed IN of `len` bytes at `sector` on descriptors 0-2; returns the status. */
static uint8_t good_read(struct vdev *v, uint64_t sector, uint32_t len)
{
    put_hdr(v, T_IN, sector);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    put_desc(v, 1, DATA, len, D_NEXT | D_WRITE, 2);
    put_desc(v, 2, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    wait_used(v, (uint16_t)(v->used_seen + 1));
    v->used_seen++;
    return req_status(v);
}

/* After a reset, the device reads the disk again, checked byte by byte. */
static void recover(struct vdev *v)
{
    static uint8_t buf[4096];

    driver_init(v);
    memset(buf, 0, sizeof(buf));
    hfx_ram_wr(v->fx, DATA, buf, sizeof(buf));
    assert_int_equal(good_read(v, 3, sizeof(buf)), S_OK);
    hfx_ram_rd(v->fx, DATA, buf, sizeof(buf));
    for (unsigned i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], pattern(3 * 512 + i));
    hfx_serving(v->fx);
}

static struct vdev *bring_up(void **state, bool with_platform)
{
    struct hfx *fx = *state;
    static struct vdev v;
    char spec[256];
    const char *devs[3] = {spec, with_platform ? "xen-platform,bdf=00:03.0" : NULL, NULL};

    memset(&v, 0, sizeof(v));
    v.fx = fx;
    make_image(fx, &v);
    snprintf(spec, sizeof(spec), "virtio-blk,file=%s,queues=1,bdf=00:05.0", v.img);
    hfx_start(fx, 2, devs);
    probe(&v);
    driver_init(&v);
    return &v;
}

/* ---- descriptor chains ---- */

static void test_vq_loop(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_hdr(v, T_IN, 0);
    put_desc(v, 10, HDR, 16, D_NEXT, 11);
    put_desc(v, 11, DATA, 512, D_NEXT | D_WRITE, 12);
    put_desc(v, 12, HDR + 16, 1, D_NEXT | D_WRITE, 11);
    publish(v, 10);
    expect_reset(v, true, 10);
    recover(v);
    /* A descriptor pointing at itself. */
    put_hdr(v, T_IN, 0);
    put_desc(v, 5, HDR, 16, D_NEXT, 5);
    publish(v, 5);
    expect_reset(v, true, 5);
    recover(v);
    hfx_finish(v->fx);
}

/* Every descriptor of the table in one chain that comes back to its start. */
static void test_vq_loop_whole_table(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_hdr(v, T_OUT, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    for (uint16_t i = 1; i < QSIZE; i++)
        put_desc(v, i, DATA + 512u * i, 512, D_NEXT, (uint16_t)((i + 1) % QSIZE));
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    hfx_finish(v->fx);
}

static void test_vq_index_out_of_range(void **state)
{
    struct vdev *v = bring_up(state, false);

    /* next past the table. */
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, QSIZE);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    /* A head past the table cannot even be returned. */
    put_hdr(v, T_IN, 0);
    publish(v, 0xffff);
    expect_reset(v, false, 0);
    recover(v);
    hfx_finish(v->fx);
}

static void test_vq_outside_ram(void **state)
{
    static const struct {
        uint64_t addr;
        uint32_t len;
    } bad[] = {
        {1ull << 40, 512},
        {HFX_RAM - 256, 512},           /* runs off the end of RAM */
        {0xfffffffffffffe00ull, 0x400}, /* wraps */
        {0xfee00000ull, 512},           /* the MSI window */
    };
    struct vdev *v = bring_up(state, false);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_hdr(v, T_IN, 0);
        put_desc(v, 0, HDR, 16, D_NEXT, 1);
        put_desc(v, 1, bad[i].addr, bad[i].len, D_NEXT | D_WRITE, 2);
        put_desc(v, 2, HDR + 16, 1, D_WRITE, 0);
        publish(v, 0);
        expect_reset(v, true, 0);
        recover(v);
    }
    /* The header itself outside RAM. */
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, 1ull << 40, 16, D_NEXT, 1);
    put_desc(v, 1, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    hfx_finish(v->fx);
}

/* Buffers adding up to more than any request may describe, each within RAM. */
static void test_vq_too_many_bytes(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_hdr(v, T_OUT, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    for (uint16_t i = 1; i <= 4; i++)
        put_desc(v, i, 0, 48u << 20, D_NEXT, (uint16_t)(i + 1));
    put_desc(v, 5, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    hfx_finish(v->fx);
}

static void test_vq_order(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_hdr(v, T_OUT, 0);
    put_desc(v, 0, HDR + 16, 1, D_NEXT | D_WRITE, 1);
    put_desc(v, 1, HDR, 16, D_NEXT, 2);
    put_desc(v, 2, DATA, 512, 0, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    hfx_finish(v->fx);
}

static void test_vq_status_zero_len(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_hdr(v, T_IN, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    put_desc(v, 1, HDR + 16, 0, D_WRITE, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    /* Writable descriptors, all of length 0. */
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    put_desc(v, 1, DATA, 0, D_NEXT | D_WRITE, 2);
    put_desc(v, 2, HDR + 16, 0, D_WRITE, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    hfx_finish(v->fx);
}

/* ---- indirect tables ---- */

static void indirect_case(struct vdev *v, uint64_t table, uint32_t len, uint16_t flags)
{
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, table, len, D_INDIRECT | flags, 1);
    put_desc(v, 1, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
}

static void test_vq_indirect_nested(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_desc_at(v, ITABLE + 0x1000, 0, HDR, 16, D_NEXT, 1);
    put_desc_at(v, ITABLE + 0x1000, 1, HDR + 16, 1, D_WRITE, 0);
    put_desc_at(v, ITABLE, 0, HDR, 16, D_NEXT, 1);
    put_desc_at(v, ITABLE, 1, ITABLE + 0x1000, 32, D_INDIRECT, 0);
    indirect_case(v, ITABLE, 32, 0);
    /* An indirect table whose first entry is itself. */
    put_desc_at(v, ITABLE, 0, ITABLE, 32, D_INDIRECT, 0);
    indirect_case(v, ITABLE, 32, 0);
    hfx_finish(v->fx);
}

static void test_vq_indirect_malformed(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_desc_at(v, ITABLE, 0, HDR, 16, D_NEXT, 1);
    put_desc_at(v, ITABLE, 1, DATA, 512, D_NEXT | D_WRITE, 2);
    put_desc_at(v, ITABLE, 2, HDR + 16, 1, D_WRITE, 0);
    indirect_case(v, ITABLE, 0, 0);        /* empty */
    indirect_case(v, ITABLE, 17, 0);       /* not whole descriptors */
    indirect_case(v, ITABLE, 257 * 16, 0); /* longer than any chain */
    indirect_case(v, ITABLE, 48, D_NEXT);  /* INDIRECT with NEXT */
    indirect_case(v, 1ull << 40, 48, 0);   /* table outside RAM */
    indirect_case(v, HFX_RAM - 16, 48, 0); /* table running off RAM */
    /* next past the table's end, and a loop inside the table. */
    put_desc_at(v, ITABLE, 1, DATA, 512, D_NEXT | D_WRITE, 3);
    indirect_case(v, ITABLE, 48, 0);
    put_desc_at(v, ITABLE, 1, DATA, 512, D_NEXT | D_WRITE, 0);
    put_desc_at(v, ITABLE, 0, HDR, 16, D_NEXT, 1);
    indirect_case(v, ITABLE, 48, 0);
    /* A well-formed indirect request works after all that. */
    put_desc_at(v, ITABLE, 1, DATA, 512, D_NEXT | D_WRITE, 2);
    put_hdr(v, T_IN, 1);
    put_desc(v, 0, ITABLE, 48, D_INDIRECT, 0);
    publish(v, 0);
    wait_used(v, (uint16_t)(v->used_seen + 1));
    assert_int_equal(req_status(v), S_OK);
    hfx_finish(v->fx);
}

static void test_vq_indirect_not_negotiated(void **state)
{
    struct vdev *v = bring_up(state, false);

    driver_init_features(v, 1ull << F_VERSION_1);
    put_desc_at(v, ITABLE, 0, HDR, 16, D_NEXT, 1);
    put_desc_at(v, ITABLE, 1, HDR + 16, 1, D_WRITE, 0);
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, ITABLE, 32, D_INDIRECT, 0);
    publish(v, 0);
    expect_reset(v, true, 0);
    recover(v);
    hfx_finish(v->fx);
}

/* ---- ring indices ---- */

static void test_vq_avail_jump(void **state)
{
    struct vdev *v = bring_up(state, false);

    put_hdr(v, T_IN, 0);
    ok(v, gvq_set_avail_idx_raw(v->vq, QSIZE + 5));
    notify(v);
    expect_reset(v, false, 0);
    recover(v);
    /* Backwards by one: 65535 pending. */
    put_hdr(v, T_IN, 0);
    ok(v, gvq_set_avail_idx_raw(v->vq, (uint16_t)(v->avail_idx - 1)));
    notify(v);
    expect_reset(v, false, 0);
    recover(v);
    hfx_finish(v->fx);
}

/* The used ring belongs to the device: what the driver scribbles there is overwritten. */
static void test_vq_used_scribbled(void **state)
{
    struct vdev *v = bring_up(state, false);
    uint32_t id, len;
    uint8_t junk[64];

    memset(junk, 0xa5, sizeof(junk));
    hfx_ram_wr(v->fx, USED, junk, sizeof(junk));
    hfx_ram_wr(v->fx, USED + 2, &(uint16_t){0x1234}, 2);
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    put_desc(v, 1, DATA, 512, D_NEXT | D_WRITE, 2);
    put_desc(v, 2, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    wait_used(v, 1);
    assert_int_equal(req_status(v), S_OK);
    used_elem(v, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 513);
    assert_int_equal(status(v) & ST_NEEDS_RESET, 0);
    hfx_finish(v->fx);
}

/*
 * A read whose buffer is the queue's own rings: the disk's bytes land on
 * the descriptor table, the available and the used ring while the device
 * is using them. The request still completes exactly once, and a reset
 * brings the queue back.
 */
static void test_vq_data_over_rings(void **state)
{
    struct vdev *v = bring_up(state, false);
    uint32_t id, len;
    uint8_t buf[512];

    put_hdr(v, T_IN, 0);
    put_desc(v, 0, HDR, 16, D_NEXT, 1);
    put_desc(v, 1, DESC, 0x6000, D_NEXT | D_WRITE, 2);
    put_desc(v, 2, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    wait_used(v, 1);
    assert_int_equal(req_status(v), S_OK);
    used_elem(v, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0x6001);
    /* The descriptor table now holds the disk's first bytes. */
    hfx_ram_rd(v->fx, DESC, buf, sizeof(buf));
    for (unsigned i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], pattern(i));
    hfx_serving(v->fx);
    recover(v);
    hfx_finish(v->fx);
}

/*
 * A reset while writes are in flight: none of them may complete into the
 * rings the driver sets up afterwards.
 */
static void test_vq_reset_in_flight(void **state)
{
    struct vdev *v = bring_up(state, false);
    uint32_t id, len;
    static uint8_t buf[64 << 10];

    memset(buf, 0x5c, sizeof(buf));
    hfx_ram_wr(v->fx, DATA, buf, sizeof(buf));
    for (uint16_t r = 0; r < 20; r++) {
        uint64_t h = HDR + 0x1000 + 32u * r;
        uint8_t hdr[16] = {T_OUT};

        hdr[8] = (uint8_t)(64 + r);
        hfx_ram_wr(v->fx, h, hdr, sizeof(hdr));
        put_desc(v, (uint16_t)(3 * r), h, 16, D_NEXT, (uint16_t)(3 * r + 1));
        put_desc(v, (uint16_t)(3 * r + 1), DATA, sizeof(buf), D_NEXT, (uint16_t)(3 * r + 2));
        put_desc(v, (uint16_t)(3 * r + 2), h + 16, 1, D_WRITE, 0);
        ok(v, gvq_avail_write_raw(v->vq, r, (uint16_t)(3 * r)));
    }
    ok(v, gvq_set_avail_idx_raw(v->vq, 20));
    notify(v);
    cwr(v, C_STATUS, 1, 0);
    /* 4.1.4.3.2: device_status reads 0 once the writes in flight were given back. */
    ok(v, gvirtio_wait_reset(&v->dev, HFX_WAIT_MS));
    assert_int_equal(status(v), 0);
    /* Fresh rings: exactly one completion, ours. */
    driver_init(v);
    assert_int_equal(used_idx(v), 0);
    assert_int_equal(good_read(v, 9, 512), S_OK);
    hfx_serving(v->fx);
    assert_int_equal(used_idx(v), 1);
    used_elem(v, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 513);
    hfx_finish(v->fx);
}

/*
 * INVALIDATE (the hypervisor dropping mappings) while the queue's rings are
 * mapped and requests are in flight: ioreqd's mappings of them stay valid
 * until released, and everything keeps working.
 */
static void test_vq_invalidate_in_use(void **state)
{
    struct vdev *v = bring_up(state, false);

    for (unsigned i = 0; i < 20; i++) {
        put_hdr(v, T_IN, i);
        put_desc(v, 0, HDR, 16, D_NEXT, 1);
        put_desc(v, 1, DATA, 4096, D_NEXT | D_WRITE, 2);
        put_desc(v, 2, HDR + 16, 1, D_WRITE, 0);
        publish(v, 0);
        assert_int_equal(mockhv_invalidate(v->fx->hv, 0, HFX_WAIT_MS), 0);
        wait_used(v, (uint16_t)(v->used_seen + 1));
        v->used_seen++;
        assert_int_equal(req_status(v), S_OK);
    }
    assert_int_equal(mockhv_invalidate(v->fx->hv, 0, HFX_WAIT_MS), 0);
    recover(v);
    assert_int_equal(mockhv_invalidate(v->fx->hv, 1, HFX_WAIT_MS), 0);
    assert_int_equal(good_read(v, 10, 512), S_OK);
    hfx_finish(v->fx);
}

/* Content errors: the request fails, the device does not. */
static void test_vq_bad_requests(void **state)
{
    struct vdev *v = bring_up(state, false);
    static const struct {
        uint32_t type;
        uint64_t sector;
        uint32_t hdr_len, data_len;
        bool writable;
        uint8_t want;
    } c[] = {
        {T_IN, 0, 8, 512, true, S_IOERR},                    /* header too short */
        {0x77, 0, 16, 512, true, S_UNSUPP},                  /* unknown type */
        {T_IN, IMG_SIZE / 512, 16, 512, true, S_IOERR},      /* past the end */
        {T_IN, ~0ull, 16, 512, true, S_IOERR},               /* sector overflow */
        {T_IN, IMG_SIZE / 512 - 1, 16, 1024, true, S_IOERR}, /* straddles the end */
        {T_OUT, 0, 16, 100, false, S_IOERR},                 /* not whole sectors */
        {T_IN, 0, 16, 512, false, S_IOERR},                  /* data the wrong way */
        {T_OUT, 0, 16, 512, true, S_IOERR},
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        put_hdr(v, c[i].type, c[i].sector);
        put_desc(v, 0, HDR, c[i].hdr_len, D_NEXT, 1);
        put_desc(v, 1, DATA, c[i].data_len, D_NEXT | (c[i].writable ? D_WRITE : 0), 2);
        put_desc(v, 2, HDR + 16, 1, D_WRITE, 0);
        publish(v, 0);
        wait_used(v, (uint16_t)(v->used_seen + 1));
        v->used_seen++;
        assert_int_equal(req_status(v), c[i].want);
        assert_int_equal(status(v) & ST_NEEDS_RESET, 0);
    }
    /* Only a status byte. */
    put_hdr(v, T_IN, 0);
    put_desc(v, 0, HDR + 16, 1, D_WRITE, 0);
    publish(v, 0);
    wait_used(v, (uint16_t)(v->used_seen + 1));
    v->used_seen++;
    assert_int_equal(req_status(v), S_IOERR);
    assert_int_equal(good_read(v, 1, 512), S_OK);
    hfx_finish(v->fx);
}

/* ---- transport ---- */

static void test_vt_queue_size(void **state)
{
    static const uint16_t sizes[] = {48, 0, 3, 512, 0x8000, 0xffff};
    struct vdev *v = bring_up(state, false);

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_true(negotiate(v, 1ull << F_VERSION_1));
        queue_setup(v, sizes[i], DESC, AVAIL, USED);
        hfx_wait_until(v->fx, needs_reset, v, "DEVICE_NEEDS_RESET");
        assert_int_equal(crd(v, C_QENABLE, 2), 0);
        recover(v);
    }
    hfx_finish(v->fx);
}

static void test_vt_rings_outside_ram(void **state)
{
    static const uint64_t rings[][3] = {
        {1ull << 40, AVAIL, USED},
        {DESC, 1ull << 40, USED},
        {DESC, AVAIL, HFX_RAM - 16}, /* used ring runs off RAM */
        {DESC + 8, AVAIL, USED},     /* misaligned descriptor table */
        {DESC, AVAIL + 1, USED},     /* misaligned avail ring */
        {DESC, AVAIL, USED + 2},     /* misaligned used ring */
        {0xfffffffffffffc00ull, AVAIL, USED},
    };
    struct vdev *v = bring_up(state, false);

    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
        assert_true(negotiate(v, 1ull << F_VERSION_1));
        queue_setup(v, QSIZE, rings[i][0], rings[i][1], rings[i][2]);
        hfx_wait_until(v->fx, needs_reset, v, "DEVICE_NEEDS_RESET");
        assert_int_equal(crd(v, C_QENABLE, 2), 0);
        recover(v);
    }
    hfx_finish(v->fx);
}

static void test_vt_status_abuse(void **state)
{
    struct vdev *v = bring_up(state, false);

    /* No VERSION_1, or a feature never offered: FEATURES_OK does not stick. */
    assert_false(negotiate(v, 0));
    assert_false(negotiate(v, 1ull << F_VERSION_1 | 1ull << 63));
    /* DRIVER_OK without FEATURES_OK. */
    cwr(v, C_STATUS, 1, 0);
    cwr(v, C_STATUS, 1, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
    assert_int_equal(status(v), ST_ACK | ST_DRIVER | ST_NEEDS_RESET);
    recover(v);
    /* The driver clearing bits, or setting NEEDS_RESET itself. */
    cwr(v, C_STATUS, 1, ST_ACK);
    assert_true(status(v) & ST_NEEDS_RESET);
    recover(v);
    cwr(v, C_STATUS, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK | ST_NEEDS_RESET);
    assert_int_equal(status(v), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    /* Features written after FEATURES_OK are ignored. */
    cwr(v, C_GFSELECT, 4, 0);
    cwr(v, C_GF, 4, 0);
    assert_int_equal(good_read(v, 2, 512), S_OK);
    hfx_finish(v->fx);
}

static void test_vt_common_cfg_abuse(void **state)
{
    struct vdev *v = bring_up(state, false);
    const uint64_t device = v->dev.device.addr, notify_base = v->dev.notify.addr;
    uint64_t cap = hfx_mmio_rd(v->fx, device, 8);

    /* A queue that does not exist: reads 0, writes go nowhere. */
    cwr(v, C_QSELECT, 2, 0xffff);
    assert_int_equal(crd(v, C_QSIZE, 2), 0);
    cwr(v, C_QSIZE, 2, 16);
    cwr(v, C_QENABLE, 2, 1);
    cwr(v, C_QDESC, 8, 1ull << 40);
    /* Wrong widths and offsets past the structure. */
    cwr(v, C_STATUS, 4, 0);
    cwr(v, C_STATUS, 2, 0);
    cwr(v, C_QSELECT, 1, 0);
    cwr(v, 0x3f, 1, 0xff);
    cwr(v, 0x800, 8, ~0ull);
    assert_int_equal(status(v), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    /* Read-only fields. */
    cwr(v, C_NUMQ, 2, 7);
    cwr(v, C_DF, 4, 0);
    assert_int_equal(crd(v, C_NUMQ, 2), 1);
    /* Vectors the table lacks read back as none. */
    cwr(v, C_MSIX, 2, 100);
    assert_int_equal(crd(v, C_MSIX, 2), 0xffff);
    cwr(v, C_QSELECT, 2, 0);
    cwr(v, C_QMSIX, 2, 2);
    assert_int_equal(crd(v, C_QMSIX, 2), 0xffff);
    /* Reconfiguring a live queue is ignored. */
    cwr(v, C_QSIZE, 2, 16);
    assert_int_equal(crd(v, C_QSIZE, 2), QSIZE);
    /* Device configuration: writes past it and to read-only fields change nothing. */
    hfx_mmio_wr(v->fx, device, 8, 0);
    hfx_mmio_wr(v->fx, device + 0x7fc, 4, ~0u);
    assert_int_equal(hfx_mmio_rd(v->fx, device, 8), cap);
    assert_int_equal(hfx_mmio_rd(v->fx, device + 0x7fc, 4), 0);
    /* Notifications for queues that do not exist, or at odd offsets. */
    for (unsigned q = 0; q < 64; q++)
        hfx_mmio_wr(v->fx, notify_base + q * 4 + 4, 2, q);
    hfx_mmio_wr(v->fx, notify_base + 0xffe, 2, 0);
    assert_int_equal(hfx_mmio_rd(v->fx, notify_base, 4), 0);
    assert_int_equal(used_idx(v), 0);
    assert_int_equal(good_read(v, 4, 512), S_OK);
    hfx_finish(v->fx);
}

/* Capability pointers are read-only: the guest cannot make the list loop. */
static void test_vt_cap_chain_readonly(void **state)
{
    struct vdev *v = bring_up(state, false);
    unsigned caps[48] = {0}, n = 0, cap;

    for (cap = hfx_cfg_rd(v->fx, VBDF, 0x34, 1); cap && n < 48;
         cap = hfx_cfg_rd(v->fx, VBDF, cap + 1, 1))
        caps[n++] = cap;
    assert_true(n >= 6 && n < 48);
    hfx_cfg_wr(v->fx, VBDF, 0x34, 1, caps[n - 1]);
    for (unsigned i = 0; i < n; i++) {
        hfx_cfg_wr(v->fx, VBDF, caps[i] + 1, 1, caps[0]);
        hfx_cfg_wr(v->fx, VBDF, caps[i], 2, 0x4000 | caps[i]);
        hfx_cfg_wr(v->fx, VBDF, caps[i], 4, 0);
    }
    assert_int_equal(hfx_cfg_rd(v->fx, VBDF, 0x34, 1), caps[0]);
    cap = caps[0];
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(cap, caps[i]);
        cap = hfx_cfg_rd(v->fx, VBDF, cap + 1, 1);
    }
    assert_int_equal(cap, 0);
    assert_int_equal(good_read(v, 5, 512), S_OK);
    hfx_finish(v->fx);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window pointed at places it may not reach. */
static void test_vt_pci_cfg_window(void **state)
{
    struct vdev *v = bring_up(state, false);
    const unsigned c = v->dev.pci_cfg_cap;
    static const struct {
        uint8_t bar;
        uint32_t off, len;
    } bad[] = {
        {7, 0x14, 1},   /* no such BAR */
        {0, 0x14, 1},   /* a BAR this device lacks */
        {4, 0x14, 3},   /* odd length */
        {4, 0x15, 2},   /* unaligned */
        {4, 0x4000, 4}, /* the MSI-X table */
        {4, 0x6000, 4}, /* the PBA */
        {4, 0x8000, 4}, /* past the BAR */
        {4, 0xfffffffc, 4},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hfx_cfg_wr(v->fx, VBDF, c + 4, 1, bad[i].bar);
        hfx_cfg_wr(v->fx, VBDF, c + 8, 4, bad[i].off);
        hfx_cfg_wr(v->fx, VBDF, c + 12, 4, bad[i].len);
        assert_int_equal(hfx_cfg_rd(v->fx, VBDF, c + 16, 4), 0);
        hfx_cfg_wr(v->fx, VBDF, c + 16, 4, 0);
    }
    assert_int_equal(status(v), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    /* Aimed right, it reads the status register. */
    hfx_cfg_wr(v->fx, VBDF, c + 4, 1, 4);
    hfx_cfg_wr(v->fx, VBDF, c + 8, 4, C_STATUS);
    hfx_cfg_wr(v->fx, VBDF, c + 12, 4, 1);
    assert_int_equal(hfx_cfg_rd(v->fx, VBDF, c + 16, 1),
                     ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    assert_int_equal(good_read(v, 6, 512), S_OK);
    hfx_finish(v->fx);
}

/*
 * The virtio BAR moved onto another device's BAR, and to the top of the
 * 64-bit space. An upper half of all-ones is what sizing leaves there, so
 * the highest place it decodes is just below 2^64 - 4 GiB.
 */
static void test_vt_bar_moves(void **state)
{
    struct vdev *v = bring_up(state, true);
    uint32_t xp_mem = hfx_cfg_rd(v->fx, XPBDF, 0x14, 4) & ~0xfu;
    const uint64_t top = 0xfffffffeffff0000ull;
    uint64_t old = v->bar;

    assert_true(xp_mem != 0);
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, xp_mem + 0x100000);
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, 0);
    assert_int_equal(hfx_mmio_rd(v->fx, xp_mem + 0x100000 + C_STATUS, 1), 0);
    assert_int_equal(hfx_mmio_rd(v->fx, old + C_STATUS, 1), 0xff);
    /* The highest slot whose upper half is not all-ones. */
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, (uint32_t)top);
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, (uint32_t)(top >> 32));
    assert_int_equal(hfx_mmio_rd(v->fx, top + C_STATUS, 1),
                     ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    assert_int_equal(hfx_mmio_rd(v->fx, top + 0xfff8, 8), ~0ull);
    /* An upper half of all-ones is sizing, not an address: nothing decodes up there. */
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, (uint32_t)(0ull - 0x10000));
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, 0xffffffff);
    assert_int_equal(hfx_mmio_rd(v->fx, 0ull - 0x10000 + C_STATUS, 1), 0xff);
    assert_int_equal(hfx_mmio_rd(v->fx, top + C_STATUS, 1), 0xff);
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, (uint32_t)old);
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, (uint32_t)(old >> 32));
    assert_int_equal(status(v), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    assert_int_equal(good_read(v, 7, 512), S_OK);
    hfx_finish(v->fx);
}

/*
 * Two devices fighting over one place: a BAR refused for overlapping is
 * mapped as soon as the other moves away, and the other is then refused
 * in turn, until the first leaves again.
 */
static void test_vt_bar_conflict(void **state)
{
    struct vdev *v = bring_up(state, true);
    const uint64_t xp = hfx_cfg_rd(v->fx, XPBDF, 0x14, 4) & ~0xfull;
    const uint64_t devoff = v->dev.device.addr - v->bar, old = v->bar;
    const uint64_t inside = xp + 0x100000, elsewhere = 0xe0000000ull;
    const uint64_t cap = hfx_mmio_rd(v->fx, v->dev.device.addr, 4); /* capacity, low half */

    assert_true(cap == IMG_SIZE / 512);
    /* Onto xen-platform's memory BAR: refused, xen-platform still answers there (zero). */
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, (uint32_t)inside);
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, (uint32_t)(inside >> 32));
    assert_int_equal(hfx_mmio_rd(v->fx, inside + devoff, 4), 0);
    assert_int_equal(hfx_mmio_rd(v->fx, old + devoff, 4), 0xffffffff);
    /* xen-platform leaves: the waiting BAR maps at once. */
    hfx_cfg_wr(v->fx, XPBDF, 0x14, 4, (uint32_t)elsewhere);
    assert_int_equal(hfx_mmio_rd(v->fx, inside + devoff, 4), cap);
    assert_int_equal(hfx_mmio_rd(v->fx, elsewhere + 8, 8), 0);
    /* xen-platform comes back: now it is the one refused. */
    hfx_cfg_wr(v->fx, XPBDF, 0x14, 4, (uint32_t)xp);
    assert_int_equal(hfx_mmio_rd(v->fx, xp + 8, 8), ~0ull);
    assert_int_equal(hfx_mmio_rd(v->fx, inside + devoff, 4), cap);
    /* virtio goes home: xen-platform maps again. */
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, (uint32_t)old);
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, (uint32_t)(old >> 32));
    assert_int_equal(hfx_mmio_rd(v->fx, xp + 8, 8), 0);
    assert_int_equal(hfx_mmio_rd(v->fx, old + devoff, 4), cap);
    assert_int_equal(good_read(v, 11, 512), S_OK);
    hfx_finish(v->fx);
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/*
 * Thousands of random accesses over the whole BAR (common and device
 * configuration, ISR, notify, MSI-X table and PBA) and the function's
 * config space, single and rep, with a fixed seed; then a reset, and the
 * device must move data again.
 */
static void test_vt_register_storm(void **state)
{
    static const unsigned sizes[] = {1, 2, 4, 8};
    struct vdev *v = bring_up(state, false);
    uint32_t bar_lo = hfx_cfg_rd(v->fx, VBDF, 0x20, 4), bar_hi = hfx_cfg_rd(v->fx, VBDF, 0x24, 4);
    /* HOSTILE_SEED explores other sequences; the default keeps the test repeatable. */
    const char *seed = getenv("HOSTILE_SEED");
    uint64_t x = seed ? strtoull(seed, NULL, 0) | 1 : 0x9e3779b97f4a7c15ull;
    static uint8_t junk[8192];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rnd(&x);
    hfx_ram_wr(v->fx, DATA, junk, sizeof(junk));
    for (unsigned i = 0; i < 3000; i++) {
        uint64_t r = rnd(&x);
        unsigned size = sizes[r & 3];
        uint64_t off = (r >> 8) % 0x8000 & ~(uint64_t)(size - 1);
        uint64_t val = rnd(&x);

        switch ((r >> 4) & 7) {
        case 0:
        case 1:
        case 2:
            hfx_mmio_wr(v->fx, v->bar + off, size, val);
            break;
        case 3:
            (void)hfx_mmio_rd(v->fx, v->bar + off, size);
            break;
        case 4: { /* rep movs from guest RAM over the BAR, either direction */
            ioreq_t q = {.type = IOREQ_TYPE_COPY,
                         .dir = (val & 1) ? IOREQ_READ : IOREQ_WRITE,
                         .size = size,
                         .count = (uint32_t)(1 + (val >> 8) % 64),
                         .addr = v->bar + off,
                         .data = DATA + 4096,
                         .data_is_ptr = 1,
                         .df = (val >> 1) & 1};
            hfx_raw(v->fx, &q);
            assert_int_equal(q.state, STATE_IORESP_READY);
            break;
        }
        case 5: { /* config space, except the BARs and the command register */
            unsigned reg = (unsigned)((r >> 20) % 256) & ~(size > 4 ? 3u : size - 1);
            if (size > 4 || (reg >= 0x04 && reg < 0x06) || (reg >= 0x10 && reg < 0x28))
                break;
            hfx_cfg_wr(v->fx, VBDF, reg, size, (uint32_t)val);
            break;
        }
        default:
            (void)hfx_cfg_rd(v->fx, VBDF, (unsigned)((r >> 20) % 64) * 4, 4);
            break;
        }
    }
    hfx_serving(v->fx);
    hfx_cfg_wr(v->fx, VBDF, 0x20, 4, bar_lo);
    hfx_cfg_wr(v->fx, VBDF, 0x24, 4, bar_hi);
    hfx_cfg_wr(v->fx, VBDF, 0x04, 2, 0x7);
    /* MSI-X as the driver left it: function enabled again with sane entries. */
    hfx_cfg_wr(v->fx, VBDF, v->dev.msix_cap + 2, 2, 0);
    for (unsigned e = 0; e < 2; e++)
        hfx_mmio_wr(v->fx, v->dev.msix_table + 16 * e + 12, 4, 1);
    recover(v);
    hfx_finish(v->fx);
}

/* ---- MSI-X ---- */

static void test_msix_table_edges(void **state)
{
    struct vdev *v = bring_up(state, false);
    unsigned nr = (hfx_cfg_rd(v->fx, VBDF, v->dev.msix_cap + 2, 2) & 0x7ff) + 1;
    const uint64_t end = v->dev.msix_table + 16ull * nr;
    uint32_t ctrl;

    assert_int_equal(nr, 2);
    /* Past the last entry: nothing is there (6.8.2: nothing else shares the table's 4 KiB), nothing
     * sticks, reads are all-ones. */
    for (unsigned i = 0; i < 16; i++) {
        hfx_mmio_wr(v->fx, end + 4 * i, 4, 0xffffffff);
        hfx_mmio_wr(v->fx, end + 8 * i, 8, ~0ull);
    }
    assert_int_equal(hfx_mmio_rd(v->fx, end, 8), ~0ull);
    assert_int_equal(hfx_mmio_rd(v->fx, end + 12, 4), 0xffffffff);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_pba + 8, 8), ~0ull);
    /* Not an aligned DWORD or QWORD (6.8.2): dropped, all-ones. A QWORD at entry 0's control
     * word would unmask vector 0 and set vector 1's address. */
    hfx_mmio_wr(v->fx, v->dev.msix_table, 4, 0xfee00000);
    hfx_mmio_wr(v->fx, v->dev.msix_table + 16, 4, 0xfee00000);
    hfx_mmio_wr(v->fx, v->dev.msix_table + 12, 4, 1);
    hfx_mmio_wr(v->fx, v->dev.msix_table + 12, 8, 0);
    hfx_mmio_wr(v->fx, v->dev.msix_table + 1, 2, 0xffff);
    hfx_mmio_wr(v->fx, v->dev.msix_table + 6, 4, 0xffffffff);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_table + 12, 4), 1);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_table, 8), 0xfee00000ull);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_table + 16, 4), 0xfee00000);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_table, 1), 0xff);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_table + 4, 8), ~0ull);
    hfx_mmio_wr(v->fx, v->dev.msix_table + 12, 4, 0);
    /* Straddling the end of the table: dropped whole. */
    hfx_mmio_wr(v->fx, end - 4, 8, 0);
    assert_int_equal(hfx_mmio_rd(v->fx, end - 4, 4), 1); /* last vector still masked */
    assert_int_equal(hfx_mmio_rd(v->fx, end - 4, 8), ~0ull);
    /* The PBA is read-only. */
    hfx_mmio_wr(v->fx, v->dev.msix_pba, 8, ~0ull);
    assert_int_equal(hfx_mmio_rd(v->fx, v->dev.msix_pba, 8), 0);
    /* Table size and the capability's offsets are read-only. */
    ctrl = hfx_cfg_rd(v->fx, VBDF, v->dev.msix_cap + 2, 2);
    hfx_cfg_wr(v->fx, VBDF, v->dev.msix_cap + 2, 2, ctrl | 0x7ff);
    hfx_cfg_wr(v->fx, VBDF, v->dev.msix_cap + 4, 4, 0);
    assert_int_equal(hfx_cfg_rd(v->fx, VBDF, v->dev.msix_cap + 2, 2) & 0x7ff, nr - 1);
    assert_int_equal(v->bar + (hfx_cfg_rd(v->fx, VBDF, v->dev.msix_cap + 4, 4) & ~7u),
                     v->dev.msix_table);
    assert_int_equal(good_read(v, 8, 512), S_OK);
    hfx_finish(v->fx);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(test_##name, hfx_setup, hfx_teardown)
    const struct CMUnitTest tests[] = {
        T(vq_loop),
        T(vq_loop_whole_table),
        T(vq_index_out_of_range),
        T(vq_outside_ram),
        T(vq_too_many_bytes),
        T(vq_order),
        T(vq_status_zero_len),
        T(vq_indirect_nested),
        T(vq_indirect_malformed),
        T(vq_indirect_not_negotiated),
        T(vq_avail_jump),
        T(vq_used_scribbled),
        T(vq_data_over_rings),
        T(vq_reset_in_flight),
        T(vq_invalidate_in_use),
        T(vq_bad_requests),
        T(vt_queue_size),
        T(vt_rings_outside_ram),
        T(vt_status_abuse),
        T(vt_common_cfg_abuse),
        T(vt_cap_chain_readonly),
        T(vt_pci_cfg_window),
        T(vt_bar_moves),
        T(vt_bar_conflict),
        T(vt_register_storm),
        T(msix_table_edges),
    };
#undef T
    return hfx_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
